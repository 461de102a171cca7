/*
 * pg_pending_read.c — operations of the PostgreSQL backend not written yet
 * (read); each answers that it is not built. Delete an entry when its
 * real one lands; delete the file when it is empty.
 */
#include "gateway/store/pg_int.h"
#include "common/result.h"

int pg_api_cases(struct tl_store *st, enum tl_role role, const struct tl_case_filter *f, char **json)
{
    (void)st, (void)role, (void)f, (void)json;
    return TL_ERR_UNSUPPORTED;
}

int pg_api_case(struct tl_store *st, enum tl_role role, const char *case_no, char **json)
{
    (void)st, (void)role, (void)case_no, (void)json;
    return TL_ERR_UNSUPPORTED;
}

int pg_api_subscriber_counts(struct tl_store *st, char **json)
{
    (void)st, (void)json;
    return TL_ERR_UNSUPPORTED;
}

int pg_api_subscriber(struct tl_store *st, enum tl_role role, const char *phone, char **json)
{
    (void)st, (void)role, (void)phone, (void)json;
    return TL_ERR_UNSUPPORTED;
}

int pg_api_police(struct tl_store *st, enum tl_role role, char **json)
{
    (void)st, (void)role, (void)json;
    return TL_ERR_UNSUPPORTED;
}

int pg_api_blocks(struct tl_store *st, enum tl_role role, char **json)
{
    (void)st, (void)role, (void)json;
    return TL_ERR_UNSUPPORTED;
}

int pg_api_audit(struct tl_store *st, enum tl_role role, int64_t before_id, int limit, char **json)
{
    (void)st, (void)role, (void)before_id, (void)limit, (void)json;
    return TL_ERR_UNSUPPORTED;
}

int pg_api_idem_get(struct tl_store *st, const char *token, const char *key, const char *method, const char *path, int *status, char **body)
{
    (void)st, (void)token, (void)key, (void)method, (void)path, (void)status, (void)body;
    return TL_ERR_UNSUPPORTED;
}

int pg_api_idem_put(struct tl_store *st, const char *token, const char *key, const char *method, const char *path, int status, const char *body, int64_t now)
{
    (void)st, (void)token, (void)key, (void)method, (void)path, (void)status, (void)body, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_api_idem_prune(struct tl_store *st, int64_t before)
{
    (void)st, (void)before;
    return -1;
}

int pg_api_resend(struct tl_store *st, int64_t outbox_id, int64_t now, char state[16])
{
    (void)st, (void)outbox_id, (void)now, (void)state;
    return TL_ERR_UNSUPPORTED;
}

int pg_feed_cases(struct tl_store *st, int64_t since, struct tl_feed_case **out, size_t *n)
{
    (void)st, (void)since, (void)out, (void)n;
    return TL_ERR_UNSUPPORTED;
}

int pg_feed_case(struct tl_store *st, const char *case_no, int64_t since, struct tl_feed_case *out)
{
    (void)st, (void)case_no, (void)since, (void)out;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_feed_last_ended_before(struct tl_store *st, int64_t since)
{
    (void)st, (void)since;
    return -1;
}

void pg_reader_close(struct tl_store_reader *r)
{
    (void)r;
}

int pg_stats_read(struct tl_store_reader *r, struct tl_store_stats *out)
{
    (void)r, (void)out;
    return TL_ERR_UNSUPPORTED;
}

const char * pg_reader_errmsg(struct tl_store_reader *r)
{
    (void)r;
    return "not built";
}

int pg_api_open_reader(const char *url, long busy_timeout_ms, tl_area_name_fn area_ur,
                       void *ctx, struct tl_store **out, char **cause)
{
    (void)url, (void)busy_timeout_ms, (void)area_ur, (void)ctx, (void)out, (void)cause;
    return TL_ERR_UNSUPPORTED;
}

int pg_reader_open(const char *url, long busy_timeout_ms, struct tl_store_reader **out,
                   char **cause)
{
    (void)url, (void)busy_timeout_ms, (void)out, (void)cause;
    return TL_ERR_UNSUPPORTED;
}
