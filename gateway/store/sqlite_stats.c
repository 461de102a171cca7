/*
 * sqlite_stats.c — (SQLite backend) the store-wide counts of the stats snapshot (see
 * store_stats.h), on a read-only connection of the stats thread.
 *
 * The outbox is counted by reading its four small columns row by row and
 * adding them up in C: SQLite would sort a million rows for the GROUP BY
 * (no index has those columns), and a handful of groups fit a short array.
 * It is read in runs of OUTBOX_RUN rows by rowid, each its own short read
 * transaction: a long one would keep the checkpointer from copying the WAL
 * past it (and the writer's commits trying to finish that copy), for as
 * long as a million-row scan on a busy nice-19 thread takes. The counts of
 * one snapshot may therefore straddle a few state changes — a gauge's
 * worth of exactness.
 */
#include "gateway/store/store_stats.h"
#include "gateway/store/sqlite_int.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>


struct tl_store_reader {
    const struct tl_store_ops *ops; /* first: the front dispatches by it */
    sqlite3 *db;
};

int sqlite_reader_open(const char *path, long busy_timeout_ms, struct tl_store_reader **out,
                      char **cause)
{
    struct tl_store_reader *r = xcalloc(1, sizeof(*r));

    r->ops = &sqlite_store_ops;

    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        if (cause != NULL)
            *cause = xasprintf("%s: %s", path, r->db ? sqlite3_errmsg(r->db) : "cannot open");
        sqlite_reader_close(r);
        return TL_ERR_STORE;
    }
    sqlite3_busy_timeout(r->db, (int)busy_timeout_ms);
    *out = r;
    return TL_OK;
}

void sqlite_reader_close(struct tl_store_reader *r)
{
    if (r == NULL)
        return;
    sqlite3_close(r->db);
    free(r);
}

const char *sqlite_reader_errmsg(struct tl_store_reader *r)
{
    return r && r->db ? sqlite3_errmsg(r->db) : "no reader";
}

static int name_index(const char *v, const char *const *names, int n)
{
    for (int i = 0; v != NULL && i < n; i++) {
        if (strcmp(v, names[i]) == 0)
            return i;
    }
    return -1;
}

/* Runs sql and hands each row to row(s, arg); TL_OK or TL_ERR_STORE. */
static int each_row(struct tl_store_reader *r, const char *sql,
                    void (*row)(sqlite3_stmt *s, struct tl_store_stats *out),
                    struct tl_store_stats *out)
{
    sqlite3_stmt *s;
    int rc;

    if (sqlite3_prepare_v2(r->db, sql, -1, &s, NULL) != SQLITE_OK)
        return TL_ERR_STORE;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        row(s, out);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

static void case_row(sqlite3_stmt *s, struct tl_store_stats *out)
{
    int i = name_index((const char *)sqlite3_column_text(s, 0), store_case_state_names,
                       TL_CASE_NSTATES);
    if (i >= 0)
        out->cases[i] = sqlite3_column_int64(s, 1);
}

static void people_row(sqlite3_stmt *s, struct tl_store_stats *out)
{
    out->subscribers = sqlite3_column_int64(s, 0);
    out->opted_out = sqlite3_column_int64(s, 1);
    out->subscriptions = sqlite3_column_int64(s, 2);
    out->police = sqlite3_column_int64(s, 3);
}

/* Outbox states in the schema's spelling, by enum tl_outbox_state. */
static const char *const outbox_states[TL_OUTBOX_NSTATES] = {
    "queued", "sending", "sent", "delivered", "failed", "expired", "cancelled"};

#define OUTBOX_RUN 20000

static void outbox_row(sqlite3_stmt *s, struct tl_store_stats *out)
{
    const char *channel = (const char *)sqlite3_column_text(s, 1);
    int kind = name_index((const char *)sqlite3_column_text(s, 2), store_outbox_kind_names,
                          TL_OUTBOX_NKINDS);
    int priority = sqlite3_column_int(s, 3);
    int state = name_index((const char *)sqlite3_column_text(s, 4), outbox_states,
                           TL_OUTBOX_NSTATES);

    if (channel == NULL || kind < 0 || state < 0)
        return;
    /* A few dozen groups at most: a short search (a wave's rows are one run of one group). */
    for (size_t i = out->noutbox; i-- > 0;) {
        struct tl_store_outbox_count *c = &out->outbox[i];
        if (c->kind == kind && c->state == state && c->priority == priority &&
            strcmp(c->channel, channel) == 0) {
            c->n++;
            return;
        }
    }
    out->outbox = xrealloc(out->outbox, (out->noutbox + 1) * sizeof(*out->outbox));
    out->outbox[out->noutbox++] = (struct tl_store_outbox_count){
        .channel = xstrdup(channel), .kind = kind, .priority = priority, .state = state, .n = 1};
}

/* The outbox in runs of OUTBOX_RUN rows by id, each its own read transaction. */
static int count_outbox(struct tl_store_reader *r, struct tl_store_stats *out)
{
    sqlite3_stmt *s;
    int64_t after = 0;
    int rc = SQLITE_DONE;
    size_t n;

    if (sqlite3_prepare_v2(r->db,
                           "SELECT id, channel, kind, priority, state FROM outbox WHERE id > ?1"
                           " ORDER BY id LIMIT ?2",
                           -1, &s, NULL) != SQLITE_OK)
        return TL_ERR_STORE;
    do {
        sqlite3_bind_int64(s, 1, after);
        sqlite3_bind_int(s, 2, OUTBOX_RUN);
        n = 0;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            after = sqlite3_column_int64(s, 0);
            outbox_row(s, out);
            n++;
        }
        sqlite3_reset(s); /* ends this run's read transaction */
    } while (rc == SQLITE_DONE && n == OUTBOX_RUN);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

int sqlite_stats_read(struct tl_store_reader *r, struct tl_store_stats *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return TL_ERR_STORE;
    rc = each_row(r, "SELECT state, count(*) FROM cases GROUP BY state", case_row, out);
    if (rc == TL_OK)
        rc = each_row(r,
                      "SELECT (SELECT count(*) FROM subscribers WHERE opted_out = 0),"
                      " (SELECT count(*) FROM subscribers WHERE opted_out <> 0),"
                      " (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM police)",
                      people_row, out);
    sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    if (rc == TL_OK)
        rc = count_outbox(r, out);
    if (rc != TL_OK)
        store_stats_clear(out);
    return rc;
}
