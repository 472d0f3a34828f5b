build-asan/storage/storage.o: storage/storage.c storage/storage.h \
 storage/error.h storage/id.h storage/pool.h storage/backends.h
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
storage/backends.h:
