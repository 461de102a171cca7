/*
 * test_pg_wave.c — the PostgreSQL backend's people and waves
 * (gateway/store/pg_people.c, pg_wave.c) through the store interface:
 * subscribers (upsert, saved language and channel), subscriptions (once,
 * removal, none while opted out), the sender's areas, police
 * registrations; alert waves as test_store.c's (each phone once, police
 * first and English, opt-outs, a wider wave reaches only the newly
 * covered); the end of a case (queued alerts cancelled, one update to each
 * person whose alert went out); STOP-wins under races between two nodes
 * (an opt-out and a subscription at the same moment, in both orders); two
 * nodes running the same wave at once (each person once, the two counts
 * add up); and the time of a 1,000,000-recipient wave against a raw
 * INSERT … SELECT of as many rows on the same server (a diag line, not an
 * assertion; TALAASH_PG_WAVE_N sets the size, 0 skips it).
 *
 * Needs a PostgreSQL cluster (make test-pg); without one it skips.
 */
#include "common/result.h"
#include "gateway/store/store.h"
#include "tests/tap.h"
#include "tests/unit/wave_fixture.h"
#include "tests/unit/pg_testdb.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *url;
static PGconn *peek; /* the test's own connection, for set-up and checks */

/* Runs a formatted query on peek; the result (caller PQclear) or NULL on failure (diag). */
__attribute__((format(printf, 1, 0))) static PGresult *peek_run(const char *fmt, va_list ap)
{
    char sql[2048];

    vsnprintf(sql, sizeof(sql), fmt, ap);
    PGresult *r = PQexec(peek, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        diag("query '%s': %s", sql, PQerrorMessage(peek));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* The first value of a query as a number: -1 on error or no row. */
__attribute__((format(printf, 1, 2))) static long long peek_int(const char *fmt, ...)
{
    va_list ap;
    long long v = -1;

    va_start(ap, fmt);
    PGresult *r = peek_run(fmt, ap);
    va_end(ap);
    if (r != NULL && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* The first value of a query as text into out: "(null)" for NULL, "" on error or no row. */
__attribute__((format(printf, 3, 4))) static const char *peek_text(char *out, size_t outsz,
                                                                   const char *fmt, ...)
{
    va_list ap;

    out[0] = '\0';
    va_start(ap, fmt);
    PGresult *r = peek_run(fmt, ap);
    va_end(ap);
    if (r != NULL && PQntuples(r) > 0)
        snprintf(out, outsz, "%s", PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

/* Runs a statement; true when it succeeded. */
__attribute__((format(printf, 1, 2))) static bool peek_exec(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    PGresult *r = peek_run(fmt, ap);
    va_end(ap);
    PQclear(r);
    return r != NULL;
}

/* The machine's load average of the last minute (-1 when unknown), for the figures' context. */
static double load_average(void)
{
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");

    if (f != NULL) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1;
        fclose(f);
    }
    return load;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* A case row to hang waves on (the cases' operations are another part's); its id or -1. */
static long long case_new(void)
{
    return pg_testdb_value(url, "INSERT INTO cases (state, created_at, updated_at)"
                                " VALUES ('active', 1000, 1000) RETURNING id");
}

static struct tl_store *open_store(void)
{
    struct tl_store *st = NULL;
    char *cause = NULL;

    if (store_open(url, 10000, &st, &cause) != TL_OK) {
        diag("store_open: %s", cause ? cause : "?");
        free(cause);
        return NULL;
    }
    return st;
}

/* Waits (up to 10 s) until n sessions of this database wait for a lock. */
static bool wait_for_lock_waiters(int n)
{
    double deadline = now_ms() + 10000;

    while (now_ms() < deadline) {
        if (peek_int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                     " AND wait_event_type = 'Lock'") >= n)
            return true;
        usleep(5000);
    }
    return false;
}

/* ---- people ---- */

static void test_subscribers(struct tl_store *st)
{
    int64_t id = 0, again = 0, other = 0;
    char lang[12], text[64];
    bool on = true;

    is_int(store_subscriber_touch(st, "+923000000001", "ur", "at", 1000, &id), TL_OK,
           "a new subscriber");
    ok(id > 0, "gets an id (%lld)", (long long)id);
    is_int(store_subscriber_touch(st, "+923000000001", NULL, NULL, 1001, &again), TL_OK,
           "touched again without language or channel");
    is_int(again, id, "the same row");
    is_int(store_subscriber_lang(st, "+923000000001", "at", lang, &on), TL_OK, "its language");
    is_str(lang, "ur", "the saved language stays");
    ok(on, "its saved channel stays (at)");
    is_int(store_subscriber_lang(st, "+923000000001", "kannel", lang, &on), TL_OK, "on kannel?");
    ok(!on, "not its channel");
    is_int(store_subscriber_touch(st, "+923000000001", "roman-ur", "kannel", 1002, &again), TL_OK,
           "a new language and channel");
    is_int(store_subscriber_lang(st, "+923000000001", "kannel", lang, &on), TL_OK, "read again");
    is_str(lang, "roman-ur", "the new language");
    ok(on, "the new channel");
    is_int(peek_int("SELECT updated_at * 10 + (created_at = 1000)::int FROM subscribers"
                    " WHERE phone = '+923000000001'"),
           10021, "updated_at moves, created_at stays");

    is_int(store_subscriber_touch(st, "+923000000002", NULL, NULL, 1000, &other), TL_OK,
           "a subscriber with no language or channel");
    ok(other > 0 && other != id, "its own id");
    is_int(store_subscriber_lang(st, "+923000000002", NULL, lang, &on), TL_OK, "its language");
    is_str(lang, "en", "English by default");
    ok(on, "no channel matches no saved channel (as SQLite's IS)");
    is_int(store_subscriber_lang(st, "+923000000002", "at", lang, &on), TL_OK, "on at?");
    ok(!on, "no saved channel is not at");
    is_int(store_subscriber_lang(st, "+923000000002", "at", lang, NULL), TL_OK,
           "on_channel may be NULL");

    on = true;
    is_int(store_subscriber_lang(st, "+923009999999", "at", lang, &on), TL_OK, "an unknown number");
    is_str(lang, "", "no language");
    ok(!on, "not on the channel");
    is_int(store_subscriber_touch(st, "+923000000003", "fr", NULL, 1000, &other), TL_ERR_STORE,
           "an unknown language is refused (the CHECK)");
    is_int(store_ping(st), TL_OK, "the store answers after the failure");
    is_str(peek_text(text, sizeof(text), "SELECT count(*) FROM subscribers"), "2",
           "two subscribers");
}

static void test_subscriptions(struct tl_store *st)
{
    int64_t id = 0, quiet = 0;
    char **codes = NULL;
    size_t n = 0;

    is_int(store_subscriber_touch(st, "+923000000011", "en", "at", 1000, &id), TL_OK, "subscriber");
    is_int(store_subscription_add(st, id, "PK-A", 1000), TL_OK, "subscribe PK-A");
    is_int(store_subscription_add(st, id, "PK-B", 1000), TL_OK, "subscribe PK-B");
    is_int(store_subscription_add(st, id, "PK-A", 1001), TL_OK, "PK-A again is no error");
    is_int(peek_int("SELECT count(*) FROM subscriptions WHERE subscriber_id = %lld", (long long)id),
           2, "two subscriptions, each once");
    is_int(peek_int("SELECT count(*) FROM subscriptions WHERE subscriber_id = %lld"
                    " AND phone = '+923000000011' AND created_at = 1000",
                    (long long)id),
           2, "each with the phone copied and its first time");
    is_int(store_subscription_add(st, 987654321, "PK-A", 1000), TL_OK,
           "an unknown subscriber id: no error…");
    is_int(peek_int("SELECT count(*) FROM subscriptions WHERE subscriber_id = 987654321"), 0,
           "… and no row");

    is_int(store_subscription_remove(st, id, "PK-A"), 1, "remove PK-A: one");
    is_int(store_subscription_remove(st, id, "PK-A"), 0, "again: none");
    is_int(store_subscription_remove(st, id, NULL), 1, "remove all: the one left");
    for (int i = 0; i < 3; i++) {
        char code[16];
        snprintf(code, sizeof(code), "PK-%c", 'A' + i);
        store_subscription_add(st, id, code, 1000);
    }
    is_int(store_subscription_remove(st, id, NULL), 3, "remove all of three");
    is_int(store_subscription_remove(st, 987654321, NULL), 0, "an unknown id: none");

    /* The sender's areas: subscriptions, reported cases, police registrations; sorted, once. */
    store_subscription_add(st, id, "PK-C", 1000);
    store_subscription_add(st, id, "PK-A", 1000);
    ok(peek_exec("INSERT INTO cases (state, reporter_phone, area_code, created_at, updated_at)"
                 " VALUES ('active', '+923000000011', 'PK-B', 1, 1),"
                 " ('active', '+923000000011', NULL, 1, 1),"
                 " ('closed', '+923000000011', 'PK-A', 1, 1)"),
       "cases reported by the number");
    is_int(store_police_add(st, "+923000000011", "PK-D", NULL, 1000), TL_OK, "police of PK-D");
    is_int(store_sender_areas(st, "+923000000011", &codes, &n), TL_OK, "sender areas");
    is_int((long long)n, 4, "four areas, each once");
    if (n == 4) {
        is_str(codes[0], "PK-A", "PK-A (a subscription and a case)");
        is_str(codes[1], "PK-B", "PK-B (a case)");
        is_str(codes[2], "PK-C", "PK-C (a subscription)");
        is_str(codes[3], "PK-D", "PK-D (police)");
    }
    store_strings_free(codes, n);
    is_int(store_police_remove(st, "+923000000011"), 1, "(the registration removed)");
    is_int(store_sender_areas(st, "+923009999999", &codes, &n), TL_OK, "an unknown number");
    is_int((long long)n, 0, "no areas");
    ok(codes == NULL, "and no array");
    is_int(store_subscriber_touch(st, "+923000000012", NULL, NULL, 1000, &quiet), TL_OK,
           "a subscriber of many areas");
    for (int i = 0; i < 40; i++) {
        char code[16];
        snprintf(code, sizeof(code), "PK-Z%02d", i);
        store_subscription_add(st, quiet, code, 1000);
    }
    is_int(store_sender_areas(st, "+923000000012", &codes, &n), TL_OK, "its areas");
    is_int((long long)n, 32, "at most 32");
    if (n == 32)
        is_str(codes[31], "PK-Z31", "the first 32 in order");
    store_strings_free(codes, n);

    /* Opting out ends every subscription; none while out; back in, subscribing works again. */
    is_int(store_subscriber_set_opted_out(st, "+923000000011", true, 2000), TL_OK, "opt out");
    is_int(peek_int("SELECT count(*) FROM subscriptions WHERE phone = '+923000000011'"), 0,
           "its subscriptions are gone (the trigger)");
    is_int(peek_int("SELECT opted_out * 10000 + updated_at FROM subscribers"
                    " WHERE phone = '+923000000011'"),
           12000, "opted_out set, updated_at moved");
    is_int(store_subscription_add(st, id, "PK-A", 2001), TL_OK, "subscribing while opted out…");
    is_int(peek_int("SELECT count(*) FROM subscriptions WHERE phone = '+923000000011'"), 0,
           "… adds nothing");
    is_int(store_subscriber_set_opted_out(st, "+923000000011", false, 2002), TL_OK, "opt back in");
    is_int(peek_int("SELECT opted_out FROM subscribers WHERE phone = '+923000000011'"), 0,
           "opted_out cleared");
    is_int(store_subscription_add(st, id, "PK-A", 2003), TL_OK, "subscribe again");
    is_int(peek_int("SELECT count(*) FROM subscriptions WHERE phone = '+923000000011'"), 1,
           "subscribed");
    is_int(store_subscriber_set_opted_out(st, "+923000000019", true, 2000), TL_OK,
           "an unknown number opts out");
    is_int(peek_int("SELECT opted_out * 10 + (lang = 'en')::int FROM subscribers"
                    " WHERE phone = '+923000000019'"),
           11, "a row remembers it (English)");
}

static void test_police(struct tl_store *st)
{
    struct tl_police *p = NULL;
    size_t n = 0;
    char **phones = NULL;

    is_int(store_police_add(st, "+923009990002", "PK-B", "h1", 1000), TL_OK, "officer 2 in PK-B");
    is_int(store_police_add(st, "+923009990001", "PK-B", "h2", 1000), TL_OK, "officer 1 in PK-B");
    is_int(store_police_add(st, "+923009990001", "PK-A", NULL, 1000), TL_OK,
           "officer 1 in PK-A, no PIN");
    is_int(store_police_add(st, "+923009990002", "PK-B", "h3", 1001), TL_OK,
           "officer 2 again: a new PIN");
    is_int(store_police_list(st, NULL, &p, &n), TL_OK, "list all");
    is_int((long long)n, 3, "three registrations");
    if (n == 3) {
        is_str(p[0].phone, "+923009990001", "by phone…");
        is_str(p[0].area_code, "PK-A", "… then area");
        ok(p[0].pin_hash == NULL, "no PIN is NULL");
        is_str(p[1].area_code, "PK-B", "officer 1's second");
        is_str(p[1].pin_hash, "h2", "its PIN");
        is_str(p[2].phone, "+923009990002", "officer 2");
        is_str(p[2].pin_hash, "h3", "the PIN replaced, not a second row");
        ok(p[0].id > 0 && p[1].id > 0 && p[2].id > 0 && p[0].id != p[1].id, "ids");
    }
    store_police_free(p, n);
    is_int(store_police_list(st, "+923009990001", &p, &n), TL_OK, "list one phone");
    is_int((long long)n, 2, "its two");
    store_police_free(p, n);
    is_int(store_police_list(st, "+923009999999", &p, &n), TL_OK, "an unknown phone");
    is_int((long long)n, 0, "none");
    ok(p == NULL, "no array");

    is_int(store_police_phones_for(st, "[\"PK-A\",\"PK-B\",\"PK-A\"]", &phones, &n), TL_OK,
           "phones for PK-A, PK-B");
    is_int((long long)n, 2, "two phones, each once");
    if (n == 2) {
        is_str(phones[0], "+923009990001", "in order");
        is_str(phones[1], "+923009990002", "(second)");
    }
    store_strings_free(phones, n);
    is_int(store_police_phones_for(st, "[\"PK-A\"]", &phones, &n), TL_OK, "phones for PK-A");
    is_int((long long)n, 1, "one");
    store_strings_free(phones, n);
    is_int(store_police_phones_for(st, "[]", &phones, &n), TL_OK, "an empty scope");
    is_int((long long)n, 0, "no one");
    is_int(store_police_phones_for(st, "not json", &phones, &n), TL_ERR_STORE,
           "a scope that is not JSON fails");
    is_int(store_police_remove(st, "+923009990001"), 2, "remove officer 1: two registrations");
    is_int(store_police_remove(st, "+923009990001"), 0, "again: none");
    is_int(store_police_remove(st, "+923009990002"), 1, "remove officer 2");
}

/* ---- waves ---- */

/* Alert rows of a case for phone: "count/priority/lang" ("0//" when none). */
static const char *alert_row(long long case_id, const char *phone, char *out, size_t outsz)
{
    return peek_text(out, outsz,
                     "SELECT count(*) || '/' || coalesce(max(priority)::text, '') || '/' ||"
                     " coalesce(max(lang), '') FROM outbox WHERE case_id = %lld AND kind = 'alert'"
                     " AND phone = '%s'",
                     case_id, phone);
}

static void test_waves(struct tl_store *st)
{
    enum { BULK = 3000 };
    char text[64];

    is_int(store_tx_begin(st), TL_OK, "begin set-up");
    int rc = wave_fixture_subscribe(st, BULK);
    is_int(rc, TL_OK, "%d subscribers subscribed", BULK + 5);
    is_int(store_police_add(st, "+923009990001", "PK-Y", NULL, 1000), TL_OK, "police of PK-Y");
    is_int(store_police_add(st, "+923009990009", "PK-Q", NULL, 1000), TL_OK,
           "police outside the scope");
    is_int(store_subscriber_set_opted_out(st, "+923000000004", true, 1000), TL_OK, "an opt-out");
    is_int(store_tx_commit(st), TL_OK, "commit set-up");
    is_int(peek_int("SELECT count(*) FROM subscriptions WHERE phone = '+923000000004'"), 0,
           "opting out ends the number's subscriptions");

    long long case_id = case_new();
    ok(case_id > 0, "a case");
    struct tl_alert_wave w = wave_fixture_wave(case_id);
    w.radius_km = 5;
    int64_t alert_id = 0, n = 0;
    is_int(store_alert_wave(st, &w, 1000, &alert_id, &n, NULL), TL_OK, "first wave");
    is_int(n, BULK + 3, "recipients: every subscriber and officer of the scope once");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld AND kind = 'alert'", case_id),
           BULK + 3, "as many alert rows");
    is_int(peek_int("SELECT count(DISTINCT phone) FROM outbox WHERE case_id = %lld", case_id),
           BULK + 3, "none twice");
    is_str(alert_row(case_id, "+923009990001", text, sizeof(text)), "1/0/en",
           "the officer once, first priority, English");
    is_str(alert_row(case_id, "+923000000001", text, sizeof(text)), "1/2/",
           "a subscriber of two areas once, its language left to the sending");
    is_str(alert_row(case_id, "+923000000003", text, sizeof(text)), "0//",
           "no alert outside the scope");
    is_str(alert_row(case_id, "+923000000004", text, sizeof(text)), "0//",
           "no alert to an opted-out number");
    is_str(alert_row(case_id, "+923009990009", text, sizeof(text)), "0//",
           "no alert to police of another area");
    is_int(peek_int("SELECT count(*) FROM outbox a JOIN outbox b ON b.id = a.id + 1"
                    " WHERE a.case_id = %lld AND b.case_id = a.case_id AND a.priority = 2"
                    " AND b.phone COLLATE \"C\" < a.phone COLLATE \"C\"",
                    case_id),
           0, "subscribers' rows queued in phone order");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld AND channel = 'alerts'"
                    " AND state = 'queued' AND expires_at = 999999999 AND alert_id = %lld"
                    " AND text IS NULL AND attempts = 0 AND next_attempt_ms = 0"
                    " AND created_at = 1000 AND updated_at = 1000",
                    case_id, (long long)alert_id),
           BULK + 3, "every row: channel, queued, expiry, the wave's alert, no text of its own");
    is_str(peek_text(text, sizeof(text),
                     "SELECT phone || '/' || priority FROM outbox WHERE case_id = %lld"
                     " ORDER BY priority, id LIMIT 1",
                     case_id),
           "+923009990001/0", "the officer is the first to go");
    is_str(peek_text(text, sizeof(text),
                     "SELECT phone FROM outbox WHERE case_id = %lld AND priority = 2"
                     " ORDER BY id LIMIT 1",
                     case_id),
           "+923000000001", "then subscribers in phone order");
    is_str(peek_text(text, sizeof(text),
                     "SELECT kind || '/' || radius_km || '/' || text_en || '/' || text_ur || '/'"
                     " || text_roman_ur || '/' || created_at || '/' || (case_id = %lld)"
                     " FROM alerts WHERE id = %lld",
                     case_id, (long long)alert_id),
           "alert/5/EN/UR/RUR/1000/true", "the wave's alerts row and its texts");

    w.kind = "escalation";
    w.area_codes_json = "[\"PK-X\",\"PK-Y\",\"PK-Z\"]";
    w.expires_at = 0;
    is_int(store_alert_wave(st, &w, 1001, &alert_id, &n, NULL), TL_OK, "a wider wave");
    is_int(n, 1, "reaches only the newly covered");
    is_str(alert_row(case_id, "+923000000003", text, sizeof(text)), "1/2/", "(PK-Z's)");
    is_str(peek_text(text, sizeof(text),
                     "SELECT coalesce(expires_at::text, 'never') FROM outbox"
                     " WHERE case_id = %lld AND phone = '+923000000003'",
                     case_id),
           "never", "expires_at 0: no expiry");
    w.area_codes_json = "[]";
    is_int(store_alert_wave(st, &w, 1002, &alert_id, &n, NULL), TL_OK, "an empty scope");
    is_int(n, 0, "reaches no one");
    is_int(peek_int("SELECT count(*) FROM alerts WHERE case_id = %lld", case_id), 3,
           "each wave has its alerts row");

    int64_t kept = alert_id;
    w.area_codes_json = "not json";
    is_int(store_alert_wave(st, &w, 1003, &alert_id, &n, NULL), TL_ERR_STORE, "a scope not JSON fails");
    is_int(peek_int("SELECT count(*) FROM alerts WHERE case_id = %lld", case_id), 3,
           "and leaves no alerts row (rolled back)");
    is_int(store_ping(st), TL_OK, "the store answers after");
    ok(kept > 0, "(the last good wave's id %lld)", (long long)kept);

    /* Inside a caller's transaction the wave is a savepoint: rolled back with it. */
    w.area_codes_json = "[\"PK-Q\"]";
    is_int(store_tx_begin(st), TL_OK, "begin");
    is_int(store_alert_wave(st, &w, 1004, &alert_id, &n, NULL), TL_OK, "a wave inside it");
    is_int(n, 1, "PK-Q's officer");
    store_tx_rollback(st);
    is_str(alert_row(case_id, "+923009990009", text, sizeof(text)), "0//",
           "rolled back with the caller's transaction");
    is_int(peek_int("SELECT count(*) FROM alerts WHERE case_id = %lld", case_id), 3,
           "and its alerts row too");
}

static void test_alert_end(struct tl_store *st)
{
    long long case_id = case_new(), other = case_new();
    const char *const E[] = {"PK-E"};
    char text[64];
    int64_t alert_id = 0, n = 0, cancelled = -1, recipients = -1;
    int rc = TL_OK;

    for (int i = 1; rc == TL_OK && i <= 6; i++) {
        char phone[32];
        snprintf(phone, sizeof(phone), "+92330000000%d", i);
        rc = subscribe(st, phone, i % 2 ? "ur" : "en", E, 1);
    }
    is_int(rc, TL_OK, "six subscribers of PK-E");
    is_int(store_police_add(st, "+923309990001", "PK-E", NULL, 1000), TL_OK, "an officer");
    struct tl_alert_wave w = {.case_id = case_id, .kind = "alert",
                              .area_codes_json = "[\"PK-E\"]", .channel = "alerts",
                              .text_en = "EN", .text_ur = "UR", .text_roman_ur = "RUR"};
    is_int(store_alert_wave(st, &w, 1000, &alert_id, &n, NULL), TL_OK, "a wave");
    is_int(n, 7, "to seven");
    w.case_id = other;
    is_int(store_alert_wave(st, &w, 1000, &alert_id, &n, NULL), TL_OK, "another case's wave");
    /* What the senders made of them: */
    ok(peek_exec("UPDATE outbox SET state = CASE phone WHEN '+923300000001' THEN 'sent'"
                 " WHEN '+923300000002' THEN 'delivered' WHEN '+923300000003' THEN 'sending'"
                 " WHEN '+923300000004' THEN 'failed' WHEN '+923300000005' THEN 'expired'"
                 " WHEN '+923309990001' THEN 'delivered' ELSE state END"
                 " WHERE case_id = %lld",
                 case_id),
       "one sent, two delivered, one sending, one failed, one expired, one queued");

    is_int(store_tx_begin(st), TL_OK, "begin (as the caller does)");
    is_int(store_alert_end(st, case_id, "sms", "END-EN", "END-UR", "END-RUR", 2000, &cancelled,
                           &recipients),
           TL_OK, "the end of the case");
    is_int(store_tx_commit(st), TL_OK, "commit");
    is_int(cancelled, 1, "the queued alert cancelled");
    is_int(recipients, 4, "updates to the four whose alert went out (sent, delivered, sending)");
    is_str(peek_text(text, sizeof(text),
                     "SELECT state || '/' || updated_at FROM outbox WHERE case_id = %lld"
                     " AND kind = 'alert' AND phone = '+923300000006'",
                     case_id),
           "cancelled/2000", "the queued one is cancelled now");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld AND kind = 'alert'"
                    " AND state = 'queued'",
                    other),
           7, "another case's alerts are untouched");
    long long update_id = peek_int("SELECT id FROM alerts WHERE case_id = %lld AND kind = 'update'",
                                   case_id);
    ok(update_id > 0, "an alerts row of kind update");
    is_str(peek_text(text, sizeof(text),
                     "SELECT text_en || '/' || text_ur || '/' || text_roman_ur || '/' || created_at"
                     " FROM alerts WHERE id = %lld",
                     update_id),
           "END-EN/END-UR/END-RUR/2000", "with the update's texts");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld AND kind = 'update'"
                    " AND alert_id = %lld AND channel = 'sms' AND priority = 2"
                    " AND state = 'queued' AND text IS NULL AND created_at = 2000",
                    case_id, update_id),
           4, "four update rows, queued on the channel given");
    is_int(peek_int("SELECT count(DISTINCT phone) FROM outbox WHERE case_id = %lld"
                    " AND kind = 'update'",
                    case_id),
           4, "once each");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld AND kind = 'update'"
                    " AND phone IN ('+923300000004', '+923300000005', '+923300000006')",
                    case_id),
           0, "none to the failed, the expired or the cancelled");
    is_str(peek_text(text, sizeof(text),
                     "SELECT coalesce(lang, '(saved)') FROM outbox WHERE case_id = %lld"
                     " AND kind = 'update' AND phone = '+923309990001'",
                     case_id),
           "en", "the officer's update in English");
    is_str(peek_text(text, sizeof(text),
                     "SELECT coalesce(lang, '(saved)') FROM outbox WHERE case_id = %lld"
                     " AND kind = 'update' AND phone = '+923300000001'",
                     case_id),
           "(saved)", "a subscriber's in the language saved at sending");

    is_int(store_alert_end(st, 987654321, "sms", "A", "B", "C", 2001, &cancelled, &recipients),
           TL_ERR_STORE, "a case that does not exist: its update row cannot be (foreign key)");
    is_int(cancelled + recipients, 0, "and the counts are 0");
    is_int(store_ping(st), TL_OK, "the store answers after");
}

