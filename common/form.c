/*
 * form.c — urlencoded form decoding (see form.h).
 */
#include "common/form.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into a new NUL-terminated string; -1 on a bad escape. */
static int form_decode(const char *s, size_t n, char **out, size_t *outlen)
{
    char *d = xmalloc(n + 1);
    size_t j = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            d[j++] = ' ';
        } else if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                free(d);
                return -1;
            }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) {
                free(d);
                return -1;
            }
            d[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            d[j++] = s[i];
        }
    }
    d[j] = '\0';
    *out = d;
    *outlen = j;
    return 0;
}

int tl_form_parse(struct tl_form *form, const char *body, size_t len, size_t max_fields)
{
    size_t pos = 0;

    form->fields = NULL;
    form->n = 0;
    while (pos < len) {
        const char *start = body + pos;
        const char *amp = memchr(start, '&', len - pos);
        size_t plen = amp ? (size_t)(amp - start) : len - pos;
        const char *eq = memchr(start, '=', plen);
        size_t nlen = eq ? (size_t)(eq - start) : plen;
        struct tl_form_field f;

        pos += plen + (amp ? 1 : 0);
        if (plen == 0)
            continue;
        if (form->n >= max_fields) {
            tl_form_free(form);
            return TL_ERR_TOO_LARGE;
        }
        if (form_decode(start, nlen, &f.name, &f.name_len) < 0) {
            tl_form_free(form);
            return TL_ERR_MALFORMED;
        }
        if (eq) {
            if (form_decode(eq + 1, plen - nlen - 1, &f.value, &f.value_len) < 0) {
                free(f.name);
                tl_form_free(form);
                return TL_ERR_MALFORMED;
            }
        } else {
            f.value = xstrdup("");
            f.value_len = 0;
        }
        form->fields = xrealloc(form->fields, (form->n + 1) * sizeof(*form->fields));
        form->fields[form->n++] = f;
    }
    return TL_OK;
}

const struct tl_form_field *tl_form_find(const struct tl_form *form, const char *name)
{
    for (size_t i = 0; i < form->n; i++) {
        if (strcmp(form->fields[i].name, name) == 0)
            return &form->fields[i];
    }
    return NULL;
}

const char *tl_form_get(const struct tl_form *form, const char *name)
{
    const struct tl_form_field *f = tl_form_find(form, name);

    return f ? f->value : NULL;
}

void tl_form_free(struct tl_form *form)
{
    for (size_t i = 0; i < form->n; i++) {
        free(form->fields[i].name);
        free(form->fields[i].value);
    }
    free(form->fields);
    form->fields = NULL;
    form->n = 0;
}
