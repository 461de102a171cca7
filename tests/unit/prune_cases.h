/*
 * prune_cases.h — the set-up of the pruning cases for every store backend
 * (header-only; test_store_prune.c on SQLite, test_pg_outbox.c on
 * PostgreSQL): cases, alerts, outbox rows in every state, provider ids,
 * inbound messages and rate windows of which a pass must delete exactly
 * some; a whole pass in steps; an alert's counts. Each test asserts what
 * its backend leaves (they differ only in SQLite's staged provider ids).
 *
 * The including test defines, before including it: NOW, the store `st`,
 *   void exec_sql(const char *sql)   runs set-up SQL (portable SQL only)
 *   long long peek_int(const char *sql)   one number, read aside
 *   void result_provider_id(const char *pid, int outbox_id)
 *                                    records pid for the row as a send result
 *                                    does (SQLite: staged; PostgreSQL: indexed)
 */
#ifndef TALAASH_PRUNE_CASES_H
#define TALAASH_PRUNE_CASES_H

#include "common/result.h"
#include "gateway/store/store.h"
#include "tests/tap.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DAY 86400LL
#define KEEP_SENT (30 * DAY)
#define RETENTION (90 * DAY)

/* n outbox rows (ids from first) of a case/alert in a state, last changed at `at`. */
static void rows(int first, int n, const char *case_id, const char *alert_id, const char *kind,
                 const char *state, long long at, bool provider_id)
{
    for (int i = 0; i < n; i++) {
        char sql[800], pid[32] = "NULL";
        /* ids in no order of the rows (the reference's are random) */
        if (provider_id)
            snprintf(pid, sizeof(pid), "'pid-%d'", (first + i) * 7919 % 1000);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO outbox (id, channel, phone, text, kind, priority, state,"
                 " next_attempt_ms, provider_id, case_id, alert_id, created_at, updated_at)"
                 " VALUES (%d, 'at', '+92300%07d', 'x', '%s', 2, '%s', 0, %s, %s, %s, %lld, %lld)",
                 first + i, first + i, kind, state, pid, case_id, alert_id, at, at);
        exec_sql(sql);
        if (provider_id) {
            snprintf(sql, sizeof(sql),
                     "INSERT INTO provider_ids (channel, provider_id, outbox_id)"
                     " SELECT channel, provider_id, id FROM outbox WHERE id = %d",
                     first + i);
            exec_sql(sql);
        }
    }
}

static void prune_setup(void)
{
    char sql[1200];

    /* 1: closed 40 days ago; 2: active; 3: closed 10 days ago; 4: a draft abandoned 40 days
     * ago; 5: closed and redacted long ago. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO cases (id, case_no, state, created_at, updated_at, closed_at,"
             " redacted_at) VALUES"
             " (1, '711111', 'closed', %lld, %lld, %lld, NULL),"
             " (2, '722222', 'active', %lld, %lld, NULL, NULL),"
             " (3, '733333', 'found', %lld, %lld, %lld, NULL),"
             " (4, NULL, 'draft', %lld, %lld, NULL, NULL),"
             " (5, '755555', 'closed', %lld, %lld, %lld, %lld);"
             "INSERT INTO alerts (id, case_id, kind, text_en, text_ur, text_roman_ur, created_at)"
             " VALUES (1, 1, 'alert', 'a', 'a', 'a', 0), (2, 2, 'alert', 'a', 'a', 'a', 0),"
             " (3, 3, 'alert', 'a', 'a', 'a', 0), (4, 1, 'update', 'u', 'u', 'u', 0);",
             NOW - 50 * DAY, NOW - 40 * DAY, NOW - 40 * DAY, NOW - 50 * DAY, NOW - 50 * DAY,
             NOW - 20 * DAY, NOW - 10 * DAY, NOW - 10 * DAY, NOW - 41 * DAY, NOW - 40 * DAY,
             NOW - 200 * DAY, NOW - 200 * DAY, NOW - 200 * DAY, NOW - 100 * DAY);
    exec_sql(sql);
    long long old = NOW - 35 * DAY;
    /* case 1 (ids 1-17): 12 of its rows go, the queued and sending ones stay. */
    rows(1, 5, "1", "1", "alert", "delivered", old, true);
    rows(6, 2, "1", "1", "alert", "failed", old, false);
    rows(8, 1, "1", "1", "alert", "expired", old, false);
    rows(9, 1, "1", "1", "alert", "sent", old, true);
    rows(10, 1, "1", "1", "alert", "queued", old, false);
    rows(11, 1, "1", "1", "alert", "sending", old, false);
    rows(12, 3, "1", "4", "update", "delivered", old, true);
    rows(15, 1, "1", "4", "update", "cancelled", old, false);
    rows(16, 1, "1", "NULL", "police", "sent", old, false);
    rows(17, 1, "1", "1", "alert", "delivered", NOW - DAY, false); /* changed lately: stays */
    /* case 2 (active) and 3 (ended 10 days ago): stay. */
    rows(18, 3, "2", "2", "alert", "delivered", old, true);
    rows(21, 3, "3", "3", "alert", "delivered", old, false);
    /* an id of an earlier attempt of row 18 (it has another now): goes */
    exec_sql("INSERT INTO provider_ids (channel, provider_id, outbox_id) VALUES ('at', 'old-18', 18)");
    /* case 4, an abandoned draft: its question goes. */
    rows(24, 1, "4", "NULL", "reply", "sent", old, false);
    /* no case: an old reply goes, a new one and an old failed one… */
    rows(25, 1, "NULL", "NULL", "reply", "sent", old, false);
    rows(26, 1, "NULL", "NULL", "reply", "sent", NOW - DAY, false);
    rows(27, 1, "NULL", "NULL", "reply", "failed", old, false);
    /* row 25's id as a send result leaves it (SQLite: staged, not moved yet) */
    exec_sql("UPDATE outbox SET provider_id = 'staged-25' WHERE id = 25");
    result_provider_id("staged-25", 25);

    /* inbound: of no case 100 days ago (goes), limited of the active case (goes), of the
     * active case (stays), of the redacted case (goes), of no case 10 days ago (stays),
     * of case 1 (closed, not redacted yet: stays). */
    snprintf(sql, sizeof(sql),
             "INSERT INTO inbound (id, channel, provider_id, kind, phone, text, received_at,"
             " state, case_id) VALUES"
             " (1, 'at', 'i1', 'sms', '+923001', 'JOIN Malir', %lld, 'processed', NULL),"
             " (2, 'at', 'i2', 'sms', '+923002', 'spam', %lld, 'limited', 2),"
             " (3, 'at', 'i3', 'sms', '+923003', 'MISSING', %lld, 'processed', 2),"
             " (4, 'at', 'i4', 'sms', '+923004', '[redacted]', %lld, 'processed', 5),"
             " (5, 'at', 'i5', 'sms', '+923005', 'HELP', %lld, 'processed', NULL),"
             " (6, 'at', 'i6', 'sms', '+923006', 'MISSING', %lld, 'processed', 1)",
             NOW - 100 * DAY, NOW - 100 * DAY, NOW - 100 * DAY, NOW - 200 * DAY, NOW - 10 * DAY,
             NOW - 100 * DAY);
    exec_sql(sql);
    /* rate windows: three idle for over a day (go), one current (stays) */
    snprintf(sql, sizeof(sql),
             "INSERT INTO rate_windows (phone, kind, window_start, count) VALUES"
             " ('+923001', 'msg', %lld, 3), ('+923001', 'report', %lld, 1),"
             " ('+923002', 'msg', %lld, 9), ('+923003', 'msg', %lld, 2)",
             NOW - 2 * DAY, NOW - 3 * DAY, NOW - 2 * DAY, NOW - 100);
    exec_sql(sql);
}

/* A whole pass over every table in steps of `step` rows; the rows deleted per table. */
static bool pass(size_t step, int64_t deleted[TL_PRUNE_NTABLES], size_t *steps)
{
    const int64_t cuts[TL_PRUNE_NTABLES] = {NOW - KEEP_SENT, NOW, NOW - RETENTION, NOW - DAY};

    *steps = 0;
    for (int t = 0; t < TL_PRUNE_NTABLES; t++) {
        struct tl_prune_cursor c = {0};
        int rc;
        int64_t n;
        deleted[t] = 0;
        while ((rc = store_prune_step(st, (enum tl_prune_table)t, cuts[t], &c, step, &n)) == 1) {
            deleted[t] += n;
            if (++*steps > 1000)
                break;
        }
        store_prune_cursor_clear(&c);
        if (rc != 0) {
            ok(0, "pass over table %d ends with 0, not %d (%s)", t, rc, store_errmsg(st));
            return false;
        }
    }
    return true;
}

static void counts_of(int64_t alert_id, const char *channel, int64_t out[TL_OUTBOX_NSTATES])
{
    if (store_alert_counts(st, alert_id, channel, out) != TL_OK)
        ok(0, "store_alert_counts %lld: %s", (long long)alert_id, store_errmsg(st));
}

/* Sets up, counts each alert's messages (before), runs a first pass; false when it failed. */
static bool case_prune_first_pass(size_t step, int64_t before[5][TL_OUTBOX_NSTATES],
                                  int64_t deleted[TL_PRUNE_NTABLES])
{
    size_t steps;

    prune_setup();
    for (int a = 1; a <= 4; a++)
        counts_of(a, NULL, before[a]);
    is_int(before[1][TL_OUTBOX_DELIVERED], 6, "step %zu: alert 1 has 6 delivered before", step);
    is_int(store_prune_due(st, NOW - KEEP_SENT), 1, "step %zu: a pass is due (case 1, draft 4)",
           step);
    if (!pass(step, deleted, &steps))
        return false;
    diag("step %zu: %zu steps", step, steps);
    is_int(deleted[TL_PRUNE_OUTBOX], 17, "step %zu: 17 outbox rows deleted", step);
    is_int(deleted[TL_PRUNE_INBOUND], 3, "step %zu: 3 inbound rows deleted", step);
    is_int(deleted[TL_PRUNE_RATE_WINDOWS], 3, "step %zu: 3 rate windows deleted", step);
    is_int(peek_int("SELECT count(*) FROM provider_ids"), 3,
           "step %zu: provider ids: only the active case's 3 stay", step);
    is_int(peek_int("SELECT count(*) FROM provider_ids WHERE outbox_id IN (18, 19, 20)"), 3,
           "step %zu: …and they are the active case's", step);
    is_int(peek_int("SELECT count(*) FROM inbound WHERE id IN (3, 5, 6)"), 3,
           "step %zu: inbound kept: active case, recent, case not redacted", step);
    is_int(peek_int("SELECT count(*) FROM inbound"), 3, "step %zu: 3 inbound rows left", step);
    is_int(peek_int("SELECT count(*) FROM rate_windows WHERE phone = '+923003'"), 1,
           "step %zu: the current rate window stays", step);
    is_int(peek_int("SELECT count(*) FROM rate_windows"), 1, "step %zu: one rate window left",
           step);
    return true;
}

/* After the first pass: each alert's counts are the same (folded into outbox_tallies). */
static void case_prune_counts_after(size_t step, int64_t before[5][TL_OUTBOX_NSTATES])
{
    int64_t after[TL_OUTBOX_NSTATES];

    for (int a = 1; a <= 4; a++) {
        counts_of(a, NULL, after);
        ok(memcmp(before[a], after, sizeof(after)) == 0,
           "step %zu: alert %d: the same counts per state after pruning", step, a);
    }
    counts_of(1, "at", after);
    is_int(after[TL_OUTBOX_DELIVERED], 6, "step %zu: alert 1 on channel at: 6 delivered", step);
    is_int(after[TL_OUTBOX_FAILED], 2, "step %zu: alert 1: 2 failed", step);
    is_int(after[TL_OUTBOX_EXPIRED], 1, "step %zu: alert 1: 1 expired", step);
    is_int(after[TL_OUTBOX_SENT], 1, "step %zu: alert 1: 1 sent", step);
    is_int(after[TL_OUTBOX_QUEUED], 1, "step %zu: alert 1: 1 queued", step);
    is_int(after[TL_OUTBOX_SENDING], 1, "step %zu: alert 1: 1 sending", step);
    counts_of(1, "twilio", after);
    is_int(after[TL_OUTBOX_DELIVERED], 0, "step %zu: alert 1 on another channel: none", step);
    is_int(peek_int("SELECT n FROM outbox_tallies WHERE case_id = 1 AND alert_id = 0"
                    " AND kind = 'police' AND state = 'sent'"),
           1, "step %zu: the police copy is tallied under its case", step);
    is_int(peek_int("SELECT sum(n) FROM outbox_tallies WHERE case_id = 0"), 2,
           "step %zu: replies of no case tallied", step);
    is_int(peek_int("SELECT n FROM outbox_tallies WHERE case_id = 1 AND alert_id = 1"
                    " AND kind = 'alert' AND channel = 'at' AND state = 'delivered'"),
           5, "step %zu: alert 1's 5 old delivered rows in one tally row", step);
}

/* The marks of the cases a pass went through, and the due check after them. */
static void case_prune_marks(size_t step)
{
    is_int(store_prune_mark_cases(st, NOW - KEEP_SENT, NOW), TL_OK, "step %zu: mark", step);
    is_int(store_prune_due(st, NOW - KEEP_SENT), 0, "step %zu: no pass due once marked", step);
    is_int(peek_int("SELECT count(*) FROM cases WHERE outbox_pruned_at IS NOT NULL"), 3,
           "step %zu: cases 1, 4 and 5 marked", step);
    is_int(store_prune_due(st, NOW), 1, "step %zu: case 3 due at a later cut", step);
}

#endif
