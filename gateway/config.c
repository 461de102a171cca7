/*
 * config.c — the option table and the INI reader (see config.h).
 *
 * Reading happens in three steps: every option gets its table default, the
 * file is read with libinih (each key checked against the table, converted
 * and range-checked as it is seen, errors kept with their line), and finally
 * whole-file rules are checked (channels name known providers, the alerts
 * channel exists). The first error wins and is reported with its line.
 */
#include "gateway/config.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where an option lives: offset and width of its field. */
#define SRV(field) offsetof(struct tl_config, field), sizeof(((struct tl_config *)0)->field)
#define CHN(field)                                                                                 \
    offsetof(struct tl_channel_conf, field), sizeof(((struct tl_channel_conf *)0)->field)

const struct tl_config_option config_options[] = {
    {"server", "listen", TL_OPT_ADDRESS, "127.0.0.1:8080", 0, 0, NULL, 0,
     "address and port the HTTP server listens on", SRV(listen)},
    {"server", "public_url", TL_OPT_URL, "", 0, 0, NULL, 0,
     "URL aggregators use to reach us (signatures, delivery-report URLs); default http://LISTEN",
     SRV(public_url)},
    {"server", "max_body", TL_OPT_SIZE, "64k", 1024, 16 * 1024 * 1024, NULL, 0,
     "largest request body accepted (413 above)", SRV(max_body)},
    {"server", "max_headers", TL_OPT_SIZE, "16k", 1024, 1024 * 1024, NULL, 0,
     "largest request header block accepted", SRV(max_headers)},
    {"server", "max_uri", TL_OPT_SIZE, "4k", 256, 64 * 1024, NULL, 0,
     "longest request URI accepted (414 above)", SRV(max_uri)},
    {"server", "request_timeout", TL_OPT_DURATION, "10s", 1, 300, NULL, 0,
     "time allowed to receive a whole request, however slowly it trickles in",
     SRV(request_timeout)},
    {"server", "max_connections_per_ip", TL_OPT_INT, "256", 0, 1000000, NULL, 0,
     "open connections one source address may hold (503 above); loopback too; 0 = no cap",
     SRV(max_connections_per_ip)},
    {"server", "country_code", TL_OPT_STRING, "92", 0, 0, NULL, 0,
     "country calling code for numbers written without one (0300… → +92300…)",
     SRV(country_code)},

    {"store", "backend", TL_OPT_ENUM, "sqlite", 0, 0, "sqlite|postgresql", 0,
     "sqlite: one file (path), one node; postgresql: a database (url) any number of nodes share",
     SRV(store_backend)},
    {"store", "path", TL_OPT_STRING, "var/talaash.db", 0, 0, NULL, 0,
     "SQLite database file (WAL mode; its directory must exist)", SRV(store_path)},
    {"store", "url", TL_OPT_STRING, "", 0, 0, NULL, 0,
     "PostgreSQL connection URI (postgresql://user@host:5432/db); put the password in "
     "${ENV} or PGPASSWORD, never in the file",
     SRV(store_url)},
    {"store", "busy_timeout", TL_OPT_INT, "5000", 0, 60000, NULL, 0,
     "milliseconds to wait for a lock held by another process", SRV(busy_timeout_ms)},
    {"store", "keep_sent", TL_OPT_DURATION, "30d", 60, 3650.0 * 86400, NULL, 0,
     "sent, delivered, failed and expired messages are folded into per-alert counts and"
     " deleted this long after their case ended (or, tied to no case, after their last change)",
     SRV(keep_sent)},
    {"store", "keep_inbound", TL_OPT_DURATION, "90d", 3600, 3650.0 * 86400, NULL, 0,
     "inbound messages of no case, rate-limited ones and those of redacted cases are deleted"
     " this long after they arrived",
     SRV(keep_inbound)},

    {"log", "level", TL_OPT_ENUM, "info", 0, 0, "debug|info|warn|error", 0,
     "lowest level written", SRV(log_level)},
    {"log", "file", TL_OPT_STRING, "", 0, 0, NULL, 0,
     "log file (reopened on SIGHUP); empty = standard error; not used when standard error is "
     "systemd's journal",
     SRV(log_file)},

    {"alerts", "channel", TL_OPT_STRING, "", 0, 0, NULL, 0,
     "channel that sends alerts; the same as channels (a list of one or more); empty = the "
     "first [channel] in the file",
     SRV(alerts_channel)},
    {"alerts", "channels", TL_OPT_STRING, "", 0, 0, NULL, 0,
     "comma-separated channels that share every alert, each sending at its rate (a faster "
     "account takes more; one failing or throttled sheds its share to the others); set this or "
     "channel, not both",
     SRV(alerts_channels)},
    {"alerts", "areas_file", TL_OPT_STRING, "", 0, 0, NULL, 0,
     "gazetteer CSV to use instead of the built-in data/areas/pakistan.csv", SRV(areas_file)},
    {"alerts", "verification", TL_OPT_ENUM, "police", 0, 0, "police|auto", 0,
     "police: broadcast when police VERIFY; auto: at once on report (drills, trusted setups)",
     SRV(verification)},
    {"alerts", "radius_km", TL_OPT_DOUBLE, "5", 0, 1000, NULL, 0,
     "first alert: areas whose centre is this close to the last-seen area", SRV(radius_km)},
    {"alerts", "escalation", TL_OPT_SCHEDULE, "60m:15km, 6h:city", 0, 0, NULL, 0,
     "while ACTIVE, widen at these times after VERIFY: AFTER:RADIUS (km) or AFTER:city; empty = "
     "never",
     SRV(escalation)},
    {"alerts", "max_segments", TL_OPT_INT, "2", 1, 10, NULL, 0,
     "SMS segments an alert may use (the description is shortened to fit)", SRV(max_segments)},
    {"alerts", "hotline", TL_OPT_STRING, "15", 0, 0, NULL, 0,
     "number people are told to call in alerts (15 is Pakistan's police emergency)",
     SRV(hotline)},
    {"alerts", "expiry", TL_OPT_DURATION, "6h", 60, 604800, NULL, 0,
     "an alert message not sent within this time is dropped (expired)", SRV(alert_expiry)},
    {"alerts", "wave_chunk", TL_OPT_INT, "10000", 0, 1000000, NULL, 0,
     "subscribers a wave reads per step: its transaction queues steps for wave_first_ms, the "
     "rest is queued step by step ahead of the sender (0 = the whole wave in its transaction)",
     SRV(wave_chunk)},
    {"alerts", "wave_first_ms", TL_OPT_INT, "1000", 0, 60000, NULL, 0,
     "how long a wave's own transaction (inside the VERIFY) may queue subscribers before the "
     "rest is left to the fan-out (at least one step)",
     SRV(wave_first_ms)},
    {"alerts", "retention_days", TL_OPT_INT, "90", 1, 36500, NULL, 0,
     "personal data of closed cases is redacted this many days after closing; counts stay",
     SRV(retention_days)},
    {"alerts", "cap_event", TL_OPT_STRING, "Child Abduction Emergency", 0, 0, NULL, 0,
     "the CAP <event> of the public feed (/alerts.atom); the Urdu block keeps its Urdu text "
     "unless this is changed",
     SRV(cap_event)},

    {"limits", "messages_per_minute", TL_OPT_INT, "10", 1, 10000, NULL, 0,
     "messages one number may send per minute; more are stored, answered once, not processed",
     SRV(messages_per_minute)},
    {"limits", "reports_per_day", TL_OPT_INT, "5", 1, 1000, NULL, 0,
     "new reports one number may make per day", SRV(reports_per_day)},
    {"limits", "pin_attempts", TL_OPT_INT, "5", 1, 100, NULL, 0,
     "wrong police PINs (per number, per registration) before police commands are locked",
     SRV(pin_attempts)},
    {"limits", "pin_lockout", TL_OPT_DURATION, "1h", 60, 2592000, NULL, 0,
     "how long a PIN lockout lasts (talaash police unlock ends it sooner)", SRV(pin_lockout)},

    {"outbox", "max_attempts", TL_OPT_INT, "10", 1, 100, NULL, 0,
     "attempts before a temporarily failing message is given up as failed",
     SRV(max_attempts)},
    {"outbox", "retry_base", TL_OPT_DOUBLE, "10", 0.01, 3600, NULL, 0,
     "seconds before the first retry; doubled each attempt, with jitter", SRV(retry_base)},
    {"outbox", "retry_max", TL_OPT_DOUBLE, "1800", 0.01, 86400, NULL, 0,
     "longest wait between two attempts, seconds", SRV(retry_max)},
    {"outbox", "connect_timeout", TL_OPT_DOUBLE, "5", 0.1, 120, NULL, 0,
     "seconds allowed to connect to an aggregator", SRV(connect_timeout)},
    {"outbox", "send_timeout", TL_OPT_DOUBLE, "30", 0.1, 600, NULL, 0,
     "seconds allowed for a whole send request", SRV(send_timeout)},

    {"ussd", "session_timeout", TL_OPT_DURATION, "180s", 10, 3600, NULL, 0,
     "a USSD session's state is forgotten this long after its last step",
     SRV(ussd_session_timeout)},

    {"api", "tokens", TL_OPT_STRING, "", 0, 0, NULL, 1,
     "operator API tokens, comma-separated NAME:ROLE:SECRET (ROLE viewer|operator|admin, SECRET "
     "16+ characters); write ${NAME} to read them from the environment",
     SRV(api_tokens)},
    {"api", "token_file", TL_OPT_STRING, "", 0, 0, NULL, 0,
     "file of more tokens, one NAME:ROLE:SECRET per line (# comments); must not be readable by "
     "others",
     SRV(api_token_file)},
    {"api", "console_dir", TL_OPT_STRING, "console", 0, 0, NULL, 0,
     "folder of the web console's files, served under /console/; a relative one missing from "
     "the working directory is looked for beside the binary (PREFIX/share/talaash/); empty = no "
     "console",
     SRV(console_dir)},

    {"channel", "provider", TL_OPT_ENUM, "", 0, 0, "africastalking|twilio|kannel|generic|console",
     0, "aggregator protocol of this account (required)", CHN(provider)},
    {"channel", "base_url", TL_OPT_URL, "", 0, 0, NULL, 0,
     "aggregator API root; empty = the provider's production URL", CHN(base_url)},
    {"channel", "username", TL_OPT_STRING, "", 0, 0, NULL, 0,
     "Africa's Talking username / Kannel sendsms user", CHN(username)},
    {"channel", "api_key", TL_OPT_STRING, "", 0, 0, NULL, 1, "Africa's Talking API key",
     CHN(api_key)},
    {"channel", "account_sid", TL_OPT_STRING, "", 0, 0, NULL, 0, "Twilio account SID",
     CHN(account_sid)},
    {"channel", "auth_token", TL_OPT_STRING, "", 0, 0, NULL, 1,
     "Twilio auth token (signs callbacks, authenticates sends)", CHN(auth_token)},
    {"channel", "password", TL_OPT_STRING, "", 0, 0, NULL, 1, "Kannel sendsms password",
     CHN(password)},
    {"channel", "secret", TL_OPT_STRING, "", 0, 0, NULL, 1,
     "callback secret: generic HMAC key; Africa's Talking / Kannel ?token= value",
     CHN(secret)},
    {"channel", "token", TL_OPT_STRING, "", 0, 0, NULL, 1,
     "generic provider: bearer token for outbound requests", CHN(token)},
    {"channel", "sender", TL_OPT_STRING, "", 0, 0, NULL, 0,
     "our short code or sender id (the 'from' of outgoing messages)", CHN(sender)},
    {"channel", "allow_ips", TL_OPT_STRING, "", 0, 0, NULL, 0,
     "comma-separated addresses or CIDRs allowed to call this channel; empty = any",
     CHN(allow_ips)},
    {"channel", "insecure", TL_OPT_ENUM, "no", 0, 0, "no|yes", 0,
     "console only: yes allows it on a listen address beyond loopback (anyone reaching it can "
     "write as any number)",
     CHN(insecure)},
    {"channel", "rate", TL_OPT_DOUBLE, "10", 0.1, 100000, NULL, 0,
     "messages per second this account may send", CHN(rate)},
    {"channel", "batch_size", TL_OPT_INT, "100", 1, 1000, NULL, 0,
     "recipients per request where the aggregator takes several", CHN(batch_size)},
    {"channel", "concurrency", TL_OPT_INT, "8", 1, 256, NULL, 0,
     "requests to this aggregator in flight at once", CHN(concurrency)},
    {"channel", "max_parts", TL_OPT_INT, "1", 1, 10, NULL, 0,
     "Kannel: SMS parts its sendsms-user carries (its max-messages, with concatenation); "
     "a longer message is shortened to fit",
     CHN(max_parts)},
};
const size_t config_noptions = sizeof(config_options) / sizeof(config_options[0]);

/*
 * libinih reads lines into a fixed buffer (200 bytes as Debian builds it:
 * 198 characters, the newline and the NUL); a longer line is cut, its rest
 * read as another line (shifting every later line number) or reported as a
 * bare syntax error. We check first and say what is wrong.
 */
#define CONFIG_LINE_MAX 198

struct config_reader {
    struct tl_config *cfg;
    const char *file;
    char *error;            /* first error's reason; its line is ini_parse's result */
    int error_line;         /* set when the error is found outside libinih's handler */
    struct tl_channel_conf *channel; /* channel of the current section */
    size_t *channel_lines;  /* header line of each channel, for later messages */
};

static const struct tl_config_option *option_find(const char *section, const char *name)
{
    for (size_t i = 0; i < config_noptions; i++) {
        if (strcmp(config_options[i].section, section) == 0 &&
            strcmp(config_options[i].name, name) == 0)
            return &config_options[i];
    }
    return NULL;
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < config_noptions; i++) {
        if (strcmp(config_options[i].section, section) == 0)
            return true;
    }
    return false;
}

static bool channel_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(islower(c) || isdigit(c) || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Parses a number with an optional unit suffix; -1 on error. */
static int parse_scaled(const char *v, enum tl_opt_type type, double *out)
{
    char *end;
    double mult = 1;

    errno = 0;
    double d = strtod(v, &end);
    if (end == v || errno != 0 || !isfinite(d))
        return -1;
    if (type == TL_OPT_SIZE) {
        if (*end == 'k' || *end == 'K')
            mult = 1024, end++;
        else if (*end == 'm' || *end == 'M')
            mult = 1024 * 1024, end++;
    } else if (type == TL_OPT_DURATION) {
        if (*end == 's')
            end++;
        else if (*end == 'm')
            mult = 60, end++;
        else if (*end == 'h')
            mult = 3600, end++;
        else if (*end == 'd')
            mult = 86400, end++;
    }
    if (*end != '\0')
        return -1;
    *out = d * mult;
    return 0;
}

static bool enum_has(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;

    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        p += len + (bar ? 1 : 0);
    }
    return false;
}

static bool address_valid(const char *v)
{
    const char *colon = strrchr(v, ':');
    char *end;

    if (colon == NULL || colon == v)
        return false;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || errno || port < 0 || port > 65535)
        return false;
    if (v[0] == '[')
        return colon[-1] == ']';
    return memchr(v, ':', (size_t)(colon - v)) == NULL; /* IPv6 needs [brackets] */
}

/*
 * Converts and stores one value. Returns NULL, or an allocated reason.
 * `base` is the struct the option's offset points into.
 */
static char *option_set(const struct tl_config_option *opt, void *base, const char *value)
{
    char *slot = (char *)base + opt->offset;
    double d = 0;

    /* Empty means "unset": only where unset is the default, or means something (a schedule). */
    if (value[0] == '\0' && opt->def[0] != '\0' && opt->type != TL_OPT_SCHEDULE)
        return xasprintf("%s: empty; the default is '%s'", opt->name, opt->def);
    switch (opt->type) {
    case TL_OPT_STRING:
        break;
    case TL_OPT_SCHEDULE: {
        struct tl_escalation_stage stages[TL_ESCALATION_MAX];
        size_t n;
        char *why = config_parse_schedule(value, stages, &n);
        if (why != NULL) {
            char *err = xasprintf("%s: %s", opt->name, why);
            free(why);
            return err;
        }
        break;
    }
    case TL_OPT_ENUM:
        /* Empty is "unset", allowed only where the default is unset too. */
        if ((value[0] != '\0' || opt->def[0] != '\0') && !enum_has(opt->choices, value))
            return xasprintf("%s: '%s' is not one of %s", opt->name, value, opt->choices);
        break;
    case TL_OPT_ADDRESS:
        if (!address_valid(value))
            return xasprintf("%s: '%s' is not host:port", opt->name, value);
        break;
    case TL_OPT_URL:
        if (value[0] != '\0' && strncmp(value, "http://", 7) != 0 &&
            strncmp(value, "https://", 8) != 0)
            return xasprintf("%s: '%s' is not an http:// or https:// URL", opt->name, value);
        break;
    case TL_OPT_INT:
    case TL_OPT_SIZE:
    case TL_OPT_DURATION:
    case TL_OPT_DOUBLE:
        if (parse_scaled(value, opt->type, &d) < 0)
            return xasprintf("%s: '%s' is not a %s", opt->name, value,
                             opt->type == TL_OPT_SIZE       ? "size (like 64k)"
                             : opt->type == TL_OPT_DURATION ? "duration (like 30s, 5m)"
                                                            : "number");
        if (opt->type != TL_OPT_DOUBLE && d != floor(d))
            return xasprintf("%s: '%s' is not a whole number", opt->name, value);
        if (d < opt->min || d > opt->max)
            return xasprintf("%s: %s is out of range [%g, %g]", opt->name, value, opt->min,
                             opt->max);
        break;
    }

    switch (opt->type) {
    case TL_OPT_STRING:
    case TL_OPT_SCHEDULE:
    case TL_OPT_ENUM:
    case TL_OPT_ADDRESS:
    case TL_OPT_URL: {
        char **s = (char **)(void *)slot;
        free(*s);
        *s = xstrdup(value);
        break;
    }
    case TL_OPT_SIZE:
        *(size_t *)(void *)slot = (size_t)d;
        break;
    case TL_OPT_INT:
    case TL_OPT_DURATION:
        if (opt->width == sizeof(int))
            *(int *)(void *)slot = (int)d;
        else
            *(long *)(void *)slot = (long)d;
        break;
    case TL_OPT_DOUBLE:
        *(double *)(void *)slot = d;
        break;
    }
    return NULL;
}

static void apply_defaults(const char *section, void *base)
{
    for (size_t i = 0; i < config_noptions; i++) {
        if (strcmp(config_options[i].section, section) == 0) {
            char *err = option_set(&config_options[i], base, config_options[i].def);
            if (err != NULL) { /* a bad default is a programming error */
                fprintf(stderr, "fatal: default of %s.%s: %s\n", section,
                        config_options[i].name, err);
                abort();
            }
        }
    }
}

/* `${NAME}` → the environment's value. NULL (with *err) when unset. */
static const char *expand_env(const char *value, char **err)
{
    size_t n = strlen(value);

    if (n < 4 || value[0] != '$' || value[1] != '{' || value[n - 1] != '}')
        return value;
    char *name = xstrndup(value + 2, n - 3);
    for (size_t i = 0; name[i]; i++) {
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_')) {
            *err = xasprintf("'%s' is not a valid ${NAME} reference", value);
            free(name);
            return NULL;
        }
    }
    const char *env = getenv(name);
    if (env == NULL)
        *err = xasprintf("environment variable %s is not set", name);
    free(name);
    return env;
}

static struct tl_channel_conf *channel_add(struct config_reader *r, const char *name, int line)
{
    struct tl_config *cfg = r->cfg;

    cfg->channels = xrealloc(cfg->channels, (cfg->nchannels + 1) * sizeof(*cfg->channels));
    r->channel_lines = xrealloc(r->channel_lines, (cfg->nchannels + 1) * sizeof(size_t));
    struct tl_channel_conf *ch = &cfg->channels[cfg->nchannels];
    memset(ch, 0, sizeof(*ch));
    r->channel_lines[cfg->nchannels] = (size_t)line;
    cfg->nchannels++;
    ch->name = xstrdup(name);
    apply_defaults("channel", ch);
    return ch;
}

static int ini_handler_cb(void *user, const char *section, const char *name, const char *value)
{
    struct config_reader *r = user;
    const char *kind = section;
    void *base = r->cfg;
    char *err = NULL;

    if (r->error != NULL)
        return 1; /* keep the first error only */
    if (strncmp(section, "channel ", 8) == 0) {
        kind = "channel";
        base = NULL;
        for (size_t i = 0; i < r->cfg->nchannels; i++) {
            if (strcmp(r->cfg->channels[i].name, section + 8) == 0)
                base = &r->cfg->channels[i];
        }
        if (base == NULL) {
            r->error = xasprintf("[%s]: section not seen", section);
            return 0;
        }
    }
    const struct tl_config_option *opt = option_find(kind, name);
    if (opt == NULL) {
        r->error = xasprintf("unknown key '%s' in [%s]", name, section);
        return 0;
    }
    const char *v = expand_env(value, &err);
    if (v == NULL) {
        r->error = xasprintf("%s: %s", name, err);
        free(err);
        return 0;
    }
    err = option_set(opt, base, v);
    if (err != NULL) {
        r->error = err;
        return 0;
    }
    return 1;
}

/*
 * libinih reports keys, not section headers, so sections are checked here in
 * one pass over the text: each [header] must be a known section or
 * "channel NAME" with a valid, unused NAME. Channels are created in order.
 */
static int scan_sections(struct config_reader *r, const char *text)
{
    int line = 0;
    const char *p = text;

    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *s = p, *e = p + len;

        line++;
        if (len > CONFIG_LINE_MAX) {
            r->error = xasprintf("line longer than %d characters (the INI reader's limit); "
                                 "put a long value in the environment and write ${NAME}",
                                 CONFIG_LINE_MAX);
            r->error_line = line;
            return -1;
        }
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (s < e && *s == '[') {
            if (e[-1] != ']') {
                r->error = xasprintf("section header without ']'");
                r->error_line = line;
                return -1;
            }
            char *sec = xstrndup(s + 1, (size_t)(e - s - 2));
            if (strncmp(sec, "channel ", 8) == 0) {
                const char *cname = sec + 8;
                if (!channel_name_valid(cname)) {
                    r->error = xasprintf("channel name '%s' must be 1-32 of a-z 0-9 _ -", cname);
                } else if (config_channel(r->cfg, cname) != NULL) {
                    r->error = xasprintf("channel '%s' is defined twice", cname);
                } else {
                    channel_add(r, cname, line);
                }
            } else if (strcmp(sec, "channel") == 0) {
                r->error = xasprintf("[channel] needs a name: [channel NAME]");
            } else if (!section_known(sec)) {
                r->error = xasprintf("unknown section [%s]", sec);
            }
            free(sec);
            if (r->error != NULL) {
                r->error_line = line;
                return -1;
            }
        }
        p = eol ? eol + 1 : p + len;
    }
    return 0;
}

/* Is the host of [server] listen ("127.0.0.1:8080", "[::1]:8080") a loopback address? */
static bool listen_is_loopback(const char *listen)
{
    struct in6_addr a6;
    struct in_addr a4;
    char host[64];
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);

    if (n >= sizeof(host))
        return false;
    memcpy(host, listen, n);
    host[n] = '\0';
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        return inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

const char *config_role_name(enum tl_role role)
{
    switch (role) {
    case TL_ROLE_VIEWER:
        return "viewer";
    case TL_ROLE_OPERATOR:
        return "operator";
    case TL_ROLE_ADMIN:
        return "admin";
    }
    return "?";
}

static bool token_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    }
    return true;
}

/* Adds one "NAME:ROLE:SECRET" item (spaces around it ignored); NULL or the reason. */
static char *token_add(struct tl_config *cfg, const char *item, size_t len)
{
    while (len > 0 && isspace((unsigned char)*item))
        item++, len--;
    while (len > 0 && isspace((unsigned char)item[len - 1]))
        len--;
    const char *c1 = memchr(item, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - item)) : NULL;
    if (c2 == NULL)
        return xasprintf("a token is NAME:ROLE:SECRET");
    size_t nlen = (size_t)(c1 - item), rlen = (size_t)(c2 - c1 - 1);
    const char *secret = c2 + 1;
    size_t slen = len - (size_t)(secret - item);
    if (!token_name_valid(item, nlen))
        return xasprintf("token name '%.*s' must be 1-32 of A-Z a-z 0-9 _ - .", (int)nlen, item);
    enum tl_role role;
    if (rlen == 6 && memcmp(c1 + 1, "viewer", 6) == 0)
        role = TL_ROLE_VIEWER;
    else if (rlen == 8 && memcmp(c1 + 1, "operator", 8) == 0)
        role = TL_ROLE_OPERATOR;
    else if (rlen == 5 && memcmp(c1 + 1, "admin", 5) == 0)
        role = TL_ROLE_ADMIN;
    else
        return xasprintf("token '%.*s': role must be viewer, operator or admin", (int)nlen, item);
    if (slen < 16 || slen > 256)
        return xasprintf("token '%.*s': the secret must be 16-256 characters", (int)nlen, item);
    for (size_t i = 0; i < slen; i++) {
        if ((unsigned char)secret[i] <= ' ' || secret[i] == ',' || (unsigned char)secret[i] >= 0x7f)
            return xasprintf("token '%.*s': the secret must be printable ASCII without spaces "
                             "or commas",
                             (int)nlen, item);
    }
    for (size_t i = 0; i < cfg->ntokens; i++) {
        if (strlen(cfg->tokens[i].name) == nlen && memcmp(cfg->tokens[i].name, item, nlen) == 0)
            return xasprintf("token '%.*s' is defined twice", (int)nlen, item);
        if (strlen(cfg->tokens[i].secret) == slen && memcmp(cfg->tokens[i].secret, secret, slen) == 0)
            return xasprintf("tokens '%s' and '%.*s' have the same secret", cfg->tokens[i].name,
                             (int)nlen, item);
    }
    cfg->tokens = xrealloc(cfg->tokens, (cfg->ntokens + 1) * sizeof(*cfg->tokens));
    struct tl_api_token *t = &cfg->tokens[cfg->ntokens++];
    t->name = xstrndup(item, nlen);
    t->role = role;
    t->secret = xstrndup(secret, slen);
    return NULL;
}

/* [api] tokens and the lines of token_file; NULL or the reason. */
static char *tokens_load(struct tl_config *cfg)
{
    const char *p = cfg->api_tokens;
    char *why = NULL;

    while (p != NULL && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        bool blank = true;
        for (size_t i = 0; i < len; i++)
            blank = blank && isspace((unsigned char)p[i]);
        if (!blank && (why = token_add(cfg, p, len)) != NULL)
            return why;
        p = comma ? comma + 1 : p + len;
    }
    if (cfg->api_token_file[0] == '\0')
        return NULL;
    FILE *f = fopen(cfg->api_token_file, "r");
    if (f == NULL)
        return xasprintf("token_file %s: %s", cfg->api_token_file, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & S_IROTH)) {
        fclose(f);
        return xasprintf("token_file %s is readable by others (chmod o-r)", cfg->api_token_file);
    }
    char line[512];
    int n = 0;
    while (why == NULL && fgets(line, sizeof(line), f) != NULL) {
        n++;
        size_t len = strcspn(line, "\r\n");
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || (size_t)(s - line) >= len)
            continue;
        char *inner = token_add(cfg, s, len - (size_t)(s - line));
        if (inner != NULL) {
            why = xasprintf("%s:%d: %s", cfg->api_token_file, n, inner);
            free(inner);
        }
    }
    fclose(f);
    return why;
}

void config_tokens_free(struct tl_api_token *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].secret);
    }
    free(t);
}

/*
 * [alerts] channel / channels (one list, either key) into cfg->alert_channels:
 * NULL, or an allocated reason. Neither set: the first [channel] of the file.
 */
static char *alert_channels_set(struct tl_config *cfg)
{
    const char *key = cfg->alerts_channels[0] != '\0' ? "channels" : "channel";
    const char *p = key[7] == 's' ? cfg->alerts_channels : cfg->alerts_channel;

    if (cfg->alerts_channel[0] != '\0' && cfg->alerts_channels[0] != '\0')
        return xstrdup("[alerts] set channel or channels, not both (channel is a list of one)");
    cfg->alert_channels = xcalloc(cfg->nchannels + 1, sizeof(*cfg->alert_channels));
    cfg->nalert_channels = 0;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, " ,");
        char *name = xstrndup(p, len);
        const struct tl_channel_conf *ch = config_channel(cfg, name);
        char *why = NULL;
        if (ch == NULL)
            why = xasprintf("[alerts] %s '%s' is not a configured channel", key, name);
        for (size_t i = 0; why == NULL && i < cfg->nalert_channels; i++) {
            if (cfg->alert_channels[i] == ch)
                why = xasprintf("[alerts] %s '%s' is named twice", key, name);
        }
        free(name);
        if (why != NULL)
            return why;
        cfg->alert_channels[cfg->nalert_channels++] = ch;
        p += len;
    }
    if (cfg->nalert_channels == 0 && cfg->nchannels > 0)
        cfg->alert_channels[cfg->nalert_channels++] = &cfg->channels[0];
    return NULL;
}

