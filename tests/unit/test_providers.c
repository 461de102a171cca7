/*
 * test_providers.c — the provider fixture runner and the providers' unit tests.
 *
 * Fixtures live in tests/fixtures/providers/<provider>/NAME.txt (format in
 * tests/fixtures/providers/README). For every fixture the runner checks the
 * expectations written beside the captured bytes, then attacks the capture:
 * every truncation of the body, an oversized body, invalid UTF-8 in a named
 * field, forged/missing signatures and tokens, and 2000 seeded random byte
 * flips — each must give a clean result code (or a valid parse), never a
 * crash or a leak (the SAN=1 build runs it under ASan+UBSan).
 *
 * TALAASH_FIXTURES overrides the fixture directory. With TALAASH_WRITE_SEEDS=DIR
 * the runner also writes each fixture as a libFuzzer seed in the format of
 * tests/fuzz/fuzz_provider_NAME.c (DIR/fuzz_provider_<name>/<fixture>).
 */
#include "common/buf.h"
#include "common/form.h"
#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "providers/provider.h"
#include "providers/providers.h"

#include "tests/tap.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define FLIPS 2000

/* ---- deterministic PRNG (xorshift64*) ---------------------------------- */

static uint64_t rng_state;

static void rng_seed(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    rng_state = h ? h : 1;
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* One random change to a byte: a flipped bit or a new value. */
static char flip_byte(char c, uint64_t r)
{
    unsigned char u = (unsigned char)c;

    if (r & 1)
        u = (unsigned char)(u ^ (1u << ((r >> 1) % 8)));
    else
        u = (unsigned char)(r >> 8);
    return (char)u;
}

/* ---- fixture files ----------------------------------------------------------- */

struct kv {
    char *section;
    char *key;
    char *value;
};

struct fixture {
    char *path;
    char *name;     /* file name */
    char *provider; /* directory name */
    struct kv *kv;
    size_t nkv;
    /* raw sections */
    char *request, *http_out, *answer_body, *reply_body;
    size_t request_len, http_out_len, answer_body_len, reply_body_len;
    bool has_request, has_http_out, has_answer_body, has_reply_body;
    /* == msg sections */
    struct tl_out_msg *msgs;
    size_t nmsgs;
};

static bool is_raw_section(const char *name)
{
    return strcmp(name, "request") == 0 || strcmp(name, "http-out") == 0 ||
           strcmp(name, "answer-body") == 0 || strcmp(name, "reply-body") == 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct tl_buf b = {0};
    char chunk[4096];
    size_t n;

    if (f == NULL)
        return NULL;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        tl_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return tl_buf_steal(&b);
}

/* Decodes \n \r \t \\ \xHH in an expectation value. */
static char *unescape(const char *s)
{
    struct tl_buf b = {0};

    for (size_t i = 0; s[i]; i++) {
        if (s[i] != '\\' || s[i + 1] == '\0') {
            tl_buf_append_char(&b, s[i]);
            continue;
        }
        i++;
        switch (s[i]) {
        case 'n':
            tl_buf_append_char(&b, '\n');
            break;
        case 'r':
            tl_buf_append_char(&b, '\r');
            break;
        case 't':
            tl_buf_append_char(&b, '\t');
            break;
        case 'x': {
            unsigned v = 0;
            for (int k = 0; k < 2 && s[i + 1]; k++) {
                char c = s[++i];
                v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
            }
            tl_buf_append_char(&b, (char)v);
            break;
        }
        default:
            tl_buf_append_char(&b, s[i]);
        }
    }
    return tl_buf_steal(&b);
}

static const char *kv_get(const struct fixture *fx, const char *section, const char *key)
{
    for (size_t i = 0; i < fx->nkv; i++) {
        if (strcmp(fx->kv[i].section, section) == 0 && strcmp(fx->kv[i].key, key) == 0)
            return fx->kv[i].value;
    }
    return NULL;
}

static void msg_add_key(struct fixture *fx, const char *key, const char *value)
{
    struct tl_out_msg *m = &fx->msgs[fx->nmsgs - 1];

    if (strcmp(key, "id") == 0)
        m->id = strtoll(value, NULL, 10);
    else if (strcmp(key, "to") == 0)
        m->to = xstrdup(value);
    else if (strcmp(key, "text") == 0)
        m->text = unescape(value);
    else if (strcmp(key, "ucs2") == 0)
        m->ucs2 = strcmp(value, "yes") == 0;
}

static void raw_set(struct fixture *fx, const char *section, struct tl_buf *raw)
{
    /* The line break before the next "== " marker (or EOF) is the file's. */
    if (raw->len > 0 && raw->data[raw->len - 1] == '\n')
        raw->len--;
    if (raw->data == NULL)
        tl_buf_append(raw, "", 0);
    raw->data[raw->len] = '\0';
    size_t len = raw->len;
    char *p = tl_buf_steal(raw);
    if (strcmp(section, "request") == 0) {
        fx->request = p, fx->request_len = len, fx->has_request = true;
    } else if (strcmp(section, "http-out") == 0) {
        fx->http_out = p, fx->http_out_len = len, fx->has_http_out = true;
    } else if (strcmp(section, "answer-body") == 0) {
        fx->answer_body = p, fx->answer_body_len = len, fx->has_answer_body = true;
    } else {
        fx->reply_body = p, fx->reply_body_len = len, fx->has_reply_body = true;
    }
}

static struct fixture *fixture_load(const char *dir, const char *provider, const char *name)
{
    struct fixture *fx = xcalloc(1, sizeof(*fx));
    size_t len, pos = 0;
    char *text;
    char *section = xstrdup("");
    struct tl_buf raw = {0};

    fx->path = xasprintf("%s/%s/%s", dir, provider, name);
    fx->name = xstrdup(name);
    fx->provider = xstrdup(provider);
    text = read_file(fx->path, &len);
    if (text == NULL) {
        free(section);
        return fx;
    }
    while (pos < len) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
        char *line = xstrndup(text + pos, llen);
        pos += llen + (nl ? 1 : 0);

        if (strncmp(line, "== ", 3) == 0) {
            if (is_raw_section(section))
                raw_set(fx, section, &raw);
            free(section);
            section = xstrdup(line + 3);
            if (strcmp(section, "msg") == 0) {
                fx->msgs = xrealloc(fx->msgs, (fx->nmsgs + 1) * sizeof(*fx->msgs));
                memset(&fx->msgs[fx->nmsgs], 0, sizeof(*fx->msgs));
                fx->nmsgs++;
            }
        } else if (is_raw_section(section)) {
            tl_buf_append(&raw, line, llen);
            tl_buf_append_char(&raw, '\n');
        } else if (line[0] != '#' && line[0] != '\0') {
            char *colon = strchr(line, ':');
            if (colon != NULL) {
                char *v = colon + 1;
                *colon = '\0';
                while (*v == ' ')
                    v++;
                size_t vl = strlen(v);
                while (vl > 0 && v[vl - 1] == '\r')
                    v[--vl] = '\0';
                if (strcmp(section, "msg") == 0 && fx->nmsgs > 0) {
                    msg_add_key(fx, line, v);
                } else {
                    fx->kv = xrealloc(fx->kv, (fx->nkv + 1) * sizeof(*fx->kv));
                    fx->kv[fx->nkv].section = xstrdup(section);
                    fx->kv[fx->nkv].key = xstrdup(line);
                    fx->kv[fx->nkv].value = xstrdup(v);
                    fx->nkv++;
                }
            }
        }
        free(line);
    }
    if (is_raw_section(section))
        raw_set(fx, section, &raw);
    tl_buf_free(&raw);
    free(section);
    free(text);
    return fx;
}

static void fixture_free(struct fixture *fx)
{
    for (size_t i = 0; i < fx->nkv; i++) {
        free(fx->kv[i].section);
        free(fx->kv[i].key);
        free(fx->kv[i].value);
    }
    for (size_t i = 0; i < fx->nmsgs; i++) {
        free((char *)fx->msgs[i].to);
        free((char *)fx->msgs[i].text);
    }
    free(fx->msgs);
    free(fx->kv);
    free(fx->request);
    free(fx->http_out);
    free(fx->answer_body);
    free(fx->reply_body);
    free(fx->path);
    free(fx->name);
    free(fx->provider);
    free(fx);
}

/* ---- requests built from a capture ------------------------------------------ */

#define MAX_HEADERS 32

struct request {
    char *method, *path, *query, *body;
    size_t body_len;
    struct tl_header headers[MAX_HEADERS];
    size_t nheaders;
    char *peer;
    struct tl_http_in in;
};

static void request_sync(struct request *r)
{
    r->in.method = r->method;
    r->in.path = r->path;
    r->in.query = r->query;
    r->in.body = r->body;
    r->in.body_len = r->body_len;
    r->in.headers = r->headers;
    r->in.nheaders = r->nheaders;
    r->in.peer_ip = r->peer;
}

/* Parses "METHOD target HTTP/1.1", headers, blank line, body. */
static void request_parse(struct request *r, const char *raw, size_t len, const char *peer)
{
    size_t pos = 0;
    bool first = true;

    memset(r, 0, sizeof(*r));
    r->peer = xstrdup(peer);
    while (pos < len) {
        const char *nl = memchr(raw + pos, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - (raw + pos)) : len - pos;
        size_t next = pos + llen + (nl ? 1 : 0);
        if (llen > 0 && raw[pos + llen - 1] == '\r')
            llen--;
        if (first) {
            char *line = xstrndup(raw + pos, llen);
            char *sp1 = strchr(line, ' ');
            char *target = sp1 ? sp1 + 1 : line + llen;
            char *sp2 = strchr(target, ' ');
            if (sp1)
                *sp1 = '\0';
            if (sp2)
                *sp2 = '\0';
            r->method = xstrdup(line);
            char *q = strchr(target, '?');
            if (q) {
                *q = '\0';
                r->query = xstrdup(q + 1);
            }
            r->path = xstrdup(target);
            free(line);
            first = false;
        } else if (llen == 0) {
            pos = next;
            r->body = xmalloc(len - pos + 1);
            memcpy(r->body, raw + pos, len - pos);
            r->body[len - pos] = '\0';
            r->body_len = len - pos;
            break;
        } else if (r->nheaders < MAX_HEADERS) {
            const char *colon = memchr(raw + pos, ':', llen);
            if (colon) {
                const char *v = colon + 1;
                while (v < raw + pos + llen && *v == ' ')
                    v++;
                r->headers[r->nheaders].name = xstrndup(raw + pos, (size_t)(colon - (raw + pos)));
                r->headers[r->nheaders].value =
                    xstrndup(v, (size_t)(raw + pos + llen - v));
                r->nheaders++;
            }
        }
        pos = next;
    }
    request_sync(r);
}

static void request_free(struct request *r)
{
    free(r->method);
    free(r->path);
    free(r->query);
    free(r->body);
    free(r->peer);
    for (size_t i = 0; i < r->nheaders; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    memset(r, 0, sizeof(*r));
}

/* Replaces the body with exactly n bytes at a fresh allocation (ASan sees overreads). */
static void request_set_body(struct request *r, const char *p, size_t n)
{
    free(r->body);
    r->body = xmalloc(n ? n : 1);
    if (n)
        memcpy(r->body, p, n);
    r->body_len = n;
    request_sync(r);
}

static void request_set_query(struct request *r, const char *q)
{
    free(r->query);
    r->query = q ? xstrdup(q) : NULL;
    request_sync(r);
}

static void request_drop_header(struct request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0) {
            free((char *)r->headers[i].name);
            free((char *)r->headers[i].value);
            r->headers[i] = r->headers[--r->nheaders];
            i--;
        }
    }
    request_sync(r);
}

static void request_set_header(struct request *r, const char *name, const char *value)
{
    request_drop_header(r, name);
    if (r->nheaders < MAX_HEADERS) {
        r->headers[r->nheaders].name = xstrdup(name);
        r->headers[r->nheaders].value = xstrdup(value);
        r->nheaders++;
    }
    request_sync(r);
}

/* ---- channel ------------------------------------------------------------------- */

struct channel {
    struct tl_channel_conf conf;
    char *owned[16];
    size_t nowned;
};

static const char *chan_str(struct channel *c, const struct fixture *fx, const char *key)
{
    const char *v = kv_get(fx, "channel", key);

    if (v == NULL)
        return NULL;
    c->owned[c->nowned] = unescape(v);
    return c->owned[c->nowned++];
}

static void channel_init(struct channel *c, const struct fixture *fx)
{
    const char *bs;

    memset(c, 0, sizeof(*c));
    c->conf.provider = fx->provider;
    c->conf.name = chan_str(c, fx, "name");
    if (c->conf.name == NULL)
        c->conf.name = fx->provider;
    c->conf.base_url = chan_str(c, fx, "base_url");
    c->conf.username = chan_str(c, fx, "username");
    c->conf.api_key = chan_str(c, fx, "api_key");
    c->conf.account_sid = chan_str(c, fx, "account_sid");
    c->conf.auth_token = chan_str(c, fx, "auth_token");
    c->conf.password = chan_str(c, fx, "password");
    c->conf.secret = chan_str(c, fx, "secret");
    c->conf.token = chan_str(c, fx, "token");
    c->conf.sender = chan_str(c, fx, "sender");
    c->conf.allow_ips = chan_str(c, fx, "allow_ips");
    c->conf.public_url = chan_str(c, fx, "public_url");
    c->conf.rate = 10;
    bs = kv_get(fx, "channel", "batch_size");
    c->conf.batch_size = bs ? (int)strtol(bs, NULL, 10) : 100;
    bs = kv_get(fx, "channel", "max_parts");
    c->conf.max_parts = bs ? (int)strtol(bs, NULL, 10) : 0;
}

static void channel_free(struct channel *c)
{
    for (size_t i = 0; i < c->nowned; i++)
        free(c->owned[i]);
}

/* ---- names -------------------------------------------------------------------- */

static const struct {
    const char *name;
    int code;
} result_names[] = {
    {"OK", TL_OK},
    {"MALFORMED", TL_ERR_MALFORMED},
    {"TOO_LARGE", TL_ERR_TOO_LARGE},
    {"BAD_UTF8", TL_ERR_BAD_UTF8},
    {"AUTH", TL_ERR_AUTH},
    {"MISSING_FIELD", TL_ERR_MISSING_FIELD},
    {"INVALID", TL_ERR_INVALID},
};

static int result_code(const char *name)
{
    for (size_t i = 0; i < sizeof(result_names) / sizeof(result_names[0]); i++) {
        if (strcmp(result_names[i].name, name) == 0)
            return result_names[i].code;
    }
    return -1;
}

static const char *state_names[] = {"UNKNOWN", "ACCEPTED", "DELIVERED", "FAILED", "EXPIRED"};
static const char *send_names[] = {"SENT", "TEMPFAIL", "PERMFAIL", "OPTED_OUT"};

/* ---- clean-result checks ------------------------------------------------------ */

static bool str_ok(const char *s, bool required)
{
    if (s == NULL)
        return !required;
    return tl_utf8_valid(s, strlen(s));
}

static bool code_clean(int rc)
{
    return rc == TL_OK || rc == TL_ERR_MALFORMED || rc == TL_ERR_TOO_LARGE ||
           rc == TL_ERR_BAD_UTF8 || rc == TL_ERR_MISSING_FIELD;
}

static bool sms_clean(int rc, const struct tl_inbound_sms *m, const char *cause)
{
    if (!code_clean(rc))
        return false;
    if (rc != TL_OK)
        return cause != NULL && m->provider_id == NULL && m->from == NULL && m->to == NULL &&
               m->text == NULL && m->link_id == NULL;
    return str_ok(m->provider_id, true) && str_ok(m->from, true) && str_ok(m->to, false) &&
           str_ok(m->text, true) && strlen(m->text) == m->text_len && str_ok(m->link_id, false);
}

static bool dlr_clean(int rc, const struct tl_dlr *d, const char *cause)
{
    if (!code_clean(rc))
        return false;
    if (rc != TL_OK)
        return cause != NULL && d->provider_id == NULL && d->status_raw == NULL &&
               d->error == NULL && d->phone == NULL;
    return (d->provider_id != NULL || d->our_id > 0) && str_ok(d->provider_id, false) &&
           str_ok(d->status_raw, true) && str_ok(d->error, false) && str_ok(d->phone, false) &&
           (int)d->state >= 0 && (int)d->state <= TL_DLR_EXPIRED;
}

static bool ussd_clean(int rc, const struct tl_ussd_step *u, const char *cause)
{
    if (!code_clean(rc))
        return false;
    if (rc != TL_OK)
        return cause != NULL && u->session_id == NULL && u->phone == NULL && u->input == NULL;
    return str_ok(u->session_id, true) && str_ok(u->phone, true) && str_ok(u->input, true) &&
           str_ok(u->service_code, false) && str_ok(u->network, false);
}

static bool outcomes_clean(const struct tl_send_outcome *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((int)o[i].result < 0 || o[i].result > TL_SEND_OPTED_OUT)
            return false;
        if (!str_ok(o[i].provider_id, false) || !str_ok(o[i].error, false))
            return false;
    }
    return true;
}

enum kind { KIND_SMS, KIND_DLR, KIND_USSD, KIND_AUTH, KIND_SEND, KIND_NONE };

static enum kind fixture_kind(const struct fixture *fx)
{
    const char *k = kv_get(fx, "fixture", "kind");

    if (k == NULL)
        return KIND_NONE;
    if (strcmp(k, "sms") == 0)
        return KIND_SMS;
    if (strcmp(k, "dlr") == 0)
        return KIND_DLR;
    if (strcmp(k, "ussd") == 0)
        return KIND_USSD;
    if (strcmp(k, "auth") == 0)
        return KIND_AUTH;
    if (strcmp(k, "send") == 0)
        return KIND_SEND;
    return KIND_NONE;
}

/* Runs authenticate and the kind's parser; true when everything is clean. */
static bool run_clean(const struct tl_provider *p, const struct tl_channel_conf *ch,
                      const struct tl_http_in *in, enum kind kind, int *parse_rc)
{
    char *cause = NULL;
    int rc = p->authenticate(ch, in, &cause);
    bool ok = rc == TL_OK || (rc == TL_ERR_AUTH && cause != NULL);

    free(cause);
    cause = NULL;
    if (kind == KIND_SMS && p->parse_sms) {
        struct tl_inbound_sms m;
        rc = p->parse_sms(ch, in, &m, &cause);
        ok = ok && sms_clean(rc, &m, cause);
        tl_inbound_sms_clear(&m);
    } else if (kind == KIND_DLR && p->parse_dlr) {
        struct tl_dlr d;
        rc = p->parse_dlr(ch, in, &d, &cause);
        ok = ok && dlr_clean(rc, &d, cause);
        tl_dlr_clear(&d);
    } else if (kind == KIND_USSD && p->parse_ussd) {
        struct tl_ussd_step u;
        rc = p->parse_ussd(ch, in, &u, &cause);
        ok = ok && ussd_clean(rc, &u, cause);
        tl_ussd_step_clear(&u);
    }
    if (parse_rc)
        *parse_rc = rc;
    if (cause != NULL && !tl_utf8_valid(cause, strlen(cause)))
        ok = false;
    free(cause);
    return ok;
}

/* ---- expectations ---------------------------------------------------------------- */

/* Compares got with the expectation for key (absent = NULL; "~x" = starts with x). */
static void expect_str(const struct fixture *fx, const char *key, const char *got)
{
    const char *want = kv_get(fx, "expect", key);
    char *w = want ? unescape(want) : NULL;

    if (w != NULL && w[0] == '~')
        ok(got != NULL && strncmp(got, w + 1, strlen(w + 1)) == 0, "%s/%s: %s starts with %s",
           fx->provider, fx->name, key, w + 1);
    else
        is_str(got, w, "%s/%s: %s", fx->provider, fx->name, key);
    free(w);
}

static void expect_int(const struct fixture *fx, const char *key, long long got)
{
    const char *want = kv_get(fx, "expect", key);

    is_int(got, want ? strtoll(want, NULL, 10) : 0, "%s/%s: %s", fx->provider, fx->name, key);
}

static void expect_bool(const struct fixture *fx, const char *key, bool got)
{
    const char *want = kv_get(fx, "expect", key);

    is_int(got, want != NULL && strcmp(want, "yes") == 0, "%s/%s: %s", fx->provider, fx->name,
           key);
}

static void expect_reply(const struct fixture *fx, const struct tl_http_reply *r)
{
    const char *st = kv_get(fx, "expect", "reply.status");
    const char *ct = kv_get(fx, "expect", "reply.content-type");

    is_int(r->status, st ? strtol(st, NULL, 10) : 200, "%s/%s: reply status", fx->provider,
           fx->name);
    is_str(r->content_type, ct, "%s/%s: reply content type", fx->provider, fx->name);
    is_str(tl_buf_str(&r->body), fx->reply_body ? fx->reply_body : "", "%s/%s: reply body",
           fx->provider, fx->name);
    ok(r->body.len == strlen(tl_buf_str(&r->body)), "%s/%s: reply body has no NUL", fx->provider,
       fx->name);
}

static void check_callback_fixture(const struct fixture *fx, const struct tl_provider *p,
                                   const struct tl_channel_conf *ch, struct request *req,
                                   enum kind kind)
{
    const char *want_auth = kv_get(fx, "expect", "auth");
    const char *want_res = kv_get(fx, "expect", "result");
    char *cause = NULL;
    int rc;

    rc = p->authenticate(ch, &req->in, &cause);
    is_int(rc, result_code(want_auth ? want_auth : "OK"), "%s/%s: authenticate", fx->provider,
           fx->name);
    if (rc != TL_OK) {
        ok(cause != NULL, "%s/%s: authenticate gives a cause (%s)", fx->provider, fx->name,
           cause ? cause : "none");
        if (cause && ch->secret)
            ok(strstr(cause, ch->secret) == NULL, "%s/%s: cause hides the secret", fx->provider,
               fx->name);
    }
    free(cause);
    cause = NULL;
    if (kind == KIND_AUTH || rc != TL_OK)
        return; /* the gateway never parses what it did not authenticate */

    int want = result_code(want_res ? want_res : "OK");
    if (kind == KIND_SMS) {
        struct tl_inbound_sms m;
        rc = p->parse_sms(ch, &req->in, &m, &cause);
        is_int(rc, want, "%s/%s: parse_sms (%s)", fx->provider, fx->name, cause ? cause : "");
        if (rc == TL_OK) {
            expect_str(fx, "provider_id", m.provider_id);
            expect_str(fx, "from", m.from);
            expect_str(fx, "to", m.to);
            expect_str(fx, "text", m.text);
            is_int(m.text_len, m.text ? strlen(m.text) : 0, "%s/%s: text_len", fx->provider,
                   fx->name);
            expect_str(fx, "link_id", m.link_id);
            expect_int(fx, "sent_at", m.sent_at);
            if (kv_get(fx, "expect", "reply.content-type") != NULL) {
                struct tl_http_reply r;
                const char *rt = kv_get(fx, "fixture", "reply-text");
                char *text = rt ? unescape(rt) : NULL;
                p->render_sms_reply(ch, &m, text, &r);
                expect_reply(fx, &r);
                tl_http_reply_clear(&r);
                free(text);
            }
        } else {
            ok(sms_clean(rc, &m, cause), "%s/%s: error leaves nothing behind", fx->provider,
               fx->name);
        }
        tl_inbound_sms_clear(&m);
    } else if (kind == KIND_DLR) {
        struct tl_dlr d;
        rc = p->parse_dlr(ch, &req->in, &d, &cause);
        is_int(rc, want, "%s/%s: parse_dlr (%s)", fx->provider, fx->name, cause ? cause : "");
        if (rc == TL_OK) {
            const char *st = kv_get(fx, "expect", "state");
            expect_str(fx, "provider_id", d.provider_id);
            expect_str(fx, "status_raw", d.status_raw);
            is_str(state_names[d.state], st ? st : "UNKNOWN", "%s/%s: state", fx->provider,
                   fx->name);
            expect_str(fx, "error", d.error);
            expect_str(fx, "phone", d.phone);
            expect_bool(fx, "opted_out", d.opted_out);
            expect_int(fx, "our_id", d.our_id);
            if (kv_get(fx, "expect", "reply.content-type") != NULL) {
                struct tl_http_reply r;
                p->render_dlr_reply(ch, &r);
                expect_reply(fx, &r);
                tl_http_reply_clear(&r);
            }
        } else {
            ok(dlr_clean(rc, &d, cause), "%s/%s: error leaves nothing behind", fx->provider,
               fx->name);
        }
        tl_dlr_clear(&d);
    } else if (kind == KIND_USSD) {
        struct tl_ussd_step u;
        rc = p->parse_ussd(ch, &req->in, &u, &cause);
        is_int(rc, want, "%s/%s: parse_ussd (%s)", fx->provider, fx->name, cause ? cause : "");
        if (rc == TL_OK) {
            expect_str(fx, "session_id", u.session_id);
            expect_str(fx, "phone", u.phone);
            expect_str(fx, "service_code", u.service_code);
            expect_str(fx, "network", u.network);
            expect_str(fx, "input", u.input);
            expect_bool(fx, "input_is_path", u.input_is_path);
            if (kv_get(fx, "expect", "reply.content-type") != NULL) {
                struct tl_http_reply r;
                const char *rt = kv_get(fx, "fixture", "reply-text");
                const char *end = kv_get(fx, "fixture", "reply-end");
                char *text = rt ? unescape(rt) : NULL;
                p->render_ussd_reply(ch, text, end != NULL && strcmp(end, "yes") == 0, &r);
                expect_reply(fx, &r);
                tl_http_reply_clear(&r);
                free(text);
            }
        } else {
            ok(ussd_clean(rc, &u, cause), "%s/%s: error leaves nothing behind", fx->provider,
               fx->name);
        }
        tl_ussd_step_clear(&u);
    }
    free(cause);
}

/* ---- attacks on a capture ---------------------------------------------------------- */

static int parse_only(const struct tl_provider *p, const struct tl_channel_conf *ch,
                      const struct tl_http_in *in, enum kind kind)
{
    int rc;

    run_clean(p, ch, in, kind, &rc);
    return rc;
}

/* Inserts `ins` right after the value start of field `name` (form or JSON). */
static bool corrupt_field(const char *src, size_t len, const char *name, const char *ins,
                          bool json, struct tl_buf *out)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i + nlen < len; i++) {
        size_t at = 0;
        if (!json && (i == 0 || src[i - 1] == '&') && memcmp(src + i, name, nlen) == 0 &&
            src[i + nlen] == '=') {
            at = i + nlen + 1;
        } else if (json && src[i] == '"' && i + nlen + 1 < len &&
                   memcmp(src + i + 1, name, nlen) == 0 && src[i + nlen + 1] == '"') {
            size_t k = i + nlen + 2;
            while (k < len && (src[k] == ' ' || src[k] == ':'))
                k++;
            if (k < len && src[k] == '"')
                at = k + 1;
        }
        if (at) {
            tl_buf_reset(out);
            tl_buf_append(out, src, at);
            tl_buf_append_str(out, ins);
            tl_buf_append(out, src + at, len - at);
            return true;
        }
    }
    return false;
}

static bool body_is_json(const struct request *r)
{
    for (size_t i = 0; i < r->body_len; i++) {
        if (r->body[i] != ' ' && r->body[i] != '\n' && r->body[i] != '\r' && r->body[i] != '\t')
            return r->body[i] == '{';
    }
    return false;
}

static void attack_fixture(const struct fixture *fx, const struct tl_provider *p,
                           const struct tl_channel_conf *ch, const struct fixture *f,
                           enum kind kind)
{
    struct request req;
    const char *peer = kv_get(f, "fixture", "peer");
    char *orig_query;
    char *orig_body;
    size_t orig_len;
    bool clean = true;
    int rc;

    request_parse(&req, fx->request, fx->request_len, peer ? peer : "127.0.0.1");
    orig_query = req.query ? xstrdup(req.query) : NULL;
    orig_len = req.body_len;
    orig_body = xmalloc(orig_len + 1);
    memcpy(orig_body, req.body ? req.body : "", orig_len);

    /* every truncation of the body (and of the query) */
    for (size_t l = 0; l < orig_len; l++) {
        request_set_body(&req, orig_body, l);
        clean &= run_clean(p, ch, &req.in, kind, NULL);
    }
    request_set_body(&req, orig_body, orig_len);
    if (orig_query != NULL) {
        for (size_t l = 0; l < strlen(orig_query); l++) {
            char *q = xstrndup(orig_query, l);
            request_set_query(&req, q);
            clean &= run_clean(p, ch, &req.in, kind, NULL);
            free(q);
        }
        request_set_query(&req, orig_query);
    }
    ok(clean, "%s/%s: every truncation is clean", fx->provider, fx->name);

    if (kind != KIND_AUTH) {
        /* oversized body */
        struct tl_buf big = {0};
        tl_buf_append(&big, orig_body, orig_len);
        tl_buf_append_str(&big, body_is_json(&req) ? " " : "&pad=");
        while (big.len <= PROVIDER_BODY_MAX)
            tl_buf_append_char(&big, body_is_json(&req) ? ' ' : 'x');
        request_set_body(&req, big.data, big.len);
        rc = parse_only(p, ch, &req.in, kind);
        is_int(rc, TL_ERR_TOO_LARGE, "%s/%s: oversized body refused", fx->provider, fx->name);
        tl_buf_free(&big);
        request_set_body(&req, orig_body, orig_len);

        /* oversized query (callbacks that read it) */
        if (orig_query != NULL && strcmp(fx->provider, "kannel") == 0) {
            struct tl_buf q = {0};
            tl_buf_append_str(&q, orig_query);
            tl_buf_append_str(&q, "&pad=");
            while (q.len <= PROVIDER_BODY_MAX)
                tl_buf_append_char(&q, 'x');
            request_set_query(&req, q.data);
            rc = parse_only(p, ch, &req.in, kind);
            is_int(rc, TL_ERR_TOO_LARGE, "%s/%s: oversized query refused", fx->provider,
                   fx->name);
            tl_buf_free(&q);
            request_set_query(&req, orig_query);
        }

        /* invalid UTF-8 in each named field */
        for (size_t i = 0; i < f->nkv; i++) {
            if (strcmp(f->kv[i].section, "fixture") != 0 || strcmp(f->kv[i].key, "utf8-field") != 0)
                continue;
            const char *field = f->kv[i].value;
            struct tl_buf mod = {0};
            bool json = body_is_json(&req);
            if (corrupt_field(orig_body, orig_len, field, json ? "\xC3\x28" : "%C3%28", json,
                              &mod)) {
                request_set_body(&req, mod.data, mod.len);
                rc = parse_only(p, ch, &req.in, kind);
                request_set_body(&req, orig_body, orig_len);
            } else if (orig_query != NULL &&
                       corrupt_field(orig_query, strlen(orig_query), field, "%C3%28", false,
                                     &mod)) {
                request_set_query(&req, mod.data);
                rc = parse_only(p, ch, &req.in, kind);
                request_set_query(&req, orig_query);
            } else {
                rc = -1;
            }
            is_int(rc, TL_ERR_BAD_UTF8, "%s/%s: invalid UTF-8 in '%s' refused", fx->provider,
                   fx->name, field);
            /* and a NUL byte */
            if (corrupt_field(orig_body, orig_len, field, json ? "\\u0000" : "%00", json, &mod)) {
                request_set_body(&req, mod.data, mod.len);
                rc = parse_only(p, ch, &req.in, kind);
                request_set_body(&req, orig_body, orig_len);
            } else if (orig_query != NULL &&
                       corrupt_field(orig_query, strlen(orig_query), field, "%00", false, &mod)) {
                request_set_query(&req, mod.data);
                rc = parse_only(p, ch, &req.in, kind);
                request_set_query(&req, orig_query);
            } else {
                rc = -1;
            }
            ok(rc == TL_ERR_MALFORMED || rc == TL_ERR_BAD_UTF8,
               "%s/%s: NUL in '%s' refused (%d)", fx->provider, fx->name, field, rc);
            tl_buf_free(&mod);
        }
    }

