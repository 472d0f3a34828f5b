/*
 * Memory pool (arena). A request owns one pool; everything allocated for the
 * request (parsed input, models read from storage, the response) lives in it and
 * dies with pool_destroy, so handlers and storage have no free() to forget.
 * Allocation failure aborts the process, as h2o does: a worker that cannot
 * allocate cannot respond anyway, and the master respawns it.
 */
#ifndef KAIROS_POOL_H
#define KAIROS_POOL_H

#include <stdarg.h>
#include <stddef.h>

struct pool;

struct pool *pool_create(void);
void pool_destroy(struct pool *pool);

/* Returns zeroed memory aligned for any type. */
void *pool_alloc(struct pool *pool, size_t size);
char *pool_strdup(struct pool *pool, const char *s);              /* NULL in, NULL out */
char *pool_strndup(struct pool *pool, const char *s, size_t len); /* always NUL-terminates */
char *pool_printf(struct pool *pool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *pool_vprintf(struct pool *pool, const char *fmt, va_list ap);

#endif
