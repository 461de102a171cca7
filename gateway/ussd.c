/*
 * ussd.c — the USSD menu of SPEC.md §3 as a state machine over the store
 * (see ussd.h).
 *
 * Each request: load the session (keyed by channel and the aggregator's
 * session id), work out the newest input (Africa's Talking sends the whole
 * path "1*Bilal*8"; a repeat of the last path gets the last screen again
 * and acts on nothing), run one transition, and store the session with the
 * screen — in one transaction with whatever the step did (a report, a
 * subscription). The actions are the same domain functions SMS uses
 * (cases_report, subscribers_join, …): one set of rules.
 *
 * Screens are at most 182 characters (a test renders every one in both
 * languages); English screens use GSM-7 characters only.
 */
#include "gateway/ussd.h"
#include "gateway/areas.h"
#include "gateway/cases.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "gateway/texts.h"
#include "gateway/subscribers.h"
#include "parsers/casenum.h"
#include "parsers/gazetteer.h"
#include "parsers/phone.h"
#include "parsers/textnorm.h"
#include "providers/provider.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USSD_INPUT_MAX 160
#define PICK_PAGE 4
#define PICK_MAX 20 /* five pages of PICK_PAGE */

/* Fixed screens, English and Urdu. */
enum ussd_screen_id {
    SC_MAIN = 0,
    SC_NAME,
    SC_AGE,
    SC_AGE_AGAIN,
    SC_GENDER,
    SC_AREA,
    SC_AREA_AGAIN,
    SC_SEEN,
    SC_JOIN_AREA,
    SC_CASE,
    SC_SIGHT_TEXT,
    SC_INVALID_CHOICE,
    SC_END_AGE,
    SC_END_AREA,
    SC_END_CANCELLED,
    SC_END_EXPIRED,
    SC_END_TOO_LONG,
    SC_PICK_TITLE,
    SC_PICK_MORE,
    SC_PICK_BACK,
    SC_CONFIRM_TITLE,
    SC_CONFIRM_CHOICES,
    SC_BOY,
    SC_GIRL,
    SC_COUNT
};

static const char *const screens[SC_COUNT][2] = {
    [SC_MAIN] = {"Talaash\n1 Report missing child\n2 Alerts for my area\n3 Case status\n"
                 "4 Report a sighting\n5 Stop alerts\n6 Urdu",
                 "تلاش\n1 گمشدہ بچے کی اطلاع\n2 میرے علاقے کے الرٹ\n3 کیس کی حالت\n"
                 "4 بچہ دیکھا\n5 الرٹ بند\n6 English"},
    [SC_NAME] = {"Child's name?", "بچے کا نام؟"},
    [SC_AGE] = {"Age in years?", "عمر (سال)؟"},
    [SC_AGE_AGAIN] = {"Please enter the age as a number of years, e.g. 8",
                      "عمر نمبر میں لکھیں، مثلاً 8"},
    [SC_GENDER] = {"1 Boy\n2 Girl", "1 لڑکا\n2 لڑکی"},
    [SC_AREA] = {"Area where last seen? Type the name, e.g. Korangi",
                 "آخری بار کس علاقے میں دیکھا؟ نام لکھیں، مثلاً کورنگی"},
    [SC_AREA_AGAIN] = {"Area not found. Type the area name again:",
                       "علاقہ نہیں ملا۔ نام دوبارہ لکھیں:"},
    [SC_SEEN] = {"Last seen when and where, and what was the child wearing? (0 to skip)",
                 "آخری بار کب اور کہاں دیکھا، کیا پہنا تھا؟ (چھوڑنے کو 0)"},
    [SC_JOIN_AREA] = {"Alerts for which area? Type the name, e.g. Korangi",
                      "کس علاقے کے الرٹ؟ نام لکھیں، مثلاً کورنگی"},
    [SC_CASE] = {"Case number (6 digits)?", "کیس نمبر (6 ہندسے)؟"},
    [SC_SIGHT_TEXT] = {"Where and when did you see the child?", "بچے کو کہاں اور کب دیکھا؟"},
    [SC_INVALID_CHOICE] = {"Invalid choice.", "غلط انتخاب۔"},
    [SC_END_AGE] = {"Talaash: the age must be a number. Dial again, or SMS MISSING name, age, "
                    "boy/girl, area.",
                    "تلاش: عمر نمبر میں ہونی چاہیے۔ دوبارہ ڈائل کریں یا SMS کریں: گمشدہ نام، عمر، علاقہ"},
    [SC_END_AREA] = {"Talaash: area not found. Dial again, or SMS AREAS and the first letters.",
                     "تلاش: علاقہ نہیں ملا۔ دوبارہ ڈائل کریں۔"},
    [SC_END_CANCELLED] = {"Talaash: nothing was sent. Dial again any time.",
                          "تلاش: کچھ نہیں بھیجا گیا۔ کسی بھی وقت دوبارہ ڈائل کریں۔"},
    [SC_END_EXPIRED] = {"Talaash: the session timed out. Please dial again.",
                        "تلاش: وقت ختم ہو گیا۔ دوبارہ ڈائل کریں۔"},
    [SC_END_TOO_LONG] = {"Talaash: that answer was too long. Please dial again.",
                         "تلاش: جواب بہت لمبا تھا۔ دوبارہ ڈائل کریں۔"},
    [SC_PICK_TITLE] = {"Which area?", "کون سا علاقہ؟"},
    [SC_PICK_MORE] = {"98 More", "98 مزید"},
    [SC_PICK_BACK] = {"0 Back", "0 واپس"},
    [SC_CONFIRM_TITLE] = {"Confirm report:", "اطلاع کی تصدیق:"},
    [SC_CONFIRM_CHOICES] = {"1 Yes, send\n2 No, cancel", "1 ہاں، بھیجیں\n2 نہیں"},
    [SC_BOY] = {"boy", "لڑکا"},
    [SC_GIRL] = {"girl", "لڑکی"},
};

/* 0 for English, 1 for Urdu (Roman Urdu readers get the English menu). */
static int ui(enum tl_lang lang)
{
    return lang == TL_LANG_UR ? 1 : 0;
}

static size_t codepoints(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Cuts text to USSD_SCREEN_MAX characters at a character boundary, ending in "...". */
static void fit_screen(struct tl_buf *b)
{
    if (codepoints(b->data ? b->data : "", b->len) <= USSD_SCREEN_MAX)
        return;
    size_t keep = 0, n = 0;
    while (keep < b->len && n < USSD_SCREEN_MAX - 3) {
        keep++;
        while (keep < b->len && ((unsigned char)b->data[keep] & 0xC0) == 0x80)
            keep++;
        n++;
    }
    b->len = keep;
    b->data[keep] = '\0';
    tl_buf_append_str(b, "...");
}

/* What a session carries between steps (stored as JSON). */
struct ussd_data {
    enum tl_lang lang;
    char name[96];
    int age;
    int gender;          /* 0, 1 boy, 2 girl */
    char area[40];       /* area code */
    char area_text[96];
    char seen[200];
    char case_no[8];
    int tries;
    int page;
    char picks[PICK_MAX][40]; /* candidate area codes */
    int npicks;
    char back[16];       /* the state "0 Back" returns to */
    int end;             /* the last screen ended the session */
};

static void data_load(const char *json, struct ussd_data *u)
{
    memset(u, 0, sizeof(*u));
    u->age = -1;
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    if (j == NULL)
        return;
    const cJSON *v;
#define GET_STR(key, field)                                                                        \
    if ((v = cJSON_GetObjectItemCaseSensitive(j, key)) && cJSON_IsString(v))                       \
        snprintf(u->field, sizeof(u->field), "%s", v->valuestring);
#define GET_INT(key, field)                                                                        \
    if ((v = cJSON_GetObjectItemCaseSensitive(j, key)) && cJSON_IsNumber(v))                       \
        u->field = v->valueint;
    GET_STR("name", name);
    GET_STR("area", area);
    GET_STR("area_text", area_text);
    GET_STR("seen", seen);
    GET_STR("case", case_no);
    GET_STR("back", back);
    GET_INT("age", age);
    GET_INT("gender", gender);
    GET_INT("tries", tries);
    GET_INT("page", page);
    GET_INT("end", end);
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "lang")) && cJSON_IsString(v))
        grammar_lang_from_name(v->valuestring, &u->lang);
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "picks")) && cJSON_IsArray(v)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            if (cJSON_IsString(it) && u->npicks < PICK_MAX)
                snprintf(u->picks[u->npicks++], sizeof(u->picks[0]), "%s", it->valuestring);
        }
    }
