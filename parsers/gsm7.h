/*
 * gsm7.h — SMS character sets and segments (3GPP TS 23.038, PROTOCOLS.md §1d):
 * which text fits the GSM 7-bit default alphabet, how many septets or UTF-16
 * units it costs, how many SMS parts it takes, look-alike replacement that
 * keeps a message in GSM-7, cutting text to a number of parts, and UTF-16BE
 * for aggregators that take pre-encoded UCS-2 (Kannel coding=2).
 *
 * Owns: the GSM-7 basic and extension tables and the segment rules. Pure: no
 * I/O, no logging; every function validates its UTF-8 input.
 *
 * Rules:
 *  - a message is GSM-7 when every character is in the basic table (1 septet)
 *    or the extension table (ESC + code, 2 septets); any other character
 *    makes the whole message UCS-2, counted in UTF-16 code units (an
 *    extension character then costs 1, an astral character such as an emoji
 *    costs 2);
 *  - one part holds 160 septets / 70 units; a concatenated message's parts
 *    hold 153 / 67 (6 octets of UDH);
 *  - parts are filled by simulation: a 2-septet extension character or a
 *    surrogate pair never straddles a part boundary, so it moves whole to the
 *    next part ("{" as septet 153 forces another part);
 *  - the empty message is one part with zero units.
 */
#ifndef TALAASH_GSM7_H
#define TALAASH_GSM7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define TL_SMS_GSM7_SINGLE 160
#define TL_SMS_GSM7_PART 153
#define TL_SMS_UCS2_SINGLE 70
#define TL_SMS_UCS2_PART 67

struct tl_sms_count {
    bool ucs2;                /* false: GSM-7; true: UCS-2 (UTF-16) */
    size_t units;             /* septets (GSM-7) or UTF-16 code units (UCS-2) */
    size_t segments;          /* SMS parts, at least 1 */
    size_t chars_per_segment; /* capacity in units: 160/153 (GSM-7) or 70/67 (UCS-2) */
};

/*
 * Septets a code point costs in GSM-7: 1 for the basic table, 2 for the
 * extension table, 0 when it is not in GSM-7 at all.
 */
int gsm7_char_cost(int32_t cp);

/* True when utf8[0..len) is valid UTF-8 and every character is GSM-7. */
bool sms_is_gsm7(const char *utf8, size_t len);

/* Counts utf8[0..len) as above. TL_OK, or TL_ERR_BAD_UTF8 (*out zeroed). */
int sms_count(const char *utf8, size_t len, struct tl_sms_count *out);

/*
 * Look-alike replacement before falling back to UCS-2, applied only to
 * characters that are not GSM-7 (GSM-7 characters, and so Urdu, are never
 * touched): ’ ‘ ‚ ‛ ′ ` ´ ʼ ‹ › -> '   “ ” „ ‟ ″ « » -> "   ‐ ‑ ‒ – — ― − -> -
 * … -> ...   TAB, NBSP and the other Unicode space characters -> space
 * soft hyphen -> removed   accented Latin letters not in GSM-7 (á ê ï õ ç ł
 * š …) -> their base letter (Œ œ -> OE oe).
 * All or nothing: when any character would stay outside GSM-7 after the
 * replacements (Urdu, emoji…), the message is UCS-2 whatever we do, and in
 * UCS-2 every look-alike already costs one unit (the ellipsis less than its
 * replacement), so the text is returned unchanged rather than degraded.
 * Returns a new NUL-terminated string (caller frees) and its length in
 * *outlen (may be NULL), or NULL when s is not valid UTF-8.
 */
char *sms_smarten(const char *s, size_t len, size_t *outlen);

/*
 * The byte length of the longest prefix of s[0..len) that fits in
 * max_segments parts, counted as that prefix would be sent (a GSM-7 prefix
 * of text that later turns UCS-2 is counted as GSM-7). It always ends on a
 * code point boundary, so neither a surrogate pair nor an extension
 * character is split; it does not know grapheme clusters (a combining mark
 * may be cut from its base). It stops at the first invalid UTF-8 byte, and
 * returns 0 when max_segments is 0.
 */
size_t sms_fit(const char *s, size_t len, size_t max_segments);

/*
 * Appends utf8[0..len) to out as UTF-16BE: no BOM, astral characters as
 * surrogate pairs. TL_OK, or TL_ERR_BAD_UTF8 with out unchanged.
 */
int sms_to_ucs2be(const char *utf8, size_t len, struct tl_buf *out);

#endif
