/*
 * pg_outbox.c — (PostgreSQL backend) the outbox table: adding, claiming,
 * recording results and delivery reports, the counts per state. The same
 * semantics as sqlite_outbox.c (the reference), for several nodes on one
 * database.
 *
 * Invariant: a message is a row in state 'queued' before any request for it
 * is made; 'sending' marks a request possibly in flight, on the node whose
 * claim (claimed_by, migration 2) holds it until lease_until_ms
 * (the node's lease after the claim: store_set_node). What several nodes change:
 *   - a claim is one statement: SELECT … FOR UPDATE SKIP LOCKED picks the
 *     due rows and the UPDATE marks them, so two nodes claiming at once
 *     get disjoint rows and neither waits for the other;
 *   - a row 'sending' whose lease passed (its node died mid-send) is due
 *     again for any node's claim, and start-up recovery requeues only
 *     those: a live node's rows in flight are left alone. So at most the
 *     rows in flight on a dead node go twice;
 *   - a send result applies only to rows its store claimed (claimed_by):
 *     the late result of a node whose lease passed, for a row another
 *     node claimed again, changes nothing (that node's result decides);
 *   - provider ids go straight into provider_ids with the result (no
 *     staging: SQLite stages them to rewrite its B-tree in key order;
 *     PostgreSQL's index takes random keys in shared buffers at a cost
 *     that does not grow with a backlog), so pg_provider_ids_staged()
 *     is always 0 and a plan has nothing to move.
 * Results are recorded for a whole request in one statement (arrays
 * through unnest), so a batch costs one round trip, not one per message.
 */
#include "gateway/store/pg_int.h"
#include "gateway/store/store.h"
#include "gateway/clock.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdlib.h>
#include <string.h>


/* Index of a state's name in store_outbox_state_names, or -1. */
static int state_index(const char *name)
{
    for (int i = 0; name != NULL && i < TL_OUTBOX_NSTATES; i++)
        if (strcmp(name, store_outbox_state_names[i]) == 0)
            return i;
    return -1;
}

/* Appends one element to a PostgreSQL array literal being built in b (NULL: SQL NULL). */
static void array_add(struct tl_buf *b, const char *v)
{
    tl_buf_append_char(b, b->len == 0 ? '{' : ',');
    if (v == NULL) {
        tl_buf_append_str(b, "NULL");
        return;
    }
    tl_buf_append_char(b, '"');
    for (const char *c = v; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\')
            tl_buf_append_char(b, '\\');
        tl_buf_append_char(b, *c);
    }
    tl_buf_append_char(b, '"');
}

static void array_add_i64(struct tl_buf *b, int64_t v)
{
    tl_buf_append_char(b, b->len == 0 ? '{' : ',');
    tl_buf_appendf(b, "%lld", (long long)v);
}

/* Closes an array literal (an empty one is "{}"); returns its text, owned by b. */
static const char *array_end(struct tl_buf *b)
{
    if (b->len == 0)
        tl_buf_append_char(b, '{');
    tl_buf_append_char(b, '}');
    return tl_buf_str(b);
}

int pg_outbox_add(struct tl_store *st, const struct tl_outbox_new *m, int64_t now, int64_t *id)
{
    struct pg_params p = {0};
    /* police before replies before bulk: alerts and updates share priority 2 */
    int priority = m->kind == TL_OUT_POLICE ? 0 : m->kind == TL_OUT_REPLY ? 1 : 2;

    pg_p_text(&p, m->channel);
    pg_p_text(&p, m->phone);
    pg_p_text(&p, m->text);
    pg_p_text(&p, store_outbox_kind_names[m->kind]);
    pg_p_i64(&p, priority);
    pg_p_i64_or_null(&p, m->expires_at);
    pg_p_i64_or_null(&p, m->case_id);
    pg_p_i64_or_null(&p, m->alert_id);
    pg_p_i64_or_null(&p, m->inbound_id);
    pg_p_i64(&p, now);
    int64_t got = pg_query_i64(st,
                               "INSERT INTO outbox (channel, pool, phone, text, kind, priority,"
                               " state, next_attempt_ms, expires_at, case_id, alert_id,"
                               " inbound_id, created_at, updated_at) VALUES ($1, "
                               PG_POOL_OF("$1::text") ", $2, $3, $4, $5, 'queued', 0,"
                               " $6, $7, $8, $9, $10, $10) RETURNING id",
                               &p, -1);
    if (got <= 0)
        return TL_ERR_STORE;
    if (id != NULL)
        *id = got;
    return TL_OK;
}

/*
 * One round of a claim, one statement: up to $3 rows of channel $1 due at
 * $2 (ms) — queued and due, or 'sending' with a lease that passed (a range
 * of outbox_sending, whatever the rows in flight) — locked
 * with SKIP LOCKED (rows another node is claiming right now are not waited
 * for, nor taken), in queue order; each becomes 'expired' (past
 * expires_at, $4 = now in seconds), 'cancelled' (an alert or update to an
 * opted-out number) or 'sending' with attempts + 1, the lease ($6 ms,
 * store_set_node) and this node's name ($5). A bulk row's text is its wave's in the row's language,
 * else its recipient's saved one. The rows come back in queue order with
 * the state each got.
 */
static const char claim_sql[] =
    "WITH due AS MATERIALIZED ("
    "  SELECT id FROM outbox WHERE channel = $1 AND state = 'queued' AND next_attempt_ms <= $2"
    "  ORDER BY priority, next_attempt_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED),"
    " pooled AS MATERIALIZED ("
    "  SELECT id FROM outbox WHERE channel = $7 AND state = 'queued' AND next_attempt_ms <= $2"
    "  ORDER BY priority, next_attempt_ms, id LIMIT $8 FOR UPDATE SKIP LOCKED),"
    " lapsed AS MATERIALIZED ("
    "  SELECT id FROM outbox WHERE state = 'sending' AND lease_until_ms <= $2 AND channel = $1"
    "  ORDER BY lease_until_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED),"
    " pick AS MATERIALIZED ("
    "  SELECT o.id, o.channel = $7 AS from_pool,"
    "   CASE WHEN coalesce(o.expires_at, 0) > 0 AND o.expires_at <= $4 THEN 'expired'"
    "    WHEN o.kind IN ('alert', 'update') AND coalesce(s.opted_out, 0) <> 0 THEN 'cancelled'"
    "    ELSE 'sending' END AS next,"
    "   coalesce(o.text, CASE coalesce(o.lang, s.lang) WHEN 'ur' THEN a.text_ur"
    "    WHEN 'roman-ur' THEN a.text_roman_ur ELSE a.text_en END) AS body"
    "  FROM outbox o LEFT JOIN alerts a ON a.id = o.alert_id"
    "  LEFT JOIN subscribers s ON s.phone = o.phone"
    "  WHERE o.id IN (SELECT id FROM due UNION ALL SELECT id FROM pooled"
    "   UNION ALL SELECT id FROM lapsed)"
    "  ORDER BY o.priority, o.next_attempt_ms, o.id LIMIT $3),"
    " upd AS ("
    "  UPDATE outbox o SET state = p.next,"
    "   attempts = o.attempts + CASE WHEN p.next = 'sending' THEN 1 ELSE 0 END,"
    "   lease_until_ms = CASE WHEN p.next = 'sending'"
    "    THEN $2::bigint + $6::bigint ELSE NULL END,"
    "   claimed_by = $5, updated_at = $4,"
    "   channel = CASE WHEN p.next = 'sending' THEN $1 ELSE o.channel END"
    "  FROM pick p WHERE o.id = p.id"
    "  RETURNING o.id, o.phone, p.body, o.kind, o.attempts, o.priority, o.next_attempt_ms, p.next,"
    "   p.from_pool)"
    " SELECT id, phone, body, kind, attempts, priority, next_attempt_ms, next, from_pool FROM upd"
    " ORDER BY priority, next_attempt_ms, id";

int pg_outbox_claim(struct tl_store *st, const char *channel, int64_t now_ms, size_t max,
                    struct tl_outbox_msg **msgs, size_t *n)
{
    return pg_outbox_claim_pool(st, channel, NULL, 0, now_ms, max, msgs, n);
}

/*
 * The claim of a channel that also sends from the alert pool ($7, at most
 * $8 rows of it): a pool row claimed to be sent becomes the channel's
 * (its result and reports are the channel's); the pool stays in its row.
 */
int pg_outbox_claim_pool(struct tl_store *st, const char *channel, const char *pool,
                         size_t pool_max, int64_t now_ms, size_t max, struct tl_outbox_msg **msgs,
                         size_t *n)
{
    struct tl_outbox_msg *out = xcalloc(max ? max : 1, sizeof(*out));
    size_t count = 0, pool_taken = 0;
    bool more = true;

    if (pool == NULL)
        pool_max = 0;

    *msgs = NULL;
    *n = 0;
    /*
     * Rounds until max are claimed or no due row is left (expired and
     * stopped rows do not count; a few rounds bound the work of one call).
     * Each round is its own statement: outside a transaction it commits at
     * once, so a round that fails leaves the rounds before it claimed —
     * they are returned (TL_OK); inside the caller's transaction it fails
     * the whole call.
     */
    for (int round = 0; more && count < max && round < 8; round++) {
        struct pg_params p = {0};
        size_t want = max - count;

        pg_p_text(&p, channel);
        pg_p_i64(&p, now_ms);
        pg_p_i64(&p, (int64_t)want);
        pg_p_i64(&p, now_ms / 1000);
        pg_p_text(&p, st->node);
        pg_p_i64(&p, st->lease_ms);
        pg_p_text(&p, pool);
        size_t pool_want = pool_max - pool_taken < want ? pool_max - pool_taken : want;
        pg_p_i64(&p, (int64_t)pool_want);
        PGresult *res = pg_query(st, claim_sql, &p);
        if (res == NULL) {
            if (count > 0 && st->tx_depth == 0)
                break;
            store_outbox_msgs_free(out, count);
            return TL_ERR_STORE;
        }
        int rows = PQntuples(res);
        for (int r = 0; r < rows && count < max; r++) {
            if (strcmp(PQgetvalue(res, r, 8), "t") == 0)
                pool_taken++;
            if (strcmp(PQgetvalue(res, r, 7), "sending") != 0)
                continue; /* expired or cancelled: never sent */
            struct tl_outbox_msg *m = &out[count++];
            const char *kind = PQgetvalue(res, r, 3);
            m->id = pg_i64(res, r, 0);
            m->phone = pg_dup(res, r, 1);
            m->text = pg_dup(res, r, 2);
            m->kind = TL_OUT_UPDATE;
            for (int k = 0; k < TL_OUTBOX_NKINDS; k++)
                if (strcmp(kind, store_outbox_kind_names[k]) == 0)
                    m->kind = k;
            m->attempts = (int)pg_i64(res, r, 4);
            m->priority = (int)pg_i64(res, r, 5);
            m->due_ms = pg_i64(res, r, 6);
            if (m->text == NULL)
                m->text = xstrdup(""); /* a wave's row whose alert is gone: nothing to say */
        }
        PQclear(res);
        more = (size_t)rows == want;
    }
    *msgs = out;
    *n = count;
    return TL_OK;
}

/* The states no delivery report moves a message out of (SQL list). */
#define DLR_FINAL_STATES "('delivered','failed','expired','cancelled')"

/* Applies a report to the messages it names; how many matched, or -1 on error. */
static int64_t dlr_apply(struct tl_store *st, const struct tl_outbox_dlr *d, const char *state,
                         int64_t now)
{
    struct pg_params p = {0};
    char our[24];
    int64_t changed = 0;

    snprintf(our, sizeof(our), "%lld", (long long)d->our_id);
    pg_p_text(&p, d->channel);
    pg_p_text(&p, d->provider_id);
    pg_p_text(&p, d->our_id > 0 ? our : NULL);
    pg_p_text(&p, state);
    pg_p_text(&p, d->status_raw);
    pg_p_text(&p, d->error);
    pg_p_i64(&p, now);
    /*
     * As sqlite_outbox.c: a final message keeps its state, raw status and
     * error; otherwise the new state applies unless the report is 'sent'
     * for a message already past it, and an unknown status ($4 NULL) only
     * records the raw status. The candidates are the messages provider_ids
     * maps the id to, and our id; a message matches by our id, or by the
     * provider id it has now. (The UPDATE locks the row: a claim or result
     * of another node at the same moment is applied before or after it,
     * never mixed.)
     */
    if (pg_command(st,
                   "UPDATE outbox SET"
                   " state = CASE WHEN $4::text IS NULL THEN state"
                   "   WHEN state IN " DLR_FINAL_STATES " THEN state"
                   "   WHEN $4 = 'sent' AND state <> 'sending' THEN state"
                   "   ELSE $4 END,"
                   " dlr_status = CASE WHEN state IN " DLR_FINAL_STATES
                   "   AND dlr_status IS NOT NULL THEN dlr_status ELSE $5 END,"
                   " error = CASE WHEN state IN " DLR_FINAL_STATES
                   "   AND dlr_status IS NOT NULL THEN error ELSE coalesce($6, error) END,"
                   " updated_at = $7"
                   " WHERE id IN (SELECT outbox_id FROM provider_ids"
                   "   WHERE channel = $1 AND provider_id = $2 UNION ALL SELECT $3::bigint)"
                   " AND channel = $1 AND (id = $3::bigint OR provider_id = $2)",
                   &p, &changed) != TL_OK)
        return -1;
    return changed;
}

int pg_outbox_dlr(struct tl_store *st, const struct tl_outbox_dlr *d, int64_t now)
{
    const char *state = d->state == TL_OUTBOX_QUEUED ? NULL : store_outbox_state_names[d->state];
    int64_t matched = dlr_apply(st, d, state, now);

    if (matched < 0)
        return TL_ERR_STORE;
    if (matched > 0)
        return TL_OK;
    if (d->provider_id == NULL)
        return TL_ERR_NOT_FOUND;
    /* Not matched yet: keep it for when the send result arrives. */
    struct pg_params p = {0};
    pg_p_text(&p, d->channel);
    pg_p_text(&p, d->provider_id);
    pg_p_text(&p, d->status_raw);
    pg_p_text(&p, state ? state : "queued");
    pg_p_text(&p, d->error);
    pg_p_i64(&p, now);
    if (pg_command(st,
                   "INSERT INTO dlr_pending AS d (channel, provider_id, status_raw, state, error,"
                   " received_at) VALUES ($1, $2, $3, $4, $5, $6)"
                   " ON CONFLICT (channel, provider_id) DO UPDATE SET"
                   " status_raw = excluded.status_raw, state = excluded.state,"
                   " error = excluded.error, received_at = excluded.received_at"
                   " WHERE d.state NOT IN " DLR_FINAL_STATES,
                   &p, NULL) != TL_OK)
        return TL_ERR_STORE;
    /*
     * Another node may have committed the send result between the first
     * look and the report's keeping, and looked for pending reports before
     * this one was kept: look once more (a statement sees what committed
     * before it began). If the result committed after this look began, its
     * node's own look for pending reports comes later still and finds this
     * one. (Inside an open transaction the report is only kept at its
     * commit, so a result committed meanwhile on another node may miss it:
     * it then stays pending, and is pruned after a week.)
     */
    if ((matched = dlr_apply(st, d, state, now)) < 0)
        return TL_ERR_STORE;
    if (matched == 0)
        return TL_ERR_NOT_FOUND;
    struct pg_params q = {0};
    pg_p_text(&q, d->channel);
    pg_p_text(&q, d->provider_id);
    return pg_command(st, "DELETE FROM dlr_pending WHERE channel = $1 AND provider_id = $2", &q,
                      NULL);
}

/* Applies the pending delivery report of provider_id (if still there) to its message. */
static int apply_pending_dlr(struct tl_store *st, const char *channel, const char *provider_id,
                             int64_t now)
{
    struct pg_params p = {0};
    int rc = TL_OK;

    if (pg_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    pg_p_text(&p, channel);
    pg_p_text(&p, provider_id);
    PGresult *res = pg_query(st,
                             "DELETE FROM dlr_pending WHERE channel = $1 AND provider_id = $2"
                             " RETURNING status_raw, state, error",
                             &p);
    if (res == NULL) {
        pg_tx_rollback(st);
        return TL_ERR_STORE;
    }
    if (PQntuples(res) == 1) {
        int s = state_index(PQgetvalue(res, 0, 1));
        /* By the provider id (not our id): it names the message only while that id is its latest. */
        struct tl_outbox_dlr d = {
            .channel = channel,
            .provider_id = provider_id,
            .state = s < 0 ? TL_OUTBOX_QUEUED : (enum tl_outbox_state)s,
            .status_raw = pg_null(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
            .error = pg_null(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2),
        };
        rc = pg_outbox_dlr(st, &d, now);
        if (rc == TL_ERR_NOT_FOUND)
            rc = TL_OK; /* kept pending again */
    }
    PQclear(res);
    if (rc != TL_OK || pg_tx_commit(st) != TL_OK) {
        pg_tx_rollback(st);
        return TL_ERR_STORE;
    }
    return TL_OK;
}

/*
 * A request's results, one statement: a message 'sending' under this
 * store's claim ($6) takes its result. One whose delivery report came
 * first (Kannel's dlr-url can beat sendsms's answer) keeps the report's
 * state, and takes the result's provider id and note (an error it has none
 * of) when the result is a success. Rows claimed by another node since (a
 * lease that passed) are not this store's: nothing changes. The provider
 * ids of the rows that took them go into provider_ids.
 */
static const char results_sql[] =
    "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],"
    "   $5::bigint[]) AS r (id, state, pid, err, next_ms)),"
    " upd AS ("
    "  UPDATE outbox o SET"
    "   state = CASE WHEN o.state = 'sending' THEN r.state ELSE o.state END,"
    "   provider_id = coalesce(r.pid, o.provider_id),"
    "   error = CASE WHEN o.state = 'sending' THEN r.err ELSE coalesce(o.error, r.err) END,"
    "   next_attempt_ms = CASE WHEN o.state = 'sending' THEN r.next_ms ELSE o.next_attempt_ms END,"
    "   channel = CASE WHEN o.state = 'sending' AND r.state = 'queued'"
    "    THEN coalesce(o.pool, o.channel) ELSE o.channel END,"
    "   lease_until_ms = NULL, updated_at = $7"
    "  FROM r WHERE o.id = r.id AND o.claimed_by = $6"
    "  AND (o.state = 'sending' OR (r.state = 'sent' AND o.dlr_status IS NOT NULL))"
    "  RETURNING o.id, r.pid)"
    " INSERT INTO provider_ids (channel, provider_id, outbox_id)"
    " SELECT $8, pid, id FROM upd WHERE pid IS NOT NULL ON CONFLICT DO NOTHING";

int pg_outbox_results(struct tl_store *st, const char *channel,
                      const struct tl_outbox_result *results, size_t n, int64_t now)
{
    struct tl_buf ids = {0}, states = {0}, pids = {0}, errs = {0}, nexts = {0}, with_pid = {0};
    struct pg_params p = {0};
    int rc = TL_ERR_STORE;

    if (n == 0)
        return TL_OK;
    for (size_t i = 0; i < n; i++) {
        array_add_i64(&ids, results[i].id);
        array_add(&states, store_outbox_state_name(results[i].state));
        array_add(&pids, results[i].provider_id);
        array_add(&errs, results[i].error);
        array_add_i64(&nexts, results[i].next_attempt_ms);
        if (results[i].provider_id != NULL)
            array_add(&with_pid, results[i].provider_id);
    }
    pg_p_text(&p, array_end(&ids));
    pg_p_text(&p, array_end(&states));
    pg_p_text(&p, array_end(&pids));
    pg_p_text(&p, array_end(&errs));
    pg_p_text(&p, array_end(&nexts));
    pg_p_text(&p, st->node);
    pg_p_i64(&p, now);
    pg_p_text(&p, channel);
    /* Outside a transaction this commits at once: the outcomes are one statement, atomic. */
    if (pg_command(st, results_sql, &p, NULL) != TL_OK)
        goto out;
    rc = TL_OK;
    if (with_pid.len == 0)
        goto out;
    /*
     * Then any delivery report that arrived before its result (dlr_pending),
     * looked up after the results committed — so a report kept meanwhile by
     * another node is found here, or that node's second look finds the
     * result (pg_outbox_dlr). By every result's id, applied or not, like
     * sqlite_outbox.c: results stored again after a failure here still
     * apply their reports.
     */
    struct pg_params q = {0};
    pg_p_text(&q, channel);
    pg_p_text(&q, array_end(&with_pid));
    PGresult *res = pg_query(st,
                             "SELECT provider_id FROM dlr_pending WHERE channel = $1"
                             " AND provider_id = ANY ($2::text[])",
                             &q);
    if (res == NULL) {
        rc = TL_ERR_STORE;
        goto out;
    }
    for (int r = 0; rc == TL_OK && r < PQntuples(res); r++)
        rc = apply_pending_dlr(st, channel, PQgetvalue(res, r, 0), now);
    PQclear(res);
out:
    tl_buf_free(&ids);
    tl_buf_free(&states);
    tl_buf_free(&pids);
    tl_buf_free(&errs);
    tl_buf_free(&nexts);
    tl_buf_free(&with_pid);
    return rc;
}

int64_t pg_outbox_next_due(struct tl_store *st, const char *channel)
{
    struct pg_params p = {0};

    pg_p_text(&p, channel);
    /*
     * One index seek per priority (outbox_due is channel, priority,
     * next_attempt_ms), as sqlite_outbox.c; and the earliest lease of the
     * channel's rows in flight (outbox_sending), so that a node whose queue
     * is empty wakes when a dead node's rows become its to send. A wave's
     * rows are due at 0 (at once): that is 1 here, as 0 says "none".
     */
    return pg_query_i64(st,
                        "SELECT CASE WHEN m IS NULL THEN 0 ELSE greatest(m, 1) END FROM (SELECT least("
                        " (SELECT min(next_attempt_ms) FROM outbox WHERE channel = $1"
                        "  AND state = 'queued' AND priority = 0),"
                        " (SELECT min(next_attempt_ms) FROM outbox WHERE channel = $1"
                        "  AND state = 'queued' AND priority = 1),"
                        " (SELECT min(next_attempt_ms) FROM outbox WHERE channel = $1"
                        "  AND state = 'queued' AND priority = 2),"
                        " (SELECT min(lease_until_ms) FROM outbox WHERE state = 'sending'"
                        "  AND channel = $1)) AS m) AS due",
                        &p, 0);
}

/*
 * Another node may queue rows at any time (a wave committed there kicks
 * only that node's sender): an idle sender looks again this often, and
 * joins a broadcast within it.
 */
int64_t pg_idle_look_ms(struct tl_store *st)
{
    (void)st;
    return PG_IDLE_LOOK_MS;
}

int64_t pg_outbox_recover(struct tl_store *st)
{
    struct pg_params p = {0};
    int64_t changed = 0;

    /*
     * At start: the rows this node left 'sending' when it stopped (marked
     * with its name: store_set_node) and those whose lease passed (any node
     * that died) go back to 'queued'. A row 'sending' within its lease and
     * marked by another node is that live node's request in flight:
     * resetting it would send it twice. Reads the partial index of rows in
     * flight (outbox_sending).
     */
    pg_p_i64(&p, clock_now_ms());
    pg_p_text(&p, st->node);
    if (pg_command(st,
                   "UPDATE outbox SET state = 'queued', lease_until_ms = NULL, claimed_by = NULL,"
                   " channel = coalesce(pool, channel)"
                   " WHERE state = 'sending' AND (lease_until_ms IS NULL OR lease_until_ms <= $1"
                   " OR claimed_by = $2)",
                   &p, &changed) != TL_OK)
        return -1;
    return changed;
}

/*
 * No staging on PostgreSQL (see the top): nothing waits, a plan has no
 * slice, a move moves nothing — the contract holds with every id already
 * in provider_ids.
 */
int64_t pg_provider_ids_staged(struct tl_store *st)
{
    (void)st;
    return 0;
}

int pg_provider_ids_plan(struct tl_store *st, size_t every, struct tl_prune_cursor **bounds,
                         size_t *n)
{
    (void)st, (void)every;
    *bounds = NULL;
    *n = 0;
    return TL_OK;
}

int pg_provider_ids_move_range(struct tl_store *st, const struct tl_prune_cursor *after,
                               const struct tl_prune_cursor *upto, int64_t *moved)
{
    (void)st, (void)after, (void)upto;
    *moved = 0;
    return TL_OK;
}

int64_t pg_dlr_pending_prune(struct tl_store *st, int64_t before)
{
    struct pg_params p = {0};
    int64_t changed = 0;

    pg_p_i64(&p, before);
    if (pg_command(st, "DELETE FROM dlr_pending WHERE received_at < $1", &p, &changed) != TL_OK)
        return -1;
    return changed;
}

/* Reads (state, count) rows into counts (zeroed first). */
static int counts_read(PGresult *res, int64_t counts[TL_OUTBOX_NSTATES])
{
    memset(counts, 0, sizeof(int64_t) * TL_OUTBOX_NSTATES);
    if (res == NULL)
        return TL_ERR_STORE;
    for (int r = 0; r < PQntuples(res); r++) {
        int s = state_index(PQgetvalue(res, r, 0));
        if (s >= 0)
            counts[s] = pg_i64(res, r, 1);
    }
    PQclear(res);
    return TL_OK;
}

int pg_outbox_counts(struct tl_store *st, int64_t counts[TL_OUTBOX_NSTATES])
{
    return counts_read(pg_query(st, "SELECT state, count(*) FROM outbox GROUP BY state", NULL),
                       counts);
}

int pg_alert_counts(struct tl_store *st, int64_t alert_id, const char *channel,
                    int64_t counts[TL_OUTBOX_NSTATES])
{
    struct pg_params p = {0};

    pg_p_i64(&p, alert_id);
    pg_p_text(&p, channel);
    /* The rows still in the outbox and those pruning folded into outbox_tallies (pg_prune.c). */
    return counts_read(pg_query(st,
                                "SELECT state, sum(n) FROM ("
                                " SELECT state, count(*) AS n FROM outbox WHERE alert_id = $1"
                                "  AND ($2::text IS NULL OR channel = $2) GROUP BY state"
                                " UNION ALL SELECT state, sum(n) FROM outbox_tallies"
                                "  WHERE alert_id = $1 AND ($2::text IS NULL OR channel = $2)"
                                "  GROUP BY state) s GROUP BY state",
                                &p),
                       counts);
}
