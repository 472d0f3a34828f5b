build-asan/server/cors.o: server/cors.c server/cors.h server/config.h \
 server/http.h storage/pool.h server/response.h storage/error.h
server/cors.h:
server/config.h:
server/http.h:
storage/pool.h:
server/response.h:
storage/error.h:
