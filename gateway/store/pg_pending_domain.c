/*
 * pg_pending_domain.c — operations of the PostgreSQL backend not written yet
 * (domain); each answers that it is not built. Delete an entry when its
 * real one lands; delete the file when it is empty.
 */
#include "gateway/store/pg_int.h"
#include "common/result.h"

int pg_case_insert(struct tl_store *st, struct tl_case *c)
{
    (void)st, (void)c;
    return TL_ERR_UNSUPPORTED;
}

int pg_case_update(struct tl_store *st, const struct tl_case *c)
{
    (void)st, (void)c;
    return TL_ERR_UNSUPPORTED;
}

int pg_case_assign_number(struct tl_store *st, struct tl_case *c)
{
    (void)st, (void)c;
    return TL_ERR_UNSUPPORTED;
}

int pg_case_by_number(struct tl_store *st, const char *case_no, struct tl_case *out)
{
    (void)st, (void)case_no, (void)out;
    return TL_ERR_UNSUPPORTED;
}

int pg_case_by_id(struct tl_store *st, int64_t id, struct tl_case *out)
{
    (void)st, (void)id, (void)out;
    return TL_ERR_UNSUPPORTED;
}

int pg_case_open_draft(struct tl_store *st, const char *phone, int64_t since, struct tl_case *out)
{
    (void)st, (void)phone, (void)since, (void)out;
    return TL_ERR_UNSUPPORTED;
}

int pg_cases_escalating(struct tl_store *st, int stages, int64_t **ids, size_t *n)
{
    (void)st, (void)stages, (void)ids, (void)n;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_cases_redact(struct tl_store *st, int64_t before, int64_t now)
{
    (void)st, (void)before, (void)now;
    return -1;
}

int pg_sighting_add(struct tl_store *st, int64_t case_id, const char *phone, const char *text, int64_t now)
{
    (void)st, (void)case_id, (void)phone, (void)text, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int pg_inbound_set_case(struct tl_store *st, int64_t inbound_id, int64_t case_id)
{
    (void)st, (void)inbound_id, (void)case_id;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_rate_hit(struct tl_store *st, const char *phone, const char *kind, int64_t now, int64_t window_s)
{
    (void)st, (void)phone, (void)kind, (void)now, (void)window_s;
    return -1;
}

int pg_audit(struct tl_store *st, const char *actor, const char *action, int64_t case_id, const char *outcome, const char *detail, int64_t now)
{
    (void)st, (void)actor, (void)action, (void)case_id, (void)outcome, (void)detail, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int pg_ussd_session_get(struct tl_store *st, const char *channel, const char *session_id, struct tl_ussd_session *out)
{
    (void)st, (void)channel, (void)session_id, (void)out;
    return TL_ERR_UNSUPPORTED;
}

int pg_ussd_session_put(struct tl_store *st, const char *channel, const char *session_id, const struct tl_ussd_session *s, int64_t now)
{
    (void)st, (void)channel, (void)session_id, (void)s, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_ussd_sessions_expire(struct tl_store *st, int64_t now)
{
    (void)st, (void)now;
    return -1;
}

bool pg_blocked(struct tl_store *st, const char *phone)
{
    (void)st, (void)phone;
    return false;
}

int pg_block(struct tl_store *st, const char *phone, const char *reason, int64_t now)
{
    (void)st, (void)phone, (void)reason, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_unblock(struct tl_store *st, const char *phone)
{
    (void)st, (void)phone;
    return -1;
}

int pg_pin_failure(struct tl_store *st, const char *key, int64_t max, int64_t lock_s, int64_t now, int64_t *locked_until)
{
    (void)st, (void)key, (void)max, (void)lock_s, (void)now, (void)locked_until;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_pin_locked_until(struct tl_store *st, const char *key, int64_t now)
{
    (void)st, (void)key, (void)now;
    return -1;
}

int64_t pg_pin_clear(struct tl_store *st, const char *key)
{
    (void)st, (void)key;
    return -1;
}
