/*
 * test_texts.c — the rendered texts of issue #14: no stray separators when
 * a case has no last-seen text or description (alert, police notice),
 * descriptions shortened to whole words or dropped whole (never a stub
 * like "b"), and the alert header naming the case's area with its city
 * ("ALERT Korangi, Karachi:"), still within max_segments. Uses the built-in
 * gazetteer and the default configuration.
 */
#include "gateway/alerts.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/store/store.h"
#include "gateway/texts.h"
#include "parsers/gazetteer.h"
#include "parsers/gsm7.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <string.h>

static struct tl_daemon d;

static struct tl_case make_case(const char *area_code, const char *last_seen, const char *desc)
{
    struct tl_case c;

    memset(&c, 0, sizeof(c));
    snprintf(c.case_no, sizeof(c.case_no), "720461");
    snprintf(c.gender, sizeof(c.gender), "male");
    c.child_name = (char *)"Bilal";
    c.age = 8;
    c.area_code = (char *)area_code;
    c.last_seen = (char *)last_seen;
    c.description = (char *)desc;
    return c;
}

static char *alert(const struct tl_case *c, enum tl_lang lang)
{
    struct tl_buf b = {0};

    alerts_render(&d, c, lang, &b);
    return tl_buf_steal(&b);
}

static size_t segments(const char *s)
{
    struct tl_sms_count n;

    return sms_count(s, strlen(s), &n) == 0 ? n.segments : 99;
}

static void test_alert_fields(void)
{
    struct tl_case c = make_case("PK-SD-KHI-KOR", NULL, "blue shirt");
    char *t = alert(&c, TL_LANG_EN);

    is_str(t, "ALERT Korangi, Karachi: Bilal, 8, boy, last seen Korangi. blue shirt. Seen him? "
              "Call 15 or reply SEEN 720461 <where>",
           "no last-seen text: no stray ' .'");
    free(t);
    c = make_case("PK-SD-KHI-KOR", "4pm near the bridge", NULL);
    t = alert(&c, TL_LANG_EN);
    is_str(t, "ALERT Korangi, Karachi: Bilal, 8, boy, last seen Korangi 4pm near the bridge. "
              "Seen him? Call 15 or reply SEEN 720461 <where>",
           "no description: no stray '. .'");
    free(t);
    c = make_case("PK-SD-KHI-KOR", "", "");
    c.gender[0] = '\0';
    t = alert(&c, TL_LANG_EN);
    is_str(t, "ALERT Korangi, Karachi: Bilal, 8, last seen Korangi. Seen the child? "
              "Call 15 or reply SEEN 720461 <where>",
           "no gender, last seen or description: nothing dangling");
    free(t);
    c = make_case("PK-SD-KHI-KOR", NULL, NULL);
    t = alert(&c, TL_LANG_UR);
    ok(strstr(t, "کورنگی، کراچی:") != NULL, "Urdu header: Korangi, Karachi (%s)", t);
    ok(strstr(t, " ۔") == NULL && strstr(t, "۔ ۔") == NULL, "Urdu: no stray full stop (%s)", t);
    free(t);
}

static void test_alert_header(void)
{
    struct tl_case c = make_case("PK-SD-KHI", NULL, NULL);
    char *t = alert(&c, TL_LANG_EN);

    ok(strncmp(t, "ALERT Karachi: Bilal", 20) == 0, "a case in the city itself: the city (%s)", t);
    free(t);
    c = make_case("PK-SD-KHI-DKO", NULL, NULL);
    t = alert(&c, TL_LANG_EN);
    ok(strncmp(t, "ALERT Korangi District, Karachi: ", 33) == 0, "a district: it and its city (%s)", t);
    free(t);
    c = make_case("PK-SD", NULL, NULL);
    t = alert(&c, TL_LANG_EN);
    ok(strncmp(t, "ALERT Sindh: ", 13) == 0, "above a city: the area alone (%s)", t);
    free(t);
}

/* Every word of the rendered description is a whole word of the original. */
static bool whole_words(const char *rendered, const char *orig)
{
    char *copy = strdup(rendered), *save = NULL;
    bool all = true;

    for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        size_t n = strlen(w);
        const char *p = orig;
        bool found = false;

        while ((p = strstr(p, w)) != NULL) {
            if ((p == orig || p[-1] == ' ') && (p[n] == ' ' || p[n] == ',' || p[n] == '\0')) {
                found = true;
                break;
            }
            p++;
        }
        all = all && found;
    }
    free(copy);
    return all;
}

