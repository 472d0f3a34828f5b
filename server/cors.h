/*
 * Cross-origin resource sharing for browsers. With CORS_ORIGINS "*", any
 * origin may read responses, but credentials are not allowed. With a list of
 * origins, a listed Origin is echoed with Access-Control-Allow-Credentials:
 * true, and any other origin gets no CORS header at all.
 */
#ifndef KAIROS_CORS_H
#define KAIROS_CORS_H

#include <stdbool.h>

#include "server/config.h"
#include "server/http.h"

/*
 * Adds the CORS headers for req's Origin to res. Returns true when req is a
 * preflight (OPTIONS with Origin and Access-Control-Request-Method), and res
 * is then the complete 204 response. Returns false when the request goes on
 * to the router.
 */
bool cors_apply(const struct config *cfg, const struct request *req, struct response *res);

#endif
