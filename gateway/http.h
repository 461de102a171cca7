/*
 * http.h — the evhttp server: limits, routing, and replying.
 *
 * Every request passes one router. The router enforces the URI limit (414),
 * finds the route by path (404 when none), checks the method (405 with an
 * Allow header), and hands the request to the route's handler. Body and
 * header limits are enforced by evhttp (413 for a body over [server]
 * max_body, answered as JSON and closed by lingering); request_timeout
 * (the whole request), max_connections_per_ip and running out of
 * descriptors by http.c (see there). Every answer goes through
 * http_reply(), which writes the request's one log line — with the path but
 * never the query string, which may carry a channel's secret token.
 */
#ifndef TALAASH_HTTP_H
#define TALAASH_HTTP_H

#include <event2/http.h>
#include <stddef.h>
#include <stdint.h>

#include "providers/provider.h"

struct evhttp_request;
struct tl_daemon;
struct tl_http;

/*
 * One route: method and path; a path ending in '/' takes one more segment
 * (the channel), one ending in a slash and an asterisk the whole rest of the
 * path, slashes included (the API).
 */
struct tl_route {
    const char *method;
    const char *path;
    void (*handler)(struct tl_daemon *d, struct evhttp_request *req, const char *param);
};

/*
 * Binds [server] listen and starts serving the routes (borrowed, ending with
 * a NULL path; routes.h). TL_OK, or an error with *cause.
 */
int http_start(struct tl_daemon *d, const struct tl_route *routes, struct tl_http **out,
               char **cause);
/* Stops accepting new connections; requests already read still get answers. */
void http_stop_accepting(struct tl_http *h);
/* Requests received and not yet answered. */
size_t http_inflight(const struct tl_http *h);
/* accept() failures since start (out of descriptors, mostly): for /metrics. */
uint64_t http_accept_errors_total(const struct tl_http *h);
void http_free(struct tl_http *h);

/* "GET", "POST", … for an evhttp method. */
const char *http_method_name(enum evhttp_cmd_type cmd);

/* Sends the answer and logs the request's line. */
void http_reply(struct evhttp_request *req, int status, const char *content_type,
                const char *body, size_t len);
/* The same, for an answer held since started_ms (http_request_started_ms of its request). */
void http_reply_since(struct evhttp_request *req, int status, const char *content_type,
                      const char *body, size_t len, double started_ms);
/* When the router saw the request now being handled (monotonic ms). */
double http_request_started_ms(void);
/* {"error": "<message>"} with the status. */
void http_reply_error(struct evhttp_request *req, int status, const char *message);
/* The same, for an answer held since started_ms (as http_reply_since). */
void http_reply_error_since(struct evhttp_request *req, int status, const char *message,
                            double started_ms);
/* The 503 message of a store failure: the aggregator should retry. */
#define HTTP_STORE_UNAVAILABLE "store unavailable, retry later"

/*
 * A view of an evhttp request as a provider sees it (struct tl_http_in).
 * The view borrows from the request and from `scratch`; release with
 * http_in_release().
 */
struct tl_http_in_scratch {
    struct tl_header *headers;
    char *path;
    char *query;
    char peer_ip[64];
};
void http_in_view(struct evhttp_request *req, struct tl_http_in *in,
                  struct tl_http_in_scratch *scratch);
void http_in_release(struct tl_http_in_scratch *scratch);

#endif
