/*
 * A minimal TAP producer for the C unit tests, read by prove. Each check
 * prints "ok N - name" or "not ok N - name" and the process exits non-zero
 * when any check failed.
 */
#ifndef KAIROS_TAP_H
#define KAIROS_TAP_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static inline void tap_result(int pass, const char *name, const char *file, int line)
{
    tap_count++;
    printf("%sok %d - %s\n", pass ? "" : "not ", tap_count, name);
    if (!pass) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
}

#define ok(cond, name) tap_result(!!(cond), name, __FILE__, __LINE__)
#define is_int(got, want, name)                                                                                        \
    do {                                                                                                               \
        long long g_ = (got), w_ = (want);                                                                             \
        tap_result(g_ == w_, name, __FILE__, __LINE__);                                                                \
        if (g_ != w_)                                                                                                  \
            printf("#   got %lld, expected %lld\n", g_, w_);                                                           \
    } while (0)
#define is_str(got, want, name)                                                                                        \
    do {                                                                                                               \
        const char *g_ = (got), *w_ = (want);                                                                          \
        int p_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;                                                          \
        tap_result(p_, name, __FILE__, __LINE__);                                                                      \
        if (!p_)                                                                                                       \
            printf("#   got \"%s\", expected \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");                       \
    } while (0)
#define is_near(got, want, tolerance, name)                                                                            \
    do {                                                                                                               \
        double g_ = (got), w_ = (want);                                                                                \
        int p_ = fabs(g_ - w_) <= (tolerance);                                                                         \
        tap_result(p_, name, __FILE__, __LINE__);                                                                      \
        if (!p_)                                                                                                       \
            printf("#   got %.6f, expected %.6f within %g\n", g_, w_, (double)(tolerance));                            \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
