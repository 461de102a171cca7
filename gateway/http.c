/*
 * http.c — the evhttp server mechanism: binding, limits, the router, replies
 * and the request log line. The route table is the owner's (routes.c,
 * handed over by daemon.c), so the server knows no handler.
 *
 * Hostile clients (issue #14). evhttp (libevent 2.1) bounds only the silence
 * between bytes, closes at once after a 413 and answers its own errors with
 * HTML, and libevent logs every failed accept(). So this file also keeps a
 * record of every connection (struct tl_conn, from the bufferevent evhttp
 * asks us for to evhttp's close callback) to
 *   - drop a connection whose request is not complete request_timeout after
 *     it began (however slowly it trickles in), with a 408;
 *   - cap the connections of one source address (max_connections_per_ip):
 *     the one over answers 503 and is closed;
 *   - close by lingering after an answer that tells the client to stop
 *     (413, the 503 above): the answer is written, our side shut down, and
 *     what the client still sends is read and dropped (at most
 *     LINGER_MAX_BYTES or request_timeout, LINGER_IDLE_MS of silence), so it
 *     reads the answer instead of a reset;
 *   - when accept() fails (out of descriptors), close the oldest
 *     connections not in a request (and lingering sockets) to make room, or
 *     pause accepting for ACCEPT_PAUSE_MS; log once a second with a count
 *     (http_accept_errors_total for /metrics).
 * libevent's own error answers come from evhttp_send_error, which is
 * defined here in its place (see there).
 */
#include "gateway/http.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/job.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define IP_BUCKETS 1024
#define LINGER_MAX 256                    /* lingering sockets at once; more close at once */
#define LINGER_MAX_BYTES (1024 * 1024)    /* read and dropped at most, per socket */
#define LINGER_IDLE_MS 2000               /* silence that ends a lingering close */
#define ACCEPT_PAUSE_MS 100               /* accepting paused this long when nothing could be freed */
#define ACCEPT_SHED 8                     /* connections closed per failed accept() */

/* Connections of one source address. */
struct tl_ip_count {
    char ip[64];
    size_t n;
    struct tl_ip_count *next;
};

/* One accepted connection, from evhttp's bufferevent callback to its close callback. */
struct tl_conn {
    struct tl_http *h;
    struct evhttp_connection *evcon; /* borrowed: evhttp owns it */
    struct bufferevent *bev;         /* borrowed, as evcon */
    int fd;
    char ip[64];
    struct tl_ip_count *ipc;
    struct event *deadline; /* request_timeout from the start of each request */
    double since_ms;        /* when the current request began */
    bool busy;              /* a request is with the router: no deadline until answered */
    bool linger;            /* close by lingering (the answer told the client to stop) */
    struct tl_conn *prev, *next; /* every connection, oldest first */
    struct tl_conn *pending;     /* made, not yet registered */
};

/* A socket closed by lingering: owns fd (a dup of the connection's). */
struct tl_linger {
    struct tl_http *h;
    int fd;
    struct event *ev;
    size_t bytes;
    double since_ms;
    struct tl_linger *prev, *next; /* oldest first */
};

struct tl_http {
    struct tl_daemon *daemon;
    struct evhttp *evh;
    struct evhttp_bound_socket *bound;
    const struct tl_route *routes; /* borrowed: ends with a NULL path */
    size_t inflight;
    size_t max_uri;
    size_t max_body;
    long request_timeout;
    long max_per_ip;

    struct tl_conn **by_fd; /* registered connections by descriptor */
    size_t nby_fd;
    struct tl_conn *oldest, *newest;
    struct tl_conn *pending;
    struct event *pending_ev;
    struct tl_ip_count *ips[IP_BUCKETS];
    struct tl_linger *lingers, *lingers_newest;
    size_t nlingers;
    bool closing; /* http_free: no new lingering */

    struct event *resume_ev;  /* accepting again after a pause */
    struct event *errlog_ev;  /* the once-a-second accept-failure line */
    uint64_t accept_errors;   /* accept() failures since start */
    uint64_t accept_unlogged; /* of which not yet in a log line */
    int accept_errno;
    double accept_logged_ms;
    uint64_t refused_unlogged; /* connections over max_connections_per_ip, not yet logged */
    double refused_logged_ms;
};

/* The server of this process (one per daemon); http_reply needs it for accounting. */
static struct tl_http *current_server;

/* {"error":"<message>"} and a newline into b. */
static void error_body(struct tl_buf *b, const char *message)
{
    tl_buf_append_str(b, "{\"error\":\"");
    tl_buf_append_json(b, message, strlen(message));
    tl_buf_append_str(b, "\"}\n");
}

/* ------------------------------------------------------------ addresses --- */

static size_t ip_hash(const char *ip)
{
    size_t h = 2166136261u;

    for (; *ip; ip++)
        h = (h ^ (unsigned char)*ip) * 16777619u;
    return h % IP_BUCKETS;
}

/* The count of ip, made when absent. */
static struct tl_ip_count *ip_count_get(struct tl_http *h, const char *ip)
{
    struct tl_ip_count **slot = &h->ips[ip_hash(ip)], *e;

    for (e = *slot; e != NULL; e = e->next) {
        if (strcmp(e->ip, ip) == 0)
            return e;
    }
    e = xcalloc(1, sizeof(*e));
    snprintf(e->ip, sizeof(e->ip), "%s", ip);
    e->next = *slot;
    *slot = e;
    return e;
}

static void ip_count_put(struct tl_http *h, struct tl_ip_count *e)
{
    struct tl_ip_count **slot;

    if (e == NULL || --e->n > 0)
        return;
    for (slot = &h->ips[ip_hash(e->ip)]; *slot != NULL; slot = &(*slot)->next) {
        if (*slot == e) {
            *slot = e->next;
            free(e);
            return;
        }
    }
}

/* ------------------------------------------------------ lingering close --- */

static void linger_close(struct tl_linger *l)
{
    struct tl_http *h = l->h;

    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        h->lingers = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    else
        h->lingers_newest = l->prev;
    h->nlingers--;
    event_free(l->ev);
    close(l->fd);
    free(l);
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_linger *l = arg;
    char buf[16384];
    ssize_t n = 0;

    if (what & EV_READ) {
        while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
            l->bytes += (size_t)n;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) &&
            l->bytes <= LINGER_MAX_BYTES &&
            clock_mono_ms() - l->since_ms < (double)l->h->request_timeout * 1000)
            return; /* more may come: wait (the persistent event's timeout is the silence) */
    }
    linger_close(l); /* the client closed, went silent, or sent too much */
}

/* Takes ownership of fd, whose answer is written: shut down our side, drain, close. */
static void linger_start(struct tl_http *h, int fd)
{
    struct timeval idle = {LINGER_IDLE_MS / 1000, (LINGER_IDLE_MS % 1000) * 1000};
    struct tl_linger *l;

    if (h->closing || h->nlingers >= LINGER_MAX) {
        close(fd);
        return;
    }
    l = xcalloc(1, sizeof(*l));
    l->h = h;
    l->fd = fd;
    l->since_ms = clock_mono_ms();
    l->ev = event_new(h->daemon->base, fd, EV_READ | EV_PERSIST, linger_cb, l);
    shutdown(fd, SHUT_WR);
    l->prev = h->lingers_newest;
    if (h->lingers_newest != NULL)
        h->lingers_newest->next = l;
    else
        h->lingers = l;
    h->lingers_newest = l;
    h->nlingers++;
    event_add(l->ev, &idle);
}

/* ---------------------------------------------------------- connections --- */

/* The registered connection of req, or NULL. */
static struct tl_conn *conn_of(struct tl_http *h, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    struct tl_conn *c;

    if (h == NULL || fd < 0 || (size_t)fd >= h->nby_fd)
        return NULL;
    c = h->by_fd[fd];
    return c != NULL && c->evcon == evcon ? c : NULL;
}

/* Starts the request_timeout of the next request on c. */
static void conn_arm(struct tl_conn *c)
{
    struct timeval tv = {c->h->request_timeout, 0};

    c->busy = false;
    c->since_ms = clock_mono_ms();
    evtimer_add(c->deadline, &tv);
}

/* Forgets c (evhttp is closing its connection). */
static void conn_forget(struct tl_conn *c)
{
    struct tl_http *h = c->h;

    if (c->fd >= 0 && (size_t)c->fd < h->nby_fd && h->by_fd[c->fd] == c)
        h->by_fd[c->fd] = NULL;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else if (h->oldest == c)
        h->oldest = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else if (h->newest == c)
        h->newest = c->prev;
    ip_count_put(h, c->ipc);
    if (c->deadline != NULL)
        event_free(c->deadline);
    free(c);
}

static void conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    struct tl_conn *c = arg;
    int fd;

    (void)evcon;
    /* evhttp closes its descriptor next; a dup keeps the socket for lingering */
    if (c->linger && (fd = dup(c->fd)) >= 0)
        linger_start(c->h, fd);
    conn_forget(c);
}

/* Writes a whole answer straight to the socket (nothing else is being written on it). */
static void conn_send_raw(struct tl_conn *c, int status, const char *reason, const char *message)
{
    struct tl_buf body = {0}, all = {0};

    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
        return; /* an answer is still going out: no second one in the middle */
    error_body(&body, message);
    tl_buf_appendf(&all,
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                   "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                   status, reason, body.len, tl_buf_str(&body));
    if (send(c->fd, all.data, all.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        log_debug("http", "event=send_failed errno=%d", errno);
    tl_buf_free(&body);
    tl_buf_free(&all);
}

static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_conn *c = arg;

    (void)fd;
    (void)what;
    log_info("http", "event=request_timeout peer=%s ms=%.0f", c->ip, clock_mono_ms() - c->since_ms);
    conn_send_raw(c, 408, "Request Timeout", "request not received within request_timeout");
    evhttp_connection_free(c->evcon); /* its close callback forgets c */
}

/* One line a second at most for the connections refused per address. */
static void refused_log(struct tl_http *h, const char *ip)
{
    double now = clock_mono_ms();

    h->refused_unlogged++;
    if (now - h->refused_logged_ms < 1000)
        return;
    log_warn("http", "event=too_many_connections peer=%s max=%ld count=%llu", ip, h->max_per_ip,
             (unsigned long long)h->refused_unlogged);
    h->refused_unlogged = 0;
    h->refused_logged_ms = now;
}

/* Records a connection evhttp has just set up (its fd, its evcon, its peer). */
static void conn_register(struct tl_http *h, struct tl_conn *c)
{
    void *cbarg = NULL;
    char *host = NULL;
    ev_uint16_t port = 0;

    bufferevent_getcb(c->bev, NULL, NULL, NULL, &cbarg);
    c->evcon = cbarg; /* evhttp's callbacks carry their connection */
    c->fd = (int)bufferevent_getfd(c->bev);
    if (c->evcon == NULL || c->fd < 0) {
        free(c);
        return;
    }
    evhttp_connection_set_closecb(c->evcon, conn_closed_cb, c);
    evhttp_connection_get_peer(c->evcon, &host, &port);
    snprintf(c->ip, sizeof(c->ip), "%s", host ? host : "");
    if ((size_t)c->fd >= h->nby_fd) {
        size_t n = (size_t)c->fd + 64;
        h->by_fd = xrealloc(h->by_fd, n * sizeof(*h->by_fd));
        memset(h->by_fd + h->nby_fd, 0, (n - h->nby_fd) * sizeof(*h->by_fd));
        h->nby_fd = n;
    }
    if (h->by_fd[c->fd] != NULL) /* a connection whose close we never heard of */
        conn_forget(h->by_fd[c->fd]);
    h->by_fd[c->fd] = c;
    c->prev = h->newest;
    if (h->newest != NULL)
        h->newest->next = c;
    else
        h->oldest = c;
    h->newest = c;
    c->ipc = ip_count_get(h, c->ip);
    c->ipc->n++;
    c->deadline = evtimer_new(h->daemon->base, conn_deadline_cb, c);
    if (h->max_per_ip > 0 && c->ipc->n > (size_t)h->max_per_ip) {
        refused_log(h, c->ip);
        conn_send_raw(c, 503, "Service Unavailable", "too many connections from this address");
        c->linger = true;
        evhttp_connection_free(c->evcon);
        return;
    }
    conn_arm(c);
}

static void conn_pending_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_http *h = arg;

    (void)fd;
    (void)what;
    while (h->pending != NULL) {
        struct tl_conn *c = h->pending;

        h->pending = c->pending;
        conn_register(h, c);
    }
}

/*
 * evhttp asks for each new connection's bufferevent before it has set its
 * descriptor; the connection is registered once evhttp is done with it,
 * later in the same loop pass (before any of its bytes can be read).
 */
static struct bufferevent *conn_bev_cb(struct event_base *base, void *arg)
{
    struct tl_http *h = arg;
    struct tl_conn *c = xcalloc(1, sizeof(*c));

    c->h = h;
    c->fd = -1;
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        free(c);
        return NULL;
    }
    c->pending = h->pending;
    h->pending = c;
    event_active(h->pending_ev, EV_READ, 0);
    return c->bev;
}

/* Closes up to n of the oldest lingering sockets and connections not in a request. */
static size_t conn_shed(struct tl_http *h, size_t n)
{
    size_t done = 0;

    while (done < n && h->lingers != NULL) {
        linger_close(h->lingers);
        done++;
    }
    for (struct tl_conn *c = h->oldest, *next; c != NULL && done < n; c = next) {
        next = c->next;
        if (c->busy)
            continue;
        log_debug("http", "event=shed peer=%s", c->ip);
        evhttp_connection_free(c->evcon);
        done++;
    }
    return done;
}

/* ------------------------------------------------------------ accepting --- */

static void accept_log(struct tl_http *h)
{
    if (h->accept_unlogged == 0)
        return;
    log_warn("http", "event=accept_failed error=\"%s\" count=%llu total=%llu connections=%s",
             strerror(h->accept_errno), (unsigned long long)h->accept_unlogged,
             (unsigned long long)h->accept_errors, h->oldest ? "shed" : "none");
    h->accept_unlogged = 0;
    h->accept_logged_ms = clock_mono_ms();
}

static void accept_log_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    accept_log(arg);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tl_http *h = arg;

    (void)fd;
    (void)what;
    if (h->bound != NULL)
        evconnlistener_enable(evhttp_bound_socket_get_listener(h->bound));
}

/*
 * accept() failed (EMFILE/ENFILE: out of descriptors; anything else). Room is
 * made by closing the oldest idle connections, so the next client (a
 * /healthz) gets in; with nothing to close, accepting pauses a moment
 * rather than spin. The listener's argument is evhttp's, so this reads the
 * server of the process.
 */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct tl_http *h = current_server;
    struct timeval pause = {0, ACCEPT_PAUSE_MS * 1000};
    struct timeval second = {1, 0};

    (void)arg;
    if (h == NULL)
        return;
    h->accept_errno = EVUTIL_SOCKET_ERROR();
    h->accept_errors++;
    h->accept_unlogged++;
    if (clock_mono_ms() - h->accept_logged_ms >= 1000)
        accept_log(h);
    else if (!evtimer_pending(h->errlog_ev, NULL))
        evtimer_add(h->errlog_ev, &second);
    if (conn_shed(h, ACCEPT_SHED) > 0)
        return;
    evconnlistener_disable(lev);
    evtimer_add(h->resume_ev, &pause);
}

uint64_t http_accept_errors_total(const struct tl_http *h)
{
    return h ? h->accept_errors : 0;
}

/* ------------------------------------------------- libevent's own errors --- */

/*
 * libevent 2.1 answers what it cannot read itself (400 unreadable request or
 * headers, 413 body over max_body, 417 Expect, 501 method) through
 * evhttp_send_error, which writes an HTML page and offers no hook (2.2's
 * evhttp_set_errorcb does not exist yet). The daemon defines the function
 * in its place — libevent calls it through its PLT, so the executable's
 * definition wins (ELF interposition) — and answers those as JSON too, with
 * a log line; a 413 closes by lingering.
 */
void evhttp_send_error(struct evhttp_request *req, int error, const char *reason)
{
    struct tl_http *h = current_server;
    struct tl_conn *c = conn_of(h, req);
    struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
    struct evbuffer *out = evbuffer_new();
    struct tl_buf b = {0};
    char *msg = NULL;

    switch (error) {
    case 413:
        msg = xasprintf("request body larger than max_body (%zu bytes)", h ? h->max_body : 0);
        if (c != NULL)
            c->linger = true;
        break;
    case 417:
        msg = xstrdup("unsupported Expect header");
        break;
    case 501:
        msg = xstrdup("method not implemented");
        break;
    case 400:
        msg = xstrdup("unreadable request");
        break;
    default:
        msg = xstrdup(reason ? reason : "error");
        break;
    }
    if (req->major == 0) { /* the request line itself was unreadable */
        req->major = 1;
        req->minor = 1;
    }
    error_body(&b, msg);
    evhttp_clear_headers(hdrs);
    evhttp_add_header(hdrs, "Content-Type", "application/json");
    evhttp_add_header(hdrs, "Cache-Control", "no-store");
    evhttp_add_header(hdrs, "Connection", "close");
    evbuffer_add(out, b.data, b.len);
    log_info("http", "status=%d peer=%s bytes=%zu error=\"%s\"", error, c ? c->ip : "-", b.len, msg);
    evhttp_send_reply(req, error, reason, out);
    evbuffer_free(out);
    tl_buf_free(&b);
    free(msg);
}


const char *http_method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "OTHER";
}

/* The path of the request URI without query or fragment, or NULL. */
static char *request_path(struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

    if (path == NULL || path[0] == '\0')
        return xstrdup("/");
    return xstrdup(path);
}

/* When the request being handled now was received (handlers run one at a time: job.h). */
static double request_started_ms;

double http_request_started_ms(void)
{
    return request_started_ms;
}

void http_reply(struct evhttp_request *req, int status, const char *content_type,
                const char *body, size_t len)
{
    http_reply_since(req, status, content_type, body, len, request_started_ms);
}

void http_reply_since(struct evhttp_request *req, int status, const char *content_type,
                      const char *body, size_t len, double started_ms)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
    char *path = request_path(req);
    char esc[LOG_PEER_BUFSZ];
    struct tl_conn *c;

    if (content_type != NULL)
        evhttp_add_header(hdrs, "Content-Type", content_type);
    if (evhttp_find_header(hdrs, "Cache-Control") == NULL) /* a handler may allow caching */
        evhttp_add_header(hdrs, "Cache-Control", "no-store");
    if (len > 0)
        evbuffer_add(out, body, len);
    double ms = clock_mono_ms() - started_ms;
    log_info("http", "method=%s path=%s status=%d bytes=%zu ms=%.2f",
             http_method_name(evhttp_request_get_command(req)), log_peer(path, strlen(path), esc),
             status, len, ms);
    metrics_http_reply(path, status, ms / 1000.0);
    free(path);
    c = conn_of(current_server, req);
    evhttp_send_reply(req, status, NULL, out);
    evbuffer_free(out);
    if (c != NULL)
        conn_arm(c); /* the next request on this connection has request_timeout from now */
    if (current_server != NULL && current_server->inflight > 0)
        current_server->inflight--;
}

void http_reply_error_since(struct evhttp_request *req, int status, const char *message,
                            double started_ms)
{
    struct tl_buf b = {0};

    error_body(&b, message);
    http_reply_since(req, status, "application/json", b.data, b.len, started_ms);
    tl_buf_free(&b);
}

void http_reply_error(struct evhttp_request *req, int status, const char *message)
{
    http_reply_error_since(req, status, message, request_started_ms);
}

/* A matched request waiting for its turn as a job (job.h). */
struct route_job {
    struct tl_daemon *d;
    const struct tl_route *route;
    struct evhttp_request *req;
    char *param; /* owned copy: the path it pointed into is gone */
    double started_ms;
};

static void route_job_cb(evutil_socket_t fd, short what, void *arg)
{
    struct route_job *rj = arg;

    (void)fd, (void)what;
    request_started_ms = rj->started_ms;
    rj->route->handler(rj->d, rj->req, rj->param);
    free(rj->param);
    free(rj);
}

/*
 * Runs the matched handler: now (SQLite: jobs run inline) or as a job, in
 * arrival order (PostgreSQL), with the time the request was received, so its
 * log line and latency count from there.
 */
static void route_dispatch(struct tl_http *h, const struct tl_route *route,
                           struct evhttp_request *req, const char *param, double started_ms)
{
    struct route_job *rj = xcalloc(1, sizeof(*rj));

    *rj = (struct route_job){h->daemon, route, req, param ? xstrdup(param) : NULL, started_ms};
    jobs_run(h->daemon->jobs, route_job_cb, -1, 0, rj);
}

static void router_cb(struct evhttp_request *req, void *arg)
{
    struct tl_http *h = arg;
    const char *uri = evhttp_request_get_uri(req);
    const char *method = http_method_name(evhttp_request_get_command(req));
    const struct tl_route *match = NULL;
    const char *param = NULL;
    char *path;
    bool path_known = false;
    struct tl_buf allow = {0};
    double started_ms = clock_mono_ms();

    struct tl_conn *c = conn_of(h, req);

    h->inflight++;
    if (c != NULL) { /* received whole: no deadline while it is being answered */
        c->busy = true;
        evtimer_del(c->deadline);
    }
    if (uri != NULL && strlen(uri) > h->max_uri) {
        http_reply_error_since(req, 414, "URI too long", started_ms);
        return;
    }
    if (evhttp_request_get_evhttp_uri(req) == NULL) {
        http_reply_error_since(req, 400, "malformed request URI", started_ms);
        return;
    }
    path = request_path(req);
    for (const struct tl_route *r = h->routes; r->path != NULL; r++) {
        size_t n = strlen(r->path);
        const char *rest = NULL;

        if (n >= 2 && r->path[n - 1] == '*' && r->path[n - 2] == '/') {
            /* subtree route (slash, asterisk): any rest, slashes included, even none */
            if (strncmp(path, r->path, n - 1) == 0)
                rest = path + n - 1;
            else
                continue;
        } else if (r->path[n - 1] == '/') {
            /* prefix route: exactly one non-empty segment follows */
            if (strncmp(path, r->path, n) == 0 && path[n] != '\0' && strchr(path + n, '/') == NULL)
                rest = path + n;
            else
                continue;
        } else if (strcmp(path, r->path) != 0) {
            continue;
        }
        path_known = true;
        if (allow.len)
            tl_buf_append_str(&allow, ", ");
        tl_buf_append_str(&allow, r->method);
        if (strcmp(r->method, method) == 0 && match == NULL) {
            match = r;
            param = rest;
        }
    }
    if (match != NULL) {
        route_dispatch(h, match, req, param, started_ms);
    } else if (path_known) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", tl_buf_str(&allow));
        http_reply_error_since(req, 405, "method not allowed", started_ms);
    } else {
        http_reply_error_since(req, 404, "not found", started_ms);
    }
    tl_buf_free(&allow);
    free(path);
}

/* The server's own events, and connections made but never registered. */
static void http_free_events(struct tl_http *h)
{
    while (h->pending != NULL) { /* evhttp freed their bufferevents with their connections */
        struct tl_conn *c = h->pending;

        h->pending = c->pending;
        free(c);
    }
    event_free(h->pending_ev);
    event_free(h->resume_ev);
    event_free(h->errlog_ev);
}

int http_start(struct tl_daemon *d, const struct tl_route *routes, struct tl_http **out,
               char **cause)
{
    struct tl_http *h = xcalloc(1, sizeof(*h));
    const struct tl_config *cfg = d->cfg;
    char *host, *colon;
    long port;

    h->daemon = d;
    h->routes = routes;
    h->max_uri = cfg->max_uri;
    h->max_body = cfg->max_body;
    h->request_timeout = cfg->request_timeout;
    h->max_per_ip = cfg->max_connections_per_ip;
    h->pending_ev = event_new(d->base, -1, 0, conn_pending_cb, h);
    h->resume_ev = evtimer_new(d->base, accept_resume_cb, h);
    h->errlog_ev = evtimer_new(d->base, accept_log_cb, h);
    h->evh = evhttp_new(d->base);
    if (h->evh == NULL) {
        *cause = xstrdup("evhttp_new failed");
        free(h);
        return TL_ERR_IO;
    }
    evhttp_set_max_body_size(h->evh, (ev_ssize_t)cfg->max_body);
    evhttp_set_max_headers_size(h->evh, (ev_ssize_t)cfg->max_headers);
    evhttp_set_timeout(h->evh, (int)cfg->request_timeout);
    evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                           EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(h->evh, "text/plain; charset=utf-8");
    evhttp_set_gencb(h->evh, router_cb, h);
    evhttp_set_bevcb(h->evh, conn_bev_cb, h);

    host = xstrdup(cfg->listen);
    colon = strrchr(host, ':');
    *colon = '\0';
    port = strtol(colon + 1, NULL, 10);
    if (host[0] == '[') { /* [::1]:8080 */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    h->bound = evhttp_bind_socket_with_handle(h->evh, host, (ev_uint16_t)port);
    if (h->bound == NULL) {
        *cause = xasprintf("cannot listen on %s: %s", cfg->listen, strerror(errno));
        free(host);
        h->closing = true;
        evhttp_free(h->evh);
        http_free_events(h);
        free(h);
        return TL_ERR_IO;
    }
    free(host);
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(h->bound), accept_error_cb);
    current_server = h;
    *out = h;
    return TL_OK;
}

void http_stop_accepting(struct tl_http *h)
{
    if (h != NULL && h->bound != NULL) {
        evhttp_del_accept_socket(h->evh, h->bound);
        h->bound = NULL;
    }
}

size_t http_inflight(const struct tl_http *h)
{
    return h ? h->inflight : 0;
}

void http_free(struct tl_http *h)
{
    if (h == NULL)
        return;
    h->closing = true;
    evhttp_free(h->evh); /* closes every connection: each close callback forgets its own */
    while (h->lingers != NULL)
        linger_close(h->lingers);
    accept_log(h);
    http_free_events(h);
    free(h->by_fd);
    if (current_server == h)
        current_server = NULL;
    free(h);
}

void http_in_view(struct evhttp_request *req, struct tl_http_in *in,
                  struct tl_http_in_scratch *scratch)
{
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    struct evkeyval *kv;
    size_t n = 0;
    char *host = NULL;
    ev_uint16_t port = 0;

    memset(scratch, 0, sizeof(*scratch));
    for (kv = hdrs->tqh_first; kv != NULL; kv = kv->next.tqe_next)
        n++;
    scratch->headers = xcalloc(n ? n : 1, sizeof(*scratch->headers));
    n = 0;
    for (kv = hdrs->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        scratch->headers[n].name = kv->key;
        scratch->headers[n].value = kv->value;
        n++;
    }
    scratch->path = request_path(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    scratch->query = q ? xstrdup(q) : NULL;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
    snprintf(scratch->peer_ip, sizeof(scratch->peer_ip), "%s", host ? host : "");

    memset(in, 0, sizeof(*in));
    in->method = http_method_name(evhttp_request_get_command(req));
    in->path = scratch->path;
    in->query = scratch->query;
    in->body_len = evbuffer_get_length(body);
    in->body = in->body_len ? (const char *)evbuffer_pullup(body, -1) : "";
    in->headers = scratch->headers;
    in->nheaders = n;
    in->peer_ip = scratch->peer_ip;
}

void http_in_release(struct tl_http_in_scratch *scratch)
{
    free(scratch->headers);
    free(scratch->path);
    free(scratch->query);
    memset(scratch, 0, sizeof(*scratch));
}
