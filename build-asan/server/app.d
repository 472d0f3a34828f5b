build-asan/server/app.o: server/app.c server/app.h server/config.h \
 server/http.h storage/pool.h storage/storage.h storage/error.h \
 storage/id.h server/cors.h server/response.h server/router.h \
 storage/log.h
server/app.h:
server/config.h:
server/http.h:
storage/pool.h:
storage/storage.h:
storage/error.h:
storage/id.h:
server/cors.h:
server/response.h:
server/router.h:
storage/log.h:
