build-asan/server/handlers_auth.o: server/handlers_auth.c \
 server/handlers.h server/app.h server/config.h server/http.h \
 storage/pool.h storage/storage.h storage/error.h storage/id.h \
 server/form.h server/validate.h auth/jwt.h auth/password.h \
 server/response.h storage/log.h
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
auth/jwt.h:
auth/password.h:
server/response.h:
storage/log.h:
