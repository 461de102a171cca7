/*
 * pg_int.h — the PostgreSQL backend's private parts, shared by pg*.c only.
 *
 * Every query goes through pg_query()/pg_command() (pg.c): prepared once
 * per connection (keyed by the address of its SQL literal, as the SQLite
 * backend's store_stmt), sent with libpq's asynchronous calls, and its
 * answer awaited in pg_wait() — which yields to the event loop when the
 * daemon runs store work as a job (job.h) and polls the socket otherwise
 * (the CLI, tests, the reader threads). So no query blocks the loop.
 *
 * SQL here is PostgreSQL's own ($1 placeholders); parameters travel as text
 * (struct pg_params), results are read with pg_i64()/pg_dup()/pg_f64().
 */
#ifndef TALAASH_PG_INT_H
#define TALAASH_PG_INT_H

#define STORE_BACKEND_FN(op) pg_##op
#include "gateway/store/backend.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_STMT_CACHE 192
#define PG_MAX_PARAMS 24 /* the widest: a case row and its id (pg_domain.c) */
#define PG_LEASE_DEFAULT_MS 120000 /* until the daemon sets it from its timeouts */
#define PG_IDLE_LOOK_MS 250 /* an idle sender looks for other nodes' rows this often */

struct tl_store {
    const struct tl_store_ops *ops; /* first: the front dispatches by it (backend.h) */
    PGconn *conn;
    char *url;           /* owned; never logged (it may hold a password) */
    long busy_timeout_ms; /* lock_timeout of every session */
    int tx_depth;         /* pg_tx_begin levels open: 1 = BEGIN, more = savepoints */
    bool tx_failed;       /* a statement failed inside the open level: only a rollback helps */
    char sqlstate[6];     /* of the last failed statement, "" when it succeeded */
    char errmsg[400];     /* the last error, one line */
    struct tl_store_health health;
    /* Statements prepared on this connection, keyed by the address of their SQL literal. */
    struct {
        const char *sql;
        char name[12];
    } cache[PG_STMT_CACHE];
    size_t ncache;
    bool leader;          /* holds the cluster's leader lock (pg_leads) */
    int64_t lease_ms;     /* a claim's lease (store_set_node) */
    /* The node a claim is marked with (outbox.claimed_by): store_set_node, else unique to this store. */
    char node[128];
    /* The operator API's reader: the Urdu names of areas (tl_area_ur), or NULL. */
    tl_area_name_fn area_ur;
    void *area_ctx;
};

/* SQL: the pool a new outbox row keeps (its channel when that is the alert pool), else NULL. */
#define PG_POOL_OF(channel_param)                                                                  \
    "(CASE WHEN " channel_param " = '" TL_OUTBOX_POOL "' THEN '" TL_OUTBOX_POOL "' END)"

/* Query parameters as text; NULL entries are SQL NULL. */
struct pg_params {
    const char *v[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][32];
    int n;
};
void pg_p_text(struct pg_params *p, const char *s);
void pg_p_i64(struct pg_params *p, int64_t v);
/* v, or SQL NULL when v is 0 (an id or a time that is not there). */
void pg_p_i64_or_null(struct pg_params *p, int64_t v);
void pg_p_f64(struct pg_params *p, double v);
void pg_p_bool(struct pg_params *p, bool v);

/*
 * Runs sql (a string literal: its address keys the prepared statement) with
 * p's parameters (p may be NULL). pg_query returns the result of a
 * statement that returns rows (PGRES_TUPLES_OK; the caller PQclear()s it)
 * or NULL on failure (st->errmsg, st->sqlstate set; logged once).
 * pg_command is for statements returning no rows: TL_OK, TL_ERR_DUPLICATE
 * on a unique violation (SQLSTATE 23505), else TL_ERR_STORE; *changed (may
 * be NULL) gets the rows changed.
 */
PGresult *pg_query(struct tl_store *st, const char *sql, const struct pg_params *p);
int pg_command(struct tl_store *st, const char *sql, const struct pg_params *p,
               int64_t *changed);
/* Runs a script of statements without parameters (migrations), not prepared. */
int pg_script(struct tl_store *st, const char *sql);

/* Reads row r, column c: 0 / NULL / 0.0 when SQL NULL. */
int64_t pg_i64(const PGresult *res, int r, int c);
char *pg_dup(const PGresult *res, int r, int c);
double pg_f64(const PGresult *res, int r, int c);
bool pg_null(const PGresult *res, int r, int c);
/* A single-value query's first column as int64, or fallback when no row / on error. */
int64_t pg_query_i64(struct tl_store *st, const char *sql, const struct pg_params *p,
                     int64_t fallback);
/*
 * A query expected to return one row: its result when it returned one or
 * more (caller PQclear()s), else NULL with *rc TL_ERR_NOT_FOUND (no row) or
 * TL_ERR_STORE (failed).
 */
PGresult *pg_query_row(struct tl_store *st, const char *sql, const struct pg_params *p, int *rc);

/* A connection for a reader thread (the API's, the stats'), without migrating. */
int pg_open_reader_store(const char *url, long busy_timeout_ms, struct tl_store **out,
                         char **cause);

/* Migrations (pg_schema.c): each a NULL-terminated list of statements, one transaction. */
extern const char *const *const pg_migrations[];
extern const size_t pg_nmigrations;

#endif
