build-asan/storage/spatialite/refresh.o: storage/spatialite/refresh.c \
 storage/spatialite/spatialite.h storage/storage.h storage/error.h \
 storage/id.h storage/pool.h
storage/spatialite/spatialite.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
