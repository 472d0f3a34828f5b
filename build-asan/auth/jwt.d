build-asan/auth/jwt.o: auth/jwt.c auth/jwt.h storage/error.h \
 storage/pool.h storage/id.h storage/log.h
auth/jwt.h:
storage/error.h:
storage/pool.h:
storage/id.h:
storage/log.h:
