/*
 * Tests of the outbox sender against the real SpatiaLite backend on a temp
 * file and a capture server: a forked HTTP/1.1 server on a free 127.0.0.1
 * port that plays Resend. It responds to each request with the next action of a
 * script (200, 400, 409, 429 with Retry-After: 1, 500, or no response at all) and
 * records each request into a file for the test to check.
 */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "mail/mail.h"
#include "mail/transport.h"
#include "storage/backends.h"
#include "t/unit/tap.h"

#define CAPTURE_MAX_REQUEST 65536

enum capture_action { ANSWER_200, ANSWER_400, ANSWER_409_KEY_USED, ANSWER_429, ANSWER_500, ANSWER_NOTHING };

struct capture {
    pid_t pid;
    int port;
    char dir[384]; /* request-N.txt files, N from 0 */
};

/* A request as recorded by the capture server. */
struct captured_request {
    char method[16];
    char path[256];
    char authorization[256];
    char idempotency_key[256];
    char content_type[128];
    json_t *body;
};

static char test_dir[256];

/* ok() that also returns the condition, so a test can stop when its setup failed. */
static bool check(bool cond, const char *name)
{
    ok(cond, name);
    return cond;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void capture_write_answer(int fd, enum capture_action action)
{
    const char *answer = NULL;
    switch (action) {
    case ANSWER_200:
        answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42\r\nConnection: close\r\n\r\n"
                 "{\"id\":\"4ef9a417-02e9-4d39-ad75-9611e0fcc33c\"}";
        break;
    case ANSWER_400:
        answer = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                 "{\"statusCode\":400,\"message\":\"Invalid `to` field.\",\"name\":\"validation_error\"}";
        break;
    case ANSWER_409_KEY_USED:
        answer = "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                 "{\"statusCode\":409,\"message\":\"Same idempotency key used with a different request payload.\","
                 "\"name\":\"invalid_idempotent_request\"}";
        break;
    case ANSWER_429:
        answer = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
                 "Connection: close\r\n\r\n"
                 "{\"statusCode\":429,\"message\":\"Too many requests.\",\"name\":\"rate_limit_exceeded\"}";
        break;
    case ANSWER_500:
        answer = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                 "{\"statusCode\":500,\"message\":\"Internal server error.\",\"name\":\"internal_server_error\"}";
        break;
    case ANSWER_NOTHING:
        sleep(30); /* the client gives up first; the test kills this server */
        return;
    }
    size_t len = strlen(answer);
    if (write(fd, answer, len) != (ssize_t)len)
        _exit(3);
}

/* Reads one request (headers, then Content-Length bytes of body) into buf; returns its length or -1. */
static ssize_t capture_read_request(int fd, char *buf, size_t size)
{
    size_t len = 0;
    char *end = NULL;
    while (end == NULL) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t header_len = (size_t)(end + 4 - buf);
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    size_t body_len = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    while (len < header_len + body_len && len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

static void capture_serve(int listener, const char *dir, const enum capture_action *script, size_t steps)
{
    static char buf[CAPTURE_MAX_REQUEST];
    for (size_t i = 0; i < steps; i++) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            _exit(2);
        ssize_t len = capture_read_request(fd, buf, sizeof(buf));
        if (len < 0)
            _exit(2);

        char path[512], tmp[512];
        snprintf(tmp, sizeof(tmp), "%s/request-%zu.tmp", dir, i);
        snprintf(path, sizeof(path), "%s/request-%zu.txt", dir, i);
        FILE *f = fopen(tmp, "w");
        if (f == NULL || fwrite(buf, 1, (size_t)len, f) != (size_t)len || fclose(f) != 0 || rename(tmp, path) != 0)
            _exit(2);

        capture_write_answer(fd, script[i]);
        close(fd);
    }
    _exit(0);
}

/* Starts a capture server that responds to `steps` requests, then exits. */
static bool capture_start(struct capture *capture, const enum capture_action *script, size_t steps)
{
    static int serial;
    snprintf(capture->dir, sizeof(capture->dir), "%s/capture-%d", test_dir, serial++);
    if (mkdir(capture->dir, 0700) != 0)
        return false;

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    socklen_t addr_len = sizeof(addr);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(listener, 8) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0)
        return false;
    capture->port = ntohs(addr.sin_port);

    fflush(stdout);
    capture->pid = fork();
    if (capture->pid < 0)
        return false;
    if (capture->pid == 0)
        capture_serve(listener, capture->dir, script, steps);
    close(listener);
    return true;
}

static void capture_stop(struct capture *capture)
{
    if (capture->pid > 0) {
        kill(capture->pid, SIGKILL);
        waitpid(capture->pid, NULL, 0);
        capture->pid = 0;
    }
}

static size_t capture_count(const struct capture *capture)
{
    size_t n = 0;
    char path[512];
    for (;;) {
        snprintf(path, sizeof(path), "%s/request-%zu.txt", capture->dir, n);
        if (access(path, F_OK) != 0)
            return n;
        n++;
    }
}

static void copy_header(const char *headers, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    char needle[64];
    snprintf(needle, sizeof(needle), "\r\n%s:", name);
    const char *p = strcasestr(headers, needle);
    if (p == NULL)
        return;
    p += strlen(needle);
    while (*p == ' ')
        p++;
    size_t len = strcspn(p, "\r\n");
    snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), p);
}

/* Parses request n of capture into out; false when it is missing. */
static bool capture_read(const struct capture *capture, size_t n, struct captured_request *out)
{
    static char buf[CAPTURE_MAX_REQUEST];
    char path[512];
    snprintf(path, sizeof(path), "%s/request-%zu.txt", capture->dir, n);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';

    memset(out, 0, sizeof(*out));
    if (sscanf(buf, "%15s %255s", out->method, out->path) != 2)
        return false;
    char *end = strstr(buf, "\r\n\r\n");
    if (end == NULL)
        return false;
    *end = '\0';
    copy_header(buf, "Authorization", out->authorization, sizeof(out->authorization));
    copy_header(buf, "Idempotency-Key", out->idempotency_key, sizeof(out->idempotency_key));
    copy_header(buf, "Content-Type", out->content_type, sizeof(out->content_type));
    out->body = json_loads(end + 4, 0, NULL);
    return true;
}

static struct config test_config(const struct capture *capture)
{
    static char url[64];
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    memcpy(cfg.secret_key, "0123456789abcdef0123456789abcdef", 32);
    cfg.secret_key_len = 32;
    cfg.verification_token_minutes = 15;
    cfg.password_reset_token_minutes = 15;
    cfg.mail_from = "Kairos <no-reply@kairos.example>";
    cfg.frontend_url = "https://app.kairos.example";
    if (capture != NULL) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", capture->port);
        cfg.resend_api_key = "re_test_key";
        cfg.resend_api_url = url;
    }
    return cfg;
}

static struct storage *open_storage(const char *name)
{
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/%s.sqlite", test_dir, name);
    struct storage *storage = NULL;
    if (spatialite_storage_open(path, &storage, err, sizeof(err)) != KAIROS_OK) {
        printf("# opening %s failed: %s\n", path, err);
        return NULL;
    }
    return storage;
}

/* Adds a user and an outbox entry due at now_ms; fills entry. */
static bool add_user_and_mail(struct storage *storage, const char *email, enum mail_kind kind, int64_t now_ms,
                              struct mail_entry *entry)
{
    struct user user;
    memset(&user, 0, sizeof(user));
    user.email = (char *)email;
    user.name = "Ada <Rider>";
    user.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    if (storage->ops->user_create(storage, &user) != KAIROS_OK)
        return false;

    memset(entry, 0, sizeof(*entry));
    memcpy(entry->user_id, user.id, sizeof(user.id));
    entry->kind = kind;
    entry->to_email = (char *)email;
    entry->status = MAIL_PENDING;
    entry->next_attempt_at = now_ms;
    return storage->ops->mail_enqueue(storage, entry) == KAIROS_OK;
}

static struct mail_drain_options drain_options(int64_t now_ms)
{
    struct mail_drain_options options;
    mail_drain_options_init(&options);
    options.now_ms = now_ms;
    options.connect_timeout_ms = 2000;
    options.timeout_ms = 5000;
    return options;
}

static struct mail_drain_stats drain_at(const struct config *cfg, struct storage *storage, int64_t now_ms)
{
    struct mail_drain_options options = drain_options(now_ms);
    struct mail_drain_stats stats = {0};
    enum kairos_error err = mail_drain(cfg, storage, &options, &stats);
    if (err != KAIROS_OK)
        printf("# drain failed: %s\n", kairos_error_name(err));
    return stats;
}

static struct mail_entry get_entry(struct storage *storage, struct pool *pool, const char *id)
{
    struct mail_entry entry;
    memset(&entry, 0, sizeof(entry));
    if (storage->ops->mail_get(storage, pool, id, &entry) != KAIROS_OK)
        entry.status = (enum mail_status) - 1;
    return entry;
}

static void test_delivered_once(void)
{
    enum capture_action script[] = {ANSWER_200};
    struct capture capture;
    struct storage *storage = open_storage("delivered");
    if (!check(storage != NULL && capture_start(&capture, script, 1), "delivered: setup"))
        return;
    struct config cfg = test_config(&capture);
    struct pool *pool = pool_create();
    int64_t now = storage_now_ms();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "ada@kairos.example", MAIL_VERIFY_EMAIL, now, &entry), "delivered: enqueue");

    struct mail_drain_stats stats = drain_at(&cfg, storage, now);
    is_int(stats.claimed, 1, "delivered: claimed");
    is_int(stats.sent, 1, "delivered: sent");
    is_int(get_entry(storage, pool, entry.id).status, MAIL_SENT, "delivered: status sent");

    struct captured_request req;
    if (check(capture_read(&capture, 0, &req), "delivered: request recorded")) {
        char expected_key[64];
        snprintf(expected_key, sizeof(expected_key), "kairos-mail-%s", entry.id);
        is_str(req.method, "POST", "delivered: method");
        is_str(req.path, "/emails", "delivered: path");
        is_str(req.authorization, "Bearer re_test_key", "delivered: authorization");
        is_str(req.idempotency_key, expected_key, "delivered: idempotency key");
        is_str(req.content_type, "application/json", "delivered: content type");
        is_str(json_string_value(json_object_get(req.body, "from")), cfg.mail_from, "delivered: from");
        json_t *to = json_object_get(req.body, "to");
        is_int(json_array_size(to), 1, "delivered: one recipient");
        is_str(json_string_value(json_array_get(to, 0)), "ada@kairos.example", "delivered: to");
        is_str(json_string_value(json_object_get(req.body, "subject")), "Verify your email address for Kairos",
               "delivered: subject");
        const char *html = json_string_value(json_object_get(req.body, "html"));
        const char *text = json_string_value(json_object_get(req.body, "text"));
        ok(html != NULL && strstr(html, "Ada &lt;Rider&gt;") != NULL, "delivered: html escapes name");
        const char *link = text != NULL ? strstr(text, "https://app.kairos.example/verify?token=") : NULL;
        ok(link != NULL, "delivered: text has link");
        if (link != NULL) {
            char *token = pool_strndup(pool, link + 40, strcspn(link + 40, " \r\n"));
            struct jwt_claims claims;
            is_int(jwt_token_verify(pool, cfg.secret_key, cfg.secret_key_len, token, JWT_SCOPE_EMAIL_VERIFICATION,
                                    now / 1000, &claims),
                   JWT_VALID, "delivered: token verifies");
            is_str(claims.sub, "ada@kairos.example", "delivered: token sub");
        }
        json_decref(req.body);
    }

    stats = drain_at(&cfg, storage, now + 3600 * 1000);
    is_int(stats.claimed, 0, "delivered: not claimed again");
    is_int(capture_count(&capture), 1, "delivered: one request");
    capture_stop(&capture);
    storage_close(storage);
    pool_destroy(pool);
}

static void test_retry_after_500(void)
{
    enum capture_action script[] = {ANSWER_500, ANSWER_200};
    struct capture capture;
    struct storage *storage = open_storage("retry500");
    if (!check(storage != NULL && capture_start(&capture, script, 2), "500: setup"))
        return;
    struct config cfg = test_config(&capture);
    struct pool *pool = pool_create();
    int64_t now = storage_now_ms();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "bea@kairos.example", MAIL_RESET_PASSWORD, now, &entry), "500: enqueue");

    struct mail_drain_stats stats = drain_at(&cfg, storage, now);
    is_int(stats.retried, 1, "500: retried");
    is_int(stats.sent, 0, "500: not sent");
    struct mail_entry after = get_entry(storage, pool, entry.id);
    is_int(after.status, MAIL_PENDING, "500: pending again");
    is_int(after.attempts, 1, "500: one attempt");
    int64_t delay = after.next_attempt_at - now;
    ok(delay >= 24000 && delay <= 36000, "500: backoff 30 s +-20 %");
    ok(after.last_error != NULL && strstr(after.last_error, "500") != NULL, "500: error recorded");

    stats = drain_at(&cfg, storage, now + 1000);
    is_int(stats.claimed, 0, "500: not due before backoff");
    stats = drain_at(&cfg, storage, after.next_attempt_at);
    is_int(stats.sent, 1, "500: sent after backoff");
    is_int(get_entry(storage, pool, entry.id).status, MAIL_SENT, "500: status sent");

    struct captured_request first, second;
    if (check(capture_read(&capture, 0, &first) && capture_read(&capture, 1, &second), "500: two requests")) {
        is_str(second.idempotency_key, first.idempotency_key, "500: same idempotency key");
        is_str(json_string_value(json_object_get(second.body, "subject")), "Reset your Kairos password",
               "500: reset subject");
        json_decref(first.body);
        json_decref(second.body);
    }
    capture_stop(&capture);
    storage_close(storage);
    pool_destroy(pool);
}

