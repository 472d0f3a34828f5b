/*
 * Fixed-window rate limiting across worker processes. The master maps one
 * table with MAP_SHARED | MAP_ANONYMOUS before fork(), so every worker uses
 * the same slots. A slot stores the SipHash of a key (crypto_shorthash with a
 * key drawn at init), the start of its window and a count. One robust,
 * process-shared mutex guards the whole table: each hit holds it for a few
 * slot reads, and a worker that dies holding it does not block the others.
 */
#include "auth/ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "storage/log.h"

/* Slots looked at for one key, starting at its home slot. */
#define RATELIMIT_PROBES 8
/* Upper bound for ratelimit_init, so a typo in a setting cannot map gigabytes. */
#define RATELIMIT_MAX_SLOTS (1u << 22)

struct ratelimit_slot {
    uint64_t hash;
    int64_t window_start_ms; /* CLOCK_MONOTONIC; 0 when the slot is free */
    uint32_t window_ms;
    uint32_t count;
};

struct ratelimit_table {
    pthread_mutex_t lock;
    size_t slots;
    struct ratelimit_slot slot[];
};

static struct ratelimit_table *ratelimit_table;
static unsigned char ratelimit_hash_key[crypto_shorthash_KEYBYTES];

static bool ratelimit_init_lock(pthread_mutex_t *lock)
{
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0)
        return false;
    bool done = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
                pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 && pthread_mutex_init(lock, &attr) == 0;
    pthread_mutexattr_destroy(&attr);
    return done;
}

bool ratelimit_init(size_t slots)
{
    if (ratelimit_table != NULL) {
        log_error("ratelimit", "init failed: the table exists already");
        return false;
    }
    if (slots == 0 || slots > RATELIMIT_MAX_SLOTS) {
        log_error("ratelimit", "init failed: %zu slots is outside 1..%u", slots, RATELIMIT_MAX_SLOTS);
        return false;
    }
    if (sodium_init() < 0) {
        log_error("ratelimit", "init failed: sodium_init failed");
        return false;
    }

    size_t size = sizeof(struct ratelimit_table) + slots * sizeof(struct ratelimit_slot);
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        log_error("ratelimit", "init failed: mmap of %zu bytes: %s", size, strerror(errno));
        return false;
    }

    /* An anonymous mapping starts zeroed, so every slot is free. */
    struct ratelimit_table *table = map;
    table->slots = slots;
    if (!ratelimit_init_lock(&table->lock)) {
        log_error("ratelimit", "init failed: cannot create a process-shared mutex");
        munmap(map, size);
        return false;
    }
    randombytes_buf(ratelimit_hash_key, sizeof(ratelimit_hash_key));
    ratelimit_table = table;
    return true;
}

static int64_t ratelimit_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* +1 keeps a window that starts at the very first millisecond apart from a free slot (0). */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

static bool ratelimit_lock(void)
{
    int rc = pthread_mutex_lock(&ratelimit_table->lock);
    if (rc == EOWNERDEAD) {
        /* The previous owner died between slot writes; at worst one count is lost. */
        log_warn("ratelimit", "a worker died holding the table lock; recovering it");
        rc = pthread_mutex_consistent(&ratelimit_table->lock);
    }
    return rc == 0;
}

static bool ratelimit_slot_expired(const struct ratelimit_slot *slot, int64_t now_ms)
{
    return slot->window_start_ms == 0 || now_ms >= slot->window_start_ms + slot->window_ms;
}

/*
 * Returns the slot for hash: its own slot when present, else the first free or
 * expired slot of the probe sequence, else the one whose window started first.
 */
static struct ratelimit_slot *ratelimit_find_slot(uint64_t hash, int64_t now_ms)
{
    struct ratelimit_slot *reusable = NULL, *oldest = NULL;
    size_t probes = ratelimit_table->slots < RATELIMIT_PROBES ? ratelimit_table->slots : RATELIMIT_PROBES;

    for (size_t i = 0; i < probes; i++) {
        struct ratelimit_slot *slot = &ratelimit_table->slot[(hash + i) % ratelimit_table->slots];
        if (slot->window_start_ms != 0 && slot->hash == hash)
            return slot;
        if (reusable == NULL && ratelimit_slot_expired(slot, now_ms))
            reusable = slot;
        if (oldest == NULL || slot->window_start_ms < oldest->window_start_ms)
            oldest = slot;
    }

    struct ratelimit_slot *slot = reusable != NULL ? reusable : oldest;
    slot->hash = hash;
    slot->window_start_ms = 0;
    return slot;
}

bool ratelimit_hit(const char *key, unsigned max, unsigned window_s, unsigned *retry_after_s)
{
    if (ratelimit_table == NULL || key == NULL)
        return true;

    uint64_t hash;
    crypto_shorthash((unsigned char *)&hash, (const unsigned char *)key, strlen(key), ratelimit_hash_key);
    int64_t now_ms = ratelimit_now_ms();
    uint32_t window_ms = window_s > UINT32_MAX / 1000 ? UINT32_MAX : window_s * 1000;

    if (!ratelimit_lock()) {
        log_error("ratelimit", "cannot lock the table; the event is not counted");
        return true;
    }

    struct ratelimit_slot *slot = ratelimit_find_slot(hash, now_ms);
    if (ratelimit_slot_expired(slot, now_ms)) {
        slot->window_start_ms = now_ms;
        slot->window_ms = window_ms;
        slot->count = 0;
    }
    if (slot->count < UINT32_MAX)
        slot->count++;
    bool allowed = slot->count <= max;
    int64_t remaining_ms = slot->window_start_ms + slot->window_ms - now_ms;

    pthread_mutex_unlock(&ratelimit_table->lock);

    /* Rounded up, and at least 1, so a client that waits that long finds a new window. */
    if (!allowed && retry_after_s != NULL)
        *retry_after_s = remaining_ms > 1000 ? (unsigned)((remaining_ms + 999) / 1000) : 1;
    return allowed;
}
