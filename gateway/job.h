/*
 * job.h — store work run as jobs, one at a time, so that a store that waits
 * on the network (PostgreSQL) never blocks the event loop.
 *
 * With SQLite (jobs_new(..., false)) a job runs at once, inline: nothing
 * changes. With PostgreSQL every event callback that may reach the store
 * (the routes that write, the sender's curl events, the group flush, the
 * timers) is queued as a job instead, and the jobs run in order on one
 * coroutine (ucontext) with a stack of its own. When the store waits for
 * PostgreSQL's answer (store_set_wait), the coroutine yields to the event
 * loop, which meanwhile accepts, reads requests, answers what needs no
 * store and moves curl's transfers; the socket's readiness resumes it. As
 * jobs never interleave, the store connection, the group commit and the
 * sender's state see one caller at a time, exactly as with SQLite — there
 * is no thread and no lock.
 */
#ifndef TALAASH_JOB_H
#define TALAASH_JOB_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

struct tl_jobs;

/* A job: an event callback's form (fd and what are what the event gave). */
typedef void (*tl_job_fn)(evutil_socket_t fd, short what, void *arg);

/* yielding: run jobs on the coroutine (PostgreSQL); false: inline (SQLite). */
int jobs_new(struct event_base *base, bool yielding, struct tl_jobs **out);
/* Runs what is queued to the end, then frees. A NULL j everywhere below is inline mode. */
void jobs_free(struct tl_jobs *j);

/* Runs fn(fd, what, arg) now (inline mode) or queues it (yielding mode). */
void jobs_run(struct tl_jobs *j, tl_job_fn fn, evutil_socket_t fd, short what, void *arg);
/*
 * event_new whose callback runs as a job of j (freed with event_free as
 * usual). An event that fires again while its job waits in the queue is
 * not queued twice, so a busy socket does not pile up its events.
 */
struct event *jobs_event_new(struct tl_jobs *j, struct event_base *base, evutil_socket_t fd,
                             short what, tl_job_fn fn, void *arg);
/* The same for an event the caller allocated (event_assign); see sender.c. */
int jobs_event_assign(struct tl_jobs *j, struct event *ev, struct event_base *base,
                      evutil_socket_t fd, short what, tl_job_fn fn, void *arg);

/* Arms timer event ev (evtimer_add) to fire ms milliseconds from now. */
void jobs_timer_in(struct event *ev, long ms);

/* True while the calling code runs inside a job on the coroutine. */
bool jobs_in_job(const struct tl_jobs *j);
/* Jobs queued and not started (metrics, tests). */
size_t jobs_queued(const struct tl_jobs *j);

#endif
