/*
 * store.h — the durable store's interface: what the domain code calls.
 *
 * Two backends answer it (gateway/store/backend.h lists what each MUST
 * provide): SQLite (sqlite*.c; the default: one file, WAL mode, foreign
 * keys on, a busy timeout) and PostgreSQL (pg*.c; several nodes on one
 * database). Nothing outside gateway/store/ knows which one runs; only
 * sqlite*.c include sqlite3.h and only pg*.c libpq-fe.h. Each applies its
 * pending migrations (sqlite_schema.c, pg_schema.c) in one transaction at
 * open; a store written by a newer binary is refused (TL_ERR_SCHEMA).
 *
 * Durability rule for callers: answer a peer 2xx only after the function
 * that stored its data returned TL_OK — each write here is committed when it
 * returns (or when the caller's store_tx_commit() returns, inside a
 * transaction).
 */
#ifndef TALAASH_STORE_H
#define TALAASH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tl_store;

/*
 * Opens the store at `where`: a file path (SQLite) or a postgresql:// URL
 * (PostgreSQL, libpq's URI form). Either way pending migrations are applied
 * at open (PostgreSQL: under an advisory lock, so nodes starting together
 * migrate once).
 */
int store_open(const char *where, long busy_timeout_ms, struct tl_store **out, char **cause);
/*
 * How a backend that waits on a socket (PostgreSQL) waits for its answers:
 * wait_readable(fd, arg) returns 0 once fd is readable, -1 to give up, 1
 * when the caller is not one that can yield (the backend then polls). The
 * daemon sets it so a store call made by a job yields to the event loop
 * meanwhile (job.h); NULL (the default): the backend polls the socket.
 */
void store_set_wait(int (*wait_readable)(int fd, void *arg), void *arg);
/* True when where names a PostgreSQL database (postgresql:// or postgres://). */
bool store_place_is_url(const char *where);
/* where for a log line: a URL's password replaced by "***" (into buf). */
const char *store_place_display(const char *where, char *buf, size_t size);
/* The backend of an open store: "sqlite" or "postgresql". */
const char *store_backend_name(const struct tl_store *st);
/* The schema version this binary writes for the backend where names. */
int store_schema_latest_of(const char *where);
void store_close(struct tl_store *st);

/* TL_OK when the store answers a query on its own tables. */
int store_ping(struct tl_store *st);
/* PRAGMA user_version of the open store. */
int store_schema_version(struct tl_store *st);
/* The version this binary writes (SQLite). */
int store_schema_latest(void);
/* PRAGMA integrity_check; TL_OK when "ok", else TL_ERR_STORE with the report in *cause. */
int store_integrity_check(struct tl_store *st, char **cause);

/*
 * Copies the store at path into the file dest, consistently while a daemon
 * serves from it (SQLite's online backup API, one read transaction): the
 * copy holds every transaction committed before the call and none half.
 * It is checked (integrity_check) before it replaces dest, atomically
 * (written as dest.tmp, renamed). *pages and *version get its page count and
 * schema version. TL_OK, or TL_ERR_STORE / TL_ERR_IO with *cause set.
 */
int store_backup(const char *path, const char *dest, long busy_timeout_ms, int64_t *pages,
                 int *version, char **cause);

/*
 * Explicit transactions for multi-row writes. They nest: the outermost is
 * BEGIN IMMEDIATE … COMMIT, inner ones are savepoints, so a commit inside
 * an open transaction (a group commit, group.h) only keeps the work for the
 * outer commit, and a rollback undoes only its own level.
 */
int store_tx_begin(struct tl_store *st);
int store_tx_commit(struct tl_store *st);
void store_tx_rollback(struct tl_store *st);

/* The last SQLite error message of this connection (for logs). */
const char *store_errmsg(struct tl_store *st);

/*
 * Write health. Every outermost transaction that cannot begin or commit
 * (the disk full, the file read-only, a lock held by another process past
 * busy_timeout) makes the store unwritable, with a reason such as
 * "SQLITE_FULL: database or disk is full", until a write transaction
 * commits again: a caller's, or store_write_probe's. Meanwhile a write
 * waits at most 100 ms for a lock, not the whole busy_timeout, so a lock
 * fault answers each callback quickly. The connection stays usable
 * throughout; nothing needs reopening.
 */
bool store_writable(struct tl_store *st, const char **reason);
/*
 * Tries a write: an empty transaction that rewrites the header's
 * user_version (one page to the WAL, so a full disk shows). TL_OK when it
 * committed; inside an open transaction it does nothing and says TL_OK.
 */
int store_write_probe(struct tl_store *st);
/*
 * Calls cb at each change of write health (writable or not, with the
 * reason, and how many writes failed in between), from the call that saw
 * it. The owner wires it (daemon.c logs one line per change).
 */
void store_on_health(struct tl_store *st,
                     void (*cb)(void *arg, bool writable, const char *reason, long failures),
                     void *arg);

/* ---- a cluster of nodes on one store ---- */

/*
 * True while this node runs the cluster's timers (escalation, redaction,
 * pruning, session expiry), so they run once however many nodes share the
 * store. SQLite: always (one node). PostgreSQL: the node holding the
 * leader's advisory lock, taken by the first node that asks and held for
 * its connection's life; another node takes it over when that one dies.
 */
bool store_leads(struct tl_store *st);
/*
 * Who this node is in a cluster (a name that stays the same across its
 * restarts and differs from every other node's: the daemon uses
 * host:listen) and how long a message it claims stays its own. PostgreSQL:
 * a claim marks its rows with the node; a row 'sending' whose lease has
 * passed is claimed again by any node (so a node that died mid-send loses
 * at most its in-flight rows to a second send), and at start a node
 * requeues the rows it left 'sending' itself. The daemon sets the lease
 * above its longest request (2 x (connect + send timeouts) + 5 s). Call it
 * before store_outbox_recover. SQLite: one node; does nothing.
 */
void store_set_node(struct tl_store *st, const char *node, int64_t lease_ms);
/*
 * Takes up to want sends from channel's token bucket shared by every node
 * (rate per second, burst at most); returns how many it may send now (0..want),
 * or -1 on a store error. A negative want gives -want taken but unused back. SQLite: want (one node; the sender's own bucket
 * governs). PostgreSQL: one row per channel, updated atomically.
 */
int64_t store_rate_take(struct tl_store *st, const char *channel, double rate, double burst,
                        int64_t want, int64_t now_ms);

/* ---- areas (a mirror of the gazetteer, for joins) ---- */

struct tl_area_row {
    const char *code;
    const char *name_en;
    const char *kind;
    const char *parent_code; /* or NULL */
    double lat, lon;
};

/* Replaces the areas table with rows[0..n), in one transaction. */
int store_areas_replace(struct tl_store *st, const struct tl_area_row *rows, size_t n);

/* ---- inbound messages ---- */

struct tl_inbound_row {
    const char *channel;
    const char *provider_id;
    const char *kind;    /* "sms" or "ussd" */
    const char *phone;   /* E.164 */
    const char *to_addr; /* or NULL */
    const char *text;
    int64_t received_at;
    /*
     * NULL: 'received'. A caller that processes the message in the same
     * transaction may store its expected outcome ("processed", with
     * processed_at = received_at) and change it only when it differs.
     */
    const char *state;
};

/*
 * Stores an inbound message and commits. TL_OK with *id set; TL_ERR_DUPLICATE
 * (and *id of the earlier row) when (channel, provider_id) was seen before;
 * TL_ERR_STORE when the store failed.
 */
int store_inbound_insert(struct tl_store *st, const struct tl_inbound_row *row, int64_t *id);
/* Marks an inbound message's processing outcome ("processed", "limited", …). */
int store_inbound_set_state(struct tl_store *st, int64_t id, const char *state, int64_t now);
/* True when the inbound row's processing finished (state is not 'received'). */
bool store_inbound_processed(struct tl_store *st, int64_t id);
/* Number of stored inbound messages (tests, metrics). */
int64_t store_inbound_count(struct tl_store *st);


/* ---- the outbox ---- */

enum tl_outbox_kind {
    TL_OUT_POLICE = 0, /* notifications to police: sent first */
    TL_OUT_REPLY = 1,  /* replies to users */
    TL_OUT_ALERT = 2,  /* bulk alerts */
    TL_OUT_UPDATE = 3, /* bulk updates when a case ends */
};

struct tl_outbox_new {
    const char *channel;
    const char *phone; /* E.164 */
    const char *text;
    enum tl_outbox_kind kind;
    int64_t expires_at; /* unix seconds, 0 = never */
    int64_t case_id;    /* 0 = none */
    int64_t alert_id;   /* 0 = none */
    int64_t inbound_id; /* 0 = none */
};

/* A claimed message, owned by the caller (store_outbox_msgs_free). */
struct tl_outbox_msg {
    int64_t id;
    char *phone;
    char *text;
    int kind;
    int attempts; /* including this one */
    int priority;
    int64_t due_ms; /* next_attempt_ms it was claimed with */
};

enum tl_outbox_state {
    TL_OUTBOX_QUEUED = 0,
    TL_OUTBOX_SENDING = 1,
    TL_OUTBOX_SENT = 2,
    TL_OUTBOX_DELIVERED = 3,
    TL_OUTBOX_FAILED = 4,
    TL_OUTBOX_EXPIRED = 5,
    TL_OUTBOX_CANCELLED = 6,
};
#define TL_OUTBOX_NSTATES 7
/* The states' names as the store writes them, by enum tl_outbox_state. */
extern const char *const store_outbox_state_names[TL_OUTBOX_NSTATES];
const char *store_outbox_state_name(enum tl_outbox_state s);
/* Outbox kinds' names by enum tl_outbox_kind. */
#define TL_OUTBOX_NKINDS 4
extern const char *const store_outbox_kind_names[TL_OUTBOX_NKINDS];

/* The outcome of one send attempt. */
struct tl_outbox_result {
    int64_t id;
    enum tl_outbox_state state;  /* SENT, QUEUED (retry), FAILED */
    const char *provider_id;     /* for SENT, or NULL */
    const char *error;           /* or NULL */
    int64_t next_attempt_ms;     /* for QUEUED */
};

/* Adds one message (committed unless inside store_tx_begin). */
int store_outbox_add(struct tl_store *st, const struct tl_outbox_new *m, int64_t now, int64_t *id);
/*
 * Claims up to max due messages of a channel (queued, next_attempt_ms <=
 * now_ms), best priority first, and marks them sending with attempts + 1,
 * in one transaction; a bulk message gets its wave's text in its language
 * (its recipient's saved language when the row has none: a wave's rows).
 * Among the due messages it looks at, those past expires_at become
 * 'expired', and alerts and updates to a number that has opted out (STOP)
 * become 'cancelled' — never sent. (So neither expiry nor STOP has to scan
 * the queue: they are applied to exactly the rows about to be sent.)
 */
int store_outbox_claim(struct tl_store *st, const char *channel, int64_t now_ms, size_t max,
                       struct tl_outbox_msg **msgs, size_t *n);
/*
 * The alert pool: the queue of the messages that any of several alert
 * channels may send ([alerts] channels; alerts_channel() names it when there
 * are two or more). A message queued to it keeps it in its row's pool;
 * whichever channel claims it becomes its channel, and a retry or a crash
 * puts it back in the pool, for any of them to send.
 */
#define TL_OUTBOX_POOL "*alerts"
/*
 * store_outbox_claim for a channel that also sends from pool (NULL: none):
 * up to max due messages of the channel's own queue and the pool's, merged
 * in queue order (priority, due time, id), at most pool_max of them from the
 * pool. A claimed pool message's channel becomes `channel`.
 */
int store_outbox_claim_pool(struct tl_store *st, const char *channel, const char *pool,
                            size_t pool_max, int64_t now_ms, size_t max,
                            struct tl_outbox_msg **msgs, size_t *n);
void store_outbox_msgs_free(struct tl_outbox_msg *msgs, size_t n);
/*
 * Records the outcomes of one request atomically (a savepoint: inside the
 * caller's transaction when one is open), then applies any delivery report
 * that arrived before the result (dlr_pending). PostgreSQL: a result
 * applies only to rows this store claimed; one for a row another node
 * claimed again after the lease changes nothing.
 */
int store_outbox_results(struct tl_store *st, const char *channel,
                         const struct tl_outbox_result *results, size_t n, int64_t now);
/*
 * The earliest next_attempt_ms of a channel's queued messages; 0 when none.
 * PostgreSQL: also the earliest lease end of its rows in flight, when a
 * dead node's rows become due.
 */
int64_t store_outbox_next_due(struct tl_store *st, const char *channel);
/*
 * How often a sender with nothing due looks for rows another node queued:
 * 0 = never (SQLite: one node, and a row queued here kicks its sender);
 * PostgreSQL: every 250 ms (a wave committed on one node kicks only its own
 * sender; the others join within that).
 */
int64_t store_idle_look_ms(struct tl_store *st);
/*
 * At start: messages left 'sending' by a crash go back to 'queued' (a pool's to
 * the pool). Returns how many, or -1.
 * Reads only the index of rows in 'sending' (outbox_sending), whatever the outbox's size.
 * PostgreSQL: those this node left (store_set_node) and those whose lease passed;
 * another live node's rows in flight stay 'sending'.
 */
int64_t store_outbox_recover(struct tl_store *st);

/* A delivery report, matched by the aggregator's id or by our outbox id. */
struct tl_outbox_dlr {
    const char *channel;
    const char *provider_id; /* or NULL */
    int64_t our_id;          /* or 0 */
    enum tl_outbox_state state; /* SENT (accepted), DELIVERED, FAILED, EXPIRED; QUEUED = unknown status */
    const char *status_raw;
    const char *error;
};
/*
 * Applies a delivery report: TL_OK when a message was updated (final states
 * are never overwritten by later, lesser reports); TL_ERR_NOT_FOUND when no
 * message matches yet — the report is then kept in dlr_pending and applied
 * when the send result arrives.
 */
int store_outbox_dlr(struct tl_store *st, const struct tl_outbox_dlr *d, int64_t now);
/* Where a pass over a table is: start zeroed; store_prune_cursor_clear frees it. */
struct tl_prune_cursor {
    int64_t id;       /* the last rowid (or provider_ids' outbox_id) stepped over */
    char *key, *key2; /* keyed tables: the last key stepped over (owned) */
};
void store_prune_cursor_clear(struct tl_prune_cursor *c);

/*
 * Provider ids are staged by send results (an append) and moved into their
 * index in key order (see migration 2). The daemon moves them off the hot
 * path in slices (prune.c): once STORE_PROVIDER_IDS_MOVE_AT wait
 * (store_provider_ids_staged), store_provider_ids_plan cuts the staged keys
 * in sorted order into slices of about `every` keys, placed by a sample
 * (*bounds: each slice's last key, the last one past every key; the caller
 * frees each with store_prune_cursor_clear, then the array), and each
 * store_provider_ids_move_range moves one slice (after, upto], a
 * transaction that rewrites only that key range of the index. Ids staged
 * meanwhile wait for the next move. (One move of 20,000 ids from a send
 * result held the loop 160-225 ms in bench-inbound.) PostgreSQL stages
 * nothing: a result's ids go into their index at once, staged is 0.
 */
#define STORE_PROVIDER_IDS_MOVE_AT 20000
int64_t store_provider_ids_staged(struct tl_store *st);
int store_provider_ids_plan(struct tl_store *st, size_t every, struct tl_prune_cursor **bounds,
                            size_t *n);
/* after NULL: from the first key. */
int store_provider_ids_move_range(struct tl_store *st, const struct tl_prune_cursor *after,
                                  const struct tl_prune_cursor *upto, int64_t *moved);
/* Forgets delivery reports that waited since before `before` for a message that never came. */
int64_t store_dlr_pending_prune(struct tl_store *st, int64_t before);
/* Messages now in the outbox in each state (index = enum tl_outbox_state); pruned ones are
 * counted by store_alert_counts. */
