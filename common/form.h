/*
 * form.h — application/x-www-form-urlencoded parsing (also query strings).
 *
 * Decodes '+' and %XX; a malformed escape is an error, not passed through.
 * Fields keep their order and repeats (Twilio signs repeated names). Values
 * are NUL-terminated and also carry their length (a %00 is kept as a byte;
 * callers validate UTF-8 and reject NULs where text is expected).
 */
#ifndef TALAASH_FORM_H
#define TALAASH_FORM_H

#include <stddef.h>

struct tl_form_field {
    char *name;
    size_t name_len;
    char *value;
    size_t value_len;
};

struct tl_form {
    struct tl_form_field *fields;
    size_t n;
};

/* TL_OK, TL_ERR_MALFORMED (bad escape) or TL_ERR_TOO_LARGE (> max_fields). */
int tl_form_parse(struct tl_form *form, const char *body, size_t len, size_t max_fields);
/* First value of name, or NULL. */
const struct tl_form_field *tl_form_find(const struct tl_form *form, const char *name);
const char *tl_form_get(const struct tl_form *form, const char *name);
void tl_form_free(struct tl_form *form);

#endif
