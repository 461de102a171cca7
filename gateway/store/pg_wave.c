/*
 * pg_wave.c — (PostgreSQL backend) alert waves: a wave's alerts row and its
 * outbox rows (pg_alert_wave), and the end of a case's alerts
 * (pg_alert_end). The pg_ twins of sqlite_wave.c; contracts in store.h.
 *
 * SQLite's wave merges the areas' phone ranges in C to feed its unique
 * index in order; here the whole wave is set-based, two statements inside
 * one transaction: the scope's police, then its subscribers — each an
 * INSERT … SELECT DISTINCT ON (phone) … ORDER BY phone over the rows of
 * the areas in json_array_elements_text($areas), ON CONFLICT DO NOTHING on
 * the unique partial index outbox_alert_once (case_id, phone) WHERE kind =
 * 'alert'. So one phone in several areas is one row, a phone already
 * alerted for the case (an escalation's earlier waves, the police rows
 * just queued) is skipped, and *recipients is what the statements
 * inserted (the subscribers' statement drops the already alerted first,
 * with an anti-join). Rows are queued in phone order (the identity follows the
 * SELECT's order), as SQLite's.
 *
 * Across nodes: two nodes running the same wave at once both insert under
 * the one unique index; a row the other has inserted but not committed
 * makes this one wait for it, then skip (or insert, if it rolled back), so
 * every (case, phone) is queued once and the two *recipients add up to the
 * number of people in scope. Both statements go in phone order, so two
 * such waves take the keys in one order and cannot deadlock. STOP-wins:
 * each statement reads the subscriptions as committed when it starts, and
 * an opt-out deletes the number's subscriptions (the schema's trigger), so
 * no wave begun after an opt-out committed queues that number.
 *
 * The sort of a city's subscribers (a million short strings) is by bytes
 * (COLLATE "C", as SQLite's order) and gets enough work_mem to stay in
 * memory, for this transaction only (set_config(..., true)).
 */
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "common/result.h"

#include <stddef.h>

/* Inserts the wave's (or an update's) alerts row; *alert_id gets its id. */
static int alert_row_add(struct tl_store *st, int64_t case_id, const char *kind, double radius_km,
                         const char *en, const char *ur, const char *rur, int64_t now,
                         int64_t *alert_id)
{
    struct pg_params p = {0};

    pg_p_i64(&p, case_id);
    pg_p_text(&p, kind);
    pg_p_f64(&p, radius_km);
    pg_p_text(&p, en);
    pg_p_text(&p, ur);
    pg_p_text(&p, rur);
    pg_p_i64(&p, now);
    *alert_id = pg_query_i64(st,
                             "INSERT INTO alerts (case_id, kind, radius_km, text_en, text_ur,"
                             " text_roman_ur, created_at) VALUES ($1::bigint, $2, $3::float8,"
                             " $4, $5, $6, $7::bigint) RETURNING id",
                             &p, 0);
    return *alert_id > 0 ? TL_OK : TL_ERR_STORE;
}

/* What every alert row of a wave shares: $1 channel, $2 expiry, $3 case, $4 alert, $5 now, $6 areas. */
static void wave_params(struct pg_params *p, const struct tl_alert_wave *w, int64_t alert_id,
                        int64_t now)
{
    pg_p_text(p, w->channel);
    if (w->expires_at)
        pg_p_i64(p, w->expires_at);
    else
        pg_p_text(p, NULL);
    pg_p_i64(p, w->case_id);
    pg_p_i64(p, alert_id);
    pg_p_i64(p, now);
    pg_p_text(p, w->area_codes_json);
}

int pg_alert_wave(struct tl_store *st, const struct tl_alert_wave *w, int64_t now,
                  int64_t *alert_id, int64_t *recipients)
{
    struct pg_params p = {0};
    int64_t police = 0, subscribers = 0;

    /* Atomic on its own, and part of the caller's transaction if one is open (it nests). */
    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if (alert_row_add(st, w->case_id, w->kind, w->radius_km, w->text_en, w->text_ur,
                      w->text_roman_ur, now, alert_id) != TL_OK)
        goto fail;
    wave_params(&p, w, *alert_id, now);
    /* Police first (priority 0, English): an officer who also subscribes keeps priority 0. */
    if (pg_command(st,
                   "INSERT INTO outbox (channel, pool, phone, lang, kind, priority, state,"
                   " next_attempt_ms, expires_at, case_id, alert_id, created_at, updated_at)"
                   " SELECT DISTINCT ON (phone COLLATE \"C\") $1::text, " PG_POOL_OF("$1::text")
                   ", phone, 'en', 'alert', 0,"
                   " 'queued', 0, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $5::bigint"
                   " FROM police WHERE area_code IN (SELECT json_array_elements_text($6::json))"
                   " ORDER BY phone COLLATE \"C\""
                   " ON CONFLICT (case_id, phone) WHERE kind = 'alert' DO NOTHING",
                   &p, &police) != TL_OK)
        goto fail;
    if (pg_query_i64(st, "SELECT length(set_config('work_mem', '256MB', true))", NULL, -1) < 0)
        goto fail;
    /*
     * lang NULL: the subscriber's saved language applies when the row is
     * sent. NOT EXISTS drops the phones already alerted for the case (an
     * escalation's earlier waves) in one anti-join before the sort — five
     * times faster than letting ON CONFLICT probe for each — and ON
     * CONFLICT still settles a row another node has queued meanwhile.
     */
    if (pg_command(st,
                   "INSERT INTO outbox (channel, pool, phone, kind, priority, state,"
                   " next_attempt_ms, expires_at, case_id, alert_id, created_at, updated_at)"
                   " SELECT DISTINCT ON (phone COLLATE \"C\") $1::text, " PG_POOL_OF("$1::text")
                   ", phone, 'alert', 2,"
                   " 'queued', 0, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $5::bigint"
                   " FROM subscriptions s"
                   " WHERE area_code IN (SELECT json_array_elements_text($6::json))"
                   " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.case_id = $3::bigint"
                   " AND o.kind = 'alert' AND o.phone = s.phone)"
                   " ORDER BY phone COLLATE \"C\""
                   " ON CONFLICT (case_id, phone) WHERE kind = 'alert' DO NOTHING",
                   &p, &subscribers) != TL_OK)
        goto fail;
    if (pg_tx_commit(st) != TL_OK)
        goto fail;
    *recipients = police + subscribers;
    return TL_OK;
fail:
    pg_tx_rollback(st);
    return TL_ERR_STORE;
}

int pg_alert_end(struct tl_store *st, int64_t case_id, const char *channel, const char *text_en,
                 const char *text_ur, const char *text_roman_ur, int64_t now, int64_t *cancelled,
                 int64_t *recipients)
{
    struct pg_params c = {0}, u = {0};
    int64_t update_id = 0;

    *cancelled = *recipients = 0;
    /* A savepoint inside the caller's transaction: both or neither. */
    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    pg_p_i64(&c, case_id);
    pg_p_i64(&c, now);
    if (pg_command(st,
                   "UPDATE outbox SET state = 'cancelled', updated_at = $2::bigint"
                   " WHERE case_id = $1::bigint AND kind = 'alert' AND state = 'queued'",
                   &c, cancelled) != TL_OK ||
        alert_row_add(st, case_id, "update", 0, text_en, text_ur, text_roman_ur, now,
                      &update_id) != TL_OK)
        goto fail;
    pg_p_text(&u, channel);
    pg_p_i64(&u, case_id);
    pg_p_i64(&u, update_id);
    pg_p_i64(&u, now);
    /* lang is copied: NULL (the saved language at sending) stays NULL, police stay English.
     * One alert row per (case, phone) (outbox_alert_once): one update each. */
    if (pg_command(st,
                   "INSERT INTO outbox (channel, pool, phone, lang, kind, priority, state,"
                   " next_attempt_ms, case_id, alert_id, created_at, updated_at)"
                   " SELECT $1::text, " PG_POOL_OF("$1::text") ", phone, lang, 'update', 2,"
                   " 'queued', 0, $2::bigint,"
                   " $3::bigint, $4::bigint, $4::bigint FROM outbox"
                   " WHERE case_id = $2::bigint AND kind = 'alert'"
                   " AND state IN ('sending', 'sent', 'delivered') ORDER BY id",
                   &u, recipients) != TL_OK)
        goto fail;
    if (pg_tx_commit(st) != TL_OK)
        goto fail;
    return TL_OK;
fail:
    pg_tx_rollback(st);
    *cancelled = *recipients = 0;
    return TL_ERR_STORE;
}
