/*
 * gsm7.c — GSM 03.38 tables, SMS segment counting, look-alike replacement,
 * cutting to a number of parts and UTF-16BE (see gsm7.h for the rules).
 *
 * The tables are indexed by septet value, as in 3GPP TS 23.038 §6.2.1, so
 * they can be checked line by line against the standard (and PROTOCOLS.md
 * §1d). Counting walks the text once and simulates the filling of parts for
 * both encodings at the same time.
 */
#include "parsers/gsm7.h"
#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#include <string.h>

/* The basic table: code point of each septet; 0x1B is the escape (none). */
static const uint16_t gsm7_basic[128] = {
    /* 0x00 */ '@', 0x00A3, '$', 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
    /* 0x08 */ 0x00F2, 0x00C7, '\n', 0x00D8, 0x00F8, '\r', 0x00C5, 0x00E5,
    /* 0x10 */ 0x0394, '_', 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    /* 0x18 */ 0x03A3, 0x0398, 0x039E, 0xFFFF, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
    /* 0x20 */ ' ', '!', '"', '#', 0x00A4, '%', '&', '\'',
    /* 0x28 */ '(', ')', '*', '+', ',', '-', '.', '/',
    /* 0x30 */ '0', '1', '2', '3', '4', '5', '6', '7',
    /* 0x38 */ '8', '9', ':', ';', '<', '=', '>', '?',
    /* 0x40 */ 0x00A1, 'A', 'B', 'C', 'D', 'E', 'F', 'G',
    /* 0x48 */ 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    /* 0x50 */ 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W',
    /* 0x58 */ 'X', 'Y', 'Z', 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    /* 0x60 */ 0x00BF, 'a', 'b', 'c', 'd', 'e', 'f', 'g',
    /* 0x68 */ 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    /* 0x70 */ 'p', 'q', 'r', 's', 't', 'u', 'v', 'w',
    /* 0x78 */ 'x', 'y', 'z', 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};

/* The extension table: ESC followed by code gives cp; 2 septets each. */
static const struct {
    uint8_t code;
    uint16_t cp;
} gsm7_ext[] = {
    {0x0A, 0x000C}, /* form feed */
    {0x14, '^'},    {0x28, '{'}, {0x29, '}'}, {0x2F, '\\'}, {0x3C, '['},
    {0x3D, '~'},    {0x3E, ']'}, {0x40, '|'}, {0x65, 0x20AC}, /* euro sign */
};

int gsm7_char_cost(int32_t cp)
{
    if (cp < 0 || cp >= 0xFFFF) /* 0xFFFF marks the escape slot */
        return 0;
    for (size_t i = 0; i < sizeof(gsm7_basic) / sizeof(gsm7_basic[0]); i++) {
        if (gsm7_basic[i] == cp)
            return 1;
    }
    for (size_t i = 0; i < sizeof(gsm7_ext) / sizeof(gsm7_ext[0]); i++) {
        if (gsm7_ext[i].cp == cp)
            return 2;
    }
    return 0;
}

/*
 * One encoding's view of a message being counted: total units, and the
 * parts it would take if concatenated, filled one character at a time so
 * that a multi-unit character never straddles two parts.
 */
struct sms_sim {
    size_t units;
    size_t parts; /* as a concatenated message (parts of `part` units) */
    size_t used;  /* units in the last part */
};

static void sim_add(struct sms_sim *sim, size_t cost, size_t part)
{
    sim->units += cost;
    if (sim->parts == 0 || sim->used + cost > part) {
        sim->parts++;
        sim->used = cost;
    } else {
        sim->used += cost;
    }
}

static size_t sim_segments(const struct sms_sim *sim, size_t single)
{
    return sim->units <= single ? 1 : sim->parts;
}

/* Both encodings at once; gsm_ok turns false at the first non-GSM-7 character. */
struct sms_counter {
    bool gsm_ok;
    struct sms_sim gsm;
    struct sms_sim ucs;
};

static void counter_add(struct sms_counter *c, int32_t cp)
{
    int cost = gsm7_char_cost(cp);

    if (cost == 0)
        c->gsm_ok = false;
    if (c->gsm_ok)
        sim_add(&c->gsm, (size_t)cost, TL_SMS_GSM7_PART);
    sim_add(&c->ucs, cp >= 0x10000 ? 2 : 1, TL_SMS_UCS2_PART);
}

static size_t counter_segments(const struct sms_counter *c)
{
    return c->gsm_ok ? sim_segments(&c->gsm, TL_SMS_GSM7_SINGLE)
                     : sim_segments(&c->ucs, TL_SMS_UCS2_SINGLE);
}

bool sms_is_gsm7(const char *utf8, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        int32_t cp = tl_utf8_next(utf8, len, &pos);
        if (cp < 0 || gsm7_char_cost(cp) == 0)
            return false;
    }
    return true;
}

int sms_count(const char *utf8, size_t len, struct tl_sms_count *out)
{
    struct sms_counter c = {.gsm_ok = true};
    size_t pos = 0;

    memset(out, 0, sizeof(*out));
    while (pos < len) {
        int32_t cp = tl_utf8_next(utf8, len, &pos);
        if (cp < 0)
            return TL_ERR_BAD_UTF8;
        counter_add(&c, cp);
    }
    out->ucs2 = !c.gsm_ok;
    out->units = c.gsm_ok ? c.gsm.units : c.ucs.units;
    out->segments = counter_segments(&c);
    if (c.gsm_ok)
        out->chars_per_segment = out->segments > 1 ? TL_SMS_GSM7_PART : TL_SMS_GSM7_SINGLE;
    else
        out->chars_per_segment = out->segments > 1 ? TL_SMS_UCS2_PART : TL_SMS_UCS2_SINGLE;
    return TL_OK;
}

size_t sms_fit(const char *s, size_t len, size_t max_segments)
{
    struct sms_counter c = {.gsm_ok = true};
    size_t pos = 0;

    if (max_segments == 0)
        return 0;
    /* Segments only grow with the prefix (GSM-7 never takes more parts than
     * UCS-2 for the same characters), so the first overflow ends the search. */
    while (pos < len) {
        size_t before = pos;
        int32_t cp = tl_utf8_next(s, len, &pos);
        if (cp < 0)
            return before;
        counter_add(&c, cp);
        if (counter_segments(&c) > max_segments)
            return before;
    }
    return len;
}

/* Base letters of U+00C0..U+017F; '.' where there is none (or it is GSM-7). */
static const char latin_base[] = "AAAAAA.CEEEEIIII" /* U+00C0 */
                                 "DNOOOOO.OUUUUY.." /* U+00D0 */
                                 "aaaaaa.ceeeeiiii" /* U+00E0 */
                                 "dnooooo.ouuuuy.y" /* U+00F0 */
                                 "AaAaAaCcCcCcCcDd" /* U+0100 */
                                 "DdEeEeEeEeEeGgGg" /* U+0110 */
                                 "GgGgHhHhIiIiIiIi" /* U+0120 */
                                 "Ii..JjKk.LlLlLlL" /* U+0130 */
                                 "lLlNnNnNnn..OoOo" /* U+0140 */
                                 "Oo..RrRrRrSsSsSs" /* U+0150 */
                                 "SsTtTtTtUuUuUuUu" /* U+0160 */
                                 "UuUuWwYyYZzZzZzs" /* U+0170 */;

/*
 * The GSM-7 replacement of a non-GSM-7 code point, or NULL when there is
 * none. base holds a one-letter replacement.
 */
static const char *smart_replacement(int32_t cp, char base[2])
{
    switch (cp) {
    case 0x0060: /* ` grave accent */
    case 0x00B4: /* ´ acute accent */
    case 0x02BC: /* ʼ modifier letter apostrophe */
    case 0x2018: /* ‘ */
    case 0x2019: /* ’ */
    case 0x201A: /* ‚ */
    case 0x201B: /* ‛ */
    case 0x2032: /* ′ prime */
    case 0x2039: /* ‹ */
    case 0x203A: /* › */
        return "'";
    case 0x00AB: /* « */
    case 0x00BB: /* » */
    case 0x201C: /* “ */
    case 0x201D: /* ” */
    case 0x201E: /* „ */
    case 0x201F: /* ‟ */
    case 0x2033: /* ″ double prime */
        return "\"";
    case 0x2010: /* ‐ hyphen */
    case 0x2011: /* ‑ non-breaking hyphen */
    case 0x2012: /* ‒ figure dash */
    case 0x2013: /* – en dash */
    case 0x2014: /* — em dash */
    case 0x2015: /* ― horizontal bar */
    case 0x2212: /* − minus sign */
        return "-";
    case 0x2026: /* … */
        return "...";
    case 0x0009: /* TAB */
    case 0x00A0: /* NBSP */
    case 0x1680: /* ogham space mark */
    case 0x202F: /* narrow NBSP */
    case 0x205F: /* medium mathematical space */
    case 0x3000: /* ideographic space */
        return " ";
    case 0x00AD: /* soft hyphen: invisible */
        return "";
    case 0x0152: /* Œ */
        return "OE";
    case 0x0153: /* œ */
        return "oe";
    case 0x0218: /* Ș */
        return "S";
    case 0x0219: /* ș */
        return "s";
    case 0x021A: /* Ț */
        return "T";
    case 0x021B: /* ț */
        return "t";
    default:
        break;
    }
    if (cp >= 0x2000 && cp <= 0x200A) /* en quad … hair space */
        return " ";
    if (cp >= 0x00C0 && cp <= 0x017F && latin_base[cp - 0x00C0] != '.') {
        base[0] = latin_base[cp - 0x00C0];
        base[1] = '\0';
        return base;
    }
    return NULL;
}

char *sms_smarten(const char *s, size_t len, size_t *outlen)
{
    struct tl_buf b = {0};
    char base[2];
    size_t pos = 0;
    bool all_gsm = true;

    if (!tl_utf8_valid(s, len))
        return NULL;
    while (pos < len) {
        int32_t cp = tl_utf8_next(s, len, &pos);
        if (gsm7_char_cost(cp) == 0 && smart_replacement(cp, base) == NULL) {
            all_gsm = false;
            break;
        }
    }
    if (!all_gsm) {
        if (outlen)
            *outlen = len;
        return xstrndup(s, len);
    }
    pos = 0;
    tl_buf_append(&b, "", 0); /* an empty result is "" too */
    while (pos < len) {
        size_t start = pos;
        int32_t cp = tl_utf8_next(s, len, &pos);
        if (gsm7_char_cost(cp) > 0)
            tl_buf_append(&b, s + start, pos - start);
        else
            tl_buf_append_str(&b, smart_replacement(cp, base));
    }
    if (outlen)
        *outlen = b.len;
    return tl_buf_steal(&b);
}

int sms_to_ucs2be(const char *utf8, size_t len, struct tl_buf *out)
{
    size_t pos = 0;

    if (!tl_utf8_valid(utf8, len))
        return TL_ERR_BAD_UTF8;
    while (pos < len) {
        uint32_t cp = (uint32_t)tl_utf8_next(utf8, len, &pos);
        unsigned char u[4];
        size_t n = 2;

        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            uint32_t hi = 0xD800 | (v >> 10), lo = 0xDC00 | (v & 0x3FF);
            u[0] = (unsigned char)(hi >> 8);
            u[1] = (unsigned char)(hi & 0xFF);
            u[2] = (unsigned char)(lo >> 8);
            u[3] = (unsigned char)(lo & 0xFF);
            n = 4;
        } else {
            u[0] = (unsigned char)(cp >> 8);
            u[1] = (unsigned char)(cp & 0xFF);
        }
        tl_buf_append(out, u, n);
    }
    return TL_OK;
}
