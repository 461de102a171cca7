/*
 * africastalking.c — Africa's Talking (AT): inbound SMS, USSD and delivery
 * report callbacks (form POSTs), bulk SMS sending with comma-separated
 * recipients. A pure translator: no sockets, no curl, no store, no logging.
 *
 * Authenticity: AT does not sign callbacks. When allow_ips is set the peer
 * must be in it; when secret is set the callback URL must carry it as
 * ?token=SECRET (compared in constant time). Configure AT's callback URLs as
 * {public_url}/sms/NAME?token=SECRET (and /ussd/NAME, /dlr/NAME likewise).
 *
 * Decisions (PROTOCOLS.md §1a):
 * - inbound SMS: id, from, to, text required (text may be empty); linkId
 *   optional; date optional, both layouts; an unreadable date gives
 *   sent_at = 0 rather than losing a report.
 * - DLR status: Sent/Submitted/Buffered -> ACCEPTED, Success -> DELIVERED,
 *   Rejected/Failed -> FAILED, Expired -> EXPIRED (case-insensitive); any
 *   other value -> UNKNOWN with the raw value kept, TL_OK.
 * - send statusCode: 100/101/102 -> SENT (messageId); 405 InsufficientBalance
 *   and 500/501/502 -> TEMPFAIL (topping up / AT recovering makes a retry
 *   succeed); other 4xx codes (401 RiskHold, 402, 403, 404, 406, 407) ->
 *   PERMFAIL; an unknown 1xx -> SENT, 5xx -> TEMPFAIL, anything else ->
 *   PERMFAIL. A recipient missing from the answer -> TEMPFAIL.
 * - whole request: no answer, HTTP 401 (credentials: fixable by the
 *   operator), 429, 5xx, an unreadable 2xx body, or 1xx/3xx -> TEMPFAIL for
 *   all; any other 4xx -> PERMFAIL for all.
 * - render_sms_reply answers 200 with an empty body: AT ignores it, so the
 *   gateway sends replies through the outbox.
 */
#include "providers/providers.h"

#include "common/result.h"
#include "common/xmalloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AT_DEFAULT_BASE "https://api.africastalking.com"
#define AT_BATCH_MAX 1000

static int at_authenticate(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                           char **cause)
{
    int rc = provider_check_ip(ch, in, cause);

    if (rc != TL_OK)
        return rc;
    return provider_check_token(ch, in, cause);
}

/* ---- dates ---------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "2017-05-03T06:04:45Z" or "2017-05-03 06:04:45" (UTC) to unix seconds. */
static bool at_parse_date(const char *s, size_t len, int64_t *out)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se;

    if (len == 20 && s[19] == 'Z')
        len = 19;
    if (len != 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
        return false;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

/* ---- callbacks -------------------------------------------------------------- */

static int at_parse_sms(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                        struct tl_inbound_sms *out, char **cause)
{
    struct tl_form f;
    char *date = NULL;
    size_t datelen = 0;
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = provider_form_body(in, &f, cause);
    if (rc != TL_OK)
        return rc;
    if ((rc = provider_form_take(&f, "id", PROVIDER_VALUE_ID, true, &out->provider_id, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "from", PROVIDER_VALUE_ID, true, &out->from, NULL, cause)) !=
            TL_OK ||
        (rc = provider_form_take(&f, "to", PROVIDER_VALUE_ID, true, &out->to, NULL, cause)) !=
            TL_OK ||
        (rc = provider_form_take(&f, "text", PROVIDER_VALUE_TEXT, true, &out->text,
                                 &out->text_len, cause)) != TL_OK ||
        (rc = provider_form_take(&f, "linkId", PROVIDER_VALUE_ID, false, &out->link_id, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "date", PROVIDER_VALUE_ID, false, &date, &datelen, cause)) !=
            TL_OK) {
        tl_inbound_sms_clear(out);
    } else if (date != NULL && !at_parse_date(date, datelen, &out->sent_at)) {
        out->sent_at = 0; /* lenient: keep the report, lose only its timestamp */
    }
    free(date);
    tl_form_free(&f);
    return rc;
}

static enum tl_dlr_state at_dlr_state(const char *status)
{
    static const struct {
        const char *name;
        enum tl_dlr_state state;
    } map[] = {
        {"Sent", TL_DLR_ACCEPTED},   {"Submitted", TL_DLR_ACCEPTED}, {"Buffered", TL_DLR_ACCEPTED},
        {"Success", TL_DLR_DELIVERED}, {"Rejected", TL_DLR_FAILED}, {"Failed", TL_DLR_FAILED},
        {"Expired", TL_DLR_EXPIRED},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(status, map[i].name) == 0)
            return map[i].state;
    }
    return TL_DLR_UNKNOWN;
}