/* ---- STOP-wins and concurrent nodes ---- */

struct opt_out_job {
    struct tl_store *st;
    const char *phone;
    int rc;
};

static void *opt_out_thread(void *arg)
{
    struct opt_out_job *j = arg;

    j->rc = store_subscriber_set_opted_out(j->st, j->phone, true, 3000);
    return NULL;
}

struct subscribe_job {
    struct tl_store *st;
    int64_t id;
    const char *area;
    int rc;
};

static void *subscribe_thread(void *arg)
{
    struct subscribe_job *j = arg;

    j->rc = store_subscription_add(j->st, j->id, j->area, 3000);
    return NULL;
}

static void test_stop_wins(struct tl_store *a, struct tl_store *b)
{
    const char *const S[] = {"PK-S"};
    char text[64];
    int64_t id = 0, alert_id = 0, n = 0;
    pthread_t t;

    /* A committed opt-out: no wave after it queues the number. */
    is_int(subscribe(a, "+923400000001", "en", S, 1), TL_OK, "a subscriber of PK-S");
    is_int(subscribe(a, "+923400000009", "en", S, 1), TL_OK, "another, who stays");
    is_int(store_subscriber_set_opted_out(b, "+923400000001", true, 3000), TL_OK,
           "it opts out on node B");
    long long case_id = case_new();
    struct tl_alert_wave w = {.case_id = case_id, .kind = "alert",
                              .area_codes_json = "[\"PK-S\"]", .channel = "alerts",
                              .text_en = "EN", .text_ur = "UR", .text_roman_ur = "RUR"};
    is_int(store_alert_wave(a, &w, 3001, &alert_id, &n, NULL), TL_OK, "a wave on node A");
    is_int(n, 1, "reaches the one who stayed");
    is_str(alert_row(case_id, "+923400000001", text, sizeof(text)), "0//",
           "not the opted-out number");

    /* Race 1: node A subscribes (uncommitted) while node B opts the number out. */
    is_int(store_tx_begin(a), TL_OK, "node A begins");
    is_int(store_subscriber_touch(a, "+923400000002", "en", "at", 3000, &id), TL_OK,
           "A: a subscriber…");
    is_int(store_subscription_add(a, id, "PK-S", 3000), TL_OK, "A: … of PK-S, not committed");
    struct opt_out_job oj = {b, "+923400000002", -1};
    pthread_create(&t, NULL, opt_out_thread, &oj);
    ok(wait_for_lock_waiters(1), "B's opt-out waits for A");
    is_int(store_tx_commit(a), TL_OK, "A commits");
    pthread_join(t, NULL);
    is_int(oj.rc, TL_OK, "B's opt-out done");
    is_int(peek_int("SELECT count(*) FROM subscriptions WHERE phone = '+923400000002'"), 0,
           "the subscription A added is gone");

    /* Race 2: node B opts out (uncommitted) while node A subscribes the number. */
    is_int(subscribe(a, "+923400000003", "en", NULL, 0), TL_OK, "a known subscriber");
    id = peek_int("SELECT id FROM subscribers WHERE phone = '+923400000003'");
    is_int(store_tx_begin(b), TL_OK, "node B begins");
    is_int(store_subscriber_set_opted_out(b, "+923400000003", true, 3000), TL_OK,
           "B: opts it out, not committed");
    struct subscribe_job sj = {a, id, "PK-S", -1};
    pthread_create(&t, NULL, subscribe_thread, &sj);
    ok(wait_for_lock_waiters(1), "A's subscription waits for B");
    is_int(store_tx_commit(b), TL_OK, "B commits");
    pthread_join(t, NULL);
    is_int(sj.rc, TL_OK, "A's subscription_add done");
    is_int(peek_int("SELECT count(*) FROM subscriptions WHERE phone = '+923400000003'"), 0,
           "it added nothing: the opt-out won");

    w.kind = "escalation";
    is_int(store_alert_wave(b, &w, 3002, &alert_id, &n, NULL), TL_OK, "another wave of the case");
    is_int(n, 0, "reaches no one new: neither racer's number");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld", case_id), 1,
           "the case has one alert row");
}

struct wave_job {
    struct tl_store *st;
    const struct tl_alert_wave *w;
    pthread_barrier_t *start;
    int rc;
    int64_t alert_id, n;
    double began, ended;
};

static void *wave_thread(void *arg)
{
    struct wave_job *j = arg;

    pthread_barrier_wait(j->start);
    j->began = now_ms();
    j->rc = store_alert_wave(j->st, j->w, 4000, &j->alert_id, &j->n, NULL);
    j->ended = now_ms();
    return NULL;
}

static void test_concurrent_waves(struct tl_store *a, struct tl_store *b)
{
    enum { N = 60000 };
    pthread_barrier_t start;
    pthread_t ta, tb;

    /* N subscribers of PK-W0..3, every 5th also of the next area; three officers (one subscribes). */
    ok(peek_exec("INSERT INTO subscribers (phone, lang, created_at, updated_at)"
                 " SELECT '+9235' || lpad(g::text, 8, '0'), 'en', 1, 1"
                 " FROM generate_series(1, %d) g ORDER BY md5(g::text)",
                 N) &&
           peek_exec("INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at)"
                     " SELECT id, 'PK-W' || (substr(phone, 5)::int %% 4), phone, 1"
                     " FROM subscribers WHERE phone LIKE '+9235%%'"
                     " UNION ALL SELECT id, 'PK-W' || ((substr(phone, 5)::int + 1) %% 4), phone, 1"
                     " FROM subscribers WHERE phone LIKE '+9235%%'"
                     " AND substr(phone, 5)::int %% 5 = 0") &&
           peek_exec("ANALYZE subscriptions"),
       "%d subscribers of four areas", N);
    is_int(store_police_add(a, "+923500000007", "PK-W1", NULL, 1000), TL_OK, "an officer who subscribes");
    is_int(store_police_add(a, "+923590000001", "PK-W2", NULL, 1000), TL_OK, "an officer");
    is_int(store_police_add(a, "+923590000002", "PK-W3", NULL, 1000), TL_OK, "another");
    long long want = N + 2;
    long long case_id = case_new();
    struct tl_alert_wave w = {.case_id = case_id, .kind = "alert",
                              .area_codes_json = "[\"PK-W0\",\"PK-W1\",\"PK-W2\",\"PK-W3\"]",
                              .channel = "alerts", .text_en = "EN", .text_ur = "UR",
                              .text_roman_ur = "RUR"};
    struct wave_job ja = {a, &w, &start, -1, 0, 0, 0, 0}, jb = {b, &w, &start, -1, 0, 0, 0, 0};
    pthread_barrier_init(&start, NULL, 2);
    pthread_create(&ta, NULL, wave_thread, &ja);
    pthread_create(&tb, NULL, wave_thread, &jb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&start);
    is_int(ja.rc, TL_OK, "node A's wave");
    is_int(jb.rc, TL_OK, "node B's wave");
    bool overlapped = ja.began < jb.ended && jb.began < ja.ended;
    diag("two nodes, one wave of %lld: A queued %lld in %.0f ms, B %lld in %.0f ms%s", want,
         (long long)ja.n, ja.ended - ja.began, (long long)jb.n, jb.ended - jb.began,
         overlapped ? " (at the same time)" : " (one after the other)");
    ok(overlapped, "the two waves ran at the same time");
    is_int(ja.n + jb.n, want, "the two counts add up to the people in scope");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld AND kind = 'alert'", case_id),
           want, "as many alert rows");
    is_int(peek_int("SELECT count(DISTINCT phone) FROM outbox WHERE case_id = %lld", case_id), want,
           "each person once");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld AND priority = 0"
                    " AND lang = 'en'",
                    case_id),
           3, "the three officers at priority 0 in English (the subscribing one too)");
    is_int(peek_int("SELECT count(*) FROM alerts WHERE case_id = %lld", case_id), 2,
           "each node recorded its wave");
    ok(ja.alert_id != jb.alert_id, "two alerts rows");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld AND alert_id = %lld", case_id,
                    (long long)ja.alert_id),
           ja.n, "A's rows carry A's alert");
}

/* ---- the time of a city's wave ---- */

/* CPU seconds a local server process has used (/proc), or -1 when unknown. */
static double backend_cpu_s(long long pid)
{
    char path[64], buf[1024];
    unsigned long long utime = 0, stime = 0;

    snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name: fields 3.. */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                            &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void test_million(struct tl_store *st)
{
    const char *env = getenv("TALAASH_PG_WAVE_N");
    long long n = env != NULL ? atoll(env) : 1000000;
    double t0, raw_ms, populate_ms;
    int64_t alert_id = 0, got = 0;

    if (n <= 0) {
        ok(1, "# SKIP the timed wave (TALAASH_PG_WAVE_N=0)");
        return;
    }
    /* n subscribers of ten areas, every 10th also of the next one; ids after every other. */
    t0 = now_ms();
    bool made =
        peek_exec("SELECT setval(pg_get_serial_sequence('subscribers', 'id'), 10000000 + %lld)",
                  n) &&
        peek_exec("INSERT INTO subscribers (id, phone, lang, created_at, updated_at)"
                  " SELECT 10000000 + g, '+9236' || lpad(g::text, 8, '0'),"
                  " (ARRAY['en', 'ur', 'roman-ur'])[1 + g %% 3], 1, 1"
                  " FROM generate_series(1, %lld) g ORDER BY md5(g::text)",
                  n) &&
        peek_exec("INSERT INTO subscriptions (subscriber_id, area_code, phone, created_at)"
                  " SELECT id, 'PK-M' || (id %% 10), phone, 1 FROM subscribers WHERE id > 10000000"
                  " UNION ALL SELECT id, 'PK-M' || ((id + 1) %% 10), phone, 1 FROM subscribers"
                  " WHERE id > 10000000 AND id %% 10 = 0") &&
        peek_exec("VACUUM ANALYZE subscribers") && peek_exec("VACUUM ANALYZE subscriptions") &&
        peek_exec("CHECKPOINT");
    populate_ms = now_ms() - t0;
    ok(made, "%lld subscribers of ten areas, set-based (%.1f s)", n, populate_ms / 1000);
    long long case_id = case_new();
    const char *scope = "[\"PK-M0\",\"PK-M1\",\"PK-M2\",\"PK-M3\",\"PK-M4\",\"PK-M5\",\"PK-M6\","
                        "\"PK-M7\",\"PK-M8\",\"PK-M9\"]";

    /* The store's server process (the only other session now), for its CPU time. */
    long long store_pid = peek_int("SELECT pid FROM pg_stat_activity WHERE datname ="
                                   " current_database() AND pid <> pg_backend_pid()"
                                   " AND backend_type = 'client backend'");
    double cpu0;

    /* The baseline: as many rows written by a bare INSERT … SELECT into a table like the outbox. */
    ok(peek_exec("CREATE TABLE outbox_raw (LIKE outbox INCLUDING ALL)"), "a table like the outbox");
    cpu0 = backend_cpu_s(PQbackendPID(peek));
    t0 = now_ms();
    ok(peek_exec("INSERT INTO outbox_raw (channel, phone, kind, priority, state, next_attempt_ms,"
                 " case_id, alert_id, created_at, updated_at)"
                 " SELECT 'alerts', phone, 'alert', 2, 'queued', 0, %lld, 1, 1, 1"
                 " FROM subscribers WHERE id > 10000000",
                 case_id),
       "the raw INSERT … SELECT");
    raw_ms = now_ms() - t0;
    double raw_cpu = backend_cpu_s(PQbackendPID(peek)) - cpu0;
    ok(peek_exec("DROP TABLE outbox_raw") && peek_exec("CHECKPOINT"), "(dropped)");

    struct tl_alert_wave w = {.case_id = case_id, .kind = "alert", .area_codes_json = scope,
                              .channel = "alerts", .text_en = "EN", .text_ur = "UR",
                              .text_roman_ur = "RUR"};
    cpu0 = backend_cpu_s(store_pid);
    t0 = now_ms();
    int rc = store_alert_wave(st, &w, 5000, &alert_id, &got, NULL);
    double wave_ms = now_ms() - t0, wave_cpu = backend_cpu_s(store_pid) - cpu0;
    is_int(rc, TL_OK, "the wave");
    is_int(got, n, "queued every subscriber once");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE case_id = %lld", case_id), n,
           "as many rows committed");
    diag("wave of %lld recipients committed in %.2f s; raw INSERT ... SELECT of as many rows"
         " %.2f s (wave/raw %.2f); target <= 3 s",
         n, wave_ms / 1000, raw_ms / 1000, wave_ms / raw_ms);
    if (cpu0 >= 0)
        diag("CPU of the server process: wave %.2f s, raw INSERT ... SELECT %.2f s (machine load"
             " %.1f)",
             wave_cpu, raw_cpu, load_average());
    int64_t again = -1;
    t0 = now_ms();
    rc = store_alert_wave(st, &w, 5001, &alert_id, &again, NULL);
    diag("the same wave again (everyone already queued) in %.2f s", (now_ms() - t0) / 1000);
    is_int(rc, TL_OK, "the same wave again");
    is_int(again, 0, "queues no one twice");
}

static long long fanout_count(const char *sql)
{
    return peek_int("%s", sql);
}

/* The fan-out's story (wave_fixture.h) on PostgreSQL, with test_waves' subscribers. */
static void test_fanout(struct tl_store *st)
{
    long long cases[4];

    for (size_t i = 0; i < 4; i++)
        cases[i] = case_new();
    wave_fixture_fanout(st, cases, 3000, fanout_count);
}

int main(void)
{
    struct tl_store *st = NULL, *b = NULL;

    url = pg_testdb("test_pg_wave");
    if (url == NULL) {
        printf("1..0 # SKIP no PostgreSQL (make test-pg)\n");
        return 0;
    }
    peek = PQconnectdb(url);
    if (PQstatus(peek) != CONNECTION_OK) {
        ok(0, "connect: %s", PQerrorMessage(peek));
        PQfinish(peek);
        return done_testing();
    }
    PQclear(PQexec(peek, "SET client_min_messages = warning"));
    st = open_store();
    b = open_store();
    ok(st != NULL && b != NULL, "two stores on one database (two nodes)");
    if (st != NULL && b != NULL) {
        test_subscribers(st);
        test_subscriptions(st);
        test_police(st);
        test_waves(st);
        test_alert_end(st);
        test_stop_wins(st, b);
        test_concurrent_waves(st, b);
        test_fanout(st);
        store_close(b);
        b = NULL;
        test_million(st);
    }
    if (b != NULL)
        store_close(b);
    if (st != NULL)
        store_close(st);
    PQfinish(peek);
    return done_testing();
}
