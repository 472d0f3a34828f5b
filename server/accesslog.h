/*
 * The access log: one line per request with a response, text or JSON like every
 * other log line. Query values that carry secrets or email addresses (token,
 * password, new_password, refresh_token, access_token, email) are written as
 * "REDACTED".
 */
#ifndef KAIROS_ACCESSLOG_H
#define KAIROS_ACCESSLOG_H

#include <stddef.h>

#include "server/http.h"

/* Writes the line for req, whose response had status and body_bytes and took duration_ms. */
void accesslog_write(const struct request *req, int status, size_t body_bytes, double duration_ms);

/*
 * Returns the path with its query (when not empty), the secret query values
 * replaced by "REDACTED", allocated in pool.
 */
char *accesslog_redacted_target(struct pool *pool, const char *path, const char *query);

#endif
