build-asan/server/form.o: server/form.c server/form.h storage/error.h \
 storage/pool.h
server/form.h:
storage/error.h:
storage/pool.h:
