build-asan/server/h2o_frontend.o: server/h2o_frontend.c \
 server/h2o_frontend.h server/config.h auth/password.h storage/error.h \
 storage/pool.h server/accesslog.h server/http.h server/app.h \
 storage/storage.h storage/id.h server/response.h storage/log.h
server/h2o_frontend.h:
server/config.h:
auth/password.h:
storage/error.h:
storage/pool.h:
server/accesslog.h:
server/http.h:
server/app.h:
storage/storage.h:
storage/id.h:
server/response.h:
storage/log.h:
