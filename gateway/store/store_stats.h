/*
 * store_stats.h — counts over the whole store for the stats snapshot
 * (stats.c), read on a connection of their own.
 *
 * A reader is one read-only SQLite connection owned by one thread (the
 * stats thread): WAL lets it read while the daemon's connection writes, so
 * these scans — the outbox has a million rows after a wave — never hold up
 * the event loop. Cases and people are counted in one read transaction,
 * the outbox in short runs of its own (see store_stats.c).
 */
#ifndef TALAASH_STORE_STATS_H
#define TALAASH_STORE_STATS_H

#include <stddef.h>
#include <stdint.h>

struct tl_store_reader;

/* Case states in the order of the schema's CHECK (draft … cancelled). */
#define TL_CASE_NSTATES 6
#define TL_CASE_ACTIVE 2 /* index of "active" */
extern const char *const store_case_state_names[TL_CASE_NSTATES];

/* Outbox messages of one (channel, kind, priority, state). */
struct tl_store_outbox_count {
    char *channel;
    int kind;     /* enum tl_outbox_kind */
    int priority;
    int state;    /* enum tl_outbox_state */
    int64_t n;
};

struct tl_store_stats {
    int64_t cases[TL_CASE_NSTATES];
    int64_t subscribers;   /* numbers not opted out */
    int64_t opted_out;     /* numbers that sent STOP */
    int64_t subscriptions; /* (number, area) pairs */
    int64_t police;        /* registrations */
    struct tl_store_outbox_count *outbox; /* every non-empty group, owned */
    size_t noutbox;
};

/* Opens path read-only for the calling thread. TL_OK, or TL_ERR_STORE with *cause. */
int store_reader_open(const char *path, long busy_timeout_ms, struct tl_store_reader **out,
                      char **cause);
void store_reader_close(struct tl_store_reader *r);
/* Fills *out (cleared first) in one read transaction: TL_OK or TL_ERR_STORE. */
int store_stats_read(struct tl_store_reader *r, struct tl_store_stats *out);
/* The last error of the reader's connection (for logs). */
const char *store_reader_errmsg(struct tl_store_reader *r);
void store_stats_clear(struct tl_store_stats *s);

#endif
