/*
 * generic.c — the generic JSON provider: our own small protocol for any
 * aggregator or bridge that can speak JSON over HTTP. A pure translator: no
 * sockets, no curl, no store, no logging. Uses cJSON.
 *
 * Inbound (every request signed):
 *   X-Talaash-Signature: sha256=<lowercase hex HMAC-SHA256(raw body, secret)>
 *   SMS   {"id":"…","from":"…","to":"…","text":"…"}          (to optional)
 *   DLR   {"id":"…","status":"accepted|sent|delivered|failed|expired",
 *          "error":"…"?, "phone":"…"?}
 *   USSD  {"session_id":"…","phone":"…","input":"…","service_code":"…"?,
 *          "network":"…"?}  input = the latest input only
 * Ids may also be JSON integers. Answers: SMS {"reply":"…"} or
 * {"reply":null} (a bridge may deliver a reply given here),
 * DLR {}, USSD {"reply":"…","end":true|false}, all application/json.
 *
 * Outbound: POST base_url (the full URL; no default, TL_ERR_INVALID when
 * unset) with Authorization: Bearer <token> (when set) and
 *   {"messages":[{"id":<outbox id>,"to":"…","text":"…"}, …]}  (up to 1000)
 * Answer {"results":[{"id":<outbox id>,"status":"sent|retry|failed|opted_out",
 *   "message_id":"…","error":"…"}]} matched by id: sent -> SENT(message_id),
 * retry -> TEMPFAIL, failed -> PERMFAIL, opted_out -> OPTED_OUT (an addition
 * to the brief's three), an unknown status -> PERMFAIL (the bridge answered
 * about it; retrying could duplicate); missing from the answer -> TEMPFAIL.
 * No answer, 401/403 (credentials), 429, 5xx, an unreadable 2xx, 1xx/3xx ->
 * TEMPFAIL for all; other 4xx -> PERMFAIL for all.
 *
 * JSON strings are C strings in cJSON, so an escaped \u0000 or a raw NUL in
 * the body is refused (TL_ERR_MALFORMED) before parsing.
 */
#include "providers/providers.h"

#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GENERIC_BATCH_MAX 1000

static int generic_authenticate(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                                char **cause)
{
    const char *hdr;
    unsigned char mac[32];
    struct tl_buf want = {0}, got = {0};
    bool same;
    int rc = provider_check_ip(ch, in, cause);

    if (rc != TL_OK)
        return rc;
    if (!provider_conf_set(ch->secret)) {
        provider_cause(cause, "channel has no secret to check X-Talaash-Signature");
        return TL_ERR_AUTH;
    }
    hdr = tl_http_in_header(in, "X-Talaash-Signature");
    if (hdr == NULL) {
        provider_cause(cause, "missing X-Talaash-Signature");
        return TL_ERR_AUTH;
    }
    while (*hdr == ' ' || *hdr == '\t')
        hdr++;
    for (size_t i = 0; hdr[i] != '\0' && hdr[i] != ' ' && hdr[i] != '\t'; i++) {
        char c = hdr[i];
        tl_buf_append_char(&got, c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c);
    }
    provider_hmac_sha256(ch->secret, strlen(ch->secret), in->body, in->body ? in->body_len : 0,
                         mac);
    tl_buf_append_str(&want, "sha256=");
    provider_hex_lower(&want, mac, sizeof(mac));
    same = provider_ct_equal(got.data ? got.data : "", got.len, want.data, want.len);
    tl_buf_free(&want);
    tl_buf_free(&got);
    if (!same) {
        provider_cause(cause, "X-Talaash-Signature does not match");
        return TL_ERR_AUTH;
    }
    return TL_OK;
}

/* ---- JSON in ------------------------------------------------------------------ */

/* True when the raw JSON holds a NUL byte or a \u0000 escape. */
static bool json_has_nul(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\0')
            return true;
        if (p[i] == '\\' && i + 1 < len) {
            if (p[i + 1] == 'u' && i + 5 < len && p[i + 2] == '0' && p[i + 3] == '0' &&
                p[i + 4] == '0' && p[i + 5] == '0')
                return true;
            i++; /* skip the escaped character */
        }
    }
    return false;
}

/* Parses the body as one JSON object. */
static int json_body(const struct tl_http_in *in, cJSON **root, char **cause)
{
    const char *end = NULL;

    *root = NULL;
    if (in->body == NULL || in->body_len == 0) {
        provider_cause(cause, "empty body");
        return TL_ERR_MALFORMED;
    }
    if (in->body_len > PROVIDER_BODY_MAX) {
        provider_cause(cause, "body larger than %d bytes", PROVIDER_BODY_MAX);
        return TL_ERR_TOO_LARGE;
    }
    if (json_has_nul(in->body, in->body_len)) {
        provider_cause(cause, "body contains a NUL character");
        return TL_ERR_MALFORMED;
    }
    *root = cJSON_ParseWithLengthOpts(in->body, in->body_len, &end, false);
    if (*root != NULL && end != NULL) {
        while (end < in->body + in->body_len &&
               (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (end != in->body + in->body_len) {
            cJSON_Delete(*root);
            *root = NULL;
        }
    }
    if (*root == NULL || !cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        provider_cause(cause, "body is not a JSON object");
        return TL_ERR_MALFORMED;
    }
    return TL_OK;
}

/*
 * Member `name` as a string (an integer too when kind is an id) into *out.
 * Absent or null: TL_ERR_MISSING_FIELD when required, else TL_OK with NULL.
 */
static int json_take(const cJSON *obj, const char *name, enum provider_value kind, bool required,
                     char **out, size_t *outlen, char **cause)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    char num[32];
    const char *v;
    int rc;

    *out = NULL;
    if (outlen)
        *outlen = 0;
    if (it == NULL || cJSON_IsNull(it)) {
        if (!required)
            return TL_OK;
        provider_cause(cause, "missing '%s'", name);
        return TL_ERR_MISSING_FIELD;
    }
    if (cJSON_IsString(it)) {
        v = it->valuestring;
    } else if (kind == PROVIDER_VALUE_ID && cJSON_IsNumber(it) && isfinite(it->valuedouble) &&
               it->valuedouble == floor(it->valuedouble) && fabs(it->valuedouble) < 9.0e15) {
        snprintf(num, sizeof(num), "%lld", (long long)it->valuedouble);
        v = num;
    } else {
        provider_cause(cause, "'%s' must be a string", name);
        return TL_ERR_MALFORMED;
    }
    if (!required && kind == PROVIDER_VALUE_ID && v[0] == '\0')
        return TL_OK;
    rc = provider_check_value(name, v, strlen(v), kind, cause);
    if (rc != TL_OK)
        return rc;
    *out = xstrdup(v);
    if (outlen)
        *outlen = strlen(v);
    return TL_OK;
}

int provider_generic_sms_json(const struct tl_http_in *in, struct tl_inbound_sms *out,
                              bool id_required, char **cause)
{
    cJSON *root;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = json_body(in, &root, cause);
    if (rc != TL_OK)
        return rc;
    if ((rc = json_take(root, "id", PROVIDER_VALUE_ID, id_required, &out->provider_id, NULL,
                        cause)) != TL_OK ||
        (rc = json_take(root, "from", PROVIDER_VALUE_ID, true, &out->from, NULL, cause)) !=
            TL_OK ||
        (rc = json_take(root, "to", PROVIDER_VALUE_ID, false, &out->to, NULL, cause)) != TL_OK ||
        (rc = json_take(root, "text", PROVIDER_VALUE_TEXT, true, &out->text, &out->text_len,
                        cause)) != TL_OK)
        tl_inbound_sms_clear(out);
    cJSON_Delete(root);
    return rc;
}

static int generic_parse_sms(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                             struct tl_inbound_sms *out, char **cause)
{
    (void)ch;
    return provider_generic_sms_json(in, out, true, cause);
}

static enum tl_dlr_state generic_dlr_state(const char *status)
{
    if (strcasecmp(status, "accepted") == 0 || strcasecmp(status, "sent") == 0)
        return TL_DLR_ACCEPTED;
    if (strcasecmp(status, "delivered") == 0)
        return TL_DLR_DELIVERED;
    if (strcasecmp(status, "failed") == 0)
        return TL_DLR_FAILED;
    if (strcasecmp(status, "expired") == 0)
        return TL_DLR_EXPIRED;
    return TL_DLR_UNKNOWN;
}

static int generic_parse_dlr(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                             struct tl_dlr *out, char **cause)
{
    cJSON *root;
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = json_body(in, &root, cause);
    if (rc != TL_OK)
        return rc;
    if ((rc = json_take(root, "id", PROVIDER_VALUE_ID, true, &out->provider_id, NULL, cause)) !=
            TL_OK ||
        (rc = json_take(root, "status", PROVIDER_VALUE_ID, true, &out->status_raw, NULL,
                        cause)) != TL_OK ||
        (rc = json_take(root, "error", PROVIDER_VALUE_ID, false, &out->error, NULL, cause)) !=
            TL_OK ||
        (rc = json_take(root, "phone", PROVIDER_VALUE_ID, false, &out->phone, NULL, cause)) !=
            TL_OK)
        tl_dlr_clear(out);
    else
        out->state = generic_dlr_state(out->status_raw);
    cJSON_Delete(root);
    return rc;
}

static int generic_parse_ussd(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                              struct tl_ussd_step *out, char **cause)
{
    cJSON *root;
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = json_body(in, &root, cause);
    if (rc != TL_OK)
        return rc;
    if ((rc = json_take(root, "session_id", PROVIDER_VALUE_ID, true, &out->session_id, NULL,
                        cause)) != TL_OK ||
        (rc = json_take(root, "phone", PROVIDER_VALUE_ID, true, &out->phone, NULL, cause)) !=
            TL_OK ||
        (rc = json_take(root, "input", PROVIDER_VALUE_TEXT, true, &out->input, NULL, cause)) !=
            TL_OK ||
        (rc = json_take(root, "service_code", PROVIDER_VALUE_ID, false, &out->service_code, NULL,
                        cause)) != TL_OK ||
        (rc = json_take(root, "network", PROVIDER_VALUE_ID, false, &out->network, NULL, cause)) !=
            TL_OK)
        tl_ussd_step_clear(out);
    else
        out->input_is_path = false;
    cJSON_Delete(root);
    return rc;
}

/* A JSON string literal (with quotes); invalid UTF-8 bytes are dropped. */
static void json_string(struct tl_buf *b, const char *s)
{
    size_t len = strlen(s), pos = 0;

    tl_buf_append_char(b, '"');
    while (pos < len) {
        size_t start = pos;
        if (tl_utf8_next(s, len, &pos) >= 0)
            tl_buf_append_json(b, s + start, pos - start);
    }
    tl_buf_append_char(b, '"');
}

static void generic_render_sms_reply(const struct tl_channel_conf *ch,
                                     const struct tl_inbound_sms *sms, const char *reply_text,
                                     struct tl_http_reply *out)
{
    (void)ch;
    (void)sms;
    provider_reply(out, 200, "application/json", "{\"reply\":", 9);
    if (reply_text == NULL)
        tl_buf_append_str(&out->body, "null");
    else
        json_string(&out->body, reply_text);
    tl_buf_append_char(&out->body, '}');
}

static void generic_render_dlr_reply(const struct tl_channel_conf *ch, struct tl_http_reply *out)
{
    (void)ch;
    provider_reply(out, 200, "application/json", "{}", 2);
}

static void generic_render_ussd_reply(const struct tl_channel_conf *ch, const char *text, bool end,
                                      struct tl_http_reply *out)
{
    (void)ch;
    provider_reply(out, 200, "application/json", "{\"reply\":", 9);
    json_string(&out->body, text ? text : "");
    tl_buf_append_str(&out->body, end ? ",\"end\":true}" : ",\"end\":false}");
}

/* ---- sending ---------------------------------------------------------------- */

static int generic_build_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs,
                              size_t n, struct tl_http_out *out, char **cause)
{
    memset(out, 0, sizeof(*out));
    if (!provider_conf_set(ch->base_url)) {
        provider_cause(cause, "generic channel needs base_url (the full URL to POST to)");
        return TL_ERR_INVALID;
    }
    if (n == 0 || n > GENERIC_BATCH_MAX) {
        provider_cause(cause, "batch of %zu messages (1..%d allowed)", n, GENERIC_BATCH_MAX);
        return TL_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].to == NULL || msgs[i].to[0] == '\0' || msgs[i].text == NULL ||
            !tl_utf8_valid(msgs[i].to, strlen(msgs[i].to)) ||
            !tl_utf8_valid(msgs[i].text, strlen(msgs[i].text))) {
            provider_cause(cause, "message %zu has no valid recipient or text", i);
            return TL_ERR_INVALID;
        }
    }
    out->method = xstrdup("POST");
    out->url = xstrdup(ch->base_url);
    provider_out_header(out, "Content-Type", "application/json");
    provider_out_header(out, "Accept", "application/json");
    if (provider_conf_set(ch->token)) {
        char *auth = xasprintf("Bearer %s", ch->token);
        provider_out_header(out, "Authorization", auth);
        free(auth);
    }
    tl_buf_append_str(&out->body, "{\"messages\":[");
    for (size_t i = 0; i < n; i++) {
        tl_buf_appendf(&out->body, "%s{\"id\":%lld,\"to\":", i ? "," : "", (long long)msgs[i].id);
        json_string(&out->body, msgs[i].to);
        tl_buf_append_str(&out->body, ",\"text\":");
        json_string(&out->body, msgs[i].text);
        tl_buf_append_char(&out->body, '}');
    }
    tl_buf_append_str(&out->body, "]}");
    return TL_OK;
}

