build-asan/mail/templates.o: mail/templates.c mail/templates.h \
 server/config.h storage/storage.h storage/error.h storage/id.h \
 storage/pool.h auth/jwt.h
mail/templates.h:
server/config.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
auth/jwt.h:
