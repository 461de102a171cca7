/*
 * main.c — the `talaash` command line (SPEC.md §11): picks the subcommand
 * and hands over. Exit status: 0 success, 1 a runtime failure, 2 a usage or
 * configuration error.
 */
#include "gateway/areas.h"
#include "gateway/cmd_parse.h"
#include "gateway/api.h"
#include "gateway/config.h"
#include "gateway/store.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/police.h"
#include "parsers/gazetteer.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TALAASH_VERSION "0.1.0"
#define DEFAULT_CONFIG "/etc/talaash/gateway.conf"

static void usage(FILE *out)
{
    fputs("usage: talaash serve [-c FILE]          run the gateway (foreground, logs to stderr)\n"
          "       talaash check-config FILE        validate a config; exit 2 with file:line: reason\n"
          "       talaash parse [--lang xx]        SMS texts on stdin -> one JSON object per line\n"
          "       talaash areas [PREFIX] [-c FILE] list gazetteer areas\n"
          "       talaash police add PHONE --area NAME [--pin PIN] [-c FILE]\n"
          "       talaash police list [-c FILE] | police remove PHONE [-c FILE]\n"
          "       talaash options                  the config options as a Markdown table\n"
          "       talaash api-routes               the operator API's routes and their roles\n"
          "       talaash version\n"
          "The config is -c FILE, else $TALAASH_CONFIG, else " DEFAULT_CONFIG ".\n",
          out);
}

/* Finds -c FILE among argv[1..]; removes nothing. */
static const char *config_arg(int argc, char **argv)
{
    for (int i = 1; i < argc - 1; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
            return argv[i + 1];
    }
    const char *env = getenv("TALAASH_CONFIG");
    return env ? env : DEFAULT_CONFIG;
}

static int load_config_or_exit(const char *file, struct tl_config **cfg)
{
    char *cause = NULL;

    if (config_load(file, cfg, &cause) != TL_OK) {
        fprintf(stderr, "%s\n", cause);
        free(cause);
        return 2;
    }
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    struct tl_config *cfg;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        fprintf(stderr, "talaash serve: unknown argument '%s'\n", argv[i]);
        return 2;
    }
    rc = load_config_or_exit(config_arg(argc, argv), &cfg);
    if (rc != 0)
        return rc;
    if (log_open(cfg->log_file[0] ? cfg->log_file : NULL, log_level_parse(cfg->log_level)) < 0) {
        fprintf(stderr, "talaash: cannot open log file %s\n", cfg->log_file);
        config_free(cfg);
        return 1;
    }
    rc = daemon_run(cfg);
    config_free(cfg);
    log_close();
    return rc;
}

static int cmd_check_config(int argc, char **argv)
{
    struct tl_config *cfg;
    int rc;

    if (argc != 2) {
        fputs("usage: talaash check-config FILE\n", stderr);
        return 2;
    }
    rc = load_config_or_exit(argv[1], &cfg);
    if (rc != 0)
        return rc;
    printf("%s: ok (%zu channel%s)\n", argv[1], cfg->nchannels, cfg->nchannels == 1 ? "" : "s");
    config_free(cfg);
    return 0;
}

static const char *const type_names[] = {"string", "integer", "size",      "duration", "number",
                                         "choice", "host:port", "URL", "schedule"};

/* The option table as Markdown: the README's config reference is this output. */
static int cmd_options(void)
{
    const char *section = "";

    for (size_t i = 0; i < config_noptions; i++) {
        const struct tl_config_option *o = &config_options[i];
        if (strcmp(section, o->section) != 0) {
            section = o->section;
            printf("%s#### `[%s%s]`\n\n| option | type | default | range | what |\n"
                   "| --- | --- | --- | --- | --- |\n",
                   i ? "\n" : "", section, strcmp(section, "channel") == 0 ? " NAME" : "");
        }
        char range[64] = "";
        if (o->type == TL_OPT_ENUM)
            snprintf(range, sizeof(range), "%s", o->choices);
        else if (o->type == TL_OPT_SIZE)
            snprintf(range, sizeof(range), "%gk – %gk", o->min / 1024, o->max / 1024);
        else if (o->type == TL_OPT_DURATION)
            snprintf(range, sizeof(range), "%gs – %gs", o->min, o->max);
        else if (o->type == TL_OPT_INT || o->type == TL_OPT_DOUBLE)
            snprintf(range, sizeof(range), "%.10g – %.10g", o->min, o->max);
        printf("| `%s` | %s | %s | %s | %s%s |\n", o->name, type_names[o->type],
               o->def[0] ? o->def : "(empty)", range, o->help, o->secret ? " (secret)" : "");
    }
    return 0;
}

static const char *const kind_names[] = {"country", "province", "city", "district", "town", "area"};

static int cmd_areas(int argc, char **argv)
{
    const char *prefix = NULL;
    struct tl_config *cfg = NULL;
    struct tl_gazetteer *gz = NULL;
    char *cause = NULL;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
            i++;
        else if (prefix == NULL)
            prefix = argv[i];
        else {
            fputs("usage: talaash areas [PREFIX] [-c FILE]\n", stderr);
            return 2;
        }
    }
    /* A config is needed only when it names another gazetteer. */
    const char *file = config_arg(argc, argv);
    bool explicit_config = getenv("TALAASH_CONFIG") != NULL;
    for (int i = 1; i < argc; i++)
        explicit_config |= strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0;
    if (explicit_config) {
        rc = load_config_or_exit(file, &cfg);
        if (rc != 0)
            return rc;
        rc = areas_load(cfg, &gz, &cause);
    } else {
        rc = gazetteer_load_default(&gz, &cause);
    }
    if (rc != TL_OK) {
        fprintf(stderr, "talaash areas: %s\n", cause ? cause : tl_strerror(rc));
        free(cause);
        config_free(cfg);
        return 1;
    }
    if (prefix != NULL) {
        const struct tl_area *found[256];
        size_t n = gazetteer_prefix(gz, prefix, found, 256);
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\t%s\t%s\n", found[i]->code, found[i]->name_en, found[i]->name_ur,
                   kind_names[found[i]->kind]);
    } else {
        for (size_t i = 0; i < gazetteer_count(gz); i++) {
            const struct tl_area *a = gazetteer_at(gz, i);
            printf("%s\t%s\t%s\t%s\n", a->code, a->name_en, a->name_ur, kind_names[a->kind]);
        }
    }
    gazetteer_free(gz);
    config_free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "check-config") == 0)
        return cmd_check_config(argc - 1, argv + 1);
    if (strcmp(cmd, "parse") == 0)
        return cmd_parse_main(argc - 1, argv + 1);
    if (strcmp(cmd, "police") == 0)
        return police_main(argc - 1, argv + 1);
    if (strcmp(cmd, "areas") == 0)
        return cmd_areas(argc - 1, argv + 1);
    if (strcmp(cmd, "options") == 0)
        return cmd_options();
    if (strcmp(cmd, "api-routes") == 0)
        return api_routes_main();
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("talaash %s (store schema %d)\n", TALAASH_VERSION, store_schema_latest());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "talaash: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
