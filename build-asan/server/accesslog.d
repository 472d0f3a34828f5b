build-asan/server/accesslog.o: server/accesslog.c server/accesslog.h \
 server/http.h storage/pool.h storage/log.h
server/accesslog.h:
server/http.h:
storage/pool.h:
storage/log.h:
