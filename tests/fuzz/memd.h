/*
 * memd.h — an in-memory gateway for the fuzz harnesses that go through the
 * daemon's own code (fuzz_ussd, fuzz_callbacks) and their replay driver: the
 * real config reader, gazetteer, grammar, store (SQLite ":memory:") and
 * group commit, with no listener, no sender and no network.
 *
 * memd.c also stands in for gateway/http.c (it defines every function of
 * http.h, so the linker takes these and never pulls http.o out of
 * libtalaash.a): a request is a struct memd_request the harness fills, and
 * the answer the callback code sends is recorded in it instead of written to
 * a socket. Everything above http.h — callbacks.c, group.c, commands, the
 * store — is the daemon's code, unchanged.
 *
 * The log goes to a temporary file, so a harness can check what it says
 * (memd_log_take). Each fuzz input runs inside memd_begin()/memd_end(): one outer store
 * transaction that memd_end rolls back, so every input starts from the same
 * empty store (the callbacks' group commits nest inside it as savepoints).
 */
#ifndef TALAASH_FUZZ_MEMD_H
#define TALAASH_FUZZ_MEMD_H

#include <stddef.h>

#include "common/buf.h"
#include "gateway/daemon.h"
#include "providers/provider.h"

/* The channels of the in-memory config, one per provider. */
#define MEMD_NCHANNELS 5
extern const char *const memd_channels[MEMD_NCHANNELS];

/* One callback request and, once answered, its answer. */
struct memd_request {
    struct tl_http_in in;
    int answered;     /* times an answer was sent (must end as exactly 1) */
    int status;
    struct tl_buf body;
};

/*
 * The daemon's log lines since the last call (all levels, in a deleted
 * temporary file), appended to out; the log is emptied.
 */
void memd_log_take(struct tl_buf *out);

/* Builds the daemon once (aborts when it cannot: the harness is broken). */
struct tl_daemon *memd_daemon(void);
void memd_begin(struct tl_daemon *d);
void memd_end(struct tl_daemon *d);
void memd_request_clear(struct memd_request *r);

#endif
