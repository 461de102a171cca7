/*
 * test_outbox.c — the durable send queue (store_outbox_* in gateway/store.h):
 * priority order and limits of claims, send results and retries, expiry,
 * crash recovery, delivery reports (by provider id, by our id, unknown
 * statuses, reports that arrive before the send result, provider ids
 * staged and moved), STOP cancelling, the alert pool of several channels,
 * per-state counts and the next due time. Row states are read back with a
 * second SQLite connection. Works in its own mkdtemp directory.
 */
#include "common/result.h"
#include "gateway/store.h"
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
static sqlite3 *peek; /* read-only second connection */

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

#define state_is(id, want, ...)                                                                    \
    do {                                                                                           \
        char state_buf_[32];                                                                       \
        is_str(row_text((id), "state", state_buf_, sizeof(state_buf_)), (want), __VA_ARGS__);      \
    } while (0)

static int64_t add(const char *channel, const char *phone, const char *text,
                   enum tl_outbox_kind kind, int64_t expires_at)
{
    struct tl_outbox_new m = {channel, phone, text, kind, expires_at, 0, 0, 0};
    int64_t id = 0;

    if (store_outbox_add(st, &m, NOW, &id) != TL_OK) {
        ok(0, "store_outbox_add %s %s", channel, text);
        return 0;
    }
    return id;
}

/* Opens a fresh store (and the peeking connection) for one group of tests. */
static bool fresh(const char *name)
{
    char *cause = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (store_open(path, 1000, &st, &cause) != TL_OK) {
        ok(0, "store_open %s: %s", path, cause ? cause : "");
        free(cause);
        return false;
    }
    if (sqlite3_open_v2(path, &peek, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        ok(0, "peek open");
        return false;
    }
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

    if (!fresh("order.db"))
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
        is_int(msgs[1].id, r1, "reply second");
        is_int(msgs[1].kind, TL_OUT_REPLY, "kind reply");
        is_int(msgs[1].attempts, 1, "attempts 1");
    }
    store_outbox_msgs_free(msgs, n);
    state_is(p1, "sending", "claimed police row is sending");
    state_is(r1, "sending", "claimed reply row is sending");
    is_str(row_text(p1, "attempts", buf, sizeof(buf)), "1", "claimed row has attempts 1");
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

    if (!fresh("results.db"))
        return;
    int64_t s1 = add("sms", "+923001111111", "to be sent", TL_OUT_REPLY, 0);
    int64_t t1 = add("sms", "+923002222222", "to be retried", TL_OUT_REPLY, 0);
    int64_t f1 = add("sms", "+923003333333", "to fail", TL_OUT_REPLY, 0);
    is_int(store_outbox_next_due(st, "sms"), 0, "new messages are due at 0 (at once)");
    is_int(store_outbox_claim(st, "sms", NOW_MS, 10, &msgs, &n), TL_OK, "claim three");
    is_int(n, 3, "three claimed");
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_next_due(st, "sms"), 0, "nothing queued: next_due 0");

    int64_t retry_at = NOW_MS + 60000;
    struct tl_outbox_result res[] = {
        {s1, TL_OUTBOX_SENT, "ATPid_1", NULL, 0},
        {t1, TL_OUTBOX_QUEUED, NULL, "HTTP 503", retry_at},
        {f1, TL_OUTBOX_FAILED, NULL, "InvalidPhoneNumber", 0},
    };
    is_int(store_outbox_results(st, "sms", res, 3, NOW + 1), TL_OK, "record three results");
    state_is(s1, "sent", "SENT result: sent");
    is_str(row_text(s1, "provider_id", buf, sizeof(buf)), "ATPid_1", "provider id stored");
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
    }
    store_outbox_msgs_free(msgs, n);
    is_str(row_text(t1, "attempts", buf, sizeof(buf)), "2", "attempts 2 in the row");

    /* A result for a row that is not 'sending' changes nothing. */
    struct tl_outbox_result late = {s1, TL_OUTBOX_FAILED, NULL, "late", 0};
    is_int(store_outbox_results(st, "sms", &late, 1, NOW + 2), TL_OK, "result for a sent row");
    state_is(s1, "sent", "a result does not touch a row that is not sending");

    int64_t want[TL_OUTBOX_NSTATES] = {0, 1, 1, 0, 1, 0, 0};
    counts_are(want, "after results");
    finish();
}

static void test_expiry_recover(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;

    if (!fresh("expiry.db"))
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
        ok(0, "claim for %s", pid);
    store_outbox_msgs_free(msgs, n);
    struct tl_outbox_result r = {id, TL_OUTBOX_SENT, pid, NULL, 0};
    if (store_outbox_results(st, channel, &r, 1, NOW) != TL_OK)
        ok(0, "result for %s", pid);
    return id;
}

static void test_dlr(void)
{
    char buf[64];

    if (!fresh("dlr.db"))
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
    finish();
}

static void test_dlr_before_result(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;
    char buf[64];

    if (!fresh("early.db"))
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

/* Provider ids wait in provider_ids_staged until moved; a report never misses a staged one. */
static void test_provider_ids_staged(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;

    if (!fresh("staged.db"))
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

    /* A retried message answers only to its latest attempt's id. */
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

    /* Many results: the staged ids are moved in bulk as they pile up. */
    enum { MANY = 20500 };
    is_int(store_tx_begin(st), TL_OK, "begin");
    for (int i = 0; i < MANY; i++)
        add("bulk", "+923003333333", "bulk", TL_OUT_ALERT, 0);
    is_int(store_tx_commit(st), TL_OK, "many queued");
    is_int(store_outbox_claim(st, "bulk", NOW_MS, MANY, &msgs, &n), TL_OK, "claim them");
    is_int(n, MANY, "all claimed");
    struct tl_outbox_result *r = calloc(n, sizeof(*r));
    char(*pids)[24] = calloc(n, sizeof(*pids));
    for (size_t i = 0; i < n; i++) {
        snprintf(pids[i], sizeof(pids[i]), "B-%zu", i);
        r[i] = (struct tl_outbox_result){msgs[i].id, TL_OUTBOX_SENT, pids[i], NULL, 0};
    }
    int64_t last = n ? msgs[n - 1].id : 0;
    store_outbox_msgs_free(msgs, n);
    is_int(store_outbox_results(st, "bulk", r, n, NOW + 6), TL_OK, "their results");
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
    is_int(peek_int("SELECT count(*) FROM provider_ids WHERE channel = 'bulk'"), MANY,
           "every id is in provider_ids");
    struct tl_outbox_dlr bulk = {"bulk", pids[MANY - 1], 0, TL_OUTBOX_DELIVERED, "Success", NULL};
    is_int(store_outbox_dlr(st, &bulk, NOW + 7), TL_OK, "a report matches a moved id");
    state_is(last, "delivered", "and applies to its message");
    free(r);
    free(pids);
    finish();
}

static void test_cancel_and_tx(void)
{
    struct tl_outbox_msg *msgs = NULL;
    size_t n = 0;

    if (!fresh("cancel.db"))
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
    is_int(store_subscriber_set_opted_out(st, stop, true, NOW + 1), TL_OK, "STOP opts out");
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

    is_str(store_outbox_state_name(TL_OUTBOX_CANCELLED), "cancelled", "state name cancelled");
    is_str(store_outbox_state_name(TL_OUTBOX_QUEUED), "queued", "state name queued");
    is_str(store_outbox_state_name((enum tl_outbox_state)7), "?", "state name out of range");
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
    test_pool();
    rmdir(dir);
    ok(access(dir, F_OK) != 0, "temporary directory removed");
    return done_testing();
}
