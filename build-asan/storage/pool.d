build-asan/storage/pool.o: storage/pool.c storage/pool.h
storage/pool.h:
