/*
 * The one error type of Kairos. Every function that can fail returns an
 * enum kairos_error. The HTTP layer maps it to a status in one place
 * (server/response.c), so storage and auth never handle a status code.
 */
#ifndef KAIROS_ERROR_H
#define KAIROS_ERROR_H

enum kairos_error {
    KAIROS_OK = 0,
    KAIROS_ERR_INVALID,   /* the input is malformed or out of range */
    KAIROS_ERR_NOT_FOUND, /* no such user, journey, marker or token family */
    KAIROS_ERR_DUPLICATE, /* a unique key exists already (email) */
    KAIROS_ERR_CONFLICT, /* the current state forbids the change (activate a completed journey, reused refresh token) */
    KAIROS_ERR_LIMIT,    /* a size limit is reached (markers per journey) */
    KAIROS_ERR_UNAVAILABLE, /* the storage or a remote service does not respond */
    KAIROS_ERR_INTERNAL,    /* a fault of ours; logged where it happens */
};

/* Returns a short lowercase name for logs, e.g. "not found". */
const char *kairos_error_name(enum kairos_error err);

#endif
