/*
 * sqlite_checkpoint.c — (SQLite backend) WAL checkpoints on a thread of their own, so that
 * copying the WAL back into the database and its fsyncs never hold up the
 * caller's thread (the daemon's event loop).
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that passes 1,000
 * WAL pages: a broadcast wave's commit would copy ~100 MB and fsync twice
 * before the VERIFY is answered, and a sender committing every few
 * milliseconds would stop for a checkpoint every few commits. Instead the
 * store's connection gets a WAL hook that wakes this thread, which runs
 * PASSIVE checkpoints on its own connection (PASSIVE never waits for and
 * never blocks the writer). Durability is unchanged: a commit is durable
 * against a crash once it is in the WAL, whoever checkpoints it later.
 *
 * The WAL restarts from its beginning only when a write starts after a
 * checkpoint that copied every frame, which the thread can never do while
 * the writer keeps committing. So once the WAL holds CHECKPOINT_RESTART_PAGES
 * and the thread has copied all but a few frames, the next commit's hook
 * copies the rest itself (a small copy, but two fsyncs), and the WAL
 * restarts; and should the thread fall behind anyway, the hook
 * checkpoints once the WAL passes CHECKPOINT_PAGES_INLINE, bounding it.
 */
#include "gateway/store/sqlite_int.h"
#include "common/xmalloc.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>

/* WAL pages after which the thread checkpoints (SQLite's own default). */
#define CHECKPOINT_PAGES 1000
/*
 * WAL pages before the committing thread finishes the thread's checkpoint
 * so the WAL can restart (~64 MB). The finishing copy is small, but it
 * fsyncs the WAL and the database on the event loop: 9-28 ms each on this
 * shared machine, up to 80 ms when it is loaded, and at the thread's
 * 1,000 pages it came every two seconds under bench-inbound, ~1 % of the
 * time, which is what p99 sees. Eight times fewer restarts keep it out.
 */
#define CHECKPOINT_RESTART_PAGES 8000
/* WAL pages after which the committing thread checkpoints itself (~320 MB at 8 KiB pages). */
#define CHECKPOINT_PAGES_INLINE 40000

struct tl_checkpointer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool due;        /* a commit passed CHECKPOINT_PAGES since the last checkpoint */
    bool running;    /* the thread is checkpointing */
    bool stop;       /* sqlite_close: finish */
    int backfilled;  /* WAL frames copied by the thread's last checkpoint */
    int last_pages;  /* the WAL's frames at the last commit (fewer: it restarted) */
    sqlite3 *db;
};

static void *checkpointer_main(void *arg)
{
    struct tl_checkpointer *c = arg;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->due && !c->stop)
            pthread_cond_wait(&c->cond, &c->mu);
        if (c->stop)
            break;
        c->due = false;
        c->running = true;
        pthread_mutex_unlock(&c->mu);
        int copied = 0;
        /* SQLITE_BUSY (another checkpoint running) just means: later. */
        if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, &copied) !=
            SQLITE_OK)
            copied = 0;
        pthread_mutex_lock(&c->mu);
        c->running = false;
        c->backfilled = copied;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct tl_checkpointer *c = arg;
    bool finish;

    pthread_mutex_lock(&c->mu);
    if (pages < c->last_pages)
        c->backfilled = 0; /* the WAL restarted: what was copied is gone */
    int added = pages - (pages < c->last_pages ? 0 : c->last_pages);
    c->last_pages = pages;
    finish = !c->running && c->backfilled > 0 && pages >= CHECKPOINT_RESTART_PAGES &&
             pages - c->backfilled <= CHECKPOINT_PAGES / 4;
    /*
     * The inline bound is for a thread fallen behind many commits: not while
     * it is copying or about to, and not for one commit that wrote most of
     * the WAL itself (a national wave: 10M rows are ~200,000 pages, whose
     * copy on the loop held the VERIFY's answer and the first alert for
     * seconds); the thread copies those.
     */
    bool inline_copy = pages >= CHECKPOINT_PAGES_INLINE && !c->running && !c->due &&
                       added < CHECKPOINT_PAGES_INLINE / 2;
    if (!finish && pages >= CHECKPOINT_PAGES) {
        c->due = true;
        pthread_cond_signal(&c->cond);
    }
    pthread_mutex_unlock(&c->mu);
    if (finish || inline_copy)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

int store_checkpointer_start(struct tl_store *st, const char *path)
{
    struct tl_checkpointer *c = xcalloc(1, sizeof(*c));

    /* The connection must have read the database once to be in WAL mode. */
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(c->db);
        free(c);
        return -1;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (pthread_create(&c->thread, NULL, checkpointer_main, c) != 0) {
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->mu);
        sqlite3_close(c->db);
        free(c);
        return -1;
    }
    st->checkpointer = c;
    sqlite3_wal_hook(st->db, wal_hook, c); /* replaces the automatic checkpoint */
    return 0;
}

void store_checkpointer_stop(struct tl_store *st)
{
    struct tl_checkpointer *c = st->checkpointer;

    if (c == NULL)
        return;
    sqlite3_wal_hook(st->db, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close(c->db);
    free(c);
    st->checkpointer = NULL;
}
