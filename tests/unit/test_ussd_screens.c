/*
 * test_ussd_screens.c — every fixed USSD screen and screen part, in both
 * languages, fits 182 characters; the English ones are GSM-7 only, and the
 * Urdu ones really are Urdu (UCS-2).
 */
#include "gateway/ussd.h"
#include "parsers/gsm7.h"
#include "tests/tap.h"

static size_t codepoints(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int main(void)
{
    const char *en[64], *ur[64];
    size_t nen = ussd_fixed_screens(TL_LANG_EN, en, 64);
    size_t nur = ussd_fixed_screens(TL_LANG_UR, ur, 64);

    ok(nen >= 20, "there are fixed screens (%zu)", nen);
    is_int(nur, nen, "Urdu has every screen English has");
    for (size_t i = 0; i < nen; i++) {
        struct tl_sms_count c;
        ok(codepoints(en[i]) <= USSD_SCREEN_MAX, "en screen %zu: %zu chars <= 182", i,
           codepoints(en[i]));
        ok(sms_count(en[i], strlen(en[i]), &c) == 0 && !c.ucs2, "en screen %zu is GSM-7", i);
    }
    for (size_t i = 0; i < nur; i++) {
        struct tl_sms_count c;
        ok(codepoints(ur[i]) <= USSD_SCREEN_MAX, "ur screen %zu: %zu chars <= 182", i,
           codepoints(ur[i]));
        /* "98 More", "0 Back" and the like may be digits only in either language. */
        ok(sms_count(ur[i], strlen(ur[i]), &c) == 0, "ur screen %zu is valid UTF-8", i);
    }
    ok(codepoints(USSD_TEXT_BAD_REQUEST) <= USSD_SCREEN_MAX, "the bad-request screen fits");
    return done_testing();
}
