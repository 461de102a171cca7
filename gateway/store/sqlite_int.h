/*
 * sqlite_int.h — the SQLite backend's private parts, shared by sqlite*.c only (like
 * SQLite's btreeInt.h). Nothing else includes this.
 */
#ifndef TALAASH_STORE_INT_H
#define TALAASH_STORE_INT_H

#define STORE_BACKEND_FN(op) sqlite_##op
#include "gateway/store/backend.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* Cached prepared statements; sqlite_close() finalizes every member. */
struct tl_store_stmts {
    sqlite3_stmt *ping;
    sqlite3_stmt *inbound_insert;
    sqlite3_stmt *inbound_find;
    sqlite3_stmt *inbound_state;
    sqlite3_stmt *inbound_processed;
    sqlite3_stmt *outbox_add;
    sqlite3_stmt *outbox_result;
    sqlite3_stmt *outbox_next_due;
    sqlite3_stmt *outbox_dlr;
    sqlite3_stmt *outbox_counts;
    sqlite3_stmt *dlr_pending_add;
    sqlite3_stmt *dlr_pending_take;
    sqlite3_stmt *dlr_pending_prune;
};

#define STORE_STMT_CACHE 96

/*
 * While the store is unwritable a write waits at most this long for a lock
 * (each wait blocks the event loop: with the full busy_timeout every
 * callback of a lock fault would hold up all others for seconds).
 */
#define STORE_BUSY_UNWRITABLE_MS 100

struct tl_store {
    const struct tl_store_ops *ops; /* first: the front dispatches by it (backend.h) */
    sqlite3 *db;
    struct tl_store_stmts stmts;
    /* Statements prepared by store_stmt(), keyed by the address of their SQL literal. */
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[STORE_STMT_CACHE];
    size_t ncache;
    int tx_depth; /* sqlite_tx_begin levels open: 1 = BEGIN, more = savepoints */
    struct tl_store_health health; /* sqlite_writable */
    int busy_timeout_ms; /* [store] busy_timeout; while unwritable at most STORE_BUSY_UNWRITABLE_MS
                          */
    struct tl_checkpointer *checkpointer; /* store_checkpoint.c; NULL: SQLite's own */
};

/* SQL: the pool a new outbox row keeps (its channel when that is the alert pool), else NULL. */
#define STORE_POOL_OF(channel_param)                                                               \
    "(CASE WHEN " channel_param " = '" TL_OUTBOX_POOL "' THEN '" TL_OUTBOX_POOL "' END)"

/* Prepares *slot once (persistent), or resets and clears it for reuse. */
int store_prepare(struct tl_store *st, sqlite3_stmt **slot, const char *sql);
/*
 * The prepared statement for a SQL string literal, reset and with bindings
 * cleared, prepared on first use and kept; NULL on error. Callers pass the
 * same literal each time (its address is the key).
 */
sqlite3_stmt *store_stmt(struct tl_store *st, const char *sql);
/* A column as a new string, or NULL when the column is NULL. */
char *store_column_dup(sqlite3_stmt *s, int i);
/* Runs a statement that returns no rows; TL_OK or TL_ERR_STORE. */
int store_step_done(sqlite3_stmt *s);

/*
 * Starts the thread that checkpoints the WAL of st (at path) on its own
 * connection; 0, or -1 when it cannot (SQLite's automatic checkpoint then
 * stays on). Stop it before closing st->db; stopping a store without one
 * does nothing.
 */
int store_checkpointer_start(struct tl_store *st, const char *path);
void store_checkpointer_stop(struct tl_store *st);

/* Moves every staged provider id into provider_ids, in key order, atomically (store_outbox.c). */
int store_provider_ids_move(struct tl_store *st);

/* Binds text (copied by reference: the caller keeps v alive until the step), or NULL. */
void store_bind_text(sqlite3_stmt *s, int i, const char *v);

#endif
