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
 */
#include "gateway/store/store.h"
#include "gateway/store/sqlite_int.h"
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

/* Opens a cursor on each area of area_codes_json (a JSON array); TL_OK or TL_ERR_STORE. */
static int merge_open(struct tl_store *st, const char *area_codes_json, struct phone_merge *m)
{
    static const char areas[] = "SELECT DISTINCT value FROM json_each(?1)";
    static const char members[] = "SELECT phone FROM subscriptions WHERE area_code = ?1"
                                  " ORDER BY phone";
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
            sqlite3_bind_text(c.stmt, 1, (const char *)code, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
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

/* Binds what every alert row of a wave shares: ?1 channel, ?2 expiry, ?3 case, ?4 alert, ?5 now. */
static void bind_wave_row(sqlite3_stmt *s, const struct tl_alert_wave *w, int64_t alert_id,
                          int64_t now)
{
    store_bind_text(s, 1, w->channel);
    if (w->expires_at)
        sqlite3_bind_int64(s, 2, w->expires_at);
    sqlite3_bind_int64(s, 3, w->case_id);
    sqlite3_bind_int64(s, 4, alert_id);
    sqlite3_bind_int64(s, 5, now);
}

/* Queues the batch of phones (a JSON array being built in batch); adds the rows made to *n. */
static int batch_flush(struct tl_store *st, sqlite3_stmt *add, struct tl_buf *batch, int64_t *n)
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
    *n += sqlite3_changes(st->db);
    return TL_OK;
}

/* Queues the alert to every subscriber of the scope, in phone order, each once. */
static int wave_subscribers(struct tl_store *st, const struct tl_alert_wave *w, int64_t now,
                            int64_t alert_id, int64_t *n)
{
    /* lang NULL: the subscriber's saved language applies when the row is sent. */
    static const char add_sql[] =
        "INSERT OR IGNORE INTO outbox (channel, pool, phone, kind, priority, state,"
        " next_attempt_ms, expires_at, case_id, alert_id, created_at, updated_at)"
        " SELECT ?1, " STORE_POOL_OF("?1") ", value, 'alert', 2, 'queued', 0, ?2, ?3, ?4, ?5, ?5"
        " FROM json_each(?6)";
    struct phone_merge m;
    struct tl_buf batch = {0}, phone = {0}, last = {0};
    size_t in_batch = 0;
    sqlite3_stmt *add = store_stmt(st, add_sql);
    int rc = TL_ERR_STORE, got;

    if (add == NULL || merge_open(st, w->area_codes_json, &m) != TL_OK)
        return TL_ERR_STORE;
    bind_wave_row(add, w, alert_id, now);
    while ((got = merge_next(&m, &phone)) > 0) {
        if (last.data != NULL && last.len == phone.len &&
            memcmp(last.data, phone.data, phone.len) == 0)
            continue; /* the same phone from another area */
        tl_buf_append_str(&batch, in_batch == 0 ? "[\"" : ",\"");
        tl_buf_append_json(&batch, phone.data, phone.len);
        tl_buf_append_char(&batch, '"');
        struct tl_buf t = last;
        last = phone;
        phone = t;
        if (++in_batch == WAVE_BATCH) {
            if (batch_flush(st, add, &batch, n) != TL_OK)
                goto done;
            in_batch = 0;
        }
    }
    if (got == 0 && batch_flush(st, add, &batch, n) == TL_OK)
        rc = TL_OK;
done:
    sqlite3_reset(add);
    sqlite3_clear_bindings(add); /* batch's memory is freed below */
    merge_close(&m);
    tl_buf_free(&batch);
    tl_buf_free(&phone);
    tl_buf_free(&last);
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
                     int64_t *alert_id, int64_t *recipients)
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
    sqlite3_stmt *s;
    int64_t n = 0;

    /* Atomic on its own, and part of the caller's transaction if one is open (it nests). */
    if (sqlite_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if (alert_row_add(st, w->case_id, w->kind, w->radius_km, w->text_en, w->text_ur,
                      w->text_roman_ur, now, alert_id) != TL_OK)
        goto fail;
    if ((s = store_stmt(st, add_police)) == NULL)
        goto fail;
    bind_wave_row(s, w, *alert_id, now);
    store_bind_text(s, 6, w->area_codes_json);
    if (store_step_done(s) != TL_OK)
        goto fail;
    n = sqlite3_changes(st->db);
    if (wave_subscribers(st, w, now, *alert_id, &n) != TL_OK)
        goto fail;
    if (sqlite_tx_commit(st) != TL_OK)
        goto fail;
    *recipients = n;
    return TL_OK;
fail:
    sqlite_tx_rollback(st);
    return TL_ERR_STORE;
}

int sqlite_alert_end(struct tl_store *st, int64_t case_id, const char *channel, const char *text_en,
                    const char *text_ur, const char *text_roman_ur, int64_t now, int64_t *cancelled,
                    int64_t *recipients)
{
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
    if ((s = store_stmt(st, cancel)) == NULL)
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
