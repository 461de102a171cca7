/*
 * test_outbox.c — the durable send queue (store_outbox_* in gateway/store/store.h)
 * on SQLite: the cases every backend shares (outbox_cases.h: priority order
 * and limits of claims, send results and retries, expiry, crash recovery,
 * delivery reports by provider id, by our id, unknown statuses, reports
 * that arrive before the send result, STOP cancelling, per-state counts,
 * the next due time, a wave's texts), and SQLite's own staging of provider
 * ids. Row states are read back with a second SQLite connection. Works in
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
    rmdir(dir);
    ok(access(dir, F_OK) != 0, "temporary directory removed");
    return done_testing();
}
