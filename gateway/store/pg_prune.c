/*
 * pg_prune.c — (PostgreSQL backend) the SQL of bounded growth (prune.c
 * drives it; on a cluster only the leader runs it, store_leads): the same
 * deletions as sqlite_prune.c (the reference), in steps of a bounded
 * number of rows walked in key order from a cursor.
 *
 * What goes: outbox rows in a final state last changed before the cut, of
 * a case ended before it or of none (added to outbox_tallies as they go);
 * provider ids whose outbox row is gone or has another id now; inbound rows
 * received before the cut of no case, rate-limited, or of a redacted case;
 * rate windows that started before their cut.
 *
 * A step is two statements: one finds the end of the range (the rows-th
 * key after the cursor), one deletes what is due in it. The delete is a
 * single statement, so atomic without a transaction of its own: the
 * outbox's folds exactly the rows it deletes into outbox_tallies (a
 * DELETE … RETURNING feeding INSERT … ON CONFLICT DO UPDATE SET n = n + n),
 * so a row that another node changes meanwhile (a delivery report) is
 * either deleted and counted as it was last, or kept and not counted.
 */
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* The outbox rows of the step's range ($1, $2] that may go ($3 = the cut). */
#define OUTBOX_PRUNABLE                                                                            \
    " o.id > $1 AND o.id <= $2 AND o.updated_at < $3"                                              \
    " AND o.state IN ('sent', 'delivered', 'failed', 'expired', 'cancelled')"                      \
    " AND (o.case_id IS NULL OR EXISTS (SELECT 1 FROM cases c WHERE c.id = o.case_id"             \
    "  AND ((c.state IN ('found', 'closed', 'cancelled') AND c.closed_at < $3)"                   \
    "  OR (c.state = 'draft' AND c.updated_at < $3))))"

/* The cases whose rows may go and no pass has been through ($1 = the cut). */
#define CASES_UNPRUNED                                                                             \
    "SELECT id FROM cases WHERE outbox_pruned_at IS NULL AND ((state IN ('found', 'closed',"       \
    " 'cancelled') AND closed_at < $1) OR (state = 'draft' AND updated_at < $1))"

int pg_prune_due(struct tl_store *st, int64_t sent_before)
{
    struct pg_params p = {0};

    pg_p_i64(&p, sent_before);
    return (int)pg_query_i64(st, "SELECT EXISTS (" CASES_UNPRUNED ")", &p, -1);
}

int pg_prune_mark_cases(struct tl_store *st, int64_t sent_before, int64_t now)
{
    struct pg_params p = {0};

    pg_p_i64(&p, sent_before);
    pg_p_i64(&p, now);
    return pg_command(st, "UPDATE cases SET outbox_pruned_at = $2 WHERE id IN (" CASES_UNPRUNED ")",
                      &p, NULL);
}

/*
 * A step over a table keyed by a bigint id: the range (cursor, end] with end
 * the rows-th id after the cursor or the table's last (end_sql: $1 the
 * cursor, $2 rows; NULL when none is left), then del_sql ($1, $2 the range,
 * $3 the cut) returning the rows deleted.
 */
static int prune_ids(struct tl_store *st, const char *end_sql, const char *del_sql, int64_t cut,
                     struct tl_prune_cursor *c, size_t rows, int64_t *deleted)
{
    struct pg_params p = {0}, q = {0};

    pg_p_i64(&p, c->id);
    pg_p_i64(&p, (int64_t)(rows > 0 ? rows : 1));
    int64_t hi = pg_query_i64(st, end_sql, &p, -1);
    if (hi <= 0)
        return (int)hi; /* 0: nothing after the cursor; -1: error */
    pg_p_i64(&q, c->id);
    pg_p_i64(&q, hi);
    pg_p_i64(&q, cut);
    int64_t n = pg_query_i64(st, del_sql, &q, -1);
    if (n < 0)
        return -1;
    *deleted = n;
    c->id = hi;
    return 1;
}

static int prune_outbox(struct tl_store *st, int64_t cut, struct tl_prune_cursor *c, size_t rows,
                        int64_t *deleted)
{
    return prune_ids(
        st,
        "SELECT max(id) FROM (SELECT id FROM outbox WHERE id > $1 ORDER BY id LIMIT $2) s",
        "WITH del AS (DELETE FROM outbox AS o WHERE" OUTBOX_PRUNABLE
        "  RETURNING o.case_id, o.alert_id, o.kind, o.channel, o.state),"
        " tally AS (INSERT INTO outbox_tallies AS t (case_id, alert_id, kind, channel, state, n)"
        "  SELECT coalesce(case_id, 0), coalesce(alert_id, 0), kind, channel, state, count(*)"
        "  FROM del GROUP BY 1, 2, 3, 4, 5"
        "  ON CONFLICT (case_id, alert_id, kind, channel, state) DO UPDATE SET n = t.n + excluded.n)"
        " SELECT count(*) FROM del",
        cut, c, rows, deleted);
}

static int prune_inbound(struct tl_store *st, int64_t cut, struct tl_prune_cursor *c, size_t rows,
                         int64_t *deleted)
{
    return prune_ids(
        st,
        "SELECT max(id) FROM (SELECT id FROM inbound WHERE id > $1 ORDER BY id LIMIT $2) s",
        "WITH del AS (DELETE FROM inbound AS i WHERE i.id > $1 AND i.id <= $2"
        "  AND i.received_at < $3 AND (i.case_id IS NULL OR i.state = 'limited'"
        "  OR EXISTS (SELECT 1 FROM cases c WHERE c.id = i.case_id AND c.redacted_at IS NOT NULL))"
        "  RETURNING 1) SELECT count(*) FROM del",
        cut, c, rows, deleted);
}

/*
 * A step over a table keyed by (text, text) or (text, text, bigint) —
 * nkeys 2 or 3 — in key order: end_sql (the cursor's key, then rows)
 * finds the range's last key, del_sql deletes what is due in (cursor, that
 * key] (from key, to key, then the cut when with_cut) and returns how many.
 */
static int prune_keys(struct tl_store *st, const char *end_sql, const char *del_sql, int nkeys,
                      bool with_cut, int64_t cut, struct tl_prune_cursor *c, size_t rows,
                      int64_t *deleted)
{
    struct pg_params p = {0}, q = {0};
    const char *from[2] = {c->key ? c->key : "", c->key2 ? c->key2 : ""};

    pg_p_text(&p, from[0]);
    pg_p_text(&p, from[1]);
    if (nkeys == 3)
        pg_p_i64(&p, c->id);
    pg_p_i64(&p, (int64_t)(rows > 0 ? rows : 1));
    PGresult *res = pg_query(st, end_sql, &p);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0; /* nothing after the cursor */
    }
    char *to[2] = {pg_dup(res, 0, 0), pg_dup(res, 0, 1)};
    int64_t to_id = nkeys == 3 ? pg_i64(res, 0, 2) : 0;
    PQclear(res);
    for (int i = 0; i < 2; i++)
        pg_p_text(&q, from[i]);
    if (nkeys == 3)
        pg_p_i64(&q, c->id);
    for (int i = 0; i < 2; i++)
        pg_p_text(&q, to[i]);
    if (nkeys == 3)
        pg_p_i64(&q, to_id);
    if (with_cut)
        pg_p_i64(&q, cut);
    int64_t n = pg_query_i64(st, del_sql, &q, -1);
    if (n < 0) {
        free(to[0]);
        free(to[1]);
        return -1;
    }
    *deleted = n;
    free(c->key);
    free(c->key2);
    c->key = to[0]; /* owned by the cursor */
    c->key2 = to[1];
    c->id = to_id;
    return 1;
}

/* Rate windows that started before the cut, in (phone, kind) order. */
static int prune_rate_windows(struct tl_store *st, int64_t cut, struct tl_prune_cursor *c,
                              size_t rows, int64_t *deleted)
{
    return prune_keys(
        st,
        "SELECT phone, kind FROM (SELECT phone, kind FROM rate_windows"
        "  WHERE (phone, kind) > ($1::text, $2::text) ORDER BY phone, kind LIMIT $3) s"
        " ORDER BY phone DESC, kind DESC LIMIT 1",
        "WITH del AS (DELETE FROM rate_windows WHERE (phone, kind) > ($1::text, $2::text)"
        "  AND (phone, kind) <= ($3::text, $4::text) AND window_start < $5 RETURNING 1)"
        " SELECT count(*) FROM del",
        2, true, cut, c, rows, deleted);
}

/*
 * Provider ids whose message is gone or has another id now, in key order
 * (cut unused): deleted in their own walk rather than with their outbox
 * rows, as in sqlite_prune.c, so a step touches one range of the index.
 */
static int prune_provider_ids(struct tl_store *st, int64_t cut, struct tl_prune_cursor *c,
                              size_t rows, int64_t *deleted)
{
    return prune_keys(
        st,
        "SELECT channel, provider_id, outbox_id FROM (SELECT channel, provider_id, outbox_id"
        "  FROM provider_ids WHERE (channel, provider_id, outbox_id) > ($1::text, $2::text,"
        "  $3::bigint) ORDER BY channel, provider_id, outbox_id LIMIT $4) s"
        " ORDER BY channel DESC, provider_id DESC, outbox_id DESC LIMIT 1",
        "WITH del AS (DELETE FROM provider_ids AS p"
        "  WHERE (p.channel, p.provider_id, p.outbox_id) > ($1::text, $2::text, $3::bigint)"
        "  AND (p.channel, p.provider_id, p.outbox_id) <= ($4::text, $5::text, $6::bigint)"
        "  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = p.outbox_id"
        "   AND o.provider_id = p.provider_id) RETURNING 1)"
        " SELECT count(*) FROM del",
        3, false, cut, c, rows, deleted);
}

int pg_prune_step(struct tl_store *st, enum tl_prune_table t, int64_t cut,
                  struct tl_prune_cursor *c, size_t rows, int64_t *deleted)
{
    /* Inside an open transaction a savepoint keeps a failed step from spoiling it. */
    bool nested = st->tx_depth > 0;
    int rc;

    *deleted = 0;
    if (nested && pg_tx_begin(st) != TL_OK)
        return -1;
    switch (t) {
    case TL_PRUNE_OUTBOX:
        rc = prune_outbox(st, cut, c, rows, deleted);
        break;
    case TL_PRUNE_INBOUND:
        rc = prune_inbound(st, cut, c, rows, deleted);
        break;
    case TL_PRUNE_PROVIDER_IDS:
        rc = prune_provider_ids(st, cut, c, rows, deleted);
        break;
    case TL_PRUNE_RATE_WINDOWS:
        rc = prune_rate_windows(st, cut, c, rows, deleted);
        break;
    default:
        rc = -1;
        break;
    }
    if (nested && (rc < 0 || pg_tx_commit(st) != TL_OK)) {
        pg_tx_rollback(st);
        rc = -1;
    }
    if (rc < 0)
        *deleted = 0;
    return rc;
}
