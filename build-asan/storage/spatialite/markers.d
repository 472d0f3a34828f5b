build-asan/storage/spatialite/markers.o: storage/spatialite/markers.c \
 storage/spatialite/spatialite.h storage/storage.h storage/error.h \
 storage/id.h storage/pool.h
storage/spatialite/spatialite.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
