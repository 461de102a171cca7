/*
 * sender.h — sends the outbox: one curl multi handle on the libevent loop.
 *
 * Per channel: a token bucket ([channel] rate messages/s), a cap on requests
 * in flight ([channel] concurrency), and batches of the provider's size for
 * messages that share a text. Each request's answer is classified by the
 * provider, per recipient, and written back to the outbox: sent (with the
 * aggregator's id), retried later with exponential backoff and jitter, or
 * failed. Nothing is sent that is not first a row in the outbox.
 */
#ifndef TALAASH_SENDER_H
#define TALAASH_SENDER_H

#include <stddef.h>

struct tl_daemon;
struct tl_sender;

int sender_new(struct tl_daemon *d, struct tl_sender **out, char **cause);
/* New messages may be due: send what the limits allow, soon (not re-entrantly). */
void sender_kick(struct tl_sender *s);
/* Stops starting requests; those in flight finish. */
void sender_stop(struct tl_sender *s);
/* Requests in flight. */
size_t sender_inflight(const struct tl_sender *s);
/* Requests in flight to the channel at index i of the config's channels (0 if none). */
size_t sender_channel_inflight(const struct tl_sender *s, size_t i);
void sender_free(struct tl_sender *s);

#endif
