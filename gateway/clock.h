/*
 * clock.h — wall-clock time for the gateway's records and schedules.
 *
 * One place to read the time, so tests can move it: the environment variable
 * TALAASH_TEST_CLOCK_FILE names a file holding an offset in seconds that is
 * added to the real time (re-read at most every 100 ms). Production never sets it.
 */
#ifndef TALAASH_CLOCK_H
#define TALAASH_CLOCK_H

#include <stdint.h>

/* Unix time in milliseconds. */
int64_t clock_now_ms(void);
/* Unix time in seconds. */
int64_t clock_now(void);
/* Monotonic milliseconds, for durations. */
double clock_mono_ms(void);

#endif
