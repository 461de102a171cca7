/*
 * sender.c — the outbox's sender: libcurl's multi interface driven by the
 * libevent loop (the only file that includes curl/curl.h).
 *
 * curl tells us which sockets to watch (socket_cb) and when to call it back
 * (timer_cb); libevent tells curl when a socket is ready (socket_event_cb).
 * A per-channel pump claims due messages within the channel's token bucket
 * and in-flight cap, groups them into requests, and starts them. When a
 * transfer ends its answer is classified by the provider and the outcomes
 * go to the outbox in one transaction; then the pump runs again.
 *
 * Alert channels ([alerts] channels) also claim from the alert pool
 * (store_outbox_claim_pool), each within its own bucket, so each takes a
 * share of an alert in proportion to its rate; one whose requests fail
 * stops claiming from the pool for a while (pool_account) and the others
 * send its share.
 *
 * An answer 429 or 503 with Retry-After pauses its channel until then (at
 * most [outbox] retry_max): no request starts on it, and the request's
 * messages are due again no sooner. Waits on the wall clock (a retry's due
 * time, a pause) are re-checked at least every SENDER_RECHECK_MS, so a
 * step of the clock (NTP, the test clock) is noticed within that time.
 *
 * Results that cannot be stored (the store failing: disk full, read-only,
 * locked) are kept in memory, copied, and stored again before anything new
 * is claimed, so a fault neither loses what the aggregator said nor leaves
 * rows 'sending' until a restart; only a stop during the fault does that
 * (those rows are requeued at start and may go twice).
 *
 * Ownership: a struct sender_transfer owns its claimed messages, the
 * provider's request description and the curl easy handle, and is freed
 * when its transfer ends (or at shutdown).
 */
#include "gateway/sender.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/job.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/store/store.h"
#include "parsers/gsm7.h"
#include "providers/provider.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RESPONSE_BYTES (256 * 1024)
#define SENDER_RECHECK_MS 1000.0
/*
 * Batches one claim takes at most; the pump claims again from the next
 * kick. A wave's rows interleave three languages, and a claim is cut into
 * one request per text: at 2 a claim of 1,000 rows made three requests of
 * ~330 and bench-broadcast fell to 42-47k recipients/s; at 6 (two batches
 * of each language) it sends 52-53k/s, as before the cap.
 */
#define PUMP_CLAIM_BATCHES 6

struct sender_channel {
    struct tl_sender *sender;
    const struct tl_channel_conf *conf;
    const struct tl_provider *provider;
    size_t batch;       /* recipients per request */
    size_t inflight;    /* requests in flight */
    double tokens;      /* messages that may start now */
    double burst;       /* bucket size */
    double refilled_ms; /* monotonic time of the last refill */
    bool draining;      /* the last claim was a full batch: a bulk queue is being sent */
    int64_t paused_until_ms; /* Retry-After: no request starts before (clock_now_ms); 0 none */
    bool waiting_due;        /* the wake re-checks a wall-clock due time: claim only if due */
    struct event *wake; /* when tokens or due messages come */
    /*
     * An alert channel ([alerts] channels) also sends from the alert pool.
     * A request of which nothing was sent and something is to be retried
     * (no answer, 5xx, 429, the aggregator's temporary codes) stops its
     * claims from the pool for backoff(pool_failures) — the others take its
     * share — then one request of one batch probes; a send closes it again.
     */
    bool pool_member;
    int pool_failures;        /* requests failed in a row, counted once per opening */
    double pool_closed_until; /* monotonic ms: no pool claims before */
};

struct sender_transfer {
    struct sender_transfer *prev, *next; /* the sender's list of transfers in flight */
    struct sender_channel *ch;
    CURL *easy;
    struct curl_slist *headers;
    struct tl_outbox_msg *msgs;
    struct tl_out_msg *out;
    size_t n;
    struct tl_http_out req;
    struct tl_buf response;
    bool response_truncated;
    double started_ms;
    int64_t retry_after_ms; /* the answer's Retry-After (429/503) from now, or 0 */
    char errbuf[CURL_ERROR_SIZE];
};

/* Results stored in an open transaction or not stored at all; strings owned. */
struct sender_unsaved {
    struct sender_unsaved *next;
    const char *channel; /* the channel's conf name: lives as long as the daemon */
    struct tl_outbox_result *r;
    size_t n;
};

