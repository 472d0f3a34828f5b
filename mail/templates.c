/*
 * Mail messages. Each mail has a subject, an HTML body and a plain-text body
 * with the same link. The link contains a JWT issued when the message is built,
 * so a mail that waited in the outbox still carries a token valid for the full
 * lifetime. Every value put into the HTML is escaped.
 */
#include "mail/templates.h"

#include <string.h>

#include "auth/jwt.h"
#include "storage/id.h"

#define MAIL_PRODUCT_NAME "Kairos"

struct mail_template {
    enum jwt_scope scope;
    const char *path; /* appended to FRONTEND_URL, followed by "?token=" */
    const char *subject;
    const char *intro;  /* first paragraph, after the greeting */
    const char *action; /* the button label */
    const char *ignore; /* last paragraph */
};

static const struct mail_template mail_verify_template = {
    .scope = JWT_SCOPE_EMAIL_VERIFICATION,
    .path = "/verify",
    .subject = "Verify your email address for " MAIL_PRODUCT_NAME,
    .intro = "Welcome to " MAIL_PRODUCT_NAME ". Please confirm that this is your email address by opening the link "
             "below.",
    .action = "Verify email address",
    .ignore = "If you did not create a " MAIL_PRODUCT_NAME " account, you can ignore this email.",
};

static const struct mail_template mail_reset_template = {
    .scope = JWT_SCOPE_PASSWORD_RESET,
    .path = "/reset-password",
    .subject = "Reset your " MAIL_PRODUCT_NAME " password",
    .intro = "Somebody asked to reset the password of your " MAIL_PRODUCT_NAME " account. Open the link below to "
             "choose a new password. The link works once.",
    .action = "Reset password",
    .ignore = "If you did not ask for this, you can ignore this email: your password stays as it is.",
};

const char *mail_kind_name(enum mail_kind kind)
{
    return kind == MAIL_RESET_PASSWORD ? "password reset" : "verification";
}

char *mail_html_escape(struct pool *pool, const char *s)
{
    if (s == NULL)
        return pool_strdup(pool, "");
    size_t len = 0;
    for (const char *p = s; *p; p++)
        len += strchr("&<>\"'", *p) != NULL ? 6 : 1;

    char *out = pool_alloc(pool, len + 1);
    char *w = out;
    for (const char *p = s; *p; p++) {
        const char *ref = NULL;
        switch (*p) {
        case '&':
            ref = "&amp;";
            break;
        case '<':
            ref = "&lt;";
            break;
        case '>':
            ref = "&gt;";
            break;
        case '"':
            ref = "&quot;";
            break;
        case '\'':
            ref = "&#39;";
            break;
        }
        if (ref != NULL) {
            size_t n = strlen(ref);
            memcpy(w, ref, n);
            w += n;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

/* Percent-encodes every byte outside the URL unreserved set (RFC 3986). */
static char *mail_url_encode(struct pool *pool, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = pool_alloc(pool, strlen(s) * 3 + 1);
    char *w = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p) != NULL) {
            *w++ = (char)*p;
        } else {
            *w++ = '%';
            *w++ = hex[*p >> 4];
            *w++ = hex[*p & 15];
        }
    }
    *w = '\0';
    return out;
}

static char *mail_issue_token(struct pool *pool, const struct config *cfg, const struct mail_template *tpl,
                              const struct user *user, int64_t now_ms)
{
    long minutes =
        tpl->scope == JWT_SCOPE_PASSWORD_RESET ? cfg->password_reset_token_minutes : cfg->verification_token_minutes;
    char jti[ID_HEX_LEN + 1];
    id_generate(jti);

    struct jwt_claims claims = {
        .scope = tpl->scope,
        .sub = user->email,
        .jti = jti,
        .iat = now_ms / 1000,
        .exp = now_ms / 1000 + (int64_t)minutes * 60,
    };
    if (tpl->scope == JWT_SCOPE_PASSWORD_RESET) {
        claims.pwd = jwt_password_digest(pool, cfg->secret_key, cfg->secret_key_len, user->password_hash);
        if (claims.pwd == NULL)
            return NULL;
    }
    return jwt_token_issue(pool, cfg->secret_key, cfg->secret_key_len, &claims);
}

static char *mail_render_html(struct pool *pool, const struct mail_template *tpl, const char *name, const char *link)
{
    char *safe_link = mail_html_escape(pool, link);
    return pool_printf(pool,
                       "<!DOCTYPE html>\n"
                       "<html><head><meta charset=\"utf-8\"><title>%s</title></head>\n"
                       "<body style=\"font-family: sans-serif; line-height: 1.5;\">\n"
                       "<p>Hello %s,</p>\n"
                       "<p>%s</p>\n"
                       "<p><a href=\"%s\" style=\"display: inline-block; padding: 10px 16px; background: #1f6f4a; "
                       "color: #ffffff; text-decoration: none; border-radius: 4px;\">%s</a></p>\n"
                       "<p>Or copy this address into your browser:<br>%s</p>\n"
                       "<p>%s</p>\n"
                       "<p>The " MAIL_PRODUCT_NAME " team</p>\n"
                       "</body></html>\n",
                       mail_html_escape(pool, tpl->subject), mail_html_escape(pool, name),
                       mail_html_escape(pool, tpl->intro), safe_link, mail_html_escape(pool, tpl->action), safe_link,
                       mail_html_escape(pool, tpl->ignore));
}

static char *mail_render_text(struct pool *pool, const struct mail_template *tpl, const char *name, const char *link)
{
    return pool_printf(pool,
                       "Hello %s,\n\n"
                       "%s\n\n"
                       "%s: %s\n\n"
                       "%s\n\n"
                       "The " MAIL_PRODUCT_NAME " team\n",
                       name, tpl->intro, tpl->action, link, tpl->ignore);
}

enum kairos_error mail_message_build(struct pool *pool, const struct config *cfg, enum mail_kind kind,
                                     const struct user *user, int64_t now_ms, struct mail_message *out)
{
    const struct mail_template *tpl = kind == MAIL_RESET_PASSWORD ? &mail_reset_template : &mail_verify_template;
    if (user->email == NULL || user->email[0] == '\0')
        return KAIROS_ERR_INVALID;
    if (kind == MAIL_RESET_PASSWORD && user->password_hash == NULL)
        return KAIROS_ERR_INVALID;

    char *token = mail_issue_token(pool, cfg, tpl, user, now_ms);
    if (token == NULL)
        return KAIROS_ERR_INTERNAL;

    const char *base = cfg->frontend_url != NULL ? cfg->frontend_url : "";
    const char *name = user->name != NULL && user->name[0] != '\0' ? user->name : "there";
    memset(out, 0, sizeof(*out));
    out->to = user->email;
    out->subject = pool_strdup(pool, tpl->subject);
    out->link = pool_printf(pool, "%s%s?token=%s", base, tpl->path, mail_url_encode(pool, token));
    out->html = mail_render_html(pool, tpl, name, out->link);
    out->text = mail_render_text(pool, tpl, name, out->link);
    return KAIROS_OK;
}
