/*
 * test_grammar.c — the SMS command grammar (parsers/grammar.h): every
 * message of tests/fixtures/parse/corpus.tsv must give exactly its expected
 * JSON object (compared as objects, so key order does not matter), plus
 * focused tests of the struct, refusals (invalid UTF-8, overlong input),
 * follow-up answers and the JSON rendering.
 */
#include "parsers/grammar.h"
#include "parsers/gazetteer.h"
#include "common/buf.h"
#include "common/result.h"
#include "tests/tap.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS "tests/fixtures/parse/corpus.tsv"

static struct tl_grammar *g;
static struct tl_gazetteer *gz;
static struct tl_sms_parse res;

static const char *render(const struct tl_sms_parse *p)
{
    static struct tl_buf b;

    tl_buf_reset(&b);
    grammar_render_json(p, &b);
    return tl_buf_str(&b);
}

static const char *parse_json(const char *msg, enum tl_lang hint, const struct tl_area *city)
{
    grammar_parse(g, gz, msg, strlen(msg), hint, &res);
    if (city != NULL)
        grammar_prefer_area(&res, gz, &city, 1);
    return render(&res);
}

/* Compares got with the expected object; TAP line per message; 1 when it passed. */
static int check_row(int line, const char *msg, const char *want, enum tl_lang hint,
                     const struct tl_area *city)
{
    const char *got = parse_json(msg, hint, city);
    cJSON *jg = cJSON_Parse(got), *jw = cJSON_Parse(want);
    int pass = jg != NULL && jw != NULL && cJSON_Compare(jg, jw, 1);

    if (!tap_ok(pass, "corpus line %d: %s", line, msg)) {
        printf("#   got:      %s\n#   expected: %s\n", got, want);
        if (jw == NULL)
            printf("#   (the expected JSON does not parse)\n");
    }
    cJSON_Delete(jg);
    cJSON_Delete(jw);
    return pass;
}

/* Per-kind counts: a kind is a "# --- " section of the corpus. */
struct kind_count {
    char name[96];
    int pass, total;
};

static struct kind_count kinds[64];
static size_t nkinds;

static void kind_start(const char *header)
{
    if (nkinds < sizeof kinds / sizeof kinds[0]) {
        snprintf(kinds[nkinds].name, sizeof kinds[0].name, "%s", header);
        nkinds++;
    }
}

/* Reads the options column: a language ("ur", "roman-ur"), "city=NAME" (the
 * sender's city: an ambiguous area is resolved as the gateway would for a
 * sender subscribed there), or both, separated by a space. */
static bool read_options(char *opts, enum tl_lang *hint, const struct tl_area **city)
{
    for (char *tok = strtok(opts, " "); tok; tok = strtok(NULL, " ")) {
        if (strncmp(tok, "city=", 5) == 0) {
            struct tl_area_candidate c[2];
            size_t nc = 0;

            if (gazetteer_match(gz, tok + 5, strlen(tok + 5), c, 2, &nc) != TL_MATCH_EXACT)
                return false;
            *city = c[0].area;
        } else if (grammar_lang_from_name(tok, hint) != TL_OK) {
            return false;
        }
    }
    return true;
}

static int run_corpus(void)
{
    FILE *f = fopen(CORPUS, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rows = 0;

    if (f == NULL) {
        ok(0, "open %s (run from the repository root)", CORPUS);
        return 0;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        char *tab, *tab2;
        enum tl_lang hint = TL_LANG_EN;
        const struct tl_area *city;
        int pass;

        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (strncmp(line, "# --- ", 6) == 0)
            kind_start(line + 6);
        if (n == 0 || line[0] == '#')
            continue;
        tab = strchr(line, '\t');
        if (tab == NULL) {
            ok(0, "corpus line %d has a tab between message and JSON", lineno);
            continue;
        }
        *tab = '\0';
        tab2 = strchr(tab + 1, '\t');
        city = NULL;
        if (tab2 != NULL) {
            *tab2 = '\0';
            if (!read_options(tab2 + 1, &hint, &city)) {
                ok(0, "corpus line %d: bad options '%s'", lineno, tab2 + 1);
                continue;
            }
        }
        pass = check_row(lineno, line, tab + 1, hint, city);
        if (nkinds > 0) {
            kinds[nkinds - 1].total++;
            kinds[nkinds - 1].pass += pass;
        }
        rows++;
    }
    free(line);
    fclose(f);
    for (size_t k = 0; k < nkinds; k++) {
        if (kinds[k].total > 0)
            diag("corpus accuracy %3d/%-3d %5.1f%%  %s", kinds[k].pass, kinds[k].total,
                 100.0 * kinds[k].pass / kinds[k].total, kinds[k].name);
    }
    return rows;
}

static void test_refusals(void)
{
    static const char *const bad[] = {
        "MISSING Ali \x80 7",        /* lone continuation byte */
        "JOIN \xC0\xAF",             /* overlong '/' */
        "STOP \xED\xA0\x80",         /* UTF-16 surrogate */
        "STATUS 482918 \xE2\x82",    /* truncated sequence */
        "\xF4\x90\x80\x80",          /* above U+10FFFF */
        "\xFF\xFE",
    };
    char big[TL_GRAMMAR_MAX_INPUT + 2];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *j = parse_json(bad[i], TL_LANG_EN, NULL);

        is_int(res.command, TL_CMD_UNKNOWN, "invalid UTF-8 %zu: unknown", i);
        is_str(res.error, "invalid UTF-8", "invalid UTF-8 %zu: error set", i);
        is_str(j, "{\"command\":\"unknown\",\"lang\":\"en\",\"error\":\"invalid UTF-8\"}",
               "invalid UTF-8 %zu: JSON", i);
    }

    memset(big, 'a', sizeof big);
    memcpy(big, "MISSING ", 8);
    grammar_parse(g, gz, big, TL_GRAMMAR_MAX_INPUT + 1, TL_LANG_UR, &res);
    is_str(res.error, "message too long", "1601 bytes: refused");
    is_str(render(&res), "{\"command\":\"unknown\",\"lang\":\"ur\",\"error\":\"message too long\"}",
           "1601 bytes: JSON keeps the hint language");
    grammar_parse(g, gz, big, TL_GRAMMAR_MAX_INPUT, TL_LANG_EN, &res);
    ok(res.error == NULL && res.command == TL_CMD_REPORT, "1600 bytes: read as a report");
    ok(strlen(res.name) == TL_GRAMMAR_MAX_INPUT - 8, "1600 bytes: the long word is the name");

    /* 1600 bytes of separate digits, words and symbols: no crash, bounded */
    for (size_t i = 0; i < TL_GRAMMAR_MAX_INPUT; i++)
        big[i] = "7 a,:-#b."[i % 9];
    memcpy(big, "MISSING ", 8);
    grammar_parse(g, gz, big, TL_GRAMMAR_MAX_INPUT, TL_LANG_EN, &res);
    is_int(res.command, TL_CMD_REPORT, "1600 bytes of short lexemes: a report");

    /* dozens of runs that each split around an area name (fuzzer find) */
    {
        size_t n = 0;

        memcpy(big, "MISSING ", 8);
        n = 8;
        while (n + 16 < TL_GRAMMAR_MAX_INPUT) {
            memcpy(big + n, "Ali Korangi x, ", 15);
            n += 15;
        }
        grammar_parse(g, gz, big, n, TL_LANG_EN, &res);
        ok(res.command == TL_CMD_REPORT && strcmp(res.name, "Ali") == 0,
           "100 runs with area names: bounded, still a report");
    }

    grammar_parse(g, gz, "STOP\0MISSING", 12, TL_LANG_EN, &res);
    is_int(res.command, TL_CMD_UNSUBSCRIBE, "a NUL byte is just another character");
    grammar_parse(g, gz, NULL, 0, TL_LANG_EN, &res);
    ok(res.command == TL_CMD_UNKNOWN && res.error == NULL, "empty input: unknown, no error");
}

static void test_struct(void)
{
    grammar_parse(g, gz, "MISSING Bilal, 8, boy, Malir, blue shirt, last seen 4pm near Malir Halt",
                  71, TL_LANG_EN, &res);
    is_int(res.command, TL_CMD_REPORT, "report");
    is_str(res.keyword, "missing", "keyword");
    is_str(res.name, "Bilal", "name");
    is_int(res.age, 8, "age");
    is_int(res.gender, TL_GENDER_MALE, "gender");
    ok(res.area != NULL && strcmp(res.area->code, "PK-SD-KHI-MAL") == 0, "area is Malir town");
    is_int(res.area_match, TL_MATCH_EXACT, "exact match");
    is_str(res.last_seen, "4pm near Malir Halt", "last_seen");
    is_str(res.description, "blue shirt", "description");
    is_int(res.missing, 0, "nothing missing");
    is_str(res.case_no, "", "no case");

    parse_json("MISSING Ali 7 boy Kotti", TL_LANG_EN, NULL);
    ok(res.area == NULL, "Kotti: no area");
    is_int(res.area_match, TL_MATCH_AMBIGUOUS, "Kotti: ambiguous");
    is_int(res.ncands, 2, "Kotti: two candidates");
    ok(res.ncands == 2 && res.cands[0].area && res.cands[1].area &&
           ((strcmp(res.cands[0].area->name_en, "Kotli") == 0 &&
             strcmp(res.cands[1].area->name_en, "Kotri") == 0) ||
            (strcmp(res.cands[0].area->name_en, "Kotri") == 0 &&
             strcmp(res.cands[1].area->name_en, "Kotli") == 0)),
       "Kotti: Kotli and Kotri");
    is_int(res.missing, TL_FIELD_AREA, "Kotti: area missing");

    parse_json("MISSING Ali 7 boy Malirr", TL_LANG_EN, NULL);
    is_int(res.area_match, TL_MATCH_FUZZY, "Malirr: fuzzy");
    ok(res.area && strcmp(res.area->name_en, "Malir") == 0, "Malirr: Malir");

    parse_json("missing Hina girl Korangi call 0300 1234567", TL_LANG_EN, NULL);
    is_str(res.contact, "0300 1234567", "contact kept as typed");
    is_int(res.missing, TL_FIELD_AGE, "the phone number gave no age");
    ok(strstr(render(&res), "0300") == NULL, "the phone number is in no JSON field");

    /* issue #14: each spelling is one number, kept whole for the police */
    static const char *const spellings[] = {
        "(0300)1234567", "(0300) 1234567", "0300.123.4567", "+92 (300) 1234567",
        "\xdb\xb0\xdb\xb3\xdb\xb0\xdb\xb0\xdb\xb1\xdb\xb2\xdb\xb3\xdb\xb4\xdb\xb5\xdb\xb6\xdb\xb7",
        "\xdb\xb0\xdb\xb3\xdb\xb0\xdb\xb0.\xdb\xb1\xdb\xb2\xdb\xb3.\xdb\xb4\xdb\xb5\xdb\xb6\xdb\xb7",
        "\xd9\xa0\xd9\xa3\xd9\xa0\xd9\xa0-\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6\xd9\xa7",
    };
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        char text[200], sp[64];

        snprintf(sp, sizeof(sp), "%s", spellings[i]);
        snprintf(text, sizeof(text), "missing Hina girl 7 Korangi call %s blue shirt", sp);
        parse_json(text, TL_LANG_EN, NULL);
        is_str(res.contact, sp, "contact '%s' kept whole", sp);
        is_str(res.description, "blue shirt", "'%s': nothing of it in the description", sp);
        is_int(res.age, 7, "'%s': the age stays 7", sp);
    }
    /* issue #14: a sighting keeps its own trailing punctuation */
    parse_json("SEEN 720461 near the bridge 100%", TL_LANG_EN, NULL);
    is_str(res.text, "near the bridge 100%", "sighting keeps '100%%'");
    parse_json("SEEN 720461 white car {x}", TL_LANG_EN, NULL);
    is_str(res.text, "white car {x}", "sighting keeps '{x}'");
    parse_json("SEEN 720461 he was there!", TL_LANG_EN, NULL);
    is_str(res.text, "he was there!", "sighting keeps '!'");
    parse_json("SEEN near the bridge, 720461", TL_LANG_EN, NULL);
    is_str(res.text, "near the bridge", "a case number typed last goes, with the comma before it");
    parse_json("MISSING Bilal 8 Korangi last seen 12.05.2024", TL_LANG_EN, NULL);
    is_str(res.last_seen, "12.05", "a dotted date is still read as before (no phone)");

    parse_json("VERIFY ۴۸۲۹۱۸ ۱۲۳۴", TL_LANG_EN, NULL);
    is_str(res.case_no, "482918", "case in Urdu digits -> ASCII");
    ok(res.case_valid, "case valid");
    is_str(res.pin, "1234", "PIN in Urdu digits -> ASCII");

    parse_json("STATUS 482919", TL_LANG_EN, NULL);
    ok(!res.case_valid, "482919 fails the check digit");

    parse_json("band 482918", TL_LANG_EN, NULL);
    is_int(res.command, TL_CMD_CLOSE, "BAND with a case: close");
    parse_json("band", TL_LANG_EN, NULL);
    is_int(res.command, TL_CMD_UNSUBSCRIBE, "BAND alone: unsubscribe");
    is_str(res.keyword, "band", "keyword band");

    parse_json("VERFY 482918", TL_LANG_EN, NULL);
    is_str(res.keyword, "verify", "a misspelt keyword reports the keyword it stands for");
    parse_json("mil gaya 482918", TL_LANG_EN, NULL);
    is_str(res.keyword, "mil gaya", "two-word keyword");

    /* no gazetteer: words stay in area_text */
    grammar_parse(g, NULL, "JOIN Korangi", 12, TL_LANG_EN, &res);
    ok(res.area == NULL && strcmp(res.area_text, "Korangi") == 0, "no gazetteer: area_text only");

    /* the struct is self-contained: a copy renders the same */
    {
        static struct tl_sms_parse copy;
        char first[512];

        parse_json("lapata Ali 8 saal Korangi, neeli shirt", TL_LANG_EN, NULL);
        snprintf(first, sizeof first, "%s", render(&res));
        copy = res;
        parse_json("STOP", TL_LANG_EN, NULL);
        is_str(render(&copy), first, "a copied result survives the next parse");
        is_str(parse_json("lapata Ali 8 saal Korangi, neeli shirt", TL_LANG_EN, NULL), first,
               "parsing is repeatable");
    }
}

