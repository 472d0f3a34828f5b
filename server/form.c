/*
 * Form parsing for the three ways a client sends fields: the query string and
 * application/x-www-form-urlencoded bodies ("a=1&b=x+y%21"), and
 * multipart/form-data bodies as browsers build them from a FormData object.
 * Fields are collected in a growing array in the pool, in input order.
 */
#define _GNU_SOURCE /* memmem */
#include "server/form.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Appends one field, growing the array by doubling. */
static void form_add(struct pool *pool, struct form *form, size_t *capacity, const char *name, const char *value,
                     size_t value_len)
{
    if (form->count == *capacity) {
        size_t grown = *capacity == 0 ? 8 : *capacity * 2;
        struct form_field *fields = pool_alloc(pool, grown * sizeof(*fields));
        if (form->count > 0)
            memcpy(fields, form->fields, form->count * sizeof(*fields));
        form->fields = fields;
        *capacity = grown;
    }
    form->fields[form->count].name = name;
    form->fields[form->count].value = value;
    form->fields[form->count].value_len = value_len;
    form->count++;
}

static int form_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes '+' and %XX from s[0..len) into the pool; NULL on a bad escape. */
static char *form_decode(struct pool *pool, const char *s, size_t len, size_t *out_len)
{
    char *out = pool_alloc(pool, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[n++] = ' ';
        } else if (s[i] != '%') {
            out[n++] = s[i];
        } else {
            if (i + 2 >= len)
                return NULL;
            int hi = form_hex_value(s[i + 1]), lo = form_hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

enum kairos_error form_parse_urlencoded(struct pool *pool, const char *data, size_t len, struct form *out)
{
    size_t capacity = 0;
    out->fields = NULL;
    out->count = 0;

    const char *end = data + len;
    for (const char *pair = data; pair < end;) {
        const char *amp = memchr(pair, '&', (size_t)(end - pair));
        const char *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(pair, '=', (size_t)(pair_end - pair));
        const char *name_end = eq != NULL ? eq : pair_end;

        if (pair_end > pair) {
            size_t name_len, value_len = 0;
            char *name = form_decode(pool, pair, (size_t)(name_end - pair), &name_len);
            char *value =
                eq != NULL ? form_decode(pool, eq + 1, (size_t)(pair_end - eq - 1), &value_len) : pool_strdup(pool, "");
            if (name == NULL || value == NULL)
                return KAIROS_ERR_INVALID;
            form_add(pool, out, &capacity, name, value, value_len);
        }
        pair = pair_end + 1;
    }
    return KAIROS_OK;
}

/*
 * Finds the value of parameter `param` in a header value such as
 * `form-data; name="a"` or `multipart/form-data; boundary=xyz`. Quoted values
 * may contain ';' and backslash escapes. Returns NULL when absent.
 */
static char *form_header_param(struct pool *pool, const char *header, size_t header_len, const char *param)
{
    size_t param_len = strlen(param);
    const char *end = header + header_len;
    const char *p = memchr(header, ';', header_len);

    while (p != NULL && p < end) {
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *key = p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        size_t key_len = (size_t)(p - key);
        while (key_len > 0 && (key[key_len - 1] == ' ' || key[key_len - 1] == '\t'))
            key_len--;
        if (p == end || *p == ';')
            continue;
        p++; /* '=' */

        char *value = pool_alloc(pool, (size_t)(end - p) + 1);
        size_t n = 0;
        if (p < end && *p == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                value[n++] = *p;
            }
            if (p == end)
                return NULL; /* unterminated quote */
            p++;
        } else {
            while (p < end && *p != ';' && *p != ' ' && *p != '\t')
                value[n++] = *p++;
        }
        value[n] = '\0';
        if (key_len == param_len && strncasecmp(key, param, param_len) == 0)
            return value;
        p = memchr(p, ';', (size_t)(end - p));
    }
    return NULL;
}

/*
 * Parses the headers of one part (from `p` up to the blank line) and returns
 * the field name from Content-Disposition, or NULL when the part has none.
 * Sets *body to the first byte after the blank line.
 */
static char *form_part_name(struct pool *pool, const char *p, const char *end, const char **body)
{
    char *name = NULL;
    for (;;) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (eol == NULL)
            return NULL;
        if (eol == p) {
            *body = eol + 2;
            return name;
        }

        const char *colon = memchr(p, ':', (size_t)(eol - p));
        static const char disposition[] = "content-disposition";
        size_t key_len = colon != NULL ? (size_t)(colon - p) : 0;
        if (colon != NULL && key_len == sizeof(disposition) - 1 && strncasecmp(p, disposition, key_len) == 0) {
            const char *value = colon + 1;
            while (value < eol && (*value == ' ' || *value == '\t'))
                value++;
            if ((size_t)(eol - value) < 9 || strncasecmp(value, "form-data", 9) != 0)
                return NULL;
            name = form_header_param(pool, value, (size_t)(eol - value), "name");
        }
        p = eol + 2;
    }
}

enum kairos_error form_parse_multipart(struct pool *pool, const char *content_type, const char *data, size_t len,
                                       struct form *out)
{
    size_t capacity = 0;
    out->fields = NULL;
    out->count = 0;

    if (content_type == NULL || strncasecmp(content_type, "multipart/form-data", 19) != 0)
        return KAIROS_ERR_INVALID;
    const char *boundary = form_header_param(pool, content_type, strlen(content_type), "boundary");
    if (boundary == NULL || boundary[0] == '\0' || strlen(boundary) > 200)
        return KAIROS_ERR_INVALID;

    /* The delimiter is CRLF "--" boundary; the first one may start the body without the CRLF. */
    char *delimiter = pool_printf(pool, "\r\n--%s", boundary);
    size_t delimiter_len = strlen(delimiter);
    const char *end = data + len;
    const char *p;
    if (len >= delimiter_len - 2 && memcmp(data, delimiter + 2, delimiter_len - 2) == 0) {
        p = data + delimiter_len - 2;
    } else {
        const char *first = memmem(data, len, delimiter, delimiter_len);
        if (first == NULL)
            return KAIROS_ERR_INVALID;
        p = first + delimiter_len;
    }

    for (;;) {
        /* After a delimiter: "--" closes the body, CRLF starts a part. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return KAIROS_OK;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return KAIROS_ERR_INVALID;
        p += 2;

        const char *body;
        char *name = form_part_name(pool, p, end, &body);
        if (name == NULL)
            return KAIROS_ERR_INVALID;
        const char *next = memmem(body, (size_t)(end - body), delimiter, delimiter_len);
        if (next == NULL)
            return KAIROS_ERR_INVALID; /* truncated: the part never ends */

        size_t value_len = (size_t)(next - body);
        form_add(pool, out, &capacity, name, pool_strndup(pool, body, value_len), value_len);
        p = next + delimiter_len;
    }
}

const struct form_field *form_find(const struct form *form, const char *name)
{
    for (size_t i = 0; i < form->count; i++)
        if (strcmp(form->fields[i].name, name) == 0)
            return &form->fields[i];
    return NULL;
}

const char *form_get(const struct form *form, const char *name)
{
    const struct form_field *field = form_find(form, name);
    return field != NULL ? field->value : NULL;
}

size_t form_count(const struct form *form, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < form->count; i++)
        if (strcmp(form->fields[i].name, name) == 0)
            n++;
    return n;
}
