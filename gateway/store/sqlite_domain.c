/*
 * sqlite_domain.c — (SQLite backend) the domain's tables: cases, sightings, subscribers and
 * their areas, police, the block list, rate events, the audit log and USSD
 * sessions (see store.h for each function's contract). Alert waves are
 * store_wave.c's.
 */
#include "gateway/store/store.h"
#include "gateway/store/sqlite_int.h"
#include "parsers/casenum.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASE_COLUMNS                                                                               \
    "id, coalesce(case_no, ''), state, reporter_phone, reporter_lang, channel, child_name,"        \
    " coalesce(age, -1), coalesce(gender, ''), area_code, area_text, last_seen, description,"      \
    " radius_km, created_at, updated_at, coalesce(verified_at, 0), coalesce(closed_at, 0),"        \
    " missing, asked, stage, contact, close_reason"

static void copy_text(char *dst, size_t dstsz, sqlite3_stmt *s, int i)
{
    const char *v = (const char *)sqlite3_column_text(s, i);

    snprintf(dst, dstsz, "%s", v ? v : "");
}

static void case_from_row(sqlite3_stmt *s, struct tl_case *c)
{
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(s, 0);
    copy_text(c->case_no, sizeof(c->case_no), s, 1);
    copy_text(c->state, sizeof(c->state), s, 2);
    c->reporter_phone = store_column_dup(s, 3);
    copy_text(c->lang, sizeof(c->lang), s, 4);
    c->channel = store_column_dup(s, 5);
    c->child_name = store_column_dup(s, 6);
    c->age = sqlite3_column_int(s, 7);
    copy_text(c->gender, sizeof(c->gender), s, 8);
    c->area_code = store_column_dup(s, 9);
    c->area_text = store_column_dup(s, 10);
    c->last_seen = store_column_dup(s, 11);
    c->description = store_column_dup(s, 12);
    c->radius_km = sqlite3_column_double(s, 13);
    c->created_at = sqlite3_column_int64(s, 14);
    c->updated_at = sqlite3_column_int64(s, 15);
    c->verified_at = sqlite3_column_int64(s, 16);
    c->closed_at = sqlite3_column_int64(s, 17);
    c->missing = (unsigned)sqlite3_column_int(s, 18);
    c->asked = sqlite3_column_int(s, 19);
    c->stage = sqlite3_column_int(s, 20);
    c->contact = store_column_dup(s, 21);
    c->close_reason = store_column_dup(s, 22);
}

static int case_one(sqlite3_stmt *s, struct tl_case *out)
{
    int rc = sqlite3_step(s);

    if (rc == SQLITE_ROW)
        case_from_row(s, out);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? TL_OK : rc == SQLITE_DONE ? TL_ERR_NOT_FOUND : TL_ERR_STORE;
}

/* Binds every field of c at ?1..?22 in the order of the UPDATE/INSERT below. */
static void case_bind(sqlite3_stmt *s, const struct tl_case *c)
{
    store_bind_text(s, 1, c->case_no[0] ? c->case_no : NULL);
    store_bind_text(s, 2, c->state);
    store_bind_text(s, 3, c->reporter_phone);
    store_bind_text(s, 4, c->lang[0] ? c->lang : "en");
    store_bind_text(s, 5, c->channel);
    store_bind_text(s, 6, c->child_name);
    if (c->age >= 0)
        sqlite3_bind_int(s, 7, c->age);
    else
        sqlite3_bind_null(s, 7);
    store_bind_text(s, 8, c->gender[0] ? c->gender : NULL);
    store_bind_text(s, 9, c->area_code);
    store_bind_text(s, 10, c->area_text);
    store_bind_text(s, 11, c->last_seen);
    store_bind_text(s, 12, c->description);
    sqlite3_bind_double(s, 13, c->radius_km);
    sqlite3_bind_int64(s, 14, c->created_at);
    sqlite3_bind_int64(s, 15, c->updated_at);
    if (c->verified_at)
        sqlite3_bind_int64(s, 16, c->verified_at);
    if (c->closed_at)
        sqlite3_bind_int64(s, 17, c->closed_at);
    sqlite3_bind_int(s, 18, (int)c->missing);
    sqlite3_bind_int(s, 19, c->asked);
    sqlite3_bind_int(s, 20, c->stage);
    store_bind_text(s, 21, c->contact);
    store_bind_text(s, 22, c->close_reason);
}

int sqlite_case_insert(struct tl_store *st, struct tl_case *c)
{
    static const char sql[] =
        "INSERT INTO cases (case_no, state, reporter_phone, reporter_lang, channel, child_name,"
        " age, gender, area_code, area_text, last_seen, description, radius_km, created_at,"
        " updated_at, verified_at, closed_at, missing, asked, stage, contact, close_reason)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?21, ?22)";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    case_bind(s, c);
    if (store_step_done(s) != TL_OK)
        return TL_ERR_STORE;
    c->id = sqlite3_last_insert_rowid(st->db);
    return TL_OK;
}

int sqlite_case_update(struct tl_store *st, const struct tl_case *c)
{
    static const char sql[] =
        "UPDATE cases SET case_no = ?1, state = ?2, reporter_phone = ?3, reporter_lang = ?4,"
        " channel = ?5, child_name = ?6, age = ?7, gender = ?8, area_code = ?9, area_text = ?10,"
        " last_seen = ?11, description = ?12, radius_km = ?13, created_at = ?14,"
        " updated_at = ?15, verified_at = ?16, closed_at = ?17, missing = ?18, asked = ?19,"
        " stage = ?20, contact = ?21, close_reason = ?22 WHERE id = ?23";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    case_bind(s, c);
    sqlite3_bind_int64(s, 23, c->id);
    return store_step_done(s);
}

int sqlite_case_assign_number(struct tl_store *st, struct tl_case *c)
{
    static const char sql[] = "UPDATE cases SET case_no = ?1 WHERE id = ?2";

    for (int tries = 0; tries < 50; tries++) {
        char no[TL_CASENUM_LEN + 1];
        store_case_number_draw(no);
        sqlite3_stmt *s = store_stmt(st, sql);
        if (s == NULL)
            return TL_ERR_STORE;
        store_bind_text(s, 1, no);
        sqlite3_bind_int64(s, 2, c->id);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc == SQLITE_DONE) {
            memcpy(c->case_no, no, sizeof(no));
            return TL_OK;
        }
        /* Extended result codes are on: a taken number is SQLITE_CONSTRAINT_UNIQUE. */
        if ((rc & 0xff) != SQLITE_CONSTRAINT)
            return TL_ERR_STORE; /* anything but a taken number is a real failure */
    }
    return TL_ERR_STORE;
}

int sqlite_case_by_number(struct tl_store *st, const char *case_no, struct tl_case *out)
{
    static const char sql[] = "SELECT " CASE_COLUMNS " FROM cases WHERE case_no = ?1";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, case_no);
    return case_one(s, out);
}

int sqlite_case_by_id(struct tl_store *st, int64_t id, struct tl_case *out)
{
    static const char sql[] = "SELECT " CASE_COLUMNS " FROM cases WHERE id = ?1";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, id);
    return case_one(s, out);
}

int sqlite_case_open_draft(struct tl_store *st, const char *phone, int64_t since,
                          struct tl_case *out)
{
    static const char sql[] = "SELECT " CASE_COLUMNS " FROM cases WHERE reporter_phone = ?1"
                              " AND state = 'draft' AND updated_at >= ?2"
                              " ORDER BY updated_at DESC LIMIT 1";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, phone);
    sqlite3_bind_int64(s, 2, since);
    return case_one(s, out);
}

int sqlite_cases_escalating(struct tl_store *st, int stages, int64_t **ids, size_t *n)
{
    static const char sql[] = "SELECT id FROM cases WHERE state = 'active' AND stage < ?1";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    *ids = NULL;
    *n = 0;
    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int(s, 1, stages);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

/* The cases whose personal data is due for redaction (?1 = the cut-off time). */
#define REDACTABLE_CASES                                                                           \
    "SELECT id FROM cases WHERE redacted_at IS NULL AND ((state IN"                               \
    " ('found','closed','cancelled') AND closed_at < ?1) OR (state = 'draft'"                     \
    " AND updated_at < ?1))"

int64_t sqlite_cases_redact(struct tl_store *st, int64_t before, int64_t now)
{
    static const char *const sqls[] = {
        /* every text that may quote the case: replies to the report and its answers … */
        "UPDATE outbox SET text = '[redacted]' WHERE inbound_id IN (SELECT id FROM inbound"
        " WHERE case_id IN (" REDACTABLE_CASES "))",
        /* … the report and answers themselves, notifications, alerts, updates … */
        "UPDATE inbound SET text = '[redacted]' WHERE case_id IN (" REDACTABLE_CASES ")",
        "UPDATE outbox SET text = '[redacted]' WHERE case_id IN (" REDACTABLE_CASES ")",
        "UPDATE sightings SET text = '[redacted]', phone = NULL WHERE case_id IN ("
        REDACTABLE_CASES ")",
        /* the waves' texts, which every alert and update of the case is sent from */
        "UPDATE alerts SET text_en = '[redacted]', text_ur = '[redacted]',"
        " text_roman_ur = '[redacted]' WHERE case_id IN (" REDACTABLE_CASES ")",
        /* … and the case row; closed and abandoned-draft cases alike. Counts stay. */
        "UPDATE cases SET reporter_phone = NULL, child_name = NULL, area_text = NULL,"
        " contact = NULL, close_reason = NULL, last_seen = NULL, description = NULL,"
        " redacted_at = ?2 WHERE id IN (" REDACTABLE_CASES ")",
    };
    /* Nearly always nothing is due: then no statement scans the outbox (a million rows). */
    static const char any[] = "SELECT EXISTS (" REDACTABLE_CASES ")";
    const size_t last = sizeof(sqls) / sizeof(sqls[0]) - 1;
    int64_t changed = 0;
    sqlite3_stmt *s = store_stmt(st, any);
    int due;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, before);
    due = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_reset(s);
    if (due <= 0)
        return due;
    if (sqlite_tx_begin(st) != TL_OK)
        return -1;
    for (size_t i = 0; i <= last; i++) {
        s = store_stmt(st, sqls[i]);
        if (s == NULL)
            goto fail;
        sqlite3_bind_int64(s, 1, before);
        if (i == last)
            sqlite3_bind_int64(s, 2, now);
        if (store_step_done(s) != TL_OK)
            goto fail;
        if (i == last)
            changed = sqlite3_changes(st->db);
    }
    if (sqlite_tx_commit(st) != TL_OK)
        goto fail;
    return changed;
fail:
    sqlite_tx_rollback(st);
    return -1;
}

int sqlite_sighting_add(struct tl_store *st, int64_t case_id, const char *phone, const char *text,
                       int64_t now)
{
    static const char sql[] =
        "INSERT INTO sightings (case_id, phone, text, created_at) VALUES (?1, ?2, ?3, ?4)";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, case_id);
    store_bind_text(s, 2, phone);
    store_bind_text(s, 3, text);
    sqlite3_bind_int64(s, 4, now);
    return store_step_done(s);
}

int sqlite_inbound_set_case(struct tl_store *st, int64_t inbound_id, int64_t case_id)
{
    static const char sql[] = "UPDATE inbound SET case_id = ?2 WHERE id = ?1";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, inbound_id);
    sqlite3_bind_int64(s, 2, case_id);
    return store_step_done(s);
}

/* ---- people ---- */

int sqlite_subscriber_touch(struct tl_store *st, const char *phone, const char *lang,
                           const char *channel, int64_t now, int64_t *id)
{
    static const char sql[] =
        "INSERT INTO subscribers (phone, lang, channel, created_at, updated_at)"
        " VALUES (?1, coalesce(?2, 'en'), ?3, ?4, ?4) ON CONFLICT (phone) DO UPDATE SET"
        " lang = coalesce(?2, lang), channel = coalesce(?3, channel), updated_at = ?4"
        " RETURNING id";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, phone);
    store_bind_text(s, 2, lang);
    store_bind_text(s, 3, channel);
    sqlite3_bind_int64(s, 4, now);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && id != NULL)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? TL_OK : TL_ERR_STORE;
}

int sqlite_subscriber_lang(struct tl_store *st, const char *phone, const char *channel,
                          char lang[12], bool *on_channel)
{
    static const char sql[] = "SELECT lang, channel IS ?2 FROM subscribers WHERE phone = ?1";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    lang[0] = '\0';
    if (on_channel != NULL)
        *on_channel = false;
    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, phone);
    store_bind_text(s, 2, channel);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        copy_text(lang, 12, s, 0);
        if (on_channel != NULL)
            *on_channel = sqlite3_column_int(s, 1) != 0;
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

int sqlite_subscription_add(struct tl_store *st, int64_t subscriber_id, const char *area_code,
                           int64_t now)
{
    /* The phone is copied for alert waves; an opted-out number gets no subscription. */
    static const char sql[] = "INSERT OR IGNORE INTO subscriptions (subscriber_id, area_code,"
                              " phone, created_at) SELECT id, ?2, phone, ?3 FROM subscribers"
                              " WHERE id = ?1 AND opted_out = 0";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, subscriber_id);
    store_bind_text(s, 2, area_code);
    sqlite3_bind_int64(s, 3, now);
    return store_step_done(s);
}

/* Runs sql with one text parameter and collects its first column (strings,
 * owned by the caller: store_strings_free). */
static int strings_query(struct tl_store *st, const char *sql, const char *param, char ***out,
                         size_t *n)
{
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    *out = NULL;
    *n = 0;
    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, param);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *out = xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[(*n)++] = store_column_dup(s, 0);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

int sqlite_sender_areas(struct tl_store *st, const char *phone, char ***codes, size_t *n)
{
    /* Where this number already belongs: its subscriptions, the areas of the
     * cases it reported, its police registrations. Only read for a message
     * whose area name is ambiguous. */
    static const char sql[] = "SELECT area_code FROM subscriptions WHERE phone = ?1"
                              " UNION SELECT area_code FROM cases WHERE reporter_phone = ?1"
                              " AND area_code IS NOT NULL"
                              " UNION SELECT area_code FROM police WHERE phone = ?1 LIMIT 32";

    return strings_query(st, sql, phone, codes, n);
}

int64_t sqlite_subscription_remove(struct tl_store *st, int64_t subscriber_id,
                                  const char *area_code)
{
    static const char sql[] = "DELETE FROM subscriptions WHERE subscriber_id = ?1"
                              " AND (?2 IS NULL OR area_code = ?2)";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, subscriber_id);
    store_bind_text(s, 2, area_code);
    if (store_step_done(s) != TL_OK)
        return -1;
    return sqlite3_changes(st->db);
}

int sqlite_subscriber_set_opted_out(struct tl_store *st, const char *phone, bool opted_out,
                                   int64_t now)
{
    static const char sql[] = "INSERT INTO subscribers (phone, opted_out, created_at, updated_at)"
                              " VALUES (?1, ?2, ?3, ?3) ON CONFLICT (phone) DO UPDATE SET"
                              " opted_out = ?2, updated_at = ?3";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, phone);
    sqlite3_bind_int(s, 2, opted_out ? 1 : 0);
    sqlite3_bind_int64(s, 3, now);
    return store_step_done(s);
}

int sqlite_police_add(struct tl_store *st, const char *phone, const char *area_code,
                     const char *pin_hash, int64_t now)
{
    static const char sql[] = "INSERT INTO police (phone, area_code, pin_hash, created_at)"
                              " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (phone, area_code)"
                              " DO UPDATE SET pin_hash = ?3";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, phone);
    store_bind_text(s, 2, area_code);
    store_bind_text(s, 3, pin_hash);
    sqlite3_bind_int64(s, 4, now);
    return store_step_done(s);
}

/* Runs a statement taking one text parameter; returns the rows it changed, or -1. */
static int64_t exec_changes(struct tl_store *st, const char *sql, const char *arg)
{
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, arg);
    if (store_step_done(s) != TL_OK)
        return -1;
    return sqlite3_changes(st->db);
}

int64_t sqlite_police_remove(struct tl_store *st, const char *phone)
{
    static const char sql[] = "DELETE FROM police WHERE phone = ?1";

    return exec_changes(st, sql, phone);
}

int sqlite_police_list(struct tl_store *st, const char *phone, struct tl_police **out, size_t *n)
{
    static const char sql[] = "SELECT phone, area_code, pin_hash, id FROM police"
                              " WHERE ?1 IS NULL OR phone = ?1 ORDER BY phone, area_code";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    *out = NULL;
    *n = 0;
    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, phone);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *out = xrealloc(*out, (*n + 1) * sizeof(**out));
        (*out)[*n].phone = store_column_dup(s, 0);
        (*out)[*n].area_code = store_column_dup(s, 1);
        (*out)[*n].pin_hash = store_column_dup(s, 2);
        (*out)[*n].id = sqlite3_column_int64(s, 3);
        (*n)++;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

/* The failures of a row after one more: its count restarts when its window (?4 s) has passed. */
#define PIN_COUNT "((CASE WHEN first_at + ?4 <= ?3 THEN 0 ELSE failures END) + 1)"

int sqlite_pin_failure(struct tl_store *st, const char *key, int64_t max, int64_t lock_s,
                      int64_t now, int64_t *locked_until)
{
    /* one statement: start, count, or restart the window; lock at max */
    static const char sql[] =
        "INSERT INTO pin_lockouts (key, failures, first_at, locked_until)"
        " VALUES (?1, CASE WHEN ?2 <= 1 THEN 0 ELSE 1 END, ?3,"
        "         CASE WHEN ?2 <= 1 THEN ?3 + ?4 ELSE 0 END)"
        " ON CONFLICT (key) DO UPDATE SET"
        "  locked_until = CASE WHEN " PIN_COUNT " >= ?2 THEN ?3 + ?4 ELSE locked_until END,"
        "  first_at = CASE WHEN first_at + ?4 <= ?3 OR " PIN_COUNT " >= ?2 THEN ?3"
        "             ELSE first_at END,"
        "  failures = CASE WHEN " PIN_COUNT " >= ?2 THEN 0 ELSE " PIN_COUNT " END"
        " RETURNING locked_until";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    *locked_until = 0;
    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, key);
    sqlite3_bind_int64(s, 2, max);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, lock_s);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        int64_t until = sqlite3_column_int64(s, 0);
        *locked_until = until == now + lock_s ? until : 0; /* locked by this failure */
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

int64_t sqlite_pin_locked_until(struct tl_store *st, const char *key, int64_t now)
{
    static const char sql[] = "SELECT locked_until FROM pin_lockouts WHERE key = ?1";
    sqlite3_stmt *s = store_stmt(st, sql);
    int64_t until = 0;
    int rc;

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, key);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        until = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return -1;
    return until > now ? until : 0;
}

int64_t sqlite_pin_clear(struct tl_store *st, const char *key)
{
    static const char sql[] = "DELETE FROM pin_lockouts WHERE key = ?1";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, key);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? (int64_t)sqlite3_changes(st->db) : -1;
}

int sqlite_police_phones_for(struct tl_store *st, const char *area_codes_json, char ***phones,
                            size_t *n)
{
    static const char sql[] = "SELECT DISTINCT phone FROM police WHERE area_code IN"
                              " (SELECT value FROM json_each(?1)) ORDER BY phone";

    return strings_query(st, sql, area_codes_json, phones, n);
}

bool sqlite_blocked(struct tl_store *st, const char *phone)
{
    static const char sql[] = "SELECT 1 FROM blocklist WHERE phone = ?1";
    sqlite3_stmt *s = store_stmt(st, sql);
    bool blocked;

    if (s == NULL)
        return false;
    store_bind_text(s, 1, phone);
    blocked = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return blocked;
}

int sqlite_block(struct tl_store *st, const char *phone, const char *reason, int64_t now)
{
    static const char sql[] = "INSERT INTO blocklist (phone, reason, created_at) VALUES"
                              " (?1, ?2, ?3) ON CONFLICT (phone) DO UPDATE SET reason = ?2";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, phone);
    store_bind_text(s, 2, reason);
    sqlite3_bind_int64(s, 3, now);
    return store_step_done(s);
}

int64_t sqlite_unblock(struct tl_store *st, const char *phone)
{
    static const char sql[] = "DELETE FROM blocklist WHERE phone = ?1";

    return exec_changes(st, sql, phone);
}

int64_t sqlite_rate_hit(struct tl_store *st, const char *phone, const char *kind, int64_t now,
                       int64_t window_s)
{
    /*
     * Read, count in C, write: two plain statements cost a third of one
     * UPSERT … RETURNING, whose results SQLite 3.40 collects in a
     * temporary table. A window older than window_s starts over at this hit.
     */
    static const char get_sql[] =
        "SELECT window_start, count FROM rate_windows WHERE phone = ?1 AND kind = ?2";
    static const char put_sql[] =
        "INSERT INTO rate_windows (phone, kind, window_start, count) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (phone, kind) DO UPDATE SET window_start = excluded.window_start,"
        " count = excluded.count";
    sqlite3_stmt *s = store_stmt(st, get_sql);
    int64_t start = now, n = 1;
    int rc;

    if (s == NULL)
        return -1;
    store_bind_text(s, 1, phone);
    store_bind_text(s, 2, kind);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_int64(s, 0) > now - window_s) {
        start = sqlite3_column_int64(s, 0);
        n = sqlite3_column_int64(s, 1) + 1;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if ((s = store_stmt(st, put_sql)) == NULL)
        return -1;
    store_bind_text(s, 1, phone);
    store_bind_text(s, 2, kind);
    sqlite3_bind_int64(s, 3, start);
    sqlite3_bind_int64(s, 4, n);
    return store_step_done(s) == TL_OK ? n : -1;
}

int sqlite_audit(struct tl_store *st, const char *actor, const char *action, int64_t case_id,
                const char *outcome, const char *detail, int64_t now)
{
    static const char sql[] = "INSERT INTO audit_log (at, actor, action, case_id, outcome,"
                              " detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, now);
    store_bind_text(s, 2, actor);
    store_bind_text(s, 3, action);
    if (case_id > 0)
        sqlite3_bind_int64(s, 4, case_id);
    store_bind_text(s, 5, outcome);
    store_bind_text(s, 6, detail);
    return store_step_done(s);
}

/* ---- USSD sessions ---- */

int sqlite_ussd_session_get(struct tl_store *st, const char *channel, const char *session_id,
                           struct tl_ussd_session *out)
{
    static const char sql[] = "SELECT phone, state, data, last_input, last_reply, expires_at"
                              " FROM ussd_sessions WHERE channel = ?1 AND session_id = ?2";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, channel);
    store_bind_text(s, 2, session_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->phone = store_column_dup(s, 0);
        out->state = store_column_dup(s, 1);
        out->data = store_column_dup(s, 2);
        out->last_input = store_column_dup(s, 3);
        out->last_reply = store_column_dup(s, 4);
        out->expires_at = sqlite3_column_int64(s, 5);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? TL_OK : rc == SQLITE_DONE ? TL_ERR_NOT_FOUND : TL_ERR_STORE;
}

int sqlite_ussd_session_put(struct tl_store *st, const char *channel, const char *session_id,
                           const struct tl_ussd_session *u, int64_t now)
{
    static const char sql[] =
        "INSERT INTO ussd_sessions (channel, session_id, phone, state, data, last_input,"
        " last_reply, updated_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT (channel, session_id) DO UPDATE SET phone = ?3, state = ?4, data = ?5,"
        " last_input = ?6, last_reply = ?7, updated_at = ?8, expires_at = ?9";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, channel);
    store_bind_text(s, 2, session_id);
    store_bind_text(s, 3, u->phone);
    store_bind_text(s, 4, u->state);
    store_bind_text(s, 5, u->data);
    store_bind_text(s, 6, u->last_input);
    store_bind_text(s, 7, u->last_reply);
    sqlite3_bind_int64(s, 8, now);
    sqlite3_bind_int64(s, 9, u->expires_at);
    return store_step_done(s);
}

int64_t sqlite_ussd_sessions_expire(struct tl_store *st, int64_t now)
{
    static const char sql[] = "DELETE FROM ussd_sessions WHERE expires_at < ?1";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, now);
    if (store_step_done(s) != TL_OK)
        return -1;
    return sqlite3_changes(st->db);
}
