/*
 * xmalloc.h — allocation that never returns NULL.
 *
 * Running out of memory in a daemon of this size is not a recoverable state:
 * like tmux's xmalloc, these abort with a message instead of handing every
 * caller a NULL to forget to check.
 */
#ifndef TALAASH_XMALLOC_H
#define TALAASH_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Duplicates s, or returns NULL when s is NULL. */
char *xstrdup_or_null(const char *s);
__attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...);

#endif
