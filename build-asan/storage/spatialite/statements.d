build-asan/storage/spatialite/statements.o: \
 storage/spatialite/statements.c storage/log.h \
 storage/spatialite/spatialite.h storage/storage.h storage/error.h \
 storage/id.h storage/pool.h
storage/log.h:
storage/spatialite/spatialite.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
