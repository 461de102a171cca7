/*
 * fuzz_callbacks.c — libFuzzer harness for the aggregator callback path,
 * body to store: callbacks.c (authenticate, parse, store, commands, USSD,
 * the group commit) with the daemon's own code over an in-memory store
 * (tests/fuzz/memd.h), no listener and no network.
 *
 * Input: up to MAX_REQUESTS requests separated by "\n--\n"; each is
 *   byte 0: the channel (memd_channels[b % 5]: africastalking, twilio,
 *           kannel, generic, console);
 *   byte 1: bits 0-1 the route: 0 /sms, 1 /dlr, 2 /ussd (3: /sms);
 *           bit 3 GET (else POST); bits 4-5 Content-Type: form, JSON,
 *           text/plain, none (as fuzz_provider.h);
 *   then the query up to '\n', a header value up to '\n' (sent as
 *   X-Twilio-Signature, X-Talaash-Signature and X-Kannel-From), the body.
 * The requests of one input share one store (a report, then its follow-up,
 * a repeated provider id …); the next input starts from an empty store.
 *
 * Checked: every request gets exactly one answer with a status the
 * callbacks may give; an SMS or a delivery report gets its 2xx only at the
 * group's commit (never before); an in-memory store never fails (no 503);
 * a 2xx USSD answer has a body; a 200 to an SMS that carries the
 * aggregator's id means its row is stored and marked processed; the
 * sender's number, as sent or normalised, is never in the log. FUZZ_TRACE=1 prints each answer to stderr.
 */
#include "tests/fuzz/memd.h"

#include "common/xmalloc.h"
#include "gateway/callbacks.h"
#include "gateway/config.h"
#include "gateway/group.h"
#include "gateway/store/store.h"
#include "common/result.h"
#include "parsers/phone.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQUESTS 16
static const char sep[] = "\n--\n";

static void check(int cond)
{
    if (!cond)
        abort();
}

/*
 * A number (10 or more digits, perhaps after a '+'), in full, must not be
 * in the log (log_phone masks it).
 */
static void check_not_logged(const struct tl_buf *log, const char *phone)
{
    const char *digits = phone && phone[0] == '+' ? phone + 1 : phone;

    if (digits == NULL || strlen(digits) < 10 || strspn(digits, "0123456789") != strlen(digits))
        return;
    if (log->len > 0)
        check(strstr(tl_buf_str(log), digits) == NULL);
}

/*
 * After an SMS: the sender's number is not in the log. After a 200 to an
 * SMS with the aggregator's id: its row is in the store (a second insert is
 * a duplicate) and marked processed — not for the console, which makes up
 * an id each time a request has none.
 */
static void check_sms(struct tl_daemon *d, const char *channel, const struct tl_http_in *in,
                      int status, const struct tl_buf *log)
{
    const struct tl_channel_conf *ch = config_channel(d->cfg, channel);
    const struct tl_provider *p = provider_find(ch->provider);
    struct tl_inbound_sms sms;
    char phone[TL_PHONE_MAX];
    char *cause = NULL;
    int64_t id = 0;

    if (p->parse_sms(ch, in, &sms, &cause) != TL_OK) {
        free(cause);
        return;
    }
    check_not_logged(log, sms.from);
    if (phone_normalize(sms.from, strlen(sms.from), d->cfg->country_code, phone) == TL_OK)
        check_not_logged(log, phone);
    if (status == 200 && sms.provider_id != NULL && strcmp(p->name, "console") != 0) {
        struct tl_inbound_row row = {.channel = channel, .provider_id = sms.provider_id,
                                     .kind = "sms", .phone = "+920000000000", .text = ""};
        check(store_inbound_insert(d->store, &row, &id) == TL_ERR_DUPLICATE);
        check(store_inbound_processed(d->store, id));
    }
    tl_inbound_sms_clear(&sms);
}

/* After a USSD step: the caller's number is not in the log. */
static void check_ussd(struct tl_daemon *d, const char *channel, const struct tl_http_in *in,
                       const struct tl_buf *log)
{
    const struct tl_channel_conf *ch = config_channel(d->cfg, channel);
    const struct tl_provider *p = provider_find(ch->provider);
    struct tl_ussd_step step;
    char phone[TL_PHONE_MAX];
    char *cause = NULL;

    if (p->parse_ussd == NULL || p->parse_ussd(ch, in, &step, &cause) != TL_OK) {
        free(cause);
        return;
    }
    check_not_logged(log, step.phone);
    if (phone_normalize(step.phone, strlen(step.phone), d->cfg->country_code, phone) == TL_OK)
        check_not_logged(log, phone);
    tl_ussd_step_clear(&step);
}

static void one_request(struct tl_daemon *d, const uint8_t *data, size_t size)
{
    static const char *ctypes[] = {"application/x-www-form-urlencoded", "application/json",
                                   "text/plain; charset=utf-8", NULL};
    static const char *routes[] = {"sms", "dlr", "ussd", "sms"};
    const uint8_t *nl1, *nl2;
    struct memd_request r;
    struct tl_buf log = {0};
    struct tl_header headers[4];
    size_t nh = 0;
    char *query, *hdr, *body, *path;
    const char *channel;
    unsigned op;

    if (size < 2)
        return;
    channel = memd_channels[data[0] % MEMD_NCHANNELS];
    op = data[1];
    data += 2;
    size -= 2;
    nl1 = memchr(data, '\n', size);
    nl2 = nl1 ? memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - data)) : NULL;
    if (nl2 == NULL)
        return;
    query = xstrndup((const char *)data, (size_t)(nl1 - data));
    hdr = xstrndup((const char *)nl1 + 1, (size_t)(nl2 - nl1 - 1));
    size_t blen = size - (size_t)(nl2 + 1 - data);
    body = xmalloc(blen ? blen : 1);
    memcpy(body, nl2 + 1, blen);
    path = xasprintf("/%s/%s", routes[op & 3], channel);
    if (ctypes[(op >> 4) & 3] != NULL)
        headers[nh++] = (struct tl_header){"Content-Type", ctypes[(op >> 4) & 3]};
    headers[nh++] = (struct tl_header){"X-Twilio-Signature", hdr};
    headers[nh++] = (struct tl_header){"X-Talaash-Signature", hdr};
    headers[nh++] = (struct tl_header){"X-Kannel-From", hdr};

    memd_log_take(&log); /* what came before this request */
    tl_buf_reset(&log);
    memset(&r, 0, sizeof(r));
    r.in = (struct tl_http_in){.method = (op & 8) ? "GET" : "POST",
                               .path = path,
                               .query = query[0] ? query : NULL,
                               .body = blen ? body : "",
                               .body_len = blen,
                               .headers = headers,
                               .nheaders = nh,
                               .peer_ip = "127.0.0.1"};
    struct evhttp_request *req = (struct evhttp_request *)(void *)&r;
    switch (op & 3) {
    case 1:
        callbacks_dlr_cb(d, req, channel);
        break;
    case 2:
        callbacks_ussd_cb(d, req, channel);
        break;
    default:
        callbacks_sms_cb(d, req, channel);
        break;
    }
    /* SMS and delivery reports: no 2xx before the commit that holds their data. */
    if ((op & 3) != 2)
        check(!(r.answered && r.status >= 200 && r.status < 300));
    group_flush(d->group);
    if (getenv("FUZZ_TRACE") != NULL) /* replay with FUZZ_TRACE=1 to see the answers */
        fprintf(stderr, "trace: %s %s -> %d %s\n", r.in.method, path, r.status, tl_buf_str(&r.body));
    check(r.answered == 1);
    check(r.status == 200 || r.status == 204 || r.status == 400 || r.status == 403 ||
          r.status == 404 || r.status == 413);
    if ((op & 3) == 2 && r.status == 200)
        check(r.body.len > 0);
    memd_log_take(&log);
    if ((op & 3) == 2)
        check_ussd(d, channel, &r.in, &log);
    else if ((op & 3) != 1)
        check_sms(d, channel, &r.in, r.status, &log);
    tl_buf_free(&log);
    memd_request_clear(&r);
    free(path);
    free(body);
    free(hdr);
    free(query);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tl_daemon *d = memd_daemon();
    size_t n = 0;

    memd_begin(d);
    while (size > 0 && n++ < MAX_REQUESTS) {
        const uint8_t *end = NULL;
        for (size_t i = 0; i + sizeof(sep) - 1 <= size; i++) {
            if (memcmp(data + i, sep, sizeof(sep) - 1) == 0) {
                end = data + i;
                break;
            }
        }
        size_t len = end ? (size_t)(end - data) : size;
        one_request(d, data, len);
        if (end == NULL)
            break;
        data += len + sizeof(sep) - 1;
        size -= len + sizeof(sep) - 1;
    }
    memd_end(d);
    return 0;
}
