/*
 * Password hashing: Argon2id (libsodium crypto_pwhash_str) for new hashes;
 * bcrypt ($2a$, $2b$, $2y$) from the old Python backend verified through
 * libxcrypt's crypt_rn and compared in constant time.
 */
#ifndef KAIROS_PASSWORD_H
#define KAIROS_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "storage/error.h"
#include "storage/pool.h"

#define PASSWORD_MIN_BYTES 8
#define PASSWORD_MAX_BYTES 1024

/* Must be called once per process before any other password_ function (sodium_init). */
bool password_init(void);

/* NULL when the password is acceptable, else a sentence for a 422 (length, UTF-8). */
const char *password_check_policy(const char *password, size_t len);

/* Hashes with Argon2id into pool; NULL on an internal failure. */
char *password_hash(struct pool *pool, const char *password, size_t len);

/* True when password matches hash (Argon2id or bcrypt). An unknown format never matches. */
bool password_verify(const char *hash, const char *password, size_t len);

/* True when hash is not Argon2id with the current parameters and should be replaced after a login. */
bool password_needs_rehash(const char *hash);

/*
 * Spends the time of one verification against a fixed dummy hash, so that a
 * login with an unknown email costs the same as one with a wrong password.
 */
void password_verify_dummy(const char *password, size_t len);

#endif
