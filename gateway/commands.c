/*
 * commands.c — handling an inbound SMS (see commands.h).
 *
 * Stage of this file: the pipeline around command handling is complete
 * (one transaction: reply queued in the outbox + inbound marked processed);
 * the understanding of commands (parsers/grammar) and the domain actions
 * (cases, subscriptions, police) are issue #6's. Until then every message
 * gets the usage text, which is also what an unrecognised message gets.
 */
#include "gateway/commands.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/store.h"
#include "providers/provider.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <string.h>

static const char help_en[] =
    "Talaash: report a missing child: MISSING name, age, boy/girl, area. "
    "Alerts for an area: JOIN area. Stop alerts: STOP. Case status: STATUS number.";

int commands_handle(struct tl_daemon *d, const struct tl_channel_conf *ch, int64_t inbound_id,
                    const char *phone, const char *text, char **reply)
{
    int64_t now = clock_now();
    struct tl_outbox_new out = {
        .channel = ch->name,
        .phone = phone,
        .text = help_en,
        .kind = TL_OUT_REPLY,
        .inbound_id = inbound_id,
    };

    (void)text;
    *reply = NULL;
    if (store_tx_begin(d->store) != TL_OK)
        return TL_ERR_STORE;
    if (store_outbox_add(d->store, &out, now, NULL) != TL_OK ||
        store_inbound_set_state(d->store, inbound_id, "processed", now) != TL_OK ||
        store_tx_commit(d->store) != TL_OK) {
        store_tx_rollback(d->store);
        return TL_ERR_STORE;
    }
    *reply = xstrdup(help_en);
    return TL_OK;
}

void commands_opt_out(struct tl_daemon *d, const struct tl_channel_conf *ch, const char *phone)
{
    char phonebuf[LOG_PHONE_BUFSZ];
    int64_t cancelled = store_outbox_cancel_phone(d->store, phone, clock_now());

    log_info("commands", "event=opt_out channel=%s phone=%s cancelled=%lld", ch->name,
             log_phone(phone, phonebuf), (long long)cancelled);
}
