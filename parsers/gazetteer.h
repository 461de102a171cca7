/*
 * gazetteer.h — the areas of SPEC.md §9 and matching typed text to them
 * (pure: parses CSV text handed to it; no file I/O).
 *
 * CSV columns (header row required, UTF-8, RFC 4180 quoting):
 *   code,name_en,name_ur,aliases,kind,parent,lat,lon[,centre]
 * aliases are ';'-separated; kind is one of country, province, city,
 * district, town, area; parent is another row's code (empty for the root).
 * centre (optional column) says where lat/lon come from: "source" (a
 * gazetteer; data/areas/README.md names it) or "parent" (no source gave a
 * point: the parent's centre, copied).
 *
 * Matching folds the text (textnorm.h), drops filler words ("town",
 * "colony", "block 13", "no 6", "ka ilaqa" …) and compares against every
 * English name, Urdu name and alias, exactly, then by consonant skeleton
 * (vowels, doubled letters and "-e-" joins dropped: "Gulshan-e-Maymar",
 * "gulshan e maimar", "gulshanemaymar"), then within an edit distance scaled
 * to the length. Initials forms are generated too ("G. Iqbal", "N
 * Nazimabad", "DM Society"). It never guesses silently: two areas about
 * equally close make the result ambiguous and both are returned as
 * candidates; gazetteer_prefer() is the one rule that may then pick one.
 */
#ifndef TALAASH_GAZETTEER_H
#define TALAASH_GAZETTEER_H

#include <stdbool.h>
#include <stddef.h>

enum tl_area_kind {
    TL_AREA_COUNTRY = 0,
    TL_AREA_PROVINCE = 1,
    TL_AREA_CITY = 2,
    TL_AREA_DISTRICT = 3,
    TL_AREA_TOWN = 4,
    TL_AREA_AREA = 5,
};

struct tl_area {
    int index;             /* position in the gazetteer, 0-based */
    char *code;            /* stable key, e.g. "PK-SD-KHI-KOR" */
    char *name_en;         /* canonical English name */
    char *name_ur;         /* Urdu script name */
    char **aliases;        /* other spellings */
    size_t naliases;
    enum tl_area_kind kind;
    int parent;            /* index of the parent area, -1 for the root */
    double lat, lon;       /* centre, WGS-84 degrees */
    bool centre_derived;   /* lat/lon copied from the parent (no sourced point) */
};

struct tl_gazetteer;

/* Parses a whole CSV text. TL_OK, or TL_ERR_MALFORMED with "line N: reason" in *cause. */
int gazetteer_parse_csv(const char *csv, size_t len, struct tl_gazetteer **out, char **cause);
/* The gazetteer shipped in data/areas/pakistan.csv (compiled in); TL_OK or error. */
int gazetteer_load_default(struct tl_gazetteer **out, char **cause);
void gazetteer_free(struct tl_gazetteer *gz);

size_t gazetteer_count(const struct tl_gazetteer *gz);
const struct tl_area *gazetteer_at(const struct tl_gazetteer *gz, size_t index);
const struct tl_area *gazetteer_by_code(const struct tl_gazetteer *gz, const char *code);
/* True when `inner` is `outer` or lies (transitively) inside it. */
bool gazetteer_within(const struct tl_gazetteer *gz, const struct tl_area *inner,
                      const struct tl_area *outer);
/* Great-circle (haversine) distance between two areas' centres, km. */
double gazetteer_distance_km(const struct tl_area *a, const struct tl_area *b);

enum tl_match_kind {
    TL_MATCH_NONE = 0,      /* nothing close; cands may hold the nearest few spellings */
    TL_MATCH_EXACT = 1,     /* folded text equals a name or alias of cands[0] */
    TL_MATCH_FUZZY = 2,     /* cands[0] within the scaled edit distance, clearly best */
    TL_MATCH_AMBIGUOUS = 3, /* several about equally good: cands[0..n) */
};

struct tl_area_candidate {
    const struct tl_area *area;
    int distance; /* edit distance of the best-matching name, 0 for exact */
};

/*
 * Matches typed text (any script) to areas. Fills up to max candidates, best
 * first, sets *ncands, and returns the kind of match. Invalid UTF-8 gives
 * TL_MATCH_NONE with no candidates.
 */
enum tl_match_kind gazetteer_match(const struct tl_gazetteer *gz, const char *text, size_t len,
                                   struct tl_area_candidate *cands, size_t max, size_t *ncands);

/* Options of gazetteer_match_opts(). */
enum {
    TL_MATCH_OPT_EXACT = 1u << 0,   /* stop after the exact lookups: EXACT, AMBIGUOUS or NONE */
    TL_MATCH_OPT_NO_NEAR = 1u << 1, /* no "did you mean" pass for NONE (probing many spans) */
};
/* gazetteer_match() with options (0: the same as gazetteer_match). */
enum tl_match_kind gazetteer_match_opts(const struct tl_gazetteer *gz, const char *text,
                                        size_t len, struct tl_area_candidate *cands, size_t max,
                                        size_t *ncands, unsigned opts);

/* The city (kind TL_AREA_CITY) that a is or lies in; NULL above city level. */
const struct tl_area *gazetteer_city_of(const struct tl_gazetteer *gz, const struct tl_area *a);

/*
 * The one rule for an ambiguous name ("Gulberg", "Saddar", "Model Town"):
 * among cands[0..n), the candidate that lies within one of within[0..nwithin)
 * (the cities the sender already subscribed to or reported in), when exactly
 * one place there matches; its index, else -1 (ask the sender).
 */
int gazetteer_prefer(const struct tl_gazetteer *gz, const struct tl_area_candidate *cands,
                     size_t n, const struct tl_area *const *within, size_t nwithin);

/*
 * Areas whose English name (or folded Urdu name/alias) starts with prefix,
 * sorted by English name: skips the first `offset`, fills at most max and
 * returns how many it filled; *total (may be NULL) gets the number of all
 * matching areas, for paging.
 */
size_t gazetteer_prefix(const struct tl_gazetteer *gz, const char *prefix, size_t offset,
                        const struct tl_area **out, size_t max, size_t *total);

#endif
