/*
 * api.h — the operator JSON API, /api/v1/… (SPEC.md §1 operator, §7), and
 * the web console's files under /console/.
 *
 * A thin surface over the domain and the store (STYLE.md "New surfaces are
 * thin"): each handler authenticates the bearer token, checks its role,
 * validates the JSON it was sent, calls the same domain function the SMS
 * command calls (cases_apply, police_register, …) and renders. Reads run
 * on the reader thread (api_reader.h); writes join the callbacks' group
 * commit (group.h), so an answer is sent only once what it did is
 * committed. docs/api.yaml describes every route; a test checks it against
 * api_routes[].
 */
#ifndef TALAASH_API_H
#define TALAASH_API_H

#include "gateway/config.h"

struct evhttp_request;
struct tl_daemon;
struct tl_api;

/* Starts the reader thread and loads the console's files. TL_OK or an error with *cause. */
int api_new(struct tl_daemon *d, struct tl_api **out, char **cause);
/* Answers what the reader still holds, stops it. */
void api_free(struct tl_api *api);
/* Once a minute or so: forgets idempotency answers older than a day. */
void api_tick(struct tl_daemon *d);

/* GET|POST|DELETE /api/v1/<rest>. */
void api_cb(struct tl_daemon *d, struct evhttp_request *req, const char *rest);
/* GET /console/<file> ("" = index.html), GET /console → /console/. */
void api_console_cb(struct tl_daemon *d, struct evhttp_request *req, const char *rest);

/* One API route, for the router inside api_cb and the OpenAPI test. */
struct tl_api_route {
    const char *method;
    const char *pattern; /* "cases/{case}/{action}": {…} is one segment */
    enum tl_role role;   /* the least role allowed */
};
extern const struct tl_api_route api_routes[];
/* `talaash api-routes`: prints "METHOD /api/v1/PATTERN ROLE" lines. */
int api_routes_main(void);

#endif
