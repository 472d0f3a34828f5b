/*
 * The request and response types shared by both front ends (h2o and Lambda)
 * and the handlers. Handlers never see h2o or Lambda types. Everything a
 * request allocates lives in req->pool.
 */
#ifndef KAIROS_HTTP_H
#define KAIROS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "storage/pool.h"

#define HTTP_MAX_BODY        (1024 * 1024)
#define HTTP_MAX_PATH_PARAMS 4

struct http_header {
    const char *name; /* lowercase */
    const char *value;
};

struct request {
    struct pool *pool;
    const char *method; /* "GET", ... NUL-terminated */
    const char *path;   /* raw path without the query, NUL-terminated */
    const char *query;  /* raw query string without '?', "" when none */
    struct http_header *headers;
    size_t header_count;
    const char *body; /* may contain NULs; body[body_len] is a NUL */
    size_t body_len;
    const char *client_addr; /* textual IP address */
    char request_id[33];

    /* Filled by the router. */
    const char *route_pattern;
    const char *param_names[HTTP_MAX_PATH_PARAMS];
    const char *param_values[HTTP_MAX_PATH_PARAMS]; /* percent-decoded */
    size_t param_count;

    /* Filled by authentication, for the access log. */
    char user_id[25];
};

struct response {
    int status;
    struct http_header headers[16];
    size_t header_count;
    const char *content_type; /* NULL when there is no body */
    const char *body;
    size_t body_len;
};

/* Case-insensitive header lookup; NULL when absent. */
const char *request_header(const struct request *req, const char *name);
/* Path parameter by name; NULL when absent. */
const char *request_param(const struct request *req, const char *name);

/* The reason phrase of an HTTP status, e.g. "Not Found"; "Status" for one Kairos never sends. */
const char *http_status_reason(int status);

#endif
