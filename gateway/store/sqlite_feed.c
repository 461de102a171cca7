/*
 * sqlite_feed.c — (SQLite backend) the public feed's reads (see store_feed.h): public cases
 * and their waves, on the daemon's connection. Few cases are public at a
 * time; alerts_by_case and cases_by_closed (migration 3) keep both reads
 * to index ranges whatever the history holds.
 */
#include "gateway/store/store_feed.h"
#include "gateway/store/store.h"
#include "gateway/store/sqlite_int.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASE_COLUMNS                                                                         \
    "SELECT id, case_no, state, area_code, coalesce(verified_at, 0), coalesce(closed_at, 0),"  \
    " EXISTS (SELECT 1 FROM audit_log a WHERE a.case_id = cases.id AND a.action = 'verify'" \
    "   AND a.outcome = 'ok')"                                                                 \
    " FROM cases"
/* Public: active, or ended since ?1 after a broadcast. */
#define PUBLIC_WHERE                                                                         \
    " (state = 'active' OR (closed_at >= ?1 AND verified_at IS NOT NULL"                     \
    "  AND (state = 'found' OR state = 'closed' OR state = 'cancelled')))"

static void case_from_row(sqlite3_stmt *s, struct tl_feed_case *c)
{
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(s, 0);
    snprintf(c->case_no, sizeof(c->case_no), "%s",
             sqlite3_column_text(s, 1) ? (const char *)sqlite3_column_text(s, 1) : "");
    snprintf(c->state, sizeof(c->state), "%s", (const char *)sqlite3_column_text(s, 2));
    c->area_code = store_column_dup(s, 3);
    c->verified_at = sqlite3_column_int64(s, 4);
    c->closed_at = sqlite3_column_int64(s, 5);
    c->police_verified = sqlite3_column_int(s, 6) != 0;
}

static int load_waves(struct tl_store *st, struct tl_feed_case *c)
{
    static const char sql[] = "SELECT id, kind, radius_km, created_at, text_en, text_ur"
                              " FROM alerts WHERE case_id = ?1 ORDER BY id";
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, c->id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        c->waves = xrealloc(c->waves, (c->nwaves + 1) * sizeof(*c->waves));
        struct tl_feed_wave *w = &c->waves[c->nwaves++];
        memset(w, 0, sizeof(*w));
        w->id = sqlite3_column_int64(s, 0);
        snprintf(w->kind, sizeof(w->kind), "%s", (const char *)sqlite3_column_text(s, 1));
        w->radius_km = sqlite3_column_double(s, 2);
        w->created_at = sqlite3_column_int64(s, 3);
        w->text_en = store_column_dup(s, 4);
        w->text_ur = store_column_dup(s, 5);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

int sqlite_feed_cases(struct tl_store *st, int64_t since, struct tl_feed_case **out, size_t *n)
{
    static const char sql[] = CASE_COLUMNS " WHERE" PUBLIC_WHERE
                              " ORDER BY max(coalesce(closed_at, 0), coalesce(verified_at, 0),"
                              "  updated_at) DESC, id DESC";
    sqlite3_stmt *s = store_stmt(st, sql);
    struct tl_feed_case *v = NULL;
    size_t nv = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, since);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        v = xrealloc(v, (nv + 1) * sizeof(*v));
        case_from_row(s, &v[nv++]);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        store_feed_cases_free(v, nv);
        return TL_ERR_STORE;
    }
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

int sqlite_feed_case(struct tl_store *st, const char *case_no, int64_t since,
                    struct tl_feed_case *out)
{
    static const char sql[] = CASE_COLUMNS " WHERE case_no = ?2 AND" PUBLIC_WHERE;
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc;

    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return TL_ERR_STORE;
    sqlite3_bind_int64(s, 1, since);
    store_bind_text(s, 2, case_no);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        case_from_row(s, out);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return TL_ERR_NOT_FOUND;
    if (rc != SQLITE_ROW)
        return TL_ERR_STORE;
    if (load_waves(st, out) != TL_OK) {
        store_feed_case_clear(out);
        return TL_ERR_STORE;
    }
    return TL_OK;
}

int64_t sqlite_feed_last_ended_before(struct tl_store *st, int64_t since)
{
    static const char sql[] = "SELECT coalesce(max(closed_at), 0) FROM cases"
                              " WHERE closed_at < ?1 AND verified_at IS NOT NULL";
    sqlite3_stmt *s = store_stmt(st, sql);
    int64_t v = 0;

    if (s == NULL)
        return 0;
    sqlite3_bind_int64(s, 1, since);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return v;
}
