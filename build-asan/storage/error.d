build-asan/storage/error.o: storage/error.c storage/error.h
storage/error.h:
