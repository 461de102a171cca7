/*
 * outbox_cases.h — the outbox's cases for every store backend (header-only;
 * test_outbox.c runs them on SQLite, test_pg_outbox.c on PostgreSQL): claim
 * order and limits, results and retries, expiry and recovery, delivery
 * reports (by provider id, by our id, unknown statuses, before the send
 * result), a retried message's ids, STOP, transactions, a wave's texts —
 * with the same exact values on both, since the backends promise the same
 * (store.h). What a backend does on purpose differently stays in its own
 * file (SQLite's staging of provider ids, PostgreSQL's leases).
 *
 * The including test defines, before including it: NOW and NOW_MS (the
 * clock of the cases), OUTBOX_LEASE_MS (the backend's lease, 0 without
 * one), the store `st`, and
 *   bool fresh(const char *name)     a new empty store for one group (st)
 *   void finish(void)                closes it
 *   const char *row_text(id, column, out, outsz)  an outbox row's column as
 *                                    text ("NULL", "(no row)"), read aside
 *   long long peek_int(const char *sql)           one number, read aside
 *   void exec_sql(const char *sql)   runs set-up SQL (portable SQL only)
 *   void opt_out(const char *phone)  makes the number opted out (STOP)
 */
#ifndef TALAASH_OUTBOX_CASES_H
#define TALAASH_OUTBOX_CASES_H

#include "common/result.h"
#include "gateway/store/store.h"
#include "tests/tap.h"

#include <stdbool.h>
#include <stdlib.h>

#define state_is(id, want, ...)                                                                    \
    do {                                                                                           \
        char state_buf_[32];                                                                       \
        is_str(row_text((id), "state", state_buf_, sizeof(state_buf_)), (want), __VA_ARGS__);      \
    } while (0)

static int64_t add_to(struct tl_store *s, const char *channel, const char *phone,
                      const char *text, enum tl_outbox_kind kind, int64_t expires_at)
{
    struct tl_outbox_new m = {channel, phone, text, kind, expires_at, 0, 0, 0};
    int64_t id = 0;

    if (store_outbox_add(s, &m, NOW, &id) != TL_OK) {
        ok(0, "store_outbox_add %s %s: %s", channel, text, store_errmsg(s));
        return 0;
    }
    return id;
}

static int64_t add(const char *channel, const char *phone, const char *text,
                   enum tl_outbox_kind kind, int64_t expires_at)
{
    return add_to(st, channel, phone, text, kind, expires_at);
}

static void counts_are(const int64_t want[TL_OUTBOX_NSTATES], const char *what)
{
    int64_t got[TL_OUTBOX_NSTATES];

    is_int(store_outbox_counts(st, got), TL_OK, "%s: counts", what);
    for (int i = 0; i < TL_OUTBOX_NSTATES; i++)
        is_int(got[i], want[i], "%s: %s", what, store_outbox_state_name((enum tl_outbox_state)i));
}

