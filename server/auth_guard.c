/*
 * Bearer authentication. The messages follow FastAPI's OAuth2PasswordBearer,
 * which the web client already handles: "Not authenticated" without a Bearer
 * Authorization header, "Could not validate credentials" for any Bearer token
 * that is not a valid access token of an existing user, issued for the
 * user's current password.
 */
#include "server/auth_guard.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "auth/jwt.h"
#include "server/response.h"

const char *auth_guard_bearer_token(const char *authorization)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer", 6) != 0)
        return NULL;

    const char *token = authorization + 6;
    if (*token != ' ' && *token != '\t')
        return NULL;
    while (*token == ' ' || *token == '\t')
        token++;

    size_t len = strcspn(token, " \t");
    if (len == 0 || token[len] != '\0')
        return NULL;
    return token;
}

/* True when the Authorization header names the Bearer scheme, whatever follows it. */
static bool auth_guard_scheme_is_bearer(const char *authorization)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer", 6) != 0)
        return false;
    char next = authorization[6];
    return next == '\0' || next == ' ' || next == '\t';
}

/*
 * True when the token was issued for the caller's current password: its "pwd" claim is the digest of the password
 * hash, so changing the password ends every access token issued before.
 */
static bool auth_guard_password_matches(struct app *app, struct request *req, const struct jwt_claims *claims,
                                        const struct user *caller)
{
    if (claims->pwd == NULL || caller->password_hash == NULL)
        return false;
    const char *expected =
        jwt_password_digest(req->pool, app->config->secret_key, app->config->secret_key_len, caller->password_hash);
    size_t len = strlen(claims->pwd);
    return expected != NULL && strlen(expected) == len && sodium_memcmp(expected, claims->pwd, len) == 0;
}

bool auth_guard_require(struct app *app, struct request *req, struct response *res, struct user *caller)
{
    const char *authorization = request_header(req, "authorization");
    const char *token = auth_guard_bearer_token(authorization);
    if (token == NULL) {
        /* A Bearer header with an empty or malformed token is an invalid token, as in FastAPI's OAuth2PasswordBearer.
         */
        response_unauthorized(req, res,
                              auth_guard_scheme_is_bearer(authorization) ? "Could not validate credentials"
                                                                         : "Not authenticated");
        return false;
    }

    struct jwt_claims claims;
    int64_t now = storage_now_ms() / 1000;
    enum jwt_verify_result result = jwt_token_verify(req->pool, app->config->secret_key, app->config->secret_key_len,
                                                     token, JWT_SCOPE_ACCESS, now, &claims);
    if (result == JWT_EXPIRED) {
        response_unauthorized(req, res, "Access token has expired");
        return false;
    }

    char user_id[ID_HEX_LEN + 1];
    if (result != JWT_VALID || claims.sub == NULL || !id_normalize(claims.sub, user_id)) {
        response_unauthorized(req, res, "Could not validate credentials");
        return false;
    }

    enum kairos_error err = app->storage->ops->user_get(app->storage, req->pool, user_id, caller);
    if (err == KAIROS_ERR_NOT_FOUND) {
        response_unauthorized(req, res, "Could not validate credentials");
        return false;
    }
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return false;
    }
    if (!auth_guard_password_matches(app, req, &claims, caller)) {
        response_unauthorized(req, res, "Could not validate credentials");
        return false;
    }

    memcpy(req->user_id, caller->id, sizeof(req->user_id));
    return true;
}
