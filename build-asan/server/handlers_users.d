build-asan/server/handlers_users.o: server/handlers_users.c \
 server/handlers.h server/app.h server/config.h server/http.h \
 storage/pool.h storage/storage.h storage/error.h storage/id.h \
 server/form.h server/validate.h auth/jwt.h auth/password.h \
 server/auth_guard.h server/models_json.h server/response.h storage/log.h
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
server/auth_guard.h:
server/models_json.h:
server/response.h:
storage/log.h:
