build-asan/storage/spatialite/mail.o: storage/spatialite/mail.c \
 storage/spatialite/spatialite.h storage/storage.h storage/error.h \
 storage/id.h storage/pool.h
storage/spatialite/spatialite.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
