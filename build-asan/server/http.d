build-asan/server/http.o: server/http.c server/http.h storage/pool.h
server/http.h:
storage/pool.h:
