/*
 * buf.h — a growable byte buffer, always NUL-terminated.
 *
 * Used wherever text is assembled piece by piece: HTTP bodies, JSON, log lines,
 * form encoding. The buffer owns its memory; tl_buf_free() releases it and
 * leaves an empty buffer. A zeroed struct is a valid empty buffer.
 */
#ifndef TALAASH_BUF_H
#define TALAASH_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct tl_buf {
    char *data; /* NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
};

void tl_buf_append(struct tl_buf *b, const void *p, size_t n);
void tl_buf_append_str(struct tl_buf *b, const char *s);
void tl_buf_append_char(struct tl_buf *b, char c);
__attribute__((format(printf, 2, 3))) void tl_buf_appendf(struct tl_buf *b, const char *fmt, ...);
/* application/x-www-form-urlencoded encoding of n bytes (space as '+'). */
void tl_buf_append_formenc(struct tl_buf *b, const char *p, size_t n);
/* RFC 3986 percent-encoding of n bytes (unreserved kept, space as %20). */
void tl_buf_append_urlenc(struct tl_buf *b, const char *p, size_t n);
/*
 * JSON string body (without quotes) for p[0..n): valid UTF-8 passes through,
 * controls and each byte of an invalid sequence become \u00XX. Returns false
 * when some byte was invalid UTF-8 (the output is still valid JSON).
 */
bool tl_buf_append_json(struct tl_buf *b, const char *p, size_t n);
/* XML text/attribute escaping (&, <, >, ", '). */
void tl_buf_append_xml(struct tl_buf *b, const char *p, size_t n);
/*
 * Appends the whole file at path: TL_OK; TL_ERR_IO (errno says why) when it
 * cannot be opened or read; TL_ERR_TOO_LARGE when it holds more than max
 * bytes (what was read stays in b).
 */
int tl_buf_append_file(struct tl_buf *b, const char *path, size_t max);
/* Returns the contents (never NULL: "" when empty); the buffer still owns it. */
const char *tl_buf_str(const struct tl_buf *b);
/* Hands the contents to the caller (who frees them) and empties the buffer. */
char *tl_buf_steal(struct tl_buf *b);
void tl_buf_reset(struct tl_buf *b);
void tl_buf_free(struct tl_buf *b);

#endif
