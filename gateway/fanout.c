/*
 * fanout.c — drives the fan-out of waves (see fanout.h) on the loop; the
 * SQL is the store's (store_wave_fanout in sqlite_wave.c, pg_wave.c).
 *
 * A step that runs while the callbacks' group transaction is open nests
 * in it as a savepoint and commits with it; should the group roll back, so
 * does the step with its cursor, and the chunk is read again.
 */
#include "gateway/fanout.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/job.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>

/* The chunk of a fan-out left while [alerts] wave_chunk was set, read after it was set to 0. */
#define FANOUT_CHUNK_DEFAULT 10000

struct tl_fanout {
    struct tl_daemon *d;
    struct event *ev;
};

static void arm(struct tl_fanout *f, long ms)
{
    jobs_timer_in(f->ev, ms);
}

static void fanout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_fanout *f = arg;
    struct tl_daemon *d = f->d;
    int64_t chunk = d->cfg->wave_chunk > 0 ? d->cfg->wave_chunk : FANOUT_CHUNK_DEFAULT;
    double started = clock_mono_ms();
    struct tl_fanout_step step;
    bool queued = false, pending = false;

    (void)fd;
    (void)what;
    if (d->stopping)
        return;
    for (;;) {
        double t0 = clock_mono_ms();
        if (store_wave_fanout(d->store, chunk, clock_now(), &step) != TL_OK) {
            log_error("alerts", "event=fanout_failed detail=\"%s\"", store_errmsg(d->store));
            arm(f, FANOUT_IDLE_MS); /* the store's health is reported elsewhere; try again later */
            return;
        }
        pending = step.pending;
        if (!step.ran)
            break;
        queued = queued || step.queued > 0;
        log_debug("alerts", "event=fanout_step alert=%lld queued=%lld ms=%.1f",
                  (long long)step.alert_id, (long long)step.queued, clock_mono_ms() - t0);
        if (step.finished)
            log_info("alerts", "event=fanout_done alert=%lld", (long long)step.alert_id);
        if (clock_mono_ms() - started >= FANOUT_TURN_MS)
            break;
    }
    if (queued)
        daemon_outbox_ready(d);
    arm(f, pending ? FANOUT_BUSY_MS : FANOUT_IDLE_MS);
}

int fanout_new(struct tl_daemon *d, struct tl_fanout **out)
{
    struct tl_fanout *f = xcalloc(1, sizeof(*f));

    f->d = d;
    f->ev = jobs_event_new(d->jobs, d->base, -1, 0, fanout_cb, f);
    /* Below the callbacks: a chunk waits for the callbacks ready before it. */
    if (f->ev == NULL || event_priority_set(f->ev, DAEMON_PRIORITY_SENDER) != 0) {
        if (f->ev != NULL)
            event_free(f->ev);
        free(f);
        return TL_ERR_IO;
    }
    arm(f, 0); /* a fan-out a crash left goes on at once */
    *out = f;
    return TL_OK;
}

void fanout_kick(struct tl_fanout *f)
{
    if (f != NULL)
        arm(f, 0);
}

void fanout_free(struct tl_fanout *f)
{
    if (f == NULL)
        return;
    event_free(f->ev);
    free(f);
}
