/*
 * test_phone.c — phone-number normalising, masking and the grammar
 * heuristic (parsers/phone.h).
 */
#include "common/result.h"
#include "parsers/phone.h"
#include "tests/tap.h"

#include <stdbool.h>

static void norm_ok(const char *in, const char *cc, const char *want)
{
    char out[TL_PHONE_MAX];
    int rc = phone_normalize(in, strlen(in), cc, out);

    is_int(rc, TL_OK, "normalize '%s' (cc %s) succeeds", in, cc);
    is_str(out, want, "normalize '%s' (cc %s) gives the expected E.164", in, cc);
}

static void norm_bad(const char *in, const char *cc, const char *why)
{
    char out[TL_PHONE_MAX] = "x";
    int rc = phone_normalize(in, strlen(in), cc, out);

    is_int(rc, TL_ERR_INVALID, "normalize '%s' refused: %s", in, why);
    is_str(out, "", "refused '%s' leaves out empty", in);
}

static void mask_is(const char *in, const char *want)
{
    char out[32];

    phone_mask(in, out, sizeof(out));
    is_str(out, want, "mask '%s'", in ? in : "(NULL)");
}

static void looks(const char *s, bool want)
{
    ok(phone_looks_like(s, strlen(s)) == want, "phone_looks_like('%s') is %s", s,
       want ? "true" : "false");
}

int main(void)
{
    /* the Pakistani forms of SPEC.md §8 and the brief */
    norm_ok("03001234567", "92", "+923001234567");
    norm_ok("923001234567", "92", "+923001234567");
    norm_ok("0092 300 1234567", "92", "+923001234567");
    norm_ok("+92-300-1234567", "92", "+923001234567");
    norm_ok("(0300) 1234567", "92", "+923001234567");
    norm_ok("+92 (300) 123 4567", "92", "+923001234567");
    norm_ok("+923001234567", "92", "+923001234567");
    norm_ok("0300 1234567", "92", "+923001234567");
    norm_ok("0300-1234567", "92", "+923001234567");
    norm_ok("0300.123.4567", "92", "+923001234567");
    norm_ok("  0300 1234567\t", "92", "+923001234567");
    norm_ok("3001234567", "92", "+923001234567");
    norm_ok("+92 0300 1234567", "92", "+923001234567");
    norm_ok("+92 (0)300 1234567", "92", "+923001234567");
    norm_ok("0092 (0) 300 1234567", "92", "+923001234567");
    norm_ok("00923001234567", "92", "+923001234567");
    /* Urdu and Arabic-Indic digits */
    norm_ok("\xdb\xb0\xdb\xb3\xdb\xb0\xdb\xb0\xdb\xb1\xdb\xb2\xdb\xb3\xdb\xb4\xdb\xb5\xdb\xb6\xdb\xb7",
            "92", "+923001234567");
    norm_ok("\xd9\xa0\xd9\xa3\xd9\xa0\xd9\xa0 1234567", "92", "+923001234567");
    /* landlines */
    norm_ok("021 34567890", "92", "+922134567890");
    norm_ok("(021) 3456-7890", "92", "+922134567890");
    norm_ok("022 1234567", "92", "+92221234567");
    /* other countries pass through */
    norm_ok("+254791541111", "92", "+254791541111");
    norm_ok("+254 791 541111", "92", "+254791541111");
    norm_ok("00254791541111", "92", "+254791541111");
    norm_ok("254791541111", "92", "+254791541111");
    norm_ok("+1 (415) 555-0100", "92", "+14155550100");
    norm_ok("+44 (0)20 7946 0958", "92", "+442079460958");
    norm_ok("+39 06 1234 5678", "92", "+390612345678");
    norm_ok("+971 50 123 4567", "92", "+971501234567");
    /* another configured country */
    norm_ok("0791 541111", "254", "+254791541111");
    norm_ok("(415) 555-0100", "1", "+14155550100");
    norm_ok("06 1234 5678", "39", "+39612345678");
    norm_ok("+39 06 1234 5678", "39", "+390612345678");
    norm_ok("+4420 7946 0958", "44", "+442079460958");

    /* rejections */
    norm_bad("", "92", "empty");
    norm_bad("   ", "92", "only spaces");
    norm_bad("8", "92", "one digit");
    norm_bad("482918", "92", "a case number");
    norm_bad("12345678", "92", "eight bare digits (local number without area code)");
    norm_bad("0300 1234", "92", "too short (7-digit national number)");
    norm_ok("0300 12345", "92", "+9230012345"); /* 8 national digits: the minimum */
    norm_bad("+92 300 12", "92", "too short international");
    norm_bad("+254 791", "92", "too short foreign");
    norm_bad("+1234567890123456", "92", "16 digits");
    norm_bad("+92 300 1234567 8901", "92", "too long");
    norm_bad("0300123456789012", "92", "national too long");
    norm_bad("0300abc4567", "92", "letters");
    norm_bad("tel:+923001234567", "92", "URI scheme");
    norm_bad("O3OO1234567", "92", "letter O for zero");
    norm_bad("++923001234567", "92", "two pluses");
    norm_bad("+92+3001234567", "92", "plus in the middle");
    norm_bad("923001234567+", "92", "plus at the end");
    norm_bad("+0300 1234567", "92", "country code starting with 0");
    norm_bad("0300 1234567#", "92", "hash");
    norm_bad("*384*1234#", "92", "a USSD code");
    norm_bad("+-()", "92", "no digits");
    norm_bad("0300\xff" "1234567", "92", "invalid UTF-8");
    norm_bad("03001234567", "", "empty country code");
    norm_bad("03001234567", "092", "country code with leading 0");
    norm_bad("03001234567", "9a", "country code with a letter");
    norm_bad("03001234567", "9292", "country code of four digits");
    {
        char out[TL_PHONE_MAX] = "x";
        is_int(phone_normalize("0300123\0" "4567", 12, "92", out), TL_ERR_INVALID, "NUL refused");
        is_int(phone_normalize("03001234567", 11, NULL, out), TL_ERR_INVALID,
               "NULL country code refused");
        char longin[80];
        memset(longin, ' ', sizeof(longin));
        memcpy(longin + 60, "03001234567", 11);
        is_int(phone_normalize(longin, sizeof(longin), "92", out), TL_ERR_INVALID,
               "input over TL_PHONE_INPUT_MAX bytes refused");
        is_int(phone_normalize("03001234567", 5, "92", out), TL_ERR_INVALID,
               "only len bytes are read (\"03001\")");
    }

    /* masks */
    mask_is("+923001234567", "+92300****567");
    mask_is("+922134567890", "+92213****890");
    mask_is("+92221234567", "+9222*****67");
    mask_is("+254791541111", "+25479*****11");
    mask_is("+14155550100", "+1415****100");
    mask_is("+442079460958", "+44207****958");
    mask_is("+971501234567", "+97150*****67");
    mask_is("+6112345678", "+6112****78");
    mask_is("+681123456", "+681****56");
    mask_is("+68112345", "+681*****");
    mask_is("+6811234", "+681****");
    mask_is("+92", "+**");
    mask_is("923001234567", "923******567");
    mask_is("8080", "****");
    mask_is("+03001234567", "+030*****567"); /* no country code starts with 0 */
    mask_is("", "(invalid)");
    mask_is("+", "(invalid)");
    mask_is("abc", "(invalid)");
    mask_is("+92 300 1234567", "(invalid)");
    mask_is(NULL, "-");
    {
        char small[8];
        phone_mask("+923001234567", small, sizeof(small));
        is_str(small, "+92300*", "mask cut to outsz stays NUL-terminated");
        char none[1] = {'x'};
        phone_mask("+923001234567", none, 1);
        is_str(none, "", "mask into a 1-byte buffer is empty");
        phone_mask("+923001234567", none, 0);
        is_int(none[0], 0, "outsz 0 writes nothing");
    }

    /* phone_looks_like */
    looks("03001234567", true);
    looks("0300 1234567", true);
    looks("1234567", true);
    looks("+92", true);
    looks("+92 300 1234567", true);
    looks("0092", true);
    looks("0300", true);
    looks("0321", true);
    looks(" 0300 ", true);
    looks("(0300)", true);
    looks("\xdb\xb0\xdb\xb3\xdb\xb0\xdb\xb0", true);
    looks("8", false);
    looks("10", false);
    looks("03", false);
    looks("300", false);
    looks("482918", false);
    looks("0300a", false);
    looks("5pm", false);
    looks("+", false);
    looks("+9", false);
    looks("", false);
    looks("   ", false);
    looks("1+2", false);
    looks("03001", false);
    ok(!phone_looks_like(NULL, 3), "phone_looks_like(NULL) is false");

    return done_testing();
}
