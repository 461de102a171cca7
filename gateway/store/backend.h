/*
 * backend.h — what every store backend MUST provide (private to
 * gateway/store/): the operations of store.h, store_api.h, store_feed.h
 * and store_stats.h, as one table.
 *
 * A backend (sqlite*.c, pg*.c) defines one function per entry, named
 * <backend>_<op> with the prototype given here, and one const table of
 * them (sqlite_store_ops, pg_store_ops) built with the same list, so a
 * missing operation is a compile error. Every store and reader a backend
 * opens begins with a pointer to its table (struct tl_store_head), which
 * the front (store.c) follows: the domain code calls store_<op>() and never
 * knows which backend answers.
 *
 * STORE_OPS(X, XV): X(return type, op, (parameters), (arguments)) for an
 * operation returning a value, XV(op, (parameters), (arguments)) for one
 * returning nothing. The first parameter is the store or reader.
 */
#ifndef TALAASH_STORE_BACKEND_H
#define TALAASH_STORE_BACKEND_H

#include "gateway/store/store.h"
#include "gateway/store/store_api.h"
#include "gateway/store/store_feed.h"
#include "gateway/store/store_stats.h"
#include "parsers/casenum.h"

#define STORE_OPS(X, XV) \
    XV(close, (struct tl_store *st), (st)) \
    X(int, ping, (struct tl_store *st), (st)) \
    X(int, schema_version, (struct tl_store *st), (st)) \
    X(int, integrity_check, (struct tl_store *st, char **cause), (st, cause)) \
    X(int, tx_begin, (struct tl_store *st), (st)) \
    X(int, tx_commit, (struct tl_store *st), (st)) \
    XV(tx_rollback, (struct tl_store *st), (st)) \
    X(const char *, errmsg, (struct tl_store *st), (st)) \
    X(bool, writable, (struct tl_store *st, const char **reason), (st, reason)) \
    X(int, write_probe, (struct tl_store *st), (st)) \
    XV(on_health, (struct tl_store *st, void (*cb)(void *arg, bool writable, const char *reason, long failures), void *arg), (st, cb, arg)) \
    X(bool, leads, (struct tl_store *st), (st)) \
    X(int64_t, idle_look_ms, (struct tl_store *st), (st)) \
    XV(set_node, (struct tl_store *st, const char *node, int64_t lease_ms), (st, node, lease_ms)) \
    X(int64_t, rate_take, (struct tl_store *st, const char *channel, double rate, double burst, int64_t want, int64_t now_ms), (st, channel, rate, burst, want, now_ms)) \
    X(int, areas_replace, (struct tl_store *st, const struct tl_area_row *rows, size_t n), (st, rows, n)) \
    X(int, inbound_insert, (struct tl_store *st, const struct tl_inbound_row *row, int64_t *id), (st, row, id)) \
    X(int, inbound_set_state, (struct tl_store *st, int64_t id, const char *state, int64_t now), (st, id, state, now)) \
    X(bool, inbound_processed, (struct tl_store *st, int64_t id), (st, id)) \
    X(int64_t, inbound_count, (struct tl_store *st), (st)) \
    X(int, outbox_add, (struct tl_store *st, const struct tl_outbox_new *m, int64_t now, int64_t *id), (st, m, now, id)) \
    X(int, outbox_claim, (struct tl_store *st, const char *channel, int64_t now_ms, size_t max, struct tl_outbox_msg **msgs, size_t *n), (st, channel, now_ms, max, msgs, n)) \
    X(int, outbox_claim_pool, (struct tl_store *st, const char *channel, const char *pool, size_t pool_max, int64_t now_ms, size_t max, struct tl_outbox_msg **msgs, size_t *n), (st, channel, pool, pool_max, now_ms, max, msgs, n)) \
    X(int, outbox_results, (struct tl_store *st, const char *channel, const struct tl_outbox_result *results, size_t n, int64_t now), (st, channel, results, n, now)) \
    X(int64_t, outbox_next_due, (struct tl_store *st, const char *channel), (st, channel)) \
    X(int64_t, outbox_recover, (struct tl_store *st), (st)) \
    X(int, outbox_dlr, (struct tl_store *st, const struct tl_outbox_dlr *d, int64_t now), (st, d, now)) \
    X(int64_t, provider_ids_staged, (struct tl_store *st), (st)) \
    X(int, provider_ids_plan, (struct tl_store *st, size_t every, struct tl_prune_cursor **bounds, size_t *n), (st, every, bounds, n)) \
    X(int, provider_ids_move_range, (struct tl_store *st, const struct tl_prune_cursor *after, const struct tl_prune_cursor *upto, int64_t *moved), (st, after, upto, moved)) \
    X(int64_t, dlr_pending_prune, (struct tl_store *st, int64_t before), (st, before)) \
    X(int, outbox_counts, (struct tl_store *st, int64_t counts[TL_OUTBOX_NSTATES]), (st, counts)) \
    X(int, alert_counts, (struct tl_store *st, int64_t alert_id, const char *channel, int64_t counts[TL_OUTBOX_NSTATES]), (st, alert_id, channel, counts)) \
    X(int, prune_step, (struct tl_store *st, enum tl_prune_table t, int64_t cut, struct tl_prune_cursor *c, size_t rows, int64_t *deleted), (st, t, cut, c, rows, deleted)) \
    X(int, prune_due, (struct tl_store *st, int64_t sent_before), (st, sent_before)) \
    X(int, prune_mark_cases, (struct tl_store *st, int64_t sent_before, int64_t now), (st, sent_before, now)) \
    X(int, case_insert, (struct tl_store *st, struct tl_case *c), (st, c)) \
    X(int, case_update, (struct tl_store *st, const struct tl_case *c), (st, c)) \
    X(int, case_assign_number, (struct tl_store *st, struct tl_case *c), (st, c)) \
    X(int, case_by_number, (struct tl_store *st, const char *case_no, struct tl_case *out), (st, case_no, out)) \
    X(int, case_by_id, (struct tl_store *st, int64_t id, struct tl_case *out), (st, id, out)) \
    X(int, case_open_draft, (struct tl_store *st, const char *phone, int64_t since, struct tl_case *out), (st, phone, since, out)) \
    X(int, cases_escalating, (struct tl_store *st, int stages, int64_t **ids, size_t *n), (st, stages, ids, n)) \
    X(int64_t, cases_redact, (struct tl_store *st, int64_t before, int64_t now), (st, before, now)) \
    X(int, sighting_add, (struct tl_store *st, int64_t case_id, const char *phone, const char *text, int64_t now), (st, case_id, phone, text, now)) \
    X(int, inbound_set_case, (struct tl_store *st, int64_t inbound_id, int64_t case_id), (st, inbound_id, case_id)) \
    X(int, subscriber_touch, (struct tl_store *st, const char *phone, const char *lang, const char *channel, int64_t now, int64_t *id), (st, phone, lang, channel, now, id)) \
    X(int, subscriber_lang, (struct tl_store *st, const char *phone, const char *channel, char lang[12], bool *on_channel), (st, phone, channel, lang, on_channel)) \
    X(int, sender_areas, (struct tl_store *st, const char *phone, char ***codes, size_t *n), (st, phone, codes, n)) \
    X(int, subscription_add, (struct tl_store *st, int64_t subscriber_id, const char *area_code, int64_t now), (st, subscriber_id, area_code, now)) \
    X(int64_t, subscription_remove, (struct tl_store *st, int64_t subscriber_id, const char *area_code), (st, subscriber_id, area_code)) \
    X(int, subscriber_set_opted_out, (struct tl_store *st, const char *phone, bool opted_out, int64_t now), (st, phone, opted_out, now)) \
    X(int, police_add, (struct tl_store *st, const char *phone, const char *area_code, const char *pin_hash, int64_t now), (st, phone, area_code, pin_hash, now)) \
    X(int64_t, police_remove, (struct tl_store *st, const char *phone), (st, phone)) \
    X(int, police_list, (struct tl_store *st, const char *phone, struct tl_police **out, size_t *n), (st, phone, out, n)) \
    X(int, pin_failure, (struct tl_store *st, const char *key, int64_t max, int64_t lock_s, int64_t now, int64_t *locked_until), (st, key, max, lock_s, now, locked_until)) \
    X(int64_t, pin_locked_until, (struct tl_store *st, const char *key, int64_t now), (st, key, now)) \
    X(int64_t, pin_clear, (struct tl_store *st, const char *key), (st, key)) \
    X(int, police_phones_for, (struct tl_store *st, const char *area_codes_json, char ***phones, size_t *n), (st, area_codes_json, phones, n)) \
    X(bool, blocked, (struct tl_store *st, const char *phone), (st, phone)) \
    X(int, block, (struct tl_store *st, const char *phone, const char *reason, int64_t now), (st, phone, reason, now)) \
    X(int64_t, unblock, (struct tl_store *st, const char *phone), (st, phone)) \
    X(int64_t, rate_hit, (struct tl_store *st, const char *phone, const char *kind, int64_t now, int64_t window_s), (st, phone, kind, now, window_s)) \
    X(int, audit, (struct tl_store *st, const char *actor, const char *action, int64_t case_id, const char *outcome, const char *detail, int64_t now), (st, actor, action, case_id, outcome, detail, now)) \
    X(int, alert_wave, (struct tl_store *st, const struct tl_alert_wave *w, int64_t now, int64_t *alert_id, int64_t *recipients, bool *more), (st, w, now, alert_id, recipients, more)) \
    X(int, wave_fanout, (struct tl_store *st, int64_t chunk, int64_t now, struct tl_fanout_step *out), (st, chunk, now, out)) \
    X(int, alert_end, (struct tl_store *st, int64_t case_id, const char *channel, const char *text_en, const char *text_ur, const char *text_roman_ur, int64_t now, int64_t *cancelled, int64_t *recipients), (st, case_id, channel, text_en, text_ur, text_roman_ur, now, cancelled, recipients)) \
    X(int, ussd_session_get, (struct tl_store *st, const char *channel, const char *session_id, struct tl_ussd_session *out), (st, channel, session_id, out)) \
    X(int, ussd_session_put, (struct tl_store *st, const char *channel, const char *session_id, const struct tl_ussd_session *s, int64_t now), (st, channel, session_id, s, now)) \
    X(int64_t, ussd_sessions_expire, (struct tl_store *st, int64_t now), (st, now)) \
    X(int, api_cases, (struct tl_store *st, enum tl_role role, const struct tl_case_filter *f, char **json), (st, role, f, json)) \
    X(int, api_case, (struct tl_store *st, enum tl_role role, const char *case_no, char **json), (st, role, case_no, json)) \
    X(int, api_subscriber_counts, (struct tl_store *st, char **json), (st, json)) \
    X(int, api_subscriber, (struct tl_store *st, enum tl_role role, const char *phone, char **json), (st, role, phone, json)) \
    X(int, api_police, (struct tl_store *st, enum tl_role role, char **json), (st, role, json)) \
    X(int, api_blocks, (struct tl_store *st, enum tl_role role, char **json), (st, role, json)) \
    X(int, api_audit, (struct tl_store *st, enum tl_role role, int64_t before_id, int limit, char **json), (st, role, before_id, limit, json)) \
    X(int, api_idem_get, (struct tl_store *st, const char *token, const char *key, const char *method, const char *path, int *status, char **body), (st, token, key, method, path, status, body)) \
    X(int, api_idem_put, (struct tl_store *st, const char *token, const char *key, const char *method, const char *path, int status, const char *body, int64_t now), (st, token, key, method, path, status, body, now)) \
    X(int64_t, api_idem_prune, (struct tl_store *st, int64_t before), (st, before)) \
    X(int, api_resend, (struct tl_store *st, int64_t outbox_id, int64_t now, char state[16]), (st, outbox_id, now, state)) \
    X(int, feed_cases, (struct tl_store *st, int64_t since, struct tl_feed_case **out, size_t *n), (st, since, out, n)) \
    X(int, feed_case, (struct tl_store *st, const char *case_no, int64_t since, struct tl_feed_case *out), (st, case_no, since, out)) \
    X(int64_t, feed_last_ended_before, (struct tl_store *st, int64_t since), (st, since)) \
    XV(reader_close, (struct tl_store_reader *r), (r)) \
    X(int, stats_read, (struct tl_store_reader *r, struct tl_store_stats *out), (r, out)) \
    X(const char *, reader_errmsg, (struct tl_store_reader *r), (r))


struct tl_store_ops {
    const char *name; /* "sqlite", "postgresql" */
#define STORE_OP_FIELD(ret, op, params, args) ret(*op) params;
#define STORE_OPV_FIELD(op, params, args) void(*op) params;
    STORE_OPS(STORE_OP_FIELD, STORE_OPV_FIELD)
#undef STORE_OP_FIELD
#undef STORE_OPV_FIELD
};

/*
 * Write health, the same in every backend (store_writable in store.h):
 * unwritable[] holds the reason while writes fail, "" while they work.
 */
struct tl_store_health {
    char unwritable[200];
    long write_failures; /* outermost begins/commits failed since it became unwritable */
    void (*cb)(void *arg, bool writable, const char *reason, long failures);
    void *arg;
};
/*
 * Records the outcome of an outermost begin or commit: ok, or failed for
 * reason. Calls the callback at each change; true when this call changed
 * the health (so the backend adjusts its lock waits).
 */
bool store_health_note(struct tl_store_health *h, bool ok, const char *reason);
bool store_health_writable(const struct tl_store_health *h, const char **reason);

/*
 * A candidate case number, the same rule in every backend: six digits
 * (five random ones and their Damm check digit, parsers/casenum.h), never
 * starting with 0 (lost when retyped) nor with 92 (read as Pakistan's
 * code). The backend tries it and draws again when it is taken.
 */
void store_case_number_draw(char out[TL_CASENUM_LEN + 1]);

/* The first member of every backend's struct tl_store and struct tl_store_reader. */
struct tl_store_head {
    const struct tl_store_ops *ops;
};

/*
 * A backend's private header defines STORE_BACKEND_FN(op), its function's
 * name for op (sqlite_##op), before including this one: it then gets the
 * prototypes of all its operations, and its table is
 *   const struct tl_store_ops x_store_ops = {.name = "x", STORE_OPS_ENTRIES};
 */
#define STORE_OP_ENTRY(ret, op, params, args) .op = STORE_BACKEND_FN(op),
#define STORE_OPV_ENTRY(op, params, args) .op = STORE_BACKEND_FN(op),
#define STORE_OPS_ENTRIES STORE_OPS(STORE_OP_ENTRY, STORE_OPV_ENTRY)
#ifdef STORE_BACKEND_FN
#define STORE_OP_PROTO(ret, op, params, args) ret STORE_BACKEND_FN(op) params;
#define STORE_OPV_PROTO(op, params, args) void STORE_BACKEND_FN(op) params;
STORE_OPS(STORE_OP_PROTO, STORE_OPV_PROTO)
#endif

extern const struct tl_store_ops sqlite_store_ops;
extern const struct tl_store_ops pg_store_ops;

/* ---- what the front (store.c) opens through ---- */

int sqlite_open(const char *path, long busy_timeout_ms, struct tl_store **out, char **cause);
int sqlite_schema_latest(void);
int sqlite_backup(const char *path, const char *dest, long busy_timeout_ms, int64_t *pages,
                  int *version, char **cause);
int sqlite_api_open_reader(const char *path, long busy_timeout_ms, tl_area_name_fn area_ur,
                           void *ctx, struct tl_store **out, char **cause);
int sqlite_reader_open(const char *path, long busy_timeout_ms, struct tl_store_reader **out,
                       char **cause);

int pg_open(const char *url, long busy_timeout_ms, struct tl_store **out, char **cause);
int pg_schema_latest(void);
int pg_api_open_reader(const char *url, long busy_timeout_ms, tl_area_name_fn area_ur,
                       void *ctx, struct tl_store **out, char **cause);
int pg_reader_open(const char *url, long busy_timeout_ms, struct tl_store_reader **out,
                   char **cause);

#endif
