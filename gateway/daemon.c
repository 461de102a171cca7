/*
 * daemon.c — `talaash serve`: builds the loop and its parts from the config,
 * runs it, and takes it down in order (see daemon.h). It also speaks to
 * systemd (sd_notify, a no-op without NOTIFY_SOCKET): READY=1 once the store
 * is open and the listener bound, WATCHDOG=1 from the loop at half of
 * WATCHDOG_USEC, RELOADING=1/READY=1 around a SIGHUP, STOPPING=1 on stop.
 */
#include "gateway/daemon.h"
#include "gateway/alerts.h"
#include "gateway/api.h"
#include "gateway/areas.h"
#include "gateway/clock.h"
#include "gateway/commands.h"
#include "gateway/config.h"
#include "gateway/fanout.h"
#include "gateway/group.h"
#include "gateway/http.h"
#include "gateway/job.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/routes.h"
#include "gateway/prune.h"
#include "gateway/sender.h"
#include "gateway/stats.h"
#include "gateway/store/store.h"
#include "parsers/grammar.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <event2/event.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

static struct event *shutdown_timer;
static struct event *tick_timer;
static struct event *watchdog_timer;

/*
 * Keep-alive for systemd's WatchdogSec=: sent from a loop timer, so a loop
 * that hangs (a stuck callback, a store call that never returns) stops the
 * pings and systemd restarts the service.
 */
static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    sd_notify(0, "WATCHDOG=1");
}

/* Starts the watchdog timer when systemd asks for one (WATCHDOG_USEC for us). */
static void watchdog_start(struct tl_daemon *d)
{
    uint64_t usec = 0;

    if (getenv("NOTIFY_SOCKET") == NULL || sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return;
    uint64_t half = usec / 2;
    struct timeval tv = {(time_t)(half / 1000000), (suseconds_t)(half % 1000000)};
    watchdog_timer = event_new(d->base, -1, EV_PERSIST, watchdog_cb, d);
    event_add(watchdog_timer, &tv);
    sd_notify(0, "WATCHDOG=1");
    log_info("daemon", "event=watchdog interval_ms=%llu", (unsigned long long)(half / 1000));
}

/*
 * Once a second: a store that failed a write is tried again (so it is seen
 * to recover without traffic), then — on the node that leads the cluster
 * (one node: always) — escalation stages that came due and redaction of
 * old cases.
 */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_daemon *d = arg;

    (void)fd;
    (void)what;
    if (d->stopping)
        return;
    if (!store_writable(d->store, NULL))
        store_write_probe(d->store);
    bool leads = store_leads(d->store);
    if (leads != d->leads) {
        d->leads = leads;
        log_info("daemon", "event=%s", leads ? "leader" : "follower");
    }
    if (!leads)
        return; /* another node of the cluster runs the timers (store_leads) */
    alerts_tick(d);
    api_tick(d);
}

/* One log line per change of the store's write health (store_on_health). */
static void store_health_cb(void *arg, bool writable, const char *reason, long failures)
{
    static double since_ms;
    char esc[LOG_PEER_BUFSZ];

    (void)arg;
    if (writable) {
        log_warn("store", "event=writable_again after_s=%.1f failed_writes=%ld",
                 (clock_mono_ms() - since_ms) / 1000.0, failures);
        return;
    }
    since_ms = clock_mono_ms();
    log_error("store",
              "event=unwritable reason=%s (callbacks are answered 503 until it recovers; "
              "/healthz says why)",
              log_peer(reason, strlen(reason), esc));
}
static double shutdown_started_ms;

/* ---- the hooks that let the lower modules report without calling upwards ---- */

/* The outbox has committed rows that may be due: the sender sends them (soon). */
static void outbox_ready(struct tl_daemon *d)
{
    sender_kick(d->sender);
}

/* Before the sender claims: the callbacks' open group commits. */
static void sender_before_claim(struct tl_daemon *d)
{
    group_flush(d->group);
}

/* An aggregator's opt-out of a number is a STOP for it (commands.h). */
static const struct tl_sender_hooks sender_hooks = {
    .before_claim = sender_before_claim,
    .opted_out = commands_opt_out,
};

/* Polls every 20 ms until nothing is in flight or the grace time is over. */
static void shutdown_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_daemon *d = arg;
    double waited = clock_mono_ms() - shutdown_started_ms;

    (void)fd;
    (void)what;
    if ((http_inflight(d->http) == 0 && sender_inflight(d->sender) == 0) ||
        waited >= SHUTDOWN_GRACE_MS) {
        if (waited >= SHUTDOWN_GRACE_MS)
            log_warn("daemon", "event=shutdown_grace_over inflight=%zu sending=%zu",
                     http_inflight(d->http), sender_inflight(d->sender));
        event_base_loopexit(d->base, NULL);
        return;
    }
    struct timeval tv = {0, 20 * 1000};
    evtimer_add(shutdown_timer, &tv);
}

void daemon_stop(struct tl_daemon *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    sd_notify(0, "STOPPING=1");
    log_info("daemon", "event=stopping inflight=%zu", http_inflight(d->http));
    http_stop_accepting(d->http);
    sender_stop(d->sender);
    shutdown_started_ms = clock_mono_ms();
    shutdown_timer = evtimer_new(d->base, shutdown_tick_cb, d);
    struct timeval now = {0, 0};
    evtimer_add(shutdown_timer, &now);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct tl_daemon *d = arg;

    (void)what;
    if (sig == SIGHUP) {
        /* systemctl reload (ExecReload sends SIGHUP): reopening the log is the reload. */
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                   (unsigned long long)(clock_mono_ms() * 1000));
        if (log_reopen() < 0)
            log_error("daemon", "event=log_reopen_failed");
        else
            log_info("daemon", "event=log_reopened");
        sd_notify(0, "READY=1");
        return;
    }
    log_info("daemon", "event=signal signal=%s", sig == SIGTERM ? "TERM" : "INT");
    daemon_stop(d);
}

