/*
 * daemon.h — the running gateway: one libevent loop and everything it owns.
 *
 * `talaash serve` builds a struct tl_daemon from a loaded config, runs the
 * loop until SIGTERM/SIGINT, then shuts down in order: stop accepting, let
 * requests in flight finish (at most SHUTDOWN_GRACE_MS), close the store,
 * exit 0. SIGHUP reopens the log file. Signals are handled as libevent
 * events, so no handler ever runs outside the loop.
 */
#ifndef TALAASH_DAEMON_H
#define TALAASH_DAEMON_H

#include <stdbool.h>

struct event_base;
struct tl_config;
struct tl_store;
struct tl_gazetteer;
struct tl_grammar;
struct tl_http;
struct tl_sender;
struct tl_group;
struct tl_stats;

#define SHUTDOWN_GRACE_MS 4000

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
    bool stopping;
};

/* Runs the gateway until told to stop; returns the process exit status. */
int daemon_run(struct tl_config *cfg);
/* Begins an orderly stop (as SIGTERM does). */
void daemon_stop(struct tl_daemon *d);

#endif