    /* forged and missing authenticity, when this capture is authentic */
    const char *want_auth = kv_get(f, "expect", "auth");
    if (want_auth == NULL || strcmp(want_auth, "OK") == 0) {
        char *cause = NULL;
        static const char *sig_headers[] = {"X-Twilio-Signature", "X-Talaash-Signature"};
        for (size_t i = 0; i < 2; i++) {
            const char *v = tl_http_in_header(&req.in, sig_headers[i]);
            if (v == NULL)
                continue;
            char *saved = xstrdup(v);
            char *forged = xstrdup(v);
            size_t fl = strlen(forged);
            size_t at = fl > 2 && forged[fl - 1] == '=' ? fl - 2 : fl - 1;
            forged[at] = forged[at] == '0' ? '1' : '0';
            request_set_header(&req, sig_headers[i], forged);
            rc = p->authenticate(ch, &req.in, &cause);
            is_int(rc, TL_ERR_AUTH, "%s/%s: forged %s refused", fx->provider, fx->name,
                   sig_headers[i]);
            free(cause);
            cause = NULL;
            request_drop_header(&req, sig_headers[i]);
            rc = p->authenticate(ch, &req.in, &cause);
            is_int(rc, TL_ERR_AUTH, "%s/%s: missing %s refused", fx->provider, fx->name,
                   sig_headers[i]);
            free(cause);
            cause = NULL;
            request_set_header(&req, sig_headers[i], saved);
            if (orig_len > 0) {
                char *tampered = xmalloc(orig_len);
                memcpy(tampered, orig_body, orig_len);
                tampered[orig_len - 1] = tampered[orig_len - 1] == '1' ? '2' : '1';
                request_set_body(&req, tampered, orig_len);
                rc = p->authenticate(ch, &req.in, &cause);
                is_int(rc, TL_ERR_AUTH, "%s/%s: tampered body refused", fx->provider, fx->name);
                free(cause);
                cause = NULL;
                free(tampered);
                request_set_body(&req, orig_body, orig_len);
            }
            free(saved);
            free(forged);
        }
        if (provider_conf_set(ch->secret) && orig_query != NULL &&
            strstr(orig_query, "token=") != NULL && strcmp(p->name, "generic") != 0) {
            struct tl_buf q = {0};
            corrupt_field(orig_query, strlen(orig_query), "token", "x", false, &q);
            request_set_query(&req, q.data);
            rc = p->authenticate(ch, &req.in, &cause);
            is_int(rc, TL_ERR_AUTH, "%s/%s: wrong token refused", fx->provider, fx->name);
            ok(cause == NULL || strstr(cause, ch->secret) == NULL,
               "%s/%s: cause hides the secret", fx->provider, fx->name);
            free(cause);
            cause = NULL;
            tl_buf_reset(&q);
            /* drop every token=… parameter */
            const char *s = orig_query;
            while (*s) {
                const char *amp = strchr(s, '&');
                size_t l = amp ? (size_t)(amp - s) : strlen(s);
                if (strncmp(s, "token=", 6) != 0) {
                    if (q.len)
                        tl_buf_append_char(&q, '&');
                    tl_buf_append(&q, s, l);
                }
                s += l + (amp ? 1 : 0);
            }
            request_set_query(&req, q.len ? q.data : NULL);
            rc = p->authenticate(ch, &req.in, &cause);
            is_int(rc, TL_ERR_AUTH, "%s/%s: missing token refused", fx->provider, fx->name);
            free(cause);
            cause = NULL;
            tl_buf_free(&q);
            request_set_query(&req, orig_query);
        }
        if (provider_conf_set(ch->allow_ips)) {
            char *saved = req.peer;
            req.peer = xstrdup("203.0.113.250");
            request_sync(&req);
            rc = p->authenticate(ch, &req.in, &cause);
            is_int(rc, TL_ERR_AUTH, "%s/%s: peer outside allow_ips refused", fx->provider,
                   fx->name);
            free(cause);
            cause = NULL;
            free(req.peer);
            req.peer = saved;
            request_sync(&req);
        }
    }

    /* random byte flips of the body (or of the query when there is no body) */
    rng_seed(fx->path);
    clean = true;
    bool flip_query = orig_len == 0 && orig_query != NULL;
    size_t base_len = flip_query ? strlen(orig_query) : orig_len;
    const char *base = flip_query ? orig_query : orig_body;
    if (base_len > 0) {
        char *buf = xmalloc(base_len + 1);
        for (int it = 0; it < FLIPS; it++) {
            memcpy(buf, base, base_len);
            unsigned nflips = 1 + (unsigned)(rng_next() % 3);
            for (unsigned k = 0; k < nflips; k++) {
                size_t at = (size_t)(rng_next() % base_len);
                uint64_t r = rng_next();
                buf[at] = flip_byte(buf[at], r);
            }
            if (flip_query) {
                buf[base_len] = '\0';
                /* the query is a C string: a flipped-in NUL just ends it */
                request_set_query(&req, buf);
            } else {
                request_set_body(&req, buf, base_len);
            }
            clean &= run_clean(p, ch, &req.in, kind, NULL);
        }
        free(buf);
        if (flip_query)
            request_set_query(&req, orig_query);
        else
            request_set_body(&req, orig_body, orig_len);
    }
    ok(clean, "%s/%s: %d random byte flips are clean", fx->provider, fx->name, FLIPS);

    free(orig_query);
    free(orig_body);
    request_free(&req);
}

/* ---- outbound fixtures ------------------------------------------------------------- */

static char *render_http_out(const struct tl_http_out *o)
{
    struct tl_buf b = {0};

    if (o->url == NULL)
        return xstrdup("(none)");
    tl_buf_appendf(&b, "%s %s\n", o->method ? o->method : "(null)", o->url);
    for (size_t i = 0; i < o->nheaders; i++)
        tl_buf_appendf(&b, "%s: %s\n", o->headers[i].name, o->headers[i].value);
    if (o->userpwd != NULL)
        tl_buf_appendf(&b, "(userpwd): %s\n", o->userpwd);
    tl_buf_append_char(&b, '\n');
    tl_buf_append(&b, tl_buf_str(&o->body), o->body.len);
    return tl_buf_steal(&b);
}

static void check_send_fixture(const struct fixture *fx, const struct tl_provider *p,
                               const struct tl_channel_conf *ch)
{
    const char *want_build = kv_get(fx, "expect", "build");
    const char *status = kv_get(fx, "answer", "status");
    struct tl_http_out out;
    char *cause = NULL;
    int rc;

    if (fx->has_http_out || want_build != NULL) {
        rc = p->build_send(ch, fx->msgs, fx->nmsgs, &out, &cause);
        is_int(rc, result_code(want_build ? want_build : "OK"), "%s/%s: build_send (%s)",
               fx->provider, fx->name, cause ? cause : "");
        if (rc == TL_OK && fx->has_http_out) {
            char *got = render_http_out(&out);
            is_str(got, fx->http_out, "%s/%s: request is byte-exact", fx->provider, fx->name);
            free(got);
        }
        if (rc != TL_OK)
            ok(cause != NULL && out.url == NULL, "%s/%s: refusal explained", fx->provider,
               fx->name);
        tl_http_out_clear(&out);
        free(cause);
        cause = NULL;
    }
    if (status == NULL)
        return;

    struct tl_send_outcome *oc = xcalloc(fx->nmsgs ? fx->nmsgs : 1, sizeof(*oc));
    long st = strtol(status, NULL, 10);
    p->classify_send(ch, fx->msgs, fx->nmsgs, st, fx->answer_body,
                     fx->has_answer_body ? fx->answer_body_len : 0, oc);
    for (size_t i = 0; i < fx->nkv; i++) {
        if (strcmp(fx->kv[i].section, "expect") != 0 || strcmp(fx->kv[i].key, "outcome") != 0)
            continue;
        char id[32] = "", res[32] = "", pid[160] = "";
        int got_n = sscanf(fx->kv[i].value, "%31s %31s %159s", id, res, pid);
        long long want_id = strtoll(id, NULL, 10);
        size_t k;
        for (k = 0; k < fx->nmsgs && fx->msgs[k].id != want_id; k++)
            ;
        if (k == fx->nmsgs) {
            ok(0, "%s/%s: outcome for unknown message %s", fx->provider, fx->name, id);
            continue;
        }
        is_str(send_names[oc[k].result], res, "%s/%s: message %s result (%s)", fx->provider,
               fx->name, id, oc[k].error ? oc[k].error : "");
        is_str(oc[k].provider_id, got_n == 3 && strcmp(pid, "-") != 0 ? pid : NULL,
               "%s/%s: message %s provider id", fx->provider, fx->name, id);
        char ekey[48];
        snprintf(ekey, sizeof(ekey), "error.%s", id);
        const char *werr = kv_get(fx, "expect", ekey);
        if (werr != NULL)
            is_str(oc[k].error, werr, "%s/%s: message %s error", fx->provider, fx->name, id);
    }
    ok(outcomes_clean(oc, fx->nmsgs), "%s/%s: outcomes are clean", fx->provider, fx->name);
    for (size_t i = 0; i < fx->nmsgs; i++)
        tl_send_outcome_clear(&oc[i]);

    /* flips of the answer */
    if (fx->has_answer_body && fx->answer_body_len > 0) {
        bool clean = true;
        char *buf = xmalloc(fx->answer_body_len);
        rng_seed(fx->path);
        for (int it = 0; it < FLIPS; it++) {
            memcpy(buf, fx->answer_body, fx->answer_body_len);
            unsigned nflips = 1 + (unsigned)(rng_next() % 3);
            for (unsigned k = 0; k < nflips; k++) {
                size_t at = (size_t)(rng_next() % fx->answer_body_len);
                uint64_t r = rng_next();
                buf[at] = flip_byte(buf[at], r);
            }
            p->classify_send(ch, fx->msgs, fx->nmsgs, st, buf, fx->answer_body_len, oc);
            clean &= outcomes_clean(oc, fx->nmsgs);
            for (size_t i = 0; i < fx->nmsgs; i++)
                tl_send_outcome_clear(&oc[i]);
        }
        /* and every truncation */
        for (size_t l = 0; l < fx->answer_body_len; l++) {
            memcpy(buf, fx->answer_body, l);
            p->classify_send(ch, fx->msgs, fx->nmsgs, st, buf, l, oc);
            clean &= outcomes_clean(oc, fx->nmsgs);
            for (size_t i = 0; i < fx->nmsgs; i++)
                tl_send_outcome_clear(&oc[i]);
        }
        free(buf);
        ok(clean, "%s/%s: %d answer flips and every truncation are clean", fx->provider,
           fx->name, FLIPS);
    }
    free(oc);
}

/* ---- fuzz seeds (format of tests/fuzz/fuzz_provider_*.c) --------------------------- */

static const long seed_statuses[] = {0, 200, 201, 202, 400, 401, 403, 404, 429, 500, 503};

static void write_seed(const char *dir, const struct fixture *fx, enum kind kind)
{
    struct tl_buf b = {0};
    char *sub, *path;
    FILE *f;

    if (kind == KIND_SEND) {
        const char *status = kv_get(fx, "answer", "status");
        long st = status ? strtol(status, NULL, 10) : 200;
        unsigned char idx = 1;
        if (!fx->has_answer_body)
            return;
        for (size_t i = 0; i < sizeof(seed_statuses) / sizeof(seed_statuses[0]); i++) {
            if (seed_statuses[i] == st)
                idx = (unsigned char)i;
        }
        tl_buf_append_char(&b, 3);
        tl_buf_append_char(&b, (char)idx);
        tl_buf_append_char(&b, (char)(fx->nmsgs > 0 ? fx->nmsgs - 1 : 0));
        tl_buf_append(&b, fx->answer_body, fx->answer_body_len);
    } else {
        struct request req;
        const char *sig;
        unsigned op = kind == KIND_SMS ? 0 : kind == KIND_DLR ? 1 : kind == KIND_USSD ? 2 : 4;
        request_parse(&req, fx->request, fx->request_len, "127.0.0.1");
        if (req.method && strcmp(req.method, "GET") == 0)
            op |= 8;
        if (provider_content_type_is(&req.in, "application/json"))
            op |= 1u << 4;
        else if (provider_content_type_is(&req.in, "text/plain"))
            op |= 2u << 4;
        else if (!provider_content_type_is(&req.in, "application/x-www-form-urlencoded"))
            op |= 3u << 4;
        sig = tl_http_in_header(&req.in, "X-Twilio-Signature");
        if (sig == NULL)
            sig = tl_http_in_header(&req.in, "X-Talaash-Signature");
        if (sig == NULL)
            sig = tl_http_in_header(&req.in, "X-Kannel-From");
        tl_buf_append_char(&b, (char)op);
        tl_buf_append_str(&b, req.query ? req.query : "");
        tl_buf_append_char(&b, '\n');
        tl_buf_append_str(&b, sig ? sig : "");
        tl_buf_append_char(&b, '\n');
        tl_buf_append(&b, req.body ? req.body : "", req.body_len);
        request_free(&req);
    }
    sub = xasprintf("%s/fuzz_provider_%s", dir, fx->provider);
    mkdir(dir, 0755);
    mkdir(sub, 0755);
    path = xasprintf("%s/%.*s", sub, (int)(strlen(fx->name) - 4), fx->name);
    f = fopen(path, "wb");
    if (f != NULL) {
        fwrite(b.data ? b.data : "", 1, b.len, f);
        fclose(f);
    }
    free(path);
    free(sub);
    tl_buf_free(&b);
}

/* ---- the fixture walk --------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_dir(const char *path, bool dirs, size_t *n)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char **names = NULL;

    *n = 0;
    if (d == NULL)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        char *full;
        if (e->d_name[0] == '.')
            continue;
        full = xasprintf("%s/%s", path, e->d_name);
        if (stat(full, &st) == 0 && (dirs ? S_ISDIR(st.st_mode) != 0 : S_ISREG(st.st_mode) != 0) &&
            (dirs || (strlen(e->d_name) > 4 &&
                      strcmp(e->d_name + strlen(e->d_name) - 4, ".txt") == 0))) {
            names = xrealloc(names, (*n + 1) * sizeof(*names));
            names[(*n)++] = xstrdup(e->d_name);
        }
        free(full);
    }
    closedir(d);
    if (*n > 1)
        qsort(names, *n, sizeof(*names), name_cmp);
    return names;
}

/* Which (provider, kind) pairs had a fixture with a utf8-field. */
static char utf8_seen[8][8];

static size_t run_fixtures(void)
{
    const char *dir = getenv("TALAASH_FIXTURES");
    const char *seeds = getenv("TALAASH_WRITE_SEEDS");
    size_t nprov, total = 0;
    char **provs;

    if (dir == NULL)
        dir = "tests/fixtures/providers";
    provs = list_dir(dir, true, &nprov);
    ok(nprov >= 5, "fixture directories found in %s (%zu)", dir, nprov);
    for (size_t i = 0; i < nprov; i++) {
        const struct tl_provider *p = provider_find(provs[i]);
        char *pdir = xasprintf("%s/%s", dir, provs[i]);
        size_t nfx;
        char **files = list_dir(pdir, false, &nfx);

        ok(p != NULL, "fixture directory %s names a provider", provs[i]);
        ok(nfx > 0, "%s has fixtures (%zu)", provs[i], nfx);
        for (size_t k = 0; p != NULL && k < nfx; k++) {
            struct fixture *fx = fixture_load(dir, provs[i], files[k]);
            enum kind kind = fixture_kind(fx);
            struct channel ch;

            total++;
            ok(kind != KIND_NONE, "%s/%s: has a known kind", fx->provider, fx->name);
            if (kv_get(fx, "fixture", "utf8-field") != NULL && i < 8)
                utf8_seen[i][kind] = 1;
            channel_init(&ch, fx);
            if (kind == KIND_SEND) {
                check_send_fixture(fx, p, &ch.conf);
            } else if (kind != KIND_NONE) {
                const char *peer = kv_get(fx, "fixture", "peer");
                struct request req;
                ok(fx->has_request, "%s/%s: has a request", fx->provider, fx->name);
                request_parse(&req, fx->request ? fx->request : "",
                              fx->request ? fx->request_len : 0, peer ? peer : "127.0.0.1");
                check_callback_fixture(fx, p, &ch.conf, &req, kind);
                request_free(&req);
                if (fx->has_request)
                    attack_fixture(fx, p, &ch.conf, fx, kind);
            }
            if (seeds != NULL && kind != KIND_NONE)
                write_seed(seeds, fx, kind);
            channel_free(&ch);
            fixture_free(fx);
            free(files[k]);
        }
        for (size_t k = p != NULL ? nfx : 0; k < nfx; k++)
            free(files[k]);
        if (p != NULL && i < 8) {
            static const struct {
                enum kind kind;
                const char *name;
            } kinds[] = {{KIND_SMS, "sms"}, {KIND_DLR, "dlr"}, {KIND_USSD, "ussd"}};
            for (size_t k = 0; k < 3; k++) {
                bool has = kinds[k].kind == KIND_SMS   ? p->parse_sms != NULL
                           : kinds[k].kind == KIND_DLR ? p->parse_dlr != NULL
                                                       : p->parse_ussd != NULL;
                if (has)
                    ok(utf8_seen[i][kinds[k].kind], "%s: a %s fixture checks invalid UTF-8",
                       provs[i], kinds[k].name);
            }
        }
        free(files);
        free(pdir);
        free(provs[i]);
    }
    free(provs);
    return total;
}

/* ---- unit tests ------------------------------------------------------------------- */

static void test_registry(void)
{
    const char *names[] = {"africastalking", "twilio", "kannel", "generic", "console"};
    size_t n = 0;

    for (size_t i = 0; i < 5; i++) {
        const struct tl_provider *p = provider_find(names[i]);
        ok(p != NULL && strcmp(p->name, names[i]) == 0, "provider_find(%s)", names[i]);
        ok(p != NULL && p->authenticate && p->render_sms_reply && p->render_dlr_reply &&
               p->build_send && p->classify_send && p->batch_max >= 1,
           "%s fills every MUST slot", names[i]);
        ok(p != NULL && (p->parse_ussd == NULL) == (p->render_ussd_reply == NULL),
           "%s: parse_ussd and render_ussd_reply come together", names[i]);
    }
    while (provider_table[n] != NULL)
        n++;
    is_int(n, 5, "provider_table lists five providers");
    ok(provider_find("nexmo") == NULL && provider_find(NULL) == NULL, "unknown names give NULL");

    struct tl_channel_conf ch = {.batch_size = 100};
    is_int(provider_batch_limit(&provider_africastalking, &ch), 100, "AT batch clamped to 100");
    ch.batch_size = 5000;
    is_int(provider_batch_limit(&provider_africastalking, &ch), 1000, "AT batch at most 1000");
    is_int(provider_batch_limit(&provider_twilio, &ch), 1, "twilio one per request");
    is_int(provider_batch_limit(&provider_kannel, &ch), 1, "kannel one per request");
    is_int(provider_batch_limit(&provider_generic, &ch), 1000, "generic 1000");
    ch.batch_size = 0;
    is_int(provider_batch_limit(&provider_generic, &ch), 1000, "batch_size 0 = provider's max");

    struct tl_inbound_sms m = {0};
    struct tl_dlr d = {0};
    struct tl_ussd_step u = {0};
    struct tl_http_reply r = {0};
    struct tl_http_out o = {0};
    struct tl_send_outcome so = {0};
    tl_inbound_sms_clear(&m);
    tl_dlr_clear(&d);
    tl_ussd_step_clear(&u);
    tl_http_reply_clear(&r);
    tl_http_out_clear(&o);
    tl_send_outcome_clear(&so);
    ok(1, "clear functions accept empty structs");

    struct tl_header hs[] = {{"Content-Type", "a/b"}, {"x-twilio-signature", "sig"}};
    struct tl_http_in in = {.headers = hs, .nheaders = 2};
    is_str(tl_http_in_header(&in, "content-type"), "a/b", "header lookup ignores case");
    is_str(tl_http_in_header(&in, "X-Twilio-Signature"), "sig", "header lookup ignores case (2)");
    ok(tl_http_in_header(&in, "Host") == NULL, "absent header is NULL");
}

static void test_helpers(void)
{
    ok(provider_ct_equal("abc", 3, "abc", 3), "ct_equal equal");
    ok(!provider_ct_equal("abd", 3, "abc", 3), "ct_equal differs");
    ok(!provider_ct_equal("ab", 2, "abc", 3), "ct_equal shorter");
    ok(!provider_ct_equal("abcd", 4, "abc", 3), "ct_equal longer");
    ok(!provider_ct_equal("", 0, "abc", 3), "ct_equal empty vs value");
    ok(provider_ct_equal("", 0, "", 0), "ct_equal empty vs empty");

    /* allow-list */
    ok(provider_ip_allowed("196.201.214.200", "196.201.214.200"), "exact IPv4");
    ok(!provider_ip_allowed("196.201.214.200", "196.201.214.201"), "other IPv4");
    ok(provider_ip_allowed("10.0.0.0/8, 196.201.214.0/24", "196.201.214.77"), "CIDR /24");
    ok(!provider_ip_allowed("196.201.214.0/24", "196.201.215.1"), "outside /24");
    ok(provider_ip_allowed("196.201.212.0/23", "196.201.213.255"), "CIDR /23");
    ok(!provider_ip_allowed("196.201.212.0/23", "196.201.214.0"), "outside /23");
    ok(provider_ip_allowed("0.0.0.0/0", "8.8.8.8"), "/0 takes everyone");
    ok(provider_ip_allowed("127.0.0.1", "::ffff:127.0.0.1"), "IPv4-mapped IPv6 peer");
    ok(provider_ip_allowed("2001:db8::/32", "2001:db8:1::5"), "IPv6 CIDR");
    ok(!provider_ip_allowed("2001:db8::/32", "2001:db9::5"), "outside IPv6 CIDR");
    ok(!provider_ip_allowed("2001:db8::/32", "10.0.0.1"), "families do not mix");
    ok(!provider_ip_allowed("bogus, 10.0.0.0/33", "10.0.0.1"), "invalid entries match nothing");
    ok(provider_ip_allowed("bogus,10.0.0.1", "10.0.0.1"), "a bad entry does not hide a good one");
    ok(!provider_ip_allowed("10.0.0.1", NULL), "no peer address is refused");
    ok(!provider_ip_allowed("10.0.0.1", "not-an-ip"), "unreadable peer is refused");
    ok(!provider_ip_allowed("", "10.0.0.1"), "empty list matches nothing");
    ok(provider_allow_ips_valid("10.0.0.0/8, ::1, 2001:db8::/32", NULL), "valid allow_ips");
    ok(provider_allow_ips_valid(NULL, NULL) && provider_allow_ips_valid("", NULL),
       "unset allow_ips is valid");
    char *cause = NULL;
    ok(!provider_allow_ips_valid("10.0.0.0/8,10.0.0.300", &cause) && cause != NULL,
       "invalid allow_ips explained (%s)", cause ? cause : "");
    free(cause);
    cause = NULL;
    ok(!provider_allow_ips_valid("10.0.0.0/", NULL) && !provider_allow_ips_valid("1.2.3.4/x", NULL),
       "bad prefix lengths refused");

    /* base64 (RFC 4648 §10) */
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        struct tl_buf b = {0}, d = {0};
        provider_base64_encode(&b, plain[i], strlen(plain[i]));
        is_str(tl_buf_str(&b), enc[i], "base64 encode '%s'", plain[i]);
        ok(provider_base64_decode(enc[i], strlen(enc[i]), &d) == TL_OK &&
               strcmp(tl_buf_str(&d), plain[i]) == 0,
           "base64 decode '%s'", enc[i]);
        tl_buf_free(&b);
        tl_buf_free(&d);
    }
    static const char *bad[] = {"Zg=", "Z===", "Zg=a", "Zh==", "Zm9=", "Zm!v", "Zg==Zg=="};
    for (size_t i = 0; i < 7; i++) {
        struct tl_buf d = {0};
        is_int(provider_base64_decode(bad[i], strlen(bad[i]), &d), TL_ERR_MALFORMED,
               "strict base64 refuses '%s'", bad[i]);
        tl_buf_free(&d);
    }

    int64_t v = 0;
    ok(provider_parse_int64("9223372036854775807", 19, &v) && v == INT64_MAX, "int64 max");
    ok(!provider_parse_int64("9223372036854775808", 19, &v), "int64 overflow refused");
    ok(provider_parse_int64("-9223372036854775808", 20, &v) && v == INT64_MIN, "int64 min");
    ok(!provider_parse_int64("", 0, &v) && !provider_parse_int64("-", 1, &v) &&
           !provider_parse_int64("12a", 3, &v) && !provider_parse_int64("+1", 2, &v),
       "int64 garbage refused");

    static const char raw[] = "  0:\tAccepted\n for \x01 delivery  ";
    char *s = provider_snippet(raw, sizeof(raw) - 1);
    is_str(s, "0: Accepted for ? delivery", "snippet squeezes blanks and hides bytes");
    free(s);
}

/* ---- Twilio: every published vector (PROTOCOLS.md §1b), verbatim ---------------------- */

static int twilio_check(const char *public_url, const char *path, const char *query,
                        const char *ctype, const char *body, const char *sig)
{
    struct tl_channel_conf ch = {.name = "tw", .auth_token = "12345", .public_url = public_url};
    struct tl_header h[2] = {{"Content-Type", ctype}, {"X-Twilio-Signature", sig}};
    struct tl_http_in in = {.method = "POST",
                            .path = path,
                            .query = query,
                            .body = body,
                            .body_len = strlen(body),
                            .headers = h,
                            .nheaders = sig ? 2 : 1,
                            .peer_ip = "54.172.60.1"};
    char *cause = NULL;
    int rc = provider_twilio.authenticate(&ch, &in, &cause);

    free(cause);
    return rc;
}

