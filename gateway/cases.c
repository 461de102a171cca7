/*
 * cases.c — reports, follow-up questions, registration, sightings, status
 * and the police actions on a case (see cases.h).
 *
 * Privacy: the reporter's number goes to police (TX_POLICE_NEW_REPORT) and
 * nowhere else; a number typed inside a report is kept apart (contact) and
 * also goes to police only. Alerts are rendered from the case's child
 * fields alone (alerts_render).
 */
#include "gateway/cases.h"
#include "gateway/areas.h"
#include "gateway/alerts.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/log.h"
#include "gateway/police.h"
#include "gateway/store/store.h"
#include "gateway/texts.h"
#include "parsers/gazetteer.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct tl_area *case_area(const struct tl_daemon *d, const struct tl_case *c)
{
    return c->area_code ? gazetteer_by_code(d->gz, c->area_code) : NULL;
}

static enum tl_lang lang_of(const char *name)
{
    enum tl_lang l = TL_LANG_EN;

    grammar_lang_from_name(name, &l);
    return l;
}

/* Queues one message; returns TL_OK or TL_ERR_STORE. */
static int queue(struct tl_daemon *d, const char *channel, const char *phone, const char *text,
                 enum tl_outbox_kind kind, int64_t case_id, int64_t inbound_id)
{
    struct tl_outbox_new m = {
        .channel = channel,
        .phone = phone,
        .text = text,
        .kind = kind,
        .case_id = case_id,
        .inbound_id = inbound_id,
    };
    return store_outbox_add(d->store, &m, clock_now(), NULL);
}

/* Renders text id for police of the case's area (and enclosing areas) and queues it. */
static int notify_police(struct tl_daemon *d, const struct tl_case *c, enum tl_text_id id,
                         const struct tl_text_field *f, size_t nf, size_t *notified)
{
    const struct tl_area *a = case_area(d, c);
    char **phones = NULL;
    size_t n = 0;
    struct tl_buf text = {0};
    int rc = TL_OK;

    *notified = 0;
    if (a == NULL)
        return TL_OK;
    char *codes = alerts_enclosing_json(d->gz, a);
    if (store_police_phones_for(d->store, codes, &phones, &n) != TL_OK)
        rc = TL_ERR_STORE;
    free(codes);
    texts_render(id, TL_LANG_EN, f, nf, &text);
    for (size_t i = 0; rc == TL_OK && i < n; i++)
        rc = queue(d, alerts_channel(d), phones[i], tl_buf_str(&text), TL_OUT_POLICE, c->id, 0);
    if (rc == TL_OK)
        *notified = n;
    if (rc == TL_OK && n == 0)
        log_warn("cases", "event=no_police case=%s area=%s", c->case_no, a->code);
    store_strings_free(phones, n);
    tl_buf_free(&text);
    return rc;
}

static void age_text(const struct tl_case *c, char out[16])
{
    if (c->age >= 0)
        snprintf(out, 16, "%d", c->age);
    else
        out[0] = '\0';
}

/* Asks for the first missing field. */
static void ask_next(struct tl_daemon *d, const struct tl_case *c, enum tl_lang lang,
                     const struct tl_sms_parse *p, struct tl_buf *reply)
{
    struct tl_text_field f[] = {{"name", c->child_name}, {"typed", NULL}, {"candidates", NULL}};
    struct tl_buf cands = {0};

    (void)d;
    if (c->missing & TL_FIELD_NAME) {
        texts_render(TX_ASK_NAME, lang, f, 3, reply);
    } else if (c->missing & TL_FIELD_AGE) {
        texts_render(c->asked > 0 ? TX_AGE_AGAIN : TX_ASK_AGE, lang, f, 3, reply);
    } else if (p != NULL && p->area_text[0] && p->ncands > 0) {
        texts_area_list(d->gz, p->cands, p->ncands, lang, &cands);
        f[1].value = p->area_text;
        f[2].value = tl_buf_str(&cands);
        texts_render(TX_ASK_AREA_CANDIDATES, lang, f, 3, reply);
    } else {
        texts_render(TX_ASK_AREA, lang, f, 3, reply);
    }
    tl_buf_free(&cands);
}

static void set_str(char **slot, const char *v)
{
    if (v == NULL || v[0] == '\0')
        return;
    free(*slot);
    *slot = xstrdup(v);
}

/* Copies what a parse says into the case (only fields it has). */
static void merge_fields(struct tl_case *c, const struct tl_sms_parse *p)
{
    set_str(&c->child_name, p->name);
    if (p->age >= 0)
        c->age = p->age;
    if (p->gender != TL_GENDER_UNKNOWN)
        snprintf(c->gender, sizeof(c->gender), "%s",
                 p->gender == TL_GENDER_MALE ? "male" : "female");
    if (p->area != NULL) {
        set_str(&c->area_code, p->area->code);
        set_str(&c->area_text, p->area_text);
    } else if (p->area_text[0] && c->area_code == NULL) {
        set_str(&c->area_text, p->area_text);
    }
    set_str(&c->last_seen, p->last_seen);
    set_str(&c->description, p->description);
    set_str(&c->contact, p->contact);
}

static unsigned missing_of(const struct tl_case *c)
{
    unsigned m = 0;

    if (c->child_name == NULL || c->child_name[0] == '\0')
        m |= TL_FIELD_NAME;
    if (c->age < 0)
        m |= TL_FIELD_AGE;
    if (c->area_code == NULL)
        m |= TL_FIELD_AREA;
    return m;
}

/* A complete draft becomes a REPORTED case: number, police, reporter; auto-verify. */
static int case_register(struct tl_daemon *d, const struct tl_actor *a, struct tl_case *c,
                         struct tl_buf *reply)
{
    int64_t now = clock_now();
    const struct tl_area *area = case_area(d, c);
    bool autoverify = strcmp(d->cfg->verification, "auto") == 0;
    char age[16];
    size_t notified = 0;

    if (store_case_assign_number(d->store, c) != TL_OK)
        return TL_ERR_STORE;
    snprintf(c->state, sizeof(c->state), "reported");
    c->missing = 0;
    c->updated_at = now;
    c->radius_km = d->cfg->radius_km;
    age_text(c, age);
    enum tl_gender g = strcmp(c->gender, "male") == 0     ? TL_GENDER_MALE
                       : strcmp(c->gender, "female") == 0 ? TL_GENDER_FEMALE
                                                          : TL_GENDER_UNKNOWN;
    char *contact = c->contact ? xasprintf("%s (contact %s)", c->reporter_phone, c->contact)
                               : xstrdup(c->reporter_phone);
    struct tl_text_field f[] = {
        {"case", c->case_no},        {"name", c->child_name},
        {"age", age},                {"gender", texts_gender(g, TL_LANG_EN)},
        {"area", texts_area_name(area, TL_LANG_EN)}, {"last_seen", c->last_seen},
        {"description", c->description},        {"reporter", contact},
    };
    int rc = notify_police(d, c, TX_POLICE_NEW_REPORT, f, sizeof(f) / sizeof(f[0]), &notified);
    free(contact);
    if (rc != TL_OK)
        return rc;
    f[4].value = texts_area_name(area, a->lang);
    texts_render(autoverify ? TX_REPORT_REGISTERED_AUTO : TX_REPORT_REGISTERED, a->lang, f,
                 sizeof(f) / sizeof(f[0]), reply);
    if (autoverify) {
        snprintf(c->state, sizeof(c->state), "active");
        c->verified_at = now;
    }
    if (store_case_update(d->store, c) != TL_OK)
        return TL_ERR_STORE;
    store_audit(d->store, a->phone, "report", c->id, "ok", c->case_no, now);
    log_info("cases", "event=registered case=%s area=%s police_notified=%zu verification=%s",
             c->case_no, c->area_code, notified, d->cfg->verification);
    if (autoverify) {
        int64_t n = 0;
        return alerts_broadcast(d, c, area, "alert", c->radius_km, false, &n, NULL);
    }
    return TL_OK;
}

/* Asks, or registers when nothing is missing; writes the case back. */
static int draft_progress(struct tl_daemon *d, const struct tl_actor *a, struct tl_case *c,
                          const struct tl_sms_parse *p, struct tl_buf *reply)
{
    c->missing = missing_of(c);
    c->updated_at = clock_now();
    if (c->missing == 0)
        return case_register(d, a, c, reply);
    ask_next(d, c, a->lang, p, reply);
    return store_case_update(d->store, c);
}

int cases_report(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                 struct tl_buf *reply)
{
    int64_t now = clock_now();
    struct tl_case c;
    int rc;

    int64_t today = store_rate_hit(d->store, a->phone, "report", now, 86400);
    if (today < 0)
        return TL_ERR_STORE;
    if (today > d->cfg->reports_per_day) {
        texts_render(TX_RATE_LIMITED, a->lang, NULL, 0, reply);
        return TL_OK;
    }
    /* A report while a draft is open goes on with that draft (the same child, retyped). */
    rc = store_case_open_draft(d->store, a->phone, now - CASES_DRAFT_WINDOW_S, &c);
    if (rc == TL_ERR_STORE)
        return rc;
    if (rc == TL_ERR_NOT_FOUND) {
        memset(&c, 0, sizeof(c));
        snprintf(c.state, sizeof(c.state), "draft");
        c.reporter_phone = xstrdup(a->phone);
        snprintf(c.lang, sizeof(c.lang), "%s", grammar_lang_name(a->lang));
        c.channel = xstrdup(a->channel);
        c.age = -1;
        c.created_at = c.updated_at = now;
        merge_fields(&c, p);
        c.missing = missing_of(&c);
        if (store_case_insert(d->store, &c) != TL_OK) {
            store_case_clear(&c);
            return TL_ERR_STORE;
        }
    } else {
        merge_fields(&c, p);
        c.asked = 0;
    }
    if (a->inbound_id > 0 && store_inbound_set_case(d->store, a->inbound_id, c.id) != TL_OK) {
        store_case_clear(&c);
        return TL_ERR_STORE;
    }
    rc = draft_progress(d, a, &c, p, reply);
    store_case_clear(&c);
    return rc;
}

int cases_answer(struct tl_daemon *d, const struct tl_actor *a, struct tl_case *draft,
                 const char *text, size_t len, struct tl_buf *reply)
{
    struct tl_sms_parse *ans = xmalloc(sizeof(*ans));
    unsigned before = draft->missing;
    int rc;

    grammar_parse_answer(d->grammar, d->gz, text, len, a->lang, draft->missing, ans);
    areas_resolve(d->gz, d->store, a->phone, ans);
    merge_fields(draft, ans);
    if (a->inbound_id > 0 && store_inbound_set_case(d->store, a->inbound_id, draft->id) != TL_OK) {
        free(ans);
        return TL_ERR_STORE;
    }
    /* The same question again counts as a re-ask (the age gets the stricter wording). */
    draft->asked = missing_of(draft) == before ? draft->asked + 1 : 0;
    rc = draft_progress(d, a, draft, ans, reply);
    free(ans);
    return rc;
}

/* The command's keyword as police type it ("VERIFY"), into out[16]. */
static void command_upper(enum tl_command command, char out[16])
{
    snprintf(out, 16, "%s", grammar_command_name(command));
    for (char *u = out; *u; u++)
        *u = (char)(*u >= 'a' && *u <= 'z' ? *u - 32 : *u);
}

/*
 * Finds the case a command names. TL_OK with *c filled, or TL_ERR_NOT_FOUND
 * with the right explanation already in reply.
 */
static int case_lookup(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                       struct tl_case *c, struct tl_buf *reply)
{
    struct tl_text_field f[] = {{"case", p->case_no},
                                {"command", p->keyword ? p->keyword : "STATUS"}};
    char upper[16];

    command_upper(p->command, upper);
    f[1].value = upper;
    if (p->case_no[0] == '\0') {
        texts_render(TX_CASE_NUMBER_MISSING, a->lang, f, 2, reply);
        return TL_ERR_NOT_FOUND;
    }
    if (!p->case_valid) {
        texts_render(TX_CASE_NUMBER_INVALID, a->lang, f, 2, reply);
        return TL_ERR_NOT_FOUND;
    }
    int rc = store_case_by_number(d->store, p->case_no, c);
    if (rc == TL_ERR_NOT_FOUND)
        texts_render(TX_CASE_NOT_FOUND, a->lang, f, 2, reply);
    return rc;
}

int cases_sighting(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                   struct tl_buf *reply)
{
    struct tl_case c;
    size_t notified = 0;
    int rc = case_lookup(d, a, p, &c, reply);

    if (rc != TL_OK)
        return rc == TL_ERR_NOT_FOUND ? TL_OK : rc;
    rc = store_sighting_add(d->store, c.id, a->phone, p->text, clock_now());
    if (rc == TL_OK) {
        struct tl_text_field f[] = {{"case", c.case_no},
                                    {"name", c.child_name},
                                    {"reporter", a->phone},
                                    {"text", p->text[0] ? p->text : "(no details)"}};
        rc = notify_police(d, &c, TX_POLICE_SIGHTING, f, 4, &notified);
    }
    if (rc == TL_OK) {
        struct tl_text_field f[] = {{"case", c.case_no}};
        texts_render(TX_SEEN_THANKS, a->lang, f, 1, reply);
        log_info("cases", "event=sighting case=%s police_notified=%zu", c.case_no, notified);
    }
    store_case_clear(&c);
    return rc;
}

int cases_status(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                 struct tl_buf *reply)
{
    struct tl_case c;
    int rc = case_lookup(d, a, p, &c, reply);
    char age[16];

    if (rc != TL_OK)
        return rc == TL_ERR_NOT_FOUND ? TL_OK : rc;
    bool insider = (c.reporter_phone && strcmp(c.reporter_phone, a->phone) == 0) ||
                   police_is_registered(d->store, a->phone);
    age_text(&c, age);
    if (insider) {
        struct tl_text_field f[] = {{"case", c.case_no},
                                    {"name", c.child_name},
                                    {"age", age},
                                    {"area", texts_area_name(case_area(d, &c), a->lang)},
                                    {"state", texts_state(c.state, a->lang)}};
        texts_render(TX_STATUS_FULL, a->lang, f, 5, reply);
    } else {
        /* The public learns only whether the alert is on. */
        bool open = strcmp(c.state, "active") == 0 || strcmp(c.state, "reported") == 0;
        const char *state = open ? (a->lang == TL_LANG_UR ? "فعال" : "active")
                                 : (a->lang == TL_LANG_UR ? "بند" : "closed");
        struct tl_text_field f[] = {{"case", c.case_no}, {"state", state}};
        texts_render(TX_STATUS_PUBLIC, a->lang, f, 2, reply);
    }
    store_case_clear(&c);
    return TL_OK;
}

static const char *verdict_name(enum tl_police_verdict v)
{
    switch (v) {
    case TL_POLICE_OK:
        return "ok";
    case TL_POLICE_NOT_REGISTERED:
        return "refused: not registered";
    case TL_POLICE_WRONG_AREA:
        return "refused: outside area";
    case TL_POLICE_BAD_PIN:
        return "refused: PIN";
    case TL_POLICE_LOCKED:
        return "refused: locked";
    case TL_POLICE_STORE_ERROR:
        break;
    }
    return "error";
}

/* The reporter hears about a police decision, in their language. */
static int tell_reporter(struct tl_daemon *d, const struct tl_case *c, enum tl_text_id id)
{
    if (c->reporter_phone == NULL)
        return TL_OK;
    enum tl_lang lang = lang_of(c->lang);
    struct tl_buf text = {0};
    struct tl_text_field f[] = {{"case", c->case_no},
                                {"name", c->child_name},
                                {"area", texts_area_name(case_area(d, c), lang)},
                                {"text", c->close_reason ? c->close_reason : ""}};
    texts_render(id, lang, f, 4, &text);
    int rc = queue(d, c->channel ? c->channel : alerts_channel(d), c->reporter_phone,
                   tl_buf_str(&text), TL_OUT_REPLY, c->id, 0);
    tl_buf_free(&text);
    return rc;
}

int cases_police(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                 struct tl_buf *reply)
{
    const char *action = grammar_command_name(p->command);
    int64_t now = clock_now();
    struct tl_case c;
    char upper[16], count[24];
    int rc;

    command_upper(p->command, upper);
    /* Who is asking comes first: strangers learn nothing about case numbers. */
    if (!police_is_registered(d->store, a->phone)) {
        struct tl_text_field f[] = {{"command", upper}};
        texts_render(TX_NOT_POLICE, a->lang, f, 1, reply);
        store_audit(d->store, a->phone, action, 0, verdict_name(TL_POLICE_NOT_REGISTERED),
                    p->case_no, now);
        char phonebuf[LOG_PHONE_BUFSZ];
        log_warn("cases", "event=police_refused action=%s from=%s reason=not_registered", action,
                 log_phone(a->phone, phonebuf));
        return TL_OK;
    }
    rc = case_lookup(d, a, p, &c, reply);
    if (rc != TL_OK) {
        store_audit(d->store, a->phone, action, 0, "refused: no such case", p->case_no, now);
        return rc == TL_ERR_NOT_FOUND ? TL_OK : rc;
    }
    const struct tl_area *area = case_area(d, &c);
    const struct tl_pin_policy pins = {d->cfg->pin_attempts, d->cfg->pin_lockout};
    int64_t locked_until = 0;
    bool just_locked = false;
    enum tl_police_verdict v = police_authorize(d->store, d->gz, &pins, a->phone, area, p->pin,
                                                now, &locked_until, &just_locked);
    struct tl_text_field f[] = {{"case", c.case_no},
                                {"command", upper},
                                {"state", texts_state(c.state, TL_LANG_EN)},
                                {"area", texts_area_name(area, TL_LANG_EN)},
                                {"count", count}};
    if (v != TL_POLICE_OK) {
        if (v == TL_POLICE_STORE_ERROR) {
            store_case_clear(&c);
            return TL_ERR_STORE;
        }
        if (v == TL_POLICE_LOCKED) {
            /* the reply goes to the registered number itself, through the outbox */
            char until[32], phonebuf[LOG_PHONE_BUFSZ];
            time_t t = (time_t)locked_until;
            struct tm tm;
            struct tl_text_field lf[] = {{"until", until}};

            gmtime_r(&t, &tm);
            strftime(until, sizeof(until), "%Y-%m-%d %H:%M", &tm);
            texts_render(just_locked ? TX_PIN_LOCKED_NOW : TX_PIN_LOCKED, TL_LANG_EN, lf, 1, reply);
            if (just_locked) {
                store_audit(d->store, a->phone, "pin lockout", c.id, "locked", until, now);
                log_warn("cases", "event=pin_locked from=%s until=%lld attempts=%ld",
                         log_phone(a->phone, phonebuf), (long long)locked_until,
                         d->cfg->pin_attempts);
            }
        } else {
            texts_render(v == TL_POLICE_BAD_PIN ? TX_BAD_PIN : TX_POLICE_WRONG_AREA, TL_LANG_EN, f,
                         5, reply);
        }
        store_audit(d->store, a->phone, action, c.id, verdict_name(v), NULL, now);
        log_warn("cases", "event=police_refused action=%s case=%s reason=\"%s\"", action,
                 c.case_no, verdict_name(v));
        store_case_clear(&c);
        return TL_OK;
    }
    struct tl_case_action act = {
        .command = p->command, .text = p->text, .widen_to = p->area, .actor = a->phone};
    enum tl_case_outcome outcome;
    int64_t n = 0;
    rc = cases_apply(d, &c, &act, &outcome, &n, reply);
    store_case_clear(&c);
    return rc;
}

int cases_apply(struct tl_daemon *d, struct tl_case *cp, const struct tl_case_action *act,
                enum tl_case_outcome *outcome, int64_t *recipients, struct tl_buf *reply)
{
    const char *action = grammar_command_name(act->command);
    const struct tl_area *area = case_area(d, cp);
    int64_t now = clock_now();
    struct tl_case c = *cp; /* fields borrowed from cp; c's changes are copied back */
    char upper[16], count[24] = "0";
    int rc = TL_OK;

    command_upper(act->command, upper);
    struct tl_text_field f[] = {{"case", c.case_no},
                                {"command", upper},
                                {"state", texts_state(c.state, TL_LANG_EN)},
                                {"area", texts_area_name(area, TL_LANG_EN)},
                                {"count", count}};
    bool reported = strcmp(c.state, "reported") == 0, active = strcmp(c.state, "active") == 0;
    bool more = false; /* the wave's fan-out queues more after the commit: the count is "N+" */
    int64_t n = 0, cancelled = 0;
    *outcome = TL_CASE_DONE;
    switch (act->command) {
    case TL_CMD_VERIFY:
        if (!reported)
            goto bad_state;
        snprintf(c.state, sizeof(c.state), "active");
        c.verified_at = c.updated_at = now;
        rc = store_case_update(d->store, &c);
        if (rc == TL_OK)
            rc = alerts_broadcast(d, &c, area, "alert", c.radius_km, false, &n, &more);
        if (rc == TL_OK)
            rc = tell_reporter(d, &c, TX_REPORTER_VERIFIED);
        snprintf(count, sizeof(count), "%lld%s", (long long)n, more ? "+" : "");
        texts_render(TX_VERIFIED, TL_LANG_EN, f, 5, reply);
        break;
    case TL_CMD_FOUND:
    case TL_CMD_CLOSE:
    case TL_CMD_CANCEL:
        if (!reported && !active)
            goto bad_state;
        snprintf(c.state, sizeof(c.state), "%s",
                 act->command == TL_CMD_FOUND   ? "found"
                 : act->command == TL_CMD_CLOSE ? "closed"
                                                : "cancelled");
        c.closed_at = c.updated_at = now;
        if (act->command == TL_CMD_CLOSE && act->text && act->text[0])
            set_str(&c.close_reason, act->text);
        rc = store_case_update(d->store, &c);
        if (rc == TL_OK)
            rc = alerts_end(d, &c, act->command == TL_CMD_FOUND, &cancelled, &n);
        if (rc == TL_OK && act->command != TL_CMD_CANCEL)
            rc = tell_reporter(d, &c, act->command == TL_CMD_FOUND ? TX_REPORTER_FOUND
                                                                   : TX_REPORTER_CLOSED);
        snprintf(count, sizeof(count), "%lld", (long long)n);
        texts_render(act->command == TL_CMD_FOUND   ? TX_FOUND_DONE
                     : act->command == TL_CMD_CLOSE ? TX_CLOSED_DONE
                                                    : TX_CANCELLED_DONE,
                     TL_LANG_EN, f, 5, reply);
        break;
    case TL_CMD_WIDEN:
        if (!active)
            goto bad_state;
        if (act->widen_to == NULL) {
            *outcome = TL_CASE_NO_AREA;
            texts_render(TX_WIDEN_NO_AREA, TL_LANG_EN, f, 5, reply);
            break;
        }
        c.updated_at = now;
        rc = store_case_update(d->store, &c);
        if (rc == TL_OK)
            rc = alerts_broadcast(d, &c, act->widen_to, "escalation", 0, false, &n, &more);
        snprintf(count, sizeof(count), "%lld%s", (long long)n, more ? "+" : "");
        f[3].value = act->widen_to->name_en;
        texts_render(TX_WIDENED, TL_LANG_EN, f, 5, reply);
        break;
    default:
        *outcome = TL_CASE_BAD_STATE;
        *cp = c;
        return TL_ERR_INVALID;
    }
    store_audit(d->store, act->actor, action, c.id, rc == TL_OK ? "ok" : "error",
                act->command == TL_CMD_WIDEN && act->widen_to ? act->widen_to->code : NULL, now);
    log_info("cases", "event=case_action action=%s case=%s state=%s recipients=%lld", action,
             c.case_no, c.state, (long long)n);
    *recipients = n;
    *cp = c;
    return rc;
bad_state:
    *outcome = TL_CASE_BAD_STATE;
    texts_render(TX_BAD_STATE, TL_LANG_EN, f, 5, reply);
    store_audit(d->store, act->actor, action, c.id, "refused: state", c.state, now);
    *cp = c;
    return TL_OK;
}
