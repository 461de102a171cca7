/*
 * api.c — the operator API and the console's files (see api.h).
 *
 * Authentication: "Authorization: Bearer SECRET". The presented secret and
 * each configured one are compared as SHA-256 digests with CRYPTO_memcmp,
 * over every token without stopping at a match, so neither the length nor
 * the position of a secret shows in the time taken. A missing or wrong
 * token is 401, a role too low 403; both are logged (peer, path, token
 * name — never a secret) and audited.
 *
 * Idempotency: a POST or DELETE may carry "Idempotency-Key: K" (1-128
 * printable characters). Its answer is stored with the change, in the same
 * transaction, for (token, K); the same request again gets the same answer
 * and does nothing, the same key on another request gets 422. Without a key
 * the actions are safe to retry by nature where the domain allows it: a
 * second VERIFY of an active case answers 409 and sends nothing (each
 * person gets a case's alert once, by the outbox's unique index), a second
 * registration of the same police number and area or block of a number
 * changes nothing.
 *
 * Input: JSON bodies only (Content-Type is not trusted, the bytes are),
 * valid UTF-8, an object whose every field is known and of its type; any
 * other body is 400 with {"error": …, "field": …}.
 */
#include "gateway/api.h"
#include "gateway/api_reader.h"
#include "gateway/cases.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/group.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/police.h"
#include "gateway/stats.h"
#include "gateway/store/store.h"
#include "gateway/store/store_api.h"
#include "parsers/casenum.h"
#include "parsers/gazetteer.h"
#include "parsers/grammar.h"
#include "parsers/phone.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <sys/queue.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_PREFIX "/api/v1/"
#define API_MAX_SEGMENTS 4
#define API_PAGE_DEFAULT 50
#define API_PAGE_MAX 200
#define API_IDEM_KEEP_S 86400

/* A console file held in memory (read at start: a few KiB). */
struct console_file {
    const char *name;
    const char *content_type;
    char *data;
    size_t len;
};

struct tl_api {
    struct tl_reader *reader;
    unsigned char (*digests)[32]; /* SHA-256 of each token's secret, as cfg->tokens */
    struct console_file files[3];
    int64_t last_prune;
};

/* One request being handled. */
struct api_call {
    struct tl_daemon *d;
    struct evhttp_request *req;
    const struct tl_api_token *tok;
    const char *method;
    char *path; /* "/api/v1/…", for idempotency records */
    const char *args[API_MAX_SEGMENTS]; /* the {…} segments, in order */
    char *segs[API_MAX_SEGMENTS];
    size_t nsegs;
    cJSON *body;            /* POST: the parsed object, or NULL */
    struct evkeyvalq query; /* parsed query string */
    char actor[48];         /* "api:NAME" */
    const char *idem_key;   /* or NULL */
};

typedef void (*api_handler)(struct api_call *c);

/* ---- answers ---- */

static void api_error_field(struct api_call *c, int status, const char *message, const char *field)
{
    struct tl_buf b = {0};

    tl_buf_append_str(&b, "{\"error\":\"");
    tl_buf_append_json(&b, message, strlen(message));
    tl_buf_append_str(&b, "\"");
    if (field != NULL) {
        tl_buf_append_str(&b, ",\"field\":\"");
        tl_buf_append_json(&b, field, strlen(field));
        tl_buf_append_str(&b, "\"");
    }
    tl_buf_append_str(&b, "}\n");
    http_reply(c->req, status, "application/json", b.data, b.len);
    tl_buf_free(&b);
}

static void api_error(struct api_call *c, int status, const char *message)
{
    api_error_field(c, status, message, NULL);
}

/* ---- authentication ---- */

static void secret_digest(const char *secret, size_t len, unsigned char out[32])
{
    unsigned int n = 0;

    EVP_Digest(secret, len, out, &n, EVP_sha256(), NULL);
}

/* The token the request presents, or NULL with why ("no token", "bad token"). */
static const struct tl_api_token *authenticate(struct tl_daemon *d, struct evhttp_request *req,
                                               const char **why)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    const struct tl_api_token *found = NULL;
    unsigned char digest[32];

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        *why = "no token";
        return NULL;
    }
    h += 7;
    while (*h == ' ')
        h++;
    secret_digest(h, strlen(h), digest);
    for (size_t i = 0; i < d->cfg->ntokens; i++) {
        if (CRYPTO_memcmp(digest, d->api->digests[i], 32) == 0)
            found = &d->cfg->tokens[i];
    }
    *why = found ? NULL : "bad token";
    return found;
}

static void peer_of(struct evhttp_request *req, char out[64])
{
    char *host = NULL;
    ev_uint16_t port = 0;

    evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
    snprintf(out, 64, "%s", host ? host : "-");
}

/* Logs and audits a refusal of the API (401 or 403). */
static void refuse(struct api_call *c, int status, const char *actor, const char *reason)
{
    char esc[LOG_PEER_BUFSZ], peer[64];
    struct tl_buf detail = {0};

    peer_of(c->req, peer);
    log_warn("api", "event=refused status=%d token=%s reason=\"%s\" method=%s path=%s peer=%s",
             status, actor, reason, c->method, log_peer(c->path, strlen(c->path), esc), peer);
    tl_buf_appendf(&detail, "%s %s from %s", c->method, c->path, peer);
    if (store_audit(c->d->store, actor, "api auth", 0, reason, tl_buf_str(&detail), clock_now()) !=
        TL_OK)
        log_error("api", "event=audit_failed detail=\"%s\"", store_errmsg(c->d->store));
    tl_buf_free(&detail);
    if (status == 401)
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "WWW-Authenticate",
                          "Bearer realm=\"talaash\"");
    api_error(c, status, status == 401 ? "unauthorized: a valid bearer token is required"
                                       : "forbidden: the token's role does not allow this");
}

/* ---- input ---- */

/* A query parameter, or NULL. */
static const char *query_get(struct api_call *c, const char *name)
{
    return evhttp_find_header(&c->query, name);
}

/* 400 for a query parameter not in allowed (NULL-terminated); false when answered. */
static bool query_known(struct api_call *c, const char *const *allowed)
{
    for (struct evkeyval *kv = c->query.tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(kv->key, allowed[i]) == 0;
        if (!ok) {
            api_error_field(c, 400, "unknown query parameter", kv->key);
            return false;
        }
    }
    return true;
}

/* A whole number in [min, max] from the query (def when absent); false when answered 400. */
static bool query_int(struct api_call *c, const char *name, int64_t min, int64_t max, int64_t def,
                      int64_t *out)
{
    const char *v = query_get(c, name);
    char *end;

    *out = def;
    if (v == NULL)
        return true;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "must be a whole number from %lld to %lld", (long long)min,
                 (long long)max);
        api_error_field(c, 400, msg, name);
        return false;
    }
    *out = n;
    return true;
}

enum field_type { F_STRING, F_BOOL };
struct field_spec {
    const char *name;
    enum field_type type;
    bool required;
    size_t max_len; /* strings */
};

/*
 * Checks c->body against fields (NULL-terminated by name): an object, no
 * unknown field, each of its type. false when answered 400.
 */
static bool body_check(struct api_call *c, const struct field_spec *fields)
{
    if (c->body == NULL || !cJSON_IsObject(c->body)) {
        api_error(c, 400, "the body must be a JSON object");
        return false;
    }
    for (cJSON *it = c->body->child; it != NULL; it = it->next) {
        const struct field_spec *f = fields;
        while (f->name != NULL && strcmp(f->name, it->string) != 0)
            f++;
        if (f->name == NULL) {
            api_error_field(c, 400, "unknown field", it->string);
            return false;
        }
        bool ok = f->type == F_STRING ? cJSON_IsString(it) : cJSON_IsBool(it);
        if (!ok) {
            api_error_field(c, 400, f->type == F_STRING ? "must be a string" : "must be a boolean",
                            it->string);
            return false;
        }
        if (f->type == F_STRING && strlen(it->valuestring) > f->max_len) {
            api_error_field(c, 400, "too long", it->string);
            return false;
        }
    }
    for (const struct field_spec *f = fields; f->name != NULL; f++) {
        if (f->required && cJSON_GetObjectItemCaseSensitive(c->body, f->name) == NULL) {
            api_error_field(c, 400, "required", f->name);
            return false;
        }
    }
    return true;
}

