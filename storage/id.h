/*
 * Identifiers in MongoDB ObjectId format: 24 lowercase hex digits encoding a
 * 4-byte big-endian Unix time, 5 random bytes and a 3-byte counter. Both
 * backends use them, so ids look the same whatever the storage.
 */
#ifndef KAIROS_ID_H
#define KAIROS_ID_H

#include <stdbool.h>
#include <stddef.h>

#define ID_HEX_LEN 24

/* Writes a fresh id and a NUL into out[ID_HEX_LEN + 1]. Safe after fork(). */
void id_generate(char out[ID_HEX_LEN + 1]);

/* True when s is exactly 24 hex digits (either case is accepted on input). */
bool id_is_valid(const char *s);
/* Copies s lowercased into out; returns false when s is not a valid id. */
bool id_normalize(const char *s, char out[ID_HEX_LEN + 1]);

#endif
