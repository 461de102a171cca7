/*
 * phone.h — phone numbers: normalising what people and aggregators type to
 * E.164, masking numbers for logs, and telling a phone number from the digit
 * runs of the SMS grammar (pure: no I/O, no allocation).
 *
 * Owns: the rules below. Must not: log, allocate, or know about the store.
 *
 * Normalising (phone_normalize), with country_code "92":
 *   03001234567, 923001234567, 0092 300 1234567, +92-300-1234567,
 *   (0300) 1234567, +92 (300) 123 4567, +92 (0)300 1234567  ->  +923001234567
 *   +254791541111 (another country's E.164)                    ->  +254791541111
 * Accepted characters: ASCII digits, Urdu (U+06F0-06F9) and Arabic-Indic
 * (U+0660-0669) digits, one leading '+', and the separators space, tab, '-',
 * '.', '/', '(' and ')'. Anything else (letters, a second '+', a '+' after a
 * digit, NUL) is TL_ERR_INVALID. The digits are read as:
 *   '+D' or '00D'   international: D is country code + national number;
 *   '0D'            national with trunk prefix: country_code + D;
 *   D with 11+ digits  international without '+' (what aggregators send);
 *   D with 8-10 digits national without trunk prefix: country_code + D.
 * After our own country code one trunk '0' is dropped ("+92 0300 …"), except
 * for the few country codes whose national numbers really begin with 0
 * (39 Italy, 225 Côte d'Ivoire, 242 Congo, 378 San Marino); "(0)" is dropped
 * after any country code.
 * Lengths (the strictness the SMS grammar relies on: a 6-digit case number or
 * an age is never a phone number): our own country's national significant
 * number must have at least TL_PHONE_MIN_NATIONAL (8) digits; any number must
 * have at least TL_PHONE_MIN_DIGITS (10) and at most 15 digits (E.164) after
 * the '+', and cannot start with 0. A few tiny numbering plans with shorter
 * numbers (Niue, Saint Helena, …) are therefore refused; that is deliberate.
 */
#ifndef TALAASH_PHONE_H
#define TALAASH_PHONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* '+', up to 15 digits (E.164), NUL. */
#define TL_PHONE_MAX 17
#define TL_PHONE_MIN_DIGITS 10
#define TL_PHONE_MIN_NATIONAL 8
/* Longer input than this (separators included) is refused unread. */
#define TL_PHONE_INPUT_MAX 64

/*
 * Normalises in[0..len) to E.164 in out ("+923001234567"). country_code is
 * our own calling code without '+', 1-3 digits ("92"). Returns TL_OK, or
 * TL_ERR_INVALID (out is then ""), also for a malformed country_code.
 */
int phone_normalize(const char *in, size_t len, const char *country_code, char out[TL_PHONE_MAX]);

/*
 * Masks a number for logs: the country code (found from the E.164 country
 * code list; none when the first digit is 0), the first 3 and the last 3 digits of the national number are
 * kept when it has 10 or more digits, each other digit becomes '*':
 * "+923001234567" -> "+92300****567". Shorter national numbers keep less
 * (8-9 digits: 2 and 2; 6-7: only the last 2; under 6: nothing), so at
 * least four digits (or all of them) are always hidden. Input without a '+'
 * is treated as all national digits ("923001234567" -> "923******567"); a
 * number no longer than its country code is hidden whole ("+92" -> "+**").
 * Anything that is not '+'?digits gives "(invalid)"; NULL gives "-". The
 * output holds only '+', digits, '*' or those words, is NUL-terminated and
 * cut to outsz.
 */
void phone_mask(const char *e164, char *out, size_t outsz);

/*
 * The SMS grammar's heuristic: does s[0..len) look like (part of) a phone
 * number, so its digits must not be taken as an age or a case number?
 * The span may hold only digits (ASCII, Urdu, Arabic-Indic), a leading '+'
 * and the separators of phone_normalize, surrounding white space allowed.
 * It is a phone number when it has
 *   - 7 or more digits (ages have at most 3, case numbers exactly 6), or
 *   - a leading '+' and 2 or more digits ("+92" of "+92 300 1234567"), or
 *   - a leading "00" and 2 or more digits after it ("0092"), or
 *   - exactly the 4-digit group 03NN, a Pakistani mobile prefix ("0300" of
 *     "0300 1234567").
 */
bool phone_looks_like(const char *s, size_t len);

/* The value (0-9) of a digit of any of the three scripts above, else -1. */
int phone_digit_value(int32_t cp);

/*
 * The next stretch of s[from..len) that may be a phone number, for finding
 * numbers inside free text: it starts at a digit (or at a '+' before one,
 * separators between) and runs through digits and separators up to its last digit; a '+'
 * after a digit starts the next stretch. True with [*start, *end); false
 * when none is left. Whether it is a number is phone_looks_like's answer.
 */
bool phone_next_run(const char *s, size_t len, size_t from, size_t *start, size_t *end);

#endif
