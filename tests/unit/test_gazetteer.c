/*
 * test_gazetteer.c — the shipped gazetteer and the CSV reader behind it:
 * CSV errors with line numbers, every area by every spelling, typos and
 * fillers, ambiguity, no match, containment, distances and prefixes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/result.h"
#include "parsers/gazetteer.h"
#include "tests/tap.h"

#define HDR "code,name_en,name_ur,aliases,kind,parent,lat,lon\n"

static void csv_error_is(const char *csv, const char *want, const char *what)
{
    struct tl_gazetteer *gz = (struct tl_gazetteer *)1;
    char *cause = NULL;
    int rc = gazetteer_parse_csv(csv, strlen(csv), &gz, &cause);

    is_int(rc, TL_ERR_MALFORMED, "csv %s: malformed", what);
    ok(gz == NULL, "csv %s: no gazetteer", what);
    if (cause && strncmp(cause, want, strlen(want)) != 0)
        diag("cause: %s", cause);
    ok(cause != NULL && strncmp(cause, want, strlen(want)) == 0, "csv %s: cause starts '%s'", what,
       want);
    free(cause);
}

static struct tl_gazetteer *csv_ok(const char *csv, const char *what)
{
    struct tl_gazetteer *gz = NULL;
    char *cause = NULL;
    int rc = gazetteer_parse_csv(csv, strlen(csv), &gz, &cause);

    if (rc != TL_OK)
        diag("cause: %s", cause ? cause : "(none)");
    is_int(rc, TL_OK, "csv %s parses", what);
    free(cause);
    return gz;
}

static enum tl_match_kind match(const struct tl_gazetteer *gz, const char *text,
                                struct tl_area_candidate *c, size_t *n)
{
    return gazetteer_match(gz, text, strlen(text), c, 5, n);
}

/* The text matches `code` with the given kind (and, for fuzzy, distance). */
static void match_is(const struct tl_gazetteer *gz, const char *text, enum tl_match_kind kind,
                     const char *code, int dist)
{
    struct tl_area_candidate c[5];
    size_t n = 99;
    enum tl_match_kind got = match(gz, text, c, &n);
    int pass = got == kind && n >= 1 && strcmp(c[0].area->code, code) == 0 && c[0].distance == dist;

    if (!ok(pass, "'%s' -> %s (kind %d, distance %d)", text, code, kind, dist))
        diag("got kind %d, %zu candidates, first %s d=%d", got, n, n ? c[0].area->code : "-",
             n ? c[0].distance : -1);
}

static void check_spelling(const struct tl_gazetteer *gz, const struct tl_area *a, const char *s,
                           const char *which)
{
    struct tl_area_candidate c[16];
    size_t n = 0;
    enum tl_match_kind k = gazetteer_match(gz, s, strlen(s), c, 16, &n);
    bool among = false;

    /* a spelling several places share ("Saddar", "Gulberg") is ambiguous: it
     * must then offer this area among the candidates */
    for (size_t i = 0; i < n; i++)
        among = among || c[i].area == a;
    if (!ok((k == TL_MATCH_EXACT && n >= 1 && c[0].area == a) ||
                (k == TL_MATCH_AMBIGUOUS && among),
            "%s %s '%s' exact", a->code, which, s))
        diag("got kind %d, first %s", k, n ? c[0].area->code : "-");
}

static void test_csv_errors(void)
{
    struct tl_gazetteer *gz;
    char *cause = NULL;

    csv_error_is("", "line 1: empty file", "empty");
    csv_error_is("code,name,x\n", "line 1: header", "bad header");
    csv_error_is(HDR, "line 1: no areas", "header only");
    csv_error_is(HDR "PK,Pakistan,پاکستان,,country,,30,70\nPK-SD,Sindh,,,province,PK,26\n",
                 "line 3: expected 8 fields", "short row");
    csv_error_is(HDR "PK,Pakistan,,,country,,30,70,source,extra\n", "line 2: too many fields",
                 "long row");
    csv_error_is(HDR "PK,Pakistan,,,nation,,30,70\n", "line 2: unknown kind", "unknown kind");
    csv_error_is(HDR "PK,Pakistan,,,country,,30,70\nPK,Pakistan again,,,country,,30,70\n",
                 "line 3: duplicate code", "duplicate code");
    csv_error_is(HDR "PK,Pakistan,,,country,,30,70\nPK-SD,Sindh,,,province,PX,26,68\n",
                 "line 3: unknown parent", "unknown parent");
    csv_error_is(HDR "PK,Pakistan,,,country,,91,70\n", "line 2: lat must be", "lat range");
    csv_error_is(HDR "PK,Pakistan,,,country,,30,-181\n", "line 2: lon must be", "lon range");
    csv_error_is(HDR "PK,Pakistan,,,country,,thirty,70\n", "line 2: lat must be", "lat text");
    csv_error_is(HDR "PK,Pakistan,,,country,,30,\n", "line 2: lon must be", "lon empty");
    csv_error_is(HDR "PK,Pakistan,,,country,,30,70\nX,Bad \xFF name,,,city,PK,1,1\n",
                 "line 3: invalid UTF-8", "invalid UTF-8");
    csv_error_is(HDR "PK,\"Pakistan,,,country,,30,70\n", "line 2: unterminated quoted field",
                 "unterminated quote");
    csv_error_is(HDR "PK,\"Pak\"istan,,,country,,30,70\n", "line 2: text after closing quote",
                 "text after quote");
    csv_error_is(HDR "PK,Pak\"istan,,,country,,30,70\n", "line 2: quote inside", "stray quote");
    csv_error_is(HDR "A,A,,,city,B,1,1\nB,B,,,city,A,1,1\n", "line 2: parent chain forms a cycle",
                 "cycle");
    csv_error_is(HDR "A,A,,,city,A,1,1\n", "line 2: area is its own parent", "self parent");
    csv_error_is(HDR "PK,,,,country,,30,70\n", "line 2: name_en is empty", "empty name");
    csv_error_is(HDR "P K,Pakistan,,,country,,30,70\n", "line 2: code must be", "bad code");
    /* a quoted field spanning lines moves the line count on */
    csv_error_is(HDR "PK,Pakistan,,\"a\nb\",country,,30,70\nX,Y,,,town,NOPE,1,1\n",
                 "line 4: unknown parent", "line numbers after a multi-line field");

    ok(gazetteer_parse_csv("", 0, &gz, NULL) == TL_ERR_MALFORMED && gz == NULL,
       "cause may be NULL");
    free(cause);

    /* RFC 4180: quotes, doubled quotes, commas in fields, CRLF, BOM, parent later */
    gz = csv_ok("\xEF\xBB\xBF" HDR "X-T,\"Town, \"\"the\"\" one\",,\"a;  b ;;c\",town,X-C,1.5,2.5\r\n"
                "X-C,City,شہر,,city,,3,4",
                "quoted fields");
    if (gz) {
        const struct tl_area *t = gazetteer_by_code(gz, "X-T");

        is_int(gazetteer_count(gz), 2, "two areas");
        ok(t != NULL, "by code");
        if (t) {
            is_str(t->name_en, "Town, \"the\" one", "quoted name with comma and quotes");
            is_int(t->naliases, 3, "aliases split on ';', empty ones dropped");
            is_str(t->naliases == 3 ? t->aliases[1] : NULL, "b", "alias trimmed");
            is_int(t->parent, 1, "parent defined later resolves");
            is_int(t->index, 0, "index");
            ok(t->lat == 1.5 && t->lon == 2.5, "coordinates");
            is_int(t->kind, TL_AREA_TOWN, "kind");
        }
        is_int(gazetteer_at(gz, 1)->parent, -1, "root parent is -1");
        ok(gazetteer_at(gz, 2) == NULL, "at() past the end is NULL");
        ok(gazetteer_by_code(gz, "NOPE") == NULL, "unknown code is NULL");
        gazetteer_free(gz);
    }
    gazetteer_free(NULL);
}

static const char *const karachi_towns[][3] = {
    /* code suffix, English name, district suffix */
    {"KOR", "Korangi", "DKO"},         {"LAN", "Landhi", "DKO"},
    {"SHF", "Shah Faisal", "DKO"},     {"LYA", "Lyari", "DS"},
    {"SAD", "Saddar", "DS"},           {"JAM", "Jamshed", "DE"},
    {"GUL", "Gulshan-e-Iqbal", "DE"},  {"GBG", "Gulberg", "DC"},
    {"LIA", "Liaquatabad", "DC"},      {"NNZ", "North Nazimabad", "DC"},
    {"NKR", "New Karachi", "DC"},      {"ORA", "Orangi", "DW"},
    {"MAL", "Malir", "DMA"},           {"BQS", "Bin Qasim", "DMA"},
    {"GAD", "Gadap", "DMA"},           {"KEM", "Kemari", "DKE"},
    {"BAL", "Baldia", "DKE"},          {"SIT", "SITE", "DKE"},
};

static const char *const required_cities[] = {
    "Karachi", "Lahore", "Kasur", "Hyderabad", "Peshawar", "Quetta", "Rawalpindi", "Islamabad",
    "Multan", "Faisalabad", "Gujranwala", "Sialkot", "Sukkur", "Larkana", "Nawabshah",
    "Mirpur Khas", "Bahawalpur", "Sargodha", "Sheikhupura", "Jhang", "Rahim Yar Khan", "Gujrat",
    "Sahiwal", "Okara", "Mardan", "Abbottabad", "Mingora", "Kohat", "Dera Ismail Khan", "Gwadar",
    "Turbat", "Khuzdar", "Muzaffarabad", "Gilgit", "Thatta", "Jacobabad", "Chiniot", "Kamoke",
    "Wah Cantonment", "Dera Ghazi Khan",
};

static void test_default_data(const struct tl_gazetteer *gz)
{
    size_t kinds[6] = {0};
    char code[64];

    for (size_t i = 0; i < gazetteer_count(gz); i++)
        kinds[gazetteer_at(gz, i)->kind]++;
    is_int(kinds[TL_AREA_COUNTRY], 1, "one country");
    is_int(kinds[TL_AREA_PROVINCE], 7, "seven provinces and territories");
    ok(kinds[TL_AREA_CITY] >= 40, "at least 40 cities (%zu)", kinds[TL_AREA_CITY]);
    is_int(kinds[TL_AREA_DISTRICT], 7, "Karachi's seven districts");
    {
        const struct tl_area *khi = gazetteer_by_code(gz, "PK-SD-KHI");
        size_t towns = 0;

        for (size_t i = 0; i < gazetteer_count(gz); i++)
            towns += gazetteer_at(gz, i)->kind == TL_AREA_TOWN &&
                     gazetteer_within(gz, gazetteer_at(gz, i), khi);
        is_int(towns, 18, "Karachi's eighteen towns");
    }
    ok(gazetteer_count(gz) >= 600, "at least 600 areas (%zu)", gazetteer_count(gz));

    for (size_t i = 0; i < sizeof karachi_towns / sizeof karachi_towns[0]; i++) {
        const struct tl_area *t, *d;

        snprintf(code, sizeof code, "PK-SD-KHI-%s", karachi_towns[i][0]);
        t = gazetteer_by_code(gz, code);
        snprintf(code, sizeof code, "PK-SD-KHI-%s", karachi_towns[i][2]);
        d = gazetteer_by_code(gz, code);
        ok(t && d && t->kind == TL_AREA_TOWN && strcmp(t->name_en, karachi_towns[i][1]) == 0 &&
               t->parent == d->index && d->kind == TL_AREA_DISTRICT,
           "town %s in district %s", karachi_towns[i][1], code);
        ok(t && t->name_ur[0] != '\0' && t->naliases >= 2, "town %s has Urdu name and aliases",
           karachi_towns[i][1]);
    }
    for (size_t i = 0; i < sizeof required_cities / sizeof required_cities[0]; i++) {
        struct tl_area_candidate c[5];
        size_t n;

        ok(match(gz, required_cities[i], c, &n) == TL_MATCH_EXACT && c[0].area->kind == TL_AREA_CITY &&
               strcmp(c[0].area->name_en, required_cities[i]) == 0,
           "city %s present", required_cities[i]);
    }
    /* every area by its English name, its Urdu name and each alias */
    for (size_t i = 0; i < gazetteer_count(gz); i++) {
        const struct tl_area *a = gazetteer_at(gz, i);

        check_spelling(gz, a, a->name_en, "name_en");
        if (a->name_ur[0])
            check_spelling(gz, a, a->name_ur, "name_ur");
        for (size_t j = 0; j < a->naliases; j++)
            check_spelling(gz, a, a->aliases[j], "alias");
    }
}

static void test_matching(const struct tl_gazetteer *gz)
{
    struct tl_area_candidate c[5];
    size_t n;

    /* case, script and letter variants */
    match_is(gz, "LYARI", TL_MATCH_EXACT, "PK-SD-KHI-LYA", 0);
    match_is(gz, "Lyaari", TL_MATCH_EXACT, "PK-SD-KHI-LYA", 0);
    match_is(gz, "ملير", TL_MATCH_EXACT, "PK-SD-KHI-MAL", 0);
    match_is(gz, "كورنگي", TL_MATCH_EXACT, "PK-SD-KHI-KOR", 0);
    match_is(gz, "  gulshan-E-iqbal!! ", TL_MATCH_EXACT, "PK-SD-KHI-GUL", 0);
    match_is(gz, "gulshaniqbal", TL_MATCH_EXACT, "PK-SD-KHI-GUL", 0);
    /* typos */
    match_is(gz, "Lyarri", TL_MATCH_FUZZY, "PK-SD-KHI-LYA", 1);
    match_is(gz, "Gulshan Iqbaal", TL_MATCH_FUZZY, "PK-SD-KHI-GUL", 1);
    match_is(gz, "Korngi", TL_MATCH_FUZZY, "PK-SD-KHI-KOR", 1);
    match_is(gz, "Kroangi", TL_MATCH_FUZZY, "PK-SD-KHI-KOR", 1);
    match_is(gz, "Liaqtabad", TL_MATCH_FUZZY, "PK-SD-KHI-LIA", 1);
    match_is(gz, "Peshwar", TL_MATCH_FUZZY, "PK-KP-PEW", 1);
    match_is(gz, "Faislabad", TL_MATCH_FUZZY, "PK-PB-FSD", 1);
    match_is(gz, "کورنگ", TL_MATCH_FUZZY, "PK-SD-KHI-KOR", 1);
    /* fillers */
    match_is(gz, "Block 13 Gulshan", TL_MATCH_EXACT, "PK-SD-KHI-GUL", 0);
    match_is(gz, "Gulshan-e-Iqbal Block 13-D", TL_MATCH_EXACT, "PK-SD-KHI-GUL", 0);
    match_is(gz, "no 6 Orangi Town", TL_MATCH_EXACT, "PK-SD-KHI-ORA", 0);
    match_is(gz, "sector 11-A Orangi", TL_MATCH_EXACT, "PK-SD-KHI-ORA", 0);
    match_is(gz, "Block H North Nazimabad", TL_MATCH_EXACT, "PK-SD-KHI-NNZ-H", 0);
    match_is(gz, "Korangi number 5", TL_MATCH_EXACT, "PK-SD-KHI-KOR-5", 0);
    match_is(gz, "Korangi ka ilaqa", TL_MATCH_EXACT, "PK-SD-KHI-KOR", 0);
    match_is(gz, "Malir Halt ke paas", TL_MATCH_EXACT, "PK-SD-KHI-MAL-MALIRHALT", 0);
    match_is(gz, "near Quaidabad", TL_MATCH_EXACT, "PK-SD-KHI-MAL-QUAIDABAD", 0);
    match_is(gz, "Landhi mein", TL_MATCH_EXACT, "PK-SD-KHI-LAN", 0);
    match_is(gz, "کورنگی نمبر ۶", TL_MATCH_EXACT, "PK-SD-KHI-KOR-6", 0);
    match_is(gz, "لیاری کا علاقہ", TL_MATCH_EXACT, "PK-SD-KHI-LYA", 0);
    match_is(gz, "اورنگی ٹاؤن", TL_MATCH_EXACT, "PK-SD-KHI-ORA", 0);
    match_is(gz, "Multan city", TL_MATCH_EXACT, "PK-PB-MUX", 0);
    match_is(gz, "Shah Faisal Colony", TL_MATCH_EXACT, "PK-SD-KHI-SHF", 0);
    match_is(gz, "Federal B Area block 13", TL_MATCH_EXACT, "PK-SD-KHI-GBG-FEDERALBAREA-13", 0);
    match_is(gz, "North Karachi", TL_MATCH_EXACT, "PK-SD-KHI-NKR", 0);
    ok(match(gz, "town", c, &n) == TL_MATCH_NONE, "a filler alone is not stripped to nothing");
    /* a place named with an area around it */
    match_is(gz, "Korangi, Karachi", TL_MATCH_EXACT, "PK-SD-KHI-KOR", 0);
    match_is(gz, "Karachi Gulshan", TL_MATCH_EXACT, "PK-SD-KHI-GUL", 0);
    match_is(gz, "Hyderabad Sindh", TL_MATCH_EXACT, "PK-SD-HDD", 0);
    match_is(gz, "Saddar Rawalpindi", TL_MATCH_EXACT, "PK-PB-RWP-CNT-SADDAR", 0);
    match_is(gz, "Gulberg Lahore", TL_MATCH_EXACT, "PK-PB-LHE-GBG", 0);
    is_int(match(gz, "Gulberg", c, &n), TL_MATCH_AMBIGUOUS, "Gulberg (Karachi, Lahore, Faisalabad)");
    is_int(n, 3, "three Gulbergs offered");
    /* same-name areas: the district is "Malir District", the town "Malir" */
    match_is(gz, "Malir", TL_MATCH_EXACT, "PK-SD-KHI-MAL", 0);
    match_is(gz, "Malir District", TL_MATCH_EXACT, "PK-SD-KHI-DMA", 0);
    match_is(gz, "Keamari", TL_MATCH_EXACT, "PK-SD-KHI-KEM", 0);
    match_is(gz, "Nazimabad", TL_MATCH_EXACT, "PK-SD-KHI-DC-NAZIMABAD", 0);

    /* ambiguity among truly different places */
    /* "Wast" has West's skeleton (vowels dropped) */
    match_is(gz, "Karachi Wast", TL_MATCH_FUZZY, "PK-SD-KHI-DW", 1);
    /* spelling variants: vowels, doubled letters, "-e-" joins, initials */
    match_is(gz, "gulshan e maimar", TL_MATCH_EXACT, "PK-SD-KHI-GAD-GULSHANEMAYMAR", 0);
    match_is(gz, "gulshanemaymar", TL_MATCH_EXACT, "PK-SD-KHI-GAD-GULSHANEMAYMAR", 0);
    match_is(gz, "Gulshaan-i-Maymaar", TL_MATCH_FUZZY, "PK-SD-KHI-GAD-GULSHANEMAYMAR", 1);
    match_is(gz, "G. Iqbal", TL_MATCH_EXACT, "PK-SD-KHI-GUL", 0);
    match_is(gz, "Bahaadurabaad", TL_MATCH_FUZZY, "PK-SD-KHI-GUL-BAHADURABAD", 1);
    match_is(gz, "Soldier Bazar", TL_MATCH_EXACT, "PK-SD-KHI-JAM-SOLDIERBAZAAR", 0);
    match_is(gz, "Solder Bazzar", TL_MATCH_FUZZY, "PK-SD-KHI-JAM-SOLDIERBAZAAR", 1);
    match_is(gz, "Khada Market", TL_MATCH_EXACT, "PK-SD-KHI-SAD-KHADDAMARKET", 0);
    match_is(gz, "N Nazimabad", TL_MATCH_EXACT, "PK-SD-KHI-NNZ", 0);
    match_is(gz, "Malir", TL_MATCH_EXACT, "PK-SD-KHI-MAL", 0); /* not Malir City inside it */

    /* nothing close */
    is_int(match(gz, "xyzzy", c, &n), TL_MATCH_NONE, "'xyzzy' matches nothing");
    is_int(n, 0, "and has no candidates");
    is_int(match(gz, "Sukkhar", c, &n), TL_MATCH_NONE, "'Sukkhar' is too far for a guess");
    ok(n >= 1 && strcmp(c[0].area->name_en, "Sukkur") == 0 && c[0].distance == 2,
       "but Sukkur is offered as 'did you mean'");
    is_int(match(gz, "", c, &n), TL_MATCH_NONE, "empty text");
    is_int(match(gz, " ,.- ", c, &n), TL_MATCH_NONE, "punctuation only");
    n = 7;
    is_int(gazetteer_match(gz, "Kor\xFF", 4, c, 5, &n), TL_MATCH_NONE, "invalid UTF-8");
    is_int(n, 0, "invalid UTF-8 has no candidates");
    is_int(gazetteer_match(gz, "Korngi", 6, NULL, 0, &n), TL_MATCH_FUZZY, "max 0 still classifies");
    is_int(n, 0, "max 0 fills nothing");
    is_int(gazetteer_match(gz, "Korangi", 7, NULL, 0, NULL), TL_MATCH_EXACT, "ncands may be NULL");
    is_int(gazetteer_match(NULL, "Korangi", 7, c, 5, &n), TL_MATCH_NONE, "NULL gazetteer");
}

static void test_same_names(void)
{
    struct tl_area_candidate c[5];
    size_t n;
    struct tl_gazetteer *gz = csv_ok(
        HDR "PK,Pakistan,,,country,,30,70\n"
            "KHI,Karachi,,,city,PK,24.86,67.01\n"
            "RWP,Rawalpindi,,,city,PK,33.6,73.05\n"
            "KHI-DM,Malir,,,district,KHI,25.09,67.18\n"
            "KHI-M,Malir,ملیر,,town,KHI-DM,24.9,67.2\n"
            "KHI-S,Saddar,,,town,KHI,24.85,67.0\n"
            "RWP-S,Saddar,,,town,RWP,33.59,73.05\n",
        "same names");

    if (!gz)
        return;
    is_int(match(gz, "Malir", c, &n), TL_MATCH_EXACT, "town and its own district: exact");
    ok(n == 2 && strcmp(c[0].area->code, "KHI-M") == 0 && strcmp(c[1].area->code, "KHI-DM") == 0,
       "the town first, its district after");
    is_int(match(gz, "Maliir", c, &n), TL_MATCH_FUZZY, "typo: fuzzy");
    ok(n >= 1 && strcmp(c[0].area->code, "KHI-M") == 0, "typo prefers the town too");
    is_int(match(gz, "Saddar", c, &n), TL_MATCH_AMBIGUOUS, "two different Saddars: ambiguous");
    ok(n == 2 && c[0].distance == 0 && c[1].distance == 0, "both offered");
    match_is(gz, "Saddar Rawalpindi", TL_MATCH_EXACT, "RWP-S", 0);
    match_is(gz, "Karachi Saddar", TL_MATCH_EXACT, "KHI-S", 0);
    gazetteer_free(gz);
}

static void test_within_distance(const struct tl_gazetteer *gz)
{
    const struct tl_area *kor = gazetteer_by_code(gz, "PK-SD-KHI-KOR");
    const struct tl_area *dko = gazetteer_by_code(gz, "PK-SD-KHI-DKO");
    const struct tl_area *khi = gazetteer_by_code(gz, "PK-SD-KHI");
    const struct tl_area *sd = gazetteer_by_code(gz, "PK-SD");
    const struct tl_area *pk = gazetteer_by_code(gz, "PK");
    const struct tl_area *pb = gazetteer_by_code(gz, "PK-PB");
    const struct tl_area *lhe = gazetteer_by_code(gz, "PK-PB-LHE");
    double d;

    ok(kor && dko && khi && sd && pk && pb && lhe, "codes found");
    if (!(kor && dko && khi && sd && pk && pb && lhe))
        return;
    ok(gazetteer_within(gz, kor, dko), "Korangi within Korangi District");
    ok(gazetteer_within(gz, kor, khi), "Korangi within Karachi");
    ok(gazetteer_within(gz, khi, sd), "Karachi within Sindh");
    ok(gazetteer_within(gz, kor, sd), "Korangi within Sindh");
    ok(gazetteer_within(gz, sd, pk), "Sindh within Pakistan");
    ok(gazetteer_within(gz, kor, pk), "Korangi within Pakistan");
    ok(gazetteer_within(gz, kor, kor), "an area is within itself");
    ok(!gazetteer_within(gz, khi, kor), "Karachi is not within Korangi");
    ok(!gazetteer_within(gz, kor, pb), "Korangi is not within Punjab");
    ok(!gazetteer_within(gz, lhe, sd), "Lahore is not within Sindh");
    ok(!gazetteer_within(gz, NULL, sd), "NULL inner");
    ok(gazetteer_within(gz, lhe, pb), "Lahore within Punjab");

    d = gazetteer_distance_km(khi, lhe);
    ok(fabs(d - 1030.0) <= 30.0, "Karachi-Lahore %.1f km is about 1030", d);
    ok(fabs(gazetteer_distance_km(lhe, khi) - d) < 1e-9, "distance is symmetric");
    ok(gazetteer_distance_km(kor, kor) == 0.0, "distance to itself is 0");
    d = gazetteer_distance_km(khi, gazetteer_by_code(gz, "PK-SD-KHI-LYA"));
    ok(d > 0.5 && d < 15.0, "Lyari is a few km from Karachi's centre (%.1f)", d);
}

static void test_prefix(const struct tl_gazetteer *gz)
{
    const struct tl_area *out[200];
    size_t n;

    {
        size_t total = 0, total2 = 0, m;
        const struct tl_area *page2[10];

        n = gazetteer_prefix(gz, "gul", 0, out, 10, &total);
        is_int(n, 10, "'gul': a first page of 10");
        ok(total > 40, "'gul': more than 40 areas in all (%zu)", total);
        is_str(n >= 1 ? out[0]->name_en : NULL, "Gulbahar", "sorted by name: Gulbahar first");
        m = gazetteer_prefix(gz, "gul", 10, page2, 10, &total2);
        ok(m == 10 && total2 == total && page2[0] != out[9], "the second page goes on (%zu)", m);
        m = gazetteer_prefix(gz, "gul", total, page2, 10, NULL);
        is_int(m, 0, "past the last page: nothing");
    }
    n = gazetteer_prefix(gz, "GUL", 0, out, 10, NULL);
    is_int(n, 10, "prefix is case-insensitive");
    n = gazetteer_prefix(gz, "gul", 0, out, 1, NULL);
    is_int(n, 1, "max is respected");
    n = gazetteer_prefix(gz, "korangi", 0, out, 20, NULL);
    ok(n >= 2, "'korangi': the town, the district, its numbers and sectors (%zu)", n);
    is_str(n >= 1 ? out[0]->name_en : NULL, "Korangi", "sorted by name");
    n = gazetteer_prefix(gz, "کور", 0, out, 10, NULL);
    ok(n >= 1 && strcmp(out[0]->name_en, "Korangi") == 0, "Urdu prefix");
    n = gazetteer_prefix(gz, "karachi", 0, out, 20, NULL);
    ok(n >= 5, "'karachi': city, four districts and more (%zu)",
       n);
    n = gazetteer_prefix(gz, "Fed", 0, out, 10, NULL);
    ok(n >= 2, "prefix of aliases (Federal B Area, Federal Capital Territory) finds their areas");
    {
        size_t total = 0;

        gazetteer_prefix(gz, "", 0, out, 200, &total);
        is_int(total, gazetteer_count(gz), "empty prefix counts every area");
    }
    is_int(gazetteer_prefix(gz, "qqq", 0, out, 10, NULL), 0, "no area starts with qqq");
    is_int(gazetteer_prefix(gz, "\xFF", 0, out, 10, NULL), 0, "invalid UTF-8 prefix");
    is_int(gazetteer_prefix(gz, "gul", 0, out, 0, NULL), 0, "max 0");
}

/* Random bytes and mutated CSV must neither crash nor leak (run under ASan). */
static void test_robustness(const struct tl_gazetteer *gz)
{
    static const char base[] = HDR "PK,Pakistan,پاکستان,\"a;b\",country,,30,70\n"
                                   "K,Karachi,کراچی,,city,PK,24.8,67.0\n";
    unsigned seed = 99;
    int survived = 0;
    char buf[sizeof base], text[64];

    for (int t = 0; t < 3000; t++) {
        struct tl_gazetteer *g = NULL;
        struct tl_area_candidate c[5];
        size_t n, len;
        char *cause = NULL;

        memcpy(buf, base, sizeof base);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[(seed >> 8) % (sizeof base - 1)] = (char)(seed >> 24);
        }
        if (gazetteer_parse_csv(buf, sizeof base - 1, &g, &cause) == TL_OK)
            gazetteer_free(g);
        free(cause);
        seed = seed * 1103515245u + 12345u;
        len = (seed >> 8) % sizeof text;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = (char)((seed >> 24) % 3 == 0 ? ' ' : 'a' + (int)((seed >> 16) % 26));
        }
        gazetteer_match(gz, text, len, c, 5, &n);
        survived++;
    }
    is_int(survived, 3000, "3000 mutated CSVs and random texts handled");
    {
        char *big = malloc(20000);

        for (size_t i = 0; i < 20000; i++)
            big[i] = i % 7 == 6 ? ' ' : (char)('a' + i % 26);
        ok(gazetteer_match(gz, big, 20000, NULL, 0, NULL) == TL_MATCH_NONE, "20 kB of text: none");
        free(big);
    }
}

int main(void)
{
    struct tl_gazetteer *gz = NULL;
    char *cause = NULL;

    test_csv_errors();
    test_same_names();
    is_int(gazetteer_load_default(&gz, &cause), TL_OK, "default gazetteer loads");
    if (cause)
        diag("cause: %s", cause);
    free(cause);
    if (gz) {
        test_default_data(gz);
        test_matching(gz);
        test_within_distance(gz);
        test_prefix(gz);
        test_robustness(gz);
        gazetteer_free(gz);
    }
    return done_testing();
}
