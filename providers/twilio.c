/*
 * twilio.c — Twilio: inbound SMS webhook and status callbacks (form POSTs)
 * checked with X-Twilio-Signature, TwiML answers, the Messages API (one
 * recipient per request). A pure translator: no sockets, no curl, no store,
 * no logging.
 *
 * Signature (PROTOCOLS.md §1b): HMAC-SHA1 keyed with auth_token over
 * {public_url}{path}[?{query}] followed by every POST parameter as name+value,
 * sorted by name then value (byte order), identical pairs once; base64;
 * compared in constant time. The URL is tried as configured and with the
 * port toggled (an explicit port removed; or :443 / :80 added for https /
 * http), as the SDKs do. When the query carries bodySHA256 (JSON webhooks)
 * the body must hash (lowercase hex SHA-256) to it and no parameters are
 * appended. GET webhooks sign the URL alone. A missing header, an unset
 * auth_token or public_url, or (when account_sid is set) a different
 * AccountSid in the body are TL_ERR_AUTH.
 *
 * Decisions:
 * - inbound: MessageSid, AccountSid, From, To, Body required (Body may be
 *   empty, e.g. MMS). Media is ignored.
 * - Body base64 heuristic (Twilio sometimes base64-encodes long bodies,
 *   rapidpro PR #1187): decoded only when, after removing CR/LF and outer
 *   blanks, it is >= 60 bytes, a multiple of 4, strict base64 (alphabet,
 *   padding only at the end, zero pad bits), and decodes to valid UTF-8
 *   (one incomplete character at the very end, cut by segmenting as in
 *   courier's own sample, is dropped) with no control characters but
 *   TAB/CR/LF and at least half ASCII code points (courier's 50% rule).
 *   Otherwise the body is kept as it came.
 * - status: queued/accepted/scheduled/sending/sent -> ACCEPTED,
 *   delivered/read -> DELIVERED, partially_delivered -> DELIVERED (some of it
 *   reached the handset; final), failed/undelivered/canceled -> FAILED,
 *   receiving/received (inbound states, never an outbound callback) and
 *   anything else -> UNKNOWN with the raw value. ErrorCode 21610 sets
 *   opted_out. MessageStatus missing falls back to SmsStatus.
 * - send: 200/201 with a "sid" -> SENT; error code 21610 -> OPTED_OUT;
 *   63018, 20429, HTTP 429, 5xx, no answer, 401 (credentials, fixable by the
 *   operator), an unreadable 2xx, 1xx/3xx -> TEMPFAIL; other 4xx ->
 *   PERMFAIL. A sender starting "MG" (34 characters) is sent as
 *   MessagingServiceSid, otherwise as From.
 * - answers are TwiML: <Response/> or <Response><Message>…</Message></Response>.
 */
#include "providers/providers.h"

#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TW_DEFAULT_BASE "https://api.twilio.com"
#define TW_BASE64_MIN 60

/* ---- signature -------------------------------------------------------------- */

struct tw_pair {
    const char *name;
    size_t nlen;
    const char *value;
    size_t vlen;
};

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int pair_cmp(const void *pa, const void *pb)
{
    const struct tw_pair *a = pa, *b = pb;
    int c = bytes_cmp(a->name, a->nlen, b->name, b->nlen);

    return c != 0 ? c : bytes_cmp(a->value, a->vlen, b->value, b->vlen);
}

/* base64(HMAC-SHA1(token, url + sorted pairs)) into sig (reset first). */
static void tw_sign(const char *token, const char *url, size_t urllen, const struct tw_pair *p,
                    size_t np, struct tl_buf *sig)
{
    struct tl_buf data = {0};
    unsigned char mac[20];

    tl_buf_append(&data, url, urllen);
    for (size_t i = 0; i < np; i++) {
        if (i > 0 && pair_cmp(&p[i - 1], &p[i]) == 0)
            continue; /* a repeated name=value counts once */
        tl_buf_append(&data, p[i].name, p[i].nlen);
        tl_buf_append(&data, p[i].value, p[i].vlen);
    }
    provider_hmac_sha1(token, strlen(token), data.data ? data.data : "", data.len, mac);
    tl_buf_free(&data);
    tl_buf_reset(sig);
    provider_base64_encode(sig, mac, sizeof(mac));
}

/*
 * The URL with its port toggled: an explicit port removed, or the scheme's
 * default port added. NULL when there is no such variant.
 */
static char *tw_url_port_variant(const char *url)
{
    const char *sep = strstr(url, "://");
    const char *auth, *end, *host, *at, *colon = NULL;
    size_t slen;

    if (sep == NULL)
        return NULL;
    slen = (size_t)(sep - url);
    auth = sep + 3;
    end = auth + strcspn(auth, "/?#");
    at = NULL;
    for (const char *p = auth; p < end; p++) {
        if (*p == '@')
            at = p;
    }
    host = at ? at + 1 : auth;
    if (*host == '[') {
        const char *rb = memchr(host, ']', (size_t)(end - host));
        if (rb == NULL)
            return NULL;
        if (rb + 1 < end && rb[1] == ':')
            colon = rb + 1;
    } else {
        for (const char *p = host; p < end; p++) {
            if (*p == ':')
                colon = p;
        }
    }
    if (colon != NULL) /* remove ":port" */
        return xasprintf("%.*s%s", (int)(colon - url), url, end);
    if (slen == 5 && strncasecmp(url, "https", 5) == 0)
        return xasprintf("%.*s:443%s", (int)(end - url), url, end);
    if (slen == 4 && strncasecmp(url, "http", 4) == 0)
        return xasprintf("%.*s:80%s", (int)(end - url), url, end);
    return NULL;
}

static int tw_authenticate(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                           char **cause)
{
    struct tl_form q = {0}, body = {0};
    struct tw_pair *pairs = NULL;
    size_t np = 0;
    const char *sig_hdr;
    size_t siglen;
    struct tl_buf url = {0}, sig = {0};
    char *variant = NULL;
    bool ok = false;
    int rc = provider_check_ip(ch, in, cause);

    if (rc != TL_OK)
        return rc;
    if (!provider_conf_set(ch->auth_token)) {
        provider_cause(cause, "channel has no auth_token to check X-Twilio-Signature");
        return TL_ERR_AUTH;
    }
    if (!provider_conf_set(ch->public_url)) {
        provider_cause(cause, "public_url is not set: cannot check X-Twilio-Signature");
        return TL_ERR_AUTH;
    }
    sig_hdr = tl_http_in_header(in, "X-Twilio-Signature");
    if (sig_hdr == NULL) {
        provider_cause(cause, "missing X-Twilio-Signature");
        return TL_ERR_AUTH;
    }
    while (*sig_hdr == ' ' || *sig_hdr == '\t')
        sig_hdr++;
    siglen = strlen(sig_hdr);
    while (siglen > 0 && (sig_hdr[siglen - 1] == ' ' || sig_hdr[siglen - 1] == '\t'))
        siglen--;

    rc = TL_ERR_AUTH;
    if (provider_form_query(in, &q, NULL) != TL_OK) {
        provider_cause(cause, "unreadable query string");
        goto done;
    }
    const struct tl_form_field *bodysha = tl_form_find(&q, "bodySHA256");
    if (bodysha != NULL) {
        unsigned char h[32];
        struct tl_buf hex = {0};
        bool same;
        provider_sha256(in->body, in->body ? in->body_len : 0, h);
        provider_hex_lower(&hex, h, sizeof(h));
        same = provider_ct_equal(bodysha->value, bodysha->value_len, hex.data, hex.len);
        tl_buf_free(&hex);
        if (!same) {
            provider_cause(cause, "body does not match bodySHA256");
            goto done;
        }
    } else if (in->method == NULL || strcasecmp(in->method, "GET") != 0) {
        if (provider_form_body(in, &body, NULL) != TL_OK) {
            provider_cause(cause, "unreadable form body");
            goto done;
        }
        pairs = xcalloc(body.n ? body.n : 1, sizeof(*pairs));
        for (size_t i = 0; i < body.n; i++) {
            pairs[np].name = body.fields[i].name;
            pairs[np].nlen = body.fields[i].name_len;
            pairs[np].value = body.fields[i].value;
            pairs[np].vlen = body.fields[i].value_len;
            np++;
        }
        qsort(pairs, np, sizeof(*pairs), pair_cmp);
    }

    size_t plen = strlen(ch->public_url);
    while (plen > 0 && ch->public_url[plen - 1] == '/')
        plen--;
    tl_buf_append(&url, ch->public_url, plen);
    if (in->path != NULL)
        tl_buf_append_str(&url, in->path);
    if (in->query != NULL) {
        tl_buf_append_char(&url, '?');
        tl_buf_append_str(&url, in->query);
    }
    tw_sign(ch->auth_token, url.data, url.len, pairs, np, &sig);
    ok = provider_ct_equal(sig_hdr, siglen, sig.data, sig.len);
    variant = tw_url_port_variant(url.data);
    if (variant != NULL) {
        tw_sign(ch->auth_token, variant, strlen(variant), pairs, np, &sig);
        ok |= provider_ct_equal(sig_hdr, siglen, sig.data, sig.len);
    }
    if (!ok) {
        provider_cause(cause, "X-Twilio-Signature does not match");
        goto done;
    }
    if (provider_conf_set(ch->account_sid)) {
        const struct tl_form_field *acc = tl_form_find(&body, "AccountSid");
        if (acc != NULL && (acc->value_len != strlen(ch->account_sid) ||
                            memcmp(acc->value, ch->account_sid, acc->value_len) != 0)) {
            provider_cause(cause, "AccountSid is not this channel's account");
            goto done;
        }
    }
    rc = TL_OK;
done:
    free(variant);
    free(pairs);
    tl_buf_free(&url);
    tl_buf_free(&sig);
    tl_form_free(&q);
    tl_form_free(&body);
    return rc;
}

/* ---- callbacks -------------------------------------------------------------- */

/*
 * Length of an incomplete UTF-8 character ending s (a lead byte and fewer
 * continuation bytes than it announces), or 0.
 */
static size_t tw_utf8_truncated_tail(const char *s, size_t len)
{
    for (size_t k = 1; k <= 3 && k <= len; k++) {
        unsigned char c = (unsigned char)s[len - k];
        size_t need;
        if ((c & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back */
        if (c >= 0xC2 && c <= 0xDF)
            need = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 4;
        else
            return 0;
        return k < need ? k : 0;
    }
    return 0;
}

/* The decoded body when Body passes the base64 rule above, else NULL. */
static char *tw_maybe_base64(const char *s, size_t len, size_t *outlen)
{
    struct tl_buf clean = {0}, dec = {0};
    size_t start = 0, end, pos = 0, ascii = 0, cps = 0;
    char *res = NULL;

    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\r' && s[i] != '\n')
            tl_buf_append_char(&clean, s[i]);
    }
    end = clean.len;
    while (start < end && (clean.data[start] == ' ' || clean.data[start] == '\t'))
        start++;
    while (end > start && (clean.data[end - 1] == ' ' || clean.data[end - 1] == '\t'))
        end--;
    if (end - start < TW_BASE64_MIN || (end - start) % 4 != 0)
        goto out;
    if (provider_base64_decode(clean.data + start, end - start, &dec) != TL_OK || dec.len == 0)
        goto out;
    if (!tl_utf8_valid(dec.data, dec.len)) {
        size_t cut = tw_utf8_truncated_tail(dec.data, dec.len);
        if (cut == 0 || !tl_utf8_valid(dec.data, dec.len - cut))
            goto out;
        dec.len -= cut; /* a character cut in two by segmenting */
        dec.data[dec.len] = '\0';
    }
    while (pos < dec.len) {
        int32_t cp = tl_utf8_next(dec.data, dec.len, &pos);
        if ((cp < 0x20 && cp != '\t' && cp != '\r' && cp != '\n') || cp == 0x7f)
            goto out;
        if (cp < 0x80)
            ascii++;
        cps++;
    }
    if (ascii * 2 < cps)
        goto out;
    *outlen = dec.len;
    res = tl_buf_steal(&dec);
out:
    tl_buf_free(&clean);
    tl_buf_free(&dec);
    return res;
}

static int tw_parse_sms(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                        struct tl_inbound_sms *out, char **cause)
{
    struct tl_form f;
    char *account = NULL;
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = provider_form_body(in, &f, cause);
    if (rc != TL_OK)
        return rc;
    if ((rc = provider_form_take(&f, "MessageSid", PROVIDER_VALUE_ID, true, &out->provider_id,
                                 NULL, cause)) != TL_OK ||
        (rc = provider_form_take(&f, "AccountSid", PROVIDER_VALUE_ID, true, &account, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "From", PROVIDER_VALUE_ID, true, &out->from, NULL, cause)) !=
            TL_OK ||
        (rc = provider_form_take(&f, "To", PROVIDER_VALUE_ID, true, &out->to, NULL, cause)) !=
            TL_OK)
        goto fail;

    const struct tl_form_field *b = tl_form_find(&f, "Body");
    if (b == NULL) {
        provider_cause(cause, "missing 'Body'");
        rc = TL_ERR_MISSING_FIELD;
        goto fail;
    }
    size_t declen = 0;
    char *decoded = tw_maybe_base64(b->value, b->value_len, &declen);
    const char *text = decoded ? decoded : b->value;
    size_t tlen = decoded ? declen : b->value_len;
    rc = provider_check_value("Body", text, tlen, PROVIDER_VALUE_TEXT, cause);
    if (rc == TL_OK) {
        out->text = xstrndup(text, tlen);
        out->text_len = tlen;
    }
    free(decoded);
    if (rc != TL_OK)
        goto fail;
    free(account);
    tl_form_free(&f);
    return TL_OK;
fail:
    free(account);
    tl_inbound_sms_clear(out);
    tl_form_free(&f);
    return rc;
}

static enum tl_dlr_state tw_dlr_state(const char *status)
{
    static const struct {
        const char *name;
        enum tl_dlr_state state;
    } map[] = {
        {"queued", TL_DLR_ACCEPTED},     {"accepted", TL_DLR_ACCEPTED},
        {"scheduled", TL_DLR_ACCEPTED},  {"sending", TL_DLR_ACCEPTED},
        {"sent", TL_DLR_ACCEPTED},       {"delivered", TL_DLR_DELIVERED},
        {"read", TL_DLR_DELIVERED},      {"partially_delivered", TL_DLR_DELIVERED},
        {"failed", TL_DLR_FAILED},       {"undelivered", TL_DLR_FAILED},
        {"canceled", TL_DLR_FAILED},     {"receiving", TL_DLR_UNKNOWN},
        {"received", TL_DLR_UNKNOWN},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(status, map[i].name) == 0)
            return map[i].state;
    }
    return TL_DLR_UNKNOWN;
}

static int tw_parse_dlr(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                        struct tl_dlr *out, char **cause)
{
    struct tl_form f;
    const char *stname;
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = provider_form_body(in, &f, cause);
    if (rc != TL_OK)
        return rc;
    stname = tl_form_find(&f, "MessageStatus") != NULL ? "MessageStatus" : "SmsStatus";
    if ((rc = provider_form_take(&f, "MessageSid", PROVIDER_VALUE_ID, true, &out->provider_id,
                                 NULL, cause)) != TL_OK ||
        (rc = provider_form_take(&f, stname, PROVIDER_VALUE_ID, true, &out->status_raw, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "ErrorCode", PROVIDER_VALUE_ID, false, &out->error, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "To", PROVIDER_VALUE_ID, false, &out->phone, NULL, cause)) !=
            TL_OK) {
        tl_dlr_clear(out);
    } else {
        out->state = tw_dlr_state(out->status_raw);
        out->opted_out = out->error != NULL && strcmp(out->error, "21610") == 0;
    }
    tl_form_free(&f);
    return rc;
}

/* XML text: escapes markup, drops what XML 1.0 cannot carry. */
static void tw_append_xml_text(struct tl_buf *b, const char *s)
{
    size_t len = strlen(s), pos = 0;

    while (pos < len) {
        size_t start = pos;
        int32_t cp = tl_utf8_next(s, len, &pos);
        if (cp < 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE ||
            cp == 0xFFFF)
            continue;
        tl_buf_append_xml(b, s + start, pos - start);
    }
}

static void tw_render_sms_reply(const struct tl_channel_conf *ch, const struct tl_inbound_sms *sms,
                                const char *reply_text, struct tl_http_reply *out)
{
    static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

    (void)ch;
    (void)sms;
    provider_reply(out, 200, "text/xml", decl, sizeof(decl) - 1);
    if (reply_text == NULL || reply_text[0] == '\0') {
        tl_buf_append_str(&out->body, "<Response/>");
        return;
    }
    tl_buf_append_str(&out->body, "<Response><Message>");
    tw_append_xml_text(&out->body, reply_text);
    tl_buf_append_str(&out->body, "</Message></Response>");
}

static void tw_render_dlr_reply(const struct tl_channel_conf *ch, struct tl_http_reply *out)
{
    (void)ch;
    provider_reply(out, 200, "text/plain", NULL, 0);
}

/* ---- sending ---------------------------------------------------------------- */

static void form_pair(struct tl_buf *b, const char *name, const char *value)
{
    if (b->len > 0)
        tl_buf_append_char(b, '&');
    tl_buf_append_str(b, name);
    tl_buf_append_char(b, '=');
    tl_buf_append_formenc(b, value, strlen(value));
}

static int tw_build_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs, size_t n,
                         struct tl_http_out *out, char **cause)
{
    char *base;
    struct tl_buf path = {0};

    memset(out, 0, sizeof(*out));
    if (!provider_conf_set(ch->account_sid) || !provider_conf_set(ch->auth_token)) {
        provider_cause(cause, "twilio channel needs account_sid and auth_token");
        return TL_ERR_INVALID;
    }
    if (!provider_conf_set(ch->sender)) {
        provider_cause(cause, "twilio channel needs sender (a number or MessagingServiceSid)");
        return TL_ERR_INVALID;
    }
    if (n != 1) {
        provider_cause(cause, "twilio sends one message per request, not %zu", n);
        return TL_ERR_INVALID;
    }
    if (msgs[0].to == NULL || msgs[0].to[0] == '\0' || msgs[0].text == NULL) {
        provider_cause(cause, "message without recipient or text");
        return TL_ERR_INVALID;
    }
    base = provider_base_url(ch, TW_DEFAULT_BASE);
    tl_buf_append_urlenc(&path, ch->account_sid, strlen(ch->account_sid));
    out->method = xstrdup("POST");
    out->url = xasprintf("%s/2010-04-01/Accounts/%s/Messages.json", base, path.data);
    out->userpwd = xasprintf("%s:%s", ch->account_sid, ch->auth_token);
    free(base);
    tl_buf_free(&path);
    provider_out_header(out, "Accept", "application/json");
    provider_out_header(out, "Content-Type", "application/x-www-form-urlencoded");

    form_pair(&out->body, "To", msgs[0].to);
    if (strncmp(ch->sender, "MG", 2) == 0 && strlen(ch->sender) == 34)
        form_pair(&out->body, "MessagingServiceSid", ch->sender);
    else
        form_pair(&out->body, "From", ch->sender);
    form_pair(&out->body, "Body", msgs[0].text);
    if (provider_conf_set(ch->public_url) && ch->name != NULL) {
        struct tl_buf cb = {0};
        size_t plen = strlen(ch->public_url);
        while (plen > 0 && ch->public_url[plen - 1] == '/')
            plen--;
        tl_buf_append(&cb, ch->public_url, plen);
        tl_buf_append_str(&cb, "/dlr/");
        tl_buf_append_urlenc(&cb, ch->name, strlen(ch->name));
        form_pair(&out->body, "StatusCallback", cb.data);
        tl_buf_free(&cb);
    }
    return TL_OK;
}

static void tw_classify_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs,
                             size_t n, long http_status, const char *body, size_t body_len,
                             struct tl_send_outcome *outcomes)
{
    cJSON *root = NULL;
    const cJSON *code_item, *sid, *msg;
    long code = 0;
    char *snip, *why;
    enum tl_send_result res;

    (void)ch;
    (void)msgs;
    provider_outcomes_init(outcomes, n);
    if (n == 0)
        return;
    if (http_status == 0) {
        provider_outcomes_all(outcomes, n, TL_SEND_TEMPFAIL, "no answer from Twilio");
        return;
    }
    if (body != NULL && body_len > 0 && body_len <= PROVIDER_BODY_MAX * 16)
        root = cJSON_ParseWithLength(body, body_len);
    if (http_status >= 200 && http_status < 300) {
        sid = cJSON_GetObjectItemCaseSensitive(root, "sid");
        if (cJSON_IsString(sid) && provider_check_value("sid", sid->valuestring,
                                                        strlen(sid->valuestring),
                                                        PROVIDER_VALUE_ID, NULL) == TL_OK) {
            provider_outcome_set(&outcomes[0], TL_SEND_SENT, xstrdup(sid->valuestring), NULL);
            for (size_t i = 1; i < n; i++)
                provider_outcome_set(&outcomes[i], TL_SEND_PERMFAIL, NULL,
                                     xstrdup("not part of a Twilio request"));
        } else {
            provider_outcomes_all(outcomes, n, TL_SEND_TEMPFAIL, "answer without a sid");
        }
        cJSON_Delete(root);
        return;
    }
    code_item = cJSON_GetObjectItemCaseSensitive(root, "code");
    if (cJSON_IsNumber(code_item) && isfinite(code_item->valuedouble) &&
        fabs(code_item->valuedouble) < 1e9)
        code = (long)code_item->valuedouble;
    msg = cJSON_GetObjectItemCaseSensitive(root, "message");
    snip = cJSON_IsString(msg) ? provider_snippet(msg->valuestring, strlen(msg->valuestring))
                               : provider_snippet(body, body_len);
    if (code == 21610)
        res = TL_SEND_OPTED_OUT;
    else if (code == 63018 || code == 20429 || http_status == 429 || http_status == 401 ||
             http_status >= 500)
        res = TL_SEND_TEMPFAIL;
    else if (http_status >= 400 && http_status < 500)
        res = TL_SEND_PERMFAIL;
    else
        res = TL_SEND_TEMPFAIL;
    if (code != 0)
        why = xasprintf("HTTP %ld, Twilio error %ld: %s", http_status, code, snip);
    else
        why = xasprintf("HTTP %ld: %s", http_status, snip);
    provider_outcomes_all(outcomes, n, res, why);
    free(why);
    free(snip);
    cJSON_Delete(root);
}

const struct tl_provider provider_twilio = {
    .name = "twilio",
    .batch_max = 1,
    .default_base_url = TW_DEFAULT_BASE,
    .authenticate = tw_authenticate,
    .parse_sms = tw_parse_sms,
    .parse_dlr = tw_parse_dlr,
    .parse_ussd = NULL,
    .render_sms_reply = tw_render_sms_reply,
    .render_dlr_reply = tw_render_dlr_reply,
    .render_ussd_reply = NULL,
    .build_send = tw_build_send,
    .classify_send = tw_classify_send,
};
