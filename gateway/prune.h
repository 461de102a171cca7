/*
 * prune.h — bounded growth: the store's pruning passes, off the hot path.
 *
 * Once a second the pruner looks whether a case ended more than [store]
 * keep_sent ago that no pass went through (or whether an hour passed since
 * the last pass, for rows tied to no case); if so, a pass walks the outbox,
 * the inbound messages and the rate windows in steps (store_prune_step),
 * each a few milliseconds of work, with a pause between steps that lets the
 * loop serve everything else. What goes and what stays: store_prune.c.
 * The pruner also moves the provider ids that send results stage into
 * their index, in slices of the same few milliseconds (store.h).
 */
#ifndef TALAASH_PRUNE_H
#define TALAASH_PRUNE_H

struct tl_daemon;
struct tl_pruner;

/* Milliseconds one step aims at; the rows per step adapt to it. */
#define PRUNE_STEP_MS 4.0
/* Pause between two steps of a pass. */
#define PRUNE_PAUSE_MS 10
/* Seconds between passes when no ended case asks for one. */
#define PRUNE_PASS_EVERY 3600

int prune_new(struct tl_daemon *d, struct tl_pruner **out);
void prune_free(struct tl_pruner *p);

#endif
