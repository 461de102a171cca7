/*
 * areas.c — loading the gazetteer from its file (the only file I/O for it;
 * parsing and matching are in parsers/gazetteer.c) and mirroring it into
 * the store.
 */
#include "gateway/areas.h"
#include "gateway/config.h"
#include "gateway/store/store.h"
#include "parsers/gazetteer.h"
#include "parsers/grammar.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"country", "province", "city", "district", "town", "area"};

static int read_file(const char *path, struct tl_buf *out, char **cause)
{
    FILE *f = fopen(path, "rb");
    char chunk[8192];
    size_t n;

    if (f == NULL) {
        *cause = xasprintf("%s: %s", path, strerror(errno));
        return TL_ERR_IO;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        tl_buf_append(out, chunk, n);
    fclose(f);
    return TL_OK;
}

int areas_load(const struct tl_config *cfg, struct tl_gazetteer **out, char **cause)
{
    struct tl_buf text = {0};
    char *why = NULL;
    int rc;

    if (cfg->areas_file == NULL || cfg->areas_file[0] == '\0')
        return gazetteer_load_default(out, cause);
    rc = read_file(cfg->areas_file, &text, cause);
    if (rc != TL_OK)
        return rc;
    rc = gazetteer_parse_csv(tl_buf_str(&text), text.len, out, &why);
    if (rc != TL_OK) {
        *cause = xasprintf("%s: %s", cfg->areas_file, why ? why : tl_strerror(rc));
        free(why);
    }
    tl_buf_free(&text);
    return rc;
}

int areas_sync_store(const struct tl_gazetteer *gz, struct tl_store *st)
{
    size_t n = gazetteer_count(gz);
    struct tl_area_row *rows = xcalloc(n ? n : 1, sizeof(*rows));
    int rc;

    for (size_t i = 0; i < n; i++) {
        const struct tl_area *a = gazetteer_at(gz, i);
        rows[i].code = a->code;
        rows[i].name_en = a->name_en;
        rows[i].kind = (size_t)a->kind < sizeof(kind_names) / sizeof(kind_names[0])
                           ? kind_names[a->kind]
                           : "area";
        rows[i].parent_code = a->parent >= 0 ? gazetteer_at(gz, (size_t)a->parent)->code : NULL;
        rows[i].lat = a->lat;
        rows[i].lon = a->lon;
    }
    rc = store_areas_replace(st, rows, n);
    free(rows);
    return rc;
}

size_t areas_count(const struct tl_gazetteer *gz)
{
    return gz ? gazetteer_count(gz) : 0;
}

void areas_free(struct tl_gazetteer *gz)
{
    gazetteer_free(gz);
}

/* The cities (at most max) the phone subscribed to, reported in or is police for. */
static size_t sender_cities(const struct tl_gazetteer *gz, struct tl_store *st, const char *phone,
                            const struct tl_area **cities, size_t max)
{
    size_t ncodes = 0, ncities = 0;
    char **codes = NULL;

    if (store_sender_areas(st, phone, &codes, &ncodes) != TL_OK)
        ncodes = 0;
    for (size_t i = 0; i < ncodes; i++) {
        const struct tl_area *city = gazetteer_city_of(gz, gazetteer_by_code(gz, codes[i]));
        bool seen = false;

        for (size_t k = 0; k < ncities; k++)
            seen = seen || cities[k] == city;
        if (city != NULL && !seen && ncities < max)
            cities[ncities++] = city;
        free(codes[i]);
    }
    free(codes);
    return ncities;
}

int areas_prefer_for(const struct tl_gazetteer *gz, struct tl_store *st, const char *phone,
                     const struct tl_area_candidate *c, size_t n)
{
    const struct tl_area *cities[32];
    size_t ncities;

    if (gz == NULL || st == NULL || phone == NULL || n < 2)
        return -1;
    ncities = sender_cities(gz, st, phone, cities, 32);
    return ncities > 0 ? gazetteer_prefer(gz, c, n, cities, ncities) : -1;
}

void areas_resolve(const struct tl_gazetteer *gz, struct tl_store *st, const char *phone,
                   struct tl_sms_parse *p)
{
    const struct tl_area *cities[32];

    if (gz == NULL || st == NULL || phone == NULL || p == NULL || p->area != NULL ||
        p->area_match != TL_MATCH_AMBIGUOUS)
        return;
    grammar_prefer_area(p, gz, cities, sender_cities(gz, st, phone, cities, 32));
}
