/*
 * pg_stats.c — (PostgreSQL backend) the store-wide counts of the stats
 * snapshot (see store_stats.h), on a connection of the stats thread's own.
 *
 * Unlike SQLite's (which reads the outbox row by row in short runs so its
 * WAL can be checkpointed), the counts here are one REPEATABLE READ,
 * READ ONLY transaction: MVCC lets a long read run beside every writer,
 * and PostgreSQL's hash aggregate groups a million outbox rows in one
 * statement far faster than shipping them to C. So one snapshot's counts
 * are exact to one instant.
 */
#include "gateway/store/store_stats.h"
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdlib.h>
#include <string.h>

struct tl_store_reader {
    const struct tl_store_ops *ops; /* first: the front dispatches by it */
    struct tl_store *st;            /* owned: its own connection */
};

int pg_reader_open(const char *url, long busy_timeout_ms, struct tl_store_reader **out,
                   char **cause)
{
    struct tl_store *st = NULL;

    *out = NULL;
    if (pg_open_reader_store(url, busy_timeout_ms, &st, cause) != TL_OK)
        return TL_ERR_STORE;
    struct tl_store_reader *r = xcalloc(1, sizeof(*r));
    r->ops = &pg_store_ops;
    r->st = st;
    *out = r;
    return TL_OK;
}

void pg_reader_close(struct tl_store_reader *r)
{
    if (r == NULL)
        return;
    pg_close(r->st);
    free(r);
}

const char *pg_reader_errmsg(struct tl_store_reader *r)
{
    return r != NULL && r->st != NULL ? pg_errmsg(r->st) : "no reader";
}

static int name_index(const char *v, const char *const *names, int n)
{
    for (int i = 0; v != NULL && i < n; i++) {
        if (strcmp(v, names[i]) == 0)
            return i;
    }
    return -1;
}

static int read_counts(struct tl_store *st, struct tl_store_stats *out)
{
    PGresult *res = pg_query(st, "SELECT state, count(*) FROM cases GROUP BY state", NULL);

    if (res == NULL)
        return TL_ERR_STORE;
    for (int r = 0; r < PQntuples(res); r++) {
        int i = name_index(PQgetvalue(res, r, 0), store_case_state_names, TL_CASE_NSTATES);
        if (i >= 0)
            out->cases[i] = pg_i64(res, r, 1);
    }
    PQclear(res);
    res = pg_query(st,
                   "SELECT (SELECT count(*) FROM subscribers WHERE opted_out = 0),"
                   " (SELECT count(*) FROM subscribers WHERE opted_out <> 0),"
                   " (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM police)",
                   NULL);
    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        return TL_ERR_STORE;
    }
    out->subscribers = pg_i64(res, 0, 0);
    out->opted_out = pg_i64(res, 0, 1);
    out->subscriptions = pg_i64(res, 0, 2);
    out->police = pg_i64(res, 0, 3);
    PQclear(res);
    res = pg_query(st,
                   "SELECT channel, kind, priority, state, count(*) FROM outbox"
                   " GROUP BY channel, kind, priority, state",
                   NULL);
    if (res == NULL)
        return TL_ERR_STORE;
    for (int r = 0; r < PQntuples(res); r++) {
        int kind = name_index(PQgetvalue(res, r, 1), store_outbox_kind_names, TL_OUTBOX_NKINDS);
        int state = name_index(PQgetvalue(res, r, 3), store_outbox_state_names, TL_OUTBOX_NSTATES);
        if (kind < 0 || state < 0)
            continue;
        out->outbox = xrealloc(out->outbox, (out->noutbox + 1) * sizeof(*out->outbox));
        out->outbox[out->noutbox++] =
            (struct tl_store_outbox_count){.channel = pg_dup(res, r, 0),
                                           .kind = kind,
                                           .priority = (int)pg_i64(res, r, 2),
                                           .state = state,
                                           .n = pg_i64(res, r, 4)};
    }
    PQclear(res);
    return TL_OK;
}

int pg_stats_read(struct tl_store_reader *r, struct tl_store_stats *out)
{
    struct tl_store *st = r->st;
    int rc;

    memset(out, 0, sizeof(*out));
    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    rc = pg_command(st, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", NULL, NULL);
    if (rc == TL_OK)
        rc = read_counts(st, out);
    if (rc == TL_OK)
        rc = pg_tx_commit(st);
    if (rc != TL_OK) {
        pg_tx_rollback(st);
        store_stats_clear(out);
        return TL_ERR_STORE;
    }
    return TL_OK;
}
