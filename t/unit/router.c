/* Router: pattern matching, path parameters, trailing slashes, 404 and 405. */
#include <string.h>

#include "server/router.h"
#include "t/unit/tap.h"

static void handler_noop(struct app *app, struct request *req, struct response *res)
{
    (void)app;
    (void)req;
    (void)res;
}

static const struct route routes[] = {
    {"GET", "/api/v1/", handler_noop, "ping"},
    {"POST", "/api/v1/journeys/", handler_noop, "create_journey"},
    {"GET", "/api/v1/journeys/{journey_id}", handler_noop, "get_journey"},
    {"DELETE", "/api/v1/journeys/{journey_id}", handler_noop, "delete_journey"},
    {"PATCH", "/api/v1/journeys/{journey_id}", handler_noop, "set_completed_journey"},
    {"PATCH", "/api/v1/journeys/{journey_id}/active", handler_noop, "toggle_active_journey"},
    {"PUT", "/api/v1/journeys/{journey_id}/markers/{marker_id}", handler_noop, "update_journey_marker"},
    {"GET", "/api/v1/users/me", handler_noop, "get_current_user"},
    {"GET", "/api/v1/users/{user_id}", handler_noop, "get_user_by_id"},
};
static const size_t route_count = sizeof(routes) / sizeof(routes[0]);

struct outcome {
    enum router_result result;
    const struct route *route;
    struct request req;
    char allow[128];
};

static struct pool *pool;

static struct outcome *match(const char *method, const char *path)
{
    struct outcome *o = pool_alloc(pool, sizeof(*o));
    o->req.pool = pool;
    o->req.method = method;
    o->req.path = path;
    o->req.query = "";
    o->result = router_match(routes, route_count, &o->req, &o->route, o->allow, sizeof(o->allow));
    return o;
}

static const char *route_name(const struct outcome *o)
{
    return o->route != NULL ? o->route->name : NULL;
}

static void test_literal_routes(void)
{
    struct outcome *o = match("GET", "/api/v1/");
    is_int(o->result, ROUTER_MATCH, "root with slash matches");
    is_str(route_name(o), "ping", "root with slash is ping");

    o = match("GET", "/api/v1");
    is_str(route_name(o), "ping", "root without slash is ping");

    o = match("POST", "/api/v1/journeys");
    is_str(route_name(o), "create_journey", "journeys without slash matches");
    o = match("POST", "/api/v1/journeys/");
    is_str(route_name(o), "create_journey", "journeys with slash matches");

    o = match("GET", "/api/v1/users/me");
    is_str(route_name(o), "get_current_user", "literal segment wins over parameter listed later");
    is_int(o->req.param_count, 0, "literal route has no parameters");
}

static void test_parameters(void)
{
    struct outcome *o = match("PUT", "/api/v1/journeys/abc/markers/def/");
    is_str(route_name(o), "update_journey_marker", "two parameters match");
    is_int(o->req.param_count, 2, "two parameters filled");
    is_str(request_param(&o->req, "journey_id"), "abc", "first parameter value");
    is_str(request_param(&o->req, "marker_id"), "def", "second parameter value");
    is_str(request_param(&o->req, "user_id"), NULL, "absent parameter is NULL");

    o = match("GET", "/api/v1/users/a%20b%2Fc");
    is_int(o->result, ROUTER_MATCH, "encoded parameter matches");
    is_str(request_param(&o->req, "user_id"), "a b/c", "parameter is percent-decoded");

    o = match("GET", "/api/v1/users/%zz");
    is_int(o->result, ROUTER_MATCH, "bad escape in parameter still matches");
    is_str(request_param(&o->req, "user_id"), "%zz", "bad escape is kept as sent");
    o = match("GET", "/api/v1/users/abc%2");
    is_str(request_param(&o->req, "user_id"), "abc%2", "truncated escape is kept as sent");
    o = match("GET", "/api/v1/users/a%00b");
    is_str(request_param(&o->req, "user_id"), "a%00b", "encoded NUL is kept as sent");

    o = match("PATCH", "/api/v1/journeys/xyz/active");
    is_str(route_name(o), "toggle_active_journey", "parameter then literal");
    is_str(request_param(&o->req, "journey_id"), "xyz", "parameter before literal");
}

static void test_not_found(void)
{
    static const char *const paths[] = {
        "/api/v1/nope",
        "/api/v1/journeys/a/b",
        "/api/v1//journeys",
        "/api/v1/journeys//",
        "//api/v1/",
        "/api/v1//",
        "//",
        "",
        "/",
        "api/v1/",
        "/api/v1/users/../users/me",
        "/api/v1/users/",
        "/api/v1/journeys/%61bc/markers",
        "/API/V1/",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct outcome *o = match("GET", paths[i]);
        char name[128];
        snprintf(name, sizeof(name), "404 for \"%s\"", paths[i]);
        is_int(o->result, ROUTER_NOT_FOUND, name);
        ok(o->route == NULL, "no route on 404");
    }

    struct outcome *o = match("GET", "/api/v1/users/..");
    is_int(o->result, ROUTER_MATCH, "dot-dot is a literal parameter value");
    is_str(request_param(&o->req, "user_id"), "..", "dot-dot is not resolved");
}

static void test_method_not_allowed(void)
{
    struct outcome *o = match("DELETE", "/api/v1/journeys/");
    is_int(o->result, ROUTER_METHOD_NOT_ALLOWED, "405 for wrong method");
    is_str(o->allow, "POST", "Allow lists the one method");

    o = match("POST", "/api/v1/journeys/abc");
    is_int(o->result, ROUTER_METHOD_NOT_ALLOWED, "405 on parameter route");
    is_str(o->allow, "GET, HEAD, DELETE, PATCH", "Allow lists every method of the path, HEAD with GET");

    o = match("PUT", "/api/v1/users/me");
    is_int(o->result, ROUTER_METHOD_NOT_ALLOWED, "405 on users/me");
    is_str(o->allow, "GET, HEAD", "Allow merges routes without duplicates");

    o = match("get", "/api/v1/");
    is_int(o->result, ROUTER_METHOD_NOT_ALLOWED, "methods are case-sensitive");

    o = match("HEAD", "/api/v1/journeys/abc");
    is_int(o->result, ROUTER_MATCH, "HEAD matches a GET route");
    is_str(route_name(o), "get_journey", "HEAD uses the GET handler");
    is_str(request_param(&o->req, "journey_id"), "abc", "HEAD fills parameters");

    o = match("HEAD", "/api/v1/journeys/");
    is_int(o->result, ROUTER_METHOD_NOT_ALLOWED, "HEAD without a GET route is 405");
}

static void test_allow_buffer(void)
{
    struct request req;
    memset(&req, 0, sizeof(req));
    req.pool = pool;
    req.method = "PUT";
    req.path = "/api/v1/journeys/abc";
    req.query = "";
    const struct route *route;
    char allow[8];
    enum router_result result = router_match(routes, route_count, &req, &route, allow, sizeof(allow));
    is_int(result, ROUTER_METHOD_NOT_ALLOWED, "405 with a small Allow buffer");
    ok(strlen(allow) < sizeof(allow), "Allow is cut to the buffer");
    is_str(allow, "GET", "Allow keeps whole methods only");
}

int main(void)
{
    pool = pool_create();
    test_literal_routes();
    test_parameters();
    test_not_found();
    test_method_not_allowed();
    test_allow_buffer();
    pool_destroy(pool);
    return tap_done();
}
