/*
 * Unit tests of auth/password: bcrypt hashes written by Python passlib and
 * its test vectors, the Argon2id round trip, rehash decisions, the password
 * policy (length, UTF-8, NUL) and the dummy verification.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "storage/pool.h"
#include "t/unit/tap.h"

static struct pool *pool;

static bool verify(const char *hash, const char *password)
{
    return password_verify(hash, password, strlen(password));
}

/*
 * Known bcrypt hashes with their passwords. The first three are from
 * passlib's documentation of passlib.hash.bcrypt (bcrypt.hash("password"),
 * the format example, and bcrypt.using(rounds=13)); the others are test
 * vectors from passlib's test suite (John the Ripper 1.7.9, crypt_blowfish 1.2,
 * py-bcrypt).
 */
static const struct {
    const char *password, *hash, *origin;
} BCRYPT_SAMPLES[] = {
    {"password", "$2b$12$GhvMmNVjRW29ulnudl.LbuAnUtN/LRfe1JsBm1Xu6LE3059z5Tr8m", "passlib $2b$12$ example"},
    {"password", "$2b$13$HMQTprwhaUwmir.g.ZYoXuRJhtsbra4uj.qJPHrKsX5nGlhpts0jm", "passlib $2b$13$ example"},
    {"password", "$2a$12$NT0I31Sa7ihGEWpka9ASYrEFkhuTNeBQ2xfZskIiiJeyFXhRgS.Sy",
     "passlib $2a$12$ example with salt padding bits set"},
    {"U*U*U*U*", "$2a$05$c92SVSfjeiCD6F2nAD6y0uBpJDjdRkt0EgeC4/31Rf2LUZbDRDE.O", "John the Ripper $2a$ vector"},
    {"abc", "$2a$10$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi", "py-bcrypt $2a$10$ vector"},
    {"\xa3", "$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq", "crypt_blowfish $2y$ vector"},
};

static void test_bcrypt(void)
{
    for (size_t i = 0; i < sizeof(BCRYPT_SAMPLES) / sizeof(BCRYPT_SAMPLES[0]); i++) {
        const char *hash = BCRYPT_SAMPLES[i].hash, *origin = BCRYPT_SAMPLES[i].origin;
        ok(verify(hash, BCRYPT_SAMPLES[i].password), pool_printf(pool, "bcrypt verifies %s", origin));
        ok(!verify(hash, "wrong password"), pool_printf(pool, "bcrypt rejects wrong password for %s", origin));
        ok(password_needs_rehash(hash), pool_printf(pool, "bcrypt %s needs rehash", origin));
    }

    const char *passlib = BCRYPT_SAMPLES[0].hash;
    ok(!verify(passlib, "Password"), "bcrypt is case sensitive");
    ok(!verify(passlib, "passwor"), "bcrypt rejects a prefix of the password");
    ok(!verify(passlib, ""), "bcrypt rejects the empty password");
    ok(!password_verify(passlib, "password\0x", 10), "bcrypt rejects password with NUL after the right one");

    /* A hash changed in its checksum must not match, padding normalization notwithstanding. */
    char altered[61];
    memcpy(altered, passlib, sizeof(altered));
    altered[40] = altered[40] == 'a' ? 'b' : 'a';
    ok(!verify(altered, "password"), "bcrypt rejects hash with altered checksum");

    /* The bcrypt algorithm uses only the first 72 bytes of a password. */
    const char *long_password = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789chars after 72 are ignored";
    ok(verify("$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui", long_password),
       "bcrypt verifies a password longer than 72 bytes");
}

static void test_unknown_formats(void)
{
    ok(!verify("", "password"), "empty hash never matches");
    ok(!verify("password", "password"), "plain text hash never matches");
    ok(!verify("$2x$05$c92SVSfjeiCD6F2nAD6y0uBpJDjdRkt0EgeC4/31Rf2LUZbDRDE.O", "U*U*U*U*"),
       "bcrypt $2x$ hash never matches");
    ok(!verify("$2a$05$c92SVSfjeiCD6F2nAD6y0uBpJDjdRkt0EgeC4/31Rf2LUZbDRDE.", "U*U*U*U*"),
       "truncated bcrypt hash never matches");
    ok(!verify("$2a$05$c92SVSfjeiCD6F2nAD6y0!BpJDjdRkt0EgeC4/31Rf2LUZbDRDE.O", "U*U*U*U*"),
       "bcrypt hash with a bad character never matches");
    ok(!verify("$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0", "password"), "md5-crypt hash never matches");
    ok(!verify("$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA", "password"), "argon2i hash never matches");
    ok(!verify("$argon2id$garbage", "password"), "malformed argon2id hash never matches");
    ok(!password_verify(NULL, "password", 8), "NULL hash never matches");
    ok(password_needs_rehash("$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0"), "unknown format needs rehash");
}

static void test_argon2id(void)
{
    const char *password = "correct horse battery staple";
    char *hash = password_hash(pool, password, strlen(password));
    ok(hash != NULL, "argon2id hash is computed");
    if (hash == NULL)
        return;
    ok(strncmp(hash, "$argon2id$", 10) == 0, "new hash is argon2id");
    ok(verify(hash, password), "argon2id verifies the password");
    ok(!verify(hash, "correct horse battery stapler"), "argon2id rejects a wrong password");
    ok(!password_needs_rehash(hash), "fresh argon2id hash needs no rehash");

    char *again = password_hash(pool, password, strlen(password));
    ok(again != NULL && strcmp(hash, again) != 0, "argon2id salts differ between hashes");

    const char *utf8 = "pässwörd-🚲";
    char *utf8_hash = password_hash(pool, utf8, strlen(utf8));
    ok(utf8_hash != NULL && verify(utf8_hash, utf8), "argon2id verifies a UTF-8 password");

    /* Weaker parameters than the current ones ask for a rehash. */
    char weak[crypto_pwhash_argon2id_STRBYTES];
    ok(crypto_pwhash_argon2id_str(weak, password, strlen(password), crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                  crypto_pwhash_argon2id_MEMLIMIT_MIN) == 0,
       "weak argon2id hash is computed");
    ok(verify(weak, password), "weak argon2id hash still verifies");
    ok(password_needs_rehash(weak), "weak argon2id hash needs rehash");
}

static void test_policy(void)
{
    char buf[PASSWORD_MAX_BYTES + 2];
    memset(buf, 'x', sizeof(buf));

    is_str(password_check_policy(buf, 7), "password must be at least 8 bytes long", "policy rejects 7 bytes");
    ok(password_check_policy(buf, 8) == NULL, "policy accepts 8 bytes");
    ok(password_check_policy(buf, 1024) == NULL, "policy accepts 1024 bytes");
    is_str(password_check_policy(buf, 1025), "password must be at most 1024 bytes long", "policy rejects 1025 bytes");
    is_str(password_check_policy("", 0), "password must be at least 8 bytes long", "policy rejects empty");
    ok(password_check_policy(NULL, 0) != NULL, "policy rejects NULL");

    is_str(password_check_policy("abcd\0efgh", 9), "password must not contain NUL characters",
           "policy rejects NUL inside");

    static const struct {
        const char *bytes, *name;
    } valid[] = {
        {"caf\xc3\xa9-latte", "policy accepts two-byte UTF-8"},
        {"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", "policy accepts three-byte UTF-8"},
        {"bike\xf0\x9f\x9a\xb2", "policy accepts four-byte UTF-8"},
        {"max\xf4\x8f\xbf\xbfmax", "policy accepts U+10FFFF"},
        {"\xed\x9f\xbf-before-surrogates", "policy accepts U+D7FF"},
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        ok(password_check_policy(valid[i].bytes, strlen(valid[i].bytes)) == NULL, valid[i].name);

    static const struct {
        const char *bytes, *name;
    } invalid[] = {
        {"abcdefg\x80", "policy rejects lone continuation byte"},
        {"abcdefg\xc3", "policy rejects truncated sequence at the end"},
        {"abc\xc3(defgh", "policy rejects sequence broken by ASCII"},
        {"abcdefg\xc0\xaf", "policy rejects overlong two-byte slash"},
        {"abcdefg\xc1\xbf", "policy rejects overlong C1 lead"},
        {"abcdefg\xe0\x80\xaf", "policy rejects overlong three-byte form"},
        {"abcdefg\xf0\x80\x80\xaf", "policy rejects overlong four-byte form"},
        {"abcdefg\xed\xa0\x80", "policy rejects UTF-16 high surrogate"},
        {"abcdefg\xed\xbf\xbf", "policy rejects UTF-16 low surrogate"},
        {"abcdefg\xf4\x90\x80\x80", "policy rejects code point above U+10FFFF"},
        {"abcdefg\xf5\x80\x80\x80", "policy rejects lead byte F5"},
        {"abcdefg\xff", "policy rejects byte FF"},
        {"abcdefg\xf8\x88\x80\x80\x80", "policy rejects five-byte form"},
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        is_str(password_check_policy(invalid[i].bytes, strlen(invalid[i].bytes)), "password must be valid UTF-8",
               invalid[i].name);

    /* A multi-byte character at the 1024 byte boundary. */
    memset(buf, 'x', sizeof(buf));
    memcpy(buf + 1020, "\xf0\x9f\x9a\xb2", 4);
    ok(password_check_policy(buf, 1024) == NULL, "policy accepts 1024 bytes ending in an emoji");
    ok(password_check_policy(buf, 1023) != NULL, "policy rejects an emoji cut at the end");
}

/* The dummy verification returns nothing, so the check is that it returns at all: a crash fails the program. */
static void test_dummy(void)
{
    password_verify_dummy("password", 8);
    password_verify_dummy("", 0);
    password_verify_dummy(NULL, 0);
}

int main(void)
{
    if (!password_init()) {
        printf("Bail out! password_init failed\n");
        return 1;
    }
    pool = pool_create();

    test_bcrypt();
    test_unknown_formats();
    test_argon2id();
    test_policy();
    test_dummy();

    pool_destroy(pool);
    return tap_done();
}
