/*
 * providers.h — the inside of providers/: the five provider descriptors and
 * the helpers they share (like SQLite's btreeInt.h). The gateway includes
 * provider.h only; provider files and their tests include this.
 *
 * Everything here is pure: no sockets, no curl, no store, no logging. Every
 * helper that reads peer bytes takes (pointer, length) and never trusts a NUL.
 * Helpers that can fail return an enum tl_result and set *cause (when cause is
 * not NULL) to a short English reason that never contains a secret.
 */
#ifndef TALAASH_PROVIDERS_H
#define TALAASH_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/form.h"
#include "providers/provider.h"

extern const struct tl_provider provider_africastalking;
extern const struct tl_provider provider_twilio;
extern const struct tl_provider provider_kannel;
extern const struct tl_provider provider_generic;
extern const struct tl_provider provider_console;

/* Limits on what a peer may send us (anything larger is TL_ERR_TOO_LARGE). */
#define PROVIDER_BODY_MAX (64 * 1024) /* callback body, and query string */
#define PROVIDER_TEXT_MAX 1600        /* message text, in code points (Twilio's own cap) */
#define PROVIDER_ID_MAX 128           /* ids, phone numbers, codes, statuses: bytes */
#define PROVIDER_FORM_FIELDS 256      /* fields in one form or query */

/* How a value from a peer is checked (provider_check_value). */
enum provider_value {
    PROVIDER_VALUE_ID = 0,   /* 1..PROVIDER_ID_MAX bytes of UTF-8, no control characters */
    PROVIDER_VALUE_TEXT = 1, /* 0..PROVIDER_TEXT_MAX code points of UTF-8, no NUL */
};

/* Sets *cause (when cause != NULL) to a formatted message the caller frees. */
__attribute__((format(printf, 2, 3))) void provider_cause(char **cause, const char *fmt, ...);

/*
 * A fresh dedupe key for a message that came without an id:
 * "<prefix>-<unix ns>-<sequence>", unique within the process and across
 * restarts (caller frees).
 */
char *provider_local_id(const char *prefix);

/* True when a configuration string is set: not NULL and not "". */
bool provider_conf_set(const char *s);

/* Constant-time comparison (only the lengths may leak). */
bool provider_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* True when ip (textual IPv4/IPv6, IPv4-mapped IPv6 allowed) is in list. */
bool provider_ip_allowed(const char *list, const char *ip);

/*
 * Authenticity checks shared by several providers: TL_OK or TL_ERR_AUTH.
 * check_ip: when ch->allow_ips is set, in->peer_ip must be in it.
 * check_token: when ch->secret is set, the query must carry token=<secret>.
 */
int provider_check_ip(const struct tl_channel_conf *ch, const struct tl_http_in *in, char **cause);
int provider_check_token(const struct tl_channel_conf *ch, const struct tl_http_in *in,
                         char **cause);

/* Digests (OpenSSL libcrypto). */
void provider_hmac_sha1(const void *key, size_t keylen, const void *data, size_t len,
                        unsigned char out[20]);
void provider_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                          unsigned char out[32]);
void provider_sha256(const void *data, size_t len, unsigned char out[32]);

/* Base64, standard alphabet with padding. decode is strict: TL_OK or TL_ERR_MALFORMED. */
void provider_base64_encode(struct tl_buf *b, const void *p, size_t n);
int provider_base64_decode(const char *s, size_t n, struct tl_buf *out);
void provider_hex_lower(struct tl_buf *b, const void *p, size_t n);

/* Content-Type of the request is `type` (case-insensitive, parameters ignored). */
bool provider_content_type_is(const struct tl_http_in *in, const char *type);

/* Parse the body / the query as a form: TL_OK, TL_ERR_MALFORMED or TL_ERR_TOO_LARGE. */
int provider_form_body(const struct tl_http_in *in, struct tl_form *form, char **cause);
int provider_form_query(const struct tl_http_in *in, struct tl_form *form, char **cause);

/*
 * Checks one peer value of `kind` named `name` (for the cause):
 * TL_OK, TL_ERR_MISSING_FIELD (empty id), TL_ERR_TOO_LARGE, TL_ERR_BAD_UTF8,
 * TL_ERR_MALFORMED (NUL byte, control character in an id).
 */
int provider_check_value(const char *name, const char *v, size_t len, enum provider_value kind,
                         char **cause);
/*
 * Takes field `name` from form, checked as `kind`, into a new string *out.
 * Absent: TL_ERR_MISSING_FIELD when required, else TL_OK with *out = NULL
 * (an optional id-kind field that is present but empty also gives NULL).
 */
int provider_form_take(const struct tl_form *form, const char *name, enum provider_value kind,
                       bool required, char **out, size_t *outlen, char **cause);

/* Fills a reply; *out is overwritten, its previous contents are never read. */
void provider_reply(struct tl_http_reply *out, int status, const char *content_type,
                    const char *body, size_t len);
/* Adds a header to an outbound request (silently ignored past the maximum). */
void provider_out_header(struct tl_http_out *o, const char *name, const char *value);
/* ch->base_url when set, else def; without a trailing '/'. Caller frees. */
char *provider_base_url(const struct tl_channel_conf *ch, const char *def);

/* At most 120 printable ASCII bytes of a peer's answer, for error texts. Caller frees. */
char *provider_snippet(const char *p, size_t len);
/*
 * classify_send never reads what the caller left in outcomes[]: it starts by
 * zeroing them with this (the caller clears them afterwards).
 */
void provider_outcomes_init(struct tl_send_outcome *outcomes, size_t n);
/* Every outcome gets result and a copy of error (previous contents released). */
void provider_outcomes_all(struct tl_send_outcome *outcomes, size_t n, enum tl_send_result result,
                           const char *error);
/* Replaces one outcome. Takes ownership of provider_id and error. */
void provider_outcome_set(struct tl_send_outcome *o, enum tl_send_result result, char *provider_id,
                          char *error);

/* generic.c's JSON SMS reader, shared with console.c ({"id","from","to","text"}). */
int provider_generic_sms_json(const struct tl_http_in *in, struct tl_inbound_sms *out,
                              bool id_required, char **cause);

/*
 * A USSD step in Africa's Talking's form (sessionId, phoneNumber,
 * serviceCode, networkCode, text = the '*'-joined path), which the console
 * accepts too. TL_OK, or an error with out cleared.
 */
int provider_ussd_from_at_form(const struct tl_form *f, struct tl_ussd_step *out, char **cause);

/* Parses a decimal integer that fits in int64 (optional '-'); false otherwise. */
bool provider_parse_int64(const char *s, size_t len, int64_t *out);

#endif
