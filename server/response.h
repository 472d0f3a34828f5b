/*
 * Building responses. Bodies are allocated in the request's pool. The mapping
 * from enum kairos_error to an HTTP status lives here and nowhere else.
 */
#ifndef KAIROS_RESPONSE_H
#define KAIROS_RESPONSE_H

#include <jansson.h>

#include "server/http.h"
#include "storage/error.h"

void response_header_add(struct response *res, const char *name, const char *value);

/* Serializes json (and decrefs it) as the body with the given status. */
void response_json(struct request *req, struct response *res, int status, json_t *json);
/* {"detail": "<sentence>"} */
void response_detail(struct request *req, struct response *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 401 with WWW-Authenticate: Bearer and {"detail": detail}. */
void response_unauthorized(struct request *req, struct response *res, const char *detail);
/*
 * 422 in FastAPI's shape: {"detail":[{"loc":[where, field...],"msg":msg,"type":"value_error"}]}.
 * `loc` is a NULL-terminated list of strings, e.g. {"body", "coordinates", NULL}.
 */
void response_validation(struct request *req, struct response *res, const char *const *loc, const char *msg);
/* 204, no body. */
void response_no_content(struct response *res);
/*
 * Maps a storage or auth error to a status and a detail: NOT_FOUND gives 404 with
 * not_found_detail, UNAVAILABLE 503, INTERNAL 500 (logged with the request id), ...
 */
void response_error(struct request *req, struct response *res, enum kairos_error err, const char *not_found_detail);

#endif