struct tl_sender {
    struct tl_daemon *d;
    struct tl_sender_hooks hooks;
    CURLM *multi;
    struct event *curl_timer;
    struct event *kick;
    struct event *drain; /* records the ended transfers a turn left to the next (check_multi_info) */
    struct sender_channel *channels;
    size_t nchannels;
    size_t inflight;
    struct sender_transfer *transfers; /* in flight, for shutdown */
    bool stopping;
    bool in_turn;                   /* check_multi_info's transaction is open */
    bool store_down;                /* ... or could not begin: keep results, do not try */
    struct sender_unsaved *turn;    /* results in that transaction, until it commits */
    struct sender_unsaved *unsaved; /* results to store again */
};

static void transfer_link(struct tl_sender *s, struct sender_transfer *t)
{
    t->prev = NULL;
    t->next = s->transfers;
    if (s->transfers != NULL)
        s->transfers->prev = t;
    s->transfers = t;
}

static void transfer_unlink(struct tl_sender *s, struct sender_transfer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        s->transfers = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

static void pump_all(struct tl_sender *s);

/* ---- libevent <-> curl glue ---- */

static void check_multi_info(struct tl_sender *s);

static void socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_sender *s = arg;
    int running = 0;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                 ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);

    curl_multi_socket_action(s->multi, fd, action, &running);
    check_multi_info(s);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct tl_sender *s = userp;
    struct event *ev = socketp;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (ev != NULL) {
            event_free(ev);
            curl_multi_assign(s->multi, fd, NULL);
        }
        return 0;
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (ev != NULL) {
        event_del(ev);
        jobs_event_assign(s->d->jobs, ev, s->d->base, fd, kind, socket_event_cb, s);
    } else {
        ev = jobs_event_new(s->d->jobs, s->d->base, fd, kind, socket_event_cb, s);
        curl_multi_assign(s->multi, fd, ev);
    }
    event_add(ev, NULL);
    return 0;
}

static void curl_timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_sender *s = arg;
    int running = 0;

    (void)fd;
    (void)what;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(s);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct tl_sender *s = userp;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(s->curl_timer);
    } else {
        jobs_timer_in(s->curl_timer, timeout_ms);
    }
    return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    struct sender_transfer *t = userp;
    size_t n = size * nmemb;

    if (t->response.len + n > MAX_RESPONSE_BYTES) {
        t->response_truncated = true;
        return n; /* keep reading, stop keeping */
    }
    tl_buf_append(&t->response, data, n);
    return n;
}

/* libcurl's own messages, routed into our log at debug level (never headers or data). */
static int debug_cb(CURL *easy, curl_infotype type, char *data, size_t size, void *userp)
{
    char esc[LOG_PEER_BUFSZ];

    (void)easy;
    (void)userp;
    if (type == CURLINFO_TEXT) {
        while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
            size--;
        log_debug("curl", "msg=%s", log_peer(data, size, esc));
    }
    return 0;
}

/* ---- transfers ---- */

static void transfer_free(struct sender_transfer *t)
{
    if (t == NULL)
        return;
    if (t->easy != NULL)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    store_outbox_msgs_free(t->msgs, t->n);
    free(t->out);
    tl_http_out_clear(&t->req);
    tl_buf_free(&t->response);
    free(t);
}

static struct sender_unsaved *unsaved_copy(const char *channel, const struct tl_outbox_result *r,
                                           size_t n)
{
    struct sender_unsaved *u = xcalloc(1, sizeof(*u));

    u->channel = channel;
    u->n = n;
    u->r = xcalloc(n ? n : 1, sizeof(*u->r));
    for (size_t i = 0; i < n; i++) {
        u->r[i] = r[i];
        u->r[i].provider_id = r[i].provider_id ? xstrdup(r[i].provider_id) : NULL;
        u->r[i].error = r[i].error ? xstrdup(r[i].error) : NULL;
    }
    return u;
}

static void unsaved_free_all(struct sender_unsaved *u)
{
    while (u != NULL) {
        struct sender_unsaved *next = u->next;
        for (size_t i = 0; i < u->n; i++) {
            free((char *)u->r[i].provider_id);
            free((char *)u->r[i].error);
        }
        free(u->r);
        free(u);
        u = next;
    }
}

/* Moves a list onto the front of the results to store again. */
static void unsaved_keep(struct tl_sender *s, struct sender_unsaved *list)
{
    while (list != NULL) {
        struct sender_unsaved *next = list->next;
        list->next = s->unsaved;
        s->unsaved = list;
        list = next;
    }
}

/* Stores what could not be stored before; false while the store still fails. */
static bool unsaved_store(struct tl_sender *s)
{
    size_t n = 0;

    while (s->unsaved != NULL) {
        struct sender_unsaved *u = s->unsaved;
        if (store_outbox_results(s->d->store, u->channel, u->r, u->n, clock_now()) != TL_OK)
            return false;
        n += u->n;
        s->unsaved = u->next;
        u->next = NULL;
        unsaved_free_all(u);
    }
    if (n > 0)
        log_info("sender", "event=results_stored_late messages=%zu", n);
    return true;
}

/*
 * Stores a request's results (borrowed); inside the turn's transaction a
 * copy is kept until it commits, and results that cannot be stored are
 * kept to be stored again.
 */
static void results_store(struct tl_sender *s, const char *channel,
                          const struct tl_outbox_result *r, size_t n, int64_t now_ms)
{
    struct tl_store *st = s->d->store;

    if (s->store_down || store_outbox_results(st, channel, r, n, now_ms / 1000) != TL_OK) {
        metrics_store_error(TL_MW_SENDER);
        LOG_AT(store_writable(st, NULL) ? TL_LOG_ERROR : TL_LOG_DEBUG, "sender",
               "event=store_failed channel=%s n=%zu detail=\"%s\" (kept to store again)", channel,
               n, store_errmsg(st));
        unsaved_keep(s, unsaved_copy(channel, r, n));
        return;
    }
    if (s->in_turn) {
        struct sender_unsaved *u = unsaved_copy(channel, r, n);
        u->next = s->turn;
        s->turn = u;
    }
}

/* Milliseconds to wait before attempt number `attempts` + 1: base·2^(attempts-1), capped, 50–100% jitter. */
static int64_t backoff_ms(const struct tl_config *cfg, int attempts)
{
    double ms = cfg->retry_base * 1000.0 * pow(2.0, attempts > 1 ? attempts - 1 : 0);
    double cap = cfg->retry_max * 1000.0;

    if (ms > cap)
        ms = cap;
    ms *= 0.5 + 0.5 * ((double)random() / (double)RAND_MAX);
    return (int64_t)ms;
}

/*
 * Milliseconds a 429 or 503 answer asks us to wait (Retry-After: seconds, or
 * an HTTP date), at most retry_max; 0 for any other answer, no header, or a
 * value that cannot be read.
 */
static int64_t retry_after_ms(const struct tl_config *cfg, CURL *easy, long status)
{
    struct curl_header *h = NULL;
    double seconds = -1;

    if ((status != 429 && status != 503) ||
        curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return 0;
    const char *v = h->value;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v >= '0' && *v <= '9') {
        char *end;
        double n = strtod(v, &end);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end == '\0')
            seconds = n;
    } else {
        time_t at = curl_getdate(v, NULL);
        if (at > 0)
            seconds = (double)at - (double)clock_now_ms() / 1000.0;
    }
    if (!(seconds > 0))
        return 0;
    if (seconds > cfg->retry_max)
        seconds = cfg->retry_max;
    return (int64_t)(seconds * 1000.0);
}

/* Pauses the channel for a Retry-After; one log line when a pause begins. */
static void channel_pause(struct sender_channel *ch, int64_t now_ms, int64_t ms, long status)
{
    bool was_paused = ch->paused_until_ms > now_ms;

    if (now_ms + ms <= ch->paused_until_ms)
        return;
    ch->paused_until_ms = now_ms + ms;
    if (!was_paused)
        log_warn("sender", "event=paused channel=%s http=%ld seconds=%.0f reason=retry_after",
                 ch->conf->name, status, (double)ms / 1000.0);
}

/*
 * An alert channel's share of the pool after a request: nothing sent and
 * something to retry stops its pool claims (once per opening: the requests
 * in flight with it fail together), a send resumes them.
 */
static void pool_account(struct sender_channel *ch, size_t sent, size_t retry)
{
    double now = clock_mono_ms();

    if (!ch->pool_member)
        return;
    if (sent > 0) {
        if (ch->pool_failures > 0)
            log_info("sender", "event=pool_resumed channel=%s", ch->conf->name);
        ch->pool_failures = 0;
        ch->pool_closed_until = 0;
        return;
    }
    if (retry == 0 || now < ch->pool_closed_until)
        return;
    ch->pool_failures++;
    int64_t ms = backoff_ms(ch->sender->d->cfg, ch->pool_failures);
    ch->pool_closed_until = now + (double)ms;
    log_warn("sender", "event=pool_shed channel=%s failures=%d seconds=%.1f (the other alert "
             "channels take its share)", ch->conf->name, ch->pool_failures, (double)ms / 1000.0);
}

/*
 * How many pool messages the channel may claim now (of want): none for a
 * channel outside the pool or while its pool claims are stopped; one batch,
 * with nothing else in flight, to probe after a failure.
 */
static size_t pool_allowance(const struct sender_channel *ch, size_t want)
{
    if (!ch->pool_member || clock_mono_ms() < ch->pool_closed_until)
        return 0;
    if (ch->pool_failures > 0)
        return ch->inflight == 0 ? (want < ch->batch ? want : ch->batch) : 0;
    return want;
}

/*
 * The earliest due time of what the channel may claim (its own queue, and
 * the pool while it may claim from it); 0 when none. *pool_waits: the pool
 * has messages the channel may not claim before pool_closed_until. (While
 * its probe is in flight neither: the probe's end kicks the sender.)
 */
static int64_t channel_next_due(const struct sender_channel *ch, bool *pool_waits)
{
    struct tl_store *st = ch->sender->d->store;
    int64_t due = store_outbox_next_due(st, ch->conf->name);

    *pool_waits = false;
    if (!ch->pool_member)
        return due;
    if (pool_allowance(ch, 1) == 0) {
        *pool_waits = clock_mono_ms() < ch->pool_closed_until &&
                      store_outbox_next_due(st, TL_OUTBOX_POOL) > 0;
        return due;
    }
    int64_t pool_due = store_outbox_next_due(st, TL_OUTBOX_POOL);
    return pool_due > 0 && (due == 0 || pool_due < due) ? pool_due : due;
}

/* Turns provider outcomes into outbox results, stores them and logs the request. */
static void transfer_record(struct sender_transfer *t, long http_status, const char *why)
{
    struct sender_channel *ch = t->ch;
    struct tl_daemon *d = ch->sender->d;
    struct tl_send_outcome *outcomes = xcalloc(t->n, sizeof(*outcomes));
    struct tl_outbox_result *results = xcalloc(t->n, sizeof(*results));
    int64_t now_ms = clock_now_ms();
    size_t sent = 0, retry = 0, failed = 0;
    const char *first_error = why; /* the channel's last error, for the operator */
    char esc[LOG_PEER_BUFSZ];

    ch->provider->classify_send(ch->conf, t->out, t->n, http_status, tl_buf_str(&t->response),
                                t->response.len, outcomes);
    if (t->retry_after_ms > 0)
        channel_pause(ch, now_ms, t->retry_after_ms, http_status);
    for (size_t i = 0; i < t->n; i++) {
        struct tl_outbox_result *r = &results[i];
        r->id = t->msgs[i].id;
        r->provider_id = outcomes[i].provider_id;
        /* No answer: curl's reason (refused, timed out) says more than the provider's. */
        r->error = why != NULL && http_status == 0 ? why
                   : outcomes[i].error             ? outcomes[i].error
                                                   : why;
        if (first_error == NULL && outcomes[i].result != TL_SEND_SENT)
            first_error = r->error;
        switch (outcomes[i].result) {
        case TL_SEND_SENT:
            r->state = TL_OUTBOX_SENT;
            sent++;
            break;
        case TL_SEND_TEMPFAIL:
            if (t->msgs[i].attempts >= d->cfg->max_attempts) {
                r->state = TL_OUTBOX_FAILED;
                failed++;
            } else {
                int64_t wait = backoff_ms(d->cfg, t->msgs[i].attempts);
                if (wait < t->retry_after_ms)
                    wait = t->retry_after_ms; /* due again no sooner than the aggregator asked */
                r->state = TL_OUTBOX_QUEUED;
                r->next_attempt_ms = now_ms + wait;
                retry++;
            }
            break;
        case TL_SEND_OPTED_OUT: /* a permanent failure, and STOP for the number */
        case TL_SEND_PERMFAIL:
            if (outcomes[i].result == TL_SEND_OPTED_OUT && ch->sender->hooks.opted_out != NULL)
                ch->sender->hooks.opted_out(d, ch->conf, t->msgs[i].phone);
            r->state = TL_OUTBOX_FAILED;
            failed++;
            break;
        }
    }
    pool_account(ch, sent, retry);
    metrics_send(ch->conf, http_status, (clock_mono_ms() - t->started_ms) / 1000.0, sent, retry,
                 failed, first_error);
    results_store(ch->sender, ch->conf->name, results, t->n, now_ms);
    log_info("sender",
             "event=request channel=%s recipients=%zu http=%ld sent=%zu retry=%zu failed=%zu "
             "ms=%.1f%s%s",
             ch->conf->name, t->n, http_status, sent, retry, failed,
             clock_mono_ms() - t->started_ms, why ? " error=" : "",
             why ? log_peer(why, strlen(why), esc) : "");
    for (size_t i = 0; i < t->n; i++)
        tl_send_outcome_clear(&outcomes[i]);
    free(outcomes);
    free(results);
}

/*
 * Recipients whose results one turn records at most. Eight ended 100-recipient
 * batches recorded in one callback held the loop for up to 35 ms (issue #15,
 * bench-inbound); past this bound the turn stops and the drain event, at the
 * sender's priority, records the rest after the callbacks ready meanwhile.
 * Unread transfers wait in curl's queue; their rows stay 'sending' meanwhile.
 */
#define RESULTS_PER_TURN 200

static void check_multi_info(struct tl_sender *s)
{
    CURLMsg *msg;
    int left = 0; /* messages still in curl's queue after the last read */
    bool finished = false, tx = false, tried = false;
    size_t recorded = 0;

    while (recorded < RESULTS_PER_TURN && (msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct sender_transfer *t = NULL;
        long status = 0;
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;

        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        if (code == CURLE_OK) {
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
            t->retry_after_ms = retry_after_ms(s->d->cfg, easy, status);
        }
        curl_multi_remove_handle(s->multi, easy);
        /* Every transfer that ended in this turn is recorded in one transaction. */
        if (!tried) {
            /* Once per turn: a store that cannot begin is not asked again for each transfer. */
            tried = true;
            s->in_turn = tx = store_tx_begin(s->d->store) == TL_OK;
            s->store_down = !tx;
        }
        transfer_unlink(s, t);
        recorded += t->n;
        transfer_record(t, status,
                        code == CURLE_OK ? NULL
                                         : (t->errbuf[0] ? t->errbuf : curl_easy_strerror(code)));
        t->ch->inflight--;
        s->inflight--;
        metrics_send_inflight(t->ch->conf, -1);
        transfer_free(t);
        finished = true;
    }
    s->in_turn = s->store_down = false;
    if (tx && store_tx_commit(s->d->store) != TL_OK) {
        metrics_store_error(TL_MW_SENDER);
        LOG_AT(store_writable(s->d->store, NULL) ? TL_LOG_ERROR : TL_LOG_DEBUG, "sender",
               "event=store_failed detail=\"%s\" (results kept to store again)",
               store_errmsg(s->d->store));
        store_tx_rollback(s->d->store);
        unsaved_keep(s, s->turn);
    } else {
        unsaved_free_all(s->turn);
    }
    s->turn = NULL;
    if (left > 0)
        event_active(s->drain, EV_TIMEOUT, 0); /* the bound stopped the turn before the queue's end */
    if (finished)
        sender_kick(s);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    check_multi_info(arg);
}

/* Logs and settles a request the console provider "sends" (no HTTP). */
static void transfer_console(struct sender_transfer *t)
{
    char phonebuf[LOG_PHONE_BUFSZ], esc[LOG_PEER_BUFSZ];

    for (size_t i = 0; i < t->n; i++) {
        char *masked = log_mask_numbers(t->out[i].text);
        log_info("console", "event=message id=%lld to=%s text=%s", (long long)t->out[i].id,
                 log_phone(t->out[i].to, phonebuf), log_peer(masked, strlen(masked), esc));
        free(masked);
    }
    transfer_record(t, 200, NULL);
    transfer_free(t);
}

static void transfer_start(struct sender_channel *ch, struct tl_outbox_msg *msgs, size_t n)
{
    struct tl_sender *s = ch->sender;
    struct sender_transfer *t = xcalloc(1, sizeof(*t));
    char *cause = NULL;

    t->ch = ch;
    t->msgs = msgs;
    t->n = n;
    t->started_ms = clock_mono_ms();
    t->out = xcalloc(n, sizeof(*t->out));
    /* Every message of a request has the same text: its encoding is worked out once. */
    struct tl_sms_count count;
    bool ucs2 = sms_count(msgs[0].text, strlen(msgs[0].text), &count) == TL_OK ? count.ucs2 : true;
    for (size_t i = 0; i < n; i++) {
        t->out[i].id = msgs[i].id;
        t->out[i].to = msgs[i].phone;
        t->out[i].text = msgs[i].text;
        t->out[i].ucs2 = ucs2;
    }
    if (ch->provider->build_send(ch->conf, t->out, n, &t->req, &cause) != TL_OK) {
        transfer_record(t, 0, cause ? cause : "cannot build request");
        free(cause);
        transfer_free(t);
        return;
    }
    if (t->req.url == NULL) {
        transfer_console(t);
        return;
    }
    t->easy = curl_easy_init();
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->req.url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(s->d->cfg->connect_timeout * 1000));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(s->d->cfg->send_timeout * 1000));
    curl_easy_setopt(e, CURLOPT_USERAGENT, "talaash/0.1");
    if (log_threshold <= TL_LOG_DEBUG) {
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_cb);
    }
    for (size_t i = 0; i < t->req.nheaders; i++) {
        char *h = xasprintf("%s: %s", t->req.headers[i].name, t->req.headers[i].value);
        t->headers = curl_slist_append(t->headers, h);
        free(h);
    }
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    if (t->req.userpwd != NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERPWD, t->req.userpwd);
    }
    if (t->req.method != NULL && strcmp(t->req.method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, tl_buf_str(&t->req.body));
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->req.body.len);
    }
    ch->inflight++;
    s->inflight++;
    metrics_send_inflight(ch->conf, 1);
    transfer_link(s, t);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        transfer_unlink(s, t);
        ch->inflight--;
        s->inflight--;
        metrics_send_inflight(ch->conf, -1);
        transfer_record(t, 0, "curl_multi_add_handle failed");
        transfer_free(t);
    }
}

/* ---- the pump ---- */

static void refill(struct sender_channel *ch)
{
    double now = clock_mono_ms();

    ch->tokens += (now - ch->refilled_ms) * ch->conf->rate / 1000.0;
    if (ch->tokens > ch->burst)
        ch->tokens = ch->burst;
    ch->refilled_ms = now;
}

static void wake_in(struct sender_channel *ch, double ms)
{
    ch->waiting_due = false;
    if (ms < 1)
        ms = 1;
    struct timeval tv = {(long)(ms / 1000), (long)fmod(ms, 1000.0) * 1000};
    evtimer_add(ch->wake, &tv);
}

/*
 * Waits for the next due time of the channel's queue (due, 0 = none): with
 * none, for the next kick — or, on a store other nodes write too, looks
 * again after store_idle_look_ms.
 */
static void wait_for_due(struct sender_channel *ch, int64_t due, int64_t now_ms)
{
    if (due == 0) {
        int64_t look = store_idle_look_ms(ch->sender->d->store);
        if (look <= 0)
            return; /* nothing queued: the next kick pumps */
        due = now_ms + look;
    }
    wake_in(ch, fmin((double)(due - now_ms), SENDER_RECHECK_MS));
    ch->waiting_due = true;
}

static void pump(struct sender_channel *ch)
{
    struct tl_sender *s = ch->sender;
    size_t cap = (size_t)ch->conf->concurrency;

    while (!s->stopping && ch->inflight < cap) {
        /* Results that could not be stored go first; nothing new while the store fails. */
        if (s->unsaved != NULL && !unsaved_store(s)) {
            wake_in(ch, 1000);
            return;
        }
        if (ch->paused_until_ms > 0) {
            int64_t left = ch->paused_until_ms - clock_now_ms();
            if (left > 0) {
                wake_in(ch, fmin((double)left, SENDER_RECHECK_MS));
                return;
            }
            ch->paused_until_ms = 0;
            log_info("sender", "event=resumed channel=%s", ch->conf->name);
        }
        refill(ch);
        if (ch->tokens < 1) {
            wake_in(ch, (1 - ch->tokens) * 1000.0 / ch->conf->rate);
            return;
        }
        /*
         * While draining a bulk queue under a rate limit, wait for a whole
         * batch's worth of tokens (at most batch/rate seconds) rather than
         * sending one or two recipients per request.
         */
        if (ch->draining && ch->tokens < (double)ch->batch && ch->batch > 1) {
            wake_in(ch, ((double)ch->batch - ch->tokens) * 1000.0 / ch->conf->rate);
            return;
        }
        /*
         * A batch for every free slot, so that grouping by text still fills
         * batches; the cap may then be passed by the number of distinct
         * texts in one claim (a wave has at most three languages).
         */
        size_t want = (size_t)ch->tokens, room = ch->batch * (cap - ch->inflight);
        if (want > room)
            want = room;
        /* A claim holds the loop ~10 us a row: at most PUMP_CLAIM_BATCHES batches per claim. */
        if (want > ch->batch * PUMP_CLAIM_BATCHES)
            want = ch->batch * PUMP_CLAIM_BATCHES;
        struct tl_outbox_msg *msgs;
        size_t n;
        int64_t now_ms = clock_now_ms();
        /*
         * The channel's rate holds across the nodes of a cluster: its shared
         * bucket (store_rate_take; SQLite: one node, all of want) grants part
         * of want, and what the claim does not use goes back.
         */
        int64_t granted = store_rate_take(s->d->store, ch->conf->name, ch->conf->rate,
                                          ch->burst, (int64_t)want, now_ms);
        if (granted == 0) {
            wake_in(ch, fmax(1000.0 / ch->conf->rate, 10.0));
            return;
        }
        if (granted > 0 && (size_t)granted < want)
            want = (size_t)granted;
        /* Only committed rows are sent: end the callbacks' open group first. */
        if (s->hooks.before_claim != NULL)
            s->hooks.before_claim(s->d);
        if (store_outbox_claim_pool(s->d->store, ch->conf->name,
                                    ch->pool_member ? TL_OUTBOX_POOL : NULL,
                                    pool_allowance(ch, want), now_ms, want, &msgs,
                                    &n) != TL_OK) {
            if (granted > 0)
                store_rate_take(s->d->store, ch->conf->name, ch->conf->rate, ch->burst,
                                -granted, now_ms);
            LOG_AT(store_writable(s->d->store, NULL) ? TL_LOG_ERROR : TL_LOG_DEBUG, "sender",
                   "event=claim_failed channel=%s detail=\"%s\"", ch->conf->name,
                   store_errmsg(s->d->store));
            metrics_store_error(TL_MW_SENDER);
            wake_in(ch, 1000);
            return;
        }
        ch->draining = n >= ch->batch;
        if (granted > 0 && (size_t)granted > n)
            store_rate_take(s->d->store, ch->conf->name, ch->conf->rate, ch->burst,
                            -(granted - (int64_t)n), now_ms);
        if (n == 0) {
            free(msgs);
            bool pool_waits;
            int64_t due = channel_next_due(ch, &pool_waits);
            if (pool_waits && (due == 0 || due > now_ms)) {
                /* Back when its pool claims may start again (or its own message is due). */
                double ms = fmax(ch->pool_closed_until - clock_mono_ms(), 1.0);
                if (due > 0)
                    ms = fmin(ms, (double)(due - now_ms));
                wake_in(ch, fmin(ms, SENDER_RECHECK_MS));
            } else {
                wait_for_due(ch, due, now_ms);
            }
            return;
        }
        ch->tokens -= (double)n;
        /*
         * One request per text (a wave interleaves languages): messages are
         * grouped by text, keeping queue order within a group, and each
         * group is cut into batches of the channel's size.
         */
        bool *taken = xcalloc(n, sizeof(*taken));
        for (size_t first = 0; first < n; first++) {
            if (taken[first])
                continue;
            struct tl_outbox_msg *part = xcalloc(ch->batch, sizeof(*part));
            size_t np = 0;
            /* A copy: a console transfer frees its messages, msgs[first]'s text too, at once. */
            char *text = xstrdup(msgs[first].text);
            for (size_t j = first; j < n; j++) {
                if (taken[j] || strcmp(msgs[j].text, text) != 0)
                    continue;
                taken[j] = true;
                part[np++] = msgs[j];
                if (np == ch->batch) {
                    transfer_start(ch, part, np);
                    part = xcalloc(ch->batch, sizeof(*part));
                    np = 0;
                }
            }
            if (np > 0)
                transfer_start(ch, part, np);
            else
                free(part);
            free(text);
        }
        free(taken);
        free(msgs); /* the strings moved to the parts */
        /* The next claim after what else is ready (the kick has the loop's lowest priority). */
        if (!s->stopping && ch->inflight < cap) {
            sender_kick(s);
            return;
        }
    }
}

