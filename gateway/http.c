/*
 * http.c — the evhttp server mechanism: binding, limits, the router, replies
 * and the request log line. The route table is the owner's (routes.c,
 * handed over by daemon.c), so the server knows no handler.
 */
#include "gateway/http.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/metrics.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct tl_http {
    struct tl_daemon *daemon;
    struct evhttp *evh;
    struct evhttp_bound_socket *bound;
    const struct tl_route *routes; /* borrowed: ends with a NULL path */
    size_t inflight;
    size_t max_uri;
};

/* The server of this process (one per daemon); http_reply needs it for accounting. */
static struct tl_http *current_server;


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

/* When the router saw the request being handled now (callbacks run one at a time). */
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
    evhttp_send_reply(req, status, NULL, out);
    evbuffer_free(out);
    if (current_server != NULL && current_server->inflight > 0)
        current_server->inflight--;
}

void http_reply_error_since(struct evhttp_request *req, int status, const char *message,
                            double started_ms)
{
    struct tl_buf b = {0};

    tl_buf_append_str(&b, "{\"error\":\"");
    tl_buf_append_json(&b, message, strlen(message));
    tl_buf_append_str(&b, "\"}\n");
    http_reply_since(req, status, "application/json", b.data, b.len, started_ms);
    tl_buf_free(&b);
}

void http_reply_error(struct evhttp_request *req, int status, const char *message)
{
    http_reply_error_since(req, status, message, request_started_ms);
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

    request_started_ms = clock_mono_ms();
    h->inflight++;
    if (uri != NULL && strlen(uri) > h->max_uri) {
        http_reply_error(req, 414, "URI too long");
        return;
    }
    if (evhttp_request_get_evhttp_uri(req) == NULL) {
        http_reply_error(req, 400, "malformed request URI");
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
        match->handler(h->daemon, req, param);
    } else if (path_known) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", tl_buf_str(&allow));
        http_reply_error(req, 405, "method not allowed");
    } else {
        http_reply_error(req, 404, "not found");
    }
    tl_buf_free(&allow);
    free(path);
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
        evhttp_free(h->evh);
        free(h);
        return TL_ERR_IO;
    }
    free(host);
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
    evhttp_free(h->evh);
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
