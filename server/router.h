/*
 * The router: a table of (method, pattern, handler) where a pattern segment
 * "{name}" matches one path segment. A trailing slash is optional on every
 * path. router_match reports an unknown path (404) and a method the path does
 * not allow (405, with the Allow list) itself.
 */
#ifndef KAIROS_ROUTER_H
#define KAIROS_ROUTER_H

#include <stddef.h>

#include "server/app.h"

struct route {
    const char *method;
    const char *pattern; /* e.g. "/api/v1/journeys/{journey_id}/markers/{marker_id}" */
    handler_fn handler;
    const char *name; /* the operation name (FastAPI handler name), e.g. "add_marker_to_journey" */
};

enum router_result { ROUTER_MATCH, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

/*
 * Matches req->method and req->path against routes[0..count). On a match sets
 * *route and fills req->param_*. On 405 writes the allowed methods, comma
 * separated, into allow (a HEAD is allowed wherever GET is).
 */
enum router_result router_match(const struct route *routes, size_t count, struct request *req,
                                const struct route **route, char *allow, size_t allow_len);

/* The route table of the API (server/routes.c). */
extern const struct route kairos_routes[];
extern const size_t kairos_route_count;

#endif
