/*
 * fuzz_grammar.c — libFuzzer harness for the SMS command grammar
 * (parsers/grammar.h): any bytes, as a message and as a follow-up answer,
 * with each language hint. Checks what must always hold: no crash, the
 * result renders as valid JSON, text fields are NUL-terminated within their
 * buffers, a case number is six ASCII digits, and invalid UTF-8 or overlong
 * input is refused with an error. Seeds: tests/fuzz/seeds/fuzz_grammar/
 * (the corpus messages); dictionary: tests/fuzz/fuzz_grammar.dict.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "parsers/gazetteer.h"
#include "parsers/grammar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tl_grammar *g;
static struct tl_gazetteer *gz;
static struct tl_sms_parse res;
static struct tl_buf out;

static void check(const char *text, size_t len)
{
    cJSON *j;

    if (memchr(res.name, '\0', sizeof res.name) == NULL ||
        memchr(res.area_text, '\0', sizeof res.area_text) == NULL ||
        memchr(res.last_seen, '\0', sizeof res.last_seen) == NULL ||
        memchr(res.description, '\0', sizeof res.description) == NULL ||
        memchr(res.text, '\0', sizeof res.text) == NULL ||
        memchr(res.contact, '\0', sizeof res.contact) == NULL)
        abort();
    if (res.case_no[0] != '\0' &&
        (strlen(res.case_no) != 6 || strspn(res.case_no, "0123456789") != 6))
        abort();
    if (res.pin[0] != '\0' && (strlen(res.pin) < 4 || strspn(res.pin, "0123456789") != strlen(res.pin)))
        abort();
    if ((len > TL_GRAMMAR_MAX_INPUT || !tl_utf8_valid(text, len)) && res.error == NULL)
        abort();
    if (res.error != NULL && res.command != TL_CMD_UNKNOWN)
        abort();
    if (res.command == TL_CMD_REPORT && res.age < -1)
        abort();
    tl_buf_reset(&out);
    grammar_render_json(&res, &out);
    j = cJSON_Parse(tl_buf_str(&out));
    if (j == NULL)
        abort();
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    enum tl_lang hint = (enum tl_lang)(size % 3);

    if (g == NULL) {
        char *cause = NULL;

        if (gazetteer_load_default(&gz, &cause) != 0 || (g = grammar_new(&cause)) == NULL)
            abort();
    }
    grammar_parse(g, gz, text, size, hint, &res);
    check(text, size);
    grammar_parse_answer(g, gz, text, size, hint,
                         (unsigned)(size % 8), &res);
    check(text, size);
    return 0;
}
