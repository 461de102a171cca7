/*
 * pg_people.c — (PostgreSQL backend) subscribers, their subscriptions and
 * the police registrations: the pg_ twins of sqlite_domain.c's people
 * functions, with the same contracts (store.h). Alert waves are
 * pg_wave.c's.
 *
 * Several nodes share these tables, so each write is one statement whose
 * outcome does not depend on which node runs it: upserts on the unique
 * keys (a second node's insert waits for the first's and then updates or
 * does nothing), and STOP-wins under races. Opting out deletes the
 * number's subscriptions (the schema's trigger); a subscription_add on
 * another node at the same moment takes a share lock on the subscriber
 * row, so it either runs first (and the opt-out's trigger, waiting for it,
 * then deletes what it added) or after (and sees opted_out and adds
 * nothing) — never a subscription left behind an opt-out.
 *
 * Orders are by the bytes of the text (COLLATE "C"), as SQLite's BINARY
 * collation sorts, whatever the database's locale.
 */
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pg_subscriber_touch(struct tl_store *st, const char *phone, const char *lang,
                        const char *channel, int64_t now, int64_t *id)
{
    struct pg_params p = {0};

    pg_p_text(&p, phone);
    pg_p_text(&p, lang);
    pg_p_text(&p, channel);
    pg_p_i64(&p, now);
    PGresult *res = pg_query(
        st,
        "INSERT INTO subscribers (phone, lang, channel, created_at, updated_at)"
        " VALUES ($1, coalesce($2::text, 'en'), $3::text, $4::bigint, $4::bigint)"
        " ON CONFLICT (phone) DO UPDATE SET lang = coalesce($2::text, subscribers.lang),"
        " channel = coalesce($3::text, subscribers.channel), updated_at = $4::bigint"
        " RETURNING id",
        &p);
    if (res == NULL)
        return TL_ERR_STORE;
    int rc = PQntuples(res) == 1 ? TL_OK : TL_ERR_STORE;
    if (rc == TL_OK && id != NULL)
        *id = pg_i64(res, 0, 0);
    PQclear(res);
    return rc;
}

int pg_subscriber_lang(struct tl_store *st, const char *phone, const char *channel,
                       char lang[12], bool *on_channel)
{
    struct pg_params p = {0};

    lang[0] = '\0';
    if (on_channel != NULL)
        *on_channel = false;
    pg_p_text(&p, phone);
    pg_p_text(&p, channel);
    /* IS NOT DISTINCT FROM: SQLite's "channel IS ?2" (NULL matches NULL). */
    PGresult *res = pg_query(st,
                             "SELECT lang, channel IS NOT DISTINCT FROM $2::text"
                             " FROM subscribers WHERE phone = $1",
                             &p);
    if (res == NULL)
        return TL_ERR_STORE;
    if (PQntuples(res) == 1) {
        snprintf(lang, 12, "%s", PQgetvalue(res, 0, 0));
        if (on_channel != NULL)
            *on_channel = pg_i64(res, 0, 1) != 0;
    }
    PQclear(res);
    return TL_OK;
}

/* Runs sql with one text parameter and collects its first column (strings,
 * owned by the caller: store_strings_free). */
static int strings_query(struct tl_store *st, const char *sql, const char *param, char ***out,
                         size_t *n)
{
    struct pg_params p = {0};

    *out = NULL;
    *n = 0;
    pg_p_text(&p, param);
    PGresult *res = pg_query(st, sql, &p);
    if (res == NULL)
        return TL_ERR_STORE;
    int rows = PQntuples(res);
    if (rows > 0) {
        *out = xcalloc((size_t)rows, sizeof(**out));
        for (int r = 0; r < rows; r++)
            (*out)[r] = pg_dup(res, r, 0);
        *n = (size_t)rows;
    }
    PQclear(res);
    return TL_OK;
}

int pg_sender_areas(struct tl_store *st, const char *phone, char ***codes, size_t *n)
{
    /* As sqlite_sender_areas; SQLite's UNION comes out sorted, so ORDER BY here. */
    return strings_query(st,
                         "SELECT area_code COLLATE \"C\" FROM subscriptions WHERE phone = $1"
                         " UNION SELECT area_code FROM cases WHERE reporter_phone = $1"
                         " AND area_code IS NOT NULL"
                         " UNION SELECT area_code FROM police WHERE phone = $1"
                         " ORDER BY 1 LIMIT 32",
                         phone, codes, n);
}

int pg_subscription_add(struct tl_store *st, int64_t subscriber_id, const char *area_code,
                        int64_t now)
{
    struct pg_params p = {0};

    pg_p_i64(&p, subscriber_id);
    pg_p_text(&p, area_code);
    pg_p_i64(&p, now);
    /*
     * The phone is copied for alert waves; an opted-out number gets no
     * subscription. FOR SHARE: an opt-out running on another node waits
     * for this (and its trigger then deletes the row), or this waits for
     * it and reads opted_out = 1 (see the head of the file).
     */
    return pg_command(st,
                      "INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at)"
                      " SELECT id, $2::text, phone, $3::bigint FROM subscribers"
                      " WHERE id = $1::bigint AND opted_out = 0 FOR SHARE"
                      " ON CONFLICT (subscriber_id, area_code) DO NOTHING",
                      &p, NULL);
}

int64_t pg_subscription_remove(struct tl_store *st, int64_t subscriber_id, const char *area_code)
{
    struct pg_params p = {0};
    int64_t changed = 0;

    pg_p_i64(&p, subscriber_id);
    pg_p_text(&p, area_code);
    if (pg_command(st,
                   "DELETE FROM subscriptions WHERE subscriber_id = $1::bigint"
                   " AND ($2::text IS NULL OR area_code = $2::text)",
                   &p, &changed) != TL_OK)
        return -1;
    return changed;
}

int pg_subscriber_set_opted_out(struct tl_store *st, const char *phone, bool opted_out,
                                int64_t now)
{
    struct pg_params p = {0};

    pg_p_text(&p, phone);
    pg_p_i64(&p, opted_out ? 1 : 0);
    pg_p_i64(&p, now);
    /* The trigger subscriptions_end_at_opt_out deletes the number's subscriptions. */
    return pg_command(st,
                      "INSERT INTO subscribers (phone, opted_out, created_at, updated_at)"
                      " VALUES ($1, $2::integer, $3::bigint, $3::bigint)"
                      " ON CONFLICT (phone) DO UPDATE SET opted_out = $2::integer,"
                      " updated_at = $3::bigint",
                      &p, NULL);
}

int pg_police_add(struct tl_store *st, const char *phone, const char *area_code,
                  const char *pin_hash, int64_t now)
{
    struct pg_params p = {0};

    pg_p_text(&p, phone);
    pg_p_text(&p, area_code);
    pg_p_text(&p, pin_hash);
    pg_p_i64(&p, now);
    return pg_command(st,
                      "INSERT INTO police (phone, area_code, pin_hash, created_at)"
                      " VALUES ($1, $2, $3::text, $4::bigint) ON CONFLICT (phone, area_code)"
                      " DO UPDATE SET pin_hash = $3::text",
                      &p, NULL);
}

int64_t pg_police_remove(struct tl_store *st, const char *phone)
{
    struct pg_params p = {0};
    int64_t changed = 0;

    pg_p_text(&p, phone);
    if (pg_command(st, "DELETE FROM police WHERE phone = $1", &p, &changed) != TL_OK)
        return -1;
    return changed;
}

int pg_police_list(struct tl_store *st, const char *phone, struct tl_police **out, size_t *n)
{
    struct pg_params p = {0};

    *out = NULL;
    *n = 0;
    pg_p_text(&p, phone);
    PGresult *res = pg_query(st,
                             "SELECT phone, area_code, pin_hash, id FROM police"
                             " WHERE $1::text IS NULL OR phone = $1::text"
                             " ORDER BY phone COLLATE \"C\", area_code COLLATE \"C\"",
                             &p);
    if (res == NULL)
        return TL_ERR_STORE;
    int rows = PQntuples(res);
    if (rows > 0) {
        *out = xcalloc((size_t)rows, sizeof(**out));
        for (int r = 0; r < rows; r++) {
            (*out)[r].phone = pg_dup(res, r, 0);
            (*out)[r].area_code = pg_dup(res, r, 1);
            (*out)[r].pin_hash = pg_dup(res, r, 2);
            (*out)[r].id = pg_i64(res, r, 3);
        }
        *n = (size_t)rows;
    }
    PQclear(res);
    return TL_OK;
}

int pg_police_phones_for(struct tl_store *st, const char *area_codes_json, char ***phones,
                         size_t *n)
{
    return strings_query(st,
                         "SELECT DISTINCT phone COLLATE \"C\" FROM police WHERE area_code IN"
                         " (SELECT json_array_elements_text($1::json)) ORDER BY 1",
                         area_codes_json, phones, n);
}
