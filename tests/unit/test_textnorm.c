/*
 * test_textnorm.c — folding (Latin case and accents, Arabic-vs-Urdu letters,
 * diacritics, digits, punctuation, invalid UTF-8) and edit distances.
 */
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "parsers/textnorm.h"
#include "tests/tap.h"

static void fold_is(const char *in, const char *want, const char *what)
{
    size_t n = 12345;
    char *got = textnorm_fold(in, strlen(in), &n);

    is_str(got, want, "fold %s", what);
    if (got && want && strlen(got) != n)
        ok(0, "fold %s: outlen %zu matches strlen", what, n);
    free(got);
}

/* Plain optimal string alignment, the whole matrix, as a reference. */
static int osa_ref(const int32_t *a, size_t n, const int32_t *b, size_t m)
{
    int d[20][20];

    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

            if (d[i - 1][j] + 1 < v)
                v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[n][m];
}

static int dist(const char *a, const char *b, int max)
{
    return textnorm_distance(a, strlen(a), b, strlen(b), max);
}

int main(void)
{
    /* Latin */
    fold_is("Lyari", "lyari", "lower case");
    fold_is("LYAARI", "lyaari", "upper case");
    fold_is("  Gulshan-e-Iqbal  ", "gulshan e iqbal", "hyphens and trim");
    fold_is("Block 13,\tGulshan!!", "block 13 gulshan", "punctuation and tab");
    fold_is("Karachi\r\n\r\n", "karachi", "trailing CRLF");
    fold_is("Café Clifton", "cafe clifton", "é to e");
    fold_is("ÀÉÎÕÜ ñ ç", "aeiou n c", "accents stripped");
    fold_is("Straße", "strasse", "sharp s case-folds to ss");
    fold_is("Ｋａｒａｃｈｉ", "karachi", "full-width letters (NFKC)");
    fold_is("Mir’s “Khas”", "mir s khas", "curly quotes to space");
    fold_is("ﬁsh", "fish", "ligature (NFKC)");
    fold_is("", "", "empty");
    fold_is("...   ---", "", "only punctuation");
    fold_is("a\xC2\xA0" "b", "a b", "no-break space");
    fold_is("gul\xC2\xAD" "shan", "gulshan", "soft hyphen removed");

    /* Arabic letters typed for Urdu ones */
    fold_is("ملير", "ملیر", "Arabic yeh ي to Farsi yeh ی");
    fold_is("ليارى", "لیاری", "yeh and alef maksura ى to ی");
    fold_is("كورنگی", "کورنگی", "Arabic kaf ك to keheh ک");
    fold_is("كراچي", "کراچی", "Karachi typed with Arabic kaf and yeh");
    fold_is("گلشن اقبال", "گلشن اقبال", "Urdu text unchanged");
    fold_is("لیاقت آباد", "لیاقت آباد", "alef madda kept");
    fold_is("کوئٹہ", "کوئٹہ", "yeh hamza kept (Quetta)");
    fold_is("قصبه", "قصبہ", "heh ه to heh goal ہ");
    fold_is("مدرسة", "مدرسہ", "teh marbuta ة to ہ");
    fold_is("کالونۂ", "کالونہ", "heh goal hamza ۂ to ہ");
    fold_is("أحمد إسلام", "احمد اسلام", "hamza alefs to alef");

    /* diacritics and tatweel */
    fold_is("مَلِیر", "ملیر", "fatha and kasra removed");
    fold_is("کراچیّ", "کراچی", "shadda removed");
    fold_is("ملـــیر", "ملیر", "tatweel removed");
    fold_is("رحمٰن", "رحمن", "superscript alef removed");
    fold_is("گلشن\xE2\x80\x8C" "اقبال", "گلشناقبال", "ZWNJ removed");

    /* digits */
    fold_is("بلاک ۱۳", "بلاک 13", "Urdu digits to ASCII");
    fold_is("٤٨٢٩١٨", "482918", "Arabic-Indic digits to ASCII");
    fold_is("SEEN ۴۸۲۹۱۸", "seen 482918", "mixed scripts");
    fold_is("①②", "12", "circled digits (NFKC)");

    /* Urdu punctuation */
    fold_is("ملیر، کراچی۔", "ملیر کراچی", "Urdu comma and full stop");
    fold_is("کہاں؟", "کہاں", "Arabic question mark");

    /* Arabic presentation forms (NFKC) */
    fold_is("\xEF\xBB\xA3\xEF\xBB\xA0\xEF\xBB\xB4\xEF\xBA\xAE", "ملیر", "presentation forms to letters");

    /* invalid UTF-8 */
    ok(textnorm_fold("\xC3", 1, NULL) == NULL, "truncated sequence is NULL");
    ok(textnorm_fold("abc\xFF", 4, NULL) == NULL, "0xFF byte is NULL");
    ok(textnorm_fold("\xC0\xAF", 2, NULL) == NULL, "overlong is NULL");
    ok(textnorm_fold("\xED\xA0\x80", 3, NULL) == NULL, "surrogate is NULL");
    ok(textnorm_fold("\xF4\x90\x80\x80", 4, NULL) == NULL, "above U+10FFFF is NULL");
    {
        size_t n = 99;
        char *s = textnorm_fold("a\0b", 3, &n);

        is_str(s, "a b", "embedded NUL is a separator");
        is_int(n, 3, "embedded NUL outlen");
        free(s);
    }
    {
        char *s = textnorm_fold(NULL, 0, NULL);

        is_str(s, "", "NULL with length 0 folds to empty");
        free(s);
    }

    /* distances */
    is_int(dist("korangi", "korangi", 3), 0, "equal strings");
    is_int(dist("korngi", "korangi", 3), 1, "one deletion");
    is_int(dist("lyaari", "lyari", 3), 1, "one insertion");
    is_int(dist("malir", "malit", 3), 1, "one substitution");
    is_int(dist("kroangi", "korangi", 3), 1, "adjacent transposition counts one");
    is_int(dist("ca", "abc", 5), 3, "OSA (not unrestricted Damerau) distance");
    is_int(dist("kitten", "sitting", 5), 3, "kitten/sitting");
    is_int(dist("", "abc", 5), 3, "empty to abc");
    is_int(dist("abc", "", 5), 3, "abc to empty");
    is_int(dist("", "", 0), 0, "empty to empty");
    is_int(dist("karachi", "lahore", 2), 3, "early exit returns max + 1");
    is_int(dist("a", "abcdefgh", 2), 3, "length difference exits early");
    is_int(dist("ملیر", "ملير", 3), 1, "code points, not bytes");
    is_int(dist("ملیر", "ملیر", 0), 0, "equal Urdu at max 0");
    is_int(dist("گلشن", "گشلن", 3), 1, "Urdu transposition");
    is_int(dist("gulshan iqbaal", "gulshan iqbal", 3), 1, "multi-word");
    is_int(dist("abc", "xyz", -1), 1, "negative max treated as 0");
    {
        char a[300], b[300];

        memset(a, 'a', 200);
        a[200] = '\0';
        memcpy(b, a, 201);
        b[100] = 'b';
        is_int(dist(a, b, 3), 1, "long strings (heap rows)");
    }
    {
        int32_t x[] = {0x0645, 0x0644, 0x06CC, 0x0631}, y[] = {0x0645, 0x0644, 0x0631};

        is_int(textnorm_distance_cp(x, 4, y, 3, 2), 1, "distance over code points");
        is_int(textnorm_decode("ملیر", strlen("ملیر"), NULL, 0), 4, "decode counts code points");
    }
    {
        /* every assigned plane: random valid code points fold without harm */
        unsigned seed = 7;
        int folded = 0;

        for (int t = 0; t < 3000; t++) {
            char buf[200];
            size_t n = 0, outlen;
            char *f;

            for (int i = 0; i < 40; i++) {
                int32_t cp;

                seed = seed * 1103515245u + 12345u;
                cp = (int32_t)(seed >> 11) % 0x110000;
                if (cp >= 0xD800 && cp <= 0xDFFF)
                    cp = 'x';
                n += tl_utf8_encode(cp, buf + n);
            }
            f = textnorm_fold(buf, n, &outlen);
            if (f != NULL && strlen(f) == outlen)
                folded++;
            free(f);
        }
        is_int(folded, 3000, "3000 strings of random code points fold");
    }
    {
        /* the banded, early-exit distance agrees with the full matrix */
        unsigned seed = 12345;
        int bad = 0;

        for (int t = 0; t < 20000; t++) {
            int32_t x[19], y[19];
            size_t n, m;
            int max, want, got;

            seed = seed * 1103515245u + 12345u;
            n = (seed >> 16) % 19;
            seed = seed * 1103515245u + 12345u;
            m = (seed >> 16) % 19;
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                x[i] = 'a' + (int32_t)((seed >> 16) % 4);
            }
            for (size_t i = 0; i < m; i++) {
                seed = seed * 1103515245u + 12345u;
                y[i] = 'a' + (int32_t)((seed >> 16) % 4);
            }
            seed = seed * 1103515245u + 12345u;
            max = (int)((seed >> 16) % 6);
            want = osa_ref(x, n, y, m);
            got = textnorm_distance_cp(x, n, y, m, max);
            if ((want <= max && got != want) || (want > max && got != max + 1)) {
                if (bad++ < 3)
                    diag("n=%zu m=%zu max=%d want=%d got=%d", n, m, max, want, got);
            }
        }
        is_int(bad, 0, "20000 random pairs agree with the full OSA matrix");
    }
    return done_testing();
}