int store_outbox_counts(struct tl_store *st, int64_t counts[TL_OUTBOX_NSTATES]);

/* Messages of one alert (alert_id) in each state, on channel (NULL: any),
 * with those folded into outbox_tallies by pruning: every message it ever had. */
int store_alert_counts(struct tl_store *st, int64_t alert_id, const char *channel,
                       int64_t counts[TL_OUTBOX_NSTATES]);

/* ---- bounded growth (store_prune.c; prune.c drives it) ---- */

enum tl_prune_table {
    TL_PRUNE_OUTBOX = 0,       /* final messages, folded into outbox_tallies */
    TL_PRUNE_PROVIDER_IDS = 1, /* ids of messages no longer in the outbox (after it) */
    TL_PRUNE_INBOUND = 2,      /* messages of no case, rate-limited, or of redacted cases */
    TL_PRUNE_RATE_WINDOWS = 3, /* rate windows that ended */
};
#define TL_PRUNE_NTABLES 4

/*
 * One step of a pass over table t: looks at the next `rows` rows after the
 * cursor and deletes those due (outbox: final and last changed before cut,
 * of a case ended before cut or of none; provider ids: of no outbox row
 * (cut unused); inbound: received before cut, of no case, rate-limited, or
 * of a redacted case; rate windows: started before cut), in one transaction (a savepoint inside an open one). Returns
 * 1 (more rows follow), 0 (the pass over t is done; nothing was changed) or
 * -1 (store error; nothing was changed); *deleted gets the rows deleted.
 */
int store_prune_step(struct tl_store *st, enum tl_prune_table t, int64_t cut,
                     struct tl_prune_cursor *c, size_t rows, int64_t *deleted);
/* 1 when a case ended before sent_before that no pass went through exists, 0 if not, -1. */
int store_prune_due(struct tl_store *st, int64_t sent_before);
/* Marks the cases ended before sent_before as gone through by a pass. */
int store_prune_mark_cases(struct tl_store *st, int64_t sent_before, int64_t now);

/* ---- cases ---- */

struct tl_case {
    int64_t id;
    char case_no[8];      /* "" while a draft */
    char state[12];       /* draft, reported, active, found, closed, cancelled */
    char *reporter_phone; /* E.164; NULL once redacted */
    char lang[12];        /* the reporter's language: en, ur, roman-ur */
    char *channel;        /* where the reporter wrote */
    char *child_name;
    int age;              /* -1 unknown */
    char gender[8];       /* "", "male", "female" */
    char *area_code;      /* NULL while unknown */
    char *area_text;
    char *last_seen;
    char *description;
    char *contact;        /* a phone typed inside the report (police only), or NULL */
    char *close_reason;   /* CLOSE's reason, or NULL */
    double radius_km;
    int64_t created_at, updated_at, verified_at, closed_at;
    unsigned missing;     /* TL_FIELD_* bits still missing (drafts) */
    int asked;            /* times the current question was asked */
    int stage;            /* escalation stages done */
};

void store_case_clear(struct tl_case *c);
/* Inserts c (state, fields; case_no may be ""); sets c->id. */
int store_case_insert(struct tl_store *st, struct tl_case *c);
/* Writes every field of c back (by id). */
int store_case_update(struct tl_store *st, const struct tl_case *c);
/* Gives c a new unique six-digit case number (Damm-checked). */
int store_case_assign_number(struct tl_store *st, struct tl_case *c);
/* TL_OK, TL_ERR_NOT_FOUND or TL_ERR_STORE. */
int store_case_by_number(struct tl_store *st, const char *case_no, struct tl_case *out);
int store_case_by_id(struct tl_store *st, int64_t id, struct tl_case *out);
/* The phone's draft updated at or after `since`, if any. */
int store_case_open_draft(struct tl_store *st, const char *phone, int64_t since,
                          struct tl_case *out);
/* Active cases with fewer than `stages` escalation stages done (ids, caller frees). */
int store_cases_escalating(struct tl_store *st, int stages, int64_t **ids, size_t *n);
/*
 * Redacts the personal data of cases closed before `before`, and of drafts
 * abandoned since then, with every stored text that quotes them; returns how
 * many cases, or -1.
 */
int64_t store_cases_redact(struct tl_store *st, int64_t before, int64_t now);
int store_sighting_add(struct tl_store *st, int64_t case_id, const char *phone, const char *text,
                       int64_t now);
int store_inbound_set_case(struct tl_store *st, int64_t inbound_id, int64_t case_id);

/* ---- people ---- */

/* Creates or updates the subscriber row of phone (language, channel); sets *id. */
int store_subscriber_touch(struct tl_store *st, const char *phone, const char *lang,
                           const char *channel, int64_t now, int64_t *id);
/*
 * The saved language of phone ("" when unknown, into lang[12]) and, when
 * on_channel is not NULL, whether its saved channel is channel.
 */
int store_subscriber_lang(struct tl_store *st, const char *phone, const char *channel,
                          char lang[12], bool *on_channel);
/* Subscribes subscriber_id to area_code (once); does nothing while the number is opted out. */
/* The area codes a phone subscribed to, reported cases in or is police for
 * (at most 32; *codes and each string owned by the caller). */
int store_sender_areas(struct tl_store *st, const char *phone, char ***codes, size_t *n);
int store_subscription_add(struct tl_store *st, int64_t subscriber_id, const char *area_code,
                           int64_t now);
/* Removes one area (area_code) or all (NULL); returns how many, or -1. */
int64_t store_subscription_remove(struct tl_store *st, int64_t subscriber_id,
                                  const char *area_code);
int store_subscriber_set_opted_out(struct tl_store *st, const char *phone, bool opted_out,
                                   int64_t now);

struct tl_police {
    int64_t id;
    char *phone;
    char *area_code;
    char *pin_hash; /* NULL when no PIN */
};
int store_police_add(struct tl_store *st, const char *phone, const char *area_code,
                     const char *pin_hash, int64_t now);
int64_t store_police_remove(struct tl_store *st, const char *phone);
/* Every registration (phone NULL) or those of one phone. */
int store_police_list(struct tl_store *st, const char *phone, struct tl_police **out, size_t *n);
void store_police_free(struct tl_police *p, size_t n);

/*
 * PIN lockouts (migration 4; the rule is police.c's). store_pin_failure
 * counts a wrong PIN for key at now: a count whose first failure is older
 * than lock_s starts again; at max failures the key is locked until now +
 * lock_s, its count restarts, and *locked_until gets that time (else 0).
 * Returns TL_OK or TL_ERR_STORE.
 */
int store_pin_failure(struct tl_store *st, const char *key, int64_t max, int64_t lock_s,
                      int64_t now, int64_t *locked_until);
/* When key is locked at now: until when (> now); 0 when not; -1 on a store error. */
int64_t store_pin_locked_until(struct tl_store *st, const char *key, int64_t now);
/* Forgets key's wrong PINs and its lock. Rows removed (0 or 1), or -1. */
int64_t store_pin_clear(struct tl_store *st, const char *key);
/* Phones of police registered for any of area_codes (JSON array text), distinct. */
int store_police_phones_for(struct tl_store *st, const char *area_codes_json, char ***phones,
                            size_t *n);
void store_strings_free(char **v, size_t n);

bool store_blocked(struct tl_store *st, const char *phone);
int store_block(struct tl_store *st, const char *phone, const char *reason, int64_t now);
int64_t store_unblock(struct tl_store *st, const char *phone);
/*
 * Counts a hit of `kind` for phone in a fixed window of window_s seconds
 * (which starts at the first hit after the last window ended); returns the
 * hits in the current window including this one, or -1 on a store error.
 */
int64_t store_rate_hit(struct tl_store *st, const char *phone, const char *kind, int64_t now,
                       int64_t window_s);
int store_audit(struct tl_store *st, const char *actor, const char *action, int64_t case_id,
                const char *outcome, const char *detail, int64_t now);

/* ---- alerts ---- */

struct tl_alert_wave {
    int64_t case_id;
    const char *kind;            /* "alert", "escalation" */
    double radius_km;
    const char *area_codes_json; /* JSON array of the area codes in scope */
    const char *channel;         /* the alerts channel */
    const char *text_en, *text_ur, *text_roman_ur;
    int64_t expires_at;          /* 0 = never */
    /*
     * How much of the wave its own transaction queues: 0 = every
     * subscriber. Otherwise subscribers are read in chunks of this many
     * distinct phones (in phone order), and the transaction stops at the
     * end of the first chunk at which first_ms (monotonic milliseconds
     * since the call) have passed; what is left becomes the wave's fan-out
     * (store_wave_fanout), committed with it.
     */
    int64_t chunk;
    double first_ms;
};
/*
 * One broadcast wave, atomically (a savepoint: inside the caller's
 * transaction when one is open): records the alert with its texts, and
 * queues one outbox message for every police officer registered for the
 * areas in scope (priority 0, English) and every subscriber of them (an
 * opted-out number has no subscriptions), in the language saved when the
 * message is sent — each (case, phone) once ever. *recipients gets the
 * number newly queued. When w->chunk leaves subscribers unread, the rest
 * is recorded as the wave's fan-out, durable with the wave, and *more
 * (when not NULL) is set: store_wave_fanout queues it ahead of the sender.
 * (sqlite_wave.c, pg_wave.c)
 */
int store_alert_wave(struct tl_store *st, const struct tl_alert_wave *w, int64_t now,
                     int64_t *alert_id, int64_t *recipients, bool *more);

/* What one call of store_wave_fanout did. */
struct tl_fanout_step {
    bool ran;         /* a wave's next chunk was due and was read */
    int64_t alert_id; /* that wave's alert */
    int64_t queued;   /* outbox rows it queued (phones alerted before are skipped) */
    bool finished;    /* that wave has no subscribers left to read (or it expired) */
    bool pending;     /* some wave still has a fan-out, due or not */
};
/*
 * The fan-out of the waves that store_alert_wave left unfinished, one
 * chunk per call, in its own transaction: takes the oldest wave whose
 * chunk before the last the sender has reached (the first row that chunk
 * queued is no longer queued-untried, or there is none: two chunks are
 * queued ahead of the sender then), reads its next `chunk`
 * subscribers after the last phone read, queues their alert rows exactly
 * as the wave would have (each (case, phone) once: STOP and subscriptions
 * as they are now), and moves its cursor — or ends the fan-out when no
 * subscriber is left or the alert's expiry has passed. Across nodes
 * (PostgreSQL) a wave's fan-out row is locked while a node reads its chunk,
 * and another node skips it. TL_OK or TL_ERR_STORE (nothing changed).
 */
int store_wave_fanout(struct tl_store *st, int64_t chunk, int64_t now,
                      struct tl_fanout_step *out);
/*
 * The end of a case (call inside store_tx_begin): ends its waves' fan-out, cancels its queued alert messages and queues `update`
 * texts (per language) to everyone whose alert was sent. *cancelled and
 * *recipients get the counts.
 */
int store_alert_end(struct tl_store *st, int64_t case_id, const char *channel,
                    const char *text_en, const char *text_ur, const char *text_roman_ur,
                    int64_t now, int64_t *cancelled, int64_t *recipients);

/* ---- USSD sessions ---- */

struct tl_ussd_session {
    char *phone;
    char *state;      /* the menu state name */
    char *data;       /* JSON of what the session collected */
    char *last_input; /* the input (AT: the whole '*' path) last answered */
    char *last_reply; /* the screen last sent, with its CON/END flag in data */
    int64_t expires_at;
};
void store_ussd_session_clear(struct tl_ussd_session *s);
/* TL_OK, TL_ERR_NOT_FOUND or TL_ERR_STORE. */
int store_ussd_session_get(struct tl_store *st, const char *channel, const char *session_id,
                           struct tl_ussd_session *out);
int store_ussd_session_put(struct tl_store *st, const char *channel, const char *session_id,
                           const struct tl_ussd_session *s, int64_t now);
/* Deletes sessions expired before now; returns how many, or -1. */
int64_t store_ussd_sessions_expire(struct tl_store *st, int64_t now);

#endif