bool config_alert_channel(const struct tl_config *cfg, const struct tl_channel_conf *ch)
{
    for (size_t i = 0; i < cfg->nalert_channels; i++) {
        if (cfg->alert_channels[i] == ch)
            return true;
    }
    return false;
}

/* Rules that need the whole file. Sets r->error and r->error_line. */
static int check_whole(struct config_reader *r)
{
    struct tl_config *cfg = r->cfg;

    for (size_t i = 0; i < cfg->nchannels; i++) {
        struct tl_channel_conf *ch = &cfg->channels[i];
        char *why = NULL;
        if (ch->provider == NULL || ch->provider[0] == '\0') {
            r->error = xasprintf("channel '%s': provider is required", ch->name);
            r->error_line = (int)r->channel_lines[i];
            return -1;
        }
        if (ch->insecure != NULL && strcmp(ch->insecure, "yes") == 0 && strcmp(ch->provider, "console") != 0) {
            r->error = xasprintf("channel '%s': insecure applies to the console provider only",
                                 ch->name);
            r->error_line = (int)r->channel_lines[i];
            return -1;
        }
        if (strcmp(ch->provider, "console") == 0 &&
            (ch->insecure == NULL || strcmp(ch->insecure, "yes") != 0) &&
            !listen_is_loopback(cfg->listen)) {
            r->error = xasprintf("channel '%s': a console channel lets anyone who reaches it write "
                                 "as any number, and listen %s is beyond loopback: listen on "
                                 "127.0.0.1, or set allow_ips and secret and insecure = yes",
                                 ch->name, cfg->listen);
            r->error_line = (int)r->channel_lines[i];
            return -1;
        }
        if (!provider_allow_ips_valid(ch->allow_ips, &why)) {
            r->error = xasprintf("channel '%s': %s", ch->name, why ? why : "allow_ips: invalid");
            r->error_line = (int)r->channel_lines[i];
            free(why);
            return -1;
        }
    }
    if (strcmp(cfg->store_backend, "postgresql") == 0) {
        if (strncmp(cfg->store_url, "postgresql://", 13) != 0 &&
            strncmp(cfg->store_url, "postgres://", 11) != 0) {
            r->error = xstrdup("[store] backend = postgresql needs url = postgresql://...");
            return -1;
        }
        cfg->store_where = cfg->store_url;
    } else {
        cfg->store_where = cfg->store_path;
    }
    if ((r->error = alert_channels_set(cfg)) != NULL)
        return -1;
    free(config_parse_schedule(cfg->escalation, cfg->stages, &cfg->nstages)); /* checked when set */
    char *why = tokens_load(cfg);
    if (why != NULL) {
        r->error = xasprintf("[api] %s", why);
        free(why);
        return -1;
    }
    if (cfg->public_url[0] == '\0') {
        free(cfg->public_url);
        cfg->public_url = xasprintf("http://%s", cfg->listen);
    }
    size_t ulen = strlen(cfg->public_url);
    if (ulen > 0 && cfg->public_url[ulen - 1] == '/')
        cfg->public_url[ulen - 1] = '\0';
    for (size_t i = 0; i < cfg->nchannels; i++)
        cfg->channels[i].public_url = cfg->public_url;
    return 0;
}

int config_load_string(const char *name, const char *text, struct tl_config **out, char **cause)
{
    struct tl_config *cfg = xcalloc(1, sizeof(*cfg));
    struct config_reader r = {.cfg = cfg, .file = name};
    int line = 0;

    cfg->file = xstrdup(name);
    apply_defaults("server", cfg);
    apply_defaults("store", cfg);
    apply_defaults("log", cfg);
    apply_defaults("alerts", cfg);
    apply_defaults("limits", cfg);
    apply_defaults("outbox", cfg);
    apply_defaults("ussd", cfg);
    apply_defaults("api", cfg);

    if (scan_sections(&r, text) == 0) {
        line = ini_parse_string(text, ini_handler_cb, &r);
        if (line < 0)
            r.error = xstrdup("cannot read the file");
        else if (line > 0 && r.error == NULL)
            r.error = xstrdup("syntax error (expected 'key = value' or '[section]')");
        if (r.error == NULL)
            check_whole(&r);
    }
    if (r.error_line > 0)
        line = r.error_line;
    free(r.channel_lines);
    if (r.error != NULL) {
        if (cause != NULL)
            *cause = line > 0 ? xasprintf("%s:%d: %s", name, line, r.error)
                              : xasprintf("%s: %s", name, r.error);
        free(r.error);
        config_free(cfg);
        return TL_ERR_CONFIG;
    }
    *out = cfg;
    return TL_OK;
}

