/*
 * sqlite_wave.c — (SQLite backend) alert waves in the store: a wave's alerts row and its
 * outbox rows (sqlite_alert_wave), and the end of a case's alerts
 * (sqlite_alert_end). See store.h for the contracts.
 *
 * A wave to a whole city is a million outbox rows inside the VERIFY's
 * transaction, so its cost is what it writes: the rows, the due index and
 * the unique index outbox_alert_once (case_id, phone), which keeps "each
 * person once per case" and which a wave must therefore feed well. The
 * scope's subscribers are read area by area from subscriptions_by_area
 * (area_code, phone): each area is a range already in phone order, so a
 * merge of the areas (a small heap here, one cursor per area) yields every
 * phone once and in order, without a join, a sort or duplicates. The rows
 * then go in as INSERT … SELECT from json_each of batches of phones, each
 * statement inserting thousands: SQLite appends them to the end of the
 * unique index instead of searching it for each row, and a statement per
 * batch keeps its cursors (one statement per row would seek every index
 * from its root each time, about three times slower).
 *
 * With several alert channels the rows go to the alert pool (channel and
 * pool TL_OUTBOX_POOL), which each of them claims from at its own rate
 * (store_outbox_claim_pool); with one, to that channel, as before.
 *
 * Opted-out numbers have no subscriptions (the schema's trigger deletes
 * them), so the wave need not read subscribers; a bulk row's language is
 * the recipient's saved language when it is sent (outbox lang NULL, see
 * sqlite_outbox_claim), police rows are English.
 *
 * A national wave (ten million rows) does not fit one transaction on the
 * loop: with a chunk size set, the wave's transaction reads the merge in
 * chunks until its time is up and records the merge's cursor (the last
 * phone read) in wave_fanout; sqlite_wave_fanout then reads the next
 * chunk after that phone each time the sender has reached the one before
 * the last (so two chunks are queued ahead of it). The merge restarts at the cursor (each area's range after it), so
 * the fan-out queues the same rows, in the same phone order, as one long
 * transaction would have, each chunk appending to the unique index.
 */
#include "gateway/store/store.h"
#include "gateway/store/sqlite_int.h"
#include "gateway/clock.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* Phones per INSERT … SELECT FROM json_each: ~170 kB of JSON. */
#define WAVE_BATCH 10000

/* One area of the scope: its subscribers' phones, ascending. */
struct area_cursor {
    sqlite3_stmt *stmt;
    const char *phone; /* the current row's, valid until the next step */
};

/* The merge of every area's cursor: the smallest current phone at heap[0]. */
struct phone_merge {
    struct area_cursor *cur;
    size_t ncur;
    size_t *heap; /* indexes into cur of the cursors not yet at their end */
    size_t nheap;
};

static bool cursor_before(const struct phone_merge *m, size_t a, size_t b)
{
    return strcmp(m->cur[m->heap[a]].phone, m->cur[m->heap[b]].phone) < 0;
}

static void merge_sift_down(struct phone_merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->nheap && cursor_before(m, l, min))
            min = l;
        if (r < m->nheap && cursor_before(m, r, min))
            min = r;
        if (min == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[min];
        m->heap[min] = t;
        i = min;
    }
}

/* Steps cursor c; true when it has a row, false at its end; -1 on error. */
static int cursor_step(struct area_cursor *c)
{
    int rc = sqlite3_step(c->stmt);

    if (rc == SQLITE_ROW) {
        c->phone = (const char *)sqlite3_column_text(c->stmt, 0);
        return c->phone != NULL ? 1 : -1;
    }
    return rc == SQLITE_DONE ? 0 : -1;
}

static void merge_close(struct phone_merge *m)
{
    for (size_t i = 0; i < m->ncur; i++)
        sqlite3_finalize(m->cur[i].stmt);
    free(m->cur);
    free(m->heap);
    memset(m, 0, sizeof(*m));
}

/*
 * Opens a cursor on each area of area_codes_json (a JSON array), over its
 * phones after `after` ("" for all); TL_OK or TL_ERR_STORE.
 */
