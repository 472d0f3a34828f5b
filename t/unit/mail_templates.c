/*
 * Tests of the mail messages: subjects, links under FRONTEND_URL, HTML
 * escaping of the user's name, and the token in the link, which must verify
 * for the right scope and subject and, for a reset, carry the password digest.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "mail/templates.h"
#include "t/unit/tap.h"

static struct config test_config(void)
{
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    memcpy(cfg.secret_key, "0123456789abcdef0123456789abcdef", 32);
    cfg.secret_key_len = 32;
    cfg.verification_token_minutes = 15;
    cfg.password_reset_token_minutes = 30;
    cfg.mail_from = "Kairos <no-reply@kairos.example>";
    cfg.frontend_url = "https://app.kairos.example";
    return cfg;
}

static struct user test_user(void)
{
    struct user user;
    memset(&user, 0, sizeof(user));
    strcpy(user.id, "65a1b2c3d4e5f60718293a4b");
    user.email = "rider@kairos.example";
    user.name = "<script>&\"'";
    user.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    return user;
}

/* Returns the token of link after "?token=", in pool. */
static char *token_of(struct pool *pool, const char *link)
{
    const char *p = strstr(link, "?token=");
    return p != NULL ? pool_strdup(pool, p + strlen("?token=")) : NULL;
}

static bool is_url_safe(const char *s)
{
    for (; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              strchr("-._~", *s) != NULL))
            return false;
    }
    return true;
}

static void test_escape(void)
{
    struct pool *pool = pool_create();
    is_str(mail_html_escape(pool, "<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;", "escape special characters");
    is_str(mail_html_escape(pool, "Zoë"), "Zoë", "escape keeps UTF-8");
    is_str(mail_html_escape(pool, ""), "", "escape empty string");
    is_str(mail_html_escape(pool, NULL), "", "escape NULL gives empty");
    pool_destroy(pool);
}

static void test_verification(void)
{
    struct pool *pool = pool_create();
    struct config cfg = test_config();
    struct user user = test_user();
    int64_t now_ms = 1767225600000; /* 2026-01-01T00:00:00Z */
    struct mail_message msg;

    is_int(mail_message_build(pool, &cfg, MAIL_VERIFY_EMAIL, &user, now_ms, &msg), KAIROS_OK, "verification builds");
    is_str(msg.to, "rider@kairos.example", "verification to");
    is_str(msg.subject, "Verify your email address for Kairos", "verification subject");
    ok(strncmp(msg.link, "https://app.kairos.example/verify?token=", 40) == 0, "verification link base");

    char *token = token_of(pool, msg.link);
    ok(token != NULL && is_url_safe(token), "verification token URL-safe");
    ok(strstr(msg.text, msg.link) != NULL, "verification text has link");
    ok(strstr(msg.html, msg.link) != NULL, "verification html has link");
    ok(strstr(msg.html, "&lt;script&gt;&amp;&quot;&#39;") != NULL, "verification html escapes name");
    ok(strstr(msg.html, "<script>") == NULL, "verification html has no raw name");
    ok(strstr(msg.text, "Hello <script>&\"'") != NULL, "verification text has plain name");

    struct jwt_claims claims;
    int64_t now = now_ms / 1000;
    is_int(
        jwt_token_verify(pool, cfg.secret_key, cfg.secret_key_len, token, JWT_SCOPE_EMAIL_VERIFICATION, now, &claims),
        JWT_VALID, "verification token verifies");
    is_str(claims.sub, "rider@kairos.example", "verification token sub");
    is_int(claims.exp - now, 15 * 60, "verification token lifetime");
    ok(claims.jti != NULL && strlen(claims.jti) == 24, "verification token jti");
    ok(claims.pwd == NULL, "verification token has no pwd");
    is_int(jwt_token_verify(pool, cfg.secret_key, cfg.secret_key_len, token, JWT_SCOPE_PASSWORD_RESET, now, &claims),
           JWT_INVALID, "verification token refused as reset");
    is_int(jwt_token_verify(pool, cfg.secret_key, cfg.secret_key_len, token, JWT_SCOPE_EMAIL_VERIFICATION,
                            now + 15 * 60, &claims),
           JWT_EXPIRED, "verification token expires");

    struct mail_message again;
    is_int(mail_message_build(pool, &cfg, MAIL_VERIFY_EMAIL, &user, now_ms, &again), KAIROS_OK, "second build");
    ok(strcmp(msg.link, again.link) != 0, "each build has a fresh jti");
    pool_destroy(pool);
}

static void test_reset(void)
{
    struct pool *pool = pool_create();
    struct config cfg = test_config();
    struct user user = test_user();
    int64_t now_ms = 1767225600000;
    struct mail_message msg;

    is_int(mail_message_build(pool, &cfg, MAIL_RESET_PASSWORD, &user, now_ms, &msg), KAIROS_OK, "reset builds");
    is_str(msg.subject, "Reset your Kairos password", "reset subject");
    ok(strncmp(msg.link, "https://app.kairos.example/reset-password?token=", 48) == 0, "reset link base");
    ok(strstr(msg.html, "&lt;script&gt;") != NULL, "reset html escapes name");
    ok(strstr(msg.text, msg.link) != NULL, "reset text has link");

    char *token = token_of(pool, msg.link);
    struct jwt_claims claims;
    int64_t now = now_ms / 1000;
    is_int(jwt_token_verify(pool, cfg.secret_key, cfg.secret_key_len, token, JWT_SCOPE_PASSWORD_RESET, now, &claims),
           JWT_VALID, "reset token verifies");
    is_str(claims.sub, "rider@kairos.example", "reset token sub");
    is_int(claims.exp - now, 30 * 60, "reset token lifetime");
    is_str(claims.pwd, jwt_password_digest(pool, cfg.secret_key, cfg.secret_key_len, user.password_hash),
           "reset token carries password digest");
    ok(strcmp(claims.pwd, jwt_password_digest(pool, cfg.secret_key, cfg.secret_key_len, "$argon2id$other")) != 0,
       "digest differs after password change");
    is_int(
        jwt_token_verify(pool, cfg.secret_key, cfg.secret_key_len, token, JWT_SCOPE_EMAIL_VERIFICATION, now, &claims),
        JWT_INVALID, "reset token refused as verification");
    pool_destroy(pool);
}

static void test_bad_input(void)
{
    struct pool *pool = pool_create();
    struct config cfg = test_config();
    struct user user = test_user();
    struct mail_message msg;

    user.email = NULL;
    is_int(mail_message_build(pool, &cfg, MAIL_VERIFY_EMAIL, &user, 0, &msg), KAIROS_ERR_INVALID,
           "no email is invalid");
    user = test_user();
    user.password_hash = NULL;
    is_int(mail_message_build(pool, &cfg, MAIL_RESET_PASSWORD, &user, 0, &msg), KAIROS_ERR_INVALID,
           "reset without password hash is invalid");
    user = test_user();
    user.name = NULL;
    is_int(mail_message_build(pool, &cfg, MAIL_VERIFY_EMAIL, &user, 0, &msg), KAIROS_OK, "no name builds");
    ok(strstr(msg.text, "Hello there,") != NULL, "no name greets generically");
    pool_destroy(pool);
}

int main(void)
{
    test_escape();
    test_verification();
    test_reset();
    test_bad_input();
    return tap_done();
}
