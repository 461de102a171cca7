/*
 * feed.c — GET /alerts.atom and GET /alerts/{case}.xml (see feed.h): reads
 * the public cases (store_feed.h), renders them (cap.h), and answers with
 * validators for conditional requests.
 *
 * The ETag is a hash of the document's bytes, so it changes exactly when
 * the document does. Last-Modified is the latest event the feed shows —
 * and, since a case dropping out of the 24-hour window changes the feed
 * too, the moment the last one dropped out (its end + 24 h).
 */
#include "gateway/feed.h"
#include "gateway/cap.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "gateway/store/store_feed.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAP_EVENT_DEFAULT "Child Abduction Emergency"
#define CAP_EVENT_UR "بچے کے اغوا کی ہنگامی صورتحال"

/* The request's context for cap.h; its strings live in the two buffers. */
struct feed_ctx {
    struct tl_cap_ctx cap;
    char base[512];
    char sender[300];
};

static void feed_ctx_init(const struct tl_daemon *d, struct feed_ctx *f)
{
    const struct tl_config *cfg = d->cfg;
    const char *pub = cfg->public_url && cfg->public_url[0] ? cfg->public_url : NULL;

    if (pub != NULL)
        snprintf(f->base, sizeof(f->base), "%s", pub);
    else
        snprintf(f->base, sizeof(f->base), "http://%s", cfg->listen);
    size_t n = strlen(f->base);
    while (n > 0 && f->base[n - 1] == '/')
        f->base[--n] = '\0';
    const char *host = strstr(f->base, "://");
    host = host ? host + 3 : f->base;
    size_t hl = strcspn(host, ":/");
    snprintf(f->sender, sizeof(f->sender), "talaash@%.*s", (int)hl, host);
    bool custom = strcmp(cfg->cap_event, CAP_EVENT_DEFAULT) != 0;
    f->cap = (struct tl_cap_ctx){
        .sender = f->sender,
        .base_url = f->base,
        .status = strcmp(cfg->verification, "auto") == 0 ? "Exercise" : "Actual",
        .event_en = cfg->cap_event,
        .event_ur = custom ? cfg->cap_event : CAP_EVENT_UR,
        .contact = cfg->hotline,
        .gz = d->gz,
    };
}

/* FNV-1a, 64 bits, of the document: a strong validator of its bytes. */
static void etag_of(const struct tl_buf *b, char out[24])
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < b->len; i++) {
        h ^= (unsigned char)b->data[i];
        h *= 1099511628211ULL;
    }
    snprintf(out, 24, "\"%016llx\"", (unsigned long long)h);
}

static void http_date(int64_t t, char out[40])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* An IMF-fixdate (RFC 9110: "Sun, 06 Nov 1994 08:49:37 GMT"), or -1. */
static int64_t parse_http_date(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char wday[4], mon[4];
    int day, year, hh, mm, ss, used = 0;
    struct tm tm;

    if (sscanf(s, "%3s, %d %3s %d %d:%d:%d GMT%n", wday, &day, mon, &year, &hh, &mm, &ss,
               &used) != 7 ||
        used == 0 || s[used] != '\0' || strlen(wday) != 3)
        return -1;
    const char *at = strstr(months, mon);
    if (at == NULL || (at - months) % 3 != 0 || strlen(mon) != 3)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_mday = day;
    tm.tm_mon = (int)((at - months) / 3);
    tm.tm_year = year - 1900;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    return (int64_t)timegm(&tm);
}

/* True when If-None-Match names etag (or is *), each entry weak or strong. */
static bool etag_listed(const char *inm, const char *etag)
{
    const char *p = inm;

    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t n = strcspn(p, ",");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == strlen(etag) && strncmp(p, etag, n) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* Answers the document, or 304 when the request's validators match it. */
static void reply_document(struct evhttp_request *req, const char *content_type,
                           const struct tl_buf *doc, int64_t last_modified)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *inm = evhttp_find_header(in, "If-None-Match");
    const char *ims = evhttp_find_header(in, "If-Modified-Since");
    char etag[24], lm[40], cc[40];
    bool fresh;

    etag_of(doc, etag);
    http_date(last_modified, lm);
    snprintf(cc, sizeof(cc), "public, max-age=%d", FEED_MAX_AGE_S);
    evhttp_add_header(out, "ETag", etag);
    evhttp_add_header(out, "Last-Modified", lm);
    evhttp_add_header(out, "Cache-Control", cc);
    if (inm != NULL) /* RFC 9110 13.2.2: If-None-Match decides when present */
        fresh = etag_listed(inm, etag);
    else
        fresh = ims != NULL && parse_http_date(ims) >= last_modified &&
                parse_http_date(ims) >= 0;
    if (fresh)
        http_reply(req, 304, NULL, NULL, 0);
    else
        http_reply(req, 200, content_type, doc->data, doc->len);
}

static void reply_store_failed(struct tl_daemon *d, struct evhttp_request *req)
{
    log_error("feed", "event=store_failed detail=\"%s\"", store_errmsg(d->store));
    http_reply_error(req, 503, HTTP_STORE_UNAVAILABLE);
}

void feed_atom_cb(struct tl_daemon *d, struct evhttp_request *req, const char *param)
{
    int64_t since = clock_now() - FEED_WINDOW_S;
    struct tl_feed_case *cases;
    size_t n;
    struct feed_ctx f;
    struct tl_buf doc = {0};

    (void)param;
    if (store_feed_cases(d->store, since, &cases, &n) != TL_OK) {
        reply_store_failed(d, req);
        return;
    }
    int64_t updated = 0;
    int64_t dropped = store_feed_last_ended_before(d->store, since);
    if (dropped > 0)
        updated = dropped + FEED_WINDOW_S;
    for (size_t i = 0; i < n; i++) {
        int64_t u = cap_case_updated(&cases[i]);
        if (u > updated)
            updated = u;
    }
    feed_ctx_init(d, &f);
    if (cap_write_atom(&f.cap, cases, n, updated, &doc) != TL_OK) {
        log_error("feed", "event=render_failed doc=atom");
        http_reply_error(req, 500, "cannot render the feed");
    } else {
        reply_document(req, "application/atom+xml; charset=utf-8", &doc, updated);
    }
    tl_buf_free(&doc);
    store_feed_cases_free(cases, n);
}

void feed_cap_cb(struct tl_daemon *d, struct evhttp_request *req, const char *param)
{
    size_t n = strlen(param), digits = strspn(param, "0123456789");
    struct tl_feed_case c;
    struct feed_ctx f;
    struct tl_buf doc = {0};
    char case_no[8];

    /* "{case}.xml", the case number being 6 digits */
    if (digits != 6 || n != digits + 4 || strcmp(param + digits, ".xml") != 0) {
        http_reply_error(req, 404, "no such alert");
        return;
    }
    memcpy(case_no, param, digits);
    case_no[digits] = '\0';
    int rc = store_feed_case(d->store, case_no, clock_now() - FEED_WINDOW_S, &c);
    if (rc == TL_ERR_NOT_FOUND) {
        http_reply_error(req, 404, "no such alert");
        return;
    }
    if (rc != TL_OK) {
        reply_store_failed(d, req);
        return;
    }
    feed_ctx_init(d, &f);
    if (cap_write_message(&f.cap, &c, &doc) != TL_OK) {
        log_error("feed", "event=render_failed doc=cap case=%s", case_no);
        http_reply_error(req, 500, "cannot render the alert");
    } else {
        reply_document(req, "application/cap+xml; charset=utf-8", &doc, cap_case_updated(&c));
    }
    tl_buf_free(&doc);
    store_feed_case_clear(&c);
}
