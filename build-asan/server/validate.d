build-asan/server/validate.o: server/validate.c server/validate.h \
 storage/pool.h storage/storage.h storage/error.h storage/id.h \
 auth/password.h
server/validate.h:
storage/pool.h:
storage/storage.h:
storage/error.h:
storage/id.h:
auth/password.h:
