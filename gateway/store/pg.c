/*
 * pg.c — the PostgreSQL backend (being built; see docs/postgresql.md).
 */
#include "gateway/store/backend.h"
#include "common/result.h"
#include "common/xmalloc.h"

static int pg_unbuilt(char **cause)
{
    *cause = xstrdup("the PostgreSQL backend is not in this build yet");
    return TL_ERR_UNSUPPORTED;
}

int pg_open(const char *url, long busy_timeout_ms, struct tl_store **out, char **cause)
{
    (void)url, (void)busy_timeout_ms, (void)out;
    return pg_unbuilt(cause);
}

int pg_schema_latest(void)
{
    return 0;
}

int pg_api_open_reader(const char *url, long busy_timeout_ms, tl_area_name_fn area_ur,
                       void *ctx, struct tl_store **out, char **cause)
{
    (void)url, (void)busy_timeout_ms, (void)area_ur, (void)ctx, (void)out;
    return pg_unbuilt(cause);
}

int pg_reader_open(const char *url, long busy_timeout_ms, struct tl_store_reader **out,
                   char **cause)
{
    (void)url, (void)busy_timeout_ms, (void)out;
    return pg_unbuilt(cause);
}
