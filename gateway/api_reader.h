/*
 * api_reader.h — the operator API's reader thread.
 *
 * A GET of the API may scan much of the store (a million-row alert's
 * counts by state); on the event loop that would hold every callback
 * behind it. So reads run here: one thread with its own read-only store
 * connection (store_api_open_reader; WAL readers never block the writer),
 * taking jobs in order. The loop submits a job and goes on; when the job is
 * done the thread hands it back through a pipe and the loop calls its
 * `done` (which answers the request). The loop is held only to submit and
 * to answer.
 *
 * Ownership: a submitted job belongs to the reader until `done` is called
 * on the loop; `done` owns it then (and frees what it allocated, body too).
 */
#ifndef TALAASH_API_READER_H
#define TALAASH_API_READER_H

#include <stddef.h>

struct event_base;
struct tl_store;
struct tl_reader;

struct tl_reader_job {
    /* On the reader thread: fills status and body (allocated) from st. */
    void (*run)(struct tl_store *st, struct tl_reader_job *job);
    /* On the loop, once run has returned. */
    void (*done)(struct tl_reader_job *job);
    int status;
    char *body;
    struct tl_reader_job *next; /* the reader's queue */
};

/* Jobs waiting at most; a submit beyond it is refused (the API answers 503). */
#define READER_MAX_QUEUED 64

/* Starts the thread on its own store st (taken: closed by reader_free). */
int reader_start(struct event_base *base, struct tl_store *st, struct tl_reader **out,
                 char **cause);
/* Queues job: TL_OK, or TL_ERR_BUSY when READER_MAX_QUEUED are waiting (job untouched). */
int reader_submit(struct tl_reader *r, struct tl_reader_job *job);
/* Runs what is queued, stops the thread, calls every remaining done, closes the store. */
void reader_free(struct tl_reader *r);

#endif
