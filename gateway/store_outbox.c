/*
 * store_outbox.c — the outbox table: adding, claiming, recording results and
 * delivery reports. The sender (sender.c) drives these; the domain adds.
 *
 * Invariant: a message is a row in state 'queued' before any request for it
 * is made; 'sending' marks a request possibly in flight. After a crash,
 * store_outbox_recover() requeues 'sending' rows, so a message is never lost
 * and only those in flight at the crash may go twice.
 */
#include "gateway/store.h"
#include "gateway/store_int.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[TL_OUTBOX_NSTATES] = {
    "queued", "sending", "sent", "delivered", "failed", "expired", "cancelled",
};
static const char *const kind_names[] = {"police", "reply", "alert", "update"};

const char *store_outbox_state_name(enum tl_outbox_state s)
{
    return (size_t)s < TL_OUTBOX_NSTATES ? state_names[s] : "?";
}

static void bind_id(sqlite3_stmt *s, int i, int64_t v)
{
    if (v == 0)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, v);
}

int store_outbox_add(struct tl_store *st, const struct tl_outbox_new *m, int64_t now, int64_t *id)
{
    sqlite3_stmt *s;
    int rc;
    /* police before replies before bulk: alerts and updates share priority 2 */
    int priority = m->kind == TL_OUT_POLICE ? 0 : m->kind == TL_OUT_REPLY ? 1 : 2;

    if (store_prepare(st, &st->stmts.outbox_add,
                      "INSERT INTO outbox (channel, phone, text, kind, priority, state,"
                      " next_attempt_ms, expires_at, case_id, alert_id, inbound_id, created_at,"
                      " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', 0, ?6, ?7, ?8, ?9,"
                      " ?10, ?10)") != TL_OK)
        return TL_ERR_STORE;
    s = st->stmts.outbox_add;
    store_bind_text(s, 1, m->channel);
    store_bind_text(s, 2, m->phone);
    store_bind_text(s, 3, m->text);
    store_bind_text(s, 4, kind_names[m->kind]);
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

void store_outbox_msgs_free(struct tl_outbox_msg *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].phone);
        free(msgs[i].text);
    }
    free(msgs);
}

/* True when a comes after b in the queue's order. */
static bool outbox_msg_after(const struct tl_outbox_msg *a, const struct tl_outbox_msg *b)
{
    if (a->priority != b->priority)
        return a->priority > b->priority;
    if (a->due_ms != b->due_ms)
        return a->due_ms > b->due_ms;
    return a->id > b->id;
}

int store_outbox_claim(struct tl_store *st, const char *channel, int64_t now_ms, size_t max,
                       struct tl_outbox_msg **msgs, size_t *n)
{
    sqlite3_stmt *s;
    struct tl_outbox_msg *out = NULL;
    size_t count = 0;
    int64_t now = now_ms / 1000;

    *msgs = NULL;
    *n = 0;
    if (store_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    /* Expired messages leave the queue without a request. */
    if (store_prepare(st, &st->stmts.outbox_expire,
                      "UPDATE outbox SET state = 'expired', updated_at = ?2"
                      " WHERE channel = ?1 AND state = 'queued' AND expires_at IS NOT NULL"
                      " AND expires_at <= ?2") != TL_OK)
        goto fail;
    s = st->stmts.outbox_expire;
    store_bind_text(s, 1, channel);
    sqlite3_bind_int64(s, 2, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        goto fail;
    sqlite3_reset(s);

    if (store_prepare(st, &st->stmts.outbox_claim,
                      "UPDATE outbox SET state = 'sending', attempts = attempts + 1,"
                      " updated_at = ?3 WHERE id IN (SELECT id FROM outbox"
                      " WHERE channel = ?1 AND state = 'queued' AND next_attempt_ms <= ?2"
                      " ORDER BY priority, next_attempt_ms, id LIMIT ?4)"
                      " RETURNING id, phone, text, kind, attempts, priority, next_attempt_ms") !=
        TL_OK)
        goto fail;
    s = st->stmts.outbox_claim;
    store_bind_text(s, 1, channel);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)max);
    out = xcalloc(max ? max : 1, sizeof(*out));
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && count < max) {
        struct tl_outbox_msg *m = &out[count++];
        const char *kind = (const char *)sqlite3_column_text(s, 3);
        m->id = sqlite3_column_int64(s, 0);
        m->phone = xstrdup((const char *)sqlite3_column_text(s, 1));
        m->text = xstrdup((const char *)sqlite3_column_text(s, 2));
        m->kind = TL_OUT_UPDATE;
        for (int k = 0; k < 4; k++) {
            if (strcmp(kind, kind_names[k]) == 0)
                m->kind = k;
        }
        m->attempts = sqlite3_column_int(s, 4);
        m->priority = sqlite3_column_int(s, 5);
        m->due_ms = sqlite3_column_int64(s, 6);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        goto fail;
    if (store_tx_commit(st) != TL_OK)
        goto fail;
    /* RETURNING gives rows in no set order: restore the queue's (priority, due, id). */
    for (size_t i = 1; i < count; i++) {
        struct tl_outbox_msg key = out[i];
        size_t j = i;
        while (j > 0 && outbox_msg_after(&out[j - 1], &key)) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = key;
    }
    *msgs = out;
    *n = count;
    return TL_OK;
fail:
    store_outbox_msgs_free(out, count);
    store_tx_rollback(st);
    return TL_ERR_STORE;
}

/* Applies a pending delivery report to the message that now has its provider id. */
static int apply_pending_dlr(struct tl_store *st, const char *channel, const char *provider_id,
                             int64_t now)
{
    sqlite3_stmt *s;
    struct tl_outbox_dlr d = {.channel = channel, .provider_id = provider_id};
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
        if (state != NULL && strcmp(state, state_names[i]) == 0)
            d.state = (enum tl_outbox_state)i;
    }
    rc = store_outbox_dlr(st, &d, now);
    free(status_raw);
    free(state);
    free(error);
    return rc == TL_ERR_NOT_FOUND ? TL_OK : rc;
}

int store_outbox_results(struct tl_store *st, const char *channel,
                         const struct tl_outbox_result *results, size_t n, int64_t now)
{
    sqlite3_stmt *s;

    if (store_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if (store_prepare(st, &st->stmts.outbox_result,
                      "UPDATE outbox SET state = ?2, provider_id = coalesce(?3, provider_id),"
                      " error = ?4, next_attempt_ms = ?5, updated_at = ?6"
                      " WHERE id = ?1 AND state = 'sending'") != TL_OK)
        goto fail;
    s = st->stmts.outbox_result;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, results[i].id);
        store_bind_text(s, 2, state_names[results[i].state]);
        store_bind_text(s, 3, results[i].provider_id);
        store_bind_text(s, 4, results[i].error);
        sqlite3_bind_int64(s, 5, results[i].next_attempt_ms);
        sqlite3_bind_int64(s, 6, now);
        if (sqlite3_step(s) != SQLITE_DONE)
            goto fail;
    }
    sqlite3_reset(s);
    for (size_t i = 0; i < n; i++) {
        if (results[i].provider_id != NULL &&
            apply_pending_dlr(st, channel, results[i].provider_id, now) != TL_OK)
            goto fail;
    }
    if (store_tx_commit(st) != TL_OK)
        goto fail;
    return TL_OK;
fail:
    store_tx_rollback(st);
    return TL_ERR_STORE;
}

int64_t store_outbox_next_due(struct tl_store *st, const char *channel)
{
    sqlite3_stmt *s;
    int64_t when = 0;

    if (store_prepare(st, &st->stmts.outbox_next_due,
                      "SELECT min(next_attempt_ms) FROM outbox"
                      " WHERE channel = ?1 AND state = 'queued'") != TL_OK)
        return 0;
    s = st->stmts.outbox_next_due;
    store_bind_text(s, 1, channel);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        when = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return when;
}

int64_t store_outbox_recover(struct tl_store *st)
{
    if (sqlite3_exec(st->db, "UPDATE outbox SET state = 'queued' WHERE state = 'sending'", NULL,
                     NULL, NULL) != SQLITE_OK)
        return -1;
    return sqlite3_changes(st->db);
}

int store_outbox_dlr(struct tl_store *st, const struct tl_outbox_dlr *d, int64_t now)
{
    sqlite3_stmt *s;
    int rc;
    const char *state = d->state == TL_OUTBOX_QUEUED ? NULL : state_names[d->state];

    /*
     * The new state applies unless the message is already final or the
     * report is 'sent' for a message already past it. An unknown status
     * (state NULL) only records the raw status.
     */
    if (store_prepare(st, &st->stmts.outbox_dlr,
                      "UPDATE outbox SET"
                      " state = CASE WHEN ?4 IS NULL THEN state"
                      "   WHEN state IN ('delivered','failed','expired','cancelled') THEN state"
                      "   WHEN ?4 = 'sent' AND state <> 'sending' THEN state"
                      "   ELSE ?4 END,"
                      " dlr_status = ?5, error = coalesce(?6, error), updated_at = ?7"
                      " WHERE channel = ?1 AND ((?2 IS NOT NULL AND provider_id = ?2)"
                      "   OR (?3 IS NOT NULL AND id = ?3))") != TL_OK)
        return TL_ERR_STORE;
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
    if (rc != SQLITE_DONE)
        return TL_ERR_STORE;
    if (sqlite3_changes(st->db) > 0)
        return TL_OK;
    if (d->provider_id == NULL)
        return TL_ERR_NOT_FOUND;
    /* Not matched yet: keep it for when the send result arrives. */
    if (store_prepare(st, &st->stmts.dlr_pending_add,
                      "INSERT INTO dlr_pending (channel, provider_id, status_raw, state, error,"
                      " received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                      " ON CONFLICT (channel, provider_id) DO UPDATE SET"
                      " status_raw = excluded.status_raw, state = excluded.state,"
                      " error = excluded.error, received_at = excluded.received_at") != TL_OK)
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

int64_t store_dlr_pending_prune(struct tl_store *st, int64_t before)
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

int64_t store_outbox_cancel_phone(struct tl_store *st, const char *phone, int64_t now)
{
    sqlite3_stmt *s;
    int rc;

    if (store_prepare(st, &st->stmts.outbox_cancel_phone,
                      "UPDATE outbox SET state = 'cancelled', updated_at = ?2"
                      " WHERE phone = ?1 AND state = 'queued' AND kind IN ('alert','update')") !=
        TL_OK)
        return -1;
    s = st->stmts.outbox_cancel_phone;
    store_bind_text(s, 1, phone);
    sqlite3_bind_int64(s, 2, now);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? sqlite3_changes(st->db) : -1;
}

int store_outbox_counts(struct tl_store *st, int64_t counts[TL_OUTBOX_NSTATES])
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
            if (strcmp(state, state_names[i]) == 0)
                counts[i] = sqlite3_column_int64(s, 1);
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}
