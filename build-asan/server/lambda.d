build-asan/server/lambda.o: server/lambda.c server/lambda.h \
 server/config.h server/http.h storage/pool.h storage/error.h \
 auth/password.h mail/mail.h storage/storage.h storage/id.h \
 server/accesslog.h server/app.h server/response.h storage/log.h
server/lambda.h:
server/config.h:
server/http.h:
storage/pool.h:
storage/error.h:
auth/password.h:
mail/mail.h:
storage/storage.h:
storage/id.h:
server/accesslog.h:
server/app.h:
server/response.h:
storage/log.h:
