/*
 * store_api.h — the store as the operator API reads and changes it.
 *
 * Reads run on a reader store: a second, read-only connection to the same
 * file (WAL: it never blocks the writer and sees whole commits only), used
 * by the API's reader thread alone (api_reader.h), so a query that scans a
 * million outbox rows never holds the event loop. Each read returns a whole
 * JSON document (allocated, caller frees), rendered by SQLite's JSON
 * functions, with what the caller's role may see:
 *   - viewer:   no reporter number, no typed contact, every phone masked
 *               (+92300****567), no audit;
 *   - operator: numbers in full (SPEC §8: police and operators see the
 *               reporter), the audit of police and SMS actions;
 *   - admin:    also the API's own audit (token actions and refusals).
 * No read ever returns a PIN or its hash.
 *
 * The writes (idempotency records, resends) run on the daemon's own store
 * inside the caller's transaction, like every other write.
 */
#ifndef TALAASH_STORE_API_H
#define TALAASH_STORE_API_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"

struct tl_store;

/* Looks up an area's Urdu name for a code (NULL when none); must be thread-safe. */
typedef const char *(*tl_area_name_fn)(void *ctx, const char *code);

/* Opens the reader store on path (the daemon's store, already migrated). */
int store_api_open_reader(const char *path, long busy_timeout_ms, tl_area_name_fn area_ur,
                          void *ctx, struct tl_store **out, char **cause);

struct tl_case_filter {
    const char *state;     /* or NULL: every state but draft */
    const char *area_code; /* or NULL: the area and everything inside it */
    int64_t since, until;  /* created_at window; 0 = open */
    int64_t before_id;     /* cursor: only cases with a smaller id; 0 = from the newest */
    int limit;             /* 1..200 */
};

/* {"cases":[…],"next_cursor":"…"|null}, newest first. */
int store_api_cases(struct tl_store *st, enum tl_role role, const struct tl_case_filter *f,
                    char **json);
/*
 * One case with its alert and update counts by state, police notified,
 * sightings and timeline. TL_ERR_NOT_FOUND when no such case number.
 */
int store_api_case(struct tl_store *st, enum tl_role role, const char *case_no, char **json);
/* {"areas":[{code,name,subscribers}],"subscribers":N,"opted_out":N}. */
int store_api_subscriber_counts(struct tl_store *st, char **json);
/* One number's row, areas and block state; TL_ERR_NOT_FOUND when unknown. */
int store_api_subscriber(struct tl_store *st, enum tl_role role, const char *phone, char **json);
/* {"police":[{phone, area, has_pin, created_at}]}. */
int store_api_police(struct tl_store *st, enum tl_role role, char **json);
/* {"blocks":[{phone, reason, created_at}]}. */
int store_api_blocks(struct tl_store *st, enum tl_role role, char **json);
/*
 * {"entries":[…],"next_cursor":…}, newest first: police, SMS and CLI
 * actions; for admin also the API's own ("api:NAME" actors).
 */
int store_api_audit(struct tl_store *st, enum tl_role role, int64_t before_id, int limit,
                    char **json);

/* ---- writes, on the daemon's store ---- */

/*
 * A stored answer to (token, key): TL_OK with *status and *body (caller
 * frees) when the same request was answered before; TL_ERR_DUPLICATE when
 * the key was used for another method or path; TL_ERR_NOT_FOUND when new.
 */
int store_api_idem_get(struct tl_store *st, const char *token, const char *key,
                       const char *method, const char *path, int *status, char **body);
int store_api_idem_put(struct tl_store *st, const char *token, const char *key,
                       const char *method, const char *path, int status, const char *body,
                       int64_t now);
/* Forgets answers stored before `before`; returns how many, or -1. */
int64_t store_api_idem_prune(struct tl_store *st, int64_t before);
/*
 * Queues a failed or expired outbox message again (attempts from 0, due at
 * now). TL_OK; TL_ERR_NOT_FOUND; TL_ERR_BUSY when its state allows no
 * resend (*state gets it, state[16]).
 */
int store_api_resend(struct tl_store *st, int64_t outbox_id, int64_t now, char state[16]);

#endif
