/*
 * Password hashing and verification. New hashes are Argon2id strings from
 * libsodium's crypto_pwhash_str. Hashes carried over from the Python backend
 * are bcrypt ($2a$, $2b$, $2y$, from passlib): libxcrypt's crypt_rn recomputes
 * them and the result is compared with the stored hash in constant time.
 */
#include "auth/password.h"

#include <crypt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/log.h"

/*
 * libsodium's INTERACTIVE limits (2 passes, 64 MiB), which its documentation
 * recommends for online operations such as a login.
 */
#define PASSWORD_OPSLIMIT crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
#define PASSWORD_MEMLIMIT crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE

/* A bcrypt hash: "$2b$", two cost digits, "$", 22 salt and 31 hash characters. */
#define PASSWORD_BCRYPT_LEN 60

static char password_dummy_hash[crypto_pwhash_argon2id_STRBYTES];
static bool password_dummy_ready;
static pthread_once_t password_dummy_once = PTHREAD_ONCE_INIT;

bool password_init(void)
{
    if (sodium_init() < 0) {
        log_error("password", "sodium_init failed");
        return false;
    }
    return true;
}

/* Length of the UTF-8 sequence that starts at s[0], or 0 when it is invalid (RFC 3629). */
static size_t password_utf8_sequence_len(const unsigned char *s, size_t avail)
{
    if (s[0] < 0x80)
        return 1;

    size_t len;
    uint32_t min, code;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, code = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, code = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, code = s[0] & 0x07;
    } else {
        return 0; /* a continuation byte, or 0xf8..0xff */
    }
    if (len > avail)
        return 0;

    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        code = (code << 6) | (s[i] & 0x3f);
    }

    /* Overlong forms, UTF-16 surrogates and code points above U+10FFFF are not UTF-8. */
    if (code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff)
        return 0;
    return len;
}

static bool password_is_utf8(const char *password, size_t len)
{
    const unsigned char *s = (const unsigned char *)password;
    for (size_t i = 0; i < len;) {
        size_t seq = password_utf8_sequence_len(s + i, len - i);
        if (seq == 0)
            return false;
        i += seq;
    }
    return true;
}

/* The limits count bytes, not characters, and the messages state bytes. */
const char *password_check_policy(const char *password, size_t len)
{
    if (password == NULL || len < PASSWORD_MIN_BYTES)
        return "password must be at least 8 bytes long";
    if (len > PASSWORD_MAX_BYTES)
        return "password must be at most 1024 bytes long";
    if (memchr(password, '\0', len) != NULL)
        return "password must not contain NUL characters";
    if (!password_is_utf8(password, len))
        return "password must be valid UTF-8";
    return NULL;
}

char *password_hash(struct pool *pool, const char *password, size_t len)
{
    char hash[crypto_pwhash_argon2id_STRBYTES];
    if (password == NULL ||
        crypto_pwhash_argon2id_str(hash, password, len, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) != 0) {
        log_error("password", "argon2id hashing failed, most likely out of memory");
        return NULL;
    }
    return pool_strdup(pool, hash);
}

static bool password_is_argon2id(const char *hash)
{
    return strncmp(hash, "$argon2id$", 10) == 0 && strlen(hash) < crypto_pwhash_argon2id_STRBYTES;
}

static bool password_is_bcrypt(const char *hash)
{
    return strlen(hash) == PASSWORD_BCRYPT_LEN && hash[0] == '$' && hash[1] == '2' &&
           (hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y') && hash[3] == '$';
}

static const char password_bcrypt64[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Clears the unused low bits of the bcrypt base64 character c; mask keeps the used ones. */
static bool password_bcrypt64_clear(char *c, unsigned mask)
{
    const char *found = strchr(password_bcrypt64, *c);
    if (*c == '\0' || found == NULL)
        return false;
    *c = password_bcrypt64[(unsigned)(found - password_bcrypt64) & mask];
    return true;
}

/*
 * Copies a bcrypt hash with the padding bits of the last salt character (4
 * unused bits) and of the last checksum character (2 unused bits) cleared.
 * Passlib before 1.5.3 wrote salts with those bits set, and its bcrypt
 * documentation states that it verifies such hashes as if the bits were clear. crypt_rn always writes them
 * clear, so the stored hash is normalized before comparing.
 */
static bool password_bcrypt_normalize(const char *hash, char out[PASSWORD_BCRYPT_LEN + 1])
{
    memcpy(out, hash, PASSWORD_BCRYPT_LEN + 1);
    return password_bcrypt64_clear(&out[28], 0x30) && password_bcrypt64_clear(&out[59], 0x3c);
}

/*
 * Recomputes a bcrypt hash through crypt_rn with the stored hash as setting.
 * crypt_rn takes a C string, so a password with a NUL byte never matches.
 * bcrypt itself uses only the first 72 bytes of the password.
 */
static bool password_verify_bcrypt(const char *hash, const char *password, size_t len)
{
    char expected[PASSWORD_BCRYPT_LEN + 1];
    if (memchr(password, '\0', len) != NULL || !password_bcrypt_normalize(hash, expected))
        return false;

    char *phrase = malloc(len + 1);
    struct crypt_data *data = calloc(1, sizeof(*data)); /* about 32 KiB, too large for a worker's stack */
    bool match = false;
    if (phrase == NULL || data == NULL) {
        log_error("password", "bcrypt verification failed: out of memory");
    } else {
        memcpy(phrase, password, len);
        phrase[len] = '\0';
        const char *computed = crypt_rn(phrase, expected, data, (int)sizeof(*data));
        match = computed != NULL && strlen(computed) == PASSWORD_BCRYPT_LEN &&
                sodium_memcmp(computed, expected, PASSWORD_BCRYPT_LEN) == 0;
    }

    if (phrase != NULL) {
        sodium_memzero(phrase, len + 1);
        free(phrase);
    }
    if (data != NULL) {
        sodium_memzero(data, sizeof(*data));
        free(data);
    }
    return match;
}

bool password_verify(const char *hash, const char *password, size_t len)
{
    if (hash == NULL || password == NULL)
        return false;
    if (password_is_argon2id(hash))
        return crypto_pwhash_argon2id_str_verify(hash, password, len) == 0;
    if (password_is_bcrypt(hash))
        return password_verify_bcrypt(hash, password, len);
    return false;
}

bool password_needs_rehash(const char *hash)
{
    if (hash == NULL || !password_is_argon2id(hash))
        return true;
    return crypto_pwhash_argon2id_str_needs_rehash(hash, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) != 0;
}

/* The dummy hash is of random bytes, so no password matches it. */
static void password_make_dummy(void)
{
    unsigned char secret[16];
    randombytes_buf(secret, sizeof(secret));
    password_dummy_ready = crypto_pwhash_argon2id_str(password_dummy_hash, (const char *)secret, sizeof(secret),
                                                      PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) == 0;
    sodium_memzero(secret, sizeof(secret));
    if (!password_dummy_ready)
        log_error("password", "argon2id hashing of the dummy password failed, most likely out of memory");
}

/*
 * The first call of a process also computes the dummy hash, so it takes
 * about twice as long as later ones.
 */
void password_verify_dummy(const char *password, size_t len)
{
    pthread_once(&password_dummy_once, password_make_dummy);
    if (!password_dummy_ready || password == NULL)
        return;
    int rc = crypto_pwhash_argon2id_str_verify(password_dummy_hash, password, len);
    (void)rc; /* the result carries no information: no password matches the dummy hash */
}
