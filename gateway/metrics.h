/*
 * metrics.h — the gateway's counters and histograms for GET /metrics.
 *
 * A leaf module: plain integers in this process's memory, incremented on
 * the event loop's thread by the code that sees the event (a callback, a
 * send result, a group commit). An increment is an index computation and
 * an add — no lock, no allocation, no I/O — so the hot paths pay nothing
 * measurable for them. metrics_render() writes them in Prometheus' text
 * format 0.0.4; the gauges that need the store (cases, queue depth, …) are
 * added by the route (metrics_http.c) from stats.c's cached snapshot.
 *
 * Labels are closed sets only: a configured channel (by its index in the
 * config), a route family, a status code, an outcome or state from the
 * enums below — never a phone number, a case number or a path from a peer.
 */
#ifndef TALAASH_METRICS_H
#define TALAASH_METRICS_H

#include <stddef.h>

struct tl_buf;
struct tl_config;
struct tl_channel_conf;

/* Route families of the HTTP surface (SPEC §7), the `route` label. */
enum tl_metrics_route {
    TL_MR_SMS = 0,     /* /sms/{channel} */
    TL_MR_DLR = 1,     /* /dlr/{channel} */
    TL_MR_USSD = 2,    /* /ussd/{channel} */
    TL_MR_HEALTHZ = 3, /* /healthz */
    TL_MR_METRICS = 4, /* /metrics */
    TL_MR_FEED = 5,    /* /alerts.atom, /alerts/{id}.xml */
    TL_MR_API = 6,     /* /api/... */
    TL_MR_CONSOLE = 7, /* /console/... */
    TL_MR_OTHER = 8,   /* anything else (404s) */
};
#define TL_MR_N 9

/* What became of an inbound SMS or USSD step (the `outcome` label). */
enum tl_metrics_inbound {
    TL_MI_PROCESSED = 0, /* stored and handled (also when over a limit or blocked) */
    TL_MI_DUPLICATE = 1, /* an aggregator's retry of a message already processed */
    TL_MI_REJECTED = 2,  /* malformed: answered 4xx */
    TL_MI_FORBIDDEN = 3, /* failed authentication: 403 */
    TL_MI_FAILED = 4,    /* the store failed: 503, the aggregator retries */
};
#define TL_MI_N 5

enum tl_metrics_kind { TL_MK_SMS = 0, TL_MK_USSD = 1 };
#define TL_MK_N 2

/* Per-message results of a send request (the `result` label). */
enum tl_metrics_send { TL_MS_SENT = 0, TL_MS_RETRIED = 1, TL_MS_FAILED = 2 };
#define TL_MS_N 3

/* Where a store error was met (the `where` label of talaash_store_errors_total). */
enum tl_metrics_store_where {
    TL_MW_CALLBACK = 0, /* a callback's own write */
    TL_MW_GROUP = 1,    /* the group commit */
    TL_MW_SENDER = 2,   /* claims and send results */
    TL_MW_STATS = 3,    /* the stats thread's read (stats.c) */
};
#define TL_MW_N 4

/* Sizes the per-channel tables for cfg's channels (call once at start). */
void metrics_init(const struct tl_config *cfg);
/* Frees what metrics_init allocated and zeroes every counter. */
void metrics_reset(void);

/* An HTTP answer: route family of path, status, seconds since the request was read. */
void metrics_http_reply(const char *path, int status, double seconds);
/* The route family of a request path. */
enum tl_metrics_route metrics_route_of(const char *path);
void metrics_inbound(const struct tl_channel_conf *ch, enum tl_metrics_kind kind,
                     enum tl_metrics_inbound outcome);
/* A delivery report, by the state it reports (enum tl_outbox_state; QUEUED = unknown). */
void metrics_dlr(const struct tl_channel_conf *ch, int outbox_state);
/*
 * One send request ended after `seconds` with n_sent/n_retried/n_failed
 * recipients. http_status 0 = no answer (error holds why). Also records the
 * channel's last success or last error (error text masked of numbers).
 */
void metrics_send(const struct tl_channel_conf *ch, long http_status, double seconds,
                  size_t n_sent, size_t n_retried, size_t n_failed, const char *error);
/* A send request to ch started (+1) or ended (-1): the channel's requests in flight. */
void metrics_send_inflight(const struct tl_channel_conf *ch, int delta);
/* A group commit of n callbacks: committed or not. */
void metrics_group_commit(size_t n, int committed);
void metrics_store_error(enum tl_metrics_store_where where);

/* The channel's last send error text ("" if none) and times (unix s, 0 = never). */
struct tl_metrics_channel_status {
    const char *last_error;
    double last_error_at;
    double last_success_at;
    size_t in_flight; /* send requests in flight */
};
void metrics_channel_status(const struct tl_channel_conf *ch,
                            struct tl_metrics_channel_status *out);

/* When metrics_init ran (unix seconds, the daemon's clock): process_start_time_seconds. */
double metrics_started_at(void);

/* Appends every counter and histogram above, in text format 0.0.4. */
void metrics_render(struct tl_buf *out);

/*
 * Helpers for the other families of one exposition (metrics_http.c): the
 * # HELP and # TYPE lines, and a sample "name{labels} value".
 */
void metrics_family(struct tl_buf *out, const char *name, const char *type, const char *help);
void metrics_sample(struct tl_buf *out, const char *name, const char *labels, double value);

#endif
