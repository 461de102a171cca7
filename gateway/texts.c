/*
 * texts.c — the templates of every outgoing text, in English, Urdu script
 * and Roman Urdu (see texts.h). English templates use GSM-7 characters only,
 * so an English SMS never silently becomes UCS-2; Urdu goes as UCS-2.
 * Alerts never carry the reporter's number: no alert template has a field
 * for it (only TX_POLICE_NEW_REPORT, which goes to police, does).
 */
#include "gateway/texts.h"
#include "parsers/gazetteer.h"
#include "parsers/gsm7.h"
#include "common/xmalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct text_row {
    const char *en;
    const char *ur;
    const char *rur; /* Roman Urdu */
};

static const struct text_row rows[TX_COUNT] = {
    [TX_HELP] = {
        "Talaash: report a missing child: MISSING name, age, boy/girl, area. "
        "Alerts: JOIN area. Stop: STOP. Sighting: SEEN case-no where. Status: STATUS case-no.",
        "تلاش: گمشدہ بچے کی اطلاع: گمشدہ نام، عمر، لڑکا/لڑکی، علاقہ۔ "
        "الرٹ: شامل علاقہ۔ بند کرنے کو: بند۔ دیکھا: دیکھا کیس نمبر جگہ۔",
        "Talaash: gumshuda bachay ki ittila: LAPATA naam, umar, larka/larki, ilaqa. "
        "Alerts: JOIN ilaqa. Band: STOP. Dekha: DEKHA case-no jagah. Halat: STATUS case-no.",
    },
    [TX_ASK_NAME] = {
        "Talaash: what is the child's name? Reply with the name.",
        "تلاش: بچے کا نام کیا ہے؟ جواب میں نام بھیجیں۔",
        "Talaash: bachay ka naam kya hai? Jawab mein naam bhejein.",
    },
    [TX_ASK_AGE] = {
        "Talaash: how old is {name}? Reply with the age in years, e.g. 8",
        "تلاش: {name} کی عمر کتنی ہے؟ عمر سالوں میں بھیجیں، مثلاً 8",
        "Talaash: {name} ki umar kitni hai? Umar saal mein bhejein, maslan 8",
    },
    [TX_ASK_AREA] = {
        "Talaash: where was {name} last seen? Reply with the area, e.g. Korangi",
        "تلاش: {name} کو آخری بار کس علاقے میں دیکھا گیا؟ علاقے کا نام بھیجیں، مثلاً کورنگی",
        "Talaash: {name} ko aakhri baar kis ilaqay mein dekha? Ilaqay ka naam bhejein, maslan Korangi",
    },
    [TX_ASK_AREA_CANDIDATES] = {
        "Talaash: which area is '{typed}'? {candidates}. Reply with the area name.",
        "تلاش: '{typed}' کون سا علاقہ ہے؟ {candidates}۔ علاقے کا نام بھیجیں۔",
        "Talaash: '{typed}' kaunsa ilaqa hai? {candidates}. Ilaqay ka naam bhejein.",
    },
    [TX_AGE_AGAIN] = {
        "Talaash: please send the age as a number of years, e.g. 8",
        "تلاش: عمر سالوں میں نمبر سے بھیجیں، مثلاً 8",
        "Talaash: umar saal mein number se bhejein, maslan 8",
    },
    [TX_REPORT_REGISTERED] = {
        "Talaash: case {case} registered for {name}, {area}. Police have been told and will "
        "verify it. Keep this number. Updates: STATUS {case}",
        "تلاش: {name}، {area} کے لیے کیس {case} درج ہو گیا۔ پولیس کو اطلاع دے دی گئی ہے۔ "
        "یہ نمبر سنبھال کر رکھیں۔ حالت: STATUS {case}",
        "Talaash: {name}, {area} ke liye case {case} darj ho gaya. Police ko bata diya gaya hai. "
        "Yeh number sambhal kar rakhein. Halat: STATUS {case}",
    },
    [TX_REPORT_REGISTERED_AUTO] = {
        "Talaash: case {case} registered for {name}, {area}. Police have been told and an "
        "alert is going out now. Keep this number. Updates: STATUS {case}",
        "تلاش: {name}، {area} کے لیے کیس {case} درج ہو گیا۔ پولیس کو اطلاع دے دی گئی اور الرٹ "
        "بھیجا جا رہا ہے۔ حالت: STATUS {case}",
        "Talaash: {name}, {area} ke liye case {case} darj ho gaya. Police ko ittila aur alert "
        "bheja ja raha hai. Halat: STATUS {case}",
    },
    [TX_POLICE_NEW_REPORT] = {
        "TALAASH NEW REPORT {case}: {name}[, {age}][, {gender}], {area}.[ Last seen: {last_seen}.]"
        "[ {description}.] Reporter {reporter}. Reply VERIFY {case} to alert the public, or "
        "CANCEL {case}.",
        NULL,
        NULL,
    },
    [TX_JOINED] = {
        "Talaash: you will get missing-child alerts for {area}. Reply STOP to end.",
        "تلاش: آپ کو {area} کے گمشدہ بچوں کے الرٹ ملیں گے۔ بند کرنے کے لیے بند بھیجیں۔",
        "Talaash: aap ko {area} ke gumshuda bachon ke alert milenge. Band karne ko STOP bhejein.",
    },
    [TX_JOIN_WHICH_AREA] = {
        "Talaash: which area? {candidates}. Reply JOIN and the area name.",
        "تلاش: کون سا علاقہ؟ {candidates}۔ شامل اور علاقے کا نام بھیجیں۔",
        "Talaash: kaunsa ilaqa? {candidates}. JOIN aur ilaqay ka naam bhejein.",
    },
    [TX_JOIN_NO_AREA] = {
        "Talaash: which area do you want alerts for? Reply JOIN and the area, e.g. JOIN Korangi. "
        "Names: AREAS and the first letters.",
        "تلاش: کس علاقے کے الرٹ چاہییں؟ شامل اور علاقہ بھیجیں، مثلاً شامل کورنگی۔",
        "Talaash: kis ilaqay ke alert chahiye? JOIN aur ilaqa bhejein, maslan JOIN Korangi.",
    },
    [TX_STOPPED] = {
        "Talaash: you will get no more alerts. To start again reply JOIN and your area.",
        "تلاش: آپ کو مزید الرٹ نہیں ملیں گے۔ دوبارہ شروع کرنے کو شامل اور علاقہ بھیجیں۔",
        "Talaash: aap ko mazeed alert nahin milenge. Dobara shuru karne ko JOIN aur ilaqa bhejein.",
    },
    [TX_UNSUBSCRIBED_AREA] = {
        "Talaash: no more alerts for {area}. Reply STOP to end all alerts.",
        "تلاش: {area} کے الرٹ بند۔ سب الرٹ بند کرنے کو بند بھیجیں۔",
        "Talaash: {area} ke alert band. Sab alert band karne ko STOP bhejein.",
    },
    [TX_SEEN_THANKS] = {
        "Talaash: thank you. Your sighting for case {case} was sent to the police.",
        "تلاش: شکریہ۔ کیس {case} کے بارے میں آپ کی اطلاع پولیس کو بھیج دی گئی۔",
        "Talaash: shukriya. Case {case} ke baare mein aap ki ittila police ko bhej di gayi.",
    },
    [TX_POLICE_SIGHTING] = {
        "TALAASH SIGHTING case {case} ({name}) from {reporter}: {text}",
        NULL,
        NULL,
    },
    [TX_STATUS_PUBLIC] = {
        "Talaash: case {case} is {state}.",
        "تلاش: کیس {case}: {state}۔",
        "Talaash: case {case}: {state}.",
    },
    [TX_STATUS_FULL] = {
        "Talaash: case {case} ({name}[, {age}], {area}) is {state}.",
        "تلاش: کیس {case} ({name}[، {age}]، {area}): {state}۔",
        "Talaash: case {case} ({name}[, {age}], {area}): {state}.",
    },
    [TX_CASE_NOT_FOUND] = {
        "Talaash: there is no case {case}. Please check the number.",
        "تلاش: کیس {case} موجود نہیں۔ نمبر دوبارہ دیکھیں۔",
        "Talaash: case {case} mojood nahin. Number dobara dekhein.",
    },
    [TX_CASE_NUMBER_INVALID] = {
        "Talaash: {case} is not a valid case number; a digit may be mistyped. Please check it.",
        "تلاش: {case} درست کیس نمبر نہیں؛ شاید کوئی ہندسہ غلط ہے۔ دوبارہ دیکھیں۔",
        "Talaash: {case} sahi case number nahin; shayad koi hindsa ghalat hai. Dobara dekhein.",
    },
    [TX_CASE_NUMBER_MISSING] = {
        "Talaash: please add the 6-digit case number, e.g. {command} 482918",
        "تلاش: چھ ہندسوں کا کیس نمبر بھی لکھیں، مثلاً {command} 482918",
        "Talaash: 6 hindson ka case number bhi likhein, maslan {command} 482918",
    },
    [TX_AREAS_LIST] = {
        "Talaash areas: {list}",
        "تلاش علاقے: {list}",
        "Talaash ilaqay: {list}",
    },
    [TX_AREAS_PAGE] = {
        "Talaash areas {shown} of {total}: {list}. More: {next}",
        "تلاش علاقے {shown} از {total}: {list}۔ مزید: {next}",
        "Talaash ilaqay {shown} / {total}: {list}. Mazeed: {next}",
    },
    [TX_AREAS_NONE] = {
        "Talaash: no area starts with '{typed}'. Try fewer letters, e.g. AREAS gul",
        "تلاش: '{typed}' سے کوئی علاقہ شروع نہیں ہوتا۔",
        "Talaash: '{typed}' se koi ilaqa shuru nahin hota. Kam huroof likhein, maslan AREAS gul",
    },
    [TX_NOT_POLICE] = {
        "Talaash: only registered police numbers can {command} a case.",
        "تلاش: صرف رجسٹرڈ پولیس نمبر کیس {command} کر سکتے ہیں۔",
        "Talaash: sirf registered police number case {command} kar sakte hain.",
    },
    [TX_BAD_PIN] = {
        "Talaash: PIN missing or wrong. Send {command} {case} and your PIN.",
        NULL,
        NULL,
    },
    [TX_POLICE_WRONG_AREA] = {
        "Talaash: case {case} is in {area}, outside your area.",
        NULL,
        NULL,
    },
    [TX_BAD_STATE] = {
        "Talaash: case {case} is {state}; {command} does not apply.",
        NULL,
        NULL,
    },
    [TX_VERIFIED] = {
        "Talaash: case {case} verified. The alert is going to {count} people in {area}.",
        NULL,
        NULL,
    },
    [TX_REPORTER_VERIFIED] = {
        "Talaash: police verified case {case}. An alert for {name} is going out in {area}.",
        "تلاش: پولیس نے کیس {case} کی تصدیق کر دی۔ {name} کا الرٹ {area} میں بھیجا جا رہا ہے۔",
        "Talaash: police ne case {case} ki tasdeeq kar di. {name} ka alert {area} mein bheja ja "
        "raha hai.",
    },
    [TX_FOUND_DONE] = {
        "Talaash: case {case} marked FOUND. {count} people who got the alert are being told.",
        NULL,
        NULL,
    },
    [TX_CLOSED_DONE] = {
        "Talaash: case {case} closed. {count} people who got the alert are being told.",
        NULL,
        NULL,
    },
    [TX_CANCELLED_DONE] = {
        "Talaash: case {case} cancelled. {count} people who got the alert are being told.",
        NULL,
        NULL,
    },
    [TX_WIDENED] = {
        "Talaash: case {case} widened to {area}; {count} more people are getting the alert.",
        NULL,
        NULL,
    },
    [TX_WIDEN_NO_AREA] = {
        "Talaash: widen case {case} to which area? Send WIDEN {case} and the area, e.g. "
        "WIDEN {case} Karachi",
        NULL,
        NULL,
    },
    [TX_REPORTER_FOUND] = {
        "Talaash: case {case}: police marked {name} as FOUND. We are glad. Thank you.",
        "تلاش: کیس {case}: پولیس کے مطابق {name} مل گیا/گئی ہے۔ شکریہ۔",
        "Talaash: case {case}: police ke mutabiq {name} mil gaya/gayi hai. Shukriya.",
    },
    [TX_REPORTER_CLOSED] = {
        "Talaash: case {case} was closed by the police.[ {text}]",
        "تلاش: کیس {case} پولیس نے بند کر دیا۔[ {text}]",
        "Talaash: case {case} police ne band kar diya.[ {text}]",
    },
    [TX_ALERT] = {
        "ALERT {place}: {name}[, {age}][, {gender}], last seen {area}[ {last_seen}].[ {description}.] "
        "Seen {pronoun}? Call {hotline} or reply SEEN {case} <where>",
        "الرٹ {place}: {name}[، {age} سال][، {gender}]، آخری بار {area}[ {last_seen}]۔[ {description}۔] "
        "دیکھا ہو تو {hotline} پر کال کریں یا جواب دیں: دیکھا {case} جگہ",
        "ALERT {place}: {name}[, {age} saal][, {gender}], aakhri baar {area}[ {last_seen}]."
        "[ {description}.] Dekha ho to {hotline} par call karein ya jawab dein: DEKHA {case} jagah",
    },
    [TX_UPDATE_FOUND] = {
        "UPDATE: {name} (case {case}) has been found. Thank you for looking. Talaash",
        "اپ ڈیٹ: {name} (کیس {case}) مل گیا/گئی ہے۔ تلاش میں مدد کا شکریہ۔",
        "UPDATE: {name} (case {case}) mil gaya/gayi hai. Madad ka shukriya. Talaash",
    },
    [TX_UPDATE_CLOSED] = {
        "UPDATE: the alert for case {case} has ended. Thank you. Talaash",
        "اپ ڈیٹ: کیس {case} کا الرٹ ختم ہو گیا۔ شکریہ۔",
        "UPDATE: case {case} ka alert khatam ho gaya. Shukriya. Talaash",
    },
    [TX_RATE_LIMITED] = {
        "Talaash: too many messages from this number. Please wait a few minutes.",
        "تلاش: اس نمبر سے بہت زیادہ پیغامات۔ چند منٹ انتظار کریں۔",
        "Talaash: is number se bohat zyada messages. Chand minute intezar karein.",
    },
    [TX_PIN_LOCKED] = {
        "Talaash: police commands from this number are locked after too many wrong PINs, "
        "until {until} UTC or until the operator unlocks them.",
        NULL,
        NULL,
    },
    [TX_PIN_LOCKED_NOW] = {
        "Talaash: too many wrong PINs. Police commands from this number are locked until "
        "{until} UTC. If this was not you, tell the operator.",
        NULL,
        NULL,
    },
};

static const char *template_for(enum tl_text_id id, enum tl_lang lang)
{
    const struct text_row *r = &rows[id];

    if (lang == TL_LANG_UR && r->ur != NULL)
        return r->ur;
    if (lang == TL_LANG_ROMAN_UR && r->rur != NULL)
        return r->rur;
    return r->en;
}

/* Renders template text t[0..n) into out; false when one of its fields is absent or empty. */
static bool render_span(const char *t, size_t n, const struct tl_text_field *fields,
                        size_t nfields, struct tl_buf *out)
{
    const char *end = t + n;
    bool full = true;

    while (t < end) {
        const char *open = memchr(t, '{', (size_t)(end - t));
        const char *close = open ? memchr(open, '}', (size_t)(end - open)) : NULL;
        const char *value = NULL;

        if (open == NULL || close == NULL) {
            tl_buf_append(out, t, (size_t)(end - t));
            break;
        }
        tl_buf_append(out, t, (size_t)(open - t));
        size_t len = (size_t)(close - open - 1);
        for (size_t i = 0; i < nfields; i++) {
            if (strlen(fields[i].name) == len && memcmp(fields[i].name, open + 1, len) == 0) {
                value = fields[i].value;
                break;
            }
        }
        if (value != NULL && value[0] != '\0')
            tl_buf_append_str(out, value);
        else
            full = false;
        t = close + 1;
    }
    return full;
}

void texts_render(enum tl_text_id id, enum tl_lang lang, const struct tl_text_field *fields,
                  size_t nfields, struct tl_buf *out)
{
    const char *t = template_for(id, lang);

    /* "[, {gender}]": a group is written only when all its fields have values */
    while (*t) {
        const char *open = strchr(t, '[');
        const char *close = open ? strchr(open, ']') : NULL;

        if (open == NULL || close == NULL) {
            render_span(t, strlen(t), fields, nfields, out);
            return;
        }
        render_span(t, (size_t)(open - t), fields, nfields, out);
        size_t mark = out->len;
        if (!render_span(open + 1, (size_t)(close - open - 1), fields, nfields, out)) {
            out->len = mark;
            if (out->data != NULL)
                out->data[mark] = '\0';
        }
        t = close + 1;
    }
}

static size_t segments_of(const struct tl_buf *b)
{
    struct tl_sms_count c;

    if (sms_count(tl_buf_str(b), b->len, &c) != 0)
        return (size_t)-1;
    return c.segments;
}

static struct tl_text_field *field_named(struct tl_text_field *fields, size_t n, const char *name)
{
    for (size_t i = 0; name != NULL && i < n; i++) {
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    }
    return NULL;
}

/* Shrinks field f (by bytes, at a UTF-8 boundary, longest prefix that fits). */
static bool shrink_field(enum tl_text_id id, enum tl_lang lang, struct tl_text_field *fields,
                         size_t nfields, struct tl_text_field *f, size_t max_segments,
                         struct tl_buf *out)
{
    const char *orig = f->value ? f->value : "";
    size_t lo = 0, hi = strlen(orig), best = 0;
    char *copy = xstrdup(orig);
    bool fits = false;

    /* Binary search on the byte length of the prefix. */
    while (lo <= hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t cut = mid;
        while (cut > 0 && ((unsigned char)orig[cut] & 0xC0) == 0x80)
            cut--; /* never split a UTF-8 sequence */
        memcpy(copy, orig, cut);
        copy[cut] = '\0';
        f->value = copy;
        tl_buf_reset(out);
        texts_render(id, lang, fields, nfields, out);
        if (segments_of(out) <= max_segments) {
            best = cut;
            fits = true;
            lo = mid + 1;
        } else {
            if (mid == 0)
                break;
            hi = mid - 1;
        }
    }
    memcpy(copy, orig, best);
    copy[best] = '\0';
    /* Whole words only: a cut word goes, and with it the field when no whole word fits. */
    if (best < strlen(orig)) {
        size_t keep = orig[best] == ' ' ? best : 0;

        for (size_t i = best; keep == 0 && i > 0; i--) {
            if (copy[i - 1] == ' ')
                keep = i - 1;
        }
        for (;;) { /* nor a separator left dangling: ' ', ',', '،' (U+060C) */
            if (keep > 0 && (copy[keep - 1] == ' ' || copy[keep - 1] == ','))
                keep--;
            else if (keep > 1 && memcmp(copy + keep - 2, "\xd8\x8c", 2) == 0)
                keep -= 2;
            else
                break;
        }
        copy[keep] = '\0';
    }
    f->value = copy;
    tl_buf_reset(out);
    texts_render(id, lang, fields, nfields, out);
    if (segments_of(out) > max_segments) { /* the word trim cannot add, but be exact */
        copy[0] = '\0';
        tl_buf_reset(out);
        texts_render(id, lang, fields, nfields, out);
        fits = segments_of(out) <= max_segments;
    }
    f->value = orig; /* the caller's pointer is restored; out holds the text */
    free(copy);
    return fits;
}

