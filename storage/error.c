#include "storage/error.h"

const char *kairos_error_name(enum kairos_error err)
{
    switch (err) {
    case KAIROS_OK:
        return "ok";
    case KAIROS_ERR_INVALID:
        return "invalid";
    case KAIROS_ERR_NOT_FOUND:
        return "not found";
    case KAIROS_ERR_DUPLICATE:
        return "duplicate";
    case KAIROS_ERR_CONFLICT:
        return "conflict";
    case KAIROS_ERR_LIMIT:
        return "limit reached";
    case KAIROS_ERR_UNAVAILABLE:
        return "unavailable";
    case KAIROS_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}
