/* Access log lines (see accesslog.h). */
#include "server/accesslog.h"

#include <jansson.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "storage/log.h"

/* Query parameters whose values never reach the log: secrets, and email addresses. */
static const char *const accesslog_secret_names[] = {"token",         "password", "new_password",
                                                     "refresh_token", "email",    "access_token"};

static int accesslog_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/*
 * True when the query name s[0..len) decodes to a secret name; decoding
 * first means "pass%77ord" is caught as well. Names compare ignoring case.
 */
static bool accesslog_is_secret(const char *s, size_t len)
{
    char name[32];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n == sizeof(name) - 1)
            return false;
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = accesslog_hex_value(s[i + 1])) >= 0 &&
            (lo = accesslog_hex_value(s[i + 2])) >= 0) {
            name[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            name[n++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    name[n] = '\0';

    for (size_t i = 0; i < sizeof(accesslog_secret_names) / sizeof(accesslog_secret_names[0]); i++)
        if (strcasecmp(name, accesslog_secret_names[i]) == 0)
            return true;
    return false;
}

char *accesslog_redacted_target(struct pool *pool, const char *path, const char *query)
{
    if (query == NULL || query[0] == '\0')
        return pool_strdup(pool, path);

    size_t path_len = strlen(path), query_len = strlen(query);
    /* "REDACTED" is 8 bytes, so each value grows by at most 8 bytes. */
    char *out = pool_alloc(pool, path_len + 1 + query_len + 8 * (query_len / 2 + 1) + 1);
    char *w = out;
    memcpy(w, path, path_len);
    w += path_len;
    *w++ = '?';

    for (const char *pair = query; *pair != '\0';) {
        size_t pair_len = strcspn(pair, "&");
        const char *eq = memchr(pair, '=', pair_len);
        if (eq != NULL && accesslog_is_secret(pair, (size_t)(eq - pair))) {
            size_t name_len = (size_t)(eq - pair) + 1;
            memcpy(w, pair, name_len);
            w += name_len;
            memcpy(w, "REDACTED", 8);
            w += 8;
        } else {
            memcpy(w, pair, pair_len);
            w += pair_len;
        }
        pair += pair_len;
        if (*pair == '&')
            *w++ = *pair++;
    }
    *w = '\0';
    return out;
}

/* UTC time with milliseconds, as the other log lines have it. */
static void accesslog_format_time(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

static void accesslog_write_json(const struct request *req, const char *target, int status, size_t body_bytes,
                                 double duration_ms)
{
    char when[40];
    accesslog_format_time(when, sizeof(when));
    json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:f}", "time", when, "level", "info",
                             "module", "access", "request_id", req->request_id, "client",
                             req->client_addr ? req->client_addr : "-", "method", req->method, "path", target, "status",
                             status, "bytes", (json_int_t)body_bytes, "duration_ms", duration_ms);
    if (line == NULL)
        return;
    if (req->user_id[0] != '\0')
        json_object_set_new(line, "user_id", json_string(req->user_id));

    /* Strings that are not UTF-8 (a raw path may hold any byte) make jansson fail; log them replaced. */
    char *text = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(line);
    if (text == NULL) {
        log_msg(LOG_INFO, "access", req->request_id, "%s (path not UTF-8) %d %zu %.1fms", req->method, status,
                body_bytes, duration_ms);
        return;
    }
    log_write_line(text, strlen(text));
    free(text);
}

void accesslog_write(const struct request *req, int status, size_t body_bytes, double duration_ms)
{
    const char *target = accesslog_redacted_target(req->pool, req->path, req->query);
    if (log_is_json()) {
        accesslog_write_json(req, target, status, body_bytes, duration_ms);
        return;
    }
    log_msg(LOG_INFO, "access", req->request_id, "%s %s \"%s\" %d %zu %.1fms%s%s",
            req->client_addr ? req->client_addr : "-", req->method, target, status, body_bytes, duration_ms,
            req->user_id[0] != '\0' ? " user " : "", req->user_id);
}