/* The outbox id a result names, or false. */
static bool result_id(const cJSON *r, int64_t *id)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r, "id");

    if (cJSON_IsNumber(it) && isfinite(it->valuedouble) &&
        it->valuedouble == floor(it->valuedouble) && fabs(it->valuedouble) < 9.0e15) {
        *id = (int64_t)it->valuedouble;
        return true;
    }
    if (cJSON_IsString(it))
        return provider_parse_int64(it->valuestring, strlen(it->valuestring), id);
    return false;
}

static char *result_text(const cJSON *r, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r, name);

    if (!cJSON_IsString(it) || it->valuestring[0] == '\0')
        return NULL;
    return provider_snippet(it->valuestring, strlen(it->valuestring));
}

static void generic_result(const cJSON *r, struct tl_send_outcome *o)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
    const char *s = cJSON_IsString(st) ? st->valuestring : "";
    char *err = result_text(r, "error");

    if (strcasecmp(s, "sent") == 0) {
        const cJSON *mid = cJSON_GetObjectItemCaseSensitive(r, "message_id");
        char *id = NULL;
        if (cJSON_IsString(mid) && provider_check_value("message_id", mid->valuestring,
                                                        strlen(mid->valuestring),
                                                        PROVIDER_VALUE_ID, NULL) == TL_OK)
            id = xstrdup(mid->valuestring);
        provider_outcome_set(o, TL_SEND_SENT, id, err);
    } else if (strcasecmp(s, "retry") == 0) {
        provider_outcome_set(o, TL_SEND_TEMPFAIL, NULL, err ? err : xstrdup("retry"));
    } else if (strcasecmp(s, "failed") == 0) {
        provider_outcome_set(o, TL_SEND_PERMFAIL, NULL, err ? err : xstrdup("failed"));
    } else if (strcasecmp(s, "opted_out") == 0) {
        provider_outcome_set(o, TL_SEND_OPTED_OUT, NULL, err ? err : xstrdup("opted out"));
    } else {
        char *snip = provider_snippet(s, strlen(s));
        free(err);
        provider_outcome_set(o, TL_SEND_PERMFAIL, NULL, xasprintf("unknown status '%s'", snip));
        free(snip);
    }
}

