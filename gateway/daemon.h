/*
 * daemon.h — the running gateway: one libevent loop and everything it owns.
 *
 * `talaash serve` builds a struct tl_daemon from a loaded config, runs the
 * loop until SIGTERM/SIGINT, then shuts down in order: stop accepting, let
 * requests in flight finish (at most SHUTDOWN_GRACE_MS), close the store,
 * exit 0. SIGHUP reopens the log file. Signals are handled as libevent
 * events, so no handler ever runs outside the loop.
 *
 * daemon.c is the one place that knows every module. The modules below it
 * report through hooks it wires at start-up instead of calling each other
 * upwards (the sender knows neither the commands nor the group commit; the
 * domain does not know the sender): tests/static/lint.t keeps the gateway's
 * include graph without a cycle.
 */
#ifndef TALAASH_DAEMON_H
#define TALAASH_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct tl_config;
struct tl_store;
struct tl_gazetteer;
struct tl_grammar;
struct tl_http;
struct tl_sender;
struct tl_group;
struct tl_pruner;
struct tl_stats;
struct tl_jobs;

#define SHUTDOWN_GRACE_MS 4000

/*
 * The loop's event priorities (lower runs first). The HTTP connections and
 * the group's flush have libevent's default, the middle one, so a flush
 * runs in the same pass as the callbacks (group.h); the sender's kick has
 * the lowest and runs after the flush.
 */
#define DAEMON_LOOP_PRIORITIES 3
#define DAEMON_PRIORITY_CALLBACKS (DAEMON_LOOP_PRIORITIES / 2)
#define DAEMON_PRIORITY_SENDER (DAEMON_LOOP_PRIORITIES - 1)

struct tl_daemon {
    struct event_base *base;
    struct tl_config *cfg;     /* borrowed from the caller of daemon_run */
    struct tl_store *store;
    struct tl_gazetteer *gz;
    struct tl_grammar *grammar;
    struct tl_http *http;
    struct tl_sender *sender;
    struct tl_group *group; /* the callbacks' group commit (group.h) */
    struct tl_stats *stats; /* the store snapshot of /metrics and the API (stats.h) */
    struct tl_api *api;     /* the operator API: reader thread, console files (api.h) */
    struct tl_pruner *pruner; /* bounded growth (prune.h) */
    struct tl_fanout *fanout; /* the rest of big waves, ahead of the sender (fanout.h) */
    struct tl_jobs *jobs;     /* store work, one at a time (job.h): inline with SQLite */
    bool stopping;
    bool leads; /* runs the cluster's timers (store_leads), as last seen */
    /*
     * Hook wired by daemon_run (NULL: nobody listens): committed outbox
     * rows may be due now (a wave, a group commit that queued replies).
     */
    void (*outbox_ready)(struct tl_daemon *d);
};

/* Reports committed outbox rows to whoever the owner wired (d->outbox_ready). */
static inline void daemon_outbox_ready(struct tl_daemon *d)
{
    if (d->outbox_ready != NULL)
        d->outbox_ready(d);
}

/* Runs the gateway until told to stop; returns the process exit status. */
int daemon_run(struct tl_config *cfg);
/* Begins an orderly stop (as SIGTERM does). */
void daemon_stop(struct tl_daemon *d);

#endif
