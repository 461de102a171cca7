/*
 * fanout.h — the rest of the waves too big for their own transaction,
 * queued on the loop a chunk at a time ahead of the sender.
 *
 * A wave's transaction (inside the VERIFY, the WIDEN or an escalation)
 * queues its first chunks for [alerts] wave_first_ms and leaves the rest
 * as the wave's fan-out, committed with it (store_alert_wave). The fan-out
 * timer then calls store_wave_fanout: each call queues the next chunk of a
 * wave once the sender has reached the chunk before its last, so the queue
 * stays two or three chunks ahead of what the aggregators take (more than
 * the senders of all nodes hold in flight) and no step holds the loop for
 * longer than a chunk. It runs on every node (a wave's row is locked
 * while one node reads its chunk), and picks up at start-up a fan-out a
 * crash left, from its last committed chunk.
 */
#ifndef TALAASH_FANOUT_H
#define TALAASH_FANOUT_H

struct tl_daemon;
struct tl_fanout;

/* While a fan-out is pending: how often to look whether its next chunk is due. */
#define FANOUT_BUSY_MS 20
/* Otherwise: how often to look for one (another node's wave, one a crash left). */
#define FANOUT_IDLE_MS 1000
/* Chunks one turn of the timer may queue, while they are due, until this much time has passed. */
#define FANOUT_TURN_MS 8.0

int fanout_new(struct tl_daemon *d, struct tl_fanout **out);
void fanout_free(struct tl_fanout *f);
/* A wave has just left a fan-out: look at once rather than at the next idle look. */
void fanout_kick(struct tl_fanout *f);

#endif
