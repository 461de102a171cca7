/*
 * test_pg_read.c — the PostgreSQL backend's reads (pg_api.c, pg_feed.c,
 * pg_stats.c) against the SQLite backend's: one fixture (plain SQL that
 * both engines take, rows with fixed ids) is loaded into a SQLite temp file
 * and into a fresh PostgreSQL database, and every operator API read, for
 * each role, must give byte for byte the same JSON document on both; the
 * feed's cases and the stats' counts must be equal field by field. Some
 * documents are also checked against the values typed here (numbers
 * masked for a viewer, the reporter hidden from one, REALs as 5.0, the
 * Urdu names from the lookup), and the API's writes (idempotency records,
 * resends) are run on both with the same answers and rows. Last, the
 * server drops every connection: both readers read again.
 * Needs the throw-away cluster of `make test-pg`; else a TAP skip.
 */
#include "common/result.h"
#include "gateway/store/store.h"
#include "gateway/store/store_api.h"
#include "gateway/store/store_feed.h"
#include "gateway/store/store_stats.h"
#include "tests/tap.h"
#include "tests/unit/pg_testdb.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Rows for every read: areas, people, cases in each state, waves, messages, audit. */
static const char *const fixture[] = {
    "INSERT INTO areas (code, name_en, kind, parent_code, lat, lon) VALUES"
    " ('PK-KHI', 'Karachi', 'city', NULL, 24.86, 67.01),"
    " ('PK-KHI-SDR', 'Saddar', 'town', 'PK-KHI', 24.85, 67.02),"
    " ('PK-LHE', 'Lahore', 'city', NULL, 31.5, 74.3),"
    " ('pk-low', 'lower case', 'town', 'PK-LHE', 31.4, 74.2)",
    "INSERT INTO subscribers (id, phone, lang, channel, opted_out, created_at, updated_at) VALUES"
    " (1, '+923001234567', 'ur', 'at1', 0, 900, 950),"
    " (2, '+923011112222', 'en', NULL, 1, 901, 960),"
    " (3, '+923021113333', 'roman-ur', 'at2', 0, 902, 902),"
    " (4, '0300-local', 'en', 'at1', 0, 903, 903)",
    "INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at) VALUES"
    " (1, 'PK-KHI-SDR', '+923001234567', 910), (1, 'PK-KHI', '+923001234567', 911),"
    " (3, 'PK-KHI', '+923021113333', 912), (3, 'pk-low', '+923021113333', 913),"
    " (3, 'PK-LHE', '+923021113333', 914), (4, 'PK-XXX', '0300-local', 915)",
    "INSERT INTO police (id, phone, area_code, pin_hash, created_at) VALUES"
    " (1, '+923331234567', 'PK-KHI', 'x$hash', 800), (2, '+923331234567', 'PK-LHE', NULL, 801),"
    " (3, '+923221110000', 'PK-KHI-SDR', NULL, 802)",
    "INSERT INTO blocklist (phone, reason, created_at) VALUES"
    " ('+923011112222', 'abuse', 1500), ('+923451112222', NULL, 1500),"
    " ('+923001110000', 'spam', 1400)",
    "INSERT INTO cases (id, case_no, state, reporter_phone, reporter_lang, channel, child_name,"
    " age, gender, area_code, area_text, last_seen, description, contact, radius_km, created_at,"
    " updated_at, verified_at, verified_by, closed_at, close_reason, redacted_at, stage) VALUES"
    " (1, 'K7Q2M', 'active', '+923001234567', 'ur', 'at1', 'Ali \"Baba\"', 7, 'male',"
    "  'PK-KHI-SDR', 'near\tthe\nmarket\b\001', 'yesterday 5pm', 'red\\shirt / blue',"
    "  '+923009998887', 5, 1000, 1100, 1010, '+923331234567', NULL, NULL, NULL, 1),"
    " (2, 'M3X9P', 'found', '+923011112222', 'en', 'at1', 'Sara', 5, 'female', 'PK-LHE', NULL,"
    "  NULL, 'لال قمیض', NULL, 2.5, 2000, 2600, 2100, NULL, 2500, 'found', NULL, 0),"
    " (3, 'Z9Z9Z', 'draft', '+923021113333', 'roman-ur', 'at2', NULL, NULL, NULL, NULL, NULL,"
    "  NULL, NULL, NULL, 0, 3000, 3000, NULL, NULL, NULL, NULL, NULL, 0),"
    " (4, 'R4R4R', 'active', '+923001234567', 'en', 'at1', 'x', 9, 'male', 'PK-XXX', 'somewhere',"
    "  NULL, NULL, NULL, 0.1, 3500, 3600, 3550, NULL, NULL, NULL, 3900, 2),"
    " (5, 'C5C5C', 'cancelled', '+923001234567', 'en', 'at1', 'y', 3, 'female', 'PK-KHI', NULL,"
    "  NULL, NULL, NULL, 10, 4000, 4100, NULL, NULL, 4100, 'duplicate', NULL, 0),"
    " (6, 'Q6Q6Q', 'closed', '+923001234567', 'en', 'at1', 'z', 11, 'male', 'pk-low', NULL,"
    "  NULL, NULL, NULL, 1000000000000000000000, 30, 50, 40, NULL, 50, 'closed', NULL, 0),"
    " (7, 'P7P7P', 'reported', '+923001234567', 'en', 'at1', 'w', 4, 'male', 'PK-KHI', NULL,"
    "  NULL, NULL, NULL, 0.333333333333333333, 4500, 4500, NULL, NULL, NULL, NULL, NULL, 0)",
    "INSERT INTO sightings (id, case_id, phone, text, created_at) VALUES"
    " (1, 1, '+923021113333', 'saw him at \"Empress\" market', 1200),"
    " (2, 1, NULL, 'via USSD', 1300)",
    "INSERT INTO alerts (id, case_id, kind, radius_km, text_en, text_ur, text_roman_ur,"
    " created_at) VALUES"
    " (1, 1, 'alert', 5, 'ALERT Ali', 'الرٹ', 'alert ru', 1020),"
    " (2, 1, 'escalation', 12.5, 'WIDER Ali', 'الرٹ 2', 'wider ru', 1060),"
    " (3, 2, 'alert', 2.5, 'ALERT Sara', 'الرٹ سارہ', 'alert sara', 2110),"
    " (4, 2, 'update', -1, 'FOUND Sara', 'مل گئی', 'mil gayi', 2500)",
    "INSERT INTO outbox (id, channel, phone, text, lang, kind, priority, state, attempts,"
    " next_attempt_ms, expires_at, case_id, alert_id, created_at, updated_at, error) VALUES"
    " (1, 'at1', '+923331234567', 'POLICE 1', NULL, 'police', 0, 'sent', 1, 0, NULL, 1, NULL,"
    "  1005, 1006, NULL),"
    " (2, 'at1', '+923221110000', 'POLICE 2', NULL, 'police', 0, 'delivered', 1, 0, NULL, 1,"
    "  NULL, 1006, 1007, NULL),"
    " (3, 'at1', '+923001234567', NULL, 'ur', 'alert', 2, 'queued', 0, 0, NULL, 1, 1, 1020,"
    "  1020, NULL),"
    " (4, 'at2', '+923021113333', NULL, 'roman-ur', 'alert', 2, 'failed', 3, 0, 5000, 1, 1, 1020,"
    "  1030, 'rejected'),"
    " (5, 'at1', '+923009990000', NULL, 'en', 'alert', 2, 'expired', 1, 0, 1500, 1, 2, 1060,"
    "  1070, 'too late'),"
    " (6, 'at1', '+923009990001', NULL, 'en', 'alert', 2, 'delivered', 1, 0, NULL, 1, 2, 1060,"
    "  1070, NULL),"
    " (7, 'at1', '+923009990002', NULL, 'en', 'update', 1, 'sent', 1, 0, NULL, 2, 4, 2500, 2501,"
    "  NULL),"
    " (8, 'at1', '+923001234567', 'Thanks', 'ur', 'reply', 0, 'delivered', 1, 0, NULL, 1, NULL,"
    "  1001, 1002, NULL)",
    "INSERT INTO outbox_tallies (case_id, alert_id, kind, channel, state, n) VALUES"
    " (1, 1, 'alert', 'at1', 'delivered', 40), (1, 1, 'alert', 'at2', 'failed', 2)",
    "INSERT INTO audit_log (id, at, actor, action, case_id, outcome, detail) VALUES"
    " (1, 1000, '+923001234567', 'report', 1, 'ok', NULL),"
    " (2, 1010, '+923331234567', 'verify', 1, 'ok', 'pin ok'),"
    " (3, 1050, 'api:ops', 'note', 1, 'ok', '{\"x\":1}'),"
    " (4, 1060, 'cli', 'escalate', 1, 'ok', NULL),"
    " (5, 2100, '+923221110000', 'verify', 2, 'refused', 'bad pin'),"
    " (6, 2500, 'API:Admin', 'close', 2, 'ok', NULL),"
    " (7, 2600, 'api:ops', 'token', NULL, 'refused', 'bad token')",
    NULL};

static const char *const case_nos[] = {"K7Q2M", "M3X9P", "Z9Z9Z", "R4R4R",
                                       "C5C5C", "Q6Q6Q", "P7P7P", "NOPE1"};
static const char *const phones[] = {"+923001234567", "+923011112222", "+923021113333",
                                     "0300-local", "+923339999999"};

static const char *area_ur(void *ctx, const char *code)
{
    (void)ctx;
    if (strcmp(code, "PK-KHI") == 0)
        return "کراچی";
    if (strcmp(code, "PK-LHE") == 0)
        return ""; /* empty: no name */
    if (strcmp(code, "PK-KHI-SDR") == 0)
        return "صدر \"S\"";
    return NULL;
}

static bool load_sqlite(const char *path)
{
    sqlite3 *db = NULL;
    bool good = sqlite3_open(path, &db) == SQLITE_OK;

    for (size_t i = 0; good && fixture[i] != NULL; i++) {
        char *err = NULL;
        if (sqlite3_exec(db, fixture[i], NULL, NULL, &err) != SQLITE_OK) {
            diag("sqlite fixture %zu: %s", i, err);
            good = false;
        }
        sqlite3_free(err);
    }
    sqlite3_close(db);
    return good;
}

static bool pg_exec(const char *url, const char *const *sql)
{
    PGconn *c = PQconnectdb(url);
    bool good = PQstatus(c) == CONNECTION_OK;

    for (size_t i = 0; good && sql[i] != NULL; i++) {
        PGresult *r = PQexec(c, sql[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            diag("pg statement %zu: %s", i, PQerrorMessage(c));
            good = false;
        }
        PQclear(r);
    }
    PQfinish(c);
    return good;
}

/* The two backends' stores: the daemon's (writes, feed) and the API reader. */
struct both {
    struct tl_store *lite, *pg;
    struct tl_store *lite_reader, *pg_reader;
};

static int cmp_count, cmp_diff;

/* Both answers the same (code and document); each pair one TAP line. */
static void same_doc(const char *what, int rc_lite, char *lite, int rc_pg, char *pg)
{
    bool same = rc_lite == rc_pg && ((lite == NULL && pg == NULL) ||
                                     (lite != NULL && pg != NULL && strcmp(lite, pg) == 0));
    cmp_count++;
    if (!ok(same, "%s: the same on both backends (rc %d)", what, rc_lite)) {
        cmp_diff++;
        printf("#   sqlite (%d): %s\n#   pg     (%d): %s\n", rc_lite, lite ? lite : "(null)", rc_pg,
               pg ? pg : "(null)");
    }
    free(lite);
    free(pg);
}

static void test_cases_lists(struct both *b)
{
    static const struct {
        const char *state, *area;
        int64_t since, until, before;
        int limit;
    } filters[] = {
        {NULL, NULL, 0, 0, 0, 200},       {NULL, NULL, 0, 0, 0, 2},
        {NULL, NULL, 0, 0, 5, 2},         {NULL, NULL, 0, 0, 3, 2},
        {"active", NULL, 0, 0, 0, 50},    {"draft", NULL, 0, 0, 0, 50},
        {NULL, "PK-KHI", 0, 0, 0, 50},    {NULL, "PK-LHE", 0, 0, 0, 50},
        {"active", "PK-KHI", 0, 0, 0, 1}, {NULL, NULL, 2000, 4000, 0, 50},
        {NULL, NULL, 3500, 0, 0, 50},     {NULL, "NOWHERE", 0, 0, 0, 50},
        {"found", NULL, 0, 0, 0, 1},
    };
    for (int role = TL_ROLE_VIEWER; role <= TL_ROLE_ADMIN; role++) {
        for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
            struct tl_case_filter f = {filters[i].state, filters[i].area,   filters[i].since,
                                       filters[i].until, filters[i].before, filters[i].limit};
            char *a = NULL, *p = NULL, what[80];
            int ra = store_api_cases(b->lite_reader, (enum tl_role)role, &f, &a);
            int rp = store_api_cases(b->pg_reader, (enum tl_role)role, &f, &p);
            snprintf(what, sizeof(what), "api_cases role %d filter %zu", role, i);
            same_doc(what, ra, a, rp, p);
        }
    }
}

static void test_one_docs(struct both *b)
{
    char *a, *p, what[80];

    for (int role = TL_ROLE_VIEWER; role <= TL_ROLE_ADMIN; role++) {
        for (size_t i = 0; i < sizeof(case_nos) / sizeof(case_nos[0]); i++) {
            a = p = NULL;
            int ra = store_api_case(b->lite_reader, (enum tl_role)role, case_nos[i], &a);
            int rp = store_api_case(b->pg_reader, (enum tl_role)role, case_nos[i], &p);
            snprintf(what, sizeof(what), "api_case %s role %d", case_nos[i], role);
            same_doc(what, ra, a, rp, p);
        }
        for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
            a = p = NULL;
            int ra = store_api_subscriber(b->lite_reader, (enum tl_role)role, phones[i], &a);
            int rp = store_api_subscriber(b->pg_reader, (enum tl_role)role, phones[i], &p);
            snprintf(what, sizeof(what), "api_subscriber %s role %d", phones[i], role);
            same_doc(what, ra, a, rp, p);
        }
        a = p = NULL;
        int ra = store_api_police(b->lite_reader, (enum tl_role)role, &a);
        int rp = store_api_police(b->pg_reader, (enum tl_role)role, &p);
        snprintf(what, sizeof(what), "api_police role %d", role);
        same_doc(what, ra, a, rp, p);
        a = p = NULL;
        ra = store_api_blocks(b->lite_reader, (enum tl_role)role, &a);
        rp = store_api_blocks(b->pg_reader, (enum tl_role)role, &p);
        snprintf(what, sizeof(what), "api_blocks role %d", role);
        same_doc(what, ra, a, rp, p);
        static const struct {
            int64_t before;
            int limit;
        } pages[] = {{0, 100}, {0, 2}, {5, 2}, {3, 2}, {2, 5}, {1, 5}};
        for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
            a = p = NULL;
            ra = store_api_audit(b->lite_reader, (enum tl_role)role, pages[i].before,
                                 pages[i].limit, &a);
            rp = store_api_audit(b->pg_reader, (enum tl_role)role, pages[i].before, pages[i].limit,
                                 &p);
            snprintf(what, sizeof(what), "api_audit role %d page %zu", role, i);
            same_doc(what, ra, a, rp, p);
        }
    }
    a = p = NULL;
    int ra = store_api_subscriber_counts(b->lite_reader, &a);
    int rp = store_api_subscriber_counts(b->pg_reader, &p);
    same_doc("api_subscriber_counts", ra, a, rp, p);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);

    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* Values typed here, on PostgreSQL (the comparisons above hold SQLite to the same). */
static void test_values(struct both *b)
{
    char *j = NULL;

    is_int(store_api_blocks(b->pg_reader, TL_ROLE_VIEWER, &j), TL_OK, "blocks: read");
    is_str(j,
           "{\"blocks\":[{\"phone\":\"+92301****222\",\"reason\":\"abuse\",\"created_at\":1500},"
           "{\"phone\":\"+92345****222\",\"reason\":null,\"created_at\":1500},"
           "{\"phone\":\"+92300****000\",\"reason\":\"spam\",\"created_at\":1400}]}",
           "blocks for a viewer: masked, newest first, then by number");
    free(j);
    j = NULL;
    is_int(store_api_police(b->pg_reader, TL_ROLE_OPERATOR, &j), TL_OK, "police: read");
    is_str(j,
           "{\"police\":[{\"phone\":\"+923221110000\",\"area\":{\"code\":\"PK-KHI-SDR\","
           "\"name\":\"Saddar\",\"name_ur\":\"صدر \\\"S\\\"\"},\"has_pin\":false,"
           "\"created_at\":802},{\"phone\":\"+923331234567\",\"area\":{\"code\":\"PK-KHI\","
           "\"name\":\"Karachi\",\"name_ur\":\"کراچی\"},\"has_pin\":true,\"created_at\":800},"
           "{\"phone\":\"+923331234567\",\"area\":{\"code\":\"PK-LHE\",\"name\":\"Lahore\","
           "\"name_ur\":null},\"has_pin\":false,\"created_at\":801}]}",
           "police for an operator: numbers in full, no PIN hash, Urdu names");
    free(j);
    j = NULL;
    is_int(store_api_case(b->pg_reader, TL_ROLE_VIEWER, "K7Q2M", &j), TL_OK, "case: read");
    is_str(j,
           "{\"case\":\"K7Q2M\",\"state\":\"active\",\"name\":\"Ali \\\"Baba\\\"\",\"age\":7,"
           "\"gender\":\"male\",\"area\":{\"code\":\"PK-KHI-SDR\",\"name\":\"Saddar\","
           "\"name_ur\":\"صدر \\\"S\\\"\"},\"area_text\":\"near\\tthe\\nmarket\\b\\u0001\","
           "\"last_seen\":\"yesterday 5pm\",\"description\":\"red\\\\shirt / blue\","
           "\"lang\":\"ur\",\"radius_km\":5.0,\"stage\":1,\"created_at\":1000,"
           "\"updated_at\":1100,\"verified_at\":1010,\"closed_at\":null,\"close_reason\":null,"
           "\"redacted\":false,\"reporter\":null,\"contact\":null,"
           "\"alerts\":{\"queued\":1,\"sending\":0,\"sent\":0,\"delivered\":41,\"failed\":3,"
           "\"expired\":1,\"cancelled\":0,\"total\":46},"
           "\"updates\":{\"queued\":0,\"sending\":0,\"sent\":0,\"delivered\":0,\"failed\":0,"
           "\"expired\":0,\"cancelled\":0,\"total\":0},"
           "\"police_notices\":{\"queued\":0,\"sending\":0,\"sent\":1,\"delivered\":1,"
           "\"failed\":0,\"expired\":0,\"cancelled\":0,\"total\":2},"
           "\"sightings\":[{\"at\":1200,\"from\":\"+92302****333\",\"text\":\"saw him at "
           "\\\"Empress\\\" market\"},{\"at\":1300,\"from\":null,\"text\":\"via USSD\"}],"
           "\"timeline\":[{\"at\":1000,\"event\":\"reported\"},"
           "{\"at\":1005,\"event\":\"police_notified\",\"count\":2},"
           "{\"at\":1010,\"event\":\"verify\",\"actor\":\"+92333****567\",\"outcome\":\"ok\"},"
           "{\"at\":1020,\"event\":\"wave\",\"kind\":\"alert\",\"radius_km\":5.0},"
           "{\"at\":1050,\"event\":\"note\",\"actor\":\"api:ops\",\"outcome\":\"ok\"},"
           "{\"at\":1060,\"event\":\"wave\",\"kind\":\"escalation\",\"radius_km\":12.5},"
           "{\"at\":1060,\"event\":\"escalate\",\"actor\":\"cli\",\"outcome\":\"ok\"},"
           "{\"at\":1200,\"event\":\"sighting\"},{\"at\":1300,\"event\":\"sighting\"}]}",
           "a case for a viewer: no reporter, no contact, numbers masked, REAL as 5.0,"
           " counts with the pruned tallies, the timeline in time order");
    free(j);
    j = NULL;
    is_int(store_api_case(b->pg_reader, TL_ROLE_OPERATOR, "K7Q2M", &j), TL_OK,
           "case for an operator: read");
    ok(j && strstr(j, "\"reporter\":\"+923001234567\",\"contact\":\"+923009998887\"}") == NULL &&
           strstr(j, "\"reporter\":\"+923001234567\",\"contact\":\"+923009998887\",") != NULL,
       "a case for an operator has the reporter and the typed contact");
    ok(j && strstr(j, "\"from\":\"+923021113333\"") != NULL,
       "a case for an operator: sighting numbers in full");
    free(j);
    j = NULL;
    is_int(store_api_cases(b->pg_reader, TL_ROLE_VIEWER, &(struct tl_case_filter){.limit = 2}, &j),
           TL_OK, "cases page: read");
    ok(j && strncmp(j, "{\"cases\":[{\"case\":\"P7P7P\"", 25) == 0 &&
           strstr(j, "\"radius_km\":0.333333333333333,") != NULL &&
           strstr(j, "},{\"case\":\"Q6Q6Q\"") != NULL &&
           strstr(j, "\"radius_km\":1.0e+21,") != NULL && ends_with(j, "}],\"next_cursor\":\"6\"}"),
       "cases: newest first, drafts left out, REALs as SQLite prints them, the cursor");
    free(j);
    j = NULL;
    is_int(store_api_subscriber_counts(b->pg_reader, &j), TL_OK, "subscriber counts: read");
    is_str(j,
           "{\"areas\":[{\"code\":\"PK-KHI\",\"name\":\"Karachi\",\"name_ur\":\"کراچی\","
           "\"subscribers\":2},{\"code\":\"PK-KHI-SDR\",\"name\":\"Saddar\",\"name_ur\":"
           "\"صدر \\\"S\\\"\",\"subscribers\":1},{\"code\":\"PK-LHE\",\"name\":\"Lahore\","
           "\"name_ur\":null,\"subscribers\":1},{\"code\":\"PK-XXX\",\"name\":null,"
           "\"name_ur\":null,\"subscribers\":1},{\"code\":\"pk-low\",\"name\":\"lower case\","
           "\"name_ur\":null,\"subscribers\":1}],\"subscribers\":3,\"opted_out\":1}",
           "subscriber counts: by count, then by code in byte order");
    free(j);
    j = NULL;
    is_int(store_api_subscriber(b->pg_reader, TL_ROLE_VIEWER, "+923339999999", &j),
           TL_ERR_NOT_FOUND, "an unknown number: not found");
    is_int(store_api_case(b->pg_reader, TL_ROLE_VIEWER, "NOPE1", &j), TL_ERR_NOT_FOUND,
           "an unknown case: not found");
    ok(j == NULL, "no document for what is not found");
    is_int(store_api_audit(b->pg_reader, TL_ROLE_OPERATOR, 0, 100, &j), TL_OK, "audit: read");
    ok(j && strstr(j, "api:") == NULL && strstr(j, "API:") == NULL &&
           strstr(j, "\"id\":5,\"at\":2100,\"actor\":\"+923221110000\"") != NULL,
       "audit for an operator: no API actor (any case), numbers in full");
    free(j);
    j = NULL;
    is_int(store_api_audit(b->pg_reader, TL_ROLE_ADMIN, 0, 2, &j), TL_OK, "audit page: read");
    is_str(j,
           "{\"entries\":[{\"id\":7,\"at\":2600,\"actor\":\"api:ops\",\"action\":\"token\","
           "\"case\":null,\"outcome\":\"refused\",\"detail\":\"bad token\"},{\"id\":6,"
           "\"at\":2500,\"actor\":\"API:Admin\",\"action\":\"close\",\"case\":\"M3X9P\","
           "\"outcome\":\"ok\",\"detail\":null}],\"next_cursor\":\"6\"}",
           "audit for an admin: the API's own entries, a page of two and its cursor");
    free(j);
}

static void test_feed(struct both *b)
{
    struct tl_feed_case *lv = NULL, *pv = NULL;
    size_t ln = 0, pn = 0;

    is_int(store_feed_cases(b->pg, 2400, &pv, &pn), TL_OK, "feed cases: read (pg)");
    is_int(store_feed_cases(b->lite, 2400, &lv, &ln), TL_OK, "feed cases: read (sqlite)");
    is_int(pn, 3, "feed: the two active cases and the one found since");
    is_int(pn, ln, "feed: as many cases on both");
    const char *order = pn == 3 ? pv[0].case_no : "";
    is_str(order, "R4R4R", "feed: the latest event first");
    for (size_t i = 0; i < pn && i < ln; i++) {
        struct tl_feed_case *l = &lv[i], *p = &pv[i];
        bool same = l->id == p->id && strcmp(l->case_no, p->case_no) == 0 &&
                    strcmp(l->state, p->state) == 0 &&
                    ((l->area_code == NULL && p->area_code == NULL) ||
                     (l->area_code && p->area_code && strcmp(l->area_code, p->area_code) == 0)) &&
                    l->verified_at == p->verified_at && l->closed_at == p->closed_at &&
                    l->police_verified == p->police_verified && l->nwaves == p->nwaves;
        for (size_t w = 0; same && w < p->nwaves; w++) {
            struct tl_feed_wave *lw = &l->waves[w], *pw = &p->waves[w];
            same = lw->id == pw->id && strcmp(lw->kind, pw->kind) == 0 &&
                   lw->radius_km == pw->radius_km && lw->created_at == pw->created_at &&
                   strcmp(lw->text_en, pw->text_en) == 0 && strcmp(lw->text_ur, pw->text_ur) == 0;
        }
        ok(same, "feed case %zu (%s): the same on both backends", i, p->case_no);
    }
    if (pn == 3) {
        is_int(pv[2].police_verified, 1, "K7Q2M: a police VERIFY was accepted");
        is_int(pv[1].police_verified, 0, "M3X9P: only a refused VERIFY");
        is_int(pv[1].nwaves, 2, "M3X9P: its alert and its closing update");
        ok(pv[1].nwaves == 2 && pv[1].waves[1].radius_km == -1.0 &&
               strcmp(pv[1].waves[1].kind, "update") == 0 &&
               strcmp(pv[1].waves[1].text_ur, "مل گئی") == 0,
           "M3X9P's update wave: whole city, its Urdu text");
    }
    store_feed_cases_free(lv, ln);
    store_feed_cases_free(pv, pn);

    for (size_t i = 0; i < sizeof(case_nos) / sizeof(case_nos[0]); i++) {
        struct tl_feed_case l, p;
        int rl = store_feed_case(b->lite, case_nos[i], 2400, &l);
        int rp = store_feed_case(b->pg, case_nos[i], 2400, &p);
        bool same = rl == rp;
        if (same && rp == TL_OK)
            same = l.id == p.id && l.nwaves == p.nwaves && strcmp(l.state, p.state) == 0 &&
                   l.closed_at == p.closed_at && l.police_verified == p.police_verified;
        ok(same, "feed case %s: the same answer on both (rc %d)", case_nos[i], rp);
        if (rl == TL_OK)
            store_feed_case_clear(&l);
        if (rp == TL_OK)
            store_feed_case_clear(&p);
    }
    struct tl_feed_case c;
    is_int(store_feed_case(b->pg, "M3X9P", 2600, &c), TL_ERR_NOT_FOUND,
           "feed: a case ended before the window is not public");
    is_int(store_feed_case(b->pg, "C5C5C", 0, &c), TL_ERR_NOT_FOUND,
           "feed: a case cancelled before any broadcast is never public");
    is_int(store_feed_last_ended_before(b->pg, 2400), 50,
           "feed: the last broadcast case that ended before the window");
    is_int(store_feed_last_ended_before(b->pg, 2400), store_feed_last_ended_before(b->lite, 2400),
           "feed: the same on SQLite");
    is_int(store_feed_last_ended_before(b->pg, 40), 0, "feed: none before the first end");
}

static void test_stats(const char *lite_path, const char *url)
{
    struct tl_store_reader *lr = NULL, *pr = NULL;
    struct tl_store_stats l, p;
    char *cause = NULL;

    is_int(store_reader_open(url, 5000, &pr, &cause), TL_OK, "stats reader: opens on pg");
    is_int(store_reader_open(lite_path, 5000, &lr, &cause), TL_OK, "stats reader: opens on sqlite");
    if (pr == NULL || lr == NULL) {
        store_reader_close(pr);
        store_reader_close(lr);
        return;
    }
    is_int(store_stats_read(pr, &p), TL_OK, "stats: read (pg)");
    is_int(store_stats_read(lr, &l), TL_OK, "stats: read (sqlite)");
    ok(memcmp(p.cases, l.cases, sizeof(p.cases)) == 0, "stats: cases by state the same");
    is_int(p.cases[TL_CASE_ACTIVE], 2, "stats: two active cases");
    is_int(p.subscribers, 3, "stats: numbers not opted out");
    is_int(p.opted_out, 1, "stats: opted out");
    is_int(p.subscriptions, 6, "stats: subscriptions");
    is_int(p.police, 3, "stats: police registrations");
    ok(p.subscribers == l.subscribers && p.opted_out == l.opted_out &&
           p.subscriptions == l.subscriptions && p.police == l.police,
       "stats: the people counts the same");
    is_int(p.noutbox, l.noutbox, "stats: as many outbox groups");
    size_t found = 0;
    int64_t total = 0;
    for (size_t i = 0; i < p.noutbox; i++) {
        total += p.outbox[i].n;
        for (size_t k = 0; k < l.noutbox; k++) {
            if (strcmp(p.outbox[i].channel, l.outbox[k].channel) == 0 &&
                p.outbox[i].kind == l.outbox[k].kind &&
                p.outbox[i].priority == l.outbox[k].priority &&
                p.outbox[i].state == l.outbox[k].state && p.outbox[i].n == l.outbox[k].n)
                found++;
        }
    }
    is_int(found, p.noutbox, "stats: every outbox group the same on both");
    is_int(total, 8, "stats: every outbox row counted");
    ok(store_reader_errmsg(pr) != NULL, "stats: the reader has an error message to log");
    store_stats_clear(&p);
    store_stats_clear(&l);
    store_reader_close(pr);
    store_reader_close(lr);
}

/* The API's writes on the daemon's store, run on both. */
static void test_writes(struct both *b, const char *lite_path, const char *url)
{
    struct tl_store *s[2] = {b->lite, b->pg};
    const char *name[2] = {"sqlite", "pg"};

    for (int i = 0; i < 2; i++) {
        int status = 0;
        char *body = NULL, state[16] = "";
        is_int(store_api_idem_get(s[i], "ops", "k1", "POST", "/api/v1/blocks", &status, &body),
               TL_ERR_NOT_FOUND, "%s: a new key is not found", name[i]);
        is_int(store_api_idem_put(s[i], "ops", "k1", "POST", "/api/v1/blocks", 201,
                                  "{\"ok\":true}\n", 10000),
               TL_OK, "%s: an answer stored", name[i]);
        is_int(store_api_idem_put(s[i], "ops", "k2", "POST", "/api/v1/x", 400, NULL, 10500), TL_OK,
               "%s: an answer without a body stored", name[i]);
        is_int(store_api_idem_get(s[i], "ops", "k1", "POST", "/api/v1/blocks", &status, &body),
               TL_OK, "%s: the stored answer found", name[i]);
        is_int(status, 201, "%s: its status", name[i]);
        is_str(body, "{\"ok\":true}\n", "%s: its body", name[i]);
        free(body);
        body = NULL;
        is_int(store_api_idem_get(s[i], "ops", "k2", "POST", "/api/v1/x", &status, &body), TL_OK,
               "%s: the body-less answer found", name[i]);
        ok(body == NULL && status == 400, "%s: no body, status 400", name[i]);
        is_int(store_api_idem_get(s[i], "ops", "k1", "DELETE", "/api/v1/blocks", &status, &body),
               TL_ERR_DUPLICATE, "%s: the key used for another method", name[i]);
        is_int(store_api_idem_get(s[i], "ops", "k1", "POST", "/api/v1/other", &status, &body),
               TL_ERR_DUPLICATE, "%s: the key used for another path", name[i]);
        is_int(store_api_idem_get(s[i], "admin", "k1", "POST", "/api/v1/blocks", &status, &body),
               TL_ERR_NOT_FOUND, "%s: another token's key is its own", name[i]);
        ok(store_api_idem_put(s[i], "ops", "k1", "POST", "/api/v1/blocks", 201, "x", 10001) !=
               TL_OK,
           "%s: a key is stored once", name[i]);
        is_int(store_api_idem_prune(s[i], 10200), 1, "%s: prune forgets the older answer", name[i]);
        is_int(store_api_idem_get(s[i], "ops", "k1", "POST", "/api/v1/blocks", &status, &body),
               TL_ERR_NOT_FOUND, "%s: the pruned answer is gone", name[i]);
        is_int(store_api_idem_prune(s[i], 10200), 0, "%s: nothing left to prune", name[i]);

        is_int(store_api_resend(s[i], 4, 20000, state), TL_OK, "%s: a failed message resent",
               name[i]);
        is_str(state, "failed", "%s: the state it had", name[i]);
        is_int(store_api_resend(s[i], 5, 20000, state), TL_OK, "%s: an expired message resent",
               name[i]);
        is_str(state, "expired", "%s: the state it had", name[i]);
        is_int(store_api_resend(s[i], 4, 20001, state), TL_ERR_BUSY,
               "%s: a queued message is not resent again", name[i]);
        is_str(state, "queued", "%s: its state told", name[i]);
        is_int(store_api_resend(s[i], 6, 20000, state), TL_ERR_BUSY,
               "%s: a delivered message is not resent", name[i]);
        is_str(state, "delivered", "%s: its state told", name[i]);
        is_int(store_api_resend(s[i], 999, 20000, state), TL_ERR_NOT_FOUND,
               "%s: an unknown message", name[i]);
    }
    is_int(pg_testdb_value(url, "SELECT count(*) FROM outbox WHERE id IN (4, 5) AND"
                                " state = 'queued' AND attempts = 0 AND error IS NULL AND"
                                " next_attempt_ms = 20000000 AND updated_at = 20000"),
           2, "pg: both resent rows queued from attempt 0, due now");
    is_int(pg_testdb_value(url, "SELECT expires_at FROM outbox WHERE id = 4"), 23600,
           "pg: an expiry past is moved an hour from now");
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long lite_exp = -1, lite_n = -1;
    if (sqlite3_open_v2(lite_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT expires_at FROM outbox WHERE id = 4),"
                           " (SELECT count(*) FROM outbox WHERE id IN (4, 5) AND"
                           " state = 'queued' AND attempts = 0 AND error IS NULL AND"
                           " next_attempt_ms = 20000000 AND updated_at = 20000)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        lite_exp = sqlite3_column_int64(st, 0);
        lite_n = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    ok(lite_exp == 23600 && lite_n == 2, "sqlite: the same rows after the resends");
}

/* A second node's call, run on a thread of its own while the first node holds the row. */
struct racer {
    struct tl_store *st;
    bool idem; /* else a resend of outbox row 4 */
    char state[16];
    int rc;
};

static void *racer_run(void *arg)
{
    struct racer *r = arg;

    if (r->idem)
        r->rc = store_api_idem_put(r->st, "ops", "race", "POST", "/api/v1/x", 200, "b", 30000);
    else
        r->rc = store_api_resend(r->st, 4, 30000, r->state);
    return NULL;
}

/* Waits (up to 10 s) until some session of the database waits for a lock. */
static bool lock_waited(const char *url)
{
    for (int i = 0; i < 1000; i++) {
        if (pg_testdb_value(url, "SELECT count(*) FROM pg_stat_activity"
                                 " WHERE datname = current_database()"
                                 " AND wait_event_type = 'Lock'") > 0)
            return true;
        usleep(10000);
    }
    return false;
}

/*
 * Two nodes at once: the first node's transaction resends a message (or
 * stores an idempotent answer) and holds it; the second node's same call
 * waits for it, then finds it done: BUSY with state queued (a resend once),
 * or a duplicate key (one stored answer).
 */
static void test_two_nodes(struct both *b, const char *url)
{
    static const char *const reset[] = {"UPDATE outbox SET state = 'failed' WHERE id = 4", NULL};
    struct tl_store *other = NULL;
    char *cause = NULL, state[16] = "";

    is_int(store_open(url, 5000, &other, &cause), TL_OK, "two nodes: a second store opens");
    if (other == NULL) {
        free(cause);
        return;
    }
    ok(pg_exec(url, reset), "two nodes: outbox row 4 failed again");
    for (int idem = 0; idem < 2; idem++) {
        struct racer r = {.st = other, .idem = idem != 0, .rc = -100};
        pthread_t t;
        const char *what = idem ? "idempotency key" : "resend";
        is_int(store_tx_begin(b->pg), TL_OK, "two nodes (%s): the first node begins", what);
        if (idem)
            is_int(store_api_idem_put(b->pg, "ops", "race", "POST", "/api/v1/x", 201, "a", 30000),
                   TL_OK, "two nodes: the first node stores its answer");
        else
            is_int(store_api_resend(b->pg, 4, 30000, state), TL_OK,
                   "two nodes: the first node resends");
        pthread_create(&t, NULL, racer_run, &r);
        ok(lock_waited(url), "two nodes (%s): the second node waits for the first", what);
        is_int(store_tx_commit(b->pg), TL_OK, "two nodes (%s): the first node commits", what);
        pthread_join(t, NULL);
        if (idem) {
            is_int(r.rc, TL_ERR_DUPLICATE, "two nodes: the second node's answer is refused");
        } else {
            is_int(r.rc, TL_ERR_BUSY, "two nodes: the second node's resend finds it queued");
            is_str(r.state, "queued", "two nodes: and says so");
        }
    }
    is_int(pg_testdb_value(url, "SELECT count(*) FROM api_idempotency WHERE key = 'race'"
                                " AND status = 201 AND body = 'a'"),
           1, "two nodes: one stored answer, the first node's");
    store_close(other);
}

/*
 * The server drops every connection of the database (a restart, a
 * failover): the API reader and the stats reader fail at most one read,
 * then connect again and read the same.
 */
static void test_reconnect(struct both *b, const char *url)
{
    struct tl_store_reader *r = NULL;
    struct tl_store_stats stats;
    char *before = NULL, *after = NULL, *cause = NULL;
    int rc = TL_ERR_STORE;

    is_int(store_api_police(b->pg_reader, TL_ROLE_VIEWER, &before), TL_OK,
           "reconnect: police read before");
    is_int(store_reader_open(url, 5000, &r, &cause), TL_OK, "reconnect: a stats reader opens");
    is_int(pg_testdb_value(url, "SELECT (count(pg_terminate_backend(pid)) > 0)::int FROM"
                                " pg_stat_activity WHERE datname = current_database()"
                                " AND pid <> pg_backend_pid()"),
           1, "reconnect: the server drops the database's connections");
    for (int i = 0; i < 2 && rc != TL_OK; i++) {
        free(after);
        after = NULL;
        rc = store_api_police(b->pg_reader, TL_ROLE_VIEWER, &after);
    }
    is_int(rc, TL_OK, "reconnect: the API reader reads again by its second try");
    is_str(after, before, "reconnect: the same document");
    rc = TL_ERR_STORE;
    for (int i = 0; r != NULL && i < 2 && rc != TL_OK; i++)
        rc = store_stats_read(r, &stats);
    is_int(rc, TL_OK, "reconnect: the stats reader reads again by its second try");
    if (rc == TL_OK) {
        is_int(stats.police, 3, "reconnect: the same counts");
        store_stats_clear(&stats);
    }
    store_reader_close(r);
    free(before);
    free(after);
    free(cause);
}

int main(void)
{
    const char *url = pg_testdb("pgread");
    char dir[] = "/tmp/test_pg_read.XXXXXX", lite_path[256];
    char *cause = NULL;
    struct both b = {0};

    if (url == NULL) {
        printf("1..0 # SKIP no PostgreSQL (make test-pg)\n");
        return 0;
    }
    if (mkdtemp(dir) == NULL) {
        printf("1..0 # SKIP no temp dir\n");
        return 0;
    }
    snprintf(lite_path, sizeof(lite_path), "%s/store.db", dir);
    is_int(store_open(lite_path, 5000, &b.lite, &cause), TL_OK, "sqlite store opens");
    is_int(store_open(url, 5000, &b.pg, &cause), TL_OK, "pg store opens and migrates");
    if (b.lite == NULL || b.pg == NULL) {
        diag("%s", cause ? cause : "");
        return done_testing();
    }
    ok(load_sqlite(lite_path), "fixture loaded into SQLite");
    ok(pg_exec(url, fixture), "fixture loaded into PostgreSQL");
    is_int(store_api_open_reader(lite_path, 5000, area_ur, NULL, &b.lite_reader, &cause), TL_OK,
           "sqlite API reader opens");
    is_int(store_api_open_reader(url, 5000, area_ur, NULL, &b.pg_reader, &cause), TL_OK,
           "pg API reader opens");
    if (b.lite_reader == NULL || b.pg_reader == NULL)
        return done_testing();

    test_cases_lists(&b);
    test_one_docs(&b);
    diag("%d documents compared, %d differ", cmp_count, cmp_diff);
    test_values(&b);
    test_feed(&b);
    test_stats(lite_path, url);
    test_writes(&b, lite_path, url);
    test_two_nodes(&b, url);
    test_reconnect(&b, url);

    struct tl_store *bad = NULL;
    is_int(
        store_api_open_reader("postgresql://127.0.0.1:1/none", 1000, area_ur, NULL, &bad, &cause),
        TL_ERR_STORE, "an API reader on a server that is not there: an error");
    ok(bad == NULL && cause != NULL, "with a cause");
    free(cause);
    cause = NULL;
    struct tl_store_reader *badr = NULL;
    is_int(store_reader_open("postgresql://127.0.0.1:1/none", 1000, &badr, &cause), TL_ERR_STORE,
           "a stats reader on a server that is not there: an error");
    ok(badr == NULL && cause != NULL, "with a cause");
    free(cause);

    store_close(b.lite_reader);
    store_close(b.pg_reader);
    store_close(b.lite);
    store_close(b.pg);
    char rm[300];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    if (system(rm) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
