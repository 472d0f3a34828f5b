/*
 * Mail transports: the Resend HTTP API (libcurl) and the log transport used
 * when no RESEND_API_KEY is set, which writes each message to stderr.
 */
#ifndef KAIROS_MAIL_TRANSPORT_H
#define KAIROS_MAIL_TRANSPORT_H

#include "mail/templates.h"
#include "server/config.h"

enum mail_send_status {
    MAIL_SEND_OK,     /* the provider accepted the message */
    MAIL_SEND_RETRY,  /* a temporary failure: 408, 409, 429, 5xx, timeout, network */
    MAIL_SEND_FAILED, /* the provider rejected the message; sending it again would fail again */
};

struct mail_send_result {
    enum mail_send_status status;
    long http_status;   /* 0 when no response arrived */
    long retry_after_s; /* from a Retry-After header; -1 when absent */
    char error[256];    /* why it was not sent; "" on MAIL_SEND_OK */
};

/* Timeouts of one send, in milliseconds. */
struct mail_send_options {
    long connect_timeout_ms;
    long timeout_ms;
};

/* Defaults of the sender process. */
#define MAIL_CONNECT_TIMEOUT_MS 5000
#define MAIL_TIMEOUT_MS         15000

/* Writes msg, link included, as one log line, and sets result to MAIL_SEND_OK. */
void mail_log_send(const struct mail_message *msg, struct mail_send_result *result);

/*
 * POSTs msg to cfg->resend_api_url + "/emails" with cfg->resend_api_key and
 * the header Idempotency-Key: idempotency_key, so that a retry of a request
 * whose response was lost does not send the mail twice.
 */
void mail_resend_send(const struct config *cfg, const struct mail_message *msg, const char *idempotency_key,
                      const struct mail_send_options *options, struct mail_send_result *result);

/* Sends through Resend when cfg has an API key, else through the log. */
void mail_transport_send(const struct config *cfg, const struct mail_message *msg, const char *idempotency_key,
                         const struct mail_send_options *options, struct mail_send_result *result);

#endif