static void test_retry_after_429(void)
{
    enum capture_action script[] = {ANSWER_429, ANSWER_200};
    struct capture capture;
    struct storage *storage = open_storage("retry429");
    if (!check(storage != NULL && capture_start(&capture, script, 2), "429: setup"))
        return;
    struct config cfg = test_config(&capture);
    struct pool *pool = pool_create();
    int64_t now = storage_now_ms();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "cy@kairos.example", MAIL_VERIFY_EMAIL, now, &entry), "429: enqueue");

    struct mail_drain_stats stats = drain_at(&cfg, storage, now);
    is_int(stats.retried, 1, "429: retried");
    struct mail_entry after = get_entry(storage, pool, entry.id);
    is_int(after.next_attempt_at, now + 1000, "429: Retry-After honoured");
    ok(after.last_error != NULL && strstr(after.last_error, "rate_limit_exceeded") != NULL, "429: error recorded");

    stats = drain_at(&cfg, storage, now + 999);
    is_int(stats.claimed, 0, "429: not due before Retry-After");
    stats = drain_at(&cfg, storage, now + 1000);
    is_int(stats.sent, 1, "429: sent after Retry-After");
    is_int(capture_count(&capture), 2, "429: two requests");
    capture_stop(&capture);
    storage_close(storage);
    pool_destroy(pool);
}

static void test_rejected(void)
{
    enum capture_action script[] = {ANSWER_400};
    struct capture capture;
    struct storage *storage = open_storage("rejected");
    if (!check(storage != NULL && capture_start(&capture, script, 1), "400: setup"))
        return;
    struct config cfg = test_config(&capture);
    struct pool *pool = pool_create();
    int64_t now = storage_now_ms();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "dee@kairos.example", MAIL_VERIFY_EMAIL, now, &entry), "400: enqueue");

    struct mail_drain_stats stats = drain_at(&cfg, storage, now);
    is_int(stats.failed, 1, "400: failed");
    is_int(stats.retried, 0, "400: not retried");
    struct mail_entry after = get_entry(storage, pool, entry.id);
    is_int(after.status, MAIL_FAILED, "400: status failed");
    is_str(after.last_error, "Resend returned 400 validation_error: Invalid `to` field.", "400: reason recorded");
    stats = drain_at(&cfg, storage, now + 24 * 3600 * 1000LL);
    is_int(stats.claimed, 0, "400: never claimed again");
    capture_stop(&capture);
    storage_close(storage);
    pool_destroy(pool);
}

/*
 * A sender that dies after claiming (or after sending, before marking) leaves
 * the entry until its lease runs out. A new sender with a new storage handle
 * then sends it with the same Idempotency-Key. A sent entry is never claimed
 * again.
 */
static void test_restart(void)
{
    enum capture_action script[] = {ANSWER_200, ANSWER_409_KEY_USED};
    struct capture capture;
    struct storage *storage = open_storage("restart");
    if (!check(storage != NULL && capture_start(&capture, script, 2), "restart: setup"))
        return;
    struct config cfg = test_config(&capture);
    struct pool *pool = pool_create();
    int64_t now = storage_now_ms();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "eve@kairos.example", MAIL_VERIFY_EMAIL, now, &entry), "restart: enqueue");

    /* The first sender claims the entry, sends it and dies before marking it. */
    struct mail_entry *claimed = NULL;
    size_t count = 0;
    is_int(storage->ops->mail_claim(storage, pool, now, MAIL_LEASE_MS, 10, &claimed, &count), KAIROS_OK,
           "restart: claim");
    is_int(count, 1, "restart: one claimed");
    struct mail_drain_stats stats = drain_at(&cfg, storage, now);
    is_int(stats.claimed, 0, "restart: leased entry not claimed");

    struct pool *send_pool = pool_create();
    struct user user;
    struct mail_message msg;
    struct mail_send_result result;
    struct mail_send_options send_options = {2000, 5000};
    char key[64];
    snprintf(key, sizeof(key), "kairos-mail-%s", entry.id);
    is_int(storage->ops->user_get(storage, send_pool, entry.user_id, &user), KAIROS_OK, "restart: user");
    is_int(mail_message_build(send_pool, &cfg, entry.kind, &user, now, &msg), KAIROS_OK, "restart: message");
    mail_resend_send(&cfg, &msg, key, &send_options, &result);
    is_int(result.status, MAIL_SEND_OK, "restart: first sender sent");
    pool_destroy(send_pool);
    storage_close(storage);

    /* A new sender after the lease: Resend has seen the key and returns 409. */
    storage = open_storage("restart");
    stats = drain_at(&cfg, storage, now + MAIL_LEASE_MS + 1);
    is_int(stats.claimed, 1, "restart: reclaimed after lease");
    is_int(stats.sent, 1, "restart: used key counts as sent");
    is_int(get_entry(storage, pool, entry.id).status, MAIL_SENT, "restart: status sent");
    stats = drain_at(&cfg, storage, now + 2 * MAIL_LEASE_MS);
    is_int(stats.claimed, 0, "restart: sent entry not claimed");

    struct captured_request first, second;
    if (check(capture_read(&capture, 0, &first) && capture_read(&capture, 1, &second), "restart: two requests")) {
        is_str(second.idempotency_key, first.idempotency_key, "restart: same idempotency key");
        is_str(first.idempotency_key, key, "restart: key names entry");
        json_decref(first.body);
        json_decref(second.body);
    }
    capture_stop(&capture);
    storage_close(storage);
    pool_destroy(pool);
}

static void test_hung(void)
{
    enum capture_action script[] = {ANSWER_NOTHING};
    struct capture capture;
    struct storage *storage = open_storage("hung");
    if (!check(storage != NULL && capture_start(&capture, script, 1), "hung: setup"))
        return;
    struct config cfg = test_config(&capture);
    struct pool *pool = pool_create();
    int64_t now = storage_now_ms();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "fay@kairos.example", MAIL_VERIFY_EMAIL, now, &entry), "hung: enqueue");

    struct mail_drain_options options = drain_options(now);
    options.timeout_ms = 300;
    struct mail_drain_stats stats = {0};
    int64_t started = monotonic_ms();
    is_int(mail_drain(&cfg, storage, &options, &stats), KAIROS_OK, "hung: drain");
    int64_t elapsed = monotonic_ms() - started;
    ok(elapsed >= 250 && elapsed < 2000, "hung: gives up after timeout");
    is_int(stats.retried, 1, "hung: retried");
    struct mail_entry after = get_entry(storage, pool, entry.id);
    is_int(after.status, MAIL_PENDING, "hung: left pending");
    is_int(after.attempts, 1, "hung: one attempt");
    ok(after.last_error != NULL && strstr(after.last_error, "imeout") != NULL, "hung: timeout recorded");
    capture_stop(&capture);
    storage_close(storage);
    pool_destroy(pool);
}

static void test_unreachable(void)
{
    /* A port that was free a moment ago: connection refused, so the entry stays for retry. */
    struct capture closed = {.pid = 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    socklen_t len = sizeof(addr);
    bool got_port = fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
                    getsockname(fd, (struct sockaddr *)&addr, &len) == 0;
    closed.port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    struct storage *storage = open_storage("unreachable");
    if (!check(storage != NULL && got_port, "unreachable: setup"))
        return;
    struct config cfg = test_config(&closed);
    struct pool *pool = pool_create();
    int64_t now = storage_now_ms();
    struct mail_entry first, second;
    ok(add_user_and_mail(storage, "gus@kairos.example", MAIL_VERIFY_EMAIL, now, &first) &&
           add_user_and_mail(storage, "hal@kairos.example", MAIL_VERIFY_EMAIL, now, &second),
       "unreachable: enqueue");

    struct mail_drain_stats stats = drain_at(&cfg, storage, now);
    is_int(stats.claimed, 2, "unreachable: claimed both");
    is_int(stats.retried, 1, "unreachable: pass stops after first");
    ok(stats.stopped_early, "unreachable: stop reported");
    is_int(get_entry(storage, pool, first.id).status, MAIL_PENDING, "unreachable: first pending");
    is_int(get_entry(storage, pool, second.id).status, MAIL_SENDING, "unreachable: second waits for lease");
    storage_close(storage);
    pool_destroy(pool);
}

/* Makes user_get return NOT_FOUND, as when a user is deleted between claim and delivery. */
static struct storage_ops gone_ops;
static enum kairos_error user_get_gone(struct storage *s, struct pool *pool, const char *id, struct user *out)
{
    (void)s, (void)pool, (void)id, (void)out;
    return KAIROS_ERR_NOT_FOUND;
}

static void test_user_deleted(void)
{
    enum capture_action script[] = {ANSWER_200};
    struct capture capture;
    struct storage *storage = open_storage("deleted");
    if (!check(storage != NULL && capture_start(&capture, script, 1), "deleted: setup"))
        return;
    struct config cfg = test_config(&capture);
    struct pool *pool = pool_create();
    int64_t now = storage_now_ms();
    struct mail_entry entry;

    /* Deleting the user removes its queued mail. */
    ok(add_user_and_mail(storage, "ida@kairos.example", MAIL_VERIFY_EMAIL, now, &entry), "deleted: enqueue");
    is_int(storage->ops->user_delete(storage, entry.user_id), KAIROS_OK, "deleted: delete user");
    struct mail_drain_stats stats = drain_at(&cfg, storage, now);
    is_int(stats.claimed, 0, "deleted: nothing to claim");

    /* A user that disappears after the claim gets no mail, and the entry fails. */
    ok(add_user_and_mail(storage, "jo@kairos.example", MAIL_VERIFY_EMAIL, now, &entry), "deleted: enqueue again");
    const struct storage_ops *real_ops = storage->ops;
    gone_ops = *real_ops;
    gone_ops.user_get = user_get_gone;
    storage->ops = &gone_ops;
    stats = drain_at(&cfg, storage, now);
    storage->ops = real_ops;
    is_int(stats.failed, 1, "deleted: entry failed");
    struct mail_entry after = get_entry(storage, pool, entry.id);
    is_int(after.status, MAIL_FAILED, "deleted: status failed");
    is_str(after.last_error, "user deleted", "deleted: reason");
    is_int(capture_count(&capture), 0, "deleted: no mail sent");
    capture_stop(&capture);
    storage_close(storage);
    pool_destroy(pool);
}

static void test_give_up(void)
{
    enum capture_action script[MAIL_MAX_ATTEMPTS];
    for (size_t i = 0; i < MAIL_MAX_ATTEMPTS; i++)
        script[i] = ANSWER_500;
    struct capture capture;
    struct storage *storage = open_storage("giveup");
    if (!check(storage != NULL && capture_start(&capture, script, MAIL_MAX_ATTEMPTS), "give up: setup"))
        return;
    struct config cfg = test_config(&capture);
    struct pool *pool = pool_create();
    int64_t now = storage_now_ms();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "kim@kairos.example", MAIL_VERIFY_EMAIL, now, &entry), "give up: enqueue");

    struct mail_entry after = entry;
    after.next_attempt_at = now;
    int rounds = 0;
    for (; rounds < MAIL_MAX_ATTEMPTS + 2; rounds++) {
        drain_at(&cfg, storage, after.next_attempt_at);
        after = get_entry(storage, pool, entry.id);
        if (after.status != MAIL_PENDING)
            break;
    }
    is_int(rounds + 1, MAIL_MAX_ATTEMPTS, "give up: after max attempts");
    is_int(after.status, MAIL_FAILED, "give up: status failed");
    ok(after.last_error != NULL && strstr(after.last_error, "gave up after 10 attempts") != NULL, "give up: reason");
    is_int(capture_count(&capture), MAIL_MAX_ATTEMPTS, "give up: one request per attempt");
    capture_stop(&capture);
    storage_close(storage);
    pool_destroy(pool);
}

static void test_retry_delay(void)
{
    bool in_range = true;
    for (int attempts = 0; attempts <= 12; attempts++) {
        int64_t base = (int64_t)MAIL_RETRY_BASE_MS << attempts;
        if (base > MAIL_RETRY_MAX_MS)
            base = MAIL_RETRY_MAX_MS;
        for (int i = 0; i < 50; i++) {
            int64_t delay = mail_retry_delay_ms(attempts);
            if (delay < base * 80 / 100 || delay > base * 120 / 100)
                in_range = false;
        }
    }
    ok(in_range, "retry delay within jitter bounds");
    ok(mail_retry_delay_ms(100) <= MAIL_RETRY_MAX_MS * 120 / 100, "retry delay capped");
}

/* Runs fn with stderr going to a file, and returns what it wrote. */
static char *capture_stderr(struct pool *pool, void (*fn)(void *), void *arg)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/stderr.txt", test_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int saved = dup(STDERR_FILENO);
    if (fd < 0 || saved < 0 || dup2(fd, STDERR_FILENO) < 0)
        return NULL;
    fn(arg);
    dup2(saved, STDERR_FILENO);
    close(saved);

    char buf[16384];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    return n >= 0 ? pool_strndup(pool, buf, (size_t)n) : NULL;
}

struct log_run {
    struct config *cfg;
    struct storage *storage;
    size_t sent, failed;
    enum kairos_error err;
};

static void run_drain_once(void *arg)
{
    struct log_run *run = arg;
    run->err = mail_drain_once(run->cfg, run->storage, &run->sent, &run->failed);
}

static void test_log_transport(void)
{
    struct storage *storage = open_storage("log");
    if (!check(storage != NULL, "log: setup"))
        return;
    struct config cfg = test_config(NULL);
    struct pool *pool = pool_create();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "lu@kairos.example", MAIL_RESET_PASSWORD, storage_now_ms(), &entry), "log: enqueue");

    struct log_run run = {.cfg = &cfg, .storage = storage};
    char *output = capture_stderr(pool, run_drain_once, &run);
    is_int(run.err, KAIROS_OK, "log: drain once");
    is_int(run.sent, 1, "log: sent");
    is_int(run.failed, 0, "log: none failed");
    ok(output != NULL && strstr(output, "mail to l***@kairos.example, subject \"Reset your Kairos password\": ") != NULL,
       "log: recipient and subject");
    ok(output != NULL && strstr(output, "https://app.kairos.example/reset-password?token=ey") != NULL, "log: link");
    ok(output != NULL && strstr(output, "lu@kairos.example") == NULL, "log: no full address");
    const char *line = output != NULL ? strstr(output, "mail to ") : NULL;
    const char *link = line != NULL ? strstr(line, "/reset-password?token=") : NULL;
    const char *end = line != NULL ? strchr(line, '\n') : NULL;
    ok(link != NULL && end != NULL && link < end, "log: link on the message line");
    ok(end != NULL && strstr(end, "The Kairos team") == NULL, "log: message on one line");
    ok(output != NULL && strstr(output, "Hello Ada <Rider>, ") != NULL, "log: plain text body");
    is_int(get_entry(storage, pool, entry.id).status, MAIL_SENT, "log: status sent");
    storage_close(storage);
    pool_destroy(pool);
}

static void test_drain_batches(void)
{
    struct storage *storage = open_storage("batches");
    if (!check(storage != NULL, "batches: setup"))
        return;
    struct config cfg = test_config(NULL);
    size_t total = MAIL_CLAIM_MAX + 2;
    bool added = true;
    for (size_t i = 0; i < total; i++) {
        char email[64];
        struct mail_entry entry;
        snprintf(email, sizeof(email), "rider%zu@kairos.example", i);
        added = added && add_user_and_mail(storage, email, MAIL_VERIFY_EMAIL, storage_now_ms(), &entry);
    }
    ok(added, "batches: enqueue");

    struct log_run run = {.cfg = &cfg, .storage = storage};
    struct pool *pool = pool_create();
    capture_stderr(pool, run_drain_once, &run);
    is_int(run.err, KAIROS_OK, "batches: drain once");
    is_int(run.sent, total, "batches: all sent in one drain");
    pool_destroy(pool);
    storage_close(storage);
}

static void test_inline(void)
{
    enum capture_action script[] = {ANSWER_200, ANSWER_500};
    struct capture capture;
    struct storage *storage = open_storage("inline");
    if (!check(storage != NULL && capture_start(&capture, script, 2), "inline: setup"))
        return;
    struct config cfg = test_config(&capture);
    struct pool *pool = pool_create();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "max@kairos.example", MAIL_VERIFY_EMAIL, storage_now_ms(), &entry),
       "inline: enqueue");
    is_int(mail_send_inline(&cfg, storage, entry.id, 2000), KAIROS_OK, "inline: sent");
    is_int(get_entry(storage, pool, entry.id).status, MAIL_SENT, "inline: status sent");
    is_int(mail_send_inline(&cfg, storage, entry.id, 2000), KAIROS_OK, "inline: sent entry is a no-op");

    ok(add_user_and_mail(storage, "ned@kairos.example", MAIL_VERIFY_EMAIL, storage_now_ms(), &entry),
       "inline: enqueue second");
    is_int(mail_send_inline(&cfg, storage, entry.id, 2000), KAIROS_ERR_UNAVAILABLE, "inline: 500 leaves entry");
    struct mail_entry after = get_entry(storage, pool, entry.id);
    is_int(after.status, MAIL_PENDING, "inline: entry pending");
    is_int(after.attempts, 1, "inline: one attempt");
    is_int(capture_count(&capture), 2, "inline: two requests");
    capture_stop(&capture);
    storage_close(storage);
    pool_destroy(pool);
}

static void test_config_check(void)
{
    struct config cfg = test_config(NULL);
    char err[256] = "";
    ok(mail_config_check(&cfg, err, sizeof(err)), "config: log transport in local");
    cfg.environment = ENV_PRODUCTION;
    ok(!mail_config_check(&cfg, err, sizeof(err)), "config: production needs key");
    ok(strstr(err, "RESEND_API_KEY") != NULL, "config: message names variable");
    cfg.resend_api_key = "re_key";
    cfg.resend_api_url = "https://api.resend.com";
    ok(mail_config_check(&cfg, err, sizeof(err)), "config: production with key");
    cfg.mail_from = NULL;
    ok(!mail_config_check(&cfg, err, sizeof(err)), "config: MAIL_FROM required");
    ok(strstr(err, "MAIL_FROM") != NULL, "config: message names MAIL_FROM");
}

/* Polls waitpid for up to ms; returns the status or -1. */
static int wait_exit(pid_t pid, int ms)
{
    for (int waited = 0; waited < ms; waited += 20) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        usleep(20000);
    }
    return -1;
}

static void test_sender_process(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/process.sqlite", test_dir);
    struct storage *storage = open_storage("process");
    if (!check(storage != NULL, "process: setup"))
        return;
    struct config cfg = test_config(NULL);
    cfg.storage_uri = path;
    struct pool *pool = pool_create();
    struct mail_entry entry;
    ok(add_user_and_mail(storage, "oz@kairos.example", MAIL_VERIFY_EMAIL, storage_now_ms(), &entry),
       "process: enqueue");

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDERR_FILENO);
        _exit(mail_sender_run(&cfg));
    }
    enum mail_status status = MAIL_PENDING;
    for (int i = 0; i < 250 && status != MAIL_SENT; i++) {
        usleep(20000);
        status = get_entry(storage, pool, entry.id).status;
    }
    is_int(status, MAIL_SENT, "process: delivers");
    kill(pid, SIGTERM);
    int exit_status = wait_exit(pid, 3000);
    ok(exit_status != -1 && WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0, "process: SIGTERM exits 0");
    if (exit_status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }

    /* The sender exits when its parent dies; the test adopts it as subreaper to wait for it. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        ok(0, "process: subreaper");
        return;
    }
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return;
    pid_t parent = fork();
    if (parent == 0) {
        pid_t sender = fork();
        if (sender == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, STDERR_FILENO);
            _exit(mail_sender_run(&cfg));
        }
        if (write(pipefd[1], &sender, sizeof(sender)) != sizeof(sender))
            _exit(1);
        usleep(300000); /* lets the sender set PR_SET_PDEATHSIG */
        _exit(0);
    }
    pid_t sender = 0;
    close(pipefd[1]);
    bool got = read(pipefd[0], &sender, sizeof(sender)) == sizeof(sender);
    close(pipefd[0]);
    waitpid(parent, NULL, 0);
    exit_status = got ? wait_exit(sender, 3000) : -1;
    ok(exit_status != -1 && WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0, "process: exits when parent dies");
    if (got && exit_status == -1) {
        kill(sender, SIGKILL);
        waitpid(sender, NULL, 0);
    }
    storage_close(storage);
    pool_destroy(pool);
}

static void remove_tree(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

int main(void)
{
    snprintf(test_dir, sizeof(test_dir), "%s/kairos-mail-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(test_dir) == NULL) {
        printf("Bail out! mkdtemp failed: %s\n", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    test_config_check();
    test_retry_delay();
    test_delivered_once();
    test_retry_after_500();
    test_retry_after_429();
    test_rejected();
    test_restart();
    test_hung();
    test_unreachable();
    test_user_deleted();
    test_give_up();
    test_log_transport();
    test_drain_batches();
    test_inline();
    test_sender_process();

    remove_tree(test_dir);
    return tap_done();
}
