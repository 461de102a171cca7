/*
 * sqlite.c — the SQLite backend: opening, migrating and checking the store, and the
 * inbound-message table. Prepared statements are compiled once per
 * connection and kept in struct tl_store (store_int.h) for the hot paths.
 * WAL checkpoints run on a thread of their own (store_checkpoint.c).
 * sqlite_backup copies a store (also one a daemon is writing) into a file.
 */
#include "gateway/store/store.h"
#include "gateway/store/sqlite_int.h"
#include "gateway/store/sqlite_schema.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct tl_store_ops sqlite_store_ops = {.name = "sqlite", STORE_OPS_ENTRIES};

static int exec_sql(struct tl_store *st, const char *sql)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? TL_OK : TL_ERR_STORE;
}

static int pragma_int(struct tl_store *st, const char *sql, int *out)
{
    sqlite3_stmt *s;
    int rc = TL_ERR_STORE;

    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return TL_ERR_STORE;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *out = sqlite3_column_int(s, 0);
        rc = TL_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

static int migrate(struct tl_store *st, char **cause)
{
    int version;
    int latest = (int)store_nmigrations;

    if (pragma_int(st, "PRAGMA user_version", &version) != TL_OK) {
        *cause = xasprintf("reading schema version: %s", sqlite3_errmsg(st->db));
        return TL_ERR_STORE;
    }
    if (version > latest) {
        *cause = xasprintf("store schema version %d is newer than this binary's %d; "
                           "run a newer talaash or restore a backup",
                           version, latest);
        return TL_ERR_SCHEMA;
    }
    if (version == latest)
        return TL_OK;
    if (exec_sql(st, "BEGIN IMMEDIATE") != TL_OK) {
        *cause = xasprintf("starting migration: %s", sqlite3_errmsg(st->db));
        return TL_ERR_STORE;
    }
    for (int v = version; v < latest; v++) {
        for (const char *const *sql = store_migrations[v]; *sql != NULL; sql++) {
            if (exec_sql(st, *sql) != TL_OK) {
                *cause = xasprintf("migration %d: %s", v + 1, sqlite3_errmsg(st->db));
                exec_sql(st, "ROLLBACK");
                return TL_ERR_STORE;
            }
        }
    }
    char pragma[64];
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", latest);
    if (exec_sql(st, pragma) != TL_OK || exec_sql(st, "COMMIT") != TL_OK) {
        *cause = xasprintf("finishing migration: %s", sqlite3_errmsg(st->db));
        exec_sql(st, "ROLLBACK");
        return TL_ERR_STORE;
    }
    return TL_OK;
}

int store_prepare(struct tl_store *st, sqlite3_stmt **slot, const char *sql)
{
    if (*slot != NULL) {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
        return TL_OK;
    }
    return sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) ==
                   SQLITE_OK
               ? TL_OK
               : TL_ERR_STORE;
}

sqlite3_stmt *store_stmt(struct tl_store *st, const char *sql)
{
    for (size_t i = 0; i < st->ncache; i++) {
        if (st->cache[i].sql == sql) {
            sqlite3_reset(st->cache[i].stmt);
            sqlite3_clear_bindings(st->cache[i].stmt);
            return st->cache[i].stmt;
        }
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
        return NULL;
    if (st->ncache < STORE_STMT_CACHE) {
        st->cache[st->ncache].sql = sql;
        st->cache[st->ncache].stmt = s;
        st->ncache++;
    } else {
        abort(); /* raise STORE_STMT_CACHE: every statement here is a literal in the code */
    }
    return s;
}

char *store_column_dup(sqlite3_stmt *s, int i)
{
    const char *v = (const char *)sqlite3_column_text(s, i);

    return v ? xstrdup(v) : NULL;
}

int store_step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

void store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

int sqlite_open(const char *path, long busy_timeout_ms, struct tl_store **out, char **cause)
{
    struct tl_store *st = xcalloc(1, sizeof(*st));
    char *why = NULL;
    int rc;

    st->ops = &sqlite_store_ops;
    /*
     * Before SQLite's first use (later calls fail harmlessly): no global
     * allocation statistics, whose mutex every malloc of SQLite would take.
     * Each connection belongs to one thread (the checkpointer has its own),
     * so connections need no mutex of their own either (NOMUTEX).
     */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        if (cause != NULL)
            *cause = xasprintf("%s: %s", path, st->db ? sqlite3_errmsg(st->db) : "cannot open");
        sqlite_close(st);
        return TL_ERR_STORE;
    }
    st->busy_timeout_ms = (int)busy_timeout_ms;
    sqlite3_busy_timeout(st->db, st->busy_timeout_ms);
    sqlite3_extended_result_codes(st->db, 1);
    /*
     * 8 KiB pages for a new store (an existing one keeps its own: the size
     * is fixed once the file is in WAL mode). A broadcast wave writes a
     * million rows into three b-trees and pays per page: a WAL frame (two
     * writes), a cache slot, a split. On a wave alone 4 KiB pages took
     * 1.29 s, 8 KiB 1.01 s, 16 KiB 0.93 s; but 16 KiB made every small
     * commit (an inbound message) write twice the bytes, and bench-inbound
     * lost ~20 %, where 8 KiB lost nothing measurable.
     *
     * WAL: readers never block the writer; synchronous=NORMAL is durable
     * against process crashes (kill -9) at every commit and against power
     * loss up to the last checkpointed commit. FULL would fsync every commit.
     */
    if (exec_sql(st, "PRAGMA page_size=8192") != TL_OK ||
        exec_sql(st, "PRAGMA journal_mode=WAL") != TL_OK ||
        exec_sql(st, "PRAGMA synchronous=NORMAL") != TL_OK ||
        exec_sql(st, "PRAGMA foreign_keys=ON") != TL_OK) {
        if (cause != NULL)
            *cause = xasprintf("%s: %s", path, sqlite3_errmsg(st->db));
        sqlite_close(st);
        return TL_ERR_STORE;
    }
    rc = migrate(st, &why);
    if (rc != TL_OK) {
        if (cause != NULL)
            *cause = xasprintf("%s: %s", path, why);
        free(why);
        sqlite_close(st);
        return rc;
    }
    store_checkpointer_start(st, path); /* on failure SQLite checkpoints at commit, as usual */
    *out = st;
    return TL_OK;
}

void sqlite_close(struct tl_store *st)
{
    if (st == NULL)
        return;
    store_checkpointer_stop(st);
    sqlite3_stmt **stmts = (sqlite3_stmt **)&st->stmts;
    for (size_t i = 0; i < sizeof(st->stmts) / sizeof(sqlite3_stmt *); i++)
        sqlite3_finalize(stmts[i]);
    for (size_t i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].stmt);
    sqlite3_close(st->db);
    free(st);
}

int sqlite_ping(struct tl_store *st)
{
    sqlite3_stmt *s = NULL;
    int rc = TL_ERR_STORE;

    if (store_prepare(st, &st->stmts.ping, "SELECT count(*) FROM sqlite_schema") != TL_OK)
        return TL_ERR_STORE;
    s = st->stmts.ping;
    if (sqlite3_step(s) == SQLITE_ROW)
        rc = TL_OK;
    sqlite3_reset(s);
    return rc;
}

int sqlite_schema_version(struct tl_store *st)
{
    int v = -1;

    pragma_int(st, "PRAGMA user_version", &v);
    return v;
}

int sqlite_schema_latest(void)
{
    return (int)store_nmigrations;
}

int sqlite_integrity_check(struct tl_store *st, char **cause)
{
    sqlite3_stmt *s;
    int rc = TL_ERR_STORE;

    if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK)
        return TL_ERR_STORE;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (r != NULL && strcmp(r, "ok") == 0)
            rc = TL_OK;
        else if (cause != NULL)
            *cause = xstrdup(r ? r : "(null)");
    }
    sqlite3_finalize(s);
    return rc;
}

/* Opens a file as a bare SQLite connection (no migration, no checkpointer). */
static int backup_open(const char *path, int flags, long busy_timeout_ms, sqlite3 **db,
                       char **cause)
{
    if (sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        *cause = xasprintf("%s: %s", path, *db ? sqlite3_errmsg(*db) : "cannot open");
        return TL_ERR_STORE;
    }
    sqlite3_busy_timeout(*db, (int)busy_timeout_ms);
    return TL_OK;
}

/* The copy checks out: integrity_check is "ok" and it has a schema version. */
static int backup_verify(sqlite3 *db, const char *name, int *version, char **cause)
{
    sqlite3_stmt *s = NULL;
    const char *r = NULL;
    char *report = NULL;

    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        r = (const char *)sqlite3_column_text(s, 0);
    if (r == NULL || strcmp(r, "ok") != 0)
        report = xstrdup(r ? r : sqlite3_errmsg(db));
    sqlite3_finalize(s);
    if (report != NULL) {
        *cause = xasprintf("%s: the copy fails integrity_check: %s", name, report);
        free(report);
        return TL_ERR_STORE;
    }
    *version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        *version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (*version <= 0) {
        *cause = xasprintf("%s: the copy has no schema version (is the source a store?)", name);
        return TL_ERR_STORE;
    }
    return TL_OK;
}

/* fsync of the directory holding path, so a rename into it is durable. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? xstrdup(".")
                : slash == path ? xstrdup("/")
                                : xstrndup(path, (size_t)(slash - path));
    int fd = open(dir, O_RDONLY | O_DIRECTORY);

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/*
 * SQLite's online backup in one step (-1): the whole copy is made inside one
 * read transaction on the source, so it is the store as of one commit, and
 * a daemon writing meanwhile is neither blocked (WAL: readers never block
 * the writer, and our checkpoints are PASSIVE) nor restarts the copy, as
 * step-by-step copying would after each of its commits. The copy is written
 * to DEST.tmp (mode 0600: it holds personal data), checked, and renamed over
 * dest; the source is opened read-write without CREATE, like any connection
 * of the daemon, so a store left with a WAL by a crash is read in full.
 */
int sqlite_backup(const char *path, const char *dest, long busy_timeout_ms, int64_t *pages,
                 int *version, char **cause)
{
    sqlite3 *src = NULL, *dst = NULL;
    char *tmp = xasprintf("%s.tmp", dest);
    int rc = TL_ERR_STORE;

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        *cause = xasprintf("%s: %s", tmp, strerror(errno));
        free(tmp);
        return TL_ERR_IO;
    }
    close(fd);
    if (backup_open(path, SQLITE_OPEN_READWRITE, busy_timeout_ms, &src, cause) != TL_OK ||
        backup_open(tmp, SQLITE_OPEN_READWRITE, busy_timeout_ms, &dst, cause) != TL_OK)
        goto out;
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL) {
        *cause = xasprintf("%s: %s", dest, sqlite3_errmsg(dst));
        goto out;
    }
    int step;
    int waited_ms = 0;
    while ((step = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || step == SQLITE_LOCKED) {
        if (waited_ms >= busy_timeout_ms)
            break;
        sqlite3_sleep(50);
        waited_ms += 50;
    }
    *pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    if (step != SQLITE_DONE) {
        *cause = xasprintf("%s: backup: %s", path, sqlite3_errstr(step));
        goto out;
    }
    if (backup_verify(dst, dest, version, cause) != TL_OK)
        goto out;
    /* The copy's journal mode is DELETE: its commit was fsynced (synchronous=FULL). */
    if (sqlite3_close(dst) != SQLITE_OK) {
        *cause = xasprintf("%s: closing the copy failed", tmp);
        goto out;
    }
    dst = NULL;
    if (rename(tmp, dest) != 0) {
        *cause = xasprintf("%s: %s", dest, strerror(errno));
        rc = TL_ERR_IO;
        goto out;
    }
    sync_parent_dir(dest);
    rc = TL_OK;
out:
    if (dst != NULL)
        sqlite3_close(dst);
    if (src != NULL)
        sqlite3_close(src);
    if (rc != TL_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* A transaction-control statement, prepared once: these run several times per request. */
static int tx_sql(struct tl_store *st, const char *sql)
{
    sqlite3_stmt *s = store_stmt(st, sql);

    return s != NULL ? store_step_done(s) : TL_ERR_STORE;
}

/*
 * Transactions nest: the outermost level is BEGIN IMMEDIATE … COMMIT, an
 * inner level a savepoint, so a unit of work (one callback, one claim) can
 * run alone or inside a group commit (group.c) and undo only itself. When
 * SQLite itself ended the transaction (it rolls back on some errors), the
 * depth is reset so the next begin starts afresh.
 */
/* Records the outcome of an outermost begin or commit (sqlite_writable). */
static void note_write(struct tl_store *st, bool ok, const char *why)
{
    char reason[sizeof(st->health.unwritable)];

    if (ok) {
        if (store_health_note(&st->health, true, NULL))
            sqlite3_busy_timeout(st->db, st->busy_timeout_ms);
        return;
    }
    int code = sqlite3_extended_errcode(st->db);
    const char *msg = sqlite3_errmsg(st->db), *str = sqlite3_errstr(code);
    if (strcmp(msg, str) == 0)
        snprintf(reason, sizeof(reason), "%s: %s", why, msg);
    else
        snprintf(reason, sizeof(reason), "%s: %s (%s)", why, msg, str);
    if (store_health_note(&st->health, false, reason) &&
        st->busy_timeout_ms > STORE_BUSY_UNWRITABLE_MS)
        sqlite3_busy_timeout(st->db, STORE_BUSY_UNWRITABLE_MS);
}

int sqlite_tx_begin(struct tl_store *st)
{
    if (st->tx_depth > 0 && sqlite3_get_autocommit(st->db))
        st->tx_depth = 0;
    if (tx_sql(st, st->tx_depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT nested") != TL_OK) {
        if (st->tx_depth == 0)
            note_write(st, false, "cannot begin a write");
        return TL_ERR_STORE;
    }
    st->tx_depth++;
    return TL_OK;
}

int sqlite_tx_commit(struct tl_store *st)
{
    if (st->tx_depth == 0 || sqlite3_get_autocommit(st->db)) {
        if (st->tx_depth > 0)
            note_write(st, false, "write rolled back by SQLite");
        st->tx_depth = 0;
        return TL_ERR_STORE; /* nothing to commit: the transaction is gone */
    }
    if (tx_sql(st, st->tx_depth == 1 ? "COMMIT" : "RELEASE nested") != TL_OK) {
        if (st->tx_depth == 1)
            note_write(st, false, "cannot commit");
        return TL_ERR_STORE; /* still open: the caller rolls back */
    }
    if (st->tx_depth == 1)
        note_write(st, true, NULL);
    st->tx_depth--;
    return TL_OK;
}

bool sqlite_writable(struct tl_store *st, const char **reason)
{
    return store_health_writable(&st->health, reason);
}

int sqlite_write_probe(struct tl_store *st)
{
    char sql[64];

    if (st->tx_depth > 0 && !sqlite3_get_autocommit(st->db))
        return TL_OK;
    int version = sqlite_schema_version(st);
    if (version < 0)
        return TL_ERR_STORE;
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
    if (sqlite_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if (exec_sql(st, sql) != TL_OK || sqlite_tx_commit(st) != TL_OK) {
        sqlite_tx_rollback(st);
        return TL_ERR_STORE;
    }
    return TL_OK;
}

void sqlite_on_health(struct tl_store *st,
                     void (*cb)(void *arg, bool writable, const char *reason, long failures),
                     void *arg)
{
    st->health.cb = cb;
    st->health.arg = arg;
}

void sqlite_tx_rollback(struct tl_store *st)
{
    if (sqlite3_get_autocommit(st->db)) {
        st->tx_depth = 0;
        return;
    }
    if (st->tx_depth <= 1) {
        tx_sql(st, "ROLLBACK");
        st->tx_depth = 0;
        return;
    }
    tx_sql(st, "ROLLBACK TO nested");
    tx_sql(st, "RELEASE nested");
    st->tx_depth--;
}

const char *sqlite_errmsg(struct tl_store *st)
{
    return sqlite3_errmsg(st->db);
}

bool sqlite_leads(struct tl_store *st)
{
    (void)st;
    return true;
}

void sqlite_set_lease(struct tl_store *st, int64_t lease_ms)
{
    (void)st, (void)lease_ms;
}

int64_t sqlite_rate_take(struct tl_store *st, const char *channel, double rate, double burst,
                         int64_t want, int64_t now_ms)
{
    (void)st, (void)channel, (void)rate, (void)burst, (void)now_ms;
    return want;
}

int sqlite_areas_replace(struct tl_store *st, const struct tl_area_row *rows, size_t n)
{
    sqlite3_stmt *s = NULL;

    if (sqlite_tx_begin(st) != TL_OK)
        return TL_ERR_STORE;
    if (exec_sql(st, "DELETE FROM areas") != TL_OK ||
        sqlite3_prepare_v2(st->db,
                           "INSERT INTO areas (code, name_en, kind, parent_code, lat, lon)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(s);
        store_bind_text(s, 1, rows[i].code);
        store_bind_text(s, 2, rows[i].name_en);
        store_bind_text(s, 3, rows[i].kind);
        store_bind_text(s, 4, rows[i].parent_code);
        sqlite3_bind_double(s, 5, rows[i].lat);
        sqlite3_bind_double(s, 6, rows[i].lon);
        if (sqlite3_step(s) != SQLITE_DONE)
            goto fail;
    }
    sqlite3_finalize(s);
    return sqlite_tx_commit(st);
fail:
    sqlite3_finalize(s);
    sqlite_tx_rollback(st);
    return TL_ERR_STORE;
}

int sqlite_inbound_insert(struct tl_store *st, const struct tl_inbound_row *row, int64_t *id)
{
    sqlite3_stmt *s;
    int rc;

    if (store_prepare(st, &st->stmts.inbound_insert,
                      "INSERT INTO inbound (channel, provider_id, kind, phone, to_addr, text,"
                      " received_at, state, processed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                      " coalesce(?8, 'received'), CASE WHEN ?8 IS NULL THEN NULL ELSE ?7 END)"
                      " ON CONFLICT (channel, provider_id) DO NOTHING") != TL_OK)
        return TL_ERR_STORE;
    s = st->stmts.inbound_insert;
    store_bind_text(s, 1, row->channel);
    store_bind_text(s, 2, row->provider_id);
    store_bind_text(s, 3, row->kind);
    store_bind_text(s, 4, row->phone);
    store_bind_text(s, 5, row->to_addr);
    store_bind_text(s, 6, row->text);
    sqlite3_bind_int64(s, 7, row->received_at);
    store_bind_text(s, 8, row->state);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return TL_ERR_STORE;
    if (sqlite3_changes(st->db) == 1) {
        *id = sqlite3_last_insert_rowid(st->db);
        return TL_OK;
    }
    /* Seen before: find the earlier row's id. */
    if (store_prepare(st, &st->stmts.inbound_find,
                      "SELECT id FROM inbound WHERE channel = ?1 AND provider_id = ?2") != TL_OK)
        return TL_ERR_STORE;
    s = st->stmts.inbound_find;
    store_bind_text(s, 1, row->channel);
    store_bind_text(s, 2, row->provider_id);
    rc = sqlite3_step(s);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? TL_ERR_DUPLICATE : TL_ERR_STORE;
}

int sqlite_inbound_set_state(struct tl_store *st, int64_t id, const char *state, int64_t now)
{
    sqlite3_stmt *s;
    int rc;

    if (store_prepare(st, &st->stmts.inbound_state,
                      "UPDATE inbound SET state = ?2,"
                      " processed_at = CASE WHEN ?2 = 'received' THEN NULL ELSE ?3 END"
                      " WHERE id = ?1") != TL_OK)
        return TL_ERR_STORE;
    s = st->stmts.inbound_state;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, state);
    sqlite3_bind_int64(s, 3, now);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? TL_OK : TL_ERR_STORE;
}

bool sqlite_inbound_processed(struct tl_store *st, int64_t id)
{
    sqlite3_stmt *s;
    bool processed = false;

    if (store_prepare(st, &st->stmts.inbound_processed,
                      "SELECT state <> 'received' FROM inbound WHERE id = ?1") != TL_OK)
        return false;
    s = st->stmts.inbound_processed;
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) == SQLITE_ROW)
        processed = sqlite3_column_int(s, 0) != 0;
    sqlite3_reset(s);
    return processed;
}

int64_t sqlite_inbound_count(struct tl_store *st)
{
    sqlite3_stmt *s;
    int64_t n = -1;

    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM inbound", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}