static const char *body_str(struct api_call *c, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->body, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A phone number from the path or body, E.164 into out; false when answered 400. */
static bool phone_arg(struct api_call *c, const char *text, const char *field,
                      char out[TL_PHONE_MAX])
{
    if (text == NULL ||
        phone_normalize(text, strlen(text), c->d->cfg->country_code, out) != TL_OK) {
        api_error_field(c, 400, "not a phone number", field);
        return false;
    }
    return true;
}

/* An area by code or exact name; NULL when answered 400. */
static const struct tl_area *area_arg(struct api_call *c, const char *text, const char *field)
{
    const struct tl_area *a = gazetteer_by_code(c->d->gz, text);
    struct tl_area_candidate cands[4];
    size_t n = 0;

    if (a == NULL && gazetteer_match(c->d->gz, text, strlen(text), cands, 4, &n) ==
                         TL_MATCH_EXACT && n == 1)
        a = cands[0].area;
    if (a == NULL)
        api_error_field(c, 400, "not a known area code or name (see talaash areas)", field);
    return a;
}

/* ---- reads, on the reader thread ---- */

enum read_kind { R_CASES, R_CASE, R_SUB_COUNTS, R_SUBSCRIBER, R_POLICE, R_BLOCKS, R_AUDIT };

struct api_read {
    struct tl_reader_job job; /* first: the reader hands back this pointer */
    struct evhttp_request *req;
    double started_ms;
    enum read_kind kind;
    enum tl_role role;
    struct tl_case_filter filter;
    char key[32]; /* a case number or an E.164 phone */
    char area_code[64];
};

static void read_run(struct tl_store *st, struct tl_reader_job *job)
{
    struct api_read *r = (struct api_read *)job;
    char *json = NULL;
    int rc = TL_ERR_STORE;

    switch (r->kind) {
    case R_CASES:
        rc = store_api_cases(st, r->role, &r->filter, &json);
        break;
    case R_CASE:
        rc = store_api_case(st, r->role, r->key, &json);
        break;
    case R_SUB_COUNTS:
        rc = store_api_subscriber_counts(st, &json);
        break;
    case R_SUBSCRIBER:
        rc = store_api_subscriber(st, r->role, r->key, &json);
        break;
    case R_POLICE:
        rc = store_api_police(st, r->role, &json);
        break;
    case R_BLOCKS:
        rc = store_api_blocks(st, r->role, &json);
        break;
    case R_AUDIT:
        rc = store_api_audit(st, r->role, r->filter.before_id, r->filter.limit, &json);
        break;
    }
    job->status = rc == TL_OK ? 200 : rc == TL_ERR_NOT_FOUND ? 404 : 503;
    if (rc == TL_OK) {
        job->body = json;
    } else {
        free(json);
        job->body = xstrdup(rc == TL_ERR_NOT_FOUND ? "{\"error\":\"not found\"}"
                                                   : "{\"error\":\"" HTTP_STORE_UNAVAILABLE "\"}");
    }
}

static void read_done(struct tl_reader_job *job)
{
    struct api_read *r = (struct api_read *)job;

    if (job->status == 503)
        log_error("api", "event=read_failed kind=%d", (int)r->kind);
    http_reply_since(r->req, job->status, "application/json", job->body, strlen(job->body),
                     r->started_ms);
    free(job->body);
    free(r);
}

static struct api_read *read_new(struct api_call *c, enum read_kind kind)
{
    struct api_read *r = xcalloc(1, sizeof(*r));

    r->job.run = read_run;
    r->job.done = read_done;
    r->req = c->req;
    r->started_ms = http_request_started_ms();
    r->kind = kind;
    r->role = c->tok->role;
    return r;
}

static void read_submit(struct api_call *c, struct api_read *r)
{
    if (reader_submit(c->d->api->reader, &r->job) != TL_OK) {
        free(r);
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
        api_error(c, 503, "busy: too many reads waiting, retry later");
    }
}

static void get_cases(struct api_call *c)
{
    static const char *const allowed[] = {"state", "area", "since", "until", "limit", "cursor",
                                          NULL};
    struct api_read *r;
    int64_t limit, cursor, since, until;

    if (!query_known(c, allowed) ||
        !query_int(c, "limit", 1, API_PAGE_MAX, API_PAGE_DEFAULT, &limit) ||
        !query_int(c, "cursor", 1, INT64_MAX, 0, &cursor) ||
        !query_int(c, "since", 0, INT64_MAX, 0, &since) ||
        !query_int(c, "until", 0, INT64_MAX, 0, &until))
        return;
    const char *state = query_get(c, "state");
    static const char *const states[] = {"draft", "reported", "active", "found",
                                         "closed", "cancelled", NULL};
    if (state != NULL) {
        size_t i = 0;
        while (states[i] != NULL && strcmp(states[i], state) != 0)
            i++;
        if (states[i] == NULL) {
            api_error_field(c, 400, "must be one of draft, reported, active, found, closed, "
                                    "cancelled", "state");
            return;
        }
    }
    const struct tl_area *area = NULL;
    if (query_get(c, "area") != NULL && (area = area_arg(c, query_get(c, "area"), "area")) == NULL)
        return;
    r = read_new(c, R_CASES);
    for (size_t i = 0; state && states[i]; i++) {
        if (strcmp(states[i], state) == 0)
            r->filter.state = states[i]; /* a static string: outlives the request */
    }
    if (area != NULL) {
        snprintf(r->area_code, sizeof(r->area_code), "%s", area->code);
        r->filter.area_code = r->area_code;
    }
    r->filter.since = since;
    r->filter.until = until;
    r->filter.before_id = cursor;
    r->filter.limit = (int)limit;
    read_submit(c, r);
}

/* A case number from the path: six digits with a valid check digit; false when answered. */
static bool case_arg(struct api_call *c, const char *text)
{
    if (strlen(text) != 6 || !casenum_valid(text, 6)) {
        api_error_field(c, 400, "a case number is six digits with a valid check digit", "case");
        return false;
    }
    return true;
}

static void get_case(struct api_call *c)
{
    static const char *const allowed[] = {NULL};

    if (!query_known(c, allowed) || !case_arg(c, c->args[0]))
        return;
    struct api_read *r = read_new(c, R_CASE);
    snprintf(r->key, sizeof(r->key), "%s", c->args[0]);
    read_submit(c, r);
}

static void get_subscriber_counts(struct api_call *c)
{
    static const char *const allowed[] = {NULL};

    if (query_known(c, allowed))
        read_submit(c, read_new(c, R_SUB_COUNTS));
}

static void get_subscriber(struct api_call *c)
{
    static const char *const allowed[] = {NULL};
    char phone[TL_PHONE_MAX];

    if (!query_known(c, allowed) || !phone_arg(c, c->args[0], "phone", phone))
        return;
    struct api_read *r = read_new(c, R_SUBSCRIBER);
    snprintf(r->key, sizeof(r->key), "%s", phone);
    read_submit(c, r);
}

static void get_police(struct api_call *c)
{
    static const char *const allowed[] = {NULL};

    if (query_known(c, allowed))
        read_submit(c, read_new(c, R_POLICE));
}

static void get_blocks(struct api_call *c)
{
    static const char *const allowed[] = {NULL};

    if (query_known(c, allowed))
        read_submit(c, read_new(c, R_BLOCKS));
}

static void get_audit(struct api_call *c)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    int64_t limit, cursor;

    if (!query_known(c, allowed) ||
        !query_int(c, "limit", 1, API_PAGE_MAX, API_PAGE_DEFAULT, &limit) ||
        !query_int(c, "cursor", 1, INT64_MAX, 0, &cursor))
        return;
    struct api_read *r = read_new(c, R_AUDIT);
    r->filter.limit = (int)limit;
    r->filter.before_id = cursor;
    read_submit(c, r);
}

static void get_me(struct api_call *c)
{
    struct tl_buf b = {0};

    tl_buf_append_str(&b, "{\"name\":\"");
    tl_buf_append_json(&b, c->tok->name, strlen(c->tok->name));
    tl_buf_appendf(&b, "\",\"role\":\"%s\"}\n", config_role_name(c->tok->role));
    http_reply(c->req, 200, "application/json", b.data, b.len);
    tl_buf_free(&b);
}

/* The channels and the summary: the stats snapshot (stats.h), read on the loop at no cost. */
static void reply_json(struct api_call *c, cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;

    if (text == NULL) {
        api_error(c, 503, HTTP_STORE_UNAVAILABLE);
    } else {
        http_reply(c->req, 200, "application/json", text, strlen(text));
    }
    free(text);
    cJSON_Delete(doc);
}

static void get_channels(struct api_call *c)
{
    static const char *const allowed[] = {NULL};

    if (!query_known(c, allowed))
        return;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "channels", stats_channels_json(c->d));
    reply_json(c, doc);
}

static void get_stats(struct api_call *c)
{
    static const char *const allowed[] = {NULL};

    if (query_known(c, allowed))
        reply_json(c, stats_summary_json(c->d));
}

/* ---- writes: in the group commit, each in its own savepoint ---- */

/*
 * Opens the write: the group and a savepoint; with an Idempotency-Key
 * already answered, sends that answer instead. false when answered.
 */
static bool write_begin(struct api_call *c)
{
    struct tl_store *st = c->d->store;

    if (group_join(c->d->group) != TL_OK) {
        log_error("api", "event=store_failed detail=\"%s\"", store_errmsg(st));
        api_error(c, 503, HTTP_STORE_UNAVAILABLE);
        return false;
    }
    if (store_tx_begin(st) != TL_OK) {
        api_error(c, 503, HTTP_STORE_UNAVAILABLE);
        return false;
    }
    if (c->idem_key == NULL)
        return true;
    int status = 0;
    char *body = NULL;
    int rc = store_api_idem_get(st, c->tok->name, c->idem_key, c->method, c->path, &status, &body);
    if (rc == TL_ERR_NOT_FOUND)
        return true;
    store_tx_rollback(st);
    if (rc == TL_OK) {
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Idempotent-Replayed",
                          "true");
        http_reply(c->req, status, "application/json", body ? body : "", body ? strlen(body) : 0);
    } else if (rc == TL_ERR_DUPLICATE) {
        api_error(c, 422, "this Idempotency-Key was used for another request");
    } else {
        api_error(c, 503, HTTP_STORE_UNAVAILABLE);
    }
    free(body);
    return false;
}

/* The write failed in the store: undo it, 503 (the client may retry). */
static void write_fail(struct api_call *c)
{
    log_error("api", "event=store_failed method=%s detail=\"%s\"", c->method,
              store_errmsg(c->d->store));
    store_tx_rollback(c->d->store);
    api_error(c, 503, HTTP_STORE_UNAVAILABLE);
}

/* Keeps the write (and its idempotency record); the answer goes when the group commits. */
static void write_end(struct api_call *c, int status, struct tl_buf *body)
{
    struct tl_store *st = c->d->store;

    tl_buf_append_char(body, '\n');
    if (c->idem_key != NULL &&
        store_api_idem_put(st, c->tok->name, c->idem_key, c->method, c->path, status,
                           tl_buf_str(body), clock_now()) != TL_OK) {
        tl_buf_free(body);
        write_fail(c);
        return;
    }
    if (store_tx_commit(st) != TL_OK) {
        tl_buf_free(body);
        write_fail(c);
        return;
    }
    group_answer(c->d->group, c->req, status, "application/json", body);
}

/* Ends a write that changed nothing with an error answer (kept for the idempotency key too). */
static void write_refuse(struct api_call *c, int status, const char *message)
{
    struct tl_buf b = {0};

    tl_buf_append_str(&b, "{\"error\":\"");
    tl_buf_append_json(&b, message, strlen(message));
    tl_buf_append_str(&b, "\"}");
    write_end(c, status, &b);
}

static enum tl_command action_command(const char *action)
{
    static const struct {
        const char *name;
        enum tl_command command;
    } actions[] = {{"verify", TL_CMD_VERIFY}, {"found", TL_CMD_FOUND}, {"close", TL_CMD_CLOSE},
                   {"cancel", TL_CMD_CANCEL}, {"widen", TL_CMD_WIDEN}};

    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        if (strcmp(actions[i].name, action) == 0)
            return actions[i].command;
    }
    return TL_CMD_UNKNOWN;
}

static void post_case_action(struct api_call *c)
{
    static const struct field_spec fields[] = {
        {"reason", F_STRING, false, 160}, {"area", F_STRING, false, 100}, {NULL, F_STRING, 0, 0}};
    enum tl_command command = action_command(c->args[1]);
    const struct tl_area *widen_to = NULL;

    if (command == TL_CMD_UNKNOWN) {
        api_error_field(c, 404, "no such action (verify, found, close, cancel, widen)", "action");
        return;
    }
    if (!case_arg(c, c->args[0]) || (c->body != NULL && !body_check(c, fields)))
        return;
    const char *reason = body_str(c, "reason"), *area = body_str(c, "area");
    if (reason != NULL && command != TL_CMD_CLOSE) {
        api_error_field(c, 400, "only close takes a reason", "reason");
        return;
    }
    if (command == TL_CMD_WIDEN) {
        if (area == NULL) {
            api_error_field(c, 400, "required", "area");
            return;
        }
        if ((widen_to = area_arg(c, area, "area")) == NULL)
            return;
    } else if (area != NULL) {
        api_error_field(c, 400, "only widen takes an area", "area");
        return;
    }
    if (!write_begin(c))
        return;
    struct tl_case cs;
    int rc = store_case_by_number(c->d->store, c->args[0], &cs);
    if (rc == TL_ERR_NOT_FOUND || (rc == TL_OK && strcmp(cs.state, "draft") == 0)) {
        if (rc == TL_OK)
            store_case_clear(&cs);
        write_refuse(c, 404, "no such case");
        return;
    }
    if (rc != TL_OK) {
        write_fail(c);
        return;
    }
    struct tl_case_action act = {
        .command = command, .text = reason ? reason : "", .widen_to = widen_to, .actor = c->actor};
    enum tl_case_outcome outcome = TL_CASE_DONE;
    int64_t recipients = 0;
    struct tl_buf message = {0}, b = {0};
    char was[12];
    snprintf(was, sizeof(was), "%s", cs.state);
    rc = cases_apply(c->d, &cs, &act, &outcome, &recipients, &message);
    if (rc != TL_OK) {
        store_case_clear(&cs);
        tl_buf_free(&message);
        write_fail(c);
        return;
    }
    tl_buf_appendf(&b, "{\"case\":\"%s\",\"action\":\"%s\",\"state\":\"%s\",\"previous_state\":"
                       "\"%s\",\"outcome\":\"%s\",\"recipients\":%lld,\"message\":\"",
                   cs.case_no, c->args[1], cs.state, was,
                   outcome == TL_CASE_DONE ? "done" : outcome == TL_CASE_BAD_STATE ? "bad_state"
                                                                                  : "no_area",
                   (long long)recipients);
    tl_buf_append_json(&b, tl_buf_str(&message), message.len);
    tl_buf_append_str(&b, "\"}");
    log_info("api", "event=case_action token=%s action=%s case=%s outcome=%d recipients=%lld",
             c->tok->name, c->args[1], cs.case_no, (int)outcome, (long long)recipients);
    store_case_clear(&cs);
    tl_buf_free(&message);
    write_end(c, outcome == TL_CASE_DONE ? 200 : 409, &b);
}

static void post_police(struct api_call *c)
{
    static const struct field_spec fields[] = {{"phone", F_STRING, true, 32},
                                               {"area", F_STRING, true, 100},
                                               {"pin", F_STRING, false, 6},
                                               {NULL, F_STRING, 0, 0}};
    char phone[TL_PHONE_MAX];
    const struct tl_area *area = NULL;
    char *cause = NULL;

    if (!body_check(c, fields))
        return;
    const char *pin = body_str(c, "pin");
    if (pin != NULL && !police_pin_valid(pin)) {
        api_error_field(c, 400, "a PIN is 4 to 6 digits", "pin");
        return;
    }
    if (!phone_arg(c, body_str(c, "phone"), "phone", phone) ||
        area_arg(c, body_str(c, "area"), "area") == NULL || !write_begin(c))
        return;
    struct tl_police_registration reg = {
        .phone = body_str(c, "phone"), .area = body_str(c, "area"), .pin = pin, .actor = c->actor};
    int rc = police_register(c->d->store, c->d->gz, c->d->cfg->country_code, &reg, phone, &area,
                             &cause);
    free(cause);
    if (rc != TL_OK) {
        write_fail(c);
        return;
    }
    struct tl_buf b = {0};
    tl_buf_appendf(&b, "{\"phone\":\"%s\",\"area\":{\"code\":\"", phone);
    tl_buf_append_json(&b, area->code, strlen(area->code));
    tl_buf_append_str(&b, "\",\"name\":\"");
    tl_buf_append_json(&b, area->name_en, strlen(area->name_en));
    tl_buf_appendf(&b, "\"},\"has_pin\":%s}", pin ? "true" : "false");
    write_end(c, 201, &b);
}

static void delete_police(struct api_call *c)
{
    char phone[TL_PHONE_MAX];

    if (!phone_arg(c, c->args[0], "phone", phone) || !write_begin(c))
        return;
    int64_t n = police_deregister(c->d->store, phone, c->actor);
    if (n < 0) {
        write_fail(c);
        return;
    }
    if (n == 0) {
        write_refuse(c, 404, "no registration for that number");
        return;
    }
    struct tl_buf b = {0};
    tl_buf_appendf(&b, "{\"phone\":\"%s\",\"removed\":%lld}", phone, (long long)n);
    write_end(c, 200, &b);
}

static void post_police_unlock(struct api_call *c)
{
    char phone[TL_PHONE_MAX];

    if (c->body != NULL) {
        static const struct field_spec none[] = {{NULL, F_STRING, 0, 0}};
        if (!body_check(c, none))
            return;
    }
    if (!phone_arg(c, c->args[0], "phone", phone) || !write_begin(c))
        return;
    int64_t n = police_unlock(c->d->store, phone);
    if (n < 0 || store_audit(c->d->store, c->actor, "police unlock", 0, n > 0 ? "ok" : "nothing locked",
                             NULL, clock_now()) != TL_OK) {
        write_fail(c);
        return;
    }
    struct tl_buf b = {0};
    tl_buf_appendf(&b, "{\"phone\":\"%s\",\"cleared\":%lld}", phone, (long long)n);
    write_end(c, 200, &b);
}

static void post_block(struct api_call *c)
{
    static const struct field_spec fields[] = {
        {"phone", F_STRING, true, 32}, {"reason", F_STRING, false, 160}, {NULL, F_STRING, 0, 0}};
    char phone[TL_PHONE_MAX];

    if (!body_check(c, fields) || !phone_arg(c, body_str(c, "phone"), "phone", phone) ||
        !write_begin(c))
        return;
    int64_t now = clock_now();
    const char *reason = body_str(c, "reason");
    if (store_block(c->d->store, phone, reason, now) != TL_OK ||
        store_audit(c->d->store, c->actor, "block", 0, "ok", reason, now) != TL_OK) {
        write_fail(c);
        return;
    }
    char masked[LOG_PHONE_BUFSZ];
    log_info("api", "event=blocked token=%s phone=%s", c->tok->name, log_phone(phone, masked));
    struct tl_buf b = {0};
    tl_buf_appendf(&b, "{\"phone\":\"%s\",\"blocked\":true}", phone);
    write_end(c, 201, &b);
}

static void delete_block(struct api_call *c)
{
    char phone[TL_PHONE_MAX];

    if (!phone_arg(c, c->args[0], "phone", phone) || !write_begin(c))
        return;
    int64_t n = store_unblock(c->d->store, phone);
    if (n < 0 || (n > 0 && store_audit(c->d->store, c->actor, "unblock", 0, "ok", NULL,
                                       clock_now()) != TL_OK)) {
        write_fail(c);
        return;
    }
    if (n == 0) {
        write_refuse(c, 404, "that number is not blocked");
        return;
    }
    struct tl_buf b = {0};
    tl_buf_appendf(&b, "{\"phone\":\"%s\",\"blocked\":false}", phone);
    write_end(c, 200, &b);
}

static void post_resend(struct api_call *c)
{
    char *end;
    errno = 0;
    long long id = strtoll(c->args[0], &end, 10);
    char state[16] = "";

    if (c->args[0][0] == '\0' || *end != '\0' || errno != 0 || id <= 0) {
        api_error_field(c, 400, "an outbox id is a positive whole number", "id");
        return;
    }
    if (c->body != NULL) {
        static const struct field_spec none[] = {{NULL, F_STRING, 0, 0}};
        if (!body_check(c, none))
            return;
    }
    if (!write_begin(c))
        return;
    int64_t now = clock_now();
    int rc = store_api_resend(c->d->store, id, now, state);
    if (rc == TL_ERR_NOT_FOUND) {
        write_refuse(c, 404, "no such outbox message");
        return;
    }
    if (rc == TL_ERR_BUSY) {
        char msg[96];
        snprintf(msg, sizeof(msg), "a %s message is not resent (only failed or expired)", state);
        write_refuse(c, 409, msg);
        return;
    }
    char detail[32];
    snprintf(detail, sizeof(detail), "outbox %lld", id);
    if (rc != TL_OK || store_audit(c->d->store, c->actor, "resend", 0, "ok", detail, now) != TL_OK) {
        write_fail(c);
        return;
    }
    struct tl_buf b = {0};
    tl_buf_appendf(&b, "{\"id\":%lld,\"previous_state\":\"%s\",\"state\":\"queued\"}", id, state);
    write_end(c, 200, &b);
}

/* ---- the route table ---- */

struct api_route_impl {
    api_handler handler;
    bool writes;        /* may take a JSON body and carry an Idempotency-Key */
    bool body_required; /* a POST whose body must be a JSON object */
};

