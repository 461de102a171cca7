/*
 * test_stats.c — the store snapshot (gateway/stats.h, store_stats.h): the
 * stats thread reads a store with known rows; stats_when_fresh calls back
 * on the loop once the snapshot is in (and at once while it is fresh);
 * the API's JSON (stats_summary_json, stats_channels_json) and the
 * Prometheus gauges carry exactly those counts. Works in its own mkdtemp
 * directory with a real event base and no HTTP server.
 */
#include "common/buf.h"
#include "common/result.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/metrics.h"
#include "gateway/stats.h"
#include "gateway/store/store.h"
#include "tests/tap.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define NOW 1760000000LL

static int calls;

static void ready_cb(struct tl_daemon *d, void *arg)
{
    (void)arg;
    calls++;
    event_base_loopbreak(d->base);
}

static double num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b != NULL)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void add_msg(struct tl_store *st, const char *channel, enum tl_outbox_kind kind)
{
    struct tl_outbox_new m = {.channel = channel, .phone = "+923001234567", .text = "t",
                              .kind = kind};
    if (store_outbox_add(st, &m, NOW, NULL) != TL_OK)
        diag("outbox add failed: %s", store_errmsg(st));
}

int main(void)
{
    char dir[] = "/tmp/talaash-test-stats-XXXXXX", path[256], conf[600];
    struct tl_daemon d;
    struct tl_config *cfg = NULL;
    char *cause = NULL;

    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/t.db", dir);
    snprintf(conf, sizeof(conf),
             "[store]\npath = %s\n[channel at]\nprovider = africastalking\nusername = u\n"
             "api_key = k\nrate = 50\nbatch_size = 20\n[channel con]\nprovider = console\n",
             path);
    if (config_load_string("t.conf", conf, &cfg, &cause) != TL_OK) {
        printf("Bail out! config: %s\n", cause);
        return 1;
    }
    memset(&d, 0, sizeof(d));
    d.cfg = cfg;
    metrics_init(cfg);
    if (store_open(path, 1000, &d.store, &cause) != TL_OK) {
        printf("Bail out! store: %s\n", cause);
        return 1;
    }
    for (int i = 0; i < 3; i++)
        add_msg(d.store, "at", TL_OUT_REPLY);
    add_msg(d.store, "at", TL_OUT_POLICE);
    add_msg(d.store, "con", TL_OUT_REPLY);
    int64_t sid = 0;
    store_subscriber_touch(d.store, "+923001110001", "ur", "at", NOW, &sid);
    store_subscription_add(d.store, sid, "PK-SD-KHI-KOR", NOW);
    store_subscriber_touch(d.store, "+923001110002", "en", "at", NOW, NULL);
    store_subscriber_set_opted_out(d.store, "+923001110002", true, NOW);
    struct tl_case c = {.age = 8};
    snprintf(c.state, sizeof(c.state), "active");
    snprintf(c.lang, sizeof(c.lang), "en");
    c.created_at = c.updated_at = NOW;
    store_case_insert(d.store, &c);
    snprintf(c.state, sizeof(c.state), "reported");
    store_case_insert(d.store, &c);
    store_case_insert(d.store, &c);

    cJSON *none = stats_summary_json(&d);
    ok(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(none, "as_of")),
       "without a stats module: as_of null");
    is_int((long long)num(none, "cases", "active"), 0, "and zero counts");
    cJSON_Delete(none);

    d.base = event_base_new();
    if (stats_new(&d, &d.stats, &cause) != TL_OK) {
        printf("Bail out! stats: %s\n", cause);
        return 1;
    }
    stats_when_fresh(&d, ready_cb, NULL);
    is_int(calls, 0, "no snapshot yet: the callback waits for the thread");
    struct timeval limit = {5, 0};
    event_base_loopexit(d.base, &limit);
    event_base_dispatch(d.base);
    is_int(calls, 1, "the callback ran on the loop once the snapshot came");
    stats_when_fresh(&d, ready_cb, NULL);
    is_int(calls, 2, "a fresh snapshot: called back at once");

    cJSON *s = stats_summary_json(&d);
    ok(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s, "as_of")), "as_of is set");
    is_int((long long)num(s, "cases", "active"), 1, "cases.active 1");
    is_int((long long)num(s, "cases", "reported"), 2, "cases.reported 2");
    is_int((long long)num(s, "cases", "found"), 0, "cases.found 0");
    is_int((long long)num(s, "outbox", "queued"), 5, "outbox.queued 5");
    is_int((long long)num(s, "outbox", "sent"), 0, "outbox.sent 0");
    is_int((long long)num(s, "subscribers", "active"), 1, "subscribers.active 1");
    is_int((long long)num(s, "subscribers", "opted_out"), 1, "subscribers.opted_out 1");
    is_int((long long)num(s, "subscribers", "subscriptions"), 1, "subscriptions 1");
    is_int((long long)num(s, "active_alerts", NULL), 1, "active_alerts 1");
    cJSON_Delete(s);

    cJSON *ch = stats_channels_json(&d);
    is_int(cJSON_GetArraySize(ch), 2, "one object per channel");
    cJSON *at = cJSON_GetArrayItem(ch, 0), *con = cJSON_GetArrayItem(ch, 1);
    is_str(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(at, "name")), "at", "name");
    is_str(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(at, "provider")),
           "africastalking", "provider");
    is_int((long long)num(at, "rate", NULL), 50, "rate");
    is_int((long long)num(at, "batch_size", NULL), 20, "batch_size");
    is_int((long long)num(at, "queue_depth", NULL), 4, "queue depth of at: 4");
    is_int((long long)num(con, "queue_depth", NULL), 1, "queue depth of con: 1");
    is_int((long long)num(at, "in_flight", NULL), 0, "nothing in flight (no sender)");
    ok(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(at, "last_error")) &&
           cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(at, "last_success_at")),
       "no error, no success yet: null");
    cJSON_Delete(ch);
    metrics_send(&cfg->channels[0], 503, 0.1, 0, 1, 0, "busy");
    ch = stats_channels_json(&d);
    at = cJSON_GetArrayItem(ch, 0);
    is_str(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(at, "last_error")), "busy",
           "last_error after a failed send");
    const char *when = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(at, "last_error_at"));
    ok(when != NULL && strlen(when) == 20 && when[19] == 'Z', "last_error_at is RFC 3339 (%s)",
       when ? when : "null");
    cJSON_Delete(ch);

    struct tl_buf b = {0};
    stats_render_metrics(&d, &b);
    const char *text = tl_buf_str(&b);
    ok(strstr(text, "\ntalaash_cases{state=\"reported\"} 2\n") != NULL, "gauge cases reported 2");
    ok(strstr(text, "\ntalaash_alerts_active 1\n") != NULL, "gauge alerts_active 1");
    ok(strstr(text, "\ntalaash_outbox_messages{channel=\"at\",kind=\"reply\",state=\"queued\"} 3\n") !=
           NULL,
       "gauge outbox at/reply/queued 3");
    ok(strstr(text, "\ntalaash_queue_depth{channel=\"at\",kind=\"police\",priority=\"0\"} 1\n") !=
           NULL,
       "gauge queue depth at/police/priority 0: 1");
    ok(strstr(text, "\ntalaash_queue_depth{channel=\"con\",kind=\"reply\",priority=\"1\"} 1\n") !=
           NULL,
       "gauge queue depth con/reply/priority 1: 1");
    ok(strstr(text, "\ntalaash_subscribers_opted_out 1\n") != NULL, "gauge opted out 1");
    tl_buf_free(&b);

    stats_free(d.stats);
    event_base_free(d.base);
    store_close(d.store);
    metrics_reset();
    config_free(cfg);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
