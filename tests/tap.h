/*
 * tap.h — a tiny Test Anything Protocol producer for the C unit tests.
 *
 * Each test binary calls ok()/is_int()/is_str() and ends with done_testing(),
 * which prints the plan and returns the exit status for main(). Output goes to
 * stdout so `prove` reads it; diagnostics start with '#'.
 */
#ifndef TALAASH_TAP_H
#define TALAASH_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 2, 3), unused)) static int tap_ok(int pass, const char *fmt, ...)
{
    va_list ap;

    tap_count++;
    if (!pass)
        tap_failed++;
    printf("%sok %d - ", pass ? "" : "not ", tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    return pass;
}

#define ok(cond, ...) tap_ok((cond) ? 1 : 0, __VA_ARGS__)

#define is_int(got, want, ...)                                                                     \
    do {                                                                                           \
        long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);                           \
        if (!tap_ok(tap_g_ == tap_w_, __VA_ARGS__))                                                \
            printf("#   got: %lld\n#   expected: %lld\n", tap_g_, tap_w_);                        \
    } while (0)

#define is_str(got, want, ...)                                                                     \
    do {                                                                                           \
        const char *tap_g_ = (got), *tap_w_ = (want);                                              \
        int tap_p_ = (tap_g_ == NULL && tap_w_ == NULL) ||                                         \
                     (tap_g_ != NULL && tap_w_ != NULL && strcmp(tap_g_, tap_w_) == 0);            \
        if (!tap_ok(tap_p_, __VA_ARGS__))                                                          \
            printf("#   got: '%s'\n#   expected: '%s'\n", tap_g_ ? tap_g_ : "(null)",             \
                   tap_w_ ? tap_w_ : "(null)");                                                    \
    } while (0)

__attribute__((format(printf, 1, 2), unused)) static void diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Prints the plan; returns main()'s exit status (non-zero when any failed). */
__attribute__((unused)) static int done_testing(void)
{
    printf("1..%d\n", tap_count);
    if (tap_failed)
        printf("# failed %d of %d\n", tap_failed, tap_count);
    return tap_failed ? 1 : 0;
}

#endif
