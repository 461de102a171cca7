/*
 * casenum.h — case numbers (SPEC.md §2): six ASCII digits, five random digits
 * followed by a Damm check digit, so any single mistyped digit and any swap of
 * two adjacent digits is caught instead of hitting another case.
 *
 * Owns: the Damm quasigroup (the standard order-10 table, weakly totally
 * anti-symmetric) and the case-number shape. Pure: the caller supplies the
 * randomness, so nothing here reads a clock or a random device.
 */
#ifndef TALAASH_CASENUM_H
#define TALAASH_CASENUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TL_CASENUM_LEN 6

/*
 * The Damm check digit (0-9) of digits[0..n) (ASCII '0'-'9'), e.g. 4 for
 * "572"; 0 for n == 0. Returns -1 when a byte is not an ASCII digit.
 * Appending the result makes the whole string check to 0.
 */
int damm_check_digit(const char *digits, size_t n);

/* True when s[0..len) is exactly six ASCII digits whose Damm check is 0. */
bool casenum_valid(const char *s, size_t len);

/*
 * Writes a case number to out: the five digits of random_value % 100000,
 * zero-padded, then their check digit, then NUL: 123 gives "001234".
 */
void casenum_make(uint32_t random_value, char out[TL_CASENUM_LEN + 1]);

#endif
