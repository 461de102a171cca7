/*
 * provider.h — the interface every aggregator translator implements.
 *
 * A provider is a pure translator, like a Kannel smsc module or a courier
 * handler: bytes of a callback in, structs out; messages out, a *description*
 * of the HTTP request to make; the aggregator's answer in, a per-recipient
 * result out. A provider never opens a socket, never calls curl, never touches
 * the store and never logs: the gateway does all of that, so each provider is
 * proven correct from fixture files alone.
 *
 * Ownership: everything a provider fills in (strings in tl_inbound_sms,
 * tl_dlr, tl_ussd_step, tl_http_reply, tl_http_out, tl_send_outcome) is owned
 * by the caller afterwards and released with the matching *_clear() below.
 * Inputs (const pointers) are borrowed for the duration of the call.
 *
 * Slots: MUST = every provider fills it; MAY = NULL when the aggregator has
 * no such thing (the gateway answers 404 for that route on that channel).
 */
#ifndef TALAASH_PROVIDER_H
#define TALAASH_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* One configured aggregator account: a [channel NAME] section. */
struct tl_channel_conf {
    const char *name;        /* the NAME of [channel NAME]; also the route /sms/NAME */
    const char *provider;    /* provider name: africastalking, twilio, kannel, generic, console */
    const char *base_url;    /* aggregator API root; provider's production URL when unset */
    const char *username;    /* AT username, Kannel sendsms user */
    const char *api_key;     /* AT apiKey */
    const char *account_sid; /* Twilio */
    const char *auth_token;  /* Twilio: signs callbacks and authenticates sends */
    const char *password;    /* Kannel sendsms password */
    const char *secret;      /* generic: HMAC key; kannel/AT: the secret path token */
    const char *token;       /* generic: bearer token for outbound requests */
    const char *sender;      /* our short code or sender id ("from") */
    const char *allow_ips;   /* comma-separated addresses/CIDRs allowed to call us; NULL = any */
    const char *insecure;    /* console: "yes" = allowed on a listen address beyond loopback */
    const char *public_url;  /* [server] public_url: how aggregators reach us (signatures, dlr-url) */
    double rate;             /* messages per second the account may send */
    int batch_size;          /* recipients per request (clamped to the provider's batch_max) */
    int concurrency;         /* requests in flight at once (the sender's cap) */
    int max_parts;           /* Kannel: SMS parts its sendsms-user carries (max-messages) */
};

/* An inbound callback exactly as the gateway received it. */
struct tl_header {
    const char *name;
    const char *value;
};

struct tl_http_in {
    const char *method;       /* "POST", "GET" */
    const char *path;         /* request path without the query, e.g. "/sms/at" */
    const char *query;        /* raw query string without '?', or NULL */
    const char *body;         /* raw body, not NUL-terminated necessarily */
    size_t body_len;
    const struct tl_header *headers;
    size_t nheaders;
    const char *peer_ip;      /* textual address of the TCP peer */
};

/* Case-insensitive header lookup; NULL when absent. */
const char *tl_http_in_header(const struct tl_http_in *in, const char *name);

/* A mobile-originated SMS. Text is valid UTF-8 (the provider checks). */
struct tl_inbound_sms {
    char *provider_id;  /* the aggregator's message id: the dedupe key */
    char *from;         /* sender as the aggregator gave it (the gateway normalises) */
    char *to;           /* our number / short code */
    char *text;
    size_t text_len;
    char *link_id;      /* AT linkId to echo back, or NULL */
    int64_t sent_at;    /* unix seconds from the aggregator's date, 0 if none */
    bool local_id;      /* provider_id was made here: the callback carried none (no dedupe) */
};

/* Our outbox states that a delivery report can move a message to. */
enum tl_dlr_state {
    TL_DLR_UNKNOWN = 0,   /* status value we do not know: stored raw, logged, answered 200 */
    TL_DLR_ACCEPTED = 1,  /* accepted by the aggregator/SMSC, not yet final (sent, submitted, buffered, queued) */
    TL_DLR_DELIVERED = 2, /* final: on the handset */
    TL_DLR_FAILED = 3,    /* final: rejected, failed, undelivered */
    TL_DLR_EXPIRED = 4,   /* final: validity ran out */
};

struct tl_dlr {
    char *provider_id;        /* matches the id the send answer gave us */
    char *status_raw;         /* the aggregator's own status text, kept for the record */
    enum tl_dlr_state state;
    char *error;              /* failure reason / error code, or NULL */
    char *phone;              /* recipient if given, or NULL */
    bool opted_out;           /* the recipient opted out (e.g. Twilio 21610) */
    int64_t our_id;           /* outbox id when the callback carries ours (Kannel dlr-url), else 0 */
};

/* One step of a USSD session. */
struct tl_ussd_step {
    char *session_id;
    char *phone;
    char *service_code; /* or NULL */
    char *network;      /* or NULL */
    char *input;        /* AT: every input so far joined by '*'; generic: the latest input */
    bool input_is_path; /* true when input holds the whole '*'-joined history */
};

/* What the gateway answers to a callback. */
struct tl_http_reply {
    int status;                /* HTTP status, e.g. 200 */
    const char *content_type;  /* static string */
    struct tl_buf body;
};

/* One outgoing message, as the sender hands it to build_send. */
struct tl_out_msg {
    int64_t id;        /* outbox id (our reference, e.g. in Kannel's dlr-url) */
    const char *to;    /* E.164 */
    const char *text;  /* UTF-8 */
    bool ucs2;         /* text needs UCS-2 (not GSM-7) */
};

#define TL_HTTP_OUT_MAX_HEADERS 8

/* The HTTP request a provider wants made. url == NULL: nothing to send (console). */
struct tl_http_out {
    char *method; /* "POST" or "GET" */
    char *url;
    struct {
        char *name;
        char *value;
    } headers[TL_HTTP_OUT_MAX_HEADERS];
    size_t nheaders;
    struct tl_buf body;
    char *userpwd; /* "user:password" for HTTP basic auth, or NULL */
};

enum tl_send_result {
    TL_SEND_SENT = 0,      /* accepted; provider_id set when the aggregator gave one */
    TL_SEND_TEMPFAIL = 1,  /* retry later with backoff (timeouts, 5xx, 429, throttling) */
    TL_SEND_PERMFAIL = 2,  /* do not retry (invalid number, 4xx) */
    TL_SEND_OPTED_OUT = 3, /* permanent, and the number must be marked opted out */
};

struct tl_send_outcome {
    enum tl_send_result result;
    char *provider_id; /* or NULL */
    char *error;       /* short reason for the log and the outbox row, or NULL */
};

struct tl_provider {
    const char *name;
    int batch_max;                /* most recipients one request may carry (1 = one each) */
    const char *default_base_url; /* production API root */

    /* MUST: TL_OK, or TL_ERR_AUTH with *cause set (the gateway answers 403). */
    int (*authenticate)(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                        char **cause);
    /* MAY: TL_OK, TL_ERR_MALFORMED / TL_ERR_MISSING_FIELD / TL_ERR_BAD_UTF8 (400). */
    int (*parse_sms)(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                     struct tl_inbound_sms *out, char **cause);
    /* MAY: as parse_sms; an unknown status is TL_OK with state TL_DLR_UNKNOWN. */
    int (*parse_dlr)(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                     struct tl_dlr *out, char **cause);
    /* MAY: as parse_sms. */
    int (*parse_ussd)(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                      struct tl_ussd_step *out, char **cause);
    /* MUST: the answer to an SMS callback; reply_text NULL = nothing to say. */
    void (*render_sms_reply)(const struct tl_channel_conf *ch, const struct tl_inbound_sms *sms,
                             const char *reply_text, struct tl_http_reply *out);
    /* MUST: the answer to a DLR callback (usually 200 and an empty body). */
    void (*render_dlr_reply)(const struct tl_channel_conf *ch, struct tl_http_reply *out);
    /* MAY (with parse_ussd): a screen; end = last screen of the session. */
    void (*render_ussd_reply)(const struct tl_channel_conf *ch, const char *text, bool end,
                              struct tl_http_reply *out);
    /*
     * MUST: the request sending msgs[0..n) (1 <= n <= batch_max; all with the
     * same text when n > 1). TL_OK or TL_ERR_INVALID with *cause.
     */
    int (*build_send)(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs, size_t n,
                      struct tl_http_out *out, char **cause);
    /*
     * MUST: reads the aggregator's answer to build_send's request and fills
     * outcomes[0..n), one per message in the same order. http_status 0 means
     * no answer (connect error, timeout, dropped connection) and is a
     * temporary failure for every message.
     */
    void (*classify_send)(const struct tl_channel_conf *ch, const struct tl_out_msg *msgs,
                          size_t n, long http_status, const char *body, size_t body_len,
                          struct tl_send_outcome *outcomes);
};

/* The registry: NULL when no provider has that name. */
const struct tl_provider *provider_find(const char *name);
/* All providers, NULL-terminated (for listing and tests). */
extern const struct tl_provider *const provider_table[];

/* Recipients one request may carry on this channel: batch_max clamped by ch->batch_size (>= 1). */
size_t provider_batch_limit(const struct tl_provider *p, const struct tl_channel_conf *ch);
/*
 * Checks an allow_ips value (comma-separated IPv4/IPv6 addresses or CIDRs;
 * NULL or "" = any): true when valid, else false with *cause (for check-config).
 */
bool provider_allow_ips_valid(const char *list, char **cause);

void tl_inbound_sms_clear(struct tl_inbound_sms *m);
void tl_dlr_clear(struct tl_dlr *d);
void tl_ussd_step_clear(struct tl_ussd_step *u);
void tl_http_reply_clear(struct tl_http_reply *r);
void tl_http_out_clear(struct tl_http_out *o);
void tl_send_outcome_clear(struct tl_send_outcome *o);

#endif
