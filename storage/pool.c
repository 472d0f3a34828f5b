/*
 * Memory pool: a list of chunks, bump allocation, one free for all. Chunks of
 * the standard size go back to a small per-thread cache when a pool is
 * destroyed, so a worker serving one request after another reuses the same
 * few chunks instead of calling malloc and free for each request.
 */
#include "storage/pool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_CHUNK_SIZE 8192
#define POOL_ALIGN      16
/* Standard chunks kept per thread for reuse: 128 KiB at most, left allocated when the thread exits. */
#define POOL_CACHE_CHUNKS 16

struct pool_chunk {
    struct pool_chunk *next;
    size_t size, used;
    _Alignas(POOL_ALIGN) unsigned char data[];
};

struct pool {
    struct pool_chunk *chunks;
};

/*
 * AddressSanitizer reports use after pool_destroy only for memory that was
 * freed, so its builds keep no chunk for reuse.
 */
#ifdef __SANITIZE_ADDRESS__
static const size_t pool_cache_capacity = 0;
#else
static const size_t pool_cache_capacity = POOL_CACHE_CHUNKS;
#endif

static _Thread_local struct {
    struct pool_chunk *chunks[POOL_CACHE_CHUNKS];
    size_t count;
} pool_cache;

static void *pool_xmalloc(size_t size)
{
    void *p = malloc(size);
    if (p == NULL) {
        fprintf(stderr, "kairos: out of memory allocating %zu bytes\n", size);
        abort();
    }
    return p;
}

struct pool *pool_create(void)
{
    struct pool *pool = pool_xmalloc(sizeof(*pool));
    pool->chunks = NULL;
    return pool;
}

/* Returns a standard chunk, from the cache when it has one. */
static struct pool_chunk *pool_chunk_take(void)
{
    struct pool_chunk *chunk;
    if (pool_cache.count > 0)
        chunk = pool_cache.chunks[--pool_cache.count];
    else
        chunk = pool_xmalloc(sizeof(*chunk) + POOL_CHUNK_SIZE);
    chunk->size = POOL_CHUNK_SIZE;
    chunk->used = 0;
    return chunk;
}

/* Keeps a standard chunk for reuse while the cache has room, and frees any other chunk. */
static void pool_chunk_release(struct pool_chunk *chunk)
{
    if (chunk->size == POOL_CHUNK_SIZE && pool_cache.count < pool_cache_capacity)
        pool_cache.chunks[pool_cache.count++] = chunk;
    else
        free(chunk);
}

void pool_destroy(struct pool *pool)
{
    if (pool == NULL)
        return;
    struct pool_chunk *chunk = pool->chunks;
    while (chunk != NULL) {
        struct pool_chunk *next = chunk->next;
        pool_chunk_release(chunk);
        chunk = next;
    }
    free(pool);
}

/* Returns size bytes, not zeroed, aligned for any type. */
static void *pool_alloc_raw(struct pool *pool, size_t size)
{
    size = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
    if (size == 0)
        size = POOL_ALIGN;

    struct pool_chunk *chunk = pool->chunks;
    if (chunk == NULL || chunk->size - chunk->used < size) {
        /* Large allocations get a chunk of their own, linked behind the current one. */
        struct pool_chunk *fresh;
        if (size > POOL_CHUNK_SIZE / 4) {
            fresh = pool_xmalloc(sizeof(*fresh) + size);
            fresh->size = size;
            fresh->used = 0;
        } else {
            fresh = pool_chunk_take();
        }
        if (fresh->size == size && chunk != NULL) {
            fresh->next = chunk->next;
            chunk->next = fresh;
        } else {
            fresh->next = chunk;
            pool->chunks = fresh;
        }
        chunk = fresh;
    }

    void *p = chunk->data + chunk->used;
    chunk->used += size;
    return p;
}

void *pool_alloc(struct pool *pool, size_t size)
{
    void *p = pool_alloc_raw(pool, size);
    memset(p, 0, size);
    return p;
}

char *pool_strndup(struct pool *pool, const char *s, size_t len)
{
    char *copy = pool_alloc_raw(pool, len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *pool_strdup(struct pool *pool, const char *s)
{
    if (s == NULL)
        return NULL;
    return pool_strndup(pool, s, strlen(s));
}

char *pool_vprintf(struct pool *pool, const char *fmt, va_list ap)
{
    /* Most strings fit the stack buffer, which saves formatting twice. */
    char small[256];
    va_list copy;
    va_copy(copy, ap);
    int len = vsnprintf(small, sizeof(small), fmt, copy);
    va_end(copy);
    if (len < 0)
        return pool_strdup(pool, "");
    if ((size_t)len < sizeof(small))
        return pool_strndup(pool, small, (size_t)len);

    char *s = pool_alloc(pool, (size_t)len + 1);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    return s;
}

char *pool_printf(struct pool *pool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = pool_vprintf(pool, fmt, ap);
    va_end(ap);
    return s;
}
