/*
 * Route matching. A path and a pattern are compared segment by segment after
 * dropping one trailing slash from each, so "/api/v1/journeys/" and
 * "/api/v1/journeys" are the same route. Literal segments compare byte for
 * byte. A "{name}" segment matches one non-empty segment, whose value is
 * percent-decoded. A value with a bad escape or an encoded NUL is kept as
 * sent, so that the id validation rejects it. Empty segments ("//") and dot
 * segments ("..") are never special: they are literal segments that no
 * pattern contains.
 */
#include "server/router.h"

#include <stdbool.h>
#include <string.h>

/*
 * Length of the path without its trailing slash. The root "/" keeps it, and
 * a path ending in "//" keeps both, so that its empty segment matches nothing.
 */
static size_t router_trimmed_length(const char *path)
{
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/' && path[len - 2] != '/')
        len--;
    return len;
}

static int router_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes seg[0..len) into the pool; NULL on a bad escape or an encoded NUL. */
static char *router_decode(struct pool *pool, const char *seg, size_t len)
{
    char *out = pool_alloc(pool, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (seg[i] != '%') {
            out[n++] = seg[i];
            continue;
        }
        if (i + 2 >= len)
            return NULL;
        int hi = router_hex_value(seg[i + 1]), lo = router_hex_value(seg[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return NULL;
        out[n++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[n] = '\0';
    return out;
}

/* The path segment starting at *pos (just after a '/'), and moves *pos past it. */
static bool router_next_segment(const char *s, size_t len, size_t *pos, const char **seg, size_t *seg_len)
{
    if (*pos > len)
        return false;
    const char *start = s + *pos;
    const char *slash = memchr(start, '/', len - *pos);
    *seg = start;
    *seg_len = slash != NULL ? (size_t)(slash - start) : len - *pos;
    *pos += *seg_len + 1;
    return true;
}

/*
 * Matches path[0..path_len) against pattern. With req not NULL fills its
 * path parameters; a parameter whose escape is malformed is kept as sent.
 */
static bool router_path_matches(const char *pattern, const char *path, size_t path_len, struct request *req)
{
    size_t pattern_len = router_trimmed_length(pattern);
    if (pattern_len == 1 || path_len == 1)
        return pattern_len == path_len && pattern[0] == path[0];
    if (pattern[0] != '/' || path[0] != '/')
        return false;

    size_t ppos = 1, spos = 1, params = 0;
    const char *pseg, *sseg;
    size_t pseg_len, sseg_len;
    while (router_next_segment(pattern, pattern_len, &ppos, &pseg, &pseg_len)) {
        if (!router_next_segment(path, path_len, &spos, &sseg, &sseg_len))
            return false;

        bool is_param = pseg_len >= 2 && pseg[0] == '{' && pseg[pseg_len - 1] == '}';
        if (!is_param) {
            if (pseg_len != sseg_len || memcmp(pseg, sseg, pseg_len) != 0)
                return false;
            continue;
        }

        if (sseg_len == 0 || params == HTTP_MAX_PATH_PARAMS)
            return false;
        if (req != NULL) {
            /* A segment that does not decode is kept as sent, so the id check rejects it with a 422. */
            const char *value = router_decode(req->pool, sseg, sseg_len);
            if (value == NULL)
                value = pool_strndup(req->pool, sseg, sseg_len);
            req->param_names[params] = pool_strndup(req->pool, pseg + 1, pseg_len - 2);
            req->param_values[params] = value;
        }
        params++;
    }

    if (spos <= path_len)
        return false; /* the path has more segments than the pattern */
    if (req != NULL)
        req->param_count = params;
    return true;
}

static bool router_method_is(const struct route *route, const char *method)
{
    return strcmp(route->method, method) == 0;
}

/* Appends method to the comma-separated allow list unless it is there already. */
static void router_allow_add(char *allow, size_t allow_len, const char *method)
{
    size_t mlen = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += mlen) {
        bool starts = p == allow || p[-1] == ' ';
        bool ends = p[mlen] == '\0' || p[mlen] == ',';
        if (starts && ends)
            return;
    }

    size_t used = strlen(allow);
    const char *sep = used > 0 ? ", " : "";
    if (used + strlen(sep) + mlen + 1 > allow_len)
        return;
    strcat(allow, sep);
    strcat(allow, method);
}

enum router_result router_match(const struct route *routes, size_t count, struct request *req,
                                const struct route **route, char *allow, size_t allow_len)
{
    size_t path_len = router_trimmed_length(req->path);
    const struct route *found = NULL, *get_route = NULL;
    bool path_known = false;

    *route = NULL;
    req->param_count = 0;
    if (allow_len > 0)
        allow[0] = '\0';

    for (size_t i = 0; i < count; i++) {
        if (!router_path_matches(routes[i].pattern, req->path, path_len, NULL))
            continue;
        path_known = true;
        router_allow_add(allow, allow_len, routes[i].method);
        if (router_method_is(&routes[i], "GET")) {
            router_allow_add(allow, allow_len, "HEAD");
            if (get_route == NULL)
                get_route = &routes[i];
        }
        if (found == NULL && router_method_is(&routes[i], req->method))
            found = &routes[i];
    }

    /* HEAD is served by the GET handler; the front end drops the body. */
    if (found == NULL && strcmp(req->method, "HEAD") == 0)
        found = get_route;
    if (!path_known)
        return ROUTER_NOT_FOUND;
    if (found == NULL)
        return ROUTER_METHOD_NOT_ALLOWED;

    /* Matched again, this time decoding the parameters into the request. */
    if (!router_path_matches(found->pattern, req->path, path_len, req))
        return ROUTER_NOT_FOUND;
    *route = found;
    return ROUTER_MATCH;
}
