/*
 * pg_domain.c — (PostgreSQL backend) cases, sightings, rate windows, the
 * audit log, the block list, PIN lockouts and USSD sessions; the same
 * contracts as sqlite_domain.c (store.h), for several nodes on one
 * database.
 *
 * Concurrency, statement by statement: every counter (rate windows, PIN
 * failures) is one INSERT … ON CONFLICT DO UPDATE … RETURNING, so a second
 * node's hit waits for the row and counts on the first one's result — no
 * read-then-write. A case number is tried in a savepoint of its own: a
 * number another node took (or holds, uncommitted: the index makes us wait
 * for its end) fails only that savepoint, and the next draw goes on in the
 * caller's transaction. Redaction locks the cases it redacts first and
 * works on exactly that set, so two nodes redacting at once redact (and
 * count) each case once.
 */
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASE_COLUMNS                                                                               \
    "id, coalesce(case_no, ''), state, reporter_phone, reporter_lang, channel, child_name,"        \
    " coalesce(age, -1), coalesce(gender, ''), area_code, area_text, last_seen, description,"      \
    " radius_km, created_at, updated_at, coalesce(verified_at, 0), coalesce(closed_at, 0),"        \
    " missing, asked, stage, contact, close_reason"

static void copy_text(char *dst, size_t dstsz, const PGresult *res, int r, int c)
{
    snprintf(dst, dstsz, "%s", PQgetvalue(res, r, c)); /* "" when NULL */
}

static void case_from_row(const PGresult *res, int r, struct tl_case *c)
{
    memset(c, 0, sizeof(*c));
    c->id = pg_i64(res, r, 0);
    copy_text(c->case_no, sizeof(c->case_no), res, r, 1);
    copy_text(c->state, sizeof(c->state), res, r, 2);
    c->reporter_phone = pg_dup(res, r, 3);
    copy_text(c->lang, sizeof(c->lang), res, r, 4);
    c->channel = pg_dup(res, r, 5);
    c->child_name = pg_dup(res, r, 6);
    c->age = (int)pg_i64(res, r, 7);
    copy_text(c->gender, sizeof(c->gender), res, r, 8);
    c->area_code = pg_dup(res, r, 9);
    c->area_text = pg_dup(res, r, 10);
    c->last_seen = pg_dup(res, r, 11);
    c->description = pg_dup(res, r, 12);
    c->radius_km = pg_f64(res, r, 13);
    c->created_at = pg_i64(res, r, 14);
    c->updated_at = pg_i64(res, r, 15);
    c->verified_at = pg_i64(res, r, 16);
    c->closed_at = pg_i64(res, r, 17);
    c->missing = (unsigned)pg_i64(res, r, 18);
    c->asked = (int)pg_i64(res, r, 19);
    c->stage = (int)pg_i64(res, r, 20);
    c->contact = pg_dup(res, r, 21);
    c->close_reason = pg_dup(res, r, 22);
}

/* Runs a statement returning no rows: TL_OK or TL_ERR_STORE (as the SQLite backend's). */
static int command(struct tl_store *st, const char *sql, const struct pg_params *p)
{
    return pg_command(st, sql, p, NULL) == TL_OK ? TL_OK : TL_ERR_STORE;
}

/* The one case a query found: TL_OK, TL_ERR_NOT_FOUND or TL_ERR_STORE (res NULL). Clears res. */
static int case_one(PGresult *res, struct tl_case *out)
{
    int rc;

    if (res == NULL)
        return TL_ERR_STORE;
    rc = PQntuples(res) > 0 ? TL_OK : TL_ERR_NOT_FOUND;
    if (rc == TL_OK)
        case_from_row(res, 0, out);
    PQclear(res);
    return rc;
}

/* Every field of c as $1..$22, in the order of the INSERT/UPDATE below. */
static void case_params(struct pg_params *p, const struct tl_case *c)
{
    pg_p_text(p, c->case_no[0] ? c->case_no : NULL);
    pg_p_text(p, c->state);
    pg_p_text(p, c->reporter_phone);
    pg_p_text(p, c->lang[0] ? c->lang : "en");
    pg_p_text(p, c->channel);
    pg_p_text(p, c->child_name);
    if (c->age >= 0)
        pg_p_i64(p, c->age);
    else
        pg_p_text(p, NULL);
    pg_p_text(p, c->gender[0] ? c->gender : NULL);
    pg_p_text(p, c->area_code);
    pg_p_text(p, c->area_text);
    pg_p_text(p, c->last_seen);
    pg_p_text(p, c->description);
    pg_p_f64(p, c->radius_km);
    pg_p_i64(p, c->created_at);
    pg_p_i64(p, c->updated_at);
    pg_p_i64_or_null(p, c->verified_at);
    pg_p_i64_or_null(p, c->closed_at);
    pg_p_i64(p, (int)c->missing);
    pg_p_i64(p, c->asked);
    pg_p_i64(p, c->stage);
    pg_p_text(p, c->contact);
    pg_p_text(p, c->close_reason);
}

int pg_case_insert(struct tl_store *st, struct tl_case *c)
{
    struct pg_params p = {0};

    case_params(&p, c);
    int64_t id = pg_query_i64(
        st,
        "INSERT INTO cases (case_no, state, reporter_phone, reporter_lang, channel, child_name,"
        " age, gender, area_code, area_text, last_seen, description, radius_km, created_at,"
        " updated_at, verified_at, closed_at, missing, asked, stage, contact, close_reason)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
        " $18, $19, $20, $21, $22) RETURNING id",
        &p, 0);
    if (id <= 0)
        return TL_ERR_STORE;
    c->id = id;
    return TL_OK;
}

int pg_case_update(struct tl_store *st, const struct tl_case *c)
{
    struct pg_params p = {0};

    case_params(&p, c);
    pg_p_i64(&p, c->id);
    return command(
        st,
        "UPDATE cases SET case_no = $1, state = $2, reporter_phone = $3, reporter_lang = $4,"
        " channel = $5, child_name = $6, age = $7, gender = $8, area_code = $9, area_text = $10,"
        " last_seen = $11, description = $12, radius_km = $13, created_at = $14,"
        " updated_at = $15, verified_at = $16, closed_at = $17, missing = $18, asked = $19,"
        " stage = $20, contact = $21, close_reason = $22 WHERE id = $23",
        &p);
}

int pg_case_assign_number(struct tl_store *st, struct tl_case *c)
{
    for (int tries = 0; tries < 50; tries++) {
        char no[TL_CASENUM_LEN + 1];
        struct pg_params p = {0};
        store_case_number_draw(no);
        pg_p_text(&p, no);
        pg_p_i64(&p, c->id);
        /* A savepoint per try (a transaction when none is open): a taken number fails only it. */
        if (pg_tx_begin(st) != TL_OK)
            return TL_ERR_STORE;
        int rc = pg_command(st, "UPDATE cases SET case_no = $1 WHERE id = $2", &p, NULL);
        if (rc == TL_OK && pg_tx_commit(st) == TL_OK) {
            memcpy(c->case_no, no, sizeof(no));
            return TL_OK;
        }
        pg_tx_rollback(st);
        if (rc != TL_ERR_DUPLICATE)
            return TL_ERR_STORE; /* anything but a taken number is a real failure */
    }
    return TL_ERR_STORE;
}

int pg_case_by_number(struct tl_store *st, const char *case_no, struct tl_case *out)
{
    struct pg_params p = {0};

    pg_p_text(&p, case_no);
    return case_one(pg_query(st, "SELECT " CASE_COLUMNS " FROM cases WHERE case_no = $1", &p), out);
}

int pg_case_by_id(struct tl_store *st, int64_t id, struct tl_case *out)
{
    struct pg_params p = {0};

    pg_p_i64(&p, id);
    return case_one(pg_query(st, "SELECT " CASE_COLUMNS " FROM cases WHERE id = $1", &p), out);
}

int pg_case_open_draft(struct tl_store *st, const char *phone, int64_t since, struct tl_case *out)
{
    struct pg_params p = {0};

    pg_p_text(&p, phone);
    pg_p_i64(&p, since);
    return case_one(pg_query(st,
                             "SELECT " CASE_COLUMNS " FROM cases WHERE reporter_phone = $1"
                             " AND state = 'draft' AND updated_at >= $2"
                             " ORDER BY updated_at DESC LIMIT 1",
                             &p),
                    out);
}

int pg_cases_escalating(struct tl_store *st, int stages, int64_t **ids, size_t *n)
{
    struct pg_params p = {0};

    *ids = NULL;
    *n = 0;
    pg_p_i64(&p, stages);
    PGresult *res = pg_query(st, "SELECT id FROM cases WHERE state = 'active' AND stage < $1", &p);
    if (res == NULL)
        return TL_ERR_STORE;
    int rows = PQntuples(res);
    if (rows > 0) {
        *ids = xmalloc((size_t)rows * sizeof(**ids));
        for (int i = 0; i < rows; i++)
            (*ids)[i] = pg_i64(res, i, 0);
        *n = (size_t)rows;
    }
    PQclear(res);
    return TL_OK;
}

/* The cases whose personal data is due for redaction ($1 = the cut-off time). */
#define REDACTABLE_CASES                                                                           \
    "SELECT id FROM cases WHERE redacted_at IS NULL AND ((state IN"                                \
    " ('found','closed','cancelled') AND closed_at < $1) OR (state = 'draft'"                      \
    " AND updated_at < $1))"

int64_t pg_cases_redact(struct tl_store *st, int64_t before, int64_t now)
{
    /* Every table sqlite_cases_redact redacts, by the ids locked below ($1, an array). */
    static const char *const sqls[] = {
        /* every text that may quote the case: replies to the report and its answers … */
        "UPDATE outbox SET text = '[redacted]' WHERE inbound_id IN (SELECT id FROM inbound"
        " WHERE case_id = ANY ($1::bigint[]))",
        /* … the report and answers themselves, notifications, alerts, updates … */
        "UPDATE inbound SET text = '[redacted]' WHERE case_id = ANY ($1::bigint[])",
        "UPDATE outbox SET text = '[redacted]' WHERE case_id = ANY ($1::bigint[])",
        "UPDATE sightings SET text = '[redacted]', phone = NULL"
        " WHERE case_id = ANY ($1::bigint[])",
        /* the waves' texts, which every alert and update of the case is sent from */
        "UPDATE alerts SET text_en = '[redacted]', text_ur = '[redacted]',"
        " text_roman_ur = '[redacted]' WHERE case_id = ANY ($1::bigint[])",
    };
    struct pg_params p = {0};
    int64_t changed = -1;

    /* Nearly always nothing is due: then no statement scans the outbox. */
    pg_p_i64(&p, before);
    int64_t due = pg_query_i64(st, "SELECT EXISTS (" REDACTABLE_CASES ")", &p, -1);
    if (due <= 0)
        return due;
    if (pg_tx_begin(st) != TL_OK)
        return -1;
    /*
     * The set, locked: a node redacting at the same time waits here, then
     * finds these rows redacted (FOR UPDATE re-checks them) and skips them.
     */
    PGresult *res =
        pg_query(st,
                 "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM (" REDACTABLE_CASES
                 " ORDER BY id FOR UPDATE) AS due",
                 &p);
    if (res == NULL || PQntuples(res) != 1)
        goto fail;
    struct pg_params ids = {0};
    pg_p_text(&ids, PQgetvalue(res, 0, 0)); /* borrowed from res until PQclear below */
    for (size_t i = 0; i < sizeof(sqls) / sizeof(sqls[0]); i++)
        if (pg_command(st, sqls[i], &ids, NULL) != TL_OK)
            goto fail;
    /* … and the case row; closed and abandoned-draft cases alike. Counts stay. */
    pg_p_i64(&ids, now);
    if (pg_command(st,
                   "UPDATE cases SET reporter_phone = NULL, child_name = NULL, area_text = NULL,"
                   " contact = NULL, close_reason = NULL, last_seen = NULL, description = NULL,"
                   " redacted_at = $2 WHERE id = ANY ($1::bigint[])",
                   &ids, &changed) != TL_OK)
        goto fail;
    PQclear(res);
    res = NULL;
    if (pg_tx_commit(st) != TL_OK)
        goto fail;
    return changed;
fail:
    PQclear(res);
    pg_tx_rollback(st);
    return -1;
}

int pg_sighting_add(struct tl_store *st, int64_t case_id, const char *phone, const char *text,
                    int64_t now)
{
    struct pg_params p = {0};

    pg_p_i64(&p, case_id);
    pg_p_text(&p, phone);
    pg_p_text(&p, text);
    pg_p_i64(&p, now);
    return command(st,
                   "INSERT INTO sightings (case_id, phone, text, created_at)"
                   " VALUES ($1, $2, $3, $4)",
                   &p);
}

int pg_inbound_set_case(struct tl_store *st, int64_t inbound_id, int64_t case_id)
{
    struct pg_params p = {0};

    pg_p_i64(&p, inbound_id);
    pg_p_i64(&p, case_id);
    return command(st, "UPDATE inbound SET case_id = $2 WHERE id = $1", &p);
}

/* ---- limits, the block list, PIN lockouts, the audit log ---- */

/* Runs a statement taking one text parameter; returns the rows it changed, or -1. */
static int64_t exec_changes(struct tl_store *st, const char *sql, const char *arg)
{
    struct pg_params p = {0};
    int64_t changed = 0;

    pg_p_text(&p, arg);
    return pg_command(st, sql, &p, &changed) == TL_OK ? changed : -1;
}

int64_t pg_rate_hit(struct tl_store *st, const char *phone, const char *kind, int64_t now,
                    int64_t window_s)
{
    struct pg_params p = {0};

    pg_p_text(&p, phone);
    pg_p_text(&p, kind);
    pg_p_i64(&p, now);
    pg_p_i64(&p, window_s);
    /*
     * One statement: a second node's hit on the same row waits for this
     * one and counts on its result. A window older than window_s starts
     * over at this hit (the SET expressions all read the row as it was).
     */
    return pg_query_i64(st,
                        "INSERT INTO rate_windows AS w (phone, kind, window_start, count)"
                        " VALUES ($1, $2, $3::bigint, 1) ON CONFLICT (phone, kind) DO UPDATE SET"
                        " window_start = CASE WHEN w.window_start > $3::bigint - $4::bigint"
                        "   THEN w.window_start ELSE $3::bigint END,"
                        " count = CASE WHEN w.window_start > $3::bigint - $4::bigint"
                        "   THEN w.count + 1 ELSE 1 END"
                        " RETURNING count",
                        &p, -1);
}

/* The failures of a row after one more: its count restarts when its window ($4 s) has passed. */
#define PIN_COUNT                                                                                  \
    "((CASE WHEN l.first_at + $4::bigint <= $3::bigint THEN 0 ELSE l.failures END) + 1)"

int pg_pin_failure(struct tl_store *st, const char *key, int64_t max, int64_t lock_s, int64_t now,
                   int64_t *locked_until)
{
    struct pg_params p = {0};

    *locked_until = 0;
    pg_p_text(&p, key);
    pg_p_i64(&p, max);
    pg_p_i64(&p, now);
    pg_p_i64(&p, lock_s);
    /* one statement (the row locked): start, count, or restart the window; lock at max */
    PGresult *res = pg_query(
        st,
        "INSERT INTO pin_lockouts AS l (key, failures, first_at, locked_until)"
        " VALUES ($1, CASE WHEN $2::bigint <= 1 THEN 0 ELSE 1 END, $3::bigint,"
        "         CASE WHEN $2::bigint <= 1 THEN $3::bigint + $4::bigint ELSE 0 END)"
        " ON CONFLICT (key) DO UPDATE SET"
        "  locked_until = CASE WHEN " PIN_COUNT " >= $2::bigint THEN $3::bigint + $4::bigint"
        "                 ELSE l.locked_until END,"
        "  first_at = CASE WHEN l.first_at + $4::bigint <= $3::bigint"
        "             OR " PIN_COUNT " >= $2::bigint THEN $3::bigint ELSE l.first_at END,"
        "  failures = CASE WHEN " PIN_COUNT " >= $2::bigint THEN 0 ELSE " PIN_COUNT " END"
        " RETURNING locked_until",
        &p);
    if (res == NULL)
        return TL_ERR_STORE;
    if (PQntuples(res) == 1) {
        int64_t until = pg_i64(res, 0, 0);
        *locked_until = until == now + lock_s ? until : 0; /* locked by this failure */
    }
    PQclear(res);
    return TL_OK;
}

int64_t pg_pin_locked_until(struct tl_store *st, const char *key, int64_t now)
{
    struct pg_params p = {0};

    pg_p_text(&p, key);
    PGresult *res = pg_query(st, "SELECT locked_until FROM pin_lockouts WHERE key = $1", &p);
    if (res == NULL)
        return -1;
    int64_t until = PQntuples(res) > 0 ? pg_i64(res, 0, 0) : 0;
    PQclear(res);
    return until > now ? until : 0;
}

int64_t pg_pin_clear(struct tl_store *st, const char *key)
{
    return exec_changes(st, "DELETE FROM pin_lockouts WHERE key = $1", key);
}

bool pg_blocked(struct tl_store *st, const char *phone)
{
    struct pg_params p = {0};

    pg_p_text(&p, phone);
    return pg_query_i64(st, "SELECT 1 FROM blocklist WHERE phone = $1", &p, 0) == 1;
}

int pg_block(struct tl_store *st, const char *phone, const char *reason, int64_t now)
{
    struct pg_params p = {0};

    pg_p_text(&p, phone);
    pg_p_text(&p, reason);
    pg_p_i64(&p, now);
    return command(st,
                   "INSERT INTO blocklist (phone, reason, created_at) VALUES ($1, $2, $3)"
                   " ON CONFLICT (phone) DO UPDATE SET reason = $2",
                   &p);
}

int64_t pg_unblock(struct tl_store *st, const char *phone)
{
    return exec_changes(st, "DELETE FROM blocklist WHERE phone = $1", phone);
}

int pg_audit(struct tl_store *st, const char *actor, const char *action, int64_t case_id,
             const char *outcome, const char *detail, int64_t now)
{
    struct pg_params p = {0};

    pg_p_i64(&p, now);
    pg_p_text(&p, actor);
    pg_p_text(&p, action);
    if (case_id > 0)
        pg_p_i64(&p, case_id);
    else
        pg_p_text(&p, NULL);
    pg_p_text(&p, outcome);
    pg_p_text(&p, detail);
    return command(st,
                   "INSERT INTO audit_log (at, actor, action, case_id, outcome, detail)"
                   " VALUES ($1, $2, $3, $4, $5, $6)",
                   &p);
}

/* ---- USSD sessions ---- */

int pg_ussd_session_get(struct tl_store *st, const char *channel, const char *session_id,
                        struct tl_ussd_session *out)
{
    struct pg_params p = {0};

    memset(out, 0, sizeof(*out));
    pg_p_text(&p, channel);
    pg_p_text(&p, session_id);
    PGresult *res = pg_query(st,
                             "SELECT phone, state, data, last_input, last_reply, expires_at"
                             " FROM ussd_sessions WHERE channel = $1 AND session_id = $2",
                             &p);
    if (res == NULL)
        return TL_ERR_STORE;
    int rc = PQntuples(res) > 0 ? TL_OK : TL_ERR_NOT_FOUND;
    if (rc == TL_OK) {
        out->phone = pg_dup(res, 0, 0);
        out->state = pg_dup(res, 0, 1);
        out->data = pg_dup(res, 0, 2);
        out->last_input = pg_dup(res, 0, 3);
        out->last_reply = pg_dup(res, 0, 4);
        out->expires_at = pg_i64(res, 0, 5);
    }
    PQclear(res);
    return rc;
}

int pg_ussd_session_put(struct tl_store *st, const char *channel, const char *session_id,
                        const struct tl_ussd_session *u, int64_t now)
{
    struct pg_params p = {0};

    pg_p_text(&p, channel);
    pg_p_text(&p, session_id);
    pg_p_text(&p, u->phone);
    pg_p_text(&p, u->state);
    pg_p_text(&p, u->data);
    pg_p_text(&p, u->last_input);
    pg_p_text(&p, u->last_reply);
    pg_p_i64(&p, now);
    pg_p_i64(&p, u->expires_at);
    return command(st,
                   "INSERT INTO ussd_sessions (channel, session_id, phone, state, data,"
                   " last_input, last_reply, updated_at, expires_at)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                   " ON CONFLICT (channel, session_id) DO UPDATE SET phone = $3, state = $4,"
                   " data = $5, last_input = $6, last_reply = $7, updated_at = $8,"
                   " expires_at = $9",
                   &p);
}

int64_t pg_ussd_sessions_expire(struct tl_store *st, int64_t now)
{
    struct pg_params p = {0};
    int64_t changed = 0;

    pg_p_i64(&p, now);
    return pg_command(st, "DELETE FROM ussd_sessions WHERE expires_at < $1", &p, &changed) == TL_OK
               ? changed
               : -1;
}
