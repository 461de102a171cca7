/*
 * callbacks.c — the aggregator callbacks (see callbacks.h): the pipeline
 * around the providers, which only translate.
 *
 * Inbound SMS: a repeated provider id is acknowledged and not processed
 * again — unless the first delivery was stored but never processed (the
 * store failed in between), in which case the retry processes it. So a
 * message is processed exactly once whatever the aggregator retries.
 *
 * Each callback's writes join the group commit of its loop pass (group.h),
 * and its answer is held until that commit: 2xx only for committed data.
 */
#include "gateway/callbacks.h"
#include "gateway/clock.h"
#include "gateway/commands.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/group.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "gateway/store/store.h"
#include "gateway/ussd.h"
#include "parsers/phone.h"
#include "providers/provider.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* Channel and provider for a callback, or an answer already sent. */
static const struct tl_channel_conf *callback_channel(struct tl_daemon *d,
                                                      struct evhttp_request *req,
                                                      const char *name, const char *kind,
                                                      const struct tl_provider **provider)
{
    const struct tl_channel_conf *ch = config_channel(d->cfg, name);
    char esc[LOG_PEER_BUFSZ];

    if (ch == NULL) {
        log_warn("callback", "event=unknown_channel kind=%s channel=%s", kind,
                 log_peer(name, strlen(name), esc));
        http_reply_error(req, 404, "unknown channel");
        return NULL;
    }
    *provider = provider_find(ch->provider);
    return ch;
}

/* Authenticates; on failure answers 403 and logs. Returns true when allowed. */
static bool callback_authentic(const struct tl_channel_conf *ch, const struct tl_provider *p,
                               const struct tl_http_in *in, struct evhttp_request *req,
                               const char *kind)
{
    char *cause = NULL;
    char esc[LOG_PEER_BUFSZ];

    if (p->authenticate(ch, in, &cause) == TL_OK)
        return true;
    log_warn("callback", "event=auth_failed kind=%s channel=%s peer=%s reason=%s", kind, ch->name,
             in->peer_ip, log_peer(cause ? cause : "", cause ? strlen(cause) : 0, esc));
    free(cause);
    http_reply_error(req, 403, "forbidden");
    return false;
}

static void callback_bad_request(const struct tl_channel_conf *ch, struct evhttp_request *req,
                                 const char *kind, int rc, char *cause)
{
    char esc[LOG_PEER_BUFSZ];
    const char *why = cause ? cause : tl_strerror(rc);

    log_warn("callback", "event=rejected kind=%s channel=%s code=%d reason=%s", kind, ch->name, rc,
             log_peer(why, strlen(why), esc));
    http_reply_error(req, rc == TL_ERR_TOO_LARGE ? 413 : 400, why);
    free(cause);
}

/* The provider's answer, sent when the group holding this callback's writes commits. */
static void send_provider_reply(struct tl_daemon *d, struct evhttp_request *req,
                                struct tl_http_reply *reply)
{
    group_answer(d->group, req, reply->status ? reply->status : 200, reply->content_type,
                 &reply->body);
    tl_http_reply_clear(reply);
}

/* Joins the group commit; on failure answers 503 (the aggregator retries). */
static bool callback_join_group(struct tl_daemon *d, const struct tl_channel_conf *ch,
                                struct evhttp_request *req, const char *kind)
{
    if (group_join(d->group) == TL_OK)
        return true;
    metrics_store_error(TL_MW_CALLBACK);
    LOG_AT(store_writable(d->store, NULL) ? TL_LOG_ERROR : TL_LOG_DEBUG, "callback",
           "event=store_failed kind=%s channel=%s detail=\"%s\"", kind, ch->name,
           store_errmsg(d->store));
    http_reply_error(req, 503, HTTP_STORE_UNAVAILABLE);
    return false;
}

/*
 * An aggregator's callback that carried no message id (Kannel's post-url or
 * get-url without id=%I): accepted with a local id, so a retried callback
 * is processed again. A configuration error, logged once per channel.
 */
static void callback_warn_no_id(const struct tl_channel_conf *ch)
{
    static const struct tl_channel_conf *warned[32];
    size_t i;

    for (i = 0; i < sizeof(warned) / sizeof(warned[0]) && warned[i] != NULL; i++) {
        if (warned[i] == ch)
            return;
    }
    if (i < sizeof(warned) / sizeof(warned[0]))
        warned[i] = ch;
    log_warn("callback",
             "event=config_error kind=sms channel=%s reason=\"callback without a message id: "
             "a retry would be processed twice; add id=%%I to the Kannel get-url/post-url "
             "(docs/kannel.md)\"",
             ch->name);
}

void callbacks_sms_cb(struct tl_daemon *d, struct evhttp_request *req, const char *name)
{
    const struct tl_provider *p = NULL;
    const struct tl_channel_conf *ch = callback_channel(d, req, name, "sms", &p);
    struct tl_http_in in;
    struct tl_http_in_scratch scratch;
    struct tl_inbound_sms sms;
    struct tl_http_reply reply;
    char phone[TL_PHONE_MAX];
    char *cause = NULL, *reply_text = NULL;
    char phonebuf[LOG_PHONE_BUFSZ];
    int64_t inbound_id = 0;
    int rc;

    if (ch == NULL)
        return;
    if (p->parse_sms == NULL) {
        http_reply_error(req, 404, "this channel takes no SMS callbacks");
        return;
    }
    memset(&sms, 0, sizeof(sms));
    memset(&reply, 0, sizeof(reply));
    http_in_view(req, &in, &scratch);
    if (!callback_authentic(ch, p, &in, req, "sms")) {
        metrics_inbound(ch, TL_MK_SMS, TL_MI_FORBIDDEN);
        goto out;
    }
    rc = p->parse_sms(ch, &in, &sms, &cause);
    if (rc != TL_OK) {
        metrics_inbound(ch, TL_MK_SMS, TL_MI_REJECTED);
        callback_bad_request(ch, req, "sms", rc, cause);
        goto out;
    }
    if (phone_normalize(sms.from, strlen(sms.from), d->cfg->country_code, phone) != TL_OK) {
        metrics_inbound(ch, TL_MK_SMS, TL_MI_REJECTED);
        callback_bad_request(ch, req, "sms", TL_ERR_INVALID,
                             xstrdup("sender is not a phone number"));
        goto out;
    }
    if (sms.local_id && strcmp(p->name, "console") != 0)
        callback_warn_no_id(ch);
    if (sms.provider_id == NULL) {
        /* No aggregator id (console, a hand-made request): no dedupe is possible. */
        static unsigned long long local_seq;
        sms.provider_id = xasprintf("local-%lld-%llu", (long long)clock_now_ms(), ++local_seq);
    }
    if (!callback_join_group(d, ch, req, "sms")) {
        metrics_inbound(ch, TL_MK_SMS, TL_MI_FAILED);
        goto out;
    }
    struct tl_inbound_row row = {
        .channel = ch->name,
        .provider_id = sms.provider_id,
        .kind = "sms",
        .phone = phone,
        .to_addr = sms.to,
        .text = sms.text,
        .received_at = clock_now(),
        /*
         * Processed in this same transaction, so stored as processed: the
         * usual outcome costs no second write. A failure below says
         * otherwise before anything commits.
         */
        .state = "processed",
    };
    rc = store_inbound_insert(d->store, &row, &inbound_id);
    const char *row_state = rc == TL_OK ? "processed" : "received";
    if (rc == TL_ERR_DUPLICATE && store_inbound_processed(d->store, inbound_id)) {
        log_info("callback", "event=duplicate kind=sms channel=%s inbound=%lld from=%s", ch->name,
                 (long long)inbound_id, log_phone(phone, phonebuf));
        metrics_inbound(ch, TL_MK_SMS, TL_MI_DUPLICATE);
        p->render_sms_reply(ch, &sms, NULL, &reply);
        send_provider_reply(d, req, &reply);
        goto out;
    }
    if (rc != TL_OK && rc != TL_ERR_DUPLICATE) {
        LOG_AT(store_writable(d->store, NULL) ? TL_LOG_ERROR : TL_LOG_DEBUG, "callback",
               "event=store_failed kind=sms channel=%s detail=\"%s\"", ch->name,
               store_errmsg(d->store));
        metrics_store_error(TL_MW_CALLBACK);
        metrics_inbound(ch, TL_MK_SMS, TL_MI_FAILED);
        http_reply_error(req, 503, HTTP_STORE_UNAVAILABLE);
        goto out;
    }
    log_info("callback", "event=inbound kind=sms channel=%s inbound=%lld from=%s bytes=%zu",
             ch->name, (long long)inbound_id, log_phone(phone, phonebuf), sms.text_len);
    rc = commands_handle(d, ch, inbound_id, row_state, phone, sms.text, &reply_text);
    if (rc != TL_OK) {
        /*
         * Stored but not processed: a retry of this callback will process
         * it. Should even that not be recorded, the whole group rolls back
         * rather than commit a row that claims it was processed.
         */
        log_error("callback", "event=processing_failed kind=sms channel=%s inbound=%lld code=%d",
                  ch->name, (long long)inbound_id, rc);
        if (strcmp(row_state, "received") != 0 &&
            store_inbound_set_state(d->store, inbound_id, "received", clock_now()) != TL_OK)
            group_fail(d->group);
        metrics_store_error(TL_MW_CALLBACK);
        metrics_inbound(ch, TL_MK_SMS, TL_MI_FAILED);
        http_reply_error(req, 503, HTTP_STORE_UNAVAILABLE);
        goto out;
    }
    /* Replies travel through the outbox; the console also shows them in its answer. */
    metrics_inbound(ch, TL_MK_SMS, TL_MI_PROCESSED);
    p->render_sms_reply(ch, &sms, strcmp(p->name, "console") == 0 ? reply_text : NULL, &reply);
    send_provider_reply(d, req, &reply);
out:
    free(reply_text);
    tl_inbound_sms_clear(&sms);
    http_in_release(&scratch);
}

static enum tl_outbox_state dlr_outbox_state(enum tl_dlr_state s)
{
    switch (s) {
    case TL_DLR_ACCEPTED:
        return TL_OUTBOX_SENT;
    case TL_DLR_DELIVERED:
        return TL_OUTBOX_DELIVERED;
    case TL_DLR_FAILED:
        return TL_OUTBOX_FAILED;
    case TL_DLR_EXPIRED:
        return TL_OUTBOX_EXPIRED;
    case TL_DLR_UNKNOWN:
        break;
    }
    return TL_OUTBOX_QUEUED; /* "unknown": only the raw status is recorded */
}

void callbacks_dlr_cb(struct tl_daemon *d, struct evhttp_request *req, const char *name)
{
    const struct tl_provider *p = NULL;
    const struct tl_channel_conf *ch = callback_channel(d, req, name, "dlr", &p);
    struct tl_http_in in;
    struct tl_http_in_scratch scratch;
    struct tl_dlr dlr;
    struct tl_http_reply reply;
    char *cause = NULL;
    char esc[LOG_PEER_BUFSZ], esc2[LOG_PEER_BUFSZ];
    int rc;

    if (ch == NULL)
        return;
    if (p->parse_dlr == NULL) {
        http_reply_error(req, 404, "this channel takes no delivery reports");
        return;
    }
    memset(&dlr, 0, sizeof(dlr));
    memset(&reply, 0, sizeof(reply));
    http_in_view(req, &in, &scratch);
    if (!callback_authentic(ch, p, &in, req, "dlr"))
        goto out;
    rc = p->parse_dlr(ch, &in, &dlr, &cause);
    if (rc != TL_OK) {
        callback_bad_request(ch, req, "dlr", rc, cause);
        goto out;
    }
    const char *raw = dlr.status_raw ? dlr.status_raw : "";
    if (dlr.state == TL_DLR_UNKNOWN)
        log_warn("callback", "event=dlr_unknown_status channel=%s status=%s", ch->name,
                 log_peer(raw, strlen(raw), esc));
    if (!callback_join_group(d, ch, req, "dlr"))
        goto out;
    struct tl_outbox_dlr od = {
        .channel = ch->name,
        .provider_id = dlr.provider_id,
        .our_id = dlr.our_id,
        .state = dlr_outbox_state(dlr.state),
        .status_raw = raw,
        .error = dlr.error,
    };
    rc = store_outbox_dlr(d->store, &od, clock_now());
    if (rc == TL_ERR_STORE) {
        LOG_AT(store_writable(d->store, NULL) ? TL_LOG_ERROR : TL_LOG_DEBUG, "callback",
               "event=store_failed kind=dlr channel=%s detail=\"%s\"", ch->name,
               store_errmsg(d->store));
        metrics_store_error(TL_MW_CALLBACK);
        http_reply_error(req, 503, HTTP_STORE_UNAVAILABLE);
        goto out;
    }
    const char *pid = dlr.provider_id ? dlr.provider_id : "";
    log_info("callback", "event=dlr channel=%s id=%s our_id=%lld status=%s matched=%s", ch->name,
             log_peer(pid, strlen(pid), esc2), (long long)dlr.our_id,
             log_peer(raw, strlen(raw), esc), rc == TL_OK ? "yes" : "pending");
    metrics_dlr(ch, (int)od.state);
    if (dlr.opted_out && dlr.phone != NULL)
        commands_opt_out(d, ch, dlr.phone);
    p->render_dlr_reply(ch, &reply);
    send_provider_reply(d, req, &reply);
out:
    tl_dlr_clear(&dlr);
    http_in_release(&scratch);
}

void callbacks_ussd_cb(struct tl_daemon *d, struct evhttp_request *req, const char *name)
{
    const struct tl_provider *p = NULL;
    const struct tl_channel_conf *ch = callback_channel(d, req, name, "ussd", &p);
    struct tl_http_in in;
    struct tl_http_in_scratch scratch;
    struct tl_ussd_step step;
    struct tl_http_reply reply;
    char *cause = NULL;
    int rc;

    if (ch == NULL)
        return;
    if (p->parse_ussd == NULL || p->render_ussd_reply == NULL) {
        http_reply_error(req, 404, "this channel takes no USSD callbacks");
        return;
    }
    memset(&step, 0, sizeof(step));
    memset(&reply, 0, sizeof(reply));
    http_in_view(req, &in, &scratch);
    if (!callback_authentic(ch, p, &in, req, "ussd")) {
        metrics_inbound(ch, TL_MK_USSD, TL_MI_FORBIDDEN);
        goto out;
    }
    rc = p->parse_ussd(ch, &in, &step, &cause);
    if (rc != TL_OK) {
        /* The user sees a clear last screen, never an error page. */
        char esc[LOG_PEER_BUFSZ];
        const char *why = cause ? cause : tl_strerror(rc);
        log_warn("callback", "event=rejected kind=ussd channel=%s code=%d reason=%s", ch->name, rc,
                 log_peer(why, strlen(why), esc));
        free(cause);
        metrics_inbound(ch, TL_MK_USSD, TL_MI_REJECTED);
        p->render_ussd_reply(ch, USSD_TEXT_BAD_REQUEST, true, &reply);
        send_provider_reply(d, req, &reply);
        goto out;
    }
    if (!callback_join_group(d, ch, req, "ussd")) {
        metrics_inbound(ch, TL_MK_USSD, TL_MI_FAILED);
        goto out;
    }
    struct tl_ussd_screen screen = {0};
    rc = ussd_step(d, ch, &step, &screen);
    if (rc == TL_ERR_STORE) {
        LOG_AT(store_writable(d->store, NULL) ? TL_LOG_ERROR : TL_LOG_DEBUG, "callback",
               "event=store_failed kind=ussd channel=%s detail=\"%s\"", ch->name,
               store_errmsg(d->store));
        metrics_store_error(TL_MW_CALLBACK);
        metrics_inbound(ch, TL_MK_USSD, TL_MI_FAILED);
        http_reply_error(req, 503, HTTP_STORE_UNAVAILABLE);
        goto out;
    }
    metrics_inbound(ch, TL_MK_USSD, TL_MI_PROCESSED);
    p->render_ussd_reply(ch, screen.text, screen.end, &reply);
    ussd_screen_clear(&screen);
    send_provider_reply(d, req, &reply);
out:
    tl_ussd_step_clear(&step);
    http_in_release(&scratch);
}
