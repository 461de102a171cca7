/*
 * test_log.c — the logger (gateway/log.h): log_peer escaping and capping,
 * log_phone and log_mask_numbers masking, level names, and log lines written
 * to a file (exact format, checked by hand; level filtering; reopen after
 * rotation), and the journal form on stderr with JOURNAL_STREAM detection.
 * Works in its own mkdtemp directory.
 */
#include "gateway/log.h"
#include "parsers/phone.h"
#include "tests/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void peer_is(const char *in, size_t n, const char *want, const char *what)
{
    char out[LOG_PEER_BUFSZ];

    memset(out, 'Z', sizeof(out));
    const char *r = log_peer(in, n, out);
    ok(r == out, "%s: returns out", what);
    is_str(out, want, "%s", what);
}

static void test_peer(void)
{
    char big[200], want[LOG_PEER_BUFSZ];

    peer_is("hello world", 11, "\"hello world\"", "printable ASCII kept, quoted");
    peer_is("", 0, "\"\"", "empty input");
    peer_is("a\"b\\c", 5, "\"a\\\"b\\\\c\"", "'\"' and '\\\\' escaped");
    peer_is("\n\r\t\x01\x1f\x7f", 6, "\"\\x0a\\x0d\\x09\\x01\\x1f\\x7f\"",
            "control bytes and DEL as \\xNN");
    peer_is("\xd8\xb9\xd9\x84\xdb\x8c", 6, "\"\\xd8\\xb9\\xd9\\x84\\xdb\\x8c\"",
            "non-ASCII (Urdu 'Ali') as \\xNN");
    peer_is("a\0b", 3, "\"a\\x00b\"", "embedded NUL shown, length honoured");
    peer_is("abcdef", 3, "\"abc\"", "only n bytes read");
    peer_is("~ {}", 4, "\"~ {}\"", "space and '~' kept");

    memset(big, 'x', sizeof(big));
    want[0] = '"';
    memset(want + 1, 'x', LOG_PEER_MAX);
    memcpy(want + 1 + LOG_PEER_MAX, "\"", 2);
    peer_is(big, LOG_PEER_MAX, want, "exactly LOG_PEER_MAX bytes: not cut");
    memcpy(want + 1 + LOG_PEER_MAX, "...\"", 5);
    peer_is(big, LOG_PEER_MAX + 1, want, "one byte over: cut with ...");
    peer_is(big, sizeof(big), want, "200 bytes: cut after LOG_PEER_MAX with ...");

    /* The worst case fits the buffer: every byte becomes four. */
    char out[LOG_PEER_BUFSZ];
    memset(big, 0xff, sizeof(big));
    log_peer(big, sizeof(big), out);
    is_int(strlen(out), 1 + 4 * LOG_PEER_MAX + 3 + 1, "worst case length");
    ok(strlen(out) < LOG_PEER_BUFSZ, "worst case fits LOG_PEER_BUFSZ");
    ok(memcmp(out, "\"\\xff\\xff", 9) == 0, "0xff as \\xff");
    ok(strcmp(out + strlen(out) - 4, "...\"") == 0, "worst case ends with ...\"");
}

static void test_phone(void)
{
    char out[LOG_PHONE_BUFSZ];

    is_str(log_phone("+923001234567", out), "+92300****567", "Pakistani mobile masked");
    is_str(log_phone(NULL, out), "-", "NULL is '-'");
    is_str(log_phone("+14155550123", out), "+1415****123", "NANP number masked");
    ok(strstr(log_phone("+923001234567", out), "1234") == NULL, "the middle digits are gone");
}

static void mask_is(const char *in, const char *want)
{
    char *got = log_mask_numbers(in);

    is_str(got, want, "mask_numbers '%s'", in);
    free(got);
}

