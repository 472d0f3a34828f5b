/*
 * Mail: the outbox sender process and its transports. Handlers never send
 * mail; they add an outbox entry (storage mail_enqueue) and the sender, a
 * process forked by the master, delivers it.
 */
#ifndef KAIROS_MAIL_H
#define KAIROS_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/config.h"
#include "storage/storage.h"

/* A claimed entry returns to pending when it is not marked within this time. */
#define MAIL_LEASE_MS 60000
/* Entries claimed per pass. */
#define MAIL_CLAIM_MAX 10
/* An entry is marked failed after this many failed attempts. */
#define MAIL_MAX_ATTEMPTS 10
/* Retry delays: MAIL_RETRY_BASE_MS * 2^attempts, at most MAIL_RETRY_MAX_MS, then +-20 % jitter. */
#define MAIL_RETRY_BASE_MS 30000
#define MAIL_RETRY_MAX_MS  3600000

/*
 * Returns false, with a sentence in err, when the mail configuration cannot
 * work: in production a missing RESEND_API_KEY (the log transport would write
 * tokens and addresses to the log), or a missing MAIL_FROM, FRONTEND_URL or
 * RESEND_API_URL. The master calls it before forking.
 */
bool mail_config_check(const struct config *cfg, char *err, size_t len);

/*
 * Runs the sender loop in the current (freshly forked) process: opens its own
 * storage, claims due outbox entries, delivers them, until SIGTERM or SIGINT,
 * or until the parent dies. Returns the process exit code: 0 after a signal,
 * 1 when the storage cannot be opened.
 */
int mail_sender_run(const struct config *cfg);

/*
 * Delivers the entries due now once and returns (the Lambda scheduled drain and
 * tests). Sets *sent and *failed when not NULL.
 */
enum kairos_error mail_drain_once(const struct config *cfg, struct storage *storage, size_t *sent, size_t *failed);

/*
 * Tries to deliver the outbox entry entry_id now, once, within timeout_ms (the
 * Lambda front end, where no sender process runs between invocations). An
 * entry that cannot be delivered stays in the outbox for the scheduled drain.
 * Other due entries claimed along with it are delivered too. Returns KAIROS_OK
 * when the entry was sent, had been sent already, was marked failed or no
 * longer exists; KAIROS_ERR_UNAVAILABLE when it was left for a later attempt.
 */
enum kairos_error mail_send_inline(const struct config *cfg, struct storage *storage, const char *entry_id,
                                   long timeout_ms);

/* Options of one drain pass; mail_drain_options_init gives the sender's defaults. */
struct mail_drain_options {
    int64_t now_ms;          /* the time the pass runs at: due entries, lease and retry times count from it */
    size_t claim_max;        /* entries claimed at once */
    long connect_timeout_ms; /* of each Resend request */
    long timeout_ms;         /* of each Resend request, connection included */
};

struct mail_drain_stats {
    size_t claimed;
    size_t sent;
    size_t retried;
    size_t failed;
    bool stopped_early; /* set when the storage failed or Resend sent no response, so the claimed entries left wait for
                           their lease */
};

void mail_drain_options_init(struct mail_drain_options *options);

/*
 * Claims up to options->claim_max entries due at options->now_ms and delivers
 * them. Adds the outcome to *stats. A pass stops early, leaving the rest of
 * its entries to return after their lease, when the storage fails or Resend
 * cannot be reached. Returns the storage error, if any.
 */
enum kairos_error mail_drain(const struct config *cfg, struct storage *storage,
                             const struct mail_drain_options *options, struct mail_drain_stats *stats);

/* The retry delay after `attempts` failed attempts, jitter included (milliseconds). */
int64_t mail_retry_delay_ms(int attempts);

#endif
