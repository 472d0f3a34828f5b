/*
 * The way of one request through Kairos, the same under both front ends:
 * CORS, then routing (404, 405 with Allow), then the check of every path id,
 * then the route's handler.
 */
#include "server/app.h"

#include <string.h>

#include "server/cors.h"
#include "server/response.h"
#include "server/router.h"
#include "storage/id.h"
#include "storage/log.h"

/* True when a path parameter is an id: its name is "id" or ends in "_id". */
static bool app_param_is_id(const char *name)
{
    size_t len = strlen(name);
    return strcmp(name, "id") == 0 || (len > 3 && strcmp(name + len - 3, "_id") == 0);
}

/* Normalizes every id parameter in place; on a malformed one, sets a 422 response and returns false. */
static bool app_check_ids(struct request *req, struct response *res)
{
    for (size_t i = 0; i < req->param_count; i++) {
        if (!app_param_is_id(req->param_names[i]))
            continue;
        char *id = pool_alloc(req->pool, ID_HEX_LEN + 1);
        if (!id_normalize(req->param_values[i], id)) {
            const char *loc[] = {"path", req->param_names[i], NULL};
            response_validation(req, res, loc, "invalid id: must be 24 hexadecimal characters");
            return false;
        }
        req->param_values[i] = id;
    }
    return true;
}

void app_handle(struct app *app, struct request *req, struct response *res)
{
    if (cors_apply(app->config, req, res))
        return;

    const struct route *route = NULL;
    char allow[128];
    switch (router_match(kairos_routes, kairos_route_count, req, &route, allow, sizeof(allow))) {
    case ROUTER_NOT_FOUND:
        response_detail(req, res, 404, "Not Found");
        return;
    case ROUTER_METHOD_NOT_ALLOWED:
        response_header_add(res, "Allow", pool_strdup(req->pool, allow));
        response_detail(req, res, 405, "Method Not Allowed");
        return;
    case ROUTER_MATCH:
        break;
    }

    req->route_pattern = route->pattern;
    if (!app_check_ids(req, res))
        return;

    route->handler(app, req, res);
    if (res->status < 100 || res->status > 599) {
        log_msg(LOG_ERROR, "http", req->request_id, "handler %s set no valid status (%d)", route->name, res->status);
        res->content_type = NULL;
        res->body = NULL;
        res->body_len = 0;
        response_error(req, res, KAIROS_ERR_INTERNAL, NULL);
    }
}
