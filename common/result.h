/*
 * result.h — the project's one set of result codes.
 *
 * Functions that can fail return enum tl_result; TL_OK is 0. Numbers are
 * fixed forever (they appear in logs and tests): add new codes at the end,
 * never renumber. Detail for humans travels separately through an optional
 * `char **cause` that the caller frees.
 */
#ifndef TALAASH_RESULT_H
#define TALAASH_RESULT_H

enum tl_result {
    TL_OK = 0,
    TL_ERR_MALFORMED = 1,      /* input does not have the expected form */
    TL_ERR_TOO_LARGE = 2,      /* input exceeds a limit */
    TL_ERR_BAD_UTF8 = 3,       /* text is not valid UTF-8 */
    TL_ERR_AUTH = 4,           /* signature, token or source address refused */
    TL_ERR_NOT_FOUND = 5,      /* no such record / route / channel */
    TL_ERR_STORE = 6,          /* the store failed (retryable by the peer) */
    TL_ERR_CONFIG = 7,         /* configuration is invalid */
    TL_ERR_UNSUPPORTED = 8,    /* the operation does not apply here */
    TL_ERR_IO = 9,             /* an operating-system call failed */
    TL_ERR_DUPLICATE = 10,     /* already seen; acknowledged, not processed again */
    TL_ERR_MISSING_FIELD = 11, /* a required field is absent */
    TL_ERR_UNKNOWN_STATUS = 12,/* a status value we do not know */
    TL_ERR_INVALID = 13,       /* a value is out of range or not allowed */
    TL_ERR_BUSY = 14,          /* try again later */
    TL_ERR_SCHEMA = 15,        /* store schema is newer than this binary */
};

/* A short English phrase for a code ("malformed input"); never NULL. */
const char *tl_strerror(int result);

#endif
