/*
 * subscribers.h — volunteers' subscriptions (SPEC.md §2): JOIN an area,
 * UNSUB from one, STOP everything (which wins at once: queued alert
 * messages to the number are cancelled), and the AREAS listing. Shared by
 * SMS and USSD; runs inside the caller's transaction; the text for the
 * person goes to `reply`.
 */
#ifndef TALAASH_SUBSCRIBERS_H
#define TALAASH_SUBSCRIBERS_H

#include "common/buf.h"
#include "parsers/grammar.h"

struct tl_daemon;
struct tl_actor;

int subscribers_join(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                     struct tl_buf *reply);
int subscribers_leave(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                      struct tl_buf *reply);
/* STOP: no further alerts to the number, queued ones cancelled. */
int subscribers_stop(struct tl_daemon *d, const char *phone, const char *channel,
                     enum tl_lang lang, struct tl_buf *reply);
int subscribers_areas(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                      struct tl_buf *reply);

#endif
