/*
 * The outbox sender. A pass claims due entries with a lease, builds each
 * message for the user as it is now, sends it through the transport and marks
 * the entry sent, for retry (exponential backoff with jitter, or the
 * provider's Retry-After) or failed. The sender process repeats passes until
 * SIGTERM, and Lambda runs single passes.
 *
 * An entry that is claimed but never marked returns to pending when its lease
 * runs out. So a crash between sending and marking repeats the send, and the
 * Idempotency-Key (one per entry) keeps Resend from delivering it twice.
 */
#include "mail/mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "mail/templates.h"
#include "mail/transport.h"
#include "storage/log.h"

/* Pause between polls of an empty outbox, and the longest pause after storage errors. */
#define MAIL_POLL_MS                1000
#define MAIL_STORAGE_BACKOFF_MAX_MS 30000

static volatile sig_atomic_t mail_stop_requested;

static void mail_on_stop_signal(int sig)
{
    (void)sig;
    mail_stop_requested = 1;
}

bool mail_config_check(const struct config *cfg, char *err, size_t len)
{
    if (cfg->environment == ENV_PRODUCTION && (cfg->resend_api_key == NULL || cfg->resend_api_key[0] == '\0')) {
        snprintf(err, len, "RESEND_API_KEY is missing: it is required when ENVIRONMENT is production");
        return false;
    }
    if (cfg->mail_from == NULL || cfg->mail_from[0] == '\0') {
        snprintf(err, len,
                 "MAIL_FROM is missing. Set it to the sender address of mail, e.g. Kairos <no-reply@example.com>");
        return false;
    }
    if (cfg->frontend_url == NULL || cfg->frontend_url[0] == '\0') {
        snprintf(err, len, "FRONTEND_URL is missing. Set it to the base URL of links in mail");
        return false;
    }
    if (cfg->resend_api_key != NULL && (cfg->resend_api_url == NULL || cfg->resend_api_url[0] == '\0')) {
        snprintf(err, len, "RESEND_API_URL is empty. Unset it to use https://api.resend.com");
        return false;
    }
    return true;
}

void mail_drain_options_init(struct mail_drain_options *options)
{
    options->now_ms = storage_now_ms();
    options->claim_max = MAIL_CLAIM_MAX;
    options->connect_timeout_ms = MAIL_CONNECT_TIMEOUT_MS;
    options->timeout_ms = MAIL_TIMEOUT_MS;
}

int64_t mail_retry_delay_ms(int attempts)
{
    int64_t delay = MAIL_RETRY_MAX_MS;
    if (attempts < 0)
        attempts = 0;
    if (attempts < 20)
        delay = (int64_t)MAIL_RETRY_BASE_MS << attempts;
    if (delay > MAIL_RETRY_MAX_MS)
        delay = MAIL_RETRY_MAX_MS;

    /* Jitter of -20 % to +20 % spreads the retries of entries that failed together. */
    int64_t jitter_percent = (int64_t)randombytes_uniform(41) - 20;
    return delay + delay * jitter_percent / 100;
}

/* Milliseconds until the next attempt: the provider's Retry-After when it sent one, else the backoff. */
static int64_t mail_next_delay_ms(const struct mail_entry *entry, const struct mail_send_result *result)
{
    if (result->retry_after_s >= 0) {
        int64_t delay = (int64_t)result->retry_after_s * 1000;
        return delay > MAIL_RETRY_MAX_MS ? MAIL_RETRY_MAX_MS : delay;
    }
    return mail_retry_delay_ms(entry->attempts);
}

static void mail_mark_failed(struct storage *storage, const struct mail_entry *entry, const char *reason,
                             struct mail_drain_stats *stats)
{
    log_warn("mail", "%s mail %s for user %s failed: %s", mail_kind_name(entry->kind), entry->id, entry->user_id,
             reason);
    enum kairos_error err = storage->ops->mail_mark_failed(storage, entry->id, reason);
    if (err != KAIROS_OK)
        log_error("mail", "storing the failure of mail %s failed: %s", entry->id, kairos_error_name(err));
    stats->failed++;
}

/* Schedules the next attempt, or marks the entry failed after MAIL_MAX_ATTEMPTS. */
static void mail_mark_retry(struct storage *storage, const struct mail_entry *entry, const char *reason,
                            int64_t delay_ms, int64_t now_ms, struct mail_drain_stats *stats)
{
    if (entry->attempts + 1 >= MAIL_MAX_ATTEMPTS) {
        char message[320];
        snprintf(message, sizeof(message), "gave up after %d attempts: %s", entry->attempts + 1, reason);
        mail_mark_failed(storage, entry, message, stats);
        return;
    }

    log_warn("mail", "%s mail %s attempt %d failed: %s (next attempt in %lld s)", mail_kind_name(entry->kind),
             entry->id, entry->attempts + 1, reason, (long long)(delay_ms / 1000));
    enum kairos_error err = storage->ops->mail_mark_retry(storage, entry->id, now_ms + delay_ms, reason);
    if (err != KAIROS_OK)
        log_error("mail", "scheduling a retry of mail %s failed: %s", entry->id, kairos_error_name(err));
    stats->retried++;
}

static void mail_mark_sent(struct storage *storage, const struct mail_entry *entry, struct mail_drain_stats *stats)
{
    log_info("mail", "%s mail %s for user %s sent", mail_kind_name(entry->kind), entry->id, entry->user_id);
    enum kairos_error err = storage->ops->mail_mark_sent(storage, entry->id);
    /* The mail is out; if the mark is lost, the lease runs out and the Idempotency-Key stops a second send. */
    if (err != KAIROS_OK)
        log_error("mail", "marking mail %s sent failed: %s", entry->id, kairos_error_name(err));
    stats->sent++;
}

/*
 * Delivers one claimed entry. Returns false when the pass should stop: the
 * storage failed, or Resend sent no response, so later entries would wait for
 * the same timeout.
 */
static bool mail_deliver(const struct config *cfg, struct storage *storage, const struct mail_drain_options *options,
                         const struct mail_entry *entry, struct mail_drain_stats *stats, enum kairos_error *storage_err)
{
    struct pool *pool = pool_create();
    struct user user;
    bool go_on = true;

    enum kairos_error err = storage->ops->user_get(storage, pool, entry->user_id, &user);
    if (err == KAIROS_ERR_NOT_FOUND) {
        mail_mark_failed(storage, entry, "user deleted", stats);
        goto done;
    }
    if (err != KAIROS_OK) {
        log_error("mail", "loading user %s for mail %s failed: %s", entry->user_id, entry->id, kairos_error_name(err));
        *storage_err = err;
        go_on = false;
        goto done;
    }

    struct mail_message msg;
    err = mail_message_build(pool, cfg, entry->kind, &user, options->now_ms, &msg);
    if (err == KAIROS_ERR_INVALID) {
        mail_mark_failed(storage, entry, "user has no email address or password", stats);
        goto done;
    }
    if (err != KAIROS_OK) {
        mail_mark_retry(storage, entry, "building the message failed", mail_retry_delay_ms(entry->attempts),
                        options->now_ms, stats);
        goto done;
    }

    char key[64];
    snprintf(key, sizeof(key), "kairos-mail-%s", entry->id);
    struct mail_send_options send_options = {options->connect_timeout_ms, options->timeout_ms};
    struct mail_send_result result;
    mail_transport_send(cfg, &msg, key, &send_options, &result);

    switch (result.status) {
    case MAIL_SEND_OK:
        mail_mark_sent(storage, entry, stats);
        break;
    case MAIL_SEND_RETRY:
        mail_mark_retry(storage, entry, result.error, mail_next_delay_ms(entry, &result), options->now_ms, stats);
        go_on = result.http_status != 0;
        break;
    case MAIL_SEND_FAILED:
        mail_mark_failed(storage, entry, result.error, stats);
        break;
    }

done:
    pool_destroy(pool);
    return go_on;
}

enum kairos_error mail_drain(const struct config *cfg, struct storage *storage,
                             const struct mail_drain_options *options, struct mail_drain_stats *stats)
{
    struct pool *pool = pool_create();
    struct mail_entry *entries = NULL;
    size_t count = 0;
    enum kairos_error err =
        storage->ops->mail_claim(storage, pool, options->now_ms, MAIL_LEASE_MS, options->claim_max, &entries, &count);
    if (err != KAIROS_OK) {
        log_error("mail", "claiming outbox entries failed: %s", kairos_error_name(err));
        pool_destroy(pool);
        return err;
    }

    stats->claimed += count;
    enum kairos_error storage_err = KAIROS_OK;
    for (size_t i = 0; i < count; i++) {
        if (!mail_deliver(cfg, storage, options, &entries[i], stats, &storage_err)) {
            stats->stopped_early = true;
            if (i + 1 < count)
                log_warn("mail", "%zu claimed mails wait for their lease to run out", count - i - 1);
            break;
        }
    }
    pool_destroy(pool);
    return storage_err;
}

enum kairos_error mail_drain_once(const struct config *cfg, struct storage *storage, size_t *sent, size_t *failed)
{
    struct mail_drain_options options;
    mail_drain_options_init(&options);
    struct mail_drain_stats stats = {0};

    /*
     * Pass after pass until one claims less than a full batch: every claimed entry
     * leaves the due set (sent, failed, retried later, or leased), so this ends.
     * A pass that found Resend unreachable ends the drain, so that a backlog does
     * not cost one timeout per batch.
     */
    enum kairos_error err = KAIROS_OK;
    for (;;) {
        size_t before = stats.claimed;
        options.now_ms = storage_now_ms();
        err = mail_drain(cfg, storage, &options, &stats);
        if (err != KAIROS_OK || stats.stopped_early || stats.claimed - before < options.claim_max)
            break;
    }

    if (sent != NULL)
        *sent = stats.sent;
    if (failed != NULL)
        *failed = stats.failed;
    return err;
}

enum kairos_error mail_send_inline(const struct config *cfg, struct storage *storage, const char *entry_id,
                                   long timeout_ms)
{
    struct pool *pool = pool_create();
    struct mail_entry before;
    enum kairos_error err = storage->ops->mail_get(storage, pool, entry_id, &before);
    if (err != KAIROS_OK) {
        pool_destroy(pool);
        return err == KAIROS_ERR_NOT_FOUND ? KAIROS_OK : err;
    }

    struct mail_drain_options options;
    mail_drain_options_init(&options);
    options.timeout_ms = timeout_ms;
    if (options.connect_timeout_ms > timeout_ms)
        options.connect_timeout_ms = timeout_ms;
    /* The storage claims oldest first; a small batch reaches a fresh entry unless a backlog waits. */
    options.claim_max = 3;

    if (before.status == MAIL_PENDING && before.next_attempt_at <= options.now_ms) {
        struct mail_drain_stats stats = {0};
        err = mail_drain(cfg, storage, &options, &stats);
        if (err != KAIROS_OK) {
            pool_destroy(pool);
            return err;
        }
    }

    struct mail_entry after;
    err = storage->ops->mail_get(storage, pool, entry_id, &after);
    if (err == KAIROS_OK && (after.status == MAIL_PENDING || after.status == MAIL_SENDING))
        err = KAIROS_ERR_UNAVAILABLE;
    else if (err == KAIROS_ERR_NOT_FOUND)
        err = KAIROS_OK;
    pool_destroy(pool);
    return err;
}

static bool mail_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = mail_on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: the sleep between polls returns at once with EINTR. */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return false;

    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0 || sigaction(SIGHUP, &sa, NULL) != 0)
        return false;
    return true;
}

static void mail_sleep_ms(long ms)
{
    if (mail_stop_requested)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* EINTR from SIGTERM ends the sleep early, which is what we want */
}

/* Runs passes until a stop signal. */
static void mail_sender_loop(const struct config *cfg, struct storage *storage)
{
    long storage_backoff_ms = MAIL_POLL_MS;
    while (!mail_stop_requested) {
        struct mail_drain_options options;
        mail_drain_options_init(&options);
        struct mail_drain_stats stats = {0};
        enum kairos_error err = mail_drain(cfg, storage, &options, &stats);

        if (err != KAIROS_OK) {
            /* The storage is down or busy: wait longer each time, up to MAIL_STORAGE_BACKOFF_MAX_MS. */
            mail_sleep_ms(storage_backoff_ms);
            storage_backoff_ms = storage_backoff_ms * 2 > MAIL_STORAGE_BACKOFF_MAX_MS ? MAIL_STORAGE_BACKOFF_MAX_MS
                                                                                      : storage_backoff_ms * 2;
            continue;
        }
        storage_backoff_ms = MAIL_POLL_MS;
        /* A full batch means more may be due: claim again at once. */
        if (stats.claimed < options.claim_max)
            mail_sleep_ms(MAIL_POLL_MS);
    }
}

int mail_sender_run(const struct config *cfg)
{
    log_set_process("mail");
    mail_stop_requested = 0;
    if (!mail_install_signals()) {
        log_error("mail", "installing signal handlers failed: %s", strerror(errno));
        return 1;
    }
    /*
     * The sender must not outlive the master. A parent that changed between the
     * two getppid() calls died before prctl() took effect. (Comparing with 1 would
     * be wrong: in a container the master itself may be process 1.)
     */
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
        log_error("mail", "prctl(PR_SET_PDEATHSIG) failed: %s", strerror(errno));
        return 1;
    }
    if (getppid() != parent) {
        log_info("mail", "master is gone; mail sender exits");
        return 0;
    }
    if (sodium_init() < 0) {
        log_error("mail", "sodium_init failed");
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("mail", "curl_global_init failed");
        return 1;
    }

    struct storage *storage = NULL;
    char err_text[256];
    enum kairos_error err = storage_open(cfg->storage_uri, &storage, err_text, sizeof(err_text));
    if (err != KAIROS_OK) {
        log_error("mail", "opening the storage failed: %s", err_text);
        curl_global_cleanup();
        return 1;
    }

    if (cfg->resend_api_key == NULL || cfg->resend_api_key[0] == '\0')
        log_info("mail", "no RESEND_API_KEY, messages are written to the log");
    else
        log_info("mail", "mail sender started; delivering through %s", cfg->resend_api_url);

    mail_sender_loop(cfg, storage);

    storage_close(storage);
    curl_global_cleanup();
    log_info("mail", "mail sender stopped");
    return 0;
}
