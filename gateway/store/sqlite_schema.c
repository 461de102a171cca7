/*
 * sqlite_schema.c — (SQLite backend) the SQL of every migration (see store_schema.h).
 *
 * Invariants the schema itself enforces, so they hold by construction and
 * not by luck:
 *   - an inbound message is stored once per (channel, provider id): an
 *     aggregator's retry hits the UNIQUE constraint and is only acknowledged;
 *   - a person gets an alert of a case once: the unique index
 *     outbox_alert_once on (case_id, phone) of alert rows;
 *   - outbox states and case states are closed sets (CHECK constraints).
 *     Every closed set is an OR chain, not an IN list: SQLite 3.40 builds
 *     an IN list's lookup table afresh for each row a CHECK tests, which
 *     made a wave's million inserts 1.4 s slower and every single-row
 *     insert or update (an inbound message, its state) dearer.
 * A released migration is never changed in what it does, only added to:
 * migration 1 is the first release's schema (its closed sets since written
 * as the equivalent OR chains; the release's own stores keep IN lists,
 * which only check more slowly).
 * Times are unix seconds (INTEGER), except the outbox's next_attempt_ms,
 * in milliseconds so retries and rate limits can be finer than a second.
 * Phone numbers are E.164 text.
 */
#include "gateway/store/sqlite_schema.h"

/* Each statement is its own literal (C11 caps one literal at 4095 bytes). */
static const char *const migration_1[] = {
    /* Areas mirrored from the gazetteer at start, for SQL joins in targeting. */
    "CREATE TABLE areas ("
    "  code TEXT PRIMARY KEY,"
    "  name_en TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  parent_code TEXT,"
    "  lat REAL NOT NULL,"
    "  lon REAL NOT NULL"
    ");"

    /* Every message an aggregator delivered to us, stored before we answer. */
    ,
    "CREATE TABLE inbound ("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL,"
    "  provider_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind = 'sms' OR kind = 'ussd'),"
    "  phone TEXT NOT NULL,"
    "  to_addr TEXT,"
    "  text TEXT NOT NULL,"
    "  received_at INTEGER NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'received'"
    "    CHECK (state = 'received' OR state = 'processed' OR state = 'limited'"
    "    OR state = 'blocked' OR state = 'failed'),"
    "  processed_at INTEGER,"
    "  case_id INTEGER,"  /* the case a report or answer made or completed */
    "  UNIQUE (channel, provider_id)"
    ");"

    /* Volunteers, police and reporters alike: one row per phone number. */
    ,
    "CREATE TABLE subscribers ("
    "  id INTEGER PRIMARY KEY,"
    "  phone TEXT NOT NULL UNIQUE,"
    "  lang TEXT NOT NULL DEFAULT 'en' CHECK (lang = 'en' OR lang = 'ur' OR lang = 'roman-ur'),"
    "  channel TEXT,"
    "  opted_out INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");"
    ,
    "CREATE TABLE subscriptions ("
    "  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,"
    "  area_code TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (subscriber_id, area_code)"
    ") WITHOUT ROWID;"
    ,
    "CREATE INDEX subscriptions_by_area ON subscriptions(area_code, subscriber_id);"

    ,
    "CREATE TABLE police ("
    "  id INTEGER PRIMARY KEY,"
    "  phone TEXT NOT NULL,"
    "  area_code TEXT NOT NULL,"
    "  pin_hash TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (phone, area_code)"
    ");"
    ,
    "CREATE INDEX police_by_area ON police(area_code);"

    ,
    "CREATE TABLE blocklist ("
    "  phone TEXT PRIMARY KEY,"
    "  reason TEXT,"
    "  created_at INTEGER NOT NULL"
    ");"

    /* A case is a draft until its required fields are known. */
    ,
    "CREATE TABLE cases ("
    "  id INTEGER PRIMARY KEY,"
    "  case_no TEXT UNIQUE,"
    "  state TEXT NOT NULL CHECK (state = 'draft' OR state = 'reported'"
    "    OR state = 'active' OR state = 'found' OR state = 'closed' OR state = 'cancelled'),"
    "  reporter_phone TEXT,"
    "  reporter_lang TEXT NOT NULL DEFAULT 'en',"
    "  channel TEXT,"
    "  child_name TEXT,"
    "  age INTEGER,"
    "  gender TEXT CHECK (gender = 'male' OR gender = 'female'),"
    "  area_code TEXT,"
    "  area_text TEXT,"
    "  last_seen TEXT,"
    "  description TEXT,"
    "  contact TEXT,"  /* a phone typed inside the report: for police only */
    "  radius_km REAL NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  verified_at INTEGER,"
    "  verified_by TEXT,"
    "  closed_at INTEGER,"
    "  close_reason TEXT,"
    "  redacted_at INTEGER,"
    "  missing INTEGER NOT NULL DEFAULT 0,"  /* a draft's missing fields (TL_FIELD_* bits) */
    "  asked INTEGER NOT NULL DEFAULT 0,"    /* times the current question was asked */
    "  stage INTEGER NOT NULL DEFAULT 0"     /* escalation stages done */
    ");"
    ,
    "CREATE INDEX cases_by_state ON cases(state);"
    ,
    "CREATE INDEX cases_by_reporter ON cases(reporter_phone, state);"

    ,
    "CREATE TABLE sightings ("
    "  id INTEGER PRIMARY KEY,"
    "  case_id INTEGER NOT NULL REFERENCES cases(id),"
    "  phone TEXT,"
    "  text TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ");"

    /*
     * One row per broadcast wave (first alert, each escalation, the closing
     * update), with its text in each language: the wave's outbox rows carry
     * only alert_id and lang, so a million of them stay small.
     */
    ,
    "CREATE TABLE alerts ("
    "  id INTEGER PRIMARY KEY,"
    "  case_id INTEGER NOT NULL REFERENCES cases(id),"
    "  kind TEXT NOT NULL CHECK (kind = 'alert' OR kind = 'escalation' OR kind = 'update'),"
    "  radius_km REAL NOT NULL DEFAULT 0,"
    "  text_en TEXT NOT NULL,"
    "  text_ur TEXT NOT NULL,"
    "  text_roman_ur TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ");"

    /*
     * The durable send queue: a row exists before any request is made. A
     * bulk row has text NULL and takes its wave's text in its lang. The ids
     * of case, alert and inbound are plain integers, not foreign keys: a
     * wave inserts a million rows, and three parent lookups each cost more
     * than the rows themselves. "Each person gets an alert of a case once"
     * is the unique index outbox_alert_once. The closed sets of kind and
     * state are OR chains (see the top of this file).
     */
    ,
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL,"
    "  phone TEXT NOT NULL,"
    "  text TEXT,"
    "  lang TEXT,"
    "  kind TEXT NOT NULL CHECK (kind = 'police' OR kind = 'reply' OR kind = 'alert'"
    "    OR kind = 'update'),"
    "  priority INTEGER NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued' CHECK (state = 'queued' OR state = 'sending'"
    "    OR state = 'sent' OR state = 'delivered' OR state = 'failed' OR state = 'expired'"
    "    OR state = 'cancelled'),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_ms INTEGER NOT NULL,"  /* unix milliseconds */
    "  expires_at INTEGER,"
    "  provider_id TEXT,"
    "  dlr_status TEXT,"
    "  error TEXT,"
    "  case_id INTEGER,"
    "  alert_id INTEGER,"
    "  inbound_id INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  CHECK (text IS NOT NULL OR alert_id IS NOT NULL)"
    ");"
    ,
    "CREATE INDEX outbox_due ON outbox(channel, priority, next_attempt_ms, id)"
    "  WHERE state = 'queued';"
    ,
    "CREATE INDEX outbox_by_provider_id ON outbox(channel, provider_id)"
    "  WHERE provider_id IS NOT NULL;"
    ,
    "CREATE UNIQUE INDEX outbox_alert_once ON outbox(case_id, phone) WHERE kind = 'alert';"

    /* Delivery reports that arrived before their send result was stored. */
    ,
    "CREATE TABLE dlr_pending ("
    "  channel TEXT NOT NULL,"
    "  provider_id TEXT NOT NULL,"
    "  status_raw TEXT,"
    "  state TEXT NOT NULL,"
    "  error TEXT,"
    "  received_at INTEGER NOT NULL,"
    "  PRIMARY KEY (channel, provider_id)"
    ") WITHOUT ROWID;"

    ,
    "CREATE TABLE ussd_sessions ("
    "  channel TEXT NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  phone TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  data TEXT,"
    "  last_input TEXT,"
    "  last_reply TEXT,"
    "  updated_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  PRIMARY KEY (channel, session_id)"
    ") WITHOUT ROWID;"

    /* Every police and operator action, allowed or refused. */
    ,
    "CREATE TABLE audit_log ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  case_id INTEGER,"
    "  outcome TEXT NOT NULL,"
    "  detail TEXT"
    ");"

    /* Per-number counters for rate limits (replaced by rate_windows in migration 2). */
    ,
    "CREATE TABLE rate_events ("
    "  phone TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  at INTEGER NOT NULL"
    ");"
    ,
    "CREATE INDEX rate_events_by_phone ON rate_events(phone, kind, at);",
    NULL,
};

/*
 * Migration 2: the speed work after the first release, for new stores and
 * for the release's own (tests/fixtures/store/v1-release.sql).
 *
 * Subscriptions shaped for alert waves (store_wave.c): each carries its
 * subscriber's phone (a subscriber's number never changes), and
 * subscriptions_by_area is (area_code, phone), so an area's subscribers are
 * one range of the index, in phone order, with no join to subscribers. An
 * opted-out number has no subscriptions: STOP removes them, and the trigger
 * makes it hold whatever sets opted_out, so a wave need not look.
 */
static const char *const migration_2[] = {
    "CREATE TABLE subscriptions_2 ("
    "  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,"
    "  area_code TEXT NOT NULL,"
    "  phone TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (subscriber_id, area_code)"
    ") WITHOUT ROWID;"
    ,
    "INSERT INTO subscriptions_2 (subscriber_id, area_code, phone, created_at)"
    "  SELECT sb.subscriber_id, sb.area_code, s.phone, sb.created_at"
    "  FROM subscriptions sb JOIN subscribers s ON s.id = sb.subscriber_id"
    "  WHERE s.opted_out = 0;"
    ,
    "DROP TABLE subscriptions;"
    ,
    "ALTER TABLE subscriptions_2 RENAME TO subscriptions;"
    ,
    "CREATE INDEX subscriptions_by_area ON subscriptions(area_code, phone);"
    ,
    "CREATE TRIGGER subscriptions_end_at_opt_out AFTER UPDATE OF opted_out ON subscribers"
    "  WHEN new.opted_out <> 0"
    "  BEGIN DELETE FROM subscriptions WHERE subscriber_id = new.id; END;"
    ,
    /*
     * The aggregators' message ids, for matching delivery reports. The ids
     * come in no order, and inserting each into an index as its send result
     * is stored rewrites about one index page per message. So a result only
     * appends (channel, provider_id, outbox_id) to provider_ids_staged
     * (rowid order: cheap), and the staged ids are moved into provider_ids
     * in key order in one statement, thousands at a time, which rewrites
     * each index page once per move (store_outbox.c). A delivery report
     * that finds no id moves the staged ones first, so it never misses a
     * staged id. The outbox row keeps its latest provider_id, which a report
     * must also match (an older attempt's id no longer applies).
     */
    "CREATE TABLE provider_ids ("
    "  channel TEXT NOT NULL,"
    "  provider_id TEXT NOT NULL,"
    "  outbox_id INTEGER NOT NULL,"
    "  PRIMARY KEY (channel, provider_id, outbox_id)"
    ") WITHOUT ROWID;"
    ,
    "CREATE TABLE provider_ids_staged ("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL,"
    "  provider_id TEXT NOT NULL,"
    "  outbox_id INTEGER NOT NULL"
    ");"
    ,
    "INSERT INTO provider_ids (channel, provider_id, outbox_id)"
    "  SELECT channel, provider_id, id FROM outbox WHERE provider_id IS NOT NULL;"
    ,
    "DROP INDEX outbox_by_provider_id;"

    /*
     * Per-number rate limits as fixed windows: one row per (phone, kind)
     * with the window's start and its count, so a message costs two
     * statements and the table never grows past the numbers that wrote.
     * The events counted so far are dropped: limits start afresh once.
     */
    ,
    "DROP TABLE rate_events;"
    ,
    "CREATE TABLE rate_windows ("
    "  phone TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  window_start INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (phone, kind)"
    ") WITHOUT ROWID;",
    NULL,
};

/*
 * Migration 3: the operator API (gateway/api.c, store_api.c).
 *
 * A case's police notices and closing updates found by index (its alert
 * rows already are, by outbox_alert_once): partial indexes on exactly the
 * kinds they hold, so a wave's million alert rows pay nothing for them.
 * The audit of one case by index. And the answers to API requests that
 * carried an Idempotency-Key, so a client's retry gets the first answer
 * instead of acting twice (kept a day).
 */
static const char *const migration_3[] = {
    "CREATE INDEX outbox_updates_by_case ON outbox(case_id) WHERE kind = 'update';"
    ,
    "CREATE INDEX outbox_police_by_case ON outbox(case_id) WHERE kind = 'police';"
    ,
    "CREATE INDEX audit_by_case ON audit_log(case_id) WHERE case_id IS NOT NULL;"
    ,
    "CREATE TABLE api_idempotency ("
    "  token TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  method TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  body TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (token, key)"
    ") WITHOUT ROWID;",
    NULL,
};

/*
 * Migration 4 (issue #14): PIN lockouts. Wrong PINs are counted per key —
 * "phone:<E.164>" for the number that sent them and "reg:<police.id>" for
 * the registration they were tried against — within lockout seconds of the
 * first (first_at); at [limits] pin_attempts the key is locked until
 * locked_until and its count starts again. A right PIN or an operator's
 * unlock (police_unlock) deletes the rows. (gateway/police.c)
 */
static const char *const migration_4[] = {
    "CREATE TABLE pin_lockouts ("
    "  key TEXT PRIMARY KEY,"
    "  failures INTEGER NOT NULL,"
    "  first_at INTEGER NOT NULL,"
    "  locked_until INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    NULL,
};

/*
 * Migration 5 (issue #15): bounded growth (prune.c, store_prune.c). Sent, delivered,
 * failed, expired and cancelled outbox rows of ended cases are deleted
 * keep_sent after the case ended (rows tied to no case keep_sent after
 * their last change); before they go, they are added to outbox_tallies,
 * one row per (case, alert, kind, channel, state) with its count, so the
 * figures of every alert stay. cases.outbox_pruned_at marks a case whose
 * rows a pruning pass has been through (it starts a pass only for a case
 * not yet marked). outbox_sending indexes only the rows that can be in
 * flight, so start-up recovery reads those and not the whole outbox (at
 * 10M rows: a scan of seconds, now an index of at most a few thousand).
 */
static const char *const migration_5[] = {
    "CREATE TABLE outbox_tallies ("
    "  case_id INTEGER NOT NULL,"  /* 0: none */
    "  alert_id INTEGER NOT NULL," /* 0: none */
    "  kind TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (case_id, alert_id, kind, channel, state)"
    ") WITHOUT ROWID;"
    ,
    "ALTER TABLE cases ADD COLUMN outbox_pruned_at INTEGER;"
    ,
    "CREATE INDEX outbox_sending ON outbox(id) WHERE state = 'sending';",
    NULL,
};

/*
 * Migration 6: the public feed (store_feed.c, issue #11). A case's waves
 * are read by case (alerts had no index but its primary key), and the
 * cases that ended in the last 24 hours by closed_at, so the feed reads
 * index ranges however long the history grows.
 */
static const char *const migration_6[] = {
    "CREATE INDEX alerts_by_case ON alerts(case_id, id);"
    ,
    "CREATE INDEX cases_by_closed ON cases(closed_at) WHERE closed_at IS NOT NULL;",
    NULL,
};

/*
 * Migration 7 (issue #12): several aggregator accounts for one alert. A row
 * queued to the alert pool ([alerts] channels, TL_OUTBOX_POOL) keeps the
 * pool here while its channel becomes the account that claimed it
 * (store_outbox_claim_pool); a retry, a resend or a crash's recovery puts it
 * back (channel = coalesce(pool, channel)). NULL for every other row. No
 * index: the pool's queue is the channel TL_OUTBOX_POOL in outbox_due.
 */
static const char *const migration_7[] = {
    "ALTER TABLE outbox ADD COLUMN pool TEXT;",
    NULL,
};

/*
 * Migration 8 (issue #15, the inbound tail): the provider-id mover cuts
 * provider_ids_staged into key ranges (store_provider_ids_plan) and moves
 * one range per step. Without an index on that key every step's
 * INSERT ... SELECT and DELETE scanned the whole staging table (up to 27 ms
 * a step under bench-inbound, on the loop). The index keeps a step to its
 * slice and its rows already in key order; staging stays small (bounded by
 * the mover and PROVIDER_IDS_MOVE_BACKSTOP), so its index stays in cache
 * and a send result still appends cheaply.
 */
static const char *const migration_8[] = {
    "CREATE INDEX provider_ids_staged_by_key"
    "  ON provider_ids_staged(channel, provider_id, outbox_id);",
    NULL,
};

/*
 * Migration 9 (issue #12, a national wave): the fan-out of a wave too big
 * for its own transaction (sqlite_wave.c). The wave's transaction queues
 * its first chunks and records here where it stopped; the daemon queues the
 * rest in chunks ahead of the sender (store_wave_fanout), each chunk with
 * the move of the cursor in one transaction, so a crash resumes after the
 * last committed chunk and the unique outbox_alert_once keeps each person
 * to one alert. after_phone: the last phone read (the merge's cursor);
 * last_first_id: the first outbox row the last chunk queued; mark_id: the
 * first row of the chunk before it (NULL: none, or it queued none). The
 * next chunk is due once the sender has taken the mark: two chunks are
 * still queued then, more than the senders of every node hold in flight.
 */
static const char *const migration_9[] = {
    "CREATE TABLE wave_fanout ("
    "  alert_id INTEGER PRIMARY KEY,"
    "  case_id INTEGER NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  area_codes TEXT NOT NULL,"
    "  expires_at INTEGER,"
    "  after_phone TEXT NOT NULL,"
    "  mark_id INTEGER,"
    "  last_first_id INTEGER"
    ");",
    "CREATE INDEX wave_fanout_by_case ON wave_fanout(case_id);",
    NULL,
};

const char *const *const store_migrations[] = {migration_1, migration_2, migration_3,
                                                migration_4, migration_5, migration_6,
                                                migration_7, migration_8, migration_9};
const size_t store_nmigrations = sizeof(store_migrations) / sizeof(store_migrations[0]);
