/*
 * buf.c — growable byte buffer and the text encodings built on it.
 */
#include "common/buf.h"
#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"

#include <stdbool.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void buf_reserve(struct tl_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len - 1)
        abort(); /* no buffer of ours is ever near this size */
    size_t need = b->len + extra + 1;

    if (need <= b->cap && b->data != NULL)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void tl_buf_append(struct tl_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tl_buf_append_str(struct tl_buf *b, const char *s)
{
    tl_buf_append(b, s, strlen(s));
}

void tl_buf_append_char(struct tl_buf *b, char c)
{
    tl_buf_append(b, &c, 1);
}

void tl_buf_appendf(struct tl_buf *b, const char *fmt, ...)
{
    va_list ap, aq;
    int n;

    va_start(ap, fmt);
    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, aq);
        b->len += (size_t)n;
    }
    va_end(aq);
}

static const char hexdigits[] = "0123456789ABCDEF";
static const char hexdigits_lower[] = "0123456789abcdef";

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

static void append_percent(struct tl_buf *b, unsigned char c)
{
    char e[3] = {'%', hexdigits[c >> 4], hexdigits[c & 15]};

    tl_buf_append(b, e, 3);
}

void tl_buf_append_formenc(struct tl_buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (is_unreserved(c))
            tl_buf_append_char(b, (char)c);
        else if (c == ' ')
            tl_buf_append_char(b, '+');
        else
            append_percent(b, c);
    }
}

void tl_buf_append_urlenc(struct tl_buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (is_unreserved(c))
            tl_buf_append_char(b, (char)c);
        else
            append_percent(b, c);
    }
}

static bool json_needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

bool tl_buf_append_json(struct tl_buf *b, const char *p, size_t n)
{
    bool clean = true;
    size_t i = 0;

    while (i < n) {
        size_t run = i;
        while (run < n && !json_needs_escape((unsigned char)p[run]))
            run++;
        if (run > i)
            tl_buf_append(b, p + i, run - i);
        i = run;
        if (i >= n)
            break;
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x80) {
            size_t pos = i;
            if (tl_utf8_next(p, n, &pos) >= 0) { /* valid UTF-8 passes through */
                tl_buf_append(b, p + i, pos - i);
                i = pos;
                continue;
            }
            clean = false;
        }
        switch (c) {
        case '"':
            tl_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            tl_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            tl_buf_append(b, "\\n", 2);
            break;
        case '\r':
            tl_buf_append(b, "\\r", 2);
            break;
        case '\t':
            tl_buf_append(b, "\\t", 2);
            break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hexdigits_lower[c >> 4], hexdigits_lower[c & 15]};
            tl_buf_append(b, e, 6);
        }
        }
        i++;
    }
    return clean;
}

void tl_buf_append_xml(struct tl_buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '&':
            tl_buf_append_str(b, "&amp;");
            break;
        case '<':
            tl_buf_append_str(b, "&lt;");
            break;
        case '>':
            tl_buf_append_str(b, "&gt;");
            break;
        case '"':
            tl_buf_append_str(b, "&quot;");
            break;
        case '\'':
            tl_buf_append_str(b, "&apos;");
            break;
        default:
            tl_buf_append_char(b, p[i]);
        }
    }
}

const char *tl_buf_str(const struct tl_buf *b)
{
    return b->data ? b->data : "";
}

char *tl_buf_steal(struct tl_buf *b)
{
    char *p = b->data ? b->data : xstrdup("");

    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void tl_buf_reset(struct tl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void tl_buf_free(struct tl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int tl_buf_append_file(struct tl_buf *b, const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n, total = 0;
    int rc = TL_OK;

    if (f == NULL)
        return TL_ERR_IO;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (total + n > max) {
            rc = TL_ERR_TOO_LARGE;
            break;
        }
        tl_buf_append(b, chunk, n);
        total += n;
    }
    if (rc == TL_OK && ferror(f))
        rc = TL_ERR_IO;
    fclose(f);
    return rc;
}
