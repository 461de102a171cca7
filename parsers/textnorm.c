/*
 * textnorm.c — folding text to a matching key and edit distances (see
 * textnorm.h). Owns the one definition of "the same word" used by the SMS
 * grammar and the gazetteer. Pure: no I/O, no logging, no global state.
 *
 * Folding runs in two passes. utf8proc does NFKC and case folding on the
 * whole string (composed, so Urdu letters such as ئ and آ survive). A second
 * pass walks the code points: Arabic-script letters are unified by a small
 * table (ي/ى→ی, ك→ک, ه/ۂ/ۀ/ة→ہ, أ/إ/ٱ→ا), harakat and tatweel are dropped,
 * Urdu and Arabic-Indic digits become ASCII, Latin letters are decomposed so
 * their accents can be dropped (é→e), and punctuation, symbols and white
 * space become one space. Pure-ASCII input skips utf8proc entirely: it is the
 * common case and folds with a lookup per byte.
 */
#include "parsers/textnorm.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "common/utf8.h"
#include "common/xmalloc.h"

/* Appends cp to out (at least 4 bytes free), turning runs of spaces into one
 * and dropping leading spaces. */
static void emit(char *out, size_t *n, int32_t cp)
{
    if (cp == ' ') {
        if (*n == 0 || out[*n - 1] == ' ')
            return;
        out[(*n)++] = ' ';
        return;
    }
    *n += tl_utf8_encode(cp, out + *n);
}

/* Maps an Arabic-block code point: returns the replacement, 0 to drop it, or
 * -1 when the code point is not special. */
static int32_t arabic_map(int32_t cp)
{
    if (cp >= 0x0660 && cp <= 0x0669)
        return '0' + (cp - 0x0660);
    if (cp >= 0x06F0 && cp <= 0x06F9)
        return '0' + (cp - 0x06F0);
    if ((cp >= 0x064B && cp <= 0x065F) || cp == 0x0670 || cp == 0x0640)
        return 0;
    switch (cp) {
    case 0x064A: /* ي Arabic yeh */
    case 0x0649: /* ى alef maksura */
        return 0x06CC; /* ی Farsi yeh */
    case 0x0643: /* ك Arabic kaf */
        return 0x06A9; /* ک keheh */
    case 0x0647: /* ه heh */
    case 0x06C2: /* ۂ heh goal with hamza */
    case 0x06C0: /* ۀ heh with yeh */
    case 0x0629: /* ة teh marbuta */
        return 0x06C1; /* ہ heh goal */
    case 0x0623: /* أ */
    case 0x0625: /* إ */
    case 0x0671: /* ٱ */
        return 0x0627; /* ا (آ is kept: it is its own letter in Urdu) */
    default:
        return -1;
    }
}

/* Folds one code point of NFKC, case-folded text into out. */
static void fold_cp(char *out, size_t *n, int32_t cp)
{
    int32_t m;

    if (cp >= 0x0600 && cp <= 0x06FF && (m = arabic_map(cp)) >= 0) {
        if (m > 0)
            emit(out, n, m);
        return;
    }
    if (cp < 0x0590 || (cp >= 0x1E00 && cp < 0x2000)) {
        /* Latin, Greek, Cyrillic: decompose so that accents become marks. */
        utf8proc_int32_t parts[8];
        utf8proc_ssize_t np = utf8proc_decompose_char(cp, parts, 8, UTF8PROC_DECOMPOSE, NULL);

        if (np > 1 && np <= 8) {
            for (utf8proc_ssize_t i = 0; i < np; i++)
                fold_cp(out, n, parts[i]);
            return;
        }
    }
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        emit(out, n, cp);
        return;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF: /* ZWNJ, ZWJ, BOM, soft hyphen: inside words */
        return;
    default: /* punctuation, symbols, separators, controls, unassigned */
        emit(out, n, ' ');
        return;
    }
}

static char *fold_ascii(const char *s, size_t len, size_t *outlen)
{
    char *out = xmalloc(len + 1);
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 'A' && c <= 'Z')
            out[n++] = (char)(c - 'A' + 'a');
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[n++] = (char)c;
        else if (n > 0 && out[n - 1] != ' ')
            out[n++] = ' ';
    }
    if (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    if (outlen)
        *outlen = n;
    return out;
}

char *textnorm_fold(const char *s, size_t len, size_t *outlen)
{
    utf8proc_uint8_t *nfkc = NULL;
    utf8proc_ssize_t nlen;
    size_t pos = 0, n = 0;
    char *out;
    bool ascii = true;

    if (s == NULL && len > 0)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] >= 0x80) {
            ascii = false;
            break;
        }
    }
    if (ascii)
        return fold_ascii(s ? s : "", len, outlen);
    if (!tl_utf8_valid(s, len))
        return NULL;
    nlen = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &nfkc,
                        UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
    if (nlen < 0)
        return NULL;
    /* Only Latin, Greek and Cyrillic letters decompose here, into a base no
     * longer than themselves plus marks that are dropped; four times the
     * NFKC length is far more than any code point can grow to. */
    out = xmalloc((size_t)nlen * 4 + 8);
    while (pos < (size_t)nlen) {
        int32_t cp = tl_utf8_next((const char *)nfkc, (size_t)nlen, &pos);

        if (cp < 0)
            cp = ' ';
        fold_cp(out, &n, cp);
    }
    free(nfkc);
    if (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    if (outlen)
        *outlen = n;
    return out;
}

size_t textnorm_decode(const char *s, size_t len, int32_t *cps, size_t max)
{
    size_t pos = 0, n = 0;

    while (pos < len) {
        int32_t cp = tl_utf8_next(s, len, &pos);

        if (n < max)
            cps[n] = cp;
        n++;
    }
    return n;
}

int textnorm_distance_cp(const int32_t *a, size_t alen, const int32_t *b, size_t blen, int max)
{
    /*
     * Optimal string alignment distance over three rolling rows, computed
     * only inside the diagonal band |i - j| <= max (cells outside it cannot
     * lead to a distance within max); stops as soon as a whole row exceeds
     * max, since row minima never decrease.
     */
    int stack_rows[3 * 65];
    int *rows = stack_rows, *prev2, *prev, *cur;
    size_t diff = alen > blen ? alen - blen : blen - alen, band;
    int inf, result = -1;

    if (max < 0)
        max = 0;
    if (diff > (size_t)max)
        return max + 1;
    if (alen == 0 || blen == 0)
        return (int)(alen + blen);
    if (blen > alen) { /* a is the longer string; rows run over b */
        const int32_t *t = a;
        size_t tl = alen;

        a = b;
        alen = blen;
        b = t;
        blen = tl;
    }
    inf = max + 1;
    band = (size_t)max;
    if (blen + 2 > 65)
        rows = xmalloc(3 * (blen + 2) * sizeof *rows);
    prev2 = rows;
    prev = rows + (blen + 2);
    cur = rows + 2 * (blen + 2);
    for (size_t j = 0; j <= blen + 1; j++) {
        prev[j] = j <= band ? (int)j : inf;
        prev2[j] = inf;
    }
    for (size_t i = 1; i <= alen && result < 0; i++) {
        size_t lo = i > band ? i - band : 1, hi = i + band < blen ? i + band : blen;
        int rowmin = inf;

        cur[0] = i <= band ? (int)i : inf;
        if (lo > 1)
            cur[lo - 1] = inf;
        for (size_t j = lo; j <= hi; j++) {
            int v = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);

            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            if (v > inf)
                v = inf;
            cur[j] = v;
            if (v < rowmin)
                rowmin = v;
        }
        if (hi < blen)
            cur[hi + 1] = inf;
        if (rowmin > max)
            result = inf;
        {
            int *t = prev2;

            prev2 = prev;
            prev = cur;
            cur = t;
        }
    }
    if (result < 0)
        result = prev[blen] > max ? inf : prev[blen];
    if (rows != stack_rows)
        free(rows);
    return result;
}

int textnorm_distance(const char *a, size_t alen, const char *b, size_t blen, int max)
{
    int32_t sa[64], sb[64];
    int32_t *ca = sa, *cb = sb;
    size_t na = textnorm_decode(a, alen, NULL, 0), nb = textnorm_decode(b, blen, NULL, 0);
    int d;

    if (na > 64)
        ca = xmalloc(na * sizeof *ca);
    if (nb > 64)
        cb = xmalloc(nb * sizeof *cb);
    textnorm_decode(a, alen, ca, na);
    textnorm_decode(b, blen, cb, nb);
    d = textnorm_distance_cp(ca, na, cb, nb, max);
    if (ca != sa)
        free(ca);
    if (cb != sb)
        free(cb);
    return d;
}
