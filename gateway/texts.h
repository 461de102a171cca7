/*
 * texts.h — every text the gateway sends, per language, from templates.
 *
 * A template holds {field} placeholders filled from a list of (field,
 * value) pairs; an unknown or absent field renders as "". A part in square
 * brackets ("[, {gender}]", "[ Last seen: {last_seen}.]") is written only
 * when every field in it has a value, so a missing field leaves no stray
 * separator. Each message id
 * has an English, an Urdu-script and a Roman-Urdu template (English where a
 * translation is missing). The domain never writes user-facing text itself.
 * Alerts are fitted to a number of SMS segments by texts_render_fit().
 */
#ifndef TALAASH_TEXTS_H
#define TALAASH_TEXTS_H

#include <stddef.h>

#include "common/buf.h"
#include "parsers/grammar.h"

enum tl_text_id {
    TX_HELP = 0,
    TX_ASK_NAME,
    TX_ASK_AGE,
    TX_ASK_AREA,
    TX_ASK_AREA_CANDIDATES,
    TX_AGE_AGAIN,
    TX_REPORT_REGISTERED,
    TX_REPORT_REGISTERED_AUTO,
    TX_POLICE_NEW_REPORT,
    TX_JOINED,
    TX_JOIN_WHICH_AREA,
    TX_JOIN_NO_AREA,
    TX_STOPPED,
    TX_UNSUBSCRIBED_AREA,
    TX_SEEN_THANKS,
    TX_POLICE_SIGHTING,
    TX_STATUS_PUBLIC,
    TX_STATUS_FULL,
    TX_CASE_NOT_FOUND,
    TX_CASE_NUMBER_INVALID,
    TX_CASE_NUMBER_MISSING,
    TX_AREAS_LIST,
    TX_AREAS_PAGE,
    TX_AREAS_NONE,
    TX_NOT_POLICE,
    TX_BAD_PIN,
    TX_POLICE_WRONG_AREA,
    TX_BAD_STATE,
    TX_VERIFIED,
    TX_REPORTER_VERIFIED,
    TX_FOUND_DONE,
    TX_CLOSED_DONE,
    TX_CANCELLED_DONE,
    TX_WIDENED,
    TX_WIDEN_NO_AREA,
    TX_REPORTER_FOUND,
    TX_REPORTER_CLOSED,
    TX_ALERT,
    TX_UPDATE_FOUND,
    TX_UPDATE_CLOSED,
    TX_RATE_LIMITED,
    TX_PIN_LOCKED,     /* the number is locked out after too many wrong PINs */
    TX_PIN_LOCKED_NOW, /* this wrong PIN locked it */
    TX_COUNT
};

struct tl_text_field {
    const char *name;  /* without braces */
    const char *value; /* NULL renders as "" */
};

/* Appends the rendered template to out. */
void texts_render(enum tl_text_id id, enum tl_lang lang, const struct tl_text_field *fields,
                  size_t nfields, struct tl_buf *out);

/*
 * Renders a template that must fit max_segments SMS segments: when it does
 * not, the value of `shrink` (e.g. "description") is shortened to whole
 * words (dropped when not even one fits) — never the other fields, which carry the case number,
 * the hotline and the reply keyword — and, when even an empty one is too
 * long, `shrink2` too. Returns the segments used.
 */
size_t texts_render_fit(enum tl_text_id id, enum tl_lang lang, struct tl_text_field *fields,
                        size_t nfields, const char *shrink, const char *shrink2,
                        size_t max_segments, struct tl_buf *out);

struct tl_area;
struct tl_gazetteer;
struct tl_area_candidate;
/* An area's name in the language (Urdu script for ur when the gazetteer has it); "" for NULL. */
const char *texts_area_name(const struct tl_area *a, enum tl_lang lang);
/* Appends the candidates' names as a list ("A, B, C"; Urdu commas in Urdu). */
/* Candidate areas as "A, B (Lahore), B (Karachi)": twins of one name carry
 * their city, or their parent within one city. */
void texts_area_list(const struct tl_gazetteer *gz, const struct tl_area_candidate *c, size_t n,
                     enum tl_lang lang, struct tl_buf *out);
/* One area of the list all[0..n) as texts_area_list writes it. */
void texts_area_label(const struct tl_gazetteer *gz, const struct tl_area *a,
                      const struct tl_area *const *all, size_t n, enum tl_lang lang,
                      struct tl_buf *out);
/* "boy"/"girl"/"" in the language. */
const char *texts_gender(enum tl_gender g, enum tl_lang lang);
/* A case state ("reported", …) in the language. */
const char *texts_state(const char *state, enum tl_lang lang);

#endif
