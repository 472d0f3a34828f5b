/*
 * The route handlers of the HTTP API (server/routes.c maps paths to them)
 * and the helpers they share. A handler fills *res and returns; everything it
 * allocates lives in req->pool.
 */
#ifndef KAIROS_HANDLERS_H
#define KAIROS_HANDLERS_H

#include <jansson.h>
#include <stdbool.h>

#include "server/app.h"
#include "server/form.h"
#include "server/http.h"
#include "server/validate.h"
#include "storage/storage.h"

/* health (handlers_health.c) */
void handle_ping(struct app *app, struct request *req, struct response *res);
void handle_ping_mongodb(struct app *app, struct request *req, struct response *res);
void handle_health(struct app *app, struct request *req, struct response *res);

/* auth (handlers_auth.c) */
void handle_login(struct app *app, struct request *req, struct response *res);
void handle_refresh(struct app *app, struct request *req, struct response *res);

/* users (handlers_users.c) */
void handle_register_user(struct app *app, struct request *req, struct response *res);
void handle_verify_email(struct app *app, struct request *req, struct response *res);
void handle_reset_password(struct app *app, struct request *req, struct response *res);
void handle_update_password(struct app *app, struct request *req, struct response *res);
void handle_get_current_user(struct app *app, struct request *req, struct response *res);
void handle_get_user_by_id(struct app *app, struct request *req, struct response *res);
void handle_get_user_journeys(struct app *app, struct request *req, struct response *res);
void handle_get_active_journey(struct app *app, struct request *req, struct response *res);
void handle_update_user(struct app *app, struct request *req, struct response *res);
void handle_delete_user(struct app *app, struct request *req, struct response *res);

/* journeys (handlers_journeys.c) */
void handle_create_journey(struct app *app, struct request *req, struct response *res);
void handle_get_journey(struct app *app, struct request *req, struct response *res);
void handle_delete_journey(struct app *app, struct request *req, struct response *res);
void handle_toggle_active_journey(struct app *app, struct request *req, struct response *res);
void handle_set_completed_journey(struct app *app, struct request *req, struct response *res);
void handle_get_nearby_journeys(struct app *app, struct request *req, struct response *res);
void handle_get_nearby_journey_details(struct app *app, struct request *req, struct response *res);

/* markers (handlers_markers.c) */
void handle_get_journey_markers(struct app *app, struct request *req, struct response *res);
void handle_add_marker_to_journey(struct app *app, struct request *req, struct response *res);
void handle_update_journey_marker(struct app *app, struct request *req, struct response *res);
void handle_delete_journey_marker(struct app *app, struct request *req, struct response *res);

/* Shared helpers (handlers_common.c). Each returns false after it has sent an error response. */

/* Sends the 422 of a failed validation. */
void handlers_validation_failed(struct request *req, struct response *res, const struct validation_error *err);

/* Sends json with status. A NULL json (failed allocation) becomes a logged 500. */
void handlers_answer_json(struct request *req, struct response *res, int status, json_t *json);

/* Copies the path parameter `name` lowercased into out, or sends 422 at ["path", name] when it is not an id. */
bool handlers_path_id(struct request *req, struct response *res, const char *name, char out[ID_HEX_LEN + 1]);

/* Parses the body as a JSON object (*out is a new reference), or sends 422 at ["body"]. */
bool handlers_json_body(struct request *req, struct response *res, json_t **out);

/* True when the body is empty or only whitespace. */
bool handlers_body_is_empty(const struct request *req);

/*
 * Loads the journey of path parameter journey_id into *journey: 404 "Journey
 * not found" when there is none. With owner_only, a journey that caller does
 * not own is 403 "Not allowed".
 */
bool handlers_load_journey(struct app *app, struct request *req, struct response *res, const struct user *caller,
                           bool owner_only, struct journey *journey);

/*
 * Named string parameters of a request, looked up in the query string (when
 * loaded) and then in the body: urlencoded, multipart or a JSON object, by
 * Content-Type. A body without a Content-Type or labelled urlencoded is
 * read as JSON when it starts with '{'.
 */
struct handlers_params {
    struct form query;
    struct form body;
};

/* Fills *params; a malformed query or body is a 422. */
bool handlers_params_load(struct request *req, struct response *res, bool with_query, struct handlers_params *params);

/*
 * The first value of name, or NULL. When found, *where (when not NULL) is
 * set to "query" or "body" and *len (when not NULL) to the value's length.
 */
const char *handlers_params_get(const struct handlers_params *params, const char *name, const char **where,
                                size_t *len);

/* Sends 422 "<name> is required" at [loc0, name]. */
void handlers_param_missing(struct request *req, struct response *res, const char *loc0, const char *name);

/*
 * Counts one attempt under key for the rate limiter. Past max attempts in
 * window_s seconds it sends 429 with Retry-After and detail, and returns false.
 */
bool handlers_rate_limit(struct request *req, struct response *res, const char *key, unsigned max, unsigned window_s,
                         const char *detail);

#endif
