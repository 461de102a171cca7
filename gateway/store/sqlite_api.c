/*
 * sqlite_api.c — (SQLite backend) the operator API's queries (see store_api.h).
 *
 * Documents are built by SQLite's JSON functions, one row a record, joined
 * here into the page; two SQL functions registered on the reader do what
 * SQL cannot: tl_phone(phone, role) masks a number for a viewer, and
 * tl_area_ur(code) gives an area's Urdu name from the gazetteer, and
 * tl_counts(case, kind) counts a case's messages by state (cached a few
 * seconds: see below).
 * Every query is bounded by an index: cases by id (the cursor), by state or
 * by reporter; a case's alert rows by outbox_alert_once, its other rows by
 * outbox_by_case (migration 3); the audit by id.
 */
#include "gateway/store/store_api.h"
#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "gateway/store/sqlite_int.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Counts of a case's messages by state are what a control room watches
 * during an alert, and what costs most: a million-row case takes the
 * reader about a second to count. A count that took COUNTS_SLOW_MS or
 * more is reused for COUNTS_TTL_MS: every look within that gets the same
 * figures. Quick counts (small cases) are always fresh.
 * The reader's connection belongs to one thread, and so does this cache.
 */
#define COUNTS_CACHE 64
#define COUNTS_TTL_MS 5000.0
#define COUNTS_SLOW_MS 50.0

struct counts_entry {
    int64_t case_id;
    char kind[8];
    double at_ms;   /* when counted */
    double cost_ms; /* how long it took */
    char *json;
};

struct reader_ctx {
    tl_area_name_fn area_ur;
    void *ctx;
    struct counts_entry counts[COUNTS_CACHE];
    size_t next; /* the entry to reuse when none matches */
};

static void reader_ctx_free(void *p)
{
    struct reader_ctx *r = p;

    for (size_t i = 0; i < COUNTS_CACHE; i++)
        free(r->counts[i].json);
    free(r);
}

/*
 * tl_counts(case_id, kind): that kind of the case's outbox rows by state, as
 * JSON — the rows still there and those the pruner folded into
 * outbox_tallies (prune.c), so a case's figures stay after its rows go.
 */
static void sql_counts_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    static const char sql[] =
        "SELECT json_object('queued', coalesce(sum(n) FILTER (WHERE state = 'queued'), 0),"
        " 'sending', coalesce(sum(n) FILTER (WHERE state = 'sending'), 0),"
        " 'sent', coalesce(sum(n) FILTER (WHERE state = 'sent'), 0),"
        " 'delivered', coalesce(sum(n) FILTER (WHERE state = 'delivered'), 0),"
        " 'failed', coalesce(sum(n) FILTER (WHERE state = 'failed'), 0),"
        " 'expired', coalesce(sum(n) FILTER (WHERE state = 'expired'), 0),"
        " 'cancelled', coalesce(sum(n) FILTER (WHERE state = 'cancelled'), 0),"
        " 'total', coalesce(sum(n), 0))"
        " FROM (SELECT state, count(*) AS n FROM outbox WHERE case_id = ?1 AND kind = ?2"
        "   GROUP BY state"
        "  UNION ALL SELECT state, sum(n) FROM outbox_tallies WHERE case_id = ?1 AND kind = ?2"
        "   GROUP BY state)";
    struct reader_ctx *r = sqlite3_user_data(cx);
    int64_t case_id = sqlite3_value_int64(argv[0]);
    const char *kind = (const char *)sqlite3_value_text(argv[1]);
    double now = clock_mono_ms();
    struct counts_entry *e = NULL;

    (void)argc;
    if (kind == NULL || strlen(kind) >= sizeof(e->kind)) {
        sqlite3_result_error(cx, "tl_counts: bad kind", -1);
        return;
    }
    for (size_t i = 0; i < COUNTS_CACHE && e == NULL; i++) {
        if (r->counts[i].json && r->counts[i].case_id == case_id &&
            strcmp(r->counts[i].kind, kind) == 0)
            e = &r->counts[i];
    }
    if (e != NULL && e->cost_ms >= COUNTS_SLOW_MS && now - e->at_ms < COUNTS_TTL_MS) {
        sqlite3_result_text(cx, e->json, -1, SQLITE_TRANSIENT);
        return;
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(sqlite3_context_db_handle(cx), sql, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_result_error(cx, "tl_counts: prepare failed", -1);
        return;
    }
    sqlite3_bind_int64(s, 1, case_id);
    sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        sqlite3_result_error(cx, "tl_counts: query failed", -1);
        return;
    }
    if (e == NULL) {
        e = &r->counts[r->next];
        r->next = (r->next + 1) % COUNTS_CACHE;
    }
    free(e->json);
    e->json = xstrdup((const char *)sqlite3_column_text(s, 0));
    e->case_id = case_id;
    snprintf(e->kind, sizeof(e->kind), "%s", kind);
    e->at_ms = now;
    e->cost_ms = clock_mono_ms() - now;
    sqlite3_finalize(s);
    sqlite3_result_text(cx, e->json, -1, SQLITE_TRANSIENT);
}

static void sql_phone_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    const char *phone = (const char *)sqlite3_value_text(argv[0]);
    char masked[LOG_PHONE_BUFSZ];

    (void)argc;
    if (phone == NULL) {
        sqlite3_result_null(cx);
    } else if (sqlite3_value_int(argv[1]) >= TL_ROLE_OPERATOR || phone[0] != '+') {
        sqlite3_result_value(cx, argv[0]);
    } else {
        sqlite3_result_text(cx, log_phone(phone, masked), -1, SQLITE_TRANSIENT);
    }
}

static void sql_area_ur_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    struct reader_ctx *r = sqlite3_user_data(cx);
    const char *code = (const char *)sqlite3_value_text(argv[0]);
    const char *name = code && r->area_ur ? r->area_ur(r->ctx, code) : NULL;

    (void)argc;
    if (name == NULL || name[0] == '\0')
        sqlite3_result_null(cx);
    else
        sqlite3_result_text(cx, name, -1, SQLITE_TRANSIENT);
}

int sqlite_api_open_reader(const char *path, long busy_timeout_ms, tl_area_name_fn area_ur,
                          void *ctx, struct tl_store **out, char **cause)
{
    struct tl_store *st = xcalloc(1, sizeof(*st));
    struct reader_ctx *r = xcalloc(1, sizeof(*r));
    bool r_owned = false; /* by the connection, once tl_area_ur holds it */

    st->ops = &sqlite_store_ops;
    r->area_ur = area_ur;
    r->ctx = ctx;
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_create_function(st->db, "tl_phone", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                sql_phone_fn, NULL, NULL) != SQLITE_OK ||
        !(r_owned = sqlite3_create_function_v2(st->db, "tl_area_ur", 1,
                                               SQLITE_UTF8 | SQLITE_DETERMINISTIC, r,
                                               sql_area_ur_fn, NULL, NULL,
                                               reader_ctx_free) == SQLITE_OK) ||
        sqlite3_create_function(st->db, "tl_counts", 2, SQLITE_UTF8, r, sql_counts_fn, NULL,
                                NULL) != SQLITE_OK) {
        if (!r_owned)
            free(r);
        if (cause != NULL)
            *cause = xasprintf("%s: %s", path, st->db ? sqlite3_errmsg(st->db) : "cannot open");
        sqlite_close(st);
        return TL_ERR_STORE;
    }
    sqlite3_busy_timeout(st->db, (int)busy_timeout_ms);
    *out = st;
    return TL_OK;
}

/* The JSON of one case (alias c, with its area a), as the role may see it; ?1 is the role. */
#define CASE_JSON                                                                                  \
    "json_object('case', c.case_no, 'state', c.state, 'name', c.child_name, 'age', c.age,"        \
    " 'gender', c.gender, 'area', CASE WHEN c.area_code IS NULL THEN NULL ELSE"                    \
    " json_object('code', c.area_code, 'name', a.name_en, 'name_ur', tl_area_ur(c.area_code))"     \
    " END, 'area_text', c.area_text, 'last_seen', c.last_seen, 'description', c.description,"     \
    " 'lang', c.reporter_lang, 'radius_km', c.radius_km, 'stage', c.stage,"                       \
    " 'created_at', c.created_at, 'updated_at', c.updated_at, 'verified_at', c.verified_at,"      \
    " 'closed_at', c.closed_at, 'close_reason', c.close_reason,"                                  \
    " 'redacted', json(CASE WHEN c.redacted_at IS NULL THEN 'false' ELSE 'true' END),"            \
    " 'reporter', CASE WHEN ?1 >= 1 THEN c.reporter_phone END,"                                   \
    " 'contact', CASE WHEN ?1 >= 1 THEN c.contact END)"

/* Steps s: column 0 a record's JSON, column 1 its id; at most limit records, then the cursor. */
static int page_rows(sqlite3_stmt *s, const char *key, int limit, char **json)
{
    struct tl_buf b = {0};
    int n = 0, rc;
    int64_t last = 0;
    bool more = false;

    tl_buf_append_str(&b, "{\"");
    tl_buf_append_str(&b, key);
    tl_buf_append_str(&b, "\":[");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        if (n++ > 0)
            tl_buf_append_char(&b, ',');
        tl_buf_append_str(&b, (const char *)sqlite3_column_text(s, 0));
        last = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        tl_buf_free(&b);
        return TL_ERR_STORE;
    }
    tl_buf_append_str(&b, "],\"next_cursor\":");
    if (more) {
        char cur[32];
        snprintf(cur, sizeof(cur), "\"%lld\"", (long long)last);
        tl_buf_append_str(&b, cur);
    } else {
        tl_buf_append_str(&b, "null");
    }
    tl_buf_append_str(&b, "}");
    *json = tl_buf_steal(&b);
    return TL_OK;
}

/* A statement that returns one row of one JSON text column. */
static int one_doc(sqlite3_stmt *s, char **json)
{
    int rc = sqlite3_step(s);

    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *json = xstrdup((const char *)sqlite3_column_text(s, 0));
        sqlite3_reset(s);
        return TL_OK;
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? TL_ERR_NOT_FOUND : TL_ERR_STORE;
}

int sqlite_api_cases(struct tl_store *st, enum tl_role role, const struct tl_case_filter *f,
                    char **json)
{
    static const char sql[] =
        "WITH RECURSIVE scope(code) AS (SELECT ?3 WHERE ?3 IS NOT NULL"
        "  UNION SELECT ar.code FROM areas ar JOIN scope ON ar.parent_code = scope.code)"
        " SELECT " CASE_JSON ", c.id FROM cases c LEFT JOIN areas a ON a.code = c.area_code"
        " WHERE (?2 IS NULL AND c.state <> 'draft' OR c.state = ?2)"
        "  AND (?3 IS NULL OR c.area_code IN (SELECT code FROM scope))"
        "  AND (?4 = 0 OR c.created_at >= ?4) AND (?5 = 0 OR c.created_at < ?5)"
        "  AND (?6 = 0 OR c.id < ?6)"
        " ORDER BY c.id DESC LIMIT ?7";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int(s, 1, (int)role);
    store_bind_text(s, 2, f->state);
    store_bind_text(s, 3, f->area_code);
    sqlite3_bind_int64(s, 4, f->since);
    sqlite3_bind_int64(s, 5, f->until);
    sqlite3_bind_int64(s, 6, f->before_id);
    sqlite3_bind_int(s, 7, f->limit + 1);
    return page_rows(s, "cases", f->limit, json);
}

/* Counts of one kind of the case c's outbox rows by state (tl_counts, cached). */
#define COUNTS_JSON(kind) "tl_counts(c.id, '" kind "')"

int sqlite_api_case(struct tl_store *st, enum tl_role role, const char *case_no, char **json)
{
    /*
     * The timeline: the report, the police notices, every audited action
     * (the officer's number masked for a viewer), each wave (first alert,
     * escalations, the closing update) and each sighting, in time order.
     */
    static const char sql[] =
        "SELECT json_insert(" CASE_JSON ","
        " '$.alerts', json(" COUNTS_JSON("alert") "),"
        " '$.updates', json(" COUNTS_JSON("update") "),"
        " '$.police_notices', json(" COUNTS_JSON("police") "),"
        " '$.sightings', json((SELECT json_group_array(json_object('at', created_at,"
        "   'from', tl_phone(phone, ?1), 'text', text)) FROM"
        "   (SELECT * FROM sightings WHERE case_id = c.id ORDER BY id))),"
        " '$.timeline', json((SELECT json_group_array(json(e)) FROM (SELECT at, seq, e FROM ("
        "   SELECT c.created_at AS at, 0 AS seq, json_object('at', c.created_at, 'event',"
        "     'reported') AS e"
        "   UNION ALL SELECT min(created_at), 1, json_object('at', min(created_at), 'event',"
        "     'police_notified', 'count', count(*)) FROM outbox"
        "     WHERE case_id = c.id AND kind = 'police'"
        "     HAVING count(*) > 0"
        "   UNION ALL SELECT at, 2 + id, json_object('at', at, 'event', action, 'actor',"
        "     tl_phone(actor, ?1), 'outcome', outcome) FROM audit_log"
        "     WHERE case_id = c.id AND action <> 'report'"
        "   UNION ALL SELECT created_at, 2 + id, json_object('at', created_at, 'event',"
        "     'wave', 'kind', kind, 'radius_km', radius_km) FROM alerts WHERE case_id = c.id"
        "   UNION ALL SELECT created_at, 2 + id, json_object('at', created_at, 'event',"
        "     'sighting') FROM sightings WHERE case_id = c.id"
        "  ) ORDER BY at, seq))))"
        " FROM cases c LEFT JOIN areas a ON a.code = c.area_code"
        " WHERE c.case_no = ?2";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int(s, 1, (int)role);
    store_bind_text(s, 2, case_no);
    return one_doc(s, json);
}

int sqlite_api_subscriber_counts(struct tl_store *st, char **json)
{
    static const char sql[] =
        "SELECT json_object('areas', json((SELECT json_group_array(json_object('code', code,"
        "   'name', name, 'name_ur', tl_area_ur(code), 'subscribers', n)) FROM"
        "   (SELECT s.area_code AS code, a.name_en AS name, count(*) AS n FROM subscriptions s"
        "    LEFT JOIN areas a ON a.code = s.area_code GROUP BY s.area_code ORDER BY n DESC,"
        "    s.area_code))),"
        " 'subscribers', (SELECT count(DISTINCT subscriber_id) FROM subscriptions),"
        " 'opted_out', (SELECT count(*) FROM subscribers WHERE opted_out <> 0))";
    sqlite3_stmt *s = store_stmt(st, sql);

    return s == NULL ? TL_ERR_STORE : one_doc(s, json);
}

int sqlite_api_subscriber(struct tl_store *st, enum tl_role role, const char *phone, char **json)
{
    static const char sql[] =
        "SELECT json_object('phone', tl_phone(s.phone, ?1), 'lang', s.lang, 'channel', s.channel,"
        " 'opted_out', json(CASE WHEN s.opted_out THEN 'true' ELSE 'false' END),"
        " 'blocked', json(CASE WHEN EXISTS (SELECT 1 FROM blocklist b WHERE b.phone = s.phone)"
        "   THEN 'true' ELSE 'false' END),"
        " 'created_at', s.created_at, 'updated_at', s.updated_at,"
        " 'areas', json((SELECT json_group_array(json_object('code', sb.area_code, 'name',"
        "   a.name_en, 'name_ur', tl_area_ur(sb.area_code), 'since', sb.created_at))"
        "   FROM subscriptions sb LEFT JOIN areas a ON a.code = sb.area_code"
        "   WHERE sb.subscriber_id = s.id)))"
        " FROM subscribers s WHERE s.phone = ?2";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int(s, 1, (int)role);
    store_bind_text(s, 2, phone);
    return one_doc(s, json);
}

int sqlite_api_police(struct tl_store *st, enum tl_role role, char **json)
{
    static const char sql[] =
        "SELECT json_object('police', json((SELECT json_group_array(json_object('phone',"
        "   tl_phone(p.phone, ?1), 'area', json_object('code', p.area_code, 'name', a.name_en,"
        "   'name_ur', tl_area_ur(p.area_code)), 'has_pin',"
        "   json(CASE WHEN p.pin_hash IS NULL THEN 'false' ELSE 'true' END),"
        "   'created_at', p.created_at)) FROM (SELECT * FROM police ORDER BY phone, area_code) p"
        "   LEFT JOIN areas a ON a.code = p.area_code)))";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int(s, 1, (int)role);
    return one_doc(s, json);
}

int sqlite_api_blocks(struct tl_store *st, enum tl_role role, char **json)
{
    static const char sql[] =
        "SELECT json_object('blocks', json((SELECT json_group_array(json_object('phone',"
        "   tl_phone(phone, ?1), 'reason', reason, 'created_at', created_at))"
        "   FROM (SELECT * FROM blocklist ORDER BY created_at DESC, phone))))";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int(s, 1, (int)role);
    return one_doc(s, json);
}

int sqlite_api_audit(struct tl_store *st, enum tl_role role, int64_t before_id, int limit,
                    char **json)
{
    static const char sql[] =
        "SELECT json_object('id', l.id, 'at', l.at, 'actor', tl_phone(l.actor, ?1), 'action',"
        " l.action, 'case', c.case_no, 'outcome', l.outcome, 'detail', l.detail), l.id"
        " FROM audit_log l LEFT JOIN cases c ON c.id = l.case_id"
        " WHERE (?2 = 0 OR l.id < ?2) AND (?1 >= 2 OR l.actor NOT LIKE 'api:%')"
        " ORDER BY l.id DESC LIMIT ?3";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int(s, 1, (int)role);
    sqlite3_bind_int64(s, 2, before_id);
    sqlite3_bind_int(s, 3, limit + 1);
    return page_rows(s, "entries", limit, json);
}

/* ---- writes ---- */

int sqlite_api_idem_get(struct tl_store *st, const char *token, const char *key,
                       const char *method, const char *path, int *status, char **body)
{
    static const char sql[] = "SELECT method, path, status, body FROM api_idempotency"
                              " WHERE token = ?1 AND key = ?2";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, token);
    store_bind_text(s, 2, key);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        bool same = strcmp((const char *)sqlite3_column_text(s, 0), method) == 0 &&
                    strcmp((const char *)sqlite3_column_text(s, 1), path) == 0;
        if (same) {
            *status = sqlite3_column_int(s, 2);
            *body = store_column_dup(s, 3);
        }
        sqlite3_reset(s);
        return same ? TL_OK : TL_ERR_DUPLICATE;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_ERR_NOT_FOUND : TL_ERR_STORE;
}

int sqlite_api_idem_put(struct tl_store *st, const char *token, const char *key,
                       const char *method, const char *path, int status, const char *body,
                       int64_t now)
{
    static const char sql[] = "INSERT INTO api_idempotency (token, key, method, path, status,"
                              " body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return TL_ERR_STORE;
    store_bind_text(s, 1, token);
    store_bind_text(s, 2, key);
    store_bind_text(s, 3, method);
    store_bind_text(s, 4, path);
    sqlite3_bind_int(s, 5, status);
    store_bind_text(s, 6, body);
    sqlite3_bind_int64(s, 7, now);
    return store_step_done(s);
}

int64_t sqlite_api_idem_prune(struct tl_store *st, int64_t before)
{
    static const char sql[] = "DELETE FROM api_idempotency WHERE created_at < ?1";
    sqlite3_stmt *s = store_stmt(st, sql);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, before);
    if (store_step_done(s) != TL_OK)
        return -1;
    return sqlite3_changes(st->db);
}

int sqlite_api_resend(struct tl_store *st, int64_t outbox_id, int64_t now, char state[16])
{
    static const char find[] = "SELECT state FROM outbox WHERE id = ?1";
    static const char requeue[] =
        "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_ms = ?2 * 1000,"
        " channel = coalesce(pool, channel),"
        " error = NULL, expires_at = CASE WHEN expires_at IS NULL THEN NULL"
        "   ELSE max(expires_at, ?2 + 3600) END, updated_at = ?2"
        " WHERE id = ?1 AND (state = 'failed' OR state = 'expired')";
    sqlite3_stmt *s = store_stmt(st, find);
    int rc;

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, outbox_id);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return rc == SQLITE_DONE ? TL_ERR_NOT_FOUND : TL_ERR_STORE;
    }
    snprintf(state, 16, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    if (strcmp(state, "failed") != 0 && strcmp(state, "expired") != 0)
        return TL_ERR_BUSY;
    s = store_stmt(st, requeue);
    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, outbox_id);
    sqlite3_bind_int64(s, 2, now);
    return store_step_done(s);
}
