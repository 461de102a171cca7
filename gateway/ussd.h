/*
 * ussd.h — the USSD menu of SPEC.md §3 as a state machine over the store.
 */
#ifndef TALAASH_USSD_H
#define TALAASH_USSD_H

#include <stdbool.h>
#include <stddef.h>

#include "parsers/grammar.h"

struct tl_daemon;
struct tl_channel_conf;
struct tl_ussd_step;

/* The last screen for a request we could not read. */
#define USSD_TEXT_BAD_REQUEST "Talaash: sorry, that request could not be read. Please dial again."

/* A USSD screen's limit in characters (GSM-7; 3GPP TS 23.038). */
#define USSD_SCREEN_MAX 182

struct tl_ussd_screen {
    char *text; /* ≤ USSD_SCREEN_MAX characters */
    bool end;   /* last screen of the session */
};

/* Computes the screen for one step. TL_OK, or TL_ERR_STORE (answer 503). */
int ussd_step(struct tl_daemon *d, const struct tl_channel_conf *ch,
              const struct tl_ussd_step *step, struct tl_ussd_screen *screen);
void ussd_screen_clear(struct tl_ussd_screen *screen);
/* The fixed screens and screen parts of lang (for the test that measures every one). */
size_t ussd_fixed_screens(enum tl_lang lang, const char **out, size_t max);

#endif
