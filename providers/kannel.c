/*
 * kannel.c — Kannel: smsbox get-url/post-url inbound SMS, the dlr-url
 * delivery reports, cgi-bin/sendsms. A pure translator: no sockets, no curl,
 * no store, no logging.
 *
 * The Kannel side (sms-service, sendsms-user, smsbox) is docs/kannel.md,
 * proven against a real Kannel by tests/e2e/45-kannel.t:
 *   get-url = "https://HOST/sms/NAME?token=SECRET&id=%I&sender=%p&receiver=%P&coding=%c&text=%b"
 *   max-messages = 0   (the answer's body is never sent as an SMS; replies go
 *                       through sendsms, so UCS-2 is encoded by us)
 * post-url works too: parameters may come in the query, in a form body, or
 * (post-url's own style, with send-sender = true) as X-Kannel-From /
 * X-Kannel-To / X-Kannel-Coding headers with the raw text as the body.
 *
 * Decisions:
 * - inbound: sender (synonym from, header X-Kannel-From), receiver (synonym
 *   to, header X-Kannel-To), text required; id (%I) optional: without it
 *   the message gets a local id "kannel-noid-…" and local_id is set (the
 *   gateway logs a config error: smsbox's retries cannot be deduplicated);
 *   coding optional: 0 or 1 =
 *   the text bytes are UTF-8, 2 = UTF-16BE (a leading BOM is dropped; an
 *   FF FE BOM switches to little-endian) converted to UTF-8; other values
 *   TL_ERR_MALFORMED. The query wins over the body, the body over headers.
 * - DLR: id = our outbox id (a positive integer, else TL_ERR_MALFORMED),
 *   status = the dlr type: 1 -> DELIVERED, 2 -> FAILED, 4 -> ACCEPTED,
 *   8 -> ACCEPTED, 16 -> FAILED, anything else (32, sums, "%d") -> UNKNOWN,
 *   TL_OK. provider_id is NULL: the report is matched by our_id.
 * - send: GET {base}/cgi-bin/sendsms?username&password&to&text[&from]
 *   &coding&dlr-mask=27[&dlr-url]; GSM text as UTF-8 with coding=0, UCS-2
 *   text as UTF-16BE with coding=2 and no charset (courier PRs #1029/#1030).
 *   dlr-url = {public_url}/dlr/{channel}?id={outbox id}&status=%d, plus
 *   &token={secret} when a secret is set (our own DLR route checks it); the
 *   whole dlr-url is percent-encoded, so Kannel receives the literal %d.
 *   The password and the token ride in the URL (Kannel's GET interface):
 *   the sender must not log request URLs of this provider. Keep the secret
 *   to ASCII letters, digits and -_.~ : Kannel expands %A, %B, %C, %D, %F…
 *   inside dlr-url, so a percent-escaped non-ASCII secret would come back
 *   mangled (the send itself still works; only its reports are refused).
 *   batch_max is 1: one dlr-url carries one outbox id.
 * - max_parts (the sendsms-user's max-messages; 0 = unknown, no limit):
 *   Kannel cuts a longer text silently and reports it delivered, so a text
 *   needing more parts is sent shortened to the longest prefix that fits,
 *   after a whole word (coding recounted for the prefix); classify_send
 *   notes "shortened to N SMS part(s)" on the SENT outcome.
 * - answer: 2xx ("0: Accepted for delivery", "3: Queued for later
 *   delivery", "Sent.") -> SENT without provider id; our configuration
 *   refused (403 "Authorization failed", 400 "Sender missing and no global
 *   set") -> TEMPFAIL "Kannel configuration: …" (every message would get
 *   it: retried while the operator fixes it); 429, 5xx (503 "Temporal
 *   failure"), no answer, 1xx/3xx -> TEMPFAIL; other 4xx (400 field
 *   errors, 403 "Not routable. Do not try again.") -> PERMFAIL.
 * - authenticity: allow_ips when set; secret as ?token= when set.
 * - render_sms_reply never carries text (see max-messages above).
 */
#include "providers/providers.h"

#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "parsers/gsm7.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KANNEL_DEFAULT_BASE "http://127.0.0.1:13013"
#define KANNEL_DLR_MASK "27"

static int kannel_authenticate(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                               char **cause)
{
    int rc = provider_check_ip(ch, in, cause);

    if (rc != TL_OK)
        return rc;
    return provider_check_token(ch, in, cause);
}

