/*
 * mock_aggregator.c — a mock SMS aggregator for the end-to-end tests and the
 * send benchmark: a real HTTP server (libevent evhttp, single-threaded) that
 * answers the aggregators' send APIs as they do, records every request, and
 * misbehaves on demand.
 *
 * It owns: the four send endpoints, the control API under /_mock/ and the
 * in-memory/on-file request log. It must not block: delays are event
 * timers, "hang" keeps the request unanswered. It links the project library
 * only for common/ (buf, form, utf8, xmalloc).
 *
 *   mock_aggregator --listen HOST:PORT [--record FILE] [--no-record-bodies]
 *                   [--max-records N]
 * Prints "port=NNNN" once listening (port 0: ephemeral); SIGTERM or SIGINT
 * ends it with status 0. --record appends each request as one JSON line;
 * --no-record-bodies records "body":null; --max-records N keeps the newest N
 * in memory (0: none; the file still gets every request).
 *
 * Send endpoints (recipients: AT `to` split on ',', Kannel `to` on ' ',
 * Twilio `To`, generic one per message; "+" and 7-15 digits is plausible):
 *   POST /version1/messaging                  201 SMSMessageData, 101 Success
 *        per recipient (403 InvalidPhoneNumber if implausible); 400 without
 *        username, to or message
 *   POST /2010-04-01/Accounts/{sid}/Messages.json   201 Message, "queued";
 *        400 codes 21604 (no To), 21211 (bad To), 21603 (no From), 21602
 *   GET|POST /cgi-bin/sendsms                 202 "0: Accepted for delivery";
 *        400 "Missing receiver number, rejected"
 *   POST /generic/send                        200 {"results":[…]} "sent" with
 *        message_id G<hex>, "failed" + error if implausible; 400 bad JSON
 *   anything else 404, a wrong method 405.
 *
 * Control API (JSON; not recorded, not counted):
 *   POST /_mock/behaviour {"rules":[…]}  replaces the rules (400 names a bad one)
 *   GET  /_mock/behaviour                the rules with "times" left and "hits"
 *   POST /_mock/reset                    clears rules, records, stats, seq
 *   GET  /_mock/requests[?since=SEQ]     recorded requests, oldest first
 *   GET  /_mock/stats                    counters
 * A rule: matchers path_prefix, method, recipient, body_contains (all
 * optional); times (default -1 = forever). Request-level actions: status
 * (200-599) with body (string or JSON), content_type and retry_after (a
 * Retry-After header: seconds or an HTTP date, as given), delay_ms, drop,
 * hang. The first request-level rule that matches decides a request and
 * spends one of its times. Per-recipient actions: at_status (AT statusCode)
 * and result_status (generic status); the first such rule matching a
 * recipient rewrites its result and spends one of its times.
 *
 * Design notes.
 * - Records are kept as ready-made JSON text in a growable array (a ring with
 *   --max-records), so recording is O(1) amortised and GET /_mock/requests is
 *   a concatenation.
 * - Deferred requests (delay, drop, hang) sit on a pending list. When the
 *   client goes away first, libevent may detach the request from its
 *   connection (evcon NULL) and leave it to us; the close callback and the
 *   reaper free those, so nothing leaks and nothing is touched after free.
 */
#include "gateway/http.h"
#include "common/buf.h"
#include "common/form.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (8u * 1024u * 1024u)
#define MAX_HEADERS (64u * 1024u)
#define MAX_FORM_FIELDS 4096
#define MAX_PATH_STATS 256
#define MAX_DELAY_MS 600000L
#define CONN_TIMEOUT_S 600
#define REAP_MS 100
#define MAX_TIMES 1000000000000L

/* ---- rules ------------------------------------------------------------ */

struct mock_rule {
    /* matchers (NULL: any) */
    char *path_prefix;
    char *method;
    char *recipient;
    char *body_contains;
    /* state */
    long times; /* remaining applications; -1 forever */
    long hits;
    /* request-level actions */
    int status; /* 0: no canned answer */
    char *body;
    size_t body_len;
    char *content_type;
    char *retry_after; /* Retry-After header of the canned answer, or NULL */
    long delay_ms; /* < 0: none */
    bool drop;
    bool hang;
    /* per-recipient actions */
    bool per_recipient;
    int at_status;       /* 0: none */
    char *result_status; /* NULL: none */
    cJSON *source;       /* the rule as given, for GET /_mock/behaviour */
};

/* ---- records and stats ------------------------------------------------ */

struct mock_record {
    uint64_t seq;
    char *json;
    size_t len;
};

struct path_stat {
    char *path;
    uint64_t requests;
    uint64_t recipients;
};

/* ---- deferred answers --------------------------------------------------- */

enum pending_kind { PEND_SEND, PEND_DROP, PEND_HANG };

struct mock;

struct pending {
    struct pending *prev, *next;
    struct mock *m;
    struct evhttp_request *req;
    struct event *timer; /* NULL for PEND_HANG */
    enum pending_kind kind;
    int status;
    char *content_type;
    struct tl_buf body;
};

struct mock {
    struct event_base *base;
    struct evhttp *http;
    struct timespec start;

    struct mock_rule *rules;
    size_t n_rules;

    struct mock_record *rec; /* ring when max_records > 0, else growable */
    size_t rec_cap, rec_start, rec_n;
    size_t max_records; /* SIZE_MAX: unlimited; 0: keep none */
    uint64_t next_seq;  /* seq of the last recorded request */
    uint64_t evicted;
    bool record_bodies;
    FILE *record_file;

    uint64_t n_requests, n_recipients, n_dropped, n_hung, n_delayed, n_canned;
    uint64_t status_count[600];
    struct path_stat paths[MAX_PATH_STATS];
    size_t n_paths;
    uint64_t other_path_requests, other_path_recipients;

    struct pending *pending;

    uint64_t id_salt, id_counter;
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void buf_hex64(struct tl_buf *b, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char s[16];

    for (int i = 15; i >= 0; i--) {
        s[i] = hex[v & 15];
        v >>= 4;
    }
    tl_buf_append(b, s, 16);
}

static void buf_u64(struct tl_buf *b, uint64_t v)
{
    char s[24];
    size_t i = sizeof(s);

    do {
        s[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tl_buf_append(b, s + i, sizeof(s) - i);
}

static void buf_i64(struct tl_buf *b, long long v)
{
    if (v < 0) {
        tl_buf_append_char(b, '-');
        buf_u64(b, (uint64_t)(-(v + 1)) + 1u);
    } else {
        buf_u64(b, (uint64_t)v);
    }
}

/* A unique 128-bit id as 32 hex digits: a per-process salt and a bijective
 * mix of a counter, so ids never repeat within a run and rarely across runs. */
static void buf_unique_id(struct mock *m, struct tl_buf *b, bool wide)
{
    uint64_t n = ++m->id_counter;

    if (wide)
        buf_hex64(b, m->id_salt);
    buf_hex64(b, splitmix64(n ^ m->id_salt));
}

/*
 * Appends p[0..n) as a quoted JSON string (common/buf.h's escaping). Returns
 * false if any byte was invalid UTF-8 (the caller may then add an exact
 * base64 copy).
 */
static bool buf_json_str(struct tl_buf *b, const char *p, size_t n)
{
    tl_buf_append_char(b, '"');
    bool clean = tl_buf_append_json(b, p, n);
    tl_buf_append_char(b, '"');
    return clean;
}

static void buf_json_cstr(struct tl_buf *b, const char *s)
{
    buf_json_str(b, s, strlen(s));
}

static void buf_base64(struct tl_buf *b, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;

    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char o[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63]};
        tl_buf_append(b, o, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        char o[4] = {tab[v >> 18], tab[(v >> 12) & 63], '=', '='};
        tl_buf_append(b, o, 4);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        char o[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], '='};
        tl_buf_append(b, o, 4);
    }
}

static uint64_t elapsed_ms(const struct mock *m)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(now.tv_sec - m->start.tv_sec) * 1000 +
                   (now.tv_nsec - m->start.tv_nsec) / 1000000;
    return ms < 0 ? 0 : (uint64_t)ms;
}


/* ---- recipients ------------------------------------------------------- */

struct span {
    const char *p;
    size_t n;
};

struct recips {
    struct span *v;
    size_t n, cap;
};

static void recips_add(struct recips *r, const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0)
        return;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    r->v[r->n].p = p;
    r->v[r->n].n = n;
    r->n++;
}

static void recips_split(struct recips *r, const char *s, size_t n, char sep)
{
    size_t i = 0;

    while (i <= n) {
        const char *q = i < n ? memchr(s + i, sep, n - i) : NULL;
        size_t end = q ? (size_t)(q - s) : n;
        recips_add(r, s + i, end - i);
        i = end + 1;
    }
}

static bool recips_has(const struct recips *r, const char *want)
{
    size_t wn = strlen(want);

    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].n == wn && memcmp(r->v[i].p, want, wn) == 0)
            return true;
    return false;
}

/* "+" then 7..15 digits: what the aggregators accept as an international number. */
static bool plausible_msisdn(const char *p, size_t n)
{
    if (n < 8 || n > 16 || p[0] != '+')
        return false;
    for (size_t i = 1; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* ---- the incoming request, parsed once ----------------------------------- */

enum endpoint { EP_OTHER, EP_AT, EP_TWILIO, EP_KANNEL, EP_GENERIC };

struct inreq {
    enum evhttp_cmd_type cmd;
    const char *method;
    const char *path; /* raw, NUL-terminated copy */
    size_t path_len;
    const char *query; /* raw, "" when none */
    const char *content_type; /* "" when none */
    const char *body;
    size_t body_len;
    enum endpoint ep;
    bool method_ok;
    bool form_ok;
    struct tl_form form;  /* AT, Twilio, Kannel (body) */
    struct tl_form qform; /* Kannel (query) */
    cJSON *json;          /* generic */
    struct recips rcpt;
};

static bool path_is_twilio(const char *path, size_t n)
{
    static const char pre[] = "/2010-04-01/Accounts/";
    static const char suf[] = "/Messages.json";
    size_t pl = sizeof(pre) - 1, sl = sizeof(suf) - 1;

    if (n <= pl + sl || memcmp(path, pre, pl) != 0 || memcmp(path + n - sl, suf, sl) != 0)
        return false;
    return memchr(path + pl, '/', n - pl - sl) == NULL;
}

static const char *form_value(const struct tl_form *f, const char *name, size_t *len)
{
    const struct tl_form_field *fld = tl_form_find(f, name);

    if (!fld)
        return NULL;
    if (len)
        *len = fld->value_len;
    return fld->value;
}

static void inreq_parse(struct inreq *in)
{
    const char *p = in->path;
    size_t n = in->path_len;

    in->ep = EP_OTHER;
    in->method_ok = true;
    in->form_ok = true;
    if (n == 19 && memcmp(p, "/version1/messaging", 19) == 0) {
        in->ep = EP_AT;
        in->method_ok = in->cmd == EVHTTP_REQ_POST;
    } else if (path_is_twilio(p, n)) {
        in->ep = EP_TWILIO;
        in->method_ok = in->cmd == EVHTTP_REQ_POST;
    } else if (n == 16 && memcmp(p, "/cgi-bin/sendsms", 16) == 0) {
        in->ep = EP_KANNEL;
        in->method_ok = in->cmd == EVHTTP_REQ_GET || in->cmd == EVHTTP_REQ_POST;
    } else if (n == 13 && memcmp(p, "/generic/send", 13) == 0) {
        in->ep = EP_GENERIC;
        in->method_ok = in->cmd == EVHTTP_REQ_POST;
    }
    if (in->ep == EP_OTHER || !in->method_ok)
        return;

    size_t vlen;
    const char *v;
    switch (in->ep) {
    case EP_AT:
        in->form_ok = tl_form_parse(&in->form, in->body, in->body_len, MAX_FORM_FIELDS) == 0;
        if (in->form_ok && (v = form_value(&in->form, "to", &vlen)) != NULL)
            recips_split(&in->rcpt, v, vlen, ',');
        break;
    case EP_TWILIO:
        in->form_ok = tl_form_parse(&in->form, in->body, in->body_len, MAX_FORM_FIELDS) == 0;
        if (in->form_ok && (v = form_value(&in->form, "To", &vlen)) != NULL)
            recips_add(&in->rcpt, v, vlen);
        break;
    case EP_KANNEL:
        in->form_ok =
            tl_form_parse(&in->qform, in->query, strlen(in->query), MAX_FORM_FIELDS) == 0 &&
            (in->cmd != EVHTTP_REQ_POST ||
             strncasecmp(in->content_type, "application/x-www-form-urlencoded", 33) != 0 ||
             tl_form_parse(&in->form, in->body, in->body_len, MAX_FORM_FIELDS) == 0);
        if (in->form_ok) {
            v = form_value(&in->qform, "to", &vlen);
            if (!v)
                v = form_value(&in->form, "to", &vlen);
            if (v)
                recips_split(&in->rcpt, v, vlen, ' ');
        }
        break;
    case EP_GENERIC: {
        in->json = cJSON_ParseWithLength(in->body, in->body_len);
        cJSON *msgs = cJSON_GetObjectItemCaseSensitive(in->json, "messages");
        cJSON *msg;
        in->form_ok = cJSON_IsArray(msgs);
        cJSON_ArrayForEach(msg, msgs)
        {
            cJSON *to = cJSON_GetObjectItemCaseSensitive(msg, "to");
            if (cJSON_IsString(to))
                recips_add(&in->rcpt, to->valuestring, strlen(to->valuestring));
        }
        break;
    }
    case EP_OTHER:
        break;
    }
}

static void inreq_free(struct inreq *in)
{
    tl_form_free(&in->form);
    tl_form_free(&in->qform);
    cJSON_Delete(in->json);
    free(in->rcpt.v);
}

/* ---- rule matching ------------------------------------------------------ */

/* memmem without _GNU_SOURCE */
static bool contains(const char *hay, size_t hn, const char *needle, size_t nn)
{
    if (nn == 0)
        return true;
    for (const char *p = hay; hn >= nn;) {
        const char *q = memchr(p, needle[0], hn - nn + 1);
        if (!q)
            return false;
        if (memcmp(q, needle, nn) == 0)
            return true;
        hn -= (size_t)(q - p) + 1;
        p = q + 1;
    }
    return false;
}

static bool rule_matches(const struct mock_rule *r, const struct inreq *in)
{
    if (r->times == 0)
        return false;
    if (r->path_prefix && strncmp(in->path, r->path_prefix, strlen(r->path_prefix)) != 0)
        return false;
    if (r->method && strcasecmp(in->method, r->method) != 0)
        return false;
    if (r->body_contains &&
        (in->body_len == 0 ||
         !contains(in->body, in->body_len, r->body_contains, strlen(r->body_contains))))
        return false;
    return true;
}

static struct mock_rule *rule_for_request(struct mock *m, const struct inreq *in, long *index)
{
    for (size_t i = 0; i < m->n_rules; i++) {
        struct mock_rule *r = &m->rules[i];
        if (r->per_recipient || !rule_matches(r, in))
            continue;
        if (r->recipient && !recips_has(&in->rcpt, r->recipient))
            continue;
        if (r->times > 0)
            r->times--;
        r->hits++;
        *index = (long)i;
        return r;
    }
    *index = -1;
    return NULL;
}

/* The first per-recipient rule for this recipient that carries the action the
 * endpoint can use (at_status for AT, result_status for generic). */
static struct mock_rule *rule_for_recipient(struct mock *m, const struct inreq *in,
                                            const struct span *rc)
{
    for (size_t i = 0; i < m->n_rules; i++) {
        struct mock_rule *r = &m->rules[i];
        if (!r->per_recipient || !rule_matches(r, in))
            continue;
        if (in->ep == EP_AT ? r->at_status == 0 : r->result_status == NULL)
            continue;
        if (r->recipient && (strlen(r->recipient) != rc->n || memcmp(r->recipient, rc->p, rc->n)))
            continue;
        if (r->times > 0)
            r->times--;
        r->hits++;
        return r;
    }
    return NULL;
}

static void rule_free(struct mock_rule *r)
{
    free(r->path_prefix);
    free(r->method);
    free(r->recipient);
    free(r->body_contains);
    free(r->body);
    free(r->content_type);
    free(r->retry_after);
    free(r->result_status);
    cJSON_Delete(r->source);
}

static void rules_clear(struct mock *m)
{
    for (size_t i = 0; i < m->n_rules; i++)
        rule_free(&m->rules[i]);
    free(m->rules);
    m->rules = NULL;
    m->n_rules = 0;
}

/* ---- recording ---------------------------------------------------------- */

static void record_store(struct mock *m, char *json, size_t len)
{
    struct mock_record r = {m->next_seq, json, len};

    if (m->max_records == 0) {
        free(json);
        m->evicted++;
        return;
    }
    if (m->rec_n == m->max_records) {
        free(m->rec[m->rec_start].json);
        m->rec[m->rec_start] = r;
        m->rec_start = (m->rec_start + 1) % m->max_records;
        m->evicted++;
        return;
    }
    if (m->rec_n == m->rec_cap) {
        size_t cap = m->rec_cap ? m->rec_cap * 2 : 1024;
        if (cap > m->max_records)
            cap = m->max_records;
        m->rec = xrealloc(m->rec, cap * sizeof(*m->rec));
        m->rec_cap = cap;
    }
    m->rec[m->rec_n++] = r; /* rec_start stays 0 until the ring is full */
}

static void records_clear(struct mock *m)
{
    for (size_t i = 0; i < m->rec_n; i++)
        free(m->rec[(m->rec_start + i) % m->rec_cap].json);
    free(m->rec);
    m->rec = NULL;
    m->rec_cap = m->rec_start = m->rec_n = 0;
}

static void header_names_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void record_request(struct mock *m, struct evhttp_request *req, const struct inreq *in,
                           long rule)
{
    struct tl_buf b = {0};
    struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
    struct evkeyval *kv;
    bool first = true;

    m->next_seq++;
    tl_buf_append_str(&b, "{\"seq\":");
    buf_u64(&b, m->next_seq);
    tl_buf_append_str(&b, ",\"t_ms\":");
    buf_u64(&b, elapsed_ms(m));
    tl_buf_append_str(&b, ",\"method\":");
    buf_json_cstr(&b, in->method);
    tl_buf_append_str(&b, ",\"path\":");
    buf_json_str(&b, in->path, in->path_len);
    tl_buf_append_str(&b, ",\"query\":");
    buf_json_cstr(&b, in->query);
    tl_buf_append_str(&b, ",\"headers\":{");
    /* names lower-cased; a repeated header's values joined with ", " */
    for (kv = hdrs->tqh_first; kv; kv = kv->next.tqe_next) {
        struct evkeyval *prev;
        bool seen = false;
        for (prev = hdrs->tqh_first; prev != kv; prev = prev->next.tqe_next)
            if (strcasecmp(prev->key, kv->key) == 0) {
                seen = true;
                break;
            }
        if (seen)
            continue;
        char *name = xstrdup(kv->key);
        header_names_lower(name);
        if (!first)
            tl_buf_append_char(&b, ',');
        first = false;
        buf_json_cstr(&b, name);
        free(name);
        tl_buf_append_char(&b, ':');
        bool repeated = false;
        for (struct evkeyval *k2 = kv->next.tqe_next; k2; k2 = k2->next.tqe_next)
            if (strcasecmp(k2->key, kv->key) == 0)
                repeated = true;
        if (!repeated) {
            buf_json_cstr(&b, kv->value);
        } else {
            struct tl_buf joined = {0};
            for (struct evkeyval *k2 = kv; k2; k2 = k2->next.tqe_next) {
                if (strcasecmp(k2->key, kv->key) != 0)
                    continue;
                if (joined.len)
                    tl_buf_append(&joined, ", ", 2);
                tl_buf_append_str(&joined, k2->value);
            }
            buf_json_str(&b, tl_buf_str(&joined), joined.len);
            tl_buf_free(&joined);
        }
    }
    tl_buf_append_str(&b, "},\"body\":");
    if (!m->record_bodies) {
        tl_buf_append_str(&b, "null");
    } else if (!buf_json_str(&b, in->body, in->body_len)) {
        tl_buf_append_str(&b, ",\"body_b64\":\"");
        buf_base64(&b, (const unsigned char *)in->body, in->body_len);
        tl_buf_append_char(&b, '"');
    }
    tl_buf_append_str(&b, ",\"body_len\":");
    buf_u64(&b, in->body_len);
    tl_buf_append_str(&b, ",\"rule\":");
    buf_i64(&b, rule);
    tl_buf_append_char(&b, '}');

    if (m->record_file) {
        fwrite(b.data, 1, b.len, m->record_file);
        fputc('\n', m->record_file);
        fflush(m->record_file);
    }
    size_t len = b.len;
    record_store(m, tl_buf_steal(&b), len);
}

static void stats_count(struct mock *m, const struct inreq *in)
{
    uint64_t nrc = in->ep == EP_OTHER || !in->method_ok ? 0 : in->rcpt.n;

    m->n_requests++;
    m->n_recipients += nrc;
    for (size_t i = 0; i < m->n_paths; i++) {
        if (strcmp(m->paths[i].path, in->path) == 0) {
            m->paths[i].requests++;
            m->paths[i].recipients += nrc;
            return;
        }
    }
    if (m->n_paths < MAX_PATH_STATS) {
        struct path_stat *ps = &m->paths[m->n_paths++];
        ps->path = xstrdup(in->path);
        ps->requests = 1;
        ps->recipients = nrc;
    } else {
        m->other_path_requests++;
        m->other_path_recipients += nrc;
    }
}

static void stats_clear(struct mock *m)
{
    for (size_t i = 0; i < m->n_paths; i++)
        free(m->paths[i].path);
    m->n_paths = 0;
    m->other_path_requests = m->other_path_recipients = 0;
    m->n_requests = m->n_recipients = m->n_dropped = m->n_hung = 0;
    m->n_delayed = m->n_canned = 0;
    memset(m->status_count, 0, sizeof(m->status_count));
}

/* ---- answers ------------------------------------------------------------ */

struct answer {
    int status;
    const char *content_type;
    struct tl_buf body;
};

static void reply(struct mock *m, struct evhttp_request *req, int status, const char *ctype,
                  const char *body, size_t len)
{
    if (status >= 0 && status < 600)
        m->status_count[status]++;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    if (len)
        evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    evhttp_send_reply(req, status, NULL, NULL);
}

static void answer_text(struct answer *a, int status, const char *ctype, const char *text)
{
    a->status = status;
    a->content_type = ctype;
    tl_buf_append_str(&a->body, text);
}

static const char *at_status_name(int code)
{
    switch (code) {
    case 100:
        return "Processed";
    case 101:
        return "Success";
    case 102:
        return "Queued";
    case 401:
        return "RiskHold";
    case 402:
        return "InvalidSenderId";
    case 403:
        return "InvalidPhoneNumber";
    case 404:
        return "UnsupportedNumberType";
    case 405:
        return "InsufficientBalance";
    case 406:
        return "UserInBlacklist";
    case 407:
        return "CouldNotRoute";
    case 500:
        return "InternalServerError";
    case 501:
        return "GatewayError";
    case 502:
        return "RejectedByGateway";
    }
    return "Failed";
}

/* Africa's Talking: 201 and one Recipients entry per number, in order. */
static void answer_at(struct mock *m, const struct inreq *in, struct answer *a)
{
    const char *missing = NULL;

    if (!form_value(&in->form, "username", NULL))
        missing = "username";
    else if (!form_value(&in->form, "message", NULL))
        missing = "message";
    else if (!form_value(&in->form, "to", NULL) || in->rcpt.n == 0)
        missing = "to";
    if (missing) {
        a->status = 400;
        a->content_type = "text/plain";
        tl_buf_appendf(&a->body, "Request is missing required form field '%s'", missing);
        return;
    }

    struct tl_buf list = {0};
    size_t sent = 0;
    for (size_t i = 0; i < in->rcpt.n; i++) {
        const struct span *rc = &in->rcpt.v[i];
        int code = plausible_msisdn(rc->p, rc->n) ? 101 : 403;
        struct mock_rule *r = rule_for_recipient(m, in, rc);
        if (r)
            code = r->at_status;
        bool ok = code >= 100 && code <= 102;
        if (i)
            tl_buf_append_char(&list, ',');
        tl_buf_append_str(&list, "{\"statusCode\":");
        buf_i64(&list, code);
        tl_buf_append_str(&list, ",\"number\":");
        buf_json_str(&list, rc->p, rc->n);
        tl_buf_append_str(&list, ok ? ",\"cost\":\"KES 0.8000\",\"status\":\"" : ",\"cost\":\"0\","
                                                                                 "\"status\":\"");
        tl_buf_append_str(&list, at_status_name(code));
        if (ok) {
            tl_buf_append_str(&list, "\",\"messageId\":\"ATXid_");
            buf_unique_id(m, &list, true);
            tl_buf_append_str(&list, "\"}");
            sent++;
        } else {
            tl_buf_append_str(&list, "\",\"messageId\":\"None\"}");
        }
    }
    a->status = 201;
    a->content_type = "application/json";
    tl_buf_append_str(&a->body, "{\"SMSMessageData\":{\"Message\":\"Sent to ");
    buf_u64(&a->body, sent);
    tl_buf_append_char(&a->body, '/');
    buf_u64(&a->body, in->rcpt.n);
    tl_buf_append_str(&a->body, " Total Cost: KES ");
    buf_u64(&a->body, sent * 8 / 10);
    tl_buf_appendf(&a->body, ".%04u", (unsigned)(sent * 8 % 10 * 1000));
    tl_buf_append_str(&a->body, "\",\"Recipients\":[");
    tl_buf_append(&a->body, tl_buf_str(&list), list.len);
    tl_buf_append_str(&a->body, "]}}");
    tl_buf_free(&list);
}

static void twilio_error(struct answer *a, int status, int code, const char *message)
{
    a->status = status;
    a->content_type = "application/json; charset=utf-8";
    tl_buf_appendf(&a->body, "{\"code\":%d,\"message\":", code);
    buf_json_cstr(&a->body, message);
    tl_buf_appendf(&a->body,
                   ",\"more_info\":\"https://www.twilio.com/docs/errors/%d\",\"status\":%d}", code,
                   status);
}

static void buf_json_field(struct tl_buf *b, const char *name, const char *v, size_t n)
{
    tl_buf_appendf(b, ",\"%s\":", name);
    if (v)
        buf_json_str(b, v, n);
    else
        tl_buf_append_str(b, "null");
}

/* Twilio: 201 with a Message resource, status "queued". */
static void answer_twilio(struct mock *m, const struct inreq *in, struct answer *a)
{
    size_t to_len = 0, from_len = 0, body_len = 0, mss_len = 0;
    const char *to = form_value(&in->form, "To", &to_len);
    const char *from = form_value(&in->form, "From", &from_len);
    const char *body = form_value(&in->form, "Body", &body_len);
    const char *mss = form_value(&in->form, "MessagingServiceSid", &mss_len);

    if (!to || to_len == 0) {
        twilio_error(a, 400, 21604, "A 'To' phone number is required.");
        return;
    }
    if (!plausible_msisdn(to, to_len)) {
        char *msg = xasprintf("The 'To' number %.*s is not a valid phone number.",
                              (int)(to_len > 64 ? 64 : to_len), to);
        twilio_error(a, 400, 21211, msg);
        free(msg);
        return;
    }
    if ((!from || from_len == 0) && (!mss || mss_len == 0)) {
        twilio_error(a, 400, 21603, "A 'From' phone number is required.");
        return;
    }
    if (!body || body_len == 0) {
        twilio_error(a, 400, 21602, "Message body is required.");
        return;
    }

    /* account sid: the path segment after /Accounts/ */
    const char *acct = in->path + 21;
    size_t acct_len = in->path_len - 21 - 14;
    struct tl_buf sid = {0};
    char date[64];
    time_t now = time(NULL);
    struct tm tm;

    tl_buf_append_str(&sid, "SM");
    buf_unique_id(m, &sid, true);
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);

    struct tl_buf *b = &a->body;
    tl_buf_append_str(b, "{\"account_sid\":");
    buf_json_str(b, acct, acct_len);
    tl_buf_append_str(b, ",\"api_version\":\"2010-04-01\"");
    buf_json_field(b, "body", body, body_len);
    buf_json_field(b, "date_created", date, strlen(date));
    tl_buf_append_str(b, ",\"date_sent\":null");
    buf_json_field(b, "date_updated", date, strlen(date));
    tl_buf_append_str(b, ",\"direction\":\"outbound-api\",\"error_code\":null,"
                         "\"error_message\":null");
    buf_json_field(b, "from", from, from_len);
    buf_json_field(b, "messaging_service_sid", mss, mss_len);
    tl_buf_append_str(b, ",\"num_media\":\"0\",\"num_segments\":\"1\",\"price\":null,"
                         "\"price_unit\":\"USD\"");
    buf_json_field(b, "sid", sid.data, sid.len);
    tl_buf_append_str(b, ",\"status\":\"queued\",\"subresource_uris\":{\"media\":");
    {
        struct tl_buf u = {0};
        tl_buf_append_str(&u, "/2010-04-01/Accounts/");
        tl_buf_append(&u, acct, acct_len);
        tl_buf_append_str(&u, "/Messages/");
        tl_buf_append(&u, sid.data, sid.len);
        size_t base = u.len;
        tl_buf_append_str(&u, "/Media.json");
        buf_json_str(b, u.data, u.len);
        tl_buf_append_char(b, '}');
        u.len = base;
        tl_buf_append_str(&u, ".json");
        buf_json_field(b, "to", to, to_len);
        buf_json_field(b, "uri", u.data, u.len);
        tl_buf_free(&u);
    }
    tl_buf_append_char(b, '}');
    tl_buf_free(&sid);
    a->status = 201;
    a->content_type = "application/json; charset=utf-8";
}

/* Kannel smsbox: 202 "0: Accepted for delivery". */
static void answer_kannel(const struct inreq *in, struct answer *a)
{
    if (in->rcpt.n == 0) {
        answer_text(a, 400, "text/html", "Missing receiver number, rejected");
        return;
    }
    answer_text(a, 202, "text/html", "0: Accepted for delivery");
}

/* Generic JSON API: 200 and one result per message, in order. */
static void answer_generic(struct mock *m, const struct inreq *in, struct answer *a)
{
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(in->json, "messages");
    cJSON *msg;
    bool first = true;

    a->status = 200;
    a->content_type = "application/json";
    tl_buf_append_str(&a->body, "{\"results\":[");
    cJSON_ArrayForEach(msg, msgs)
    {
        cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
        cJSON *to = cJSON_GetObjectItemCaseSensitive(msg, "to");
        cJSON *text = cJSON_GetObjectItemCaseSensitive(msg, "text");
        char *idtext = id ? cJSON_PrintUnformatted(id) : NULL;

        if (!first)
            tl_buf_append_char(&a->body, ',');
        first = false;
        tl_buf_append_str(&a->body, "{\"id\":");
        tl_buf_append_str(&a->body, idtext ? idtext : "null");
        free(idtext);
        if (!cJSON_IsString(to) || !cJSON_IsString(text)) {
            tl_buf_append_str(&a->body, ",\"status\":\"failed\",\"error\":\"");
            tl_buf_append_str(&a->body, !cJSON_IsString(to) ? "missing to" : "missing text");
            tl_buf_append_str(&a->body, "\"}");
            continue;
        }
        struct span rc = {to->valuestring, strlen(to->valuestring)};
        while (rc.n && *rc.p == ' ') {
            rc.p++;
            rc.n--;
        }
        while (rc.n && rc.p[rc.n - 1] == ' ')
            rc.n--;
        struct mock_rule *r = rule_for_recipient(m, in, &rc);
        const char *st = "sent", *err = NULL;
        if (r) {
            st = r->result_status;
            err = "mock rule";
        } else if (!plausible_msisdn(rc.p, rc.n)) {
            st = "failed";
            err = "invalid phone number";
        }
        tl_buf_append_str(&a->body, ",\"status\":");
        buf_json_cstr(&a->body, st);
        if (strcmp(st, "sent") == 0) {
            tl_buf_append_str(&a->body, ",\"message_id\":\"G");
            buf_unique_id(m, &a->body, false);
            tl_buf_append_char(&a->body, '"');
        } else {
            tl_buf_append_str(&a->body, ",\"error\":");
            buf_json_cstr(&a->body, err);
        }
        tl_buf_append_char(&a->body, '}');
    }
    tl_buf_append_str(&a->body, "]}");
}

static void answer_normal(struct mock *m, const struct inreq *in, struct answer *a)
{
    if (in->ep == EP_OTHER) {
        answer_text(a, 404, "text/plain", "Not Found");
        return;
    }
    if (!in->method_ok) {
        answer_text(a, 405, "text/plain", "Method Not Allowed");
        return;
    }
    if (!in->form_ok) {
        if (in->ep == EP_GENERIC)
            answer_text(a, 400, "application/json",
                        "{\"error\":\"body must be a JSON object with a messages array\"}");
        else
            answer_text(a, 400, "text/plain", "Malformed form encoding");
        return;
    }
    switch (in->ep) {
    case EP_AT:
        answer_at(m, in, a);
        break;
    case EP_TWILIO:
        answer_twilio(m, in, a);
        break;
    case EP_KANNEL:
        answer_kannel(in, a);
        break;
    case EP_GENERIC:
        answer_generic(m, in, a);
        break;
    case EP_OTHER:
        break;
    }
}

/* ---- deferred answers --------------------------------------------------- */

static void pending_unlink(struct mock *m, struct pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        m->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static void pending_destroy(struct pending *p)
{
    if (p->timer)
        event_free(p->timer);
    free(p->content_type);
    tl_buf_free(&p->body);
    free(p);
}

static void pending_fire_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;
    struct mock *m = p->m;
    struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);

    (void)fd;
    (void)what;
    pending_unlink(m, p);
    if (p->kind == PEND_SEND) {
        /* a detached request (client gone) is freed by evhttp_send_reply */
        reply(m, p->req, p->status, p->content_type, tl_buf_str(&p->body), p->body.len);
    } else if (evcon) {
        m->n_dropped++;
        evhttp_connection_free(evcon); /* frees the request with it */
    } else {
        m->n_dropped++;
        evhttp_request_free(p->req);
    }
    pending_destroy(p);
}

/* A connection closes: forget deferred requests that were on it. */
static void conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
    struct mock *m = arg;
    struct pending *p = m->pending, *next;

    for (; p; p = next) {
        next = p->next;
        struct evhttp_connection *c = evhttp_request_get_connection(p->req);
        if (c != NULL && c != evcon)
            continue;
        pending_unlink(m, p);
        if (c == NULL) /* detached from its connection: ours to free */
            evhttp_request_free(p->req);
        /* else evhttp_connection_free frees it right after this callback */
        pending_destroy(p);
    }
}

static void defer(struct mock *m, struct evhttp_request *req, enum pending_kind kind,
                  long delay_ms, struct answer *a)
{
    struct pending *p = xcalloc(1, sizeof(*p));
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);

    p->m = m;
    p->req = req;
    p->kind = kind;
    if (a) {
        p->status = a->status;
        p->content_type = xstrdup(a->content_type);
        p->body = a->body; /* takes the buffer */
        memset(&a->body, 0, sizeof(a->body));
    }
    if (evcon)
        evhttp_connection_set_closecb(evcon, conn_close_cb, m);
    p->next = m->pending;
    if (m->pending)
        m->pending->prev = p;
    m->pending = p;
    if (kind == PEND_HANG)
        return;
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    /* the loop's cached "now" dates from before this request was parsed:
     * refresh it so the delay counts from here and never ends early */
    event_base_update_cache_time(m->base);
    p->timer = evtimer_new(m->base, pending_fire_cb, p);
    evtimer_add(p->timer, &tv);
}

/*
 * libevent stops reading a connection once its request is read, so it does
 * not notice a client that gives up on a hung request. Every REAP_MS we peek
 * at each hung request's socket and close those whose peer has gone, so a
 * "hang forever" rule cannot pile up descriptors.
 */
static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mock *m = arg;

    (void)fd;
    (void)what;
again:
    for (struct pending *p = m->pending; p; p = p->next) {
        if (p->kind != PEND_HANG)
            continue;
        struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
        if (!evcon) {
            pending_unlink(m, p);
            evhttp_request_free(p->req);
            pending_destroy(p);
            goto again;
        }
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
        evutil_socket_t sfd = bev ? bufferevent_getfd(bev) : -1;
        char c;
        ssize_t n = sfd >= 0 ? recv(sfd, &c, 1, MSG_PEEK | MSG_DONTWAIT) : 0;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            pending_unlink(m, p);
            pending_destroy(p);
            evhttp_connection_free(evcon); /* frees the request with it */
            goto again;
        }
    }
}

static void pending_clear_all(struct mock *m)
{
    while (m->pending) {
        struct pending *p = m->pending;
        pending_unlink(m, p);
        if (evhttp_request_get_connection(p->req) == NULL)
            evhttp_request_free(p->req);
        /* attached ones go with their connection in evhttp_free */
        pending_destroy(p);
    }
}

/* ---- the send endpoints --------------------------------------------------- */

static void handle_send(struct mock *m, struct evhttp_request *req, struct inreq *in)
{
    long rule_index;
    struct mock_rule *r;
    struct answer a = {0};

    inreq_parse(in);
    r = rule_for_request(m, in, &rule_index);
    record_request(m, req, in, rule_index);
    stats_count(m, in);

    if (r && r->hang) {
        m->n_hung++;
        defer(m, req, PEND_HANG, 0, NULL);
        return;
    }
    if (r && r->drop) {
        defer(m, req, PEND_DROP, r->delay_ms > 0 ? r->delay_ms : 0, NULL);
        return;
    }
    if (r && r->status) {
        m->n_canned++;
        a.status = r->status;
        a.content_type = r->content_type;
        if (r->body)
            tl_buf_append(&a.body, r->body, r->body_len);
        if (r->retry_after)
            evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
                              r->retry_after);
    } else {
        answer_normal(m, in, &a);
    }
    if (r && r->delay_ms > 0) {
        m->n_delayed++;
        defer(m, req, PEND_SEND, r->delay_ms, &a);
    } else {
        reply(m, req, a.status, a.content_type, tl_buf_str(&a.body), a.body.len);
    }
    tl_buf_free(&a.body);
}

