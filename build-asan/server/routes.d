build-asan/server/routes.o: server/routes.c server/handlers.h \
 server/app.h server/config.h server/http.h storage/pool.h \
 storage/storage.h storage/error.h storage/id.h server/form.h \
 server/validate.h server/handlers_docs.h server/router.h
server/handlers.h:
server/app.h:
server/config.h:
server/http.h:
storage/pool.h:
storage/storage.h:
storage/error.h:
storage/id.h:
server/form.h:
server/validate.h:
server/handlers_docs.h:
server/router.h:
