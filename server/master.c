/*
 * The master process (see master.h). It never serves a request: it owns the
 * listening socket and the children. Signals reach it through a signalfd, so
 * all of its work happens in the main loop and none in a signal handler.
 *
 * Children: cfg->workers HTTP workers (slots 1..N, each with its own h2o
 * event loop and storage connection) and one mail sender. Each slot keeps
 * the pid of its current process; workers replaced by SIGHUP drain in the
 * background as "retiring" processes until they exit.
 */
#include "server/master.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/ratelimit.h"
#include "mail/mail.h"
#include "server/h2o_frontend.h"
#include "storage/log.h"
#include "storage/storage.h"

/* Slots of the shared rate-limit table. */
#define MASTER_RATELIMIT_SLOTS 65536
/* A child that exits sooner than this after its start counts as dying fast. */
#define MASTER_FAST_EXIT_MS 2000
/* Restart delays of a child that keeps dying fast: 100 ms, doubling, at most 30 s. */
#define MASTER_RESTART_BASE_MS 100
#define MASTER_RESTART_MAX_MS  30000
/* After SIGTERM, children still running this long after the drain timeout are killed. */
#define MASTER_STOP_GRACE_MS 5000

struct master_child {
    pid_t pid; /* 0 while not running */
    int index; /* worker number from 1; 0 for the mail sender */
    uint64_t started_ms;
    unsigned fast_exits;    /* consecutive exits within MASTER_FAST_EXIT_MS of the start */
    uint64_t restart_at_ms; /* when a dead child is due to start again; 0 when none is due */
};

struct master {
    const struct config *cfg;
    pid_t pid;
    int listen_fd;
    int signal_fd;
    sigset_t child_mask; /* the signal mask children start with */

    struct master_child *workers; /* cfg->workers slots */
    struct master_child mail;

    struct master_child *retiring; /* replaced workers that are draining */
    size_t retiring_count;

    bool reloading;
    int reload_slot;      /* the slot being replaced */
    pid_t reload_waiting; /* the old worker of that slot; the next slot waits for its exit */

    bool stopping;
    uint64_t stop_deadline_ms;
};

static uint64_t master_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *master_child_name(const struct master_child *child, char *buf, size_t len)
{
    if (child->index == 0)
        snprintf(buf, len, "mail sender");
    else
        snprintf(buf, len, "worker %d", child->index);
    return buf;
}

static void master_describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "stopped with wait status %#x", (unsigned)status);
}

/* "127.0.0.1:8000" or "[::1]:8000" for the socket's bound address. */
static void master_format_address(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t ss_len = sizeof(ss);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&ss, &ss_len) != 0 ||
        getnameinfo((struct sockaddr *)&ss, ss_len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, len, "(unknown address)");
        return;
    }
    snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* Binds and listens on cfg's address; -1 with err filled on failure. */
static int master_listen(const struct config *cfg, char *err, size_t err_len)
{
    char port[8];
    snprintf(port, sizeof(port), "%d", cfg->listen_port);
    struct addrinfo hints, *list;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(cfg->listen_host, port, &hints, &list);
    if (rc != 0) {
        snprintf(err, err_len, "cannot resolve KAIROS_LISTEN host %s: %s", cfg->listen_host, gai_strerror(rc));
        return -1;
    }

    int fd = -1, saved = 0;
    for (struct addrinfo *ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        int on = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
                        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0)) {
            saved = errno;
            close(fd);
            fd = -1;
        } else if (fd < 0) {
            saved = errno;
        }
    }
    freeaddrinfo(list);
    if (fd < 0) {
        const char *host = cfg->listen_host;
        snprintf(err, err_len,
                 strchr(host, ':') != NULL ? "cannot listen on [%s]:%d: %s" : "cannot listen on %s:%d: %s", host,
                 cfg->listen_port, strerror(saved));
    }
    return fd;
}

static void master_child_start(struct master *m, struct master_child *child);

/* Runs a freshly forked child to its end; it never returns. */
static void master_child_main(struct master *m, const struct master_child *child)
{
    sigprocmask(SIG_SETMASK, &m->child_mask, NULL);
    close(m->signal_fd);

    /* A child must not outlive the master; a parent that changed already died before prctl took effect. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != m->pid)
        _exit(1);

    int rc;
    if (child->index == 0) {
        close(m->listen_fd);
        rc = mail_sender_run(m->cfg);
    } else {
        rc = frontend_worker_run(m->cfg, m->listen_fd, child->index);
    }
    fflush(NULL);
    /* _exit: the atexit handlers belong to the master's libraries. */
    _exit(rc);
}

static void master_child_start(struct master *m, struct master_child *child)
{
    char name[32];
    child->restart_at_ms = 0;
    pid_t pid = fork();
    if (pid < 0) {
        log_error("master", "cannot start %s: fork failed: %s; retrying in %d ms",
                  master_child_name(child, name, sizeof(name)), strerror(errno), MASTER_RESTART_MAX_MS / 30);
        child->restart_at_ms = master_now_ms() + MASTER_RESTART_MAX_MS / 30;
        return;
    }
    if (pid == 0)
        master_child_main(m, child);
    child->pid = pid;
    child->started_ms = master_now_ms();
}

