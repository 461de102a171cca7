/*
 * log.h — the daemon's one logger.
 *
 * One line per event: `2026-11-23T11:40:00.123Z info http key=value …`;
 * to the journal (log_use_journal) `<6>info http key=value …`, the journal's
 * own timestamp and the syslog priority <3> error … <7> debug instead.
 * The level is checked before any formatting (the macros below), formats are
 * printf-checked, and the rules of STYLE.md hold everywhere:
 *   - bytes from peers go through log_peer() (escaped, quoted, capped);
 *   - phone numbers go through log_phone() (masked: +92300****567);
 *   - secrets are never passed to the logger at all.
 * libevent's and libcurl's own messages are routed in (log_route_libevent(),
 * and the sender's curl debug callback).
 */
#ifndef TALAASH_LOG_H
#define TALAASH_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum tl_log_level {
    TL_LOG_DEBUG = 0,
    TL_LOG_INFO = 1,
    TL_LOG_WARN = 2,
    TL_LOG_ERROR = 3,
};

extern enum tl_log_level log_threshold;

/* Logs to path (appending), or to stderr when path is NULL. 0, or -1 with errno. */
int log_open(const char *path, enum tl_log_level level);
/* Reopens the log file (SIGHUP, after rotation); a no-op for stderr. */
int log_reopen(void);
void log_close(void);
/*
 * True when standard error is the journal stream systemd connected
 * (JOURNAL_STREAM names its device:inode, as systemd.exec(5) says to check).
 */
bool log_stderr_is_journal(void);
/* Journal format for lines written to standard error (see the top). */
void log_use_journal(bool on);
/* "debug", "info", "warn", "error" → level; -1 when unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum tl_log_level level);
/* Sends libevent's internal warnings and errors to this logger. */
void log_route_libevent(void);

__attribute__((format(printf, 3, 4))) void log_write(enum tl_log_level level,
                                                     const char *subsystem, const char *fmt,
                                                     ...);

#define LOG_AT(level, subsystem, ...)                                                              \
    do {                                                                                           \
        if ((level) >= log_threshold)                                                              \
            log_write((level), (subsystem), __VA_ARGS__);                                          \
    } while (0)
#define log_debug(subsystem, ...) LOG_AT(TL_LOG_DEBUG, subsystem, __VA_ARGS__)
#define log_info(subsystem, ...) LOG_AT(TL_LOG_INFO, subsystem, __VA_ARGS__)
#define log_warn(subsystem, ...) LOG_AT(TL_LOG_WARN, subsystem, __VA_ARGS__)
#define log_error(subsystem, ...) LOG_AT(TL_LOG_ERROR, subsystem, __VA_ARGS__)

/* Room for a log_peer() rendering of up to LOG_PEER_MAX input bytes. */
#define LOG_PEER_MAX 96
#define LOG_PEER_BUFSZ (LOG_PEER_MAX * 4 + 8)
/*
 * Renders untrusted bytes for a log line: in double quotes, printable ASCII
 * kept, '"' and '\\' escaped, everything else as \xNN, cut after
 * LOG_PEER_MAX bytes with "…". Returns out.
 */
const char *log_peer(const char *p, size_t n, char out[LOG_PEER_BUFSZ]);

#define LOG_PHONE_BUFSZ 32
/* A phone number masked for the log (+92300****567); "-" for NULL. Returns out. */
const char *log_phone(const char *phone, char out[LOG_PHONE_BUFSZ]);

/*
 * A copy of text with every stretch that phone_looks_like accepts (the
 * spellings the SMS grammar reads as a number: any separators of
 * phone_normalize, ASCII, Urdu or Arabic-Indic digits) masked in place as
 * log_phone() masks a number, separators kept ("0300.123.4567" ->
 * "030*.***.*567"): for message texts that may quote a reporter's number.
 * Caller frees.
 */
char *log_mask_numbers(const char *text);

#endif
