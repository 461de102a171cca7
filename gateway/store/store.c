/*
 * store.c — the front of the store: opens the backend that a place names
 * (a file path: SQLite; a postgresql:// URL: PostgreSQL), passes every
 * operation to the backend of the store it is called on (backend.h), and
 * owns what is the same whatever the backend: the names of states and
 * kinds, and freeing what the operations return.
 */
#include "gateway/store/backend.h"
#include "gateway/store/store.h"
#include "gateway/store/store_api.h"
#include "gateway/store/store_feed.h"
#include "gateway/store/store_stats.h"
#include "common/result.h"
#include "common/xmalloc.h"
#include "parsers/casenum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

const char *const store_outbox_state_names[TL_OUTBOX_NSTATES] = {
    "queued", "sending", "sent", "delivered", "failed", "expired", "cancelled",
};
const char *const store_outbox_kind_names[TL_OUTBOX_NKINDS] = {"police", "reply", "alert",
                                                               "update"};
const char *const store_case_state_names[TL_CASE_NSTATES] = {
    "draft", "reported", "active", "found", "closed", "cancelled"};

bool store_place_is_url(const char *where)
{
    return strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0;
}

const char *store_place_display(const char *where, char *buf, size_t size)
{
    const char *scheme = strstr(where, "://");
    const char *at = scheme != NULL ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at != NULL ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    const char *query = store_place_is_url(where) ? strstr(where, "password=") : NULL;

    if (colon == NULL && query == NULL) {
        snprintf(buf, size, "%s", where);
        return buf;
    }
    if (colon != NULL)
        snprintf(buf, size, "%.*s:***%s", (int)(colon - where), where, at);
    else
        snprintf(buf, size, "%.*spassword=***", (int)(query - where), where);
    return buf;
}

int store_open(const char *where, long busy_timeout_ms, struct tl_store **out, char **cause)
{
    if (store_place_is_url(where))
        return pg_open(where, busy_timeout_ms, out, cause);
    return sqlite_open(where, busy_timeout_ms, out, cause);
}

int store_schema_latest_of(const char *where)
{
    return store_place_is_url(where) ? pg_schema_latest() : sqlite_schema_latest();
}

int store_schema_latest(void)
{
    return sqlite_schema_latest();
}

int store_backup(const char *path, const char *dest, long busy_timeout_ms, int64_t *pages,
                 int *version, char **cause)
{
    if (store_place_is_url(path)) {
        *cause = xstrdup("a PostgreSQL store is backed up with pg_dump (see docs/postgresql.md)");
        return TL_ERR_UNSUPPORTED;
    }
    return sqlite_backup(path, dest, busy_timeout_ms, pages, version, cause);
}

int store_api_open_reader(const char *where, long busy_timeout_ms, tl_area_name_fn area_ur,
                          void *ctx, struct tl_store **out, char **cause)
{
    if (store_place_is_url(where))
        return pg_api_open_reader(where, busy_timeout_ms, area_ur, ctx, out, cause);
    return sqlite_api_open_reader(where, busy_timeout_ms, area_ur, ctx, out, cause);
}

int store_reader_open(const char *where, long busy_timeout_ms, struct tl_store_reader **out,
                      char **cause)
{
    if (store_place_is_url(where))
        return pg_reader_open(where, busy_timeout_ms, out, cause);
    return sqlite_reader_open(where, busy_timeout_ms, out, cause);
}

const char *store_backend_name(const struct tl_store *st)
{
    return ((const struct tl_store_head *)(const void *)st)->ops->name;
}

/*
 * ---- dispatch: store_<op>(self, …) is self's backend's <op>(self, …) ----
 * An operation returning nothing on NULL does nothing (store_close(NULL),
 * store_reader_close(NULL) are safe, as free(NULL) is).
 */

#define STORE_FIRST(...) STORE_FIRST_(__VA_ARGS__, 0)
#define STORE_FIRST_(a, ...) a
#define STORE_OPS_OF(self) (((const struct tl_store_head *)(const void *)(self))->ops)
#define STORE_DISPATCH(ret, op, params, args) \
    ret store_##op params { return STORE_OPS_OF(STORE_FIRST args)->op args; }
#define STORE_DISPATCHV(op, params, args) \
    void store_##op params                                                               \
    {                                                                                   \
        if (STORE_FIRST args != NULL)                                                   \
            STORE_OPS_OF(STORE_FIRST args)->op args;                                     \
    }
STORE_OPS(STORE_DISPATCH, STORE_DISPATCHV)

/* ---- the same for every backend ---- */

bool store_health_note(struct tl_store_health *h, bool ok, const char *reason)
{
    if (ok) {
        if (h->unwritable[0] == '\0')
            return false;
        long failures = h->write_failures;
        h->unwritable[0] = '\0';
        h->write_failures = 0;
        if (h->cb != NULL)
            h->cb(h->arg, true, NULL, failures);
        return true;
    }
    h->write_failures++;
    if (h->unwritable[0] != '\0')
        return false;
    snprintf(h->unwritable, sizeof(h->unwritable), "%s", reason);
    if (h->cb != NULL)
        h->cb(h->arg, false, h->unwritable, h->write_failures);
    return true;
}

bool store_health_writable(const struct tl_store_health *h, const char **reason)
{
    if (reason != NULL)
        *reason = h->unwritable;
    return h->unwritable[0] == '\0';
}

void store_case_number_draw(char out[TL_CASENUM_LEN + 1])
{
    do {
        uint32_t r;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (uint32_t)rand();
        casenum_make(r, out);
    } while (out[0] == '0' || (out[0] == '9' && out[1] == '2'));
}

void store_case_clear(struct tl_case *c)
{
    free(c->reporter_phone);
    free(c->channel);
    free(c->child_name);
    free(c->area_code);
    free(c->area_text);
    free(c->last_seen);
    free(c->description);
    free(c->contact);
    free(c->close_reason);
    memset(c, 0, sizeof(*c));
}

void store_police_free(struct tl_police *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].phone);
        free(p[i].area_code);
        free(p[i].pin_hash);
    }
    free(p);
}

void store_strings_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void store_ussd_session_clear(struct tl_ussd_session *s)
{
    free(s->phone);
    free(s->state);
    free(s->data);
    free(s->last_input);
    free(s->last_reply);
    memset(s, 0, sizeof(*s));
}

void store_feed_case_clear(struct tl_feed_case *c)
{
    free(c->area_code);
    for (size_t i = 0; i < c->nwaves; i++) {
        free(c->waves[i].text_en);
        free(c->waves[i].text_ur);
    }
    free(c->waves);
    memset(c, 0, sizeof(*c));
}

void store_feed_cases_free(struct tl_feed_case *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_feed_case_clear(&v[i]);
    free(v);
}

const char *store_outbox_state_name(enum tl_outbox_state s)
{
    return (size_t)s < TL_OUTBOX_NSTATES ? store_outbox_state_names[s] : "?";
}

void store_outbox_msgs_free(struct tl_outbox_msg *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].phone);
        free(msgs[i].text);
    }
    free(msgs);
}

void store_prune_cursor_clear(struct tl_prune_cursor *c)
{
    free(c->key);
    free(c->key2);
    *c = (struct tl_prune_cursor){0};
}

void store_stats_clear(struct tl_store_stats *s)
{
    for (size_t i = 0; i < s->noutbox; i++)
        free(s->outbox[i].channel);
    free(s->outbox);
    memset(s, 0, sizeof(*s));
}
