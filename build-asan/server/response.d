build-asan/server/response.o: server/response.c server/response.h \
 server/http.h storage/pool.h storage/error.h storage/log.h
server/response.h:
server/http.h:
storage/pool.h:
storage/error.h:
storage/log.h:
