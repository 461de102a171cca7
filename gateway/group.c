/*
 * group.c — group commit for the aggregator callbacks (see group.h): the
 * open transaction, the answers it holds, and the flush event.
 */
#include "gateway/group.h"
#include "gateway/clock.h"
#include "gateway/daemon.h"
#include "gateway/http.h"
#include "gateway/job.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/store/store.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>

struct held_answer {
    struct evhttp_request *req;
    int status;
    const char *content_type;
    struct tl_buf body;
    double started_ms; /* when the router saw the request, for its log line */
};

struct tl_group {
    struct tl_daemon *d;
    struct event *flush_ev;
    bool open;
    bool failed; /* group_fail: roll back at the flush */
    double opened_ms;
    struct held_answer *held;
    size_t nheld, cap;
};


static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    group_flush(arg);
}

int group_new(struct tl_daemon *d, struct tl_group **out)
{
    struct tl_group *g = xcalloc(1, sizeof(*g));

    g->d = d;
    g->flush_ev = jobs_event_new(d->jobs, d->base, -1, 0, flush_cb, g);
    if (g->flush_ev == NULL || event_priority_set(g->flush_ev, DAEMON_PRIORITY_CALLBACKS) != 0) {
        if (g->flush_ev != NULL)
            event_free(g->flush_ev);
        free(g);
        return TL_ERR_IO;
    }
    *out = g;
    return TL_OK;
}

void group_free(struct tl_group *g)
{
    if (g == NULL)
        return;
    group_flush(g);
    event_free(g->flush_ev);
    free(g->held);
    free(g);
}

int group_join(struct tl_group *g)
{
    if (g->open &&
        (g->nheld >= GROUP_MAX_HELD || clock_mono_ms() - g->opened_ms >= GROUP_MAX_AGE_MS))
        group_flush(g);
    if (g->open)
        return TL_OK;
    if (store_tx_begin(g->d->store) != TL_OK)
        return TL_ERR_STORE;
    g->open = true;
    g->opened_ms = clock_mono_ms();
    event_active(g->flush_ev, EV_TIMEOUT, 0);
    return TL_OK;
}

void group_answer(struct tl_group *g, struct evhttp_request *req, int status,
                  const char *content_type, struct tl_buf *body)
{
    if (!g->open) {
        http_reply(req, status, content_type, body->data, body->len);
        tl_buf_free(body);
        return;
    }
    if (g->nheld == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 32;
        g->held = xrealloc(g->held, g->cap * sizeof(*g->held));
    }
    struct held_answer *a = &g->held[g->nheld++];
    a->req = req;
    a->status = status;
    a->content_type = content_type;
    a->body = *body;
    a->started_ms = http_request_started_ms();
    *body = (struct tl_buf){0};
}

void group_flush(struct tl_group *g)
{
    bool committed;

    if (!g->open)
        return;
    g->open = false;
    if (g->failed) {
        log_error("group", "event=rolled_back held=%zu reason=callback_failed", g->nheld);
        store_tx_rollback(g->d->store);
        committed = false;
    } else if (!(committed = store_tx_commit(g->d->store) == TL_OK)) {
        /* The store's change of state is logged once (daemon.c); a failed flush is detail. */
        LOG_AT(store_writable(g->d->store, NULL) ? TL_LOG_ERROR : TL_LOG_DEBUG, "group",
               "event=commit_failed held=%zu detail=\"%s\"", g->nheld, store_errmsg(g->d->store));
        store_tx_rollback(g->d->store);
    }
    g->failed = false;
    metrics_group_commit(g->nheld, committed);
    if (!committed)
        metrics_store_error(TL_MW_GROUP);
    for (size_t i = 0; i < g->nheld; i++) {
        struct held_answer *a = &g->held[i];
        if (committed)
            http_reply_since(a->req, a->status, a->content_type, a->body.data, a->body.len,
                             a->started_ms);
        else
            http_reply_error_since(a->req, 503, HTTP_STORE_UNAVAILABLE, a->started_ms);
        tl_buf_free(&a->body);
    }
    g->nheld = 0;
    /* What the callbacks queued can be sent now that it is committed. */
    if (committed)
        daemon_outbox_ready(g->d);
}

void group_fail(struct tl_group *g)
{
    if (g->open)
        g->failed = true;
}
