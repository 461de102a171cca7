/*
 * stats.c — the cached snapshot of store-wide figures (see stats.h): its
 * thread, the hand-over to the loop, the waiters, and the renderers that
 * serve it (Prometheus gauges, the API's JSON).
 *
 * Threads: the stats thread only runs store_stats_read() on its own
 * connection and fills `done` under the mutex; everything else — the
 * current snapshot, the waiters, the decision to refresh — belongs to the
 * loop's thread. The thread signals the loop by writing to an eventfd, so
 * libevent needs no thread support.
 */
#include "gateway/stats.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/store/store.h"
#include "gateway/store/store_stats.h"
#include "providers/provider.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct stats_waiter {
    void (*ready)(struct tl_daemon *d, void *arg);
    void *arg;
};

struct tl_stats {
    struct tl_daemon *d;
    /* shared with the thread, under mu */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool want, stop, thread_started;
    struct tl_store_stats done; /* the thread's last result */
    int done_rc;
    double done_ms;             /* what it took */
    char done_why[200];         /* why it failed (logged by the loop: the thread never logs) */
    char *path;
    long busy_timeout_ms;
    /* the loop's */
    int efd;
    struct event *ev;
    struct event *wait_timer; /* waiters get the older snapshot after STATS_WAIT_MAX_MS */
    bool refreshing;
    double asked_mono_ms, asked_unix_ms; /* when the running refresh was asked for */
    bool have;                  /* cur holds a snapshot */
    struct tl_store_stats cur;
    double cur_mono_ms, cur_unix_ms, cur_took_ms;
    double next_allowed_ms;     /* monotonic: no refresh starts before this */
    struct stats_waiter *waiters;
    size_t nwaiters, capwaiters;
};

static void *stats_main(void *arg)
{
    struct tl_stats *s = arg;
    struct tl_store_reader *r = NULL;
    char *cause = NULL;

    /*
     * The lowest CPU priority for this thread alone (Linux: a thread is a
     * task of its own to setpriority): when the cores are busy with
     * callbacks, a snapshot waits for idle time instead of taking theirs.
     */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19); /* best effort */

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->want && !s->stop)
            pthread_cond_wait(&s->cond, &s->mu);
        if (s->stop)
            break;
        s->want = false;
        pthread_mutex_unlock(&s->mu);
        double t0 = clock_mono_ms();
        struct tl_store_stats fresh;
        int rc = TL_ERR_STORE;
        char why[200] = "";
        memset(&fresh, 0, sizeof(fresh));
        if (r == NULL && store_reader_open(s->path, s->busy_timeout_ms, &r, &cause) != TL_OK) {
            snprintf(why, sizeof(why), "open: %s", cause);
            free(cause);
            cause = NULL;
        } else {
            rc = store_stats_read(r, &fresh);
            if (rc != TL_OK)
                snprintf(why, sizeof(why), "read: %s", store_reader_errmsg(r));
        }
        double took = clock_mono_ms() - t0;
        pthread_mutex_lock(&s->mu);
        store_stats_clear(&s->done);
        s->done = fresh;
        s->done_rc = rc;
        s->done_ms = took;
        memcpy(s->done_why, why, sizeof(why));
        pthread_mutex_unlock(&s->mu);
        uint64_t one = 1;
        /* An eventfd write fails only when the counter would overflow: the loop is woken anyway. */
        ssize_t w = write(s->efd, &one, sizeof(one));
        (void)w;
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    store_reader_close(r);
    return NULL;
}

static void call_waiters(struct tl_stats *s)
{
    if (s->wait_timer != NULL)
        evtimer_del(s->wait_timer);
    /* A waiter may ask again (and be queued anew): take the list first. */
    struct stats_waiter *w = s->waiters;
    size_t n = s->nwaiters;

    s->waiters = NULL;
    s->nwaiters = s->capwaiters = 0;
    for (size_t i = 0; i < n; i++)
        w[i].ready(s->d, w[i].arg);
    free(w);
}

/* The thread's result is in: it becomes the snapshot (unless it failed), waiters go on. */
static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_stats *s = arg;
    uint64_t n;

    (void)what;
    if (read(fd, &n, sizeof(n)) < 0)
        return;
    pthread_mutex_lock(&s->mu);
    int rc = s->done_rc;
    double took = s->done_ms;
    struct tl_store_stats fresh = s->done;
    char why[sizeof(s->done_why)];
    memcpy(why, s->done_why, sizeof(why));
    memset(&s->done, 0, sizeof(s->done));
    pthread_mutex_unlock(&s->mu);
    s->refreshing = false;
    double gap = took * STATS_COST_FACTOR;
    s->next_allowed_ms = clock_mono_ms() + (gap > STATS_MAX_AGE_MS ? gap : 0);
    if (rc == TL_OK) {
        store_stats_clear(&s->cur);
        s->cur = fresh;
        s->have = true;
        s->cur_mono_ms = s->asked_mono_ms;
        s->cur_unix_ms = s->asked_unix_ms;
        s->cur_took_ms = took;
    } else {
        log_error("stats", "event=snapshot_failed detail=\"%s\"", why);
        store_stats_clear(&fresh);
        metrics_store_error(TL_MW_STATS);
    }
    call_waiters(s);
}

