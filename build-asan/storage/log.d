build-asan/storage/log.o: storage/log.c storage/log.h
storage/log.h:
