/*
 * feed.h — the public feed routes of SPEC §7: GET /alerts.atom (Atom 1.0
 * of the public cases) and GET /alerts/{case}.xml (one CAP 1.2 message).
 * No token: everything they show is what the alerts themselves told the
 * public. Conditional GET with ETag / If-None-Match and Last-Modified /
 * If-Modified-Since (304), cacheable for FEED_MAX_AGE_S.
 */
#ifndef TALAASH_FEED_H
#define TALAASH_FEED_H

struct evhttp_request;
struct tl_daemon;

/* How long an ended case stays in the feed (as its Cancel). */
#define FEED_WINDOW_S 86400
#define FEED_MAX_AGE_S 60

void feed_atom_cb(struct tl_daemon *d, struct evhttp_request *req, const char *param);
void feed_cap_cb(struct tl_daemon *d, struct evhttp_request *req, const char *param);

#endif
