build-asan/server/models_json.o: server/models_json.c \
 server/models_json.h storage/storage.h storage/error.h storage/id.h \
 storage/pool.h
server/models_json.h:
storage/storage.h:
storage/error.h:
storage/id.h:
storage/pool.h:
