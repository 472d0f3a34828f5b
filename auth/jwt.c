/*
 * JSON Web Tokens for access, refresh and mail links. Tokens are HS256 only
 * and are signed and parsed by libjwt 1.10, which checks the signature but not
 * `exp`, so this module checks the algorithm, the claim types, `scope` and
 * `exp` itself after jwt_decode.
 */
#include "auth/jwt.h"

#include <errno.h>
#include <jwt.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "storage/id.h"
#include "storage/log.h"

/*
 * Longer tokens are rejected before parsing, because libjwt 1.10 copies each
 * part onto the stack with alloca. Tokens issued here are a few hundred bytes.
 */
#define JWT_TOKEN_MAX_LEN 8192
/* Bytes of the keyed digest in the `pwd` claim of a password-reset token. */
#define JWT_PASSWORD_DIGEST_BYTES 16
/* BLAKE2b personalization (16 bytes) that separates the digest subkey from the signing key. */
#define JWT_DIGEST_PERSONAL "kairos-pwd-dgst"

const char *jwt_scope_name(enum jwt_scope scope)
{
    switch (scope) {
    case JWT_SCOPE_ACCESS:
        return "access";
    case JWT_SCOPE_REFRESH:
        return "refresh";
    case JWT_SCOPE_EMAIL_VERIFICATION:
        return "email_verification";
    case JWT_SCOPE_PASSWORD_RESET:
        return "password_reset";
    }
    return NULL;
}

static bool jwt_key_is_usable(const unsigned char *key, size_t key_len)
{
    return key != NULL && key_len > 0 && key_len <= INT_MAX;
}

static int jwt_add_claims(jwt_t *jwt, const struct jwt_claims *claims, const char *jti)
{
    int rc = jwt_add_grant(jwt, "sub", claims->sub);
    if (rc == 0)
        rc = jwt_add_grant_int(jwt, "exp", (long)claims->exp);
    if (rc == 0)
        rc = jwt_add_grant_int(jwt, "iat", (long)claims->iat);
    if (rc == 0)
        rc = jwt_add_grant(jwt, "scope", jwt_scope_name(claims->scope));
    if (rc == 0)
        rc = jwt_add_grant(jwt, "jti", jti);
    if (rc == 0 && claims->family != NULL)
        rc = jwt_add_grant(jwt, "fam", claims->family);
    if (rc == 0 && claims->pwd != NULL)
        rc = jwt_add_grant(jwt, "pwd", claims->pwd);
    return rc;
}

char *jwt_token_issue(struct pool *pool, const unsigned char *key, size_t key_len, const struct jwt_claims *claims)
{
    if (!jwt_key_is_usable(key, key_len) || claims == NULL || claims->sub == NULL || claims->sub[0] == '\0' ||
        jwt_scope_name(claims->scope) == NULL) {
        log_error("jwt", "issue token failed: missing key, subject or scope");
        return NULL;
    }

    char generated_jti[ID_HEX_LEN + 1];
    const char *jti = claims->jti;
    if (jti == NULL || jti[0] == '\0') {
        id_generate(generated_jti);
        jti = generated_jti;
    }

    jwt_t *jwt = NULL;
    int rc = jwt_new(&jwt);
    if (rc == 0)
        rc = jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)key_len);
    if (rc == 0)
        rc = jwt_add_claims(jwt, claims, jti);
    char *encoded = rc == 0 ? jwt_encode_str(jwt) : NULL;
    jwt_free(jwt);
    if (encoded == NULL) {
        log_error("jwt", "issue %s token failed: %s", jwt_scope_name(claims->scope),
                  rc != 0 ? strerror(rc) : "encoding failed");
        return NULL;
    }

    char *token = pool_strdup(pool, encoded);
    free(encoded);
    return token;
}

/* Copies a string claim into pool; false when the claim is present but not a string. */
static bool jwt_read_string(struct pool *pool, jwt_t *jwt, const char *name, char **out)
{
    *out = NULL;
    errno = 0;
    const char *value = jwt_get_grant(jwt, name);
    if (value != NULL) {
        *out = pool_strdup(pool, value);
        return true;
    }
    /* jwt_get_grant sets ENOENT for a missing claim and returns NULL with errno 0 for a non-string one. */
    return errno == ENOENT;
}

/* Parses a JSON integer of at most 18 digits, so it fits int64_t without overflow checks. */
static bool jwt_parse_integer(const char *text, int64_t *out)
{
    const char *digits = text[0] == '-' ? text + 1 : text;
    size_t len = strlen(digits);
    if (len == 0 || len > 18 || strspn(digits, "0123456789") != len)
        return false;
    *out = strtoll(text, NULL, 10);
    return true;
}

/*
 * Reads an integer claim; *out is 0 when it is missing and not required.
 * libjwt's jwt_get_grant_int turns a string or a real into 0, so the claim is
 * read as JSON text and must be a plain integer.
 */
static bool jwt_read_integer(jwt_t *jwt, const char *name, bool required, int64_t *out)
{
    *out = 0;
    char *text = jwt_get_grants_json(jwt, name);
    if (text == NULL)
        return !required;
    bool valid = jwt_parse_integer(text, out);
    free(text);
    return valid;
}

static bool jwt_read_scope(struct pool *pool, jwt_t *jwt, enum jwt_scope *out)
{
    char *scope = NULL;
    if (!jwt_read_string(pool, jwt, "scope", &scope) || scope == NULL)
        return false;
    for (int s = JWT_SCOPE_ACCESS; s <= JWT_SCOPE_PASSWORD_RESET; s++) {
        if (strcmp(scope, jwt_scope_name((enum jwt_scope)s)) == 0) {
            *out = (enum jwt_scope)s;
            return true;
        }
    }
    return false;
}

/* Fills claims; false when a required claim is missing or a claim has the wrong type. */
static bool jwt_read_claims(struct pool *pool, jwt_t *jwt, struct jwt_claims *claims)
{
    if (!jwt_read_string(pool, jwt, "sub", &claims->sub) || claims->sub == NULL || claims->sub[0] == '\0')
        return false;
    if (!jwt_read_string(pool, jwt, "jti", &claims->jti) || claims->jti == NULL || claims->jti[0] == '\0')
        return false;
    if (!jwt_read_scope(pool, jwt, &claims->scope))
        return false;
    if (!jwt_read_string(pool, jwt, "fam", &claims->family) || !jwt_read_string(pool, jwt, "pwd", &claims->pwd))
        return false;
    return jwt_read_integer(jwt, "exp", true, &claims->exp) && jwt_read_integer(jwt, "iat", false, &claims->iat);
}

enum jwt_verify_result jwt_token_verify(struct pool *pool, const unsigned char *key, size_t key_len, const char *token,
                                        enum jwt_scope expected, int64_t now, struct jwt_claims *out)
{
    if (!jwt_key_is_usable(key, key_len) || token == NULL || out == NULL)
        return JWT_INVALID;
    size_t token_len = strnlen(token, JWT_TOKEN_MAX_LEN + 1);
    if (token_len == 0 || token_len > JWT_TOKEN_MAX_LEN)
        return JWT_INVALID;

    /* With a key given, jwt_decode rejects `alg: none` and any token whose signature does not match. */
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, key, (int)key_len) != 0 || jwt == NULL)
        return JWT_INVALID;

    struct jwt_claims claims = {0};
    bool valid = jwt_get_alg(jwt) == JWT_ALG_HS256 && jwt_read_claims(pool, jwt, &claims);
    jwt_free(jwt);
    if (!valid || claims.scope != expected)
        return JWT_INVALID;

    *out = claims;
    return now >= claims.exp ? JWT_EXPIRED : JWT_VALID;
}

char *jwt_password_digest(struct pool *pool, const unsigned char *key, size_t key_len, const char *password_hash)
{
    if (key == NULL || key_len == 0 || password_hash == NULL)
        return NULL;

    /* The subkey is an unkeyed, personalized BLAKE2b of the secret, so a secret of any length works. */
    unsigned char subkey[crypto_generichash_blake2b_KEYBYTES];
    unsigned char personal[crypto_generichash_blake2b_PERSONALBYTES] = JWT_DIGEST_PERSONAL;
    unsigned char digest[JWT_PASSWORD_DIGEST_BYTES];
    bool done =
        crypto_generichash_blake2b_salt_personal(subkey, sizeof(subkey), key, key_len, NULL, 0, NULL, personal) == 0 &&
        crypto_generichash(digest, sizeof(digest), (const unsigned char *)password_hash, strlen(password_hash), subkey,
                           sizeof(subkey)) == 0;
    sodium_memzero(subkey, sizeof(subkey));
    if (!done) {
        log_error("jwt", "password digest failed");
        return NULL;
    }

    size_t encoded_len = sodium_base64_ENCODED_LEN(sizeof(digest), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *encoded = pool_alloc(pool, encoded_len);
    sodium_bin2base64(encoded, encoded_len, digest, sizeof(digest), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return encoded;
}
