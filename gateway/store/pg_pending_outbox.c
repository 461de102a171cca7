/*
 * pg_pending_outbox.c — operations of the PostgreSQL backend not written yet
 * (outbox); each answers that it is not built. Delete an entry when its
 * real one lands; delete the file when it is empty.
 */
#include "gateway/store/pg_int.h"
#include "common/result.h"

int pg_outbox_add(struct tl_store *st, const struct tl_outbox_new *m, int64_t now, int64_t *id)
{
    (void)st, (void)m, (void)now, (void)id;
    return TL_ERR_UNSUPPORTED;
}

int pg_outbox_claim(struct tl_store *st, const char *channel, int64_t now_ms, size_t max, struct tl_outbox_msg **msgs, size_t *n)
{
    (void)st, (void)channel, (void)now_ms, (void)max, (void)msgs, (void)n;
    return TL_ERR_UNSUPPORTED;
}

int pg_outbox_results(struct tl_store *st, const char *channel, const struct tl_outbox_result *results, size_t n, int64_t now)
{
    (void)st, (void)channel, (void)results, (void)n, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_outbox_next_due(struct tl_store *st, const char *channel)
{
    (void)st, (void)channel;
    return -1;
}

int64_t pg_outbox_recover(struct tl_store *st)
{
    (void)st;
    return -1;
}

int pg_outbox_dlr(struct tl_store *st, const struct tl_outbox_dlr *d, int64_t now)
{
    (void)st, (void)d, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_provider_ids_staged(struct tl_store *st)
{
    (void)st;
    return -1;
}

int pg_provider_ids_plan(struct tl_store *st, size_t every, struct tl_prune_cursor **bounds, size_t *n)
{
    (void)st, (void)every, (void)bounds, (void)n;
    return TL_ERR_UNSUPPORTED;
}

int pg_provider_ids_move_range(struct tl_store *st, const struct tl_prune_cursor *after, const struct tl_prune_cursor *upto, int64_t *moved)
{
    (void)st, (void)after, (void)upto, (void)moved;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_dlr_pending_prune(struct tl_store *st, int64_t before)
{
    (void)st, (void)before;
    return -1;
}

int pg_outbox_counts(struct tl_store *st, int64_t counts[TL_OUTBOX_NSTATES])
{
    (void)st, (void)counts;
    return TL_ERR_UNSUPPORTED;
}

int pg_alert_counts(struct tl_store *st, int64_t alert_id, const char *channel, int64_t counts[TL_OUTBOX_NSTATES])
{
    (void)st, (void)alert_id, (void)channel, (void)counts;
    return TL_ERR_UNSUPPORTED;
}

int pg_prune_step(struct tl_store *st, enum tl_prune_table t, int64_t cut, struct tl_prune_cursor *c, size_t rows, int64_t *deleted)
{
    (void)st, (void)t, (void)cut, (void)c, (void)rows, (void)deleted;
    return TL_ERR_UNSUPPORTED;
}

int pg_prune_due(struct tl_store *st, int64_t sent_before)
{
    (void)st, (void)sent_before;
    return TL_ERR_UNSUPPORTED;
}

int pg_prune_mark_cases(struct tl_store *st, int64_t sent_before, int64_t now)
{
    (void)st, (void)sent_before, (void)now;
    return TL_ERR_UNSUPPORTED;
}
