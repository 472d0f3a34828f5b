/*
 * The AWS Lambda front end. lambda_run() opens the storage once (the init
 * phase), then loops: GET the next invocation from the Runtime API, read the
 * event into a struct request, run app_handle(), and POST the response in the
 * format of the event that came in. The Runtime API is plain HTTP on the
 * address in AWS_LAMBDA_RUNTIME_API, spoken here with one libcurl handle whose
 * connection is kept open between calls.
 *
 * Event shapes, as AWS documents them:
 * - HTTP API payload 2.0: "version": "2.0", rawPath, rawQueryString, headers
 *   with lowercase names and repeated values joined by commas, a cookies
 *   array, requestContext.http.{method,sourceIp}.
 * - REST API payload 1.0: httpMethod, path and query parameters already
 *   percent-decoded, headers and/or multiValueHeaders,
 *   requestContext.identity.sourceIp.
 * - ALB: requestContext.elb, with the path and query parameters exactly as the
 *   client sent them (not decoded). The event has headers or multiValueHeaders,
 *   as the target group is configured, and the response must use the same one.
 */
#include "server/lambda.h"

#include <ctype.h>
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/password.h"
#include "mail/mail.h"
#include "server/accesslog.h"
#include "server/app.h"
#include "server/response.h"
#include "storage/log.h"
#include "storage/storage.h"

#define LAMBDA_API_PREFIX  "/2018-06-01/runtime"
#define LAMBDA_MAX_HEADERS 128
/* Bound of one inline mail send; a slow provider must not hold the sandbox. */
#define LAMBDA_MAIL_TIMEOUT_MS 3000L

/* Growable byte buffer for what libcurl receives. */
struct lambda_buffer {
    char *data;
    size_t len, cap;
};

struct lambda_runtime {
    CURL *curl;
    char base_url[256]; /* http://host:port/2018-06-01/runtime */
    char error[CURL_ERROR_SIZE];
};

/* One invocation from the Runtime API: its headers and its event. */
struct lambda_invocation {
    char aws_request_id[128];
    char trace_id[512];
    struct lambda_buffer event;
};

/* ---- reading events ---- */

static const char *json_string_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const json_t *json_object_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