#undef GET_STR
#undef GET_INT
    cJSON_Delete(j);
}

static char *data_save(const struct ussd_data *u)
{
    cJSON *j = cJSON_CreateObject();

    cJSON_AddStringToObject(j, "lang", grammar_lang_name(u->lang));
    cJSON_AddStringToObject(j, "name", u->name);
    cJSON_AddNumberToObject(j, "age", u->age);
    cJSON_AddNumberToObject(j, "gender", u->gender);
    cJSON_AddStringToObject(j, "area", u->area);
    cJSON_AddStringToObject(j, "area_text", u->area_text);
    cJSON_AddStringToObject(j, "seen", u->seen);
    cJSON_AddStringToObject(j, "case", u->case_no);
    cJSON_AddStringToObject(j, "back", u->back);
    cJSON_AddNumberToObject(j, "tries", u->tries);
    cJSON_AddNumberToObject(j, "page", u->page);
    cJSON_AddNumberToObject(j, "end", u->end);
    cJSON *picks = cJSON_AddArrayToObject(j, "picks");
    for (int i = 0; i < u->npicks; i++)
        cJSON_AddItemToArray(picks, cJSON_CreateString(u->picks[i]));
    char *out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char *copy = xstrdup(out);
    cJSON_free(out);
    return copy;
}

/* One step's outcome. */
struct step_out {
    const char *next;   /* next state */
    struct tl_buf text; /* the screen */
    bool end;
};

static void say(struct step_out *o, const struct ussd_data *u, enum ussd_screen_id id)
{
    tl_buf_append_str(&o->text, screens[id][ui(u->lang)]);
}

static void say_line(struct step_out *o, const struct ussd_data *u, enum ussd_screen_id id)
{
    if (o->text.len)
        tl_buf_append_char(&o->text, '\n');
    say(o, u, id);
}

/* Input as a whole number (ASCII, Urdu or Arabic-Indic digits); -1 when it is not one. */
static long input_number(const char *in)
{
    size_t n = 0;
    char *f = textnorm_fold(in, strlen(in), &n);
    long v = -1;

    if (f != NULL && n > 0 && n <= 6 && strspn(f, "0123456789") == n)
        v = strtol(f, NULL, 10);
    free(f);
    return v;
}

/* The numbered list of candidate areas (one page). */
static void show_picks(struct tl_daemon *d, struct ussd_data *u, struct step_out *o)
{
    say(o, u, SC_PICK_TITLE);
    int first = u->page * PICK_PAGE;
    const struct tl_area *all[PICK_MAX];
    size_t nall = 0;
    for (int i = 0; i < u->npicks; i++) {
        const struct tl_area *a = gazetteer_by_code(d->gz, u->picks[i]);
        if (a != NULL)
            all[nall++] = a;
    }
    for (int i = first; i < u->npicks && i < first + PICK_PAGE; i++) {
        const struct tl_area *a = gazetteer_by_code(d->gz, u->picks[i]);
        tl_buf_appendf(&o->text, "\n%d ", i - first + 1);
        if (a != NULL)
            texts_area_label(d->gz, a, all, nall, u->lang, &o->text);
        else
            tl_buf_append_str(&o->text, "?");
    }
    if (first + PICK_PAGE < u->npicks)
        say_line(o, u, SC_PICK_MORE);
    say_line(o, u, SC_PICK_BACK);
}

/*
 * Typed area text: a clear match is taken; otherwise the candidates are
 * offered as a list. Returns true when an area was taken into u->area.
 */
static bool take_area(struct tl_daemon *d, struct ussd_data *u, const char *phone,
                      const char *in, struct step_out *o, const char *pick_state,
                      const char *back_state)
{
    struct tl_area_candidate c[PICK_MAX];
    size_t n = 0;
    enum tl_match_kind k = gazetteer_match(d->gz, in, strlen(in), c, PICK_MAX, &n);
    int pick = k == TL_MATCH_AMBIGUOUS ? areas_prefer_for(d->gz, d->store, phone, c, n) : -1;

    snprintf(u->area_text, sizeof(u->area_text), "%s", in);
    if (pick >= 0) {
        snprintf(u->area, sizeof(u->area), "%s", c[pick].area->code);
        return true;
    }
    if ((k == TL_MATCH_EXACT || k == TL_MATCH_FUZZY) && n > 0) {
        snprintf(u->area, sizeof(u->area), "%s", c[0].area->code);
        return true;
    }
    if (in[0] != '\0' && n < PICK_MAX) {
        /* A few first letters ("Gul") also offer the areas they begin. */
        const struct tl_area *starts[PICK_MAX];
        size_t m = gazetteer_prefix(d->gz, in, 0, starts, PICK_MAX, NULL);
        for (size_t i = 0; i < m && n < PICK_MAX; i++) {
            bool dup = false;
            for (size_t j = 0; j < n; j++)
                dup |= c[j].area == starts[i];
            if (!dup)
                c[n++].area = starts[i];
        }
    }
    if (n == 0) {
        if (++u->tries >= 3) {
            say(o, u, SC_END_AREA);
            o->end = true;
        } else {
            say(o, u, SC_AREA_AGAIN);
            o->next = back_state;
        }
        return false;
    }
    u->npicks = 0;
    for (size_t i = 0; i < n && i < PICK_MAX; i++)
        snprintf(u->picks[u->npicks++], sizeof(u->picks[0]), "%s", c[i].area->code);
    u->page = 0;
    snprintf(u->back, sizeof(u->back), "%s", back_state);
    show_picks(d, u, o);
    o->next = pick_state;
    return false;
}

/* A choice in the candidate list. Returns true when an area was taken. */
static bool pick_area(struct tl_daemon *d, struct ussd_data *u, const char *in,
                      struct step_out *o, const char *pick_state)
{
    long v = input_number(in);

    if (v == 98 && (u->page + 1) * PICK_PAGE < u->npicks) {
        u->page++;
        show_picks(d, u, o);
        o->next = pick_state;
        return false;
    }
    if (v == 0) {
        say(o, u, strcmp(u->back, "j_area") == 0 ? SC_JOIN_AREA : SC_AREA);
        o->next = u->back;
        return false;
    }
    int idx = u->page * PICK_PAGE + (int)v - 1;
    if (v >= 1 && v <= PICK_PAGE && idx < u->npicks) {
        snprintf(u->area, sizeof(u->area), "%s", u->picks[idx]);
        return true;
    }
    say(o, u, SC_INVALID_CHOICE);
    tl_buf_append_char(&o->text, '\n');
    show_picks(d, u, o);
    o->next = pick_state;
    return false;
}

static void show_confirm(struct tl_daemon *d, struct ussd_data *u, struct step_out *o)
{
    const struct tl_area *a = gazetteer_by_code(d->gz, u->area);
    struct tl_buf line = {0};

    say(o, u, SC_CONFIRM_TITLE);
    tl_buf_appendf(&line, "%s, %d, %s, %s", u->name, u->age,
                   screens[u->gender == 2 ? SC_GIRL : SC_BOY][ui(u->lang)],
                   a ? texts_area_name(a, u->lang) : u->area_text);
    /* The summary gives way so the choices always show. */
    size_t room = USSD_SCREEN_MAX - 40;
    if (codepoints(line.data, line.len) > room) {
        fit_screen(&line);
        while (codepoints(line.data, line.len) > room && line.len > 0) {
            line.len--;
            while (line.len > 0 && ((unsigned char)line.data[line.len] & 0xC0) == 0x80)
                line.len--;
            line.data[line.len] = '\0';
        }
    }
    tl_buf_append_char(&o->text, '\n');
    tl_buf_append(&o->text, line.data, line.len);
    say_line(o, u, SC_CONFIRM_CHOICES);
    tl_buf_free(&line);
    o->next = "r_confirm";
}

/* The reply of a domain action as the last screen, and as an SMS to keep. */
static int finish_with(struct tl_daemon *d, const struct tl_channel_conf *ch, const char *phone,
                       struct tl_buf *reply, bool copy_by_sms, struct step_out *o)
{
    int rc = TL_OK;

    if (copy_by_sms && reply->len > 0) {
        struct tl_outbox_new m = {
            .channel = ch->name, .phone = phone, .text = tl_buf_str(reply), .kind = TL_OUT_REPLY};
        rc = store_outbox_add(d->store, &m, clock_now(), NULL);
    }
    tl_buf_append(&o->text, tl_buf_str(reply), reply->len);
    o->end = true;
    return rc;
}

/* Runs one transition from `state` with input `in`. */
static int transition(struct tl_daemon *d, const struct tl_channel_conf *ch, const char *phone,
                      const char *state, const char *in, struct ussd_data *u, struct step_out *o)
{
    struct tl_actor a = {.phone = phone, .channel = ch->name, .lang = u->lang};
    struct tl_sms_parse *p = NULL;
    struct tl_buf reply = {0};
    int rc = TL_OK;
    long v;

    o->next = state;
    if (strcmp(state, "main") == 0) {
        v = input_number(in);
        switch (v) {
        case 1:
            memset(u->name, 0, sizeof(u->name));
            u->age = -1;
            u->tries = 0;
            say(o, u, SC_NAME);
            o->next = "r_name";
            break;
        case 2:
            u->tries = 0;
            say(o, u, SC_JOIN_AREA);
            o->next = "j_area";
            break;
        case 3:
            say(o, u, SC_CASE);
            o->next = "s_case";
            break;
        case 4:
            say(o, u, SC_CASE);
            o->next = "g_case";
            break;
        case 5:
            rc = subscribers_stop(d, phone, ch->name, u->lang, &reply);
            if (rc == TL_OK)
                rc = finish_with(d, ch, phone, &reply, false, o);
            break;
        case 6:
            u->lang = u->lang == TL_LANG_UR ? TL_LANG_EN : TL_LANG_UR;
            rc = store_subscriber_touch(d->store, phone, grammar_lang_name(u->lang), ch->name,
                                        clock_now(), NULL);
            say(o, u, SC_MAIN);
            break;
        default:
            say(o, u, SC_INVALID_CHOICE);
            say_line(o, u, SC_MAIN);
        }
    } else if (strcmp(state, "r_name") == 0) {
        if (in[0] == '\0') {
            say(o, u, SC_NAME);
        } else {
            snprintf(u->name, sizeof(u->name), "%s", in);
            say(o, u, SC_AGE);
            o->next = "r_age";
        }
    } else if (strcmp(state, "r_age") == 0) {
        v = input_number(in);
        if (v >= 0 && v <= 120) {
            u->age = (int)v;
            say(o, u, SC_GENDER);
            o->next = "r_gender";
        } else if (u->tries++ == 0) {
            say(o, u, SC_AGE_AGAIN); /* asked once more, then the session ends */
        } else {
            say(o, u, SC_END_AGE);
            o->end = true;
        }
    } else if (strcmp(state, "r_gender") == 0) {
        v = input_number(in);
        if (v == 1 || v == 2) {
            u->gender = (int)v;
            u->tries = 0;
            say(o, u, SC_AREA);
            o->next = "r_area";
        } else {
            say(o, u, SC_INVALID_CHOICE);
            say_line(o, u, SC_GENDER);
        }
    } else if (strcmp(state, "r_area") == 0 || strcmp(state, "r_pick") == 0) {
        bool took = strcmp(state, "r_area") == 0 ? take_area(d, u, phone, in, o, "r_pick", "r_area")
                                                 : pick_area(d, u, in, o, "r_pick");
        if (took) {
            say(o, u, SC_SEEN);
            o->next = "r_seen";
        }
    } else if (strcmp(state, "r_seen") == 0) {
        snprintf(u->seen, sizeof(u->seen), "%s", strcmp(in, "0") == 0 ? "" : in);
        show_confirm(d, u, o);
    } else if (strcmp(state, "r_confirm") == 0) {
        v = input_number(in);
        if (v == 1) {
            p = xcalloc(1, sizeof(*p));
            p->command = TL_CMD_REPORT;
            p->lang = u->lang;
            snprintf(p->name, sizeof(p->name), "%s", u->name);
            p->age = u->age;
            p->gender = u->gender == 2 ? TL_GENDER_FEMALE : TL_GENDER_MALE;
            p->area = gazetteer_by_code(d->gz, u->area);
            p->area_match = TL_MATCH_EXACT;
            snprintf(p->area_text, sizeof(p->area_text), "%s", u->area_text);
            snprintf(p->description, sizeof(p->description), "%s", u->seen);
            rc = cases_report(d, &a, p, &reply);
            if (rc == TL_OK)
                rc = finish_with(d, ch, phone, &reply, true, o);
        } else if (v == 2) {
            say(o, u, SC_END_CANCELLED);
            o->end = true;
        } else {
            say(o, u, SC_INVALID_CHOICE);
            tl_buf_append_char(&o->text, '\n');
            show_confirm(d, u, o);
        }
    } else if (strcmp(state, "j_area") == 0 || strcmp(state, "j_pick") == 0) {
        bool took = strcmp(state, "j_area") == 0 ? take_area(d, u, phone, in, o, "j_pick", "j_area")
                                                 : pick_area(d, u, in, o, "j_pick");
        if (took) {
            p = xcalloc(1, sizeof(*p));
            p->command = TL_CMD_SUBSCRIBE;
            p->lang = u->lang;
            p->area = gazetteer_by_code(d->gz, u->area);
            rc = subscribers_join(d, &a, p, &reply);
            if (rc == TL_OK)
                rc = finish_with(d, ch, phone, &reply, false, o);
        }
    } else if (strcmp(state, "s_case") == 0 || strcmp(state, "g_case") == 0) {
        size_t n = 0;
        char *digits = textnorm_fold(in, strlen(in), &n);
        p = xcalloc(1, sizeof(*p));
        p->command = strcmp(state, "s_case") == 0 ? TL_CMD_STATUS : TL_CMD_SIGHTING;
        p->lang = u->lang;
        if (digits != NULL && n == TL_CASENUM_LEN && strspn(digits, "0123456789") == n) {
            memcpy(p->case_no, digits, n + 1);
            p->case_valid = casenum_valid(digits, n);
        }
        free(digits);
        if (p->command == TL_CMD_SIGHTING && p->case_valid) {
            memcpy(u->case_no, p->case_no, sizeof(u->case_no));
            say(o, u, SC_SIGHT_TEXT);
            o->next = "g_text";
        } else {
            rc = p->command == TL_CMD_STATUS ? cases_status(d, &a, p, &reply)
                                             : cases_sighting(d, &a, p, &reply);
            if (rc == TL_OK)
                rc = finish_with(d, ch, phone, &reply, false, o);
        }
    } else if (strcmp(state, "g_text") == 0) {
        p = xcalloc(1, sizeof(*p));
        p->command = TL_CMD_SIGHTING;
        p->lang = u->lang;
        memcpy(p->case_no, u->case_no, sizeof(u->case_no));
        p->case_valid = true;
        snprintf(p->text, sizeof(p->text), "%s", in);
        rc = cases_sighting(d, &a, p, &reply);
        if (rc == TL_OK)
            rc = finish_with(d, ch, phone, &reply, false, o);
    } else {
        tl_buf_append_str(&o->text, USSD_TEXT_BAD_REQUEST);
        o->end = true;
    }
    free(p);
    tl_buf_free(&reply);
    return rc;
}

int ussd_step(struct tl_daemon *d, const struct tl_channel_conf *ch,
              const struct tl_ussd_step *step, struct tl_ussd_screen *screen)
{
    struct tl_ussd_session s;
    struct ussd_data u;
    struct step_out o = {.next = "main"};
    char phone[TL_PHONE_MAX];
    const char *path = step->input ? step->input : "";
    const char *in = path;
    int64_t now = clock_now();
    int rc;

    memset(screen, 0, sizeof(*screen));
    if (phone_normalize(step->phone, strlen(step->phone), d->cfg->country_code, phone) != TL_OK ||
        !tl_utf8_valid(path, strlen(path))) {
        screen->text = xstrdup(USSD_TEXT_BAD_REQUEST);
        screen->end = true;
        return TL_OK;
    }
    if (store_tx_begin(d->store) != TL_OK)
        return TL_ERR_STORE;
    rc = store_ussd_session_get(d->store, ch->name, step->session_id, &s);
    if (rc == TL_ERR_STORE)
        goto fail;
    if (rc == TL_OK && s.expires_at < now) {
        /* The network's session outlived ours: say so rather than guess. */
        store_ussd_session_clear(&s);
        rc = TL_ERR_NOT_FOUND;
        if (path[0] != '\0') {
            memset(&u, 0, sizeof(u));
            say(&o, &u, SC_END_EXPIRED);
            o.end = true;
            goto save;
        }
    }
    const char *state = "main";
    if (rc == TL_OK) {
        data_load(s.data, &u);
        state = s.state;
        if (step->input_is_path && s.last_input && strcmp(s.last_input, path) == 0) {
            /* The aggregator repeated a request: same screen, nothing done again. */
            screen->text = xstrdup(s.last_reply ? s.last_reply : "");
            screen->end = u.end != 0;
            store_ussd_session_clear(&s);
            store_tx_rollback(d->store);
            return TL_OK;
        }
        if (step->input_is_path) {
            size_t k = s.last_input ? strlen(s.last_input) : 0;
            if (k > 0 && strncmp(path, s.last_input, k) == 0 && path[k] == '*')
                in = path + k + 1;
            else if (k > 0)
                in = strrchr(path, '*') ? strrchr(path, '*') + 1 : path;
        }
        if (u.end) { /* a step after the last screen */
            say(&o, &u, SC_END_EXPIRED);
            o.end = true;
            goto save;
        }
    } else {
        /* A new session: the menu in the language this number chose before. */
        char saved[12];
        memset(&u, 0, sizeof(u));
        u.age = -1;
        if (store_subscriber_lang(d->store, phone, NULL, saved, NULL) == TL_OK && saved[0])
            grammar_lang_from_name(saved, &u.lang);
        if (u.lang == TL_LANG_ROMAN_UR)
            u.lang = TL_LANG_EN;
    }
    if (strlen(in) > USSD_INPUT_MAX) {
        say(&o, &u, SC_END_TOO_LONG);
        o.end = true;
    } else if (in[0] == '\0' && rc != TL_OK) {
        say(&o, &u, SC_MAIN);
    } else if (!step->input_is_path) {
        rc = transition(d, ch, phone, state, in, &u, &o);
        if (rc != TL_OK)
            goto fail;
    } else {
        /*
         * Every new segment of the path, in order: normally one; several when
         * the user dialled a direct string (*384*1234*1#) or a step was lost.
         */
        char *copy = xstrdup(in), *save_ptr = NULL;
        char *tok = strtok_r(copy, "*", &save_ptr);
        if (tok == NULL)
            tok = copy; /* an empty answer */
        for (; tok != NULL && !o.end; tok = strtok_r(NULL, "*", &save_ptr)) {
            tl_buf_reset(&o.text);
            rc = transition(d, ch, phone, state, tok, &u, &o);
            if (rc != TL_OK) {
                free(copy);
                goto fail;
            }
            state = o.next;
        }
        free(copy);
    }
save:
    fit_screen(&o.text);
    u.end = o.end;
    {
        char *data = data_save(&u);
        struct tl_ussd_session put = {
            .phone = phone,
            .state = (char *)o.next,
            .data = data,
            .last_input = (char *)path,
            .last_reply = (char *)tl_buf_str(&o.text),
            .expires_at = now + d->cfg->ussd_session_timeout,
        };
        rc = store_ussd_session_put(d->store, ch->name, step->session_id, &put, now);
        free(data);
    }
    if (rc == TL_OK)
        rc = store_tx_commit(d->store);
    if (rc != TL_OK)
        goto fail;
    store_ussd_session_clear(&s);
    screen->text = tl_buf_steal(&o.text);
    screen->end = o.end;
    return TL_OK;
fail:
    store_tx_rollback(d->store);
    store_ussd_session_clear(&s);
    tl_buf_free(&o.text);
    return TL_ERR_STORE;
}

void ussd_screen_clear(struct tl_ussd_screen *screen)
{
    free(screen->text);
    screen->text = NULL;
}

size_t ussd_fixed_screens(enum tl_lang lang, const char **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < SC_COUNT && n < max; i++)
        out[n++] = screens[i][ui(lang)];
    return n;
}
