/*
 * log.c — formatting and writing log lines (see log.h for the rules).
 *
 * Writes go through one stdio stream, line-buffered, so a line is never
 * interleaved with another. The file is reopened on SIGHUP by the daemon
 * calling log_reopen() from the event loop (never from the signal handler).
 * Under systemd with standard error connected to the journal (log_use_journal),
 * lines go to stderr without our timestamp (the journal stamps them) and
 * start with the syslog priority the journal reads: `<6>info http …`.
 */
#include "gateway/log.h"
#include "common/buf.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "parsers/phone.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

enum tl_log_level log_threshold = TL_LOG_INFO;

static FILE *log_stream;
static char *log_path;
static bool log_to_journal;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* syslog priorities of the levels: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR. */
static const int level_priorities[] = {7, 6, 4, 3};

bool log_stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char tail;

    /* "DEV:INO" of the stream systemd connected; stderr may since have been redirected. */
    if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &tail) != 2)
        return false;
    if (fstat(fileno(stderr), &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_use_journal(bool on)
{
    log_to_journal = on;
}

int log_open(const char *path, enum tl_log_level level)
{
    log_threshold = level;
    if (path == NULL) {
        log_close();
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    log_close();
    log_stream = f;
    log_path = xstrdup(path);
    return 0;
}

int log_reopen(void)
{
    if (log_path == NULL)
        return 0;
    FILE *f = fopen(log_path, "a");
    if (f == NULL)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    fclose(log_stream);
    log_stream = f;
    return 0;
}

void log_close(void)
{
    if (log_stream != NULL)
        fclose(log_stream);
    log_stream = NULL;
    free(log_path);
    log_path = NULL;
}

int log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

const char *log_level_name(enum tl_log_level level)
{
    if ((int)level < 0 || (size_t)level >= sizeof(level_names) / sizeof(level_names[0]))
        return "?";
    return level_names[level];
}

void log_write(enum tl_log_level level, const char *subsystem, const char *fmt, ...)
{
    FILE *out = log_stream ? log_stream : stderr;
    struct timeval tv;
    struct tm tm;
    char stamp[32];
    va_list ap;
    int saved_errno = errno;

    flockfile(out);
    if (log_to_journal && out == stderr) {
        fprintf(out, "<%d>%s %s ", level_priorities[level], log_level_name(level), subsystem);
    } else {
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(out, "%s.%03dZ %s %s ", stamp, (int)(tv.tv_usec / 1000), log_level_name(level),
                subsystem);
    }
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    funlockfile(out);
    if (out == stderr)
        fflush(out);
    errno = saved_errno;
}

const char *log_peer(const char *p, size_t n, char out[LOG_PEER_BUFSZ])
{
    static const char hex[] = "0123456789abcdef";
    size_t j = 0, shown = n > LOG_PEER_MAX ? LOG_PEER_MAX : n;

    out[j++] = '"';
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            out[j++] = '\\';
            out[j++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[j++] = (char)c;
        } else {
            out[j++] = '\\';
            out[j++] = 'x';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 15];
        }
    }
    if (shown < n) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j++] = '"';
    out[j] = '\0';
    return out;
}

const char *log_phone(const char *phone, char out[LOG_PHONE_BUFSZ])
{
    if (phone == NULL) {
        memcpy(out, "-", 2);
        return out;
    }
    phone_mask(phone, out, LOG_PHONE_BUFSZ);
    return out;
}

static void libevent_log_cb(int severity, const char *msg)
{
    char esc[LOG_PEER_BUFSZ];
    enum tl_log_level level = severity == EVENT_LOG_ERR    ? TL_LOG_ERROR
                              : severity == EVENT_LOG_WARN ? TL_LOG_WARN
                              : severity == EVENT_LOG_MSG  ? TL_LOG_INFO
                                                           : TL_LOG_DEBUG;

    LOG_AT(level, "libevent", "msg=%s", log_peer(msg, strlen(msg), esc));
}

void log_route_libevent(void)
{
    event_set_log_callback(libevent_log_cb);
}

/*
 * Masks one stretch that phone_looks_like accepts, in place: its digits
 * (any script) are masked as phone_mask masks them and written back where
 * they were, the separators stay ("0300.123.4567" -> "030*.***.*567").
 */
static void mask_run(struct tl_buf *out, const char *p, size_t n)
{
    char digits[TL_PHONE_INPUT_MAX + 2], masked[TL_PHONE_INPUT_MAX + 2];
    size_t nd = 0, pos = 0, k = 0;
    bool plus = p[0] == '+';

    if (plus)
        digits[nd++] = '+';
    while (pos < n) {
        int d = phone_digit_value(tl_utf8_next(p, n, &pos));

        if (d >= 0 && nd + 1 < sizeof(digits))
            digits[nd++] = (char)('0' + d);
    }
    digits[nd] = '\0';
    phone_mask(digits, masked, sizeof(masked));
    pos = plus ? 1 : 0;
    k = pos;
    if (plus)
        tl_buf_append(out, "+", 1);
    while (pos < n) {
        size_t at = pos;
        int d = phone_digit_value(tl_utf8_next(p, n, &pos));

        if (d < 0)
            tl_buf_append(out, p + at, pos - at);
        else if (k < nd && masked[k++] != '*')
            tl_buf_append(out, p + at, pos - at);
        else
            tl_buf_append(out, "*", 1); /* also every digit past the mask's reach */
    }
}

char *log_mask_numbers(const char *text)
{
    struct tl_buf out = {0};
    size_t len = strlen(text), at = 0, start, end;

    while (phone_next_run(text, len, at, &start, &end)) {
        tl_buf_append(&out, text + at, start - at);
        if (phone_looks_like(text + start, end - start))
            mask_run(&out, text + start, end - start);
        else
            tl_buf_append(&out, text + start, end - start);
        at = end;
    }
    tl_buf_append(&out, text + at, len - at);
    return tl_buf_steal(&out);
}