size_t texts_render_fit(enum tl_text_id id, enum tl_lang lang, struct tl_text_field *fields,
                        size_t nfields, const char *shrink, const char *shrink2,
                        size_t max_segments, struct tl_buf *out)
{
    struct tl_buf tmp = {0};
    struct tl_text_field *f1 = field_named(fields, nfields, shrink);
    struct tl_text_field *f2 = field_named(fields, nfields, shrink2);

    texts_render(id, lang, fields, nfields, &tmp);
    if (segments_of(&tmp) > max_segments && f1 != NULL &&
        !shrink_field(id, lang, fields, nfields, f1, max_segments, &tmp) && f2 != NULL) {
        const char *saved = f1->value;
        f1->value = "";
        shrink_field(id, lang, fields, nfields, f2, max_segments, &tmp);
        f1->value = saved;
    }
    size_t segs = segments_of(&tmp);
    tl_buf_append(out, tl_buf_str(&tmp), tmp.len);
    tl_buf_free(&tmp);
    return segs;
}

const char *texts_area_name(const struct tl_area *a, enum tl_lang lang)
{
    if (a == NULL)
        return "";
    return lang == TL_LANG_UR && a->name_ur[0] ? a->name_ur : a->name_en;
}

/*
 * What tells a candidate apart from the others of the same name: its city
 * when they lie in different cities ("Gulberg (Lahore)"), else its parent
 * ("Bilal Colony (Orangi)"). NULL when its name is unique in the list.
 */
static const struct tl_area *area_qualifier(const struct tl_gazetteer *gz, const struct tl_area *a,
                                            const struct tl_area *const *all, size_t n)
{
    const struct tl_area *city = gazetteer_city_of(gz, a);
    bool twin = false, other_city = false;

    for (size_t i = 0; i < n; i++) {
        if (all[i] == a || strcmp(all[i]->name_en, a->name_en) != 0)
            continue;
        twin = true;
        other_city = other_city || gazetteer_city_of(gz, all[i]) != city;
    }
    if (!twin)
        return NULL;
    if (other_city && city != NULL && city != a)
        return city;
    return a->parent >= 0 ? gazetteer_at(gz, (size_t)a->parent) : NULL;
}

void texts_area_label(const struct tl_gazetteer *gz, const struct tl_area *a,
                      const struct tl_area *const *all, size_t n, enum tl_lang lang,
                      struct tl_buf *out)
{
    const struct tl_area *q = gz ? area_qualifier(gz, a, all, n) : NULL;

    tl_buf_append_str(out, texts_area_name(a, lang));
    if (q != NULL)
        tl_buf_appendf(out, " (%s)", texts_area_name(q, lang));
}

void texts_area_list(const struct tl_gazetteer *gz, const struct tl_area_candidate *c, size_t n,
                     enum tl_lang lang, struct tl_buf *out)
{
    const struct tl_area *all[16];
    size_t m = n < 16 ? n : 16, shown = m < 6 ? m : 6; /* six fit one SMS */

    for (size_t i = 0; i < m; i++)
        all[i] = c[i].area;
    for (size_t i = 0; i < shown; i++) {
        if (i)
            tl_buf_append_str(out, lang == TL_LANG_UR ? "، " : ", ");
        texts_area_label(gz, all[i], all, m, lang, out);
    }
    if (shown < m)
        tl_buf_append_str(out, lang == TL_LANG_UR ? "، ..." : ", ...");
}

const char *texts_gender(enum tl_gender g, enum tl_lang lang)
{
    static const char *const names[3][3] = {
        {"", "boy", "girl"},
        {"", "لڑکا", "لڑکی"},
        {"", "larka", "larki"},
    };
    return names[lang][g];
}

const char *texts_state(const char *state, enum tl_lang lang)
{
    static const struct {
        const char *state, *en, *ur, *rur;
    } states[] = {
        {"reported", "reported, waiting for police", "درج، پولیس کی تصدیق باقی", "darj, police ki tasdeeq baqi"},
        {"active", "ACTIVE: alert out", "فعال: الرٹ جاری", "ACTIVE: alert jari"},
        {"found", "FOUND", "مل گیا", "mil gaya"},
        {"closed", "closed", "بند", "band"},
        {"cancelled", "cancelled", "منسوخ", "mansookh"},
        {"draft", "not complete yet", "نامکمل", "namukammal"},
    };
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        if (strcmp(states[i].state, state) == 0)
            return lang == TL_LANG_UR ? states[i].ur
                   : lang == TL_LANG_ROMAN_UR ? states[i].rur
                                              : states[i].en;
    }
    return state;
}