static uint64_t master_restart_delay_ms(unsigned fast_exits)
{
    if (fast_exits == 0)
        return 0;
    uint64_t delay = MASTER_RESTART_BASE_MS;
    for (unsigned i = 1; i < fast_exits && delay < MASTER_RESTART_MAX_MS; i++)
        delay *= 2;
    return delay < MASTER_RESTART_MAX_MS ? delay : MASTER_RESTART_MAX_MS;
}

/* Logs the death of a supervised child and schedules its restart. */
static void master_child_died(struct master *m, struct master_child *child, int status)
{
    char name[32], how[96];
    uint64_t now = master_now_ms();
    master_child_name(child, name, sizeof(name));
    master_describe_status(status, how, sizeof(how));
    pid_t pid = child->pid;
    child->pid = 0;

    if (m->stopping) {
        log_info("master", "%s (pid %d) %s", name, (int)pid, how);
        return;
    }

    child->fast_exits = now - child->started_ms < MASTER_FAST_EXIT_MS ? child->fast_exits + 1 : 0;
    uint64_t delay = master_restart_delay_ms(child->fast_exits);
    log_warn("master", "%s (pid %d) %s; restarting it in %llu ms", name, (int)pid, how, (unsigned long long)delay);
    child->restart_at_ms = now + delay;
    if (delay == 0)
        master_child_start(m, child);
}

static void master_reload_step(struct master *m);

/* Removes the retiring worker with pid; returns its number, or 0 when pid is not retiring. */
static int master_retiring_remove(struct master *m, pid_t pid)
{
    for (size_t i = 0; i < m->retiring_count; i++) {
        if (m->retiring[i].pid == pid) {
            int index = m->retiring[i].index;
            m->retiring[i] = m->retiring[--m->retiring_count];
            return index;
        }
    }
    return 0;
}

static void master_reap(struct master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int retired = master_retiring_remove(m, pid);
        if (retired > 0) {
            char how[96];
            master_describe_status(status, how, sizeof(how));
            log_info("master", "replaced worker %d (pid %d) %s", retired, (int)pid, how);
            if (m->reloading && pid == m->reload_waiting) {
                m->reload_slot++;
                master_reload_step(m);
            }
            continue;
        }
        if (m->mail.pid == pid) {
            master_child_died(m, &m->mail, status);
            continue;
        }
        for (int i = 0; i < m->cfg->workers; i++) {
            if (m->workers[i].pid == pid) {
                master_child_died(m, &m->workers[i], status);
                break;
            }
        }
    }
}

/* Replaces the worker of m->reload_slot: the new one starts first, then the old one drains. */
static void master_reload_step(struct master *m)
{
    while (m->reload_slot < m->cfg->workers && m->workers[m->reload_slot].pid == 0)
        m->reload_slot++; /* a dead slot restarts with a fresh worker anyway */
    if (m->reload_slot >= m->cfg->workers || m->stopping) {
        m->reloading = false;
        if (!m->stopping)
            log_info("master", "reload done: %d workers replaced", m->cfg->workers);
        return;
    }

    struct master_child *child = &m->workers[m->reload_slot];
    pid_t old = child->pid;
    child->fast_exits = 0;
    master_child_start(m, child);
    if (child->pid == 0) {
        /* fork failed: keep the old worker in the slot and try the next one. */
        child->pid = old;
        child->restart_at_ms = 0;
        m->reload_slot++;
        master_reload_step(m);
        return;
    }
    m->retiring[m->retiring_count].pid = old;
    m->retiring[m->retiring_count].index = child->index;
    m->retiring_count++;
    m->reload_waiting = old;
    kill(old, SIGTERM);
}

static void master_reload(struct master *m)
{
    if (m->reloading) {
        log_info("master", "SIGHUP ignored: a reload is in progress");
        return;
    }
    log_info("master", "SIGHUP: replacing %d workers one at a time", m->cfg->workers);
    m->reloading = true;
    m->reload_slot = 0;
    master_reload_step(m);
}

static void master_signal_children(struct master *m, int sig)
{
    for (int i = 0; i < m->cfg->workers; i++)
        if (m->workers[i].pid > 0)
            kill(m->workers[i].pid, sig);
    for (size_t i = 0; i < m->retiring_count; i++)
        kill(m->retiring[i].pid, sig);
    if (m->mail.pid > 0)
        kill(m->mail.pid, sig);
}

static const char *master_signal_name(int sig)
{
    if (sig == SIGTERM)
        return "SIGTERM";
    if (sig == SIGINT)
        return "SIGINT";
    return strsignal(sig);
}

static void master_stop(struct master *m, int sig)
{
    if (m->stopping) {
        log_warn("master", "%s again: killing the children without waiting", master_signal_name(sig));
        master_signal_children(m, SIGKILL);
        return;
    }
    log_info("master", "%s: stopping; workers finish the requests in flight", master_signal_name(sig));
    m->stopping = true;
    m->stop_deadline_ms = master_now_ms() + FRONTEND_DRAIN_TIMEOUT_MS + MASTER_STOP_GRACE_MS;
    /* Workers keep their own copy of the socket until they have stopped accepting. */
    close(m->listen_fd);
    m->listen_fd = -1;
    master_signal_children(m, SIGTERM);
}

static size_t master_running_children(const struct master *m)
{
    size_t n = m->retiring_count + (m->mail.pid > 0);
    for (int i = 0; i < m->cfg->workers; i++)
        n += m->workers[i].pid > 0;
    return n;
}

/* Starts children whose restart is due; returns the poll timeout until the next due time (-1: none). */
static int master_restart_due(struct master *m)
{
    uint64_t now = master_now_ms(), next = UINT64_MAX;
    for (int i = -1; i < m->cfg->workers; i++) {
        struct master_child *child = i < 0 ? &m->mail : &m->workers[i];
        if (child->pid != 0 || child->restart_at_ms == 0)
            continue;
        if (child->restart_at_ms <= now)
            master_child_start(m, child);
        if (child->pid == 0 && child->restart_at_ms != 0 && child->restart_at_ms < next)
            next = child->restart_at_ms;
    }
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

static void master_handle_signals(struct master *m)
{
    struct signalfd_siginfo info;
    while (read(m->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
        switch (info.ssi_signo) {
        case SIGCHLD:
            master_reap(m);
            break;
        case SIGTERM:
        case SIGINT:
            master_stop(m, (int)info.ssi_signo);
            break;
        case SIGHUP:
            if (!m->stopping)
                master_reload(m);
            break;
        default:
            break;
        }
    }
    /* Several SIGCHLD may merge into one; reaping once more costs nothing. */
    master_reap(m);
}

/* Kills the children that outlived the stop deadline; returns the poll timeout until the next deadline. */
static int master_stop_timeout(struct master *m)
{
    uint64_t now = master_now_ms();
    if (now >= m->stop_deadline_ms) {
        log_warn("master", "%zu children still running %d ms after the stop; killing them", master_running_children(m),
                 FRONTEND_DRAIN_TIMEOUT_MS + MASTER_STOP_GRACE_MS);
        master_signal_children(m, SIGKILL);
        m->stop_deadline_ms = now + MASTER_STOP_GRACE_MS;
    }
    return (int)(m->stop_deadline_ms - now);
}

static int master_loop(struct master *m)
{
    while (!m->stopping || master_running_children(m) > 0) {
        int timeout = m->stopping ? master_stop_timeout(m) : master_restart_due(m);
        struct pollfd pfd = {.fd = m->signal_fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
            log_error("master", "poll failed: %s", strerror(errno));
            return 1;
        }
        master_handle_signals(m);
    }
    log_info("master", "stopped");
    return 0;
}

/* Opens the storage once before forking, so that a bad KAIROS_STORAGE fails at start, and the schema exists. */
static bool master_check_storage(const struct config *cfg, char *name, size_t name_len)
{
    struct storage *storage;
    char err[256];
    if (storage_open(cfg->storage_uri, &storage, err, sizeof(err)) != KAIROS_OK) {
        log_error("master", "opening the storage failed: %s", err);
        return false;
    }
    snprintf(name, name_len, "%s", storage->ops->name);
    storage_close(storage);
    return true;
}

static bool master_signals_block(struct master *m)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, &m->child_mask) != 0)
        return false;
    m->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    return m->signal_fd >= 0;
}

int master_run(const struct config *cfg)
{
    static struct master m;
    char err[256], storage_name[32], address[NI_MAXHOST + 16];
    m.cfg = cfg;
    m.pid = getpid();
    log_set_process("master");
    signal(SIGPIPE, SIG_IGN);

    if (!mail_config_check(cfg, err, sizeof(err))) {
        fprintf(stderr, "kairos: configuration error: %s\n", err);
        return 2;
    }
    if (!master_check_storage(cfg, storage_name, sizeof(storage_name)))
        return 1;
    if ((m.listen_fd = master_listen(cfg, err, sizeof(err))) < 0) {
        log_error("master", "%s", err);
        return 1;
    }
    if (!ratelimit_init(MASTER_RATELIMIT_SLOTS))
        return 1;

    m.workers = calloc((size_t)cfg->workers, sizeof(*m.workers));
    m.retiring = calloc((size_t)cfg->workers, sizeof(*m.retiring));
    if (m.workers == NULL || m.retiring == NULL) {
        log_error("master", "out of memory for %d workers", cfg->workers);
        return 1;
    }
    if (!master_signals_block(&m)) {
        log_error("master", "setting up signal handling failed: %s", strerror(errno));
        return 1;
    }

    for (int i = 0; i < cfg->workers; i++) {
        m.workers[i].index = i + 1;
        master_child_start(&m, &m.workers[i]);
    }
    master_child_start(&m, &m.mail);

    master_format_address(m.listen_fd, address, sizeof(address));
    log_info("master", "listening on %s with %d workers (environment %s, storage %s)", address, cfg->workers,
             cfg->environment_name, storage_name);
    return master_loop(&m);
}
