/*
 * pg_api.c — (PostgreSQL backend) the operator API's queries (see store_api.h):
 * the reads on the API reader's connection, the idempotency records and
 * resends on the daemon's.
 *
 * The documents must be byte for byte those of the SQLite backend (the
 * API's tests and clients read both), which SQLite's JSON functions print
 * compactly, REALs with "%!.15g" (5.0, 2.5, 1.0e+20). PostgreSQL's
 * json_build_object prints other spacing and 5 for 5.0, so the queries here
 * return plain typed columns and this file writes the JSON: a table of
 * fields per record (struct jf) says each key, its column and how it
 * prints. What SQLite did in its two SQL functions is done here in C after
 * the query: a viewer's phone numbers masked (log_phone, as tl_phone), an
 * area's Urdu name from the gazetteer (st->area_ur, as tl_area_ur). The
 * reporter's number and typed contact are not even selected for a viewer
 * (CASE WHEN role >= operator in SQL), as in SQLite.
 *
 * A case's message counts by state are cached as SQLite's tl_counts are:
 * a count that took COUNTS_SLOW_MS or more is reused for COUNTS_TTL_MS.
 * The cache is the reader thread's own (thread-local, no heap: counts are
 * numbers), keyed by the store and its server process, so no other
 * connection's entry is ever taken for this one's.
 *
 * Each read is one read-only REPEATABLE READ transaction (a case and its
 * counts, sightings and timeline are one snapshot); its BEGIN also
 * reconnects a reader whose connection was lost (pg_tx_begin). Text is
 * ordered with COLLATE "C", SQLite's BINARY order, whatever the database's
 * locale.
 */
#include "gateway/store/store_api.h"
#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pg_api_open_reader(const char *url, long busy_timeout_ms, tl_area_name_fn area_ur, void *ctx,
                       struct tl_store **out, char **cause)
{
    int rc = pg_open_reader_store(url, busy_timeout_ms, out, cause);

    if (rc == TL_OK) {
        (*out)->area_ur = area_ur;
        (*out)->area_ctx = ctx;
    }
    return rc;
}

/* ---- JSON as SQLite's json_object prints it ---- */

/* A string, escaped as SQLite escapes: \" \\ \b \t \n \f \r, other controls \u00xx. */
static void j_str(struct tl_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    static const char named_from[] = "\"\\\b\t\n\f\r", named_to[] = "\"\\btnfr";

    if (s == NULL) {
        tl_buf_append_str(b, "null");
        return;
    }
    tl_buf_append_char(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *hit = strchr(named_from, *p); /* *p is never NUL here */
        if (hit != NULL) {
            char e[3] = {'\\', named_to[hit - named_from], '\0'};
            tl_buf_append_str(b, e);
        } else if (*p < 0x20) {
            char e[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], '\0'};
            tl_buf_append_str(b, e);
        } else {
            tl_buf_append_char(b, (char)*p);
        }
    }
    tl_buf_append_char(b, '"');
}

/* A REAL as SQLite prints it in JSON ("%!.15g": always a decimal point). */
static void j_real(struct tl_buf *b, double v)
{
    char num[40];

    if (isnan(v)) {
        tl_buf_append_str(b, "null");
        return;
    }
    if (isinf(v)) {
        tl_buf_append_str(b, v > 0 ? "9.0e+999" : "-9.0e+999");
        return;
    }
    if (v == 0.0)
        v = 0.0; /* -0.0 prints as 0.0 */
    snprintf(num, sizeof(num), "%.15g", v);
    if (strchr(num, '.') == NULL) {
        char *e = strchr(num, 'e');
        size_t at = e != NULL ? (size_t)(e - num) : strlen(num);
        memmove(num + at + 2, num + at, strlen(num + at) + 1);
        num[at] = '.';
        num[at + 1] = '0';
    }
    tl_buf_append_str(b, num);
}

/* How one field prints. */
enum jt {
    J_TEXT,    /* a string or null */
    J_INT,     /* an integer column or null */
    J_REAL,    /* a double precision column or null */
    J_BOOL,    /* a boolean column: true/false */
    J_PHONE,   /* a number, masked for a viewer (tl_phone) */
    J_AREA,    /* null when the code (col) is NULL, else {code, name (col+1), name_ur} */
    J_AREA_UR, /* the Urdu name of the area code in col, or null (tl_area_ur) */
};

struct jf {
    const char *key;
    enum jt type;
    int col;
};

/* What a record's fields need besides its row: the reader and the caller's role. */
struct jctx {
    struct tl_store *st;
    enum tl_role role;
};

static const char *col_text(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

static void j_area_ur(const struct jctx *x, struct tl_buf *b, const char *code)
{
    const char *name =
        code != NULL && x->st->area_ur != NULL ? x->st->area_ur(x->st->area_ctx, code) : NULL;
    j_str(b, name != NULL && name[0] != '\0' ? name : NULL);
}

static void j_phone(const struct jctx *x, struct tl_buf *b, const char *phone)
{
    char masked[LOG_PHONE_BUFSZ];

    if (phone != NULL && x->role < TL_ROLE_OPERATOR && phone[0] == '+')
        phone = log_phone(phone, masked);
    j_str(b, phone);
}

static void j_key(struct tl_buf *b, const char *key)
{
    tl_buf_append_char(b, '"');
    tl_buf_append_str(b, key);
    tl_buf_append_str(b, "\":");
}

/* Appends "key":value,… of row r's fields (no braces). */
static void j_fields(const struct jctx *x, struct tl_buf *b, const PGresult *res, int r,
                     const struct jf *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = col_text(res, r, f[i].col);
        if (i > 0)
            tl_buf_append_char(b, ',');
        j_key(b, f[i].key);
        switch (f[i].type) {
        case J_TEXT:
            j_str(b, v);
            break;
        case J_INT:
            tl_buf_append_str(b, v != NULL ? v : "null");
            break;
        case J_REAL:
            if (v == NULL)
                tl_buf_append_str(b, "null");
            else
                j_real(b, strtod(v, NULL));
            break;
        case J_BOOL:
            tl_buf_append_str(b, v != NULL && v[0] == 't' ? "true" : "false");
            break;
        case J_PHONE:
            j_phone(x, b, v);
            break;
        case J_AREA:
            if (v == NULL) {
                tl_buf_append_str(b, "null");
                break;
            }
            tl_buf_append_str(b, "{\"code\":");
            j_str(b, v);
            tl_buf_append_str(b, ",\"name\":");
            j_str(b, col_text(res, r, f[i].col + 1));
            tl_buf_append_str(b, ",\"name_ur\":");
            j_area_ur(x, b, v);
            tl_buf_append_char(b, '}');
            break;
        case J_AREA_UR:
            j_area_ur(x, b, v);
            break;
        }
    }
}

/* Appends [{…},…] of every row of res. */
static void j_array(const struct jctx *x, struct tl_buf *b, const PGresult *res, const struct jf *f,
                    size_t n)
{
    tl_buf_append_char(b, '[');
    for (int r = 0; r < PQntuples(res); r++) {
        if (r > 0)
            tl_buf_append_char(b, ',');
        tl_buf_append_char(b, '{');
        j_fields(x, b, res, r, f, n);
        tl_buf_append_char(b, '}');
    }
    tl_buf_append_char(b, ']');
}

#define NFIELDS(f) (sizeof(f) / sizeof((f)[0]))

/* ---- a read's transaction ---- */

static int read_begin(struct tl_store *st)
{
    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if (pg_command(st, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", NULL, NULL) !=
        TL_OK) {
        pg_tx_rollback(st);
        return TL_ERR_STORE;
    }
    return TL_OK;
}

/* Ends the read: on rc TL_OK commits (a failed commit fails the read), else rolls back. */
static int read_end(struct tl_store *st, int rc)
{
    if (rc == TL_OK && pg_tx_commit(st) == TL_OK)
        return TL_OK;
    pg_tx_rollback(st);
    return rc == TL_OK ? TL_ERR_STORE : rc;
}

/*
 * {"<key>":[records],"next_cursor":"<id>"|null} of res (up to limit + 1
 * rows: one more than the page says there is a next one); idcol is a row's id.
 * Returns the document (caller frees).
 */
static char *j_page(const struct jctx *x, const PGresult *res, const char *key, const struct jf *f,
                    size_t nf, int idcol, int limit)
{
    struct tl_buf b = {0};
    int rows = PQntuples(res), n = rows > limit ? limit : rows;

    tl_buf_appendf(&b, "{\"%s\":[", key);
    for (int r = 0; r < n; r++) {
        if (r > 0)
            tl_buf_append_char(&b, ',');
        tl_buf_append_char(&b, '{');
        j_fields(x, &b, res, r, f, nf);
        tl_buf_append_char(&b, '}');
    }
    tl_buf_append_str(&b, "],\"next_cursor\":");
    if (rows > limit && n > 0)
        tl_buf_appendf(&b, "\"%s\"", PQgetvalue(res, n - 1, idcol));
    else
        tl_buf_append_str(&b, "null");
    tl_buf_append_char(&b, '}');
    return tl_buf_steal(&b);
}

/* One read of a page (j_page) in its own transaction; *json only when it all succeeded. */
static int page_read(struct tl_store *st, enum tl_role role, const char *sql,
                     const struct pg_params *p, const char *key, const struct jf *f, size_t nf,
                     int idcol, int limit, char **json)
{
    struct jctx x = {st, role};
    int rc = read_begin(st);

    if (rc != TL_OK)
        return rc;
    PGresult *res = pg_query(st, sql, p);
    if (res == NULL)
        return read_end(st, TL_ERR_STORE);
    char *doc = j_page(&x, res, key, f, nf, idcol, limit);
    PQclear(res);
    rc = read_end(st, TL_OK);
    if (rc == TL_OK)
        *json = doc;
    else
        free(doc);
    return rc;
}

/* ---- cases ---- */

/* A case's columns (alias c, its area a), as the role ($1) may see them; the id last. */
#define CASE_COLUMNS                                                                               \
    "c.case_no, c.state, c.child_name, c.age, c.gender, c.area_code, a.name_en, c.area_text,"      \
    " c.last_seen, c.description, c.reporter_lang, c.radius_km, c.stage, c.created_at,"            \
    " c.updated_at, c.verified_at, c.closed_at, c.close_reason, c.redacted_at IS NOT NULL,"        \
    " CASE WHEN $1::int >= 1 THEN c.reporter_phone END,"                                           \
    " CASE WHEN $1::int >= 1 THEN c.contact END, c.id"
#define CASE_ID_COL 21

static const struct jf case_fields[] = {
    {"case", J_TEXT, 0},       {"state", J_TEXT, 1},         {"name", J_TEXT, 2},
    {"age", J_INT, 3},         {"gender", J_TEXT, 4},        {"area", J_AREA, 5},
    {"area_text", J_TEXT, 7},  {"last_seen", J_TEXT, 8},     {"description", J_TEXT, 9},
    {"lang", J_TEXT, 10},      {"radius_km", J_REAL, 11},    {"stage", J_INT, 12},
    {"created_at", J_INT, 13}, {"updated_at", J_INT, 14},    {"verified_at", J_INT, 15},
    {"closed_at", J_INT, 16},  {"close_reason", J_TEXT, 17}, {"redacted", J_BOOL, 18},
    {"reporter", J_TEXT, 19},  {"contact", J_TEXT, 20},
};

int pg_api_cases(struct tl_store *st, enum tl_role role, const struct tl_case_filter *f,
                 char **json)
{
    static const char sql[] =
        "WITH RECURSIVE scope(code) AS (SELECT $3::text WHERE $3::text IS NOT NULL"
        "  UNION SELECT ar.code FROM areas ar JOIN scope ON ar.parent_code = scope.code)"
        " SELECT " CASE_COLUMNS " FROM cases c LEFT JOIN areas a ON a.code = c.area_code"
        " WHERE ($2::text IS NULL AND c.state <> 'draft' OR c.state = $2::text)"
        "  AND ($3::text IS NULL OR c.area_code IN (SELECT code FROM scope))"
        "  AND ($4::bigint = 0 OR c.created_at >= $4::bigint)"
        "  AND ($5::bigint = 0 OR c.created_at < $5::bigint)"
        "  AND ($6::bigint = 0 OR c.id < $6::bigint)"
        " ORDER BY c.id DESC LIMIT $7::int";
    struct pg_params p = {0};

    pg_p_i64(&p, role);
    pg_p_text(&p, f->state);
    pg_p_text(&p, f->area_code);
    pg_p_i64(&p, f->since);
    pg_p_i64(&p, f->until);
    pg_p_i64(&p, f->before_id);
    pg_p_i64(&p, (int64_t)f->limit + 1);
    return page_read(st, role, sql, &p, "cases", case_fields, NFIELDS(case_fields), CASE_ID_COL,
                     f->limit, json);
}

/*
 * The case's message counts by kind (alert, update, police) and state,
 * the rows still there and those the pruner folded into outbox_tallies.
 * Each kind's rows are found through its own partial index.
 */
#define COUNT_KINDS 3
#define COUNT_SLOTS (TL_OUTBOX_NSTATES + 1) /* the states, then the total */
#define COUNTS_CACHE 64
#define COUNTS_TTL_MS 5000.0
#define COUNTS_SLOW_MS 50.0

static const char *const count_kinds[COUNT_KINDS] = {"alert", "update", "police"};

struct counts_entry {
    const struct tl_store *st;
    int pid; /* the connection's server process */
    int64_t case_id;
    double at_ms, cost_ms;
    int64_t n[COUNT_KINDS][COUNT_SLOTS];
};

static _Thread_local struct counts_entry counts_cache[COUNTS_CACHE];
static _Thread_local size_t counts_next;

static int count_messages(struct tl_store *st, int64_t case_id, int64_t n[COUNT_KINDS][COUNT_SLOTS])
{
    static const char sql[] =
        "SELECT kind, state, count(*) FROM outbox WHERE case_id = $1 AND kind = 'alert'"
        "  GROUP BY kind, state"
        " UNION ALL SELECT kind, state, count(*) FROM outbox"
        "  WHERE case_id = $1 AND kind = 'update' GROUP BY kind, state"
        " UNION ALL SELECT kind, state, count(*) FROM outbox"
        "  WHERE case_id = $1 AND kind = 'police' GROUP BY kind, state"
        " UNION ALL SELECT kind, state, sum(n) FROM outbox_tallies WHERE case_id = $1"
        "  GROUP BY kind, state";
    int pid = PQbackendPID(st->conn);
    double now = clock_mono_ms();
    struct counts_entry *e = NULL;
    struct pg_params p = {0};

    for (size_t i = 0; i < COUNTS_CACHE && e == NULL; i++) {
        struct counts_entry *c = &counts_cache[i];
        if (c->st == st && c->pid == pid && c->case_id == case_id)
            e = c;
    }
    if (e != NULL && e->cost_ms >= COUNTS_SLOW_MS && now - e->at_ms < COUNTS_TTL_MS) {
        memcpy(n, e->n, sizeof(e->n));
        return TL_OK;
    }
    pg_p_i64(&p, case_id);
    PGresult *res = pg_query(st, sql, &p);
    if (res == NULL)
        return TL_ERR_STORE;
    memset(n, 0, sizeof(int64_t) * COUNT_KINDS * COUNT_SLOTS);
    for (int r = 0; r < PQntuples(res); r++) {
        const char *kind = PQgetvalue(res, r, 0), *state = PQgetvalue(res, r, 1);
        int64_t v = pg_i64(res, r, 2);
        for (int k = 0; k < COUNT_KINDS; k++) {
            if (strcmp(kind, count_kinds[k]) != 0)
                continue;
            for (int s = 0; s < TL_OUTBOX_NSTATES; s++)
                if (strcmp(state, store_outbox_state_names[s]) == 0)
                    n[k][s] += v;
            n[k][TL_OUTBOX_NSTATES] += v;
        }
    }
    PQclear(res);
    if (e == NULL) {
        e = &counts_cache[counts_next];
        counts_next = (counts_next + 1) % COUNTS_CACHE;
    }
    e->st = st;
    e->pid = pid;
    e->case_id = case_id;
    e->at_ms = now;
    e->cost_ms = clock_mono_ms() - now;
    memcpy(e->n, n, sizeof(e->n));
    return TL_OK;
}

static void j_counts(struct tl_buf *b, const int64_t n[COUNT_SLOTS])
{
    tl_buf_append_char(b, '{');
    for (int s = 0; s < COUNT_SLOTS; s++)
        tl_buf_appendf(b, "%s\"%s\":%lld", s > 0 ? "," : "",
                       s < TL_OUTBOX_NSTATES ? store_outbox_state_names[s] : "total",
                       (long long)n[s]);
    tl_buf_append_char(b, '}');
}

/*
 * The timeline: the report, the police notices, every audited action (the
 * actor masked for a viewer), each wave and each sighting, in time order
 * (ties: SQLite's order, then the branch). Columns: at, branch, event,
 * actor, outcome, wave kind, radius_km, police count.
 */
static int j_timeline(const struct jctx *x, struct tl_buf *b, int64_t case_id, int64_t created_at)
{
    static const char sql[] =
        "SELECT at, br, ev, actor, outcome, kind, radius_km, n FROM ("
        "  SELECT $2::bigint AS at, 0::bigint AS seq, 0 AS br, 'reported' AS ev,"
        "   NULL::text AS actor, NULL::text AS outcome, NULL::text AS kind,"
        "   NULL::double precision AS radius_km, NULL::bigint AS n"
        "  UNION ALL SELECT min(created_at), 1, 1, 'police_notified', NULL, NULL, NULL, NULL,"
        "   count(*) FROM outbox WHERE case_id = $1 AND kind = 'police' HAVING count(*) > 0"
        "  UNION ALL SELECT at, 2 + id, 2, action, actor, outcome, NULL, NULL, NULL"
        "   FROM audit_log WHERE case_id = $1 AND action <> 'report'"
        "  UNION ALL SELECT created_at, 2 + id, 3, 'wave', NULL, NULL, kind, radius_km, NULL"
        "   FROM alerts WHERE case_id = $1"
        "  UNION ALL SELECT created_at, 2 + id, 4, 'sighting', NULL, NULL, NULL, NULL, NULL"
        "   FROM sightings WHERE case_id = $1"
        " ) t ORDER BY at, seq, br";
    static const struct jf plain[] = {{"at", J_INT, 0}, {"event", J_TEXT, 2}};
    static const struct jf police[] = {{"at", J_INT, 0}, {"event", J_TEXT, 2}, {"count", J_INT, 7}};
    static const struct jf audit[] = {
        {"at", J_INT, 0}, {"event", J_TEXT, 2}, {"actor", J_PHONE, 3}, {"outcome", J_TEXT, 4}};
    static const struct jf wave[] = {
        {"at", J_INT, 0}, {"event", J_TEXT, 2}, {"kind", J_TEXT, 5}, {"radius_km", J_REAL, 6}};
    struct pg_params p = {0};

    pg_p_i64(&p, case_id);
    pg_p_i64(&p, created_at);
    PGresult *res = pg_query(x->st, sql, &p);
    if (res == NULL)
        return TL_ERR_STORE;
    tl_buf_append_char(b, '[');
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t br = pg_i64(res, r, 1);
        const struct jf *f = br == 1 ? police : br == 2 ? audit : br == 3 ? wave : plain;
        size_t nf = br == 1   ? NFIELDS(police)
                    : br == 2 ? NFIELDS(audit)
                    : br == 3 ? NFIELDS(wave)
                              : NFIELDS(plain);
        tl_buf_append_str(b, r > 0 ? ",{" : "{");
        j_fields(x, b, res, r, f, nf);
        tl_buf_append_char(b, '}');
    }
    tl_buf_append_char(b, ']');
    PQclear(res);
    return TL_OK;
}

static int j_sightings(const struct jctx *x, struct tl_buf *b, int64_t case_id)
{
    static const char sql[] =
        "SELECT created_at, phone, text FROM sightings WHERE case_id = $1 ORDER BY id";
    static const struct jf fields[] = {{"at", J_INT, 0}, {"from", J_PHONE, 1}, {"text", J_TEXT, 2}};
    struct pg_params p = {0};

    pg_p_i64(&p, case_id);
    PGresult *res = pg_query(x->st, sql, &p);
    if (res == NULL)
        return TL_ERR_STORE;
    j_array(x, b, res, fields, NFIELDS(fields));
    PQclear(res);
    return TL_OK;
}

static int case_doc(const struct jctx *x, const char *case_no, char **json)
{
    static const char sql[] =
        "SELECT " CASE_COLUMNS " FROM cases c LEFT JOIN areas a ON a.code = c.area_code"
        " WHERE c.case_no = $2::text";
    static const char *const count_keys[COUNT_KINDS] = {"alerts", "updates", "police_notices"};
    struct pg_params p = {0};
    struct tl_buf b = {0};
    int64_t counts[COUNT_KINDS][COUNT_SLOTS];
    int rc;

    pg_p_i64(&p, x->role);
    pg_p_text(&p, case_no);
    PGresult *res = pg_query_row(x->st, sql, &p, &rc);
    if (res == NULL)
        return rc;
    rc = TL_ERR_STORE; /* until the whole document is written */
    int64_t id = pg_i64(res, 0, CASE_ID_COL), created_at = pg_i64(res, 0, 13);
    tl_buf_append_char(&b, '{');
    j_fields(x, &b, res, 0, case_fields, NFIELDS(case_fields));
    PQclear(res);
    if (count_messages(x->st, id, counts) != TL_OK)
        goto out;
    for (int k = 0; k < COUNT_KINDS; k++) {
        tl_buf_appendf(&b, ",\"%s\":", count_keys[k]);
        j_counts(&b, counts[k]);
    }
    tl_buf_append_str(&b, ",\"sightings\":");
    if (j_sightings(x, &b, id) != TL_OK)
        goto out;
    tl_buf_append_str(&b, ",\"timeline\":");
    if (j_timeline(x, &b, id, created_at) != TL_OK)
        goto out;
    tl_buf_append_char(&b, '}');
    *json = tl_buf_steal(&b);
    rc = TL_OK;
out:
    tl_buf_free(&b);
    return rc;
}

int pg_api_case(struct tl_store *st, enum tl_role role, const char *case_no, char **json)
{
    struct jctx x = {st, role};
    char *doc = NULL;
    int rc = read_begin(st);

    if (rc != TL_OK)
        return rc;
    rc = read_end(st, case_doc(&x, case_no, &doc));
    if (rc == TL_OK)
        *json = doc;
    else
        free(doc);
    return rc;
}

/* ---- people ---- */

static int counts_doc(struct tl_store *st, char **json)
{
    static const char areas[] =
        "SELECT s.area_code, a.name_en, count(*) AS n FROM subscriptions s"
        " LEFT JOIN areas a ON a.code = s.area_code GROUP BY s.area_code, a.name_en"
        " ORDER BY n DESC, s.area_code COLLATE \"C\"";
    static const char totals[] = "SELECT (SELECT count(DISTINCT subscriber_id) FROM subscriptions),"
                                 " (SELECT count(*) FROM subscribers WHERE opted_out <> 0)";
    static const struct jf fields[] = {{"code", J_TEXT, 0},
                                       {"name", J_TEXT, 1},
                                       {"name_ur", J_AREA_UR, 0},
                                       {"subscribers", J_INT, 2}};
    struct jctx x = {st, TL_ROLE_VIEWER};
    struct tl_buf b = {0};
    PGresult *res = pg_query(st, areas, NULL);

    if (res == NULL)
        return TL_ERR_STORE;
    tl_buf_append_str(&b, "{\"areas\":");
    j_array(&x, &b, res, fields, NFIELDS(fields));
    PQclear(res);
    if ((res = pg_query(st, totals, NULL)) == NULL || PQntuples(res) != 1) {
        PQclear(res);
        tl_buf_free(&b);
        return TL_ERR_STORE;
    }
    tl_buf_appendf(&b, ",\"subscribers\":%s,\"opted_out\":%s}", PQgetvalue(res, 0, 0),
                   PQgetvalue(res, 0, 1));
    PQclear(res);
    *json = tl_buf_steal(&b);
    return TL_OK;
}

static int subscriber_doc(struct tl_store *st, enum tl_role role, const char *phone, char **json)
{
    static const char one[] =
        "SELECT s.id, s.phone, s.lang, s.channel, s.opted_out <> 0,"
        " EXISTS (SELECT 1 FROM blocklist b WHERE b.phone = s.phone), s.created_at,"
        " s.updated_at FROM subscribers s WHERE s.phone = $1";
    static const char areas[] =
        "SELECT sb.area_code, a.name_en, sb.created_at FROM subscriptions sb"
        " LEFT JOIN areas a ON a.code = sb.area_code WHERE sb.subscriber_id = $1"
        " ORDER BY sb.area_code COLLATE \"C\"";
    static const struct jf fields[] = {
        {"phone", J_PHONE, 1},    {"lang", J_TEXT, 2},    {"channel", J_TEXT, 3},
        {"opted_out", J_BOOL, 4}, {"blocked", J_BOOL, 5}, {"created_at", J_INT, 6},
        {"updated_at", J_INT, 7},
    };
    static const struct jf area_fields[] = {
        {"code", J_TEXT, 0}, {"name", J_TEXT, 1}, {"name_ur", J_AREA_UR, 0}, {"since", J_INT, 2}};
    struct jctx x = {st, role};
    struct pg_params p = {0};
    struct tl_buf b = {0};

    pg_p_text(&p, phone);
    int rc;
    PGresult *res = pg_query_row(st, one, &p, &rc);
    if (res == NULL)
        return rc;
    tl_buf_append_char(&b, '{');
    j_fields(&x, &b, res, 0, fields, NFIELDS(fields));
    p = (struct pg_params){0};
    pg_p_i64(&p, pg_i64(res, 0, 0));
    PQclear(res);
    if ((res = pg_query(st, areas, &p)) == NULL) {
        tl_buf_free(&b);
        return TL_ERR_STORE;
    }
    tl_buf_append_str(&b, ",\"areas\":");
    j_array(&x, &b, res, area_fields, NFIELDS(area_fields));
    tl_buf_append_char(&b, '}');
    PQclear(res);
    *json = tl_buf_steal(&b);
    return TL_OK;
}

/* {"<key>":[every row of sql]}: a whole list in one document. */
static int list_doc(struct tl_store *st, enum tl_role role, const char *sql, const char *key,
                    const struct jf *f, size_t nf, char **json)
{
    struct jctx x = {st, role};
    struct tl_buf b = {0};
    PGresult *res = pg_query(st, sql, NULL);

    if (res == NULL)
        return TL_ERR_STORE;
    tl_buf_appendf(&b, "{\"%s\":", key);
    j_array(&x, &b, res, f, nf);
    tl_buf_append_char(&b, '}');
    PQclear(res);
    *json = tl_buf_steal(&b);
    return TL_OK;
}

int pg_api_subscriber_counts(struct tl_store *st, char **json)
{
    int rc = read_begin(st);

    return rc != TL_OK ? rc : read_end(st, counts_doc(st, json));
}

int pg_api_subscriber(struct tl_store *st, enum tl_role role, const char *phone, char **json)
{
    int rc = read_begin(st);

    return rc != TL_OK ? rc : read_end(st, subscriber_doc(st, role, phone, json));
}

int pg_api_police(struct tl_store *st, enum tl_role role, char **json)
{
    static const char sql[] =
        "SELECT p.phone, p.area_code, a.name_en, p.pin_hash IS NOT NULL, p.created_at"
        " FROM police p LEFT JOIN areas a ON a.code = p.area_code"
        " ORDER BY p.phone COLLATE \"C\", p.area_code COLLATE \"C\"";
    static const struct jf fields[] = {{"phone", J_PHONE, 0},
                                       {"area", J_AREA, 1},
                                       {"has_pin", J_BOOL, 3},
                                       {"created_at", J_INT, 4}};
    int rc = read_begin(st);

    return rc != TL_OK
               ? rc
               : read_end(st, list_doc(st, role, sql, "police", fields, NFIELDS(fields), json));
}

int pg_api_blocks(struct tl_store *st, enum tl_role role, char **json)
{
    static const char sql[] = "SELECT phone, reason, created_at FROM blocklist"
                              " ORDER BY created_at DESC, phone COLLATE \"C\"";
    static const struct jf fields[] = {
        {"phone", J_PHONE, 0}, {"reason", J_TEXT, 1}, {"created_at", J_INT, 2}};
    int rc = read_begin(st);

    return rc != TL_OK
               ? rc
               : read_end(st, list_doc(st, role, sql, "blocks", fields, NFIELDS(fields), json));
}

int pg_api_audit(struct tl_store *st, enum tl_role role, int64_t before_id, int limit, char **json)
{
    /* SQLite's LIKE ignores ASCII case: ILIKE here, so 'API:x' is hidden alike. */
    static const char sql[] = "SELECT l.id, l.at, l.actor, l.action, c.case_no, l.outcome, l.detail"
                              " FROM audit_log l LEFT JOIN cases c ON c.id = l.case_id"
                              " WHERE ($2::bigint = 0 OR l.id < $2::bigint)"
                              "  AND ($1::int >= 2 OR l.actor NOT ILIKE 'api:%')"
                              " ORDER BY l.id DESC LIMIT $3::int";
    static const struct jf fields[] = {
        {"id", J_INT, 0},    {"at", J_INT, 1},       {"actor", J_PHONE, 2}, {"action", J_TEXT, 3},
        {"case", J_TEXT, 4}, {"outcome", J_TEXT, 5}, {"detail", J_TEXT, 6},
    };
    struct pg_params p = {0};

    pg_p_i64(&p, role);
    pg_p_i64(&p, before_id);
    pg_p_i64(&p, (int64_t)limit + 1);
    return page_read(st, role, sql, &p, "entries", fields, NFIELDS(fields), 0, limit, json);
}

/* ---- writes, on the daemon's store in the caller's transaction ---- */

int pg_api_idem_get(struct tl_store *st, const char *token, const char *key, const char *method,
                    const char *path, int *status, char **body)
{
    static const char sql[] = "SELECT method, path, status, body FROM api_idempotency"
                              " WHERE token = $1 AND key = $2";
    struct pg_params p = {0};

    pg_p_text(&p, token);
    pg_p_text(&p, key);
    int rc;
    PGresult *res = pg_query_row(st, sql, &p, &rc);
    if (res == NULL)
        return rc;
    bool same =
        strcmp(PQgetvalue(res, 0, 0), method) == 0 && strcmp(PQgetvalue(res, 0, 1), path) == 0;
    if (same) {
        *status = (int)pg_i64(res, 0, 2);
        *body = pg_dup(res, 0, 3);
    }
    PQclear(res);
    return same ? TL_OK : TL_ERR_DUPLICATE;
}

/*
 * A plain INSERT: when another node stored an answer to the same key
 * meanwhile, the unique violation (TL_ERR_DUPLICATE) fails this write and
 * the caller rolls back — its client's retry then gets the stored answer.
 */
int pg_api_idem_put(struct tl_store *st, const char *token, const char *key, const char *method,
                    const char *path, int status, const char *body, int64_t now)
{
    static const char sql[] = "INSERT INTO api_idempotency (token, key, method, path, status,"
                              " body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    struct pg_params p = {0};

    pg_p_text(&p, token);
    pg_p_text(&p, key);
    pg_p_text(&p, method);
    pg_p_text(&p, path);
    pg_p_i64(&p, status);
    pg_p_text(&p, body);
    pg_p_i64(&p, now);
    return pg_command(st, sql, &p, NULL);
}

int64_t pg_api_idem_prune(struct tl_store *st, int64_t before)
{
    struct pg_params p = {0};
    int64_t changed = 0;

    pg_p_i64(&p, before);
    if (pg_command(st, "DELETE FROM api_idempotency WHERE created_at < $1", &p, &changed) != TL_OK)
        return -1;
    return changed;
}

/*
 * One UPDATE that requeues only a failed or expired row, so two nodes
 * resending the same message at once requeue it once (the second finds it
 * queued: TL_ERR_BUSY). Only when it changed nothing is the state read.
 */
int pg_api_resend(struct tl_store *st, int64_t outbox_id, int64_t now, char state[16])
{
    static const char requeue[] =
        "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_ms = $2::bigint * 1000,"
        " channel = coalesce(pool, channel), error = NULL, expires_at = CASE WHEN expires_at IS NULL THEN NULL"
        "   ELSE greatest(expires_at, $2::bigint + 3600) END, updated_at = $2::bigint"
        " WHERE id = $1 AND (state = 'failed' OR state = 'expired')"
        " RETURNING (SELECT o.state FROM outbox o WHERE o.id = $1)";
    static const char find[] = "SELECT state FROM outbox WHERE id = $1";
    struct pg_params p = {0};

    pg_p_i64(&p, outbox_id);
    pg_p_i64(&p, now);
    PGresult *res = pg_query(st, requeue, &p);
    if (res == NULL)
        return TL_ERR_STORE;
    if (PQntuples(res) == 1) {
        /* The subquery sees the row as it was before this statement: failed or expired. */
        snprintf(state, 16, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        return TL_OK;
    }
    PQclear(res);
    p.n = 1;
    int rc;
    if ((res = pg_query_row(st, find, &p, &rc)) == NULL)
        return rc;
    snprintf(state, 16, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return TL_ERR_BUSY;
}
