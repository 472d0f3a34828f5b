build-asan/storage/geo.o: storage/geo.c storage/geo.h
storage/geo.h:
