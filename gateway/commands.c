/*
 * commands.c — handling an inbound SMS (see commands.h): block list and
 * rate limits first, then the grammar, then the domain, then the reply —
 * all in one transaction with marking the inbound row processed, so a
 * message is either wholly handled or not at all (and then retried).
 *
 * A message that is no command while the sender has a report draft open
 * (within 30 minutes) is an answer to the draft's question.
 */
#include "gateway/commands.h"
#include "gateway/areas.h"
#include "gateway/cases.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "gateway/subscribers.h"
#include "gateway/texts.h"
#include "parsers/grammar.h"
#include "providers/provider.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdlib.h>
#include <string.h>

/* Acts on one parsed message; the reply text goes to reply. */
static int dispatch(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                    const char *text, struct tl_buf *reply)
{
    struct tl_case draft;
    int rc;

    switch (p->command) {
    case TL_CMD_REPORT:
        return cases_report(d, a, p, reply);
    case TL_CMD_SUBSCRIBE:
        return subscribers_join(d, a, p, reply);
    case TL_CMD_UNSUBSCRIBE:
        return subscribers_leave(d, a, p, reply);
    case TL_CMD_SIGHTING:
        return cases_sighting(d, a, p, reply);
    case TL_CMD_STATUS:
        return cases_status(d, a, p, reply);
    case TL_CMD_AREAS:
        return subscribers_areas(d, a, p, reply);
    case TL_CMD_VERIFY:
    case TL_CMD_FOUND:
    case TL_CMD_CLOSE:
    case TL_CMD_CANCEL:
    case TL_CMD_WIDEN:
        return cases_police(d, a, p, reply);
    case TL_CMD_HELP:
        texts_render(TX_HELP, a->lang, NULL, 0, reply);
        return TL_OK;
    case TL_CMD_UNKNOWN:
        break;
    }
    rc = p->error ? TL_ERR_NOT_FOUND
                  : store_case_open_draft(d->store, a->phone, clock_now() - CASES_DRAFT_WINDOW_S, &draft);
    if (rc == TL_ERR_STORE)
        return rc;
    if (rc == TL_OK) {
        rc = cases_answer(d, a, &draft, text, strlen(text), reply);
        store_case_clear(&draft);
        return rc;
    }
    texts_render(TX_HELP, a->lang, NULL, 0, reply); /* never silence */
    return TL_OK;
}

/* TL_OK to go on; TL_ERR_BUSY when the message is over a limit (reply set when due). */
static int check_limits(struct tl_daemon *d, const char *phone, enum tl_lang lang,
                        struct tl_buf *reply, const char **state)
{
    int64_t now = clock_now();

    if (store_blocked(d->store, phone)) {
        *state = "blocked";
        return TL_ERR_BUSY;
    }
    int64_t n = store_rate_hit(d->store, phone, "msg", now, 60);
    if (n < 0)
        return TL_ERR_STORE;
    if (n <= d->cfg->messages_per_minute)
        return TL_OK;
    *state = "limited";
    /* Answered once per minute, not per message. */
    int64_t told = store_rate_hit(d->store, phone, "limited", now, 60);
    if (told < 0)
        return TL_ERR_STORE;
    if (told == 1)
        texts_render(TX_RATE_LIMITED, lang, NULL, 0, reply);
    return TL_ERR_BUSY;
}

int commands_handle(struct tl_daemon *d, const struct tl_channel_conf *ch, int64_t inbound_id,
                    const char *row_state, const char *phone, const char *text, char **reply_out)
{
    struct tl_sms_parse *p = xmalloc(sizeof(*p));
    struct tl_buf reply = {0};
    const char *state = "processed";
    char saved[12];
    enum tl_lang hint = TL_LANG_EN;
    int64_t now = clock_now();
    int rc;

    *reply_out = NULL;
    if (store_tx_begin(d->store) != TL_OK) {
        free(p);
        return TL_ERR_STORE;
    }
    bool on_channel = false;
    if (store_subscriber_lang(d->store, phone, ch->name, saved, &on_channel) == TL_OK && saved[0])
        grammar_lang_from_name(saved, &hint);
    rc = check_limits(d, phone, hint, &reply, &state);
    if (rc == TL_OK) {
        grammar_parse(d->grammar, d->gz, text, strlen(text), hint, p);
        areas_resolve(d->gz, d->store, phone, p); /* "Gulberg" from a Lahore subscriber */
        struct tl_actor a = {
            .phone = phone, .channel = ch->name, .lang = p->lang, .inbound_id = inbound_id};
        char phonebuf[LOG_PHONE_BUFSZ];
        log_info("commands", "event=command inbound=%lld from=%s command=%s lang=%s",
                 (long long)inbound_id, log_phone(phone, phonebuf),
                 grammar_command_name(p->command), grammar_lang_name(p->lang));
        /*
         * The language a person writes in (and the channel) is remembered
         * for alerts and menus — written only when it changes; a stranger
         * writing English gets no row (the defaults say the same).
         */
        const char *lang = grammar_lang_name(p->lang);
        bool remember = p->command != TL_CMD_UNKNOWN &&
                        (saved[0] ? strcmp(saved, lang) != 0 || !on_channel
                                  : p->lang != TL_LANG_EN);
        if (remember &&
            store_subscriber_touch(d->store, phone, lang, ch->name, now, NULL) != TL_OK)
            rc = TL_ERR_STORE;
        else
            rc = dispatch(d, &a, p, text, &reply);
    } else if (rc == TL_ERR_BUSY) {
        rc = TL_OK;
    }
    if (rc == TL_OK && reply.len > 0) {
        struct tl_outbox_new out = {
            .channel = ch->name,
            .phone = phone,
            .text = tl_buf_str(&reply),
            .kind = TL_OUT_REPLY,
            .inbound_id = inbound_id,
        };
        rc = store_outbox_add(d->store, &out, now, NULL);
    }
    if (rc == TL_OK && strcmp(state, row_state) != 0)
        rc = store_inbound_set_state(d->store, inbound_id, state, now);
    if (rc == TL_OK)
        rc = store_tx_commit(d->store);
    if (rc != TL_OK) {
        store_tx_rollback(d->store);
        tl_buf_free(&reply);
        free(p);
        return TL_ERR_STORE;
    }
    *reply_out = reply.len ? tl_buf_steal(&reply) : NULL;
    tl_buf_free(&reply);
    free(p);
    return TL_OK;
}

void commands_opt_out(struct tl_daemon *d, const struct tl_channel_conf *ch, const char *phone)
{
    char phonebuf[LOG_PHONE_BUFSZ];

    if (subscribers_stop(d, phone, ch->name, TL_LANG_EN, NULL) != TL_OK)
        log_error("commands", "event=opt_out_failed channel=%s phone=%s", ch->name,
                  log_phone(phone, phonebuf));
}