const struct tl_api_route api_routes[] = {
    {"GET", "me", TL_ROLE_VIEWER},
    {"GET", "cases", TL_ROLE_VIEWER},
    {"GET", "cases/{case}", TL_ROLE_VIEWER},
    {"POST", "cases/{case}/{action}", TL_ROLE_OPERATOR},
    {"GET", "subscribers", TL_ROLE_VIEWER},
    {"GET", "subscribers/{phone}", TL_ROLE_VIEWER},
    {"GET", "police", TL_ROLE_VIEWER},
    {"POST", "police", TL_ROLE_OPERATOR},
    {"DELETE", "police/{phone}", TL_ROLE_OPERATOR},
    {"POST", "police/{phone}/unlock", TL_ROLE_OPERATOR},
    {"GET", "blocks", TL_ROLE_OPERATOR},
    {"POST", "blocks", TL_ROLE_OPERATOR},
    {"DELETE", "blocks/{phone}", TL_ROLE_OPERATOR},
    {"POST", "outbox/{id}/resend", TL_ROLE_OPERATOR},
    {"GET", "audit", TL_ROLE_OPERATOR},
    {"GET", "channels", TL_ROLE_VIEWER},
    {"GET", "stats", TL_ROLE_VIEWER},
    {NULL, NULL, TL_ROLE_VIEWER},
};
/* Parallel to api_routes. */
static const struct api_route_impl api_impls[] = {
    {get_me, false, false},
    {get_cases, false, false},
    {get_case, false, false},
    {post_case_action, true, false}, /* VERIFY needs nothing: {} or no body */
    {get_subscriber_counts, false, false},
    {get_subscriber, false, false},
    {get_police, false, false},
    {post_police, true, true},
    {delete_police, true, false},
    {post_police_unlock, true, false},
    {get_blocks, false, false},
    {post_block, true, true},
    {delete_block, true, false},
    {post_resend, true, false},
    {get_audit, false, false},
    {get_channels, false, false},
    {get_stats, false, false},
};
_Static_assert(sizeof(api_impls) / sizeof(api_impls[0]) + 1 ==
                   sizeof(api_routes) / sizeof(api_routes[0]),
               "api_impls[] has one entry per route of api_routes[]");

/* Does pattern match the path's segments? Fills c->args with the {…} ones. */
static bool pattern_match(struct api_call *c, const char *pattern)
{
    size_t i = 0, nargs = 0;
    const char *p = pattern;

    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (i >= c->nsegs)
            return false;
        if (p[0] == '{')
            c->args[nargs++] = c->segs[i];
        else if (strlen(c->segs[i]) != len || memcmp(c->segs[i], p, len) != 0)
            return false;
        i++;
        p += len + (slash ? 1 : 0);
    }
    return i == c->nsegs;
}

/* Splits rest into segments (each URL-decoded, non-empty); false when there are too many. */
static bool split_path(struct api_call *c, const char *rest)
{
    const char *p = rest;

    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || c->nsegs == API_MAX_SEGMENTS)
            return false;
        char *raw = xstrndup(p, len);
        char *dec = evhttp_uridecode(raw, 0, NULL);
        free(raw);
        if (dec == NULL || !tl_utf8_valid(dec, strlen(dec))) {
            free(dec);
            return false;
        }
        c->segs[c->nsegs++] = dec;
        p += len + (slash ? 1 : 0);
    }
    return c->nsegs > 0;
}

static void call_free(struct api_call *c)
{
    for (size_t i = 0; i < c->nsegs; i++)
        free(c->segs[i]);
    free(c->path);
    cJSON_Delete(c->body);
    evhttp_clear_headers(&c->query);
}

void api_cb(struct tl_daemon *d, struct evhttp_request *req, const char *rest)
{
    struct api_call c;
    const struct tl_api_route *route = NULL;
    const struct api_route_impl *impl = NULL;
    struct tl_buf allow = {0};
    const char *why = NULL;

    memset(&c, 0, sizeof(c));
    TAILQ_INIT(&c.query);
    c.d = d;
    c.req = req;
    c.method = http_method_name(evhttp_request_get_command(req));
    c.path = xasprintf(API_PREFIX "%s", rest);
    if (!split_path(&c, rest)) {
        api_error(&c, 404, "not found");
        goto out;
    }
    for (size_t i = 0; api_routes[i].method != NULL; i++) {
        if (!pattern_match(&c, api_routes[i].pattern))
            continue;
        if (allow.len)
            tl_buf_append_str(&allow, ", ");
        tl_buf_append_str(&allow, api_routes[i].method);
        if (route == NULL && strcmp(api_routes[i].method, c.method) == 0) {
            route = &api_routes[i];
            impl = &api_impls[i];
        }
    }
    if (route == NULL) {
        if (allow.len) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", tl_buf_str(&allow));
            api_error(&c, 405, "method not allowed");
        } else {
            api_error(&c, 404, "not found");
        }
        goto out;
    }
    pattern_match(&c, route->pattern); /* the args of the chosen route */
    /* Who asks comes before anything about what is asked. */
    c.tok = authenticate(d, req, &why);
    if (c.tok == NULL) {
        refuse(&c, 401, "api:?", why);
        goto out;
    }
    snprintf(c.actor, sizeof(c.actor), "api:%s", c.tok->name);
    if (c.tok->role < route->role) {
        refuse(&c, 403, c.actor, "role");
        goto out;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (q != NULL && evhttp_parse_query_str(q, &c.query) != 0) {
        api_error(&c, 400, "malformed query string");
        goto out;
    }
    if (impl->writes) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        const char *key =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Idempotency-Key");
        if (key != NULL) {
            size_t kl = strlen(key);
            bool ok = kl >= 1 && kl <= 128;
            for (size_t i = 0; ok && i < kl; i++)
                ok = key[i] > ' ' && key[i] < 0x7f;
            if (!ok) {
                api_error_field(&c, 400, "1-128 printable characters", "Idempotency-Key");
                goto out;
            }
            c.idem_key = key;
        }
        if (len > 0) {
            const char *bytes = (const char *)evbuffer_pullup(in, -1);
            if (!tl_utf8_valid(bytes, len)) {
                api_error(&c, 400, "the body is not valid UTF-8");
                goto out;
            }
            c.body = cJSON_ParseWithLength(bytes, len);
            if (c.body == NULL) {
                api_error(&c, 400, "the body is not valid JSON");
                goto out;
            }
        } else if (impl->body_required) {
            api_error(&c, 400, "the body must be a JSON object");
            goto out;
        }
    }
    impl->handler(&c);
