build-asan/storage/spatialite/spatialite.o: \
 storage/spatialite/spatialite.c storage/backends.h storage/storage.h \
 storage/error.h storage/id.h storage/pool.h storage/log.h \
 storage/spatialite/spatialite.h
storage/backends.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
storage/log.h:
storage/spatialite/spatialite.h:
