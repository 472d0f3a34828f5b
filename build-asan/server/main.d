build-asan/server/main.o: server/main.c server/config.h server/lambda.h \
 server/http.h storage/pool.h storage/error.h server/master.h \
 server/version.h storage/log.h
server/config.h:
server/lambda.h:
server/http.h:
storage/pool.h:
storage/error.h:
server/master.h:
server/version.h:
storage/log.h:
