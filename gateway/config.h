/*
 * config.h — the gateway's configuration: one INI file read with libinih.
 *
 * Every option is one row of one table (config_options[]: section, name,
 * type, default, range, help). Parsing, defaults, validation, the README's
 * reference and the test that gateway.conf.example is complete all read that
 * table, so an option cannot exist in one place and be missing in another.
 *
 * Sections: [server], [store], [log], [alerts], [limits], [outbox], [ussd], [api], and one
 * [channel NAME] per aggregator account. A value written `${NAME}` is taken
 * from the environment (for secrets). Unknown sections and keys and bad
 * values are errors reported as `file:line: reason`.
 */
#ifndef TALAASH_CONFIG_H
#define TALAASH_CONFIG_H

#include <stddef.h>

#include "providers/provider.h"

enum tl_opt_type {
    TL_OPT_STRING = 0,
    TL_OPT_INT = 1,      /* integer within [min, max] */
    TL_OPT_SIZE = 2,     /* bytes; suffix k or m (1024-based) */
    TL_OPT_DURATION = 3, /* seconds; suffix s, m, h or d */
    TL_OPT_DOUBLE = 4,   /* decimal within [min, max] */
    TL_OPT_ENUM = 5,     /* one of the '|'-separated words in choices */
    TL_OPT_ADDRESS = 6,  /* host:port (IPv4 or [IPv6]) */
    TL_OPT_URL = 7,      /* http:// or https:// URL, or empty */
    TL_OPT_SCHEDULE = 8, /* escalation: "AFTER:RADIUSkm, AFTER:city" (a string, checked) */
};

/* One escalation stage: at verified_at + after_s, widen to radius_km or the whole city. */
struct tl_escalation_stage {
    long after_s;
    double radius_km;
    int whole_city;
};
#define TL_ESCALATION_MAX 8

struct tl_config_option {
    const char *section; /* "server", …, or "channel" for every [channel NAME] */
    const char *name;
    enum tl_opt_type type;
    const char *def;     /* default as it would be written in the file ("" = unset) */
    double min, max;     /* for INT, SIZE, DURATION, DOUBLE */
    const char *choices; /* for ENUM */
    int secret;          /* never printed, not even by check-config */
    const char *help;
    size_t offset;       /* into struct tl_config, or struct tl_channel_conf for "channel" */
    size_t width;        /* sizeof the field (int or long for INT and DURATION) */
};

extern const struct tl_config_option config_options[];
extern const size_t config_noptions;

/* What an operator API token may do; each role includes the ones before it. */
enum tl_role {
    TL_ROLE_VIEWER = 0,   /* read; no reporter phone, no PINs, other numbers masked */
    TL_ROLE_OPERATOR = 1, /* also act on cases, police, blocks, resends */
    TL_ROLE_ADMIN = 2,    /* also the API's own audit (tokens, refusals) and full numbers */
};
struct tl_api_token {
    char *name;
    enum tl_role role;
    char *secret; /* never logged */
};
const char *config_role_name(enum tl_role role);
void config_tokens_free(struct tl_api_token *t, size_t n);

struct tl_config {
    char *file;

    /* [server] */
    char *listen;
    char *public_url;
    size_t max_body;
    size_t max_headers;
    size_t max_uri;
    long request_timeout;
    long max_connections_per_ip;
    char *country_code;

    /* [store] */
    char *store_backend; /* "sqlite" or "postgresql" */
    char *store_path;
    char *store_url;
    const char *store_where; /* what store_open() opens: store_path or store_url (not owned) */
    long busy_timeout_ms;
    long keep_sent;    /* seconds */
    long keep_inbound; /* seconds */

    /* [log] */
    char *log_level;
    char *log_file;

    /* [alerts] */
    char *alerts_channel;  /* channel = … and channels = … are one list (either key) */
    char *alerts_channels;
    /* parsed from them: the channels that share every alert, in the order written */
    const struct tl_channel_conf **alert_channels;
    size_t nalert_channels;
    char *areas_file;
    char *verification;
    double radius_km;
    char *escalation;
    struct tl_escalation_stage stages[TL_ESCALATION_MAX]; /* parsed from escalation */
    size_t nstages;
    long max_segments;
    char *hotline;
    char *cap_event; /* the public feed's CAP <event> */
    long alert_expiry;
    long wave_chunk;    /* subscribers per step of a wave (0: all in its transaction) */
    long wave_first_ms; /* a wave's own transaction queues steps this long */
    long retention_days;

    /* [limits] */
    long messages_per_minute;
    long reports_per_day;
    long pin_attempts; /* wrong PINs before a number is locked out of police commands */
    long pin_lockout;  /* seconds a lockout lasts (and the window wrong PINs are counted in) */

    /* [outbox] */
    long max_attempts;
    double retry_base;
    double retry_max;
    double connect_timeout;
    double send_timeout;

    /* [ussd] */
    long ussd_session_timeout;

    /* [api] */
    char *api_tokens;
    char *api_token_file;
    char *console_dir;
    struct tl_api_token *tokens; /* parsed from api_tokens and api_token_file */
    size_t ntokens;

    /* [channel NAME], in file order */
    struct tl_channel_conf *channels;
    size_t nchannels;
};

/*
 * Reads and validates a config file. TL_OK, or TL_ERR_CONFIG with
 * "file:line: reason" (or "file: reason") in *cause.
 */
int config_load(const char *file, struct tl_config **out, char **cause);
/* The same from text in memory; `name` stands for the file in messages. */
int config_load_string(const char *name, const char *text, struct tl_config **out, char **cause);
void config_free(struct tl_config *cfg);

/*
 * Parses an escalation schedule ("60m:15km, 6h:city"; "" = none) into
 * stages[0..*n) in increasing time. NULL, or an allocated reason.
 */
char *config_parse_schedule(const char *text, struct tl_escalation_stage *stages, size_t *n);

/*
 * The web console's folder, [api] console_dir: NULL when empty (no
 * console); an absolute path, or a relative one that exists from the
 * working directory, as it is; else the first that exists of it beside the
 * binary: PREFIX/share/talaash/DIR (an installed PREFIX/sbin/talaash) or
 * the source tree's DIR (build/talaash). Allocated: the caller frees.
 */
char *config_console_dir(const struct tl_config *cfg);

const struct tl_channel_conf *config_channel(const struct tl_config *cfg, const char *name);
/* Whether ch is one of the channels that send alerts ([alerts] channels). */
bool config_alert_channel(const struct tl_config *cfg, const struct tl_channel_conf *ch);

#endif
