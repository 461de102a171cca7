/*
 * test_common.c — the shared utilities in common/: buf (and its encodings),
 * form, utf8, xmalloc and result. Exact outputs throughout.
 */
#include "common/buf.h"
#include "common/form.h"
#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "tests/tap.h"

/* tl_buf_append_json with the shape of the other encoders (its result checked below). */
static void append_json(struct tl_buf *b, const char *p, size_t n)
{
    (void)tl_buf_append_json(b, p, n);
}

#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

static void enc_is(void (*enc)(struct tl_buf *, const char *, size_t), const char *in,
                   size_t inlen, const char *want, const char *name)
{
    struct tl_buf b = {0};

    enc(&b, in, inlen);
    is_str(tl_buf_str(&b), want, "%s", name);
    is_int(b.len, strlen(want), "%s: length", name);
    tl_buf_free(&b);
}

static void test_buf(void)
{
    struct tl_buf b = {0};

    is_str(tl_buf_str(&b), "", "a zeroed buffer reads as \"\"");
    tl_buf_append(&b, "ab", 2);
    tl_buf_append_str(&b, "cd");
    tl_buf_append_char(&b, 'e');
    tl_buf_appendf(&b, "-%d-%s-%03u", 42, "x", 7u);
    is_str(tl_buf_str(&b), "abcde-42-x-007", "append, append_str, append_char, appendf");
    is_int(b.len, 14, "length counts every byte");
    ok(b.cap > b.len, "capacity leaves room for the NUL");
    tl_buf_append(&b, "\0z", 2);
    is_int(b.len, 16, "embedded NUL appended");
    ok(memcmp(b.data + 14, "\0z\0", 3) == 0, "embedded NUL kept, terminator after it");
    size_t cap = b.cap;
    tl_buf_reset(&b);
    is_int(b.len, 0, "reset empties");
    is_str(tl_buf_str(&b), "", "reset reads as \"\"");
    is_int(b.cap, cap, "reset keeps the capacity");
    for (int i = 0; i < 10000; i++)
        tl_buf_append_char(&b, (char)('a' + i % 26));
    is_int(b.len, 10000, "10000 appends");
    ok(b.data[0] == 'a' && b.data[9999] == (char)('a' + 9999 % 26) && b.data[10000] == '\0',
       "growth keeps content and terminator");
    tl_buf_free(&b);
    ok(b.data == NULL && b.len == 0 && b.cap == 0, "free leaves an empty buffer");
    tl_buf_free(&b);
    ok(1, "free twice is harmless");

    tl_buf_append_str(&b, "steal me");
    char *s = tl_buf_steal(&b);
    is_str(s, "steal me", "steal hands over the contents");
    ok(b.data == NULL && b.len == 0 && b.cap == 0, "steal empties the buffer");
    free(s);
    s = tl_buf_steal(&b);
    is_str(s, "", "stealing an empty buffer gives an owned \"\"");
    free(s);

    tl_buf_appendf(&b, "%s", "");
    is_str(tl_buf_str(&b), "", "appendf of nothing");
    is_int(b.len, 0, "appendf of nothing: length 0");
    tl_buf_free(&b);
    tl_buf_appendf(&b, "%s", "0123456789012345678901234567890123456789012345678901234567890123456789");
    is_int(b.len, 70, "appendf longer than the first allocation");
    is_str(tl_buf_str(&b), "0123456789012345678901234567890123456789012345678901234567890123456789",
           "appendf longer than the first allocation: content");
    tl_buf_free(&b);

    static const char mixed[] = "a b&c=d/é~_.-+%\n";
    enc_is(tl_buf_append_formenc, mixed, strlen(mixed), "a+b%26c%3Dd%2F%C3%A9~_.-%2B%25%0A",
           "formenc");
    enc_is(tl_buf_append_urlenc, mixed, strlen(mixed), "a%20b%26c%3Dd%2F%C3%A9~_.-%2B%25%0A",
           "urlenc");
    enc_is(tl_buf_append_formenc, "AZaz09", 6, "AZaz09", "formenc keeps alphanumerics");
    enc_is(tl_buf_append_urlenc, "\0\xff", 2, "%00%FF", "urlenc of NUL and 0xFF");
    enc_is(tl_buf_append_formenc, "", 0, "", "formenc of nothing");
    enc_is(append_json, "q\"b\\n\n\r\t\x01\x1f/é\x7f", 14,
           "q\\\"b\\\\n\\n\\r\\t\\u0001\\u001f/é\x7f", "json escapes");
    enc_is(append_json, "a\0b", 3, "a\\u0000b", "json escapes NUL");
    enc_is(append_json, "\b\f", 2, "\\u0008\\u000c", "json backspace and form feed");
    enc_is(append_json, "سلام 😀", strlen("سلام 😀"), "سلام 😀", "json keeps UTF-8");
    enc_is(append_json, "a\xff\xc3" "b", 4, "a\\u00ff\\u00c3b", "json escapes each invalid byte");
    {
        struct tl_buf j = {0};
        ok(tl_buf_append_json(&j, "ok é", strlen("ok é")), "json of valid UTF-8 reports clean");
        ok(!tl_buf_append_json(&j, "\xc0\xaf", 2), "json of an overlong sequence reports unclean");
        tl_buf_free(&j);
    }
    enc_is(tl_buf_append_xml, "<a href=\"x\">'&'</a>", 19,
           "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;", "xml escapes");
    enc_is(tl_buf_append_xml, "plain é", strlen("plain é"), "plain é", "xml keeps plain text");
}

static void form_bad(const char *body, int want, const char *name)
{
    struct tl_form f;
    int rc = tl_form_parse(&f, body, strlen(body), 10);

    is_int(rc, want, "form %s: %s", name, want == TL_ERR_MALFORMED ? "malformed" : "too large");
    ok(f.fields == NULL && f.n == 0, "form %s: nothing left allocated", name);
    tl_form_free(&f);
}

static void test_form(void)
{
    struct tl_form f;
    const char *body = "From=%2B923001234567&Body=MISSING+Bilal%2C+8&a=1&a=2&empty=&flag&%41%62=c%3Dd";

    is_int(tl_form_parse(&f, body, strlen(body), 10), TL_OK, "form parses");
    is_int(f.n, 7, "seven fields");
    is_str(tl_form_get(&f, "From"), "+923001234567", "%%2B decodes to '+'");
    is_str(tl_form_get(&f, "Body"), "MISSING Bilal, 8", "'+' decodes to space, %%2C to ','");
    is_str(tl_form_get(&f, "a"), "1", "first of a repeated name");
    ok(f.n >= 4 && strcmp(f.fields[2].name, "a") == 0 && strcmp(f.fields[2].value, "1") == 0 &&
           strcmp(f.fields[3].name, "a") == 0 && strcmp(f.fields[3].value, "2") == 0,
       "repeated names kept, in order");
    is_str(tl_form_get(&f, "empty"), "", "empty value");
    is_str(tl_form_get(&f, "flag"), "", "name without '=' has an empty value");
    is_str(tl_form_get(&f, "Ab"), "c=d", "escaped name and value");
    ok(tl_form_get(&f, "missing") == NULL, "absent name gives NULL");
    ok(tl_form_get(&f, "from") == NULL, "names are case-sensitive");
    const struct tl_form_field *fld = tl_form_find(&f, "Body");
    ok(fld != NULL && fld->name_len == 4 && fld->value_len == 16, "find gives lengths");
    tl_form_free(&f);
    ok(f.fields == NULL && f.n == 0, "free empties");

    is_int(tl_form_parse(&f, "x=a%00b&y=%e2%82%AC", 19, 10), TL_OK, "%%00 and lower-case hex");
    ok(f.n == 2 && f.fields[0].value_len == 3 && memcmp(f.fields[0].value, "a\0b", 4) == 0,
       "%%00 kept as a byte, value still NUL-terminated");
    is_str(tl_form_get(&f, "y"), "€", "lower- and upper-case hex digits");
    tl_form_free(&f);

    is_int(tl_form_parse(&f, "", 0, 10), TL_OK, "empty body");
    is_int(f.n, 0, "empty body: no fields");
    tl_form_free(&f);
    is_int(tl_form_parse(&f, "&&a=1&&", 7, 10), TL_OK, "empty pairs skipped");
    is_int(f.n, 1, "empty pairs skipped: one field");
    tl_form_free(&f);
    is_int(tl_form_parse(&f, "a=1&b=2xyz", 7, 10), TL_OK, "only len bytes read");
    is_str(tl_form_get(&f, "b"), "2", "only len bytes read: value cut");
    tl_form_free(&f);

    form_bad("a=%G1", TL_ERR_MALFORMED, "bad escape %%G1");
    form_bad("a=%1G", TL_ERR_MALFORMED, "bad escape %%1G");
    form_bad("a=%4", TL_ERR_MALFORMED, "truncated %%4");
    form_bad("a=%4&b=1", TL_ERR_MALFORMED, "truncated %%4 before '&'");
    form_bad("a=%", TL_ERR_MALFORMED, "lone %%");
    form_bad("b=1&%zz=1", TL_ERR_MALFORMED, "bad escape in a later name");
    form_bad("a=1&b=2&c=%4", TL_ERR_MALFORMED, "bad escape after good fields");

    is_int(tl_form_parse(&f, "a=1&b=2&c=3", 11, 3), TL_OK, "max_fields reached exactly");
    is_int(f.n, 3, "three fields at max_fields 3");
    tl_form_free(&f);
    is_int(tl_form_parse(&f, "a=1&b=2&c=3", 11, 2), TL_ERR_TOO_LARGE, "over max_fields");
    ok(f.fields == NULL && f.n == 0, "over max_fields: nothing left allocated");
    is_int(tl_form_parse(&f, "a=1&&&", 6, 1), TL_OK, "empty pairs do not count");
    tl_form_free(&f);
    is_int(tl_form_parse(&f, "a=1", 3, 0), TL_ERR_TOO_LARGE, "max_fields 0");
}

struct utf8_case {
    const char *s;
    size_t len;
    bool valid;
    const char *name;
};

static void test_utf8(void)
{
    static const struct utf8_case cases[] = {
        {"", 0, true, "empty"},
        {"abc", 3, true, "ASCII"},
        {"a\0b", 3, true, "NUL is a code point"},
        {"\xc2\x80", 2, true, "U+0080"},
        {"\xc3\xa9", 2, true, "é"},
        {"\xdf\xbf", 2, true, "U+07FF"},
        {"\xe0\xa0\x80", 3, true, "U+0800"},
        {"\xe2\x82\xac", 3, true, "€"},
        {"\xed\x9f\xbf", 3, true, "U+D7FF"},
        {"\xee\x80\x80", 3, true, "U+E000"},
        {"\xef\xbf\xbf", 3, true, "U+FFFF"},
        {"\xf0\x90\x80\x80", 4, true, "U+10000"},
        {"\xf0\x9f\x98\x80", 4, true, "😀"},
        {"\xf4\x8f\xbf\xbf", 4, true, "U+10FFFF"},
        {"\xc0\x80", 2, false, "overlong C0 80"},
        {"\xc1\xbf", 2, false, "overlong C1 BF"},
        {"\xe0\x80\x80", 3, false, "overlong E0 80 80"},
        {"\xe0\x9f\xbf", 3, false, "overlong E0 9F BF"},
        {"\xf0\x80\x80\x80", 4, false, "overlong F0 80 80 80"},
        {"\xf0\x8f\xbf\xbf", 4, false, "overlong F0 8F BF BF"},
        {"\xed\xa0\x80", 3, false, "surrogate ED A0 80"},
        {"\xed\xbf\xbf", 3, false, "surrogate ED BF BF"},
        {"\xed\xa0\xbd\xed\xb8\x80", 6, false, "CESU-8 surrogate pair"},
        {"\xf4\x90\x80\x80", 4, false, "above U+10FFFF"},
        {"\xf5\x80\x80\x80", 4, false, "F5"},
        {"\xf8\x88\x80\x80\x80", 5, false, "F8 five-byte form"},
        {"\xfe", 1, false, "FE"},
        {"\xff", 1, false, "FF"},
        {"\x80", 1, false, "lone continuation"},
        {"a\xbf", 2, false, "continuation after ASCII"},
        {"\xc3", 1, false, "truncated two-byte"},
        {"\xe2\x82", 2, false, "truncated three-byte"},
        {"\xf0\x9f\x98", 3, false, "truncated four-byte"},
        {"\xe2\x28\xa1", 3, false, "bad continuation"},
        {"\xc3\xa9\xc3", 3, false, "valid then truncated"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ok(tl_utf8_valid(cases[i].s, cases[i].len) == cases[i].valid, "utf8 %s: %s",
           cases[i].name, cases[i].valid ? "valid" : "invalid");

    size_t pos = 0;
    is_int(tl_utf8_next("\xe2\x82\xac" "a", 4, &pos), 0x20AC, "next decodes €");
    is_int(pos, 3, "next advances 3 bytes");
    is_int(tl_utf8_next("\xe2\x82\xac" "a", 4, &pos), 'a', "next decodes 'a'");
    is_int(pos, 4, "next advances 1 byte");
    is_int(tl_utf8_next("\xe2\x82\xac" "a", 4, &pos), -1, "next at the end gives -1");
    is_int(pos, 4, "next at the end does not advance");
    pos = 0;
    is_int(tl_utf8_next("\xc0\x80" "b", 3, &pos), -1, "invalid sequence gives -1");
    is_int(pos, 1, "invalid sequence advances one byte");
    is_int(tl_utf8_next("\xc0\x80" "b", 3, &pos), -1, "continuation byte gives -1");
    is_int(tl_utf8_next("\xc0\x80" "b", 3, &pos), 'b', "resynchronises");
    pos = 0;
    is_int(tl_utf8_next("\xf0\x9f\x98\x80", 3, &pos), -1, "len cuts a sequence: -1");
    is_int(pos, 1, "len cuts a sequence: one byte");

    static const struct {
        int32_t cp;
        size_t n;
        const char *bytes;
    } enc[] = {
        {0x00, 1, "\x00"},           {0x7F, 1, "\x7f"},           {0x80, 2, "\xc2\x80"},
        {0x7FF, 2, "\xdf\xbf"},      {0x800, 3, "\xe0\xa0\x80"},  {0x20AC, 3, "\xe2\x82\xac"},
        {0xFFFF, 3, "\xef\xbf\xbf"}, {0x10000, 4, "\xf0\x90\x80\x80"},
        {0x1F600, 4, "\xf0\x9f\x98\x80"}, {0x10FFFF, 4, "\xf4\x8f\xbf\xbf"},
    };
    for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
        char out[4];
        size_t n = tl_utf8_encode(enc[i].cp, out);
        ok(n == enc[i].n && memcmp(out, enc[i].bytes, n) == 0, "encode U+%04X", (unsigned)enc[i].cp);
    }

    /* every scalar value: encode, validate, decode back */
    long bad = 0;
    for (int32_t cp = 0; cp <= 0x10FFFF; cp++) {
        char out[4];
        size_t n, p = 0;
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        n = tl_utf8_encode(cp, out);
        if (!tl_utf8_valid(out, n) || tl_utf8_next(out, n, &p) != cp || p != n)
            bad++;
    }
    is_int(bad, 0, "round trip of all 1112064 scalar values");
    /* every two-byte string: valid exactly when it is a proper sequence */
    long wrong = 0;
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            char s[2] = {(char)a, (char)b};
            bool want = (a < 0x80 && b < 0x80) || (a >= 0xC2 && a <= 0xDF && b >= 0x80 && b <= 0xBF);
            if (tl_utf8_valid(s, 2) != want)
                wrong++;
        }
    }
    is_int(wrong, 0, "all 65536 two-byte strings classified correctly");
}

static void test_xmalloc(void)
{
    char *p = xmalloc(0);
    ok(p != NULL, "xmalloc(0) is not NULL");
    free(p);
    unsigned char *z = xcalloc(16, 4);
    int nonzero = 0;
    for (int i = 0; i < 64; i++)
        nonzero += z[i] != 0;
    is_int(nonzero, 0, "xcalloc zeroes");
    z = xrealloc(z, 4096);
    z[4095] = 1;
    ok(z[0] == 0 && z[63] == 0, "xrealloc keeps the contents");
    free(z);
    p = xstrdup("talaash");
    is_str(p, "talaash", "xstrdup");
    free(p);
    p = xstrndup("talaash", 3);
    is_str(p, "tal", "xstrndup cuts and terminates");
    free(p);
    p = xstrndup("ab\0cd", 5);
    ok(memcmp(p, "ab\0cd\0", 6) == 0, "xstrndup copies n bytes, NULs included");
    free(p);
    ok(xstrdup_or_null(NULL) == NULL, "xstrdup_or_null(NULL)");
    p = xstrdup_or_null("x");
    is_str(p, "x", "xstrdup_or_null copies");
    free(p);
    p = xasprintf("%s=%d;%05.1f", "age", 8, 2.5);
    is_str(p, "age=8;002.5", "xasprintf");
    free(p);
    p = xasprintf("%s", "");
    is_str(p, "", "xasprintf of nothing");
    free(p);
}

static void test_result(void)
{
    is_int(TL_OK, 0, "TL_OK is 0");
    is_int(TL_ERR_MALFORMED, 1, "TL_ERR_MALFORMED is 1");
    is_int(TL_ERR_BAD_UTF8, 3, "TL_ERR_BAD_UTF8 is 3");
    is_int(TL_ERR_INVALID, 13, "TL_ERR_INVALID is 13");
    is_int(TL_ERR_SCHEMA, 15, "TL_ERR_SCHEMA is 15");
    is_str(tl_strerror(TL_OK), "ok", "strerror ok");
    is_str(tl_strerror(TL_ERR_BAD_UTF8), "invalid UTF-8", "strerror bad utf8");
    is_str(tl_strerror(TL_ERR_INVALID), "invalid value", "strerror invalid");
    int unnamed = 0;
    for (int r = TL_OK; r <= TL_ERR_SCHEMA; r++) {
        if (strcmp(tl_strerror(r), "unknown error") == 0)
            unnamed++;
    }
    is_int(unnamed, 0, "every code 0..15 has a name");
    is_str(tl_strerror(-1), "unknown error", "strerror -1");
    is_str(tl_strerror(999), "unknown error", "strerror 999");
}

static void test_buf_file(void)
{
    char path[] = "/tmp/talaash-test-buf-XXXXXX";
    int fd = mkstemp(path);
    struct tl_buf b = {0};

    ok(fd >= 0, "a temporary file");
    ok(write(fd, "hello\nworld", 11) == 11, "written");
    close(fd);
    is_int(tl_buf_append_file(&b, path, 11), TL_OK, "a file of exactly max bytes is read");
    is_str(tl_buf_str(&b), "hello\nworld", "whole");
    tl_buf_reset(&b);
    is_int(tl_buf_append_file(&b, path, 10), TL_ERR_TOO_LARGE, "one byte over max: TL_ERR_TOO_LARGE");
    tl_buf_reset(&b);
    unlink(path);
    is_int(tl_buf_append_file(&b, path, 100), TL_ERR_IO, "a missing file: TL_ERR_IO");
    is_int((int)b.len, 0, "and nothing appended");
    tl_buf_free(&b);
}

int main(void)
{
    test_buf();
    test_buf_file();
    test_form();
    test_utf8();
    test_xmalloc();
    test_result();
    return done_testing();
}
