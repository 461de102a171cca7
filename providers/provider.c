/*
 * provider.c — the provider registry, the *_clear() functions of provider.h
 * and the helpers every provider file shares (providers.h): constant-time
 * comparison, the IP allow-list with CIDRs, the secret query token, HMAC and
 * SHA-256 through OpenSSL libcrypto, base64, form and value checks.
 *
 * Pure code: no sockets, no curl, no store, no logging.
 */
#include "providers/providers.h"

#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- registry ---------------------------------------------------------- */

const struct tl_provider *const provider_table[] = {
    &provider_africastalking, &provider_twilio, &provider_kannel,
    &provider_generic,        &provider_console, NULL,
};

const struct tl_provider *provider_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; provider_table[i] != NULL; i++) {
        if (strcmp(provider_table[i]->name, name) == 0)
            return provider_table[i];
    }
    return NULL;
}

size_t provider_batch_limit(const struct tl_provider *p, const struct tl_channel_conf *ch)
{
    size_t max = p->batch_max > 0 ? (size_t)p->batch_max : 1;

    if (ch != NULL && ch->batch_size > 0 && (size_t)ch->batch_size < max)
        max = (size_t)ch->batch_size;
    return max;
}

/* ---- ownership ----------------------------------------------------------- */

void tl_inbound_sms_clear(struct tl_inbound_sms *m)
{
    free(m->provider_id);
    free(m->from);
    free(m->to);
    free(m->text);
    free(m->link_id);
    memset(m, 0, sizeof(*m));
}

void tl_dlr_clear(struct tl_dlr *d)
{
    free(d->provider_id);
    free(d->status_raw);
    free(d->error);
    free(d->phone);
    memset(d, 0, sizeof(*d));
}

void tl_ussd_step_clear(struct tl_ussd_step *u)
{
    free(u->session_id);
    free(u->phone);
    free(u->service_code);
    free(u->network);
    free(u->input);
    memset(u, 0, sizeof(*u));
}

void tl_http_reply_clear(struct tl_http_reply *r)
{
    tl_buf_free(&r->body);
    memset(r, 0, sizeof(*r));
}

void tl_http_out_clear(struct tl_http_out *o)
{
    free(o->method);
    free(o->url);
    for (size_t i = 0; i < o->nheaders && i < TL_HTTP_OUT_MAX_HEADERS; i++) {
        free(o->headers[i].name);
        free(o->headers[i].value);
    }
    tl_buf_free(&o->body);
    free(o->userpwd);
    memset(o, 0, sizeof(*o));
}

void tl_send_outcome_clear(struct tl_send_outcome *o)
{
    free(o->provider_id);
    free(o->error);
    memset(o, 0, sizeof(*o));
}

const char *tl_http_in_header(const struct tl_http_in *in, const char *name)
{
    if (in == NULL || in->headers == NULL)
        return NULL;
    for (size_t i = 0; i < in->nheaders; i++) {
        if (in->headers[i].name != NULL && strcasecmp(in->headers[i].name, name) == 0)
            return in->headers[i].value;
    }
    return NULL;
}

/* ---- small helpers ------------------------------------------------------ */

void provider_cause(char **cause, const char *fmt, ...)
{
    va_list ap, aq;
    int n;
    char *s;

    if (cause == NULL)
        return;
    va_start(ap, fmt);
    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(aq);
        return;
    }
    s = xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, aq);
    va_end(aq);
    free(*cause);
    *cause = s;
}

char *provider_local_id(const char *prefix)
{
    static unsigned long long seq;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    seq++;
    return xasprintf("%s-%lld%09ld-%llu", prefix, (long long)ts.tv_sec, (long)ts.tv_nsec, seq);
}

bool provider_conf_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

bool provider_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const volatile unsigned char *pa = a, *pb = b;
    unsigned char diff = (unsigned char)(alen != blen);

    /* Walk the expected value's length whatever the candidate's is. */
    for (size_t i = 0; i < blen; i++) {
        unsigned char ca = alen ? pa[i < alen ? i : 0] : 0;
        diff |= (unsigned char)(ca ^ pb[i]);
    }
    return diff == 0;
}

/* ---- IP allow-list --------------------------------------------------------- */

struct ip_net {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned bits;
};

/* Parses an address (IPv4-mapped IPv6 becomes IPv4). */
static bool ip_parse(const char *s, size_t len, struct ip_net *out)
{
    char tmp[INET6_ADDRSTRLEN + 1];

    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, tmp, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = 32;
        return true;
    }
    if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out->addr, mapped, 12) == 0) {
            memmove(out->addr, out->addr + 12, 4);
            memset(out->addr + 4, 0, 12);
            out->family = AF_INET;
            out->bits = 32;
        } else {
            out->family = AF_INET6;
            out->bits = 128;
        }
        return true;
    }
    return false;
}

/* Parses "addr" or "addr/bits" (surrounding blanks allowed). */
static bool net_parse(const char *s, size_t len, struct ip_net *out)
{
    const char *slash;
    size_t alen;

    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    slash = memchr(s, '/', len);
    alen = slash ? (size_t)(slash - s) : len;
    if (!ip_parse(s, alen, out))
        return false;
    if (slash) {
        const char *d = slash + 1;
        size_t dlen = len - alen - 1;
        unsigned bits = 0;
        unsigned max = out->family == AF_INET ? 32 : 128;
        if (dlen == 0 || dlen > 3)
            return false;
        for (size_t i = 0; i < dlen; i++) {
            if (d[i] < '0' || d[i] > '9')
                return false;
            bits = bits * 10 + (unsigned)(d[i] - '0');
        }
        if (bits > max)
            return false;
        out->bits = bits;
    }
    return true;
}

static bool net_contains(const struct ip_net *net, const struct ip_net *ip)
{
    unsigned full, rest;

    if (net->family != ip->family)
        return false;
    full = net->bits / 8;
    rest = net->bits % 8;
    if (memcmp(net->addr, ip->addr, full) != 0)
        return false;
    if (rest) {
        unsigned char mask = (unsigned char)(0xFF << (8 - rest));
        if ((net->addr[full] & mask) != (ip->addr[full] & mask))
            return false;
    }
    return true;
}

bool provider_ip_allowed(const char *list, const char *ip)
{
    struct ip_net peer, net;
    const char *p;

    if (list == NULL || ip == NULL || !ip_parse(ip, strlen(ip), &peer))
        return false;
    p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (net_parse(p, len, &net) && net_contains(&net, &peer))
            return true;
        p += len + (comma ? 1 : 0);
    }
    return false;
}

bool provider_allow_ips_valid(const char *list, char **cause)
{
    struct ip_net net;
    const char *p = list;

    if (list == NULL)
        return true;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!net_parse(p, len, &net)) {
            const char *shown = p;
            size_t n = len;
            while (n > 0 && (*shown == ' ' || *shown == '\t'))
                shown++, n--;
            while (n > 0 && (shown[n - 1] == ' ' || shown[n - 1] == '\t'))
                n--;
            provider_cause(cause, "allow_ips: '%.*s' is not an IP address or CIDR", (int)n, shown);
            return false;
        }
        p += len + (comma ? 1 : 0);
    }
    return true;
}

int provider_check_ip(const struct tl_channel_conf *ch, const struct tl_http_in *in, char **cause)
{
    if (!provider_conf_set(ch->allow_ips))
        return TL_OK;
    if (provider_ip_allowed(ch->allow_ips, in->peer_ip))
        return TL_OK;
    provider_cause(cause, "source address not in allow_ips");
    return TL_ERR_AUTH;
}

int provider_check_token(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                         char **cause)
{
    struct tl_form q;
    const struct tl_form_field *f;
    int rc;

    if (!provider_conf_set(ch->secret))
        return TL_OK;
    if (in->query == NULL) {
        provider_cause(cause, "missing token");
        return TL_ERR_AUTH;
    }
    if (strlen(in->query) > PROVIDER_BODY_MAX ||
        tl_form_parse(&q, in->query, strlen(in->query), PROVIDER_FORM_FIELDS) != TL_OK) {
        provider_cause(cause, "unreadable query string");
        return TL_ERR_AUTH;
    }
    f = tl_form_find(&q, "token");
    if (f == NULL) {
        provider_cause(cause, "missing token");
        rc = TL_ERR_AUTH;
    } else if (!provider_ct_equal(f->value, f->value_len, ch->secret, strlen(ch->secret))) {
        provider_cause(cause, "wrong token");
        rc = TL_ERR_AUTH;
    } else {
        rc = TL_OK;
    }
    tl_form_free(&q);
    return rc;
}

/* ---- digests and encodings -------------------------------------------- */

static void hmac_any(const EVP_MD *md, const void *key, size_t keylen, const void *data,
                     size_t len, unsigned char *out)
{
    unsigned int outlen = 0;
    static const unsigned char nothing[1] = {0};

    if (keylen > (size_t)0x7fffffff)
        keylen = 0x7fffffff;
    HMAC(md, keylen ? key : nothing, (int)keylen, len ? data : nothing, len, out, &outlen);
}

void provider_hmac_sha1(const void *key, size_t keylen, const void *data, size_t len,
                        unsigned char out[20])
{
    hmac_any(EVP_sha1(), key, keylen, data, len, out);
}

void provider_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                          unsigned char out[32])
{
    hmac_any(EVP_sha256(), key, keylen, data, len, out);
}

void provider_sha256(const void *data, size_t len, unsigned char out[32])
{
    static const unsigned char nothing[1] = {0};

    SHA256(len ? data : nothing, len, out);
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void provider_base64_encode(struct tl_buf *b, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        char q[4] = {b64chars[v >> 18], b64chars[(v >> 12) & 63], b64chars[(v >> 6) & 63],
                     b64chars[v & 63]};
        tl_buf_append(b, q, 4);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        char q[4] = {b64chars[v >> 18], b64chars[(v >> 12) & 63], '=', '='};
        tl_buf_append(b, q, 4);
    } else if (n - i == 2) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
        char q[4] = {b64chars[v >> 18], b64chars[(v >> 12) & 63], b64chars[(v >> 6) & 63], '='};
        tl_buf_append(b, q, 4);
    }
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int provider_base64_decode(const char *s, size_t n, struct tl_buf *out)
{
    if (n % 4 != 0)
        return TL_ERR_MALFORMED;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int v[4];
        size_t pad = 0;
        for (size_t k = 0; k < 4; k++) {
            if (s[i + k] == '=' && last && k >= 2) {
                v[k] = 0;
                pad++;
            } else {
                if (pad)
                    return TL_ERR_MALFORMED; /* data after '=' */
                v[k] = b64val(s[i + k]);
                if (v[k] < 0)
                    return TL_ERR_MALFORMED;
            }
        }
        unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 |
                     (unsigned)v[3];
        char o[3] = {(char)(w >> 16), (char)((w >> 8) & 0xFF), (char)(w & 0xFF)};
        /* Strict: the bits a padding discards must be zero. */
        if ((pad == 1 && (v[2] & 3) != 0) || (pad == 2 && (v[1] & 15) != 0))
            return TL_ERR_MALFORMED;
        tl_buf_append(out, o, 3 - pad);
    }
    return TL_OK;
}

void provider_hex_lower(struct tl_buf *b, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++) {
        char e[2] = {hex[s[i] >> 4], hex[s[i] & 15]};
        tl_buf_append(b, e, 2);
    }
}

/* ---- requests ------------------------------------------------------------- */

bool provider_content_type_is(const struct tl_http_in *in, const char *type)
{
    const char *ct = tl_http_in_header(in, "Content-Type");
    size_t tlen = strlen(type);

    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, type, tlen) != 0)
        return false;
    ct += tlen;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static int form_parse_checked(const char *what, const char *p, size_t len, struct tl_form *form,
                              char **cause)
{
    int rc;

    form->fields = NULL;
    form->n = 0;
    if (len > PROVIDER_BODY_MAX) {
        provider_cause(cause, "%s larger than %d bytes", what, PROVIDER_BODY_MAX);
        return TL_ERR_TOO_LARGE;
    }
    rc = tl_form_parse(form, p ? p : "", p ? len : 0, PROVIDER_FORM_FIELDS);
    if (rc == TL_ERR_TOO_LARGE)
        provider_cause(cause, "%s has more than %d fields", what, PROVIDER_FORM_FIELDS);
    else if (rc != TL_OK)
        provider_cause(cause, "%s is not a valid form (bad %%-escape)", what);
    return rc;
}

int provider_form_body(const struct tl_http_in *in, struct tl_form *form, char **cause)
{
    return form_parse_checked("body", in->body, in->body ? in->body_len : 0, form, cause);
}

int provider_form_query(const struct tl_http_in *in, struct tl_form *form, char **cause)
{
    return form_parse_checked("query", in->query, in->query ? strlen(in->query) : 0, form, cause);
}

int provider_check_value(const char *name, const char *v, size_t len, enum provider_value kind,
                         char **cause)
{
    if (kind == PROVIDER_VALUE_ID) {
        if (len == 0) {
            provider_cause(cause, "'%s' is empty", name);
            return TL_ERR_MISSING_FIELD;
        }
        if (len > PROVIDER_ID_MAX) {
            provider_cause(cause, "'%s' longer than %d bytes", name, PROVIDER_ID_MAX);
            return TL_ERR_TOO_LARGE;
        }
    } else if (len > (size_t)PROVIDER_TEXT_MAX * 4) {
        provider_cause(cause, "'%s' longer than %d characters", name, PROVIDER_TEXT_MAX);
        return TL_ERR_TOO_LARGE;
    }
    if (memchr(v, '\0', len) != NULL) {
        provider_cause(cause, "'%s' contains a NUL byte", name);
        return TL_ERR_MALFORMED;
    }
    if (!tl_utf8_valid(v, len)) {
        provider_cause(cause, "'%s' is not valid UTF-8", name);
        return TL_ERR_BAD_UTF8;
    }
    if (kind == PROVIDER_VALUE_ID) {
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)v[i];
            if (c < 0x20 || c == 0x7f) {
                provider_cause(cause, "'%s' contains a control character", name);
                return TL_ERR_MALFORMED;
            }
        }
    } else {
        size_t pos = 0, cps = 0;
        while (pos < len) {
            tl_utf8_next(v, len, &pos);
            cps++;
        }
        if (cps > PROVIDER_TEXT_MAX) {
            provider_cause(cause, "'%s' longer than %d characters", name, PROVIDER_TEXT_MAX);
            return TL_ERR_TOO_LARGE;
        }
    }
    return TL_OK;
}

int provider_form_take(const struct tl_form *form, const char *name, enum provider_value kind,
                       bool required, char **out, size_t *outlen, char **cause)
{
    const struct tl_form_field *f = tl_form_find(form, name);
    int rc;

    *out = NULL;
    if (outlen)
        *outlen = 0;
    if (f == NULL || (!required && kind == PROVIDER_VALUE_ID && f->value_len == 0)) {
        if (!required)
            return TL_OK;
        provider_cause(cause, "missing '%s'", name);
        return TL_ERR_MISSING_FIELD;
    }
    rc = provider_check_value(name, f->value, f->value_len, kind, cause);
    if (rc != TL_OK)
        return rc;
    *out = xstrndup(f->value, f->value_len);
    if (outlen)
        *outlen = f->value_len;
    return TL_OK;
}

/* ---- answers and outbound requests ------------------------------------- */

void provider_reply(struct tl_http_reply *out, int status, const char *content_type,
                    const char *body, size_t len)
{
    memset(out, 0, sizeof(*out));
    out->status = status;
    out->content_type = content_type;
    tl_buf_append(&out->body, body ? body : "", body ? len : 0);
}

void provider_out_header(struct tl_http_out *o, const char *name, const char *value)
{
    if (o->nheaders >= TL_HTTP_OUT_MAX_HEADERS)
        return;
    o->headers[o->nheaders].name = xstrdup(name);
    o->headers[o->nheaders].value = xstrdup(value);
    o->nheaders++;
}

char *provider_base_url(const struct tl_channel_conf *ch, const char *def)
{
    const char *u = provider_conf_set(ch->base_url) ? ch->base_url : def;
    size_t len;

    if (u == NULL)
        return NULL;
    len = strlen(u);
    while (len > 0 && u[len - 1] == '/')
        len--;
    return xstrndup(u, len);
}

char *provider_snippet(const char *p, size_t len)
{
    struct tl_buf b = {0};
    bool space = false;

    for (size_t i = 0; p != NULL && i < len && b.len < 120; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = b.len > 0;
            continue;
        }
        if (c < 0x21 || c > 0x7e)
            c = '?';
        if (space)
            tl_buf_append_char(&b, ' ');
        space = false;
        tl_buf_append_char(&b, (char)c);
    }
    return tl_buf_steal(&b);
}

void provider_outcome_set(struct tl_send_outcome *o, enum tl_send_result result, char *provider_id,
                          char *error)
{
    tl_send_outcome_clear(o);
    o->result = result;
    o->provider_id = provider_id;
    o->error = error;
}

void provider_outcomes_init(struct tl_send_outcome *outcomes, size_t n)
{
    if (n > 0)
        memset(outcomes, 0, n * sizeof(*outcomes));
}

void provider_outcomes_all(struct tl_send_outcome *outcomes, size_t n, enum tl_send_result result,
                           const char *error)
{
    for (size_t i = 0; i < n; i++)
        provider_outcome_set(&outcomes[i], result, NULL, xstrdup_or_null(error));
}

bool provider_parse_int64(const char *s, size_t len, int64_t *out)
{
    bool neg = false;
    uint64_t v = 0;
    size_t i = 0;

    if (s == NULL || len == 0)
        return false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return false;
    }
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
            return false;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return true;
}

int provider_ussd_from_at_form(const struct tl_form *f, struct tl_ussd_step *out, char **cause)
{
    int rc;

    if ((rc = provider_form_take(f, "sessionId", PROVIDER_VALUE_ID, true, &out->session_id, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(f, "phoneNumber", PROVIDER_VALUE_ID, true, &out->phone, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(f, "serviceCode", PROVIDER_VALUE_ID, false, &out->service_code,
                                 NULL, cause)) != TL_OK ||
        (rc = provider_form_take(f, "networkCode", PROVIDER_VALUE_ID, false, &out->network, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(f, "text", PROVIDER_VALUE_TEXT, false, &out->input, NULL,
                                 cause)) != TL_OK) {
        tl_ussd_step_clear(out);
        return rc;
    }
    if (out->input == NULL)
        out->input = xstrdup(""); /* the first step of a session */
    out->input_is_path = true;
    return TL_OK;
}