static void test_mask_numbers(void)
{
    mask_is("Call +923001234567 now", "Call +92300****567 now");
    mask_is("reporter 0300 1234567", "reporter 030* ****567");
    mask_is("reporter 0300-1234567.", "reporter 030*-****567.");
    mask_is("+92 300 1234567", "+92 300 ****567");
    mask_is("03001234567", "030*****567");
    mask_is("a +923001234567 b 03219876543 c", "a +92300****567 b 032*****543 c");
    /* the spellings issue #14 found logged in full */
    mask_is("call 0300.123.4567 now", "call 030*.***.*567 now");
    mask_is("call (0300)1234567 now", "call (030*)****567 now");
    mask_is("call \xdb\xb0\xdb\xb3\xdb\xb0\xdb\xb0\xdb\xb1\xdb\xb2\xdb\xb3\xdb\xb4\xdb\xb5\xdb\xb6\xdb\xb7",
            "call \xdb\xb0\xdb\xb3\xdb\xb0*****\xdb\xb5\xdb\xb6\xdb\xb7"); /* Urdu ۰۳۰۰… */
    mask_is("case 482918 confirmed", "case 482918 confirmed");
    mask_is("MISSING Ali 8 Lahore call 15", "MISSING Ali 8 Lahore call 15");
    mask_is("dial 1122 or 15", "dial 1122 or 15");
    /* seven digits or more are a number to the grammar, so to the log too */
    mask_is("12345678", "12****78");
    mask_is("age 8, 3 days, 4:30pm", "age 8, 3 days, 4:30pm");
    mask_is("+92 and 0300", "+** and ****");
    mask_is("", "");
    mask_is("+", "+");
    mask_is("a - b", "a - b");
    mask_is("no digits here", "no digits here");
}

/* ------------------------------------------ masking, generated spellings --- */

/* Appends digit d (0-9) in script: 0 ASCII, 1 Urdu (U+06F0), 2 Arabic-Indic (U+0660). */
static size_t put_digit(char *out, size_t at, int d, int script)
{
    if (script == 0) {
        out[at++] = (char)('0' + d);
    } else {
        int cp = (script == 1 ? 0x06F0 : 0x0660) + d;
        out[at++] = (char)(0xC0 | (cp >> 6));
        out[at++] = (char)(0x80 | (cp & 0x3F));
    }
    return at;
}

/* Digits (as ASCII) and '*' of s, in order; *skeleton gets everything else. */
static void split_masked(const char *s, char *digits_star, char *skeleton)
{
    size_t d = 0, k = 0;

    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= '0' && c <= '9') {
            digits_star[d++] = (char)c;
        } else if (c == '*') {
            digits_star[d++] = '*';
        } else if ((c == 0xDB || c == 0xD9) && s[i + 1]) {
            unsigned char c2 = (unsigned char)s[i + 1];
            int cp = ((c & 0x1F) << 6) | (c2 & 0x3F);
            if ((cp >= 0x06F0 && cp <= 0x06F9) || (cp >= 0x0660 && cp <= 0x0669)) {
                digits_star[d++] = (char)('0' + (cp >= 0x06F0 ? cp - 0x06F0 : cp - 0x0660));
                i++;
            } else {
                skeleton[k++] = (char)c;
            }
        } else {
            skeleton[k++] = (char)c;
        }
    }
    digits_star[d] = skeleton[k] = '\0';
}

/*
 * Every spelling phone_looks_like accepts, generated: five ways to write the
 * number (trunk 0, '+92', '0092', '92', bare), several groupings, six
 * separators, brackets around the first group, three scripts, four places
 * in a text. Each must (1) be a number to phone_looks_like (the generator's
 * own check), (2) come out of log_mask_numbers with the text around it
 * untouched, its separators where they were, its digits exactly as
 * phone_mask masks the number, and at least four of them hidden.
 */
