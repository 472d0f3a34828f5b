/*
 * The HTTP front end of one worker process, an h2o 2.2.5 event loop (evloop)
 * on the listening socket inherited from the master. It turns each h2o
 * request into a struct request, runs app_handle, and writes the struct
 * response back. HTTP/1.1 connections are kept alive between requests.
 */
#ifndef KAIROS_H2O_FRONTEND_H
#define KAIROS_H2O_FRONTEND_H

#include "server/config.h"

/* A draining worker gives its requests in flight this long before it exits anyway. */
#define FRONTEND_DRAIN_TIMEOUT_MS 10000

/*
 * Runs worker number `index` (1-based, for the logs) on listen_fd until
 * SIGTERM or SIGINT; then it stops accepting, finishes the requests in flight
 * (closing idle keep-alive connections) for at most FRONTEND_DRAIN_TIMEOUT_MS,
 * and returns. Opens its own storage first. Returns the process exit code: 0
 * after a drain, 1 when setup fails (signal handlers, libsodium, request id
 * seed, storage or h2o).
 */
int frontend_worker_run(const struct config *cfg, int listen_fd, int index);

#endif
