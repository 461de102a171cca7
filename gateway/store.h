/*
 * store.h — the durable store (SQLite), the only module that speaks SQL.
 *
 * Only store*.c include sqlite3.h; everything else sees these functions.
 * The store opens in WAL mode with foreign keys on and a busy timeout, and
 * applies pending migrations (store_schema.c) in one transaction at open. A
 * store written by a newer binary is refused (TL_ERR_SCHEMA).
 *
 * Durability rule for callers: answer a peer 2xx only after the function
 * that stored its data returned TL_OK — each write here is committed when it
 * returns (or when the caller's store_tx_commit() returns, inside a
 * transaction).
 */
#ifndef TALAASH_STORE_H
#define TALAASH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tl_store;

int store_open(const char *path, long busy_timeout_ms, struct tl_store **out, char **cause);
void store_close(struct tl_store *st);

/* TL_OK when the store answers a query on its own tables. */
int store_ping(struct tl_store *st);
/* PRAGMA user_version of the open store. */
int store_schema_version(struct tl_store *st);
/* The version this binary writes. */
int store_schema_latest(void);
/* PRAGMA integrity_check; TL_OK when "ok", else TL_ERR_STORE with the report in *cause. */
int store_integrity_check(struct tl_store *st, char **cause);

/* Explicit transactions (BEGIN IMMEDIATE … COMMIT) for multi-row writes. */
int store_tx_begin(struct tl_store *st);
int store_tx_commit(struct tl_store *st);
void store_tx_rollback(struct tl_store *st);

/* The last SQLite error message of this connection (for logs). */
const char *store_errmsg(struct tl_store *st);

/* ---- areas (a mirror of the gazetteer, for joins) ---- */

struct tl_area_row {
    const char *code;
    const char *name_en;
    const char *kind;
    const char *parent_code; /* or NULL */
    double lat, lon;
};

/* Replaces the areas table with rows[0..n), in one transaction. */
int store_areas_replace(struct tl_store *st, const struct tl_area_row *rows, size_t n);

/* ---- inbound messages ---- */

struct tl_inbound_row {
    const char *channel;
    const char *provider_id;
    const char *kind;    /* "sms" or "ussd" */
    const char *phone;   /* E.164 */
    const char *to_addr; /* or NULL */
    const char *text;
    int64_t received_at;
};

/*
 * Stores an inbound message and commits. TL_OK with *id set; TL_ERR_DUPLICATE
 * (and *id of the earlier row) when (channel, provider_id) was seen before;
 * TL_ERR_STORE when the store failed.
 */
int store_inbound_insert(struct tl_store *st, const struct tl_inbound_row *row, int64_t *id);
/* Marks an inbound message's processing outcome ("processed", "limited", …). */
int store_inbound_set_state(struct tl_store *st, int64_t id, const char *state, int64_t now);
/* True when the inbound row's processing finished (state is not 'received'). */
bool store_inbound_processed(struct tl_store *st, int64_t id);
/* Number of stored inbound messages (tests, metrics). */
int64_t store_inbound_count(struct tl_store *st);

#endif

/* ---- the outbox ---- */

enum tl_outbox_kind {
    TL_OUT_POLICE = 0, /* notifications to police: sent first */
    TL_OUT_REPLY = 1,  /* replies to users */
    TL_OUT_ALERT = 2,  /* bulk alerts */
    TL_OUT_UPDATE = 3, /* bulk updates when a case ends */
};

struct tl_outbox_new {
    const char *channel;
    const char *phone; /* E.164 */
    const char *text;
    enum tl_outbox_kind kind;
    int64_t expires_at; /* unix seconds, 0 = never */
    int64_t case_id;    /* 0 = none */
    int64_t alert_id;   /* 0 = none */
    int64_t inbound_id; /* 0 = none */
};

/* A claimed message, owned by the caller (store_outbox_msgs_free). */
struct tl_outbox_msg {
    int64_t id;
    char *phone;
    char *text;
    int kind;
    int attempts; /* including this one */
};

enum tl_outbox_state {
    TL_OUTBOX_QUEUED = 0,
    TL_OUTBOX_SENDING = 1,
    TL_OUTBOX_SENT = 2,
    TL_OUTBOX_DELIVERED = 3,
    TL_OUTBOX_FAILED = 4,
    TL_OUTBOX_EXPIRED = 5,
    TL_OUTBOX_CANCELLED = 6,
};
#define TL_OUTBOX_NSTATES 7
const char *store_outbox_state_name(enum tl_outbox_state s);

/* The outcome of one send attempt. */
struct tl_outbox_result {
    int64_t id;
    enum tl_outbox_state state;  /* SENT, QUEUED (retry), FAILED */
    const char *provider_id;     /* for SENT, or NULL */
    const char *error;           /* or NULL */
    int64_t next_attempt_ms;     /* for QUEUED */
};

/* Adds one message (committed unless inside store_tx_begin). */
int store_outbox_add(struct tl_store *st, const struct tl_outbox_new *m, int64_t now, int64_t *id);
/*
 * Claims up to max due messages of a channel (queued, next_attempt_ms <=
 * now_ms), best priority first, and marks them sending with attempts + 1,
 * in one transaction. Messages past expires_at become expired instead.
 */
int store_outbox_claim(struct tl_store *st, const char *channel, int64_t now_ms, size_t max,
                       struct tl_outbox_msg **msgs, size_t *n);
void store_outbox_msgs_free(struct tl_outbox_msg *msgs, size_t n);
/*
 * Records the outcomes of one request in one transaction, then applies any
 * delivery report that arrived before the result (dlr_pending).
 */
int store_outbox_results(struct tl_store *st, const char *channel,
                         const struct tl_outbox_result *results, size_t n, int64_t now);
/* The earliest next_attempt_ms of a channel's queued messages; 0 when none. */
int64_t store_outbox_next_due(struct tl_store *st, const char *channel);
/* At start: messages left 'sending' by a crash go back to 'queued'. Returns how many, or -1. */
int64_t store_outbox_recover(struct tl_store *st);

/* A delivery report, matched by the aggregator's id or by our outbox id. */
struct tl_outbox_dlr {
    const char *channel;
    const char *provider_id; /* or NULL */
    int64_t our_id;          /* or 0 */
    enum tl_outbox_state state; /* SENT (accepted), DELIVERED, FAILED, EXPIRED; QUEUED = unknown status */
    const char *status_raw;
    const char *error;
};
/*
 * Applies a delivery report: TL_OK when a message was updated (final states
 * are never overwritten by later, lesser reports); TL_ERR_NOT_FOUND when no
 * message matches yet — the report is then kept in dlr_pending and applied
 * when the send result arrives.
 */
int store_outbox_dlr(struct tl_store *st, const struct tl_outbox_dlr *d, int64_t now);
/* Cancels queued messages of kind alert/update to a phone (STOP). Returns count or -1. */
int64_t store_outbox_cancel_phone(struct tl_store *st, const char *phone, int64_t now);
/* Messages in each state (index = enum tl_outbox_state). */
int store_outbox_counts(struct tl_store *st, int64_t counts[TL_OUTBOX_NSTATES]);
