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
 *
 * In chunks (w->chunk, the fan-out): a chunk is the scope's subscribers in
 * (after, bound], where bound is the smallest, over the areas, of each
 * area's k-th phone after the cursor (k = chunk / the areas with phones
 * left; many sparse areas beside a dense one make smaller chunks): every area gives
 * at most k phones to it, so a chunk holds at most about `chunk` rows and
 * at least k, and each area's part is a range of subscriptions_by_area
 * (area_code, phone COLLATE "C"), not a sort of the area's rest. The
 * bound is the next cursor; a chunk without one (no area has k phones
 * left) reads the rest and ends the fan-out. The wave's transaction reads
 * chunks until its time is up and leaves the rest in wave_fanout, which
 * pg_wave_fanout reads a chunk at a time (FOR UPDATE SKIP LOCKED: one node
 * per wave at a time) once the sender has reached the chunk before the
 * last.
 */
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "gateway/clock.h"
#include "common/result.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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

/* What every alert row of a wave (and of its fan-out) shares. */
struct wave_target {
    int64_t case_id, alert_id, expires_at; /* expires_at 0: never */
    const char *channel, *area_codes_json;
};

/* What every alert row of a wave shares: $1 channel, $2 expiry, $3 case, $4 alert, $5 now, $6 areas. */
static void wave_params(struct pg_params *p, const struct wave_target *t, int64_t now)
{
    pg_p_text(p, t->channel);
    pg_p_i64_or_null(p, t->expires_at);
    pg_p_i64(p, t->case_id);
    pg_p_i64(p, t->alert_id);
    pg_p_i64(p, now);
    pg_p_text(p, t->area_codes_json);
}

/* Above every phone in byte order (U+10FFFF, the largest code point): the bound of a last chunk. */
#define PHONE_ABOVE_ALL "\xf4\x8f\xbf\xbf"

/*
 * Queues the alert to all of the scope's subscribers at once, in one
 * statement. NOT EXISTS drops the phones already alerted for the case (an
 * escalation's earlier waves) in one anti-join before the sort — five
 * times faster than letting ON CONFLICT probe for each — and ON CONFLICT
 * still settles a row another node has queued meanwhile.
 */
static int all_subscribers(struct tl_store *st, const struct wave_target *t, int64_t now,
                           int64_t *queued)
{
    struct pg_params p = {0};

    wave_params(&p, t, now);
    /* lang NULL: the subscriber's saved language applies when the row is sent. */
    return pg_command(st,
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
                      &p, queued);
}

/*
 * Queues the alert to one chunk of about `chunk` of the scope's
 * subscribers after `after` ("" for the first). *queued gets the rows
 * queued, *mark their first row (0: none), *next the cursor after the
 * chunk (NULL when no subscriber is left: the caller frees it). Each
 * area's part is a range of subscriptions_by_area; a chunk is at most a
 * few thousand rows, so ON CONFLICT settles the phones already alerted.
 */
static int chunk_subscribers(struct tl_store *st, const struct wave_target *t, int64_t now,
                             const char *after, int64_t chunk, int64_t *queued, int64_t *mark,
                             char **next)
{
    struct pg_params b = {0}, p = {0};

    *queued = *mark = 0;
    *next = NULL;
    pg_p_text(&b, t->area_codes_json);
    pg_p_text(&b, after);
    pg_p_i64(&b, chunk);
    /*
     * Which areas have phones left: each area's first phone after the
     * cursor, in subscriptions_by_area's order, so the planner walks that
     * index (an EXISTS let it scan the primary key for each of a city's
     * 456 areas: 9 s for the first chunk of a 1M wave).
     */
    PGresult *res = pg_query(
        st,
        "WITH a AS (SELECT c.code FROM json_array_elements_text($1::json) c(code)"
        " WHERE (SELECT s.phone COLLATE \"C\" FROM subscriptions s WHERE s.area_code = c.code"
        " AND s.phone COLLATE \"C\" > $2::text COLLATE \"C\" ORDER BY s.phone COLLATE \"C\""
        " LIMIT 1) IS NOT NULL),"
        " k AS (SELECT greatest(ceil($3::float8 / greatest(count(*), 1)), 1)::bigint AS k FROM a)"
        " SELECT min(x.u) FROM a CROSS JOIN k CROSS JOIN LATERAL"
        " (SELECT s.phone COLLATE \"C\" AS u FROM subscriptions s WHERE s.area_code = a.code"
        " AND s.phone COLLATE \"C\" > $2::text COLLATE \"C\" ORDER BY s.phone COLLATE \"C\""
        " OFFSET k.k - 1 LIMIT 1) x",
        &b);
    if (res == NULL)
        return TL_ERR_STORE;
    char *bound = PQntuples(res) == 1 && !pg_null(res, 0, 0) ? pg_dup(res, 0, 0) : NULL;
    PQclear(res);
    wave_params(&p, t, now);
    pg_p_text(&p, after);
    pg_p_text(&p, bound != NULL ? bound : PHONE_ABOVE_ALL);
    res = pg_query(
        st,
        "WITH ins AS (INSERT INTO outbox (channel, pool, phone, kind, priority, state,"
        " next_attempt_ms, expires_at, case_id, alert_id, created_at, updated_at)"
        " SELECT DISTINCT ON (phone COLLATE \"C\") $1::text, " PG_POOL_OF("$1::text") ", phone,"
        " 'alert', 2, 'queued', 0, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $5::bigint"
        " FROM subscriptions"
        " WHERE area_code = ANY (ARRAY(SELECT json_array_elements_text($6::json)))"
        " AND phone COLLATE \"C\" > $7::text COLLATE \"C\""
        " AND phone COLLATE \"C\" <= $8::text COLLATE \"C\""
        " ORDER BY phone COLLATE \"C\""
        " ON CONFLICT (case_id, phone) WHERE kind = 'alert' DO NOTHING RETURNING id)"
        " SELECT count(*), min(id) FROM ins",
        &p);
    if (res == NULL) {
        free(bound);
        return TL_ERR_STORE;
    }
    if (PQntuples(res) == 1) {
        *queued = pg_i64(res, 0, 0);
        *mark = pg_i64(res, 0, 1);
    }
    PQclear(res);
    *next = bound;
    return TL_OK;
}

/*
 * Records the wave's fan-out: where its transaction stopped reading
 * (after), the first rows of its last chunk (last) and of the one before
 * (mark: the next chunk is due once the sender has taken it).
 */
static int fanout_add(struct tl_store *st, const struct wave_target *t, const char *after,
                      int64_t mark, int64_t last)
{
    struct pg_params p = {0};

    pg_p_i64(&p, t->alert_id);
    pg_p_i64(&p, t->case_id);
    pg_p_text(&p, t->channel);
    pg_p_text(&p, t->area_codes_json);
    pg_p_i64_or_null(&p, t->expires_at);
    pg_p_text(&p, after);
    pg_p_i64_or_null(&p, mark);
    pg_p_i64_or_null(&p, last);
    return pg_command(st,
                      "INSERT INTO wave_fanout (alert_id, case_id, channel, area_codes,"
                      " expires_at, after_phone, mark_id, last_first_id) VALUES ($1::bigint,"
                      " $2::bigint, $3, $4, $5::bigint, $6, $7::bigint, $8::bigint)",
                      &p, NULL);
}

int pg_alert_wave(struct tl_store *st, const struct tl_alert_wave *w, int64_t now,
                  int64_t *alert_id, int64_t *recipients, bool *more)
{
    struct pg_params p = {0};
    int64_t police = 0, subscribers = 0, queued = 0, mark = 0, prev = 0;
    int64_t chunk = w->chunk > 0 ? w->chunk : 0;
    double deadline = clock_mono_ms() + w->first_ms;
    char *after = NULL, *next = NULL;

    if (more != NULL)
        *more = false;
    /* Atomic on its own, and part of the caller's transaction if one is open (it nests). */
    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if (alert_row_add(st, w->case_id, w->kind, w->radius_km, w->text_en, w->text_ur,
                      w->text_roman_ur, now, alert_id) != TL_OK)
        goto fail;
    struct wave_target t = {w->case_id, *alert_id, w->expires_at, w->channel, w->area_codes_json};
    wave_params(&p, &t, now);
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
    /* All of them in one statement when chunk is 0, else chunks until the time is up (one at least). */
    if (chunk == 0 && all_subscribers(st, &t, now, &subscribers) != TL_OK)
        goto fail;
    while (chunk > 0) {
        prev = mark;
        if (chunk_subscribers(st, &t, now, after ? after : "", chunk, &queued, &mark, &next) !=
            TL_OK)
            goto fail;
        subscribers += queued;
        free(after);
        after = next;
        if (after == NULL || clock_mono_ms() >= deadline)
            break;
    }
    if (after != NULL && fanout_add(st, &t, after, prev, mark) != TL_OK)
        goto fail;
    if (pg_tx_commit(st) != TL_OK)
        goto fail;
    *recipients = police + subscribers;
    if (more != NULL)
        *more = after != NULL;
    free(after);
    return TL_OK;
fail:
    pg_tx_rollback(st);
    free(after);
    return TL_ERR_STORE;
}

int pg_wave_fanout(struct tl_store *st, int64_t chunk, int64_t now, struct tl_fanout_step *out)
{
    struct pg_params p = {0};
    char *channel = NULL, *areas = NULL, *after = NULL, *next = NULL;
    struct wave_target t = {0};
    int64_t mark = 0;

    memset(out, 0, sizeof(*out));
    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    /* Due: the sender has taken (or tried) the mark, or there is none. */
    PGresult *res = pg_query(st,
                             "SELECT alert_id, case_id, channel, area_codes, expires_at,"
                             " after_phone FROM wave_fanout f"
                             " WHERE mark_id IS NULL OR NOT EXISTS (SELECT 1 FROM outbox o"
                             " WHERE o.id = f.mark_id AND o.state = 'queued' AND o.attempts = 0)"
                             " ORDER BY alert_id LIMIT 1 FOR UPDATE OF f SKIP LOCKED",
                             NULL);
    if (res == NULL)
        goto fail;
    if (PQntuples(res) == 1) {
        out->ran = true;
        t.alert_id = out->alert_id = pg_i64(res, 0, 0);
        t.case_id = pg_i64(res, 0, 1);
        t.channel = channel = pg_dup(res, 0, 2);
        t.area_codes_json = areas = pg_dup(res, 0, 3);
        t.expires_at = pg_i64(res, 0, 4);
        after = pg_dup(res, 0, 5);
    }
    PQclear(res);
    if (out->ran) {
        /* Past its expiry what it would queue would expire unsent: the fan-out ends. */
        if (!(t.expires_at && now >= t.expires_at) &&
            chunk_subscribers(st, &t, now, after, chunk > 0 ? chunk : 1, &out->queued, &mark,
                              &next) != TL_OK)
            goto fail;
        out->finished = next == NULL;
        pg_p_i64(&p, t.alert_id);
        if (next != NULL) {
            pg_p_text(&p, next);
            pg_p_i64_or_null(&p, mark);
        }
        if (pg_command(st,
                       next == NULL ? "DELETE FROM wave_fanout WHERE alert_id = $1::bigint"
                                    : "UPDATE wave_fanout SET after_phone = $2,"
                                      " mark_id = last_first_id, last_first_id = $3::bigint"
                                      " WHERE alert_id = $1::bigint",
                       &p, NULL) != TL_OK)
            goto fail;
    }
    out->pending = pg_query_i64(st, "SELECT count(*) FROM (SELECT 1 FROM wave_fanout LIMIT 1) f",
                                NULL, 0) > 0;
    if (pg_tx_commit(st) != TL_OK)
        goto fail;
    free(channel);
    free(areas);
    free(after);
    free(next);
    return TL_OK;
fail:
    pg_tx_rollback(st);
    free(channel);
    free(areas);
    free(after);
    free(next);
    memset(out, 0, sizeof(*out));
    return TL_ERR_STORE;
}

int pg_alert_end(struct tl_store *st, int64_t case_id, const char *channel, const char *text_en,
                 const char *text_ur, const char *text_roman_ur, int64_t now, int64_t *cancelled,
                 int64_t *recipients)
{
    struct pg_params c = {0}, u = {0}, f = {0};
    int64_t update_id = 0;

    *cancelled = *recipients = 0;
    /* A savepoint inside the caller's transaction: both or neither. */
    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    pg_p_i64(&c, case_id);
    pg_p_i64(&c, now);
    pg_p_i64(&f, case_id);
    if (pg_command(st, "DELETE FROM wave_fanout WHERE case_id = $1::bigint", &f, NULL) != TL_OK ||
        pg_command(st,
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
