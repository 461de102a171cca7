/*
 * fuzz_provider.h — the body shared by the provider fuzz harnesses
 * (tests/fuzz/fuzz_provider_NAME.c): each defines FUZZ_PROVIDER and includes
 * this. Not a harness itself (the Makefile builds only fuzz_*.c).
 *
 * Input format (the seeds under tests/fuzz/seeds/ are written in it by
 * test_providers with TALAASH_WRITE_SEEDS=DIR):
 *   byte 0: bits 0-2 operation: 0 parse_sms, 1 parse_dlr, 2 parse_ussd,
 *           3 classify_send, 4 authenticate only, 5 build_send + renders;
 *           bit 3: method GET (else POST);
 *           bits 4-5: Content-Type: form, JSON, text/plain, none.
 *   ops 0-2, 4: the query up to '\n', a header value up to '\n' (sent as
 *           X-Twilio-Signature, X-Talaash-Signature and X-Kannel-From), then
 *           the body.
 *   op 3:   byte 1 indexes the HTTP status table, byte 2 picks 1-3
 *           messages, the rest is the aggregator's answer.
 *   op 5:   the rest is a message text (used when it is valid UTF-8).
 * Every result is checked (valid UTF-8, NULs, ranges); a broken invariant
 * aborts, so the fuzzer reports it.
 */
#ifndef TALAASH_FUZZ_PROVIDER_H
#define TALAASH_FUZZ_PROVIDER_H

#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "providers/provider.h"
#include "providers/providers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long fuzz_statuses[] = {0, 200, 201, 202, 400, 401, 403, 404, 429, 500, 503};

static void fuzz_check(int cond)
{
    if (!cond)
        abort();
}

static void fuzz_check_str(const char *s, int required)
{
    if (s == NULL) {
        fuzz_check(!required);
        return;
    }
    fuzz_check(tl_utf8_valid(s, strlen(s)));
}

static const struct tl_channel_conf fuzz_channel = {
    .name = "fz",
    .provider = "fuzz",
    .base_url = "https://bridge.example.org/v1/send",
    .username = "talaash",
    .api_key = "atk",
    .account_sid = "acctid",
    .auth_token = "6789",
    .password = "kpass",
    .secret = "s3cret",
    .token = "bearer",
    .sender = "8558",
    .allow_ips = NULL,
    .public_url = "https://talaash.example.org",
    .rate = 10,
    .batch_size = 1000,
};

static void fuzz_callback(const struct tl_provider *p, unsigned op, const uint8_t *data,
                          size_t size)
{
    const uint8_t *nl1 = memchr(data, '\n', size);
    const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - data)) : NULL;
    char *query, *hdr, *body;
    size_t blen;
    static const char *ctypes[] = {"application/x-www-form-urlencoded", "application/json",
                                   "text/plain; charset=utf-8", NULL};
    const char *ct = ctypes[(op >> 4) & 3];
    struct tl_header headers[5];
    size_t nh = 0;
    char *cause = NULL;
    int rc;

    if (nl1 == NULL || nl2 == NULL)
        return;
    query = xstrndup((const char *)data, (size_t)(nl1 - data));
    hdr = xstrndup((const char *)nl1 + 1, (size_t)(nl2 - nl1 - 1));
    blen = size - (size_t)(nl2 + 1 - data);
    body = xmalloc(blen ? blen : 1);
    memcpy(body, nl2 + 1, blen);
    if (ct != NULL)
        headers[nh++] = (struct tl_header){"Content-Type", ct};
    headers[nh++] = (struct tl_header){"X-Twilio-Signature", hdr};
    headers[nh++] = (struct tl_header){"X-Talaash-Signature", hdr};
    headers[nh++] = (struct tl_header){"X-Kannel-From", hdr};
    struct tl_http_in in = {.method = (op & 8) ? "GET" : "POST",
                            .path = "/sms/fz",
                            .query = query[0] ? query : NULL,
                            .body = body,
                            .body_len = blen,
                            .headers = headers,
                            .nheaders = nh,
                            .peer_ip = "127.0.0.1"};

    rc = p->authenticate(&fuzz_channel, &in, &cause);
    fuzz_check(rc == TL_OK || (rc == TL_ERR_AUTH && cause != NULL));
    free(cause);
    cause = NULL;

    switch (op & 7) {
    case 0:
        if (p->parse_sms) {
            struct tl_inbound_sms m;
            rc = p->parse_sms(&fuzz_channel, &in, &m, &cause);
            if (rc == TL_OK) {
                fuzz_check_str(m.provider_id, 1);
                fuzz_check_str(m.from, 1);
                fuzz_check_str(m.to, 0);
                fuzz_check_str(m.text, 1);
                fuzz_check(strlen(m.text) == m.text_len);
                fuzz_check_str(m.link_id, 0);
                struct tl_http_reply r;
                p->render_sms_reply(&fuzz_channel, &m, m.text, &r);
                fuzz_check(r.status == 200 && r.content_type != NULL);
                tl_http_reply_clear(&r);
            } else {
                fuzz_check(cause != NULL && m.provider_id == NULL && m.text == NULL);
            }
            tl_inbound_sms_clear(&m);
        }
        break;
    case 1:
        if (p->parse_dlr) {
            struct tl_dlr d;
            rc = p->parse_dlr(&fuzz_channel, &in, &d, &cause);
            if (rc == TL_OK) {
                fuzz_check(d.provider_id != NULL || d.our_id > 0);
                fuzz_check_str(d.provider_id, 0);
                fuzz_check_str(d.status_raw, 1);
                fuzz_check_str(d.error, 0);
                fuzz_check_str(d.phone, 0);
                fuzz_check((int)d.state >= 0 && d.state <= TL_DLR_EXPIRED);
            } else {
                fuzz_check(cause != NULL && d.provider_id == NULL && d.status_raw == NULL);
            }
            tl_dlr_clear(&d);
        }
        break;
    case 2:
        if (p->parse_ussd) {
            struct tl_ussd_step u;
            rc = p->parse_ussd(&fuzz_channel, &in, &u, &cause);
            if (rc == TL_OK) {
                fuzz_check_str(u.session_id, 1);
                fuzz_check_str(u.phone, 1);
                fuzz_check_str(u.input, 1);
                fuzz_check_str(u.service_code, 0);
                fuzz_check_str(u.network, 0);
                struct tl_http_reply r;
                p->render_ussd_reply(&fuzz_channel, u.input, u.input_is_path, &r);
                fuzz_check(r.status == 200);
                tl_http_reply_clear(&r);
            } else {
                fuzz_check(cause != NULL && u.session_id == NULL && u.input == NULL);
            }
            tl_ussd_step_clear(&u);
        }
        break;
    default:
        break;
    }
    if (rc != TL_OK)
        fuzz_check(rc == TL_ERR_MALFORMED || rc == TL_ERR_TOO_LARGE || rc == TL_ERR_BAD_UTF8 ||
                   rc == TL_ERR_MISSING_FIELD || rc == TL_ERR_AUTH);
    free(cause);
    free(query);
    free(hdr);
    free(body);
}

static void fuzz_classify(const struct tl_provider *p, const uint8_t *data, size_t size)
{
    static const struct tl_out_msg msgs[3] = {
        {.id = 1, .to = "+254705336634", .text = "a"},
        {.id = 2, .to = "+923001234567", .text = "a"},
        {.id = 3, .to = "+923001234568", .text = "a"},
    };
    struct tl_send_outcome oc[3];
    size_t n;
    long status;
    char *body;

    if (size < 2)
        return;
    status = fuzz_statuses[data[0] % (sizeof(fuzz_statuses) / sizeof(fuzz_statuses[0]))];
    n = 1 + data[1] % 3;
    if (n > (size_t)p->batch_max)
        n = (size_t)p->batch_max;
    body = xmalloc(size - 2 ? size - 2 : 1);
    memcpy(body, data + 2, size - 2);
    memset(oc, 0xA5, sizeof(oc)); /* classify_send must not read what it is given */
    p->classify_send(&fuzz_channel, msgs, n, status, body, size - 2, oc);
    for (size_t i = 0; i < n; i++) {
        fuzz_check((int)oc[i].result >= 0 && oc[i].result <= TL_SEND_OPTED_OUT);
        fuzz_check_str(oc[i].provider_id, 0);
        fuzz_check_str(oc[i].error, 0);
        tl_send_outcome_clear(&oc[i]);
    }
    free(body);
}

static void fuzz_build(const struct tl_provider *p, unsigned op, const uint8_t *data, size_t size)
{
    char *text = xstrndup((const char *)data, size);
    struct tl_out_msg msgs[2] = {{.id = 9, .to = "+923001234567", .text = text},
                                 {.id = 10, .to = "+923001234568", .text = text}};
    struct tl_http_out out;
    struct tl_http_reply r;
    char *cause = NULL;

    if (!tl_utf8_valid(text, strlen(text))) {
        free(text);
        return;
    }
    msgs[0].ucs2 = msgs[1].ucs2 = (op & 8) != 0;
    if (p->build_send(&fuzz_channel, msgs, p->batch_max > 1 ? 2 : 1, &out, &cause) == TL_OK) {
        fuzz_check(out.url == NULL || (out.method != NULL && strlen(out.url) > 0));
        fuzz_check(out.body.len == 0 || strlen(tl_buf_str(&out.body)) <= out.body.len);
    } else {
        fuzz_check(cause != NULL);
    }
    tl_http_out_clear(&out);
    free(cause);
    p->render_sms_reply(&fuzz_channel, NULL, text, &r);
    fuzz_check_str(tl_buf_str(&r.body), 1);
    tl_http_reply_clear(&r);
    if (p->render_ussd_reply) {
        p->render_ussd_reply(&fuzz_channel, text, (op & 16) != 0, &r);
        fuzz_check_str(tl_buf_str(&r.body), 1);
        tl_http_reply_clear(&r);
    }
    free(text);
}

static int fuzz_provider_one(const struct tl_provider *p, const uint8_t *data, size_t size)
{
    unsigned op;

    if (size < 1)
        return 0;
    op = data[0];
    if ((op & 7) == 3)
        fuzz_classify(p, data + 1, size - 1);
    else if ((op & 7) == 5)
        fuzz_build(p, op, data + 1, size - 1);
    else
        fuzz_callback(p, op, data + 1, size - 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_provider_one(&FUZZ_PROVIDER, data, size);
}

#endif