static void test_claim_order(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 99;

    if (!fresh("order"))
        return;
    int64_t a1 = add("sms", "+923001111111", "alert one", TL_OUT_ALERT, 0);
    int64_t r1 = add("sms", "+923002222222", "reply one", TL_OUT_REPLY, 0);
    int64_t p1 = add("sms", "+923003333333", "police one", TL_OUT_POLICE, 0);
    int64_t a2 = add("sms", "+923004444444", "alert two", TL_OUT_ALERT, 0);
    int64_t other = add("other", "+923005555555", "on another channel", TL_OUT_POLICE, 0);
    ok(a1 > 0 && r1 > a1 && p1 > r1 && a2 > p1 && other > a2, "ids increase");
    state_is(a1, "queued", "a new message is queued");
    char buf[32];
    is_str(row_text(a1, "attempts", buf, sizeof(buf)), "0", "a new message has 0 attempts");

    is_int(store_outbox_claim(st, "sms", NOW_MS, 2, &msgs, &n), TL_OK, "claim max 2");
    is_int(n, 2, "two claimed");
    if (n == 2) {
        is_int(msgs[0].id, p1, "police first");
        is_int(msgs[0].kind, TL_OUT_POLICE, "kind police");
        is_str(msgs[0].phone, "+923003333333", "police phone");
        is_str(msgs[0].text, "police one", "police text");
        is_int(msgs[0].attempts, 1, "attempts 1");
        is_int(msgs[0].priority, 0, "priority 0");
        is_int(msgs[0].due_ms, 0, "due at 0 (at once)");
        is_int(msgs[1].id, r1, "reply second");
        is_int(msgs[1].kind, TL_OUT_REPLY, "kind reply");
        is_int(msgs[1].attempts, 1, "attempts 1");
    }
    store_outbox_msgs_free(msgs, n);
    state_is(p1, "sending", "claimed police row is sending");
    state_is(r1, "sending", "claimed reply row is sending");
    is_str(row_text(p1, "attempts", buf, sizeof(buf)), "1", "claimed row has attempts 1");
    if (OUTBOX_LEASE_MS > 0)
        is_int(atoll(row_text(p1, "lease_until_ms", buf, sizeof(buf))), NOW_MS + OUTBOX_LEASE_MS,
               "claimed row's lease: the claim's time + the lease");
    state_is(a1, "queued", "unclaimed alert still queued");

    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim the rest");
    is_int(n, 2, "the two alerts");
    if (n == 2) {
        is_int(msgs[0].id, a1, "older alert first");
        is_int(msgs[1].id, a2, "newer alert second");
        is_int(msgs[0].kind, TL_OUT_ALERT, "kind alert");
    }
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim an empty queue");
    is_int(n, 0, "nothing left on sms");
    store_outbox_msgs_free(msgs, n);
    state_is(other, "queued", "the other channel's message was not claimed");

    is_int(store_outbox_claim(st, "other", NOW_MS, 0, &msgs, &n), TL_OK, "claim max 0");
    is_int(n, 0, "max 0 claims nothing");
    store_outbox_msgs_free(msgs, n);
    state_is(other, "queued", "max 0 leaves it queued");
    is_int(store_outbox_claim(st, "other", NOW_MS, 5, &msgs, &n), TL_OK, "claim other channel");
    is_int(n, 1, "one on the other channel");
    if (n == 1)
        is_int(msgs[0].id, other, "the other channel's message");
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_claim(st, "nosuch", NOW_MS, 5, &msgs, &n), TL_OK, "claim unknown channel");
    is_int(n, 0, "nothing on an unknown channel");
    store_outbox_msgs_free(msgs, n);

    /* Alerts and updates share one priority: within it the queue is first in, first out. */
    int64_t u1 = add("bulk", "+923006666666", "update first", TL_OUT_UPDATE, 0);
    int64_t a3 = add("bulk", "+923007777777", "alert after it", TL_OUT_ALERT, 0);
    is_int(store_outbox_claim(st, "bulk", NOW_MS, 10, &msgs, &n), TL_OK, "claim bulk");
    is_int(n, 2, "two bulk messages");
    if (n == 2) {
        is_int(msgs[0].id, u1, "same priority: the older update comes first");
        is_int(msgs[0].kind, TL_OUT_UPDATE, "kind update");
        is_int(msgs[1].id, a3, "then the newer alert");
    }
    store_outbox_msgs_free(msgs, n);

    int64_t want[TL_OUTBOX_NSTATES] = {0, 7, 0, 0, 0, 0, 0};
    counts_are(want, "after claiming all");
    finish();
}

