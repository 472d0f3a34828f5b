/*
 * Form and query-string parsing: application/x-www-form-urlencoded (also the
 * query string) and multipart/form-data. Values are percent-decoded (and '+'
 * is a space in urlencoded data) and allocated in the pool.
 */
#ifndef KAIROS_FORM_H
#define KAIROS_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "storage/error.h"
#include "storage/pool.h"

struct form_field {
    const char *name;
    const char *value; /* NUL-terminated; value_len excludes the NUL */
    size_t value_len;
};

struct form {
    struct form_field *fields;
    size_t count;
};

/* Parses "a=1&b=2". INVALID on a bad percent escape. */
enum kairos_error form_parse_urlencoded(struct pool *pool, const char *data, size_t len, struct form *out);

/*
 * Parses a multipart/form-data body; content_type is the whole header value
 * (the boundary is read from it). File parts are kept like any other field.
 * INVALID when the boundary is missing or the body is malformed.
 */
enum kairos_error form_parse_multipart(struct pool *pool, const char *content_type, const char *data, size_t len,
                                       struct form *out);

/* First field called name, or NULL. */
const struct form_field *form_find(const struct form *form, const char *name);
/* First value of name, or NULL. The value may hold a NUL byte before value_len: use form_find to see it. */
const char *form_get(const struct form *form, const char *name);
/* Number of fields called name (repeated keys). */
size_t form_count(const struct form *form, const char *name);

#endif