static void pump_all(struct tl_sender *s)
{
    for (size_t i = 0; i < s->nchannels; i++)
        pump(&s->channels[i]);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sender_channel *ch = arg;

    (void)fd;
    (void)what;
    if (ch->waiting_due) {
        /* A wall-clock re-check: a read; the claim (a write) only once something is due. */
        bool pool_waits;
        int64_t due = channel_next_due(ch, &pool_waits);
        int64_t now_ms = clock_now_ms();
        if (due == 0 && !pool_waits) {
            wait_for_due(ch, 0, now_ms); /* the next kick pumps, or a look for other nodes' rows */
            return;
        }
        if (due == 0) {
            pump(ch); /* finds the pool still closed, or claims from it */
            return;
        }
        if (due > now_ms) {
            wait_for_due(ch, due, now_ms);
            return;
        }
    }
    pump(ch);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump_all(arg);
}

void sender_kick(struct tl_sender *s)
{
    if (s != NULL && !s->stopping)
        event_active(s->kick, EV_TIMEOUT, 0);
}

int sender_new(struct tl_daemon *d, const struct tl_sender_hooks *hooks, struct tl_sender **out,
               char **cause)
{
    struct tl_sender *s = xcalloc(1, sizeof(*s));
    int64_t recovered;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        *cause = xstrdup("curl_global_init failed");
        free(s);
        return TL_ERR_IO;
    }
    s->d = d;
    if (hooks != NULL)
        s->hooks = *hooks;
    s->multi = curl_multi_init();
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, 512L);
    s->curl_timer = jobs_event_new(d->jobs, d->base, -1, 0, curl_timer_event_cb, s);
    s->kick = jobs_event_new(d->jobs, d->base, -1, 0, kick_cb, s);
    /* A kick runs after the callbacks ready in this pass and the group's flush (daemon.h). */
    event_priority_set(s->kick, DAEMON_PRIORITY_SENDER);
    s->drain = jobs_event_new(d->jobs, d->base, -1, 0, drain_cb, s);
    event_priority_set(s->drain, DAEMON_PRIORITY_SENDER);
    s->nchannels = d->cfg->nchannels;
    s->channels = xcalloc(s->nchannels ? s->nchannels : 1, sizeof(*s->channels));
    for (size_t i = 0; i < s->nchannels; i++) {
        struct sender_channel *ch = &s->channels[i];
        ch->sender = s;
        ch->conf = &d->cfg->channels[i];
        ch->provider = provider_find(ch->conf->provider);
        ch->batch = provider_batch_limit(ch->provider, ch->conf);
        ch->burst = ch->conf->rate > (double)ch->batch ? ch->conf->rate : (double)ch->batch;
        ch->tokens = ch->burst;
        ch->refilled_ms = clock_mono_ms();
        ch->wake = jobs_event_new(d->jobs, d->base, -1, 0, wake_cb, ch);
        ch->pool_member = config_alert_channel(d->cfg, ch->conf);
    }
    recovered = store_outbox_recover(d->store);
    if (recovered > 0)
        log_warn("sender", "event=recovered messages=%lld (in flight at the last stop; may go twice)",
                 (long long)recovered);
    *out = s;
    sender_kick(s);
    return TL_OK;
}

void sender_stop(struct tl_sender *s)
{
    if (s != NULL)
        s->stopping = true;
}

size_t sender_inflight(const struct tl_sender *s)
{
    return s ? s->inflight : 0;
}

void sender_free(struct tl_sender *s)
{
    if (s == NULL)
        return;
    /* Transfers still running are abandoned: their rows stay 'sending' and are requeued at start. */
    while (s->transfers != NULL) {
        struct sender_transfer *t = s->transfers;
        transfer_unlink(s, t);
        curl_multi_remove_handle(s->multi, t->easy);
        transfer_free(t);
    }
    if (s->unsaved != NULL)
        log_warn("sender", "event=results_lost (the store failed until the stop; those rows go "
                           "again at the next start)");
    unsaved_free_all(s->unsaved);
    for (size_t i = 0; i < s->nchannels; i++)
        event_free(s->channels[i].wake);
    free(s->channels);
    event_free(s->kick);
    event_free(s->drain);
    event_free(s->curl_timer);
    curl_multi_cleanup(s->multi);
    curl_global_cleanup();
    free(s);
}
