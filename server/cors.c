/* CORS headers and preflight responses (see cors.h). */
#include "server/cors.h"

#include <ctype.h>
#include <string.h>

#include "server/response.h"

#define CORS_ALLOW_METHODS   "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define CORS_DEFAULT_HEADERS "Authorization, Content-Type"
/* Browsers cache a preflight response this many seconds. */
#define CORS_MAX_AGE "600"

static bool cors_origin_allowed(const struct config *cfg, const char *origin)
{
    for (size_t i = 0; i < cfg->cors_origin_count; i++)
        if (strcmp(cfg->cors_origins[i], origin) == 0)
            return true;
    return false;
}

/* True when a requested header list holds only header-name characters, commas and spaces. */
static bool cors_header_list_is_safe(const char *list)
{
    if (list == NULL || list[0] == '\0' || strlen(list) > 1024)
        return false;
    for (const char *p = list; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("-_, ", *p) != NULL))
            return false;
    return true;
}

bool cors_apply(const struct config *cfg, const struct request *req, struct response *res)
{
    const char *origin = request_header(req, "origin");
    bool preflight = strcmp(req->method, "OPTIONS") == 0 && origin != NULL &&
                     request_header(req, "access-control-request-method") != NULL;
    bool allowed = false;

    if (origin != NULL && cfg->cors_any) {
        response_header_add(res, "Access-Control-Allow-Origin", "*");
        allowed = true;
    } else if (origin != NULL && cors_origin_allowed(cfg, origin)) {
        response_header_add(res, "Access-Control-Allow-Origin", origin);
        response_header_add(res, "Access-Control-Allow-Credentials", "true");
        allowed = true;
    }
    if (!cfg->cors_any && cfg->cors_origin_count > 0)
        response_header_add(res, "Vary", "Origin");

    if (!preflight)
        return false;

    if (allowed) {
        const char *requested = request_header(req, "access-control-request-headers");
        response_header_add(res, "Access-Control-Allow-Methods", CORS_ALLOW_METHODS);
        response_header_add(res, "Access-Control-Allow-Headers",
                            cors_header_list_is_safe(requested) ? requested : CORS_DEFAULT_HEADERS);
        response_header_add(res, "Access-Control-Max-Age", CORS_MAX_AGE);
    }
    response_no_content(res);
    return true;
}
