/*
 * metrics_http.h — the GET /metrics route (Prometheus text format 0.0.4).
 */
#ifndef TALAASH_METRICS_HTTP_H
#define TALAASH_METRICS_HTTP_H

struct evhttp_request;
struct tl_daemon;

void metrics_http_cb(struct tl_daemon *d, struct evhttp_request *req, const char *param);

#endif
