/*
 * pg_feed.c — (PostgreSQL backend) the public feed's reads (see store_feed.h):
 * public cases and their waves, on the daemon's connection, as
 * sqlite_feed.c reads them. No reporter column and no sighting is selected.
 * alerts_by_case and cases_by_closed (pg_schema.c) keep both reads to index
 * ranges whatever the history holds.
 */
#include "gateway/store/store_feed.h"
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASE_COLUMNS                                                                               \
    "SELECT id, case_no, state, area_code, coalesce(verified_at, 0), coalesce(closed_at, 0),"      \
    " EXISTS (SELECT 1 FROM audit_log a WHERE a.case_id = cases.id AND a.action = 'verify'"        \
    "   AND a.outcome = 'ok')"                                                                     \
    " FROM cases"
/* Public: active, or ended since $1 after a broadcast. */
#define PUBLIC_WHERE                                                                               \
    " (state = 'active' OR (closed_at >= $1::bigint AND verified_at IS NOT NULL"                   \
    "  AND (state = 'found' OR state = 'closed' OR state = 'cancelled')))"

static void case_from_row(const PGresult *res, int r, struct tl_feed_case *c)
{
    memset(c, 0, sizeof(*c));
    c->id = pg_i64(res, r, 0);
    snprintf(c->case_no, sizeof(c->case_no), "%s", PQgetvalue(res, r, 1));
    snprintf(c->state, sizeof(c->state), "%s", PQgetvalue(res, r, 2));
    c->area_code = pg_dup(res, r, 3);
    c->verified_at = pg_i64(res, r, 4);
    c->closed_at = pg_i64(res, r, 5);
    c->police_verified = pg_i64(res, r, 6) != 0;
}

static int load_waves(struct tl_store *st, struct tl_feed_case *c)
{
    static const char sql[] = "SELECT id, kind, radius_km, created_at, text_en, text_ur"
                              " FROM alerts WHERE case_id = $1 ORDER BY id";
    struct pg_params p = {0};

    pg_p_i64(&p, c->id);
    PGresult *res = pg_query(st, sql, &p);
    if (res == NULL)
        return TL_ERR_STORE;
    int n = PQntuples(res);
    if (n > 0) {
        c->waves = xcalloc((size_t)n, sizeof(*c->waves));
        c->nwaves = (size_t)n;
    }
    for (int r = 0; r < n; r++) {
        struct tl_feed_wave *w = &c->waves[r];
        w->id = pg_i64(res, r, 0);
        snprintf(w->kind, sizeof(w->kind), "%s", PQgetvalue(res, r, 1));
        w->radius_km = pg_f64(res, r, 2);
        w->created_at = pg_i64(res, r, 3);
        w->text_en = pg_dup(res, r, 4);
        w->text_ur = pg_dup(res, r, 5);
    }
    PQclear(res);
    return TL_OK;
}

int pg_feed_cases(struct tl_store *st, int64_t since, struct tl_feed_case **out, size_t *n)
{
    static const char sql[] = CASE_COLUMNS
        " WHERE" PUBLIC_WHERE " ORDER BY greatest(coalesce(closed_at, 0), coalesce(verified_at, 0),"
        "  updated_at) DESC, id DESC";
    struct pg_params p = {0};
    struct tl_feed_case *v = NULL;
    size_t nv;

    *out = NULL;
    *n = 0;
    pg_p_i64(&p, since);
    PGresult *res = pg_query(st, sql, &p);
    if (res == NULL)
        return TL_ERR_STORE;
    nv = (size_t)PQntuples(res);
    if (nv > 0)
        v = xcalloc(nv, sizeof(*v));
    for (size_t i = 0; i < nv; i++)
        case_from_row(res, (int)i, &v[i]);
    PQclear(res);
    for (size_t i = 0; i < nv; i++) {
        if (load_waves(st, &v[i]) != TL_OK) {
            store_feed_cases_free(v, nv);
            return TL_ERR_STORE;
        }
    }
    *out = v;
    *n = nv;
    return TL_OK;
}

int pg_feed_case(struct tl_store *st, const char *case_no, int64_t since, struct tl_feed_case *out)
{
    static const char sql[] = CASE_COLUMNS " WHERE case_no = $2::text AND" PUBLIC_WHERE;
    struct pg_params p = {0};

    memset(out, 0, sizeof(*out));
    pg_p_i64(&p, since);
    pg_p_text(&p, case_no);
    int rc;
    PGresult *res = pg_query_row(st, sql, &p, &rc);
    if (res == NULL)
        return rc;
    case_from_row(res, 0, out);
    PQclear(res);
    if (load_waves(st, out) != TL_OK) {
        store_feed_case_clear(out);
        return TL_ERR_STORE;
    }
    return TL_OK;
}

int64_t pg_feed_last_ended_before(struct tl_store *st, int64_t since)
{
    static const char sql[] = "SELECT coalesce(max(closed_at), 0) FROM cases"
                              " WHERE closed_at < $1 AND verified_at IS NOT NULL";
    struct pg_params p = {0};

    pg_p_i64(&p, since);
    return pg_query_i64(st, sql, &p, 0);
}
