/*
 * The development transport: with no RESEND_API_KEY, each message is written
 * to stderr as one log line with the masked recipient, the subject and the
 * plain text with its link, so a developer (or a test) can open the link.
 * This is the one place where a mail token reaches the log, and
 * mail_config_check rejects this transport in production.
 */
#include "mail/transport.h"

#include <stdio.h>
#include <string.h>

#include "storage/log.h"

/* Copies text into buf with each run of line breaks replaced by " ", so the message stays on one log line. */
static void mail_log_flatten(const char *text, char *buf, size_t len)
{
    size_t w = 0;
    bool in_break = false;
    for (const char *p = text; *p && w + 1 < len; p++) {
        if (*p == '\n' || *p == '\r') {
            if (!in_break)
                buf[w++] = ' ';
            in_break = true;
            continue;
        }
        in_break = false;
        buf[w++] = *p;
    }
    while (w > 0 && buf[w - 1] == ' ')
        w--;
    buf[w] = '\0';
}

/* Writes the address with its local part cut to the first character ("r***@example.com"). */
static void mail_log_mask_address(const char *address, char *buf, size_t len)
{
    const char *at = strrchr(address, '@');
    if (at == NULL || at == address)
        snprintf(buf, len, "***");
    else
        snprintf(buf, len, "%c***%s", address[0], at);
}

void mail_log_send(const struct mail_message *msg, struct mail_send_result *result)
{
    char text[3072];
    mail_log_flatten(msg->text, text, sizeof(text));
    char to[320];
    mail_log_mask_address(msg->to, to, sizeof(to));
    log_info("mail", "mail to %s, subject \"%s\": %s", to, msg->subject, text);

    memset(result, 0, sizeof(*result));
    result->status = MAIL_SEND_OK;
    result->retry_after_s = -1;
}
