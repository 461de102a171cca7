/*
 * cap.h — the public feed's documents: one OASIS CAP 1.2 message per
 * public case, and the Atom 1.0 feed (RFC 4287) that lists them. Written
 * with libxml2's xmlwriter, so escaping and well-formedness are the
 * library's, not string pasting.
 *
 * A case's messages follow its waves (store_feed.h): the first alert is
 * msgType Alert; each escalation an Update of the ones before; the end
 * (FOUND, CLOSE, CANCEL) a Cancel of them all — <references> lists the
 * earlier messages as "sender,identifier,sent". The document served is the
 * case's latest message. What is written comes from the waves' alert texts
 * (already free of the reporter's number; numbers are masked once more
 * here all the same), the area and its radius: no reporter, no sighting.
 */
#ifndef TALAASH_CAP_H
#define TALAASH_CAP_H

#include <stddef.h>
#include <stdint.h>

struct tl_buf;
struct tl_gazetteer;
struct tl_feed_case;

struct tl_cap_ctx {
    const char *sender;   /* CAP <sender>: "talaash@HOST" */
    const char *base_url; /* "http://host:port": links of the Atom feed */
    const char *status;   /* "Actual", or "Exercise" for verification = auto (drills) */
    const char *event_en; /* [alerts] cap_event */
    const char *event_ur; /* its Urdu text */
    const char *contact;  /* the hotline */
    const struct tl_gazetteer *gz;
};

/* When the case's current message was sent (unix seconds). */
int64_t cap_case_updated(const struct tl_feed_case *c);
/* The case's current CAP message into out. TL_OK, or TL_ERR_IO when libxml2 fails. */
int cap_write_message(const struct tl_cap_ctx *x, const struct tl_feed_case *c,
                      struct tl_buf *out);
/* The Atom feed of cases[0..n) updated at `updated` (unix seconds) into out. */
int cap_write_atom(const struct tl_cap_ctx *x, const struct tl_feed_case *cases, size_t n,
                   int64_t updated, struct tl_buf *out);

#endif
