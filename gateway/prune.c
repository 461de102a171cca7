/*
 * prune.c — drives the pruning passes on the loop (see prune.h); the SQL
 * is store_prune.c's. A pass deletes, in order: final outbox rows of cases
 * ended keep_sent ago (folded into counts first), the provider ids of the
 * rows gone, inbound messages past [store] keep_inbound, and rate windows
 * idle for a day (the longest window). Each step is its own transaction; a step that fails is logged
 * and the pass is given up, to be tried again at the next due check.
 *
 * A step that runs while the callbacks' group transaction is open (a timer
 * between a callback and its flush, group.h) nests in it as a savepoint
 * and commits with it; should the group roll back, so does the step, and
 * its rows wait for the next pass (the cursor moved on), counts intact.
 *
 * The same way, off the hot path, the provider ids that send results stage
 * are moved into their index in slices of the lowest keys (mover_cb), each
 * a few milliseconds, once STORE_PROVIDER_IDS_MOVE_AT wait.
 */
#include "gateway/prune.h"
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

#define PRUNE_ROWS_MIN 100
#define PRUNE_ROWS_MAX 20000
/* How often the mover looks whether STORE_PROVIDER_IDS_MOVE_AT provider ids wait. */
#define MOVER_CHECK_MS 50
/* Provider ids per slice of a move (a few milliseconds at 300,000 ids in the index). */
#define MOVE_SLICE 2000
/* A rate window is idle once the longest window (reports_per_day) has ended. */
#define RATE_WINDOW_IDLE 86400

static const char *const table_names[TL_PRUNE_NTABLES] = {"outbox", "provider_ids", "inbound",
                                                           "rate_windows"};

struct tl_pruner {
    struct tl_daemon *d;
    struct event *ev;
    bool running;                     /* a pass is under way */
    enum tl_prune_table table;        /* the table the pass is at */
    struct tl_prune_cursor cursor;    /* where in it (owned) */
    int64_t cuts[TL_PRUNE_NTABLES];   /* this pass's cut-off time per table */
    int64_t deleted[TL_PRUNE_NTABLES];
    int64_t pass_now, last_pass;      /* clock_now at this / the last pass's start */
    size_t rows;                      /* rows per step, adapted to PRUNE_STEP_MS */
    size_t steps;
    double started_ms, busy_ms, max_step_ms;
    /* Provider ids staged by send results, moved into their index in slices. */
    struct event *mover;
    struct tl_prune_cursor *slices; /* the move under way: each slice's last key (owned) */
    size_t nslices, slice;          /* slices, the next one */
};

static void arm(struct tl_pruner *p, long ms)
{
    jobs_timer_in(p->ev, ms);
}

/* Rows per step follow the time a step takes: doubled under half the aim, halved over it. */
static void adapt(size_t *rows, double took_ms, size_t lo, size_t hi)
{
    if (took_ms < PRUNE_STEP_MS / 2 && *rows < hi)
        *rows *= 2;
    else if (took_ms > PRUNE_STEP_MS && *rows > lo)
        *rows /= 2;
}

static void pass_start(struct tl_pruner *p, int64_t now)
{
    const struct tl_config *cfg = p->d->cfg;

    p->running = true;
    p->table = TL_PRUNE_OUTBOX;
    store_prune_cursor_clear(&p->cursor);
    p->cuts[TL_PRUNE_OUTBOX] = now - cfg->keep_sent;
    p->cuts[TL_PRUNE_PROVIDER_IDS] = now;
    p->cuts[TL_PRUNE_INBOUND] = now - cfg->keep_inbound;
    p->cuts[TL_PRUNE_RATE_WINDOWS] = now - RATE_WINDOW_IDLE;
    for (size_t i = 0; i < TL_PRUNE_NTABLES; i++)
        p->deleted[i] = 0;
    p->pass_now = p->last_pass = now;
    p->steps = 0;
    p->started_ms = clock_mono_ms();
    p->busy_ms = p->max_step_ms = 0;
}

static void pass_end(struct tl_pruner *p, bool failed)
{
    p->running = false;
    store_prune_cursor_clear(&p->cursor);
    if (failed) {
        log_error("prune", "event=pass_failed table=%s detail=\"%s\"", table_names[p->table],
                  store_errmsg(p->d->store));
        return;
    }
    if (store_prune_mark_cases(p->d->store, p->cuts[TL_PRUNE_OUTBOX], p->pass_now) != TL_OK)
        log_error("prune", "event=mark_failed detail=\"%s\"", store_errmsg(p->d->store));
    log_info("prune",
             "event=pass outbox=%lld provider_ids=%lld inbound=%lld rate_windows=%lld steps=%zu"
             " busy_ms=%.1f max_step_ms=%.1f took_ms=%.0f",
             (long long)p->deleted[TL_PRUNE_OUTBOX], (long long)p->deleted[TL_PRUNE_PROVIDER_IDS],
             (long long)p->deleted[TL_PRUNE_INBOUND],
             (long long)p->deleted[TL_PRUNE_RATE_WINDOWS], p->steps, p->busy_ms, p->max_step_ms,
             clock_mono_ms() - p->started_ms);
}