static void test_mask_generated(void)
{
    static const struct {
        const char *prefix; /* "+" or "" */
        const char *digits;
        int groups[5];      /* sizes, 0-terminated */
    } forms[] = {
        {"", "03001234567", {11}},        {"", "03001234567", {4, 7}},
        {"", "03001234567", {4, 3, 4}},   {"", "03001234567", {4, 2, 2, 3}},
        {"+", "923001234567", {12}},      {"+", "923001234567", {2, 10}},
        {"+", "923001234567", {2, 3, 7}}, {"+", "923001234567", {2, 3, 3, 4}},
        {"", "00923001234567", {14}},     {"", "00923001234567", {4, 3, 7}},
        {"", "00923001234567", {2, 2, 3, 7}}, {"", "923001234567", {12}},
        {"", "923001234567", {2, 3, 7}},  {"", "3001234567", {10}},
        {"", "3001234567", {3, 7}},       {"", "3001234567", {3, 3, 4}},
    };
    static const char *const seps[] = {" ", "-", ".", "/", " - ", "  "};
    static const char *const contexts[][2] = {
        {"call ", " now"}, {"", ""}, {"\xd8\xb1\xd8\xa7\xd8\xa8\xd8\xb7\xdb\x81 ", " \xd8\xb4\xda\xa9\xd8\xb1\xdb\x8c\xdb\x81"},
        {"number:", "."},
    };
    int total = 0, not_looks = 0, bad_context = 0, bad_skeleton = 0, bad_digits = 0, few_hidden = 0;

    for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++)
    for (size_t sp = 0; sp < sizeof(seps) / sizeof(seps[0]); sp++)
    for (int bracket = 0; bracket < 2; bracket++)
    for (int script = 0; script < 3; script++)
    for (size_t c = 0; c < sizeof(contexts) / sizeof(contexts[0]); c++) {
        char spelling[160], text[256], want_digits[40], want_mask[40];
        char got_ds[200], got_skel[200], want_ds[200], want_skel[200];
        size_t at = 0, di = 0;
        const char *digits = forms[f].digits;

        if (bracket && forms[f].groups[1] == 0)
            continue; /* brackets need a first group */
        if (sp > 0 && forms[f].groups[1] == 0 && bracket == 0 && script > 0)
            continue; /* one group: separators do not matter */
        at += (size_t)snprintf(spelling + at, sizeof(spelling) - at, "%s", forms[f].prefix);
        for (int g = 0; forms[f].groups[g]; g++) {
            if (g == 0 && bracket)
                spelling[at++] = '(';
            for (int k = 0; k < forms[f].groups[g]; k++)
                at = put_digit(spelling, at, digits[di++] - '0', script);
            if (g == 0 && bracket)
                spelling[at++] = ')';
            if (forms[f].groups[g + 1])
                at += (size_t)snprintf(spelling + at, sizeof(spelling) - at, "%s",
                                       bracket && g == 0 && sp != 0 ? "" : seps[sp]);
        }
        spelling[at] = '\0';
        total++;
        if (!phone_looks_like(spelling, at)) {
            if (not_looks++ < 3)
                diag("generator: '%s' is not a number to phone_looks_like", spelling);
            continue;
        }
        snprintf(text, sizeof(text), "%s%s%s", contexts[c][0], spelling, contexts[c][1]);
        char *got = log_mask_numbers(text);
        size_t pl = strlen(contexts[c][0]), sl = strlen(contexts[c][1]), gl = strlen(got);

        if (gl < pl + sl || memcmp(got, contexts[c][0], pl) != 0 ||
            memcmp(got + gl - sl, contexts[c][1], sl) != 0) {
            if (bad_context++ < 3)
                diag("'%s' -> '%s': the text around the number changed", text, got);
            free(got);
            continue;
        }
        got[gl - sl] = '\0';
        split_masked(got + pl, got_ds, got_skel);
        split_masked(spelling, want_ds, want_skel);
        snprintf(want_digits, sizeof(want_digits), "%s%s", forms[f].prefix, digits);
        phone_mask(want_digits, want_mask, sizeof(want_mask));
        if (strcmp(got_skel, want_skel) != 0 && bad_skeleton++ < 3)
            diag("'%s' -> '%s': separators '%s', want '%s'", spelling, got + pl, got_skel, want_skel);
        /* split_masked drops the '+' into the skeleton; compare digits after it */
        if (strcmp(got_ds, want_mask + (want_mask[0] == '+')) != 0 && bad_digits++ < 3)
            diag("'%s' -> '%s': digits '%s', want '%s'", spelling, got + pl, got_ds, want_mask);
        int stars = 0;
        for (const char *q = got_ds; *q; q++)
            stars += *q == '*';
        if (stars < 4 && few_hidden++ < 3)
            diag("'%s' -> '%s': only %d digits hidden", spelling, got + pl, stars);
        free(got);
    }
    diag("%d generated spellings", total);
    ok(total > 1000, "over a thousand spellings generated (%d)", total);
    is_int(not_looks, 0, "every generated spelling is a number to phone_looks_like");
    is_int(bad_context, 0, "the text around every number is kept");
    is_int(bad_skeleton, 0, "every spelling keeps its separators and script");
    is_int(bad_digits, 0, "every spelling's digits are masked as phone_mask masks the number");
    is_int(few_hidden, 0, "every spelling hides at least four digits");
}

static void test_levels(void)
{
    is_int(log_level_parse("debug"), TL_LOG_DEBUG, "parse debug");
    is_int(log_level_parse("info"), TL_LOG_INFO, "parse info");
    is_int(log_level_parse("warn"), TL_LOG_WARN, "parse warn");
    is_int(log_level_parse("error"), TL_LOG_ERROR, "parse error");
    is_int(log_level_parse("warning"), -1, "'warning' is unknown");
    is_int(log_level_parse("INFO"), -1, "names are lower-case");
    is_int(log_level_parse(""), -1, "empty is unknown");
    is_str(log_level_name(TL_LOG_DEBUG), "debug", "name debug");
    is_str(log_level_name(TL_LOG_ERROR), "error", "name error");
    is_str(log_level_name((enum tl_log_level)9), "?", "name out of range");
}

/* Reads the whole file into buf; returns its length or -1. */
static long read_file(const char *path, char *buf, size_t bufsz)
{
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, bufsz - 1, f);
    buf[n] = '\0';
    fclose(f);
    return (long)n;
}

static bool digits(const char *p, int n, int *value)
{
    *value = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *value = *value * 10 + (p[i] - '0');
    }
    return true;
}

/*
 * Checks `YYYY-MM-DDTHH:MM:SS.mmmZ <rest>` by hand: every digit, every
 * separator, and the stamp within 10 s of now. Returns the stamp's length
 * (24) or 0.
 */
static size_t check_stamp(const char *line, time_t now)
{
    int year, mon, day, hour, min, sec, ms;

    if (strlen(line) < 25)
        return 0;
    if (!digits(line, 4, &year) || line[4] != '-' || !digits(line + 5, 2, &mon) ||
        line[7] != '-' || !digits(line + 8, 2, &day) || line[10] != 'T' ||
        !digits(line + 11, 2, &hour) || line[13] != ':' || !digits(line + 14, 2, &min) ||
        line[16] != ':' || !digits(line + 17, 2, &sec) || line[19] != '.' ||
        !digits(line + 20, 3, &ms) || line[23] != 'Z' || line[24] != ' ')
        return 0;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return 0;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                    .tm_hour = hour, .tm_min = min, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t < now - 10 || t > now + 10) {
        diag("stamp %.24s is not now", line);
        return 0;
    }
    return 24;
}

static void test_write(const char *dir)
{
    char path[512], moved[512], buf[4096];

    snprintf(path, sizeof(path), "%s/talaash.log", dir);
    snprintf(moved, sizeof(moved), "%s/talaash.log.1", dir);

    is_int(log_open(path, TL_LOG_INFO), 0, "log_open a new file");
    is_int(log_threshold, TL_LOG_INFO, "threshold set to info");
    time_t now = time(NULL);
    log_info("test", "key=value");
    log_debug("test", "hidden=1");
    log_warn("test", "n=%d s=%s", 42, "x");
    log_error("store", "event=fail");
    log_close();

    long len = read_file(path, buf, sizeof(buf));
    ok(len > 0, "the log file has content (%ld bytes)", len);
    if (len <= 0)
        return;
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    is_int(lines, 3, "three lines: the debug line was filtered at info");
    ok(strstr(buf, "hidden") == NULL, "the debug text is absent");
    ok(buf[len - 1] == '\n', "the file ends with a newline");

    char *line1 = buf, *line2 = strchr(buf, '\n');
    if (line2 == NULL)
        return;
    *line2++ = '\0';
    char *line3 = strchr(line2, '\n');
    if (line3 == NULL)
        return;
    *line3++ = '\0';
    char *end = strchr(line3, '\n');
    if (end != NULL)
        *end = '\0';
    size_t at = check_stamp(line1, now);
    ok(at == 24, "line 1 starts YYYY-MM-DDTHH:MM:SS.mmmZ and a space: %s", line1);
    is_str(line1 + (at ? at + 1 : 0), "info test key=value", "line 1 is 'info test key=value'");
    at = check_stamp(line2, now);
    ok(at == 24, "line 2 stamp");
    is_str(line2 + (at ? at + 1 : 0), "warn test n=42 s=x", "line 2 formatted");
    at = check_stamp(line3, now);
    ok(at == 24, "line 3 stamp");
    is_str(line3 + (at ? at + 1 : 0), "error store event=fail", "line 3 formatted");

    /* At debug, debug lines are written; the file is appended to. */
    is_int(log_open(path, TL_LOG_DEBUG), 0, "reopen at debug");
    log_debug("test", "shown=1");
    /* Rotation: the file is moved away, log_reopen starts a new one. */
    ok(rename(path, moved) == 0, "rotate the log file");
    log_info("test", "before=reopen");
    is_int(log_reopen(), 0, "log_reopen");
    log_info("test", "after=reopen");
    log_close();

    len = read_file(moved, buf, sizeof(buf));
    ok(len > 0 && strstr(buf, " debug test shown=1\n") != NULL, "debug written at debug");
    ok(strstr(buf, "info test key=value\n") != NULL, "the earlier lines were kept (append)");
    ok(strstr(buf, " info test before=reopen\n") != NULL, "before reopen: the old file");
    ok(strstr(buf, "after=reopen") == NULL, "after reopen: not the old file");
    len = read_file(path, buf, sizeof(buf));
    is_int(len, 24 + strlen(" info test after=reopen\n"), "after reopen: one line in the new file");
    ok(len > 0 && check_stamp(buf, now) == 24 &&
           strcmp(buf + 24, " info test after=reopen\n") == 0,
       "the new file's line");

    /* Level check happens before formatting: arguments are not evaluated. */
    int evaluated = 0;
    is_int(log_open(path, TL_LOG_WARN), 0, "open at warn");
    log_info("test", "x=%d", ++evaluated);
    is_int(evaluated, 0, "a filtered line's arguments are not evaluated");
    log_close();

    errno = 0;
    snprintf(moved, sizeof(moved), "%s/missing/dir.log", dir);
    is_int(log_open(moved, TL_LOG_INFO), -1, "log_open in a missing directory fails");
    is_int(errno, ENOENT, "with errno ENOENT");
    is_int(log_reopen(), 0, "log_reopen with stderr is a no-op");
    log_open(NULL, TL_LOG_INFO);

    snprintf(moved, sizeof(moved), "%s/talaash.log.1", dir);
    unlink(path);
    unlink(moved);
}

/* The journal's form on stderr (log_use_journal), and JOURNAL_STREAM detection. */
static void test_journal(const char *dir)
{
    char path[512], env[64], buf[1024];
    struct stat st;

    snprintf(path, sizeof(path), "%s/stderr.log", dir);
    fflush(stderr);
    int saved = dup(fileno(stderr));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!ok(saved >= 0 && fd >= 0 && dup2(fd, fileno(stderr)) >= 0, "stderr to a file"))
        return;
    close(fd);
    fstat(fileno(stderr), &st);

    unsetenv("JOURNAL_STREAM");
    ok(!log_stderr_is_journal(), "no JOURNAL_STREAM: not the journal");
    snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", env, 1);
    ok(log_stderr_is_journal(), "JOURNAL_STREAM naming stderr's device:inode: the journal");
    snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    setenv("JOURNAL_STREAM", env, 1);
    ok(!log_stderr_is_journal(), "another inode (stderr redirected since): not the journal");
    setenv("JOURNAL_STREAM", "12:34x", 1);
    ok(!log_stderr_is_journal(), "a malformed JOURNAL_STREAM: not the journal");
    unsetenv("JOURNAL_STREAM");

    log_open(NULL, TL_LOG_DEBUG);
    log_use_journal(true);
    log_debug("test", "a=1");
    log_info("http", "b=2");
    log_warn("test", "c=3");
    log_error("store", "d=4");
    log_use_journal(false);
    log_info("test", "e=5");
    log_open(NULL, TL_LOG_INFO);
    fflush(stderr);
    dup2(saved, fileno(stderr));
    close(saved);

    long len = read_file(path, buf, sizeof(buf));
    const char *want =
        "<7>debug test a=1\n<6>info http b=2\n<4>warn test c=3\n<3>error store d=4\n";
    ok(len > 0 && strncmp(buf, want, strlen(want)) == 0,
       "journal lines: <priority>level subsystem, no timestamp (7 6 4 3)");
    const char *last = len > 0 ? buf + strlen(want) : "";
    ok(check_stamp(last, time(NULL)) == 24 && strcmp(last + 24, " info test e=5\n") == 0,
       "journal off: the timestamped form again");
    unlink(path);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[256];

    test_peer();
    test_phone();
    test_mask_numbers();
    test_mask_generated();
    test_levels();
    snprintf(dir, sizeof(dir), "%s/talaash-test-log.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp %s", dir);
        return done_testing();
    }
    test_write(dir);
    test_journal(dir);
    rmdir(dir);
    ok(access(dir, F_OK) != 0, "temporary directory removed");
    return done_testing();
}
