/*
 * metrics_http.c — GET /metrics: one Prometheus text exposition (format
 * 0.0.4) of the in-memory counters (metrics.c), the store snapshot's
 * gauges (stats.c), the HTTP requests in flight and the process (memory,
 * descriptors, CPU).
 *
 * A scrape never reads the store on the loop: when the snapshot is older
 * than a second the answer waits (the loop runs on) until the stats thread
 * brings a fresh one, so every scrape sees figures at most ~1 s old.
 */
#include "gateway/metrics_http.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/http.h"
#include "gateway/metrics.h"
#include "gateway/stats.h"
#include "common/buf.h"
#include "common/xmalloc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct scrape {
    struct evhttp_request *req;
    double started_ms;
};

static void render_process(struct tl_buf *out)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    metrics_family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    metrics_sample(out, "process_resident_memory_bytes", NULL,
                   (double)resident * (double)sysconf(_SC_PAGESIZE));
    metrics_family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    metrics_sample(out, "process_virtual_memory_bytes", NULL,
                   (double)pages * (double)sysconf(_SC_PAGESIZE));

    size_t fds = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (dir != NULL) {
        for (struct dirent *e; (e = readdir(dir)) != NULL;)
            fds += e->d_name[0] != '.';
        closedir(dir);
        fds--; /* the directory's own descriptor */
    }
    metrics_family(out, "process_open_fds", "gauge", "Open file descriptors.");
    metrics_sample(out, "process_open_fds", NULL, (double)fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        metrics_family(out, "process_max_fds", "gauge", "Limit of open file descriptors.");
        metrics_sample(out, "process_max_fds", NULL, (double)rl.rlim_cur);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        metrics_family(out, "process_cpu_seconds_total", "counter",
                       "User and system CPU time spent, in seconds.");
        metrics_sample(out, "process_cpu_seconds_total", NULL,
                       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    }
    metrics_family(out, "process_start_time_seconds", "gauge",
                   "Start time of the process since the unix epoch, in seconds.");
    metrics_sample(out, "process_start_time_seconds", NULL, metrics_started_at());
}

static void render_live(struct tl_daemon *d, struct tl_buf *out)
{
    metrics_family(out, "talaash_http_requests_in_flight", "gauge",
                   "HTTP requests read and not yet answered (callbacks wait for their commit).");
    metrics_sample(out, "talaash_http_requests_in_flight", NULL, (double)http_inflight(d->http));
    metrics_family(out, "talaash_http_accept_errors_total", "counter",
                   "Connections the listener failed to accept (out of descriptors).");
    metrics_sample(out, "talaash_http_accept_errors_total", NULL,
                   (double)http_accept_errors_total(d->http));
}

static void scrape_ready(struct tl_daemon *d, void *arg)
{
    struct scrape *sc = arg;
    struct tl_buf out = {0};

    metrics_render(&out);
    stats_render_metrics(d, &out);
    render_live(d, &out);
    render_process(&out);
    http_reply_since(sc->req, 200, METRICS_CONTENT_TYPE, out.data, out.len, sc->started_ms);
    tl_buf_free(&out);
    free(sc);
}

void metrics_http_cb(struct tl_daemon *d, struct evhttp_request *req, const char *param)
{
    struct scrape *sc = xmalloc(sizeof(*sc));

    (void)param;
    sc->req = req;
    sc->started_ms = http_request_started_ms();
    stats_when_fresh(d, scrape_ready, sc);
}