int daemon_run(struct tl_config *cfg)
{
    struct tl_daemon d;
    struct event *sigs[3] = {NULL, NULL, NULL};
    const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    char *cause = NULL;
    int status = 0;

    memset(&d, 0, sizeof(d));
    d.cfg = cfg;
    /*
     * SQLite allocates and frees temporary tables on every write; with
     * glibc's default thresholds each free can trim the heap (brk, a TLB
     * flush), measured at 2-18% of the daemon's time. Keep 16 MiB around.
     */
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TOP_PAD, 16 * 1024 * 1024);
    signal(SIGPIPE, SIG_IGN);
    log_route_libevent();
    metrics_init(cfg);

    if (areas_load(cfg, &d.gz, &cause) != TL_OK) {
        log_error("daemon", "event=start_failed reason=areas detail=\"%s\"", cause);
        free(cause);
        return 1;
    }
    d.grammar = grammar_new(&cause);
    if (d.grammar == NULL) {
        log_error("daemon", "event=start_failed reason=grammar detail=\"%s\"", cause);
        free(cause);
        areas_free(d.gz);
        return 1;
    }
    if (store_open(cfg->store_where, cfg->busy_timeout_ms, &d.store, &cause) != TL_OK) {
        log_error("daemon", "event=start_failed reason=store detail=\"%s\"", cause);
        free(cause);
        grammar_free(d.grammar);
        areas_free(d.gz);
        return 1;
    }
    store_on_health(d.store, store_health_cb, &d);
    /* This node in a cluster: host:listen; a claim outlives the longest request by as much again. */
    char node[128], host[64] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(node, sizeof(node), "%s:%s", host, cfg->listen);
    store_set_node(d.store, node,
                   (int64_t)((cfg->connect_timeout + cfg->send_timeout) * 2000.0) + 5000);
    if (areas_sync_store(d.gz, d.store) != TL_OK)
        log_warn("daemon", "event=areas_sync_failed detail=\"%s\"", store_errmsg(d.store));
    /*
     * epoll changes are collected and applied once per loop pass: a
     * callback's connection stops reading and starts writing in the same
     * pass (group.c holds the answer until the commit), one epoll_ctl
     * instead of two. We never dup() sockets, the one caveat of the flag.
     */
    struct event_config *evcfg = event_config_new();
    if (evcfg != NULL) {
        event_config_set_flag(evcfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        d.base = event_base_new_with_config(evcfg);
        event_config_free(evcfg);
    }
    /* Before any event exists: priorities of group.h. */
    if (d.base == NULL || event_base_priority_init(d.base, DAEMON_LOOP_PRIORITIES) != 0 ||
        jobs_new(d.base, strcmp(store_backend_name(d.store), "postgresql") == 0, &d.jobs) !=
            TL_OK ||
        group_new(&d, &d.group) != TL_OK) {
        log_error("daemon", "event=start_failed reason=event_base");
        status = 1;
        goto out;
    }
    d.outbox_ready = outbox_ready;
    if (sender_new(&d, &sender_hooks, &d.sender, &cause) != TL_OK) {
        log_error("daemon", "event=start_failed reason=sender detail=\"%s\"", cause);
        free(cause);
        status = 1;
        goto out;
    }
    if (stats_new(&d, &d.stats, &cause) != TL_OK) {
        log_error("daemon", "event=start_failed reason=stats detail=\"%s\"", cause);
        free(cause);
        status = 1;
        goto out;
    }
    if (api_new(&d, &d.api, &cause) != TL_OK) {
        log_error("daemon", "event=start_failed reason=api detail=\"%s\"", cause);
        free(cause);
        status = 1;
        goto out;
    }
    if (prune_new(&d, &d.pruner) != TL_OK) {
        log_error("daemon", "event=start_failed reason=pruner");
        status = 1;
        goto out;
    }
    if (fanout_new(&d, &d.fanout) != TL_OK) {
        log_error("daemon", "event=start_failed reason=fanout");
        status = 1;
        goto out;
    }
    if (http_start(&d, http_routes, &d.http, &cause) != TL_OK) {
        log_error("daemon", "event=start_failed reason=listen detail=\"%s\"", cause);
        free(cause);
        status = 1;
        goto out;
    }
    for (size_t i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(d.base, signums[i], signal_cb, &d);
        evsignal_add(sigs[i], NULL);
    }
    tick_timer = jobs_event_new(d.jobs, d.base, -1, EV_PERSIST, tick_cb, &d);
    struct timeval second = {1, 0};
    event_add(tick_timer, &second);
    char where[256];
    log_info("daemon",
             "event=started listen=%s store=%s backend=%s schema=%d channels=%zu areas=%zu",
             cfg->listen, store_place_display(cfg->store_where, where, sizeof(where)),
             store_backend_name(d.store), store_schema_version(d.store), cfg->nchannels,
             areas_count(d.gz));
    for (size_t i = 0; i < cfg->nalert_channels; i++) {
        const struct tl_channel_conf *ach = cfg->alert_channels[i];
        if (strcmp(ach->provider, "kannel") != 0 || ach->max_parts >= cfg->max_segments)
            continue;
        log_warn("daemon",
                 "event=config_warning channel=%s reason=\"alerts use up to %ld SMS parts "
                 "([alerts] max_segments) but the channel carries %d (max_parts): alerts are "
                 "shortened to %d; set max_parts to the sendsms-user's max-messages "
                 "(docs/kannel.md)\"",
                 ach->name, cfg->max_segments, ach->max_parts, ach->max_parts);
    }
    /* The store is open and the listener bound: connections are accepted from now on. */
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s", cfg->listen);
    watchdog_start(&d);

    event_base_dispatch(d.base);

    log_info("daemon", "event=stopped");
out:
    jobs_free(d.jobs); /* lets queued store work finish; store calls after it poll */
    d.jobs = NULL;
    for (size_t i = 0; i < 3; i++) {
        if (sigs[i] != NULL)
            event_free(sigs[i]);
    }
    if (tick_timer != NULL) {
        event_free(tick_timer);
        tick_timer = NULL;
    }
    if (watchdog_timer != NULL) {
        event_free(watchdog_timer);
        watchdog_timer = NULL;
    }
    if (shutdown_timer != NULL) {
        event_free(shutdown_timer);
        shutdown_timer = NULL;
    }
    stats_free(d.stats); /* answers the scrapes waiting for it: before http_free */
    fanout_free(d.fanout);
    prune_free(d.pruner);
    group_free(d.group);
    api_free(d.api); /* answers the reads it still holds, before the server goes */
    http_free(d.http);
    sender_free(d.sender);
    store_close(d.store);
    grammar_free(d.grammar);
    areas_free(d.gz);
    if (d.base != NULL)
        event_base_free(d.base);
    metrics_reset();
    return status;
}