/* One step of the pass; true while the pass goes on. */
static bool pass_step(struct tl_pruner *p)
{
    int64_t n = 0;
    double t0 = clock_mono_ms();
    int rc = store_prune_step(p->d->store, p->table, p->cuts[p->table], &p->cursor, p->rows, &n);
    double took = clock_mono_ms() - t0;

    p->steps++;
    p->busy_ms += took;
    if (took > p->max_step_ms)
        p->max_step_ms = took;
    if (rc < 0) {
        pass_end(p, true);
        return false;
    }
    p->deleted[p->table] += n;
    adapt(&p->rows, took, PRUNE_ROWS_MIN, PRUNE_ROWS_MAX); /* the machine, the table */
    if (rc == 0) {
        store_prune_cursor_clear(&p->cursor);
        if (++p->table == TL_PRUNE_NTABLES) {
            pass_end(p, false);
            return false;
        }
    }
    return true;
}

static void prune_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_pruner *p = arg;
    int64_t now = clock_now();

    (void)fd;
    (void)what;
    if (p->d->stopping)
        return;
    if (!store_leads(p->d->store)) { /* another node of the cluster prunes */
        arm(p, 1000);
        return;
    }
    if (!p->running) {
        int due = store_prune_due(p->d->store, now - p->d->cfg->keep_sent);
        if (due > 0 || now - p->last_pass >= PRUNE_PASS_EVERY)
            pass_start(p, now);
    }
    if (p->running && pass_step(p)) {
        arm(p, PRUNE_PAUSE_MS);
        return;
    }
    arm(p, 1000);
}

static void slices_free(struct tl_pruner *p)
{
    for (size_t i = 0; i < p->nslices; i++)
        store_prune_cursor_clear(&p->slices[i]);
    free(p->slices);
    p->slices = NULL;
    p->nslices = p->slice = 0;
}

/* Moves staged provider ids one slice per call; plans a move once enough wait. */
static void mover_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_pruner *p = arg;
    struct tl_store *st = p->d->store;
    struct timeval tv = {0, MOVER_CHECK_MS * 1000};
    int rc = TL_OK;

    (void)fd;
    (void)what;
    if (p->d->stopping)
        return;
    if (p->nslices == 0 && store_provider_ids_staged(st) >= STORE_PROVIDER_IDS_MOVE_AT)
        rc = store_provider_ids_plan(st, MOVE_SLICE, &p->slices, &p->nslices);
    else if (p->slice < p->nslices) {
        int64_t moved;
        rc = store_provider_ids_move_range(st, p->slice > 0 ? &p->slices[p->slice - 1] : NULL,
                                           &p->slices[p->slice], &moved);
        p->slice++;
    }
    if (rc != TL_OK) {
        log_error("prune", "event=provider_ids_move_failed detail=\"%s\"", store_errmsg(st));
        slices_free(p);
        tv.tv_sec = 1;
        tv.tv_usec = 0;
    } else if (p->nslices > 0 && p->slice == p->nslices) {
        slices_free(p); /* done; ids staged meanwhile wait for the next move */
    } else if (p->nslices > 0) {
        tv.tv_usec = PRUNE_PAUSE_MS * 1000;
    }
    evtimer_add(p->mover, &tv);
}

int prune_new(struct tl_daemon *d, struct tl_pruner **out)
{
    struct tl_pruner *p = xcalloc(1, sizeof(*p));

    p->d = d;
    p->rows = 1000;
    p->last_pass = clock_now(); /* rows of no case: an hour after start, then hourly */
    p->ev = jobs_event_new(d->jobs, d->base, -1, 0, prune_cb, p);
    p->mover = jobs_event_new(d->jobs, d->base, -1, 0, mover_cb, p);
    if (p->ev == NULL || p->mover == NULL) {
        if (p->ev != NULL)
            event_free(p->ev);
        if (p->mover != NULL)
            event_free(p->mover);
    slices_free(p);
        free(p);
        return TL_ERR_IO;
    }
    arm(p, 1000);
    struct timeval tv = {0, MOVER_CHECK_MS * 1000};
    evtimer_add(p->mover, &tv);
    *out = p;
    return TL_OK;
}

void prune_free(struct tl_pruner *p)
{
    if (p == NULL)
        return;
    event_free(p->ev);
    event_free(p->mover);
    slices_free(p);
    store_prune_cursor_clear(&p->cursor);
    free(p);
}
