/*
 * callbacks.h — the aggregator callback routes of SPEC.md §7:
 * POST /sms/{channel}, /dlr/{channel} (also GET, for Kannel), /ussd/{channel}.
 *
 * Every callback: find the channel (404), authenticate (403 + log line),
 * parse (400 + log line), commit what it carries to the store (503 when the
 * store fails, so the aggregator retries), and only then answer 2xx in the
 * aggregator's own format.
 */
#ifndef TALAASH_CALLBACKS_H
#define TALAASH_CALLBACKS_H

struct evhttp_request;
struct tl_daemon;

void callbacks_sms_cb(struct tl_daemon *d, struct evhttp_request *req, const char *channel);
void callbacks_dlr_cb(struct tl_daemon *d, struct evhttp_request *req, const char *channel);
void callbacks_ussd_cb(struct tl_daemon *d, struct evhttp_request *req, const char *channel);

#endif
