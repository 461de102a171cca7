/*
 * test_store_prune.c — bounded growth (store_prune_* in gateway/store.h): which
 * outbox rows, provider ids, inbound messages and rate windows a pass
 * deletes and which it keeps, that an alert's counts are the same after
 * as before (folded into outbox_tallies), that small steps with cursors
 * give the same result as one big one, that a second pass changes
 * nothing, the due check and its marks, and that start-up recovery reads
 * the index of rows in flight. The set-up is prune_cases.h's, which the
 * PostgreSQL backend's test shares. Rows are written and read back with a
 * second SQLite connection. Works in its own mkdtemp directory.
 */
#include "common/result.h"
#include "gateway/store/store.h"
#include "tests/tap.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1760000000LL /* unix seconds */

static char dir[256];
static char path[512];
static struct tl_store *st;
static sqlite3 *raw; /* a second connection, for setting up and reading back */

static void exec_sql(const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(raw, sql, NULL, NULL, &err) != SQLITE_OK) {
        ok(0, "sql '%.60s…': %s", sql, err ? err : "?");
        sqlite3_free(err);
    }
}

static long long peek_int(const char *sql)
{
    sqlite3_stmt *s = NULL;
    long long v = -1;

    if (sqlite3_prepare_v2(raw, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    else
        diag("query '%s': %s", sql, sqlite3_errmsg(raw));
    sqlite3_finalize(s);
    return v;
}

static bool fresh(const char *name)
{
    char *cause = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (store_open(path, 1000, &st, &cause) != TL_OK) {
        ok(0, "store_open %s: %s", path, cause ? cause : "");
        free(cause);
        return false;
    }
    if (sqlite3_open_v2(path, &raw, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        ok(0, "raw open");
        return false;
    }
    sqlite3_busy_timeout(raw, 1000);
    return true;
}

static void finish(void)
{
    char p[600];

    sqlite3_close(raw);
    raw = NULL;
    store_close(st);
    st = NULL;
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static void result_provider_id(const char *pid, int outbox_id)
{
    char sql[200];

    snprintf(sql, sizeof(sql),
             "INSERT INTO provider_ids_staged (channel, provider_id, outbox_id)"
             " VALUES ('at', '%s', %d)",
             pid, outbox_id);
    exec_sql(sql);
}

#include "tests/unit/prune_cases.h"

static void test_pass(size_t step)
{
    char name[64];
    int64_t before[5][TL_OUTBOX_NSTATES], deleted[TL_PRUNE_NTABLES];
    size_t steps;

    snprintf(name, sizeof(name), "prune-%zu.db", step);
    if (!fresh(name))
        return;
    if (!case_prune_first_pass(step, before, deleted)) {
        finish();
        return;
    }
    is_int(deleted[TL_PRUNE_PROVIDER_IDS], 10,
           "step %zu: 10 provider ids deleted (9 of rows gone, 1 of an earlier attempt)", step);
    {
        sqlite3_stmt *s = NULL;
        const char *want = "10,11,17,18,19,20,21,22,23,26";
        char got[200] = "";
        if (sqlite3_prepare_v2(raw, "SELECT group_concat(id) FROM (SELECT id FROM outbox ORDER BY id)",
                               -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
            snprintf(got, sizeof(got), "%s", (const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        is_str(got, want, "step %zu: outbox rows kept: queued, sending, changed lately, active"
                          " case, case ended lately, new reply", step);
    }
    is_int(peek_int("SELECT count(*) FROM provider_ids_staged"), 1,
           "step %zu: the staged id of a deleted row waits for the move", step);
    case_prune_counts_after(step, before);

    /* Once moved, the staged id goes with the second pass, which finds nothing else. */
    long long tallied = peek_int("SELECT sum(n) FROM outbox_tallies");
    int64_t moved = 0;
    struct tl_prune_cursor all = {.key = "\xff", .key2 = "", .id = 0};
    is_int(store_provider_ids_move_range(st, NULL, &all, &moved), TL_OK, "step %zu: move", step);
    is_int(moved, 1, "step %zu: the staged id moved", step);
    if (pass(step, deleted, &steps)) {
        is_int(deleted[TL_PRUNE_PROVIDER_IDS], 1, "step %zu: the second pass deletes it", step);
        is_int(deleted[TL_PRUNE_OUTBOX] + deleted[TL_PRUNE_INBOUND] +
                   deleted[TL_PRUNE_RATE_WINDOWS],
               0, "step %zu: and nothing else", step);
    }
    is_int(peek_int("SELECT count(*) FROM provider_ids"), 3, "step %zu: 3 provider ids left", step);
    is_int(peek_int("SELECT sum(n) FROM outbox_tallies"), tallied,
           "step %zu: …and leaves the tallies (%lld)", step, tallied);
    case_prune_marks(step);
    finish();
}

/* An empty store: every pass ends at once. */
static void test_empty(void)
{
    int64_t deleted[TL_PRUNE_NTABLES];
    size_t steps;

    if (!fresh("empty.db"))
        return;
    if (pass(100, deleted, &steps))
        is_int((long long)steps, 0, "empty store: no step has work");
    is_int(store_prune_due(st, NOW), 0, "empty store: nothing due");
    finish();
}

/* Recovery reads the partial index of rows in flight, not the outbox. */
static void test_recover_index(void)
{
    sqlite3_stmt *s = NULL;
    char plan[200] = "";

    if (!fresh("recover.db"))
        return;
    rows(1, 3, "NULL", "NULL", "reply", "sending", NOW, false);
    rows(4, 5, "NULL", "NULL", "reply", "sent", NOW, false);
    if (sqlite3_prepare_v2(raw,
                           "EXPLAIN QUERY PLAN UPDATE outbox INDEXED BY outbox_sending"
                           " SET state = 'queued' WHERE state = 'sending'",
                           -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        snprintf(plan, sizeof(plan), "%s", (const char *)sqlite3_column_text(s, 3));
    sqlite3_finalize(s);
    is_str(plan, "SCAN outbox USING INDEX outbox_sending", "recovery's plan reads outbox_sending");
    is_int(store_outbox_recover(st), 3, "recovery requeues the 3 rows in flight");
    is_int(peek_int("SELECT count(*) FROM outbox WHERE state = 'queued'"), 3, "…which are queued");
    is_int(peek_int("SELECT count(*) FROM outbox INDEXED BY outbox_sending WHERE state = 'sending'"), 0,
           "…and left the index");
    finish();
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(dir, sizeof(dir), "%s/talaash-test-prune.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp %s", dir);
        return done_testing();
    }
    test_pass(1);
    test_pass(4);
    test_pass(1000);
    test_empty();
    test_recover_index();
    rmdir(dir);
    ok(access(dir, F_OK) != 0, "temporary directory removed");
    return done_testing();
}
