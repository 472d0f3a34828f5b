build-asan/server/handlers_docs.o: server/handlers_docs.c \
 server/handlers_docs.h server/app.h server/config.h server/http.h \
 storage/pool.h storage/storage.h storage/error.h storage/id.h \
 server/response.h
server/handlers_docs.h:
server/app.h:
server/config.h:
server/http.h:
storage/pool.h:
storage/storage.h:
storage/error.h:
storage/id.h:
server/response.h:
