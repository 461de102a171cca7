/*
 * commands.h — what the gateway does with an inbound SMS (SPEC.md §2):
 * understand it, act on it through the domain (cases, subscribers, police),
 * and queue the reply in the outbox, in the sender's language.
 */
#ifndef TALAASH_COMMANDS_H
#define TALAASH_COMMANDS_H

#include <stdint.h>

struct tl_daemon;
struct tl_channel_conf;

/*
 * Handles one stored inbound message from `phone` (E.164) on channel ch:
 * acts, queues the reply (kind reply, on the same channel), and records the
 * outcome ("processed", "limited", "blocked") in the inbound row unless the
 * row already says it (row_state, the state the row was stored with) — all
 * in one transaction. *reply gets a copy of the reply text (caller frees),
 * or NULL. TL_OK or TL_ERR_STORE.
 */
int commands_handle(struct tl_daemon *d, const struct tl_channel_conf *ch, int64_t inbound_id,
                    const char *row_state, const char *phone, const char *text, char **reply);
/* The aggregator says this number opted out (e.g. Twilio 21610): STOP for it. */
void commands_opt_out(struct tl_daemon *d, const struct tl_channel_conf *ch, const char *phone);

#endif
