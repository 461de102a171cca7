/*
 * test_pg_domain.c — the PostgreSQL backend's domain operations
 * (gateway/store/pg_domain.c) against a throw-away database (pg_testdb.h):
 * cases (every field written and read back, drafts, escalation), case
 * numbers (valid, unique, never 0… or 92…; taken numbers retried inside the
 * caller's transaction; two stores at once, interleaved and in threads),
 * sightings, rate windows (the fixed window's edges; two stores hitting one
 * window in threads count 1..2N with no gap or repeat), PIN lockouts (the
 * window, the lock, max 1, clear; counted once under two threads), the
 * block list, the audit log, USSD sessions, and redaction (no trace of the
 * child's name in any table; the reporter's number only in the address
 * columns the SQLite backend keeps too; two stores redacting at once count
 * each case once). The same values as the SQLite backend's (test_store.c
 * and the contracts of store.h).
 */
#include "common/result.h"
#include "gateway/store/store.h"
#include "parsers/casenum.h"
#include "tests/tap.h"
#include "tests/unit/pg_testdb.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *url;

static struct tl_store *open_store(const char *what)
{
    struct tl_store *st = NULL;
    char *cause = NULL;

    if (!ok(store_open(url, 5000, &st, &cause) == TL_OK, "store_open (%s)", what)) {
        diag("%s", cause != NULL ? cause : "");
        free(cause);
        return NULL;
    }
    return st;
}

/* A one-value query of the test database (pg_testdb_value) with a formatted SQL text. */
__attribute__((format(printf, 1, 2))) static long long value(const char *fmt, ...)
{
    char sql[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return pg_testdb_value(url, sql);
}

/* Runs fn(a) and fn(b) in two threads at once and waits for both; false when one did not start. */
static bool run_two(void *(*fn)(void *), void *a, void *b)
{
    pthread_t pa, pb;

    if (pthread_create(&pa, NULL, fn, a) != 0)
        return false;
    if (pthread_create(&pb, NULL, fn, b) != 0) {
        pthread_join(pa, NULL);
        return false;
    }
    pthread_join(pa, NULL);
    pthread_join(pb, NULL);
    return true;
}

static void test_cases(void)
{
    struct tl_store *st = open_store("cases");
    struct tl_case got;

    if (st == NULL)
        return;
    struct tl_case c = {.state = "reported",
                        .lang = "ur",
                        .reporter_phone = "+923001112222",
                        .channel = "at1",
                        .child_name = "Bilal Ahmed",
                        .age = 7,
                        .gender = "male",
                        .area_code = "PK-PB-LHR",
                        .area_text = "Lahore",
                        .last_seen = "near the market",
                        .description = "red shirt",
                        .contact = "+923004445555",
                        .radius_km = 2.5,
                        .created_at = 1000,
                        .updated_at = 1001,
                        .missing = 5,
                        .asked = 2,
                        .stage = 1};
    is_int(store_case_insert(st, &c), TL_OK, "a case inserted");
    ok(c.id > 0, "it got an id (%lld)", (long long)c.id);
    is_int(store_case_by_id(st, c.id, &got), TL_OK, "read back by id");
    is_int(got.id, c.id, "id");
    is_str(got.case_no, "", "no case number yet");
    is_str(got.state, "reported", "state");
    is_str(got.reporter_phone, "+923001112222", "reporter_phone");
    is_str(got.lang, "ur", "lang");
    is_str(got.channel, "at1", "channel");
    is_str(got.child_name, "Bilal Ahmed", "child_name");
    is_int(got.age, 7, "age");
    is_str(got.gender, "male", "gender");
    is_str(got.area_code, "PK-PB-LHR", "area_code");
    is_str(got.area_text, "Lahore", "area_text");
    is_str(got.last_seen, "near the market", "last_seen");
    is_str(got.description, "red shirt", "description");
    is_str(got.contact, "+923004445555", "contact");
    ok(got.close_reason == NULL, "close_reason NULL");
    ok(got.radius_km == 2.5, "radius_km 2.5 (%g)", got.radius_km);
    is_int(got.created_at, 1000, "created_at");
    is_int(got.updated_at, 1001, "updated_at");
    is_int(got.verified_at, 0, "verified_at 0");
    is_int(got.closed_at, 0, "closed_at 0");
    is_int(got.missing, 5, "missing");
    is_int(got.asked, 2, "asked");
    is_int(got.stage, 1, "stage");
    is_int(value("SELECT count(*) FROM cases WHERE id = %lld AND case_no IS NULL AND"
                 " verified_at IS NULL AND closed_at IS NULL",
                 (long long)c.id),
           1, "empty case_no, verified_at 0, closed_at 0 are stored as NULL");
    store_case_clear(&got);

    /* every field changed, and the unknowns back to unknown */
    struct tl_case u = c;
    snprintf(u.state, sizeof(u.state), "closed");
    snprintf(u.lang, sizeof(u.lang), "roman-ur");
    u.gender[0] = '\0';
    u.age = -1;
    u.child_name = "Bilal";
    u.area_text = NULL;
    u.contact = NULL;
    u.close_reason = "found at home";
    u.radius_km = 10;
    u.updated_at = 2000;
    u.verified_at = 1500;
    u.closed_at = 2000;
    u.missing = 0;
    u.asked = 0;
    u.stage = 3;
    is_int(store_case_update(st, &u), TL_OK, "a case updated");
    is_int(store_case_by_id(st, c.id, &got), TL_OK, "read back");
    is_str(got.state, "closed", "state");
    is_str(got.lang, "roman-ur", "lang");
    is_str(got.gender, "", "gender unknown again");
    is_int(got.age, -1, "age unknown again");
    is_str(got.child_name, "Bilal", "child_name");
    ok(got.area_text == NULL && got.contact == NULL, "area_text and contact NULL");
    is_str(got.close_reason, "found at home", "close_reason");
    ok(got.radius_km == 10.0, "radius_km 10");
    is_int(got.updated_at, 2000, "updated_at");
    is_int(got.verified_at, 1500, "verified_at");
    is_int(got.closed_at, 2000, "closed_at");
    is_int(got.stage, 3, "stage");
    store_case_clear(&got);
    is_int(value("SELECT count(*) FROM cases WHERE id = %lld AND age IS NULL AND gender IS NULL",
                 (long long)c.id),
           1, "age -1 and gender \"\" are stored as NULL");

    is_int(store_case_assign_number(st, &u), TL_OK, "a number assigned");
    ok(casenum_valid(u.case_no, strlen(u.case_no)), "it is a valid case number (%s)", u.case_no);
    is_int(store_case_by_number(st, u.case_no, &got), TL_OK, "found by its number");
    is_int(got.id, c.id, "the same case");
    is_str(got.case_no, u.case_no, "with its number");
    store_case_clear(&got);
    is_int(store_case_by_number(st, "000000", &got), TL_ERR_NOT_FOUND, "an unknown number: not found");
    is_int(store_case_by_id(st, c.id + 1000, &got), TL_ERR_NOT_FOUND, "an unknown id: not found");
    struct tl_case dup = {.state = "reported", .age = -1};
    memcpy(dup.case_no, u.case_no, sizeof(dup.case_no));
    is_int(store_case_insert(st, &dup), TL_ERR_STORE, "a second case with a taken number: refused");
    is_int(store_case_insert(st, &(struct tl_case){.state = "nonsense", .age = -1}), TL_ERR_STORE,
           "a state out of the schema's: refused");

    /* drafts: the phone's latest one updated since `since` */
    struct tl_case d1 = {.state = "draft", .reporter_phone = "+923007770000", .age = -1,
                         .created_at = 100, .updated_at = 100};
    struct tl_case d2 = d1, d3 = d1, other = d1;
    d2.updated_at = 300;
    d2.child_name = "newer";
    d3.updated_at = 900;
    snprintf(d3.state, sizeof(d3.state), "reported"); /* not a draft any more */
    other.reporter_phone = "+923008880000";
    other.updated_at = 950;
    ok(store_case_insert(st, &d1) == TL_OK && store_case_insert(st, &d2) == TL_OK &&
           store_case_insert(st, &d3) == TL_OK && store_case_insert(st, &other) == TL_OK,
       "three cases of one phone, a draft of another");
    is_int(store_case_open_draft(st, "+923007770000", 100, &got), TL_OK, "an open draft");
    is_int(got.id, d2.id, "the one updated last");
    is_str(got.lang, "en", "an empty language is stored as en");
    store_case_clear(&got);
    is_int(store_case_open_draft(st, "+923007770000", 301, &got), TL_ERR_NOT_FOUND,
           "none updated since 301 (the newer row is not a draft)");
    is_int(store_case_open_draft(st, "+923009990000", 0, &got), TL_ERR_NOT_FOUND,
           "a phone with no draft: not found");

    /* escalation: active cases with fewer stages done */
    int64_t *ids = NULL;
    size_t n = 99, already = 0;
    is_int(store_cases_escalating(st, 2, &ids, &already), TL_OK, "escalating cases before");
    free(ids);
    struct tl_case a0 = {.state = "active", .age = -1, .stage = 0};
    struct tl_case a1 = a0, a2 = a0;
    a1.stage = 1;
    a2.stage = 2;
    ok(store_case_insert(st, &a0) == TL_OK && store_case_insert(st, &a1) == TL_OK &&
           store_case_insert(st, &a2) == TL_OK,
       "three active cases at stages 0, 1, 2");
    is_int(store_cases_escalating(st, 2, &ids, &n), TL_OK, "escalating below 2 stages");
    is_int(n, already + 2, "two more");
    int has0 = 0, has1 = 0, has2 = 0;
    for (size_t i = 0; i < n; i++) {
        has0 += ids[i] == a0.id;
        has1 += ids[i] == a1.id;
        has2 += ids[i] == a2.id;
    }
    ok(has0 == 1 && has1 == 1 && has2 == 0, "stages 0 and 1, once each; not stage 2");
    free(ids);
    is_int(store_cases_escalating(st, 0, &ids, &n), TL_OK, "escalating below 0 stages");
    ok(n == 0 && ids == NULL, "none, and no array");

    /* sightings and the report's link to its case */
    is_int(store_sighting_add(st, a0.id, "+923006660000", "seen at the bus stop", 5000), TL_OK,
           "a sighting");
    is_int(value("SELECT count(*) FROM sightings WHERE case_id = %lld AND phone = '+923006660000'"
                 " AND text = 'seen at the bus stop' AND created_at = 5000",
                 (long long)a0.id),
           1, "stored as given");
    is_int(store_sighting_add(st, a0.id + 100000, NULL, "x", 5000), TL_ERR_STORE,
           "a sighting of no case: refused");
    struct tl_inbound_row in = {"at1", "ATXid_1", "sms", "+923001112222", NULL, "report", 10,
                                NULL};
    int64_t in_id = 0;
    is_int(store_inbound_insert(st, &in, &in_id), TL_OK, "an inbound message");
    is_int(store_inbound_set_case(st, in_id, c.id), TL_OK, "tied to its case");
    is_int(value("SELECT case_id FROM inbound WHERE id = %lld", (long long)in_id), c.id,
           "its case_id");
    store_close(st);
}

/* ---- case numbers ---- */

/* Counts what test_case_numbers counts over a set of numbers. */
struct number_check {
    int assigned, invalid, lead0, lead92, dup;
};
static char seen[100000];

static void number_note(struct number_check *k, const char *no)
{
    k->assigned++;
    if (!casenum_valid(no, strlen(no))) {
        k->invalid++;
        return;
    }
    k->lead0 += no[0] == '0';
    k->lead92 += no[0] == '9' && no[1] == '2';
    k->dup += seen[strtol(no, NULL, 10) / 10]++ > 0;
}

static void number_report(const struct number_check *k, int want, const char *what)
{
    is_int(k->assigned, want, "%s: every case got a number", what);
    is_int(k->invalid, 0, "%s: every number has a valid check digit", what);
    is_int(k->dup, 0, "%s: no number given twice", what);
    is_int(k->lead0, 0, "%s: none starts with 0", what);
    is_int(k->lead92, 0, "%s: none starts with 92", what);
}

static int insert_numbered(struct tl_store *st, char out[TL_CASENUM_LEN + 1])
{
    struct tl_case c = {.state = "reported", .lang = "en", .age = -1};

    if (store_case_insert(st, &c) != TL_OK || store_case_assign_number(st, &c) != TL_OK)
        return TL_ERR_STORE;
    memcpy(out, c.case_no, TL_CASENUM_LEN + 1);
    return TL_OK;
}

/*
 * Takes every other valid case number (44,550 of the 89,100 our rule can
 * give) in cases of state 'closed', so that about every second draw hits a
 * taken number. Returns how many rows it inserted.
 */
static long long take_half_the_numbers(void)
{
    size_t cap = 100000 * 9 + 200, len = 0;
    char *sql = malloc(cap);
    int k = 0;

    len += (size_t)snprintf(sql + len, cap - len,
                            "WITH i AS (INSERT INTO cases (case_no, state, created_at, updated_at)"
                            " SELECT unnest('{");
    for (uint32_t r = 0; r < 100000; r++) {
        char no[TL_CASENUM_LEN + 1];
        casenum_make(r, no);
        if (no[0] == '0' || (no[0] == '9' && no[1] == '2') || k++ % 2 != 0)
            continue;
        len += (size_t)snprintf(sql + len, cap - len, "%s%s", len > 0 && sql[len - 1] != '{' ? "," : "", no);
    }
    snprintf(sql + len, cap - len, "}'::text[]), 'closed', 0, 0 ON CONFLICT DO NOTHING RETURNING 1)"
                                 " SELECT count(*) FROM i");
    long long n = pg_testdb_value(url, sql);
    free(sql);
    return n;
}

struct number_thread {
    struct tl_store *st;
    int n;
    char (*nos)[TL_CASENUM_LEN + 1];
    int failed;
};

/* Each case in a transaction of its own, as cases.c does: insert, number, commit. */
static void *number_thread_main(void *arg)
{
    struct number_thread *t = arg;

    for (int i = 0; i < t->n; i++) {
        if (store_tx_begin(t->st) != TL_OK || insert_numbered(t->st, t->nos[i]) != TL_OK ||
            store_tx_commit(t->st) != TL_OK) {
            store_tx_rollback(t->st);
            t->failed++;
            t->nos[i][0] = '\0';
        }
    }
    return NULL;
}

static void test_case_numbers(void)
{
    enum { N = 3000, M = 200 };
    struct tl_store *st = open_store("case numbers"), *st2;
    struct number_check k = {0};
    char no[TL_CASENUM_LEN + 1];

    if (st == NULL)
        return;
    memset(seen, 0, sizeof(seen));
    long long numbered = value("SELECT count(case_no) FROM cases");
    ok(store_tx_begin(st) == TL_OK, "one transaction for %d cases", N);
    for (int i = 0; i < N && insert_numbered(st, no) == TL_OK; i++)
        number_note(&k, no);
    ok(store_tx_commit(st) == TL_OK, "committed");
    number_report(&k, N, "one store");

    /* two stores, interleaved, each case committed on its own */
    if ((st2 = open_store("a second store on the same database")) == NULL) {
        store_close(st);
        return;
    }
    memset(&k, 0, sizeof(k));
    for (int i = 0; i < M; i++)
        if (insert_numbered(i % 2 ? st2 : st, no) == TL_OK)
            number_note(&k, no);
    number_report(&k, M, "two stores interleaved");
    is_int(value("SELECT count(DISTINCT case_no) FROM cases") - numbered, N + M,
           "the database holds %d distinct numbers more", N + M);

    /* half the numbers taken: about every second draw is retried, inside the caller's transaction */
    long long taken = take_half_the_numbers();
    ok(taken > 40000, "%lld more numbers taken", taken);
    ok(store_tx_begin(st) == TL_OK, "a transaction");
    is_int(store_audit(st, "test", "before", 0, "ok", NULL, 1), TL_OK,
           "a write in it before the numbers");
    memset(&k, 0, sizeof(k));
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < M && insert_numbered(st, no) == TL_OK; i++)
        number_note(&k, no);
    number_report(&k, M, "half taken, one transaction");
    is_int(store_tx_commit(st), TL_OK,
           "the transaction survives the taken numbers (each tried in a savepoint) and commits");
    is_int(value("SELECT count(*) FROM audit_log WHERE action = 'before'"), 1,
           "the write before them is kept");
    long long total = value("SELECT count(case_no) FROM cases");
    is_int(value("SELECT count(DISTINCT case_no) FROM cases"), total,
           "every one of the %lld numbered cases has its own number", total);

    /* two threads at once, each case in its own transaction, half the numbers taken */
    static char nos_a[M][TL_CASENUM_LEN + 1], nos_b[M][TL_CASENUM_LEN + 1];
    struct number_thread ta = {st, M, nos_a, 0}, tb = {st2, M, nos_b, 0};
    ok(run_two(number_thread_main, &ta, &tb), "two threads, a store each, %d cases each", M);
    is_int(ta.failed + tb.failed, 0, "no case failed");
    memset(&k, 0, sizeof(k));
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < M; i++) {
        number_note(&k, nos_a[i]);
        number_note(&k, nos_b[i]);
    }
    number_report(&k, 2 * M, "two threads at once");
    is_int(value("SELECT count(*) FROM cases WHERE case_no IS NOT NULL") -
               value("SELECT count(DISTINCT case_no) FROM cases"),
           0, "no number twice in the database");
    store_close(st2);
    store_close(st);
}

/* ---- rate windows ---- */

struct rate_thread {
    struct tl_store *st;
    int n;
    int64_t *counts;
};

static void *rate_thread_main(void *arg)
{
    struct rate_thread *t = arg;

    for (int i = 0; i < t->n; i++)
        t->counts[i] = store_rate_hit(t->st, "+923005550000", "msg", 5000, 3600);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void test_rate(void)
{
    enum { N = 500 };
    struct tl_store *st = open_store("rate windows"), *st2;

    if (st == NULL)
        return;
    is_int(store_rate_hit(st, "+923001111111", "msg", 1000, 60), 1, "the first hit: 1");
    is_int(store_rate_hit(st, "+923001111111", "msg", 1030, 60), 2, "the second: 2");
    is_int(store_rate_hit(st, "+923001111111", "msg", 1059, 60), 3,
           "the last second of the window: 3");
    is_int(store_rate_hit(st, "+923001111111", "report", 1059, 60), 1,
           "another kind counts apart: 1");
    is_int(store_rate_hit(st, "+923002222222", "msg", 1059, 60), 1,
           "another phone counts apart: 1");
    is_int(store_rate_hit(st, "+923001111111", "msg", 1060, 60), 1,
           "the window over (60 s after its start): a new window, 1");
    is_int(value("SELECT window_start FROM rate_windows WHERE phone = '+923001111111'"
                 " AND kind = 'msg'"),
           1060, "it starts at that hit");
    is_int(store_rate_hit(st, "+923001111111", "msg", 1119, 60), 2, "still in it: 2");
    is_int(store_rate_hit(st, "+923001111111", "msg", 5000, 60), 1, "long after: 1");
    is_int(value("SELECT count(*) FROM rate_windows"), 3, "one row per (phone, kind)");

    if ((st2 = open_store("a second store for rate windows")) == NULL) {
        store_close(st);
        return;
    }
    /* interleaved */
    for (int i = 0; i < 6; i++)
        is_int(store_rate_hit(i % 2 ? st2 : st, "+923003330000", "msg", 2000, 60), i + 1,
               "interleaved hit %d from store %c", i + 1, i % 2 ? 'B' : 'A');
    /* two threads at once */
    static int64_t ca[N], cb[N], all[2 * N];
    struct rate_thread ta = {st, N, ca}, tb = {st2, N, cb};
    ok(run_two(rate_thread_main, &ta, &tb), "two threads hit one window %d times each", N);
    memcpy(all, ca, sizeof(ca));
    memcpy(all + N, cb, sizeof(cb));
    qsort(all, 2 * N, sizeof(all[0]), cmp_i64);
    int wrong = 0;
    for (int i = 0; i < 2 * N; i++)
        wrong += all[i] != i + 1;
    is_int(wrong, 0, "the counts they saw are exactly 1..%d: none repeated, none missing", 2 * N);
    int rising = 1;
    for (int i = 1; i < N; i++)
        rising &= ca[i] > ca[i - 1] && cb[i] > cb[i - 1];
    ok(rising, "each thread saw its counts rise");
    is_int(value("SELECT count FROM rate_windows WHERE phone = '+923005550000'"), 2 * N,
           "the row holds %d", 2 * N);
    store_close(st2);
    store_close(st);
}

/* ---- PIN lockouts, the block list, the audit log ---- */

struct pin_thread {
    struct tl_store *st;
    int n, failed, locked;
    int64_t now; /* of the first failure; then every 2 s (the threads' seconds apart) */
};

static void *pin_thread_main(void *arg)
{
    struct pin_thread *t = arg;
    int64_t until;

    for (int i = 0; i < t->n; i++) {
        if (store_pin_failure(t->st, "+923004440000", 1000, 100000, t->now, &until) != TL_OK)
            t->failed++;
        t->now += 2;
        t->locked += until != 0;
    }
    return NULL;
}

static void test_pin(void)
{
    enum { N = 300 };
    struct tl_store *st = open_store("PIN lockouts"), *st2;
    int64_t until = -1;

    if (st == NULL)
        return;
    is_int(store_pin_locked_until(st, "+923001110000", 100), 0, "an unknown key: not locked");
    is_int(store_pin_failure(st, "+923001110000", 3, 900, 100, &until), TL_OK, "failure 1");
    is_int(until, 0, "not locked");
    is_int(store_pin_failure(st, "+923001110000", 3, 900, 200, &until), TL_OK, "failure 2");
    is_int(until, 0, "not locked");
    is_int(value("SELECT failures FROM pin_lockouts WHERE key = '+923001110000'"), 2,
           "two failures counted");
    is_int(store_pin_failure(st, "+923001110000", 3, 900, 300, &until), TL_OK, "failure 3");
    is_int(until, 1200, "locked until 300 + 900");
    is_int(store_pin_locked_until(st, "+923001110000", 300), 1200, "locked at 300");
    is_int(store_pin_locked_until(st, "+923001110000", 1199), 1200, "still at 1199");
    is_int(store_pin_locked_until(st, "+923001110000", 1200), 0, "free at 1200");
    is_int(value("SELECT failures FROM pin_lockouts WHERE key = '+923001110000'"), 0,
           "the count restarts at the lock");
    is_int(store_pin_failure(st, "+923001110000", 3, 900, 400, &until), TL_OK,
           "a failure while locked");
    is_int(until, 0, "does not lock anew");
    is_int(store_pin_locked_until(st, "+923001110000", 400), 1200, "the lock stays");

    /* the window */
    is_int(store_pin_failure(st, "+923002220000", 3, 900, 100, &until), TL_OK, "key 2, failure 1");
    is_int(store_pin_failure(st, "+923002220000", 3, 900, 999, &until), TL_OK,
           "failure 2 at the window's last second");
    is_int(store_pin_failure(st, "+923002220000", 3, 900, 1000, &until), TL_OK,
           "failure 3, 900 s after the first");
    is_int(until, 0, "the window had passed: no lock");
    is_int(value("SELECT failures FROM pin_lockouts WHERE key = '+923002220000'"), 1,
           "the count restarted at 1");
    is_int(value("SELECT first_at FROM pin_lockouts WHERE key = '+923002220000'"), 1000,
           "its window starts at 1000");

    /* max 1: the first failure locks */
    is_int(store_pin_failure(st, "+923003330000", 1, 60, 500, &until), TL_OK, "max 1: a failure");
    is_int(until, 560, "locked until 560");
    is_int(store_pin_locked_until(st, "+923003330000", 500), 560, "locked");

    is_int(store_pin_clear(st, "+923003330000"), 1, "clear: one row");
    is_int(store_pin_clear(st, "+923003330000"), 0, "clear again: none");
    is_int(store_pin_locked_until(st, "+923003330000", 500), 0, "not locked once cleared");

    if ((st2 = open_store("a second store for PINs")) == NULL) {
        store_close(st);
        return;
    }
    struct pin_thread ta = {st, N, 0, 0, 100}, tb = {st2, N, 0, 0, 101};
    ok(run_two(pin_thread_main, &ta, &tb), "two threads, %d wrong PINs each", N);
    is_int(ta.failed + tb.failed, 0, "none failed");
    is_int(ta.locked + tb.locked, 0, "none locked (max 1000)");
    ta.now = 1000, tb.now = 1001;
    is_int(value("SELECT failures FROM pin_lockouts WHERE key = '+923004440000'"), 2 * N,
           "every failure counted once: %d", 2 * N);
    /* and the lock is given exactly once when the threads cross max together */
    ta.n = tb.n = 250;
    ta.locked = tb.locked = 0;
    ok(run_two(pin_thread_main, &ta, &tb), "500 more, crossing 1000");
    is_int(ta.locked + tb.locked, 1, "exactly one failure locked the key");
    is_int(value("SELECT failures FROM pin_lockouts WHERE key = '+923004440000'"), 100,
           "and the count restarted: 1100 - 1000 = 100");
    store_close(st2);
    store_close(st);
}

static void test_block_audit(void)
{
    struct tl_store *st = open_store("block list and audit log");

    if (st == NULL)
        return;
    ok(!store_blocked(st, "+923001230000"), "not blocked");
    is_int(store_block(st, "+923001230000", "abuse", 100), TL_OK, "blocked");
    ok(store_blocked(st, "+923001230000"), "now blocked");
    ok(!store_blocked(st, "+923001230001"), "another number is not");
    is_int(store_block(st, "+923001230000", "spam", 200), TL_OK, "blocked again");
    is_int(value("SELECT count(*) FROM blocklist WHERE phone = '+923001230000'"
                 " AND reason = 'spam' AND created_at = 100"),
           1, "one row: the new reason, the first time");
    is_int(store_block(st, "+923001230002", NULL, 300), TL_OK, "blocked without a reason");
    is_int(store_unblock(st, "+923001230000"), 1, "unblock: one row");
    is_int(store_unblock(st, "+923001230000"), 0, "unblock again: none");
    ok(!store_blocked(st, "+923001230000"), "not blocked any more");

    is_int(store_audit(st, "+923001230000", "report", 0, "ok", "123456", 700), TL_OK,
           "an audit line of no case");
    is_int(store_audit(st, "api", "verify", 42, "refused: state", NULL, 800), TL_OK,
           "an audit line of case 42");
    is_int(value("SELECT count(*) FROM audit_log WHERE at = 700 AND actor = '+923001230000'"
                 " AND action = 'report' AND case_id IS NULL AND outcome = 'ok'"
                 " AND detail = '123456'"),
           1, "case 0 is stored as NULL");
    is_int(value("SELECT count(*) FROM audit_log WHERE at = 800 AND actor = 'api'"
                 " AND action = 'verify' AND case_id = 42 AND outcome = 'refused: state'"
                 " AND detail IS NULL"),
           1, "the second as given");
    is_int(store_audit(st, NULL, "x", 0, "ok", NULL, 900), TL_ERR_STORE,
           "an audit line without an actor: refused");
    store_close(st);
}

/* ---- USSD sessions ---- */

static void test_ussd(void)
{
    struct tl_store *st = open_store("USSD sessions");
    struct tl_ussd_session got;

    if (st == NULL)
        return;
    is_int(store_ussd_session_get(st, "at1", "s1", &got), TL_ERR_NOT_FOUND, "no session yet");
    ok(got.phone == NULL && got.expires_at == 0, "and nothing read");
    struct tl_ussd_session s = {"+923001112222", "menu", "{}", NULL, "CON Welcome", 1300};
    is_int(store_ussd_session_put(st, "at1", "s1", &s, 1000), TL_OK, "a session stored");
    is_int(store_ussd_session_get(st, "at1", "s1", &got), TL_OK, "read back");
    is_str(got.phone, "+923001112222", "phone");
    is_str(got.state, "menu", "state");
    is_str(got.data, "{}", "data");
    ok(got.last_input == NULL, "last_input NULL");
    is_str(got.last_reply, "CON Welcome", "last_reply");
    is_int(got.expires_at, 1300, "expires_at");
    store_ussd_session_clear(&got);
    is_int(store_ussd_session_get(st, "at2", "s1", &got), TL_ERR_NOT_FOUND,
           "the same id on another channel: another session");
    struct tl_ussd_session s2 = {"+923001112222", "name", "{\"area\":\"LHR\"}", "1*2", "CON Name?",
                                 1400};
    is_int(store_ussd_session_put(st, "at1", "s1", &s2, 1100), TL_OK, "the session updated");
    is_int(store_ussd_session_get(st, "at1", "s1", &got), TL_OK, "read back");
    is_str(got.state, "name", "new state");
    is_str(got.data, "{\"area\":\"LHR\"}", "new data");
    is_str(got.last_input, "1*2", "new last_input");
    is_int(got.expires_at, 1400, "new expires_at");
    store_ussd_session_clear(&got);
    is_int(value("SELECT updated_at FROM ussd_sessions WHERE channel = 'at1' AND session_id = 's1'"),
           1100, "updated_at is the last put's");
    s.expires_at = 1350;
    is_int(store_ussd_session_put(st, "at2", "s9", &s, 1000), TL_OK, "a second session");
    is_int(store_ussd_sessions_expire(st, 1350), 0, "expire at 1350: none before it");
    is_int(store_ussd_sessions_expire(st, 1351), 1, "at 1351: the one expiring at 1350");
    is_int(store_ussd_sessions_expire(st, 1401), 1, "at 1401: the other");
    is_int(value("SELECT count(*) FROM ussd_sessions"), 0, "none left");
    store_close(st);
}

/* ---- redaction ---- */

#define CHILD "Zarmeena Khattak"
#define REPORTER "+923001234567"

/* Rows of every table of the database whose text (any column) contains s. */
static long long rows_containing(const char *s, const char *except)
{
    return value("SELECT coalesce(sum((xpath('/row/n/text()', query_to_xml(format("
                 "'SELECT count(*) AS n FROM %%I t WHERE t::text LIKE %%L', table_name,"
                 " '%%%s%%'), false, true, '')))[1]::text::bigint), 0)"
                 " FROM information_schema.tables WHERE table_schema = 'public'"
                 " AND table_type = 'BASE TABLE' AND table_name NOT IN (%s)",
                 s, except);
}

/* Inserts one row with a SQL statement of the test (an INSERT … RETURNING id). */
__attribute__((format(printf, 1, 2))) static long long insert(const char *fmt, ...)
{
    char sql[2048], wrapped[2200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    snprintf(wrapped, sizeof(wrapped), "WITH i AS (%s) SELECT id FROM i", sql);
    return pg_testdb_value(url, wrapped);
}

/* A case of the child's with its traces in every table redaction covers; returns its id. */
static int64_t case_with_traces(struct tl_store *st, const char *state, int64_t closed_at,
                                int64_t updated_at, const char *provider_id)
{
    struct tl_case c = {.reporter_phone = REPORTER, .child_name = CHILD, .age = 6,
                        .area_code = "PK-PB-LHR", .area_text = "Anarkali " CHILD,
                        .last_seen = CHILD " near the mosque", .description = CHILD " blue",
                        .contact = "+923009876543", .close_reason = "found " CHILD,
                        .created_at = 100, .updated_at = updated_at, .closed_at = closed_at};
    snprintf(c.state, sizeof(c.state), "%s", state);
    if (store_case_insert(st, &c) != TL_OK)
        return 0;
    struct tl_inbound_row in = {"at1", provider_id, "sms", REPORTER, NULL,
                                "MISSING " CHILD " 6 Lahore", 100, NULL};
    int64_t in_id = 0;
    if (store_inbound_insert(st, &in, &in_id) != TL_OK ||
        store_inbound_set_case(st, in_id, c.id) != TL_OK ||
        store_sighting_add(st, c.id, "+923005556666", "saw " CHILD, 200) != TL_OK)
        return 0;
    long long alert = insert("INSERT INTO alerts (case_id, kind, text_en, text_ur, text_roman_ur,"
                             " created_at) VALUES (%lld, 'alert', 'Missing: %s', 'گمشدہ %s',"
                             " 'Gumshuda %s', 300) RETURNING id",
                             (long long)c.id, CHILD, CHILD, CHILD);
    /* the reply to the report (by inbound_id), the police note (case_id, with the
     * reporter's number), an alert row (the wave's text, no own text) */
    if (alert <= 0 ||
        insert("INSERT INTO outbox (channel, phone, text, kind, priority, state,"
               " next_attempt_ms, inbound_id, created_at, updated_at) VALUES ('at1', '%s',"
               " 'Got it: %s', 'reply', 1, 'sent', 0, %lld, 100, 100) RETURNING id",
               REPORTER, CHILD, (long long)in_id) <= 0 ||
        insert("INSERT INTO outbox (channel, phone, text, kind, priority, state,"
               " next_attempt_ms, case_id, created_at, updated_at) VALUES ('at1',"
               " '+923001000000', 'Case: %s, call %s', 'police', 0, 'sent', 0, %lld, 100, 100)"
               " RETURNING id",
               CHILD, REPORTER, (long long)c.id) <= 0 ||
        insert("INSERT INTO outbox (channel, phone, kind, priority, state, next_attempt_ms,"
               " case_id, alert_id, created_at, updated_at) VALUES ('at1', '+923002000000',"
               " 'alert', 2, 'sent', 0, %lld, %lld, 300, 300) RETURNING id",
               (long long)c.id, alert) <= 0)
        return 0;
    return c.id;
}

struct redact_thread {
    struct tl_store *st;
    int64_t redacted;
};

static void *redact_thread_main(void *arg)
{
    struct redact_thread *t = arg;

    t->redacted = store_cases_redact(t->st, 5000, 9000);
    return NULL;
}

static void test_redact(void)
{
    struct tl_store *st = open_store("redaction"), *st2;

    if (st == NULL)
        return;
    is_int(store_cases_redact(st, 5000, 6000), 0, "nothing due: 0");
    int64_t closed = case_with_traces(st, "closed", 1000, 1000, "r1");
    int64_t draft = case_with_traces(st, "draft", 0, 2000, "r2");
    int64_t open = case_with_traces(st, "active", 0, 1000, "r3");
    int64_t late = case_with_traces(st, "found", 5000, 5000, "r4"); /* closed at the cut-off */
    int64_t fresh = case_with_traces(st, "draft", 0, 5000, "r5");
    ok(closed > 0 && draft > 0 && open > 0 && late > 0 && fresh > 0,
       "five cases of the child, with their messages, sightings and waves");
    long long before = rows_containing(CHILD, "''");
    is_int(before, 5 * 6,
           "the name is in 30 rows before: per case its row, report, sighting, wave, reply and"
           " police note");
    is_int(store_cases_redact(st, 5000, 6000), 2,
           "redacted: the case closed before 5000 and the draft abandoned before it");
    is_int(value("SELECT count(*) FROM cases WHERE redacted_at = 6000"), 2, "redacted_at = now");
    is_int(value("SELECT count(*) FROM cases WHERE id IN (%lld, %lld) AND reporter_phone IS NULL"
                 " AND child_name IS NULL AND area_text IS NULL AND contact IS NULL AND"
                 " close_reason IS NULL AND last_seen IS NULL AND description IS NULL"
                 " AND age = 6 AND area_code = 'PK-PB-LHR'",
                 (long long)closed, (long long)draft),
           2, "their personal fields are NULL; age and area (counts) stay");
    is_int(rows_containing(CHILD, "''"), 3 * 6, "the name is left only in the 3 cases not due");
    char ids[64];
    snprintf(ids, sizeof(ids), "%lld, %lld", (long long)closed, (long long)draft);
    is_int(value("SELECT count(*) FROM inbound WHERE case_id IN (%s) AND text = '[redacted]'", ids),
           2, "the reports are [redacted]");
    is_int(value("SELECT count(*) FROM outbox WHERE (case_id IN (%s) OR inbound_id IN (SELECT id"
                 " FROM inbound WHERE case_id IN (%s))) AND text = '[redacted]'",
                 ids, ids),
           6, "the replies, notifications and alert rows are [redacted]");
    is_int(value("SELECT count(*) FROM sightings WHERE case_id IN (%s) AND text = '[redacted]'"
                 " AND phone IS NULL",
                 ids),
           2, "the sightings are [redacted], the sighter's number gone");
    is_int(value("SELECT count(*) FROM alerts WHERE case_id IN (%s) AND text_en = '[redacted]'"
                 " AND text_ur = '[redacted]' AND text_roman_ur = '[redacted]'",
                 ids),
           2, "the waves' three texts are [redacted]");
    /*
     * The reporter's number: gone from every text and every table but the
     * address columns of the rows that stay (inbound.phone of the reports,
     * outbox.phone of the replies), which the SQLite backend keeps too.
     */
    is_int(value("SELECT count(*) FROM outbox WHERE text LIKE '%%%s%%' AND case_id IN (%s)",
                 REPORTER, ids),
           0, "the reporter's number is in no redacted message text");
    is_int(rows_containing(REPORTER, "'inbound', 'outbox'") -
               value("SELECT count(*) FROM cases WHERE reporter_phone = '%s'", REPORTER),
           0, "nor in any other table than inbound/outbox but the unredacted cases");
    is_int(value("SELECT count(*) FROM inbound WHERE phone = '%s' AND case_id IN (%s)", REPORTER,
                 ids) +
               value("SELECT count(*) FROM outbox WHERE phone = '%s' AND inbound_id IN (SELECT id"
                     " FROM inbound WHERE case_id IN (%s))",
                     REPORTER, ids),
           4, "(the address columns: the 2 reports and 2 replies keep it, as in SQLite)");
    is_int(store_cases_redact(st, 5000, 7000), 0, "again: nothing due");
    is_int(value("SELECT count(*) FROM cases WHERE redacted_at = 7000"), 0, "nothing changed");

    /* two stores at once: one holds the cases locked, the other waits, then finds none left */
    if ((st2 = open_store("a second store for redaction")) == NULL) {
        store_close(st);
        return;
    }
    struct tl_case c;
    ok(store_case_by_id(st, late, &c) == TL_OK, "the case closed at 5000");
    c.closed_at = 4000;
    is_int(store_case_update(st, &c), TL_OK, "now closed at 4000: due");
    store_case_clear(&c);
    ok(store_tx_begin(st) == TL_OK, "store A opens a transaction");
    is_int(store_cases_redact(st, 5000, 8000), 1, "and redacts it (not committed)");
    struct redact_thread tb = {st2, -2};
    pthread_t pb;
    ok(pthread_create(&pb, NULL, redact_thread_main, &tb) == 0, "store B redacts meanwhile");
    long long waiting = 0;
    for (time_t end = time(NULL) + 10; waiting == 0 && time(NULL) < end;) {
        waiting = value("SELECT count(*) FROM pg_locks WHERE NOT granted");
        if (waiting == 0)
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL); /* poll every 10 ms */
    }
    is_int(waiting, 1, "B waits for A's lock");
    is_int(store_tx_commit(st), TL_OK, "A commits");
    pthread_join(pb, NULL);
    is_int(tb.redacted, 0, "B finds nothing left to redact: 0");
    is_int(value("SELECT count(*) FROM cases WHERE redacted_at IS NOT NULL"), 3,
           "3 cases redacted in all");
    is_int(value("SELECT count(*) FROM cases WHERE redacted_at = 9000"), 0,
           "none by B");
    is_int(rows_containing(CHILD, "''"), 2 * 6, "the name is left only in the 2 cases not due");
    store_close(st2);
    store_close(st);
}

int main(void)
{
    url = pg_testdb("talaash_pg_domain");
    if (url == NULL) {
        printf("1..0 # SKIP no PostgreSQL (make test-pg)\n");
        return 0;
    }
    test_redact(); /* first: every case of the database is then its own */
    test_cases();
    test_case_numbers();
    test_rate();
    test_pin();
    test_block_audit();
    test_ussd();
    return done_testing();
}
