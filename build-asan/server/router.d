build-asan/server/router.o: server/router.c server/router.h server/app.h \
 server/config.h server/http.h storage/pool.h storage/storage.h \
 storage/error.h storage/id.h
server/router.h:
server/app.h:
server/config.h:
server/http.h:
storage/pool.h:
storage/storage.h:
storage/error.h:
storage/id.h:
