/*
 * Bearer authentication of protected routes: reads the access token from
 * the Authorization header, verifies it and loads the calling user.
 */
#ifndef KAIROS_AUTH_GUARD_H
#define KAIROS_AUTH_GUARD_H

#include <stdbool.h>

#include "server/app.h"
#include "server/http.h"
#include "storage/storage.h"

/*
 * Fills *caller with the user of a valid access token and copies its id into
 * req->user_id. Otherwise sends the error (401 with WWW-Authenticate: Bearer,
 * or the storage error) and returns false, and the handler returns at once.
 */
bool auth_guard_require(struct app *app, struct request *req, struct response *res, struct user *caller);

/*
 * Returns the token of "Authorization: Bearer <token>" (scheme compared
 * case-insensitively), or NULL when the header is absent, has another
 * scheme or an empty token.
 */
const char *auth_guard_bearer_token(const char *authorization);

#endif
