/*
 * Fixed-window rate limiting shared by all workers of one host: a table in
 * anonymous shared memory created by the master before fork(). Keys are
 * hashed, so a full email never sits in the table.
 */
#ifndef KAIROS_RATELIMIT_H
#define KAIROS_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

/* Creates the shared table; call once in the master before forking. */
bool ratelimit_init(size_t slots);

/*
 * Counts one event for key in the current window of window_s seconds. Returns
 * false when more than max events happened in the window, and then sets
 * *retry_after_s to the seconds until it ends. Works (always true) when
 * ratelimit_init was not called, e.g. in unit tests.
 */
bool ratelimit_hit(const char *key, unsigned max, unsigned window_s, unsigned *retry_after_s);

#endif
