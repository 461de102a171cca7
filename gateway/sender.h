/*
 * sender.h — sends the outbox: one curl multi handle on the libevent loop.
 *
 * Per channel: a token bucket ([channel] rate messages/s), a cap on requests
 * in flight ([channel] concurrency), and batches of the provider's size for
 * messages that share a text. Each request's answer is classified by the
 * provider, per recipient, and written back to the outbox: sent (with the
 * aggregator's id), retried later with exponential backoff and jitter, or
 * failed. Nothing is sent that is not first a row in the outbox.
 *
 * The sender knows the store, the providers and the config, nothing above:
 * what it needs from the rest of the daemon, and what it reports, goes
 * through struct tl_sender_hooks, which the owner (daemon.c) wires.
 */
#ifndef TALAASH_SENDER_H
#define TALAASH_SENDER_H

#include <stddef.h>

struct tl_channel_conf;
struct tl_daemon;
struct tl_sender;

/* What the owner does for the sender; each slot MAY be NULL (nothing to do). */
struct tl_sender_hooks {
    /*
     * Runs before each claim of due messages: whatever is written but not
     * yet committed (the callbacks' group) must be committed when it
     * returns, so that only committed rows are sent.
     */
    void (*before_claim)(struct tl_daemon *d);
    /*
     * The aggregator said `phone` opted out (a permanent failure of a send
     * on channel ch). Runs inside the transaction that stores the request's
     * results; what it writes commits with them.
     */
    void (*opted_out)(struct tl_daemon *d, const struct tl_channel_conf *ch, const char *phone);
};

/* hooks is copied. */
int sender_new(struct tl_daemon *d, const struct tl_sender_hooks *hooks, struct tl_sender **out,
               char **cause);
/* New messages may be due: send what the limits allow, soon (not re-entrantly). */
void sender_kick(struct tl_sender *s);
/* Stops starting requests; those in flight finish. */
void sender_stop(struct tl_sender *s);
/* Requests in flight. */
size_t sender_inflight(const struct tl_sender *s);
void sender_free(struct tl_sender *s);

#endif
