/*
 * The Lambda front end's event and response conversion: API Gateway payload
 * 2.0 and 1.0 events, ALB events and the outbox drain job read into a struct
 * request, and responses built in each event's format. The Runtime API loop
 * itself is tested end to end by t/api/lambda.t.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/lambda.h"
#include "storage/pool.h"
#include "t/unit/tap.h"

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    if (doc == NULL)
        printf("# bad fixture: %s\n", err.text);
    return doc;
}

static enum kairos_error read_event(const char *text, struct lambda_event *ev, struct request *req)
{
    char err[256];
    json_t *doc = parse(text);
    memset(req, 0, sizeof(*req));
    req->pool = pool_create();
    enum kairos_error e = lambda_event_read(doc, ev, req, err, sizeof(err));
    json_decref(doc);
    return e;
}

static void test_http_v2(void)
{
    struct lambda_event ev;
    struct request req;
    /* "dXNlcm5hbWU9YSU0MGIuZXhhbXBsZQ==" is "username=a%40b.example". */
    enum kairos_error e =
        read_event("{\"version\":\"2.0\",\"routeKey\":\"$default\",\"rawPath\":\"/api/v1/auth/token\","
                   "\"rawQueryString\":\"a=1&a=2\",\"cookies\":[\"s=1\",\"t=2\"],"
                   "\"headers\":{\"content-type\":\"application/x-www-form-urlencoded\",\"x-multi\":\"a,b\"},"
                   "\"requestContext\":{\"http\":{\"method\":\"POST\",\"sourceIp\":\"203.0.113.9\"}},"
                   "\"body\":\"dXNlcm5hbWU9YSU0MGIuZXhhbXBsZQ==\",\"isBase64Encoded\":true}",
                   &ev, &req);
    is_int(e, KAIROS_OK, "v2: reads");
    is_int(ev.kind, LAMBDA_EVENT_HTTP_V2, "v2: kind");
    is_str(req.method, "POST", "v2: method");
    is_str(req.path, "/api/v1/auth/token", "v2: path");
    is_str(req.query, "a=1&a=2", "v2: raw query string kept");
    is_str(req.client_addr, "203.0.113.9", "v2: client address from sourceIp");
    is_str(request_header(&req, "content-type"), "application/x-www-form-urlencoded", "v2: header");
    is_str(request_header(&req, "x-multi"), "a,b", "v2: joined header kept");
    is_str(request_header(&req, "cookie"), "s=1; t=2", "v2: cookies joined into a cookie header");
    is_int(req.body_len, strlen("username=a%40b.example"), "v2: base64 body length");
    is_str(req.body, "username=a%40b.example", "v2: base64 body decoded");
    pool_destroy(req.pool);
}

static void test_rest_v1_multi(void)
{
    struct lambda_event ev;
    struct request req;
    enum kairos_error e = read_event(
        "{\"resource\":\"/{proxy+}\",\"httpMethod\":\"GET\",\"path\":\"/api/v1/a b\","
        "\"headers\":{\"Accept\":\"text/plain\"},"
        "\"multiValueHeaders\":{\"Accept\":[\"application/json\",\"text/plain\"],\"Cookie\":[\"a=1\",\"b=2\"],"
        "\"X-Empty-First\":[\"\",\"b\"]},"
        "\"queryStringParameters\":{\"tag\":\"c\"},"
        "\"multiValueQueryStringParameters\":{\"tag\":[\"a b\",\"c&d=\"]},"
        "\"requestContext\":{\"identity\":{\"sourceIp\":\"198.51.100.7\"}},\"body\":null,\"isBase64Encoded\":false}",
        &ev, &req);
    is_int(e, KAIROS_OK, "v1: reads");
    is_int(ev.kind, LAMBDA_EVENT_REST_V1, "v1: kind");
    ok(ev.multi_value, "v1: multiValueHeaders noticed");
    is_str(req.method, "GET", "v1: method");
    is_str(req.path, "/api/v1/a%20b", "v1: decoded path encoded again");
    is_str(req.query, "tag=a%20b&tag=c%26d%3D", "v1: every value of a repeated key, percent-encoded");
    is_str(request_header(&req, "accept"), "application/json, text/plain", "v1: multi-value header joined");
    is_str(request_header(&req, "cookie"), "a=1; b=2", "v1: cookie values joined with semicolons");
    is_str(request_header(&req, "x-empty-first"), ", b", "v1: an empty first value keeps its separator");
    is_str(req.client_addr, "198.51.100.7", "v1: client address from identity");
    is_int(req.body_len, 0, "v1: null body is empty");
    pool_destroy(req.pool);

    e = read_event("{\"httpMethod\":\"GET\",\"path\":\"/\",\"queryStringParameters\":{\"q\":\"\\u00e9\"},"
                   "\"headers\":{\"X-Up\":\"1\"},\"requestContext\":{}}",
                   &ev, &req);
    is_int(e, KAIROS_OK, "v1 single: reads");
    ok(!ev.multi_value, "v1 single: no multiValueHeaders");
    is_str(req.query, "q=%C3%A9", "v1 single: UTF-8 percent-encoded");
    is_str(request_header(&req, "x-up"), "1", "v1 single: header name lowercased");
    is_str(req.headers[0].name, "x-up", "v1 single: stored name is lowercase");
    is_str(req.client_addr, "0.0.0.0", "v1 single: unknown client address");
    pool_destroy(req.pool);
}

static void test_alb(void)
{
    struct lambda_event ev;
    struct request req;
    enum kairos_error e =
        read_event("{\"requestContext\":{\"elb\":{\"targetGroupArn\":\"arn:aws:elasticloadbalancing:x\"}},"
                   "\"httpMethod\":\"PUT\",\"path\":\"/api/v1/users/a%20b\","
                   "\"queryStringParameters\":{\"email\":\"a%40b.example\"},"
                   "\"headers\":{\"x-forwarded-for\":\"10.0.0.1, 192.0.2.4\",\"content-type\":\"application/json\"},"
                   "\"body\":\"{}\",\"isBase64Encoded\":false}",
                   &ev, &req);
    is_int(e, KAIROS_OK, "alb: reads");
    is_int(ev.kind, LAMBDA_EVENT_ALB, "alb: kind");
    ok(!ev.multi_value, "alb: single-value headers");
    is_str(req.path, "/api/v1/users/a%20b", "alb: path kept as sent");
    is_str(req.query, "email=a%40b.example", "alb: query kept as sent");
    is_str(req.client_addr, "192.0.2.4", "alb: client is the last X-Forwarded-For address");
    is_str(req.body, "{}", "alb: body");
    pool_destroy(req.pool);
}

static void test_jobs_and_errors(void)
{
    struct lambda_event ev;
    struct request req;

    is_int(read_event("{\"kairos\":\"drain-outbox\"}", &ev, &req), KAIROS_OK, "drain: reads");
    is_int(ev.kind, LAMBDA_EVENT_DRAIN_OUTBOX, "drain: kind");
    pool_destroy(req.pool);

    is_int(read_event("[1,2]", &ev, &req), KAIROS_ERR_INVALID, "array event is invalid");
    pool_destroy(req.pool);
    is_int(read_event("{\"kairos\":\"reindex\"}", &ev, &req), KAIROS_ERR_INVALID, "unknown job is invalid");
    pool_destroy(req.pool);
    is_int(read_event("{\"version\":\"2.0\",\"rawPath\":\"/\",\"requestContext\":{}}", &ev, &req), KAIROS_ERR_INVALID,
           "v2 without method is invalid");
    pool_destroy(req.pool);
    is_int(read_event("{\"httpMethod\":\"GET\",\"requestContext\":{}}", &ev, &req), KAIROS_ERR_INVALID,
           "v1 without path is invalid");
    pool_destroy(req.pool);
    is_int(read_event("{\"httpMethod\":\"POST\",\"path\":\"/\",\"body\":\"%%%\",\"isBase64Encoded\":true}", &ev, &req),
           KAIROS_ERR_INVALID, "bad base64 is invalid");
    pool_destroy(req.pool);

    char err[256];
    json_t *big = json_pack("{s:s, s:s, s:o}", "httpMethod", "POST", "path", "/", "requestContext", json_object());
    char *body = malloc(HTTP_MAX_BODY + 2);
    memset(body, 'a', HTTP_MAX_BODY + 1);
    body[HTTP_MAX_BODY + 1] = '\0';
    json_object_set_new(big, "body", json_string(body));
    memset(&req, 0, sizeof(req));
    req.pool = pool_create();
    is_int(lambda_event_read(big, &ev, &req, err, sizeof(err)), KAIROS_ERR_LIMIT, "body over 1 MiB is over the limit");
    is_str(req.method, "POST", "oversized event still has its method for the 413");
    pool_destroy(req.pool);

    body[HTTP_MAX_BODY] = '\0';
    json_object_set_new(big, "body", json_string(body));
    req = (struct request){.pool = pool_create()};
    is_int(lambda_event_read(big, &ev, &req, err, sizeof(err)), KAIROS_OK, "body of exactly 1 MiB is accepted");
    pool_destroy(req.pool);
    free(body);
    json_decref(big);
}

static struct response sample_response(void)
{
    struct response res = {.status = 201, .content_type = "application/json", .body = "{\"ok\":true}"};
    res.body_len = strlen(res.body);
    res.headers[0] = (struct http_header){"set-cookie", "a=1; Path=/"};
    res.headers[1] = (struct http_header){"set-cookie", "b=2"};
    res.headers[2] = (struct http_header){"vary", "Origin"};
    res.headers[3] = (struct http_header){"vary", "Accept"};
    res.header_count = 4;
    return res;
}

static void test_response_v2(void)
{
    struct lambda_event ev = {.kind = LAMBDA_EVENT_HTTP_V2};
    struct response res = sample_response();
    json_t *doc = lambda_response_build(&ev, &res);
    json_t *headers = json_object_get(doc, "headers");

    is_int(json_integer_value(json_object_get(doc, "statusCode")), 201, "v2 response: statusCode");
    is_str(json_string_value(json_object_get(headers, "content-type")), "application/json",
           "v2 response: content-type header");
    is_str(json_string_value(json_object_get(headers, "vary")), "Origin, Accept",
           "v2 response: repeated header joined");
    ok(json_object_get(headers, "set-cookie") == NULL, "v2 response: set-cookie not among headers");
    is_int(json_array_size(json_object_get(doc, "cookies")), 2, "v2 response: two cookies");
    is_str(json_string_value(json_array_get(json_object_get(doc, "cookies"), 0)), "a=1; Path=/",
           "v2 response: cookie kept whole");
    is_str(json_string_value(json_object_get(doc, "body")), "{\"ok\":true}", "v2 response: body");
    ok(json_is_false(json_object_get(doc, "isBase64Encoded")), "v2 response: text body not encoded");
    ok(json_object_get(doc, "statusDescription") == NULL, "v2 response: no statusDescription");
    json_decref(doc);

    res.header_count = 0;
    res.body = "\xff\x00\x01";
    res.body_len = 3;
    doc = lambda_response_build(&ev, &res);
    ok(json_object_get(doc, "cookies") == NULL, "v2 response: no cookies field without set-cookie");
    is_str(json_string_value(json_object_get(doc, "body")), "/wAB", "v2 response: binary body in base64");
    ok(json_is_true(json_object_get(doc, "isBase64Encoded")), "v2 response: binary body marked encoded");
    json_decref(doc);

    struct response empty = {.status = 204};
    doc = lambda_response_build(&ev, &empty);
    is_str(json_string_value(json_object_get(doc, "body")), "", "v2 response: no body is an empty string");
    ok(json_object_get(json_object_get(doc, "headers"), "content-type") == NULL,
       "v2 response: no content-type without body");
    json_decref(doc);
}

static void test_response_alb_and_v1(void)
{
    struct lambda_event ev = {.kind = LAMBDA_EVENT_ALB, .multi_value = true};
    struct response res = sample_response();
    res.status = 404;
    json_t *doc = lambda_response_build(&ev, &res);
    json_t *multi = json_object_get(doc, "multiValueHeaders");

    is_str(json_string_value(json_object_get(doc, "statusDescription")), "404 Not Found", "alb response: description");
    ok(json_object_get(doc, "headers") == NULL, "alb multi response: no single-value headers");
    is_int(json_array_size(json_object_get(multi, "set-cookie")), 2, "alb multi response: both cookies");
    is_int(json_array_size(json_object_get(multi, "vary")), 2, "alb multi response: both vary values");
    is_str(json_string_value(json_array_get(json_object_get(multi, "content-type"), 0)), "application/json",
           "alb multi response: content-type in an array");
    json_decref(doc);

    ev.multi_value = false;
    res.status = 200;
    doc = lambda_response_build(&ev, &res);
    is_str(json_string_value(json_object_get(doc, "statusDescription")), "200 OK", "alb response: 200 OK");
    ok(json_is_object(json_object_get(doc, "headers")), "alb single response: headers object");
    json_decref(doc);

    ev = (struct lambda_event){.kind = LAMBDA_EVENT_REST_V1, .multi_value = true};
    doc = lambda_response_build(&ev, &res);
    ok(json_object_get(doc, "statusDescription") == NULL, "v1 response: no statusDescription");
    ok(json_is_array(json_object_get(json_object_get(doc, "multiValueHeaders"), "vary")), "v1 multi response: arrays");
    ok(json_object_get(doc, "cookies") == NULL, "v1 response: no cookies field");
    json_decref(doc);
}

int main(void)
{
    test_http_v2();
    test_rest_v1_multi();
    test_alb();
    test_jobs_and_errors();
    test_response_v2();
    test_response_alb_and_v1();
    return tap_done();
}
