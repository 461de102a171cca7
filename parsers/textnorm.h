/*
 * textnorm.h — folding text for matching (pure: no I/O).
 *
 * Parents type one word many ways: "Lyari", "LYAARI", "لیاری" typed with an
 * Arabic yeh. Folding maps all of them to one key before any comparison:
 * NFKC (utf8proc), lower case, Arabic-script unification (ي→ی, ى→ی, ك→ک,
 * ه/ۂ/ة→ہ, أ/إ/آ kept as typed forms are unified to ا except آ), diacritics
 * and tatweel removed, Urdu (۰–۹) and Arabic (٠–٩) digits to ASCII,
 * punctuation and symbols to a space, runs of white space to one space,
 * trimmed. Latin accents are stripped (é→e).
 */
#ifndef TALAASH_TEXTNORM_H
#define TALAASH_TEXTNORM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Returns a newly allocated folded copy of s[0..len) (caller frees) and its
 * length in *outlen (may be NULL), or NULL when s is not valid UTF-8.
 */
char *textnorm_fold(const char *s, size_t len, size_t *outlen);

/* Unicode-aware edit distance (Damerau–Levenshtein, adjacent transpositions)
 * between two folded strings, counted in code points; stops early and returns
 * max + 1 once the distance exceeds max. */
int textnorm_distance(const char *a, size_t alen, const char *b, size_t blen, int max);

/* Decodes UTF-8 into code points, storing at most max of them in cps (may be
 * NULL when max is 0); returns how many there are (invalid bytes as -1). */
size_t textnorm_decode(const char *s, size_t len, int32_t *cps, size_t max);
/* textnorm_distance() over already decoded code points, for callers that
 * compare one text against many precomputed keys. */
int textnorm_distance_cp(const int32_t *a, size_t alen, const int32_t *b, size_t blen, int max);

#endif
