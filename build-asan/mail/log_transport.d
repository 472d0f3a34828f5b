build-asan/mail/log_transport.o: mail/log_transport.c mail/transport.h \
 mail/templates.h server/config.h storage/storage.h storage/error.h \
 storage/id.h storage/pool.h storage/log.h
mail/transport.h:
mail/templates.h:
server/config.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
storage/log.h:
