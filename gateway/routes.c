/*
 * routes.c — the route table and the small handlers that need no module of
 * their own (health). Aggregator callbacks are in callbacks.c, the operator
 * API and the console in api.c.
 */
#include "gateway/routes.h"
#include "gateway/api.h"
#include "gateway/callbacks.h"
#include "gateway/daemon.h"
#include "gateway/feed.h"
#include "gateway/log.h"
#include "gateway/metrics_http.h"
#include "gateway/store.h"
#include "common/result.h"

#include <string.h>

static void healthz_cb(struct tl_daemon *d, struct evhttp_request *req, const char *param)
{
    static const char ok[] = "{\"status\":\"ok\",\"db\":\"ok\"}\n";
    static const char bad[] = "{\"status\":\"error\",\"db\":\"error\"}\n";

    (void)param;
    if (store_ping(d->store) == TL_OK) {
        http_reply(req, 200, "application/json", ok, sizeof(ok) - 1);
    } else {
        log_error("http", "event=healthz_failed reason=store");
        http_reply(req, 503, "application/json", bad, sizeof(bad) - 1);
    }
}

const struct tl_route http_routes[] = {
    {"GET", "/healthz", healthz_cb},
    {"HEAD", "/healthz", healthz_cb},
    {"GET", "/metrics", metrics_http_cb},
    {"GET", "/alerts.atom", feed_atom_cb},
    {"GET", "/alerts/", feed_cap_cb},
    {"POST", "/sms/", callbacks_sms_cb},
    {"POST", "/dlr/", callbacks_dlr_cb},
    {"GET", "/dlr/", callbacks_dlr_cb},
    {"POST", "/ussd/", callbacks_ussd_cb},
    {"GET", "/api/v1/*", api_cb},
    {"POST", "/api/v1/*", api_cb},
    {"DELETE", "/api/v1/*", api_cb},
    {"GET", "/console", api_console_cb},
    {"GET", "/console/*", api_console_cb},
    {NULL, NULL, NULL},
};