static char *lowercase_dup(struct pool *pool, const char *s)
{
    char *out = pool_strdup(pool, s);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

static void request_add_header(struct request *req, const char *name, const char *value)
{
    if (req->header_count == LAMBDA_MAX_HEADERS)
        return;
    req->headers[req->header_count].name = lowercase_dup(req->pool, name);
    req->headers[req->header_count].value = value;
    req->header_count++;
}

/*
 * Joins the strings of a JSON array with sep. Non-string members are skipped;
 * returns NULL when none is a string.
 */
static char *join_strings(struct pool *pool, const json_t *array, const char *sep)
{
    size_t total = 0, seplen = strlen(sep), i;
    const json_t *v;
    json_array_foreach(array, i, v)
    {
        if (json_is_string(v))
            total += json_string_length(v) + seplen;
    }
    if (total == 0)
        return NULL;

    char *out = pool_alloc(pool, total + 1), *p = out;
    bool first = true;
    json_array_foreach(array, i, v)
    {
        if (!json_is_string(v))
            continue;
        if (!first) {
            memcpy(p, sep, seplen);
            p += seplen;
        }
        first = false;
        memcpy(p, json_string_value(v), json_string_length(v));
        p += json_string_length(v);
    }
    *p = '\0';
    return out;
}

/*
 * Copies the event's headers into req. multiValueHeaders, when present, hold
 * every value and win over headers; repeated values are joined with ", ",
 * except cookies, which HTTP joins with "; ".
 */
static void read_headers(const json_t *event, struct request *req, bool *multi_value)
{
    const json_t *multi = json_object_at(event, "multiValueHeaders");
    const json_t *single = json_object_at(event, "headers");
    const char *name;
    const json_t *v;

    req->headers = pool_alloc(req->pool, LAMBDA_MAX_HEADERS * sizeof(*req->headers));
    *multi_value = multi != NULL;
    if (multi != NULL) {
        json_object_foreach((json_t *)multi, name, v)
        {
            if (!json_is_array(v))
                continue;
            char *joined = join_strings(req->pool, v, strcasecmp(name, "cookie") == 0 ? "; " : ", ");
            if (joined != NULL)
                request_add_header(req, name, joined);
        }
        return;
    }
    if (single != NULL) {
        json_object_foreach((json_t *)single, name, v)
        {
            if (json_is_string(v))
                request_add_header(req, name, pool_strdup(req->pool, json_string_value(v)));
        }
    }
}

static bool is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-encodes every byte of s that is not unreserved (RFC 3986), nor in `keep`. */
static char *percent_encode(struct pool *pool, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = pool_alloc(pool, strlen(s) * 3 + 1), *p = out;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (is_unreserved(*c) || (*c != '\0' && strchr(keep, *c) != NULL)) {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p = '\0';
    return out;
}

struct query_builder {
    struct pool *pool;
    char *text;
    bool encode; /* the parameters were decoded by API Gateway */
};

static void query_append(struct query_builder *q, const char *key, const char *value)
{
    const char *k = q->encode ? percent_encode(q->pool, key, "") : key;
    const char *v = q->encode ? percent_encode(q->pool, value, "") : value;
    q->text = pool_printf(q->pool, "%s%s%s=%s", q->text, q->text[0] ? "&" : "", k, v);
}

/*
 * Rebuilds the raw query string of a 1.0 or ALB event from
 * multiValueQueryStringParameters (every value of a repeated key) or
 * queryStringParameters (the last value only).
 */
static const char *read_query_parameters(const json_t *event, struct pool *pool, bool encode)
{
    struct query_builder q = {.pool = pool, .text = "", .encode = encode};
    const json_t *multi = json_object_at(event, "multiValueQueryStringParameters");
    const json_t *single = json_object_at(event, "queryStringParameters");
    const char *key;
    const json_t *v;

    if (multi != NULL) {
        json_object_foreach((json_t *)multi, key, v)
        {
            size_t i;
            const json_t *item;
            json_array_foreach(v, i, item)
            {
                if (json_is_string(item))
                    query_append(&q, key, json_string_value(item));
            }
        }
    } else if (single != NULL) {
        json_object_foreach((json_t *)single, key, v)
        {
            if (json_is_string(v))
                query_append(&q, key, json_string_value(v));
        }
    }
    return q.text;
}

/* The last address of X-Forwarded-For is the one the load balancer saw. */
static const char *forwarded_client(struct request *req)
{
    const char *xff = request_header(req, "x-forwarded-for");
    if (xff == NULL)
        return NULL;
    const char *last = strrchr(xff, ',');
    last = last != NULL ? last + 1 : xff;
    while (*last == ' ')
        last++;
    return *last != '\0' ? pool_strdup(req->pool, last) : NULL;
}

static enum kairos_error read_http_v2(const json_t *event, struct request *req, char *err, size_t err_len)
{
    const json_t *http = json_object_at(json_object_at(event, "requestContext"), "http");
    req->method = json_string_at(http, "method");
    req->path = json_string_at(event, "rawPath");
    req->query = json_string_at(event, "rawQueryString");
    req->client_addr = json_string_at(http, "sourceIp");
    if (req->method == NULL || req->path == NULL) {
        snprintf(err, err_len, "payload 2.0 event without requestContext.http.method or rawPath");
        return KAIROS_ERR_INVALID;
    }

    bool multi_value;
    read_headers(event, req, &multi_value);
    const json_t *cookies = json_object_get(event, "cookies");
    char *cookie = json_is_array(cookies) ? join_strings(req->pool, cookies, "; ") : NULL;
    if (cookie != NULL)
        request_add_header(req, "cookie", cookie);
    return KAIROS_OK;
}

static enum kairos_error read_rest_v1(const json_t *event, struct lambda_event *out, struct request *req, char *err,
                                      size_t err_len)
{
    bool alb = out->kind == LAMBDA_EVENT_ALB;
    req->method = json_string_at(event, "httpMethod");
    req->path = json_string_at(event, "path");
    if (req->method == NULL || req->path == NULL) {
        snprintf(err, err_len, "%s event without httpMethod or path", alb ? "ALB" : "payload 1.0");
        return KAIROS_ERR_INVALID;
    }

    /* API Gateway hands over a decoded path and decoded parameters; ALB does not decode. */
    if (!alb)
        req->path = percent_encode(req->pool, req->path, "/:@!$&'()*+,;=");
    req->query = read_query_parameters(event, req->pool, !alb);
    read_headers(event, req, &out->multi_value);

    const json_t *identity = json_object_at(json_object_at(event, "requestContext"), "identity");
    req->client_addr = alb ? forwarded_client(req) : json_string_at(identity, "sourceIp");
    return KAIROS_OK;
}

/*
 * Sets req->body from the event's body, base64-decoding it when
 * isBase64Encoded is true. KAIROS_ERR_LIMIT above HTTP_MAX_BODY.
 */
static enum kairos_error read_body(const json_t *event, struct request *req, char *err, size_t err_len)
{
    const json_t *body = json_object_get(event, "body");
    req->body = "";
    req->body_len = 0;
    if (!json_is_string(body))
        return KAIROS_OK;

    const char *text = json_string_value(body);
    size_t text_len = json_string_length(body);
    if (!json_is_true(json_object_get(event, "isBase64Encoded"))) {
        if (text_len > HTTP_MAX_BODY)
            return KAIROS_ERR_LIMIT;
        req->body = pool_strndup(req->pool, text, text_len);
        req->body_len = text_len;
        return KAIROS_OK;
    }

    /* Every 4 base64 characters hold 3 bytes, so this bounds the decoded size. */
    size_t max_len = text_len / 4 * 3 + 3;
    if (max_len > HTTP_MAX_BODY + 3)
        return KAIROS_ERR_LIMIT;
    unsigned char *bin = pool_alloc(req->pool, max_len + 1);
    size_t bin_len;
    if (sodium_base642bin(bin, max_len, text, text_len, " \r\n", &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(err, err_len, "the body is marked isBase64Encoded but is not valid base64");
        return KAIROS_ERR_INVALID;
    }
    if (bin_len > HTTP_MAX_BODY)
        return KAIROS_ERR_LIMIT;
    bin[bin_len] = '\0';
    req->body = (const char *)bin;
    req->body_len = bin_len;
    return KAIROS_OK;
}

static bool is_drain_event(const json_t *event)
{
    const char *job = json_string_at(event, "kairos");
    return job != NULL && strcmp(job, "drain-outbox") == 0;
}

enum kairos_error lambda_event_read(const json_t *event, struct lambda_event *out, struct request *req, char *err,
                                    size_t err_len)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(event)) {
        snprintf(err, err_len, "the event is not a JSON object");
        return KAIROS_ERR_INVALID;
    }
    if (is_drain_event(event)) {
        out->kind = LAMBDA_EVENT_DRAIN_OUTBOX;
        return KAIROS_OK;
    }

    const json_t *context = json_object_at(event, "requestContext");
    const char *version = json_string_at(event, "version");
    enum kairos_error e;
    if (version != NULL && strcmp(version, "2.0") == 0) {
        out->kind = LAMBDA_EVENT_HTTP_V2;
        e = read_http_v2(event, req, err, err_len);
    } else if (json_object_get(event, "httpMethod") != NULL || context != NULL) {
        out->kind = json_object_at(context, "elb") != NULL ? LAMBDA_EVENT_ALB : LAMBDA_EVENT_REST_V1;
        e = read_rest_v1(event, out, req, err, err_len);
    } else {
        snprintf(err, err_len, "the event is neither an HTTP event nor a Kairos job");
        return KAIROS_ERR_INVALID;
    }
    if (e != KAIROS_OK)
        return e;

    if (req->query == NULL)
        req->query = "";
    if (req->client_addr == NULL)
        req->client_addr = "0.0.0.0";
    req->method = pool_strdup(req->pool, req->method);
    req->path = pool_strdup(req->pool, req->path);
    req->query = pool_strdup(req->pool, req->query);
    req->client_addr = pool_strdup(req->pool, req->client_addr);
    return read_body(event, req, err, err_len);
}

/* ---- building responses ---- */

/* Adds one header value, as a string (joined by ", " when repeated) or to an array. */
static void header_put(json_t *headers, const char *name, const char *value, bool multi_value)
{
    json_t *existing = json_object_get(headers, name);
    if (multi_value) {
        if (existing == NULL) {
            existing = json_array();
            json_object_set_new(headers, name, existing);
        }
        json_array_append_new(existing, json_string(value));
        return;
    }
    if (existing == NULL) {
        json_object_set_new(headers, name, json_string(value));
        return;
    }
    size_t len = json_string_length(existing) + strlen(value) + 3;
    char *joined = malloc(len);
    if (joined == NULL)
        abort();
    snprintf(joined, len, "%s, %s", json_string_value(existing), value);
    json_object_set_new(headers, name, json_string(joined));
    free(joined);
}

/*
 * A body that is valid UTF-8 goes as a JSON string; anything else is
 * base64-encoded with isBase64Encoded set.
 */
static void body_put(json_t *doc, const struct response *res)
{
    const char *body = res->body != NULL ? res->body : "";
    size_t len = res->body != NULL ? res->body_len : 0;
    json_t *text = json_stringn(body, len);
    if (text != NULL) {
        json_object_set_new(doc, "body", text);
        json_object_set_new(doc, "isBase64Encoded", json_false());
        return;
    }

    size_t b64_len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_len);
    if (b64 == NULL)
        abort();
    sodium_bin2base64(b64, b64_len, (const unsigned char *)body, len, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(doc, "body", json_string(b64));
    json_object_set_new(doc, "isBase64Encoded", json_true());
    free(b64);
}

json_t *lambda_response_build(const struct lambda_event *event, const struct response *res)
{
    bool multi_value = event->kind != LAMBDA_EVENT_HTTP_V2 && event->multi_value;
    json_t *doc = json_object();
    json_t *headers = json_object();
    json_t *cookies = json_array();

    json_object_set_new(doc, "statusCode", json_integer(res->status));
    if (event->kind == LAMBDA_EVENT_ALB) {
        char description[64];
        snprintf(description, sizeof(description), "%d %s", res->status, http_status_reason(res->status));
        json_object_set_new(doc, "statusDescription", json_string(description));
    }

    if (res->content_type != NULL)
        header_put(headers, "content-type", res->content_type, multi_value);
    for (size_t i = 0; i < res->header_count; i++) {
        const struct http_header *h = &res->headers[i];
        /* Payload 2.0 returns each Set-Cookie in `cookies`: commas would break a joined one. */
        if (event->kind == LAMBDA_EVENT_HTTP_V2 && strcasecmp(h->name, "set-cookie") == 0)
            json_array_append_new(cookies, json_string(h->value));
        else
            header_put(headers, h->name, h->value, multi_value);
    }
    json_object_set_new(doc, multi_value ? "multiValueHeaders" : "headers", headers);
    if (json_array_size(cookies) > 0)
        json_object_set(doc, "cookies", cookies);
    json_decref(cookies);

    body_put(doc, res);
    return doc;
}

/* ---- the Runtime API client ---- */

static size_t buffer_write(char *data, size_t size, size_t count, void *userdata)
{
    struct lambda_buffer *buf = userdata;
    size_t n = size * count;
    if (buf->len + n + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 65536;
        while (cap < buf->len + n + 1)
            cap *= 2;
        char *grown = realloc(buf->data, cap);
        if (grown == NULL)
            return 0; /* libcurl reports CURLE_WRITE_ERROR */
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, data, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return n;
}

/* Copies the value of header `name` out of one "Name: value\r\n" line into out. */
static void header_copy(const char *line, size_t len, const char *name, char *out, size_t out_len)
{
    size_t name_len = strlen(name);
    if (len <= name_len || line[name_len] != ':' || strncasecmp(line, name, name_len) != 0)
        return;
    const char *v = line + name_len + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if ((size_t)(end - v) < out_len)
        snprintf(out, out_len, "%.*s", (int)(end - v), v);
}

static size_t invocation_header(char *line, size_t size, size_t count, void *userdata)
{
    struct lambda_invocation *inv = userdata;
    size_t n = size * count;
    header_copy(line, n, "Lambda-Runtime-Aws-Request-Id", inv->aws_request_id, sizeof(inv->aws_request_id));
    header_copy(line, n, "Lambda-Runtime-Trace-Id", inv->trace_id, sizeof(inv->trace_id));
    return n;
}

static void runtime_prepare(struct lambda_runtime *rt, const char *url)
{
    curl_easy_reset(rt->curl);
    curl_easy_setopt(rt->curl, CURLOPT_URL, url);
    curl_easy_setopt(rt->curl, CURLOPT_NOSIGNAL, 1L);
    /* The Runtime API is local to the sandbox: never send it through an HTTP proxy. */
    curl_easy_setopt(rt->curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(rt->curl, CURLOPT_ERRORBUFFER, rt->error);
    rt->error[0] = '\0';
}

/* Blocks until the next invocation arrives; no timeout, as the Runtime API requires. */
static bool runtime_next(struct lambda_runtime *rt, struct lambda_invocation *inv)
{
    char url[320];
    snprintf(url, sizeof(url), "%s/invocation/next", rt->base_url);
    inv->aws_request_id[0] = '\0';
    inv->trace_id[0] = '\0';
    inv->event.len = 0;

    runtime_prepare(rt, url);
    curl_easy_setopt(rt->curl, CURLOPT_WRITEFUNCTION, buffer_write);
    curl_easy_setopt(rt->curl, CURLOPT_WRITEDATA, &inv->event);
    curl_easy_setopt(rt->curl, CURLOPT_HEADERFUNCTION, invocation_header);
    curl_easy_setopt(rt->curl, CURLOPT_HEADERDATA, inv);
    CURLcode rc = curl_easy_perform(rt->curl);
    long status = 0;
    curl_easy_getinfo(rt->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        const char *reason = "status not 200";
        if (rc != CURLE_OK)
            reason = rt->error[0] ? rt->error : curl_easy_strerror(rc);
        log_error("lambda", "GET next invocation failed: %s", reason);
        return false;
    }
    if (inv->event.data == NULL)
        buffer_write("", 0, 0, &inv->event);
    return true;
}

static size_t discard_body(char *data, size_t size, size_t count, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * count;
}

/* POSTs body to base_url + path; error_type, when set, goes in Lambda-Runtime-Function-Error-Type. */
static bool runtime_post(struct lambda_runtime *rt, const char *path, const char *error_type, const char *body)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", rt->base_url, path);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* Without this libcurl waits for a 100 Continue before sending a large body. */
    headers = curl_slist_append(headers, "Expect:");
    char error_header[160];
    if (error_type != NULL) {
        snprintf(error_header, sizeof(error_header), "Lambda-Runtime-Function-Error-Type: %s", error_type);
        headers = curl_slist_append(headers, error_header);
    }

    runtime_prepare(rt, url);
    curl_easy_setopt(rt->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(rt->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(rt->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(rt->curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(rt->curl, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(rt->curl);
    long status = 0;
    curl_easy_getinfo(rt->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);

    if (rc != CURLE_OK) {
        log_error("lambda", "POST %s failed: %s", path, rt->error[0] ? rt->error : curl_easy_strerror(rc));
        return false;
    }
    if (status != 202) {
        /* 413 means the response exceeded Lambda's payload limit; 400 a malformed one. */
        log_error("lambda", "POST %s returned status %ld", path, status);
        return false;
    }
    return true;
}

/* Posts {"errorMessage", "errorType"} to path with the error type header. */
static bool runtime_post_error(struct lambda_runtime *rt, const char *path, const char *type, const char *message)
{
    json_t *doc = json_pack("{s:s, s:s}", "errorMessage", message, "errorType", type);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text == NULL)
        abort();
    bool ok = runtime_post(rt, path, type, text);
    free(text);
    return ok;
}

static bool runtime_open(struct lambda_runtime *rt, char *err, size_t err_len)
{
    const char *address = getenv("AWS_LAMBDA_RUNTIME_API");
    memset(rt, 0, sizeof(*rt));
    if (address == NULL || address[0] == '\0') {
        snprintf(err, err_len, "AWS_LAMBDA_RUNTIME_API is not set: `kairos lambda` runs only inside AWS Lambda");
        return false;
    }
    if (strlen(address) > 200 || strpbrk(address, "/ ?#") != NULL) {
        snprintf(err, err_len, "AWS_LAMBDA_RUNTIME_API must be host:port, got \"%.200s\"", address);
        return false;
    }
    snprintf(rt->base_url, sizeof(rt->base_url), "http://%s" LAMBDA_API_PREFIX, address);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (rt->curl = curl_easy_init()) == NULL) {
        snprintf(err, err_len, "libcurl failed to initialize");
        return false;
    }
    return true;
}

/* ---- the invocation loop ---- */

/* The Lambda request id, a UUID, without its dashes fits the 32 characters of req->request_id. */
static void request_id_from(const char *aws_request_id, char *out, size_t out_len)
{
    size_t n = 0;
    for (const char *p = aws_request_id; *p && n + 1 < out_len; p++)
        if (isalnum((unsigned char)*p))
            out[n++] = (char)tolower((unsigned char)*p);
    out[n] = '\0';
}

/* Posts a document as the invocation's response and frees the document. */
static void respond_json(struct lambda_runtime *rt, const char *aws_request_id, json_t *doc)
{
    char path[256];
    snprintf(path, sizeof(path), "/invocation/%s/response", aws_request_id);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text == NULL)
        abort();
    runtime_post(rt, path, NULL, text);
    free(text);
}

static void respond_error(struct lambda_runtime *rt, const char *aws_request_id, const char *type, const char *message)
{
    char path[256];
    snprintf(path, sizeof(path), "/invocation/%s/error", aws_request_id);
    runtime_post_error(rt, path, type, message);
}

static void drain_outbox(struct app *app, struct lambda_runtime *rt, const char *aws_request_id)
{
    size_t sent = 0, failed = 0;
    enum kairos_error e = mail_drain_once(app->config, app->storage, &sent, &failed);
    if (e != KAIROS_OK) {
        char message[128];
        snprintf(message, sizeof(message), "mail outbox drain failed: %s", kairos_error_name(e));
        log_error("lambda", "%s (invocation %s)", message, aws_request_id);
        respond_error(rt, aws_request_id, "Kairos.DrainFailed", message);
        return;
    }
    log_info("lambda", "mail outbox drained: %zu sent, %zu failed", sent, failed);
    respond_json(rt, aws_request_id, json_pack("{s:I, s:I}", "sent", (json_int_t)sent, "failed", (json_int_t)failed));
}

/*
 * Runs one HTTP invocation. Returns true after a successful POST, the kind of
 * request that queues mail (registration, password reset), so that the caller
 * sends the mail inline once the response is out.
 */
static bool handle_http(struct app *app, struct lambda_runtime *rt, const char *aws_request_id,
                        const struct lambda_event *event, struct request *req, enum kairos_error read)
{
    struct response res = {.status = 200};
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (read == KAIROS_ERR_LIMIT)
        response_detail(req, &res, 413, "Request body is larger than 1 MiB");
    else
        app_handle(app, req, &res);
    respond_json(rt, aws_request_id, lambda_response_build(event, &res));

    clock_gettime(CLOCK_MONOTONIC, &end);
    double ms = (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
    accesslog_write(req, res.status, res.body != NULL ? res.body_len : 0, ms);
    return strcmp(req->method, "POST") == 0 && res.status >= 200 && res.status < 300;
}

/*
 * Sends mail that this invocation queued, after its response is posted: the
 * sandbox runs until the next GET of an invocation, so the client does not
 * wait for the mail provider. It makes one pass with short timeouts, and what
 * it does not deliver stays in the outbox for the scheduled drain.
 */
static void send_queued_mail(struct app *app, const char *request_id)
{
    struct mail_drain_options options;
    struct mail_drain_stats stats = {0};
    mail_drain_options_init(&options);
    options.now_ms = storage_now_ms();
    options.connect_timeout_ms = LAMBDA_MAIL_TIMEOUT_MS;
    options.timeout_ms = LAMBDA_MAIL_TIMEOUT_MS;
    enum kairos_error e = mail_drain(app->config, app->storage, &options, &stats);
    if (e != KAIROS_OK)
        log_msg(LOG_WARN, "lambda", request_id, "inline mail send failed: %s; the scheduled drain retries",
                kairos_error_name(e));
}

static void handle_invocation(struct app *app, struct lambda_runtime *rt, struct lambda_invocation *inv)
{
    char err[256] = "";
    json_error_t json_err;
    json_t *doc = json_loadb(inv->event.data, inv->event.len, 0, &json_err);
    if (doc == NULL) {
        snprintf(err, sizeof(err), "the event is not valid JSON: %s", json_err.text);
        log_error("lambda", "invalid event (invocation %s): %s", inv->aws_request_id, err);
        respond_error(rt, inv->aws_request_id, "Kairos.InvalidEvent", err);
        return;
    }

    struct request req = {.pool = pool_create()};
    struct lambda_event event;
    request_id_from(inv->aws_request_id, req.request_id, sizeof(req.request_id));
    enum kairos_error e = lambda_event_read(doc, &event, &req, err, sizeof(err));
    bool send_mail = false;
    if (e == KAIROS_ERR_INVALID) {
        log_msg(LOG_ERROR, "lambda", req.request_id, "invalid event: %s", err);
        respond_error(rt, inv->aws_request_id, "Kairos.InvalidEvent", err);
    } else if (event.kind == LAMBDA_EVENT_DRAIN_OUTBOX) {
        drain_outbox(app, rt, inv->aws_request_id);
    } else {
        send_mail = handle_http(app, rt, inv->aws_request_id, &event, &req, e);
    }
    if (send_mail)
        send_queued_mail(app, req.request_id);
    pool_destroy(req.pool);
    json_decref(doc);
}

/* Checks what would make this function lose data or fail at every invocation. */
static bool check_config(const struct config *cfg, char *err, size_t err_len)
{
    if (cfg->environment != ENV_LOCAL && !storage_uri_is_mongodb(cfg->storage_uri)) {
        snprintf(err, err_len,
                 "KAIROS_STORAGE is a SpatiaLite file but ENVIRONMENT=%s: a Lambda sandbox loses its files, so set "
                 "KAIROS_STORAGE (or MONGO_HOST) to a MongoDB URI",
                 cfg->environment_name);
        return false;
    }
    return true;
}

static int init_failed(struct lambda_runtime *rt, const char *message)
{
    log_error("lambda", "init failed: %s", message);
    if (rt->curl != NULL)
        runtime_post_error(rt, "/init/error", "Kairos.InitError", message);
    return 1;
}

int lambda_report_init_error(const char *message)
{
    struct lambda_runtime rt;
    char err[256];
    log_set_json(true);
    log_set_process("lambda");
    if (!runtime_open(&rt, err, sizeof(err)))
        log_error("lambda", "%s", err);
    int code = init_failed(&rt, message);
    if (rt.curl != NULL)
        curl_easy_cleanup(rt.curl);
    return code;
}

int lambda_run(const struct config *cfg)
{
    struct lambda_runtime rt;
    struct app app = {.config = cfg};
    char err[512];

    log_set_json(true);
    log_set_process("lambda");
    if (!runtime_open(&rt, err, sizeof(err)))
        return init_failed(&rt, err);
    if (!check_config(cfg, err, sizeof(err)))
        return init_failed(&rt, err);
    if (!password_init())
        return init_failed(&rt, "libsodium failed to initialize");
    if (storage_open(cfg->storage_uri, &app.storage, err, sizeof(err)) != KAIROS_OK)
        return init_failed(&rt, err);
    log_info("lambda", "ready: storage %s, environment %s", app.storage->ops->name, cfg->environment_name);

    struct lambda_invocation inv = {0};
    while (runtime_next(&rt, &inv)) {
        if (inv.aws_request_id[0] == '\0') {
            log_error("lambda", "an invocation came without Lambda-Runtime-Aws-Request-Id; skipped");
            continue;
        }
        /* A custom runtime exposes the invocation's X-Ray trace header in this variable. */
        if (inv.trace_id[0] != '\0')
            setenv("_X_AMZN_TRACE_ID", inv.trace_id, 1);
        handle_invocation(&app, &rt, &inv);
    }

    free(inv.event.data);
    storage_close(app.storage);
    curl_easy_cleanup(rt.curl);
    return 1;
}
