/*
 * ussd.h — the USSD menu of SPEC.md §3 as a state machine over the store.
 */
#ifndef TALAASH_USSD_H
#define TALAASH_USSD_H

#include <stdbool.h>

struct tl_daemon;
struct tl_channel_conf;
struct tl_ussd_step;

/* The last screen for a request we could not read. */
#define USSD_TEXT_BAD_REQUEST "Talaash: sorry, that request could not be read. Please dial again."

struct tl_ussd_screen {
    char *text; /* ≤ 182 characters */
    bool end;   /* last screen of the session */
};

/* Computes the screen for one step. TL_OK, or TL_ERR_STORE (answer 503). */
int ussd_step(struct tl_daemon *d, const struct tl_channel_conf *ch,
              const struct tl_ussd_step *step, struct tl_ussd_screen *screen);
void ussd_screen_clear(struct tl_ussd_screen *screen);

#endif
