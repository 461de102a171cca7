/*
 * test_gsm7.c — GSM 03.38 tables, segment counting, smartening, fitting and
 * UTF-16BE (parsers/gsm7.h). Expected values are written out, not derived
 * from the code under test.
 */
#include "common/buf.h"
#include "common/result.h"
#include "common/utf8.h"
#include "parsers/gsm7.h"
#include "tests/tap.h"

#include <stdbool.h>
#include <stdlib.h>

/* The 127 characters of the basic table (all but ESC), in table order. */
static const char basic_chars[] = "@£$¥èéùìòÇ\nØø\rÅå"
                                  "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
                                  " !\"#¤%&'()*+,-./0123456789:;<=>?"
                                  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
                                  "¿abcdefghijklmnopqrstuvwxyzäöñüà";
/* The 10 characters of the extension table. */
static const char ext_chars[] = "\f^{}\\[~]|€";

/* A scratch string: concatenation of up to three runs of repeated pieces. */
static struct tl_buf scratch;

static const char *rep(const char *a, size_t na, const char *b, size_t nb, const char *c,
                       size_t nc)
{
    tl_buf_reset(&scratch);
    tl_buf_append(&scratch, "", 0);
    for (size_t i = 0; i < na; i++)
        tl_buf_append_str(&scratch, a);
    for (size_t i = 0; b && i < nb; i++)
        tl_buf_append_str(&scratch, b);
    for (size_t i = 0; c && i < nc; i++)
        tl_buf_append_str(&scratch, c);
    return tl_buf_str(&scratch);
}

static void count_is(const char *s, bool ucs2, size_t units, size_t segments, size_t per,
                     const char *name)
{
    struct tl_sms_count c;
    int rc = sms_count(s, strlen(s), &c);

    is_int(rc, TL_OK, "%s: counted", name);
    is_int(c.ucs2, ucs2, "%s: %s", name, ucs2 ? "UCS-2" : "GSM-7");
    is_int(c.units, units, "%s: %zu units", name, units);
    is_int(c.segments, segments, "%s: %zu segments", name, segments);
    is_int(c.chars_per_segment, per, "%s: %zu per segment", name, per);
}

static void smarten_is(const char *in, const char *want, const char *name)
{
    size_t outlen = 12345;
    char *got = sms_smarten(in, strlen(in), &outlen);

    is_str(got, want, "smarten %s", name);
    is_int(outlen, strlen(want), "smarten %s: length", name);
    free(got);
}

static void ucs2_is(const char *in, size_t inlen, const unsigned char *want, size_t wantlen,
                    const char *name)
{
    struct tl_buf b = {0};
    int rc = sms_to_ucs2be(in, inlen, &b);

    is_int(rc, TL_OK, "UTF-16BE %s: ok", name);
    ok(b.len == wantlen && (wantlen == 0 || memcmp(b.data, want, wantlen) == 0),
       "UTF-16BE %s: exact bytes", name);
    tl_buf_free(&b);
}

static void bad_utf8(const char *s, size_t len, const char *name)
{
    struct tl_sms_count c = {true, 9, 9, 9};
    struct tl_buf b = {0};

    is_int(sms_count(s, len, &c), TL_ERR_BAD_UTF8, "sms_count rejects %s", name);
    ok(!c.ucs2 && c.units == 0 && c.segments == 0 && c.chars_per_segment == 0,
       "sms_count zeroes the result for %s", name);
    ok(sms_smarten(s, len, NULL) == NULL, "sms_smarten rejects %s", name);
    is_int(sms_to_ucs2be(s, len, &b), TL_ERR_BAD_UTF8, "sms_to_ucs2be rejects %s", name);
    is_int(b.len, 0, "sms_to_ucs2be leaves out unchanged for %s", name);
    ok(!sms_is_gsm7(s, len), "sms_is_gsm7 false for %s", name);
    tl_buf_free(&b);
}

int main(void)
{
    /* ---- the tables ---- */
    {
        size_t pos = 0, n = 0, wrong = 0, len = strlen(basic_chars);
        while (pos < len) {
            int32_t cp = tl_utf8_next(basic_chars, len, &pos);
            n++;
            if (gsm7_char_cost(cp) != 1) {
                wrong++;
                diag("basic U+%04X costs %d", (unsigned)cp, gsm7_char_cost(cp));
            }
        }
        is_int(n, 127, "127 basic characters listed");
        is_int(wrong, 0, "every basic character costs 1 septet");
        count_is(basic_chars, false, 127, 1, 160, "the whole basic table");
    }
    {
        size_t pos = 0, n = 0, wrong = 0, len = strlen(ext_chars);
        while (pos < len) {
            int32_t cp = tl_utf8_next(ext_chars, len, &pos);
            n++;
            if (gsm7_char_cost(cp) != 2) {
                wrong++;
                diag("extension U+%04X costs %d", (unsigned)cp, gsm7_char_cost(cp));
            }
        }
        is_int(n, 10, "10 extension characters listed");
        is_int(wrong, 0, "every extension character costs 2 septets");
        count_is(ext_chars, false, 20, 1, 160, "the whole extension table");
    }
    {
        /* a sample of what is in neither table */
        static const int32_t none[] = {0x0000, 0x0009, 0x000B, 0x001B, 0x0060, 0x007F, 0x00A0,
                                       0x00E1, 0x00E7, 0x00C0, 0x0391, 0x03B1, 0x0627, 0x06F8,
                                       0x2019, 0x2013, 0x2026, 0xFFFF, 0x1F600, -1, 0x110000};
        int wrong = 0;
        for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
            if (gsm7_char_cost(none[i]) != 0) {
                wrong++;
                diag("U+%04X wrongly in GSM-7", (unsigned)none[i]);
            }
        }
        is_int(wrong, 0, "characters outside both tables cost 0");
        /* and all 128 ASCII code points: 95 in basic or extension with the right cost */
        int ascii_basic = 0, ascii_ext = 0;
        for (int32_t cp = 0; cp < 128; cp++) {
            int c = gsm7_char_cost(cp);
            ascii_basic += c == 1;
            ascii_ext += c == 2;
        }
        is_int(ascii_basic, 88, "ASCII in the basic table: 86 printable + LF + CR");
        is_int(ascii_ext, 9, "ASCII in the extension table: FF ^ { } \\ [ ~ ] |");
    }
    ok(sms_is_gsm7("Hello @ £5 {x}", strlen("Hello @ £5 {x}")), "sms_is_gsm7 true");
    ok(!sms_is_gsm7("it’s", strlen("it’s")), "sms_is_gsm7 false for a curly quote");
    ok(sms_is_gsm7("", 0), "sms_is_gsm7 true for empty");

    /* ---- GSM-7 edges ---- */
    count_is("", false, 0, 1, 160, "empty");
    count_is("a", false, 1, 1, 160, "one character");
    count_is(rep("a", 160, NULL, 0, NULL, 0), false, 160, 1, 160, "160 a");
    count_is(rep("a", 161, NULL, 0, NULL, 0), false, 161, 2, 153, "161 a");
    count_is(rep("a", 306, NULL, 0, NULL, 0), false, 306, 2, 153, "306 a");
    count_is(rep("a", 307, NULL, 0, NULL, 0), false, 307, 3, 153, "307 a");
    count_is(rep("a", 459, NULL, 0, NULL, 0), false, 459, 3, 153, "459 a");
    count_is(rep("a", 460, NULL, 0, NULL, 0), false, 460, 4, 153, "460 a");
    count_is(rep("a", 158, "{", 1, NULL, 0), false, 160, 1, 160, "158 a + { = 160 septets");
    count_is(rep("a", 159, "{", 1, NULL, 0), false, 161, 2, 153, "159 a + { = 161 septets");
    count_is(rep("{", 80, NULL, 0, NULL, 0), false, 160, 1, 160, "80 {");
    count_is(rep("{", 81, NULL, 0, NULL, 0), false, 162, 2, 153, "81 {");
    count_is(rep("€", 153, NULL, 0, NULL, 0), false, 306, 3, 153,
             "153 euro signs: 76 per part, 3 parts for 306 septets");
    /* '{' as septet 153 does not fit in part 1 and moves whole to part 2 */
    count_is(rep("a", 152, "{", 1, "a", 152), false, 306, 3, 153,
             "152 a + { + 152 a: 306 septets but 3 parts");
    count_is(rep("a", 151, "{", 1, "a", 153), false, 306, 2, 153,
             "151 a + { + 153 a: { ends part 1 exactly, 2 parts");
    count_is(rep("a", 152, "{", 1, "a", 10), false, 164, 2, 153, "152 a + { + 10 a");
    count_is(rep("a", 152, "a", 1, "{", 76), false, 305, 2, 153, "153 a + 76 {");
    count_is(rep("a", 152, "a", 1, "{", 77), false, 307, 3, 153, "153 a + 77 {");
    count_is("Hello\r\nworld", false, 12, 1, 160, "CR LF");

    /* ---- UCS-2 edges (ب is U+0628) ---- */
    count_is(rep("ب", 70, NULL, 0, NULL, 0), true, 70, 1, 70, "70 Urdu letters");
    count_is(rep("ب", 71, NULL, 0, NULL, 0), true, 71, 2, 67, "71 Urdu letters");
    count_is(rep("ب", 134, NULL, 0, NULL, 0), true, 134, 2, 67, "134 Urdu letters");
    count_is(rep("ب", 135, NULL, 0, NULL, 0), true, 135, 3, 67, "135 Urdu letters");
    count_is(rep("a", 69, "ب", 1, NULL, 0), true, 70, 1, 70, "69 a + one Urdu letter is UCS-2");
    count_is(rep("a", 158, "’", 1, NULL, 0), true, 159, 3, 67,
             "one curly quote turns 159 characters into 3 UCS-2 parts");
    count_is(rep("{", 10, "ب", 1, NULL, 0), true, 11, 1, 70, "extension characters cost 1 in UCS-2");
    count_is(rep("€", 70, "ب", 1, NULL, 0), true, 71, 2, 67, "70 euro + Urdu: 71 units");
    count_is("گمشدہ عمران ۸ سال لڑکا ملیر", true, 27, 1, 70, "Urdu report text");
    count_is("😀", true, 2, 1, 70, "an emoji costs 2 units");
    count_is(rep("😀", 35, NULL, 0, NULL, 0), true, 70, 1, 70, "35 emoji: 70 units, 1 part");
    count_is(rep("😀", 36, NULL, 0, NULL, 0), true, 72, 2, 67,
             "36 emoji: 72 units, 33 per part");
    count_is(rep("a", 68, "😀", 1, NULL, 0), true, 70, 1, 70, "emoji ending a single part");
    /* the emoji would straddle units 67/68: it moves to part 2 */
    count_is(rep("ب", 66, "😀", 1, "ب", 66), true, 134, 3, 67,
             "66 + emoji + 66: 134 units but 3 parts");
    count_is(rep("ب", 65, "😀", 1, "ب", 67), true, 134, 2, 67,
             "65 + emoji + 67: emoji ends part 1 exactly, 2 parts");
    count_is(rep("ب", 66, "😀", 1, "ب", 10), true, 78, 2, 67, "66 + emoji + 10");

    /* ---- invalid UTF-8 ---- */
    bad_utf8("\xff", 1, "0xFF");
    bad_utf8("ab\xc0\x80", 4, "overlong NUL C0 80");
    bad_utf8("\xed\xa0\x80", 3, "surrogate ED A0 80");
    bad_utf8("\xe2\x80", 2, "truncated E2 80");
    bad_utf8("\xf5\x80\x80\x80", 4, "F5 lead byte");
    bad_utf8("a\x80" "b", 3, "lone continuation byte");

    /* ---- smartening ---- */
    smarten_is("It’s “fine” – ok…", "It's \"fine\" - ok...", "curly quotes, en dash, ellipsis");
    smarten_is("‘a’ ‚b‛ „c‟ «d» ‹e›", "'a' 'b' \"c\" \"d\" 'e'", "all quote forms");
    smarten_is("a—b―c−d‐e‑f‒g", "a-b-c-d-e-f-g", "dashes and minus");
    smarten_is("Malir\xc2\xa0Halt\tnow", "Malir Halt now", "NBSP and TAB");
    smarten_is("a\xe2\x80\x83" "b\xe2\x80\xaf" "c\xe3\x80\x80" "d", "a b c d", "Unicode spaces");
    smarten_is("co\xc2\xad" "operate", "cooperate", "soft hyphen removed");
    smarten_is("naïve façade São Łódź Œuvre Ștefan", "naive facade Sao Lodz OEuvre Stefan",
               "accented Latin letters to base letters");
    smarten_is("café è à Ç ñ ü Ø ß", "café è à Ç ñ ü Ø ß", "GSM-7 accented letters untouched");
    smarten_is("`quoted´", "'quoted'", "grave and acute accents");
    smarten_is("plain text {ok} €5", "plain text {ok} €5", "GSM-7 text unchanged");
    smarten_is("", "", "empty");
    smarten_is("“گمشدہ” عمران – ملیر", "“گمشدہ” عمران – ملیر",
               "Urdu stays Urdu, look-alikes kept (message is UCS-2 anyway)");
    smarten_is("Seen him? 😀 – call", "Seen him? 😀 – call", "emoji: unchanged");
    {
        const char *in = "Ali’s shirt — “red”…";
        size_t n = 0;
        char *s = sms_smarten(in, strlen(in), &n);
        struct tl_sms_count c;
        is_int(sms_count(s, n, &c), TL_OK, "smartened text counts");
        is_int(c.ucs2, 0, "smartened text is GSM-7");
        is_int(c.units, 22, "smartened text: 22 septets");
        free(s);
        is_int(sms_count(in, strlen(in), &c), TL_OK, "original counts");
        is_int(c.ucs2, 1, "original was UCS-2");
    }
    {
        size_t n = 7;
        char *s = sms_smarten("ab\0c", 4, &n);
        ok(s != NULL && n == 4 && memcmp(s, "ab\0c", 4) == 0,
           "a NUL (not GSM-7, not replaceable) keeps the text unchanged");
        free(s);
    }

    /* ---- sms_fit ---- */
    {
        const char *s = rep("a", 200, NULL, 0, NULL, 0);
        is_int(sms_fit(s, 200, 1), 160, "200 a in 1 part: 160");
        is_int(sms_fit(s, 200, 2), 200, "200 a in 2 parts: all");
        is_int(sms_fit(s, 200, 0), 0, "0 parts: 0");
        s = rep("a", 400, NULL, 0, NULL, 0);
        is_int(sms_fit(s, 400, 2), 306, "400 a in 2 parts: 306");
        is_int(sms_fit(s, 400, 3), 400, "400 a in 3 parts: all");
        s = rep("a", 159, "{", 1, "a", 10);
        is_int(sms_fit(s, strlen(s), 1), 159, "159 a + {: the { does not fit in one part");
        s = rep("a", 158, "{", 1, "a", 10);
        is_int(sms_fit(s, strlen(s), 1), 159, "158 a + {: the { fits exactly");
        s = rep("a", 152, "{", 1, "a", 200);
        is_int(sms_fit(s, strlen(s), 2), 152 + 1 + 151, "152 a + { + …: { moves to part 2");
        s = rep("€", 100, NULL, 0, NULL, 0);
        is_int(sms_fit(s, strlen(s), 1), 80 * 3, "80 euro signs (3 bytes each) in 1 part");
        s = rep("ب", 100, NULL, 0, NULL, 0);
        is_int(sms_fit(s, strlen(s), 1), 70 * 2, "70 Urdu letters in 1 part");
        is_int(sms_fit(s, strlen(s), 2), 100 * 2, "100 Urdu letters in 2 parts");
        s = rep("ب", 66, "😀", 1, "ب", 100);
        is_int(sms_fit(s, strlen(s), 1), 66 * 2 + 4 + 2 * 2, "emoji kept whole in one part");
        is_int(sms_fit(s, strlen(s), 2), 66 * 2 + 4 + 65 * 2, "emoji moves to part 2");
        s = rep("ب", 69, "😀", 1, NULL, 0);
        is_int(sms_fit(s, strlen(s), 1), 69 * 2, "emoji never split: dropped whole");
        s = rep("a", 10, "ب", 100, NULL, 0);
        is_int(sms_fit(s, strlen(s), 1), 10 + 60 * 2, "prefix counted as UCS-2 once Urdu starts");
        s = rep("a", 200, "ب", 1, NULL, 0);
        is_int(sms_fit(s, strlen(s), 2), 200, "GSM-7 prefix of text that later turns UCS-2");
        is_int(sms_fit(s, strlen(s), 1), 160, "GSM-7 prefix in one part");
        is_int(sms_fit("abc\xff" "def", 7, 1), 3, "stops at invalid UTF-8");
        is_int(sms_fit("", 0, 1), 0, "empty");
        is_int(sms_fit("é", 1, 1), 0, "a truncated sequence is not included");
        /* the prefix always counts within the limit and one more character would not */
        s = "ALERT Karachi: Ali, 7, boy, last seen Korangi 5pm, red shirt {near} € gate. "
            "Seen him? Call 15 or reply SEEN 482918 <where> — please share with neighbours "
            "and family in Korangi, Landhi and Malir; every minute matters for this child.";
        size_t n = sms_fit(s, strlen(s), 1);
        struct tl_sms_count c;
        sms_count(s, n, &c);
        ok(c.segments == 1 && n < strlen(s), "fitted prefix is one part (%zu bytes)", n);
        size_t next = n;
        tl_utf8_next(s, strlen(s), &next);
        sms_count(s, next, &c);
        is_int(c.segments, 2, "one more character would need a second part");
    }

    /* ---- UTF-16BE ---- */
    {
        static const unsigned char ab[] = {0x00, 0x61, 0x00, 0x62};
        static const unsigned char salam[] = {0x06, 0x33, 0x06, 0x44, 0x06, 0x27, 0x06, 0x45};
        static const unsigned char emoji[] = {0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00, 0x00, 0x62};
        static const unsigned char maxcp[] = {0xDB, 0xFF, 0xDF, 0xFF};
        static const unsigned char euro_nul[] = {0x20, 0xAC, 0x00, 0x00, 0x00, 0xE9};
        ucs2_is("ab", 2, ab, sizeof(ab), "ab");
        ucs2_is("سلام", strlen("سلام"), salam, sizeof(salam), "Urdu سلام");
        ucs2_is("a😀b", strlen("a😀b"), emoji, sizeof(emoji), "emoji as a surrogate pair");
        ucs2_is("\xf4\x8f\xbf\xbf", 4, maxcp, sizeof(maxcp), "U+10FFFF");
        ucs2_is("€\0é", 6, euro_nul, sizeof(euro_nul), "euro, NUL, é");
        ucs2_is("", 0, NULL, 0, "empty");

        struct tl_buf b = {0};
        tl_buf_append_str(&b, "X");
        is_int(sms_to_ucs2be("a", 1, &b), TL_OK, "appends to a non-empty buffer");
        ok(b.len == 3 && memcmp(b.data, "X\0a", 3) == 0, "appended after existing bytes");
        tl_buf_free(&b);
    }

    tl_buf_free(&scratch);
    return done_testing();
}
