/*
 * stats.h — the store-wide figures of the operator surface (cases by state,
 * outbox by channel, kind and state, subscribers, …) as a cached snapshot.
 *
 * Counting a million-row outbox takes a good part of a second, so it never
 * runs on the event loop: a thread of its own reads the store on its own
 * read-only connection (store_stats.h) and hands the snapshot back through
 * an eventfd. A refresh starts only when someone asks (a /metrics scrape,
 * an API call) and the snapshot is older than STATS_MAX_AGE_MS, and never
 * sooner after the last one than STATS_COST_FACTOR times what that one
 * took — so a huge store costs the writer's core nothing and the stats
 * thread at most 1/STATS_COST_FACTOR of another, at nice 19 (idle time
 * first when the cores are busy with callbacks). Who asks with
 * stats_when_fresh() is called back once the refresh is in (the loop keeps
 * running meanwhile); the JSON renderers serve the snapshot there is.
 */
#ifndef TALAASH_STATS_H
#define TALAASH_STATS_H

#include <cjson/cJSON.h>

struct tl_buf;
struct tl_daemon;
struct tl_stats;

#define STATS_MAX_AGE_MS 1000.0
#define STATS_COST_FACTOR 20.0
/* How long a waiter waits for a refresh when an older snapshot exists. */
#define STATS_WAIT_MAX_MS 250.0

/* Starts the stats thread on d's store path; TL_OK, or TL_ERR_STORE with *cause. */
int stats_new(struct tl_daemon *d, struct tl_stats **out, char **cause);
/* Calls back every waiter (with the snapshot there is), stops the thread, frees. */
void stats_free(struct tl_stats *s);

/*
 * Calls ready(d, arg) on the loop once the snapshot is at most
 * STATS_MAX_AGE_MS old — at once when it is, or when a refresh may not
 * start yet (then with the older one), and after STATS_WAIT_MAX_MS with
 * the older one when the refresh is slow (a scrape never waits long; only
 * the very first snapshot is waited for until it comes). The snapshot may still be missing
 * (the store failed from the start): the renderers say so.
 */
void stats_when_fresh(struct tl_daemon *d, void (*ready)(struct tl_daemon *d, void *arg),
                      void *arg);

/* The snapshot's gauges in Prometheus text format (for /metrics). */
void stats_render_metrics(struct tl_daemon *d, struct tl_buf *out);

/*
 * Per configured channel: {"name", "provider", "rate", "batch_size",
 * "concurrency", "queue_depth", "in_flight", "last_error" (text or null),
 * "last_error_at", "last_success_at" (RFC 3339 UTC or null)}, in a JSON
 * array (caller frees). queue_depth is from the snapshot; the rest is live.
 */
cJSON *stats_channels_json(struct tl_daemon *d);
/*
 * {"as_of": RFC 3339 or null, "cases": {state: n …}, "outbox": {state: n …},
 *  "subscribers": {"active", "opted_out", "subscriptions"}, "police": n,
 *  "active_alerts": n} (caller frees); counts are 0 while no snapshot exists.
 */
cJSON *stats_summary_json(struct tl_daemon *d);

#endif
