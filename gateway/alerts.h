/*
 * alerts.h — Amber-style alerts: who gets them (targeting by area), what
 * they say (templates fitted to max_segments), when they widen (escalation)
 * and how they end (updates). SPEC.md §4.
 *
 * Targeting of a wave centred on area A with radius r:
 *   A and every area inside it, every area whose centre lies within r km
 *   of A's centre, and every area enclosing A (a Karachi subscriber gets
 *   every Karachi alert) — or, for a "city" stage, the whole city around A.
 *   Subscribers of those areas (not opted out) and police registered for
 *   them; each person at most once per case, ever (store_alert_wave).
 * The functions that write expect the caller's transaction to be open
 * only where they say so.
 */
#ifndef TALAASH_ALERTS_H
#define TALAASH_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "parsers/grammar.h"

struct tl_daemon;
struct tl_case;
struct tl_gazetteer;
struct tl_area;

/* The city enclosing a (or a itself when it is a city, or the nearest ancestor above it). */
const struct tl_area *alerts_city_of(const struct tl_gazetteer *gz, const struct tl_area *a);
/* The area codes a wave covers, as a JSON array text (caller frees). */
char *alerts_scope_json(const struct tl_gazetteer *gz, const struct tl_area *center,
                        double radius_km, bool whole_city);
/* A and every area enclosing it, as a JSON array text (police to notify; caller frees). */
char *alerts_enclosing_json(const struct tl_gazetteer *gz, const struct tl_area *a);
/*
 * The queue alerts, updates and police notices go to: the one alert channel,
 * or with several ([alerts] channels) the alert pool (TL_OUTBOX_POOL), which
 * each of them sends from at its own rate (sender.c).
 */
const char *alerts_channel(const struct tl_daemon *d);

/* The alert text of case c in lang, within [alerts] max_segments. */
void alerts_render(const struct tl_daemon *d, const struct tl_case *c, enum tl_lang lang,
                   struct tl_buf *out);

/*
 * Broadcasts one wave of case c centred on `center` (atomic; inside the
 * caller's transaction when one is open).
 * *recipients gets the number of messages queued; *more (when not NULL)
 * whether the wave left the rest of its subscribers to the fan-out
 * (fanout.h), which queues them after the commit.
 */
int alerts_broadcast(struct tl_daemon *d, const struct tl_case *c, const struct tl_area *center,
                     const char *kind, double radius_km, bool whole_city, int64_t *recipients,
                     bool *more);
/*
 * Ends case c's alerts (inside the caller's transaction): queued alert
 * messages are cancelled and everyone who was sent the alert gets the
 * update (found: "found" text, else "ended").
 */
int alerts_end(struct tl_daemon *d, const struct tl_case *c, bool found, int64_t *cancelled,
               int64_t *recipients);

/* Periodic work: due escalation stages, and redaction of old closed cases. */
void alerts_tick(struct tl_daemon *d);

#endif
