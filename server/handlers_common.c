/*
 * Helpers shared by the route handlers: sending validation errors and JSON,
 * reading path ids, JSON bodies and named parameters, loading a journey with
 * its ownership check, and rate limiting.
 */
#include "server/handlers.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "auth/ratelimit.h"
#include "server/response.h"
#include "storage/log.h"

void handlers_validation_failed(struct request *req, struct response *res, const struct validation_error *err)
{
    response_validation(req, res, err->loc, err->msg);
}

void handlers_answer_json(struct request *req, struct response *res, int status, json_t *json)
{
    if (json == NULL) {
        log_msg(LOG_ERROR, "http", req->request_id, "building the JSON response failed");
        response_error(req, res, KAIROS_ERR_INTERNAL, NULL);
        return;
    }
    response_json(req, res, status, json);
}

bool handlers_path_id(struct request *req, struct response *res, const char *name, char out[ID_HEX_LEN + 1])
{
    const char *value = request_param(req, name);
    if (value != NULL && id_normalize(value, out))
        return true;

    const char *loc[] = {"path", name, NULL};
    response_validation(req, res, loc, pool_printf(req->pool, "%s must be a 24-character hex id", name));
    return false;
}

bool handlers_json_body(struct request *req, struct response *res, json_t **out)
{
    struct validation_error err;
    if (validate_json_object(req->pool, req->body, req->body_len, out, &err))
        return true;
    handlers_validation_failed(req, res, &err);
    return false;
}

bool handlers_body_is_empty(const struct request *req)
{
    for (size_t i = 0; i < req->body_len; i++) {
        if (!isspace((unsigned char)req->body[i]))
            return false;
    }
    return true;
}

bool handlers_load_journey(struct app *app, struct request *req, struct response *res, const struct user *caller,
                           bool owner_only, struct journey *journey)
{
    char journey_id[ID_HEX_LEN + 1];
    if (!handlers_path_id(req, res, "journey_id", journey_id))
        return false;

    enum kairos_error err = app->storage->ops->journey_get(app->storage, req->pool, journey_id, journey);
    if (err != KAIROS_OK) {
        response_error(req, res, err, "Journey not found");
        return false;
    }
    if (owner_only && strcmp(journey->user_id, caller->id) != 0) {
        response_detail(req, res, 403, "Not allowed");
        return false;
    }
    return true;
}

/* True when the media type of content_type (before any ';') is `type`, compared case-insensitively. */
static bool content_type_is(const char *content_type, const char *type)
{
    if (content_type == NULL)
        return false;
    while (*content_type == ' ')
        content_type++;

    size_t len = strlen(type);
    if (strncasecmp(content_type, type, len) != 0)
        return false;
    char next = content_type[len];
    return next == '\0' || next == ';' || next == ' ';
}

/*
 * The parameters that the form-reading routes (login, refresh, verify-email,
 * reset-password, update-password) take from a body. In a JSON body each of
 * them must be a string, so a number or an object there is a 422 at its own
 * loc, not a "missing" parameter.
 */
static const char *const JSON_STRING_PARAMS[] = {"username", "password", "refresh_token",
                                                 "email",    "token",    "new_password"};

static bool is_string_param(const char *name)
{
    for (size_t i = 0; i < sizeof(JSON_STRING_PARAMS) / sizeof(JSON_STRING_PARAMS[0]); i++) {
        if (strcmp(JSON_STRING_PARAMS[i], name) == 0)
            return true;
    }
    return false;
}

/*
 * Copies the string members of a JSON object body into *out. Other members
 * are ignored, except a non-string, non-null value of a route parameter.
 */
static bool json_body_to_form(struct request *req, struct response *res, struct form *out)
{
    json_t *body;
    if (!handlers_json_body(req, res, &body))
        return false;

    const char *name;
    json_t *member;
    json_object_foreach(body, name, member)
    {
        if (json_is_string(member) || json_is_null(member) || !is_string_param(name))
            continue;
        const char *loc[] = {"body", pool_strdup(req->pool, name), NULL};
        response_validation(req, res, loc, pool_printf(req->pool, "%s must be a string", name));
        json_decref(body);
        return false;
    }

    out->fields = pool_alloc(req->pool, (json_object_size(body) + 1) * sizeof(*out->fields));
    out->count = 0;
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value)
    {
        if (!json_is_string(value))
            continue;
        struct form_field *field = &out->fields[out->count++];
        field->name = pool_strdup(req->pool, key);
        field->value_len = json_string_length(value);
        field->value = pool_strndup(req->pool, json_string_value(value), field->value_len);
    }
    json_decref(body);
    return true;
}

static bool body_malformed(struct request *req, struct response *res, const char *what)
{
    const char *loc[] = {"body", NULL};
    response_validation(req, res, loc, pool_printf(req->pool, "body is not a valid %s", what));
    return false;
}

static bool body_starts_with_brace(const struct request *req)
{
    size_t i = 0;
    while (i < req->body_len && isspace((unsigned char)req->body[i]))
        i++;
    return i < req->body_len && req->body[i] == '{';
}

static bool body_to_form(struct request *req, struct response *res, struct form *out)
{
    const char *content_type = request_header(req, "content-type");
    if (handlers_body_is_empty(req))
        return true;

    if (content_type_is(content_type, "application/json"))
        return json_body_to_form(req, res, out);
    if (content_type_is(content_type, "multipart/form-data")) {
        if (form_parse_multipart(req->pool, content_type, req->body, req->body_len, out) != KAIROS_OK)
            return body_malformed(req, res, "multipart/form-data body");
        return true;
    }

    /*
     * A body without a Content-Type, or labelled urlencoded (curl -d does so),
     * that starts with '{' is read as JSON, because no parameter that a route
     * reads has a name starting with '{'.
     */
    bool urlencoded = content_type == NULL || content_type_is(content_type, "application/x-www-form-urlencoded");
    if (urlencoded && body_starts_with_brace(req))
        return json_body_to_form(req, res, out);
    if (urlencoded && form_parse_urlencoded(req->pool, req->body, req->body_len, out) != KAIROS_OK)
        return body_malformed(req, res, "urlencoded form");
    return true;
}

/*
 * Rejects a route parameter whose decoded value contains a NUL byte (an encoded
 * %00, or a NUL in a multipart part). The handlers read these values as C
 * strings, so "a@b.example%00x" would otherwise act as "a@b.example".
 */
static bool form_params_have_no_nul(struct request *req, struct response *res, const struct form *form,
                                    const char *loc0)
{
    for (size_t i = 0; i < form->count; i++) {
        const struct form_field *field = &form->fields[i];
        if (!is_string_param(field->name) || memchr(field->value, '\0', field->value_len) == NULL)
            continue;
        const char *loc[] = {loc0, field->name, NULL};
        response_validation(req, res, loc, pool_printf(req->pool, "%s must not contain a NUL byte", field->name));
        return false;
    }
    return true;
}

bool handlers_params_load(struct request *req, struct response *res, bool with_query, struct handlers_params *params)
{
    memset(params, 0, sizeof(*params));
    if (with_query && req->query != NULL &&
        form_parse_urlencoded(req->pool, req->query, strlen(req->query), &params->query) != KAIROS_OK) {
        const char *loc[] = {"query", NULL};
        response_validation(req, res, loc, "query string has an invalid percent escape");
        return false;
    }
    return form_params_have_no_nul(req, res, &params->query, "query") && body_to_form(req, res, &params->body) &&
           form_params_have_no_nul(req, res, &params->body, "body");
}

const char *handlers_params_get(const struct handlers_params *params, const char *name, const char **where, size_t *len)
{
    const char *source = "query";
    const struct form_field *field = form_find(&params->query, name);
    if (field == NULL) {
        source = "body";
        field = form_find(&params->body, name);
    }
    if (field == NULL)
        return NULL;
    if (where != NULL)
        *where = source;
    if (len != NULL)
        *len = field->value_len;
    return field->value;
}

void handlers_param_missing(struct request *req, struct response *res, const char *loc0, const char *name)
{
    const char *loc[] = {loc0, name, NULL};
    response_validation(req, res, loc, pool_printf(req->pool, "%s is required", name));
}

bool handlers_rate_limit(struct request *req, struct response *res, const char *key, unsigned max, unsigned window_s,
                         const char *detail)
{
    unsigned retry_after = 0;
    if (ratelimit_hit(key, max, window_s, &retry_after))
        return true;

    response_detail(req, res, 429, "%s", detail);
    response_header_add(res, "retry-after", pool_printf(req->pool, "%u", retry_after > 0 ? retry_after : 1));
    return false;
}
