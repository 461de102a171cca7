/*
 * pg.c — the PostgreSQL backend: the connection, its queries (pg_int.h),
 * migrations under an advisory lock, transactions, write health, the
 * cluster's leader lock and shared token buckets, and the inbound table.
 *
 * One connection per store. A query is prepared once on it (named by the
 * address of its SQL literal), sent with PQsendQueryPrepared and its
 * answer awaited in pg_wait(): through the wait hook while the daemon runs
 * store work as a job (job.c yields to the event loop until the socket is
 * readable), with poll() otherwise. A lost connection makes the store
 * unwritable; the next outermost begin (or write probe) resets it, and the
 * prepared statements are prepared again.
 */
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct tl_store_ops pg_store_ops = {.name = "postgresql", STORE_OPS_ENTRIES};

/* The wait hook (store_set_wait): NULL = poll() here. */
static int (*wait_hook)(int fd, void *arg);
static void *wait_hook_arg;

void store_set_wait(int (*wait_readable)(int fd, void *arg), void *arg)
{
    wait_hook = wait_readable;
    wait_hook_arg = arg;
}

/* ---- parameters and results ---- */

void pg_p_text(struct pg_params *p, const char *s)
{
    if (p->n >= PG_MAX_PARAMS)
        abort(); /* raise PG_MAX_PARAMS: every query here has a fixed count */
    p->v[p->n++] = s;
}

void pg_p_i64(struct pg_params *p, int64_t v)
{
    if (p->n >= PG_MAX_PARAMS)
        abort();
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%" PRId64, v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

void pg_p_i64_or_null(struct pg_params *p, int64_t v)
{
    if (v != 0)
        pg_p_i64(p, v);
    else
        pg_p_text(p, NULL);
}

void pg_p_f64(struct pg_params *p, double v)
{
    if (p->n >= PG_MAX_PARAMS)
        abort();
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%.17g", v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

void pg_p_bool(struct pg_params *p, bool v)
{
    pg_p_text(p, v ? "true" : "false");
}

int64_t pg_i64(const PGresult *res, int r, int c)
{
    if (PQgetisnull(res, r, c))
        return 0;
    const char *v = PQgetvalue(res, r, c);
    if (v[0] == 't' && v[1] == '\0')
        return 1; /* a boolean column */
    if (v[0] == 'f' && v[1] == '\0')
        return 0;
    return strtoll(v, NULL, 10);
}

char *pg_dup(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : xstrdup(PQgetvalue(res, r, c));
}

double pg_f64(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? 0.0 : strtod(PQgetvalue(res, r, c), NULL);
}

bool pg_null(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) != 0;
}

/* ---- the connection ---- */

/* Keeps the first line of msg as the store's last error. */
static void set_error(struct tl_store *st, const char *msg)
{
    size_t n = strcspn(msg, "\n");

    if (n >= sizeof(st->errmsg))
        n = sizeof(st->errmsg) - 1;
    memcpy(st->errmsg, msg, n);
    st->errmsg[n] = '\0';
}

/* Waits until the connection's socket is readable (or failed). TL_OK or TL_ERR_STORE. */
static int pg_wait(struct tl_store *st)
{
    int fd = PQsocket(st->conn);

    if (fd < 0)
        return TL_ERR_STORE;
    if (wait_hook != NULL) {
        int waited = wait_hook(fd, wait_hook_arg);
        if (waited <= 0)
            return waited == 0 ? TL_OK : TL_ERR_STORE;
        /* 1: not a job (the CLI, a reader thread, the loop outside a job): poll here */
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        int n = poll(&p, 1, -1);
        if (n > 0)
            return TL_OK;
        if (n < 0 && errno != EINTR)
            return TL_ERR_STORE;
    }
}

/* Collects the results of the query just sent; returns the last (caller clears) or NULL. */
static PGresult *collect(struct tl_store *st)
{
    PGresult *last = NULL, *r;

    for (;;) {
        while (PQisBusy(st->conn)) {
            if (pg_wait(st) != TL_OK || !PQconsumeInput(st->conn)) {
                set_error(st, PQerrorMessage(st->conn));
                PQclear(last);
                return NULL;
            }
        }
        r = PQgetResult(st->conn);
        if (r == NULL)
            return last;
        PQclear(last);
        last = r;
    }
}

/* Records a failed result's SQLSTATE and message; false when res failed. */
static bool result_ok(struct tl_store *st, PGresult *res)
{
    ExecStatusType s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        st->sqlstate[0] = '\0';
        return true;
    }
    const char *code = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(st->sqlstate, sizeof(st->sqlstate), "%s", code != NULL ? code : "08006");
    set_error(st, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(st->conn));
    if (st->errmsg[0] == '\0')
        set_error(st, PQerrorMessage(st->conn));
    if (st->tx_depth > 0)
        st->tx_failed = true;
    return false;
}

