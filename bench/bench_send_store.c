/*
 * bench_send_store.c — the store baselines of `make bench-send` (driven by
 * bench/bench_send.py): how fast SQLite alone can move a seeded outbox's
 * rows to 'sent', with no HTTP, curl or provider at all. Owns nothing else.
 *
 *   bench_send_store --db FILE --channel NAME --batch N --mode raw|gateway
 *                    [--seconds S] [--ids random|sequential]
 *
 * raw:     SQLite's floor. The queued ids are read once; then per batch of
 *          N ids one transaction of "UPDATE outbox SET state='sent',
 *          provider_id=?, updated_at=? WHERE id=?", one statement per row.
 * gateway: the sender's own store calls, as it makes them for each request:
 *          store_outbox_claim(N) (one transaction: the expiry UPDATE, then the
 *          claim UPDATE … RETURNING), then store_outbox_results() marking the
 *          N rows sent (a second transaction). Same code, same SQL, same
 *          pragmas as the daemon (store_open), so the gap between this and the
 *          daemon is HTTP + curl + the provider.
 * Provider ids are 16 hex digits of a mixed row id, random in order as the
 * mock's ids are; --ids sequential (raw mode) uses ascending ids instead.
 * That pair showed what random inserts into an index on provider_id cost
 * while the outbox had one; the outbox has none now (the ids are staged and
 * moved into provider_ids in bulk, see gateway/store_schema.c), so the raw
 * rates are the same in both orders, and the staging is part of what the
 * gateway mode measures.
 * Stops when no queued row is left or after S seconds (default 20), and
 * prints one line: "bench_send_store: mode=… ids=… rows=… batches=… seconds=…
 * rows_per_s=… batches_per_s=… done=0|1". Exit 1 on a store error.
 */
#include "gateway/clock.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
    const char *db;
    const char *channel;
    long batch;
    const char *mode;
    double seconds;
    bool sequential;
};

/* The mock's kind of message id: unique, in no particular order. */
static void provider_id(char *out, size_t size, int64_t id)
{
    uint64_t x = (uint64_t)id + 0x9E3779B97F4A7C15ull;

    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    snprintf(out, size, "%016" PRIx64, x);
}

static void usage(void)
{
    fputs("usage: bench_send_store --db FILE --channel NAME --batch N --mode raw|gateway "
          "[--seconds S] [--ids random|sequential]\n",
          stderr);
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;

    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seconds = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--db") == 0) {
            o->db = v;
        } else if (strcmp(k, "--channel") == 0) {
            o->channel = v;
        } else if (strcmp(k, "--batch") == 0) {
            if (!parse_long(v, 1, 100000, &o->batch))
                return false;
        } else if (strcmp(k, "--mode") == 0) {
            o->mode = v;
        } else if (strcmp(k, "--ids") == 0) {
            if (strcmp(v, "sequential") != 0 && strcmp(v, "random") != 0)
                return false;
            o->sequential = strcmp(v, "sequential") == 0;
        } else if (strcmp(k, "--seconds") == 0) {
            long s;
            if (!parse_long(v, 1, 3600, &s))
                return false;
            o->seconds = (double)s;
        } else {
            return false;
        }
    }
    return argc % 2 == 1 && o->db && o->channel && o->batch > 0 && o->mode &&
           (strcmp(o->mode, "raw") == 0 ||
            (strcmp(o->mode, "gateway") == 0 && !o->sequential));
}

static void report(const struct opts *o, int64_t rows, int64_t batches, double ms, bool done)
{
    double s = ms / 1000.0;

    printf("bench_send_store: mode=%s ids=%s rows=%" PRId64 " batches=%" PRId64
           " seconds=%.3f rows_per_s=%.0f batches_per_s=%.1f done=%d\n",
           o->mode, o->sequential ? "sequential" : "random", rows, batches, s, s > 0 ? (double)rows / s : 0.0,
           s > 0 ? (double)batches / s : 0.0, done ? 1 : 0);
}

/* SQLite's floor: one UPDATE per row by primary key, N rows per transaction. */
static int run_raw(const struct opts *o)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int64_t *ids = NULL;
    size_t nids = 0, cap = 0;
    int64_t rows = 0, batches = 0;
    bool done = false;
    int rc = 1;

    if (sqlite3_open_v2(o->db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT id FROM outbox WHERE channel = ?1 AND state = 'queued'"
                           " ORDER BY id",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "UPDATE outbox SET state = 'sent', provider_id = ?2,"
                           " updated_at = ?3 WHERE id = ?1",
                           -1, &upd, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_send_store: %s: %s\n", o->db, db ? sqlite3_errmsg(db) : "open");
        goto out;
    }
    sqlite3_bind_text(sel, 1, o->channel, -1, SQLITE_STATIC);
    while (sqlite3_step(sel) == SQLITE_ROW) {
        if (nids == cap) {
            cap = cap ? cap * 2 : 4096;
            ids = xrealloc(ids, cap * sizeof(*ids));
        }
        ids[nids++] = sqlite3_column_int64(sel, 0);
    }
    sqlite3_finalize(sel);
    sel = NULL;

    double t0 = clock_mono_ms(), limit = o->seconds * 1000.0;
    size_t at = 0;
    char pid[32];
    while (at < nids && clock_mono_ms() - t0 < limit) {
        size_t end = at + (size_t)o->batch < nids ? at + (size_t)o->batch : nids;
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            goto fail;
        int64_t now = clock_now();
        for (size_t i = at; i < end; i++) {
            if (o->sequential)
                snprintf(pid, sizeof(pid), "%016" PRIx64, (uint64_t)ids[i]);
            else
                provider_id(pid, sizeof(pid), ids[i]);
            sqlite3_bind_int64(upd, 1, ids[i]);
            sqlite3_bind_text(upd, 2, pid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(upd, 3, now);
            if (sqlite3_step(upd) != SQLITE_DONE)
                goto fail;
            sqlite3_reset(upd);
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            goto fail;
        rows += (int64_t)(end - at);
        batches++;
        at = end;
    }
    done = at == nids;
    report(o, rows, batches, clock_mono_ms() - t0, done);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "bench_send_store: %s\n", sqlite3_errmsg(db));
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    sqlite3_close(db);
    free(ids);
    return rc;
}

/* The sender's store calls: claim N, then record N results, until the queue is empty. */
static int run_gateway(const struct opts *o)
{
    struct tl_store *st = NULL;
    char *cause = NULL;
    int64_t rows = 0, batches = 0;
    bool done = false;
    size_t batch = (size_t)o->batch;
    struct tl_outbox_result *results = xcalloc(batch, sizeof(*results));
    char(*pids)[32] = xcalloc(batch, sizeof(*pids));
    int rc = 1;

    if (store_open(o->db, 5000, &st, &cause) != TL_OK) {
        fprintf(stderr, "bench_send_store: %s\n", cause ? cause : o->db);
        free(cause);
        goto out;
    }
    double t0 = clock_mono_ms(), limit = o->seconds * 1000.0;
    while (clock_mono_ms() - t0 < limit) {
        struct tl_outbox_msg *msgs = NULL;
        size_t n = 0;
        if (store_outbox_claim(st, o->channel, clock_now_ms(), batch, &msgs, &n) != TL_OK) {
            fprintf(stderr, "bench_send_store: claim: %s\n", store_errmsg(st));
            store_outbox_msgs_free(msgs, n);
            goto out;
        }
        if (n == 0) {
            free(msgs);
            done = true;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            provider_id(pids[i], sizeof(pids[i]), msgs[i].id);
            results[i] = (struct tl_outbox_result){
                .id = msgs[i].id, .state = TL_OUTBOX_SENT, .provider_id = pids[i]};
        }
        int r = store_outbox_results(st, o->channel, results, n, clock_now());
        store_outbox_msgs_free(msgs, n);
        if (r != TL_OK) {
            fprintf(stderr, "bench_send_store: results: %s\n", store_errmsg(st));
            goto out;
        }
        rows += (int64_t)n;
        batches++;
    }
    report(o, rows, batches, clock_mono_ms() - t0, done);
    rc = 0;
out:
    store_close(st);
    free(results);
    free(pids);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;

    if (!parse_opts(argc, argv, &o)) {
        usage();
        return 2;
    }
    return strcmp(o.mode, "raw") == 0 ? run_raw(&o) : run_gateway(&o);
}
