/*
 * test_outbox.c — the durable send queue (store_outbox_* in gateway/store/store.h)
 * on SQLite: the cases every backend shares (outbox_cases.h: priority order
 * and limits of claims, send results and retries, expiry, crash recovery,
 * delivery reports by provider id, by our id, unknown statuses, reports
 * that arrive before the send result, STOP cancelling, per-state counts,
 * the next due time, a wave's texts), SQLite's own staging of provider
 * ids, and the alert pool of several channels. Row states are read back with a second SQLite connection. Works in
 * its own mkdtemp directory.
 */
#include "common/result.h"
#include "gateway/store/store.h"
#include "tests/tap.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define NOW 1760000000LL /* unix seconds */
#define NOW_MS (NOW * 1000)

static char dir[256];
static char path[512];
static struct tl_store *st;
static sqlite3 *peek; /* a second connection: set-up and read-back */

static const char *row_text(int64_t id, const char *column, char *out, size_t outsz)
{
    char sql[160];
    sqlite3_stmt *s = NULL;

    snprintf(sql, sizeof(sql), "SELECT coalesce(%s, 'NULL') FROM outbox WHERE id = %lld", column,
             (long long)id);
    snprintf(out, outsz, "(no row)");
    if (sqlite3_prepare_v2(peek, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
}

static long long peek_int(const char *sql)
{
    sqlite3_stmt *s = NULL;
    long long v = -1;

    if (sqlite3_prepare_v2(peek, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    else
        diag("query '%s': %s", sql, sqlite3_errmsg(peek));
    sqlite3_finalize(s);
    return v;
}

/* Opens a fresh store (and the peeking connection) for one group of tests. */
static bool fresh(const char *name)
{
    char *cause = NULL;

    snprintf(path, sizeof(path), "%s/%s.db", dir, name);
    if (store_open(path, 1000, &st, &cause) != TL_OK) {
        ok(0, "store_open %s: %s", path, cause ? cause : "");
        free(cause);
        return false;
    }
    if (sqlite3_open_v2(path, &peek, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        ok(0, "peek open");
        return false;
    }
    sqlite3_busy_timeout(peek, 1000);
    return true;
}

static void finish(void)
{
    char p[600];

    sqlite3_close(peek);
    peek = NULL;
    store_close(st);
    st = NULL;
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

/* Set-up SQL on the second connection. */
static void exec_sql(const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(peek, sql, NULL, NULL, &err) != SQLITE_OK) {
        ok(0, "sql '%.60s…': %s", sql, err ? err : "?");
        sqlite3_free(err);
    }
}

static void opt_out(const char *phone)
{
    is_int(store_subscriber_set_opted_out(st, phone, true, NOW + 1), TL_OK, "STOP opts %s out",
           phone);
}

#define OUTBOX_LEASE_MS 0 /* one node: no lease */
#include "tests/unit/outbox_cases.h"

/* Provider ids wait in provider_ids_staged until moved; a report never misses a staged one. */
static void test_provider_ids_staged(void)
{
    if (!fresh("staged"))
        return;
    int64_t m1 = sent_msg("sms", "+923001111111", "S-1");
    is_int(peek_int("SELECT count(*) FROM provider_ids_staged"), 1, "a send result stages its id");
    is_int(peek_int("SELECT count(*) FROM provider_ids"), 0, "and does not index it yet");
    struct tl_outbox_dlr d = {"sms", "S-1", 0, TL_OUTBOX_DELIVERED, "Success", NULL};
    is_int(store_outbox_dlr(st, &d, NOW + 1), TL_OK, "a report for a staged id matches");
    state_is(m1, "delivered", "and applies");
    is_int(peek_int("SELECT count(*) FROM provider_ids_staged"), 0, "the miss moved the staged ids");
    is_int(peek_int("SELECT count(*) FROM provider_ids WHERE provider_id = 'S-1'"), 1,
           "into provider_ids");

    case_retried_ids();

    /* Many results: the staged ids are moved in bulk as they pile up. */
    enum { MANY = 20500 };
    int64_t last = case_bulk_sent(MANY);
    is_int(store_provider_ids_staged(st), MANY, "staged: a send result does not move them");
    struct tl_prune_cursor *bounds = NULL;
    size_t nb = 0;
    is_int(store_provider_ids_plan(st, 2000, &bounds, &nb), TL_OK, "a move planned");
    is_int(nb, 11, "in slices of about 2,000: 11");
    int64_t moved_all = 0, smallest = MANY, largest = 0;
    for (size_t i = 0; i < nb; i++) {
        int64_t moved = -1;
        is_int(store_provider_ids_move_range(st, i ? &bounds[i - 1] : NULL, &bounds[i], &moved),
               TL_OK, "slice %zu moved", i);
        moved_all += moved;
        smallest = moved < smallest ? moved : smallest;
        largest = moved > largest ? moved : largest;
    }
    for (size_t i = 0; i < nb; i++)
        store_prune_cursor_clear(&bounds[i]);
    diag("slices of %lld to %lld ids", (long long)smallest, (long long)largest);
    ok(smallest >= 1000 && largest <= 4000, "each slice about 2,000 ids (%lld-%lld)",
       (long long)smallest, (long long)largest);
    free(bounds);
    is_int(moved_all, MANY, "every staged id moved");
    is_int(peek_int("SELECT count(*) FROM provider_ids_staged"), 0, "none left staged");
    case_bulk_reported(MANY, last);
    finish();
}

/* The alert pool ([alerts] channels): claims merged with a channel's own queue, the
 * claimer's channel on the row, the pool's share bounded, retries and recovery back. */
static void test_pool(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;
    char buf[32];
    const char *P = TL_OUTBOX_POOL;

    if (!fresh("pool.db"))
        return;
    int64_t pa1 = add(P, "+923001000001", "pool alert 1", TL_OUT_ALERT, 0);
    int64_t pa2 = add(P, "+923001000002", "pool alert 2", TL_OUT_ALERT, 0);
    int64_t pp = add(P, "+923001000003", "pool police notice", TL_OUT_POLICE, 0);
    int64_t own = add("a1", "+923001000004", "a1's own reply", TL_OUT_REPLY, 0);
    int64_t pa3 = add(P, "+923001000005", "pool alert 3", TL_OUT_ALERT, 0);
    int64_t pa4 = add(P, "+923001000006", "pool alert 4", TL_OUT_ALERT, 0);
    int64_t exp = add(P, "+923001000007", "pool alert expired", TL_OUT_ALERT, NOW - 1);
    is_str(row_text(pa1, "pool", buf, sizeof(buf)), P, "a row queued to the pool keeps the pool");
    is_str(row_text(own, "pool", buf, sizeof(buf)), "NULL", "a channel's own row has no pool");
    is_int(store_outbox_next_due(st, P), 0, "the pool's rows are due at once (0)");

    /* Without the pool a channel sees only its own queue. */
    is_int(store_outbox_claim_pool(st, "a2", NULL, 10, NOW_MS, 10, &msgs, &n), TL_OK,
           "a2 claims without the pool");
    is_int(n, 0, "nothing of its own");
    store_outbox_msgs_free(msgs, n);

    /* a1 with the pool: the merge in queue order, police (0) < reply (1) < alerts (2). */
    is_int(store_outbox_claim_pool(st, "a1", P, 10, NOW_MS, 3, &msgs, &n), TL_OK,
           "a1 claims 3 with the pool");
    is_int(n, 3, "three claimed");
    is_int(n > 0 ? msgs[0].id : 0, pp, "the pool's police notice first");
    is_int(n > 1 ? msgs[1].id : 0, own, "then a1's own reply");
    is_int(n > 2 ? msgs[2].id : 0, pa1, "then the pool's oldest alert");
    store_outbox_msgs_free(msgs, n);
    is_str(row_text(pp, "channel", buf, sizeof(buf)), "a1", "a claimed pool row becomes a1's");
    is_str(row_text(pa1, "channel", buf, sizeof(buf)), "a1", "so does the alert");
    is_str(row_text(pa1, "pool", buf, sizeof(buf)), P, "and keeps its pool");
    state_is(pa1, "sending", "claimed: sending");
    state_is(pa2, "queued", "the next alert is still in the pool");

    /* pool_max bounds the pool's part (a probe after failures: one batch). */
    is_int(store_outbox_claim_pool(st, "a2", P, 1, NOW_MS, 10, &msgs, &n), TL_OK,
           "a2 claims with pool_max 1");
    is_int(n, 1, "one from the pool");
    is_int(n > 0 ? msgs[0].id : 0, pa2, "the oldest due");
    store_outbox_msgs_free(msgs, n);
    is_str(row_text(pa2, "channel", buf, sizeof(buf)), "a2", "now a2's");
    is_int(store_outbox_claim_pool(st, "a2", P, 0, NOW_MS, 10, &msgs, &n), TL_OK,
           "a2 claims with pool_max 0 (its pool claims stopped)");
    is_int(n, 0, "nothing");
    store_outbox_msgs_free(msgs, n);

    /* A retry puts a pool row back in the pool; a sent or failed one stays the claimer's. */
    struct tl_outbox_result rs[] = {
        {pa1, TL_OUTBOX_QUEUED, NULL, "HTTP 500", NOW_MS + 5000},
        {pa2, TL_OUTBOX_SENT, "ATX-2", NULL, 0},
    };
    is_int(store_outbox_results(st, "a1", rs, 1, NOW), TL_OK, "a1's result: retry");
    is_int(store_outbox_results(st, "a2", rs + 1, 1, NOW), TL_OK, "a2's result: sent");
    is_str(row_text(pa1, "channel", buf, sizeof(buf)), P, "the retried row is back in the pool");
    state_is(pa1, "queued", "queued");
    is_int(store_outbox_next_due(st, P), 0, "other pool rows are still due at once");
    is_str(row_text(pa2, "channel", buf, sizeof(buf)), "a2", "the sent row stays a2's");
    struct tl_outbox_result own_retry = {own, TL_OUTBOX_QUEUED, NULL, "HTTP 500", NOW_MS + 5000};
    is_int(store_outbox_results(st, "a1", &own_retry, 1, NOW), TL_OK, "a1's own reply: retry");
    is_str(row_text(own, "channel", buf, sizeof(buf)), "a1", "a channel's own row stays its own");

    /* a3 takes the rest; the expired one is expired, not sent; pa1 is not due yet. */
    is_int(store_outbox_claim_pool(st, "a3", P, 10, NOW_MS, 10, &msgs, &n), TL_OK,
           "a3 claims with the pool");
    is_int(n, 2, "the two due alerts");
    is_int(n > 0 ? msgs[0].id : 0, pa3, "pool alert 3");
    is_int(n > 1 ? msgs[1].id : 0, pa4, "pool alert 4");
    store_outbox_msgs_free(msgs, n);
    state_is(exp, "expired", "the expired pool row is expired by the claim");
    is_str(row_text(exp, "channel", buf, sizeof(buf)), P, "and stays in the pool (no channel sent it)");
    is_int(store_outbox_next_due(st, P), NOW_MS + 5000, "the pool's next due is the retry");
    is_int(store_outbox_claim_pool(st, "a3", P, 10, NOW_MS + 5000, 10, &msgs, &n), TL_OK,
           "a3 claims when the retry is due");
    is_int(n, 1, "the retried row");
    is_int(n > 0 ? msgs[0].id : 0, pa1, "pool alert 1, on a3 now");
    is_int(n > 0 ? msgs[0].attempts : 0, 2, "its second attempt");
    store_outbox_msgs_free(msgs, n);

    /* A crash: rows left sending go back to the pool (and a channel's own to the channel). */
    is_int(store_outbox_claim_pool(st, "a1", P, 10, NOW_MS + 5000, 10, &msgs, &n), TL_OK,
           "a1 claims its own retried reply");
    is_int(n, 1, "one");
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_recover(st), 5, "recover requeues the 5 rows sending (pp, pa1, pa3, pa4, own)");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE state = 'queued' AND channel = '*alerts'"), 4,
           "the four pool rows are back in the pool");
    is_str(row_text(own, "channel", buf, sizeof(buf)), "a1", "the reply is back on a1");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE channel = 'a3'"), 0, "none left on a3");
    finish();
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/talaash-test-outbox.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp %s", dir);
        return done_testing();
    }
    test_claim_order();
    test_results_retry();
    test_expiry_recover();
    test_dlr();
    test_dlr_before_result();
    test_provider_ids_staged();
    test_cancel_and_tx();
    test_wave_texts();
    test_pool();
    rmdir(dir);
    ok(access(dir, F_OK) != 0, "temporary directory removed");
    return done_testing();
}
