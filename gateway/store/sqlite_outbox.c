/*
 * sqlite_outbox.c — (SQLite backend) the outbox table: adding, claiming, recording results and
 * delivery reports. The sender (sender.c) drives these; the domain adds.
 *
 * Invariant: a message is a row in state 'queued' before any request for it
 * is made; 'sending' marks a request possibly in flight. Expiry and STOP are
 * applied when a row is claimed, so neither scans the queue. After a crash,
 * sqlite_outbox_recover() requeues 'sending' rows, so a message is never lost
 * and only those in flight at the crash may go twice.
 *
 * Provider ids are staged and moved into their index in bulk (see the
 * schema's provider_ids): a send result appends, a delivery report that
 * finds no id moves the staged ids first, so matching never misses one.
 */
#include "gateway/store/store.h"
#include "gateway/store/sqlite_int.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>


static void bind_id(sqlite3_stmt *s, int i, int64_t v)
{
    if (v == 0)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, v);
}

int sqlite_outbox_add(struct tl_store *st, const struct tl_outbox_new *m, int64_t now, int64_t *id)
{
    sqlite3_stmt *s;
    int rc;
    /* police before replies before bulk: alerts and updates share priority 2 */
    int priority = m->kind == TL_OUT_POLICE ? 0 : m->kind == TL_OUT_REPLY ? 1 : 2;

    if (store_prepare(st, &st->stmts.outbox_add,
                      "INSERT INTO outbox (channel, pool, phone, text, kind, priority, state,"
                      " next_attempt_ms, expires_at, case_id, alert_id, inbound_id, created_at,"
                      " updated_at) VALUES (?1, " STORE_POOL_OF("?1") ", ?2, ?3, ?4, ?5,"
                      " 'queued', 0, ?6, ?7, ?8, ?9, ?10, ?10)") != TL_OK)
        return TL_ERR_STORE;
    s = st->stmts.outbox_add;
    store_bind_text(s, 1, m->channel);
    store_bind_text(s, 2, m->phone);
    store_bind_text(s, 3, m->text);
    store_bind_text(s, 4, store_outbox_kind_names[m->kind]);
    sqlite3_bind_int(s, 5, priority);
    bind_id(s, 6, m->expires_at);
    bind_id(s, 7, m->case_id);
    bind_id(s, 8, m->alert_id);
    bind_id(s, 9, m->inbound_id);
    sqlite3_bind_int64(s, 10, now);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return TL_ERR_STORE;
    if (id != NULL)
        *id = sqlite3_last_insert_rowid(st->db);
    return TL_OK;
}

/* A due row read by a claim round, before it is marked. */
struct claim_row {
    struct tl_outbox_msg m; /* phone NULL: not to be sent (expired or cancelled) */
    const char *state;      /* what the round marks it: sending, expired, cancelled */
};

/*
 * Reads up to want due rows of one queue (a channel's, or the alert pool)
 * in queue order into rows[*seen ...]; TL_OK or TL_ERR_STORE.
 */
static int claim_read(struct tl_store *st, const char *queue, int64_t now_ms, size_t want,
                      struct claim_row *rows, size_t *seen)
{
    /*
     * Due rows in queue order (outbox_due serves both the filter and the
     * order). A bulk row without lang takes its recipient's saved language.
     */
    static const char due[] =
        "SELECT o.id, o.phone,"
        "  coalesce(o.text, CASE coalesce(o.lang, s.lang) WHEN 'ur' THEN a.text_ur"
        "   WHEN 'roman-ur' THEN a.text_roman_ur ELSE a.text_en END),"
        "  o.kind, o.attempts, o.priority, o.next_attempt_ms, coalesce(o.expires_at, 0),"
        "  coalesce(s.opted_out, 0)"
        " FROM outbox o LEFT JOIN alerts a ON a.id = o.alert_id"
        " LEFT JOIN subscribers s ON s.phone = o.phone"
        " WHERE o.channel = ?1 AND o.state = 'queued' AND o.next_attempt_ms <= ?2"
        " ORDER BY o.priority, o.next_attempt_ms, o.id LIMIT ?3";
    sqlite3_stmt *s = store_stmt(st, due);
    int64_t now = now_ms / 1000;
    size_t got = 0;
    int rc;

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, queue);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)want);
    while (got < want && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct claim_row *r = &rows[*seen + got];
        struct tl_outbox_msg *m = &r->m;
        const char *kind = (const char *)sqlite3_column_text(s, 3);
        int64_t expires_at = sqlite3_column_int64(s, 7);
        bool bulk = strcmp(kind, "alert") == 0 || strcmp(kind, "update") == 0;
        memset(r, 0, sizeof(*r));
        m->id = sqlite3_column_int64(s, 0);
        m->kind = TL_OUT_UPDATE;
        for (int k = 0; k < 4; k++) {
            if (strcmp(kind, store_outbox_kind_names[k]) == 0)
                m->kind = k;
        }
        m->priority = sqlite3_column_int(s, 5);
        m->due_ms = sqlite3_column_int64(s, 6);
        if (expires_at > 0 && expires_at <= now) {
            r->state = "expired";
        } else if (bulk && sqlite3_column_int(s, 8)) {
            r->state = "cancelled"; /* STOP wins */
        } else {
            r->state = "sending";
            m->phone = store_column_dup(s, 1);
            m->text = store_column_dup(s, 2);
            m->attempts = sqlite3_column_int(s, 4) + 1;
        }
        got++;
    }
    if (got == want)
        rc = SQLITE_DONE;
    sqlite3_reset(s);
    *seen += got;
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

/* Queue order: priority, then due time, then id (the order of outbox_due). */
static bool claim_before(const struct tl_outbox_msg *a, const struct tl_outbox_msg *b)
{
    if (a->priority != b->priority)
        return a->priority < b->priority;
    if (a->due_ms != b->due_ms)
        return a->due_ms < b->due_ms;
    return a->id < b->id;
}

int sqlite_outbox_claim(struct tl_store *st, const char *channel, int64_t now_ms, size_t max,
                       struct tl_outbox_msg **msgs, size_t *n)
{
    return sqlite_outbox_claim_pool(st, channel, NULL, 0, now_ms, max, msgs, n);
}

int sqlite_outbox_claim_pool(struct tl_store *st, const char *channel, const char *pool,
                            size_t pool_max, int64_t now_ms, size_t max,
                            struct tl_outbox_msg **msgs, size_t *n)
{
    /* A pool row becomes the claiming channel's: its result and reports are that channel's. */
    static const char mark[] = "UPDATE outbox SET state = ?2, attempts = attempts + ?3,"
                               " updated_at = ?4,"
                               " channel = CASE WHEN ?2 = 'sending' THEN ?5 ELSE channel END"
                               " WHERE id = ?1";
    struct tl_outbox_msg *out = xcalloc(max ? max : 1, sizeof(*out));
    size_t count = 0, pool_taken = 0;
    int64_t now = now_ms / 1000;
    bool more = true;

    *msgs = NULL;
    *n = 0;
    if (pool == NULL)
        pool_max = 0;
    if (sqlite_tx_begin(st) != TL_OK) {
        free(out);
        return TL_ERR_STORE;
    }
    /*
     * Rounds until max are claimed or no due row is left (expired and
     * stopped rows do not count; a few rounds bound the work of one call).
     * Each round reads the channel's own queue and the pool's, each in queue
     * order, and takes the first `want` of their merge.
     */
    for (int round = 0; more && count < max && round < 8; round++) {
        sqlite3_stmt *u = store_stmt(st, mark);
        size_t want = max - count, own = 0, seen = 0, taken = 0;
        size_t pool_want = pool_max - pool_taken < want ? pool_max - pool_taken : want;

        if (u == NULL)
            goto fail;
        /* Rows are read first and marked after: the select must not see its own updates. */
        struct claim_row *rows = xcalloc(want + pool_want, sizeof(*rows));
        if (claim_read(st, channel, now_ms, want, rows, &seen) != TL_OK ||
            ((own = seen), pool_want > 0 &&
                               claim_read(st, pool, now_ms, pool_want, rows, &seen) != TL_OK)) {
            for (size_t i = 0; i < seen; i++)
                free(rows[i].m.phone), free(rows[i].m.text);
            free(rows);
            goto fail;
        }
        more = own == want || (pool_want > 0 && seen - own == pool_want);
        /* The merge of the two runs, each already in queue order: the first `want` go. */
        size_t a = 0, b = own;
        struct claim_row **order = xcalloc(seen ? seen : 1, sizeof(*order));
        while (taken < want && (a < own || b < seen)) {
            bool from_own = b >= seen || (a < own && claim_before(&rows[a].m, &rows[b].m));
            order[taken++] = &rows[from_own ? a++ : b++];
        }
        if (a < own || b < seen)
            more = true;
        for (size_t i = 0; i < taken; i++) {
            struct claim_row *r = order[i];
            bool sending = strcmp(r->state, "sending") == 0;
            sqlite3_reset(u);
            sqlite3_bind_int64(u, 1, r->m.id);
            store_bind_text(u, 2, r->state);
            sqlite3_bind_int(u, 3, sending ? 1 : 0);
            sqlite3_bind_int64(u, 4, now);
            store_bind_text(u, 5, channel);
            if (sqlite3_step(u) != SQLITE_DONE) {
                sqlite3_reset(u);
                for (size_t j = 0; j < seen; j++)
                    free(rows[j].m.phone), free(rows[j].m.text);
                free(order);
                free(rows);
                goto fail;
            }
            if (r >= rows + own)
                pool_taken++;
        }
        sqlite3_reset(u);
        /* Taken rows to be sent move to out; the rest (not taken, or not sent) are freed. */
        for (size_t i = 0; i < taken; i++) {
            if (order[i]->m.phone != NULL) {
                out[count++] = order[i]->m;
                order[i]->m.phone = order[i]->m.text = NULL;
            }
        }
        for (size_t i = 0; i < seen; i++)
            free(rows[i].m.phone), free(rows[i].m.text);
        free(order);
        free(rows);
    }
    if (sqlite_tx_commit(st) != TL_OK)
        goto fail;
    *msgs = out;
    *n = count;
    return TL_OK;
fail:
    store_outbox_msgs_free(out, count);
    sqlite_tx_rollback(st);
    return TL_ERR_STORE;
}

/* Applies a pending delivery report to the message (outbox_id) that now has its provider id. */
static int apply_pending_dlr(struct tl_store *st, const char *channel, const char *provider_id,
                             int64_t outbox_id, int64_t now)
{
    sqlite3_stmt *s;
    struct tl_outbox_dlr d = {.channel = channel, .our_id = outbox_id};
    char *status_raw = NULL, *error = NULL, *state = NULL;
    int rc;

    if (store_prepare(st, &st->stmts.dlr_pending_take,
                      "DELETE FROM dlr_pending WHERE channel = ?1 AND provider_id = ?2"
                      " RETURNING status_raw, state, error") != TL_OK)
        return TL_ERR_STORE;
    s = st->stmts.dlr_pending_take;
    store_bind_text(s, 1, channel);
    store_bind_text(s, 2, provider_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        status_raw = xstrdup_or_null((const char *)sqlite3_column_text(s, 0));
        state = xstrdup_or_null((const char *)sqlite3_column_text(s, 1));
        error = xstrdup_or_null((const char *)sqlite3_column_text(s, 2));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
    d.status_raw = status_raw;
    d.error = error;
    d.state = TL_OUTBOX_QUEUED;
    for (int i = 0; i < TL_OUTBOX_NSTATES; i++) {
        if (state != NULL && strcmp(state, store_outbox_state_names[i]) == 0)
            d.state = (enum tl_outbox_state)i;
    }
    rc = sqlite_outbox_dlr(st, &d, now);
    free(status_raw);
    free(state);
    free(error);
    return rc == TL_ERR_NOT_FOUND ? TL_OK : rc;
}

/*
 * Staged ids are moved by the daemon in slices off the hot path (prune.c,
 * sqlite_provider_ids_move_range); should that not happen (a tool, a test),
 * a send result moves them all once this many wait, so staging stays bounded.
 */
#define PROVIDER_IDS_MOVE_BACKSTOP 200000

int store_provider_ids_move(struct tl_store *st)
{
    static const char move[] =
        "INSERT OR IGNORE INTO provider_ids (channel, provider_id, outbox_id)"
        " SELECT channel, provider_id, outbox_id FROM provider_ids_staged ORDER BY 1, 2, 3";
    static const char clear[] = "DELETE FROM provider_ids_staged";
    sqlite3_stmt *s;

    if (sqlite_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if ((s = store_stmt(st, move)) == NULL || store_step_done(s) != TL_OK ||
        (s = store_stmt(st, clear)) == NULL || store_step_done(s) != TL_OK ||
        sqlite_tx_commit(st) != TL_OK) {
        sqlite_tx_rollback(st);
        return TL_ERR_STORE;
    }
    return TL_OK;
}

int64_t sqlite_provider_ids_staged(struct tl_store *st)
{
    static const char sql[] = "SELECT count(*) FROM provider_ids_staged";
    sqlite3_stmt *s = store_stmt(st, sql);
    int64_t n = -1;

    if (s == NULL)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return n;
}

/* Samples per slice a plan sorts to place the slices' ends. */
#define PLAN_SAMPLES 20

int sqlite_provider_ids_plan(struct tl_store *st, size_t every, struct tl_prune_cursor **bounds,
                            size_t *n)
{
    /*
     * The ends are placed by a sample (every stride-th row), not by sorting
     * every staged id: sorting 20,000 took 30 ms on a loaded machine, the
     * sample ~400 rows. Slices are therefore about `every` ids, not exactly.
     */
    static const char sample[] = "SELECT channel, provider_id, outbox_id FROM provider_ids_staged"
                                 " WHERE rowid % ?1 = 0 ORDER BY channel, provider_id, outbox_id";
    int64_t count = sqlite_provider_ids_staged(st);
    struct tl_prune_cursor *b = NULL;
    size_t nb = 0, cap = 0, row = 0;
    sqlite3_stmt *s;
    int rc;

    *bounds = NULL;
    *n = 0;
    if (count < 0 || (s = store_stmt(st, sample)) == NULL)
        return TL_ERR_STORE;
    if (count == 0)
        return TL_OK;
    if (every == 0)
        every = 1;
    int64_t slices = (count + (int64_t)every - 1) / (int64_t)every;
    int64_t stride = count / (slices * PLAN_SAMPLES);
    sqlite3_bind_int64(s, 1, stride > 0 ? stride : 1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (++row % PLAN_SAMPLES != 0 || nb + 1 >= (size_t)slices)
            continue;
        if (nb == cap) {
            cap = cap ? cap * 2 : 16;
            b = xrealloc(b, cap * sizeof(*b));
        }
        b[nb++] = (struct tl_prune_cursor){.key = store_column_dup(s, 0),
                                           .key2 = store_column_dup(s, 1),
                                           .id = sqlite3_column_int64(s, 2)};
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < nb; i++)
            store_prune_cursor_clear(&b[i]);
        free(b);
        return TL_ERR_STORE;
    }
    /* The last slice ends past every key: a channel of byte 0xff sorts after any name. */
    if (nb == cap)
        b = xrealloc(b, (cap + 1) * sizeof(*b));
    b[nb++] = (struct tl_prune_cursor){.key = xstrdup("\xff"), .key2 = xstrdup(""), .id = 0};
    *bounds = b;
    *n = nb;
    return TL_OK;
}

int sqlite_provider_ids_move_range(struct tl_store *st, const struct tl_prune_cursor *after,
                                  const struct tl_prune_cursor *upto, int64_t *moved)
{
    /* ?1-?3: after (exclusive; '' and 0 when from the start), ?4-?6: upto (inclusive). */
    static const char move[] =
        "INSERT OR IGNORE INTO provider_ids (channel, provider_id, outbox_id)"
        " SELECT channel, provider_id, outbox_id FROM provider_ids_staged"
        " WHERE (channel, provider_id, outbox_id) > (?1, ?2, ?3)"
        " AND (channel, provider_id, outbox_id) <= (?4, ?5, ?6) ORDER BY 1, 2, 3";
    static const char clear[] = "DELETE FROM provider_ids_staged"
                                " WHERE (channel, provider_id, outbox_id) > (?1, ?2, ?3)"
                                " AND (channel, provider_id, outbox_id) <= (?4, ?5, ?6)";
    int rc = TL_OK;

    *moved = 0;
    if (sqlite_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    for (int i = 0; i < 2 && rc == TL_OK; i++) {
        sqlite3_stmt *s = store_stmt(st, i == 0 ? move : clear);
        if (s == NULL) {
            rc = TL_ERR_STORE;
            break;
        }
        store_bind_text(s, 1, after && after->key ? after->key : "");
        store_bind_text(s, 2, after && after->key2 ? after->key2 : "");
        sqlite3_bind_int64(s, 3, after ? after->id : 0);
        store_bind_text(s, 4, upto->key);
        store_bind_text(s, 5, upto->key2);
        sqlite3_bind_int64(s, 6, upto->id);
        rc = store_step_done(s);
        if (i == 1 && rc == TL_OK)
            *moved = sqlite3_changes64(st->db);
    }
    if (rc != TL_OK || sqlite_tx_commit(st) != TL_OK) {
        sqlite_tx_rollback(st);
        *moved = 0;
        return TL_ERR_STORE;
    }
    return TL_OK;
}

/* Whether any provider id waits in provider_ids_staged; -1 on error. */
static int provider_ids_staged(struct tl_store *st)
{
    static const char any[] = "SELECT EXISTS (SELECT 1 FROM provider_ids_staged)";
    sqlite3_stmt *s = store_stmt(st, any);
    int rc, staged = -1;

    if (s == NULL)
        return -1;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        staged = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    return staged;
}

int sqlite_outbox_results(struct tl_store *st, const char *channel,
                         const struct tl_outbox_result *results, size_t n, int64_t now)
{
    static const char stage[] = "INSERT INTO provider_ids_staged (channel, provider_id, outbox_id)"
                                " VALUES (?1, ?2, ?3)";
    sqlite3_stmt *s;
    int64_t staged = 0;

    if (sqlite_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    /*
     * A message still 'sending' takes the result. One whose delivery report
     * came first (Kannel's dlr-url can beat sendsms's answer) keeps the
     * report's state, and takes the result's provider id and note (an error
     * it has none of) when the result is a success.
     */
    if (store_prepare(st, &st->stmts.outbox_result,
                      "UPDATE outbox SET state = CASE WHEN state = 'sending' THEN ?2 ELSE state END,"
                      " provider_id = coalesce(?3, provider_id),"
                      " error = CASE WHEN state = 'sending' THEN ?4 ELSE coalesce(error, ?4) END,"
                      " next_attempt_ms = CASE WHEN state = 'sending' THEN ?5"
                      "   ELSE next_attempt_ms END, updated_at = ?6,"
                      " channel = CASE WHEN state = 'sending' AND ?2 = 'queued'"
                      "   THEN coalesce(pool, channel) ELSE channel END"
                      " WHERE id = ?1 AND (state = 'sending'"
                      "   OR (?2 = 'sent' AND dlr_status IS NOT NULL))") != TL_OK)
        goto fail;
    s = st->stmts.outbox_result;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, results[i].id);
        store_bind_text(s, 2, store_outbox_state_names[results[i].state]);
        store_bind_text(s, 3, results[i].provider_id);
        store_bind_text(s, 4, results[i].error);
        sqlite3_bind_int64(s, 5, results[i].next_attempt_ms);
        sqlite3_bind_int64(s, 6, now);
        if (sqlite3_step(s) != SQLITE_DONE)
            goto fail;
        if (results[i].provider_id == NULL || sqlite3_changes(st->db) == 0)
            continue;
        sqlite3_stmt *add = store_stmt(st, stage);
        if (add == NULL)
            goto fail;
        store_bind_text(add, 1, channel);
        store_bind_text(add, 2, results[i].provider_id);
        sqlite3_bind_int64(add, 3, results[i].id);
        if (store_step_done(add) != TL_OK)
            goto fail;
        staged = sqlite3_last_insert_rowid(st->db); /* at least as many as wait */
    }
    sqlite3_reset(s);
    if (staged >= PROVIDER_IDS_MOVE_BACKSTOP &&
        ((staged = sqlite_provider_ids_staged(st)) < 0 ||
         (staged >= PROVIDER_IDS_MOVE_BACKSTOP && store_provider_ids_move(st) != TL_OK)))
        goto fail;
    bool pending = false;
    if ((s = store_stmt(st, "SELECT EXISTS (SELECT 1 FROM dlr_pending)")) == NULL)
        goto fail;
    if (sqlite3_step(s) == SQLITE_ROW)
        pending = sqlite3_column_int(s, 0) != 0;
    sqlite3_reset(s);
    for (size_t i = 0; pending && i < n; i++) {
        if (results[i].provider_id != NULL &&
            apply_pending_dlr(st, channel, results[i].provider_id, results[i].id, now) != TL_OK)
            goto fail;
    }
    if (sqlite_tx_commit(st) != TL_OK)
        goto fail;
    return TL_OK;
fail:
    sqlite_tx_rollback(st);
    return TL_ERR_STORE;
}

int64_t sqlite_outbox_next_due(struct tl_store *st, const char *channel)
{
    sqlite3_stmt *s;
    int64_t when = 0;

    /*
     * One index seek per priority (outbox_due is channel, priority,
     * next_attempt_ms): a min over the channel alone walked every queued
     * row, ~100 ms at 1M rows, and the sender asks once a second while its
     * queue waits (an aggregator away, sender.c).
     */
    if (store_prepare(st, &st->stmts.outbox_next_due,
                      "SELECT min(m) FROM ("
                      " SELECT (SELECT min(next_attempt_ms) FROM outbox WHERE channel = ?1"
                      "  AND state = 'queued' AND priority = 0) AS m"
                      " UNION ALL SELECT (SELECT min(next_attempt_ms) FROM outbox"
                      "  WHERE channel = ?1 AND state = 'queued' AND priority = 1)"
                      " UNION ALL SELECT (SELECT min(next_attempt_ms) FROM outbox"
                      "  WHERE channel = ?1 AND state = 'queued' AND priority = 2))") != TL_OK)
        return 0;
    s = st->stmts.outbox_next_due;
    store_bind_text(s, 1, channel);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        when = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return when;
}

int64_t sqlite_outbox_recover(struct tl_store *st)
{
    /* INDEXED BY: the partial index of migration 3, or an error, never a scan of the outbox. */
    if (sqlite3_exec(st->db,
                     "UPDATE outbox INDEXED BY outbox_sending SET state = 'queued',"
                     " channel = coalesce(pool, channel) WHERE state = 'sending'",
                     NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    return sqlite3_changes(st->db);
}

/* The states no delivery report moves a message out of (SQL list). */
#define DLR_FINAL_STATES "('delivered','failed','expired','cancelled')"

/* Applies a report to the messages it names; how many matched, or -1 on error. */
static int64_t dlr_apply(struct tl_store *st, const struct tl_outbox_dlr *d, const char *state,
                         int64_t now)
{
    sqlite3_stmt *s;
    int rc;

    /*
     * A final message (delivered, failed, expired, cancelled) keeps its
     * state, raw status and error: a final status is never overwritten, so
     * Kannel's 8 (SMSC) after 1 (delivered) or an unknown status after a
     * final one only matches. Otherwise the new state applies unless the
     * report is 'sent' for a message already past it, and an unknown status
     * (state NULL) only records the raw status. The candidates are the
     * messages provider_ids maps the id to, and our id; a message matches
     * by our id, or by the provider id it has now.
     */
    if (store_prepare(st, &st->stmts.outbox_dlr,
                      "UPDATE outbox SET"
                      " state = CASE WHEN ?4 IS NULL THEN state"
                      "   WHEN state IN " DLR_FINAL_STATES " THEN state"
                      "   WHEN ?4 = 'sent' AND state <> 'sending' THEN state"
                      "   ELSE ?4 END,"
                      " dlr_status = CASE WHEN state IN " DLR_FINAL_STATES
                      "   AND dlr_status IS NOT NULL THEN dlr_status ELSE ?5 END,"
                      " error = CASE WHEN state IN " DLR_FINAL_STATES
                      "   AND dlr_status IS NOT NULL THEN error ELSE coalesce(?6, error) END,"
                      " updated_at = ?7"
                      " WHERE id IN (SELECT outbox_id FROM provider_ids"
                      "   WHERE channel = ?1 AND provider_id = ?2 UNION ALL SELECT ?3)"
                      " AND channel = ?1 AND (id = ?3 OR provider_id = ?2)") != TL_OK)
        return -1;
    s = st->stmts.outbox_dlr;
    store_bind_text(s, 1, d->channel);
    store_bind_text(s, 2, d->provider_id);
    if (d->our_id > 0)
        sqlite3_bind_int64(s, 3, d->our_id);
    else
        sqlite3_bind_null(s, 3);
    store_bind_text(s, 4, state);
    store_bind_text(s, 5, d->status_raw);
    store_bind_text(s, 6, d->error);
    sqlite3_bind_int64(s, 7, now);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? sqlite3_changes64(st->db) : -1;
}

int sqlite_outbox_dlr(struct tl_store *st, const struct tl_outbox_dlr *d, int64_t now)
{
    sqlite3_stmt *s;
    int rc, staged;
    int64_t matched;
    const char *state = d->state == TL_OUTBOX_QUEUED ? NULL : store_outbox_state_names[d->state];

    if ((matched = dlr_apply(st, d, state, now)) < 0)
        return TL_ERR_STORE;
    /* Not found among the moved ids: move the staged ones, then look again. */
    if (matched == 0 && d->provider_id != NULL) {
        if ((staged = provider_ids_staged(st)) < 0)
            return TL_ERR_STORE;
        if (staged && (store_provider_ids_move(st) != TL_OK || (matched = dlr_apply(st, d, state, now)) < 0))
            return TL_ERR_STORE;
    }
    if (matched > 0)
        return TL_OK;
    if (d->provider_id == NULL)
        return TL_ERR_NOT_FOUND;
    /* Not matched yet: keep it for when the send result arrives. */
    if (store_prepare(st, &st->stmts.dlr_pending_add,
                      "INSERT INTO dlr_pending (channel, provider_id, status_raw, state, error,"
                      " received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                      " ON CONFLICT (channel, provider_id) DO UPDATE SET"
                      " status_raw = excluded.status_raw, state = excluded.state,"
                      " error = excluded.error, received_at = excluded.received_at"
                      " WHERE dlr_pending.state NOT IN " DLR_FINAL_STATES) != TL_OK)
        return TL_ERR_STORE;
    s = st->stmts.dlr_pending_add;
    store_bind_text(s, 1, d->channel);
    store_bind_text(s, 2, d->provider_id);
    store_bind_text(s, 3, d->status_raw);
    store_bind_text(s, 4, state ? state : "queued");
    store_bind_text(s, 5, d->error);
    sqlite3_bind_int64(s, 6, now);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_ERR_NOT_FOUND : TL_ERR_STORE;
}

int64_t sqlite_dlr_pending_prune(struct tl_store *st, int64_t before)
{
    if (store_prepare(st, &st->stmts.dlr_pending_prune,
                      "DELETE FROM dlr_pending WHERE received_at < ?1") != TL_OK)
        return -1;
    sqlite3_bind_int64(st->stmts.dlr_pending_prune, 1, before);
    if (sqlite3_step(st->stmts.dlr_pending_prune) != SQLITE_DONE) {
        sqlite3_reset(st->stmts.dlr_pending_prune);
        return -1;
    }
    sqlite3_reset(st->stmts.dlr_pending_prune);
    return sqlite3_changes(st->db);
}

int sqlite_outbox_counts(struct tl_store *st, int64_t counts[TL_OUTBOX_NSTATES])
{
    sqlite3_stmt *s;
    int rc;

    memset(counts, 0, sizeof(int64_t) * TL_OUTBOX_NSTATES);
    if (store_prepare(st, &st->stmts.outbox_counts,
                      "SELECT state, count(*) FROM outbox GROUP BY state") != TL_OK)
        return TL_ERR_STORE;
    s = st->stmts.outbox_counts;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(s, 0);
        for (int i = 0; i < TL_OUTBOX_NSTATES; i++) {
            if (strcmp(state, store_outbox_state_names[i]) == 0)
                counts[i] = sqlite3_column_int64(s, 1);
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}
