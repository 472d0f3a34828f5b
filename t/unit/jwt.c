/*
 * Unit tests of auth/jwt: issue and verify per scope, scope confusion, the
 * algorithm pin (none, HS384, HS512), signatures made with another key,
 * tampering, expiry, malformed tokens and claims, and the password digest.
 * Hostile tokens are built by hand with libsodium's HMAC-SHA256 or libjwt.
 */
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "storage/id.h"
#include "storage/pool.h"
#include "t/unit/tap.h"

static const unsigned char KEY[] = "unit-test secret key, not used anywhere else";
static const unsigned char OTHER_KEY[] = "another secret key of a different deployment";
#define KEY_LEN       (sizeof(KEY) - 1)
#define OTHER_KEY_LEN (sizeof(OTHER_KEY) - 1)
#define NOW           ((int64_t)1700000000)

static struct pool *pool;

static char *b64url(const void *data, size_t len)
{
    size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = pool_alloc(pool, size);
    sodium_bin2base64(out, size, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* Builds header.payload.signature with an HS256 signature made by key, whatever alg the header names. */
static char *craft_hs256(const char *header, const char *payload, const unsigned char *key, size_t key_len)
{
    char *signing_input = pool_printf(pool, "%s.%s", b64url(header, strlen(header)), b64url(payload, strlen(payload)));
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key, key_len);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *)signing_input, strlen(signing_input));
    crypto_auth_hmacsha256_final(&state, mac);
    return pool_printf(pool, "%s.%s", signing_input, b64url(mac, sizeof(mac)));
}

static const char *HS256_HEADER = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* A payload with every claim, valid for an access token at NOW. */
static char *payload_with(const char *sub, const char *jti, const char *scope, const char *exp)
{
    char *payload = pool_strdup(pool, "{");
    const char *sep = "";
    if (sub != NULL) {
        payload = pool_printf(pool, "%s%s\"sub\":%s", payload, sep, sub);
        sep = ",";
    }
    if (jti != NULL) {
        payload = pool_printf(pool, "%s%s\"jti\":%s", payload, sep, jti);
        sep = ",";
    }
    if (scope != NULL) {
        payload = pool_printf(pool, "%s%s\"scope\":%s", payload, sep, scope);
        sep = ",";
    }
    if (exp != NULL)
        payload = pool_printf(pool, "%s%s\"exp\":%s", payload, sep, exp);
    return pool_printf(pool, "%s}", payload);
}

static enum jwt_verify_result verify_access(const char *token)
{
    struct jwt_claims claims;
    return jwt_token_verify(pool, KEY, KEY_LEN, token, JWT_SCOPE_ACCESS, NOW, &claims);
}

static char *issue(enum jwt_scope scope, int64_t exp)
{
    struct jwt_claims claims = {.scope = scope, .sub = "65a1b2c3d4e5f60718293a4b", .iat = NOW - 10, .exp = exp};
    return jwt_token_issue(pool, KEY, KEY_LEN, &claims);
}

/* Signs a token with libjwt under alg and key, for the algorithm pin tests. */
static char *sign_with_libjwt(jwt_alg_t alg, const unsigned char *key, size_t key_len)
{
    jwt_t *jwt = NULL;
    char *token = NULL;
    if (jwt_new(&jwt) == 0 && jwt_set_alg(jwt, alg, key, (int)key_len) == 0 &&
        jwt_add_grants_json(jwt, "{\"sub\":\"u1\",\"jti\":\"j1\",\"scope\":\"access\",\"exp\":1900000000}") == 0) {
        char *encoded = jwt_encode_str(jwt);
        token = pool_strdup(pool, encoded);
        free(encoded);
    }
    jwt_free(jwt);
    return token;
}

static void test_round_trip(void)
{
    static const enum jwt_scope scopes[] = {JWT_SCOPE_ACCESS, JWT_SCOPE_REFRESH, JWT_SCOPE_EMAIL_VERIFICATION,
                                            JWT_SCOPE_PASSWORD_RESET};
    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
        const char *name = jwt_scope_name(scopes[i]);
        struct jwt_claims in = {
            .scope = scopes[i],
            .sub = "rider@example.com",
            .jti = "0123456789abcdef01234567",
            .iat = NOW - 5,
            .exp = NOW + 60,
            .family = scopes[i] == JWT_SCOPE_REFRESH ? "fedcba9876543210fedcba98" : NULL,
            .pwd = scopes[i] == JWT_SCOPE_PASSWORD_RESET ? "digest-value" : NULL,
        };
        char *token = jwt_token_issue(pool, KEY, KEY_LEN, &in);
        ok(token != NULL, pool_printf(pool, "%s token is issued", name));

        struct jwt_claims out;
        is_int(jwt_token_verify(pool, KEY, KEY_LEN, token, scopes[i], NOW, &out), JWT_VALID,
               pool_printf(pool, "%s token verifies", name));
        is_int(out.scope, scopes[i], pool_printf(pool, "%s token keeps its scope", name));
        is_str(out.sub, in.sub, pool_printf(pool, "%s token keeps sub", name));
        is_str(out.jti, in.jti, pool_printf(pool, "%s token keeps jti", name));
        is_int(out.iat, in.iat, pool_printf(pool, "%s token keeps iat", name));
        is_int(out.exp, in.exp, pool_printf(pool, "%s token keeps exp", name));
        is_str(out.family, in.family, pool_printf(pool, "%s token keeps fam", name));
        is_str(out.pwd, in.pwd, pool_printf(pool, "%s token keeps pwd", name));
    }
}

static void test_scope_names(void)
{
    is_str(jwt_scope_name(JWT_SCOPE_ACCESS), "access", "scope name of access");
    is_str(jwt_scope_name(JWT_SCOPE_REFRESH), "refresh", "scope name of refresh");
    is_str(jwt_scope_name(JWT_SCOPE_EMAIL_VERIFICATION), "email_verification", "scope name of email verification");
    is_str(jwt_scope_name(JWT_SCOPE_PASSWORD_RESET), "password_reset", "scope name of password reset");
}

static void test_scope_confusion(void)
{
    for (int issued = JWT_SCOPE_ACCESS; issued <= JWT_SCOPE_PASSWORD_RESET; issued++) {
        char *token = issue((enum jwt_scope)issued, NOW + 60);
        for (int expected = JWT_SCOPE_ACCESS; expected <= JWT_SCOPE_PASSWORD_RESET; expected++) {
            if (expected == issued)
                continue;
            struct jwt_claims claims;
            is_int(jwt_token_verify(pool, KEY, KEY_LEN, token, (enum jwt_scope)expected, NOW, &claims), JWT_INVALID,
                   pool_printf(pool, "rejects %s token used as %s", jwt_scope_name((enum jwt_scope)issued),
                               jwt_scope_name((enum jwt_scope)expected)));
        }
    }

    /* An expired token of the wrong scope is invalid, not expired. */
    struct jwt_claims claims;
    is_int(jwt_token_verify(pool, KEY, KEY_LEN, issue(JWT_SCOPE_REFRESH, NOW - 60), JWT_SCOPE_ACCESS, NOW, &claims),
           JWT_INVALID, "rejects expired refresh token used as access");
}

static void test_alg_none(void)
{
    const char *payload = payload_with("\"u1\"", "\"j1\"", "\"access\"", "1900000000");
    const char *header = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    char *unsigned_token =
        pool_printf(pool, "%s.%s.", b64url(header, strlen(header)), b64url(payload, strlen(payload)));
    is_int(verify_access(unsigned_token), JWT_INVALID, "rejects alg none with empty signature");

    /* The same with an HS256 signature of the right key does not make `none` acceptable. */
    is_int(verify_access(craft_hs256(header, payload, KEY, KEY_LEN)), JWT_INVALID,
           "rejects alg none with a valid HMAC");

    const char *lower = "{\"alg\":\"NONE\"}";
    is_int(verify_access(pool_printf(pool, "%s.%s.", b64url(lower, strlen(lower)), b64url(payload, strlen(payload)))),
           JWT_INVALID, "rejects alg NONE in capitals");
}

static void test_signatures(void)
{
    const char *payload = payload_with("\"u1\"", "\"j1\"", "\"access\"", "1900000000");
    is_int(verify_access(craft_hs256(HS256_HEADER, payload, KEY, KEY_LEN)), JWT_VALID,
           "accepts a hand-made HS256 token with the right key");
    is_int(verify_access(craft_hs256(HS256_HEADER, payload, OTHER_KEY, OTHER_KEY_LEN)), JWT_INVALID,
           "rejects HS256 token signed with another key");
    is_int(verify_access(craft_hs256(HS256_HEADER, payload, KEY, KEY_LEN - 1)), JWT_INVALID,
           "rejects HS256 token signed with a truncated key");

    char *hs512 = sign_with_libjwt(JWT_ALG_HS512, KEY, KEY_LEN);
    char *hs384 = sign_with_libjwt(JWT_ALG_HS384, KEY, KEY_LEN);
    char *hs256 = sign_with_libjwt(JWT_ALG_HS256, KEY, KEY_LEN);
    ok(hs512 != NULL && hs384 != NULL && hs256 != NULL, "libjwt signs the algorithm pin samples");
    is_int(verify_access(hs256), JWT_VALID, "accepts libjwt HS256 token with the right key");
    is_int(verify_access(hs512), JWT_INVALID, "rejects HS512 token signed with the right key");
    is_int(verify_access(hs384), JWT_INVALID, "rejects HS384 token signed with the right key");
}

static void test_tampering(void)
{
    char *token = issue(JWT_SCOPE_ACCESS, NOW + 60);
    char *first_dot = strchr(token, '.');
    char *second_dot = strchr(first_dot + 1, '.');

    /* Another payload spliced between the original header and signature. */
    const char *forged = payload_with("\"someone-else\"", "\"j1\"", "\"access\"", "1900000000");
    char *spliced =
        pool_printf(pool, "%.*s.%s%s", (int)(first_dot - token), token, b64url(forged, strlen(forged)), second_dot);
    is_int(verify_access(spliced), JWT_INVALID, "rejects tampered payload");

    char *flipped = pool_strdup(pool, token);
    size_t last = strlen(flipped) - 2; /* not the last character, whose low bits may be padding */
    flipped[last] = flipped[last] == 'A' ? 'B' : 'A';
    is_int(verify_access(flipped), JWT_INVALID, "rejects tampered signature");

    char *no_signature = pool_strndup(pool, token, (size_t)(second_dot - token + 1));
    is_int(verify_access(no_signature), JWT_INVALID, "rejects stripped signature");

    const char *header_512 = "{\"alg\":\"HS512\",\"typ\":\"JWT\"}";
    char *swapped = pool_printf(pool, "%s%s", b64url(header_512, strlen(header_512)), first_dot);
    is_int(verify_access(swapped), JWT_INVALID, "rejects header swapped to HS512");
}

static void test_expiry(void)
{
    struct jwt_claims claims;
    char *token = issue(JWT_SCOPE_ACCESS, NOW - 1);
    is_int(jwt_token_verify(pool, KEY, KEY_LEN, token, JWT_SCOPE_ACCESS, NOW, &claims), JWT_EXPIRED,
           "expired token is reported expired");
    is_str(claims.sub, "65a1b2c3d4e5f60718293a4b", "expired token still fills sub");

    is_int(verify_access(issue(JWT_SCOPE_ACCESS, NOW)), JWT_EXPIRED, "token is expired at exp itself");
    is_int(verify_access(issue(JWT_SCOPE_ACCESS, NOW + 1)), JWT_VALID, "token is valid one second before exp");
    is_int(jwt_token_verify(pool, OTHER_KEY, OTHER_KEY_LEN, token, JWT_SCOPE_ACCESS, NOW, &claims), JWT_INVALID,
           "expired token with bad signature is invalid");
}

static void test_garbage(void)
{
    static const char *samples[] = {
        "", "garbage", "a.b", "a.b.c", "..", "...", ".", "eyJhbGciOiJIUzI1NiJ9..", "eyJ.eyJ.eyJ", "!!!.###.$$$",
    };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        is_int(verify_access(samples[i]), JWT_INVALID, pool_printf(pool, "rejects garbage token \"%s\"", samples[i]));

    size_t huge_len = 4u << 20;
    char *huge = malloc(huge_len + 1);
    ok(huge != NULL, "allocates a 4 MiB token");
    if (huge != NULL) {
        memset(huge, 'a', huge_len);
        huge[huge_len] = '\0';
        is_int(verify_access(huge), JWT_INVALID, "rejects 4 MiB token of letters");
        huge[1000] = '.';
        huge[2000] = '.';
        is_int(verify_access(huge), JWT_INVALID, "rejects 4 MiB token with three parts");
        free(huge);
    }

    struct jwt_claims claims;
    is_int(jwt_token_verify(pool, KEY, KEY_LEN, NULL, JWT_SCOPE_ACCESS, NOW, &claims), JWT_INVALID,
           "rejects NULL token");
    is_int(jwt_token_verify(pool, KEY, 0, issue(JWT_SCOPE_ACCESS, NOW + 60), JWT_SCOPE_ACCESS, NOW, &claims),
           JWT_INVALID, "rejects verification with an empty key");
}

static void test_claims(void)
{
    static const struct {
        const char *name, *sub, *jti, *scope, *exp;
    } cases[] = {
        {"rejects missing sub", NULL, "\"j1\"", "\"access\"", "1900000000"},
        {"rejects empty sub", "\"\"", "\"j1\"", "\"access\"", "1900000000"},
        {"rejects numeric sub", "42", "\"j1\"", "\"access\"", "1900000000"},
        {"rejects missing jti", "\"u1\"", NULL, "\"access\"", "1900000000"},
        {"rejects empty jti", "\"u1\"", "\"\"", "\"access\"", "1900000000"},
        {"rejects null jti", "\"u1\"", "null", "\"access\"", "1900000000"},
        {"rejects missing scope", "\"u1\"", "\"j1\"", NULL, "1900000000"},
        {"rejects unknown scope", "\"u1\"", "\"j1\"", "\"admin\"", "1900000000"},
        {"rejects scope list", "\"u1\"", "\"j1\"", "[\"access\"]", "1900000000"},
        {"rejects missing exp", "\"u1\"", "\"j1\"", "\"access\"", NULL},
        {"rejects string exp", "\"u1\"", "\"j1\"", "\"access\"", "\"1900000000\""},
        {"rejects real exp", "\"u1\"", "\"j1\"", "\"access\"", "1900000000.5"},
        {"rejects huge exp", "\"u1\"", "\"j1\"", "\"access\"", "99999999999999999999999"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *payload = payload_with(cases[i].sub, cases[i].jti, cases[i].scope, cases[i].exp);
        is_int(verify_access(craft_hs256(HS256_HEADER, payload, KEY, KEY_LEN)), JWT_INVALID, cases[i].name);
    }

    is_int(verify_access(craft_hs256(HS256_HEADER, "[1,2,3]", KEY, KEY_LEN)), JWT_INVALID,
           "rejects payload that is an array");
    is_int(verify_access(craft_hs256(HS256_HEADER, "{\"sub\":", KEY, KEY_LEN)), JWT_INVALID,
           "rejects payload that is broken JSON");
    is_int(verify_access(craft_hs256(HS256_HEADER,
                                     "{\"sub\":\"u1\",\"jti\":\"j1\",\"scope\":\"access\",\"exp\":1900000000,"
                                     "\"fam\":7}",
                                     KEY, KEY_LEN)),
           JWT_INVALID, "rejects numeric fam");
    is_int(verify_access(craft_hs256(HS256_HEADER,
                                     "{\"sub\":\"u1\",\"jti\":\"j1\",\"scope\":\"access\",\"exp\":1900000000,"
                                     "\"iat\":\"yesterday\"}",
                                     KEY, KEY_LEN)),
           JWT_INVALID, "rejects string iat");

    struct jwt_claims claims;
    is_int(jwt_token_verify(
               pool, KEY, KEY_LEN,
               craft_hs256(HS256_HEADER, payload_with("\"u1\"", "\"j1\"", "\"access\"", "1900000000"), KEY, KEY_LEN),
               JWT_SCOPE_ACCESS, NOW, &claims),
           JWT_VALID, "accepts token without iat");
    is_int(claims.iat, 0, "missing iat reads as 0");
    ok(claims.family == NULL && claims.pwd == NULL, "missing fam and pwd read as NULL");
}

static void test_issue(void)
{
    struct jwt_claims claims = {.scope = JWT_SCOPE_ACCESS, .sub = "u1", .iat = NOW, .exp = NOW + 60};
    ok(jwt_token_issue(pool, KEY, 0, &claims) == NULL, "issue fails without a key");
    claims.sub = NULL;
    ok(jwt_token_issue(pool, KEY, KEY_LEN, &claims) == NULL, "issue fails without sub");
    claims.sub = "u1";
    claims.scope = (enum jwt_scope)99;
    ok(jwt_token_issue(pool, KEY, KEY_LEN, &claims) == NULL, "issue fails with an unknown scope");

    struct jwt_claims first, second;
    jwt_token_verify(pool, KEY, KEY_LEN, issue(JWT_SCOPE_REFRESH, NOW + 60), JWT_SCOPE_REFRESH, NOW, &first);
    jwt_token_verify(pool, KEY, KEY_LEN, issue(JWT_SCOPE_REFRESH, NOW + 60), JWT_SCOPE_REFRESH, NOW, &second);
    ok(id_is_valid(first.jti), "issue generates a 24 hex jti when none is given");
    ok(strcmp(first.jti, second.jti) != 0, "generated jti differ between tokens");
}

static void test_password_digest(void)
{
    const char *hash_a = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaGFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";
    const char *hash_b = "$2b$12$GhvMmNVjRW29ulnudl.LbuAnUtN/LRfe1JsBm1Xu6LE3059z5Tr8m";
    char *a1 = jwt_password_digest(pool, KEY, KEY_LEN, hash_a);
    char *a2 = jwt_password_digest(pool, KEY, KEY_LEN, hash_a);
    char *b = jwt_password_digest(pool, KEY, KEY_LEN, hash_b);
    char *a_other_key = jwt_password_digest(pool, OTHER_KEY, OTHER_KEY_LEN, hash_a);

    ok(a1 != NULL && a2 != NULL && b != NULL && a_other_key != NULL, "password digests are computed");
    if (a1 == NULL || a2 == NULL || b == NULL || a_other_key == NULL)
        return;
    is_str(a1, a2, "password digest is stable");
    ok(strcmp(a1, b) != 0, "password digest differs between hashes");
    ok(strcmp(a1, a_other_key) != 0, "password digest differs between keys");
    is_int(strlen(a1), 22, "password digest is 16 bytes in base64url");
    is_int(strspn(a1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 22,
           "password digest uses the base64url alphabet");
    ok(jwt_password_digest(pool, KEY, 0, hash_a) == NULL, "password digest fails without a key");
}

int main(void)
{
    if (sodium_init() < 0) {
        printf("Bail out! sodium_init failed\n");
        return 1;
    }
    pool = pool_create();

    test_scope_names();
    test_round_trip();
    test_scope_confusion();
    test_alg_none();
    test_signatures();
    test_tampering();
    test_expiry();
    test_garbage();
    test_claims();
    test_issue();
    test_password_digest();

    pool_destroy(pool);
    return tap_done();
}
