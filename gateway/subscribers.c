/*
 * subscribers.c — JOIN, UNSUB, STOP and AREAS (see subscribers.h).
 */
#include "gateway/subscribers.h"
#include "gateway/cases.h"
#include "gateway/clock.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/store.h"
#include "gateway/texts.h"
#include "parsers/gazetteer.h"
#include "common/result.h"

#include <string.h>

int subscribers_join(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                     struct tl_buf *reply)
{
    int64_t now = clock_now(), id = 0;

    if (p->area == NULL) {
        struct tl_buf c = {0};
        texts_area_list(p->cands, p->ncands, a->lang, &c);
        struct tl_text_field f[] = {{"candidates", tl_buf_str(&c)}};
        texts_render(p->ncands > 0 ? TX_JOIN_WHICH_AREA : TX_JOIN_NO_AREA, a->lang, f, 1, reply);
        tl_buf_free(&c);
        return TL_OK;
    }
    if (store_subscriber_touch(d->store, a->phone, grammar_lang_name(a->lang), a->channel, now,
                               &id) != TL_OK ||
        store_subscriber_set_opted_out(d->store, a->phone, false, now) != TL_OK ||
        store_subscription_add(d->store, id, p->area->code, now) != TL_OK)
        return TL_ERR_STORE;
    struct tl_text_field f[] = {{"area", texts_area_name(p->area, a->lang)}};
    texts_render(TX_JOINED, a->lang, f, 1, reply);
    log_info("subscribers", "event=join area=%s", p->area->code);
    return TL_OK;
}

int subscribers_stop(struct tl_daemon *d, const char *phone, const char *channel,
                     enum tl_lang lang, struct tl_buf *reply)
{
    int64_t now = clock_now(), id = 0;

    if (store_subscriber_touch(d->store, phone, NULL, channel, now, &id) != TL_OK ||
        store_subscription_remove(d->store, id, NULL) < 0 ||
        store_subscriber_set_opted_out(d->store, phone, true, now) != TL_OK)
        return TL_ERR_STORE;
    /* Queued alerts and updates to the number are cancelled when the sender reaches them. */
    if (reply != NULL)
        texts_render(TX_STOPPED, lang, NULL, 0, reply);
    log_info("subscribers", "event=stop");
    return TL_OK;
}

int subscribers_leave(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                      struct tl_buf *reply)
{
    int64_t id = 0;

    if (p->area == NULL) /* STOP, LEAVE, UNSUB alone: everything */
        return subscribers_stop(d, a->phone, a->channel, a->lang, reply);
    if (store_subscriber_touch(d->store, a->phone, grammar_lang_name(a->lang), a->channel,
                               clock_now(), &id) != TL_OK ||
        store_subscription_remove(d->store, id, p->area->code) < 0)
        return TL_ERR_STORE;
    struct tl_text_field f[] = {{"area", texts_area_name(p->area, a->lang)}};
    texts_render(TX_UNSUBSCRIBED_AREA, a->lang, f, 1, reply);
    return TL_OK;
}

int subscribers_areas(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                      struct tl_buf *reply)
{
    const struct tl_area *found[64];
    size_t n = gazetteer_prefix(d->gz, p->area_text, found, 64);
    struct tl_buf list = {0};

    if (n == 0) {
        struct tl_text_field f[] = {{"typed", p->area_text}};
        texts_render(TX_AREAS_NONE, a->lang, f, 1, reply);
        return TL_OK;
    }
    /* As many names as fit one SMS; "…" says there are more. */
    for (size_t i = 0; i < n; i++) {
        const char *name = texts_area_name(found[i], a->lang);
        size_t room = 150 - (a->lang == TL_LANG_UR ? 90 : 0);
        if (list.len + strlen(name) + 2 > room) {
            tl_buf_append_str(&list, ", ...");
            break;
        }
        if (i)
            tl_buf_append_str(&list, ", ");
        tl_buf_append_str(&list, name);
    }
    struct tl_text_field f[] = {{"list", tl_buf_str(&list)}};
    texts_render(TX_AREAS_LIST, a->lang, f, 1, reply);
    tl_buf_free(&list);
    return TL_OK;
}
