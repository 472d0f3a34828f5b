build-asan/server/handlers_common.o: server/handlers_common.c \
 server/handlers.h server/app.h server/config.h server/http.h \
 storage/pool.h storage/storage.h storage/error.h storage/id.h \
 server/form.h server/validate.h auth/ratelimit.h server/response.h \
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
auth/ratelimit.h:
server/response.h:
storage/log.h:
