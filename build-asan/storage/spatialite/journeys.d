build-asan/storage/spatialite/journeys.o: storage/spatialite/journeys.c \
 storage/spatialite/spatialite.h storage/storage.h storage/error.h \
 storage/id.h storage/pool.h
storage/spatialite/spatialite.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
