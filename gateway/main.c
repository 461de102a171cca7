/*
 * main.c — the `talaash` command line (SPEC.md §11): picks the subcommand
 * and hands over. Exit status: 0 success, 1 a runtime failure, 2 a usage or
 * configuration error.
 */
#include "gateway/areas.h"
#include "gateway/cmd_parse.h"
#include "gateway/api.h"
#include "gateway/config.h"
#include "gateway/store/store.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/police.h"
#include "gateway/store/store.h"
#include "parsers/gazetteer.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <inttypes.h>
#include <stdbool.h>
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
          "       talaash backup FILE [-c FILE]    copy the store into FILE (also while serving)\n"
          "       talaash migrate [-c FILE]        bring the store's schema up to date, and say so\n"
          "       talaash options [--scdoc]        the config options (Markdown, or scdoc)\n"
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
    /* Under systemd with stderr in the journal, the journal is the log; else [log] file. */
    bool journal = log_stderr_is_journal();
    const char *file = cfg->log_file[0] && !journal ? cfg->log_file : NULL;
    if (log_open(file, log_level_parse(cfg->log_level)) < 0) {
        fprintf(stderr, "talaash: cannot open log file %s\n", cfg->log_file);
        config_free(cfg);
        return 1;
    }
    log_use_journal(journal);
    if (journal && cfg->log_file[0])
        log_info("daemon", "event=log_to_journal file_unused=%s", cfg->log_file);
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

/* The range column of an option ("" when it has none). */
static void option_range(const struct tl_config_option *o, char *out, size_t n)
{
    out[0] = '\0';
    if (o->type == TL_OPT_ENUM)
        snprintf(out, n, "%s", o->choices);
    else if (o->type == TL_OPT_SIZE)
        snprintf(out, n, "%gk – %gk", o->min / 1024, o->max / 1024);
    else if (o->type == TL_OPT_DURATION)
        snprintf(out, n, "%.10gs – %.10gs", o->min, o->max);
    else if (o->type == TL_OPT_INT || o->type == TL_OPT_DOUBLE)
        snprintf(out, n, "%.10g – %.10g", o->min, o->max);
}

/* Writes s with scdoc's markup characters (*, _, \\) escaped. */
static void put_scdoc(const char *s)
{
    for (; *s; s++) {
        if (*s == '*' || *s == '_' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
}

/*
 * The option table, the one source of both references: as Markdown (the
 * README's, scripts/update-readme.sh) or as scdoc (the OPTIONS of
 * gateway.conf(5), docs/man/gateway.conf.5.scd).
 */
static int cmd_options(int argc, char **argv)
{
    const char *section = "";
    bool scdoc = argc == 2 && strcmp(argv[1], "--scdoc") == 0;

    if (argc > 2 || (argc == 2 && !scdoc)) {
        fputs("usage: talaash options [--scdoc]\n", stderr);
        return 2;
    }
    for (size_t i = 0; i < config_noptions; i++) {
        const struct tl_config_option *o = &config_options[i];
        const char *name_tail = strcmp(o->section, "channel") == 0 ? " NAME" : "";
        if (strcmp(section, o->section) != 0) {
            section = o->section;
            if (scdoc)
                printf("## [%s%s]\n\n", section, name_tail);
            else
                printf("%s#### `[%s%s]`\n\n| option | type | default | range | what |\n"
                       "| --- | --- | --- | --- | --- |\n",
                       i ? "\n" : "", section, name_tail);
        }
        char range[64];
        option_range(o, range, sizeof(range));
        if (!scdoc) {
            printf("| `%s` | %s | %s | %s | %s%s |\n", o->name, type_names[o->type],
                   o->def[0] ? o->def : "(empty)", range, o->help, o->secret ? " (secret)" : "");
            continue;
        }
        /* *name* = _type_, then an indented paragraph: what, default, range. */
        putchar('*');
        put_scdoc(o->name);
        printf("* = _");
        put_scdoc(type_names[o->type]);
        printf("_\n\t");
        put_scdoc(o->help);
        printf(".%s Default: ", o->secret ? " A secret: never logged or printed." : "");
        put_scdoc(o->def[0] ? o->def : "empty");
        if (range[0]) {
            printf(o->type == TL_OPT_ENUM ? ". One of: " : ". Range: ");
            put_scdoc(range);
        }
        printf(".\n\n");
    }
    return 0;
}

/* `talaash backup FILE`: a consistent copy of the configured store, also while serving. */
static int cmd_backup(int argc, char **argv)
{
    const char *dest = NULL;
    struct tl_config *cfg;
    char *cause = NULL;
    int64_t pages = 0;
    int version = 0;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
            i++;
        else if (dest == NULL)
            dest = argv[i];
        else
            dest = "";
    }
    if (dest == NULL || dest[0] == '\0') {
        fputs("usage: talaash backup FILE [-c FILE]\n", stderr);
        return 2;
    }
    rc = load_config_or_exit(config_arg(argc, argv), &cfg);
    if (rc != 0)
        return rc;
    rc = store_backup(cfg->store_where, dest, cfg->busy_timeout_ms, &pages, &version, &cause);
    if (rc != TL_OK) {
        fprintf(stderr, "talaash backup: %s\n", cause ? cause : tl_strerror(rc));
        free(cause);
        config_free(cfg);
        return 1;
    }
    printf("%s: backup of %s, %" PRId64 " pages, schema %d, integrity ok\n", dest, cfg->store_where,
           pages, version);
    config_free(cfg);
    return 0;
}

/*
 * Opens the configured store, which applies pending migrations (for
 * PostgreSQL under an advisory lock: nodes and this command may start
 * together), and prints the version before and after.
 */
static int cmd_migrate(int argc, char **argv)
{
    struct tl_config *cfg = NULL;
    struct tl_store *st = NULL;
    char *cause = NULL;
    char where[256];
    int rc = load_config_or_exit(config_arg(argc, argv), &cfg);

    if (rc != 0)
        return rc;
    store_place_display(cfg->store_where, where, sizeof(where));
    rc = store_open(cfg->store_where, cfg->busy_timeout_ms, &st, &cause);
    if (rc != TL_OK) {
        fprintf(stderr, "talaash migrate: %s: %s\n", where, cause ? cause : tl_strerror(rc));
        free(cause);
        config_free(cfg);
        return 1;
    }
    printf("%s: %s store at schema %d (this binary writes %d)\n", where,
           store_backend_name(st), store_schema_version(st),
           store_schema_latest_of(cfg->store_where));
    store_close(st);
    config_free(cfg);
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
        size_t total = 0, n;
        const struct tl_area **found = xcalloc(gazetteer_count(gz) + 1, sizeof *found);

        n = gazetteer_prefix(gz, prefix, 0, found, gazetteer_count(gz), &total);
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\t%s\t%s\n", found[i]->code, found[i]->name_en, found[i]->name_ur,
                   kind_names[found[i]->kind]);
        free(found);
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
        return cmd_options(argc - 1, argv + 1);
    if (strcmp(cmd, "backup") == 0)
        return cmd_backup(argc - 1, argv + 1);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "api-routes") == 0)
        return api_routes_main();
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("talaash %s (store schema %d; postgresql %d)\n", TALAASH_VERSION,
               store_schema_latest(), store_schema_latest_of("postgresql://"));
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
