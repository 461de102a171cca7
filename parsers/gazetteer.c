/*
 * gazetteer.c — the areas of SPEC.md §9: reading them from CSV text and
 * matching what people type to them (see gazetteer.h). Pure: it parses text
 * it is handed (the shipped CSV is compiled in), does no I/O and no logging.
 *
 * Design. Everything a match needs is computed once at load time: every
 * English name, Urdu name and alias of every area is folded (textnorm.h)
 * into a key, plus the key with filler words removed ("Shah Faisal Colony"
 * → "shah faisal") and, for several words, the key with the spaces removed
 * ("gulshaneiqbal"). Each key keeps its code points and a 64-bit signature
 * (one bit per hashed code point) for the fuzzy pass. Keys are sorted by
 * their bytes, so an exact match is a binary search.
 *
 * A match folds the text once, removes fillers ("town", "block 13", "no 6",
 * "ka ilaqa", "کے پاس" …) only when something remains, and then
 *   1. looks the folded text, and then the stripped text, up exactly;
 *   2. tries it as two names of which one encloses the other ("Korangi
 *      Karachi", "Hyderabad Sindh") and takes the inner one;
 *   3. failing that, computes the edit distance (textnorm_distance_cp, banded
 *      and early-exit) to the keys whose length lies within reach — the keys
 *      are also kept ordered by length — and whose signature does not already
 *      rule them out. The bound is the scaled distance of allowed_distance();
 *      only when nothing is within it, and the caller wants candidates, a
 *      second pass one edit further collects "did you mean" suggestions.
 * Between 1 and 3 the text's consonant skeleton (skeleton(): vowels,
 * doubled letters, "-e-" joins and spaces dropped) is looked up in its own
 * sorted list, so spellings that differ only so need no alias. Initials
 * forms ("g iqbal", "dm society") are exact keys of their own variant,
 * outranked by any spelling from the file.
 * Among equally good areas, one that encloses another is dropped (typing
 * "Malir" means Malir town, not a Malir district around it); when truly
 * different places remain the answer is AMBIGUOUS, never a guess —
 * gazetteer_prefer() may then pick the one in the sender's own city.
 *
 * Cost, on the shipped 731 areas, one core of the development machine
 * (CPU time, loaded machine): an exact match or a skeleton hit ("Korngi",
 * "bahaadurabaad") 0.2–0.3 µs; text that matches nothing 1.7–6 µs without
 * the "did you mean" pass (TL_MATCH_OPT_NO_NEAR, what the grammar's probes
 * use) and 4–15 µs with it; loading 4.6 ms. A call allocates only the
 * folded text, its stripped copy and one per-area scratch array.
 */
#include "parsers/gazetteer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "parsers/gazetteer_data.h"
#include "parsers/textnorm.h"

enum key_variant {
    KEY_AS_WRITTEN = 0,
    KEY_STRIPPED = 1, /* filler words removed */
    KEY_JOINED = 2,   /* spaces removed */
    KEY_INITIAL = 3,  /* first word(s) as initials: "g iqbal", "dm society"; exact only */
    KEY_SKELETON = 4, /* consonant skeleton (skeleton()); kept apart from the other keys */
};

struct gz_key {
    int area;
    enum key_variant variant;
    char *text; /* folded, NUL-terminated */
    size_t len;
    int32_t *cps;
    size_t ncp;
    uint64_t sig;
};

struct code_ref {
    const char *code;
    size_t index;
};

/* What the fuzzy pass reads of a key, packed and ordered by length. */
struct gz_fkey {
    uint64_t sig;
    const int32_t *cps;
    size_t ncp;
    int area;
};

struct tl_gazetteer {
    struct tl_area *areas;
    size_t n;
    int *depth;         /* 0 for a root */
    char **folded_name; /* folded name_en, for sorting lists */
    struct gz_key *keys; /* sorted by text */
    size_t nkeys;
    struct gz_fkey *fkeys; /* the same keys sorted by length */
    size_t *len_start;     /* fkeys[len_start[L] .. len_start[L + 1]) have L code points */
    size_t max_len;
    struct code_ref *by_code; /* sorted by code */
    struct gz_key *skel;      /* spelling skeletons (KEY_SKELETON), sorted by text */
    size_t nskel;
};

#define GZ_MAX_AREAS 100000
#define GZ_STACK_CPS 64
#define EXACT_MAX 16 /* areas sharing one spelling, at most */

/* ---------------------------------------------------------------- keys --- */

static uint64_t cp_bit(int32_t cp)
{
    uint32_t h = (uint32_t)cp * 0x9E3779B1u;

    return (uint64_t)1 << (h >> 26);
}

static uint64_t signature(const int32_t *cps, size_t n)
{
    uint64_t sig = 0;

    for (size_t i = 0; i < n; i++)
        sig |= cp_bit(cps[i]);
    return sig;
}

/* True when x has more than limit bits set (limit is small: a few steps). */
static bool bits_exceed(uint64_t x, int limit)
{
    for (int i = 0; i <= limit; i++) {
        if (x == 0)
            return false;
        x &= x - 1;
    }
    return true;
}

/* The largest edit distance accepted for a word of n code points. */
static int allowed_distance(size_t n)
{
    if (n <= 3)
        return 0;
    if (n <= 6)
        return 1;
    if (n <= 11)
        return 2;
    return 3;
}

/* --------------------------------------------------------------- fillers --- */

struct word {
    const char *p;
    size_t n;
};

static bool word_is(const struct word *w, const char *s)
{
    size_t n = strlen(s);

    return w->n == n && memcmp(w->p, s, n) == 0;
}

static bool word_in(const struct word *w, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (word_is(w, list[i]))
            return true;
    }
    return false;
}

static bool word_is_digits(const struct word *w)
{
    for (size_t i = 0; i < w->n; i++) {
        if (w->p[i] < '0' || w->p[i] > '9')
            return false;
    }
    return w->n > 0;
}

/* "13", "13d", "5l": digits, then at most two ASCII letters. */
static bool word_is_number(const struct word *w)
{
    size_t i = 0;

    while (i < w->n && w->p[i] >= '0' && w->p[i] <= '9')
        i++;
    if (i == 0 || w->n - i > 2)
        return false;
    for (; i < w->n; i++) {
        if (w->p[i] < 'a' || w->p[i] > 'z')
            return false;
    }
    return true;
}

/* One ASCII letter ("block h") or one code point of another script. */
static bool word_is_letter(const struct word *w)
{
    size_t pos = 0;

    if (w->n == 1)
        return w->p[0] >= 'a' && w->p[0] <= 'z';
    return tl_utf8_next(w->p, w->n, &pos) > 0x7F && pos == w->n;
}

