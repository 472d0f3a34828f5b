/*
 * JSON Web Tokens, HS256 only, through libjwt 1.10. libjwt does not check
 * `exp`, so jwt_token_verify checks the algorithm, `exp` and `scope` itself.
 */
#ifndef KAIROS_JWT_H
#define KAIROS_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/error.h"
#include "storage/pool.h"

enum jwt_scope { JWT_SCOPE_ACCESS, JWT_SCOPE_REFRESH, JWT_SCOPE_EMAIL_VERIFICATION, JWT_SCOPE_PASSWORD_RESET };

/* "access", "refresh", "email_verification", "password_reset" */
const char *jwt_scope_name(enum jwt_scope scope);

struct jwt_claims {
    enum jwt_scope scope;
    char *sub;    /* user id; the email for email_verification and password_reset */
    char *jti;    /* 24 hex */
    int64_t iat;  /* seconds */
    int64_t exp;  /* seconds */
    char *family; /* refresh tokens: the refresh-token family id ("fam"); else NULL */
    char *pwd;    /* password_reset: digest of the password hash it was issued for ("pwd"); else NULL */
};

enum jwt_verify_result {
    JWT_VALID,
    JWT_EXPIRED, /* signature good, exp in the past */
    JWT_INVALID, /* anything else: bad signature, alg, scope, malformed, missing claim */
};

/*
 * Signs claims (scope, sub, jti, iat, exp, family, pwd when set) with key.
 * A NULL or empty jti is replaced by a fresh id. Returns the token in pool,
 * or NULL on an internal failure or a missing key, sub or scope.
 */
char *jwt_token_issue(struct pool *pool, const unsigned char *key, size_t key_len, const struct jwt_claims *claims);

/* Verifies token for the expected scope at time now (seconds); fills out on JWT_VALID or JWT_EXPIRED. */
enum jwt_verify_result jwt_token_verify(struct pool *pool, const unsigned char *key, size_t key_len, const char *token,
                                        enum jwt_scope expected, int64_t now, struct jwt_claims *out);

/*
 * Short keyed digest (base64url) of a password hash, put in a password-reset
 * token so the token stops working once the password has changed.
 */
char *jwt_password_digest(struct pool *pool, const unsigned char *key, size_t key_len, const char *password_hash);

#endif
