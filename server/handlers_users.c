/*
 * User routes: registration and its verification mail, password reset by
 * mail, profiles, and the journeys of a user. The full user (with email) is
 * sent only to the user itself, and other users get the public profile.
 */
#include "server/handlers.h"

#include <string.h>

#include "auth/jwt.h"
#include "auth/password.h"
#include "server/auth_guard.h"
#include "server/models_json.h"
#include "server/response.h"
#include "storage/log.h"

/* Reset requests allowed per client address per minute, and per email per 15 minutes (each sends a mail). */
#define RESET_MAX_PER_ADDR   20
#define RESET_ADDR_WINDOW_S  60
#define RESET_MAX_PER_EMAIL  5
#define RESET_EMAIL_WINDOW_S 900

static const char INVALID_TOKEN[] = "Invalid or expired token";

/* Adds an outbox entry; the sender builds the message and its token when it sends. */
static void enqueue_mail(struct app *app, struct request *req, const struct user *user, enum mail_kind kind)
{
    struct mail_entry entry = {
        .kind = kind,
        .to_email = user->email,
        .status = MAIL_PENDING,
        .next_attempt_at = storage_now_ms(),
    };
    memcpy(entry.user_id, user->id, sizeof(entry.user_id));

    enum kairos_error err = app->storage->ops->mail_enqueue(app->storage, &entry);
    if (err != KAIROS_OK)
        log_msg(LOG_ERROR, "mail", req->request_id, "queueing mail for user %s failed: %s", user->id,
                kairos_error_name(err));
}

void handle_register_user(struct app *app, struct request *req, struct response *res)
{
    json_t *body;
    if (!handlers_json_body(req, res, &body))
        return;

    struct user user;
    memset(&user, 0, sizeof(user));
    const char *password = NULL;
    size_t password_len = 0;
    struct validation_error verr;
    bool valid = validate_user_register(req->pool, body, &user, &password, &password_len, &verr);
    json_decref(body);
    if (!valid) {
        handlers_validation_failed(req, res, &verr);
        return;
    }

    user.password_hash = password_hash(req->pool, password, password_len);
    if (user.password_hash == NULL) {
        log_msg(LOG_ERROR, "auth", req->request_id, "hashing a password failed");
        response_error(req, res, KAIROS_ERR_INTERNAL, NULL);
        return;
    }

    enum kairos_error err = app->storage->ops->user_create(app->storage, &user);
    if (err == KAIROS_ERR_DUPLICATE) {
        response_detail(req, res, 400, "Email already registered");
        return;
    }
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }

    /* The user exists now, so a failed enqueue is logged and the response is still 201. */
    enqueue_mail(app, req, &user, MAIL_VERIFY_EMAIL);
    handlers_answer_json(req, res, 201, models_user_json(&user, true));
}

/* Reads the mail token `token` of scope and loads the user its sub (an email) names. */
static bool load_token_user(struct app *app, struct request *req, struct response *res, const char *token,
                            enum jwt_scope scope, struct jwt_claims *claims, struct user *user)
{
    int64_t now = storage_now_ms() / 1000;
    enum jwt_verify_result result =
        jwt_token_verify(req->pool, app->config->secret_key, app->config->secret_key_len, token, scope, now, claims);
    if (result != JWT_VALID || claims->sub == NULL) {
        response_detail(req, res, 400, "%s", INVALID_TOKEN);
        return false;
    }

    enum kairos_error err = app->storage->ops->user_get_by_email(app->storage, req->pool, claims->sub, user);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return false;
    }
    return true;
}

void handle_verify_email(struct app *app, struct request *req, struct response *res)
{
    struct handlers_params params;
    if (!handlers_params_load(req, res, true, &params))
        return;
    const char *token = handlers_params_get(&params, "token", NULL, NULL);
    if (token == NULL) {
        handlers_param_missing(req, res, "query", "token");
        return;
    }

    struct jwt_claims claims;
    struct user user;
    if (!load_token_user(app, req, res, token, JWT_SCOPE_EMAIL_VERIFICATION, &claims, &user))
        return;
    if (user.is_verified) {
        handlers_answer_json(req, res, 200, json_pack("{s:s}", "message", "Email already verified."));
        return;
    }

    enum kairos_error err = app->storage->ops->user_set_verified(app->storage, user.id);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }
    handlers_answer_json(req, res, 200, json_pack("{s:s}", "message", "Email verified successfully."));
}

void handle_reset_password(struct app *app, struct request *req, struct response *res)
{
    struct handlers_params params;
    if (!handlers_params_load(req, res, true, &params))
        return;
    const char *where = "query";
    const char *email_param = handlers_params_get(&params, "email", &where, NULL);
    const char *email = storage_email_normalize(req->pool, email_param);
    if (email == NULL) {
        handlers_param_missing(req, res, where, "email");
        return;
    }
    const char *reason = validate_email(email);
    if (reason != NULL) {
        const char *loc[] = {where, "email", NULL};
        response_validation(req, res, loc, reason);
        return;
    }

    static const char limited[] = "Too many password reset requests, try again later";
    const char *addr = req->client_addr != NULL ? req->client_addr : "unknown";
    if (!handlers_rate_limit(req, res, pool_printf(req->pool, "reset-ip:%s", addr), RESET_MAX_PER_ADDR,
                             RESET_ADDR_WINDOW_S, limited) ||
        !handlers_rate_limit(req, res, pool_printf(req->pool, "reset-email:%s", email), RESET_MAX_PER_EMAIL,
                             RESET_EMAIL_WINDOW_S, limited))
        return;

    struct user user;
    enum kairos_error err = app->storage->ops->user_get_by_email(app->storage, req->pool, email, &user);
    if (err == KAIROS_OK)
        enqueue_mail(app, req, &user, MAIL_RESET_PASSWORD);
    else if (err != KAIROS_ERR_NOT_FOUND)
        log_msg(LOG_ERROR, "storage", req->request_id, "looking up a user for a password reset failed: %s",
                kairos_error_name(err));

    /* The same response whether the address is registered or not, so it reveals nothing. */
    handlers_answer_json(
        req, res, 202,
        json_pack("{s:s}", "message", "If the email is registered, a password reset link has been sent."));
}

static bool strings_equal_constant_time(const char *a, const char *b)
{
    size_t len = strlen(a);
    if (len != strlen(b))
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

void handle_update_password(struct app *app, struct request *req, struct response *res)
{
    struct handlers_params params;
    if (!handlers_params_load(req, res, true, &params))
        return;
    const char *token = handlers_params_get(&params, "token", NULL, NULL);
    if (token == NULL) {
        handlers_param_missing(req, res, "query", "token");
        return;
    }
    const char *where = "query";
    size_t password_len = 0;
    const char *password = handlers_params_get(&params, "new_password", &where, &password_len);
    if (password == NULL) {
        handlers_param_missing(req, res, "query", "new_password");
        return;
    }
    const char *reason = password_check_policy(password, password_len);
    if (reason != NULL) {
        const char *loc[] = {where, "new_password", NULL};
        response_validation(req, res, loc, reason);
        return;
    }

    struct jwt_claims claims;
    struct user user;
    if (!load_token_user(app, req, res, token, JWT_SCOPE_PASSWORD_RESET, &claims, &user))
        return;
    /* The token carries a digest of the hash it was issued for, so it stops working once the password changes. */
    const char *digest =
        jwt_password_digest(req->pool, app->config->secret_key, app->config->secret_key_len, user.password_hash);
    if (claims.pwd == NULL || digest == NULL || !strings_equal_constant_time(claims.pwd, digest)) {
        response_detail(req, res, 400, "%s", INVALID_TOKEN);
        return;
    }

    char *hash = password_hash(req->pool, password, password_len);
    if (hash == NULL) {
        log_msg(LOG_ERROR, "auth", req->request_id, "hashing a password failed");
        response_error(req, res, KAIROS_ERR_INTERNAL, NULL);
        return;
    }
    enum kairos_error err = app->storage->ops->user_set_password(app->storage, user.id, hash);
    if (err == KAIROS_OK)
        err = app->storage->ops->refresh_family_revoke_user(app->storage, user.id);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }
    handlers_answer_json(req, res, 200, json_pack("{s:s}", "message", "Password updated successfully."));
}

void handle_get_current_user(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    if (!auth_guard_require(app, req, res, &caller))
        return;
    handlers_answer_json(req, res, 200, models_user_json(&caller, true));
}

/*
 * Loads the user of path parameter user_id into *user; with owner_only the
 * caller must be that user (403 otherwise). 404 when there is no such user.
 */
static bool load_path_user(struct app *app, struct request *req, struct response *res, const struct user *caller,
                           bool owner_only, struct user *user)
{
    char user_id[ID_HEX_LEN + 1];
    if (!handlers_path_id(req, res, "user_id", user_id))
        return false;
    if (strcmp(user_id, caller->id) == 0) {
        *user = *caller;
        return true;
    }

    enum kairos_error err = app->storage->ops->user_get(app->storage, req->pool, user_id, user);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return false;
    }
    if (owner_only) {
        response_detail(req, res, 403, "Not allowed");
        return false;
    }
    return true;
}

void handle_get_user_by_id(struct app *app, struct request *req, struct response *res)
{
    struct user caller, user;
    if (!auth_guard_require(app, req, res, &caller) || !load_path_user(app, req, res, &caller, false, &user))
        return;
    handlers_answer_json(req, res, 200, models_user_json(&user, strcmp(user.id, caller.id) == 0));
}

void handle_get_user_journeys(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    char user_id[ID_HEX_LEN + 1];
    if (!auth_guard_require(app, req, res, &caller) || !handlers_path_id(req, res, "user_id", user_id))
        return;

    struct journey *journeys = NULL;
    size_t count = 0;
    enum kairos_error err =
        app->storage->ops->journey_list_by_user(app->storage, req->pool, user_id, &journeys, &count);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }
    handlers_answer_json(req, res, 200, models_journeys_json(journeys, count));
}

void handle_get_active_journey(struct app *app, struct request *req, struct response *res)
{
    struct user caller;
    char user_id[ID_HEX_LEN + 1];
    if (!auth_guard_require(app, req, res, &caller) || !handlers_path_id(req, res, "user_id", user_id))
        return;

    struct journey journey;
    enum kairos_error err = app->storage->ops->journey_get_active(app->storage, req->pool, user_id, &journey);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "No active journey found");
        return;
    }
    handlers_answer_json(req, res, 200, models_journey_json(&journey));
}

void handle_update_user(struct app *app, struct request *req, struct response *res)
{
    struct user caller, user;
    if (!auth_guard_require(app, req, res, &caller) || !load_path_user(app, req, res, &caller, true, &user))
        return;

    json_t *body;
    if (!handlers_json_body(req, res, &body))
        return;
    struct user_update update;
    struct validation_error verr;
    bool valid = validate_user_update(req->pool, body, user.email, &update, &verr);
    json_decref(body);
    if (!valid) {
        handlers_validation_failed(req, res, &verr);
        return;
    }

    enum kairos_error err = app->storage->ops->user_update(app->storage, user.id, &update);
    if (err == KAIROS_OK)
        err = app->storage->ops->user_get(app->storage, req->pool, user.id, &user);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }
    handlers_answer_json(req, res, 200, models_user_json(&user, true));
}

void handle_delete_user(struct app *app, struct request *req, struct response *res)
{
    struct user caller, user;
    if (!auth_guard_require(app, req, res, &caller) || !load_path_user(app, req, res, &caller, true, &user))
        return;

    enum kairos_error err = app->storage->ops->user_delete(app->storage, user.id);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "User not found");
        return;
    }
    handlers_answer_json(req, res, 200, json_pack("{s:s}", "message", "User deleted successfully."));
}
