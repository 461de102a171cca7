/*
 * test_config.c — the configuration reader (gateway/config.h): every option
 * type with its defaults, units and ranges; `file:line: reason` messages for
 * each kind of mistake; ${ENV} values; whole-file rules (providers, the
 * alerts channel, public_url); and the completeness of gateway.conf.example
 * against config_options[].
 */
#include "common/result.h"
#include "gateway/config.h"
#include "tests/tap.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXAMPLE "gateway.conf.example"

/* Loads text that must be accepted; NULL (and a failed test) otherwise. */
static struct tl_config *load_ok(const char *text, const char *what)
{
    struct tl_config *cfg = NULL;
    char *cause = NULL;
    int rc = config_load_string("t.conf", text, &cfg, &cause);

    if (!ok(rc == TL_OK && cfg != NULL, "%s: accepted", what))
        diag("rc=%d cause=%s", rc, cause ? cause : "(null)");
    free(cause);
    return rc == TL_OK ? cfg : NULL;
}

/* Loads text that must be refused with exactly the message want. */
static void load_err(const char *text, const char *want, const char *what)
{
    struct tl_config *cfg = NULL;
    char *cause = NULL;
    int rc = config_load_string("t.conf", text, &cfg, &cause);

    is_int(rc, TL_ERR_CONFIG, "%s: refused with TL_ERR_CONFIG", what);
    ok(cfg == NULL, "%s: no config handed out", what);
    is_str(cause, want, "%s: message", what);
    free(cause);
    if (rc == TL_OK)
        config_free(cfg);
}

/* Refused, and the message starts with prefix (for %g-formatted ranges). */
static void load_err_prefix(const char *text, const char *prefix, const char *what)
{
    struct tl_config *cfg = NULL;
    char *cause = NULL;
    int rc = config_load_string("t.conf", text, &cfg, &cause);

    is_int(rc, TL_ERR_CONFIG, "%s: refused with TL_ERR_CONFIG", what);
    if (!ok(cause != NULL && strncmp(cause, prefix, strlen(prefix)) == 0,
            "%s: message starts with '%s'", what, prefix))
        diag("got: '%s'", cause ? cause : "(null)");
    free(cause);
    if (rc == TL_OK)
        config_free(cfg);
}

static void test_table(void)
{
    size_t bad_help = 0, dup = 0;

    ok(config_noptions >= 30, "the option table has every option (%zu rows)", config_noptions);
    for (size_t i = 0; i < config_noptions; i++) {
        const struct tl_config_option *o = &config_options[i];
        if (o->help == NULL || o->help[0] == '\0') {
            diag("%s.%s has no help", o->section, o->name);
            bad_help++;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(config_options[j].section, o->section) == 0 &&
                strcmp(config_options[j].name, o->name) == 0) {
                diag("%s.%s is listed twice", o->section, o->name);
                dup++;
            }
        }
    }
    is_int(bad_help, 0, "every option has non-empty help");
    is_int(dup, 0, "no option is listed twice");
}

static void test_defaults(void)
{
    struct tl_config *cfg = load_ok("", "empty text (every default parses)");

    if (cfg == NULL)
        return;
    is_str(cfg->file, "t.conf", "file name kept");
    is_str(cfg->listen, "127.0.0.1:8080", "listen default");
    is_str(cfg->public_url, "http://127.0.0.1:8080", "public_url default is http://LISTEN");
    is_int(cfg->max_body, 64 * 1024, "max_body default 64k");
    is_int(cfg->max_headers, 16 * 1024, "max_headers default 16k");
    is_int(cfg->max_uri, 4 * 1024, "max_uri default 4k");
    is_int(cfg->request_timeout, 10, "request_timeout default 10s");
    is_str(cfg->country_code, "92", "country_code default");
    is_str(cfg->store_path, "var/talaash.db", "store path default");
    is_int(cfg->busy_timeout_ms, 5000, "busy_timeout default");
    is_str(cfg->log_level, "info", "log level default");
    is_str(cfg->log_file, "", "log file default empty");
    is_str(cfg->alerts_channel, "", "alerts channel default empty");
    is_str(cfg->areas_file, "", "areas_file default empty");
    is_str(cfg->verification, "police", "verification default police");
    ok(cfg->radius_km == 5.0, "radius_km default 5");
    is_str(cfg->escalation, "60m:15km, 6h:city", "escalation default");
    is_int(cfg->nstages, 2, "default escalation has two stages");
    is_int(cfg->stages[0].after_s, 3600, "stage 1 after 60m");
    ok(cfg->stages[0].radius_km == 15.0 && !cfg->stages[0].whole_city, "stage 1 widens to 15 km");
    is_int(cfg->stages[1].after_s, 6 * 3600, "stage 2 after 6h");
    ok(cfg->stages[1].whole_city, "stage 2 is the whole city");
    is_int(cfg->max_segments, 2, "max_segments default");
    is_str(cfg->hotline, "15", "hotline default");
    is_int(cfg->alert_expiry, 6 * 3600, "alert expiry default 6h");
    is_int(cfg->retention_days, 90, "retention_days default");
    is_int(cfg->messages_per_minute, 10, "messages_per_minute default");
    is_int(cfg->reports_per_day, 5, "reports_per_day default");
    is_int(cfg->max_attempts, 10, "max_attempts default");
    ok(cfg->retry_base == 10.0, "retry_base default 10");
    ok(cfg->retry_max == 1800.0, "retry_max default 1800");
    ok(cfg->connect_timeout == 5.0, "connect_timeout default 5");
    ok(cfg->send_timeout == 30.0, "send_timeout default 30");
    is_int(cfg->ussd_session_timeout, 180, "ussd session_timeout default 180s");
    is_int(cfg->nchannels, 0, "no channels");
    ok(config_channel(cfg, "console") == NULL, "config_channel of an absent name is NULL");
    config_free(cfg);
    config_free(NULL);
    ok(1, "config_free(NULL) is harmless");
}

static void test_sizes(void)
{
    struct tl_config *cfg;

    cfg = load_ok("[server]\nmax_body = 2k\nmax_headers = 1m\nmax_uri = 300\n", "sizes k, m, bare");
    if (cfg != NULL) {
        is_int(cfg->max_body, 2048, "2k = 2048");
        is_int(cfg->max_headers, 1048576, "1m = 1048576");
        is_int(cfg->max_uri, 300, "300 = 300 bytes");
        config_free(cfg);
    }
    cfg = load_ok("[server]\nmax_body = 16M\nmax_headers = 1.5K\n", "sizes M, K, fractional");
    if (cfg != NULL) {
        is_int(cfg->max_body, 16 * 1024 * 1024, "16M = 16 MiB (the maximum, inclusive)");
        is_int(cfg->max_headers, 1536, "1.5K = 1536");
        config_free(cfg);
    }
    load_err("[server]\nmax_body = 64kb\n", "t.conf:2: max_body: '64kb' is not a size (like 64k)",
             "size with a trailing 'b'");
    load_err("[server]\nmax_body =\n", "t.conf:2: max_body: empty; the default is '64k'",
             "empty size");
    load_err("[server]\nmax_uri = 300.5\n", "t.conf:2: max_uri: '300.5' is not a whole number",
             "fractional byte count");
    load_err("[server]\nmax_uri = 255\n", "t.conf:2: max_uri: 255 is out of range [256, 65536]",
             "size below its minimum");
    load_err("[server]\n\nmax_headers = 2m\n",
             "t.conf:3: max_headers: 2m is out of range [1024, 1.04858e+06]",
             "size above its maximum (suffix kept in the message)");
    load_err_prefix("[server]\nmax_body = 17m\n", "t.conf:2: max_body: 17m is out of range [1024, ",
                    "max_body above 16m");
}

static void test_durations(void)
{
    struct tl_config *cfg;

    cfg = load_ok("[server]\nrequest_timeout = 45s\n[ussd]\nsession_timeout = 2m\n",
                  "durations s and m");
    if (cfg != NULL) {
        is_int(cfg->request_timeout, 45, "45s = 45");
        is_int(cfg->ussd_session_timeout, 120, "2m = 120");
        config_free(cfg);
    }
    cfg = load_ok("[server]\nrequest_timeout = 300\n[ussd]\nsession_timeout = 1h\n",
                  "duration bare and h");
    if (cfg != NULL) {
        is_int(cfg->request_timeout, 300, "300 = 300 seconds (maximum, inclusive)");
        is_int(cfg->ussd_session_timeout, 3600, "1h = 3600");
        config_free(cfg);
    }
    cfg = load_ok("[ussd]\nsession_timeout = 0.03125d\n", "duration d");
    if (cfg != NULL) {
        is_int(cfg->ussd_session_timeout, 2700, "0.03125d = 2700");
        config_free(cfg);
    }
    load_err("[ussd]\nsession_timeout = 1d\n",
             "t.conf:2: session_timeout: 1d is out of range [10, 3600]", "1d above the maximum");
    load_err("[server]\nrequest_timeout = 0s\n",
             "t.conf:2: request_timeout: 0s is out of range [1, 300]", "0s below the minimum");
    load_err("[server]\nrequest_timeout = 10x\n",
             "t.conf:2: request_timeout: '10x' is not a duration (like 30s, 5m)", "unknown unit");
    load_err("[server]\nrequest_timeout = 1.5s\n",
             "t.conf:2: request_timeout: '1.5s' is not a whole number", "fractional seconds");
}

static void test_ints_doubles(void)
{
    struct tl_config *cfg;

    cfg = load_ok("[store]\nbusy_timeout = 0\n[outbox]\nmax_attempts = 100\nretry_base = 0.5\n"
                  "retry_max = 86400\nconnect_timeout = 0.1\nsend_timeout = 12.25\n",
                  "ints and doubles at their bounds");
    if (cfg != NULL) {
        is_int(cfg->busy_timeout_ms, 0, "busy_timeout 0 (minimum)");
        is_int(cfg->max_attempts, 100, "max_attempts 100 (maximum)");
        ok(cfg->retry_base == 0.5, "retry_base 0.5");
        ok(cfg->retry_max == 86400.0, "retry_max 86400");
        ok(cfg->connect_timeout == 0.1, "connect_timeout 0.1");
        ok(cfg->send_timeout == 12.25, "send_timeout 12.25");
        config_free(cfg);
    }
    load_err("[store]\nbusy_timeout = 60001\n",
             "t.conf:2: busy_timeout: 60001 is out of range [0, 60000]", "int above maximum");
    load_err("[outbox]\nmax_attempts = 0\n", "t.conf:2: max_attempts: 0 is out of range [1, 100]",
             "int below minimum");
    load_err("[outbox]\nmax_attempts = ten\n", "t.conf:2: max_attempts: 'ten' is not a number",
             "int not a number");
    load_err("[outbox]\nmax_attempts = 2.5\n", "t.conf:2: max_attempts: '2.5' is not a whole number",
             "int with a fraction");
    load_err("[store]\nbusy_timeout = 5k\n", "t.conf:2: busy_timeout: '5k' is not a number",
             "int refuses a size suffix");
    load_err("[outbox]\nretry_base = 0.001\n",
             "t.conf:2: retry_base: 0.001 is out of range [0.01, 3600]", "double below minimum");
    load_err("[outbox]\nsend_timeout = nan\n", "t.conf:2: send_timeout: 'nan' is not a number",
             "NaN refused");
    load_err("[outbox]\nsend_timeout = inf\n", "t.conf:2: send_timeout: 'inf' is not a number",
             "infinity refused");
}

/* Issue #14: a console channel beyond loopback only when it says insecure = yes. */
static void test_console_loopback(void)
{
    struct tl_config *cfg;
    static const char *const loopback[] = {"127.0.0.1:8080", "127.9.8.7:80", "[::1]:8080"};

    for (size_t i = 0; i < 3; i++) {
        char text[200];
        snprintf(text, sizeof(text), "[server]\nlisten = %s\n[channel console]\nprovider = console\n",
                 loopback[i]);
        cfg = load_ok(text, "console on loopback listen");
        config_free(cfg);
    }
    load_err("[server]\nlisten = 0.0.0.0:8080\n[channel c]\nprovider = console\n",
             "t.conf:3: channel 'c': a console channel lets anyone who reaches it write as any "
             "number, and listen 0.0.0.0:8080 is beyond loopback: listen on 127.0.0.1, or set "
             "allow_ips and secret and insecure = yes",
             "console on 0.0.0.0 refused");
    load_err("[server]\nlisten = [::]:8080\n[channel c]\nprovider = console\n",
             "t.conf:3: channel 'c': a console channel lets anyone who reaches it write as any "
             "number, and listen [::]:8080 is beyond loopback: listen on 127.0.0.1, or set "
             "allow_ips and secret and insecure = yes",
             "console on [::] refused");
    load_err("[server]\nlisten = 10.0.0.5:8080\n[channel c]\nprovider = console\ninsecure = no\n",
             "t.conf:3: channel 'c': a console channel lets anyone who reaches it write as any "
             "number, and listen 10.0.0.5:8080 is beyond loopback: listen on 127.0.0.1, or set "
             "allow_ips and secret and insecure = yes",
             "console on a LAN address with insecure = no refused");
    cfg = load_ok("[server]\nlisten = 0.0.0.0:8080\n[channel c]\nprovider = console\ninsecure = yes\n"
                  "allow_ips = 10.0.0.0/8\nsecret = x\n",
                  "console beyond loopback with insecure = yes");
    if (cfg != NULL)
        is_str(cfg->channels[0].insecure, "yes", "insecure read");
    config_free(cfg);
    load_err("[channel k]\nprovider = kannel\ninsecure = yes\n",
             "t.conf:1: channel 'k': insecure applies to the console provider only",
             "insecure on another provider refused");
    load_err("[channel c]\nprovider = console\ninsecure = maybe\n",
             "t.conf:3: insecure: 'maybe' is not one of no|yes", "insecure is no or yes");
}

static void test_enums_strings(void)
{
    struct tl_config *cfg;

    cfg = load_ok("[log]\nlevel = debug\nfile = /tmp/talaash.log\n[server]\ncountry_code = 44\n"
                  "[store]\npath = /var/lib/talaash/t.db\n",
                  "enum and strings");
    if (cfg != NULL) {
        is_str(cfg->log_level, "debug", "level debug");
        is_str(cfg->log_file, "/tmp/talaash.log", "log file");
        is_str(cfg->country_code, "44", "country_code");
        is_str(cfg->store_path, "/var/lib/talaash/t.db", "store path");
        config_free(cfg);
    }
    load_err("[log]\nlevel = verbose\n",
             "t.conf:2: level: 'verbose' is not one of debug|info|warn|error", "unknown level");
    load_err("[log]\nlevel = Info\n", "t.conf:2: level: 'Info' is not one of debug|info|warn|error",
             "enum words are case-sensitive");
    load_err("[log]\nlevel = inf\n", "t.conf:2: level: 'inf' is not one of debug|info|warn|error",
             "a prefix of a choice is not a choice");
    /* An empty level would reach log_level_parse("") == -1 and log everything. */
    load_err("[log]\nlevel =\n", "t.conf:2: level: empty; the default is 'info'",
             "empty level refused");
    /*
     * An empty string where the default is not empty would silently mean
     * something else: store path "" is an SQLite temporary database (every
     * record lost at exit), country_code "" breaks number normalising.
     */
    load_err_prefix("[store]\npath =\n", "t.conf:2: path: ", "empty store path refused");
    load_err_prefix("[server]\ncountry_code =\n", "t.conf:2: country_code: ",
                    "empty country_code refused");
    load_err_prefix("[alerts]\nhotline =\n", "t.conf:2: hotline: ", "empty hotline refused");
    cfg = load_ok("[log]\nfile =\n[alerts]\nareas_file =\nescalation =\n",
                  "empty strings whose default is empty");
    if (cfg != NULL) {
        is_str(cfg->log_file, "", "empty log file = stderr");
        config_free(cfg);
    }
    load_err("[channel a]\nprovider = smpp\n",
             "t.conf:2: provider: 'smpp' is not one of africastalking|twilio|kannel|generic|console",
             "unknown provider");
}

static void test_schedule(void)
{
    struct tl_config *cfg = load_ok("[alerts]\nescalation = 30m:10km,2h:25.5km , 1d:city\n",
                                    "three-stage escalation");

    if (cfg != NULL) {
        is_int(cfg->nstages, 3, "three stages");
        is_int(cfg->stages[0].after_s, 1800, "30m");
        ok(cfg->stages[0].radius_km == 10.0, "10 km");
        is_int(cfg->stages[1].after_s, 7200, "2h");
        ok(cfg->stages[1].radius_km == 25.5, "25.5 km");
        is_int(cfg->stages[2].after_s, 86400, "1d");
        ok(cfg->stages[2].whole_city == 1, "city");
        config_free(cfg);
    }
    cfg = load_ok("[alerts]\nescalation =\n", "empty escalation");
    if (cfg != NULL) {
        is_int(cfg->nstages, 0, "empty escalation has no stages");
        config_free(cfg);
    }
    load_err("[alerts]\nescalation = 60m\n", "t.conf:2: escalation: '60m' is not AFTER:RADIUS",
             "stage without a radius");
    load_err("[alerts]\nescalation = 6h:city, 1h:20km\n",
             "t.conf:2: escalation: stages must be in increasing time", "stages out of order");
    load_err("[alerts]\nescalation = 1h:20 miles\n",
             "t.conf:2: escalation: '20 miles' is not a radius (like 15km) or 'city'", "bad radius");
    load_err("[alerts]\nescalation = soon:city\n",
             "t.conf:2: escalation: 'soon' is not a duration (like 60m, 6h)", "bad time");
    /* Found by fuzz_config: 6e43 s overflowed the cast to long (undefined behaviour). */
    load_err("[alerts]\nescalation = 6e40d:city\n",
             "t.conf:2: escalation: '6e40d' is later than 366d", "a stage beyond a year");
    cfg = load_ok("[alerts]\nescalation = 366d:city\n", "a stage at 366 days");
    if (cfg != NULL) {
        is_int((int)cfg->stages[0].after_s, 366 * 86400, "366d is 31622400 s");
        config_free(cfg);
    }
}

static void test_addresses_urls(void)
{
    struct tl_config *cfg;

    cfg = load_ok("[server]\nlisten = [::1]:8080\n", "IPv6 listen address");
    if (cfg != NULL) {
        is_str(cfg->listen, "[::1]:8080", "[::1]:8080 kept");
        is_str(cfg->public_url, "http://[::1]:8080", "public_url default from an IPv6 listen");
        config_free(cfg);
    }
    cfg = load_ok("[server]\nlisten = 0.0.0.0:0\n", "port 0");
    if (cfg != NULL) {
        is_str(cfg->listen, "0.0.0.0:0", "0.0.0.0:0 kept");
        config_free(cfg);
    }
    cfg = load_ok("[server]\nlisten = 10.0.0.5:9000\npublic_url = https://talaash.example.org/\n",
                  "public_url with a trailing slash");
    if (cfg != NULL) {
        is_str(cfg->public_url, "https://talaash.example.org", "trailing slash removed");
        config_free(cfg);
    }
    cfg = load_ok("[server]\npublic_url = http://gw.example.org:8443/talaash\n", "public_url path");
    if (cfg != NULL) {
        is_str(cfg->public_url, "http://gw.example.org:8443/talaash", "public_url kept as written");
        config_free(cfg);
    }
    load_err("[server]\nlisten = localhost\n", "t.conf:2: listen: 'localhost' is not host:port",
             "address without a port");
    load_err("[server]\nlisten = 127.0.0.1:65536\n",
             "t.conf:2: listen: '127.0.0.1:65536' is not host:port", "port above 65535");
    load_err("[server]\nlisten = 127.0.0.1:\n", "t.conf:2: listen: '127.0.0.1:' is not host:port",
             "empty port");
    load_err("[server]\nlisten = :8080\n", "t.conf:2: listen: ':8080' is not host:port",
             "empty host");
    load_err("[server]\nlisten = [::1]\n", "t.conf:2: listen: '[::1]' is not host:port",
             "bracketed IPv6 without a port");
    load_err("[server]\nlisten = [::1:8080\n", "t.conf:2: listen: '[::1:8080' is not host:port",
             "unclosed bracket");
    load_err("[server]\npublic_url = ftp://example.org\n",
             "t.conf:2: public_url: 'ftp://example.org' is not an http:// or https:// URL",
             "non-http URL");
    load_err("[channel a]\nprovider = generic\nbase_url = example.org/api\n",
             "t.conf:3: base_url: 'example.org/api' is not an http:// or https:// URL",
             "channel base_url without a scheme");
}

static void test_messages(void)
{
    load_err("[server]\nlisten = 127.0.0.1:1\nbogus = 1\n", "t.conf:3: unknown key 'bogus' in [server]",
             "unknown key");
    load_err("[channel a]\nprovider = console\ncolour = red\n",
             "t.conf:3: unknown key 'colour' in [channel a]", "unknown key in a channel");
    load_err("[store]\nlevel = info\n", "t.conf:2: unknown key 'level' in [store]",
             "key of another section");
    load_err("[server]\n\n[nope]\nx = 1\n", "t.conf:3: unknown section [nope]", "unknown section");
    load_err("listen = 127.0.0.1:1\n", "t.conf:1: unknown key 'listen' in []", "key before any section");
    load_err("[server\nlisten = 127.0.0.1:1\n", "t.conf:1: section header without ']'",
             "header without ']'");
    load_err("[server]\nlisten\n", "t.conf:2: syntax error (expected 'key = value' or '[section]')",
             "line without '='");
    load_err("[log]\nlevel = info\n\n[channel a]\nsender = X\n",
             "t.conf:4: channel 'a': provider is required", "channel without provider");
    load_err("[channel a]\nprovider =\n", "t.conf:1: channel 'a': provider is required",
             "channel with an empty provider");
    load_err("[channel a]\nprovider = console\n[channel b]\nprovider = console\n[channel a]\n",
             "t.conf:5: channel 'a' is defined twice", "duplicate channel");
    load_err("[channel SMS]\nprovider = console\n",
             "t.conf:1: channel name 'SMS' must be 1-32 of a-z 0-9 _ -", "upper-case channel name");
    load_err("[server]\n[channel a/b]\n", "t.conf:2: channel name 'a/b' must be 1-32 of a-z 0-9 _ -",
             "channel name with '/'");
    load_err("[channel abcdefghijklmnopqrstuvwxyz0123456]\nprovider = console\n",
             "t.conf:1: channel name 'abcdefghijklmnopqrstuvwxyz0123456' must be 1-32 of a-z 0-9 _ -",
             "33-character channel name");
    load_err("[channel]\nprovider = console\n", "t.conf:1: [channel] needs a name: [channel NAME]",
             "channel without a name");

    struct tl_config *cfg =
        load_ok("[channel abcdefghijklmnopqrstuvwxyz012345]\nprovider = console\n[channel a_b-9]\n"
                "provider = console\n",
                "32-character channel name and _ - digits");
    if (cfg != NULL) {
        is_int(cfg->nchannels, 2, "two channels");
        config_free(cfg);
    }

    /* The first error wins. */
    load_err("[server]\nmax_body = huge\nbogus = 1\n",
             "t.conf:2: max_body: 'huge' is not a size (like 64k)", "first of two errors reported");
    /* A missing file names the file. */
    char *cause = NULL;
    cfg = NULL;
    int rc = config_load("/nonexistent/talaash.conf", &cfg, &cause);
    is_int(rc, TL_ERR_CONFIG, "missing file refused");
    is_str(cause, "/nonexistent/talaash.conf: No such file or directory", "missing file message");
    free(cause);
}

static void test_env(void)
{
    struct tl_config *cfg;

    setenv("TL_TEST_SECRET", "s3cr=t;x", 1);
    setenv("TL_TEST_LISTEN", "127.0.0.1:9191", 1);
    unsetenv("TL_TEST_UNSET_XYZ");
    cfg = load_ok("[server]\nlisten = ${TL_TEST_LISTEN}\n[channel g]\nprovider = generic\n"
                  "secret = ${TL_TEST_SECRET}\ntoken = $TL_TEST_SECRET\n",
                  "${ENV} values");
    if (cfg != NULL) {
        const struct tl_channel_conf *ch = config_channel(cfg, "g");
        is_str(cfg->listen, "127.0.0.1:9191", "listen from the environment (then validated)");
        is_str(cfg->public_url, "http://127.0.0.1:9191", "public_url follows the expanded listen");
        is_str(ch ? ch->secret : NULL, "s3cr=t;x", "secret from the environment, verbatim");
        is_str(ch ? ch->token : NULL, "$TL_TEST_SECRET", "$NAME without braces is literal");
        config_free(cfg);
    }
    load_err("[channel g]\nprovider = generic\nsecret = ${TL_TEST_UNSET_XYZ}\n",
             "t.conf:3: secret: environment variable TL_TEST_UNSET_XYZ is not set",
             "unset ${ENV}");
    load_err("[channel g]\nprovider = generic\nsecret = ${A-B}\n",
             "t.conf:3: secret: '${A-B}' is not a valid ${NAME} reference", "bad ${NAME}");
    setenv("TL_TEST_LISTEN", "nowhere", 1);
    load_err("[server]\nlisten = ${TL_TEST_LISTEN}\n", "t.conf:2: listen: 'nowhere' is not host:port",
             "an expanded value is validated");
    unsetenv("TL_TEST_SECRET");
    unsetenv("TL_TEST_LISTEN");
}

