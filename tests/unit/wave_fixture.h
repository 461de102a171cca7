/*
 * wave_fixture.h — the people of the alert-wave test that both backends
 * run (test_store.c on SQLite, test_pg_wave.c on PostgreSQL), through the
 * store interface only (header-only).
 *
 * wave_fixture_subscribe() subscribes: +923000000001 (Urdu) to PK-X and
 * PK-Y, +923000000002 (English) to PK-X, +923000000003 (Roman Urdu) to
 * PK-Z (outside the first scope), +923000000004 (English) to PK-X and PK-Y
 * (the test opts it out), +923009990001 (Urdu, the test makes it police of
 * PK-Y) to PK-X; then bulk numbers +9231######## in no particular order,
 * in PK-X or both. wave_fixture_wave() is the first wave the test sends.
 *
 * wave_fixture_fanout() is the fan-out's story, run on both backends once
 * the fixture is subscribed (and +923000000004 opted out, +923009990001
 * police of PK-Y): a wave left to its fan-out in chunks queues exactly the
 * phones the same wave queues in one transaction, minus a number that
 * STOPs before its chunk is read; a chunk is not due while two wait for
 * the sender; an expired fan-out ends without queuing; the end
 * of a case ends its fan-out. count(sql) reads one number aside (portable
 * SQL).
 */
#ifndef TALAASH_WAVE_FIXTURE_H
#define TALAASH_WAVE_FIXTURE_H

#include "common/result.h"
#include "gateway/store/store.h"
#include "tests/tap.h"

#include <stdio.h>
#include <stdlib.h>

/* Subscribes phone (language lang) to each of the areas; TL_OK or the first failure. */
static int subscribe(struct tl_store *st, const char *phone, const char *lang,
                     const char *const *areas, size_t nareas)
{
    int64_t id = 0;
    int rc = store_subscriber_touch(st, phone, lang, "at", 1000, &id);

    for (size_t i = 0; rc == TL_OK && i < nareas; i++)
        rc = store_subscription_add(st, id, areas[i], 1000);
    return rc;
}

/* The fixture's subscriptions (see above) with bulk numbers more; TL_OK or the first failure. */
static int wave_fixture_subscribe(struct tl_store *st, int bulk)
{
    const char *const X[] = {"PK-X"}, *const XY[] = {"PK-X", "PK-Y"}, *const Z[] = {"PK-Z"};
    int rc = subscribe(st, "+923000000001", "ur", XY, 2); /* in two areas of the scope */

    if (rc == TL_OK)
        rc = subscribe(st, "+923000000002", "en", X, 1);
    if (rc == TL_OK)
        rc = subscribe(st, "+923000000003", "roman-ur", Z, 1); /* outside the first scope */
    if (rc == TL_OK)
        rc = subscribe(st, "+923000000004", "en", XY, 2); /* STOPs */
    if (rc == TL_OK)
        rc = subscribe(st, "+923009990001", "ur", X, 1); /* police who also subscribes */
    /* Numbers in no particular order, in one or both areas. */
    for (int i = 0; rc == TL_OK && i < bulk; i++) {
        char phone[32];
        snprintf(phone, sizeof(phone), "+9231%08d", (i * 7919) % bulk);
        rc = subscribe(st, phone, i % 2 ? "ur" : "en", i % 3 ? X : XY, i % 3 ? 1 : 2);
    }
    return rc;
}

/* The fixture's first wave for case_id: an alert to PK-X and PK-Y on channel alerts. */
static struct tl_alert_wave wave_fixture_wave(int64_t case_id)
{
    struct tl_alert_wave w = {
        .case_id = case_id,
        .kind = "alert",
        .area_codes_json = "[\"PK-X\",\"PK-Y\"]",
        .channel = "alerts",
        .text_en = "EN",
        .text_ur = "UR",
        .text_roman_ur = "RUR",
        .expires_at = 999999999,
    };
    return w;
}

/* Claims every queued row of channel alerts, as a sender taking all it can would. */
static size_t fanout_claim_all(struct tl_store *st)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t got = 0;

    if (store_outbox_claim(st, "alerts", 4000000000000LL, 1000000, &msgs, &got) != TL_OK)
        return 0;
    store_outbox_msgs_free(msgs, got);
    return got;
}

/* Phones alerted for case a and not for case b. */
static long long fanout_missing(long long (*count)(const char *sql), long long a, long long b)
{
    char sql[400];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM outbox x WHERE x.case_id = %lld AND x.kind = 'alert'"
             " AND NOT EXISTS (SELECT 1 FROM outbox y WHERE y.case_id = %lld"
             " AND y.kind = 'alert' AND y.phone = x.phone)",
             a, b);
    return count(sql);
}

/*
 * The fan-out's story (see the top). cases: four fresh case ids; bulk as
 * given to wave_fixture_subscribe; the last bulk number is the one that
 * STOPs mid-way.
 */
static void wave_fixture_fanout(struct tl_store *st, const long long cases[4], int bulk,
                                long long (*count)(const char *sql))
{
    struct tl_alert_wave w = wave_fixture_wave(cases[0]);
    struct tl_fanout_step s;
    int64_t alert_a = 0, n_a = 0, alert_b = 0, n_b = 0, id = 0, n = 0, cancelled = 0;
    bool more = true;
    char last[32], sql[200];

    is_int(store_alert_wave(st, &w, 2000, &alert_a, &n_a, &more), TL_OK,
           "fan-out: the wave in one transaction (chunk 0)");
    ok(!more && n_a == bulk + 3, "… queues everyone, leaves no fan-out (%lld)", (long long)n_a);
    w.case_id = cases[1];
    w.chunk = 7;
    w.first_ms = 0;
    is_int(store_alert_wave(st, &w, 2000, &alert_b, &n_b, &more), TL_OK, "a wave in chunks of 7");
    ok(more, "leaves a fan-out");
    ok(n_b > 1 && n_b <= 1 + 8, "its transaction queued the officer and one chunk (%lld)",
       (long long)n_b);
    is_int(store_wave_fanout(st, 7, 2000, &s), TL_OK, "a fan-out call");
    ok(s.ran && !s.finished && s.pending && s.alert_id == alert_b && s.queued > 0,
       "a wave with one chunk queued queues its second at once (%lld)", (long long)s.queued);
    int64_t queued = n_b + s.queued;
    is_int(store_wave_fanout(st, 7, 2000, &s), TL_OK, "another call");
    ok(!s.ran && s.pending, "not due while two chunks wait for the sender");
    snprintf(last, sizeof(last), "+9231%08d", bulk - 1);
    is_int(store_subscriber_set_opted_out(st, last, true, 2000), TL_OK,
           "the last bulk number STOPs before its chunk");
    int steps = 1, others = 0;
    for (;;) {
        fanout_claim_all(st);
        if (store_wave_fanout(st, 7, 2000, &s) != TL_OK || !s.ran)
            break;
        steps++;
        queued += s.queued;
        others += s.alert_id != alert_b;
        if (s.finished)
            break;
    }
    ok(s.ran && s.finished && !s.pending, "the fan-out ends (%d steps)", steps);
    ok(steps >= (bulk + 3) / 8 - 1, "in chunks (%d steps for %d people)", steps, bulk + 3);
    is_int(others, 0, "every step was the wave's");
    is_int(queued, n_a - 1, "the chunked wave queued everyone but the number that STOPped");
    is_int(fanout_missing(count, cases[1], cases[0]), 0, "and no one the whole wave did not");
    is_int(fanout_missing(count, cases[0], cases[1]), 1, "one phone missing…");
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM outbox WHERE case_id = %lld AND phone = '%s'", cases[1], last);
    is_int(count(sql), 0, "… the one that STOPped");
    is_int(store_wave_fanout(st, 7, 2000, &s), TL_OK, "after the end");
    ok(!s.ran && !s.pending, "nothing is left");

    /* An expired fan-out ends without queuing. */
    w.case_id = cases[2];
    w.expires_at = 2500;
    is_int(store_alert_wave(st, &w, 2000, &id, &n, &more), TL_OK, "a wave that expires at 2500");
    ok(more, "(with a fan-out)");
    fanout_claim_all(st);
    is_int(store_wave_fanout(st, 7, 2500, &s), TL_OK, "its fan-out at 2500");
    ok(s.ran && s.finished && s.queued == 0 && !s.pending, "ends, queuing nothing");

    /* The end of the case ends its fan-out. */
    w.case_id = cases[3];
    w.expires_at = 999999999;
    is_int(store_alert_wave(st, &w, 2000, &id, &n, &more), TL_OK, "a fourth wave");
    ok(more, "(with a fan-out)");
    is_int(store_tx_begin(st), TL_OK, "FOUND: begin");
    is_int(store_alert_end(st, cases[3], "alerts", "EN", "UR", "RUR", 2001, &cancelled, &n), TL_OK,
           "FOUND: the end of its alerts");
    is_int(store_tx_commit(st), TL_OK, "FOUND: commit");
    fanout_claim_all(st);
    is_int(store_wave_fanout(st, 7, 2001, &s), TL_OK, "a fan-out call after it");
    ok(!s.ran && !s.pending, "the case's fan-out is gone");
}

#endif
