/* Access log lines (see accesslog.h). */
#include "server/accesslog.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static void accesslog_write_json(const struct request *req, const char *target, int status, size_t body_bytes,
                                 double duration_ms)
{
    char when[LOG_TIME_SIZE];
    log_format_time(when);
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

/*
 * The text line's message, built by hand because printf-style formatting took
 * about a quarter of the instructions of a ping (measured with callgrind).
 * Each append stops at the end of the buffer, which cuts the message as
 * log_msg does.
 */
struct accesslog_text {
    char buf[LOG_MESSAGE_MAX + 1];
    size_t len;
};

static void accesslog_append(struct accesslog_text *text, const char *s, size_t len)
{
    size_t room = sizeof(text->buf) - 1 - text->len;
    if (len > room)
        len = room;
    memcpy(text->buf + text->len, s, len);
    text->len += len;
}

static void accesslog_append_str(struct accesslog_text *text, const char *s)
{
    accesslog_append(text, s, strlen(s));
}

static void accesslog_append_uint(struct accesslog_text *text, unsigned long long value)
{
    char digits[24];
    size_t n = sizeof(digits);
    do {
        digits[--n] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    accesslog_append(text, digits + n, sizeof(digits) - n);
}

/*
 * Appends ms as "%.1f" would: the exact value of the double rounded to one
 * decimal, ties to even. fma() computes 10 * ms - t with one rounding, which
 * keeps its sign exact, so the comparisons below decide as printf does.
 * Values outside [0, 1e14), where tenths stay exact integers, and NaN go through snprintf.
 */
static void accesslog_append_ms(struct accesslog_text *text, double ms)
{
    if (!(ms >= 0 && ms < 1e14)) {
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "%.1f", ms);
        if (n > 0)
            accesslog_append(text, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
        return;
    }

    double tenths = floor(ms * 10);
    while (tenths > 0 && fma(ms, 10, -tenths) < 0)
        tenths--;
    while (fma(ms, 10, -(tenths + 1)) >= 0)
        tenths++;
    double above_half = fma(ms, 10, -(tenths + 0.5));
    unsigned long long rounded = (unsigned long long)tenths;
    if (above_half > 0 || (above_half == 0 && rounded % 2 == 1))
        rounded++;

    accesslog_append_uint(text, rounded / 10);
    char fraction[2] = {'.', (char)('0' + rounded % 10)};
    accesslog_append(text, fraction, sizeof(fraction));
}

/* The text line: CLIENT METHOD "TARGET" STATUS BYTES DURATIONms[ user USER_ID]. */
static void accesslog_write_text(const struct request *req, const char *target, int status, size_t body_bytes,
                                 double duration_ms)
{
    struct accesslog_text text;
    text.len = 0;
    accesslog_append_str(&text, req->client_addr ? req->client_addr : "-");
    accesslog_append(&text, " ", 1);
    accesslog_append_str(&text, req->method);
    accesslog_append(&text, " \"", 2);
    accesslog_append_str(&text, target);
    accesslog_append(&text, "\" ", 2);
    /* Negated in unsigned arithmetic, so that even INT_MIN prints as %d would. */
    unsigned magnitude = status < 0 ? 0u - (unsigned)status : (unsigned)status;
    if (status < 0)
        accesslog_append(&text, "-", 1);
    accesslog_append_uint(&text, magnitude);
    accesslog_append(&text, " ", 1);
    accesslog_append_uint(&text, body_bytes);
    accesslog_append(&text, " ", 1);
    accesslog_append_ms(&text, duration_ms);
    accesslog_append(&text, "ms", 2);
    if (req->user_id[0] != '\0') {
        accesslog_append(&text, " user ", 6);
        accesslog_append_str(&text, req->user_id);
    }
    log_message(LOG_INFO, "access", req->request_id, text.buf, text.len);
}

void accesslog_write(const struct request *req, int status, size_t body_bytes, double duration_ms)
{
    const char *target = accesslog_redacted_target(req->pool, req->path, req->query);
    if (log_is_json())
        accesslog_write_json(req, target, status, body_bytes, duration_ms);
    else
        accesslog_write_text(req, target, status, body_bytes, duration_ms);
}
