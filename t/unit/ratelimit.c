/*
 * Unit tests of auth/ratelimit: the limit and its retry time, a new window,
 * independent keys, counting across fork(), eviction in a full table, and the
 * pass-through before ratelimit_init. One test sleeps for 1.1 s.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/ratelimit.h"
#include "t/unit/tap.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static unsigned hits_allowed(const char *key, unsigned count, unsigned max, unsigned window_s)
{
    unsigned allowed = 0, retry_after = 0;
    for (unsigned i = 0; i < count; i++)
        allowed += ratelimit_hit(key, max, window_s, &retry_after);
    return allowed;
}

static void test_without_init(void)
{
    unsigned retry_after = 12345;
    is_int(hits_allowed("login:203.0.113.7", 50, 1, 60), 50, "without init every hit is allowed");
    ratelimit_hit("login:203.0.113.7", 0, 60, &retry_after);
    is_int(retry_after, 12345, "without init retry_after is left alone");
}

static void test_init(void)
{
    ok(!ratelimit_init(0), "init rejects zero slots");
    ok(!ratelimit_init((size_t)1 << 40), "init rejects an absurd slot count");
    ok(ratelimit_init(4096), "init creates the table");
    ok(!ratelimit_init(4096), "second init is rejected");
}

static void test_limit(void)
{
    unsigned retry_after = 0;
    ok(ratelimit_hit("login:rider@example.com", 3, 60, &retry_after), "first hit of three is allowed");
    ok(ratelimit_hit("login:rider@example.com", 3, 60, &retry_after), "second hit of three is allowed");
    ok(ratelimit_hit("login:rider@example.com", 3, 60, &retry_after), "third hit of three is allowed");
    ok(!ratelimit_hit("login:rider@example.com", 3, 60, &retry_after), "fourth hit of three is rejected");
    ok(retry_after >= 59 && retry_after <= 60, "retry_after is the rest of a 60 s window");
    ok(!ratelimit_hit("login:rider@example.com", 3, 60, &retry_after), "later hits stay rejected");

    ok(ratelimit_hit("login:other@example.com", 3, 60, &retry_after), "another key is allowed");
    is_int(hits_allowed("login:other@example.com", 5, 3, 60), 2, "another key has its own count");
    ok(ratelimit_hit("login:rider@example.com.", 3, 60, &retry_after), "a key differing by one byte is independent");

    ok(!ratelimit_hit("zero", 0, 60, &retry_after), "max 0 rejects the first hit");
    ok(ratelimit_hit(NULL, 0, 60, &retry_after), "NULL key is not limited");
}

static void test_new_window(void)
{
    unsigned retry_after = 0;
    is_int(hits_allowed("reset:short-window", 2, 2, 1), 2, "two hits of two in a 1 s window are allowed");
    ok(!ratelimit_hit("reset:short-window", 2, 1, &retry_after), "third hit in a 1 s window is rejected");
    is_int(retry_after, 1, "retry_after of a 1 s window is 1");

    sleep_ms(1100);
    ok(ratelimit_hit("reset:short-window", 2, 1, &retry_after), "a new window allows again");
    ok(ratelimit_hit("reset:short-window", 2, 1, &retry_after), "a new window counts from zero");
    ok(!ratelimit_hit("reset:short-window", 2, 1, &retry_after), "a new window has the same limit");
}

static void test_fork(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* The child exits 0 only when its own five hits were all allowed. */
        _exit(hits_allowed("login:198.51.100.1", 5, 6, 60) == 5 ? 0 : 1);
    }
    ok(pid > 0, "fork succeeds");
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child hits are allowed");

    unsigned retry_after = 0;
    ok(ratelimit_hit("login:198.51.100.1", 6, 60, &retry_after), "parent gets the sixth hit");
    ok(!ratelimit_hit("login:198.51.100.1", 6, 60, &retry_after), "child hits count in the parent");
}

/*
 * Runs in a child that has not called ratelimit_init, so it can create a table
 * of two slots. Each check writes one byte to the pipe: 1 for pass.
 */
static void run_eviction_scenario(int fd)
{
    unsigned retry_after = 0;
    bool results[7];
    results[0] = ratelimit_init(2);
    results[1] = ratelimit_hit("a", 1, 60, &retry_after);
    sleep_ms(5); /* so that the window of "a" is strictly the oldest */
    results[2] = ratelimit_hit("b", 1, 60, &retry_after);
    results[3] = !ratelimit_hit("a", 1, 60, &retry_after);
    /* The table is full and the window of "a" started first, so "c" takes its slot. */
    results[4] = ratelimit_hit("c", 1, 60, &retry_after);
    results[5] = !ratelimit_hit("c", 1, 60, &retry_after);
    results[6] = !ratelimit_hit("b", 1, 60, &retry_after);

    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
        unsigned char byte = results[i];
        if (write(fd, &byte, 1) != 1)
            _exit(1);
    }
    _exit(0);
}

static void test_eviction(void)
{
    static const char *names[] = {
        "small table is created",
        "first key fills a slot",
        "second key fills the other slot",
        "first key is at its limit",
        "a third key evicts the oldest window",
        "the third key is counted",
        "the second key keeps its count",
    };
    int fds[2];
    ok(pipe(fds) == 0, "pipe for the eviction child");
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        run_eviction_scenario(fds[1]);
    }
    close(fds[1]);

    unsigned char results[sizeof(names) / sizeof(names[0])] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(results) && (n = read(fds[0], results + got, sizeof(results) - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);

    is_int(got, sizeof(results), "eviction child reports every check");
    for (size_t i = 0; i < sizeof(results); i++)
        ok(results[i] == 1, names[i]);
}

int main(void)
{
    /* Both run before this process creates its table. */
    test_without_init();
    test_eviction();

    test_init();
    test_limit();
    test_new_window();
    test_fork();
    return tap_done();
}