static void test_shrink(void)
{
    /* The Urdu alert of issue #14: the description did not fit, a stub "b" stayed. */
    static const char desc[] = "blue shirt and grey trousers, black sandals, a red cap, a small scar "
                               "over the left eyebrow, carries a green school bag with books";
    static const char phrase[] = "near the market where the buses stop and the fruit sellers stand "
                                 "every evening after the prayer";
    char seen[sizeof(phrase)];
    int stubs = 0, broken = 0, too_long = 0, cases = 0;

    /* every length of last-seen text: somewhere only a letter or two of the description fits */
    for (size_t k = 0; k < sizeof(phrase); k++) {
        memcpy(seen, phrase, k);
        seen[k] = '\0';
        for (int lang = 0; lang < 3; lang++) {
            struct tl_case c = make_case("PK-SD-KHI-KOR", seen, desc);
            char *t = alert(&c, (enum tl_lang)lang);
            const char *sep = lang == TL_LANG_UR ? "۔ " : ". ";
            /* the description sits between the last-seen sentence and "Seen"/"دیکھا"/"Dekha" */
            const char *tail = lang == TL_LANG_UR   ? "۔ دیکھا ہو تو"
                               : lang == TL_LANG_EN ? ". Seen"
                                                    : ". Dekha";
            const char *end = strstr(t, tail);
            const char *start = NULL;

            cases++;
            for (const char *p = t; end != NULL && (p = strstr(p, sep)) != NULL && p < end; p++)
                start = p;
            if (segments(t) > 2 && too_long++ < 3)
                diag("k %zu lang %d: %zu segments: %s", k, lang, segments(t), t);
            if (start != NULL && start + strlen(sep) < end) {
                char *part = strndup(start + strlen(sep), (size_t)(end - start - strlen(sep)));
                if (!whole_words(part, desc)) {
                    if (strlen(part) <= 3 ? stubs++ < 3 : broken++ < 3)
                        diag("k %zu lang %d: description '%s' is not whole words", k, lang, part);
                }
                free(part);
            }
            free(t);
        }
    }
    ok(cases == 3 * (int)sizeof(phrase), "%d alerts rendered", cases);
    is_int(too_long, 0, "every alert fits max_segments (2)");
    is_int(stubs, 0, "no alert keeps a stub of the description");
    is_int(broken, 0, "every shortened description is whole words");
}

static void test_police_notice(void)
{
    struct tl_buf b = {0};
    struct tl_text_field f[] = {
        {"case", "720461"}, {"name", "Bilal"},       {"age", "8"},
        {"gender", "boy"},  {"area", "Korangi"},      {"last_seen", ""},
        {"description", "blue shirt"}, {"reporter", "+923001234567"},
    };

    texts_render(TX_POLICE_NEW_REPORT, TL_LANG_EN, f, 8, &b);
    is_str(tl_buf_str(&b),
           "TALAASH NEW REPORT 720461: Bilal, 8, boy, Korangi. blue shirt. Reporter +923001234567. "
           "Reply VERIFY 720461 to alert the public, or CANCEL 720461.",
           "police notice without last seen: no 'Last seen: .'");
    tl_buf_reset(&b);
    f[5].value = "4pm";
    f[6].value = NULL;
    texts_render(TX_POLICE_NEW_REPORT, TL_LANG_EN, f, 8, &b);
    is_str(tl_buf_str(&b),
           "TALAASH NEW REPORT 720461: Bilal, 8, boy, Korangi. Last seen: 4pm. Reporter "
           "+923001234567. Reply VERIFY 720461 to alert the public, or CANCEL 720461.",
           "police notice without description: no '. .'");
    tl_buf_free(&b);
}

int main(void)
{
    struct tl_config *cfg = NULL;
    struct tl_gazetteer *gz = NULL;
    char *cause = NULL;

    if (config_load_string("t.conf", "[channel console]\nprovider = console\n", &cfg, &cause) != 0 ||
        gazetteer_load_default(&gz, &cause) != 0) {
        ok(0, "setup: %s", cause ? cause : "?");
        return done_testing();
    }
    d.cfg = cfg;
    d.gz = gz;
    test_alert_fields();
    test_alert_header();
    test_shrink();
    test_police_notice();
    gazetteer_free(gz);
    config_free(cfg);
    return done_testing();
}
