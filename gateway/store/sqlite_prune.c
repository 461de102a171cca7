/*
 * sqlite_prune.c — (SQLite backend) the SQL of bounded growth (prune.c drives it): deleting
 * what the gateway no longer needs, in steps of a bounded number of rows,
 * each its own transaction (a savepoint inside an open one), so the caller
 * decides how often to run one and the event loop is never held long.
 *
 * What goes (see migration 3 in store_schema.c):
 *   - outbox rows in a final state (sent, delivered, failed, expired,
 *     cancelled) last changed before the cut, whose case ended before the
 *     cut (found/closed/cancelled; an abandoned draft counts from its last
 *     change), or that belong to no case. They are first added to
 *     outbox_tallies;
 *   - provider ids whose outbox row is gone (or has another id now), in a
 *     walk of their own (see prune_provider_ids);
 *   - inbound rows received before the retention cut that belong to no
 *     case, were rate-limited, or belong to a case already redacted;
 *   - rate windows that started before their cut (ended, so a row is the
 *     same as none: sqlite_rate_hit starts a new window either way).
 * A step walks one table in key order from a cursor over at most `rows`
 * rows, so each costs about the same whatever the table's size; rows kept
 * (not yet due) are only stepped over.
 */
#include "gateway/store/store.h"
#include "gateway/store/sqlite_int.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* The outbox rows of the step's range (?1, ?2] that may go (?3 = the cut). */
#define OUTBOX_PRUNABLE                                                                            \
    " o.id > ?1 AND o.id <= ?2 AND o.updated_at < ?3"                                              \
    " AND (o.state = 'sent' OR o.state = 'delivered' OR o.state = 'failed'"                        \
    "  OR o.state = 'expired' OR o.state = 'cancelled')"                                           \
    " AND (o.case_id IS NULL OR EXISTS (SELECT 1 FROM cases c WHERE c.id = o.case_id"             \
    "  AND (((c.state = 'found' OR c.state = 'closed' OR c.state = 'cancelled')"                   \
    "  AND c.closed_at < ?3) OR (c.state = 'draft' AND c.updated_at < ?3))))"

/* The cases whose rows may go and no pass has been through (?1 = the cut). */
#define CASES_UNPRUNED                                                                             \
    "SELECT id FROM cases WHERE outbox_pruned_at IS NULL AND (((state = 'found'"                   \
    " OR state = 'closed' OR state = 'cancelled') AND closed_at < ?1)"                             \
    " OR (state = 'draft' AND updated_at < ?1))"

int sqlite_prune_due(struct tl_store *st, int64_t sent_before)
{
    static const char sql[] = "SELECT EXISTS (" CASES_UNPRUNED ")";
    sqlite3_stmt *s = store_stmt(st, sql);
    int due = -1;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, sent_before);
    if (sqlite3_step(s) == SQLITE_ROW)
        due = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    return due;
}

int sqlite_prune_mark_cases(struct tl_store *st, int64_t sent_before, int64_t now)
{
    static const char sql[] =
        "UPDATE cases SET outbox_pruned_at = ?2 WHERE id IN (" CASES_UNPRUNED ")";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, sent_before);
    sqlite3_bind_int64(s, 2, now);
    return store_step_done(s);
}

/* Runs sql with ?1..?3 = lo, hi, cut; the rows it changed, or -1. */
static int64_t run_range(struct tl_store *st, const char *sql, int64_t lo, int64_t hi,
                         int64_t cut)
{
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, lo);
    sqlite3_bind_int64(s, 2, hi);
    sqlite3_bind_int64(s, 3, cut);
    if (store_step_done(s) != TL_OK)
        return -1;
    return sqlite3_changes64(st->db);
}

/*
 * The end of the next range of a rowid table: the id of the rows-th row
 * after `after`, or the table's last id when fewer are left; 0 when none is.
 */
static int64_t range_end(struct tl_store *st, const char *next_sql, const char *last_sql,
                         int64_t after, size_t rows)
{
    sqlite3_stmt *s = store_stmt(st, next_sql);
    int64_t end = -1;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)(rows > 0 ? rows - 1 : 0));
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        end = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return end;
    if (rc != SQLITE_DONE || (s = store_stmt(st, last_sql)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, after);
    rc = sqlite3_step(s);
    end = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1; /* NULL reads as 0: none */
    sqlite3_reset(s);
    return end;
}

/*
 * A step over a rowid table: the range (cursor, the rows-th id after it],
 * then each of sqls (NULL-terminated; ?1, ?2 the range, ?3 the cut) in
 * order; the last one's changes are the rows deleted.
 */
static int prune_rowids(struct tl_store *st, const char *next, const char *last,
                        const char *const *sqls, int64_t cut, struct tl_prune_cursor *c,
                        size_t rows, int64_t *deleted)
{
    int64_t hi = range_end(st, next, last, c->id, rows), n = 0;

    if (hi <= 0)
        return (int)hi; /* 0: nothing after the cursor; -1: error */
    for (const char *const *sql = sqls; *sql != NULL; sql++) {
        if ((n = run_range(st, *sql, c->id, hi, cut)) < 0)
            return -1;
    }
    *deleted = n;
    c->id = hi;
    return 1;
}

static int prune_outbox(struct tl_store *st, int64_t cut, struct tl_prune_cursor *c, size_t rows,
                        int64_t *deleted)
{
    static const char next[] = "SELECT id FROM outbox WHERE id > ?1 ORDER BY id LIMIT 1 OFFSET ?2";
    static const char last[] = "SELECT max(id) FROM outbox WHERE id > ?1";
    static const char *const sqls[] = {
        "INSERT INTO outbox_tallies (case_id, alert_id, kind, channel, state, n)"
        " SELECT coalesce(o.case_id, 0), coalesce(o.alert_id, 0), o.kind, o.channel, o.state,"
        "  count(*) FROM outbox o WHERE" OUTBOX_PRUNABLE " GROUP BY 1, 2, 3, 4, 5"
        " ON CONFLICT (case_id, alert_id, kind, channel, state) DO UPDATE SET n = n + excluded.n",
        "DELETE FROM outbox AS o WHERE" OUTBOX_PRUNABLE,
        NULL,
    };

    /* Ids still staged for rows deleted here are moved later and go with the next pass. */
    return prune_rowids(st, next, last, sqls, cut, c, rows, deleted);
}

static int prune_inbound(struct tl_store *st, int64_t cut, struct tl_prune_cursor *c, size_t rows,
                         int64_t *deleted)
{
    static const char next[] = "SELECT id FROM inbound WHERE id > ?1 ORDER BY id LIMIT 1 OFFSET ?2";
    static const char last[] = "SELECT max(id) FROM inbound WHERE id > ?1";
    static const char *const sqls[] = {
        "DELETE FROM inbound AS i WHERE i.id > ?1 AND i.id <= ?2 AND i.received_at < ?3"
        " AND (i.case_id IS NULL OR i.state = 'limited' OR EXISTS (SELECT 1 FROM cases c"
        "  WHERE c.id = i.case_id AND c.redacted_at IS NOT NULL))",
        NULL,
    };

    return prune_rowids(st, next, last, sqls, cut, c, rows, deleted);
}

/*
 * A step over a WITHOUT ROWID table in key order: `next` (?1..?3 the
 * cursor's key, ?4 the offset) and `last` find the range's last key, `del`
 * deletes what is due in (cursor, that key] (?1..?3 from, ?4..?6 to, ?7 the
 * cut). Keys are (text, text) or (text, text, integer): nkeys 2 or 3.
 */
static int prune_keys(struct tl_store *st, const char *next_sql, const char *last_sql,
                      const char *del_sql, int nkeys, int64_t cut, struct tl_prune_cursor *c,
                      size_t rows, int64_t *deleted)
{
    char *to[2] = {NULL, NULL};
    int64_t to_id = 0;
    int rc = SQLITE_DONE;
    int result = -1;

    for (int pass = 0; pass < 2 && rc == SQLITE_DONE; pass++) {
        sqlite3_stmt *s = store_stmt(st, pass == 0 ? next_sql : last_sql);
        if (s == NULL)
            return -1;
        store_bind_text(s, 1, c->key ? c->key : "");
        store_bind_text(s, 2, c->key2 ? c->key2 : "");
        sqlite3_bind_int64(s, 3, c->id);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)(rows > 0 ? rows - 1 : 0));
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            to[0] = store_column_dup(s, 0);
            to[1] = store_column_dup(s, 1);
            to_id = nkeys == 3 ? sqlite3_column_int64(s, 2) : 0;
        }
        sqlite3_reset(s);
    }
    if (rc == SQLITE_DONE)
        return 0; /* nothing after the cursor */
    sqlite3_stmt *s = rc == SQLITE_ROW ? store_stmt(st, del_sql) : NULL;
    if (s != NULL) {
        store_bind_text(s, 1, c->key ? c->key : "");
        store_bind_text(s, 2, c->key2 ? c->key2 : "");
        sqlite3_bind_int64(s, 3, c->id);
        store_bind_text(s, 4, to[0]);
        store_bind_text(s, 5, to[1]);
        sqlite3_bind_int64(s, 6, to_id);
        sqlite3_bind_int64(s, 7, cut);
        if (store_step_done(s) == TL_OK) {
            *deleted = sqlite3_changes64(st->db);
            free(c->key);
            free(c->key2);
            c->key = to[0]; /* owned by the cursor */
            c->key2 = to[1];
            c->id = to_id;
            return 1;
        }
    }
    free(to[0]);
    free(to[1]);
    return result;
}

/* Rate windows that started before the cut (?7), in (phone, kind) order. */
static int prune_rate_windows(struct tl_store *st, int64_t cut, struct tl_prune_cursor *c,
                              size_t rows, int64_t *deleted)
{
    static const char next[] = "SELECT phone, kind FROM rate_windows WHERE (phone, kind) > (?1, ?2)"
                               " ORDER BY phone, kind LIMIT 1 OFFSET ?4";
    static const char last[] = "SELECT phone, kind FROM rate_windows WHERE (phone, kind) > (?1, ?2)"
                               " ORDER BY phone DESC, kind DESC LIMIT 1";
    static const char del[] =
        "DELETE FROM rate_windows WHERE (phone, kind) > (?1, ?2) AND (phone, kind) <= (?4, ?5)"
        " AND window_start < ?7";

    return prune_keys(st, next, last, del, 2, cut, c, rows, deleted);
}

/*
 * Provider ids whose message is gone or has another id now, in key order.
 * Deleting them with their outbox rows would delete ids in no order, one
 * index page rewritten per id (the ids are the aggregator's, random): a
 * step of 5,000 took 85-260 ms and its commit as long again. In key order
 * a step rewrites each page it passes once.
 */
static int prune_provider_ids(struct tl_store *st, int64_t cut, struct tl_prune_cursor *c,
                              size_t rows, int64_t *deleted)
{
    static const char next[] =
        "SELECT channel, provider_id, outbox_id FROM provider_ids"
        " WHERE (channel, provider_id, outbox_id) > (?1, ?2, ?3)"
        " ORDER BY channel, provider_id, outbox_id LIMIT 1 OFFSET ?4";
    static const char last[] =
        "SELECT channel, provider_id, outbox_id FROM provider_ids"
        " WHERE (channel, provider_id, outbox_id) > (?1, ?2, ?3)"
        " ORDER BY channel DESC, provider_id DESC, outbox_id DESC LIMIT 1";
    static const char del[] =
        "DELETE FROM provider_ids AS p WHERE (p.channel, p.provider_id, p.outbox_id) > (?1, ?2, ?3)"
        " AND (p.channel, p.provider_id, p.outbox_id) <= (?4, ?5, ?6) AND ?7 IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = p.outbox_id"
        "  AND o.provider_id = p.provider_id)";

    return prune_keys(st, next, last, del, 3, cut, c, rows, deleted);
}

int sqlite_prune_step(struct tl_store *st, enum tl_prune_table t, int64_t cut,
                     struct tl_prune_cursor *c, size_t rows, int64_t *deleted)
{
    int rc;

    *deleted = 0;
    if (sqlite_tx_begin(st) != TL_OK)
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
    if (rc < 0 || sqlite_tx_commit(st) != TL_OK) {
        sqlite_tx_rollback(st);
        *deleted = 0;
        return -1;
    }
    return rc;
}

int sqlite_alert_counts(struct tl_store *st, int64_t alert_id, const char *channel,
                       int64_t counts[TL_OUTBOX_NSTATES])
{
    static const char sql[] =
        "SELECT state, sum(n) FROM ("
        " SELECT state, count(*) AS n FROM outbox WHERE alert_id = ?1"
        "  AND (?2 IS NULL OR channel = ?2) GROUP BY state"
        " UNION ALL SELECT state, sum(n) FROM outbox_tallies WHERE alert_id = ?1"
        "  AND (?2 IS NULL OR channel = ?2) GROUP BY state)"
        " GROUP BY state";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    memset(counts, 0, sizeof(int64_t) * TL_OUTBOX_NSTATES);
    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, alert_id);
    store_bind_text(s, 2, channel);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(s, 0);
        for (int i = 0; i < TL_OUTBOX_NSTATES; i++) {
            if (strcmp(state, store_outbox_state_name((enum tl_outbox_state)i)) == 0)
                counts[i] = sqlite3_column_int64(s, 1);
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}
