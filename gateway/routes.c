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
#include "gateway/store/store.h"
#include "common/buf.h"
#include "common/result.h"

#include <string.h>

/*
 * 200 {"status":"ok","db":"ok"} when the store reads and writes; else 503
 * {"status":"error","db":"error","reason":"…"}. A store that failed a write
 * is tried again here (store_write_probe), so health returns with the store
 * without waiting for traffic. The store's state changes are logged where
 * they happen (daemon.c), not per probe.
 */
static void healthz_cb(struct tl_daemon *d, struct evhttp_request *req, const char *param)
{
    static const char ok[] = "{\"status\":\"ok\",\"db\":\"ok\"}\n";
    const char *reason = NULL;

    (void)param;
    if (store_ping(d->store) != TL_OK)
        reason = "cannot read the store";
    else if (!store_writable(d->store, &reason) && store_write_probe(d->store) == TL_OK)
        reason = NULL;
    else
        store_writable(d->store, &reason);
    if (reason == NULL || reason[0] == '\0') {
        http_reply(req, 200, "application/json", ok, sizeof(ok) - 1);
        return;
    }
    struct tl_buf b = {0};
    tl_buf_append_str(&b, "{\"status\":\"error\",\"db\":\"error\",\"reason\":\"");
    tl_buf_append_json(&b, reason, strlen(reason));
    tl_buf_append_str(&b, "\"}\n");
    http_reply(req, 503, "application/json", b.data, b.len);
    tl_buf_free(&b);
}

const struct tl_route http_routes[] = {
    {"GET", "/healthz", healthz_cb},
    {"HEAD", "/healthz", healthz_cb},
    {"GET", "/metrics", metrics_http_cb},
    {"GET", "/alerts.atom", feed_atom_cb},
    {"GET", "/alerts/", feed_cap_cb},
    {"POST", "/sms/", callbacks_sms_cb},
    {"GET", "/sms/", callbacks_sms_cb}, /* Kannel's get-url and other GET-style aggregators */
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
