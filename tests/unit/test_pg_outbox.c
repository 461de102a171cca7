/*
 * test_pg_outbox.c — the PostgreSQL backend's outbox and pruning
 * (pg_outbox.c, pg_prune.c), through the store interface: the outbox
 * cases both backends run (outbox_cases.h) and the pruning cases on the
 * set-up both share (prune_cases.h), with the same exact values, adapted
 * where PostgreSQL differs on purpose (provider ids are not staged;
 * recovery leaves rows whose lease runs);
 * then what several nodes sharing the database need: two stores claiming
 * one queue at once get disjoint rows covering it and neither waits for
 * the other (SKIP LOCKED), a row claimed by a store that goes away is
 * claimed again by another after the lease, and the first one's late
 * result then changes nothing. Ends with the claim+result throughput of
 * one and of two stores (a diag line).
 *
 * Each group has a database of its own (pg_testdb.h); rows are set up and
 * read back on a second connection (peek). Without a cluster
 * (TALAASH_TEST_PG unset): a TAP skip. Run: make test-pg.
 */
#include "common/result.h"
#include "gateway/store/store.h"
#include "tests/tap.h"
#include "tests/unit/pg_testdb.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1760000000LL /* unix seconds */
#define NOW_MS (NOW * 1000)
#define LEASE 60000 /* set on every store (store_set_node); the daemon's is 75 s */
#define OUTBOX_LEASE_MS LEASE

static const char *url; /* the current group's database */
static struct tl_store *st;
static PGconn *peek; /* a second connection: set-up and read-back */

/* ---- the second connection ---- */

static void exec_sql(const char *sql)
{
    PGresult *r = PQexec(peek, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        ok(0, "sql '%.70s…': %s", sql, PQerrorMessage(peek));
    PQclear(r);
}

/* The first value of a query as text ("(no row)", "NULL"), into out. */
static const char *peek_text(const char *sql, char *out, size_t outsz)
{
    PGresult *r = PQexec(peek, sql);

    snprintf(out, outsz, "(no row)");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        diag("query '%s': %s", sql, PQerrorMessage(peek));
    else if (PQntuples(r) > 0)
        snprintf(out, outsz, "%s", PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

static long long peek_int(const char *sql)
{
    char buf[64];

    peek_text(sql, buf, sizeof(buf));
    return strcmp(buf, "(no row)") == 0 || strcmp(buf, "NULL") == 0 ? -1 : atoll(buf);
}

static const char *row_text(int64_t id, const char *column, char *out, size_t outsz)
{
    char sql[400];

    snprintf(sql, sizeof(sql), "SELECT coalesce(%s::text, 'NULL') FROM outbox WHERE id = %lld",
             column, (long long)id);
    return peek_text(sql, out, outsz);
}

/* ---- stores ---- */

static struct tl_store *open_store(void)
{
    struct tl_store *s = NULL;
    char *cause = NULL;

    if (store_open(url, 5000, &s, &cause) != TL_OK) {
        ok(0, "store_open: %s", cause ? cause : "");
        free(cause);
        return NULL;
    }
    static int stores;
    char node[32];
    snprintf(node, sizeof(node), "test-node-%d", ++stores);
    store_set_node(s, node, LEASE);
    return s;
}

/* A fresh database for one group, its store and the peeking connection. */
static bool fresh(const char *name)
{
    char db[64];

    snprintf(db, sizeof(db), "pgob_%s", name);
    if ((url = pg_testdb(db)) == NULL) {
        ok(0, "pg_testdb %s", name);
        return false;
    }
    if ((st = open_store()) == NULL)
        return false;
    peek = PQconnectdb(url);
    if (PQstatus(peek) != CONNECTION_OK) {
        ok(0, "peek: %s", PQerrorMessage(peek));
        return false;
    }
    return true;
}

static void finish(void)
{
    PQfinish(peek);
    peek = NULL;
    store_close(st);
    st = NULL;
}

/* STOP, as store_subscriber_set_opted_out leaves the subscriber row. */
static void opt_out(const char *phone)
{
    char sql[300];

    snprintf(sql, sizeof(sql),
             "INSERT INTO subscribers (phone, lang, opted_out, created_at, updated_at)"
             " VALUES ('%s', 'en', 1, 1760000001, 1760000001) ON CONFLICT (phone)"
             " DO UPDATE SET opted_out = 1",
             phone);
    exec_sql(sql);
}

#include "tests/unit/outbox_cases.h"

/*
 * Provider ids go straight into provider_ids (no staging on PostgreSQL):
 * nothing is ever staged, a plan has no slice and a move moves nothing.
 */
static void test_provider_ids(void)
{
    if (!fresh("pids"))
        return;
    int64_t m1 = sent_msg("sms", "+923001111111", "S-1");
    is_int(peek_int("SELECT count(*) FROM provider_ids WHERE provider_id = 'S-1'"), 1,
           "a send result puts its id in provider_ids");
    is_int(peek_int("SELECT count(*) FROM pg_tables WHERE tablename = 'provider_ids_staged'"), 0,
           "there is no staging table");
    is_int(store_provider_ids_staged(st), 0, "nothing staged");
    struct tl_outbox_dlr d = {"sms", "S-1", 0, TL_OUTBOX_DELIVERED, "Success", NULL};
    is_int(store_outbox_dlr(st, &d, NOW + 1), TL_OK, "a report for the id matches");
    state_is(m1, "delivered", "and applies");

    case_retried_ids();

    /* Many results in one call: every id is in provider_ids at once. */
    enum { MANY = 20500 };
    int64_t last = case_bulk_sent(MANY);
    is_int(store_provider_ids_staged(st), 0, "staged: none");
    struct tl_prune_cursor *bounds = (struct tl_prune_cursor *)1;
    size_t nb = 99;
    is_int(store_provider_ids_plan(st, 2000, &bounds, &nb), TL_OK, "a plan");
    is_int(nb, 0, "has no slice");
    ok(bounds == NULL, "and no bounds");
    struct tl_prune_cursor all = {.key = "\xff", .key2 = "", .id = 0};
    int64_t moved = -1;
    is_int(store_provider_ids_move_range(st, NULL, &all, &moved), TL_OK, "a move");
    is_int(moved, 0, "moves nothing");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE channel = 'bulk' AND state = 'sent'"
                    " AND provider_id LIKE 'B-%'"),
           MANY, "every row sent with its id");
    case_bulk_reported(MANY, last);
    finish();
}

/* ---- the cases of test_store_prune.c ---- */

static void result_provider_id(const char *pid, int outbox_id)
{
    char sql[200];

    snprintf(sql, sizeof(sql),
             "INSERT INTO provider_ids (channel, provider_id, outbox_id) VALUES ('at', '%s', %d)",
             pid, outbox_id);
    exec_sql(sql);
}

#include "tests/unit/prune_cases.h"

static void test_prune_pass(size_t step)
{
    char name[64], text[200];
    int64_t before[5][TL_OUTBOX_NSTATES], after[TL_OUTBOX_NSTATES], deleted[TL_PRUNE_NTABLES];
    size_t steps;

    snprintf(name, sizeof(name), "prune_%zu", step);
    if (!fresh(name))
        return;
    if (!case_prune_first_pass(step, before, deleted)) {
        finish();
        return;
    }
    is_int(deleted[TL_PRUNE_PROVIDER_IDS], 11,
           "step %zu: 11 provider ids deleted (10 of rows gone, 1 of an earlier attempt)", step);
    is_str(peek_text("SELECT string_agg(id::text, ',' ORDER BY id) FROM outbox", text,
                     sizeof(text)),
           "10,11,17,18,19,20,21,22,23,26",
           "step %zu: outbox rows kept: queued, sending, changed lately, active case, case ended"
           " lately, new reply",
           step);
    case_prune_counts_after(step, before);

    /* A second pass finds nothing, and leaves the tallies. */
    long long tallied = peek_int("SELECT sum(n) FROM outbox_tallies");
    if (pass(step, deleted, &steps))
        is_int(deleted[TL_PRUNE_OUTBOX] + deleted[TL_PRUNE_PROVIDER_IDS] +
                   deleted[TL_PRUNE_INBOUND] + deleted[TL_PRUNE_RATE_WINDOWS],
               0, "step %zu: a second pass deletes nothing", step);
    is_int(peek_int("SELECT sum(n) FROM outbox_tallies"), tallied,
           "step %zu: …and leaves the tallies (%lld)", step, tallied);

    /* A tally grows by what later passes fold into it (ON CONFLICT … n + excluded.n). */
    exec_sql("UPDATE outbox SET updated_at = 0 WHERE id = 17");
    if (pass(step, deleted, &steps))
        is_int(deleted[TL_PRUNE_OUTBOX], 1, "step %zu: row 17 goes once old", step);
    is_int(peek_int("SELECT n FROM outbox_tallies WHERE case_id = 1 AND alert_id = 1"
                    " AND kind = 'alert' AND channel = 'at' AND state = 'delivered'"),
           6, "step %zu: …into the same tally row", step);
    counts_of(1, NULL, after);
    ok(memcmp(before[1], after, sizeof(after)) == 0, "step %zu: alert 1's counts still the same",
       step);

    case_prune_marks(step);

    /* Inside an open transaction a step is a savepoint: the transaction goes on. */
    struct tl_prune_cursor c = {0};
    int64_t n = -1;
    is_int(store_tx_begin(st), TL_OK, "step %zu: begin", step);
    is_int(store_prune_step(st, TL_PRUNE_RATE_WINDOWS, NOW + DAY, &c, 10, &n), 1,
           "step %zu: a step inside it", step);
    is_int(n, 1, "step %zu: deletes the last window", step);
    store_tx_rollback(st);
    store_prune_cursor_clear(&c);
    is_int(peek_int("SELECT count(*) FROM rate_windows"), 1,
           "step %zu: rolled back with the transaction", step);
    finish();
}

/* An empty store: every pass ends at once. */
static void test_prune_empty(void)
{
    int64_t deleted[TL_PRUNE_NTABLES];
    size_t steps;

    if (!fresh("empty"))
        return;
    if (pass(100, deleted, &steps))
        is_int((long long)steps, 0, "empty store: no step has work");
    is_int(store_prune_due(st, NOW), 0, "empty store: nothing due");
    int64_t c[TL_OUTBOX_NSTATES];
    is_int(store_alert_counts(st, 1, NULL, c), TL_OK, "counts of no alert");
    is_int(c[TL_OUTBOX_SENT] + c[TL_OUTBOX_QUEUED], 0, "are 0");
    finish();
}

/* Recovery requeues only rows whose lease passed, through the index of rows in flight. */
static void test_recover_lease(void)
{
    char plan[2000] = "";

    if (!fresh("recover"))
        return;
    rows(1, 3, "NULL", "NULL", "reply", "sending", NOW, false);
    rows(4, 5, "NULL", "NULL", "reply", "sent", NOW, false);
    rows(9, 2, "NULL", "NULL", "reply", "sending", NOW, false);
    exec_sql("UPDATE outbox SET lease_until_ms = 1760000060000 WHERE id IN (1, 2, 3);"
         "UPDATE outbox SET lease_until_ms = 99999999999999 WHERE id IN (9, 10)");
    /* The plan once the table is big enough for an index to pay (no scan allowed here). */
    PGresult *r = PQexec(peek, "SET enable_seqscan = off");
    PQclear(r);
    r = PQexec(peek, "EXPLAIN UPDATE outbox SET state = 'queued', lease_until_ms = NULL"
                     " WHERE state = 'sending' AND (lease_until_ms IS NULL OR lease_until_ms <= 1)");
    for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
        strncat(plan, PQgetvalue(r, i, 0), sizeof(plan) - strlen(plan) - 2);
        strncat(plan, "\n", sizeof(plan) - strlen(plan) - 1);
    }
    PQclear(r);
    ok(strstr(plan, "outbox_sending") != NULL, "recovery's plan reads outbox_sending");
    if (strstr(plan, "outbox_sending") == NULL)
        diag("%s", plan);
    is_int(store_outbox_recover(st), 3, "recovery requeues the 3 rows whose lease passed");
    is_str(peek_text("SELECT string_agg(id::text, ',' ORDER BY id) FROM outbox"
                     " WHERE state = 'queued'",
                     plan, sizeof(plan)),
           "1,2,3", "…which are queued");
    is_str(peek_text("SELECT string_agg(id::text, ',' ORDER BY id) FROM outbox"
                     " WHERE state = 'sending'",
                     plan, sizeof(plan)),
           "9,10", "the rows of a live node's lease are left sending");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE state = 'queued'"
                    " AND lease_until_ms IS NOT NULL"),
           0, "requeued rows have no lease");
    finish();
}

/* ---- several nodes on one database ---- */


static double mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* A node's loop: claims batches of `batch` until none is left, recording SENT for each. */
struct node {
    struct tl_store *st;
    const char *channel;
    size_t batch;
    bool results;
    int64_t *ids; /* what it claimed, in order */
    size_t n, cap;
    int rc;
    double claim_ms, result_ms; /* time spent in each */
};

static void *node_run(void *arg)
{
    struct node *nd = arg;
    char pid[32];

    nd->rc = TL_OK;
    for (;;) {
        struct tl_outbox_msg *msgs = NULL;
        size_t n = 0;
        double t0 = mono_ms();
        nd->rc = store_outbox_claim(nd->st, nd->channel, NOW_MS, nd->batch, &msgs, &n);
        nd->claim_ms += mono_ms() - t0;
        if (nd->rc != TL_OK)
            break;
        if (n == 0) {
            free(msgs);
            break;
        }
        struct tl_outbox_result *r = calloc(n, sizeof(*r));
        char(*pids)[32] = calloc(n, sizeof(*pids));
        for (size_t i = 0; i < n; i++) {
            if (nd->n == nd->cap) {
                nd->cap = nd->cap ? nd->cap * 2 : 1024;
                nd->ids = realloc(nd->ids, nd->cap * sizeof(*nd->ids));
            }
            nd->ids[nd->n++] = msgs[i].id;
            snprintf(pid, sizeof(pid), "N-%lld", (long long)msgs[i].id);
            memcpy(pids[i], pid, sizeof(pid));
            r[i] = (struct tl_outbox_result){msgs[i].id, TL_OUTBOX_SENT, pids[i], NULL, 0};
        }
        store_outbox_msgs_free(msgs, n);
        t0 = mono_ms();
        if (nd->results)
            nd->rc = store_outbox_results(nd->st, nd->channel, r, n, NOW);
        nd->result_ms += mono_ms() - t0;
        free(r);
        free(pids);
        if (nd->rc != TL_OK)
            break;
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Queues n replies on channel in one transaction. */
static void queue_many(const char *channel, int n)
{
    char sql[300];

    snprintf(sql, sizeof(sql),
             "INSERT INTO outbox (channel, phone, text, kind, priority, state, next_attempt_ms,"
             " created_at, updated_at) SELECT '%s', '+92300' || lpad(g::text, 7, '0'), 'm',"
             " 'reply', 1, 'queued', 0, 1, 1 FROM generate_series(1, %d) g",
             channel, n);
    exec_sql(sql);
}

/* Two stores claim one queue at once: disjoint sets, every due row once. */
static void test_two_claimers(void)
{
    enum { ROWS = 3000 };

    if (!fresh("two"))
        return;
    queue_many("sms", ROWS);
    struct node a = {.st = st, .channel = "sms", .batch = 50, .results = false};
    struct node b = {.st = open_store(), .channel = "sms", .batch = 50, .results = false};
    if (b.st == NULL) {
        finish();
        return;
    }
    pthread_t ta, tb;
    pthread_create(&ta, NULL, node_run, &a);
    pthread_create(&tb, NULL, node_run, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    is_int(a.rc, TL_OK, "store A's claims succeed");
    is_int(b.rc, TL_OK, "store B's claims succeed");
    diag("A claimed %zu, B %zu of %d", a.n, b.n, ROWS);
    is_int(a.n + b.n, ROWS, "together they claimed every due row");
    size_t total = a.n + b.n, dup = 0;
    int64_t *all = malloc((total ? total : 1) * sizeof(*all));
    if (a.n)
        memcpy(all, a.ids, a.n * sizeof(*all));
    if (b.n)
        memcpy(all + a.n, b.ids, b.n * sizeof(*all));
    qsort(all, total, sizeof(*all), cmp_i64);
    for (size_t i = 1; i < total; i++)
        dup += all[i] == all[i - 1];
    is_int(dup, 0, "no row was claimed by both");
    is_int(pg_testdb_value(url, "SELECT count(*) FROM outbox WHERE state = 'sending'"
                                " AND attempts = 1"),
           ROWS, "every row sending, once attempted (seen from a new connection)");
    is_int(peek_int("SELECT count(DISTINCT claimed_by) FROM outbox"), (a.n > 0) + (b.n > 0),
           "each marked with its node's name");
    free(all);
    free(a.ids);
    free(b.ids);

    /* A claim in an open transaction holds its rows: the other store skips them, unblocked. */
    queue_many("wait", 30);
    struct tl_outbox_msg *msgs = NULL, *msgs2 = NULL;
    size_t n = 0, n2 = 0;
    is_int(store_tx_begin(st), TL_OK, "A begins");
    is_int(store_outbox_claim(st, "wait", NOW_MS, 10, &msgs, &n), TL_OK, "A claims 10");
    double t0 = mono_ms();
    is_int(store_outbox_claim(b.st, "wait", NOW_MS, 10, &msgs2, &n2), TL_OK,
           "B claims meanwhile");
    double waited = mono_ms() - t0;
    ok(waited < 1000, "B did not wait for A's rows (%.0f ms)", waited);
    is_int(n2, 10, "B got 10 rows");
    if (n == 10 && n2 == 10) {
        is_int(msgs[0].id + 10, msgs2[0].id, "B's are the next 10 in queue order");
        is_int(msgs[9].id + 1, msgs2[0].id, "right after A's");
    }
    store_outbox_msgs_free(msgs, n);
    store_outbox_msgs_free(msgs2, n2);
    is_int(store_tx_commit(st), TL_OK, "A commits");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE channel = 'wait' AND state = 'queued'"), 10,
           "10 left queued");
    store_close(b.st);
    finish();
}

/* A store claims and goes away; after the lease another takes its rows; its late result is void. */
static void test_lease(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;
    char buf[64];

    if (!fresh("lease"))
        return;
    struct tl_store *dead = open_store(), *late = open_store();
    if (dead == NULL || late == NULL) {
        finish();
        return;
    }
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = add("sms", "+923001111111", "in flight", TL_OUT_REPLY, 0);
    is_int(store_outbox_claim(dead, "sms", NOW_MS, 5, &msgs, &n), TL_OK, "a node claims 5");
    is_int(n, 5, "5 in flight on it");
    store_outbox_msgs_free(msgs, n);
    store_close(dead); /* dies mid-send: no results */

    is_int(store_outbox_claim(st, "sms", NOW_MS + LEASE - 1, 10, &msgs, &n), TL_OK,
           "another claims within the lease");
    is_int(n, 0, "the dead node's rows are not taken before the lease ends");
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_next_due(st, "sms"), NOW_MS + LEASE,
           "next_due: when the lease ends, so an idle node wakes for them");
    is_int(store_outbox_claim(st, "sms", NOW_MS + LEASE, 10, &msgs, &n), TL_OK,
           "claim once the lease ended");
    is_int(n, 5, "all 5 taken over");
    if (n == 5) {
        is_int(msgs[0].id, ids[0], "in queue order");
        is_int(msgs[0].attempts, 2, "as a second attempt");
        is_str(msgs[0].text, "in flight", "with their text");
    }
    store_outbox_msgs_free(msgs, n);
    is_str(row_text(ids[0], "lease_until_ms", buf, sizeof(buf)), "1760000120000",
           "with a new lease");
    is_int(store_outbox_claim(late, "sms", NOW_MS + LEASE, 10, &msgs, &n), TL_OK,
           "a third node claims at the same time");
    is_int(n, 0, "and gets none of them (the new lease holds)");
    store_outbox_msgs_free(msgs, n);

    /* A result from a node whose lease passed and whose row is now another's. */
    int64_t x = add("sms", "+923002222222", "x", TL_OUT_REPLY, 0);
    is_int(store_outbox_claim(late, "sms", NOW_MS, 1, &msgs, &n), TL_OK, "slow node claims x");
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_claim(st, "sms", NOW_MS + LEASE, 1, &msgs, &n), TL_OK,
           "after the lease another claims x");
    is_int(n, 1, "x taken over");
    store_outbox_msgs_free(msgs, n);
    struct tl_outbox_result slow = {x, TL_OUTBOX_SENT, "SLOW-1", NULL, 0};
    is_int(store_outbox_results(late, "sms", &slow, 1, NOW + 70), TL_OK,
           "the slow node's result arrives");
    state_is(x, "sending", "…and changes nothing: x is the other node's now");
    is_str(row_text(x, "provider_id", buf, sizeof(buf)), "NULL", "no provider id from it");
    is_str(row_text(x, "attempts", buf, sizeof(buf)), "2", "attempts stay 2");
    struct tl_outbox_result slow_retry = {x, TL_OUTBOX_QUEUED, NULL, "HTTP 503", NOW_MS};
    is_int(store_outbox_results(late, "sms", &slow_retry, 1, NOW + 70), TL_OK,
           "a late retry result");
    state_is(x, "sending", "does not requeue x under the other node's send");
    struct tl_outbox_result mine = {x, TL_OUTBOX_SENT, "FAST-1", NULL, 0};
    is_int(store_outbox_results(st, "sms", &mine, 1, NOW + 71), TL_OK,
           "the claiming node's result");
    state_is(x, "sent", "…decides: sent");
    is_str(row_text(x, "provider_id", buf, sizeof(buf)), "FAST-1", "with its provider id");
    struct tl_outbox_result slow_fail = {x, TL_OUTBOX_FAILED, NULL, "timeout", 0};
    is_int(store_outbox_results(late, "sms", &slow_fail, 1, NOW + 72), TL_OK,
           "another late result from the slow node");
    state_is(x, "sent", "still sent: one state change, not two");
    is_str(row_text(x, "error", buf, sizeof(buf)), "NULL", "no error from it");
    is_int(peek_int("SELECT count(*) FROM provider_ids WHERE outbox_id IN"
                    " (SELECT id FROM outbox WHERE phone = '+923002222222')"),
           1, "only the deciding result's id is in provider_ids");
    struct tl_outbox_dlr d_slow = {"sms", "SLOW-1", 0, TL_OUTBOX_FAILED, "Failed", NULL};
    is_int(store_outbox_dlr(st, &d_slow, NOW + 73), TL_ERR_NOT_FOUND,
           "a report for the slow node's id matches nothing (kept pending)");
    struct tl_outbox_dlr d_fast = {"sms", "FAST-1", 0, TL_OUTBOX_DELIVERED, "Success", NULL};
    is_int(store_outbox_dlr(late, &d_fast, NOW + 74), TL_OK,
           "a report for the deciding id, through any node, matches");
    state_is(x, "delivered", "delivered");

    /* A result after the lease passed but before anyone claimed again still applies. */
    int64_t y = add("sms", "+923003333333", "y", TL_OUT_REPLY, 0);
    is_int(store_outbox_claim(late, "sms", NOW_MS, 1, &msgs, &n), TL_OK, "slow node claims y");
    store_outbox_msgs_free(msgs, n);
    struct tl_outbox_result yr = {y, TL_OUTBOX_SENT, "Y-1", NULL, 0};
    is_int(store_outbox_results(late, "sms", &yr, 1, NOW + 3600), TL_OK, "its result, late");
    state_is(y, "sent", "applies: no one else had taken y");

    int64_t want[TL_OUTBOX_NSTATES] = {0, 5, 1, 1, 0, 0, 0};
    counts_are(want, "after the lease cases");

    /* The lease is the node's (store_set_node); until it is set, PostgreSQL's default. */
    int64_t z = add("sms", "+923004444444", "z", TL_OUT_REPLY, 0);
    store_set_node(late, "test-node-late", 5000);
    is_int(store_outbox_claim(late, "sms", NOW_MS, 1, &msgs, &n), TL_OK,
           "a claim with a 5 s lease");
    is_int(n, 1, "claims z");
    store_outbox_msgs_free(msgs, n);
    is_int(atoll(row_text(z, "lease_until_ms", buf, sizeof(buf))), NOW_MS + 5000,
           "z's lease ends 5 s after the claim");
    struct tl_store *unset = NULL;
    char *cause = NULL;
    is_int(store_open(url, 5000, &unset, &cause), TL_OK, "a store whose lease is not set");
    free(cause);
    int64_t w = add("sms", "+923005555555", "w", TL_OUT_REPLY, 0);
    if (unset != NULL) {
        is_int(store_outbox_claim(unset, "sms", NOW_MS, 1, &msgs, &n), TL_OK, "claims");
        is_int(n == 1 ? msgs[0].id : 0, w, "w");
        store_outbox_msgs_free(msgs, n);
        is_int(atoll(row_text(w, "lease_until_ms", buf, sizeof(buf))),
               NOW_MS + 120000, "with the default lease, 120 s");
        store_close(unset);
    }
    store_close(late);
    finish();
}

/* Recovery at a node's start leaves another live node's rows in flight alone. */
static void test_recover_live(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;

    if (!fresh("live"))
        return;
    struct tl_store *other = open_store();
    if (other == NULL) {
        finish();
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t real_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (int i = 0; i < 3; i++)
        add("sms", "+923001111111", "live", TL_OUT_REPLY, 0);
    is_int(store_outbox_claim(other, "sms", real_ms, 3, &msgs, &n), TL_OK,
           "a live node claims 3 now");
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_recover(st), 0, "a node starting meanwhile recovers none of them");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE state = 'sending'"), 3, "still sending");
    store_close(other);
    finish();
}

/* Claim+result throughput in batches of 100: one store, then two at once. */
static void test_throughput(void)
{
    enum { ROWS = 20000 };

    if (!fresh("speed"))
        return;
    queue_many("one", ROWS);
    queue_many("two", ROWS);
    exec_sql("ANALYZE outbox");
    struct node a = {.st = st, .channel = "one", .batch = 100, .results = true};
    double t0 = mono_ms();
    node_run(&a);
    double one_ms = mono_ms() - t0;
    is_int(a.rc, TL_OK, "one store: claims and results succeed");
    is_int(a.n, ROWS, "one store: every row claimed");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE channel = 'one' AND state = 'sent'"), ROWS,
           "one store: every row sent");
    diag("one store: %.2f ms a claim of 100, %.2f ms its results", a.claim_ms / (ROWS / 100.0),
         a.result_ms / (ROWS / 100.0));
    free(a.ids);

    struct node b1 = {.st = st, .channel = "two", .batch = 100, .results = true};
    struct node b2 = {.st = open_store(), .channel = "two", .batch = 100, .results = true};
    if (b2.st == NULL) {
        finish();
        return;
    }
    pthread_t t1, t2;
    t0 = mono_ms();
    pthread_create(&t1, NULL, node_run, &b1);
    pthread_create(&t2, NULL, node_run, &b2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    double two_ms = mono_ms() - t0;
    is_int(b1.rc + b2.rc, TL_OK, "two stores: claims and results succeed");
    is_int(b1.n + b2.n, ROWS, "two stores: every row claimed once");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE channel = 'two' AND state = 'sent'"
                    " AND provider_id = 'N-' || id"),
           ROWS, "two stores: every row sent with its own result");
    diag("claim+result, batches of 100: one store %.0f rows/s; two stores at once %.0f rows/s"
         " (%zu + %zu; x%.2f) on this machine",
         ROWS / (one_ms / 1000.0), ROWS / (two_ms / 1000.0), b1.n, b2.n, one_ms / two_ms);
    free(b1.ids);
    free(b2.ids);
    store_close(b2.st);
    finish();
}

int main(void)
{
    if (pg_testdb("pgob_probe") == NULL) {
        printf("1..0 # SKIP no PostgreSQL (make test-pg)\n");
        return 0;
    }
    test_claim_order();
    test_results_retry();
    test_expiry_recover();
    test_dlr();
    test_dlr_before_result();
    test_provider_ids();
    test_cancel_and_tx();
    test_wave_texts();
    test_prune_pass(1);
    test_prune_pass(4);
    test_prune_pass(1000);
    test_prune_empty();
    test_recover_lease();
    test_two_claimers();
    test_lease();
    test_recover_live();
    test_throughput();
    return done_testing();
}
