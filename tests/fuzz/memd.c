/*
 * memd.c — the in-memory gateway of the fuzz harnesses and the stand-in for
 * gateway/http.c (see memd.h).
 */
#include "tests/fuzz/memd.h"

#include "common/result.h"
#include "common/xmalloc.h"
#include "gateway/areas.h"
#include "gateway/config.h"
#include "gateway/group.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "parsers/grammar.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const memd_channels[MEMD_NCHANNELS] = {"at", "tw", "kn", "gen", "con"};

/* Verification "auto", so a report reaches the alert wave with no police step. */
static const char memd_conf[] =
    "[server]\nlisten = 127.0.0.1:1\npublic_url = https://talaash.example.org\n"
    "[store]\npath = :memory:\n"
    "[alerts]\nchannel = con\nverification = auto\n"
    "[channel at]\nprovider = africastalking\nusername = sandbox\napi_key = k\nsender = 8558\n"
    "[channel tw]\nprovider = twilio\naccount_sid = AC1\nauth_token = 6789\nsender = +15005550006\n"
    "[channel kn]\nprovider = kannel\nusername = u\npassword = p\nsender = 8558\n"
    "[channel gen]\nprovider = generic\nbase_url = https://bridge.example.org/send\nsender = 8558\n"
    "[channel con]\nprovider = console\nsender = TALAASH\n";

static void memd_fail(const char *what, const char *cause)
{
    fprintf(stderr, "memd: %s: %s\n", what, cause ? cause : "failed");
    abort();
}

static int log_fd = -1; /* reads the log file the logger appends to */

void memd_log_take(struct tl_buf *out)
{
    char chunk[4096];
    off_t at = 0;
    ssize_t n;

    while ((n = pread(log_fd, chunk, sizeof(chunk), at)) > 0) {
        tl_buf_append(out, chunk, (size_t)n);
        at += n;
    }
    /* The logger appends (O_APPEND), so its next line starts the file again. */
    if (ftruncate(log_fd, 0) != 0)
        memd_fail("log", "ftruncate");
}

struct tl_daemon *memd_daemon(void)
{
    static struct tl_daemon d;
    static struct tl_config *cfg;
    char *cause = NULL;

    if (d.store != NULL)
        return &d;
    /* Every line is written (the escaping is fuzzed too) to a deleted file. */
    const char *tmp = getenv("TMPDIR");
    char *path = xasprintf("%s/talaash-memd-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if ((log_fd = mkstemp(path)) < 0 || log_open(path, TL_LOG_DEBUG) != 0)
        memd_fail("log", path);
    unlink(path);
    free(path);
    if (config_load_string("memd.conf", memd_conf, &cfg, &cause) != TL_OK)
        memd_fail("config", cause);
    d.cfg = cfg;
    if (areas_load(cfg, &d.gz, &cause) != TL_OK)
        memd_fail("areas", cause);
    if ((d.grammar = grammar_new(&cause)) == NULL)
        memd_fail("grammar", cause);
    if (store_open(cfg->store_path, cfg->busy_timeout_ms, &d.store, &cause) != TL_OK)
        memd_fail("store", cause);
    if (areas_sync_store(d.gz, d.store) != TL_OK)
        memd_fail("areas_sync", store_errmsg(d.store));
    d.base = event_base_new();
    if (d.base == NULL || event_base_priority_init(d.base, DAEMON_LOOP_PRIORITIES) != 0 ||
        group_new(&d, &d.group) != TL_OK)
        memd_fail("event base", NULL);
    return &d;
}

void memd_begin(struct tl_daemon *d)
{
    if (store_tx_begin(d->store) != TL_OK)
        memd_fail("begin", store_errmsg(d->store));
}

void memd_end(struct tl_daemon *d)
{
    group_flush(d->group);
    store_tx_rollback(d->store);
}

void memd_request_clear(struct memd_request *r)
{
    tl_buf_free(&r->body);
    memset(r, 0, sizeof(*r));
}

/* ---- the stand-in for gateway/http.c ------------------------------------------------ */

int http_start(struct tl_daemon *d, const struct tl_route *routes, struct tl_http **out,
               char **cause)
{
    (void)d;
    (void)routes;
    *out = NULL;
    if (cause != NULL)
        *cause = xstrdup("memd: no listener");
    return TL_ERR_IO;
}

void http_stop_accepting(struct tl_http *h)
{
    (void)h;
}

size_t http_inflight(const struct tl_http *h)
{
    (void)h;
    return 0;
}

uint64_t http_accept_errors_total(const struct tl_http *h)
{
    (void)h;
    return 0;
}

void http_free(struct tl_http *h)
{
    (void)h;
}

const char *http_method_name(enum evhttp_cmd_type cmd)
{
    return cmd == EVHTTP_REQ_GET ? "GET" : "POST";
}

double http_request_started_ms(void)
{
    return 0;
}

void http_reply_since(struct evhttp_request *req, int status, const char *content_type,
                      const char *body, size_t len, double started_ms)
{
    struct memd_request *r = (struct memd_request *)(void *)req;

    (void)content_type;
    (void)started_ms;
    r->answered++;
    r->status = status;
    tl_buf_reset(&r->body);
    tl_buf_append(&r->body, body ? body : "", body ? len : 0);
}

void http_reply(struct evhttp_request *req, int status, const char *content_type,
                const char *body, size_t len)
{
    http_reply_since(req, status, content_type, body, len, 0);
}

void http_reply_error_since(struct evhttp_request *req, int status, const char *message,
                            double started_ms)
{
    http_reply_since(req, status, "application/json", message, strlen(message), started_ms);
}

void http_reply_error(struct evhttp_request *req, int status, const char *message)
{
    http_reply_error_since(req, status, message, 0);
}

void http_in_view(struct evhttp_request *req, struct tl_http_in *in,
                  struct tl_http_in_scratch *scratch)
{
    memset(scratch, 0, sizeof(*scratch));
    *in = ((struct memd_request *)(void *)req)->in;
}

void http_in_release(struct tl_http_in_scratch *scratch)
{
    memset(scratch, 0, sizeof(*scratch));
}
