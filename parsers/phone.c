/*
 * phone.c — normalising phone numbers to E.164, masking them for logs, and
 * the grammar's "is this a phone number" heuristic (see phone.h for the
 * rules and the choices behind them).
 */
#include "parsers/phone.h"
#include "common/result.h"
#include "common/utf8.h"

#include <stdint.h>
#include <string.h>

enum phone_char {
    PHONE_DIGIT,
    PHONE_PLUS,
    PHONE_SEP,
    PHONE_OTHER,
};

int phone_digit_value(int32_t cp)
{
    if (cp >= '0' && cp <= '9')
        return cp - '0';
    if (cp >= 0x06F0 && cp <= 0x06F9) /* Extended Arabic-Indic (Urdu) */
        return cp - 0x06F0;
    if (cp >= 0x0660 && cp <= 0x0669) /* Arabic-Indic */
        return cp - 0x0660;
    return -1;
}

/* Classifies one code point; *digit gets the value of a digit. */
static enum phone_char phone_classify(int32_t cp, char *digit)
{
    int d = phone_digit_value(cp);

    if (d >= 0) {
        *digit = (char)('0' + d);
        return PHONE_DIGIT;
    }
    if (cp == '+')
        return PHONE_PLUS;
    if (cp == ' ' || cp == '\t' || cp == '-' || cp == '.' || cp == '/' || cp == '(' || cp == ')')
        return PHONE_SEP;
    return PHONE_OTHER;
}

static bool country_code_valid(const char *cc, size_t *cclen)
{
    size_t n = cc ? strlen(cc) : 0;

    if (n < 1 || n > 3 || cc[0] == '0')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (cc[i] < '0' || cc[i] > '9')
            return false;
    }
    *cclen = n;
    return true;
}

/* Country codes whose national significant numbers may begin with 0. */
static bool country_keeps_zero(const char *cc)
{
    static const char *const keep[] = {"39", "225", "242", "378"};

    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        if (strcmp(cc, keep[i]) == 0)
            return true;
    }
    return false;
}

int phone_normalize(const char *in, size_t len, const char *country_code, char out[TL_PHONE_MAX])
{
    char d[TL_PHONE_INPUT_MAX + 1];      /* the digits as typed */
    char intl[TL_PHONE_INPUT_MAX + 4];   /* country code + national number */
    size_t nd = 0, ni = 0, cclen = 0, pos = 0;
    bool plus = false;

    out[0] = '\0';
    if (in == NULL || len == 0 || len > TL_PHONE_INPUT_MAX ||
        !country_code_valid(country_code, &cclen))
        return TL_ERR_INVALID;
    while (pos < len) {
        char digit = 0;
        int32_t cp = tl_utf8_next(in, len, &pos);

        switch (cp < 0 ? PHONE_OTHER : phone_classify(cp, &digit)) {
        case PHONE_DIGIT:
            d[nd++] = digit;
            break;
        case PHONE_PLUS:
            if (plus || nd > 0)
                return TL_ERR_INVALID;
            plus = true;
            break;
        case PHONE_SEP:
            /* "+44 (0)20 …": the trunk zero in brackets after a country code */
            if (cp == '(' && len - pos >= 2 && in[pos] == '0' && in[pos + 1] == ')' && nd > 0 &&
                (plus || (nd > 2 && d[0] == '0' && d[1] == '0')))
                pos += 2;
            break;
        case PHONE_OTHER:
            return TL_ERR_INVALID;
        }
    }
    if (nd == 0)
        return TL_ERR_INVALID;

    if (plus) {
        memcpy(intl, d, nd);
        ni = nd;
    } else if (nd >= 2 && d[0] == '0' && d[1] == '0') {
        memcpy(intl, d + 2, nd - 2);
        ni = nd - 2;
    } else if (d[0] == '0') {
        memcpy(intl, country_code, cclen);
        memcpy(intl + cclen, d + 1, nd - 1);
        ni = cclen + nd - 1;
    } else if (nd >= 11) {
        memcpy(intl, d, nd);
        ni = nd;
    } else if (nd >= 9) {
        /* 8 digits or fewer may be a local number missing its area code */
        memcpy(intl, country_code, cclen);
        memcpy(intl + cclen, d, nd);
        ni = cclen + nd;
    } else {
        return TL_ERR_INVALID;
    }

    bool own = ni >= cclen && memcmp(intl, country_code, cclen) == 0;
    if (own && ni > cclen && intl[cclen] == '0' && !country_keeps_zero(country_code)) {
        memmove(intl + cclen, intl + cclen + 1, ni - cclen - 1);
        ni--;
    }
    if (ni < TL_PHONE_MIN_DIGITS || ni > TL_PHONE_MAX - 2 || intl[0] == '0')
        return TL_ERR_INVALID;
    if (own && ni - cclen < TL_PHONE_MIN_NATIONAL)
        return TL_ERR_INVALID;
    out[0] = '+';
    memcpy(out + 1, intl, ni);
    out[ni + 1] = '\0';
    return TL_OK;
}

/* Length of the E.164 country code at the start of digits (ITU list). */
static size_t e164_cc_len(const char *digits, size_t n)
{
    static const char two[] = "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 "
                              "51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 "
                              "81 82 84 86 90 91 92 93 94 95 98 ";

    if (n == 0 || digits[0] == '0') /* no country code starts with 0 */
        return 0;
    if (digits[0] == '1' || digits[0] == '7')
        return 1;
    if (n < 2)
        return n;
    for (size_t i = 0; i + 2 < sizeof(two); i += 3) {
        if (two[i] == digits[0] && two[i + 1] == digits[1])
            return 2;
    }
    return n < 3 ? n : 3;
}

/* Appends n bytes to out[*at..outsz-1), always leaving room for the NUL. */
static void out_put(char *out, size_t outsz, size_t *at, const char *p, size_t n)
{
    for (size_t i = 0; i < n && *at + 1 < outsz; i++)
        out[(*at)++] = p[i];
}

void phone_mask(const char *e164, char *out, size_t outsz)
{
    size_t at = 0, n, cclen, national, head, tail;
    const char *p;
    bool plus;

    if (outsz == 0)
        return;
    if (e164 == NULL) {
        out_put(out, outsz, &at, "-", 1);
        out[at] = '\0';
        return;
    }
    plus = e164[0] == '+';
    p = e164 + (plus ? 1 : 0);
    n = strlen(p);
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            n = 0;
            break;
        }
    }
    if (n == 0) {
        out_put(out, outsz, &at, "(invalid)", 9);
        out[at] = '\0';
        return;
    }
    cclen = plus ? e164_cc_len(p, n) : 0;
    if (cclen >= n) /* nothing but a country code: hide it all */
        cclen = 0;
    national = n - cclen;
    head = national >= 10 ? 3 : national >= 8 ? 2 : 0;
    tail = national >= 10 ? 3 : national >= 6 ? 2 : 0;
    if (plus)
        out_put(out, outsz, &at, "+", 1);
    out_put(out, outsz, &at, p, cclen + head);
    for (size_t i = 0; i < national - head - tail; i++)
        out_put(out, outsz, &at, "*", 1);
    out_put(out, outsz, &at, p + n - tail, tail);
    out[at] = '\0';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool phone_looks_like(const char *s, size_t len)
{
    char first[2] = {0, 0};
    size_t nd = 0, pos = 0;
    bool plus = false;

    if (s == NULL)
        return false;
    while (len > 0 && is_space(s[len - 1]))
        len--;
    while (pos < len && is_space(s[pos]))
        pos++;
    while (pos < len) {
        char digit = 0;
        int32_t cp = tl_utf8_next(s, len, &pos);

        switch (cp < 0 ? PHONE_OTHER : phone_classify(cp, &digit)) {
        case PHONE_DIGIT:
            if (nd < 2)
                first[nd] = digit;
            nd++;
            break;
        case PHONE_PLUS:
            if (plus || nd > 0)
                return false;
            plus = true;
            break;
        case PHONE_SEP:
            break;
        case PHONE_OTHER:
            return false;
        }
    }
    if (nd >= 7)
        return true;
    if (plus)
        return nd >= 2;
    if (first[0] == '0' && first[1] == '0')
        return nd >= 4;
    return nd == 4 && first[0] == '0' && first[1] == '3';
}

bool phone_next_run(const char *s, size_t len, size_t from, size_t *start, size_t *end)
{
    size_t pos = from, run = 0, last = 0, plus_at = SIZE_MAX;
    bool in_run = false;

    while (pos < len) {
        size_t at = pos;
        char digit = 0;
        int32_t cp = tl_utf8_next(s, len, &pos);
        enum phone_char c = cp < 0 ? PHONE_OTHER : phone_classify(cp, &digit);

        if (c == PHONE_DIGIT) {
            if (!in_run) {
                in_run = true;
                /* a '+' before the first digit ("+92", "+(92)") belongs to the number */
                run = plus_at != SIZE_MAX ? plus_at : at;
            }
            last = pos;
        } else if (in_run && c != PHONE_SEP) {
            break; /* a letter, a second '+', …: the stretch ends at its last digit */
        } else if (!in_run) {
            plus_at = c == PHONE_PLUS ? at : c == PHONE_SEP ? plus_at : SIZE_MAX;
        }
    }
    if (!in_run)
        return false;
    *start = run;
    *end = last;
    return true;
}