int config_load(const char *file, struct tl_config **out, char **cause)
{
    struct tl_buf text = {0};
    int read = tl_buf_append_file(&text, file, 1024 * 1024);

    if (read != TL_OK) {
        if (cause != NULL)
            *cause = read == TL_ERR_TOO_LARGE ? xasprintf("%s: larger than 1 MiB", file)
                                              : xasprintf("%s: %s", file, strerror(errno));
        tl_buf_free(&text);
        return TL_ERR_CONFIG;
    }
    if (memchr(tl_buf_str(&text), '\0', text.len) != NULL) {
        tl_buf_free(&text);
        if (cause != NULL)
            *cause = xasprintf("%s: contains a NUL byte", file);
        return TL_ERR_CONFIG;
    }
    int rc = config_load_string(file, tl_buf_str(&text), out, cause);
    tl_buf_free(&text);
    return rc;
}

static void free_strings(const char *section, void *base)
{
    for (size_t i = 0; i < config_noptions; i++) {
        const struct tl_config_option *opt = &config_options[i];
        if (strcmp(opt->section, section) != 0)
            continue;
        if (opt->type == TL_OPT_STRING || opt->type == TL_OPT_ENUM || opt->type == TL_OPT_SCHEDULE ||
            opt->type == TL_OPT_ADDRESS || opt->type == TL_OPT_URL) {
            char **s = (char **)(void *)((char *)base + opt->offset);
            free(*s);
            *s = NULL;
        }
    }
}

void config_free(struct tl_config *cfg)
{
    if (cfg == NULL)
        return;
    free_strings("server", cfg);
    free_strings("store", cfg);
    free_strings("log", cfg);
    free_strings("alerts", cfg);
    free_strings("limits", cfg);
    free_strings("outbox", cfg);
    free_strings("ussd", cfg);
    free_strings("api", cfg);
    config_tokens_free(cfg->tokens, cfg->ntokens);
    for (size_t i = 0; i < cfg->nchannels; i++) {
        free_strings("channel", &cfg->channels[i]);
        free((char *)cfg->channels[i].name);
    }
    free(cfg->alert_channels);
    free(cfg->channels);
    free(cfg->file);
    free(cfg);
}

char *config_parse_schedule(const char *text, struct tl_escalation_stage *stages, size_t *n)
{
    const char *p = text;

    *n = 0;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *item = xstrndup(p, len);
        char *colon = strchr(item, ':');
        double after = 0, radius = 0;
        struct tl_escalation_stage st = {0, 0, 0};

        while (len > 0 && item[len - 1] == ' ')
            item[--len] = '\0';
        if (colon == NULL) {
            char *why = xasprintf("'%s' is not AFTER:RADIUS", item);
            free(item);
            return why;
        }
        *colon = '\0';
        const char *r = colon + 1;
        while (*r == ' ')
            r++;
        if (parse_scaled(item, TL_OPT_DURATION, &after) < 0 || after <= 0) {
            char *why = xasprintf("'%s' is not a duration (like 60m, 6h)", item);
            free(item);
            return why;
        }
        /* A stage after a year never comes; the bound also keeps (long)after defined. */
        if (after > 366 * 86400.0) {
            char *why = xasprintf("'%s' is later than 366d", item);
            free(item);
            return why;
        }
        st.after_s = (long)after;
        if (strcmp(r, "city") == 0) {
            st.whole_city = 1;
        } else {
            char *unit;
            radius = strtod(r, &unit);
            if (unit == r || strcmp(unit, "km") != 0 || radius <= 0 || radius > 1000) {
                char *why = xasprintf("'%s' is not a radius (like 15km) or 'city'", r);
                free(item);
                return why;
            }
            st.radius_km = radius;
        }
        free(item);
        if (*n >= TL_ESCALATION_MAX)
            return xasprintf("more than %d stages", TL_ESCALATION_MAX);
        if (*n > 0 && st.after_s <= stages[*n - 1].after_s)
            return xasprintf("stages must be in increasing time");
        stages[(*n)++] = st;
        p += len;
    }
    return NULL;
}

const struct tl_channel_conf *config_channel(const struct tl_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nchannels; i++) {
        if (strcmp(cfg->channels[i].name, name) == 0)
            return &cfg->channels[i];
    }
    return NULL;
}

static bool dir_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * A relative folder is found from where the binary is when the working
 * directory does not have it, so any PREFIX works without a path built in:
 * PREFIX/sbin/talaash looks in PREFIX/share/talaash/, build/talaash (and
 * build/san/talaash) in the source tree above it.
 */
char *config_console_dir(const struct tl_config *cfg)
{
    static const char *const candidates[] = {"/../share/talaash/", "/../", "/../../"};
    const char *dir = cfg->console_dir;
    char exe[4096];

    if (dir[0] == '\0')
        return NULL;
    if (dir[0] == '/' || dir_exists(dir))
        return xstrdup(dir);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return xstrdup(dir);
    *slash = '\0';
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        char *path = xasprintf("%s%s%s", exe, candidates[i], dir);
        char *real = dir_exists(path) ? realpath(path, NULL) : NULL;
        free(path);
        if (real != NULL)
            return real; /* malloc'd by realpath: the caller's free() fits */
    }
    return xstrdup(dir);
}
