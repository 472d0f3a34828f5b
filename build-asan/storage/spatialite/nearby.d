build-asan/storage/spatialite/nearby.o: storage/spatialite/nearby.c \
 storage/geo.h storage/log.h storage/spatialite/spatialite.h \
 storage/storage.h storage/error.h storage/id.h storage/pool.h
storage/geo.h:
storage/log.h:
storage/spatialite/spatialite.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
