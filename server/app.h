/* The handler context: the configuration and this worker's storage. */
#ifndef KAIROS_APP_H
#define KAIROS_APP_H

#include "server/config.h"
#include "server/http.h"
#include "storage/storage.h"

struct app {
    const struct config *config;
    struct storage *storage; /* opened by this process after fork() */
};

typedef void (*handler_fn)(struct app *app, struct request *req, struct response *res);

/*
 * Runs the whole way of a request: CORS, routing (404, 405 with Allow, 422 on a
 * malformed path id), the handler, and the error mapping. Both front ends call it.
 */
void app_handle(struct app *app, struct request *req, struct response *res);

#endif