static void test_answers(void)
{
    grammar_parse_answer(g, gz, "8", 1, TL_LANG_EN, TL_FIELD_AGE, &res);
    ok(res.command == TL_CMD_REPORT && res.age == 8 && res.missing == 0, "answer '8' -> age 8");
    grammar_parse_answer(g, gz, "age 8", 5, TL_LANG_EN, TL_FIELD_AGE | TL_FIELD_AREA, &res);
    ok(res.age == 8 && res.missing == TL_FIELD_AREA, "answer 'age 8' -> age, area still missing");
    grammar_parse_answer(g, gz, "Malir", 5, TL_LANG_EN, TL_FIELD_AREA, &res);
    ok(res.area && strcmp(res.area->name_en, "Malir") == 0 && res.missing == 0,
       "answer 'Malir' -> area");
    grammar_parse_answer(g, gz, "Malir", 5, TL_LANG_EN, TL_FIELD_NAME | TL_FIELD_AREA, &res);
    ok(res.area != NULL && res.name[0] == '\0' && res.missing == TL_FIELD_NAME,
       "answer 'Malir' when name and area are asked -> the area");
    grammar_parse_answer(g, gz, "Bilal", 5, TL_LANG_EN, TL_FIELD_NAME, &res);
    ok(strcmp(res.name, "Bilal") == 0 && res.missing == 0, "answer 'Bilal' -> name");
    grammar_parse_answer(g, gz, "naam Hina, 6 saal", 17, TL_LANG_EN,
                         TL_FIELD_NAME | TL_FIELD_AGE | TL_FIELD_AREA, &res);
    ok(strcmp(res.name, "Hina") == 0 && res.age == 6 && res.missing == TL_FIELD_AREA,
       "answer 'naam Hina, 6 saal' -> name and age");
    is_int(res.lang, TL_LANG_ROMAN_UR, "answer language");
    grammar_parse_answer(g, gz, "\xC3", 1, TL_LANG_EN, TL_FIELD_AGE, &res);
    ok(res.command == TL_CMD_UNKNOWN && res.error != NULL, "answer: invalid UTF-8 refused");
}

static void test_names_and_json(void)
{
    enum tl_lang l;
    const char *j;
    cJSON *o;

    is_str(grammar_command_name(TL_CMD_WIDEN), "widen", "command name");
    is_str(grammar_command_name((enum tl_command)99), "unknown", "out of range command");
    is_str(grammar_lang_name(TL_LANG_ROMAN_UR), "roman-ur", "lang name");
    ok(grammar_lang_from_name("roman-ur", &l) == TL_OK && l == TL_LANG_ROMAN_UR, "lang parse");
    ok(grammar_lang_from_name("fr", &l) == TL_ERR_INVALID, "unknown lang refused");

    j = parse_json("SEEN 482918 boy in \"red\" shirt \\ near \x01 bridge", TL_LANG_EN, NULL);
    o = cJSON_Parse(j);
    ok(o != NULL, "quotes, backslash and control characters stay valid JSON");
    ok(o && strcmp(cJSON_GetObjectItem(o, "text")->valuestring,
                   "boy in \"red\" shirt \\ near \x01 bridge") == 0,
       "and round-trip");
    cJSON_Delete(o);
}

int main(void)
{
    char *cause = NULL;
    int rows;

    if (gazetteer_load_default(&gz, &cause) != TL_OK) {
        printf("Bail out! gazetteer: %s\n", cause ? cause : "?");
        return 1;
    }
    g = grammar_new(&cause);
    if (g == NULL) {
        printf("Bail out! grammar: %s\n", cause ? cause : "?");
        return 1;
    }
    rows = run_corpus();
    ok(rows >= 250, "corpus has %d messages (>= 250)", rows);
    test_refusals();
    test_struct();
    test_answers();
    test_names_and_json();
    grammar_free(g);
    gazetteer_free(gz);
    return done_testing();
}