static int merge_open(struct tl_store *st, const char *area_codes_json, const char *after,
                      struct phone_merge *m)
{
    static const char areas[] = "SELECT DISTINCT value FROM json_each(?1)";
    static const char members[] = "SELECT phone FROM subscriptions WHERE area_code = ?1"
                                  " AND phone > ?2 ORDER BY phone";
    sqlite3_stmt *s = store_stmt(st, areas);
    int rc;

    memset(m, 0, sizeof(*m));
    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, area_codes_json);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct area_cursor c = {0};
        const unsigned char *code = sqlite3_column_text(s, 0);
        if (code == NULL)
            continue;
        if (sqlite3_prepare_v2(st->db, members, -1, &c.stmt, NULL) != SQLITE_OK ||
            sqlite3_bind_text(c.stmt, 1, (const char *)code, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_bind_text(c.stmt, 2, after, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
            sqlite3_finalize(c.stmt);
            rc = SQLITE_ERROR;
            break;
        }
        m->cur = xrealloc(m->cur, (m->ncur + 1) * sizeof(*m->cur));
        m->cur[m->ncur++] = c;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        merge_close(m);
        return TL_ERR_STORE;
    }
    m->heap = xcalloc(m->ncur ? m->ncur : 1, sizeof(*m->heap));
    for (size_t i = 0; i < m->ncur; i++) {
        int got = cursor_step(&m->cur[i]);
        if (got < 0) {
            merge_close(m);
            return TL_ERR_STORE;
        }
        if (got)
            m->heap[m->nheap++] = i;
    }
    for (size_t i = m->nheap / 2; i-- > 0;)
        merge_sift_down(m, i);
    return TL_OK;
}

/*
 * The smallest phone of all cursors (*phone, valid until the next call), and
 * advances its cursor: 1, 0 when every cursor is at its end, -1 on error.
 * A phone in several areas comes once from each: the caller skips repeats.
 */
static int merge_next(struct phone_merge *m, struct tl_buf *phone)
{
    if (m->nheap == 0)
        return 0;
    struct area_cursor *c = &m->cur[m->heap[0]];
    tl_buf_reset(phone);
    tl_buf_append_str(phone, c->phone);
    int got = cursor_step(c);
    if (got < 0)
        return -1;
    if (!got)
        m->heap[0] = m->heap[--m->nheap];
    merge_sift_down(m, 0);
    return 1;
}

/* What every alert row of a wave (and of its fan-out) shares. */
struct wave_target {
    int64_t case_id, alert_id, expires_at; /* expires_at 0: never */
    const char *channel, *area_codes_json;
};

/* How far a read of the scope's subscribers goes, and where it got. */
struct wave_read {
    int64_t chunk;      /* distinct phones per chunk; 0: one chunk, to the end */
    double deadline_ms; /* stop at the end of the first chunk ending at or after this (clock_mono_ms) */
    int64_t queued;     /* out: rows queued */
    int64_t mark_id;    /* out: the first row the last chunk queued; 0 when it queued none */
    int64_t prev_id;    /* out: the same of the chunk before it; 0 when none */
    struct tl_buf last; /* out: the last phone read (the cursor); the caller frees it */
    bool done;          /* out: no subscriber is left after it */
};

/* Binds what every alert row of a wave shares: ?1 channel, ?2 expiry, ?3 case, ?4 alert, ?5 now. */
static void bind_wave_row(sqlite3_stmt *s, const struct wave_target *t, int64_t now)
{
    store_bind_text(s, 1, t->channel);
    if (t->expires_at)
        sqlite3_bind_int64(s, 2, t->expires_at);
    sqlite3_bind_int64(s, 3, t->case_id);
    sqlite3_bind_int64(s, 4, t->alert_id);
    sqlite3_bind_int64(s, 5, now);
}

/*
 * Queues the batch of phones (a JSON array being built in batch); adds the
 * rows made to r->queued, and notes the first of them as the chunk's mark
 * when the chunk has none yet (rowids of one INSERT are consecutive here:
 * the one writer, no AUTOINCREMENT).
 */
static int batch_flush(struct tl_store *st, sqlite3_stmt *add, struct tl_buf *batch,
                       struct wave_read *r, bool *marked)
{
    if (batch->len == 0)
        return TL_OK;
    tl_buf_append_char(batch, ']');
    sqlite3_bind_text(add, 6, batch->data, (int)batch->len, SQLITE_STATIC);
    int rc = sqlite3_step(add);
    sqlite3_reset(add);
    tl_buf_reset(batch);
    if (rc != SQLITE_DONE)
        return TL_ERR_STORE;
    int64_t made = sqlite3_changes(st->db);
    if (made > 0 && !*marked) {
        r->mark_id = sqlite3_last_insert_rowid(st->db) - made + 1;
        *marked = true;
    }
    r->queued += made;
    return TL_OK;
}

/*
 * Queues the alert to the scope's subscribers after `after` ("" for all),
 * in phone order, each once, chunk by chunk as r says; TL_OK or TL_ERR_STORE.
 */
static int wave_subscribers(struct tl_store *st, const struct wave_target *t, int64_t now,
                            const char *after, struct wave_read *r)
{
    /* lang NULL: the subscriber's saved language applies when the row is sent. */
    static const char add_sql[] =
        "INSERT OR IGNORE INTO outbox (channel, pool, phone, kind, priority, state,"
        " next_attempt_ms, expires_at, case_id, alert_id, created_at, updated_at)"
        " SELECT ?1, " STORE_POOL_OF("?1") ", value, 'alert', 2, 'queued', 0, ?2, ?3, ?4, ?5, ?5"
        " FROM json_each(?6)";
    struct phone_merge m;
    struct tl_buf batch = {0}, phone = {0};
    size_t in_batch = 0;
    int64_t in_chunk = 0;
    bool marked = false;
    sqlite3_stmt *add = store_stmt(st, add_sql);
    int rc = TL_ERR_STORE, got;

    r->queued = r->mark_id = r->prev_id = 0;
    r->done = false;
    tl_buf_reset(&r->last);
    if (add == NULL || merge_open(st, t->area_codes_json, after, &m) != TL_OK)
        return TL_ERR_STORE;
    bind_wave_row(add, t, now);
    while ((got = merge_next(&m, &phone)) > 0) {
        if (r->last.len == phone.len && r->last.len > 0 &&
            memcmp(r->last.data, phone.data, phone.len) == 0)
            continue; /* the same phone from another area */
        tl_buf_append_str(&batch, in_batch == 0 ? "[\"" : ",\"");
        tl_buf_append_json(&batch, phone.data, phone.len);
        tl_buf_append_char(&batch, '"');
        struct tl_buf swap = r->last;
        r->last = phone;
        phone = swap;
        bool chunk_ends = r->chunk > 0 && ++in_chunk == r->chunk;
        if (++in_batch == WAVE_BATCH || chunk_ends) {
            if (batch_flush(st, add, &batch, r, &marked) != TL_OK)
                goto out;
            in_batch = 0;
        }
        if (chunk_ends) {
            if (clock_mono_ms() >= r->deadline_ms) {
                rc = TL_OK; /* the rest is the fan-out's */
                goto out;
            }
            in_chunk = 0;
            marked = false;
            r->prev_id = r->mark_id;
            r->mark_id = 0;
        }
    }
    if (got == 0 && batch_flush(st, add, &batch, r, &marked) == TL_OK) {
        r->done = true;
        rc = TL_OK;
    }
out:
    sqlite3_reset(add);
    sqlite3_clear_bindings(add); /* batch's memory is freed below */
    merge_close(&m);
    tl_buf_free(&batch);
    tl_buf_free(&phone);
    return rc;
}

static int alert_row_add(struct tl_store *st, int64_t case_id, const char *kind, double radius_km,
                         const char *en, const char *ur, const char *rur, int64_t now,
                         int64_t *alert_id)
{
    static const char sql[] = "INSERT INTO alerts (case_id, kind, radius_km, text_en, text_ur,"
                              " text_roman_ur, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, case_id);
    store_bind_text(s, 2, kind);
    sqlite3_bind_double(s, 3, radius_km);
    store_bind_text(s, 4, en);
    store_bind_text(s, 5, ur);
    store_bind_text(s, 6, rur);
    sqlite3_bind_int64(s, 7, now);
    if (store_step_done(s) != TL_OK)
        return TL_ERR_STORE;
    *alert_id = sqlite3_last_insert_rowid(st->db);
    return TL_OK;
}

int sqlite_alert_wave(struct tl_store *st, const struct tl_alert_wave *w, int64_t now,
                     int64_t *alert_id, int64_t *recipients, bool *more)
{
    /*
     * Police of the scope first (priority 0, English): INSERT OR IGNORE on
     * the unique (case_id, phone) of alert rows then keeps an officer who
     * also subscribes at priority 0, and skips everyone already alerted for
     * the case (an escalation reaches only the newly covered).
     */
    static const char add_police[] =
        "INSERT OR IGNORE INTO outbox (channel, pool, phone, lang, kind, priority, state,"
        " next_attempt_ms, expires_at, case_id, alert_id, created_at, updated_at)"
        " SELECT ?1, " STORE_POOL_OF("?1") ", phone, 'en', 'alert', 0, 'queued', 0, ?2, ?3, ?4,"
        " ?5, ?5 FROM police"
        " WHERE area_code IN (SELECT value FROM json_each(?6)) ORDER BY phone";
    static const char add_fanout[] =
        "INSERT INTO wave_fanout (alert_id, case_id, channel, area_codes, expires_at,"
        " after_phone, mark_id, last_first_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    struct wave_read r = {.chunk = w->chunk > 0 ? w->chunk : 0,
                          .deadline_ms = clock_mono_ms() + w->first_ms};
    sqlite3_stmt *s;
    int64_t n = 0;

    if (more != NULL)
        *more = false;
    /* Atomic on its own, and part of the caller's transaction if one is open (it nests). */
    if (sqlite_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if (alert_row_add(st, w->case_id, w->kind, w->radius_km, w->text_en, w->text_ur,
                      w->text_roman_ur, now, alert_id) != TL_OK)
        goto fail;
    struct wave_target t = {w->case_id, *alert_id, w->expires_at, w->channel, w->area_codes_json};
    if ((s = store_stmt(st, add_police)) == NULL)
        goto fail;
    bind_wave_row(s, &t, now);
    store_bind_text(s, 6, w->area_codes_json);
    if (store_step_done(s) != TL_OK)
        goto fail;
    n = sqlite3_changes(st->db);
    if (wave_subscribers(st, &t, now, "", &r) != TL_OK)
        goto fail;
    n += r.queued;
    if (!r.done) {
        if ((s = store_stmt(st, add_fanout)) == NULL)
            goto fail;
        sqlite3_bind_int64(s, 1, t.alert_id);
        sqlite3_bind_int64(s, 2, t.case_id);
        store_bind_text(s, 3, t.channel);
        store_bind_text(s, 4, t.area_codes_json);
        if (t.expires_at)
            sqlite3_bind_int64(s, 5, t.expires_at);
        store_bind_text(s, 6, tl_buf_str(&r.last));
        if (r.prev_id)
            sqlite3_bind_int64(s, 7, r.prev_id);
        if (r.mark_id)
            sqlite3_bind_int64(s, 8, r.mark_id);
        if (store_step_done(s) != TL_OK)
            goto fail;
    }
    if (sqlite_tx_commit(st) != TL_OK)
        goto fail;
    *recipients = n;
    if (more != NULL)
        *more = !r.done;
    tl_buf_free(&r.last);
    return TL_OK;
fail:
    sqlite_tx_rollback(st);
    tl_buf_free(&r.last);
    return TL_ERR_STORE;
}

int sqlite_wave_fanout(struct tl_store *st, int64_t chunk, int64_t now,
                       struct tl_fanout_step *out)
{
    /* Due: the sender has taken (or tried) the mark, or there is none. */
    static const char due[] =
        "SELECT alert_id, case_id, channel, area_codes, expires_at, after_phone FROM wave_fanout f"
        " WHERE mark_id IS NULL OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = f.mark_id"
        " AND o.state = 'queued' AND o.attempts = 0)"
        " ORDER BY alert_id LIMIT 1";
    /* The last chunk's first row becomes the mark; this chunk's is the last one's. */
    static const char move[] = "UPDATE wave_fanout SET after_phone = ?2, mark_id = last_first_id,"
                               " last_first_id = ?3 WHERE alert_id = ?1";
    static const char end[] = "DELETE FROM wave_fanout WHERE alert_id = ?1";
    static const char left[] = "SELECT EXISTS (SELECT 1 FROM wave_fanout)";
    struct wave_read r = {.chunk = chunk > 0 ? chunk : 1};
    struct wave_target t = {0};
    char *channel = NULL, *areas = NULL, *after = NULL;
    sqlite3_stmt *s;
    int rc;

    memset(out, 0, sizeof(*out));
    if (sqlite_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if ((s = store_stmt(st, due)) == NULL)
        goto fail;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        t.alert_id = sqlite3_column_int64(s, 0);
        t.case_id = sqlite3_column_int64(s, 1);
        channel = xstrdup((const char *)sqlite3_column_text(s, 2));
        areas = xstrdup((const char *)sqlite3_column_text(s, 3));
        t.expires_at = sqlite3_column_int64(s, 4);
        after = xstrdup((const char *)sqlite3_column_text(s, 5));
        t.channel = channel;
        t.area_codes_json = areas;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto fail;
    if (rc == SQLITE_ROW) {
        out->ran = true;
        out->alert_id = t.alert_id;
        if (t.expires_at && now >= t.expires_at)
            r.done = true; /* what it would queue now would expire unsent */
        else if (wave_subscribers(st, &t, now, after, &r) != TL_OK)
            goto fail;
        out->queued = r.queued;
        out->finished = r.done;
        if ((s = store_stmt(st, r.done ? end : move)) == NULL)
            goto fail;
        sqlite3_bind_int64(s, 1, t.alert_id);
        if (!r.done) {
            store_bind_text(s, 2, tl_buf_str(&r.last));
            if (r.mark_id)
                sqlite3_bind_int64(s, 3, r.mark_id);
        }
        if (store_step_done(s) != TL_OK)
            goto fail;
    }
    if ((s = store_stmt(st, left)) == NULL)
        goto fail;
    out->pending = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
    sqlite3_reset(s);
    if (sqlite_tx_commit(st) != TL_OK)
        goto fail;
    free(channel);
    free(areas);
    free(after);
    tl_buf_free(&r.last);
    return TL_OK;
fail:
    sqlite_tx_rollback(st);
    free(channel);
    free(areas);
    free(after);
    tl_buf_free(&r.last);
    memset(out, 0, sizeof(*out));
    return TL_ERR_STORE;
}

int sqlite_alert_end(struct tl_store *st, int64_t case_id, const char *channel, const char *text_en,
                    const char *text_ur, const char *text_roman_ur, int64_t now, int64_t *cancelled,
                    int64_t *recipients)
{
    static const char fanout_end[] = "DELETE FROM wave_fanout WHERE case_id = ?1";
    static const char cancel[] = "UPDATE outbox SET state = 'cancelled', updated_at = ?2"
                                 " WHERE case_id = ?1 AND kind = 'alert' AND state = 'queued'";
    /* lang is copied: NULL (the saved language at sending) stays NULL, police stay English. */
    static const char update[] =
        "INSERT INTO outbox (channel, pool, phone, lang, kind, priority, state, next_attempt_ms,"
        " case_id, alert_id, created_at, updated_at)"
        " SELECT ?1, " STORE_POOL_OF("?1") ", phone, lang, 'update', 2, 'queued', 0, ?2, ?3, ?4,"
        " ?4 FROM outbox"
        " WHERE case_id = ?2 AND kind = 'alert' AND state IN ('sending','sent','delivered')";
    sqlite3_stmt *s;
    int64_t update_id = 0;

    *cancelled = *recipients = 0;
    if ((s = store_stmt(st, fanout_end)) == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, case_id);
    if (store_step_done(s) != TL_OK || (s = store_stmt(st, cancel)) == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, case_id);
    sqlite3_bind_int64(s, 2, now);
    if (store_step_done(s) != TL_OK)
        return TL_ERR_STORE;
    *cancelled = sqlite3_changes(st->db);
    if (alert_row_add(st, case_id, "update", 0, text_en, text_ur, text_roman_ur, now, &update_id) !=
            TL_OK ||
        (s = store_stmt(st, update)) == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, channel);
    sqlite3_bind_int64(s, 2, case_id);
    sqlite3_bind_int64(s, 3, update_id);
    sqlite3_bind_int64(s, 4, now);
    if (store_step_done(s) != TL_OK)
        return TL_ERR_STORE;
    *recipients = sqlite3_changes(st->db);
    return TL_OK;
}
