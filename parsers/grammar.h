/*
 * grammar.h — the SMS command grammar of SPEC.md §2: what a text message
 * asks for, and the fields of a missing-child report (pure: no I/O, no
 * logging; scratch space is allocated once in grammar_new, so a message
 * allocates only inside textnorm_fold, for non-ASCII words, and
 * gazetteer_match).
 *
 * Owns: the keywords of every command in English, Roman Urdu and Urdu
 * script, the labels ("name:", "umar", "علاقہ" …), number words, gender
 * words, and the rules that turn a report's free text into name, age,
 * gender, area, last-seen and description. Must not: touch the store, log,
 * or decide policy (who may VERIFY, what STOP stops) — the gateway does.
 *
 * How a message is read (details at the top of grammar.c):
 *   1. Text over TL_GRAMMAR_MAX_INPUT bytes or not valid UTF-8 gives
 *      TL_CMD_UNKNOWN with `error` set; nothing else is read.
 *   2. One PCRE2 pattern (UTF + UCP, JIT) cuts the text into lexemes:
 *      words, Urdu-script words, digit runs in ASCII, Urdu (۰–۹) and
 *      Arabic-Indic (٠–٩) digits, clock times ("4pm", "5 baje", "۵ بجے"),
 *      separators. Digit runs that phone_looks_like() are joined into one
 *      phone lexeme, so a phone number is never an age or a case number.
 *   3. Words are folded (textnorm.h) and looked up in a lexicon; keywords of
 *      five letters or more also match within edit distance 1 (2 from eight
 *      letters) when the first letter agrees ("MSSING", "VERFY", "STAUS");
 *      four-letter ones only with a doubled letter or the two middle letters
 *      swapped ("JOINN", "JION", "HLEP"), never at the first or last letter.
 *      Misspellings count only for the first word of a message, except for
 *      report keywords of six letters or more ("lapta", "gumshda").
 *   4. The command is the keyword at the start of the message (after
 *      greetings such as "please", "salam"). A first-word HELP/MADAD with a
 *      report keyword later is a report ("HELP my son is missing"). When the
 *      first word is no keyword, in this order: "mil gaya"/"مل گیا"
 *      anywhere (found); a report keyword anywhere ("Meri beti Hina 6 saal
 *      Saddar se gum hai", "... Landhi se nahi mil rahi", "ghayab", "غائب");
 *      a misspelt first keyword; STOP/UNSUBSCRIBE anywhere ("please stop");
 *      HELP anywhere. A report whose keyword is not first needs a sign of a
 *      person — an age, a relation or gender word, or a name while no
 *      missing thing is named ("my phone is missing" is unknown).
 *   5. The arguments of each command are read as in §2: a case number (six
 *      digits; "482 918" and "case no. 482918" also read), a PIN (4–6
 *      digits after the case, VERIFY/FOUND/CANCEL only), an area (matched
 *      with gazetteer_match), free text.
 *
 * BAND / بند / BAND KARO followed by a case number is CLOSE (police);
 * without one it is UNSUBSCRIBE. STOP is always UNSUBSCRIBE.
 *
 * Languages: any Urdu-script letter makes the message TL_LANG_UR; otherwise
 * Roman-Urdu words (keywords, "saal", "larki", "se" …) against English ones
 * ("years", "boy", "near" …) decide, ties going to Roman Urdu when it has
 * any; a message with no word of either (a bare case number, a name) takes
 * the caller's hint.
 *
 * Ages: whole years, rounded down: under a year ("8 months", "8 mahine")
 * is 0, "18 months" 1, "2.5 years"/"dhai saal"/"ڈھائی سال" 2, "dedh saal" 1.
 * An age above 17 is kept as typed: whether the person counts as a child is
 * the police's call, not the parser's. A bare number counts as an age only
 * when it has at most two digits and is not part of a phone number, a
 * clock time, an address ("block 5", "sector 11") or a case number.
 *
 * Thread safety: a struct tl_grammar holds match data and scratch space, so
 * it is used by one thread at a time; make one per thread. The gazetteer is
 * only read and may be shared.
 */
#ifndef TALAASH_GRAMMAR_H
#define TALAASH_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "parsers/casenum.h"
#include "parsers/gazetteer.h"

/* Longer messages are refused (TL_CMD_UNKNOWN, error "message too long"):
 * ten concatenated SMS segments are 1530 GSM-7 characters. */
#define TL_GRAMMAR_MAX_INPUT 1600
/* Size of every text field of struct tl_sms_parse, NUL included. A field is
 * cut (at a UTF-8 boundary) to fit; only a description joined from many
 * pieces could ever reach it. */
#define TL_GRAMMAR_TEXT_MAX (TL_GRAMMAR_MAX_INPUT + 64)
/* Area candidates kept for an ambiguous or unknown area. */
#define TL_GRAMMAR_MAX_CANDS 12
/* A PIN: 4 to 6 digits, NUL. */
#define TL_GRAMMAR_PIN_MAX 7
/* A phone number as typed in a report (digits and separators), NUL. */
#define TL_GRAMMAR_CONTACT_MAX 40

/* Numbers are fixed: tests and logs use them. */
enum tl_command {
    TL_CMD_UNKNOWN = 0,
    TL_CMD_REPORT = 1,
    TL_CMD_SUBSCRIBE = 2,
    TL_CMD_UNSUBSCRIBE = 3,
    TL_CMD_SIGHTING = 4,
    TL_CMD_STATUS = 5,
    TL_CMD_HELP = 6,
    TL_CMD_AREAS = 7,
    TL_CMD_VERIFY = 8,
    TL_CMD_FOUND = 9,
    TL_CMD_CLOSE = 10,
    TL_CMD_CANCEL = 11,
    TL_CMD_WIDEN = 12,
};

enum tl_lang {
    TL_LANG_EN = 0,       /* "en" */
    TL_LANG_UR = 1,       /* "ur": Urdu script */
    TL_LANG_ROMAN_UR = 2, /* "roman-ur": Urdu in Latin letters */
};

enum tl_gender {
    TL_GENDER_UNKNOWN = 0,
    TL_GENDER_MALE = 1,
    TL_GENDER_FEMALE = 2,
};

/* The required fields of a report, as bits of struct tl_sms_parse.missing. */
enum tl_report_field {
    TL_FIELD_NAME = 1u << 0,
    TL_FIELD_AGE = 1u << 1,
    TL_FIELD_AREA = 1u << 2,
};

/*
 * What one message says. Every text field is NUL-terminated and "" when
 * absent, kept as the user typed it (Urdu names stay in Urdu script), except
 * case_no and pin, which hold ASCII digits whatever digits were typed. The
 * struct holds no pointers into the input and may be copied freely; `area`
 * and the candidates point into the gazetteer passed to grammar_parse and
 * live as long as it does.
 *
 * Which fields each command fills:
 *   report       name, age, gender, area/area_text, last_seen, description,
 *                contact, missing
 *   subscribe    area/area_text (the area to join; absent when none typed)
 *   unsubscribe  area/area_text only when the text after the keyword
 *                matches an area (exact, fuzzy or ambiguous); otherwise
 *                nothing: unsubscribe from everything
 *   sighting     case_no/case_valid, text (what was seen, where)
 *   status       case_no/case_valid
 *   verify, found, cancel   case_no/case_valid, pin
 *   close        case_no/case_valid, text (the reason)
 *   widen        case_no/case_valid, area/area_text
 *   areas        area_text (the prefix, as typed)
 *   help, unknown  nothing
 */
/* About 10 KB: keep one per thread (or in the heap), not one per call on a
 * small stack. */
struct tl_sms_parse {
    enum tl_command command;
    enum tl_lang lang;
    /* NULL, or a short static English phrase ("invalid UTF-8", "message
     * too long"); the command is then TL_CMD_UNKNOWN. */
    const char *error;
    /* The keyword that decided the command, in its lexicon spelling (static
     * string: "missing", "lapata", "گمشدہ", "mil gaya" …); NULL for unknown.
     * A misspelt keyword gives the word it was taken for. */
    const char *keyword;

    char name[TL_GRAMMAR_TEXT_MAX];
    int age; /* years; 0 under a year; -1 unknown */
    enum tl_gender gender;

    /* The matched area: set when gazetteer_match found an exact or a
     * clearly best fuzzy match, else NULL. */
    const struct tl_area *area;
    /* What gazetteer_match said about area_text (TL_MATCH_NONE when no area
     * text was found at all). For AMBIGUOUS and NONE, cands[0..ncands) are
     * the closest areas, best first, for a "did you mean" reply. */
    enum tl_match_kind area_match;
    struct tl_area_candidate cands[TL_GRAMMAR_MAX_CANDS];
    size_t ncands;
    char area_text[TL_GRAMMAR_TEXT_MAX]; /* the area words as typed */

    char last_seen[TL_GRAMMAR_TEXT_MAX];   /* time/place after "last seen" etc. */
    char description[TL_GRAMMAR_TEXT_MAX]; /* the rest of a report ("blue shirt") */
    /* A phone number typed inside a report ("call 0300 1234567"), as typed;
     * kept out of name, description and last_seen so that it never reaches an
     * alert. Normalise it with phone_normalize before use. */
    char contact[TL_GRAMMAR_CONTACT_MAX];

    char case_no[TL_CASENUM_LEN + 1]; /* six ASCII digits, or "" */
    bool case_valid;                  /* case_no passes casenum_valid() */
    char pin[TL_GRAMMAR_PIN_MAX];     /* 4-6 ASCII digits, or "" */
    char text[TL_GRAMMAR_TEXT_MAX];   /* sighting text or close reason */

    /* For reports: TL_FIELD_* bits of the required fields not found. The
     * area counts as missing unless `area` is set (an unknown or ambiguous
     * area must be asked again). 0 for other commands. */
    unsigned missing;
};

struct tl_grammar;

/* Compiles the patterns (with JIT when available) and builds the lexicon.
 * Returns NULL with a reason in *cause (caller frees) on failure. */
struct tl_grammar *grammar_new(char **cause);
void grammar_free(struct tl_grammar *g);

/*
 * Reads one message text[0..len) (need not be NUL-terminated). `hint` is the
 * language to assume when the message shows none (the user's saved choice,
 * or `talaash parse --lang`). gz may be NULL: no area is then matched and
 * area words stay in area_text. Always fills *out completely.
 */
void grammar_parse(struct tl_grammar *g, const struct tl_gazetteer *gz, const char *text,
                   size_t len, enum tl_lang hint, struct tl_sms_parse *out);

/*
 * Reads a follow-up answer to a report's questions (SPEC.md §2: "8",
 * "age 8", "Malir", "naam Hina") — the same rules as the body of a report,
 * with no keyword needed. `expect` holds the TL_FIELD_* bits the gateway
 * asked for: an unlabelled word run is taken as the name only when the name
 * is expected, and as the area first when the area is. The result has
 * command TL_CMD_REPORT (or TL_CMD_UNKNOWN with error) and `missing` relative
 * to `expect`: the expected fields the answer did not give. Call
 * grammar_parse first: an answer that is itself a command ("STOP") must be
 * treated as that command; this function reads keywords as plain words.
 */
void grammar_parse_answer(struct tl_grammar *g, const struct tl_gazetteer *gz, const char *text,
                          size_t len, enum tl_lang hint, unsigned expect,
                          struct tl_sms_parse *out);

/*
 * Takes p->cands[i] as the message's area: the one rule for ambiguous names
 * (gazetteer_prefer) has picked it from the sender's own cities. Sets area
 * and area_match and clears TL_FIELD_AREA from missing; no-op for a bad i.
 */
void grammar_take_candidate(struct tl_sms_parse *p, size_t i);
/* When p's area is ambiguous and exactly one candidate lies within one of
 * within[0..n) (the sender's cities; gazetteer_prefer), takes it; true then. */
bool grammar_prefer_area(struct tl_sms_parse *p, const struct tl_gazetteer *gz,
                         const struct tl_area *const *within, size_t n);

/*
 * Appends p as the JSON object of SPEC.md §11 to out (no newline): keys in
 * the order command, lang, name, age, gender, area, area_text, last_seen,
 * description, case, case_valid, pin, text, missing, error; a key is absent
 * when its field is; `missing` is present (possibly []) for every report.
 */
void grammar_render_json(const struct tl_sms_parse *p, struct tl_buf *out);

/* "report", "subscribe", … "unknown"; never NULL. */
const char *grammar_command_name(enum tl_command c);
/* "en", "ur", "roman-ur"; never NULL. */
const char *grammar_lang_name(enum tl_lang l);
/* Reads "en", "ur", "roman-ur" (also "roman"); TL_OK or TL_ERR_INVALID. */
int grammar_lang_from_name(const char *s, enum tl_lang *out);

#endif
