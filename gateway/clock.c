/*
 * clock.c — wall and monotonic time, with the test offset (see clock.h).
 */
#include "gateway/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t test_offset_ms(void)
{
    static const char *file;
    static int initialised;
    static double last_read_ms = -1e9;
    static int64_t offset_ms;

    if (!initialised) {
        file = getenv("TALAASH_TEST_CLOCK_FILE");
        initialised = 1;
    }
    if (file == NULL)
        return 0;
    double now = clock_mono_ms();
    if (now - last_read_ms >= 100) {
        FILE *f = fopen(file, "r");
        double seconds = 0;
        if (f != NULL) {
            if (fscanf(f, "%lf", &seconds) != 1)
                seconds = 0;
            fclose(f);
        }
        offset_ms = (int64_t)(seconds * 1000.0);
        last_read_ms = now;
    }
    return offset_ms;
}

int64_t clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + test_offset_ms();
}

int64_t clock_now(void)
{
    return clock_now_ms() / 1000;
}

double clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}
