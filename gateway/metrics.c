/*
 * metrics.c — the counters and histograms of metrics.h, and their text
 * exposition. Owns only memory: one static table per family, sized by the
 * configured channels at start. Every increment runs on the event loop's
 * thread (the only writer and the only reader), so none needs a lock.
 *
 * Histograms keep a count per bucket (not cumulative) and a sum; the
 * cumulative `le` series are formed when rendering, so an observation is a
 * short scan of the bounds and two adds.
 */
#include "gateway/metrics.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "common/buf.h"
#include "common/xmalloc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Latency buckets, seconds: 0.5 ms … 10 s. */
static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define LATENCY_NB (sizeof(latency_bounds) / sizeof(latency_bounds[0]))
/* Group-commit sizes: callbacks per commit, up to GROUP_MAX_HELD (256). */
static const double group_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define GROUP_NB (sizeof(group_bounds) / sizeof(group_bounds[0]))

_Static_assert(GROUP_NB <= LATENCY_NB, "struct histogram holds the larger bound set");

struct histogram {
    uint64_t buckets[LATENCY_NB + 1]; /* the last one is +Inf; sized for the larger bound set */
    uint64_t count;
    double sum;
};

static void histogram_observe(struct histogram *h, const double *bounds, size_t nb, double v)
{
    size_t i = 0;

    while (i < nb && v > bounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += v;
}

/* The status codes a route may answer: 100–599, by index code - 100. */
#define CODE_MIN 100
#define CODE_N 500

static const char *const route_names[TL_MR_N] = {
    "/sms/{channel}", "/dlr/{channel}", "/ussd/{channel}", "/healthz", "/metrics",
    "/alerts", "/api", "/console", "other"};
static const char *const inbound_names[TL_MI_N] = {"processed", "duplicate", "rejected",
                                                   "forbidden", "failed"};
static const char *const kind_names[TL_MK_N] = {"sms", "ussd"};
static const char *const send_names[TL_MS_N] = {"sent", "retried", "failed"};
static const char *const where_names[TL_MW_N] = {"callback", "group", "sender", "stats"};
/* Delivery-report states by enum tl_outbox_state (0 = queued = an unknown status). */
static const char *const dlr_names[] = {"unknown", NULL, "accepted", "delivered", "failed",
                                        "expired"};
#define DLR_N (sizeof(dlr_names) / sizeof(dlr_names[0]))
/* Send requests by their answer: 2xx, 4xx, 5xx, another status, or no answer at all. */
static const char *const answer_names[] = {"2xx", "4xx", "5xx", "other", "none"};
#define ANSWER_N (sizeof(answer_names) / sizeof(answer_names[0]))

struct channel_metrics {
    uint64_t inbound[TL_MK_N][TL_MI_N];
    uint64_t dlr[DLR_N];
    uint64_t sent[TL_MS_N];
    uint64_t requests[ANSWER_N];
    struct histogram send_latency;
    char *last_error; /* masked; NULL = none yet */
    double last_error_at, last_success_at;
    double in_flight; /* send requests (a double: rendered by channel_gauge) */
};

static struct {
    const struct tl_channel_conf *channels; /* the config's array: index = ch - channels */
    size_t nchannels;
    struct channel_metrics *ch;
    uint64_t http[TL_MR_N][CODE_N];
    struct histogram http_latency[TL_MR_N];
    struct histogram group_size;
    uint64_t group_commits[2]; /* failed, committed */
    uint64_t store_errors[TL_MW_N];
    double started_at;
} m;

void metrics_init(const struct tl_config *cfg)
{
    metrics_reset();
    m.channels = cfg->channels;
    m.nchannels = cfg->nchannels;
    m.ch = xcalloc(m.nchannels ? m.nchannels : 1, sizeof(*m.ch));
    m.started_at = (double)clock_now_ms() / 1000.0;
}

double metrics_started_at(void)
{
    return m.started_at;
}

void metrics_reset(void)
{
    for (size_t i = 0; i < m.nchannels; i++)
        free(m.ch[i].last_error);
    free(m.ch);
    memset(&m, 0, sizeof(m));
}

/* The channel's table, or NULL for a channel that is not in the config. */
static struct channel_metrics *channel_of(const struct tl_channel_conf *ch)
{
    if (ch == NULL || m.ch == NULL || ch < m.channels || ch >= m.channels + m.nchannels)
        return NULL;
    return &m.ch[ch - m.channels];
}

static int prefix(const char *path, const char *p)
{
    return strncmp(path, p, strlen(p)) == 0;
}

enum tl_metrics_route metrics_route_of(const char *path)
{
    if (path == NULL)
        return TL_MR_OTHER;
    if (prefix(path, "/sms/"))
        return TL_MR_SMS;
    if (prefix(path, "/dlr/"))
        return TL_MR_DLR;
    if (prefix(path, "/ussd/"))
        return TL_MR_USSD;
    if (strcmp(path, "/healthz") == 0)
        return TL_MR_HEALTHZ;
    if (strcmp(path, "/metrics") == 0)
        return TL_MR_METRICS;
    if (strcmp(path, "/alerts.atom") == 0 || prefix(path, "/alerts/"))
        return TL_MR_FEED;
    if (strcmp(path, "/api") == 0 || prefix(path, "/api/"))
        return TL_MR_API;
    if (strcmp(path, "/console") == 0 || prefix(path, "/console/"))
        return TL_MR_CONSOLE;
    return TL_MR_OTHER;
}

void metrics_http_reply(const char *path, int status, double seconds)
{
    enum tl_metrics_route r = metrics_route_of(path);

    if (status >= CODE_MIN && status < CODE_MIN + CODE_N)
        m.http[r][status - CODE_MIN]++;
    histogram_observe(&m.http_latency[r], latency_bounds, LATENCY_NB, seconds);
}

void metrics_inbound(const struct tl_channel_conf *ch, enum tl_metrics_kind kind,
                     enum tl_metrics_inbound outcome)
{
    struct channel_metrics *c = channel_of(ch);

    if (c != NULL && kind < TL_MK_N && outcome < TL_MI_N)
        c->inbound[kind][outcome]++;
}

void metrics_dlr(const struct tl_channel_conf *ch, int outbox_state)
{
    struct channel_metrics *c = channel_of(ch);

    if (c != NULL && outbox_state >= 0 && (size_t)outbox_state < DLR_N &&
        dlr_names[outbox_state] != NULL)
        c->dlr[outbox_state]++;
}

void metrics_send(const struct tl_channel_conf *ch, long http_status, double seconds,
                  size_t n_sent, size_t n_retried, size_t n_failed, const char *error)
{
    struct channel_metrics *c = channel_of(ch);
    size_t answer;

    if (c == NULL)
        return;
    answer = http_status == 0                          ? 4
             : http_status >= 200 && http_status < 300 ? 0
             : http_status >= 400 && http_status < 500 ? 1
             : http_status >= 500 && http_status < 600 ? 2
                                                       : 3;
    c->requests[answer]++;
    c->sent[TL_MS_SENT] += n_sent;
    c->sent[TL_MS_RETRIED] += n_retried;
    c->sent[TL_MS_FAILED] += n_failed;
    histogram_observe(&c->send_latency, latency_bounds, LATENCY_NB, seconds);
    double now = (double)clock_now_ms() / 1000.0;
    if (n_sent > 0)
        c->last_success_at = now;
    if (n_retried + n_failed > 0) {
        char *text = error != NULL && error[0] != '\0'
                         ? log_mask_numbers(error)
                         : xasprintf("HTTP %ld", http_status);
        free(c->last_error);
        c->last_error = text;
        c->last_error_at = now;
    }
}

void metrics_send_inflight(const struct tl_channel_conf *ch, int delta)
{
    struct channel_metrics *c = channel_of(ch);

    if (c != NULL && (delta > 0 || c->in_flight > 0))
        c->in_flight += delta;
}

void metrics_group_commit(size_t n, int committed)
{
    m.group_commits[committed ? 1 : 0]++;
    histogram_observe(&m.group_size, group_bounds, GROUP_NB, (double)n);
}

void metrics_store_error(enum tl_metrics_store_where where)
{
    if (where < TL_MW_N)
        m.store_errors[where]++;
}

void metrics_channel_status(const struct tl_channel_conf *ch,
                            struct tl_metrics_channel_status *out)
{
    const struct channel_metrics *c = channel_of(ch);

    memset(out, 0, sizeof(*out));
    out->last_error = "";
    if (c == NULL)
        return;
    out->last_error = c->last_error ? c->last_error : "";
    out->last_error_at = c->last_error_at;
    out->last_success_at = c->last_success_at;
    out->in_flight = (size_t)c->in_flight;
}

/* ---- exposition ---- */

void metrics_family(struct tl_buf *out, const char *name, const char *type, const char *help)
{
    tl_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_sample(struct tl_buf *out, const char *name, const char *labels, double value)
{
    if (labels != NULL && labels[0] != '\0')
        tl_buf_appendf(out, "%s{%s} %.15g\n", name, labels, value);
    else
        tl_buf_appendf(out, "%s %.15g\n", name, value);
}

static void histogram_render(struct tl_buf *out, const char *name, const char *labels,
                             const struct histogram *h, const double *bounds, size_t nb)
{
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";

    for (size_t i = 0; i <= nb; i++) {
        cum += h->buckets[i];
        if (i < nb)
            tl_buf_appendf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i],
                           (unsigned long long)cum);
        else
            tl_buf_appendf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                           (unsigned long long)cum);
    }
    if (labels[0])
        tl_buf_appendf(out, "%s_sum{%s} %.15g\n%s_count{%s} %llu\n", name, labels, h->sum, name,
                       labels, (unsigned long long)h->count);
    else
        tl_buf_appendf(out, "%s_sum %.15g\n%s_count %llu\n", name, h->sum, name,
                       (unsigned long long)h->count);
}

/* A counter family by channel and one more label; the values are the uint64_t array at `at`. */
static void channel_counters(struct tl_buf *out, const char *name, const char *help,
                             const char *label, const char *const *values, size_t nvalues,
                             size_t at)
{
    char labels[160];

    metrics_family(out, name, "counter", help);
    for (size_t i = 0; i < m.nchannels; i++) {
        const uint64_t *v = (const uint64_t *)(const void *)((const char *)&m.ch[i] + at);
        for (size_t k = 0; k < nvalues; k++) {
            if (values[k] == NULL)
                continue;
            snprintf(labels, sizeof(labels), "channel=\"%s\",%s=\"%s\"", m.channels[i].name,
                     label, values[k]);
            metrics_sample(out, name, labels, (double)v[k]);
        }
    }
}

/* A gauge family by channel; the value is the double at `at` of each channel's table. */
static void channel_gauge(struct tl_buf *out, const char *name, const char *help, size_t at)
{
    char labels[100];

    metrics_family(out, name, "gauge", help);
    for (size_t i = 0; i < m.nchannels; i++) {
        const double *v = (const double *)(const void *)((const char *)&m.ch[i] + at);
        snprintf(labels, sizeof(labels), "channel=\"%s\"", m.channels[i].name);
        metrics_sample(out, name, labels, *v);
    }
}

void metrics_render(struct tl_buf *out)
{
    char labels[160];

    metrics_family(out, "talaash_inbound_messages_total", "counter",
                   "Inbound SMS and USSD callbacks by channel, kind and outcome.");
    for (size_t i = 0; i < m.nchannels; i++)
        for (size_t k = 0; k < TL_MK_N; k++)
            for (size_t o = 0; o < TL_MI_N; o++) {
                snprintf(labels, sizeof(labels), "channel=\"%s\",kind=\"%s\",outcome=\"%s\"",
                         m.channels[i].name, kind_names[k], inbound_names[o]);
                metrics_sample(out, "talaash_inbound_messages_total", labels,
                               (double)m.ch[i].inbound[k][o]);
            }

    channel_counters(out, "talaash_delivery_reports_total",
                     "Delivery reports received by channel and the state they report.", "state",
                     dlr_names, DLR_N, offsetof(struct channel_metrics, dlr));
    channel_counters(out, "talaash_outbound_messages_total",
                     "Outgoing messages by channel and the result of their send attempt.",
                     "result", send_names, TL_MS_N, offsetof(struct channel_metrics, sent));
    channel_counters(out, "talaash_send_requests_total",
                     "Requests to the aggregators by channel and answer class (none: no answer).",
                     "answer", answer_names, ANSWER_N, offsetof(struct channel_metrics, requests));

    metrics_family(out, "talaash_send_duration_seconds", "histogram",
                   "Time from starting a send request to its answer, by channel.");
    for (size_t i = 0; i < m.nchannels; i++) {
        snprintf(labels, sizeof(labels), "channel=\"%s\"", m.channels[i].name);
        histogram_render(out, "talaash_send_duration_seconds", labels, &m.ch[i].send_latency,
                         latency_bounds, LATENCY_NB);
    }

    channel_gauge(out, "talaash_channel_last_success_timestamp_seconds",
                  "When a send request of the channel last got a message accepted (0: never).",
                  offsetof(struct channel_metrics, last_success_at));
    channel_gauge(out, "talaash_send_requests_in_flight",
                  "Requests to the aggregator in flight, by channel.",
                  offsetof(struct channel_metrics, in_flight));
    channel_gauge(out, "talaash_channel_last_error_timestamp_seconds",
                  "When a send request of the channel last failed or was retried (0: never).",
                  offsetof(struct channel_metrics, last_error_at));

    metrics_family(out, "talaash_http_requests_total", "counter",
                   "HTTP requests answered, by route family and status code.");
    for (size_t r = 0; r < TL_MR_N; r++)
        for (size_t c = 0; c < CODE_N; c++) {
            if (m.http[r][c] == 0)
                continue;
            snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%zu\"", route_names[r],
                     c + CODE_MIN);
            metrics_sample(out, "talaash_http_requests_total", labels, (double)m.http[r][c]);
        }

    metrics_family(out, "talaash_http_request_duration_seconds", "histogram",
                   "Time from reading a request to answering it (callbacks: after their "
                   "commit), by route family.");
    for (size_t r = 0; r < TL_MR_N; r++) {
        if (m.http_latency[r].count == 0 && r > TL_MR_USSD)
            continue; /* the callback routes always, the others once used */
        snprintf(labels, sizeof(labels), "route=\"%s\"", route_names[r]);
        histogram_render(out, "talaash_http_request_duration_seconds", labels,
                         &m.http_latency[r], latency_bounds, LATENCY_NB);
    }

    metrics_family(out, "talaash_group_commit_callbacks", "histogram",
                   "Callbacks that shared one group commit.");
    histogram_render(out, "talaash_group_commit_callbacks", "", &m.group_size, group_bounds,
                     GROUP_NB);
    metrics_family(out, "talaash_group_commits_total", "counter",
                   "Group commits by result (failed: rolled back, every callback got 503).");
    metrics_sample(out, "talaash_group_commits_total", "result=\"committed\"",
                   (double)m.group_commits[1]);
    metrics_sample(out, "talaash_group_commits_total", "result=\"failed\"",
                   (double)m.group_commits[0]);

    metrics_family(out, "talaash_store_errors_total", "counter",
                   "Store failures by where they were met.");
    for (size_t w = 0; w < TL_MW_N; w++) {
        snprintf(labels, sizeof(labels), "where=\"%s\"", where_names[w]);
        metrics_sample(out, "talaash_store_errors_total", labels, (double)m.store_errors[w]);
    }
}
