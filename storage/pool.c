/* Memory pool: a list of chunks, bump allocation, one free for all. */
#include "storage/pool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_CHUNK_SIZE 8192
#define POOL_ALIGN      16

struct pool_chunk {
    struct pool_chunk *next;
    size_t size, used;
    _Alignas(POOL_ALIGN) unsigned char data[];
};

struct pool {
    struct pool_chunk *chunks;
};

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

void pool_destroy(struct pool *pool)
{
    if (pool == NULL)
        return;
    struct pool_chunk *chunk = pool->chunks;
    while (chunk != NULL) {
        struct pool_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    free(pool);
}

void *pool_alloc(struct pool *pool, size_t size)
{
    size = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
    if (size == 0)
        size = POOL_ALIGN;

    struct pool_chunk *chunk = pool->chunks;
    if (chunk == NULL || chunk->size - chunk->used < size) {
        /* Large allocations get a chunk of their own, linked behind the current one. */
        size_t data_size = size > POOL_CHUNK_SIZE / 4 ? size : POOL_CHUNK_SIZE;
        struct pool_chunk *fresh = pool_xmalloc(sizeof(*fresh) + data_size);
        fresh->size = data_size;
        fresh->used = 0;
        if (data_size == size && chunk != NULL) {
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
    memset(p, 0, size);
    return p;
}

char *pool_strndup(struct pool *pool, const char *s, size_t len)
{
    char *copy = pool_alloc(pool, len + 1);
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
