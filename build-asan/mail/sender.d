build-asan/mail/sender.o: mail/sender.c mail/mail.h server/config.h \
 storage/storage.h storage/error.h storage/id.h storage/pool.h \
 mail/templates.h mail/transport.h storage/log.h
mail/mail.h:
server/config.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
mail/templates.h:
mail/transport.h:
storage/log.h:
