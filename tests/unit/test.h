/* A minimal test harness: CHECK records a failure and goes on; each test
 * program ends with TEST_EXIT(), which prints "N passed, N failed" and exits
 * 1 if anything failed. Exit code 77 means skipped (meson's convention). */
#ifndef PVS_TEST_H
#define PVS_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef _WIN32
#include "tests/unit/compat_win32.h"
#endif

static int test_checks_passed;
static int test_checks_failed;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            test_checks_passed++;                                             \
        } else {                                                              \
            test_checks_failed++;                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
        }                                                                     \
    } while (0)

#define CHECK_INT(a, op, b)                                                   \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        if (a_ op b_) {                                                       \
            test_checks_passed++;                                             \
        } else {                                                              \
            test_checks_failed++;                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s %s %s (%lld vs %lld)\n", \
                    __FILE__, __LINE__, #a, #op, #b, a_, b_);                 \
        }                                                                     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                 \
    do {                                                                      \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);        \
        if (a_ - b_ <= t_ && b_ - a_ <= t_) {                                 \
            test_checks_passed++;                                             \
        } else {                                                              \
            test_checks_failed++;                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s ~ %s (%g vs %g, tol %g)\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_, t_);                  \
        }                                                                     \
    } while (0)

#define RUN(fn)                                                               \
    do {                                                                      \
        int before_ = test_checks_failed;                                     \
        fn();                                                                 \
        fprintf(stderr, "%s %s\n", test_checks_failed == before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

#define TEST_EXIT()                                                           \
    do {                                                                      \
        printf("%d passed, %d failed\n", test_checks_passed, test_checks_failed); \
        return test_checks_failed ? 1 : 0;                                    \
    } while (0)

/* What was written to `f` (a tmpfile()), as a NUL-terminated string to
 * free; closes f. NULL when f is NULL or memory runs out. */
static inline char *test_read_back(FILE *f)
{
    if (!f)
        return NULL;
    long n = ftell(f);
    char *buf = n >= 0 ? calloc(1, (size_t)n + 1) : NULL;
    rewind(f);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

#define TEST_SKIP(why)                                                        \
    do {                                                                      \
        printf("skipped: %s\n", why);                                         \
        exit(77);                                                             \
    } while (0)

#endif