/* ---- the control API ------------------------------------------------------ */

static void ctl_reply_json(struct evhttp_request *req, int status, const char *json)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), json, strlen(json));
    evhttp_send_reply(req, status, NULL, NULL);
}

static void ctl_error(struct evhttp_request *req, int status, const char *msg)
{
    struct tl_buf b = {0};

    tl_buf_append_str(&b, "{\"error\":");
    buf_json_cstr(&b, msg);
    tl_buf_append_char(&b, '}');
    ctl_reply_json(req, status, tl_buf_str(&b));
    tl_buf_free(&b);
}

static char *dup_string_item(const cJSON *v, bool *ok)
{
    if (!cJSON_IsString(v)) {
        *ok = false;
        return NULL;
    }
    return xstrdup(v->valuestring);
}

static bool int_item(const cJSON *v, long lo, long hi, long *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi))
        return false;
    long x = (long)d;
    if ((double)x != d)
        return false;
    *out = x;
    return true;
}

/* Parses one rule; on error fills *err (caller frees) and returns false. */
static bool rule_parse(const cJSON *j, size_t idx, struct mock_rule *r, char **err)
{
    const cJSON *v;
    bool ok = true;
    long x = 0;

    memset(r, 0, sizeof(*r));
    r->times = -1;
    r->delay_ms = -1;
    if (!cJSON_IsObject(j)) {
        *err = xasprintf("rule %zu: not an object", idx);
        return false;
    }
    cJSON_ArrayForEach(v, j)
    {
        const char *k = v->string;
        const char *why = NULL;
        if (strcmp(k, "path_prefix") == 0) {
            r->path_prefix = dup_string_item(v, &ok);
        } else if (strcmp(k, "method") == 0) {
            r->method = dup_string_item(v, &ok);
        } else if (strcmp(k, "recipient") == 0) {
            r->recipient = dup_string_item(v, &ok);
        } else if (strcmp(k, "body_contains") == 0) {
            r->body_contains = dup_string_item(v, &ok);
            if (ok && r->body_contains[0] == '\0')
                why = "must not be empty";
        } else if (strcmp(k, "times") == 0) {
            ok = int_item(v, -1, MAX_TIMES, &r->times);
        } else if (strcmp(k, "status") == 0) {
            ok = int_item(v, 200, 599, &x);
            r->status = (int)x;
        } else if (strcmp(k, "body") == 0) {
            if (cJSON_IsString(v)) {
                r->body = xstrdup(v->valuestring);
                r->body_len = strlen(r->body);
            } else if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
                r->body = cJSON_PrintUnformatted(v);
                r->body_len = r->body ? strlen(r->body) : 0;
            } else {
                ok = false;
            }
        } else if (strcmp(k, "content_type") == 0) {
            r->content_type = dup_string_item(v, &ok);
        } else if (strcmp(k, "retry_after") == 0) {
            r->retry_after = dup_string_item(v, &ok);
        } else if (strcmp(k, "delay_ms") == 0) {
            ok = int_item(v, 0, MAX_DELAY_MS, &r->delay_ms);
        } else if (strcmp(k, "drop") == 0) {
            ok = cJSON_IsBool(v);
            r->drop = cJSON_IsTrue(v);
        } else if (strcmp(k, "hang") == 0) {
            ok = cJSON_IsBool(v);
            r->hang = cJSON_IsTrue(v);
        } else if (strcmp(k, "at_status") == 0) {
            ok = int_item(v, 100, 599, &x);
            r->at_status = (int)x;
        } else if (strcmp(k, "result_status") == 0) {
            r->result_status = dup_string_item(v, &ok);
        } else {
            *err = xasprintf("rule %zu: unknown key '%s'", idx, k);
            return false;
        }
        if (!ok && !why)
            why = "has the wrong type or is out of range";
        if (why) {
            *err = xasprintf("rule %zu: '%s' %s", idx, k, why);
            return false;
        }
    }
    r->per_recipient = r->at_status || r->result_status;
    bool request_level = r->status || r->delay_ms >= 0 || r->drop || r->hang;
    if (r->per_recipient && request_level) {
        *err = xasprintf("rule %zu: at_status/result_status cannot be combined with "
                         "status, delay_ms, drop or hang",
                         idx);
        return false;
    }
    if (!r->per_recipient && !request_level) {
        *err = xasprintf("rule %zu: no action (status, delay_ms, drop, hang, at_status or "
                         "result_status)",
                         idx);
        return false;
    }
    if ((r->body || r->content_type || r->retry_after) && !r->status) {
        *err = xasprintf("rule %zu: body/content_type/retry_after need a status", idx);
        return false;
    }
    if (r->drop && r->hang) {
        *err = xasprintf("rule %zu: drop and hang are exclusive", idx);
        return false;
    }
    if (r->status && !r->content_type) {
        bool json = r->body && (r->body[0] == '{' || r->body[0] == '[');
        r->content_type = xstrdup(json ? "application/json" : "text/plain");
    }
    r->source = cJSON_Duplicate(j, 1);
    return true;
}

static void ctl_behaviour_set(struct mock *m, struct evhttp_request *req, const struct inreq *in)
{
    cJSON *doc = cJSON_ParseWithLength(in->body, in->body_len);
    const cJSON *list = cJSON_IsArray(doc) ? doc : cJSON_GetObjectItemCaseSensitive(doc, "rules");
    struct mock_rule *rules = NULL;
    size_t n = 0;
    char *err = NULL;
    const cJSON *j;

    if (!cJSON_IsArray(list)) {
        cJSON_Delete(doc);
        ctl_error(req, 400, "expected {\"rules\":[...]}");
        return;
    }
    size_t total = (size_t)cJSON_GetArraySize(list);
    rules = xcalloc(total ? total : 1, sizeof(*rules));
    cJSON_ArrayForEach(j, list)
    {
        if (!rule_parse(j, n, &rules[n], &err)) {
            rule_free(&rules[n]);
            for (size_t i = 0; i < n; i++)
                rule_free(&rules[i]);
            free(rules);
            cJSON_Delete(doc);
            ctl_error(req, 400, err);
            free(err);
            return;
        }
        n++;
    }
    cJSON_Delete(doc);
    rules_clear(m);
    m->rules = rules;
    m->n_rules = n;
    char *ans = xasprintf("{\"ok\":true,\"rules\":%zu}", n);
    ctl_reply_json(req, 200, ans);
    free(ans);
}

static void ctl_behaviour_get(struct mock *m, struct evhttp_request *req)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "rules");

    for (size_t i = 0; i < m->n_rules; i++) {
        cJSON *r = cJSON_Duplicate(m->rules[i].source, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(r, "times");
        cJSON_AddNumberToObject(r, "times", (double)m->rules[i].times);
        cJSON_AddNumberToObject(r, "hits", (double)m->rules[i].hits);
        cJSON_AddItemToArray(arr, r);
    }
    char *s = cJSON_PrintUnformatted(doc);
    ctl_reply_json(req, 200, s);
    free(s);
    cJSON_Delete(doc);
}

static void ctl_requests(struct mock *m, struct evhttp_request *req, const struct inreq *in)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    uint64_t since = 0;
    struct tl_form q;

    if (tl_form_parse(&q, in->query, strlen(in->query), 16) == 0) {
        const char *s = tl_form_get(&q, "since");
        if (s) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(s, &end, 10);
            if (errno || *end || end == s) {
                tl_form_free(&q);
                ctl_error(req, 400, "since must be a sequence number");
                return;
            }
            since = v;
        }
        tl_form_free(&q);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add(out, "[", 1);
    bool first = true;
    uint64_t first_seq = m->next_seq - m->rec_n + 1;
    size_t skip = since >= first_seq ? (size_t)(since - first_seq + 1) : 0;
    for (size_t i = skip; i < m->rec_n; i++) {
        const struct mock_record *r = &m->rec[(m->rec_start + i) % m->rec_cap];
        if (!first)
            evbuffer_add(out, ",", 1);
        first = false;
        evbuffer_add(out, r->json, r->len);
    }
    evbuffer_add(out, "]", 1);
    evhttp_send_reply(req, 200, NULL, NULL);
}

static void ctl_stats(struct mock *m, struct evhttp_request *req)
{
    struct tl_buf b = {0};

    tl_buf_append_str(&b, "{\"requests\":");
    buf_u64(&b, m->n_requests);
    tl_buf_append_str(&b, ",\"recipients\":");
    buf_u64(&b, m->n_recipients);
    tl_buf_append_str(&b, ",\"paths\":{");
    for (size_t i = 0; i < m->n_paths; i++) {
        if (i)
            tl_buf_append_char(&b, ',');
        buf_json_cstr(&b, m->paths[i].path);
        tl_buf_append_str(&b, ":{\"requests\":");
        buf_u64(&b, m->paths[i].requests);
        tl_buf_append_str(&b, ",\"recipients\":");
        buf_u64(&b, m->paths[i].recipients);
        tl_buf_append_char(&b, '}');
    }
    tl_buf_append_str(&b, "},\"other_paths\":{\"requests\":");
    buf_u64(&b, m->other_path_requests);
    tl_buf_append_str(&b, ",\"recipients\":");
    buf_u64(&b, m->other_path_recipients);
    tl_buf_append_str(&b, "},\"status\":{");
    bool first = true;
    for (int s = 0; s < 600; s++) {
        if (!m->status_count[s])
            continue;
        tl_buf_appendf(&b, "%s\"%d\":", first ? "" : ",", s);
        buf_u64(&b, m->status_count[s]);
        first = false;
    }
    tl_buf_append_str(&b, "},\"canned\":");
    buf_u64(&b, m->n_canned);
    tl_buf_append_str(&b, ",\"delayed\":");
    buf_u64(&b, m->n_delayed);
    tl_buf_append_str(&b, ",\"dropped\":");
    buf_u64(&b, m->n_dropped);
    tl_buf_append_str(&b, ",\"hung\":");
    buf_u64(&b, m->n_hung);
    size_t pend = 0;
    for (struct pending *p = m->pending; p; p = p->next)
        pend++;
    tl_buf_append_str(&b, ",\"pending\":");
    buf_u64(&b, pend);
    tl_buf_append_str(&b, ",\"records\":");
    buf_u64(&b, m->rec_n);
    tl_buf_append_str(&b, ",\"records_evicted\":");
    buf_u64(&b, m->evicted);
    tl_buf_append_str(&b, ",\"last_seq\":");
    buf_u64(&b, m->next_seq);
    tl_buf_append_char(&b, '}');
    ctl_reply_json(req, 200, tl_buf_str(&b));
    tl_buf_free(&b);
}

static void handle_control(struct mock *m, struct evhttp_request *req, const struct inreq *in)
{
    const char *what = in->path + 7; /* after "/_mock/" */
    bool get = in->cmd == EVHTTP_REQ_GET, post = in->cmd == EVHTTP_REQ_POST;

    if (strcmp(what, "behaviour") == 0 && post)
        ctl_behaviour_set(m, req, in);
    else if (strcmp(what, "behaviour") == 0 && get)
        ctl_behaviour_get(m, req);
    else if (strcmp(what, "reset") == 0 && post) {
        rules_clear(m);
        records_clear(m);
        stats_clear(m);
        m->next_seq = 0;
        m->evicted = 0;
        ctl_reply_json(req, 200, "{\"ok\":true}");
    } else if (strcmp(what, "requests") == 0 && get)
        ctl_requests(m, req, in);
    else if (strcmp(what, "stats") == 0 && get)
        ctl_stats(m, req);
    else if (strcmp(what, "behaviour") == 0 || strcmp(what, "reset") == 0 ||
             strcmp(what, "requests") == 0 || strcmp(what, "stats") == 0)
        ctl_error(req, 405, "method not allowed");
    else
        ctl_error(req, 404, "unknown control endpoint");
}

/* ---- dispatch ----------------------------------------------------------- */

static void request_cb(struct evhttp_request *req, void *arg)
{
    struct mock *m = arg;
    struct inreq in;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *input = evhttp_request_get_input_buffer(req);
    size_t body_len = evbuffer_get_length(input);

    memset(&in, 0, sizeof(in));
    in.cmd = evhttp_request_get_command(req);
    in.method = http_method_name(in.cmd);
    in.body = body_len ? (const char *)evbuffer_pullup(input, -1) : "";
    in.body_len = body_len;
    if (!in.body) {
        in.body = "";
        in.body_len = 0;
    }
    /* the raw request target: path, then '?' query; an absolute URI keeps its path */
    if (!uri)
        uri = "";
    if (uri[0] != '/') {
        const char *scheme = strstr(uri, "://");
        if (scheme) {
            const char *slash = strchr(scheme + 3, '/');
            uri = slash ? slash : "/";
        }
    }
    const char *qm = strchr(uri, '?');
    size_t plen = qm ? (size_t)(qm - uri) : strlen(uri);
    char *path = xstrndup(uri, plen);
    char *query = xstrdup(qm ? qm + 1 : "");
    char *hash = strchr(query, '#');
    if (hash)
        *hash = '\0';
    in.path = path;
    in.path_len = plen;
    in.query = query;
    in.content_type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    if (!in.content_type)
        in.content_type = "";

    if (strncmp(path, "/_mock/", 7) == 0)
        handle_control(m, req, &in);
    else
        handle_send(m, req, &in);

    inreq_free(&in);
    free(path);
    free(query);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

/* ---- start-up ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: mock_aggregator --listen HOST:PORT [--record FILE] [--no-record-bodies]\n"
          "                       [--max-records N]\n",
          f);
}

static bool parse_listen(const char *arg, char **host, unsigned *port)
{
    const char *colon = strrchr(arg, ':');
    char *end;

    if (!colon || colon == arg)
        return false;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return false;
    if (arg[0] == '[' && colon[-1] == ']')
        *host = xstrndup(arg + 1, (size_t)(colon - arg - 2));
    else
        *host = xstrndup(arg, (size_t)(colon - arg));
    *port = (unsigned)p;
    return true;
}

int main(int argc, char **argv)
{
    struct mock m;
    char *host = NULL;
    unsigned port = 0;
    const char *record_path = NULL;

    memset(&m, 0, sizeof(m));
    m.record_bodies = true;
    m.max_records = SIZE_MAX;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            free(host);
            if (!parse_listen(argv[++i], &host, &port)) {
                fprintf(stderr, "mock_aggregator: bad --listen '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc) {
            record_path = argv[++i];
        } else if (strcmp(argv[i], "--no-record-bodies") == 0) {
            m.record_bodies = false;
        } else if (strcmp(argv[i], "--max-records") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || v >= SIZE_MAX / 64) {
                fprintf(stderr, "mock_aggregator: bad --max-records '%s'\n", argv[i]);
                return 2;
            }
            m.max_records = (size_t)v;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            free(host);
            return 2;
        }
    }
    if (!host) {
        usage(stderr);
        return 2;
    }
    if (record_path) {
        m.record_file = fopen(record_path, "a");
        if (!m.record_file) {
            fprintf(stderr, "mock_aggregator: cannot open %s: %s\n", record_path,
                    strerror(errno));
            free(host);
            return 1;
        }
    }

    signal(SIGPIPE, SIG_IGN);
    clock_gettime(CLOCK_MONOTONIC, &m.start);
    m.id_salt = splitmix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
                           (uint64_t)m.start.tv_nsec);
    /* precise timers: the default coarse monotonic clock (~4 ms ticks) lets a
     * delay end a few ms early */
    struct event_config *cfg = event_config_new();
    if (cfg) {
        event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
        m.base = event_base_new_with_config(cfg);
        event_config_free(cfg);
    }
    m.http = m.base ? evhttp_new(m.base) : NULL;
    if (!m.http) {
        fprintf(stderr, "mock_aggregator: libevent initialisation failed\n");
        return 1;
    }
    evhttp_set_allowed_methods(m.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                           EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(m.http, MAX_BODY);
    evhttp_set_max_headers_size(m.http, MAX_HEADERS);
    evhttp_set_timeout(m.http, CONN_TIMEOUT_S);
    evhttp_set_gencb(m.http, request_cb, &m);

    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(m.http, host, (uint16_t)port);
    if (!bound) {
        fprintf(stderr, "mock_aggregator: cannot listen on %s:%u: %s\n", host, port,
                strerror(errno));
        return 1;
    }
    /* accepted sockets inherit TCP_NODELAY on Linux: no 40 ms Nagle stalls
     * behind delayed ACKs on large answers */
    int one = 1;
    setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) != 0) {
        fprintf(stderr, "mock_aggregator: getsockname: %s\n", strerror(errno));
        return 1;
    }
    unsigned actual = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    free(host);

    struct event *sigterm = evsignal_new(m.base, SIGTERM, signal_cb, m.base);
    struct event *sigint = evsignal_new(m.base, SIGINT, signal_cb, m.base);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    struct event *reaper = event_new(m.base, -1, EV_PERSIST, reap_cb, &m);
    struct timeval reap_tv = {0, REAP_MS * 1000};
    evtimer_add(reaper, &reap_tv);

    printf("port=%u\n", actual);
    fflush(stdout);

    event_base_dispatch(m.base);

    pending_clear_all(&m);
    evhttp_free(m.http);
    event_free(sigterm);
    event_free(sigint);
    event_free(reaper);
    event_base_free(m.base);
    rules_clear(&m);
    records_clear(&m);
    stats_clear(&m);
    if (m.record_file)
        fclose(m.record_file);
    return 0;
}