static void test_channels(void)
{
    struct tl_config *cfg =
        load_ok("[channel zeta]\nprovider = console\n[channel at]\nprovider = africastalking\n"
                "username = sandbox\napi_key = k\nsender = 21512\nrate = 2.5\nbatch_size = 500\n"
                "concurrency = 1\nallow_ips = 10.0.0.0/8, 192.168.1.1\n",
                "two channels");

    if (cfg == NULL)
        return;
    is_int(cfg->nchannels, 2, "two channels");
    is_str(cfg->channels[0].name, "zeta", "file order kept: first");
    is_str(cfg->channels[1].name, "at", "file order kept: second");
    const struct tl_channel_conf *z = config_channel(cfg, "zeta");
    const struct tl_channel_conf *a = config_channel(cfg, "at");
    ok(z == &cfg->channels[0] && a == &cfg->channels[1], "config_channel finds both");
    if (z != NULL) {
        is_str(z->provider, "console", "zeta provider");
        ok(z->rate == 10.0, "default rate 10");
        is_int(z->batch_size, 100, "default batch_size 100");
        is_int(z->concurrency, 8, "default concurrency 8");
        is_str(z->base_url, "", "default base_url empty");
        is_str(z->sender, "", "default sender empty");
        is_str(z->allow_ips, "", "default allow_ips empty");
        is_str(z->public_url, cfg->public_url, "channel sees [server] public_url");
    }
    if (a != NULL) {
        is_str(a->provider, "africastalking", "at provider");
        is_str(a->username, "sandbox", "at username");
        is_str(a->api_key, "k", "at api_key");
        is_str(a->sender, "21512", "at sender");
        ok(a->rate == 2.5, "rate 2.5");
        is_int(a->batch_size, 500, "batch_size 500");
        is_int(a->concurrency, 1, "concurrency 1");
        is_str(a->allow_ips, "10.0.0.0/8, 192.168.1.1", "allow_ips verbatim");
    }
    ok(config_channel(cfg, "ze") == NULL, "config_channel needs the whole name");
    config_free(cfg);

    load_err("[channel a]\nprovider = console\nbatch_size = 1001\n",
             "t.conf:3: batch_size: 1001 is out of range [1, 1000]", "batch_size above maximum");
    load_err("[channel a]\nprovider = console\nconcurrency = 0\n",
             "t.conf:3: concurrency: 0 is out of range [1, 256]", "concurrency below minimum");
    load_err("[channel a]\nprovider = console\nrate = 0.05\n",
             "t.conf:3: rate: 0.05 is out of range [0.1, 100000]", "rate below minimum");
}

/*
 * libinih reads at most 199 characters a line: longer lines are refused with
 * their number and a hint; a long value goes through ${NAME} whole.
 */
static void test_long_line(void)
{
    char ips[400], text[600], line199[200];
    size_t j = 0;

    for (int i = 0; i < 20; i++)
        j += (size_t)snprintf(ips + j, sizeof(ips) - j, "%s10.%d.0.0/16", i ? ", " : "", i);
    is_int(strlen(ips), 268, "allow_ips of 20 CIDRs is 268 bytes");
    snprintf(text, sizeof(text), "[channel a]\nprovider = console\nallow_ips = %s\nsender = X\n",
             ips);
    load_err_prefix(text, "t.conf:3: line longer than ", "a 280-character line");

    setenv("TL_TEST_IPS", ips, 1);
    struct tl_config *cfg = load_ok(
        "[channel a]\nprovider = console\nallow_ips = ${TL_TEST_IPS}\nsender = X\n",
        "the long value through ${NAME}");
    if (cfg != NULL) {
        is_str(cfg->channels[0].allow_ips, ips, "the long value is kept whole");
        is_str(cfg->channels[0].sender, "X", "the line after it is read");
        config_free(cfg);
    }
    unsetenv("TL_TEST_IPS");

    /*
     * The longest line accepted must be read whole by libinih: 198
     * characters and the newline fill its 200-byte buffer with the NUL. At
     * 199 libinih reads the newline as a line of its own, so every later
     * line number is one too high.
     */
    memcpy(line199, "sender = ", 9);
    memset(line199 + 9, 'S', 190);
    line199[199] = '\0';
    snprintf(text, sizeof(text), "[channel a]\nprovider = console\n%.198s\nbogus = 1\n",
             line199);
    load_err(text, "t.conf:4: unknown key 'bogus' in [channel a]",
             "line numbers after a 198-character line");
    snprintf(text, sizeof(text), "[channel a]\nprovider = console\n%.198s\n", line199);
    cfg = load_ok(text, "a 198-character line");
    if (cfg != NULL) {
        is_int(strlen(cfg->channels[0].sender), 189, "its 189-character value is whole");
        config_free(cfg);
    }
    snprintf(text, sizeof(text), "[channel a]\nprovider = console\n%s\nbogus = 1\n", line199);
    cfg = NULL;
    char *cause = NULL;
    int rc = config_load_string("t.conf", text, &cfg, &cause);
    is_int(rc, TL_ERR_CONFIG, "a 199-character line then an unknown key: refused");
    ok(cause != NULL && strncmp(cause, "t.conf:3: ", 10) == 0,
       "a 199-character line is refused at its own line (not a shifted later one): %s",
       cause ? cause : "(null)");
    free(cause);
    if (rc == TL_OK)
        config_free(cfg);
}

static void test_alerts_channel(void)
{
    struct tl_config *cfg;

    load_err("[alerts]\nchannel = sms\n[channel console]\nprovider = console\n",
             "t.conf: [alerts] channel 'sms' is not a configured channel",
             "alerts channel that is not configured");
    load_err("[alerts]\nchannel = console\n", "t.conf: [alerts] channel 'console' is not a configured channel",
             "alerts channel with no channels at all");
    cfg = load_ok("[alerts]\nchannel = b\n[channel a]\nprovider = console\n[channel b]\n"
                  "provider = console\n",
                  "alerts channel names a later channel");
    if (cfg != NULL) {
        is_str(cfg->alerts_channel, "b", "alerts channel kept");
        config_free(cfg);
    }
    cfg = load_ok("[channel a]\nprovider = console\n", "alerts channel empty");
    if (cfg != NULL) {
        is_str(cfg->alerts_channel, "", "empty alerts channel stays empty (= first channel)");
        is_int((long long)cfg->nalert_channels, 1, "one alert channel: the first");
        ok(cfg->nalert_channels == 1 && cfg->alert_channels[0] == &cfg->channels[0],
           "the first [channel] of the file");
        config_free(cfg);
    }
    /* [alerts] channels: several accounts sharing every alert; channel is the same list. */
    static const char three[] = "[channel a]\nprovider = console\n[channel b]\nprovider = console\n"
                                "[channel c]\nprovider = console\n";
    char text[512];
    snprintf(text, sizeof(text), "[alerts]\nchannels = c, a ,b\n%s", three);
    cfg = load_ok(text, "alerts channels = c, a ,b");
    if (cfg != NULL) {
        is_int((long long)cfg->nalert_channels, 3, "three alert channels");
        ok(cfg->nalert_channels == 3 && cfg->alert_channels[0] == &cfg->channels[2] &&
               cfg->alert_channels[1] == &cfg->channels[0] &&
               cfg->alert_channels[2] == &cfg->channels[1],
           "in the order written (c, a, b)");
        ok(config_alert_channel(cfg, &cfg->channels[1]), "b is an alert channel");
        config_free(cfg);
    }
    snprintf(text, sizeof(text), "[alerts]\nchannel = b,c\n%s", three);
    cfg = load_ok(text, "alerts channel = b,c (channel is an alias of channels)");
    if (cfg != NULL) {
        is_int((long long)cfg->nalert_channels, 2, "two alert channels");
        ok(!config_alert_channel(cfg, &cfg->channels[0]), "a is not an alert channel");
        config_free(cfg);
    }
    snprintf(text, sizeof(text), "[alerts]\nchannel = a\nchannels = b, c\n%s", three);
    load_err(text, "t.conf: [alerts] set channel or channels, not both (channel is a list of one)",
             "alerts channel and channels both set");
    snprintf(text, sizeof(text), "[alerts]\nchannels = a, x\n%s", three);
    load_err(text, "t.conf: [alerts] channels 'x' is not a configured channel",
             "alerts channels naming an unknown channel");
    snprintf(text, sizeof(text), "[alerts]\nchannels = a, b, a\n%s", three);
    load_err(text, "t.conf: [alerts] channels 'a' is named twice", "alerts channels naming one twice");
}

/* ---- gateway.conf.example is complete ---- */

struct example_key {
    char section[64];
    char name[64];
};

static size_t trim(const char *s, size_t len, const char **start)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    *start = s;
    return len;
}

/* Reads every `name =` line of the example with the section it is in. */
static size_t read_example(struct example_key *keys, size_t max)
{
    FILE *f = fopen(EXAMPLE, "r");
    char line[512], section[64] = "";
    size_t n = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *s;
        size_t len = trim(line, strcspn(line, "\n"), &s);
        if (len == 0 || s[0] == ';' || s[0] == '#')
            continue;
        if (s[0] == '[' && s[len - 1] == ']') {
            size_t sl = len - 2 < sizeof(section) - 1 ? len - 2 : sizeof(section) - 1;
            memcpy(section, s + 1, sl);
            section[sl] = '\0';
            continue;
        }
        const char *eq = memchr(s, '=', len);
        if (eq == NULL || n == max)
            continue;
        const char *name;
        size_t nl = trim(s, (size_t)(eq - s), &name);
        if (nl == 0 || nl >= sizeof(keys[n].name))
            continue;
        memcpy(keys[n].name, name, nl);
        keys[n].name[nl] = '\0';
        memcpy(keys[n].section, section, sizeof(section));
        n++;
    }
    fclose(f);
    return n;
}

static void test_example(void)
{
    struct example_key keys[256];
    size_t nkeys = read_example(keys, sizeof(keys) / sizeof(keys[0]));
    size_t missing = 0;

    if (!ok(nkeys > 0, "%s read (%zu keys)", EXAMPLE, nkeys))
        return;
    for (size_t i = 0; i < config_noptions; i++) {
        const struct tl_config_option *o = &config_options[i];
        const char *want = strcmp(o->section, "channel") == 0 ? "channel console" : o->section;
        bool found = false;
        for (size_t k = 0; k < nkeys && !found; k++)
            found = strcmp(keys[k].section, want) == 0 && strcmp(keys[k].name, o->name) == 0;
        if (!found) {
            diag("%s misses '%s =' in [%s]", EXAMPLE, o->name, want);
            missing++;
        }
    }
    is_int(missing, 0, "every option of config_options[] is in %s", EXAMPLE);

    size_t unknown = 0;
    for (size_t k = 0; k < nkeys; k++) {
        const char *sec = strncmp(keys[k].section, "channel ", 8) == 0 ? "channel" : keys[k].section;
        bool found = false;
        for (size_t i = 0; i < config_noptions && !found; i++)
            found = strcmp(config_options[i].section, sec) == 0 &&
                    strcmp(config_options[i].name, keys[k].name) == 0;
        if (!found) {
            diag("[%s] %s is not an option", keys[k].section, keys[k].name);
            unknown++;
        }
    }
    is_int(unknown, 0, "%s lists no unknown option", EXAMPLE);

    struct tl_config *cfg = NULL;
    char *cause = NULL;
    int rc = config_load(EXAMPLE, &cfg, &cause);
    is_int(rc, TL_OK, "%s loads with config_load", EXAMPLE);
    if (cause != NULL)
        diag("%s", cause);
    free(cause);
    if (rc != TL_OK)
        return;
    is_str(cfg->file, EXAMPLE, "file name kept");
    is_int(cfg->nchannels, 1, "the example has one channel");
    const struct tl_channel_conf *ch = config_channel(cfg, "console");
    ok(ch != NULL, "[channel console] present");
    if (ch != NULL) {
        is_str(ch->provider, "console", "console provider");
        is_str(ch->sender, "TALAASH", "console sender");
        ok(ch->rate == 50.0, "console rate 50");
    }
    is_str(cfg->alerts_channel, "console", "alerts go through console");
    is_str(cfg->public_url, "http://127.0.0.1:8080", "example public_url defaults to http://LISTEN");
    config_free(cfg);
}

/* [api] console_dir: none when empty, as written when found, else beside the binary. */
static void test_console_dir(void)
{
    struct tl_config *cfg = load_ok("[api]\nconsole_dir = /srv/console\n", "console_dir absolute");
    char *dir;

    if (cfg == NULL)
        return;
    dir = config_console_dir(cfg);
    is_str(dir, "/srv/console", "an absolute console_dir is used as it is (even when missing)");
    free(dir);
    config_free(cfg);
    /* The unit tests run in the source tree, whose console/ exists. */
    cfg = load_ok("", "console_dir default");
    if (cfg == NULL)
        return;
    is_str(cfg->console_dir, "console", "console_dir defaults to console");
    dir = config_console_dir(cfg);
    is_str(dir, "console", "found from the working directory: as written");
    free(dir);
    cfg->console_dir[0] = '\0';
    ok(config_console_dir(cfg) == NULL, "an empty console_dir: no console");
    config_free(cfg);
    /*
     * Not in the working directory: beside the binary. This binary is
     * BUILD/tests/test_config, so "tests" is found as BUILD/../tests (the
     * source tree's candidate), i.e. the folder this binary is in.
     */
    cfg = load_ok("[api]\nconsole_dir = tests\n", "a relative folder");
    if (cfg == NULL)
        return;
    char exe[4096], *here = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    if (strrchr(exe, '/') != NULL) {
        *strrchr(exe, '/') = '\0';
        here = realpath(exe, NULL);
    }
    if (chdir("/") == 0) {
        dir = config_console_dir(cfg);
        is_str(dir, here, "missing from the working directory: found beside the binary");
        free(dir);
        cfg->console_dir[0] = 'X'; /* "Xests": nowhere */
        dir = config_console_dir(cfg);
        is_str(dir, "Xests", "found nowhere: as written (the console warns)");
        free(dir);
    }
    free(here);
    config_free(cfg);
}

int main(void)
{
    test_table();
    test_defaults();
    test_sizes();
    test_durations();
    test_ints_doubles();
    test_enums_strings();
    test_console_loopback();
    test_schedule();
    test_addresses_urls();
    test_messages();
    test_env();
    test_channels();
    test_long_line();
    test_alerts_channel();
    test_example();
    test_console_dir();
    return done_testing();
}
