build-asan/server/handlers_health.o: server/handlers_health.c \
 server/handlers.h server/app.h server/config.h server/http.h \
 storage/pool.h storage/storage.h storage/error.h storage/id.h \
 server/form.h server/validate.h server/response.h server/version.h \
 storage/log.h
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
server/response.h:
server/version.h:
storage/log.h:
