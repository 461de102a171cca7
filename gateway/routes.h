/*
 * routes.h — the HTTP surface of SPEC.md §7: which path and method go to
 * which handler. The table ends with a row whose path is NULL.
 */
#ifndef TALAASH_ROUTES_H
#define TALAASH_ROUTES_H

#include "gateway/http.h"

extern const struct tl_route http_routes[];

#endif