static void generic_classify_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs,
                                  size_t n, long http_status, const char *body, size_t body_len,
                                  struct tl_send_outcome *outcomes)
{
    cJSON *root = NULL;
    const cJSON *results, *r;
    bool *matched;

    (void)ch;
    provider_outcomes_init(outcomes, n);
    if (http_status == 0) {
        provider_outcomes_all(outcomes, n, TL_SEND_TEMPFAIL, "no answer");
        return;
    }
    if (http_status < 200 || http_status >= 300) {
        char *snip = provider_snippet(body, body_len);
        char *why = xasprintf("HTTP %ld: %s", http_status, snip);
        bool perm = http_status >= 400 && http_status < 500 && http_status != 401 &&
                    http_status != 403 && http_status != 429;
        provider_outcomes_all(outcomes, n, perm ? TL_SEND_PERMFAIL : TL_SEND_TEMPFAIL, why);
        free(why);
        free(snip);
        return;
    }
    if (body != NULL && body_len > 0 && body_len <= PROVIDER_BODY_MAX * 16)
        root = cJSON_ParseWithLength(body, body_len);
    results = cJSON_GetObjectItemCaseSensitive(root, "results");
    if (!cJSON_IsArray(results)) {
        provider_outcomes_all(outcomes, n, TL_SEND_TEMPFAIL, "unreadable answer");
        cJSON_Delete(root);
        return;
    }
    provider_outcomes_all(outcomes, n, TL_SEND_TEMPFAIL, "not in the answer");
    matched = xcalloc(n ? n : 1, sizeof(*matched));
    cJSON_ArrayForEach(r, results)
    {
        int64_t id;
        if (!result_id(r, &id))
            continue;
        for (size_t i = 0; i < n; i++) {
            if (!matched[i] && msgs[i].id == id) {
                matched[i] = true;
                generic_result(r, &outcomes[i]);
                break;
            }
        }
    }
    free(matched);
    cJSON_Delete(root);
}

const struct tl_provider provider_generic = {
    .name = "generic",
    .batch_max = GENERIC_BATCH_MAX,
    .default_base_url = NULL,
    .authenticate = generic_authenticate,
    .parse_sms = generic_parse_sms,
    .parse_dlr = generic_parse_dlr,
    .parse_ussd = generic_parse_ussd,
    .render_sms_reply = generic_render_sms_reply,
    .render_dlr_reply = generic_render_dlr_reply,
    .render_ussd_reply = generic_render_ussd_reply,
    .build_send = generic_build_send,
    .classify_send = generic_classify_send,
};
