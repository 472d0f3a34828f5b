/*
 * Mail messages: the verification and password-reset mails, built at send
 * time so that the token in the link is fresh when the mail leaves.
 */
#ifndef KAIROS_MAIL_TEMPLATES_H
#define KAIROS_MAIL_TEMPLATES_H

#include <stdint.h>

#include "server/config.h"
#include "storage/storage.h"

struct mail_message {
    const char *to;
    char *subject;
    char *html;
    char *text; /* plain-text alternative; contains the same link as html */
    char *link; /* the URL that the user opens to verify or reset */
};

/*
 * Builds the message of kind for user at now_ms: a token (email_verification
 * or password_reset, sub = the user's email, lifetime from cfg) signed with
 * cfg->secret_key, in a link under cfg->frontend_url. A reset token carries the
 * digest of the user's current password hash. Everything is allocated in pool.
 * Returns KAIROS_ERR_INVALID when the user has no email (or no password hash
 * for a reset), KAIROS_ERR_INTERNAL when signing fails.
 */
enum kairos_error mail_message_build(struct pool *pool, const struct config *cfg, enum mail_kind kind,
                                     const struct user *user, int64_t now_ms, struct mail_message *out);

/* Returns s with &, <, >, " and ' replaced by character references, in pool. */
char *mail_html_escape(struct pool *pool, const char *s);

/* "verification" or "password reset", for logs. */
const char *mail_kind_name(enum mail_kind kind);

#endif
