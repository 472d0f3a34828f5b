/*
 * Building responses: JSON bodies serialized into the request's pool, the
 * FastAPI-shaped validation error, and the one mapping from enum kairos_error
 * to an HTTP status.
 */
#include "server/response.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "storage/log.h"

#define RESPONSE_MAX_HEADERS (sizeof(((struct response *)0)->headers) / sizeof(((struct response *)0)->headers[0]))

void response_header_add(struct response *res, const char *name, const char *value)
{
    if (res->header_count == RESPONSE_MAX_HEADERS) {
        log_error("http", "response header %s dropped: more than %zu headers", name, RESPONSE_MAX_HEADERS);
        return;
    }
    res->headers[res->header_count].name = name;
    res->headers[res->header_count].value = value;
    res->header_count++;
}

static void response_internal(struct request *req, struct response *res)
{
    static const char body[] = "{\"detail\":\"Internal server error\"}";
    res->status = 500;
    res->content_type = "application/json";
    res->body = body;
    res->body_len = sizeof(body) - 1;
    (void)req;
}

void response_json(struct request *req, struct response *res, int status, json_t *json)
{
    if (json == NULL) {
        log_msg(LOG_ERROR, "http", req->request_id, "cannot build the JSON response: out of memory");
        response_internal(req, res);
        return;
    }

    char *text = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    json_decref(json);
    if (text == NULL) {
        log_msg(LOG_ERROR, "http", req->request_id, "cannot serialize the JSON response");
        response_internal(req, res);
        return;
    }

    size_t len = strlen(text);
    res->status = status;
    res->content_type = "application/json";
    res->body = pool_strndup(req->pool, text, len);
    res->body_len = len;
    free(text);
}

void response_detail(struct request *req, struct response *res, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *detail = pool_vprintf(req->pool, fmt, ap);
    va_end(ap);
    response_json(req, res, status, json_pack("{s:s}", "detail", detail));
}

void response_unauthorized(struct request *req, struct response *res, const char *detail)
{
    response_header_add(res, "WWW-Authenticate", "Bearer");
    response_detail(req, res, 401, "%s", detail);
}

void response_validation(struct request *req, struct response *res, const char *const *loc, const char *msg)
{
    json_t *where = json_array();
    for (size_t i = 0; where != NULL && loc != NULL && loc[i] != NULL; i++)
        json_array_append_new(where, json_string(loc[i]));

    json_t *error = json_pack("{s:o?, s:s, s:s}", "loc", where, "msg", msg, "type", "value_error");
    response_json(req, res, 422, json_pack("{s:[o?]}", "detail", error));
}

void response_no_content(struct response *res)
{
    res->status = 204;
    res->content_type = NULL;
    res->body = NULL;
    res->body_len = 0;
}

void response_error(struct request *req, struct response *res, enum kairos_error err, const char *not_found_detail)
{
    switch (err) {
    case KAIROS_ERR_INVALID: {
        /* Handlers validate before calling the storage, so this is a backstop, in FastAPI's 422 shape. */
        static const char *const loc[] = {"body", NULL};
        response_validation(req, res, loc, "the request is invalid");
        return;
    }
    case KAIROS_ERR_NOT_FOUND:
        response_detail(req, res, 404, "%s", not_found_detail != NULL ? not_found_detail : "Not Found");
        return;
    case KAIROS_ERR_DUPLICATE:
        response_detail(req, res, 400, "The resource already exists");
        return;
    case KAIROS_ERR_CONFLICT:
        response_detail(req, res, 409, "The request conflicts with the current state of the resource");
        return;
    case KAIROS_ERR_LIMIT:
        response_detail(req, res, 409, "A size limit of the resource is reached");
        return;
    case KAIROS_ERR_UNAVAILABLE:
        response_detail(req, res, 503, "Storage is unavailable, try again later");
        return;
    case KAIROS_OK:
    case KAIROS_ERR_INTERNAL:
        break;
    }
    log_msg(LOG_ERROR, "http", req->request_id, "%s %s failed: %s", req->method, req->path,
            err == KAIROS_OK ? "response_error called without an error" : kairos_error_name(err));
    response_internal(req, res);
}
