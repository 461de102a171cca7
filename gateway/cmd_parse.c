/*
 * cmd_parse.c — the `talaash parse [--lang xx]` subcommand (SPEC.md §11):
 * SMS texts on stdin, one per line; one JSON object per line on stdout with
 * what the grammar understood (parsers/grammar.h renders it).
 *
 * Owns: reading lines and the option. Lines end at '\n'; one '\r' before it
 * is dropped. --lang is the language assumed for a message that shows none
 * (a bare case number, a name): the same hint the gateway passes from a
 * user's saved choice; it never overrides a message's own language.
 * --city NAME plays a sender who subscribed there: an ambiguous area name
 * ("Gulberg", "Saddar") is resolved to that city's place when it has one
 * (grammar_prefer_area, the gateway's rule); without it the area is left
 * out and "missing" names it, as the gateway would ask.
 */
#include "gateway/cmd_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/result.h"
#include "parsers/gazetteer.h"
#include "parsers/grammar.h"

static int usage(void)
{
    fputs("usage: talaash parse [--lang en|ur|roman-ur] [--city NAME] < messages.txt\n", stderr);
    return 2;
}

int cmd_parse_main(int argc, char **argv)
{
    enum tl_lang hint = TL_LANG_EN;
    const char *city_name = NULL;
    const struct tl_area *city = NULL;
    struct tl_gazetteer *gz = NULL;
    struct tl_grammar *g;
    struct tl_sms_parse *res;
    struct tl_buf out = {0};
    char *line = NULL, *cause = NULL;
    size_t cap = 0;
    ssize_t n;
    static char obuf[1 << 16];

    for (int i = 1; i < argc; i++) {
        const char *v = NULL;

        if (strcmp(argv[i], "--city") == 0 && i + 1 < argc) {
            city_name = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--city=", 7) == 0) {
            city_name = argv[i] + 7;
            continue;
        }
        if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--lang=", 7) == 0)
            v = argv[i] + 7;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs("usage: talaash parse [--lang en|ur|roman-ur] [--city NAME] < messages.txt\n",
                  stdout);
            return 0;
        } else
            return usage();
        if (grammar_lang_from_name(v, &hint) != TL_OK) {
            fprintf(stderr, "talaash parse: unknown language '%s' (en, ur, roman-ur)\n", v);
            return 2;
        }
    }
    if (gazetteer_load_default(&gz, &cause) != TL_OK) {
        fprintf(stderr, "talaash parse: gazetteer: %s\n", cause ? cause : "failed");
        free(cause);
        return 1;
    }
    if (city_name != NULL) {
        struct tl_area_candidate c[2];
        size_t nc = 0;

        if (gazetteer_match(gz, city_name, strlen(city_name), c, 2, &nc) != TL_MATCH_EXACT ||
            (city = gazetteer_city_of(gz, c[0].area)) == NULL) {
            fprintf(stderr, "talaash parse: --city '%s' is no city of the gazetteer\n", city_name);
            gazetteer_free(gz);
            return 2;
        }
    }
    g = grammar_new(&cause);
    if (g == NULL) {
        fprintf(stderr, "talaash parse: %s\n", cause ? cause : "grammar failed");
        free(cause);
        gazetteer_free(gz);
        return 1;
    }
    res = malloc(sizeof *res);
    if (res == NULL) {
        grammar_free(g);
        gazetteer_free(gz);
        return 1;
    }
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;

        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        grammar_parse(g, gz, line, len, hint, res);
        if (city != NULL)
            grammar_prefer_area(res, gz, &city, 1);
        tl_buf_reset(&out);
        grammar_render_json(res, &out);
        tl_buf_append_char(&out, '\n');
        fwrite(out.data, 1, out.len, stdout);
    }
    fflush(stdout);
    free(line);
    free(res);
    tl_buf_free(&out);
    grammar_free(g);
    gazetteer_free(gz);
    return ferror(stdout) ? 1 : 0;
}
