/*
 * ussd.c — the USSD menu (see ussd.h).
 *
 * Stage of this file: the route, provider parsing and answering are done
 * (issue #3); the menu state machine of SPEC.md §3 is issue #4's. Until it
 * lands, every session gets one END screen pointing to the SMS commands.
 */
#include "gateway/ussd.h"
#include "providers/provider.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdlib.h>

int ussd_step(struct tl_daemon *d, const struct tl_channel_conf *ch,
              const struct tl_ussd_step *step, struct tl_ussd_screen *screen)
{
    (void)d;
    (void)ch;
    (void)step;
    screen->text = xstrdup("Talaash: the menu is not available yet. "
                           "SMS HELP for the commands.");
    screen->end = true;
    return TL_OK;
}

void ussd_screen_clear(struct tl_ussd_screen *screen)
{
    free(screen->text);
    screen->text = NULL;
}
