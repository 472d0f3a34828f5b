/*
 * POST /auth/token (OAuth2 password grant) and POST /auth/refresh.
 *
 * Every login starts a refresh-token family in the storage. A refresh
 * rotates the family to a new token id (jti), so each refresh token works
 * once, and presenting a rotated one revokes the whole family. The family's
 * expires_at, set at login, bounds how long refreshing can go on.
 */
#include "server/handlers.h"

#include <string.h>

#include "auth/jwt.h"
#include "auth/password.h"
#include "server/response.h"
#include "storage/log.h"

/* Login attempts allowed per client address and per email, per minute. */
#define LOGIN_MAX_PER_ADDR  20
#define LOGIN_MAX_PER_EMAIL 10
#define LOGIN_WINDOW_S      60

static const char LOGIN_LIMITED[] = "Too many login attempts, try again later";
static const char LOGIN_FAILED[] = "Incorrect username or password";

/* Signs a token of scope for sub, valid for `minutes` from now_s. NULL on failure. */
static char *issue_token(struct app *app, struct request *req, enum jwt_scope scope, const char *sub, const char *jti,
                         const char *family, const char *pwd, int64_t now_s, long minutes)
{
    struct jwt_claims claims = {
        .scope = scope,
        .sub = (char *)sub,
        .jti = (char *)jti,
        .iat = now_s,
        .exp = now_s + (int64_t)minutes * 60,
        .family = (char *)family,
        .pwd = (char *)pwd,
    };
    return jwt_token_issue(req->pool, app->config->secret_key, app->config->secret_key_len, &claims);
}

/*
 * Sends {"access_token", "refresh_token", "token_type": "bearer"} for user and the refresh token refresh_jti. The
 * access token carries a digest of the user's password hash, so it stops working when the password changes.
 */
static void answer_tokens(struct app *app, struct request *req, struct response *res, const struct user *user,
                          const char *family_id, const char *refresh_jti, int64_t now_s)
{
    char access_jti[ID_HEX_LEN + 1];
    id_generate(access_jti);

    const struct config *cfg = app->config;
    char *pwd = jwt_password_digest(req->pool, cfg->secret_key, cfg->secret_key_len, user->password_hash);
    char *access = pwd != NULL ? issue_token(app, req, JWT_SCOPE_ACCESS, user->id, access_jti, NULL, pwd, now_s,
                                             cfg->access_token_minutes)
                               : NULL;
    char *refresh = issue_token(app, req, JWT_SCOPE_REFRESH, user->id, refresh_jti, family_id, NULL, now_s,
                                cfg->refresh_token_minutes);
    if (access == NULL || refresh == NULL) {
        log_msg(LOG_ERROR, "auth", req->request_id, "signing a token failed");
        response_error(req, res, KAIROS_ERR_INTERNAL, NULL);
        return;
    }

    handlers_answer_json(
        req, res, 200,
        json_pack("{s:s, s:s, s:s}", "access_token", access, "refresh_token", refresh, "token_type", "bearer"));
}

/*
 * Replaces a bcrypt or outdated hash after a successful login, and user->password_hash with it. A failure is
 * logged and the login goes on with the old hash.
 */
static void upgrade_hash(struct app *app, struct request *req, struct user *user, const char *password, size_t len)
{
    if (!password_needs_rehash(user->password_hash))
        return;

    char *hash = password_hash(req->pool, password, len);
    enum kairos_error err =
        hash != NULL ? app->storage->ops->user_set_password(app->storage, user->id, hash) : KAIROS_ERR_INTERNAL;
    if (err != KAIROS_OK) {
        log_msg(LOG_WARN, "auth", req->request_id, "rehashing the password of user %s failed: %s", user->id,
                kairos_error_name(err));
        return;
    }
    user->password_hash = hash;
}

/* Starts a refresh-token family for user and sends the token pair. */
static void start_session(struct app *app, struct request *req, struct response *res, const struct user *user)
{
    int64_t now_ms = storage_now_ms();
    struct refresh_family family = {.revoked = false};
    id_generate(family.id);
    id_generate(family.current_jti);
    memcpy(family.user_id, user->id, sizeof(family.user_id));
    family.expires_at = now_ms + (int64_t)app->config->refresh_token_minutes * 60 * 1000;

    enum kairos_error err = app->storage->ops->refresh_family_create(app->storage, &family);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }
    answer_tokens(app, req, res, user, family.id, family.current_jti, now_ms / 1000);
}