static const char *const filler_words[] = {
    "town", "colony", "area", "ilaqa", "ilaka", "ilaqay", "ilake", "ilaqe", "se", "say",
    "mein", "me", "men", "mai", "near", "nr", "nearby", "in", "at", "from", "wala", "wali",
    "city", "shehar", "shahar", "sheher",
    "\xD8\xB4\xDB\x81\xD8\xB1",                                 /* شہر */
    "\xD9\xB9\xD8\xA7\xD8\xA4\xD9\x86",                         /* ٹاؤن */
    "\xD9\xB9\xD8\xA7\xD9\x88\xD9\x86",                         /* ٹاون */
    "\xDA\xA9\xD8\xA7\xD9\x84\xD9\x88\xD9\x86\xDB\x8C",         /* کالونی */
    "\xD8\xB9\xD9\x84\xD8\xA7\xD9\x82\xDB\x81",                 /* علاقہ */
    "\xD8\xB9\xD9\x84\xD8\xA7\xD9\x82\xDB\x92",                 /* علاقے */
    "\xD9\x85\xDB\x8C\xDA\xBA",                                 /* میں */
    "\xD8\xB3\xDB\x92",                                         /* سے */
    "\xD9\x82\xD8\xB1\xDB\x8C\xD8\xA8",                         /* قریب */
    "\xD9\xBE\xD8\xA7\xD8\xB3",                                 /* پاس */
    NULL,
};

/* First words of two-word fillers; removed only before a second word. */
static const char *const filler_pairs[][2] = {
    {"ka", "ilaqa"},
    {"ka", "ilaka"},
    {"ke", "ilaqe"},
    {"ke", "paas"},
    {"ke", "pas"},
    {"k", "paas"},
    {"k", "pas"},
    {"ke", "qareeb"},
    {"ke", "kareeb"},
    {"ke", "qarib"},
    {"\xDA\xA9\xD8\xA7", "\xD8\xB9\xD9\x84\xD8\xA7\xD9\x82\xDB\x81"},         /* کا علاقہ */
    {"\xDA\xA9\xDB\x92", "\xD9\xBE\xD8\xA7\xD8\xB3"},                         /* کے پاس */
    {"\xDA\xA9\xDB\x92", "\xD9\x82\xD8\xB1\xDB\x8C\xD8\xA8"},                 /* کے قریب */
    {"\xDA\xA9\xDB\x92", "\xD8\xB9\xD9\x84\xD8\xA7\xD9\x82\xDB\x92"},         /* کے علاقے */
};

/* Words that introduce a number: "block 13", "no 6", "sector 11 a". */
static const char *const number_words[] = {
    "block", "blk", "sector", "sec", "no", "number", "num", "nmbr", "phase", "street", "st",
    "gali", "plot", "house",
    "\xD8\xA8\xD9\x84\xD8\xA7\xDA\xA9",                         /* بلاک */
    "\xD8\xB3\xDB\x8C\xDA\xA9\xD9\xB9\xD8\xB1",                 /* سیکٹر */
    "\xD9\x86\xD9\x85\xD8\xA8\xD8\xB1",                         /* نمبر */
    "\xD9\x81\xDB\x8C\xD8\xB2",                                 /* فیز */
    "\xDA\xAF\xD9\x84\xDB\x8C",                                 /* گلی */
    NULL,
};

/* Words after which a lone letter is a block name ("block h"). */
static const char *const letter_words[] = {
    "block", "blk", "sector", "sec", "phase",
    "\xD8\xA8\xD9\x84\xD8\xA7\xDA\xA9", "\xD8\xB3\xDB\x8C\xDA\xA9\xD9\xB9\xD8\xB1", NULL,
};

#define MAX_WORDS 64

/*
 * Writes s (folded) without its filler words to out (at least len + 1
 * bytes) and returns the new length. When nothing but fillers is there, the
 * text is returned unchanged.
 */
static size_t strip_fillers_ex(const char *s, size_t len, char *out, bool *numbered);

static size_t strip_fillers(const char *s, size_t len, char *out)
{
    return strip_fillers_ex(s, len, out, NULL);
}

/* strip_fillers(), and *numbered (when not NULL) tells whether a number or a
 * "block 13"/"phase h" group was among what it removed. */
static size_t strip_fillers_ex(const char *s, size_t len, char *out, bool *numbered)
{
    struct word w[MAX_WORDS];
    bool drop[MAX_WORDS];
    size_t nw = 0, i = 0, n = 0;
    bool kept = false;

    if (numbered)
        *numbered = false;
    while (i < len) {
        size_t start = i;

        while (i < len && s[i] != ' ')
            i++;
        if (nw == MAX_WORDS) {
            memcpy(out, s, len);
            out[len] = '\0';
            return len;
        }
        w[nw].p = s + start;
        w[nw].n = i - start;
        drop[nw] = false;
        nw++;
        if (i < len)
            i++;
    }
    for (i = 0; i < nw; i++) {
        if (word_in(&w[i], filler_words) || word_is_digits(&w[i])) {
            if (numbered && word_is_digits(&w[i]))
                *numbered = true;
            drop[i] = true;
            continue;
        }
        if (i + 1 < nw) {
            bool pair = false;

            for (size_t k = 0; k < sizeof filler_pairs / sizeof filler_pairs[0]; k++) {
                if (word_is(&w[i], filler_pairs[k][0]) && word_is(&w[i + 1], filler_pairs[k][1]))
                    pair = true;
            }
            if (pair) {
                drop[i] = drop[i + 1] = true;
                i++;
                continue;
            }
        }
        if (word_in(&w[i], number_words)) {
            size_t j = i;
            bool letters = false;

            while (j < nw && word_in(&w[j], number_words)) {
                letters = letters || word_in(&w[j], letter_words);
                j++;
            }
            if (j < nw && (word_is_number(&w[j]) || (letters && word_is_letter(&w[j])))) {
                bool digits = word_is_digits(&w[j]);

                j++;
                /* "sector 11 a" (from "11-A"): the letter belongs to the number */
                if (digits && j < nw && word_is_letter(&w[j]))
                    j++;
                for (size_t k = i; k < j; k++)
                    drop[k] = true;
                if (numbered)
                    *numbered = true;
                i = j - 1;
            }
        }
    }
    for (i = 0; i < nw; i++) {
        if (!drop[i])
            kept = true;
    }
    if (!kept) {
        memcpy(out, s, len);
        out[len] = '\0';
        return len;
    }
    for (i = 0; i < nw; i++) {
        if (drop[i])
            continue;
        if (n > 0)
            out[n++] = ' ';
        memcpy(out + n, w[i].p, w[i].n);
        n += w[i].n;
    }
    out[n] = '\0';
    return n;
}

/* -------------------------------------------------------------- variants --- */

/* One-letter words that only join two names: "Gulshan-e-Iqbal", "Gulshan-i-Iqbal". */
static bool is_join_word(const char *p, size_t n)
{
    return n == 1 && (p[0] == 'e' || p[0] == 'i' || p[0] == 'o');
}

#define SKEL_MIN 4 /* shorter skeletons match too much ("sdr", "lnd") */

/*
 * The consonant skeleton of a folded Latin spelling, written to out (at least
 * len + 1 bytes): join words ("e" of "-e-") and spaces dropped, vowels dropped
 * (a leading one kept as 'a'), the aspirate h after k/g/t/d/b/j/r/c dropped,
 * "ph" as f, w as v, q and c as k, doubled letters once. So "Gulshan-e-Iqbal",
 * "gulshan e iqbal", "gulshaneiqbal" and "Gulshan-i-Iqbaal" are all "glshnkbl",
 * and "Bahadurabad"/"Bahadrabad" are "bhdrbd". Returns the length, or 0 when
 * the spelling is not plain Latin or the skeleton is too short to mean much.
 */
static size_t skeleton(const char *s, size_t len, char *out)
{
    size_t n = 0, i = 0, consonants = 0;

    while (i < len) {
        size_t start = i, wl;

        while (i < len && s[i] != ' ')
            i++;
        wl = i - start;
        if (i < len)
            i++;
        if (is_join_word(s + start, wl))
            continue;
        for (size_t k = start; k < start + wl; k++) {
            char c = s[k];

            if ((unsigned char)c >= 0x80)
                return 0;
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
                continue;
            if (strchr("aeiouy", c) != NULL) {
                if (n == 0)
                    out[n++] = 'a';
                continue;
            }
            if (c == 'h' && n > 0 && strchr("kgtdbjrc", out[n - 1]) != NULL)
                continue;
            if (c == 'h' && n > 0 && out[n - 1] == 'p') {
                out[n - 1] = 'f';
                continue;
            }
            if (c == 'w')
                c = 'v';
            else if (c == 'q' || c == 'c')
                c = 'k';
            if (n > 0 && out[n - 1] == c)
                continue;
            out[n++] = c;
            consonants++;
        }
    }
    out[n] = '\0';
    return consonants >= SKEL_MIN ? n : 0;
}

static bool word_alpha(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 'a' || p[i] > 'z')
            return false;
    }
    return n > 0;
}

/*
 * The initials forms of a folded Latin spelling of two words or more (join
 * words not counted): the first word as its initial ("g iqbal" for
 * "gulshan e iqbal", "n nazimabad") into v1, and, for three words or more of
 * letters only, every word but the last as initials ("dm society", "pib
 * colony") into v2 (each at least len + 1 bytes). Sets the lengths (0: none).
 */
static void initials(const char *s, size_t len, char *v1, size_t *n1, char *v2, size_t *n2)
{
    struct word w[MAX_WORDS];
    size_t nw = 0, i = 0;
    bool alpha = true;

    *n1 = *n2 = 0;
    while (i < len && nw < MAX_WORDS) {
        size_t start = i;

        while (i < len && s[i] != ' ')
            i++;
        if (!is_join_word(s + start, i - start)) {
            w[nw].p = s + start;
            w[nw].n = i - start;
            alpha = alpha && word_alpha(w[nw].p, w[nw].n);
            nw++;
        }
        if (i < len)
            i++;
    }
    if (nw < 2 || w[0].n < 3 || !word_alpha(w[0].p, w[0].n))
        return;
    v1[(*n1)++] = w[0].p[0];
    for (i = 1; i < nw; i++) {
        v1[(*n1)++] = ' ';
        memcpy(v1 + *n1, w[i].p, w[i].n);
        *n1 += w[i].n;
    }
    v1[*n1] = '\0';
    if (nw >= 3 && alpha) {
        for (i = 0; i + 1 < nw; i++)
            v2[(*n2)++] = w[i].p[0];
        v2[(*n2)++] = ' ';
        memcpy(v2 + *n2, w[nw - 1].p, w[nw - 1].n);
        *n2 += w[nw - 1].n;
        v2[*n2] = '\0';
    }
}

/* ------------------------------------------------------------------ CSV --- */


struct csv_reader {
    const char *s;
    size_t len, pos;
    int line;
};

struct csv_field {
    char *p; /* owned, NUL-terminated */
    size_t n;
};

static void set_cause(char **cause, int line, const char *reason, const char *detail)
{
    if (cause == NULL)
        return;
    free(*cause);
    if (detail)
        *cause = xasprintf("line %d: %s: %.60s", line, reason, detail);
    else
        *cause = xasprintf("line %d: %s", line, reason);
}

static void fields_free(struct csv_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i].p);
}

/*
 * Reads one record into f (up to max fields; more is an error). Returns the
 * number of fields, 0 at the end of the text, or -1 with *cause set.
 * Blank lines are skipped. *line_out is the record's first line.
 */
static int csv_record(struct csv_reader *r, struct csv_field *f, size_t max, int *line_out,
                      char **cause)
{
    size_t nf = 0;

    /* skip blank lines */
    while (r->pos < r->len && (r->s[r->pos] == '\n' || r->s[r->pos] == '\r')) {
        if (r->s[r->pos] == '\n')
            r->line++;
        r->pos++;
    }
    if (r->pos >= r->len)
        return 0;
    *line_out = r->line;
    for (;;) {
        size_t cap = 32, n = 0;
        char *buf = xmalloc(cap);

        if (r->pos < r->len && r->s[r->pos] == '"') {
            r->pos++;
            for (;;) {
                char c;

                if (r->pos >= r->len) {
                    free(buf);
                    fields_free(f, nf);
                    set_cause(cause, *line_out, "unterminated quoted field", NULL);
                    return -1;
                }
                c = r->s[r->pos++];
                if (c == '"') {
                    if (r->pos < r->len && r->s[r->pos] == '"') {
                        r->pos++;
                    } else {
                        break;
                    }
                } else if (c == '\n') {
                    r->line++;
                }
                if (n + 2 > cap) {
                    cap *= 2;
                    buf = xrealloc(buf, cap);
                }
                buf[n++] = c;
            }
            if (r->pos < r->len && r->s[r->pos] != ',' && r->s[r->pos] != '\n' &&
                r->s[r->pos] != '\r') {
                free(buf);
                fields_free(f, nf);
                set_cause(cause, r->line, "text after closing quote", NULL);
                return -1;
            }
        } else {
            while (r->pos < r->len && r->s[r->pos] != ',' && r->s[r->pos] != '\n' &&
                   r->s[r->pos] != '\r') {
                char c = r->s[r->pos++];

                if (c == '"') {
                    free(buf);
                    fields_free(f, nf);
                    set_cause(cause, r->line, "quote inside an unquoted field", NULL);
                    return -1;
                }
                if (n + 2 > cap) {
                    cap *= 2;
                    buf = xrealloc(buf, cap);
                }
                buf[n++] = c;
            }
        }
        buf[n] = '\0';
        if (nf == max) {
            free(buf);
            fields_free(f, nf);
            set_cause(cause, *line_out, "too many fields", NULL);
            return -1;
        }
        f[nf].p = buf;
        f[nf].n = n;
        nf++;
        if (r->pos < r->len && r->s[r->pos] == ',') {
            r->pos++;
            continue;
        }
        /* end of record */
        if (r->pos < r->len && r->s[r->pos] == '\r')
            r->pos++;
        if (r->pos < r->len && r->s[r->pos] == '\n') {
            r->pos++;
            r->line++;
        }
        return (int)nf;
    }
}

static char *trim_dup(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return xstrndup(p, n);
}