/* The name sql is prepared under on this connection (preparing it on first use), or NULL. */
static const char *prepared(struct tl_store *st, const char *sql, int nparams)
{
    for (size_t i = 0; i < st->ncache; i++)
        if (st->cache[i].sql == sql)
            return st->cache[i].name;
    if (st->ncache >= PG_STMT_CACHE)
        abort(); /* raise PG_STMT_CACHE: every statement here is a literal in the code */
    char *name = st->cache[st->ncache].name;
    snprintf(name, sizeof(st->cache[0].name), "t%zu", st->ncache);
    if (!PQsendPrepare(st->conn, name, sql, nparams, NULL)) {
        set_error(st, PQerrorMessage(st->conn));
        return NULL;
    }
    PGresult *res = collect(st);
    bool ok = result_ok(st, res);
    PQclear(res);
    if (!ok)
        return NULL;
    st->cache[st->ncache].sql = sql;
    st->ncache++;
    return name;
}

static PGresult *run(struct tl_store *st, const char *sql, const struct pg_params *p)
{
    int n = p != NULL ? p->n : 0;
    const char *name = prepared(st, sql, n);

    if (name == NULL)
        return NULL;
    if (!PQsendQueryPrepared(st->conn, name, n, p != NULL ? p->v : NULL, NULL, NULL, 0)) {
        set_error(st, PQerrorMessage(st->conn));
        snprintf(st->sqlstate, sizeof(st->sqlstate), "08006");
        return NULL;
    }
    PGresult *res = collect(st);
    if (!result_ok(st, res)) {
        PQclear(res);
        return NULL;
    }
    return res;
}

PGresult *pg_query(struct tl_store *st, const char *sql, const struct pg_params *p)
{
    PGresult *res = run(st, sql, p);

    if (res != NULL && PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        set_error(st, "statement returned no rows where rows were expected");
        return NULL;
    }
    return res;
}

int pg_command(struct tl_store *st, const char *sql, const struct pg_params *p,
               int64_t *changed)
{
    PGresult *res = run(st, sql, p);

    if (res == NULL)
        return strcmp(st->sqlstate, "23505") == 0 ? TL_ERR_DUPLICATE : TL_ERR_STORE;
    if (changed != NULL) {
        const char *t = PQcmdTuples(res);
        *changed = t[0] != '\0' ? strtoll(t, NULL, 10) : 0;
    }
    PQclear(res);
    return TL_OK;
}

int pg_script(struct tl_store *st, const char *sql)
{
    if (!PQsendQuery(st->conn, sql)) {
        set_error(st, PQerrorMessage(st->conn));
        return TL_ERR_STORE;
    }
    PGresult *res = collect(st);
    bool ok = result_ok(st, res);
    PQclear(res);
    return ok ? TL_OK : TL_ERR_STORE;
}

int64_t pg_query_i64(struct tl_store *st, const char *sql, const struct pg_params *p,
                     int64_t fallback)
{
    PGresult *res = pg_query(st, sql, p);
    int64_t v = fallback;

    if (res != NULL && PQntuples(res) > 0)
        v = pg_i64(res, 0, 0);
    PQclear(res);
    return v;
}

PGresult *pg_query_row(struct tl_store *st, const char *sql, const struct pg_params *p, int *rc)
{
    PGresult *res = pg_query(st, sql, p);

    *rc = res == NULL ? TL_ERR_STORE : PQntuples(res) == 0 ? TL_ERR_NOT_FOUND : TL_OK;
    if (*rc != TL_OK) {
        PQclear(res);
        return NULL;
    }
    return res;
}

/*
 * Settings of every session: UTC, our lock wait, no statement over a
 * minute, and no JIT: our statements are short and prepared, and JIT
 * compiles a plan again at every execution once its cost estimate is high
 * (a wave's chunk of 10,000 rows: ~1 s of compiling for 75 ms of work).
 */
static int session_setup(struct tl_store *st)
{
    char sql[200];

    snprintf(sql, sizeof(sql),
             "SET TIME ZONE 'UTC'; SET lock_timeout = %ld; SET statement_timeout = 60000;"
             " SET client_min_messages = warning; SET jit = off",
             st->busy_timeout_ms > 0 ? st->busy_timeout_ms : 5000);
    return pg_script(st, sql);
}

/* Connects (or reconnects) st->conn; TL_OK or TL_ERR_STORE with st->errmsg. */
static int pg_connect(struct tl_store *st)
{
    if (st->conn != NULL)
        PQfinish(st->conn);
    st->ncache = 0;
    st->tx_depth = 0;
    st->tx_failed = false;
    st->leader = false;
    st->conn = PQconnectdb(st->url);
    if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
        set_error(st, st->conn != NULL ? PQerrorMessage(st->conn) : "out of memory");
        return TL_ERR_STORE;
    }
    return session_setup(st);
}

/* The advisory lock keys of the cluster (arbitrary, fixed: 'TLSH' and a number). */
#define PG_LOCK_MIGRATE "1414288200"
#define PG_LOCK_LEADER "1414288201"

int pg_schema_latest(void)
{
    return (int)pg_nmigrations;
}

int pg_schema_version(struct tl_store *st)
{
    return (int)pg_query_i64(st, "SELECT coalesce(max(version), 0) FROM talaash_schema", NULL,
                             -1);
}

/*
 * Applies pending migrations under the migration lock: a second node
 * starting meanwhile waits on the lock, then finds nothing left to do.
 */
static int migrate(struct tl_store *st, char **cause)
{
    int rc = TL_ERR_STORE;

    if (pg_script(st, "SELECT pg_advisory_lock(" PG_LOCK_MIGRATE ")") != TL_OK ||
        pg_script(st, "CREATE TABLE IF NOT EXISTS talaash_schema ("
                      " version integer PRIMARY KEY, applied_at bigint NOT NULL)") != TL_OK)
        goto out;
    int version = pg_schema_version(st);
    if (version < 0)
        goto out;
    if ((size_t)version > pg_nmigrations) {
        *cause = xasprintf("the PostgreSQL store is at schema %d, newer than this binary's %zu",
                           version, pg_nmigrations);
        rc = TL_ERR_SCHEMA;
        goto unlock;
    }
    for (size_t i = (size_t)version; i < pg_nmigrations; i++) {
        char done[160];
        snprintf(done, sizeof(done),
                 "INSERT INTO talaash_schema VALUES (%zu, extract(epoch from now())::bigint)",
                 i + 1);
        bool ok = pg_script(st, "BEGIN") == TL_OK;
        for (const char *const *sql = pg_migrations[i]; ok && *sql != NULL; sql++)
            ok = pg_script(st, *sql) == TL_OK;
        if (!ok || pg_script(st, done) != TL_OK || pg_script(st, "COMMIT") != TL_OK) {
            *cause = xasprintf("PostgreSQL migration %zu: %s", i + 1, st->errmsg);
            pg_script(st, "ROLLBACK");
            goto unlock;
        }
    }
    rc = TL_OK;
unlock:
    pg_script(st, "SELECT pg_advisory_unlock(" PG_LOCK_MIGRATE ")");
out:
    if (rc == TL_ERR_STORE && *cause == NULL)
        *cause = xasprintf("PostgreSQL: %s", st->errmsg);
    return rc;
}

static struct tl_store *pg_new(const char *url, long busy_timeout_ms)
{
    struct tl_store *st = xcalloc(1, sizeof(*st));

    st->ops = &pg_store_ops;
    st->url = xstrdup(url);
    st->busy_timeout_ms = busy_timeout_ms;
    st->lease_ms = PG_LEASE_DEFAULT_MS;
    /* Until the daemon names the node: unique to this store (no restart recovers its claims). */
    static unsigned opened;
    snprintf(st->node, sizeof(st->node), "pid%ld.%u", (long)getpid(), ++opened);
    return st;
}

int pg_open(const char *url, long busy_timeout_ms, struct tl_store **out, char **cause)
{
    struct tl_store *st = pg_new(url, busy_timeout_ms);
    int rc;

    *out = NULL;
    if (pg_connect(st) != TL_OK) {
        *cause = xasprintf("PostgreSQL: %s", st->errmsg);
        pg_close(st);
        return TL_ERR_STORE;
    }
    if ((rc = migrate(st, cause)) != TL_OK) {
        pg_close(st);
        return rc;
    }
    *out = st;
    return TL_OK;
}

/* A connection of its own for a reader thread (the API's, the stats'): no migration. */
int pg_open_reader_store(const char *url, long busy_timeout_ms, struct tl_store **out,
                         char **cause)
{
    struct tl_store *st = pg_new(url, busy_timeout_ms);

    if (pg_connect(st) != TL_OK) {
        *cause = xasprintf("PostgreSQL: %s", st->errmsg);
        pg_close(st);
        *out = NULL;
        return TL_ERR_STORE;
    }
    *out = st;
    return TL_OK;
}

void pg_close(struct tl_store *st)
{
    if (st->conn != NULL)
        PQfinish(st->conn);
    free(st->url);
    free(st);
}

int pg_ping(struct tl_store *st)
{
    return pg_query_i64(st, "SELECT count(*) FROM talaash_schema", NULL, -1) >= 0 ? TL_OK
                                                                                 : TL_ERR_STORE;
}

int pg_integrity_check(struct tl_store *st, char **cause)
{
    /* PostgreSQL checks its own pages (data checksums, amcheck); here: that the schema is ours. */
    int v = pg_schema_version(st);

    if (v == (int)pg_nmigrations)
        return TL_OK;
    *cause = xasprintf("schema version %d, expected %zu", v, pg_nmigrations);
    return TL_ERR_STORE;
}

/* ---- transactions and write health ---- */

static void note_write(struct tl_store *st, bool ok, const char *why)
{
    char reason[sizeof(st->health.unwritable)];

    if (ok) {
        store_health_note(&st->health, true, NULL);
        return;
    }
    snprintf(reason, sizeof(reason), "%s: %.150s", why, st->errmsg);
    store_health_note(&st->health, false, reason);
}

/* Before an outermost level: a connection found lost is reset (once per call). */
static int ensure_connected(struct tl_store *st)
{
    if (PQstatus(st->conn) == CONNECTION_OK)
        return TL_OK;
    return pg_connect(st);
}

int pg_tx_begin(struct tl_store *st)
{
    if (st->tx_depth == 0) {
        if (ensure_connected(st) != TL_OK ||
            pg_command(st, "BEGIN", NULL, NULL) != TL_OK) {
            note_write(st, false, "cannot begin a write");
            return TL_ERR_STORE;
        }
        st->tx_failed = false;
    } else if (pg_command(st, "SAVEPOINT nested", NULL, NULL) != TL_OK) {
        return TL_ERR_STORE;
    }
    st->tx_depth++;
    return TL_OK;
}

int pg_tx_commit(struct tl_store *st)
{
    if (st->tx_depth == 0)
        return TL_ERR_STORE;
    if (st->tx_failed)
        return TL_ERR_STORE; /* still open: the caller rolls back */
    if (st->tx_depth > 1) {
        if (pg_command(st, "RELEASE nested", NULL, NULL) != TL_OK)
            return TL_ERR_STORE;
        st->tx_depth--;
        return TL_OK;
    }
    if (pg_command(st, "COMMIT", NULL, NULL) != TL_OK) {
        note_write(st, false, "cannot commit");
        /* A failed COMMIT ends the transaction in PostgreSQL: nothing is left open. */
        st->tx_depth = 0;
        st->tx_failed = false;
        return TL_ERR_STORE;
    }
    st->tx_depth = 0;
    note_write(st, true, NULL);
    return TL_OK;
}

void pg_tx_rollback(struct tl_store *st)
{
    if (st->tx_depth == 0)
        return;
    if (st->tx_depth == 1) {
        pg_command(st, "ROLLBACK", NULL, NULL);
        st->tx_depth = 0;
        st->tx_failed = false;
        return;
    }
    /* Undoes this level only; the outer one is usable again. */
    if (pg_command(st, "ROLLBACK TO SAVEPOINT nested", NULL, NULL) == TL_OK &&
        pg_command(st, "RELEASE nested", NULL, NULL) == TL_OK)
        st->tx_failed = false;
    st->tx_depth--;
}

const char *pg_errmsg(struct tl_store *st)
{
    return st->errmsg;
}

bool pg_writable(struct tl_store *st, const char **reason)
{
    return store_health_writable(&st->health, reason);
}

int pg_write_probe(struct tl_store *st)
{
    if (st->tx_depth > 0)
        return TL_OK;
    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if (pg_command(st, "UPDATE talaash_schema SET applied_at = applied_at WHERE false", NULL,
                   NULL) != TL_OK ||
        pg_tx_commit(st) != TL_OK) {
        pg_tx_rollback(st);
        return TL_ERR_STORE;
    }
    return TL_OK;
}

void pg_on_health(struct tl_store *st,
                  void (*cb)(void *arg, bool writable, const char *reason, long failures),
                  void *arg)
{
    st->health.cb = cb;
    st->health.arg = arg;
}

/* ---- the cluster ---- */

bool pg_leads(struct tl_store *st)
{
    if (st->leader && PQstatus(st->conn) == CONNECTION_OK)
        return true;
    st->leader = pg_query_i64(st, "SELECT pg_try_advisory_lock(" PG_LOCK_LEADER ")", NULL, 0) == 1;
    return st->leader;
}

void pg_set_node(struct tl_store *st, const char *node, int64_t lease_ms)
{
    snprintf(st->node, sizeof(st->node), "%s", node);
    st->lease_ms = lease_ms;
}

int64_t pg_rate_take(struct tl_store *st, const char *channel, double rate, double burst,
                     int64_t want, int64_t now_ms)
{
    struct pg_params p = {0};

    if (rate <= 0)
        return want;
    pg_p_text(&p, channel);
    if (want < 0) { /* tokens taken and not used go back (at most to burst) */
        pg_p_f64(&p, burst);
        pg_p_i64(&p, -want);
        return pg_command(st,
                          "UPDATE channel_buckets SET tokens = least($2::float8,"
                          " tokens + $3::bigint) WHERE channel = $1",
                          &p, NULL) == TL_OK
                   ? 0
                   : -1;
    }
    pg_p_f64(&p, rate);
    pg_p_f64(&p, burst);
    pg_p_i64(&p, want);
    pg_p_i64(&p, now_ms);
    /*
     * Refills by the time since the last take (at most burst) and takes up
     * to want of it, in one UPDATE: every SET expression reads the row as it
     * was, and a second node's UPDATE waits for the row and then works on
     * the first one's result, so no token is taken twice.
     */
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *res = pg_query(
            st,
            "UPDATE channel_buckets SET"
            " granted = least($4::bigint, floor(least($3::float8, tokens + $2::float8"
            "   * greatest(0, $5::bigint - updated_ms) / 1000.0)))::bigint,"
            " tokens = least($3::float8, tokens + $2::float8"
            "   * greatest(0, $5::bigint - updated_ms) / 1000.0)"
            "   - least($4::bigint, floor(least($3::float8, tokens + $2::float8"
            "   * greatest(0, $5::bigint - updated_ms) / 1000.0))),"
            " updated_ms = greatest(updated_ms, $5::bigint)"
            " WHERE channel = $1 RETURNING granted",
            &p);
        if (res == NULL)
            return -1;
        if (PQntuples(res) == 1) {
            int64_t granted = pg_i64(res, 0, 0);
            PQclear(res);
            return granted;
        }
        PQclear(res);
        struct pg_params q = {0};
        pg_p_text(&q, channel);
        pg_p_f64(&q, burst);
        pg_p_i64(&q, now_ms);
        if (pg_command(st,
                       "INSERT INTO channel_buckets (channel, tokens, updated_ms, granted)"
                       " VALUES ($1, $2, $3, 0) ON CONFLICT (channel) DO NOTHING",
                       &q, NULL) != TL_OK)
            return -1;
    }
    return -1;
}

/* ---- areas and inbound messages ---- */

int pg_areas_replace(struct tl_store *st, const struct tl_area_row *rows, size_t n)
{
    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    /* Nodes starting together replace it one after the other, not into each other. */
    if (pg_command(st, "LOCK TABLE areas IN EXCLUSIVE MODE", NULL, NULL) != TL_OK ||
        pg_command(st, "DELETE FROM areas", NULL, NULL) != TL_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct pg_params p = {0};
        pg_p_text(&p, rows[i].code);
        pg_p_text(&p, rows[i].name_en);
        pg_p_text(&p, rows[i].kind);
        pg_p_text(&p, rows[i].parent_code);
        pg_p_f64(&p, rows[i].lat);
        pg_p_f64(&p, rows[i].lon);
        if (pg_command(st,
                       "INSERT INTO areas (code, name_en, kind, parent_code, lat, lon)"
                       " VALUES ($1, $2, $3, $4, $5, $6)",
                       &p, NULL) != TL_OK)
            goto fail;
    }
    return pg_tx_commit(st);
fail:
    pg_tx_rollback(st);
    return TL_ERR_STORE;
}

int pg_inbound_insert(struct tl_store *st, const struct tl_inbound_row *row, int64_t *id)
{
    struct pg_params p = {0};

    pg_p_text(&p, row->channel);
    pg_p_text(&p, row->provider_id);
    pg_p_text(&p, row->kind);
    pg_p_text(&p, row->phone);
    pg_p_text(&p, row->to_addr);
    pg_p_text(&p, row->text);
    pg_p_i64(&p, row->received_at);
    pg_p_text(&p, row->state);
    /*
     * ON CONFLICT DO NOTHING: a second node inserting the same (channel,
     * provider_id) waits for the first's commit, then inserts nothing.
     */
    PGresult *res = pg_query(st,
                             "INSERT INTO inbound (channel, provider_id, kind, phone, to_addr,"
                             " text, received_at, state, processed_at) VALUES ($1, $2, $3, $4,"
                             " $5, $6, $7, coalesce($8, 'received'),"
                             " CASE WHEN $8::text IS NULL THEN NULL ELSE $7::bigint END)"
                             " ON CONFLICT (channel, provider_id) DO NOTHING RETURNING id",
                             &p);
    if (res == NULL)
        return TL_ERR_STORE;
    if (PQntuples(res) == 1) {
        *id = pg_i64(res, 0, 0);
        PQclear(res);
        return TL_OK;
    }
    PQclear(res);
    struct pg_params q = {0};
    pg_p_text(&q, row->channel);
    pg_p_text(&q, row->provider_id);
    *id = pg_query_i64(st, "SELECT id FROM inbound WHERE channel = $1 AND provider_id = $2", &q,
                       0);
    return *id > 0 ? TL_ERR_DUPLICATE : TL_ERR_STORE;
}

int pg_inbound_set_state(struct tl_store *st, int64_t id, const char *state, int64_t now)
{
    struct pg_params p = {0};

    pg_p_i64(&p, id);
    pg_p_text(&p, state);
    pg_p_i64(&p, now);
    return pg_command(st,
                      "UPDATE inbound SET state = $2,"
                      " processed_at = CASE WHEN $2 = 'received' THEN NULL ELSE $3::bigint END"
                      " WHERE id = $1",
                      &p, NULL);
}

bool pg_inbound_processed(struct tl_store *st, int64_t id)
{
    struct pg_params p = {0};

    pg_p_i64(&p, id);
    return pg_query_i64(st, "SELECT state <> 'received' FROM inbound WHERE id = $1", &p, 0) == 1;
}

int64_t pg_inbound_count(struct tl_store *st)
{
    return pg_query_i64(st, "SELECT count(*) FROM inbound", NULL, -1);
}