/* A refresh is slow (a huge store, busy cores): the waiters get the snapshot there is. */
static void wait_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    call_waiters(arg);
}

int stats_new(struct tl_daemon *d, struct tl_stats **out, char **cause)
{
    struct tl_stats *s = xcalloc(1, sizeof(*s));

    s->d = d;
    s->path = xstrdup(d->cfg->store_where);
    s->busy_timeout_ms = d->cfg->busy_timeout_ms;
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (s->efd >= 0)
        s->ev = event_new(d->base, s->efd, EV_READ | EV_PERSIST, done_cb, s);
    s->wait_timer = evtimer_new(d->base, wait_timeout_cb, s);
    if (s->ev == NULL || s->wait_timer == NULL || event_add(s->ev, NULL) != 0 ||
        pthread_create(&s->thread, NULL, stats_main, s) != 0) {
        *cause = xstrdup("cannot start the stats thread");
        stats_free(s);
        return TL_ERR_STORE;
    }
    s->thread_started = true;
    *out = s;
    return TL_OK;
}

void stats_free(struct tl_stats *s)
{
    if (s == NULL)
        return;
    call_waiters(s);
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    if (s->ev != NULL)
        event_free(s->ev);
    if (s->wait_timer != NULL)
        event_free(s->wait_timer);
    if (s->efd >= 0)
        close(s->efd);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    store_stats_clear(&s->done);
    store_stats_clear(&s->cur);
    free(s->waiters);
    free(s->path);
    free(s);
}

/* Starts a refresh when the snapshot is stale and one may start; true when one is running. */
static bool refresh_if_due(struct tl_stats *s)
{
    double now = clock_mono_ms();

    if (s->refreshing)
        return true;
    if (s->have && now - s->cur_mono_ms <= STATS_MAX_AGE_MS)
        return false;
    if (s->have && now < s->next_allowed_ms)
        return false;
    s->refreshing = true;
    s->asked_mono_ms = now;
    s->asked_unix_ms = (double)clock_now_ms();
    pthread_mutex_lock(&s->mu);
    s->want = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    return true;
}

void stats_when_fresh(struct tl_daemon *d, void (*ready)(struct tl_daemon *d, void *arg),
                      void *arg)
{
    struct tl_stats *s = d->stats;

    if (s == NULL || d->stopping || !refresh_if_due(s)) {
        ready(d, arg);
        return;
    }
    if (s->nwaiters == s->capwaiters) {
        s->capwaiters = s->capwaiters ? s->capwaiters * 2 : 8;
        s->waiters = xrealloc(s->waiters, s->capwaiters * sizeof(*s->waiters));
    }
    s->waiters[s->nwaiters++] = (struct stats_waiter){ready, arg};
    /* The first snapshot is worth waiting for; a fresher one only so long. */
    if (s->nwaiters == 1 && s->have) {
        struct timeval tv = {0, (suseconds_t)(STATS_WAIT_MAX_MS * 1000)};
        evtimer_add(s->wait_timer, &tv);
    }
}

/* The current snapshot, or NULL; asks for a fresher one in passing. */
static const struct tl_store_stats *snapshot(struct tl_daemon *d)
{
    struct tl_stats *s = d->stats;

    if (s == NULL)
        return NULL;
    if (!d->stopping)
        refresh_if_due(s);
    return s->have ? &s->cur : NULL;
}

/* ---- Prometheus gauges ---- */

/* Messages of a channel (or the alert pool) now in the outbox in state a or b. */
static int64_t count_of_channel(const struct tl_store_stats *st, const char *channel,
                                enum tl_outbox_state a, enum tl_outbox_state b)
{
    int64_t n = 0;

    for (size_t i = 0; st != NULL && i < st->noutbox; i++) {
        if ((st->outbox[i].state == (int)a || st->outbox[i].state == (int)b) &&
            strcmp(st->outbox[i].channel, channel) == 0)
            n += st->outbox[i].n;
    }
    return n;
}

void stats_render_metrics(struct tl_daemon *d, struct tl_buf *out)
{
    const struct tl_store_stats *st = snapshot(d);
    const struct tl_stats *s = d->stats;
    const struct tl_config *cfg = d->cfg;
    char labels[200];

    metrics_family(out, "talaash_stats_snapshot_age_seconds", "gauge",
                   "Age of the store snapshot the gauges below come from (-1: none yet).");
    metrics_sample(out, "talaash_stats_snapshot_age_seconds", NULL,
                   st ? (clock_mono_ms() - s->cur_mono_ms) / 1000.0 : -1);
    metrics_family(out, "talaash_stats_snapshot_duration_seconds", "gauge",
                   "Time the stats thread took to read that snapshot.");
    metrics_sample(out, "talaash_stats_snapshot_duration_seconds", NULL,
                   st ? s->cur_took_ms / 1000.0 : 0);
    if (st == NULL)
        return; /* no store figures rather than made-up zeros */

    metrics_family(out, "talaash_cases", "gauge", "Cases by state.");
    for (int i = 0; i < TL_CASE_NSTATES; i++) {
        snprintf(labels, sizeof(labels), "state=\"%s\"", store_case_state_names[i]);
        metrics_sample(out, "talaash_cases", labels, (double)st->cases[i]);
    }
    metrics_family(out, "talaash_alerts_active", "gauge",
                   "Alerts being broadcast: cases in state active.");
    metrics_sample(out, "talaash_alerts_active", NULL, (double)st->cases[TL_CASE_ACTIVE]);

    metrics_family(out, "talaash_outbox_messages", "gauge",
                   "Outbox messages by channel (*alerts: the alert pool, not claimed yet), kind and state.");
    /* Each channel, and the alert pool (messages no alert channel has claimed yet) when used. */
    size_t nqueues = cfg->nchannels + (cfg->nalert_channels > 1 ? 1 : 0);
    for (size_t c = 0; c < nqueues; c++) {
        const char *queue = c < cfg->nchannels ? cfg->channels[c].name : TL_OUTBOX_POOL;
        for (int k = 0; k < TL_OUTBOX_NKINDS; k++)
            for (int state = 0; state < TL_OUTBOX_NSTATES; state++) {
                int64_t n = 0;
                for (size_t i = 0; i < st->noutbox; i++) {
                    const struct tl_store_outbox_count *g = &st->outbox[i];
                    if (g->kind == k && g->state == state && strcmp(g->channel, queue) == 0)
                        n += g->n;
                }
                snprintf(labels, sizeof(labels), "channel=\"%s\",kind=\"%s\",state=\"%s\"",
                         queue, store_outbox_kind_names[k],
                         store_outbox_state_name((enum tl_outbox_state)state));
                metrics_sample(out, "talaash_outbox_messages", labels, (double)n);
            }
    }

    /* Queue depth: queued rows by (channel, kind, priority) of every pair the outbox has had. */
    metrics_family(out, "talaash_queue_depth", "gauge",
                   "Queued outbox messages by channel, kind and priority (0 is sent first).");
    for (size_t i = 0; i < st->noutbox; i++) {
        const struct tl_store_outbox_count *g = &st->outbox[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = st->outbox[j].kind == g->kind && st->outbox[j].priority == g->priority &&
                   strcmp(st->outbox[j].channel, g->channel) == 0;
        if (seen || (config_channel(cfg, g->channel) == NULL &&
                     strcmp(g->channel, TL_OUTBOX_POOL) != 0))
            continue;
        int64_t n = 0;
        for (size_t j = i; j < st->noutbox; j++) {
            const struct tl_store_outbox_count *h = &st->outbox[j];
            if (h->state == TL_OUTBOX_QUEUED && h->kind == g->kind &&
                h->priority == g->priority && strcmp(h->channel, g->channel) == 0)
                n += h->n;
        }
        snprintf(labels, sizeof(labels), "channel=\"%s\",kind=\"%s\",priority=\"%d\"",
                 g->channel, store_outbox_kind_names[g->kind], g->priority);
        metrics_sample(out, "talaash_queue_depth", labels, (double)n);
    }

    metrics_family(out, "talaash_subscribers", "gauge",
                   "Numbers known to the gateway that have not opted out.");
    metrics_sample(out, "talaash_subscribers", NULL, (double)st->subscribers);
    metrics_family(out, "talaash_subscribers_opted_out", "gauge", "Numbers that sent STOP.");
    metrics_sample(out, "talaash_subscribers_opted_out", NULL, (double)st->opted_out);
    metrics_family(out, "talaash_subscriptions", "gauge", "Subscriptions (number, area).");
    metrics_sample(out, "talaash_subscriptions", NULL, (double)st->subscriptions);
    metrics_family(out, "talaash_police_registrations", "gauge",
                   "Police registrations (number, area).");
    metrics_sample(out, "talaash_police_registrations", NULL, (double)st->police);
}

/* ---- JSON for the operator API ---- */

/* RFC 3339 UTC for unix milliseconds, or JSON null when at is 0. */
static cJSON *json_time(double at_ms)
{
    char buf[32];
    struct tm tm;
    time_t t = (time_t)(at_ms / 1000.0);

    if (at_ms <= 0 || gmtime_r(&t, &tm) == NULL)
        return cJSON_CreateNull();
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return cJSON_CreateString(buf);
}

cJSON *stats_channels_json(struct tl_daemon *d)
{
    const struct tl_store_stats *st = snapshot(d);
    cJSON *arr = cJSON_CreateArray();

    for (size_t i = 0; i < d->cfg->nchannels; i++) {
        const struct tl_channel_conf *ch = &d->cfg->channels[i];
        struct tl_metrics_channel_status ms;
        cJSON *o = cJSON_CreateObject();

        metrics_channel_status(ch, &ms);
        cJSON_AddStringToObject(o, "name", ch->name);
        cJSON_AddStringToObject(o, "provider", ch->provider);
        cJSON_AddNumberToObject(o, "rate", ch->rate);
        cJSON_AddNumberToObject(
            o, "batch_size", (double)provider_batch_limit(provider_find(ch->provider), ch));
        cJSON_AddNumberToObject(o, "concurrency", ch->concurrency);
        cJSON_AddBoolToObject(o, "alerts", config_alert_channel(d->cfg, ch));
        if (st != NULL) {
            cJSON_AddNumberToObject(
                o, "queue_depth",
                (double)count_of_channel(st, ch->name, TL_OUTBOX_QUEUED, TL_OUTBOX_QUEUED));
            /* What it sent (a pool message counts for the account that claimed it). */
            cJSON_AddNumberToObject(
                o, "sent",
                (double)count_of_channel(st, ch->name, TL_OUTBOX_SENT, TL_OUTBOX_DELIVERED));
            /* The alert pool's messages not claimed yet, which any alert channel may send. */
            if (config_alert_channel(d->cfg, ch))
                cJSON_AddNumberToObject(o, "pool_queue_depth",
                                        (double)count_of_channel(st, TL_OUTBOX_POOL,
                                                                 TL_OUTBOX_QUEUED,
                                                                 TL_OUTBOX_QUEUED));
        } else {
            cJSON_AddNullToObject(o, "queue_depth");
            cJSON_AddNullToObject(o, "sent");
        }
        cJSON_AddNumberToObject(o, "in_flight", (double)ms.in_flight);
        if (ms.last_error[0] != '\0')
            cJSON_AddStringToObject(o, "last_error", ms.last_error);
        else
            cJSON_AddNullToObject(o, "last_error");
        cJSON_AddItemToObject(o, "last_error_at", json_time(ms.last_error_at * 1000.0));
        cJSON_AddItemToObject(o, "last_success_at", json_time(ms.last_success_at * 1000.0));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

cJSON *stats_summary_json(struct tl_daemon *d)
{
    const struct tl_store_stats *st = snapshot(d);
    static const struct tl_store_stats none;
    const struct tl_store_stats *v = st ? st : &none;
    cJSON *o = cJSON_CreateObject();
    cJSON *cases = cJSON_CreateObject(), *outbox = cJSON_CreateObject();
    cJSON *subs = cJSON_CreateObject();
    int64_t by_state[TL_OUTBOX_NSTATES] = {0};

    cJSON_AddItemToObject(o, "as_of", st ? json_time(d->stats->cur_unix_ms) : cJSON_CreateNull());
    for (int i = 0; i < TL_CASE_NSTATES; i++)
        cJSON_AddNumberToObject(cases, store_case_state_names[i], (double)v->cases[i]);
    cJSON_AddItemToObject(o, "cases", cases);
    for (size_t i = 0; i < v->noutbox; i++)
        by_state[v->outbox[i].state] += v->outbox[i].n;
    for (int i = 0; i < TL_OUTBOX_NSTATES; i++)
        cJSON_AddNumberToObject(outbox, store_outbox_state_name((enum tl_outbox_state)i),
                                (double)by_state[i]);
    cJSON_AddItemToObject(o, "outbox", outbox);
    cJSON_AddNumberToObject(subs, "active", (double)v->subscribers);
    cJSON_AddNumberToObject(subs, "opted_out", (double)v->opted_out);
    cJSON_AddNumberToObject(subs, "subscriptions", (double)v->subscriptions);
    cJSON_AddItemToObject(o, "subscribers", subs);
    cJSON_AddNumberToObject(o, "police", (double)v->police);
    cJSON_AddNumberToObject(o, "active_alerts", (double)v->cases[TL_CASE_ACTIVE]);
    return o;
}
