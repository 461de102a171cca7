/*
 * test_metrics.c — the counters of gateway/metrics.h: route families, the
 * per-channel tables (a channel not in the config is ignored), histogram
 * buckets (cumulative, +Inf = count, exact sums), the last error text
 * masked of numbers, and the exposition's exact lines.
 */
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/store/store.h"
#include "common/buf.h"
#include "tests/tap.h"

#include <stdlib.h>

static bool has_line(const struct tl_buf *b, const char *line)
{
    const char *s = tl_buf_str(b);
    size_t n = strlen(line);

    for (const char *p = strstr(s, line); p != NULL; p = strstr(p + 1, line)) {
        if ((p == s || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    }
    return false;
}

#define has(b, line) ok(has_line(b, line), "line: %s", line)

int main(void)
{
    struct tl_config *cfg = NULL;
    char *cause = NULL;

    if (config_load_string("t.conf",
                           "[channel at]\nprovider = africastalking\nusername = u\napi_key = k\n"
                           "[channel con]\nprovider = console\n",
                           &cfg, &cause) != 0) {
        printf("Bail out! config: %s\n", cause ? cause : "?");
        return 1;
    }
    metrics_init(cfg);

    is_int(metrics_route_of("/sms/at"), TL_MR_SMS, "/sms/at is the sms route");
    is_int(metrics_route_of("/dlr/at"), TL_MR_DLR, "/dlr/at");
    is_int(metrics_route_of("/ussd/x"), TL_MR_USSD, "/ussd/x");
    is_int(metrics_route_of("/alerts/123456.xml"), TL_MR_FEED, "/alerts/{id}.xml is the feed");
    is_int(metrics_route_of("/alerts.atom"), TL_MR_FEED, "/alerts.atom is the feed");
    is_int(metrics_route_of("/api/v1/cases"), TL_MR_API, "/api/...");
    is_int(metrics_route_of("/apix"), TL_MR_OTHER, "/apix is not the API");
    is_int(metrics_route_of("/metrics"), TL_MR_METRICS, "/metrics");
    is_int(metrics_route_of("/metrics/x"), TL_MR_OTHER, "/metrics/x is other");
    is_int(metrics_route_of(NULL), TL_MR_OTHER, "NULL is other");

    const struct tl_channel_conf *at = &cfg->channels[0], *con = &cfg->channels[1];
    struct tl_channel_conf stranger = *at;
    metrics_inbound(at, TL_MK_SMS, TL_MI_PROCESSED);
    metrics_inbound(at, TL_MK_SMS, TL_MI_PROCESSED);
    metrics_inbound(con, TL_MK_USSD, TL_MI_REJECTED);
    metrics_inbound(&stranger, TL_MK_SMS, TL_MI_PROCESSED); /* not the config's: ignored */
    metrics_dlr(at, TL_OUTBOX_DELIVERED);
    metrics_dlr(at, TL_OUTBOX_SENDING); /* no such report state: ignored */
    metrics_dlr(at, 99);
    metrics_http_reply("/sms/at", 200, 0.0004);
    metrics_http_reply("/sms/con", 200, 0.003);
    metrics_http_reply("/sms/con", 503, 20.0);
    metrics_http_reply("/nowhere", 404, 0.0001);
    metrics_http_reply("/nowhere", 999, 0.0001); /* no such code: latency only */
    metrics_send(at, 200, 0.02, 3, 0, 0, NULL);
    metrics_send(at, 500, 0.5, 0, 2, 1, "aggregator said no to +923001234567");
    metrics_send(at, 0, 1.5, 0, 1, 0, "Connection refused");
    metrics_group_commit(3, 1);
    metrics_group_commit(300, 0);
    metrics_store_error(TL_MW_GROUP);

    metrics_send_inflight(at, 1);
    metrics_send_inflight(at, 1);
    metrics_send_inflight(at, -1);
    metrics_send_inflight(con, -1); /* never below 0 */
    struct tl_metrics_channel_status st;
    metrics_channel_status(at, &st);
    is_int(st.in_flight, 1, "at: one request in flight (two started, one ended)");
    is_str(st.last_error, "Connection refused", "last error is the latest one");
    ok(st.last_error_at > 1e9 && st.last_success_at > 1e9, "last error and success times set");
    metrics_channel_status(con, &st);
    is_str(st.last_error, "", "no error on con");
    ok(st.last_success_at == 0, "con never succeeded");

    struct tl_buf b = {0};
    metrics_render(&b);
    has(&b, "# TYPE talaash_inbound_messages_total counter");
    has(&b, "talaash_inbound_messages_total{channel=\"at\",kind=\"sms\",outcome=\"processed\"} 2");
    has(&b, "talaash_inbound_messages_total{channel=\"con\",kind=\"ussd\",outcome=\"rejected\"} 1");
    has(&b, "talaash_inbound_messages_total{channel=\"con\",kind=\"sms\",outcome=\"failed\"} 0");
    has(&b, "talaash_delivery_reports_total{channel=\"at\",state=\"delivered\"} 1");
    has(&b, "talaash_delivery_reports_total{channel=\"at\",state=\"unknown\"} 0");
    ok(strstr(tl_buf_str(&b), "state=\"(null)\"") == NULL, "no label from a NULL name");
    has(&b, "talaash_outbound_messages_total{channel=\"at\",result=\"sent\"} 3");
    has(&b, "talaash_outbound_messages_total{channel=\"at\",result=\"retried\"} 3");
    has(&b, "talaash_outbound_messages_total{channel=\"at\",result=\"failed\"} 1");
    has(&b, "talaash_send_requests_total{channel=\"at\",answer=\"2xx\"} 1");
    has(&b, "talaash_send_requests_total{channel=\"at\",answer=\"5xx\"} 1");
    has(&b, "talaash_send_requests_total{channel=\"at\",answer=\"none\"} 1");
    has(&b, "# TYPE talaash_send_duration_seconds histogram");
    has(&b, "talaash_send_duration_seconds_bucket{channel=\"at\",le=\"0.025\"} 1");
    has(&b, "talaash_send_duration_seconds_bucket{channel=\"at\",le=\"0.5\"} 2");
    has(&b, "talaash_send_duration_seconds_bucket{channel=\"at\",le=\"1\"} 2");
    has(&b, "talaash_send_duration_seconds_bucket{channel=\"at\",le=\"2.5\"} 3");
    has(&b, "talaash_send_duration_seconds_bucket{channel=\"at\",le=\"+Inf\"} 3");
    has(&b, "talaash_send_duration_seconds_sum{channel=\"at\"} 2.02");
    has(&b, "talaash_send_duration_seconds_count{channel=\"at\"} 3");
    has(&b, "talaash_send_requests_in_flight{channel=\"at\"} 1");
    has(&b, "talaash_send_requests_in_flight{channel=\"con\"} 0");
    has(&b, "talaash_http_requests_total{route=\"/sms/{channel}\",code=\"200\"} 2");
    has(&b, "talaash_http_requests_total{route=\"/sms/{channel}\",code=\"503\"} 1");
    has(&b, "talaash_http_requests_total{route=\"other\",code=\"404\"} 1");
    ok(strstr(tl_buf_str(&b), "code=\"999\"") == NULL, "no series for an impossible code");
    ok(strstr(tl_buf_str(&b), "code=\"201\"") == NULL, "no series for codes never answered");
    has(&b, "talaash_http_request_duration_seconds_bucket{route=\"/sms/{channel}\",le=\"0.0005\"} 1");
    has(&b, "talaash_http_request_duration_seconds_bucket{route=\"/sms/{channel}\",le=\"10\"} 2");
    has(&b, "talaash_http_request_duration_seconds_bucket{route=\"/sms/{channel}\",le=\"+Inf\"} 3");
    has(&b, "talaash_http_request_duration_seconds_count{route=\"other\"} 2");
    has(&b, "talaash_http_request_duration_seconds_count{route=\"/ussd/{channel}\"} 0");
    ok(strstr(tl_buf_str(&b), "route=\"/metrics\"") == NULL,
       "no latency series for a route family never used");
    has(&b, "talaash_group_commit_callbacks_bucket{le=\"2\"} 0");
    has(&b, "talaash_group_commit_callbacks_bucket{le=\"4\"} 1");
    has(&b, "talaash_group_commit_callbacks_bucket{le=\"256\"} 1");
    has(&b, "talaash_group_commit_callbacks_bucket{le=\"+Inf\"} 2");
    has(&b, "talaash_group_commit_callbacks_sum 303");
    has(&b, "talaash_group_commits_total{result=\"committed\"} 1");
    has(&b, "talaash_group_commits_total{result=\"failed\"} 1");
    has(&b, "talaash_store_errors_total{where=\"group\"} 1");
    has(&b, "talaash_store_errors_total{where=\"stats\"} 0");
    ok(strstr(tl_buf_str(&b), "3001234567") == NULL, "no phone number in the exposition");
    tl_buf_free(&b);

    /* The error text of a failed send is masked before it is kept. */
    metrics_send(con, 400, 0.01, 0, 0, 1, "invalid number +923001234567");
    metrics_channel_status(con, &st);
    ok(strstr(st.last_error, "3001234567") == NULL && strstr(st.last_error, "invalid number"),
       "the last error is masked (%s)", st.last_error);
    metrics_send(con, 502, 0.01, 0, 1, 0, NULL);
    metrics_channel_status(con, &st);
    is_str(st.last_error, "HTTP 502", "an error without text is its HTTP status");

    metrics_reset();
    b = (struct tl_buf){0};
    metrics_render(&b);
    ok(strstr(tl_buf_str(&b), "channel=") == NULL, "after reset no channel is rendered");
    tl_buf_free(&b);
    config_free(cfg);
    return done_testing();
}
