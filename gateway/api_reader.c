/*
 * api_reader.c — the reader thread (see api_reader.h).
 *
 * The queue is a mutex-guarded list; the thread sleeps on a condition
 * variable. A finished job's pointer goes back through a pipe (a write of
 * one pointer is atomic, under PIPE_BUF), whose read end is an event of
 * the loop, so libevent itself is touched by the loop's thread only.
 */
#include "gateway/api_reader.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tl_reader {
    struct tl_store *st;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct tl_reader_job *head, *tail; /* waiting, under lock */
    size_t queued;
    bool stop;
    int pipe_fd[2]; /* [0] read by the loop, [1] written by the thread */
    struct event *done_ev;
};

static void hand_back(struct tl_reader *r, struct tl_reader_job *job)
{
    const char *p = (const char *)&job;
    size_t left = sizeof(job);

    while (left > 0) {
        ssize_t n = write(r->pipe_fd[1], p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error("api", "event=reader_pipe_failed errno=%d", errno);
            return;
        }
        p += n;
        left -= (size_t)n;
    }
}

static void *reader_main(void *arg)
{
    struct tl_reader *r = arg;

    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (r->head == NULL && !r->stop)
            pthread_cond_wait(&r->wake, &r->lock);
        if (r->head == NULL)
            break;
        struct tl_reader_job *job = r->head;
        r->head = job->next;
        if (r->head == NULL)
            r->tail = NULL;
        r->queued--;
        pthread_mutex_unlock(&r->lock);
        job->run(r->st, job);
        hand_back(r, job);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* Calls done for every job the thread handed back. */
static void drain_done(struct tl_reader *r)
{
    struct tl_reader_job *jobs[64];

    for (;;) {
        ssize_t n = read(r->pipe_fd[0], jobs, sizeof(jobs));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (size_t i = 0; i < (size_t)n / sizeof(jobs[0]); i++)
            jobs[i]->done(jobs[i]);
    }
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drain_done(arg);
}

int reader_start(struct event_base *base, struct tl_store *st, struct tl_reader **out,
                 char **cause)
{
    struct tl_reader *r = xcalloc(1, sizeof(*r));

    r->st = st;
    r->pipe_fd[0] = r->pipe_fd[1] = -1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (pipe(r->pipe_fd) != 0 || fcntl(r->pipe_fd[0], F_SETFL, O_NONBLOCK) != 0) {
        *cause = xasprintf("pipe: %s", strerror(errno));
        goto fail;
    }
    r->done_ev = event_new(base, r->pipe_fd[0], EV_READ | EV_PERSIST, done_cb, r);
    if (r->done_ev == NULL || event_add(r->done_ev, NULL) != 0) {
        *cause = xstrdup("event_new failed");
        goto fail;
    }
    if (pthread_create(&r->thread, NULL, reader_main, r) != 0) {
        *cause = xstrdup("pthread_create failed");
        goto fail;
    }
    *out = r;
    return TL_OK;
fail:
    if (r->done_ev != NULL)
        event_free(r->done_ev);
    for (int i = 0; i < 2; i++) {
        if (r->pipe_fd[i] >= 0)
            close(r->pipe_fd[i]);
    }
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    store_close(st);
    free(r);
    return TL_ERR_IO;
}

int reader_submit(struct tl_reader *r, struct tl_reader_job *job)
{
    pthread_mutex_lock(&r->lock);
    if (r->queued >= READER_MAX_QUEUED || r->stop) {
        pthread_mutex_unlock(&r->lock);
        return TL_ERR_BUSY;
    }
    job->next = NULL;
    if (r->tail != NULL)
        r->tail->next = job;
    else
        r->head = job;
    r->tail = job;
    r->queued++;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    return TL_OK;
}

void reader_free(struct tl_reader *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL); /* it runs what was queued first */
    drain_done(r);
    event_free(r->done_ev);
    close(r->pipe_fd[0]);
    close(r->pipe_fd[1]);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    store_close(r->st);
    free(r);
}
