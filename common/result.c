/*
 * result.c — names of the result codes in result.h.
 */
#include "common/result.h"

const char *tl_strerror(int result)
{
    switch (result) {
    case TL_OK:
        return "ok";
    case TL_ERR_MALFORMED:
        return "malformed input";
    case TL_ERR_TOO_LARGE:
        return "too large";
    case TL_ERR_BAD_UTF8:
        return "invalid UTF-8";
    case TL_ERR_AUTH:
        return "authentication failed";
    case TL_ERR_NOT_FOUND:
        return "not found";
    case TL_ERR_STORE:
        return "store error";
    case TL_ERR_CONFIG:
        return "configuration error";
    case TL_ERR_UNSUPPORTED:
        return "unsupported";
    case TL_ERR_IO:
        return "i/o error";
    case TL_ERR_DUPLICATE:
        return "duplicate";
    case TL_ERR_MISSING_FIELD:
        return "missing field";
    case TL_ERR_UNKNOWN_STATUS:
        return "unknown status";
    case TL_ERR_INVALID:
        return "invalid value";
    case TL_ERR_BUSY:
        return "busy";
    case TL_ERR_SCHEMA:
        return "store schema too new";
    }
    return "unknown error";
}