void handle_login(struct app *app, struct request *req, struct response *res)
{
    struct handlers_params params;
    if (!handlers_params_load(req, res, false, &params))
        return;

    const char *username = handlers_params_get(&params, "username", NULL, NULL);
    if (username == NULL) {
        handlers_param_missing(req, res, "body", "username");
        return;
    }
    size_t password_len = 0;
    const char *password = handlers_params_get(&params, "password", NULL, &password_len);
    if (password == NULL) {
        handlers_param_missing(req, res, "body", "password");
        return;
    }

    const char *addr = req->client_addr != NULL ? req->client_addr : "unknown";
    if (!handlers_rate_limit(req, res, pool_printf(req->pool, "login-ip:%s", addr), LOGIN_MAX_PER_ADDR, LOGIN_WINDOW_S,
                             LOGIN_LIMITED))
        return;
    /* No account has an email that is not UTF-8, and the storage must never see one (MongoDB rejects it in a regex). */
    const char *email = storage_email_normalize(req->pool, username);
    if (email != NULL && !validate_utf8(email, strlen(email)))
        email = NULL;
    if (email != NULL && !handlers_rate_limit(req, res, pool_printf(req->pool, "login-email:%s", email),
                                              LOGIN_MAX_PER_EMAIL, LOGIN_WINDOW_S, LOGIN_LIMITED))
        return;

    struct user user;
    enum kairos_error err = email != NULL ? app->storage->ops->user_get_by_email(app->storage, req->pool, email, &user)
                                          : KAIROS_ERR_NOT_FOUND;
    if (err == KAIROS_ERR_NOT_FOUND) {
        password_verify_dummy(password, password_len);
        response_detail(req, res, 400, "%s", LOGIN_FAILED);
        return;
    }
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }
    if (!password_verify(user.password_hash, password, password_len)) {
        response_detail(req, res, 400, "%s", LOGIN_FAILED);
        return;
    }

    memcpy(req->user_id, user.id, sizeof(req->user_id));
    upgrade_hash(app, req, &user, password, password_len);
    start_session(app, req, res, &user);
}

void handle_refresh(struct app *app, struct request *req, struct response *res)
{
    struct handlers_params params;
    if (!handlers_params_load(req, res, true, &params))
        return;
    const char *token = handlers_params_get(&params, "refresh_token", NULL, NULL);
    if (token == NULL) {
        handlers_param_missing(req, res, "query", "refresh_token");
        return;
    }

    struct jwt_claims claims;
    int64_t now_ms = storage_now_ms();
    enum jwt_verify_result result = jwt_token_verify(req->pool, app->config->secret_key, app->config->secret_key_len,
                                                     token, JWT_SCOPE_REFRESH, now_ms / 1000, &claims);
    if (result == JWT_EXPIRED) {
        response_unauthorized(req, res, "Refresh token has expired");
        return;
    }
    char family_id[ID_HEX_LEN + 1], jti[ID_HEX_LEN + 1], sub[ID_HEX_LEN + 1];
    if (result != JWT_VALID || claims.family == NULL || claims.jti == NULL || claims.sub == NULL ||
        !id_normalize(claims.family, family_id) || !id_normalize(claims.jti, jti) || !id_normalize(claims.sub, sub)) {
        response_unauthorized(req, res, "Invalid refresh token");
        return;
    }

    char new_jti[ID_HEX_LEN + 1], user_id[ID_HEX_LEN + 1] = "";
    id_generate(new_jti);
    enum kairos_error err =
        app->storage->ops->refresh_family_rotate(app->storage, family_id, jti, new_jti, now_ms, user_id);
    if (err == KAIROS_ERR_CONFLICT) {
        log_msg(LOG_WARN, "auth", req->request_id, "rotated refresh token of family %s presented again; family revoked",
                family_id);
        response_unauthorized(req, res, "Invalid refresh token");
        return;
    }
    if (err == KAIROS_ERR_NOT_FOUND) {
        response_unauthorized(req, res, "Invalid refresh token");
        return;
    }
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }
    if (strcmp(user_id, sub) != 0) {
        log_msg(LOG_WARN, "auth", req->request_id, "refresh token family %s belongs to another user", family_id);
        response_unauthorized(req, res, "Invalid refresh token");
        return;
    }

    struct user user;
    err = app->storage->ops->user_get(app->storage, req->pool, user_id, &user);
    if (err == KAIROS_ERR_NOT_FOUND) {
        response_unauthorized(req, res, "Invalid refresh token");
        return;
    }
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }

    memcpy(req->user_id, user_id, sizeof(req->user_id));
    answer_tokens(app, req, res, &user, family_id, new_jti, now_ms / 1000);
}