static int at_parse_dlr(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                        struct tl_dlr *out, char **cause)
{
    struct tl_form f;
    char *network = NULL;
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = provider_form_body(in, &f, cause);
    if (rc != TL_OK)
        return rc;
    if ((rc = provider_form_take(&f, "id", PROVIDER_VALUE_ID, true, &out->provider_id, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "status", PROVIDER_VALUE_ID, true, &out->status_raw, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "phoneNumber", PROVIDER_VALUE_ID, false, &out->phone, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "networkCode", PROVIDER_VALUE_ID, false, &network, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "failureReason", PROVIDER_VALUE_ID, false, &out->error, NULL,
                                 cause)) != TL_OK) {
        tl_dlr_clear(out);
    } else {
        out->state = at_dlr_state(out->status_raw);
    }
    free(network); /* checked, not kept: tl_dlr has no network */
    tl_form_free(&f);
    return rc;
}

static int at_parse_ussd(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                         struct tl_ussd_step *out, char **cause)
{
    struct tl_form f;
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = provider_form_body(in, &f, cause);
    if (rc != TL_OK)
        return rc;
    rc = provider_ussd_from_at_form(&f, out, cause);
    tl_form_free(&f);
    return rc;
}

static void at_render_sms_reply(const struct tl_channel_conf *ch, const struct tl_inbound_sms *sms,
                                const char *reply_text, struct tl_http_reply *out)
{
    (void)ch;
    (void)sms;
    (void)reply_text; /* AT ignores the body: replies go through the outbox */
    provider_reply(out, 200, "text/plain", NULL, 0);
}

static void at_render_dlr_reply(const struct tl_channel_conf *ch, struct tl_http_reply *out)
{
    (void)ch;
    provider_reply(out, 200, "text/plain", NULL, 0);
}

static void at_render_ussd_reply(const struct tl_channel_conf *ch, const char *text, bool end,
                                 struct tl_http_reply *out)
{
    (void)ch;
    provider_reply(out, 200, "text/plain", end ? "END " : "CON ", 4);
    if (text != NULL)
        tl_buf_append_str(&out->body, text);
}

/* ---- sending ---------------------------------------------------------------- */

static int at_build_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs, size_t n,
                         struct tl_http_out *out, char **cause)
{
    char *base;

    memset(out, 0, sizeof(*out));
    if (!provider_conf_set(ch->username) || !provider_conf_set(ch->api_key)) {
        provider_cause(cause, "africastalking channel needs username and api_key");
        return TL_ERR_INVALID;
    }
    if (n == 0 || n > AT_BATCH_MAX) {
        provider_cause(cause, "batch of %zu messages (1..%d allowed)", n, AT_BATCH_MAX);
        return TL_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].to == NULL || msgs[i].to[0] == '\0' || strchr(msgs[i].to, ',') != NULL) {
            provider_cause(cause, "message %zu has no usable recipient", i);
            return TL_ERR_INVALID;
        }
        if (msgs[i].text == NULL || strcmp(msgs[i].text, msgs[0].text) != 0) {
            provider_cause(cause, "a batch must carry one text for every recipient");
            return TL_ERR_INVALID;
        }
    }
    base = provider_base_url(ch, AT_DEFAULT_BASE);
    out->method = xstrdup("POST");
    out->url = xasprintf("%s/version1/messaging", base);
    free(base);
    provider_out_header(out, "apiKey", ch->api_key);
    provider_out_header(out, "Accept", "application/json");
    provider_out_header(out, "Content-Type", "application/x-www-form-urlencoded");

    struct tl_buf to = {0};
    for (size_t i = 0; i < n; i++) {
        if (i)
            tl_buf_append_char(&to, ',');
        tl_buf_append_str(&to, msgs[i].to);
    }
    tl_buf_append_str(&out->body, "username=");
    tl_buf_append_formenc(&out->body, ch->username, strlen(ch->username));
    tl_buf_append_str(&out->body, "&to=");
    tl_buf_append_formenc(&out->body, to.data, to.len);
    tl_buf_append_str(&out->body, "&message=");
    tl_buf_append_formenc(&out->body, msgs[0].text, strlen(msgs[0].text));
    if (provider_conf_set(ch->sender)) {
        tl_buf_append_str(&out->body, "&from=");
        tl_buf_append_formenc(&out->body, ch->sender, strlen(ch->sender));
    }
    tl_buf_free(&to);
    return TL_OK;
}

/* Two numbers are the same recipient when their digits are the same. */
static bool at_same_number(const char *a, const char *b)
{
    size_t ndigits = 0;

    for (;;) {
        while (*a && (*a < '0' || *a > '9'))
            a++;
        while (*b && (*b < '0' || *b > '9'))
            b++;
        if (*a == '\0' || *b == '\0')
            return *a == *b && ndigits > 0;
        if (*a++ != *b++)
            return false;
        ndigits++;
    }
}

static enum tl_send_result at_code_result(int code)
{
    switch (code) {
    case 100:
    case 101:
    case 102:
        return TL_SEND_SENT;
    case 405: /* InsufficientBalance: retry once the account is topped up */
    case 500: /* InternalServerError */
    case 501: /* GatewayError */
    case 502: /* RejectedByGateway */
        return TL_SEND_TEMPFAIL;
    default:
        if (code >= 100 && code < 200)
            return TL_SEND_SENT;
        if (code >= 500 && code < 600)
            return TL_SEND_TEMPFAIL;
        return TL_SEND_PERMFAIL; /* 401 RiskHold, 402, 403, 404, 406, 407, unknown */
    }
}

static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* One "Recipients" entry applied to outcome o. */
static void at_recipient_outcome(const cJSON *r, struct tl_send_outcome *o)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(r, "statusCode");
    const char *status = json_str(r, "status");
    const char *mid = json_str(r, "messageId");
    int c = -1;
    char *st = provider_snippet(status, status ? strlen(status) : 0);

    if (cJSON_IsNumber(code) && isfinite(code->valuedouble) && code->valuedouble >= 0 &&
        code->valuedouble < 100000)
        c = (int)code->valuedouble;
    else if (cJSON_IsString(code) && code->valuestring[0] != '\0' &&
             strspn(code->valuestring, "0123456789") == strlen(code->valuestring) &&
             strlen(code->valuestring) < 6)
        c = (int)strtol(code->valuestring, NULL, 10);

    enum tl_send_result res;
    if (c >= 0)
        res = at_code_result(c);
    else if (status != NULL && strcasecmp(status, "Success") == 0)
        res = TL_SEND_SENT;
    else
        res = TL_SEND_PERMFAIL;

    if (res == TL_SEND_SENT) {
        char *id = NULL;
        if (mid != NULL && strcmp(mid, "None") != 0 &&
            provider_check_value("messageId", mid, strlen(mid), PROVIDER_VALUE_ID, NULL) == TL_OK)
            id = xstrdup(mid);
        provider_outcome_set(o, res, id, id ? NULL : xstrdup("accepted without messageId"));
    } else {
        provider_outcome_set(o, res, NULL, xasprintf("statusCode %d %s", c, st));
    }
    free(st);
}

static void at_classify_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs,
                             size_t n, long http_status, const char *body, size_t body_len,
                             struct tl_send_outcome *outcomes)
{
    cJSON *root = NULL;
    const cJSON *data, *recips, *r;
    bool *matched;
    char *why;

    (void)ch;
    provider_outcomes_init(outcomes, n);
    if (http_status == 0) {
        provider_outcomes_all(outcomes, n, TL_SEND_TEMPFAIL, "no answer from Africa's Talking");
        return;
    }
    if (http_status < 200 || http_status >= 300) {
        char *snip = provider_snippet(body, body_len);
        enum tl_send_result res = TL_SEND_TEMPFAIL;
        if (http_status == 401)
            why = xasprintf("credentials refused (HTTP 401): %s", snip);
        else if (http_status == 429)
            why = xasprintf("throttled (HTTP 429)");
        else if (http_status >= 400 && http_status < 500) {
            res = TL_SEND_PERMFAIL;
            why = xasprintf("HTTP %ld: %s", http_status, snip);
        } else
            why = xasprintf("HTTP %ld: %s", http_status, snip);
        provider_outcomes_all(outcomes, n, res, why);
        free(why);
        free(snip);
        return;
    }
    if (body != NULL && body_len > 0 && body_len <= PROVIDER_BODY_MAX * 16)
        root = cJSON_ParseWithLength(body, body_len);
    data = cJSON_GetObjectItemCaseSensitive(root, "SMSMessageData");
    recips = cJSON_GetObjectItemCaseSensitive(data, "Recipients");
    if (!cJSON_IsArray(recips)) {
        provider_outcomes_all(outcomes, n, TL_SEND_TEMPFAIL, "unreadable answer");
        cJSON_Delete(root);
        return;
    }
    /* Everyone not named in the answer is retried. */
    {
        const char *m = json_str(data, "Message");
        char *snip = provider_snippet(m, m ? strlen(m) : 0);
        why = xasprintf("not in the answer: %s", snip);
        provider_outcomes_all(outcomes, n, TL_SEND_TEMPFAIL, why);
        free(why);
        free(snip);
    }
    matched = xcalloc(n ? n : 1, sizeof(*matched));
    cJSON_ArrayForEach(r, recips)
    {
        const char *num = json_str(r, "number");
        if (num == NULL)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (!matched[i] && msgs[i].to != NULL && at_same_number(msgs[i].to, num)) {
                matched[i] = true;
                at_recipient_outcome(r, &outcomes[i]);
                break;
            }
        }
    }
    free(matched);
    cJSON_Delete(root);
}

const struct tl_provider provider_africastalking = {
    .name = "africastalking",
    .batch_max = AT_BATCH_MAX,
    .default_base_url = AT_DEFAULT_BASE,
    .authenticate = at_authenticate,
    .parse_sms = at_parse_sms,
    .parse_dlr = at_parse_dlr,
    .parse_ussd = at_parse_ussd,
    .render_sms_reply = at_render_sms_reply,
    .render_dlr_reply = at_render_dlr_reply,
    .render_ussd_reply = at_render_ussd_reply,
    .build_send = at_build_send,
    .classify_send = at_classify_send,
};