static void test_twilio_vectors(void)
{
    static const char form1[] = "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&"
                                "From=%2B14158675309&To=%2B18005551212";
    static const char dup[] = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234";
    static const char dup3[] = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
    static const char fct[] = "application/x-www-form-urlencoded";
    static const struct {
        const char *url, *sig, *what;
    } rows[] = {
        {"https://mycompany.com", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "row 1"},
        {"https://mycompany.com:443", "kvajT1Ptam85bY51eRf/AJRuM3w=", "https :443 (with port)"},
        {"https://mycompany.com:443", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "https :443, signed without"},
        {"https://mycompany.com", "kvajT1Ptam85bY51eRf/AJRuM3w=", "https, signed with :443"},
        {"http://mycompany.com:80", "0ZXoZLH/DfblKGATFgpif+LLRf4=", "http :80 (with port)"},
        {"http://mycompany.com", "0ZXoZLH/DfblKGATFgpif+LLRf4=", "http, signed with :80"},
        {"http://mycompany.com:1234", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", "http :1234 as given"},
        {"https://MyCompany.com", "g9IN/x4Cft2g517EjYvEvM/W7LU=", "mixed-case host"},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        is_int(twilio_check(rows[i].url, "/myapp.php", "foo=1&bar=2", fct, form1, rows[i].sig),
               TL_OK, "twilio vector: %s", rows[i].what);
    is_int(twilio_check("https://mycompany.com", "/myapp.php", "foo=1&bar=2", fct, dup,
                        "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
           TL_OK, "twilio vector: repeated Digits sorted");
    is_int(twilio_check("https://mycompany.com", "/myapp.php", "foo=1&bar=2", fct, dup3,
                        "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
           TL_OK, "twilio vector: repeated Digits=1234 counted once (twilio-php)");
    is_int(twilio_check("https://mycompany.com", "/myapp.php",
                        "foo=1&bar=2&bodySHA256="
                        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620",
                        "application/json", "{\"property\": \"value\", \"boolean\": true}",
                        "a9nBmqA0ju/hNViExpshrM61xv4="),
           TL_OK, "twilio vector: JSON body with bodySHA256");
    /* and what must fail */
    is_int(twilio_check("https://mycompany.com", "/myapp.php",
                        "foo=1&bar=2&bodySHA256="
                        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620",
                        "application/json", "{\"property\": \"value\", \"boolean\": false}",
                        "a9nBmqA0ju/hNViExpshrM61xv4="),
           TL_ERR_AUTH, "twilio: body not matching bodySHA256 refused");
    is_int(twilio_check("https://mycompany.com", "/myapp.php", "foo=1&bar=2", fct, form1,
                        "RSOYDt4T1cUTdK1PDd93/VVr8B9="),
           TL_ERR_AUTH, "twilio: forged signature refused");
    is_int(twilio_check("https://mycompany.com", "/myapp.php", "foo=1&bar=2", fct, form1, NULL),
           TL_ERR_AUTH, "twilio: missing signature refused");
    is_int(twilio_check("https://mycompany.com", "/myapp.php", "foo=1&bar=3", fct, form1,
                        "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
           TL_ERR_AUTH, "twilio: changed query refused");
    is_int(twilio_check("https://mycompany.com", "/myapp.php", "foo=1&bar=2", fct,
                        "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&"
                        "From=%2B14158675309&To=%2B18005551213",
                        "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
           TL_ERR_AUTH, "twilio: changed parameter refused");
    is_int(twilio_check("https://mycompany.com", "/myapp.php", "foo=1&bar=2", fct, form1,
                        "kvajT1Ptam85bY51eRf/AJRuM3w= "),
           TL_OK, "twilio: blanks around the header ignored");
    is_int(twilio_check("https://mycompany.com/", "/myapp.php", "foo=1&bar=2", fct, form1,
                        "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
           TL_OK, "twilio: public_url trailing slash ignored");
    is_int(twilio_check("https://mycompany.com:8443", "/myapp.php", "foo=1&bar=2", fct, form1,
                        "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
           TL_OK, "twilio: explicit port also tried removed (as the SDKs)");

    struct tl_channel_conf ch = {.name = "tw", .public_url = "https://mycompany.com"};
    struct tl_header h[1] = {{"X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8="}};
    struct tl_http_in in = {.method = "POST", .path = "/myapp.php", .query = "foo=1&bar=2",
                            .body = form1, .body_len = strlen(form1), .headers = h,
                            .nheaders = 1, .peer_ip = "1.2.3.4"};
    char *cause = NULL;
    is_int(provider_twilio.authenticate(&ch, &in, &cause), TL_ERR_AUTH,
           "twilio: no auth_token configured refuses");
    free(cause);
    cause = NULL;
    ch.auth_token = "12345";
    ch.public_url = "";
    is_int(provider_twilio.authenticate(&ch, &in, &cause), TL_ERR_AUTH,
           "twilio: no public_url refuses");
    free(cause);
    cause = NULL;
    ch.public_url = "https://mycompany.com";
    ch.allow_ips = "10.0.0.0/8";
    is_int(provider_twilio.authenticate(&ch, &in, &cause), TL_ERR_AUTH,
           "twilio: allow_ips applies too");
    free(cause);
    cause = NULL;
    ch.allow_ips = NULL;
    is_int(provider_twilio.authenticate(&ch, &in, &cause), TL_OK, "twilio: and passes without");
    free(cause);
}

/* ---- Twilio Body base64 rule ------------------------------------------------------- */

static int twilio_body(const char *body_enc, char **text)
{
    struct tl_channel_conf ch = {.name = "tw"};
    char *form = xasprintf("MessageSid=SM1&AccountSid=AC1&From=%%2B923001234567&To=8558&Body=%s",
                           body_enc);
    struct tl_http_in in = {.method = "POST", .path = "/sms/tw", .body = form,
                            .body_len = strlen(form)};
    struct tl_inbound_sms m;
    char *cause = NULL;
    int rc = provider_twilio.parse_sms(&ch, &in, &m, &cause);

    *text = rc == TL_OK ? xstrdup(m.text) : NULL;
    tl_inbound_sms_clear(&m);
    free(cause);
    free(form);
    return rc;
}

static void test_twilio_base64(void)
{
    char *t = NULL;

    twilio_body("QmFubm9uIEV4cGxhaW5zIFRoZSBXb3JsZCAuLi4K4oCcVGhlIENhbXAgb2YgdGhlIFNhaW50c%2BKA",
                &t);
    is_str(t, "Bannon Explains The World ...\n\xe2\x80\x9cThe Camp of the Saints",
           "courier's base64 sample decoded (cut character dropped)");
    free(t);
    /* 60 base64 characters exactly */
    twilio_body("TWlzc2luZyBjaGlsZCBBbGksIDgsIHNlZW4gbmVhciBEYXRhIERhcmJhciEh", &t);
    is_str(t, "Missing child Ali, 8, seen near Data Darbar!!", "base64 at the threshold decoded");
    free(t);
    twilio_body("TWlzc2luZyBjaGlsZCBBbGksIDgsIHNlZW4gbmVhciBEYXRhIERhcmJ4", &t);
    is_str(t, "TWlzc2luZyBjaGlsZCBBbGksIDgsIHNlZW4gbmVhciBEYXRhIERhcmJ4",
           "base64 under the threshold (56) kept as sent");
    free(t);
    twilio_body("TWlzc2luZyBjaGlsZCBBbGksIDgsIHNlZW4g%0D%0AbmVhciBEYXRhIERhcmJhciEh", &t);
    is_str(t, "Missing child Ali, 8, seen near Data Darbar!!", "line breaks in base64 ignored");
    free(t);
    twilio_body("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &t);
    is_str(t, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
           "base64 of binary (NUL bytes) kept as sent");
    free(t);
    twilio_body("GUM+Ali+8+saal+Lahore+Data+Darbar+ke+paas+se+laapata+hai+madad+karein+please", &t);
    is_str(t, "GUM Ali 8 saal Lahore Data Darbar ke paas se laapata hai madad karein please",
           "ordinary long text kept");
    free(t);
    /* 64 base64 chars whose decoding is mostly non-ASCII (Urdu): < 50% ASCII, kept */
    twilio_body("2KfYrNmE2KfYsyDYqNqG24Eg2YTYp9m%2B2KrbgSDYp9is2YTYp9izINio2obbgSDZhNin", &t);
    is_str(t, "2KfYrNmE2KfYsyDYqNqG24Eg2YTYp9m+2KrbgSDYp9is2YTYp9izINio2obbgSDZhNin",
           "base64 decoding to mostly non-ASCII kept (courier's 50%% rule)");
    free(t);
    twilio_body("QmFubm9uIEV4cGxhaW5zIFRoZSBXb3JsZCAuLi4K4oCcVGhlIENhbXAgb2YgdGhlIFNhaW50c%2BK", &t);
    is_str(t, "QmFubm9uIEV4cGxhaW5zIFRoZSBXb3JsZCAuLi4K4oCcVGhlIENhbXAgb2YgdGhlIFNhaW50c+K",
           "length not a multiple of 4 kept");
    free(t);
}

/* ---- Kannel UTF-16 ---------------------------------------------------------------- */

static int kannel_text(const char *enc_text, const char *coding, char **text)
{
    struct tl_channel_conf ch = {.name = "kannel"};
    char *q = xasprintf("id=1&sender=%%2B923001234567&receiver=8558&coding=%s&text=%s", coding,
                        enc_text);
    struct tl_http_in in = {.method = "GET", .path = "/sms/kannel", .query = q};
    struct tl_inbound_sms m;
    char *cause = NULL;
    int rc = provider_kannel.parse_sms(&ch, &in, &m, &cause);

    *text = rc == TL_OK ? xstrdup(m.text) : NULL;
    tl_inbound_sms_clear(&m);
    free(cause);
    free(q);
    return rc;
}

static void test_kannel_utf16(void)
{
    char *t = NULL;

    is_int(kannel_text("%00A%00l%00i", "2", &t), TL_OK, "UTF-16BE ASCII");
    is_str(t, "Ali", "UTF-16BE ASCII decoded");
    free(t);
    is_int(kannel_text("%FE%FF%00A", "2", &t), TL_OK, "UTF-16BE with BOM");
    is_str(t, "A", "BOM dropped");
    free(t);
    is_int(kannel_text("%FF%FEA%00", "2", &t), TL_OK, "UTF-16LE with its BOM");
    is_str(t, "A", "little-endian decoded");
    free(t);
    is_int(kannel_text("%D8%3D%DE%00", "2", &t), TL_OK, "surrogate pair");
    is_str(t, "\xF0\x9F\x98\x80", "surrogate pair is one emoji");
    free(t);
    is_int(kannel_text("%06%2F%06%27%06%2A%06%27", "2", &t), TL_OK, "Urdu in UCS-2");
    is_str(t, "\xd8\xaf\xd8\xa7\xd8\xaa\xd8\xa7", "Urdu decoded");
    free(t);
    is_int(kannel_text("%00A%00", "2", &t), TL_ERR_MALFORMED, "odd length refused");
    is_int(kannel_text("%D8%3D%00A", "2", &t), TL_ERR_BAD_UTF8, "unpaired high surrogate");
    is_int(kannel_text("%DE%00", "2", &t), TL_ERR_BAD_UTF8, "lone low surrogate");
    is_int(kannel_text("%00%00", "2", &t), TL_ERR_MALFORMED, "U+0000 refused");
    is_int(kannel_text("abc", "9", &t), TL_ERR_MALFORMED, "unknown coding refused");
    is_int(kannel_text("abc", "", &t), TL_OK, "empty coding = 7-bit");
    free(t);
    is_int(kannel_text("%C3%A9", "0", &t), TL_OK, "coding 0 is UTF-8");
    is_str(t, "\xc3\xa9", "coding 0 text as sent");
    free(t);
}

/* ---- outbound details no fixture shows well ---------------------------------------- */

static void test_send_details(void)
{
    struct tl_channel_conf ch = {.name = "k1",
                                 .username = "tl",
                                 .password = "p w",
                                 .secret = "s3cr3t",
                                 .public_url = "https://talaash.example.org"};
    struct tl_out_msg m = {.id = 42, .to = "+923001234567", .text = "x", .ucs2 = false};
    struct tl_http_out o;
    char *cause = NULL;

    is_int(provider_kannel.build_send(&ch, &m, 1, &o, &cause), TL_OK, "kannel build");
    ok(o.url && strstr(o.url, "dlr-url=https%3A%2F%2Ftalaash.example.org%2Fdlr%2Fk1%3Fid%3D42%"
                              "26status%3D%25d%26token%3Ds3cr3t") != NULL,
       "kannel dlr-url keeps a literal %%d once Kannel decodes it");
    ok(o.url && strstr(o.url, "charset") == NULL, "kannel never sends charset");
    tl_http_out_clear(&o);

    struct tl_out_msg two[2] = {{.id = 1, .to = "+923001234567", .text = "a"},
                                {.id = 2, .to = "+923001234568", .text = "a"}};
    is_int(provider_kannel.build_send(&ch, two, 2, &o, &cause), TL_ERR_INVALID,
           "kannel refuses a batch");
    free(cause);
    cause = NULL;
    tl_http_out_clear(&o);

    struct tl_channel_conf at = {.name = "at", .username = "u", .api_key = "k"};
    struct tl_out_msg diff[2] = {{.id = 1, .to = "+254711000001", .text = "a"},
                                 {.id = 2, .to = "+254711000002", .text = "b"}};
    is_int(provider_africastalking.build_send(&at, diff, 2, &o, &cause), TL_ERR_INVALID,
           "AT refuses a batch with different texts");
    free(cause);
    cause = NULL;
    tl_http_out_clear(&o);
    struct tl_out_msg comma = {.id = 1, .to = "+254711000001,+254711000002", .text = "a"};
    is_int(provider_africastalking.build_send(&at, &comma, 1, &o, &cause), TL_ERR_INVALID,
           "AT refuses a recipient with a comma");
    free(cause);
    cause = NULL;
    tl_http_out_clear(&o);
    is_int(provider_africastalking.build_send(&at, diff, 0, &o, &cause), TL_ERR_INVALID,
           "AT refuses an empty batch");
    free(cause);
    cause = NULL;
    tl_http_out_clear(&o);
    at.base_url = "https://api.sandbox.africastalking.com/";
    is_int(provider_africastalking.build_send(&at, diff, 1, &o, &cause), TL_OK, "AT sandbox");
    is_str(o.url, "https://api.sandbox.africastalking.com/version1/messaging",
           "AT base_url without a doubled slash");
    tl_http_out_clear(&o);

    /* AT: every documented statusCode */
    static const struct {
        int code;
        enum tl_send_result res;
    } codes[] = {{100, TL_SEND_SENT},     {101, TL_SEND_SENT},     {102, TL_SEND_SENT},
                 {401, TL_SEND_PERMFAIL}, {402, TL_SEND_PERMFAIL}, {403, TL_SEND_PERMFAIL},
                 {404, TL_SEND_PERMFAIL}, {405, TL_SEND_TEMPFAIL}, {406, TL_SEND_PERMFAIL},
                 {407, TL_SEND_PERMFAIL}, {500, TL_SEND_TEMPFAIL}, {501, TL_SEND_TEMPFAIL},
                 {502, TL_SEND_TEMPFAIL}, {409, TL_SEND_PERMFAIL}, {503, TL_SEND_TEMPFAIL},
                 {103, TL_SEND_SENT}};
    struct tl_out_msg one = {.id = 7, .to = "+254705336634", .text = "a"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char *body = xasprintf("{\"SMSMessageData\":{\"Message\":\"x\",\"Recipients\":[{"
                               "\"statusCode\":%d,\"number\":\"+254705336634\",\"status\":\"S\","
                               "\"messageId\":\"ATXid_1\"}]}}",
                               codes[i].code);
        struct tl_send_outcome oc;
        provider_africastalking.classify_send(&at, &one, 1, 201, body, strlen(body), &oc);
        is_str(send_names[oc.result], send_names[codes[i].res], "AT statusCode %d", codes[i].code);
        tl_send_outcome_clear(&oc);
        free(body);
    }

    /* generic needs base_url */
    struct tl_channel_conf g = {.name = "g"};
    is_int(provider_generic.build_send(&g, &one, 1, &o, &cause), TL_ERR_INVALID,
           "generic without base_url refuses");
    free(cause);
    cause = NULL;
    tl_http_out_clear(&o);

    /* twilio: a 34-character MG sender is a Messaging Service */
    struct tl_channel_conf tw = {.name = "tw",
                                 .account_sid = "AC1",
                                 .auth_token = "t",
                                 .sender = "MGdb23ec0f89ee2632e46e91d8128f5e2b"};
    is_int(provider_twilio.build_send(&tw, &one, 1, &o, &cause), TL_OK, "twilio with MG sender");
    ok(strstr(tl_buf_str(&o.body), "MessagingServiceSid=MGdb23ec0f89ee2632e46e91d8128f5e2b") !=
           NULL,
       "twilio sends MessagingServiceSid");
    ok(strstr(tl_buf_str(&o.body), "StatusCallback") == NULL,
       "no StatusCallback without public_url");
    tl_http_out_clear(&o);
    is_int(provider_twilio.build_send(&tw, two, 2, &o, &cause), TL_ERR_INVALID,
           "twilio refuses a batch");
    free(cause);
    tl_http_out_clear(&o);
}

static void test_renders(void)
{
    struct tl_channel_conf ch = {.name = "x"};
    struct tl_http_reply r;

    provider_twilio.render_sms_reply(&ch, NULL, "Case K-12 <ok> & \"done\"\x01", &r);
    is_str(tl_buf_str(&r.body),
           "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>Case K-12 &lt;ok&gt; "
           "&amp; &quot;done&quot;</Message></Response>",
           "TwiML escapes and drops control characters");
    tl_http_reply_clear(&r);
    provider_twilio.render_sms_reply(&ch, NULL, "", &r);
    is_str(tl_buf_str(&r.body), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>",
           "TwiML empty text says nothing");
    tl_http_reply_clear(&r);
    provider_generic.render_ussd_reply(&ch, "1. \"Report\"\n2. Status", false, &r);
    is_str(tl_buf_str(&r.body), "{\"reply\":\"1. \\\"Report\\\"\\n2. Status\",\"end\":false}",
           "generic USSD reply JSON-escaped");
    tl_http_reply_clear(&r);
    provider_generic.render_sms_reply(&ch, NULL, NULL, &r);
    is_str(tl_buf_str(&r.body), "{\"reply\":null}", "generic SMS reply null");
    tl_http_reply_clear(&r);
    provider_africastalking.render_ussd_reply(&ch, NULL, true, &r);
    is_str(tl_buf_str(&r.body), "END ", "AT USSD END with no text");
    tl_http_reply_clear(&r);
    provider_console.render_sms_reply(&ch, NULL, "Case K-12 registered", &r);
    is_str(tl_buf_str(&r.body), "Case K-12 registered", "console shows the reply itself");
    tl_http_reply_clear(&r);
}

static int at_sms_with(const char *id, const char *text_enc)
{
    struct tl_channel_conf ch = {.name = "at"};
    char *body = xasprintf("id=%s&from=%%2B923001234567&to=8558&text=%s", id, text_enc);
    struct tl_http_in in = {.method = "POST", .path = "/sms/at", .body = body,
                            .body_len = strlen(body)};
    struct tl_inbound_sms m;
    char *cause = NULL;
    int rc = provider_africastalking.parse_sms(&ch, &in, &m, &cause);

    tl_inbound_sms_clear(&m);
    free(cause);
    free(body);
    return rc;
}

static void test_limits(void)
{
    struct tl_buf t = {0}, id = {0};

    for (int i = 0; i < PROVIDER_TEXT_MAX; i++)
        tl_buf_append_str(&t, "%DA%AF"); /* U+06AF, two bytes each */
    is_int(at_sms_with("x1", t.data), TL_OK, "1600 Urdu characters (3200 bytes) accepted");
    tl_buf_append_char(&t, 'a');
    is_int(at_sms_with("x1", t.data), TL_ERR_TOO_LARGE, "1601 characters refused");
    tl_buf_reset(&t);
    for (int i = 0; i < PROVIDER_TEXT_MAX * 4 + 1; i++)
        tl_buf_append_char(&t, 'a');
    is_int(at_sms_with("x1", t.data), TL_ERR_TOO_LARGE, "6401 bytes refused before counting");
    for (int i = 0; i < PROVIDER_ID_MAX; i++)
        tl_buf_append_char(&id, 'i');
    is_int(at_sms_with(id.data, "x"), TL_OK, "a 128-byte id accepted");
    tl_buf_append_char(&id, 'i');
    is_int(at_sms_with(id.data, "x"), TL_ERR_TOO_LARGE, "a 129-byte id refused");
    is_int(at_sms_with("", "x"), TL_ERR_MISSING_FIELD, "an empty id refused");
    is_int(at_sms_with("a%0Ab", "x"), TL_ERR_MALFORMED, "a control character in an id refused");
    is_int(at_sms_with("x1", "a%00b"), TL_ERR_MALFORMED, "NUL in text refused");
    is_int(at_sms_with("x1", "%ED%A0%80"), TL_ERR_BAD_UTF8, "a UTF-8 surrogate refused");
    is_int(at_sms_with("x1", "%C0%AF"), TL_ERR_BAD_UTF8, "an overlong sequence refused");
    is_int(at_sms_with("x1", ""), TL_OK, "an empty text is a message");
    tl_buf_free(&t);
    tl_buf_free(&id);
}

static void test_console_ids(void)
{
    struct tl_channel_conf ch = {.name = "console"};
    static const char body[] = "from=03001234567&text=GUM+Ali";
    struct tl_http_in in = {.method = "POST", .path = "/sms/console", .body = body,
                            .body_len = sizeof(body) - 1};
    struct tl_inbound_sms a, b;
    char *cause = NULL;

    is_int(provider_console.parse_sms(&ch, &in, &a, &cause), TL_OK, "console form 1");
    is_int(provider_console.parse_sms(&ch, &in, &b, &cause), TL_OK, "console form 2");
    ok(a.provider_id && b.provider_id && strcmp(a.provider_id, b.provider_id) != 0,
       "two curl runs are two messages (%s, %s)", a.provider_id ? a.provider_id : "",
       b.provider_id ? b.provider_id : "");
    tl_inbound_sms_clear(&a);
    tl_inbound_sms_clear(&b);
    free(cause);
}

/* Issue #14: the console channel honours allow_ips and secret (?token=). */
static void test_console_auth(void)
{
    struct tl_channel_conf ch = {.name = "console"};
    struct tl_http_in in = {.method = "POST", .path = "/sms/console", .body = "", .peer_ip = "10.1.2.3"};
    char *cause = NULL;

    is_int(provider_console.authenticate(&ch, &in, &cause), TL_OK, "console: nothing set, any peer");
    ch.allow_ips = "127.0.0.1,192.168.0.0/16";
    is_int(provider_console.authenticate(&ch, &in, &cause), TL_ERR_AUTH,
           "console: a peer outside allow_ips is refused");
    is_str(cause, "source address not in allow_ips", "console: the refusal says why");
    free(cause);
    cause = NULL;
    in.peer_ip = "192.168.4.5";
    is_int(provider_console.authenticate(&ch, &in, &cause), TL_OK, "console: a peer inside allow_ips");
    ch.secret = "s3cret";
    is_int(provider_console.authenticate(&ch, &in, &cause), TL_ERR_AUTH,
           "console: with a secret, no token is refused");
    free(cause);
    cause = NULL;
    in.query = "token=wrong";
    is_int(provider_console.authenticate(&ch, &in, &cause), TL_ERR_AUTH,
           "console: a wrong token is refused");
    free(cause);
    cause = NULL;
    in.query = "token=s3cret";
    is_int(provider_console.authenticate(&ch, &in, &cause), TL_OK, "console: the right token passes");
    in.peer_ip = "10.1.2.3";
    is_int(provider_console.authenticate(&ch, &in, &cause), TL_ERR_AUTH,
           "console: the right token from outside allow_ips is still refused");
    free(cause);
}

int main(void)
{
    size_t n;

    test_registry();
    test_helpers();
    test_twilio_vectors();
    test_twilio_base64();
    test_kannel_utf16();
    test_send_details();
    test_renders();
    test_limits();
    test_console_ids();
    test_console_auth();
    n = run_fixtures();
    diag("%zu fixtures", n);
    return done_testing();
}
