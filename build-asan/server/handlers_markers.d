build-asan/server/handlers_markers.o: server/handlers_markers.c \
 server/handlers.h server/app.h server/config.h server/http.h \
 storage/pool.h storage/storage.h storage/error.h storage/id.h \
 server/form.h server/validate.h server/auth_guard.h server/models_json.h \
 server/response.h
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
server/auth_guard.h:
server/models_json.h:
server/response.h:
