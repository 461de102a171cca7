/*
 * subscribers.c — JOIN, UNSUB, STOP and AREAS (see subscribers.h).
 */
#include "gateway/subscribers.h"
#include "gateway/cases.h"
#include "gateway/clock.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "gateway/texts.h"
#include "parsers/gazetteer.h"
#include "common/result.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int subscribers_join(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                     struct tl_buf *reply)
{
    int64_t now = clock_now(), id = 0;

    if (p->area == NULL) {
        struct tl_buf c = {0};
        texts_area_list(d->gz, p->cands, p->ncands, a->lang, &c);
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
    bool ambiguous = p->area == NULL && p->area_match == TL_MATCH_AMBIGUOUS && p->ncands > 0;

    if (p->area == NULL && !ambiguous) /* STOP, LEAVE, UNSUB alone: everything */
        return subscribers_stop(d, a->phone, a->channel, a->lang, reply);
    if (store_subscriber_touch(d->store, a->phone, grammar_lang_name(a->lang), a->channel,
                               clock_now(), &id) != TL_OK)
        return TL_ERR_STORE;
    /* "UNSUB Gulberg" with Gulbergs in several of the sender's cities: no
     * guess is needed to stop alerts — every place of that name goes */
    for (size_t i = 0; i < (ambiguous ? p->ncands : 1); i++) {
        if (store_subscription_remove(d->store, id, (ambiguous ? p->cands[i].area : p->area)->code) < 0)
            return TL_ERR_STORE;
    }
    struct tl_text_field f[] = {
        {"area", ambiguous ? p->area_text : texts_area_name(p->area, a->lang)}};
    texts_render(TX_UNSUBSCRIBED_AREA, a->lang, f, 1, reply);
    return TL_OK;
}

/*
 * AREAS [prefix] [page]: the matching areas, as many as fit one SMS, sorted
 * by name; when more match, the reply ends with the count and how to ask
 * for the next page ("AREAS gul 2"). A page is a fixed number of names
 * (AREAS_PAGE), so page N is the same list whatever the language.
 */
#define AREAS_PAGE 12

int subscribers_areas(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                      struct tl_buf *reply)
{
    const struct tl_area *found[AREAS_PAGE];
    char prefix[TL_GRAMMAR_TEXT_MAX];
    size_t total = 0, page = 1, n, plen;
    struct tl_buf list = {0};

    snprintf(prefix, sizeof prefix, "%s", p->area_text);
    plen = strlen(prefix);
    /* a trailing page number: "gul 2" */
    {
        size_t e = plen;
        while (e > 0 && prefix[e - 1] >= '0' && prefix[e - 1] <= '9')
            e--;
        if (e < plen && plen - e <= 3 && (e == 0 || prefix[e - 1] == ' ')) {
            page = (size_t)strtoul(prefix + e, NULL, 10);
            if (page == 0)
                page = 1;
            while (e > 0 && prefix[e - 1] == ' ')
                e--;
            prefix[e] = '\0';
        }
    }
    n = gazetteer_prefix(d->gz, prefix, (page - 1) * AREAS_PAGE, found, AREAS_PAGE, &total);
    if (n == 0) {
        struct tl_text_field f[] = {{"typed", p->area_text}};
        texts_render(TX_AREAS_NONE, a->lang, f, 1, reply);
        return TL_OK;
    }
    /* As many names as fit one SMS; "…" says a few of the page were left out. */
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = texts_area_name(found[i], a->lang);
        size_t room = 120 - (a->lang == TL_LANG_UR ? 70 : 0);
        if (list.len + strlen(name) + 2 > room) {
            tl_buf_append_str(&list, ", ...");
            break;
        }
        if (i)
            tl_buf_append_str(&list, ", ");
        tl_buf_append_str(&list, name);
        shown++;
    }
    (void)shown;
    if ((page - 1) * AREAS_PAGE + n < total) {
        char from[24], of[24], cmd[TL_GRAMMAR_TEXT_MAX + 32];
        snprintf(from, sizeof from, "%zu-%zu", (page - 1) * AREAS_PAGE + 1,
                 (page - 1) * AREAS_PAGE + n);
        snprintf(of, sizeof of, "%zu", total);
        snprintf(cmd, sizeof cmd, "AREAS %s%s%zu", prefix, prefix[0] ? " " : "", page + 1);
        struct tl_text_field f[] = {{"list", tl_buf_str(&list)}, {"shown", from},
                                    {"total", of}, {"next", cmd}};
        texts_render(TX_AREAS_PAGE, a->lang, f, 4, reply);
    } else {
        struct tl_text_field f[] = {{"list", tl_buf_str(&list)}};
        texts_render(TX_AREAS_LIST, a->lang, f, 1, reply);
    }
    tl_buf_free(&list);
    return TL_OK;
}