/* One parameter: query first, then form body, then a header. */
struct kannel_value {
    const char *p;
    size_t len;
    bool found;
};

static struct kannel_value kannel_param(const struct tl_form *q, const struct tl_form *b,
                                        const struct tl_http_in *in, const char *name,
                                        const char *alt, const char *header)
{
    struct kannel_value v = {NULL, 0, false};
    const struct tl_form *forms[2] = {q, b};
    const char *names[2] = {name, alt};

    for (size_t i = 0; i < 2; i++) {
        for (size_t k = 0; k < 2; k++) {
            const struct tl_form_field *f;
            if (names[k] == NULL || forms[i] == NULL)
                continue;
            f = tl_form_find(forms[i], names[k]);
            if (f != NULL) {
                v.p = f->value;
                v.len = f->value_len;
                v.found = true;
                return v;
            }
        }
    }
    if (header != NULL) {
        const char *h = tl_http_in_header(in, header);
        if (h != NULL) {
            while (*h == ' ' || *h == '\t')
                h++;
            v.p = h;
            v.len = strlen(h);
            while (v.len > 0 && (h[v.len - 1] == ' ' || h[v.len - 1] == '\t'))
                v.len--;
            v.found = true;
        }
    }
    return v;
}

static int kannel_take(struct kannel_value v, const char *name, enum provider_value kind,
                       char **out, size_t *outlen, char **cause)
{
    int rc;

    if (!v.found) {
        provider_cause(cause, "missing '%s'", name);
        return TL_ERR_MISSING_FIELD;
    }
    rc = provider_check_value(name, v.p, v.len, kind, cause);
    if (rc != TL_OK)
        return rc;
    *out = xstrndup(v.p, v.len);
    if (outlen)
        *outlen = v.len;
    return TL_OK;
}

/* UTF-16 (BE unless an FF FE BOM says LE) to UTF-8. */
static int kannel_utf16_to_utf8(const unsigned char *s, size_t len, struct tl_buf *out,
                                char **cause)
{
    bool le = false;
    size_t i = 0;

    if (len % 2 != 0) {
        provider_cause(cause, "'text' with coding=2 has an odd number of bytes");
        return TL_ERR_MALFORMED;
    }
    if (len >= 2 && s[0] == 0xFE && s[1] == 0xFF) {
        i = 2;
    } else if (len >= 2 && s[0] == 0xFF && s[1] == 0xFE) {
        le = true;
        i = 2;
    }
    for (; i < len; i += 2) {
        uint32_t u = le ? (uint32_t)s[i] | (uint32_t)s[i + 1] << 8
                        : (uint32_t)s[i] << 8 | (uint32_t)s[i + 1];
        int32_t cp;
        char enc[4];
        if (u >= 0xD800 && u <= 0xDBFF) {
            uint32_t lo;
            if (i + 3 >= len)
                goto bad;
            lo = le ? (uint32_t)s[i + 2] | (uint32_t)s[i + 3] << 8
                    : (uint32_t)s[i + 2] << 8 | (uint32_t)s[i + 3];
            if (lo < 0xDC00 || lo > 0xDFFF)
                goto bad;
            cp = (int32_t)(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
            i += 2;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            goto bad;
        } else {
            cp = (int32_t)u;
        }
        tl_buf_append(out, enc, tl_utf8_encode(cp, enc));
    }
    if (out->data == NULL)
        tl_buf_append(out, "", 0);
    return TL_OK;
bad:
    provider_cause(cause, "'text' with coding=2 has an unpaired UTF-16 surrogate");
    return TL_ERR_BAD_UTF8;
}

static int kannel_parse_sms(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                            struct tl_inbound_sms *out, char **cause)
{
    struct tl_form q = {0}, b = {0};
    bool have_b = false;
    struct kannel_value text, coding;
    struct tl_buf conv = {0};
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = provider_form_query(in, &q, cause);
    if (rc != TL_OK)
        return rc;
    if (in->body != NULL && in->body_len > PROVIDER_BODY_MAX) {
        provider_cause(cause, "body larger than %d bytes", PROVIDER_BODY_MAX);
        rc = TL_ERR_TOO_LARGE;
        goto done;
    }
    if (provider_content_type_is(in, "application/x-www-form-urlencoded")) {
        rc = provider_form_body(in, &b, cause);
        if (rc != TL_OK)
            goto done;
        have_b = true;
    }
    struct kannel_value id = kannel_param(&q, have_b ? &b : NULL, in, "id", NULL, NULL);
    if ((id.found &&
         (rc = kannel_take(id, "id", PROVIDER_VALUE_ID, &out->provider_id, NULL, cause)) != TL_OK) ||
        (rc = kannel_take(kannel_param(&q, have_b ? &b : NULL, in, "sender", "from",
                                       "X-Kannel-From"),
                          "sender", PROVIDER_VALUE_ID, &out->from, NULL, cause)) != TL_OK ||
        (rc = kannel_take(kannel_param(&q, have_b ? &b : NULL, in, "receiver", "to",
                                       "X-Kannel-To"),
                          "receiver", PROVIDER_VALUE_ID, &out->to, NULL, cause)) != TL_OK)
        goto done;

    text = kannel_param(&q, have_b ? &b : NULL, in, "text", NULL, NULL);
    if (!text.found && !have_b && in->method != NULL && strcasecmp(in->method, "POST") == 0) {
        /* post-url: the body is the message itself */
        text.p = in->body ? in->body : "";
        text.len = in->body ? in->body_len : 0;
        text.found = true;
    }
    if (!text.found) {
        provider_cause(cause, "missing 'text'");
        rc = TL_ERR_MISSING_FIELD;
        goto done;
    }
    coding = kannel_param(&q, have_b ? &b : NULL, in, "coding", NULL, "X-Kannel-Coding");
    if (coding.found && coding.len == 1 && coding.p[0] == '2') {
        rc = kannel_utf16_to_utf8((const unsigned char *)text.p, text.len, &conv, cause);
        if (rc != TL_OK)
            goto done;
        text.p = conv.data;
        text.len = conv.len;
    } else if (coding.found && coding.len > 0 &&
               !(coding.len == 1 && (coding.p[0] == '0' || coding.p[0] == '1'))) {
        provider_cause(cause, "'coding' must be 0, 1 or 2");
        rc = TL_ERR_MALFORMED;
        goto done;
    }
    rc = kannel_take(text, "text", PROVIDER_VALUE_TEXT, &out->text, &out->text_len, cause);
    if (rc == TL_OK && out->provider_id == NULL) {
        /* no id=%I in the URL (post-url's own style sends none): no dedupe */
        out->provider_id = provider_local_id("kannel-noid");
        out->local_id = true;
    }
done:
    if (rc != TL_OK)
        tl_inbound_sms_clear(out);
    tl_buf_free(&conv);
    tl_form_free(&q);
    tl_form_free(&b);
    return rc;
}

static int kannel_parse_dlr(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                            struct tl_dlr *out, char **cause)
{
    struct tl_form q = {0}, b = {0};
    bool have_b = false;
    char *id = NULL;
    size_t idlen = 0;
    int64_t v = 0;
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = provider_form_query(in, &q, cause);
    if (rc != TL_OK)
        return rc;
    if (in->body != NULL && in->body_len > PROVIDER_BODY_MAX) {
        provider_cause(cause, "body larger than %d bytes", PROVIDER_BODY_MAX);
        rc = TL_ERR_TOO_LARGE;
        goto done;
    }
    if (provider_content_type_is(in, "application/x-www-form-urlencoded")) {
        rc = provider_form_body(in, &b, cause);
        if (rc != TL_OK)
            goto done;
        have_b = true;
    }
    if ((rc = kannel_take(kannel_param(&q, have_b ? &b : NULL, in, "id", NULL, NULL), "id",
                          PROVIDER_VALUE_ID, &id, &idlen, cause)) != TL_OK ||
        (rc = kannel_take(kannel_param(&q, have_b ? &b : NULL, in, "status", NULL, NULL),
                          "status", PROVIDER_VALUE_ID, &out->status_raw, NULL, cause)) != TL_OK)
        goto done;
    if (!provider_parse_int64(id, idlen, &out->our_id) || out->our_id <= 0) {
        provider_cause(cause, "'id' is not an outbox id");
        rc = TL_ERR_MALFORMED;
        goto done;
    }
    struct kannel_value to = kannel_param(&q, have_b ? &b : NULL, in, "to", "receiver", NULL);
    if (to.found && to.len > 0 &&
        (rc = kannel_take(to, "to", PROVIDER_VALUE_ID, &out->phone, NULL, cause)) != TL_OK)
        goto done;
    out->state = TL_DLR_UNKNOWN;
    if (provider_parse_int64(out->status_raw, strlen(out->status_raw), &v)) {
        switch (v) {
        case 1:
            out->state = TL_DLR_DELIVERED;
            break;
        case 2:
        case 16:
            out->state = TL_DLR_FAILED;
            break;
        case 4:
        case 8:
            out->state = TL_DLR_ACCEPTED;
            break;
        default:
            break;
        }
    }
done:
    if (rc != TL_OK)
        tl_dlr_clear(out);
    free(id);
    tl_form_free(&q);
    tl_form_free(&b);
    return rc;
}

static void kannel_render_sms_reply(const struct tl_channel_conf *ch,
                                    const struct tl_inbound_sms *sms, const char *reply_text,
                                    struct tl_http_reply *out)
{
    (void)ch;
    (void)sms;
    (void)reply_text; /* replies go through sendsms (max-messages = 0) */
    provider_reply(out, 200, "text/plain", NULL, 0);
}

static void kannel_render_dlr_reply(const struct tl_channel_conf *ch, struct tl_http_reply *out)
{
    (void)ch;
    provider_reply(out, 200, "text/plain", NULL, 0);
}

static void param(struct tl_buf *b, const char *name, const char *value, size_t len)
{
    tl_buf_append_char(b, b->data != NULL && strchr(b->data, '?') != NULL ? '&' : '?');
    tl_buf_append_str(b, name);
    tl_buf_append_char(b, '=');
    tl_buf_append_formenc(b, value, len);
}

/*
 * The bytes of text to send: all of it, or when it needs more SMS parts
 * than the channel's max_parts (Kannel's sendsms-user max-messages; 0 =
 * not known, no limit) the longest prefix that fits, cut after a word when
 * one ends in its second half, without trailing spaces or commas. *ucs2 is
 * the coding of what is sent: a cut can leave a GSM-7 prefix of UCS-2 text.
 */
static size_t kannel_fit(const struct tl_channel_conf *ch, const char *text, bool *ucs2)
{
    size_t len = strlen(text), n;
    struct tl_sms_count c;

    if (ch->max_parts <= 0 || sms_count(text, len, &c) != TL_OK ||
        c.segments <= (size_t)ch->max_parts)
        return len;
    n = sms_fit(text, len, (size_t)ch->max_parts);
    for (size_t i = n; i > n / 2; i--) {
        if (text[i - 1] == ' ' && i < n) {
            n = i;
            break;
        }
    }
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == ','))
        n--;
    if (sms_count(text, n, &c) == TL_OK)
        *ucs2 = c.ucs2;
    return n;
}

static int kannel_build_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs,
                             size_t n, struct tl_http_out *out, char **cause)
{
    struct tl_buf url = {0}, text = {0};
    char *base;

    memset(out, 0, sizeof(*out));
    if (!provider_conf_set(ch->username) || !provider_conf_set(ch->password)) {
        provider_cause(cause, "kannel channel needs username and password");
        return TL_ERR_INVALID;
    }
    if (n != 1) {
        provider_cause(cause, "kannel sends one message per request, not %zu", n);
        return TL_ERR_INVALID;
    }
    if (msgs[0].to == NULL || msgs[0].to[0] == '\0' || msgs[0].text == NULL) {
        provider_cause(cause, "message without recipient or text");
        return TL_ERR_INVALID;
    }
    bool ucs2 = msgs[0].ucs2;
    size_t len = kannel_fit(ch, msgs[0].text, &ucs2);
    if (ucs2) {
        if (sms_to_ucs2be(msgs[0].text, len, &text) != TL_OK) {
            tl_buf_free(&text);
            provider_cause(cause, "message text is not valid UTF-8");
            return TL_ERR_INVALID;
        }
    } else {
        tl_buf_append(&text, msgs[0].text, len);
    }
    base = provider_base_url(ch, KANNEL_DEFAULT_BASE);
    tl_buf_append_str(&url, base);
    tl_buf_append_str(&url, "/cgi-bin/sendsms");
    free(base);
    param(&url, "username", ch->username, strlen(ch->username));
    param(&url, "password", ch->password, strlen(ch->password));
    param(&url, "to", msgs[0].to, strlen(msgs[0].to));
    param(&url, "text", text.data ? text.data : "", text.len);
    if (provider_conf_set(ch->sender))
        param(&url, "from", ch->sender, strlen(ch->sender));
    param(&url, "coding", ucs2 ? "2" : "0", 1);
    if (provider_conf_set(ch->public_url) && ch->name != NULL) {
        struct tl_buf dlr = {0};
        size_t plen = strlen(ch->public_url);
        while (plen > 0 && ch->public_url[plen - 1] == '/')
            plen--;
        tl_buf_append(&dlr, ch->public_url, plen);
        tl_buf_append_str(&dlr, "/dlr/");
        tl_buf_append_urlenc(&dlr, ch->name, strlen(ch->name));
        tl_buf_appendf(&dlr, "?id=%lld&status=%%d", (long long)msgs[0].id);
        if (provider_conf_set(ch->secret)) {
            tl_buf_append_str(&dlr, "&token=");
            tl_buf_append_urlenc(&dlr, ch->secret, strlen(ch->secret));
        }
        param(&url, "dlr-mask", KANNEL_DLR_MASK, strlen(KANNEL_DLR_MASK));
        param(&url, "dlr-url", dlr.data, dlr.len);
        tl_buf_free(&dlr);
    }
    tl_buf_free(&text);
    out->method = xstrdup("GET");
    out->url = tl_buf_steal(&url);
    return TL_OK;
}

/*
 * A refusal that says our configuration is wrong (credentials, sender), not
 * the message: every message would get it until the operator fixes it.
 */
static bool kannel_config_refusal(long http_status, const char *snip)
{
    if (http_status == 403 && strncasecmp(snip, "Authorization failed", 20) == 0)
        return true;
    return http_status == 400 && strncasecmp(snip, "Sender", 6) == 0;
}

static void kannel_classify_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs,
                                 size_t n, long http_status, const char *body, size_t body_len,
                                 struct tl_send_outcome *outcomes)
{
    char *snip, *why;
    enum tl_send_result res;

    provider_outcomes_init(outcomes, n);
    if (http_status == 0) {
        provider_outcomes_all(outcomes, n, TL_SEND_TEMPFAIL, "no answer from Kannel");
        return;
    }
    if (http_status >= 200 && http_status < 300) {
        bool ucs2 = n > 0 && msgs[0].ucs2;
        char *note = NULL;
        if (n > 0 && msgs[0].text != NULL && kannel_fit(ch, msgs[0].text, &ucs2) <
                                                   strlen(msgs[0].text))
            note = xasprintf("shortened to %d SMS part%s (the channel's max_parts)",
                             ch->max_parts, ch->max_parts == 1 ? "" : "s");
        provider_outcomes_all(outcomes, n, TL_SEND_SENT, note);
        free(note);
        return;
    }
    snip = provider_snippet(body, body_len);
    if (kannel_config_refusal(http_status, snip))
        res = TL_SEND_TEMPFAIL; /* retried with backoff while the operator fixes it */
    else if (http_status == 429 || http_status >= 500)
        res = TL_SEND_TEMPFAIL;
    else if (http_status >= 400 && http_status < 500)
        res = TL_SEND_PERMFAIL; /* this message: "Not routable", a bad receiver */
    else
        res = TL_SEND_TEMPFAIL;
    why = xasprintf("%sHTTP %ld: %s", kannel_config_refusal(http_status, snip)
                                          ? "Kannel configuration: "
                                          : "",
                    http_status, snip);
    provider_outcomes_all(outcomes, n, res, why);
    free(why);
    free(snip);
}

const struct tl_provider provider_kannel = {
    .name = "kannel",
    .batch_max = 1,
    .default_base_url = KANNEL_DEFAULT_BASE,
    .authenticate = kannel_authenticate,
    .parse_sms = kannel_parse_sms,
    .parse_dlr = kannel_parse_dlr,
    .parse_ussd = NULL,
    .render_sms_reply = kannel_render_sms_reply,
    .render_dlr_reply = kannel_render_dlr_reply,
    .render_ussd_reply = NULL,
    .build_send = kannel_build_send,
    .classify_send = kannel_classify_send,
};
