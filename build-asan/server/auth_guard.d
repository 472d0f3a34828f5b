build-asan/server/auth_guard.o: server/auth_guard.c server/auth_guard.h \
 server/app.h server/config.h server/http.h storage/pool.h \
 storage/storage.h storage/error.h storage/id.h auth/jwt.h \
 server/response.h
server/auth_guard.h:
server/app.h:
server/config.h:
server/http.h:
storage/pool.h:
storage/storage.h:
storage/error.h:
storage/id.h:
auth/jwt.h:
server/response.h:
