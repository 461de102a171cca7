/*
 * utf8.h — strict UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF) and code-point iteration. Every string from a peer
 * passes tl_utf8_valid() before it goes anywhere.
 */
#ifndef TALAASH_UTF8_H
#define TALAASH_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool tl_utf8_valid(const char *s, size_t len);
/*
 * Decodes one code point at s[*pos], advancing *pos. Returns the code point,
 * or -1 (and advances by one byte) on an invalid sequence.
 */
int32_t tl_utf8_next(const char *s, size_t len, size_t *pos);
/*
 * Writes the UTF-8 encoding of cp to out (at most 4 bytes); returns bytes
 * written. cp must be a Unicode scalar value (0..0x10FFFF, no surrogates):
 * pass only code points that came from tl_utf8_next() or a table.
 */
size_t tl_utf8_encode(int32_t cp, char out[4]);

#endif
