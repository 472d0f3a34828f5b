build-asan/storage/spatialite/users.o: storage/spatialite/users.c \
 storage/spatialite/spatialite.h storage/storage.h storage/error.h \
 storage/id.h storage/pool.h
storage/spatialite/spatialite.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
