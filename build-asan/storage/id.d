build-asan/storage/id.o: storage/id.c storage/id.h
storage/id.h:
