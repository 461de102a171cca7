/*
 * test_store.c — opening and migrating the SQLite store (gateway/store.h):
 * a new file gets the latest schema in WAL mode, reopening is idempotent, a
 * newer schema is refused; ping and integrity check; inbound messages
 * (dedupe by channel and provider id, processing state); the areas mirror;
 * alert waves (each phone once, police first, opt-outs, languages, batches);
 * write health (a lock held by another connection: unwritable with the
 * reason, one report per change, a short lock wait meanwhile, recovery).
 * Each run works in its own mkdtemp directory and removes it.
 */
#include "common/buf.h"
#include "common/result.h"
#include "gateway/store/store.h"
#include "parsers/casenum.h"
#include "tests/tap.h"
#include "tests/unit/wave_fixture.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[256];

static void path_in_dir(char *out, size_t outsz, const char *name)
{
    snprintf(out, outsz, "%s/%s", dir, name);
}

/* Removes a database file and its WAL companions. */
static void remove_db(const char *path)
{
    char p[512];

    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

/* One integer from a query run on a separate connection; -1 on error. */
static long long query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long v = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    else
        diag("query '%s': %s", sql, db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* One text value from a query on a separate connection, into out ("" on error/NULL). */
static const char *query_text(const char *path, const char *sql, char *out, size_t outsz)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    out[0] = '\0';
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_text(s, 0) != NULL)
        snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

static void test_open(void)
{
    char path[512];
    char *cause = NULL;
    struct tl_store *st = NULL;

    path_in_dir(path, sizeof(path), "new.db");
    int rc = store_open(path, 1000, &st, &cause);
    is_int(rc, TL_OK, "store_open creates a new file");
    if (cause != NULL)
        diag("%s", cause);
    free(cause);
    cause = NULL;
    if (rc != TL_OK)
        return;
    ok(store_schema_latest() >= 1, "at least one migration (%d)", store_schema_latest());
    is_int(store_schema_version(st), store_schema_latest(), "new store is at the latest schema");
    is_int(store_ping(st), TL_OK, "ping answers");
    is_int(store_ping(st), TL_OK, "ping answers twice (cached statement reused)");
    is_int(store_integrity_check(st, &cause), TL_OK, "integrity check ok");
    ok(cause == NULL, "integrity ok leaves cause unset");
    free(cause);
    cause = NULL;
    is_int(store_inbound_count(st), 0, "a new store has no inbound messages");
    store_close(st);
    store_close(NULL);
    ok(1, "store_close(NULL) is harmless");

    char mode[32];
    is_str(query_text(path, "PRAGMA journal_mode", mode, sizeof(mode)), "wal",
           "the file is in WAL mode");
    is_int(query_int(path, "PRAGMA user_version"), store_schema_latest(),
           "user_version on disk is the latest");
    is_int(query_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                           " ('areas','inbound','outbox','dlr_pending','cases','subscribers')"),
           6, "the main tables exist");

    /* Reopening applies nothing and keeps the data. */
    st = NULL;
    rc = store_open(path, 1000, &st, &cause);
    is_int(rc, TL_OK, "reopen succeeds");
    free(cause);
    cause = NULL;
    if (rc == TL_OK) {
        struct tl_inbound_row row = {"console", "keep-1", "sms", "+923001234567", NULL, "hi", 100, NULL};
        int64_t id = 0;
        is_int(store_schema_version(st), store_schema_latest(), "reopened store at the latest");
        is_int(store_inbound_insert(st, &row, &id), TL_OK, "insert after reopen");
        store_close(st);
        st = NULL;
        rc = store_open(path, 1000, &st, &cause);
        is_int(rc, TL_OK, "third open succeeds");
        free(cause);
        cause = NULL;
        if (rc == TL_OK) {
            is_int(store_schema_version(st), store_schema_latest(), "still the latest schema");
            is_int(store_inbound_count(st), 1, "data kept across reopen");
            store_close(st);
        }
    }
    remove_db(path);

    /* A directory that does not exist. */
    st = NULL;
    path_in_dir(path, sizeof(path), "missing/dir/x.db");
    rc = store_open(path, 1000, &st, &cause);
    is_int(rc, TL_ERR_STORE, "store_open in a missing directory fails with TL_ERR_STORE");
    ok(st == NULL, "no store handed out");
    ok(cause != NULL && strncmp(cause, path, strlen(path)) == 0, "cause names the path: %s",
       cause ? cause : "(null)");
    free(cause);
}

static void test_newer_schema(void)
{
    char path[512], sql[64];
    sqlite3 *db = NULL;
    struct tl_store *st = NULL;
    char *cause = NULL;

    path_in_dir(path, sizeof(path), "newer.db");
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_latest() + 1);
    ok(sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
       "made a store with user_version latest + 1");
    sqlite3_close(db);

    int rc = store_open(path, 1000, &st, &cause);
    is_int(rc, TL_ERR_SCHEMA, "a newer schema is refused with TL_ERR_SCHEMA");
    ok(st == NULL, "no store handed out");
    ok(cause != NULL && strstr(cause, "newer than this binary") != NULL,
       "cause says 'newer than this binary': %s", cause ? cause : "(null)");
    ok(cause != NULL && strncmp(cause, path, strlen(path)) == 0, "cause starts with the path");
    free(cause);
    is_int(query_int(path, "PRAGMA user_version"), store_schema_latest() + 1,
           "the refused store's version is untouched");
    is_int(query_int(path, "SELECT count(*) FROM sqlite_schema"), 0,
           "no tables were created in the refused store");
    remove_db(path);
}

static void test_inbound(void)
{
    char path[512];
    struct tl_store *st = NULL;
    char *cause = NULL;

    path_in_dir(path, sizeof(path), "inbound.db");
    if (!ok(store_open(path, 1000, &st, &cause) == TL_OK, "open for inbound tests")) {
        diag("%s", cause ? cause : "");
        free(cause);
        return;
    }
    struct tl_inbound_row a = {"at", "ATXid_1", "sms", "+923001234567", "21512", "MISSING", 1000, NULL};
    struct tl_inbound_row again = {"at", "ATXid_1", "sms", "+923009999999", "21512", "other", 2000, NULL};
    struct tl_inbound_row other_ch = {"twilio", "ATXid_1", "sms", "+923001234567", NULL, "x", 1001, NULL};
    struct tl_inbound_row b = {"at", "ATXid_2", "ussd", "+923001234567", NULL, "1*2", 1002, NULL};
    int64_t id1 = 0, id2 = 0, id3 = 0, id4 = 0;

    is_int(store_inbound_insert(st, &a, &id1), TL_OK, "first insert TL_OK");
    ok(id1 > 0, "first insert gives an id (%lld)", (long long)id1);
    is_int(store_inbound_insert(st, &again, &id2), TL_ERR_DUPLICATE,
           "same (channel, provider_id) is TL_ERR_DUPLICATE");
    is_int(id2, id1, "duplicate hands back the earlier id");
    is_int(store_inbound_insert(st, &other_ch, &id3), TL_OK,
           "same provider id on another channel is a new message");
    ok(id3 != id1 && id3 > 0, "another channel: a new id");
    is_int(store_inbound_insert(st, &b, &id4), TL_OK, "another provider id: new");
    ok(id4 != id1 && id4 != id3, "distinct ids");
    is_int(store_inbound_count(st), 3, "three rows stored (the duplicate not)");

    char q[128], text[64];
    snprintf(q, sizeof(q), "SELECT phone || '|' || text || '|' || received_at FROM inbound"
                           " WHERE id = %lld", (long long)id1);
    is_str(query_text(path, q, text, sizeof(text)), "+923001234567|MISSING|1000",
           "the duplicate did not overwrite the first row");
    snprintf(q, sizeof(q), "SELECT coalesce(to_addr, 'NULL') FROM inbound WHERE id = %lld",
             (long long)id3);
    is_str(query_text(path, q, text, sizeof(text)), "NULL", "NULL to_addr stored as NULL");

    ok(!store_inbound_processed(st, id1), "a new message is not processed");
    is_int(store_inbound_set_state(st, id1, "processed", 1500), TL_OK, "set state processed");
    ok(store_inbound_processed(st, id1), "then it is processed");
    ok(!store_inbound_processed(st, id3), "the other row is still not processed");
    is_int(store_inbound_set_state(st, id3, "limited", 1600), TL_OK, "set state limited");
    ok(store_inbound_processed(st, id3), "limited counts as processed");
    snprintf(q, sizeof(q), "SELECT state || '|' || processed_at FROM inbound WHERE id = %lld",
             (long long)id3);
    is_str(query_text(path, q, text, sizeof(text)), "limited|1600", "state and time recorded");
    is_int(store_inbound_set_state(st, id4, "bogus", 1700), TL_ERR_STORE,
           "a state outside the CHECK set is refused");
    ok(!store_inbound_processed(st, id4), "and the row stays unprocessed");
    ok(!store_inbound_processed(st, 999999), "an unknown id is not processed");
    is_int(store_inbound_insert(st, &again, &id2), TL_ERR_DUPLICATE, "still a duplicate later");
    is_int(id2, id1, "still the first id");

    /* Stored with its expected outcome (processed in the same transaction). */
    struct tl_inbound_row c = {"at", "ATXid_3", "sms", "+923001234567", NULL, "HELP", 1800,
                               "processed"};
    int64_t id5 = 0;
    is_int(store_inbound_insert(st, &c, &id5), TL_OK, "insert stored as processed");
    ok(store_inbound_processed(st, id5), "it counts as processed at once");
    snprintf(q, sizeof(q), "SELECT state || '|' || processed_at FROM inbound WHERE id = %lld",
             (long long)id5);
    is_str(query_text(path, q, text, sizeof(text)), "processed|1800",
           "processed_at is the time it was received");
    is_int(store_inbound_set_state(st, id5, "received", 1900), TL_OK,
           "its processing failed: set back to received");
    ok(!store_inbound_processed(st, id5), "then a retry would process it");
    snprintf(q, sizeof(q), "SELECT state || '|' || coalesce(processed_at, 'NULL') FROM inbound"
                           " WHERE id = %lld", (long long)id5);
    is_str(query_text(path, q, text, sizeof(text)), "received|NULL",
           "received has no processed_at");

    store_close(st);
    remove_db(path);
}

/* Loads an SQL file (a dump) into a new database at path; false on failure. */
static bool load_sql(const char *path, const char *sql_file)
{
    FILE *f = fopen(sql_file, "rb");
    struct tl_buf b = {0};
    char chunk[4096];
    size_t got;
    sqlite3 *db = NULL;
    bool done;

    if (f == NULL)
        return false;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        tl_buf_append(&b, chunk, got);
    fclose(f);
    done = sqlite3_open(path, &db) == SQLITE_OK &&
           sqlite3_exec(db, tl_buf_str(&b), NULL, NULL, NULL) == SQLITE_OK;
    if (!done)
        diag("loading %s: %s", sql_file, db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    tl_buf_free(&b);
    return done;
}

/* A store the first release made (schema 1) migrates and works with this code. */
static void test_release_store(void)
{
    char path[512];
    struct tl_store *st = NULL;
    char *cause = NULL;

    path_in_dir(path, sizeof(path), "release.db");
    if (!ok(load_sql(path, "tests/fixtures/store/v1-release.sql"), "the release's store loaded"))
        return;
    is_int(query_int(path, "PRAGMA user_version"), 1, "it is at schema 1");
    if (!ok(store_open(path, 1000, &st, &cause) == TL_OK, "store_open migrates it")) {
        diag("%s", cause ? cause : "");
        free(cause);
        remove_db(path);
        return;
    }
    is_int(store_schema_version(st), store_schema_latest(), "now at the latest schema");
    is_int(store_rate_hit(st, "+923001111111", "msg", 2000, 60), 1,
           "rate limits count (rate_windows exists, the old events are gone)");
    struct tl_outbox_dlr d = {"at", "ATXid_old", 0, TL_OUTBOX_DELIVERED, "Success", NULL};
    is_int(store_outbox_dlr(st, &d, 2000), TL_OK,
           "a delivery report for a message sent before the upgrade finds it");
    store_close(st);
    is_int(query_int(path, "SELECT count(*) FROM outbox WHERE state = 'delivered'"), 1,
           "and marks it delivered");
    char text[64];
    is_str(query_text(path, "SELECT group_concat(phone) FROM subscriptions", text, sizeof(text)),
           "+923001111111", "subscriptions carry the phone; the opted-out number's are gone");
    is_int(query_int(path, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                           " ('rate_events', 'outbox_by_provider_id')"),
           0, "the released rate_events and outbox_by_provider_id are dropped");
    remove_db(path);
}

/* Case numbers: valid, unique, never starting with 0 or with 92 (read as a phone number). */
static void test_case_numbers(void)
{
    enum { N = 3000 };
    char path[512];
    struct tl_store *st = NULL;
    char *cause = NULL;
    int assigned = 0, invalid = 0, lead0 = 0, lead92 = 0, dup = 0;
    static char seen[100000];

    path_in_dir(path, sizeof(path), "casenos.db");
    if (!ok(store_open(path, 1000, &st, &cause) == TL_OK, "open for case-number tests")) {
        free(cause);
        return;
    }
    ok(store_tx_begin(st) == TL_OK, "one transaction for %d cases", N);
    for (int i = 0; i < N; i++) {
        struct tl_case c = {.state = "reported", .lang = "en", .age = -1};
        if (store_case_insert(st, &c) != TL_OK || store_case_assign_number(st, &c) != TL_OK)
            break;
        assigned++;
        invalid += !casenum_valid(c.case_no, strlen(c.case_no));
        lead0 += c.case_no[0] == '0';
        lead92 += c.case_no[0] == '9' && c.case_no[1] == '2';
        if (!invalid) {
            int k = (int)(strtol(c.case_no, NULL, 10) / 10); /* the five random digits */
            dup += seen[k]++ > 0;
        }
    }
    ok(store_tx_commit(st) == TL_OK, "committed");
    is_int(assigned, N, "every case got a number");
    is_int(invalid, 0, "every number has a valid check digit");
    is_int(dup, 0, "no number given twice");
    is_int(lead0, 0, "none starts with 0");
    is_int(lead92, 0, "none starts with 92 (about 33 would, by chance, without the rule)");
    store_close(st);
    remove_db(path);
}

static void test_areas(void)
{
    char path[512];
    struct tl_store *st = NULL;
    char *cause = NULL;

    path_in_dir(path, sizeof(path), "areas.db");
    if (!ok(store_open(path, 1000, &st, &cause) == TL_OK, "open for areas tests")) {
        free(cause);
        return;
    }
    const struct tl_area_row first[] = {
        {"PK-PB", "Punjab", "province", NULL, 31.17, 72.7},
        {"PK-PB-LHR", "Lahore", "city", "PK-PB", 31.5204, 74.3587},
        {"PK-PB-LHR-GB", "Gulberg", "area", "PK-PB-LHR", 31.51, 74.35},
    };
    const struct tl_area_row second[] = {
        {"PK-SD", "Sindh", "province", NULL, 25.89, 68.52},
        {"PK-SD-KHI", "Karachi", "city", "PK-SD", 24.8607, 67.0011},
    };
    char text[64];

    is_int(store_areas_replace(st, first, 3), TL_OK, "first replace");
    is_int(query_int(path, "SELECT count(*) FROM areas"), 3, "three areas");
    is_str(query_text(path, "SELECT name_en || '|' || parent_code FROM areas"
                            " WHERE code = 'PK-PB-LHR'", text, sizeof(text)),
           "Lahore|PK-PB", "row stored with its parent");
    is_int(query_int(path, "SELECT count(*) FROM areas WHERE code = 'PK-PB' AND parent_code IS NULL"),
           1, "NULL parent stored as NULL");
    is_int(store_areas_replace(st, second, 2), TL_OK, "second replace");
    is_int(query_int(path, "SELECT count(*) FROM areas"), 2, "exactly the second set remains");
    is_int(query_int(path, "SELECT count(*) FROM areas WHERE code LIKE 'PK-PB%'"), 0,
           "no row of the first set remains");
    is_str(query_text(path, "SELECT printf('%.4f,%.4f', lat, lon) FROM areas"
                            " WHERE code = 'PK-SD-KHI'", text, sizeof(text)),
           "24.8607,67.0011", "coordinates stored");

    const struct tl_area_row dup[] = {
        {"PK-X", "X", "city", NULL, 1, 1},
        {"PK-X", "Y", "city", NULL, 2, 2},
    };
    is_int(store_areas_replace(st, dup, 2), TL_ERR_STORE, "duplicate codes fail");
    is_int(query_int(path, "SELECT count(*) FROM areas"), 2,
           "a failed replace rolls back: the previous set stays");
    is_int(store_areas_replace(st, NULL, 0), TL_OK, "replace with nothing");
    is_int(query_int(path, "SELECT count(*) FROM areas"), 0, "empties the table");
    is_int(store_ping(st), TL_OK, "store still answers after a failed transaction");

    store_close(st);
    remove_db(path);
}

/* Alert rows of a case for phone: "count/priority/lang" ("0//" when none). */
static const char *alert_row(const char *path, int64_t case_id, const char *phone, char *out,
                             size_t outsz)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) || '/' || coalesce(max(priority), '') || '/' ||"
             " coalesce(max(lang), '') FROM outbox WHERE case_id = %lld AND kind = 'alert'"
             " AND phone = '%s'",
             (long long)case_id, phone);
    return query_text(path, sql, out, outsz);
}

static const char *fanout_db; /* the store wave_fixture_fanout reads aside */

static long long fanout_count(const char *sql)
{
    return query_int(fanout_db, sql);
}

static void test_waves(void)
{
    enum { BULK = 25000 }; /* more than two of the wave's insert batches */
    char path[512], text[64], sql[256];
    struct tl_store *st = NULL;

    path_in_dir(path, sizeof(path), "waves.db");
    if (store_open(path, 1000, &st, NULL) != TL_OK) {
        ok(0, "store_open");
        return;
    }
    is_int(store_tx_begin(st), TL_OK, "begin set-up");
    int rc = wave_fixture_subscribe(st, BULK);
    is_int(rc, TL_OK, "%d subscribers subscribed", BULK + 5);
    is_int(store_police_add(st, "+923009990001", "PK-Y", NULL, 1000), TL_OK, "police of PK-Y");
    is_int(store_subscriber_set_opted_out(st, "+923000000004", true, 1000), TL_OK, "an opt-out");
    is_int(store_tx_commit(st), TL_OK, "commit set-up");
    is_int(query_int(path, "SELECT count(*) FROM subscriptions s JOIN subscribers b"
                           " ON b.id = s.subscriber_id WHERE b.phone = '+923000000004'"),
           0, "opting out ends the number's subscriptions");
    int64_t stopped = 0;
    is_int(store_subscriber_touch(st, "+923000000004", NULL, NULL, 1000, &stopped), TL_OK,
           "the opted-out subscriber's id");
    is_int(store_subscription_add(st, stopped, "PK-X", 1000), TL_OK, "adding one while opted out…");
    is_int(query_int(path, "SELECT count(*) FROM subscriptions s JOIN subscribers b"
                           " ON b.id = s.subscriber_id WHERE b.phone = '+923000000004'"),
           0, "… adds nothing");

    struct tl_case c = {.state = "active", .age = -1, .created_at = 1000, .updated_at = 1000};
    is_int(store_case_insert(st, &c), TL_OK, "a case");
    struct tl_alert_wave w = wave_fixture_wave(c.id);
    int64_t alert_id = 0, n = 0;
    is_int(store_alert_wave(st, &w, 1000, &alert_id, &n, NULL), TL_OK, "first wave");
    is_int(n, BULK + 3, "recipients: every subscriber and officer of the scope once");
    is_int(query_int(path, "SELECT count(*) FROM outbox WHERE kind = 'alert'"), BULK + 3,
           "as many alert rows");
    is_int(query_int(path, "SELECT count(DISTINCT phone) FROM outbox WHERE kind = 'alert'"),
           BULK + 3, "none twice");
    is_str(alert_row(path, c.id, "+923009990001", text, sizeof(text)), "1/0/en",
           "the officer once, first priority, English");
    is_str(alert_row(path, c.id, "+923000000001", text, sizeof(text)), "1/2/",
           "a subscriber of two areas once, its language left to the sending");
    is_str(alert_row(path, c.id, "+923000000003", text, sizeof(text)), "0//",
           "no alert outside the scope");
    is_str(alert_row(path, c.id, "+923000000004", text, sizeof(text)), "0//",
           "no alert to an opted-out number");
    is_int(query_int(path, "SELECT count(*) FROM outbox a JOIN outbox b ON b.id = a.id + 1"
                           " WHERE a.priority = 2 AND b.phone < a.phone"),
           0, "subscribers' rows queued in phone order");

    struct tl_outbox_msg *msgs = NULL;
    size_t got = 0;
    is_int(store_outbox_claim(st, "alerts", 1000000, 3, &msgs, &got), TL_OK, "claim");
    is_int((long long)got, 3, "three claimed");
    if (got == 3) {
        is_str(msgs[0].phone, "+923009990001", "the officer first…");
        is_str(msgs[0].text, "EN", "… in English (though a subscriber in Urdu)");
        is_str(msgs[1].phone, "+923000000001", "then subscribers in queue order…");
        is_str(msgs[1].text, "UR", "… each in their saved language");
        is_str(msgs[2].text, "EN", "(English)");
    }
    store_outbox_msgs_free(msgs, got);

    w.kind = "escalation";
    w.area_codes_json = "[\"PK-X\",\"PK-Y\",\"PK-Z\"]";
    is_int(store_alert_wave(st, &w, 1001, &alert_id, &n, NULL), TL_OK, "a wider wave");
    is_int(n, 1, "reaches only the newly covered");
    is_str(alert_row(path, c.id, "+923000000003", text, sizeof(text)), "1/2/", "(PK-Z's)");
    w.area_codes_json = "[]";
    is_int(store_alert_wave(st, &w, 1002, &alert_id, &n, NULL), TL_OK, "an empty scope");
    is_int(n, 0, "reaches no one");
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM alerts WHERE case_id = %lld", (long long)c.id);
    is_int(query_int(path, sql), 3, "each wave has its alerts row");

    long long cases[4];
    for (size_t i = 0; i < 4; i++) {
        struct tl_case more = {.state = "active", .age = -1, .created_at = 2000, .updated_at = 2000};
        cases[i] = store_case_insert(st, &more) == TL_OK ? more.id : -1;
        store_case_clear(&more);
    }
    fanout_db = path;
    wave_fixture_fanout(st, cases, BULK, fanout_count);

    store_case_clear(&c);
    store_close(st);
    remove_db(path);
}

struct health_seen {
    int changes;
    bool writable;
    long failures;
    char reason[200];
};

static void health_cb(void *arg, bool writable, const char *reason, long failures)
{
    struct health_seen *h = arg;

    h->changes++;
    h->writable = writable;
    h->failures = failures;
    snprintf(h->reason, sizeof(h->reason), "%s", reason ? reason : "");
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void test_health(void)
{
    char path[512];
    struct tl_store *st = NULL;
    struct health_seen h = {0};
    sqlite3 *other = NULL;
    const char *reason = NULL;

    path_in_dir(path, sizeof(path), "health.db");
    if (store_open(path, 600, &st, NULL) != TL_OK) {
        ok(0, "open health.db");
        return;
    }
    store_on_health(st, health_cb, &h);
    ok(store_writable(st, &reason) && reason != NULL && reason[0] == '\0',
       "a new store is writable, with no reason");
    is_int(store_write_probe(st), TL_OK, "the write probe commits");
    is_int(h.changes, 0, "no change reported while writable");

    sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL);
    is_int(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK,
           "another connection takes the write lock");
    double t0 = now_ms();
    is_int(store_tx_begin(st), TL_ERR_STORE, "a write cannot begin");
    double first = now_ms() - t0;
    ok(first >= 550, "it waited the busy_timeout first (%.0f ms)", first);
    ok(!store_writable(st, &reason), "the store is unwritable");
    ok(strstr(reason, "locked") != NULL, "the reason says locked: %s", reason);
    is_int(h.changes, 1, "the change is reported once");
    ok(!h.writable && strcmp(h.reason, reason) == 0, "as unwritable, with the reason");
    t0 = now_ms();
    is_int(store_tx_begin(st), TL_ERR_STORE, "the next write cannot begin either");
    is_int(store_write_probe(st), TL_ERR_STORE, "nor the probe");
    double later = now_ms() - t0;
    ok(later < 550, "while unwritable a write waits briefly for the lock (%.0f ms for two)", later);
    is_int(h.changes, 1, "still one report: no report per failure");
    is_int(store_ping(st), TL_OK, "reads still work");

    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    is_int(store_write_probe(st), TL_OK, "the lock released, the probe commits");
    ok(store_writable(st, &reason) && reason[0] == '\0', "the store is writable again");
    is_int(h.changes, 2, "the change back is reported once");
    ok(h.writable, "as writable");
    is_int(h.failures, 3, "with the 3 failed writes in between");
    is_int(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK,
           "the other connection locks again");
    t0 = now_ms();
    is_int(store_tx_begin(st), TL_ERR_STORE, "a write fails");
    ok(now_ms() - t0 >= 550, "after the full busy_timeout again (%.0f ms)", now_ms() - t0);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    is_int(store_tx_begin(st), TL_OK, "a transaction begins");
    is_int(store_write_probe(st), TL_OK, "the probe inside it does nothing");
    is_int(store_tx_commit(st), TL_OK, "and it commits");
    ok(store_writable(st, NULL), "writable");
    store_close(st);
    remove_db(path);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/talaash-test-store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp %s", dir);
        return done_testing();
    }
    test_open();
    test_newer_schema();
    test_inbound();
    test_case_numbers();
    test_release_store();
    test_areas();
    test_waves();
    test_health();
    rmdir(dir);
    ok(access(dir, F_OK) != 0, "temporary directory removed");
    return done_testing();
}