static bool parse_coord(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    while (*s == ' ')
        s++;
    if (*s == '\0')
        return false;
    errno = 0;
    v = strtod(s, &end);
    while (*end == ' ')
        end++;
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool code_valid(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        char c = *s;

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static const char *const kind_names[] = {"country", "province", "city", "district", "town", "area"};

static int kind_parse(const char *s)
{
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++) {
        if (strcmp(s, kind_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

/* ------------------------------------------------------------- building --- */

static void area_clear(struct tl_area *a)
{
    free(a->code);
    free(a->name_en);
    free(a->name_ur);
    for (size_t i = 0; i < a->naliases; i++)
        free(a->aliases[i]);
    free(a->aliases);
}

void gazetteer_free(struct tl_gazetteer *gz)
{
    if (gz == NULL)
        return;
    for (size_t i = 0; i < gz->n; i++) {
        area_clear(&gz->areas[i]);
        if (gz->folded_name)
            free(gz->folded_name[i]);
    }
    for (size_t i = 0; i < gz->nkeys; i++) {
        free(gz->keys[i].text);
        free(gz->keys[i].cps);
    }
    free(gz->areas);
    free(gz->depth);
    free(gz->folded_name);
    free(gz->keys);
    free(gz->fkeys);
    free(gz->len_start);
    free(gz->by_code);
    for (size_t i = 0; i < gz->nskel; i++) {
        free(gz->skel[i].text);
        free(gz->skel[i].cps);
    }
    free(gz->skel);
    free(gz);
}

static int code_ref_cmp(const void *a, const void *b)
{
    const struct code_ref *x = a, *y = b;

    return strcmp(x->code, y->code);
}

struct key_list {
    struct gz_key *keys;
    size_t n, cap;
};

struct key_builder {
    struct key_list main, skel;
};

static int key_tier(enum key_variant v)
{
    return v == KEY_STRIPPED ? 1 : v == KEY_INITIAL ? 2 : 0;
}

static void key_add(struct key_list *kl, int area, enum key_variant v, const char *text,
                    size_t len)
{
    struct gz_key *k;

    if (len == 0)
        return;
    /* the same text for the same area once is enough (a spelling from the
     * file outranks the same text generated as initials) */
    for (size_t i = kl->n; i > 0 && kl->keys[i - 1].area == area; i--) {
        if (kl->keys[i - 1].len == len && memcmp(kl->keys[i - 1].text, text, len) == 0) {
            if (key_tier(v) < key_tier(kl->keys[i - 1].variant))
                kl->keys[i - 1].variant = v;
            return;
        }
    }
    if (kl->n == kl->cap) {
        kl->cap = kl->cap ? kl->cap * 2 : 256;
        kl->keys = xrealloc(kl->keys, kl->cap * sizeof *kl->keys);
    }
    k = &kl->keys[kl->n++];
    k->area = area;
    k->variant = v;
    k->text = xstrndup(text, len);
    k->len = len;
    k->ncp = textnorm_decode(text, len, NULL, 0);
    k->cps = xmalloc((k->ncp ? k->ncp : 1) * sizeof *k->cps);
    textnorm_decode(text, len, k->cps, k->ncp);
    k->sig = signature(k->cps, k->ncp);
}

static void skel_add(struct key_builder *kb, int area, const char *text, size_t len)
{
    char *tmp = xmalloc(len + 2);
    size_t n = skeleton(text, len, tmp);

    if (n > 0)
        key_add(&kb->skel, area, KEY_SKELETON, tmp, n);
    free(tmp);
}

/*
 * Adds the keys of one spelling: as folded, without fillers, without spaces,
 * its initials forms, and the skeleton of the spelling as written (not of
 * the filler-free form: "Peshawar Town I" must not become "Peshawar"). The filler-free form is left out
 * when a number or a block went with the fillers: "Gulshan-e-Iqbal Block 13"
 * and "Malir 15" must not also be "Gulshan-e-Iqbal" and "Malir".
 */
static void keys_add_spelling(struct key_builder *kb, int area, const char *spelling)
{
    size_t flen, slen, jlen = 0, n1, n2;
    char *folded = textnorm_fold(spelling, strlen(spelling), &flen);
    char *tmp, *v1, *v2;
    bool numbered = false;

    if (folded == NULL)
        return;
    tmp = xmalloc(3 * (flen + 2));
    v1 = tmp + flen + 2;
    v2 = v1 + flen + 2;
    key_add(&kb->main, area, KEY_AS_WRITTEN, folded, flen);
    skel_add(kb, area, folded, flen);
    slen = strip_fillers_ex(folded, flen, tmp, &numbered);
    if (!numbered && (slen != flen || memcmp(tmp, folded, flen) != 0)) {
        key_add(&kb->main, area, KEY_STRIPPED, tmp, slen);
    }
    initials(folded, flen, v1, &n1, v2, &n2);
    if (n1 >= 4)
        key_add(&kb->main, area, KEY_INITIAL, v1, n1);
    if (n2 >= 4)
        key_add(&kb->main, area, KEY_INITIAL, v2, n2);
    for (size_t i = 0; i < flen; i++) {
        if (folded[i] != ' ')
            tmp[jlen++] = folded[i];
    }
    if (jlen != flen && textnorm_decode(tmp, jlen, NULL, 0) >= 6)
        key_add(&kb->main, area, KEY_JOINED, tmp, jlen);
    free(tmp);
    free(folded);
}

static int key_cmp(const void *a, const void *b)
{
    const struct gz_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);

    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->area - y->area;
}

static bool is_ancestor(const struct tl_gazetteer *gz, int anc, int of);

/*
 * Drops a filler-free key when an enclosing area is written that way: "Malir
 * City" and "Gadap City" inside the towns Malir and Gadap must not take
 * the towns' own names. kl->keys must be sorted by text.
 */
static void drop_shadowed(const struct tl_gazetteer *gz, struct key_list *kb)
{
    size_t out = 0;

    for (size_t i = 0, run; i < kb->n; i = run) {
        run = i + 1;
        while (run < kb->n && kb->keys[run].len == kb->keys[i].len &&
               memcmp(kb->keys[run].text, kb->keys[i].text, kb->keys[i].len) == 0)
            run++;
        for (size_t k = i; k < run; k++) {
            bool shadowed = false;

            for (size_t j = i; j < run && kb->keys[k].variant == KEY_STRIPPED && !shadowed; j++)
                shadowed = kb->keys[j].variant == KEY_AS_WRITTEN &&
                           is_ancestor(gz, kb->keys[j].area, kb->keys[k].area);
            if (shadowed) {
                free(kb->keys[k].text);
                free(kb->keys[k].cps);
                continue;
            }
            kb->keys[out++] = kb->keys[k];
        }
    }
    kb->n = out;
}

static void build_index(struct tl_gazetteer *gz)
{
    struct key_builder b = {0};
    struct key_list kb;

    gz->folded_name = xcalloc(gz->n, sizeof *gz->folded_name);
    gz->depth = xcalloc(gz->n, sizeof *gz->depth);
    for (size_t i = 0; i < gz->n; i++) {
        struct tl_area *a = &gz->areas[i];
        int d = 0;

        for (int p = a->parent; p >= 0 && d <= (int)gz->n; p = gz->areas[p].parent)
            d++;
        gz->depth[i] = d;
        gz->folded_name[i] = textnorm_fold(a->name_en, strlen(a->name_en), NULL);
        keys_add_spelling(&b, (int)i, a->name_en);
        if (a->name_ur[0])
            keys_add_spelling(&b, (int)i, a->name_ur);
        for (size_t j = 0; j < a->naliases; j++)
            keys_add_spelling(&b, (int)i, a->aliases[j]);
    }
    if (b.main.n > 0)
        qsort(b.main.keys, b.main.n, sizeof *b.main.keys, key_cmp);
    drop_shadowed(gz, &b.main);
    gz->keys = b.main.keys;
    gz->nkeys = b.main.n;
    if (b.skel.n > 0)
        qsort(b.skel.keys, b.skel.n, sizeof *b.skel.keys, key_cmp);
    gz->skel = b.skel.keys;
    gz->nskel = b.skel.n;
    kb = b.main;
    /* counting sort by length for the fuzzy pass */
    gz->max_len = 0;
    for (size_t i = 0; i < kb.n; i++) {
        if (kb.keys[i].ncp > gz->max_len)
            gz->max_len = kb.keys[i].ncp;
    }
    gz->len_start = xcalloc(gz->max_len + 2, sizeof *gz->len_start);
    gz->fkeys = xcalloc(kb.n ? kb.n : 1, sizeof *gz->fkeys);
    for (size_t i = 0; i < kb.n; i++) {
        if (kb.keys[i].variant != KEY_INITIAL)
            gz->len_start[kb.keys[i].ncp + 1]++;
    }
    for (size_t l = 1; l <= gz->max_len + 1; l++)
        gz->len_start[l] += gz->len_start[l - 1];
    {
        size_t *fill = xmalloc((gz->max_len + 1) * sizeof *fill);

        memcpy(fill, gz->len_start, (gz->max_len + 1) * sizeof *fill);
        for (size_t i = 0; i < kb.n; i++) {
            struct gz_fkey *f;

            if (kb.keys[i].variant == KEY_INITIAL)
                continue; /* initials are for exact lookups only */
            f = &gz->fkeys[fill[kb.keys[i].ncp]++];

            f->sig = kb.keys[i].sig;
            f->cps = kb.keys[i].cps;
            f->ncp = kb.keys[i].ncp;
            f->area = kb.keys[i].area;
        }
        free(fill);
    }
}

static const char *const csv_header[] = {"code", "name_en", "name_ur", "aliases", "kind",
                                         "parent", "lat",    "lon",     "centre"};
#define NCOLS_MIN 8 /* the ninth column, centre, may be left out */
#define NCOLS 9

int gazetteer_parse_csv(const char *csv, size_t len, struct tl_gazetteer **out, char **cause)
{
    struct csv_reader r = {csv, len, 0, 1};
    struct csv_field f[NCOLS];
    struct tl_gazetteer *gz;
    char **parent_codes = NULL;
    int *lines = NULL;
    size_t cap = 0;
    int nf, ncols, line = 1;

    *out = NULL;
    if (csv == NULL && len > 0) {
        set_cause(cause, 1, "no text", NULL);
        return TL_ERR_MALFORMED;
    }
    /* a UTF-8 byte order mark is tolerated */
    if (len >= 3 && memcmp(csv, "\xEF\xBB\xBF", 3) == 0)
        r.pos = 3;
    nf = csv_record(&r, f, NCOLS, &line, cause);
    if (nf < 0)
        return TL_ERR_MALFORMED;
    ncols = nf;
    if (nf == 0) {
        set_cause(cause, 1, "empty file: the header row is required", NULL);
        return TL_ERR_MALFORMED;
    }
    for (int i = 0; i < NCOLS_MIN || i < nf; i++) {
        char *h = i < nf ? trim_dup(f[i].p, f[i].n) : NULL;
        bool good = h != NULL && strcmp(h, csv_header[i]) == 0;

        free(h);
        if (!good || nf < NCOLS_MIN) {
            fields_free(f, (size_t)nf);
            set_cause(cause, line,
                      "header must be code,name_en,name_ur,aliases,kind,parent,lat,lon[,centre]",
                      NULL);
            return TL_ERR_MALFORMED;
        }
    }
    fields_free(f, (size_t)nf);

    gz = xcalloc(1, sizeof *gz);
    for (;;) {
        struct tl_area *a;
        const char *bad = NULL, *detail = NULL;
        int kind;

        nf = csv_record(&r, f, NCOLS, &line, cause);
        if (nf == 0)
            break;
        if (nf < 0)
            goto fail;
        if (nf != ncols) {
            fields_free(f, (size_t)nf);
            set_cause(cause, line, ncols == NCOLS ? "expected 9 fields" : "expected 8 fields", NULL);
            goto fail;
        }
        for (int i = 0; i < nf && bad == NULL; i++) {
            if (!tl_utf8_valid(f[i].p, f[i].n) || memchr(f[i].p, '\0', f[i].n) != NULL)
                bad = "invalid UTF-8";
        }
        if (bad) {
            fields_free(f, (size_t)nf);
            set_cause(cause, line, bad, NULL);
            goto fail;
        }
        if (gz->n == GZ_MAX_AREAS) {
            fields_free(f, (size_t)nf);
            set_cause(cause, line, "too many areas", NULL);
            goto fail;
        }
        if (gz->n == cap) {
            cap = cap ? cap * 2 : 128;
            gz->areas = xrealloc(gz->areas, cap * sizeof *gz->areas);
            parent_codes = xrealloc(parent_codes, cap * sizeof *parent_codes);
            lines = xrealloc(lines, cap * sizeof *lines);
        }
        a = &gz->areas[gz->n];
        memset(a, 0, sizeof *a);
        a->index = (int)gz->n;
        a->code = trim_dup(f[0].p, f[0].n);
        a->name_en = trim_dup(f[1].p, f[1].n);
        a->name_ur = trim_dup(f[2].p, f[2].n);
        parent_codes[gz->n] = trim_dup(f[5].p, f[5].n);
        lines[gz->n] = line;
        gz->n++;
        {
            const char *p = f[3].p, *end = f[3].p + f[3].n;

            while (p < end) {
                const char *semi = memchr(p, ';', (size_t)(end - p));
                const char *stop = semi ? semi : end;
                char *alias = trim_dup(p, (size_t)(stop - p));

                if (alias[0]) {
                    a->aliases = xrealloc(a->aliases, (a->naliases + 1) * sizeof *a->aliases);
                    a->aliases[a->naliases++] = alias;
                } else {
                    free(alias);
                }
                p = semi ? semi + 1 : end;
            }
        }
        {
            char *k = trim_dup(f[4].p, f[4].n);

            kind = kind_parse(k);
            if (kind < 0) {
                bad = "unknown kind";
                detail = f[4].p;
            }
            free(k);
        }
        if (bad == NULL && !code_valid(a->code)) {
            bad = "code must be letters, digits, '-', '_' or '.'";
            detail = a->code;
        }
        if (bad == NULL && a->name_en[0] == '\0')
            bad = "name_en is empty";
        if (bad == NULL && !parse_coord(f[6].p, -90.0, 90.0, &a->lat)) {
            bad = "lat must be a number in [-90, 90]";
            detail = f[6].p;
        }
        if (bad == NULL && !parse_coord(f[7].p, -180.0, 180.0, &a->lon)) {
            bad = "lon must be a number in [-180, 180]";
            detail = f[7].p;
        }
        if (bad == NULL && nf == NCOLS) {
            char *c = trim_dup(f[8].p, f[8].n);

            if (strcmp(c, "parent") == 0)
                a->centre_derived = true;
            else if (c[0] != '\0' && strcmp(c, "source") != 0) {
                bad = "centre must be source, parent or empty";
                detail = f[8].p;
            }
            free(c);
        }
        if (bad) {
            set_cause(cause, line, bad, detail);
            fields_free(f, (size_t)nf);
            goto fail;
        }
        a->kind = (enum tl_area_kind)kind;
        fields_free(f, (size_t)nf);
    }
    if (gz->n == 0) {
        set_cause(cause, line, "no areas after the header", NULL);
        goto fail;
    }
    /* resolve parents (a parent may come later in the file) */
    {
        struct code_ref *order = xmalloc(gz->n * sizeof *order);

        for (size_t i = 0; i < gz->n; i++) {
            order[i].code = gz->areas[i].code;
            order[i].index = i;
        }
        qsort(order, gz->n, sizeof *order, code_ref_cmp);
        for (size_t i = 1; i < gz->n; i++) {
            if (strcmp(order[i - 1].code, order[i].code) == 0) {
                size_t later = order[i - 1].index > order[i].index ? order[i - 1].index
                                                                   : order[i].index;

                set_cause(cause, lines[later], "duplicate code", order[i].code);
                free(order);
                goto fail;
            }
        }
        for (size_t i = 0; i < gz->n; i++) {
            const char *pc = parent_codes[i];
            size_t lo = 0, hi = gz->n;

            gz->areas[i].parent = -1;
            if (pc[0] == '\0')
                continue;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(order[mid].code, pc);

                if (c == 0) {
                    gz->areas[i].parent = (int)order[mid].index;
                    break;
                }
                if (c < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (gz->areas[i].parent < 0 || gz->areas[i].parent == (int)i) {
                set_cause(cause, lines[i],
                          gz->areas[i].parent < 0 ? "unknown parent" : "area is its own parent",
                          pc);
                free(order);
                goto fail;
            }
        }
        gz->by_code = order;
    }
    /* no cycles: every chain must reach a root within n steps */
    for (size_t i = 0; i < gz->n; i++) {
        size_t steps = 0;

        for (int p = gz->areas[i].parent; p >= 0; p = gz->areas[p].parent) {
            if (++steps > gz->n) {
                set_cause(cause, lines[i], "parent chain forms a cycle", gz->areas[i].code);
                goto fail;
            }
        }
    }
    for (size_t i = 0; i < gz->n; i++)
        free(parent_codes[i]);
    free(parent_codes);
    free(lines);
    build_index(gz);
    *out = gz;
    return TL_OK;

fail:
    for (size_t i = 0; i < gz->n; i++)
        free(parent_codes[i]);
    free(parent_codes);
    free(lines);
    gazetteer_free(gz);
    return TL_ERR_MALFORMED;
}


int gazetteer_load_default(struct tl_gazetteer **out, char **cause)
{
    size_t total = 0, off = 0;
    char *text;
    int rc;

    for (size_t i = 0; gazetteer_default_csv[i]; i++)
        total += strlen(gazetteer_default_csv[i]);
    text = xmalloc(total + 1);
    for (size_t i = 0; gazetteer_default_csv[i]; i++) {
        size_t n = strlen(gazetteer_default_csv[i]);

        memcpy(text + off, gazetteer_default_csv[i], n);
        off += n;
    }
    text[off] = '\0';
    rc = gazetteer_parse_csv(text, off, out, cause);
    free(text);
    return rc;
}

/* -------------------------------------------------------------- queries --- */

size_t gazetteer_count(const struct tl_gazetteer *gz)
{
    return gz ? gz->n : 0;
}

const struct tl_area *gazetteer_at(const struct tl_gazetteer *gz, size_t index)
{
    return gz && index < gz->n ? &gz->areas[index] : NULL;
}

const struct tl_area *gazetteer_by_code(const struct tl_gazetteer *gz, const char *code)
{
    size_t lo = 0, hi;

    if (gz == NULL || code == NULL)
        return NULL;
    hi = gz->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(gz->by_code[mid].code, code);

        if (c == 0)
            return &gz->areas[gz->by_code[mid].index];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

bool gazetteer_within(const struct tl_gazetteer *gz, const struct tl_area *inner,
                      const struct tl_area *outer)
{
    size_t steps = 0;

    if (gz == NULL || inner == NULL || outer == NULL)
        return false;
    for (int i = inner->index; i >= 0 && steps <= gz->n; i = gz->areas[i].parent, steps++) {
        if (i == outer->index)
            return true;
    }
    return false;
}

double gazetteer_distance_km(const struct tl_area *a, const struct tl_area *b)
{
    const double r = 6371.0088, rad = M_PI / 180.0;
    double dlat = (b->lat - a->lat) * rad, dlon = (b->lon - a->lon) * rad;
    double s1 = sin(dlat / 2), s2 = sin(dlon / 2);
    double h = s1 * s1 + cos(a->lat * rad) * cos(b->lat * rad) * s2 * s2;

    if (h > 1.0)
        h = 1.0;
    return 2.0 * r * asin(sqrt(h));
}

const struct tl_area *gazetteer_city_of(const struct tl_gazetteer *gz, const struct tl_area *a)
{
    size_t steps = 0;

    if (gz == NULL || a == NULL)
        return NULL;
    for (int i = a->index; i >= 0 && steps <= gz->n; i = gz->areas[i].parent, steps++) {
        if (gz->areas[i].kind == TL_AREA_CITY)
            return &gz->areas[i];
    }
    return NULL;
}

int gazetteer_prefer(const struct tl_gazetteer *gz, const struct tl_area_candidate *cands,
                     size_t n, const struct tl_area *const *within, size_t nwithin)
{
    int pick = -1;

    if (gz == NULL || cands == NULL || within == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        bool in = false, encloses = false;

        for (size_t k = 0; k < nwithin && !in; k++)
            in = within[k] != NULL && gazetteer_within(gz, cands[i].area, within[k]);
        if (!in)
            continue;
        /* a candidate enclosing another preferred one is not a second place */
        for (size_t j = 0; j < n && !encloses; j++) {
            if (j != i && cands[j].area != cands[i].area &&
                gazetteer_within(gz, cands[j].area, cands[i].area)) {
                for (size_t k = 0; k < nwithin && !encloses; k++)
                    encloses = within[k] != NULL && gazetteer_within(gz, cands[j].area, within[k]);
            }
        }
        if (encloses)
            continue;
        if (pick >= 0 && cands[pick].area != cands[i].area)
            return -1; /* two places in the preferred cities: still ambiguous */
        pick = (int)i;
    }
    return pick;
}

/* --------------------------------------------------------------- match --- */

/* One area's best distance during a match. */
struct scored {
    int area;
    int dist;
    int depth;        /* deeper (more specific) first among equals */
    const char *name; /* folded English name, then alphabetical */
};

static bool is_ancestor(const struct tl_gazetteer *gz, int anc, int of)
{
    size_t steps = 0;

    for (int p = gz->areas[of].parent; p >= 0 && steps <= gz->n; p = gz->areas[p].parent, steps++) {
        if (p == anc)
            return true;
    }
    return false;
}

static int scored_cmp(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    int c;

    if (x->dist != y->dist)
        return x->dist < y->dist ? -1 : 1;
    if (x->depth != y->depth)
        return x->depth > y->depth ? -1 : 1;
    c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return x->area - y->area;
}

static void scored_set(const struct tl_gazetteer *gz, struct scored *s, int area, int dist)
{
    s->area = area;
    s->dist = dist;
    s->depth = gz->depth[area];
    s->name = gz->folded_name[area];
}

/* Index of the first key whose text equals s, or nkeys. */
static size_t key_lower_bound(const struct tl_gazetteer *gz, const char *s, size_t len)
{
    size_t lo = 0, hi = gz->nkeys;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct gz_key *k = &gz->keys[mid];
        size_t n = k->len < len ? k->len : len;
        int c = memcmp(k->text, s, n);

        if (c == 0 && k->len != len)
            c = k->len < len ? -1 : 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Collects the areas whose key equals s into list (distance 0); returns count. */
static size_t exact_lookup(const struct tl_gazetteer *gz, const char *s, size_t len,
                           struct scored *list, size_t max)
{
    size_t n = 0, first = key_lower_bound(gz, s, len);

    /* A name as written outranks a name that only starts so before a filler
     * ("Muzaffarabad" the city, not "Muzaffarabad Colony"), and both outrank
     * generated initials. */
    for (int tier = 0; tier < 3 && n == 0; tier++) {
        for (size_t i = first; i < gz->nkeys; i++) {
            const struct gz_key *k = &gz->keys[i];
            bool seen = false;

            if (k->len != len || memcmp(k->text, s, len) != 0)
                break;
            if (key_tier(k->variant) != tier)
                continue;
            for (size_t j = 0; j < n; j++)
                seen = seen || list[j].area == k->area;
            if (!seen && n < max)
                scored_set(gz, &list[n++], k->area, 0);
        }
    }
    return n;
}

/*
 * "Korangi Karachi", "Hyderabad Sindh": text that splits into two names, one
 * of an area enclosing the other. Collects the inner areas; returns count.
 */
static size_t enclosed_lookup(const struct tl_gazetteer *gz, const char *s, size_t len,
                              struct scored *list, size_t max)
{
    struct scored left[EXACT_MAX], right[EXACT_MAX];
    size_t n = 0;

    for (size_t p = 1; p + 1 < len; p++) {
        size_t nl, nr;

        if (s[p] != ' ')
            continue;
        nl = exact_lookup(gz, s, p, left, EXACT_MAX);
        if (nl == 0)
            continue;
        nr = exact_lookup(gz, s + p + 1, len - p - 1, right, EXACT_MAX);
        for (size_t i = 0; i < nl; i++) {
            for (size_t j = 0; j < nr; j++) {
                int inner = -1;
                bool seen = false;

                if (is_ancestor(gz, right[j].area, left[i].area))
                    inner = left[i].area;
                else if (is_ancestor(gz, left[i].area, right[j].area))
                    inner = right[j].area;
                if (inner < 0)
                    continue;
                for (size_t k = 0; k < n; k++)
                    seen = seen || list[k].area == inner;
                if (!seen && n < max)
                    scored_set(gz, &list[n++], inner, 0);
            }
        }
    }
    return n;
}

/*
 * Orders list[0..n) best first, moves the areas of the best tier that do not
 * enclose another area of the tier to the front, and returns how many of
 * those there are (1: a clear answer).
 */
static size_t rank(const struct tl_gazetteer *gz, struct scored *list, size_t n)
{
    size_t tier = 0, kept = 0;

    if (n == 0)
        return 0;
    qsort(list, n, sizeof *list, scored_cmp);
    while (tier < n && list[tier].dist == list[0].dist)
        tier++;
    /* stable partition of the tier: specific areas first, their enclosures after */
    for (size_t i = 0; i < tier; i++) {
        bool encloses = false;

        for (size_t j = 0; j < tier && !encloses; j++)
            encloses = j != i && is_ancestor(gz, list[i].area, list[j].area);
        if (!encloses) {
            struct scored t = list[i];

            memmove(&list[kept + 1], &list[kept], (i - kept) * sizeof *list);
            list[kept++] = t;
        }
    }
    return kept;
}

static void fill(const struct tl_gazetteer *gz, const struct scored *list, size_t n,
                 struct tl_area_candidate *cands, size_t max, size_t *ncands)
{
    size_t k = 0;

    for (size_t i = 0; i < n && k < max; i++, k++) {
        cands[k].area = &gz->areas[list[i].area];
        cands[k].distance = list[i].dist;
    }
    *ncands = k;
}

/* Collects the areas whose spelling skeleton equals the text's; returns count. */
static size_t skeleton_lookup(const struct tl_gazetteer *gz, const char *s, size_t len,
                              struct scored *list, size_t max)
{
    char stack[128];
    char *sk = len + 2 <= sizeof stack ? stack : xmalloc(len + 2);
    size_t n = 0, klen = skeleton(s, len, sk), lo = 0, hi = gz->nskel;

    if (klen > 0) {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            if (strcmp(gz->skel[mid].text, sk) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t i = lo; i < gz->nskel && strcmp(gz->skel[i].text, sk) == 0; i++) {
            bool seen = false;

            for (size_t j = 0; j < n; j++)
                seen = seen || list[j].area == gz->skel[i].area;
            if (!seen && n < max)
                scored_set(gz, &list[n++], gz->skel[i].area, 1);
        }
    }
    if (sk != stack)
        free(sk);
    return n;
}

/* Ranks list[0..n), fills the candidates; `clear` when one area stands out. */
static enum tl_match_kind settle(const struct tl_gazetteer *gz, struct scored *list, size_t n,
                                 enum tl_match_kind clear, struct tl_area_candidate *cands,
                                 size_t max, size_t *ncands)
{
    size_t top = rank(gz, list, n), dummy;

    fill(gz, list, n, cands, max, ncands ? ncands : &dummy);
    return top == 1 ? clear : TL_MATCH_AMBIGUOUS;
}

enum tl_match_kind gazetteer_match(const struct tl_gazetteer *gz, const char *text, size_t len,
                                   struct tl_area_candidate *cands, size_t max, size_t *ncands)
{
    return gazetteer_match_opts(gz, text, len, cands, max, ncands, 0);
}

enum tl_match_kind gazetteer_match_opts(const struct tl_gazetteer *gz, const char *text,
                                        size_t len, struct tl_area_candidate *cands, size_t max,
                                        size_t *ncands, unsigned opts)
{
    bool exact_only = (opts & TL_MATCH_OPT_EXACT) != 0;
    bool near = (opts & TL_MATCH_OPT_NO_NEAR) == 0;

    struct scored exact[EXACT_MAX];
    struct scored stack_list[256];
    struct scored *list = stack_list;
    int32_t stack_cps[2][GZ_STACK_CPS];
    int32_t *qcps[2] = {stack_cps[0], stack_cps[1]};
    size_t qncp[2], nq = 1, flen, slen, nexact, nlist = 0;
    const char *q[2];
    size_t qlen[2];
    uint64_t qsig[2];
    char *folded, *stripped;
    enum tl_match_kind kind = TL_MATCH_NONE;
    int *best, *touched;
    size_t ntouched = 0;
    bool *ok, any_ok = false;

    if (ncands)
        *ncands = 0;
    if (gz == NULL || gz->n == 0 || (text == NULL && len > 0))
        return TL_MATCH_NONE;
    folded = textnorm_fold(text ? text : "", len, &flen);
    if (folded == NULL)
        return TL_MATCH_NONE;
    if (flen == 0) {
        free(folded);
        return TL_MATCH_NONE;
    }
    stripped = xmalloc(flen + 1);
    slen = strip_fillers(folded, flen, stripped);
    q[0] = folded;
    qlen[0] = flen;
    if (slen != flen || memcmp(stripped, folded, flen) != 0) {
        q[1] = stripped;
        qlen[1] = slen;
        nq = 2;
    }

    /* 1. exact, as typed and then without fillers (a skeleton of the whole
     * text first: "Gulistan-e-Johar Block 7" is the block, not the area
     * "Gulistan-e-Johar" without its block) */
    nexact = exact_lookup(gz, q[0], qlen[0], exact, EXACT_MAX);
    if (nexact == 0 && nq == 2 && !exact_only) {
        size_t nsk = skeleton_lookup(gz, q[0], qlen[0], exact, EXACT_MAX);

        if (nsk > 0) {
            kind = settle(gz, exact, nsk, TL_MATCH_FUZZY, cands, max, ncands);
            goto done;
        }
    }
    if (nexact == 0 && nq == 2)
        nexact = exact_lookup(gz, q[1], qlen[1], exact, EXACT_MAX);
    if (nexact == 0)
        nexact = enclosed_lookup(gz, q[nq - 1], qlen[nq - 1], exact, EXACT_MAX);
    if (nexact > 0) {
        kind = settle(gz, exact, nexact, TL_MATCH_EXACT, cands, max, ncands);
        goto done;
    }
    if (exact_only)
        goto done;

    /* 2. the same consonant skeleton: vowels, doubled letters, "-e-" joins */
    nexact = skeleton_lookup(gz, q[0], qlen[0], exact, EXACT_MAX);
    if (nexact == 0 && nq == 2)
        nexact = skeleton_lookup(gz, q[1], qlen[1], exact, EXACT_MAX);
    if (nexact > 0) {
        kind = settle(gz, exact, nexact, TL_MATCH_FUZZY, cands, max, ncands);
        goto done;
    }

    /* 3. fuzzy */
    for (size_t v = 0; v < nq; v++) {
        qncp[v] = textnorm_decode(q[v], qlen[v], NULL, 0);
        if (qncp[v] > GZ_STACK_CPS)
            qcps[v] = xmalloc(qncp[v] * sizeof *qcps[v]);
        textnorm_decode(q[v], qlen[v], qcps[v], qncp[v]);
        qsig[v] = signature(qcps[v], qncp[v]);
    }
    /* best[] holds distance + 1 (0: not reached), so one calloc clears it;
     * touched[] lists the areas reached, so nothing scans every area */
    best = xcalloc(gz->n, sizeof *best + sizeof *touched + sizeof *ok);
    touched = (int *)(best + gz->n);
    ok = (bool *)(touched + gz->n);
    /* pass 0: only distances that qualify; pass 1, when none did and the
     * caller wants candidates: near misses, one edit further */
    for (int pass = 0; pass < (max > 0 && near ? 2 : 1) && !any_ok; pass++) {
        for (size_t v = 0; v < nq; v++) {
            size_t reach = (size_t)allowed_distance(qncp[v]) + (size_t)pass;
            size_t lmin = qncp[v] > reach ? qncp[v] - reach : 0;
            size_t lmax = qncp[v] + reach < gz->max_len ? qncp[v] + reach : gz->max_len;

            if (lmin > lmax)
                continue;
            for (size_t i = gz->len_start[lmin]; i < gz->len_start[lmax + 1]; i++) {
                const struct gz_fkey *k = &gz->fkeys[i];
                size_t shorter = qncp[v] < k->ncp ? qncp[v] : k->ncp;
                size_t diff = qncp[v] > k->ncp ? qncp[v] - k->ncp : k->ncp - qncp[v];
                int allowed = allowed_distance(shorter);
                int bound = allowed + pass;
                int d;

                if (best[k->area] > 0 && bound > best[k->area] - 1)
                    bound = best[k->area] - 1;
                if (diff > (size_t)bound || bits_exceed(qsig[v] & ~k->sig, bound) ||
                    bits_exceed(k->sig & ~qsig[v], bound))
                    continue;
                d = textnorm_distance_cp(qcps[v], qncp[v], k->cps, k->ncp, bound);
                if (d > bound)
                    continue;
                if (best[k->area] == 0)
                    touched[ntouched++] = k->area;
                if (best[k->area] == 0 || d < best[k->area] - 1)
                    best[k->area] = d + 1;
                if (d <= allowed) {
                    ok[k->area] = true;
                    any_ok = true;
                }
            }
        }
    }
    {
        size_t nqual = 0, nnear = 0;

        for (size_t t = 0; t < ntouched; t++) {
            nnear++;
            if (ok[touched[t]])
                nqual++;
        }
        if (nnear > sizeof stack_list / sizeof stack_list[0])
            list = xmalloc(nnear * sizeof *list);
        /* qualifying areas when there are any, else the near misses */
        for (size_t t = 0; t < ntouched; t++) {
            int i = touched[t];

            if (nqual > 0 && !ok[i])
                continue;
            scored_set(gz, &list[nlist++], i, best[i] - 1);
        }
        if (nqual > 0) {
            size_t top = rank(gz, list, nlist);

            kind = top == 1 ? TL_MATCH_FUZZY : TL_MATCH_AMBIGUOUS;
        } else {
            rank(gz, list, nlist);
            kind = TL_MATCH_NONE;
        }
        {
            size_t dummy;

            fill(gz, list, nlist, cands, max, ncands ? ncands : &dummy);
        }
    }
    if (list != stack_list)
        free(list);
    free(best);
    for (size_t v = 0; v < nq; v++) {
        if (qcps[v] != stack_cps[v])
            free(qcps[v]);
    }
done:
    free(folded);
    free(stripped);
    return kind;
}

/* -------------------------------------------------------------- prefix --- */

static int prefix_hit_cmp(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c != 0 ? c : x->area - y->area;
}

size_t gazetteer_prefix(const struct tl_gazetteer *gz, const char *prefix, size_t offset,
                        const struct tl_area **out, size_t max, size_t *total)
{
    size_t plen = 0, n = 0, count = 0;
    char *p;
    struct scored *hits;
    bool *seen;

    if (total)
        *total = 0;
    if (gz == NULL || gz->n == 0)
        return 0;
    p = textnorm_fold(prefix ? prefix : "", prefix ? strlen(prefix) : 0, &plen);
    if (p == NULL)
        return 0;
    hits = xmalloc(gz->n * sizeof *hits);
    seen = xcalloc(gz->n, sizeof *seen);
    /* keys are sorted: the matches form one run from the lower bound */
    for (size_t i = key_lower_bound(gz, p, plen); i < gz->nkeys; i++) {
        const struct gz_key *k = &gz->keys[i];

        if (plen > 0) {
            int c = memcmp(k->text, p, k->len < plen ? k->len : plen);

            if (c > 0)
                break;
            if (c < 0 || k->len < plen)
                continue;
        }
        if (k->variant == KEY_JOINED || k->variant == KEY_INITIAL || seen[k->area])
            continue;
        seen[k->area] = true;
        scored_set(gz, &hits[n++], k->area, 0);
    }
    qsort(hits, n, sizeof *hits, prefix_hit_cmp);
    for (size_t i = offset; i < n && count < max; i++)
        out[count++] = &gz->areas[hits[i].area];
    if (total)
        *total = n;
    free(hits);
    free(seen);
    free(p);
    return count;
}