static void test_results_retry(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;
    char buf[64];

    if (!fresh("results"))
        return;
    int64_t s1 = add("sms", "+923001111111", "to be sent", TL_OUT_REPLY, 0);
    int64_t t1 = add("sms", "+923002222222", "to be retried", TL_OUT_REPLY, 0);
    int64_t f1 = add("sms", "+923003333333", "to fail", TL_OUT_REPLY, 0);
    /* PostgreSQL says 1 (0 is "none" there: other nodes' rows are looked for while none). */
    is_int(store_outbox_next_due(st, "sms"),
           strcmp(store_backend_name(st), "postgresql") == 0 ? 1 : 0,
           "new messages are due at 0 (at once)");
    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim three");
    is_int(n, 3, "three claimed");
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_next_due(st, "sms"), OUTBOX_LEASE_MS > 0 ? NOW_MS + OUTBOX_LEASE_MS : 0,
           "nothing queued: next_due 0, or the lease's end of the rows in flight");

    int64_t retry_at = NOW_MS + 60000;
    struct tl_outbox_result res[] = {
        {s1, TL_OUTBOX_SENT, "ATPid_1", NULL, 0},
        {t1, TL_OUTBOX_QUEUED, NULL, "HTTP 503", retry_at},
        {f1, TL_OUTBOX_FAILED, NULL, "InvalidPhoneNumber", 0},
    };
    is_int(store_outbox_results(st, "sms", res, 3, NOW + 1), TL_OK, "record three results");
    state_is(s1, "sent", "SENT result: sent");
    is_str(row_text(s1, "provider_id", buf, sizeof(buf)), "ATPid_1", "provider id stored");
    if (OUTBOX_LEASE_MS > 0)
        is_str(row_text(s1, "lease_until_ms", buf, sizeof(buf)), "NULL", "the lease ends with it");
    state_is(t1, "queued", "QUEUED result: queued again");
    is_str(row_text(t1, "error", buf, sizeof(buf)), "HTTP 503", "retry error stored");
    is_str(row_text(t1, "next_attempt_ms", buf, sizeof(buf)), "1760000060000", "retry time stored");
    state_is(f1, "failed", "FAILED result: failed");
    is_str(row_text(f1, "error", buf, sizeof(buf)), "InvalidPhoneNumber", "failure error stored");
    is_int(store_outbox_next_due(st, "sms"), retry_at, "next_due is the retry time");
    is_int(store_outbox_next_due(st, "other"), 0, "next_due of an empty channel is 0");

    is_int(store_outbox_claim(st, "sms", NOW_MS + 1000, 10, &msgs, &n), TL_OK, "claim before due");
    is_int(n, 0, "a retry is not claimable before its time");
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_claim(st, "sms", retry_at - 1, 10, &msgs, &n), TL_OK, "claim 1 ms early");
    is_int(n, 0, "still not claimable 1 ms early");
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_claim(st, "sms", retry_at, 10, &msgs, &n), TL_OK, "claim when due");
    is_int(n, 1, "the retry is claimed at its time");
    if (n == 1) {
        is_int(msgs[0].id, t1, "the retried message");
        is_int(msgs[0].attempts, 2, "second attempt");
        is_int(msgs[0].due_ms, retry_at, "claimed with its due time");
    }
    store_outbox_msgs_free(msgs, n);
    is_str(row_text(t1, "attempts", buf, sizeof(buf)), "2", "attempts 2 in the row");

    /* A result for a row that is not 'sending' changes nothing. */
    struct tl_outbox_result late = {s1, TL_OUTBOX_FAILED, NULL, "late", 0};
    is_int(store_outbox_results(st, "sms", &late, 1, NOW + 2), TL_OK, "result for a sent row");
    state_is(s1, "sent", "a result does not touch a row that is not sending");
    is_int(store_outbox_results(st, "sms", NULL, 0, NOW + 2), TL_OK, "no results: TL_OK");

    /* Texts that need quoting in an array literal travel intact. */
    int64_t q1 = add("sms", "+923004444444", "quote", TL_OUT_REPLY, 0);
    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim q1");
    is_int(n, 1, "q1 claimed");
    store_outbox_msgs_free(msgs, n);
    struct tl_outbox_result odd = {q1, TL_OUTBOX_QUEUED, "id,\"x\"\\{y}", "say \"no\", {NULL}",
                                   retry_at};
    is_int(store_outbox_results(st, "sms", &odd, 1, NOW + 3), TL_OK, "a result with odd text");
    is_str(row_text(q1, "provider_id", buf, sizeof(buf)), "id,\"x\"\\{y}", "provider id intact");
    is_str(row_text(q1, "error", buf, sizeof(buf)), "say \"no\", {NULL}", "error intact");

    int64_t want[TL_OUTBOX_NSTATES] = {1, 1, 1, 0, 1, 0, 0};
    counts_are(want, "after results");
    finish();
}

static void test_expiry_recover(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;

    if (!fresh("expiry"))
        return;
    int64_t old = add("sms", "+923001111111", "too late", TL_OUT_ALERT, NOW - 10);
    int64_t edge = add("sms", "+923002222222", "expires now", TL_OUT_ALERT, NOW);
    int64_t fresh1 = add("sms", "+923003333333", "still good", TL_OUT_ALERT, NOW + 3600);
    int64_t never = add("sms", "+923004444444", "no expiry", TL_OUT_REPLY, 0);
    int64_t elsewhere = add("b", "+923005555555", "expired elsewhere", TL_OUT_ALERT, NOW - 10);

    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim with expired rows");
    is_int(n, 2, "only the unexpired two are returned");
    if (n == 2) {
        is_int(msgs[0].id, never, "the reply first");
        is_int(msgs[1].id, fresh1, "then the alert still in time");
    }
    store_outbox_msgs_free(msgs, n);
    state_is(old, "expired", "past expires_at: expired");
    state_is(edge, "expired", "expires_at == now: expired");
    state_is(fresh1, "sending", "future expires_at: sending");
    state_is(elsewhere, "queued", "expiry is per channel: the other channel's row waits");
    char buf[32];
    is_str(row_text(old, "attempts", buf, sizeof(buf)), "0", "an expired row was not attempted");

    /* (Claimed at NOW_MS, long ago by the wall clock: a lease has passed.) */
    is_int(store_outbox_recover(st), 2, "recover requeues the two sending rows");
    state_is(fresh1, "queued", "recovered row is queued");
    state_is(never, "queued", "recovered reply is queued");
    state_is(old, "expired", "recover leaves expired rows alone");
    is_int(store_outbox_recover(st), 0, "recover again: nothing to do");
    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim after recover");
    is_int(n, 2, "recovered rows are claimable");
    if (n == 2) {
        is_int(msgs[0].attempts, 2, "a recovered message counts its earlier attempt");
        is_int(msgs[1].attempts, 2, "both");
    }
    store_outbox_msgs_free(msgs, n);

    int64_t want[TL_OUTBOX_NSTATES] = {1, 2, 0, 0, 0, 2, 0};
    counts_are(want, "after expiry and recovery");
    finish();
}

/* Adds, claims and records SENT with provider id pid; returns the id. */
static int64_t sent_msg(const char *channel, const char *phone, const char *pid)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;
    int64_t id = add(channel, phone, "dlr test", TL_OUT_REPLY, 0);

    if (store_outbox_claim(st, channel, NOW_MS, 1, &msgs, &n) != TL_OK || n != 1 ||
        msgs[0].id != id)
        ok(0, "claim for %s", pid ? pid : "(no id)");
    store_outbox_msgs_free(msgs, n);
    struct tl_outbox_result r = {id, TL_OUTBOX_SENT, pid, NULL, 0};
    if (store_outbox_results(st, channel, &r, 1, NOW) != TL_OK)
        ok(0, "result for %s", pid ? pid : "(no id)");
    return id;
}

static void test_dlr(void)
{
    char buf[64];

    if (!fresh("dlr"))
        return;
    int64_t m1 = sent_msg("sms", "+923001111111", "P-1");
    state_is(m1, "sent", "m1 sent");

    struct tl_outbox_dlr d = {"sms", "P-1", 0, TL_OUTBOX_DELIVERED, "Success", NULL};
    is_int(store_outbox_dlr(st, &d, NOW + 5), TL_OK, "DLR delivered by provider id");
    state_is(m1, "delivered", "sent -> delivered");
    is_str(row_text(m1, "dlr_status", buf, sizeof(buf)), "Success", "raw status recorded");

    struct tl_outbox_dlr later_sent = {"sms", "P-1", 0, TL_OUTBOX_SENT, "Sent", NULL};
    is_int(store_outbox_dlr(st, &later_sent, NOW + 6), TL_OK, "a later 'sent' DLR matches");
    state_is(m1, "delivered", "a later 'sent' does not move delivered back");
    struct tl_outbox_dlr later_failed = {"sms", "P-1", 0, TL_OUTBOX_FAILED, "Failed", "x"};
    is_int(store_outbox_dlr(st, &later_failed, NOW + 7), TL_OK, "a later 'failed' DLR matches");
    state_is(m1, "delivered", "a final state is never overwritten");
    is_str(row_text(m1, "dlr_status", buf, sizeof(buf)), "Success",
           "nor its raw status, by a weaker or a later final report");
    is_str(row_text(m1, "error", buf, sizeof(buf)), "NULL", "nor its error");
    struct tl_outbox_dlr later_unknown = {"sms", "P-1", 0, TL_OUTBOX_QUEUED, "Weird", NULL};
    is_int(store_outbox_dlr(st, &later_unknown, NOW + 7), TL_OK, "a later unknown DLR matches");
    is_str(row_text(m1, "dlr_status", buf, sizeof(buf)), "Success",
           "an unknown status does not overwrite a final one");

    int64_t m2 = sent_msg("sms", "+923002222222", "P-2");
    struct tl_outbox_dlr unknown = {"sms", "P-2", 0, TL_OUTBOX_QUEUED, "Weird", NULL};
    is_int(store_outbox_dlr(st, &unknown, NOW + 8), TL_OK, "unknown status applies");
    state_is(m2, "sent", "unknown status keeps the state");
    is_str(row_text(m2, "dlr_status", buf, sizeof(buf)), "Weird", "unknown status recorded raw");
    struct tl_outbox_dlr accepted = {"sms", "P-2", 0, TL_OUTBOX_SENT, "Buffered", NULL};
    is_int(store_outbox_dlr(st, &accepted, NOW + 9), TL_OK, "'sent' DLR on a sent message");
    state_is(m2, "sent", "still sent");
    is_str(row_text(m2, "dlr_status", buf, sizeof(buf)), "Buffered", "latest raw status kept");

    /* Same provider id on another channel is another message. */
    struct tl_outbox_dlr wrong_ch = {"b", "P-2", 0, TL_OUTBOX_FAILED, "Failed", NULL};
    is_int(store_outbox_dlr(st, &wrong_ch, NOW + 10), TL_ERR_NOT_FOUND,
           "provider id of another channel: not found");
    state_is(m2, "sent", "the other channel's report did not touch m2");

    /* By our id (Kannel's dlr-url). */
    int64_t m3 = sent_msg("kannel", "+923003333333", NULL);
    struct tl_outbox_dlr ours = {"kannel", NULL, m3, TL_OUTBOX_FAILED, "16", "EC_ABSENT"};
    is_int(store_outbox_dlr(st, &ours, NOW + 11), TL_OK, "DLR by our id");
    state_is(m3, "failed", "sent -> failed by our id");
    is_str(row_text(m3, "error", buf, sizeof(buf)), "EC_ABSENT", "error recorded");
    is_str(row_text(m3, "dlr_status", buf, sizeof(buf)), "16", "raw status recorded");
    struct tl_outbox_dlr ours_wrong_ch = {"sms", NULL, m3, TL_OUTBOX_DELIVERED, "1", NULL};
    is_int(store_outbox_dlr(st, &ours_wrong_ch, NOW + 12), TL_ERR_NOT_FOUND,
           "our id on the wrong channel: not found");
    struct tl_outbox_dlr ours_missing = {"kannel", NULL, 999999, TL_OUTBOX_DELIVERED, "1", NULL};
    is_int(store_outbox_dlr(st, &ours_missing, NOW + 13), TL_ERR_NOT_FOUND,
           "unknown our id: not found");
    is_int(peek_int("SELECT count(*) FROM dlr_pending"), 1,
           "a report without provider id is not kept (only channel b's P-2 is pending)");
    is_int(peek_int("SELECT count(*) FROM dlr_pending WHERE channel = 'b' AND provider_id = 'P-2'"
                    " AND state = 'failed'"),
           1, "channel b's unmatched report is the pending one");

    /* Delivered by our id while still 'sending': the late send result does not undo it. */
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;
    int64_t m4 = add("kannel", "+923004444444", "fast", TL_OUT_REPLY, 0);
    is_int(store_outbox_claim(st, "kannel", NOW_MS, 5, &msgs, &n), TL_OK, "claim m4");
    is_int(n, 1, "m4 in flight");
    store_outbox_msgs_free(msgs, n);
    struct tl_outbox_dlr fast = {"kannel", NULL, m4, TL_OUTBOX_DELIVERED, "1", NULL};
    is_int(store_outbox_dlr(st, &fast, NOW + 14), TL_OK, "DLR by our id while sending");
    state_is(m4, "delivered", "sending -> delivered");
    struct tl_outbox_result late = {m4, TL_OUTBOX_SENT, NULL, NULL, 0};
    is_int(store_outbox_results(st, "kannel", &late, 1, NOW + 15), TL_OK, "late send result");
    state_is(m4, "delivered", "the late result does not move delivered back to sent");
    struct tl_outbox_result late_note = {m4, TL_OUTBOX_SENT, NULL, "shortened", 0};
    is_int(store_outbox_results(st, "kannel", &late_note, 1, NOW + 15), TL_OK,
           "a late send result with a note");
    state_is(m4, "delivered", "still delivered");
    is_str(row_text(m4, "error", buf, sizeof(buf)), "shortened",
           "the note of a result that came after the DLR is kept");
    struct tl_outbox_result late_fail = {m4, TL_OUTBOX_FAILED, NULL, "HTTP 500", 0};
    is_int(store_outbox_results(st, "kannel", &late_fail, 1, NOW + 15), TL_OK,
           "a late failure result");
    state_is(m4, "delivered", "does not undo the delivery");
    is_str(row_text(m4, "error", buf, sizeof(buf)), "shortened", "nor touch the error");

    /* Kannel, a concatenated message: 1 (delivered) and then 8 (SMSC), by our id. */
    int64_t m5 = sent_msg("kannel", "+923005555555", NULL);
    struct tl_outbox_dlr k1 = {"kannel", NULL, m5, TL_OUTBOX_DELIVERED, "1", NULL};
    struct tl_outbox_dlr k8 = {"kannel", NULL, m5, TL_OUTBOX_SENT, "8", NULL};
    is_int(store_outbox_dlr(st, &k1, NOW + 16), TL_OK, "Kannel DLR 1");
    is_int(store_outbox_dlr(st, &k8, NOW + 17), TL_OK, "Kannel DLR 8 after it");
    state_is(m5, "delivered", "1 then 8: delivered");
    is_str(row_text(m5, "dlr_status", buf, sizeof(buf)), "1", "1 then 8: dlr_status stays 1");
    /* and 8 before 1, the other order Kannel uses: the final one wins */
    int64_t m6 = sent_msg("kannel", "+923006666666", NULL);
    is_int(store_outbox_dlr(st, &(struct tl_outbox_dlr){"kannel", NULL, m6, TL_OUTBOX_SENT, "8", NULL},
                            NOW + 18), TL_OK, "Kannel DLR 8 first");
    is_str(row_text(m6, "dlr_status", buf, sizeof(buf)), "8", "8 recorded on a sent message");
    is_int(store_outbox_dlr(st, &(struct tl_outbox_dlr){"kannel", NULL, m6, TL_OUTBOX_DELIVERED, "1", NULL},
                            NOW + 19), TL_OK, "then 1");
    state_is(m6, "delivered", "8 then 1: delivered");
    is_str(row_text(m6, "dlr_status", buf, sizeof(buf)), "1", "8 then 1: dlr_status 1");

    int64_t want[TL_OUTBOX_NSTATES] = {0, 0, 1, 4, 1, 0, 0};
    counts_are(want, "after DLRs");

    is_int(store_dlr_pending_prune(st, NOW + 10), 0, "pending reports newer than the cut stay");
    is_int(store_dlr_pending_prune(st, NOW + 11), 1, "the one older goes");
    is_int(peek_int("SELECT count(*) FROM dlr_pending"), 0, "none left");
    finish();
}

static void test_dlr_before_result(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;
    char buf[64];

    if (!fresh("early"))
        return;
    int64_t id = add("sms", "+923001111111", "early report", TL_OUT_ALERT, 0);
    int64_t id2 = add("sms", "+923002222222", "early unknown", TL_OUT_ALERT, 0);
    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim");
    is_int(n, 2, "two in flight");
    store_outbox_msgs_free(msgs, n);

    struct tl_outbox_dlr d = {"sms", "EARLY-1", 0, TL_OUTBOX_DELIVERED, "DeliveredToTerminal", NULL};
    is_int(store_outbox_dlr(st, &d, NOW + 1), TL_ERR_NOT_FOUND,
           "DLR for an unknown provider id: TL_ERR_NOT_FOUND");
    is_int(peek_int("SELECT count(*) FROM dlr_pending WHERE channel = 'sms'"
                    " AND provider_id = 'EARLY-1' AND state = 'delivered'"),
           1, "the report is kept in dlr_pending");
    is_int(store_outbox_dlr(st, &d, NOW + 2), TL_ERR_NOT_FOUND, "the same report again");
    is_int(peek_int("SELECT count(*) FROM dlr_pending"), 1, "kept once");
    struct tl_outbox_dlr weaker = {"sms", "EARLY-1", 0, TL_OUTBOX_SENT, "Sent", NULL};
    is_int(store_outbox_dlr(st, &weaker, NOW + 2), TL_ERR_NOT_FOUND, "a weaker report after it");
    is_int(peek_int("SELECT count(*) FROM dlr_pending WHERE provider_id = 'EARLY-1'"
                    " AND state = 'delivered' AND status_raw = 'DeliveredToTerminal'"),
           1, "the pending final report is not overwritten by a weaker one");
    struct tl_outbox_dlr u = {"sms", "EARLY-2", 0, TL_OUTBOX_QUEUED, "Mystery", NULL};
    is_int(store_outbox_dlr(st, &u, NOW + 3), TL_ERR_NOT_FOUND, "unknown-status report kept too");
    state_is(id, "sending", "the message is still sending");

    struct tl_outbox_result r[] = {
        {id, TL_OUTBOX_SENT, "EARLY-1", NULL, 0},
        {id2, TL_OUTBOX_SENT, "EARLY-2", NULL, 0},
    };
    is_int(store_outbox_results(st, "sms", r, 2, NOW + 4), TL_OK, "send results arrive");
    state_is(id, "delivered", "the pending report is applied: delivered");
    is_str(row_text(id, "provider_id", buf, sizeof(buf)), "EARLY-1", "provider id stored");
    is_str(row_text(id, "dlr_status", buf, sizeof(buf)), "DeliveredToTerminal",
           "pending raw status recorded");
    state_is(id2, "sent", "a pending unknown status leaves the message sent");
    is_str(row_text(id2, "dlr_status", buf, sizeof(buf)), "Mystery", "and records its raw status");
    is_int(peek_int("SELECT count(*) FROM dlr_pending"), 0, "pending reports are consumed");

    /* A pending report of another channel is not applied. */
    int64_t id3 = add("sms", "+923003333333", "x", TL_OUT_REPLY, 0);
    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim id3");
    store_outbox_msgs_free(msgs, n);
    struct tl_outbox_dlr other = {"b", "SHARED", 0, TL_OUTBOX_FAILED, "Failed", NULL};
    is_int(store_outbox_dlr(st, &other, NOW + 5), TL_ERR_NOT_FOUND, "report on channel b kept");
    struct tl_outbox_result r3 = {id3, TL_OUTBOX_SENT, "SHARED", NULL, 0};
    is_int(store_outbox_results(st, "sms", &r3, 1, NOW + 6), TL_OK, "result on sms");
    state_is(id3, "sent", "channel b's pending report did not apply to sms");
    is_int(peek_int("SELECT count(*) FROM dlr_pending WHERE channel = 'b'"), 1,
           "channel b's report still pending");
    finish();
}

/* A retried message answers only to its latest attempt's id (the store st is open). */
static void case_retried_ids(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;

    int64_t m2 = add("sms", "+923002222222", "retried", TL_OUT_REPLY, 0);
    is_int(store_outbox_claim(st, "sms", NOW_MS, 1, &msgs, &n), TL_OK, "claim m2");
    store_outbox_msgs_free(msgs, n);
    struct tl_outbox_result first = {m2, TL_OUTBOX_QUEUED, "OLD-1", "busy", NOW_MS};
    is_int(store_outbox_results(st, "sms", &first, 1, NOW + 2), TL_OK, "a retry with an id");
    is_int(store_outbox_claim(st, "sms", NOW_MS, 1, &msgs, &n), TL_OK, "claim m2 again");
    store_outbox_msgs_free(msgs, n);
    struct tl_outbox_result second = {m2, TL_OUTBOX_SENT, "NEW-1", NULL, 0};
    is_int(store_outbox_results(st, "sms", &second, 1, NOW + 3), TL_OK, "sent with a new id");
    struct tl_outbox_dlr old = {"sms", "OLD-1", 0, TL_OUTBOX_FAILED, "Failed", NULL};
    is_int(store_outbox_dlr(st, &old, NOW + 4), TL_ERR_NOT_FOUND,
           "the first attempt's id no longer matches");
    state_is(m2, "sent", "m2 still sent");
    struct tl_outbox_dlr cur = {"sms", "NEW-1", 0, TL_OUTBOX_DELIVERED, "Success", NULL};
    is_int(store_outbox_dlr(st, &cur, NOW + 5), TL_OK, "the latest id matches");
    state_is(m2, "delivered", "m2 delivered");
}

/*
 * Queues `many` alerts on channel "bulk", claims them all and records each
 * sent with provider id B-<i>, in one call (the store st is open); returns
 * the last row's id.
 */
static int64_t case_bulk_sent(size_t many)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;

    is_int(store_tx_begin(st), TL_OK, "begin");
    for (size_t i = 0; i < many; i++)
        add("bulk", "+923003333333", "bulk", TL_OUT_ALERT, 0);
    is_int(store_tx_commit(st), TL_OK, "many queued");
    is_int(store_outbox_claim(st, "bulk", NOW_MS, many, &msgs, &n), TL_OK, "claim them");
    is_int(n, many, "all claimed");
    struct tl_outbox_result *r = calloc(n ? n : 1, sizeof(*r));
    char(*pids)[24] = calloc(n ? n : 1, sizeof(*pids));
    for (size_t i = 0; i < n; i++) {
        snprintf(pids[i], sizeof(pids[i]), "B-%zu", i);
        r[i] = (struct tl_outbox_result){msgs[i].id, TL_OUTBOX_SENT, pids[i], NULL, 0};
    }
    int64_t last = n ? msgs[n - 1].id : 0;
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_results(st, "bulk", r, n, NOW + 6), TL_OK, "their results");
    free(r);
    free(pids);
    return last;
}

/* After case_bulk_sent: every id is indexed, and a report for the last matches its row. */
static void case_bulk_reported(size_t many, int64_t last)
{
    char pid[24];

    is_int(peek_int("SELECT count(*) FROM provider_ids WHERE channel = 'bulk'"), many,
           "every id is in provider_ids");
    snprintf(pid, sizeof(pid), "B-%zu", many - 1);
    struct tl_outbox_dlr bulk = {"bulk", pid, 0, TL_OUTBOX_DELIVERED, "Success", NULL};
    is_int(store_outbox_dlr(st, &bulk, NOW + 7), TL_OK, "a report matches the last id");
    state_is(last, "delivered", "and applies to its message");
}

static void test_cancel_and_tx(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;

    if (!fresh("cancel"))
        return;
    const char *stop = "+923001111111", *keep = "+923002222222";
    int64_t in_flight = add("sms", stop, "alert in flight", TL_OUT_ALERT, 0);
    is_int(store_outbox_claim(st, "sms", NOW_MS, 1, &msgs, &n), TL_OK, "claim the first alert");
    store_outbox_msgs_free(msgs, n);
    int64_t a = add("sms", stop, "alert", TL_OUT_ALERT, 0);
    int64_t u = add("b", stop, "update", TL_OUT_UPDATE, 0);
    int64_t r = add("sms", stop, "reply", TL_OUT_REPLY, 0);
    int64_t p = add("sms", stop, "police", TL_OUT_POLICE, 0);
    int64_t other = add("sms", keep, "alert to someone else", TL_OUT_ALERT, 0);

    /* STOP: the number opts out; its alerts and updates are cancelled when claimed. */
    opt_out(stop);
    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim after STOP");
    is_int(n, 3, "three messages to send: the police message, the reply, the other alert");
    int64_t got[3] = {n > 0 ? msgs[0].id : 0, n > 1 ? msgs[1].id : 0, n > 2 ? msgs[2].id : 0};
    is_int(got[0], p, "police first");
    is_int(got[1], r, "then the reply (STOP never cancels replies)");
    is_int(got[2], other, "then another phone's alert");
    store_outbox_msgs_free(msgs, n);
    state_is(a, "cancelled", "the stopped number's queued alert is cancelled, never sent");
    state_is(in_flight, "sending", "a message in flight is not cancelled");
    state_is(u, "queued", "the update on channel b waits for b's sender");
    is_int(store_outbox_claim(st, "b", NOW_MS, 10, &msgs, &n), TL_OK, "claim on b");
    is_int(n, 0, "nothing to send on b");
    store_outbox_msgs_free(msgs, n);
    state_is(u, "cancelled", "the update is cancelled (any channel)");

    int64_t want[TL_OUTBOX_NSTATES] = {0, 4, 0, 0, 0, 0, 2};
    counts_are(want, "after STOP");

    /* Inside a caller's transaction, an add is undone by rollback. */
    is_int(store_tx_begin(st), TL_OK, "begin");
    int64_t tx_id = add("sms", keep, "rolled back", TL_OUT_REPLY, 0);
    ok(tx_id > 0, "add inside a transaction");
    store_tx_rollback(st);
    state_is(tx_id, "(no row)", "rolled back add leaves no row");
    is_int(store_tx_begin(st), TL_OK, "begin again");
    int64_t kept = add("sms", keep, "committed", TL_OUT_REPLY, 0);
    is_int(store_tx_commit(st), TL_OK, "commit");
    state_is(kept, "queued", "committed add is queued");

    /* An add's references and expiry are stored; 0 means none (NULL). */
    struct tl_outbox_new m = {"sms", keep, "refs", TL_OUT_REPLY, NOW + 60, 0, 0, 0};
    int64_t id = 0;
    exec_sql("INSERT INTO cases (id, state, created_at, updated_at) VALUES (7, 'active', 1, 1)");
    m.case_id = 7;
    is_int(store_outbox_add(st, &m, NOW, &id), TL_OK, "an add with a case and an expiry");
    const char *const cols[][2] = {{"case_id", "7"},      {"alert_id", "NULL"},
                                   {"inbound_id", "NULL"}, {"expires_at", "1760000060"},
                                   {"priority", "1"},      {"kind", "reply"},
                                   {"created_at", "1760000000"}};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        char buf[64];
        is_str(row_text(id, cols[i][0], buf, sizeof(buf)), cols[i][1], "its %s", cols[i][0]);
    }
    finish();
}

/* A wave's rows take its texts in each recipient's language when claimed. */

static void test_wave_texts(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;

    if (!fresh("wave"))
        return;
    exec_sql("INSERT INTO cases (id, state, created_at, updated_at) VALUES (1, 'active', 1, 1);"
         "INSERT INTO alerts (id, case_id, kind, text_en, text_ur, text_roman_ur, created_at)"
         " VALUES (1, 1, 'alert', 'EN', 'UR', 'RUR', 1);"
         "INSERT INTO subscribers (phone, lang, created_at, updated_at) VALUES"
         " ('+923009990001', 'ur', 1, 1), ('+923000000001', 'ur', 1, 1),"
         " ('+923000000002', 'en', 1, 1), ('+923000000003', 'roman-ur', 1, 1);"
         /* the officer (who also subscribes, in Urdu) in English; the rest by their saved
          * language; one number with no subscriber row: English */
         "INSERT INTO outbox (channel, phone, text, lang, kind, priority, state, next_attempt_ms,"
         " case_id, alert_id, created_at, updated_at) VALUES"
         " ('alerts', '+923009990001', NULL, 'en', 'alert', 0, 'queued', 0, 1, 1, 1, 1),"
         " ('alerts', '+923000000001', NULL, NULL, 'alert', 2, 'queued', 0, 1, 1, 1, 1),"
         " ('alerts', '+923000000002', NULL, NULL, 'alert', 2, 'queued', 0, 1, 1, 1, 1),"
         " ('alerts', '+923000000003', NULL, NULL, 'alert', 2, 'queued', 0, 1, 1, 1, 1),"
         " ('alerts', '+923000000004', NULL, NULL, 'alert', 2, 'queued', 0, 1, 1, 1, 1)");
    is_int(store_outbox_claim(st, "alerts", 1000000, 3, &msgs, &n), TL_OK, "claim");
    is_int(n, 3, "three claimed");
    if (n == 3) {
        is_str(msgs[0].phone, "+923009990001", "the officer first…");
        is_str(msgs[0].text, "EN", "… in English (though a subscriber in Urdu)");
        is_str(msgs[1].phone, "+923000000001", "then subscribers in queue order…");
        is_str(msgs[1].text, "UR", "… each in their saved language");
        is_str(msgs[2].text, "EN", "(English)");
    }
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_claim(st, "alerts", 1000000, 3, &msgs, &n), TL_OK, "claim the rest");
    is_int(n, 2, "two claimed");
    if (n == 2) {
        is_str(msgs[0].text, "RUR", "Roman Urdu");
        is_str(msgs[1].text, "EN", "no subscriber row: English");
    }
    store_outbox_msgs_free(msgs, n);
    finish();
}

#endif
