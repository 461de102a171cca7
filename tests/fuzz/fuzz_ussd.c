/*
 * fuzz_ussd.c — libFuzzer harness replaying USSD paths through the menu
 * (gateway/ussd.h) of the in-memory gateway (tests/fuzz/memd.h): the real
 * state machine, sessions and the cases it files, over a ":memory:" store.
 *
 * Input: up to MAX_STEPS lines, each one step:
 *   byte 0: bits 0-1 the session (4 sessions), bits 2-3 its phone (4
 *           numbers, one not a phone number), bit 4 Africa's Talking style
 *           (the step's text joins the session's path with '*', as AT sends
 *           every input so far) else the generic style (the latest input
 *           alone), bit 5 the channel ("at" or "gen");
 *   the rest of the line: what the user typed (empty: the dial).
 * A session's path starts afresh after a screen that ends it.
 *
 * Checked: every step answers TL_OK (the store never fails here) with a
 * screen of valid UTF-8 and at most USSD_SCREEN_MAX characters; the
 * caller's number is never in the log in full.
 */
#include "tests/fuzz/memd.h"

#include "common/buf.h"
#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "gateway/config.h"
#include "gateway/ussd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 32

static void check(int cond)
{
    if (!cond)
        abort();
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *phones[4] = {"+923001234567", "03007654321", "+254705336634", "12"};
    /* Session 3 reuses session 0's id with a path of its own (an aggregator that starts over). */
    static const char *sessions[4] = {"ATUid_s0", "ATUid_s1", "s2", "ATUid_s0"};
    struct tl_daemon *d = memd_daemon();
    struct tl_buf paths[4] = {{0}};
    struct tl_buf log = {0};
    size_t n = 0;

    memd_log_take(&log);
    tl_buf_reset(&log);
    memd_begin(d);
    while (size > 0 && n++ < MAX_STEPS) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) : size;
        unsigned b = data[0];
        unsigned s = b & 3;
        bool at = (b & 16) != 0;
        const struct tl_channel_conf *ch = config_channel(d->cfg, (b & 32) ? "gen" : "at");
        char *typed = xstrndup((const char *)data + 1, len ? len - 1 : 0);
        struct tl_ussd_screen screen;

        if (at && typed[0] != '\0') {
            if (paths[s].len > 0)
                tl_buf_append_char(&paths[s], '*');
            tl_buf_append_str(&paths[s], typed);
        }
        struct tl_ussd_step step = {
            .session_id = (char *)sessions[s],
            .phone = (char *)phones[(b >> 2) & 3],
            .service_code = (char *)"*384*1#",
            .input = at ? (char *)(paths[s].len ? tl_buf_str(&paths[s]) : "") : typed,
            .input_is_path = at,
        };
        check(ch != NULL);
        check(ussd_step(d, ch, &step, &screen) == TL_OK);
        check(screen.text != NULL && tl_utf8_valid(screen.text, strlen(screen.text)));
        check(utf8_chars(screen.text) <= USSD_SCREEN_MAX);
        /* The caller's number is never in the log in full (log_phone masks it). */
        memd_log_take(&log);
        check(log.len == 0 || (strstr(tl_buf_str(&log), "3001234567") == NULL &&
                               strstr(tl_buf_str(&log), "3007654321") == NULL &&
                               strstr(tl_buf_str(&log), "254705336634") == NULL));
        tl_buf_reset(&log);
        if (screen.end)
            tl_buf_reset(&paths[s]);
        ussd_screen_clear(&screen);
        free(typed);
        if (nl == NULL)
            break;
        data += len + 1;
        size -= len + 1;
    }
    for (size_t i = 0; i < 4; i++)
        tl_buf_free(&paths[i]);
    tl_buf_free(&log);
    memd_end(d);
    return 0;
}
