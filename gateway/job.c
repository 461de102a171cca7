/*
 * job.c — store work as jobs (see job.h): a FIFO of event callbacks run
 * one at a time on one coroutine, which yields to the event loop while the
 * store waits for its database.
 *
 * The coroutine is a ucontext with a stack of JOB_STACK bytes (mmap'd, so
 * only the pages used are committed). It runs the queue to the end and
 * parks; jobs_run resumes it when a job arrives while it is parked. A store
 * wait (jobs_wait_cb, installed with store_set_wait) arms a one-shot read
 * event on the database socket and swaps back to the loop; the event swaps
 * in again. A wait from anywhere else — the loop outside a job, the reader
 * threads — answers "poll it yourself" (1), so those block only themselves.
 */
#define _GNU_SOURCE
#include "gateway/job.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define JOB_STACK (1024 * 1024)

struct job {
    tl_job_fn fn;
    evutil_socket_t fd;
    short what;
    void *arg;
};

/* An event callback turned into jobs: one per (fn, arg), kept until jobs_free. */
struct job_tramp {
    struct tl_jobs *j;
    tl_job_fn fn;
    void *arg;
};

struct tl_jobs {
    struct event_base *base;
    bool yielding;
    pthread_t loop_thread;
    struct job *q; /* ring of cap entries from head */
    size_t head, n, cap;
    ucontext_t loop_ctx, job_ctx;
    void *stack;
    bool parked;       /* the coroutine waits for a job (or has not started) */
    bool on_coroutine; /* the code running now is the coroutine's */
    bool stopping;
    struct event *wait_ev; /* the database socket's readiness */
    struct job_tramp **tramps;
    size_t ntramps;
};

/* makecontext passes ints only: the one instance the coroutine serves. */
static struct tl_jobs *coroutine_owner;

static bool pop(struct tl_jobs *j, struct job *out)
{
    if (j->n == 0)
        return false;
    *out = j->q[j->head];
    j->head = (j->head + 1) % j->cap;
    j->n--;
    return true;
}

static void coroutine_main(void)
{
    struct tl_jobs *j = coroutine_owner;
    struct job job;

    for (;;) {
        while (pop(j, &job))
            job.fn(job.fd, job.what, job.arg);
        j->parked = true;
        j->on_coroutine = false;
        swapcontext(&j->job_ctx, &j->loop_ctx);
        j->on_coroutine = true;
        j->parked = false;
    }
}

/* Runs the coroutine until it parks or waits (from the loop). */
static void resume(struct tl_jobs *j)
{
    j->on_coroutine = true;
    swapcontext(&j->loop_ctx, &j->job_ctx);
}

static void wait_ready_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    resume(arg);
}

/* store_set_wait's hook: 0 once fd is readable, 1 when the caller must poll. */
static int jobs_wait_cb(int fd, void *arg)
{
    struct tl_jobs *j = arg;

    if (!j->on_coroutine || !pthread_equal(pthread_self(), j->loop_thread))
        return 1;
    if (event_assign(j->wait_ev, j->base, fd, EV_READ, wait_ready_cb, j) != 0 ||
        event_add(j->wait_ev, NULL) != 0)
        return 1;
    j->on_coroutine = false;
    swapcontext(&j->job_ctx, &j->loop_ctx);
    j->on_coroutine = true;
    return 0;
}

int jobs_new(struct event_base *base, bool yielding, struct tl_jobs **out)
{
    struct tl_jobs *j = xcalloc(1, sizeof(*j));

    j->base = base;
    j->yielding = yielding;
    j->loop_thread = pthread_self();
    j->parked = true;
    if (yielding) {
        if (coroutine_owner != NULL) {
            free(j);
            return TL_ERR_UNSUPPORTED; /* one yielding instance per process */
        }
        j->stack = mmap(NULL, JOB_STACK, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        j->wait_ev = xcalloc(1, event_get_struct_event_size());
        if (j->stack == MAP_FAILED || getcontext(&j->job_ctx) != 0) {
            if (j->stack != MAP_FAILED)
                munmap(j->stack, JOB_STACK);
            free(j->wait_ev);
            free(j);
            return TL_ERR_IO;
        }
        j->job_ctx.uc_stack.ss_sp = j->stack;
        j->job_ctx.uc_stack.ss_size = JOB_STACK;
        j->job_ctx.uc_link = NULL;
        coroutine_owner = j;
        makecontext(&j->job_ctx, coroutine_main, 0);
        /* Started once: it runs to its first park. */
        resume(j);
        store_set_wait(jobs_wait_cb, j);
    }
    *out = j;
    return TL_OK;
}

void jobs_free(struct tl_jobs *j)
{
    if (j == NULL)
        return;
    if (j->yielding) {
        /* Let what is queued or waiting finish: the loop turns until the coroutine parks. */
        while (!j->parked || j->n > 0) {
            if (j->parked)
                resume(j);
            else
                event_base_loop(j->base, EVLOOP_ONCE);
        }
        store_set_wait(NULL, NULL);
        coroutine_owner = NULL;
        munmap(j->stack, JOB_STACK);
        free(j->wait_ev);
    }
    for (size_t i = 0; i < j->ntramps; i++)
        free(j->tramps[i]);
    free(j->tramps);
    free(j->q);
    free(j);
}

/* Queues a job (once: when dedupe, an equal job already queued is enough). */
static void enqueue(struct tl_jobs *j, tl_job_fn fn, evutil_socket_t fd, short what, void *arg,
                    bool dedupe)
{
    for (size_t i = 0; dedupe && i < j->n; i++) {
        const struct job *q = &j->q[(j->head + i) % j->cap];
        if (q->fn == fn && q->fd == fd && q->what == what && q->arg == arg)
            return;
    }
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        struct job *q = xcalloc(cap, sizeof(*q));
        for (size_t i = 0; i < j->n; i++)
            q[i] = j->q[(j->head + i) % j->cap];
        free(j->q);
        j->q = q;
        j->head = 0;
        j->cap = cap;
    }
    j->q[(j->head + j->n) % j->cap] = (struct job){fn, fd, what, arg};
    j->n++;
    if (j->parked && !j->on_coroutine)
        resume(j);
}

void jobs_run(struct tl_jobs *j, tl_job_fn fn, evutil_socket_t fd, short what, void *arg)
{
    if (j == NULL || !j->yielding)
        fn(fd, what, arg);
    else
        enqueue(j, fn, fd, what, arg, false);
}

static void tramp_cb(evutil_socket_t fd, short what, void *arg)
{
    struct job_tramp *t = arg;

    enqueue(t->j, t->fn, fd, what, t->arg, true);
}

static struct job_tramp *tramp_of(struct tl_jobs *j, tl_job_fn fn, void *arg)
{
    for (size_t i = 0; i < j->ntramps; i++)
        if (j->tramps[i]->fn == fn && j->tramps[i]->arg == arg)
            return j->tramps[i];
    struct job_tramp *t = xcalloc(1, sizeof(*t));
    *t = (struct job_tramp){j, fn, arg};
    j->tramps = xrealloc(j->tramps, (j->ntramps + 1) * sizeof(*j->tramps));
    j->tramps[j->ntramps++] = t;
    return t;
}

struct event *jobs_event_new(struct tl_jobs *j, struct event_base *base, evutil_socket_t fd,
                             short what, tl_job_fn fn, void *arg)
{
    if (j == NULL || !j->yielding)
        return event_new(base, fd, what, fn, arg);
    return event_new(base, fd, what, tramp_cb, tramp_of(j, fn, arg));
}

int jobs_event_assign(struct tl_jobs *j, struct event *ev, struct event_base *base,
                      evutil_socket_t fd, short what, tl_job_fn fn, void *arg)
{
    if (j == NULL || !j->yielding)
        return event_assign(ev, base, fd, what, fn, arg);
    return event_assign(ev, base, fd, what, tramp_cb, tramp_of(j, fn, arg));
}

bool jobs_in_job(const struct tl_jobs *j)
{
    return j != NULL && j->yielding ? j->on_coroutine : true;
}

size_t jobs_queued(const struct tl_jobs *j)
{
    return j != NULL ? j->n : 0;
}

void jobs_timer_in(struct event *ev, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    evtimer_add(ev, &tv);
}
