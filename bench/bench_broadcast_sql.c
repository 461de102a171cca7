/*
 * bench_broadcast_sql.c — the baselines of `make bench-broadcast`, run on a
 * copy of the benchmark's store (its N subscribers, taken before the daemon
 * made the case). Owns nothing but that copy:
 *
 *   bench_broadcast_sql DB N SCOPE_JSON TEXT_EN TEXT_UR TEXT_ROMAN_UR
 *
 * prints, each timed from its first statement to its commit returning
 * (WAL, synchronous=NORMAL, foreign_keys=ON, as the daemon opens the store;
 * no checkpoint inside the commit, as in the daemon, whose store checkpoints
 * on a thread of its own — the raw connections turn SQLite's automatic
 * checkpoint off for that):
 *   - store_alert_wave() alone through the store API: the wave the daemon
 *     made, on the same data, with no HTTP, parsing or daemon around it;
 *   - a C loop of one prepared INSERT of N outbox-like rows in one
 *     transaction into a scratch table without indexes (SQLite's raw rate);
 *   - INSERT … SELECT of N outbox-like rows from subscribers into such a
 *     table, then into one with the outbox's four indexes.
 */
#include "gateway/store/store.h"
#include "common/result.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OUTBOX_COLUMNS                                                                    \
    "(id INTEGER PRIMARY KEY, channel TEXT NOT NULL, phone TEXT NOT NULL,"                \
    " text TEXT NOT NULL, kind TEXT NOT NULL, priority INTEGER NOT NULL,"                 \
    " state TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,"         \
    " next_attempt_ms INTEGER NOT NULL, expires_at INTEGER, provider_id TEXT,"            \
    " dlr_status TEXT, error TEXT, case_id INTEGER, alert_id INTEGER, inbound_id INTEGER," \
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "bench_broadcast_sql: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(db, sql);
}

static sqlite3 *open_raw(const char *path)
{
    sqlite3 *db = NULL;

    if (sqlite3_open(path, &db) != SQLITE_OK)
        die(db, "open");
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=NORMAL");
    exec(db, "PRAGMA foreign_keys=ON");
    exec(db, "PRAGMA wal_autocheckpoint=0");
    return db;
}

static void report(const char *what, double s, int64_t rows)
{
    printf("  %-58s: %8.3f s  %10.0f rows/s  (%lld rows)\n", what, s,
           s > 0 ? (double)rows / s : 0.0, (long long)rows);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr,
                "usage: bench_broadcast_sql DB N SCOPE_JSON TEXT_EN TEXT_UR TEXT_ROMAN_UR\n");
        return 2;
    }
    const char *path = argv[1];
    char *end = NULL;
    long long n = strtoll(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || n <= 0) {
        fprintf(stderr, "bench_broadcast_sql: N must be a positive integer\n");
        return 2;
    }
    int64_t now = (int64_t)time(NULL);
    sqlite3 *db = open_raw(path);
    sqlite3_stmt *s;
    double t0;
    char sql[1024];

    /* The case and the police registration the daemon had, so the wave has the same rows. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO cases (case_no, state, area_code, created_at, updated_at)"
             " VALUES ('BENCH-1', 'active', 'PK-SD-KHI-KOR', %lld, %lld);"
             "INSERT OR IGNORE INTO police (phone, area_code, created_at)"
             " VALUES ('+923009990001', 'PK-SD-KHI', %lld)",
             (long long)now, (long long)now, (long long)now);
    exec(db, sql);
    int64_t case_id = sqlite3_last_insert_rowid(db);
    sqlite3_close(db);

    /* 1. the daemon's own function */
    struct tl_store *st = NULL;
    char *cause = NULL;
    if (store_open(path, 5000, &st, &cause) != TL_OK) {
        fprintf(stderr, "bench_broadcast_sql: store_open: %s\n", cause ? cause : "?");
        return 1;
    }
    struct tl_alert_wave w = {
        .case_id = case_id,
        .kind = "alert",
        .radius_km = 40,
        .area_codes_json = argv[3],
        .channel = "alerts",
        .text_en = argv[4],
        .text_ur = argv[5],
        .text_roman_ur = argv[6],
        .expires_at = now + 6 * 3600,
    };
    int64_t alert_id = 0, recipients = 0;
    t0 = now_s();
    if (store_alert_wave(st, &w, now, &alert_id, &recipients, NULL) != TL_OK) {
        fprintf(stderr, "bench_broadcast_sql: store_alert_wave: %s\n", store_errmsg(st));
        return 1;
    }
    report("baseline: store_alert_wave alone (no daemon, no HTTP)", now_s() - t0, recipients);
    store_close(st);

    db = open_raw(path);
    /* 2. a prepared INSERT in a C loop, one transaction */
    exec(db, "CREATE TABLE bench_loop " OUTBOX_COLUMNS);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO bench_loop (channel, phone, text, kind, priority, state,"
                           " next_attempt_ms, expires_at, case_id, alert_id, created_at,"
                           " updated_at) VALUES ('alerts', ?1, ?2, 'alert', 2, 'queued', 0, ?3,"
                           " ?4, ?5, ?6, ?6)",
                           -1, &s, NULL) != SQLITE_OK)
        die(db, "prepare");
    t0 = now_s();
    exec(db, "BEGIN IMMEDIATE");
    for (long long i = 0; i < n; i++) {
        char phone[24];
        int len = snprintf(phone, sizeof(phone), "+9231%08lld", i);
        const char *text = argv[4 + (int)(i % 3)];
        sqlite3_bind_text(s, 1, phone, len, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now + 6 * 3600);
        sqlite3_bind_int64(s, 4, case_id);
        sqlite3_bind_int64(s, 5, alert_id);
        sqlite3_bind_int64(s, 6, now);
        if (sqlite3_step(s) != SQLITE_DONE)
            die(db, "insert");
        sqlite3_reset(s);
    }
    exec(db, "COMMIT");
    report("baseline: C loop, prepared INSERT, 1 tx, no index", now_s() - t0, n);
    sqlite3_finalize(s);

    /* 3. set-based, as the wave does it, without and with the outbox's indexes */
    static const char select_rows[] =
        " (channel, phone, text, kind, priority, state, next_attempt_ms, expires_at, case_id,"
        " alert_id, created_at, updated_at)"
        " SELECT 'alerts', phone, CASE lang WHEN 'ur' THEN ?1 WHEN 'roman-ur' THEN ?2 ELSE ?3"
        " END, 'alert', 2, 'queued', 0, ?4, ?5, ?6, ?7, ?7 FROM subscribers LIMIT ?8";
    static const char *const tables[] = {"bench_select", "bench_indexed"};
    exec(db, "CREATE TABLE bench_select " OUTBOX_COLUMNS);
    exec(db, "CREATE TABLE bench_indexed " OUTBOX_COLUMNS);
    exec(db, "CREATE INDEX bench_due ON bench_indexed(channel, priority, next_attempt_ms, id)"
             " WHERE state = 'queued';"
             "CREATE INDEX bench_by_provider_id ON bench_indexed(channel, provider_id)"
             " WHERE provider_id IS NOT NULL;"
             "CREATE INDEX bench_by_case ON bench_indexed(case_id, state);"
             "CREATE INDEX bench_queued_by_phone ON bench_indexed(phone) WHERE state = 'queued'");
    for (size_t k = 0; k < 2; k++) {
        snprintf(sql, sizeof(sql), "INSERT INTO %s%s", tables[k], select_rows);
        if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
            die(db, "prepare");
        sqlite3_bind_text(s, 1, argv[5], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, argv[6], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, argv[4], -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, now + 6 * 3600);
        sqlite3_bind_int64(s, 5, case_id);
        sqlite3_bind_int64(s, 6, alert_id);
        sqlite3_bind_int64(s, 7, now);
        sqlite3_bind_int64(s, 8, n);
        t0 = now_s();
        exec(db, "BEGIN IMMEDIATE");
        if (sqlite3_step(s) != SQLITE_DONE)
            die(db, "insert select");
        int64_t rows = sqlite3_changes(db);
        exec(db, "COMMIT");
        report(k == 0 ? "baseline: INSERT ... SELECT, no index"
                      : "baseline: INSERT ... SELECT, the outbox's 4 indexes",
               now_s() - t0, rows);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return 0;
}
