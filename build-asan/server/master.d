build-asan/server/master.o: server/master.c server/master.h \
 server/config.h auth/ratelimit.h mail/mail.h storage/storage.h \
 storage/error.h storage/id.h storage/pool.h server/h2o_frontend.h \
 storage/log.h
server/master.h:
server/config.h:
auth/ratelimit.h:
mail/mail.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
server/h2o_frontend.h:
storage/log.h:
