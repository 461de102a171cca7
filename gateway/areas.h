/*
 * areas.h — the gazetteer the running gateway uses: loaded once at start
 * (the built-in data/areas/pakistan.csv, or [alerts] areas_file), and
 * mirrored into the store's areas table so targeting can join on it.
 */
#ifndef TALAASH_AREAS_H
#define TALAASH_AREAS_H

#include <stddef.h>

struct tl_area_candidate;
struct tl_config;
struct tl_sms_parse;
struct tl_gazetteer;
struct tl_store;

/* TL_OK, or an error with "file: line N: reason" in *cause. */
int areas_load(const struct tl_config *cfg, struct tl_gazetteer **out, char **cause);
/* Replaces the store's areas table with the gazetteer's rows, in one transaction. */
int areas_sync_store(const struct tl_gazetteer *gz, struct tl_store *st);
size_t areas_count(const struct tl_gazetteer *gz);
/*
 * An ambiguous area name ("Gulberg", "Saddar", "Model Town"): the index in
 * c[0..n) of the one candidate in a city the phone already subscribed to,
 * reported in or is police for (gazetteer_prefer), or -1: ask the sender.
 * Never picks across cities.
 */
int areas_prefer_for(const struct tl_gazetteer *gz, struct tl_store *st, const char *phone,
                     const struct tl_area_candidate *c, size_t n);
/* The same for a parsed message: when its area is ambiguous and one
 * candidate is preferred, takes it as the message's area. */
void areas_resolve(const struct tl_gazetteer *gz, struct tl_store *st, const char *phone,
                   struct tl_sms_parse *p);
void areas_free(struct tl_gazetteer *gz);

#endif
