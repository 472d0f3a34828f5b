/*
 * One worker's HTTP server on libh2o-evloop 2.2.5 (see h2o_frontend.h).
 *
 * Handlers are synchronous, so a request is handled completely inside
 * frontend_on_req: the struct request lives in a pool created there and
 * destroyed once h2o has copied the response. h2o itself buffers the whole
 * request body before calling the handler.
 *
 * Draining uses what h2o 2.2.5 offers for HTTP/1: once
 * h2o_context_request_shutdown is called, each response is sent with
 * "Connection: close". Connections that sit idle between two requests are
 * shut down by the worker, since h2o would otherwise keep them until its
 * request timeout.
 */
#include "server/h2o_frontend.h"

#include <h2o.h>
#include <netinet/in.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "auth/password.h"
#include "server/accesslog.h"
#include "server/app.h"
#include "server/cors.h"
#include "server/response.h"
#include "storage/log.h"

/* How long one turn of the event loop may wait, so that a signal is noticed quickly. */
#define FRONTEND_LOOP_WAIT_MS 1000
/* While draining, idle connections are looked for this often. */
#define FRONTEND_DRAIN_WAIT_MS 20
/*
 * Idle keep-alive connections are left open this long after a drain starts:
 * a busy client sends its next request meanwhile and gets its response with
 * "Connection: close", instead of racing a close with its request.
 */
#define FRONTEND_IDLE_GRACE_MS 500
/* Connections accepted at most per readiness of the listening socket (h2o's own server takes 16). */
#define FRONTEND_ACCEPT_BATCH 16

#define FRONTEND_TOO_LARGE_BODY "{\"detail\":\"Request body is larger than 1 MiB\"}"
/* The reason phrase h2o 2.2.5 gives its own 413, which frontend_too_large_setup rewrites. */
#define FRONTEND_H2O_413_REASON "Request Entity Too Large"

struct frontend {
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    struct app app;
    uint64_t id_seed[2];
    uint64_t id_counter;
};

struct frontend_handler {
    h2o_handler_t super;
    struct frontend *frontend;
};

struct frontend_too_large {
    h2o_ostream_t super;
    int sent;
};

struct frontend_too_large_filter {
    h2o_filter_t super;
    struct frontend *frontend;
};

static volatile sig_atomic_t frontend_stop_requested;

static void frontend_on_signal(int sig)
{
    (void)sig;
    frontend_stop_requested = 1;
}

static uint64_t frontend_mix(uint64_t x)
{
    /* splitmix64 finalizer: request ids must not collide, but they need not be secret. */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void frontend_write_hex64(uint64_t value, char out[16])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[value & 0xf];
        value >>= 4;
    }
}

/* Writes 32 hex digits and a NUL: a counter mixed with this process's random seed. */
static void frontend_request_id(struct frontend *fe, char out[33])
{
    uint64_t n = fe->id_counter++;
    frontend_write_hex64(frontend_mix(fe->id_seed[0] ^ n), out);
    frontend_write_hex64(frontend_mix(fe->id_seed[1] + n), out + 16);
    out[32] = '\0';
}

/* Writes the dotted-quad text of a network-order IPv4 address. glibc's inet_ntop formats it with sprintf. */
static void frontend_format_ipv4(const struct in_addr *addr, char out[INET_ADDRSTRLEN])
{
    const unsigned char *octets = (const unsigned char *)&addr->s_addr;
    char *w = out;
    for (int i = 0; i < 4; i++) {
        unsigned value = octets[i];
        if (value >= 100)
            *w++ = (char)('0' + value / 100);
        if (value >= 10)
            *w++ = (char)('0' + value / 10 % 10);
        *w++ = (char)('0' + value % 10);
        *w++ = i < 3 ? '.' : '\0';
    }
}

static const char *frontend_client_addr(struct pool *pool, h2o_req_t *hreq)
{
    struct sockaddr_storage ss;
    socklen_t len = hreq->conn->callbacks->get_peername(hreq->conn, (struct sockaddr *)&ss);
    char host[NI_MAXHOST];
    if (len == 0)
        return "-";
    /* The same text as h2o_socket_getnumerichost, without the cost of its getnameinfo() (about 6% of a ping). */
    if (ss.ss_family == AF_INET) {
        frontend_format_ipv4(&((struct sockaddr_in *)&ss)->sin_addr, host);
        return pool_strdup(pool, host);
    }
    if (h2o_socket_getnumerichost((struct sockaddr *)&ss, len, host) == SIZE_MAX)
        return "-";
    /* An IPv4 client of an IPv6 socket shows as ::ffff:a.b.c.d; the plain address reads better. */
    if (strncmp(host, "::ffff:", 7) == 0 && strchr(host + 7, ':') == NULL)
        return pool_strdup(pool, host + 7);
    return pool_strdup(pool, host);
}

/* Copies the h2o request into req; everything lands in req->pool. */
static void frontend_fill_request(struct frontend *fe, h2o_req_t *hreq, struct request *req)
{
    req->method = pool_strndup(req->pool, hreq->method.base, hreq->method.len);
    if (hreq->query_at != SIZE_MAX && hreq->query_at < hreq->path.len) {
        req->path = pool_strndup(req->pool, hreq->path.base, hreq->query_at);
        req->query = pool_strndup(req->pool, hreq->path.base + hreq->query_at + 1, hreq->path.len - hreq->query_at - 1);
    } else {
        req->path = pool_strndup(req->pool, hreq->path.base, hreq->path.len);
        req->query = "";
    }

    req->header_count = hreq->headers.size;
    req->headers = pool_alloc(req->pool, (hreq->headers.size + 1) * sizeof(*req->headers));
    for (size_t i = 0; i < hreq->headers.size; i++) {
        const h2o_header_t *h = &hreq->headers.entries[i];
        char *name = pool_strndup(req->pool, h->name->base, h->name->len);
        for (char *p = name; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        req->headers[i].name = name;
        req->headers[i].value = pool_strndup(req->pool, h->value.base, h->value.len);
    }

    req->body_len = hreq->entity.base != NULL ? hreq->entity.len : 0;
    req->body = pool_strndup(req->pool, hreq->entity.base != NULL ? hreq->entity.base : "", req->body_len);
    req->client_addr = frontend_client_addr(req->pool, hreq);
    frontend_request_id(fe, req->request_id);
}

/* Hands res to h2o, which copies what it keeps into its own pool. */
static void frontend_send(h2o_req_t *hreq, struct request *req, const struct response *res)
{
    hreq->res.status = res->status;
    hreq->res.reason = http_status_reason(res->status);

    for (size_t i = 0; i < res->header_count; i++) {
        const char *name = res->headers[i].name, *value = res->headers[i].value;
        if (value == NULL || strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
            log_msg(LOG_ERROR, "http", req->request_id, "response header %s dropped: invalid characters", name);
            continue;
        }
        h2o_iovec_t v = h2o_strdup(&hreq->pool, value, strlen(value));
        h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, name, strlen(name), 1, NULL, v.base, v.len);
    }
    if (res->content_type != NULL) {
        h2o_iovec_t v = h2o_strdup(&hreq->pool, res->content_type, strlen(res->content_type));
        h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, v.base, v.len);
    }

    bool no_body = res->status == 204 || res->status == 304;
    hreq->res.content_length = no_body ? SIZE_MAX : res->body_len;
    /* h2o_send_inline copies the body, and leaves it out for HEAD. */
    h2o_send_inline(hreq, no_body || res->body == NULL ? "" : res->body, no_body ? 0 : res->body_len);
}

static double frontend_elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static int frontend_on_req(h2o_handler_t *self, h2o_req_t *hreq)
{
    struct frontend *fe = ((struct frontend_handler *)self)->frontend;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);

    struct request req;
    struct response res;
    memset(&req, 0, sizeof(req));
    memset(&res, 0, sizeof(res));
    req.pool = pool_create();
    frontend_fill_request(fe, hreq, &req);

    if (req.body_len > HTTP_MAX_BODY) {
        cors_apply(fe->app.config, &req, &res);
        response_detail(&req, &res, 413, "Request body is larger than 1 MiB");
    } else {
        app_handle(&fe->app, &req, &res);
    }

    frontend_send(hreq, &req, &res);
    bool is_head = strcmp(req.method, "HEAD") == 0;
    accesslog_write(&req, res.status, is_head ? 0 : res.body_len, frontend_elapsed_ms(&start));
    pool_destroy(req.pool);
    return 0;
}

static void frontend_too_large_send(h2o_ostream_t *self, h2o_req_t *hreq, h2o_iovec_t *bufs, size_t bufcnt,
                                    h2o_send_state_t state)
{
    struct frontend_too_large *stream = (struct frontend_too_large *)self;
    (void)bufs;
    (void)bufcnt;
    h2o_iovec_t body = h2o_iovec_init(H2O_STRLIT(FRONTEND_TOO_LARGE_BODY));
    bool is_head = h2o_memis(hreq->input.method.base, hreq->input.method.len, H2O_STRLIT("HEAD"));
    if (stream->sent || is_head) {
        h2o_ostream_send_next(self, hreq, NULL, 0, state);
        return;
    }
    stream->sent = 1;
    h2o_ostream_send_next(self, hreq, &body, 1, state);
}

/* Adds the CORS headers of an h2o-made response, so that a browser can read it too. */
static void frontend_too_large_cors(struct frontend *fe, h2o_req_t *hreq)
{
    ssize_t at = h2o_find_header_by_str(&hreq->headers, H2O_STRLIT("origin"), -1);
    if (at < 0)
        return;

    struct pool *pool = pool_create();
    struct http_header origin = {
        .name = "origin",
        .value = pool_strndup(pool, hreq->headers.entries[at].value.base, hreq->headers.entries[at].value.len),
    };
    struct request req = {
        .pool = pool, .method = "POST", .path = "", .query = "", .headers = &origin, .header_count = 1};
    struct response res = {0};
    cors_apply(fe->app.config, &req, &res);
    for (size_t i = 0; i < res.header_count; i++) {
        /* Copied into the request's h2o pool: our pool dies before h2o sends the headers. */
        h2o_iovec_t name = h2o_strdup(&hreq->pool, res.headers[i].name, SIZE_MAX);
        h2o_iovec_t value = h2o_strdup(&hreq->pool, res.headers[i].value, SIZE_MAX);
        h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, name.base, name.len, 0, NULL, value.base, value.len);
    }
    pool_destroy(pool);
}

/*
 * h2o rejects a body over max_request_entity_size itself, before any handler
 * runs, with a text/plain 413. This filter gives that response the JSON body
 * of every other error, and logs it with secret query values redacted.
 */
static void frontend_too_large_setup(h2o_filter_t *self, h2o_req_t *hreq, h2o_ostream_t **slot)
{
    struct frontend *fe = ((struct frontend_too_large_filter *)self)->frontend;
    if (hreq->res.status == 413 && hreq->res.reason != NULL && strcmp(hreq->res.reason, FRONTEND_H2O_413_REASON) == 0) {
        frontend_too_large_cors(fe, hreq);
        hreq->res.reason = http_status_reason(413);
        hreq->res.content_length = sizeof(FRONTEND_TOO_LARGE_BODY) - 1;
        h2o_set_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_CONTENT_TYPE, H2O_STRLIT("application/json"), 1);
        struct frontend_too_large *stream = (void *)h2o_add_ostream(hreq, sizeof(*stream), slot);
        stream->super.do_send = frontend_too_large_send;
        stream->sent = 0;
        slot = &stream->super.next;
        struct pool *pool = pool_create();
        char *path = pool_strndup(pool, hreq->input.path.base, hreq->input.path.len);
        char *query = strchr(path, '?');
        if (query != NULL)
            *query++ = '\0';
        log_msg(LOG_INFO, "access", NULL, "\"%.*s %.200s\" 413: request body larger than 1 MiB",
                (int)hreq->input.method.len, hreq->input.method.base, accesslog_redacted_target(pool, path, query));
        pool_destroy(pool);
    }
    h2o_setup_next_ostream(hreq, slot);
}

static void frontend_on_accept(h2o_socket_t *listener, const char *err)
{
    struct frontend *fe = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i < FRONTEND_ACCEPT_BATCH; i++) {
        /* Other workers accept on the same socket, so running dry here is normal. */
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            return;
        h2o_accept(&fe->accept_ctx, sock);
    }
}

static void frontend_add_too_large_filter(struct frontend *fe, h2o_pathconf_t *pathconf)
{
    struct frontend_too_large_filter *filter = (void *)h2o_create_filter(pathconf, sizeof(*filter));
    filter->super.on_setup_ostream = frontend_too_large_setup;
    filter->frontend = fe;
}

static bool frontend_setup(struct frontend *fe, int listen_fd)
{
    h2o_config_init(&fe->globalconf);
    fe->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("kairos"));
    /* HTTP/1.1 only: the drain below tracks HTTP/1 connections, and h2c upgrades serve no client of Kairos. */
    fe->globalconf.http1.upgrade_to_http2 = 0;
    /* One byte over the limit, so that a body of exactly HTTP_MAX_BODY bytes passes (h2o checks chunked bodies with
     * >=). */
    fe->globalconf.max_request_entity_size = HTTP_MAX_BODY + 1;

    h2o_hostconf_t *hostconf = h2o_config_register_host(&fe->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    struct frontend_handler *handler = (void *)h2o_create_handler(pathconf, sizeof(*handler));
    handler->super.on_req = frontend_on_req;
    handler->frontend = fe;
    frontend_add_too_large_filter(fe, pathconf);
    /* h2o's own error responses before routing (the 413) go through the host's fallback path. */
    frontend_add_too_large_filter(fe, &hostconf->fallback_path);

    h2o_evloop_t *loop = h2o_evloop_create();
    if (loop == NULL)
        return false;
    h2o_context_init(&fe->ctx, loop, &fe->globalconf);
    fe->accept_ctx.ctx = &fe->ctx;
    fe->accept_ctx.hosts = fe->globalconf.hosts;

    fe->listener = h2o_evloop_socket_create(loop, listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    if (fe->listener == NULL)
        return false;
    fe->listener->data = fe;
    h2o_socket_read_start(fe->listener, frontend_on_accept);
    return true;
}

/*
 * Shuts down the connection of hreq when it is idle, and counts it in *data
 * (a size_t). A connection is idle when h2o has reset it for the next request
 * (version 0) and no byte of that request has arrived. shutdown() makes h2o
 * read end-of-file and close the connection through its own code.
 */
static int frontend_sweep_connection(h2o_req_t *hreq, void *data)
{
    size_t *idle_count = data;
    h2o_socket_t *sock = hreq->conn->callbacks->get_socket(hreq->conn);
    bool idle = hreq->version == 0 && sock != NULL && (sock->input == NULL || sock->input->size == 0);
    if (idle) {
        shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
        (*idle_count)++;
    }
    return 0;
}

static size_t frontend_open_connections(struct frontend *fe)
{
    size_t n = 0;
    for (h2o_linklist_t *node = fe->ctx.http1._conns.next; node != &fe->ctx.http1._conns; node = node->next)
        n++;
    return n;
}

static uint64_t frontend_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void frontend_drain(struct frontend *fe)
{
    h2o_socket_read_stop(fe->listener);
    h2o_socket_close(fe->listener);
    fe->listener = NULL;
    h2o_context_request_shutdown(&fe->ctx);

    uint64_t start = frontend_now_ms(), deadline = start + FRONTEND_DRAIN_TIMEOUT_MS;
    size_t idle_closed = 0;
    log_info("http", "draining: accepting no new connections");
    while (frontend_open_connections(fe) > 0) {
        if (frontend_now_ms() >= deadline) {
            log_warn("http", "drain timed out after %d ms with %zu connections still open", FRONTEND_DRAIN_TIMEOUT_MS,
                     frontend_open_connections(fe));
            return;
        }
        if (frontend_now_ms() >= start + FRONTEND_IDLE_GRACE_MS)
            fe->globalconf.http1.callbacks.foreach_request(&fe->ctx, frontend_sweep_connection, &idle_closed);
        h2o_evloop_run(fe->ctx.loop, FRONTEND_DRAIN_WAIT_MS);
    }
    log_info("http", "drained; idle keep-alive connections shut down: %zu", idle_closed);
}

static bool frontend_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = frontend_on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return false;
    sa.sa_handler = SIG_IGN;
    /* A client that goes away mid-write must not kill the worker; SIGHUP is the master's to handle. */
    return sigaction(SIGPIPE, &sa, NULL) == 0 && sigaction(SIGHUP, &sa, NULL) == 0;
}

int frontend_worker_run(const struct config *cfg, int listen_fd, int index)
{
    static struct frontend fe;
    char name[32];
    snprintf(name, sizeof(name), "worker %d", index);
    log_set_process(name);

    if (!frontend_signals_install()) {
        log_error("http", "installing signal handlers failed: %s", strerror(errno));
        return 1;
    }
    if (!password_init()) {
        log_error("http", "initializing password hashing (libsodium) failed");
        return 1;
    }
    if (getrandom(fe.id_seed, sizeof(fe.id_seed), 0) != (ssize_t)sizeof(fe.id_seed)) {
        log_error("http", "seeding request ids failed: getrandom: %s", strerror(errno));
        return 1;
    }

    char err[256];
    fe.app.config = cfg;
    if (storage_open(cfg->storage_uri, &fe.app.storage, err, sizeof(err)) != KAIROS_OK) {
        log_error("storage", "opening the storage failed: %s", err);
        return 1;
    }
    if (!frontend_setup(&fe, listen_fd)) {
        log_error("http", "setting up the h2o event loop failed");
        storage_close(fe.app.storage);
        return 1;
    }

    while (!frontend_stop_requested)
        h2o_evloop_run(fe.ctx.loop, FRONTEND_LOOP_WAIT_MS);

    frontend_drain(&fe);
    storage_close(fe.app.storage);
    return 0;
}
