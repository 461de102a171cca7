/*
 * console.c — the default channel: no aggregator at all, so the gateway runs
 * (and a newcomer can drive it with curl) without an account:
 *
 *   curl -d from=03001234567 -d text='GUM Ali 8 Lahore' http://127.0.0.1:8080/sms/console
 *   curl -d sessionId=s1 -d phoneNumber=03001234567 -d text= http://127.0.0.1:8080/ussd/console
 *
 * A pure translator: no sockets, no curl, no store, no logging.
 * - authenticate checks allow_ips (when set) and the secret as ?token= (when
 *   set), as Kannel's does; whoever passes may write as any number, so
 *   check-config refuses a console channel on a listen address beyond
 *   loopback unless it says insecure = yes.
 * - parse_sms takes the generic JSON form ({"id","from","to","text"}, id
 *   optional here) when the body is JSON (Content-Type application/json or a
 *   body starting with '{'), else a form in the body or the query: from and
 *   text required, id and to optional. Without an id the message gets a
 *   unique one, "console-<unix ns>-<sequence>" (the store needs a dedupe key
 *   and two curl runs with the same text are two messages).
 * - parse_ussd takes AT's form (sessionId, phoneNumber, text, serviceCode?,
 *   networkCode?), input_is_path = true; replies CON …/END ….
 * - replies are text/plain holding exactly the reply text, so curl shows it
 *   (the gateway passes the reply text to the console only).
 * - build_send sets url = NULL (nothing to send: the gateway logs the
 *   message and marks it sent); classify_send says SENT, provider id
 *   "console-<outbox id>". No delivery reports (parse_dlr is NULL).
 */
#include "providers/providers.h"

#include "common/result.h"
#include "common/xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define CONSOLE_BATCH_MAX 1000

static int console_authenticate(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                                char **cause)
{
    int rc = provider_check_ip(ch, in, cause);

    if (rc != TL_OK)
        return rc;
    return provider_check_token(ch, in, cause);
}

static bool console_is_json(const struct tl_http_in *in)
{
    if (provider_content_type_is(in, "application/json"))
        return true;
    for (size_t i = 0; in->body != NULL && i < in->body_len; i++) {
        char c = in->body[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        return c == '{';
    }
    return false;
}

/* The form to read: the body when it has fields, else the query. */
static int console_form(const struct tl_http_in *in, struct tl_form *f, char **cause)
{
    int rc = provider_form_body(in, f, cause);

    if (rc != TL_OK || f->n > 0 || in->query == NULL)
        return rc;
    tl_form_free(f);
    return provider_form_query(in, f, cause);
}

static int console_parse_sms(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                             struct tl_inbound_sms *out, char **cause)
{
    struct tl_form f;
    int rc;

    (void)ch;
    if (console_is_json(in)) {
        rc = provider_generic_sms_json(in, out, false, cause);
        if (rc == TL_OK && out->provider_id == NULL) {
            out->provider_id = provider_local_id("console");
            out->local_id = true;
        }
        return rc;
    }
    memset(out, 0, sizeof(*out));
    rc = console_form(in, &f, cause);
    if (rc != TL_OK)
        return rc;
    if ((rc = provider_form_take(&f, "id", PROVIDER_VALUE_ID, false, &out->provider_id, NULL,
                                 cause)) != TL_OK ||
        (rc = provider_form_take(&f, "from", PROVIDER_VALUE_ID, true, &out->from, NULL, cause)) !=
            TL_OK ||
        (rc = provider_form_take(&f, "to", PROVIDER_VALUE_ID, false, &out->to, NULL, cause)) !=
            TL_OK ||
        (rc = provider_form_take(&f, "text", PROVIDER_VALUE_TEXT, true, &out->text,
                                 &out->text_len, cause)) != TL_OK)
        tl_inbound_sms_clear(out);
    else if (out->provider_id == NULL) {
        out->provider_id = provider_local_id("console");
        out->local_id = true;
    }
    tl_form_free(&f);
    return rc;
}

static int console_parse_ussd(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                              struct tl_ussd_step *out, char **cause)
{
    struct tl_form f;
    int rc;

    (void)ch;
    memset(out, 0, sizeof(*out));
    rc = console_form(in, &f, cause);
    if (rc != TL_OK)
        return rc;
    rc = provider_ussd_from_at_form(&f, out, cause);
    tl_form_free(&f);
    return rc;
}

static void console_render_sms_reply(const struct tl_channel_conf *ch,
                                     const struct tl_inbound_sms *sms, const char *reply_text,
                                     struct tl_http_reply *out)
{
    (void)ch;
    (void)sms;
    provider_reply(out, 200, "text/plain; charset=utf-8", reply_text,
                   reply_text ? strlen(reply_text) : 0);
}

static void console_render_dlr_reply(const struct tl_channel_conf *ch, struct tl_http_reply *out)
{
    (void)ch;
    provider_reply(out, 200, "text/plain; charset=utf-8", NULL, 0);
}

static void console_render_ussd_reply(const struct tl_channel_conf *ch, const char *text,
                                      bool end, struct tl_http_reply *out)
{
    (void)ch;
    provider_reply(out, 200, "text/plain; charset=utf-8", end ? "END " : "CON ", 4);
    if (text != NULL)
        tl_buf_append_str(&out->body, text);
}

static int console_build_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs,
                              size_t n, struct tl_http_out *out, char **cause)
{
    (void)ch;
    (void)msgs;
    memset(out, 0, sizeof(*out)); /* url == NULL: nothing to send */
    if (n == 0 || n > CONSOLE_BATCH_MAX) {
        provider_cause(cause, "batch of %zu messages (1..%d allowed)", n, CONSOLE_BATCH_MAX);
        return TL_ERR_INVALID;
    }
    return TL_OK;
}

static void console_classify_send(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs,
                                  size_t n, long http_status, const char *body, size_t body_len,
                                  struct tl_send_outcome *outcomes)
{
    (void)ch;
    (void)http_status;
    (void)body;
    (void)body_len;
    provider_outcomes_init(outcomes, n);
    for (size_t i = 0; i < n; i++)
        provider_outcome_set(&outcomes[i], TL_SEND_SENT,
                             xasprintf("console-%lld", (long long)msgs[i].id), NULL);
}

const struct tl_provider provider_console = {
    .name = "console",
    .batch_max = CONSOLE_BATCH_MAX,
    .default_base_url = NULL,
    .authenticate = console_authenticate,
    .parse_sms = console_parse_sms,
    .parse_dlr = NULL,
    .parse_ussd = console_parse_ussd,
    .render_sms_reply = console_render_sms_reply,
    .render_dlr_reply = console_render_dlr_reply,
    .render_ussd_reply = console_render_ussd_reply,
    .build_send = console_build_send,
    .classify_send = console_classify_send,
};
