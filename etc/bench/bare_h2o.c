/*
 * The ceiling for `make bench`: libh2o-evloop returning a constant JSON body
 * with nothing else done per request. It forks one worker per CPU on a shared
 * listening socket, as `kairos serve` does, so both servers get the same
 * cores. Usage: bare_h2o PORT WORKERS. On SIGTERM the parent stops its
 * workers and reaps them; a worker whose parent dies otherwise gets SIGTERM.
 */
#include <h2o.h>
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BARE_MAX_WORKERS 64

static h2o_accept_ctx_t bare_accept_ctx;
static pid_t bare_workers[BARE_MAX_WORKERS];
static int bare_worker_count;

static void bare_on_sigterm(int sig)
{
    (void)sig;
    for (int i = 0; i < bare_worker_count; i++)
        kill(bare_workers[i], SIGTERM);
}

static int bare_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, H2O_STRLIT("\"pong\""));
    return 0;
}

static void bare_on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err == NULL && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&bare_accept_ctx, sock);
}

static void bare_worker_run(int fd)
{
    static h2o_globalconf_t config;
    static h2o_context_t ctx;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    h2o_config_init(&config);
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_create_handler(path, sizeof(h2o_handler_t))->on_req = bare_on_req;
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    bare_accept_ctx.ctx = &ctx;
    bare_accept_ctx.hosts = config.hosts;
    h2o_socket_t *listener = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, bare_on_accept);
    while (h2o_evloop_run(ctx.loop, INT32_MAX) == 0)
        ;
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[2]) < 1 || atoi(argv[2]) > BARE_MAX_WORKERS) {
        fprintf(stderr, "usage: %s PORT WORKERS (1 to %d)\n", argv[0], BARE_MAX_WORKERS);
        return 2;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        perror("bare_h2o: bind or listen on 127.0.0.1");
        return 1;
    }
    for (int i = 0; i < atoi(argv[2]); i++) {
        pid_t pid = fork();
        if (pid == 0)
            bare_worker_run(fd);
        if (pid < 0) {
            /* A pid of -1 must never reach kill(), which would signal every process of the user. */
            perror("bare_h2o: fork");
            bare_on_sigterm(SIGTERM);
            return 1;
        }
        bare_workers[bare_worker_count++] = pid;
    }
    signal(SIGTERM, bare_on_sigterm);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    return 0;
}