out:
    tl_buf_free(&allow);
    call_free(&c);
}

/* ---- the console ---- */

void api_console_cb(struct tl_daemon *d, struct evhttp_request *req, const char *rest)
{
    const char *name = rest && rest[0] ? rest : "index.html";
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);

    if (rest == NULL) { /* GET /console */
        evhttp_add_header(out, "Location", "/console/");
        http_reply(req, 301, NULL, NULL, 0);
        return;
    }
    for (size_t i = 0; i < sizeof(d->api->files) / sizeof(d->api->files[0]); i++) {
        const struct console_file *f = &d->api->files[i];
        if (f->data != NULL && strcmp(f->name, name) == 0) {
            evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
            evhttp_add_header(out, "Content-Security-Policy",
                              "default-src 'self'; frame-ancestors 'none'; base-uri 'none'");
            evhttp_add_header(out, "Referrer-Policy", "no-referrer");
            http_reply(req, 200, f->content_type, f->data, f->len);
            return;
        }
    }
    http_reply_error(req, 404, "not found");
}

static const char *area_ur_cb(void *ctx, const char *code)
{
    const struct tl_area *a = gazetteer_by_code(ctx, code);
    return a ? a->name_ur : NULL;
}

int api_new(struct tl_daemon *d, struct tl_api **out, char **cause)
{
    struct tl_api *api = xcalloc(1, sizeof(*api));
    struct tl_store *reader_store = NULL;
    static const struct console_file names[] = {
        {"index.html", "text/html; charset=utf-8", NULL, 0},
        {"app.js", "text/javascript; charset=utf-8", NULL, 0},
        {"app.css", "text/css; charset=utf-8", NULL, 0},
    };

    api->digests = xcalloc(d->cfg->ntokens ? d->cfg->ntokens : 1, sizeof(*api->digests));
    for (size_t i = 0; i < d->cfg->ntokens; i++)
        secret_digest(d->cfg->tokens[i].secret, strlen(d->cfg->tokens[i].secret),
                      api->digests[i]);
    if (store_api_open_reader(d->cfg->store_where, d->cfg->busy_timeout_ms, area_ur_cb, d->gz,
                              &reader_store, cause) != TL_OK ||
        reader_start(d->base, reader_store, &api->reader, cause) != TL_OK) {
        free(api->digests);
        free(api);
        return TL_ERR_STORE;
    }
    size_t loaded = 0;
    char *console_dir = config_console_dir(d->cfg); /* NULL: no console */
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        api->files[i] = names[i];
        if (console_dir == NULL)
            continue;
        char *path = xasprintf("%s/%s", console_dir, names[i].name);
        struct tl_buf b = {0};
        if (tl_buf_append_file(&b, path, 4 * 1024 * 1024) == TL_OK) {
            api->files[i].len = b.len;
            api->files[i].data = tl_buf_steal(&b);
            loaded++;
        }
        tl_buf_free(&b);
        free(path);
    }
    if (console_dir != NULL && loaded < 3)
        log_warn("api", "event=console_incomplete dir=%s files=%zu", console_dir, loaded);
    free(console_dir);
    log_info("api", "event=ready tokens=%zu console=%s", d->cfg->ntokens,
             loaded == 3 ? "yes" : "no");
    *out = api;
    return TL_OK;
}

void api_free(struct tl_api *api)
{
    if (api == NULL)
        return;
    reader_free(api->reader);
    for (size_t i = 0; i < sizeof(api->files) / sizeof(api->files[0]); i++)
        free(api->files[i].data);
    free(api->digests);
    free(api);
}

void api_tick(struct tl_daemon *d)
{
    int64_t now = clock_now();

    if (d->api == NULL || now - d->api->last_prune < 60)
        return;
    d->api->last_prune = now;
    if (store_api_idem_prune(d->store, now - API_IDEM_KEEP_S) < 0)
        log_warn("api", "event=idempotency_prune_failed detail=\"%s\"", store_errmsg(d->store));
}

int api_routes_main(void)
{
    for (size_t i = 0; api_routes[i].method != NULL; i++)
        printf("%s " API_PREFIX "%s %s\n", api_routes[i].method, api_routes[i].pattern,
               config_role_name(api_routes[i].role));
    return 0;
}
