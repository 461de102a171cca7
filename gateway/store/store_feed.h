/*
 * store_feed.h — what the public feed (feed.c) may read of the store: the
 * cases whose alert is public and their broadcast waves, nothing else.
 *
 * A case is public while it is ACTIVE, and for FEED_WINDOW_S after it ended
 * (found, closed, cancelled) if it had been broadcast (verified_at set):
 * then only its end is told. The rows carry no reporter field and no
 * sighting: what is not read cannot leak.
 */
#ifndef TALAASH_STORE_FEED_H
#define TALAASH_STORE_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tl_store;

/* One broadcast wave (alerts row): first alert, escalation, or the closing update. */
struct tl_feed_wave {
    int64_t id;
    char kind[12];     /* alert, escalation, update */
    double radius_km;  /* -1: the whole city */
    int64_t created_at;
    char *text_en, *text_ur;
};

struct tl_feed_case {
    int64_t id;
    char case_no[8];
    char state[12];
    char *area_code;   /* NULL if unknown */
    int64_t verified_at, closed_at;
    bool police_verified; /* an accepted VERIFY is in the audit log (else auto-verified) */
    struct tl_feed_wave *waves; /* in order */
    size_t nwaves;
};

/* Public cases (active, or ended at or after `since`), newest event first. */
int store_feed_cases(struct tl_store *st, int64_t since, struct tl_feed_case **out, size_t *n);
/* One public case by number: TL_OK, TL_ERR_NOT_FOUND, or TL_ERR_STORE. */
int store_feed_case(struct tl_store *st, const char *case_no, int64_t since,
                    struct tl_feed_case *out);
/* The latest closed_at before `since` of a broadcast case (0: none): when it left the feed. */
int64_t store_feed_last_ended_before(struct tl_store *st, int64_t since);
void store_feed_case_clear(struct tl_feed_case *c);
void store_feed_cases_free(struct tl_feed_case *v, size_t n);

#endif
