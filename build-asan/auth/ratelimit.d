build-asan/auth/ratelimit.o: auth/ratelimit.c auth/ratelimit.h \
 storage/log.h
auth/ratelimit.h:
storage/log.h:
