build-asan/auth/password.o: auth/password.c auth/password.h \
 storage/error.h storage/pool.h storage/log.h
auth/password.h:
storage/error.h:
storage/pool.h:
storage/log.h:
