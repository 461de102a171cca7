/*
 * alerts.c — targeting, rendering, escalation and the end of alerts (see
 * alerts.h). The gazetteer is small (hundreds of areas), so scopes are
 * computed in C by walking it; the subscribers (up to millions) are only
 * ever touched by the store's set-based SQL.
 */
#include "gateway/alerts.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/daemon.h"
#include "gateway/fanout.h"
#include "gateway/log.h"
#include "gateway/store/store.h"
#include "gateway/texts.h"
#include "parsers/gazetteer.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_add_code(struct tl_buf *b, const struct tl_area *a, bool *first)
{
    tl_buf_append_str(b, *first ? "\"" : ",\"");
    tl_buf_append_json(b, a->code, strlen(a->code));
    tl_buf_append_char(b, '"');
    *first = false;
}

const struct tl_area *alerts_city_of(const struct tl_gazetteer *gz, const struct tl_area *a)
{
    const struct tl_area *p = a;

    while (p != NULL && p->kind > TL_AREA_CITY && p->parent >= 0)
        p = gazetteer_at(gz, (size_t)p->parent);
    return p ? p : a;
}

char *alerts_scope_json(const struct tl_gazetteer *gz, const struct tl_area *center,
                        double radius_km, bool whole_city)
{
    struct tl_buf b = {0};
    bool first = true;
    const struct tl_area *root = whole_city ? alerts_city_of(gz, center) : center;

    tl_buf_append_char(&b, '[');
    for (size_t i = 0; i < gazetteer_count(gz); i++) {
        const struct tl_area *a = gazetteer_at(gz, i);
        bool in = gazetteer_within(gz, a, root) ||     /* the area and all inside it */
                  gazetteer_within(gz, center, a) ||   /* every enclosing area */
                  (radius_km > 0 && gazetteer_distance_km(a, center) <= radius_km);
        if (in)
            json_add_code(&b, a, &first);
    }
    tl_buf_append_char(&b, ']');
    return tl_buf_steal(&b);
}

char *alerts_enclosing_json(const struct tl_gazetteer *gz, const struct tl_area *a)
{
    struct tl_buf b = {0};
    bool first = true;

    tl_buf_append_char(&b, '[');
    for (const struct tl_area *p = a; p != NULL;
         p = p->parent >= 0 ? gazetteer_at(gz, (size_t)p->parent) : NULL)
        json_add_code(&b, p, &first);
    tl_buf_append_char(&b, ']');
    return tl_buf_steal(&b);
}

const char *alerts_channel(const struct tl_daemon *d)
{
    if (d->cfg->nalert_channels > 1)
        return TL_OUTBOX_POOL;
    return d->cfg->nalert_channels == 1 ? d->cfg->alert_channels[0]->name : "console";
}

void alerts_render(const struct tl_daemon *d, const struct tl_case *c, enum tl_lang lang,
                   struct tl_buf *out)
{
    const struct tl_area *a = c->area_code ? gazetteer_by_code(d->gz, c->area_code) : NULL;
    const struct tl_area *city = a ? alerts_city_of(d->gz, a) : NULL;
    enum tl_gender g = strcmp(c->gender, "male") == 0     ? TL_GENDER_MALE
                       : strcmp(c->gender, "female") == 0 ? TL_GENDER_FEMALE
                                                          : TL_GENDER_UNKNOWN;
    char age[16];

    /*
     * The header names the case's own area (a town or neighbourhood people
     * recognise) with the city above it in the area tree: "ALERT Korangi,
     * Karachi:"; the city alone when the case is the city's, the area alone
     * above a city. Should even the shortened text not fit, the city goes.
     */
    char place[256];
    if (a == NULL)
        snprintf(place, sizeof(place), "Talaash");
    else if (city != NULL && city != a && city->kind == TL_AREA_CITY)
        snprintf(place, sizeof(place), "%s%s%s", texts_area_name(a, lang),
                 lang == TL_LANG_UR ? "، " : ", ", texts_area_name(city, lang));
    else
        snprintf(place, sizeof(place), "%s", texts_area_name(a, lang));
    snprintf(age, sizeof(age), "%d", c->age);
    struct tl_text_field f[] = {
        {"place", place},
        {"name", c->child_name},
        {"age", c->age >= 0 ? age : ""},
        {"gender", texts_gender(g, lang)},
        {"area", texts_area_name(a, lang)},
        {"last_seen", c->last_seen},
        {"description", c->description},
        {"pronoun", g == TL_GENDER_MALE ? "him" : g == TL_GENDER_FEMALE ? "her" : "the child"},
        {"hotline", d->cfg->hotline},
        {"case", c->case_no},
    };
    struct tl_buf text = {0};
    size_t segs = texts_render_fit(TX_ALERT, lang, f, sizeof(f) / sizeof(f[0]), "description",
                                   "last_seen", (size_t)d->cfg->max_segments, &text);
    if (segs > (size_t)d->cfg->max_segments && a != NULL) {
        f[0].value = texts_area_name(a, lang);
        tl_buf_reset(&text);
        texts_render_fit(TX_ALERT, lang, f, sizeof(f) / sizeof(f[0]), "description", "last_seen",
                         (size_t)d->cfg->max_segments, &text);
    }
    tl_buf_append(out, tl_buf_str(&text), text.len);
    tl_buf_free(&text);
}

int alerts_broadcast(struct tl_daemon *d, const struct tl_case *c, const struct tl_area *center,
                     const char *kind, double radius_km, bool whole_city, int64_t *recipients,
                     bool *more)
{
    struct tl_buf en = {0}, ur = {0}, rur = {0};
    int64_t now = clock_now(), alert_id = 0;
    bool rest = false;
    int rc;

    *recipients = 0;
    if (more != NULL)
        *more = false;
    if (center == NULL)
        return TL_ERR_INVALID;
    alerts_render(d, c, TL_LANG_EN, &en);
    alerts_render(d, c, TL_LANG_UR, &ur);
    alerts_render(d, c, TL_LANG_ROMAN_UR, &rur);
    char *scope = alerts_scope_json(d->gz, center, radius_km, whole_city);
    struct tl_alert_wave w = {
        .case_id = c->id,
        .kind = kind,
        .radius_km = whole_city ? -1 : radius_km,
        .area_codes_json = scope,
        .channel = alerts_channel(d),
        .text_en = tl_buf_str(&en),
        .text_ur = tl_buf_str(&ur),
        .text_roman_ur = tl_buf_str(&rur),
        .expires_at = now + d->cfg->alert_expiry,
        .chunk = d->cfg->wave_chunk,
        .first_ms = (double)d->cfg->wave_first_ms,
    };
    double started = clock_mono_ms();
    rc = store_alert_wave(d->store, &w, now, &alert_id, recipients, &rest);
    if (rc == TL_OK)
        log_info("alerts",
                 "event=wave case=%s kind=%s center=%s radius_km=%g city=%d recipients=%lld "
                 "fanout=%d alert=%lld ms=%.1f",
                 c->case_no, kind, center->code, radius_km, whole_city ? 1 : 0,
                 (long long)*recipients, rest ? 1 : 0, (long long)alert_id,
                 clock_mono_ms() - started);
    else
        log_error("alerts", "event=wave_failed case=%s detail=\"%s\"", c->case_no,
                  store_errmsg(d->store));
    free(scope);
    tl_buf_free(&en);
    tl_buf_free(&ur);
    tl_buf_free(&rur);
    daemon_outbox_ready(d);
    if (rest)
        fanout_kick(d->fanout);
    if (more != NULL)
        *more = rest;
    return rc;
}

int alerts_end(struct tl_daemon *d, const struct tl_case *c, bool found, int64_t *cancelled,
               int64_t *recipients)
{
    struct tl_buf t[3] = {{0}, {0}, {0}};
    struct tl_text_field f[] = {{"name", c->child_name}, {"case", c->case_no}};
    int rc;

    for (int lang = 0; lang < 3; lang++)
        texts_render(found ? TX_UPDATE_FOUND : TX_UPDATE_CLOSED, (enum tl_lang)lang, f, 2,
                     &t[lang]);
    rc = store_alert_end(d->store, c->id, alerts_channel(d), tl_buf_str(&t[TL_LANG_EN]),
                         tl_buf_str(&t[TL_LANG_UR]), tl_buf_str(&t[TL_LANG_ROMAN_UR]),
                         clock_now(), cancelled, recipients);
    if (rc == TL_OK)
        log_info("alerts", "event=end case=%s found=%d cancelled=%lld updates=%lld", c->case_no,
                 found ? 1 : 0, (long long)*cancelled, (long long)*recipients);
    for (int i = 0; i < 3; i++)
        tl_buf_free(&t[i]);
    return rc;
}

static void escalate_due(struct tl_daemon *d)
{
    const struct tl_config *cfg = d->cfg;
    int64_t *ids;
    size_t n;
    int64_t now = clock_now();

    if (cfg->nstages == 0 ||
        store_cases_escalating(d->store, (int)cfg->nstages, &ids, &n) != TL_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        struct tl_case c;
        if (store_case_by_id(d->store, ids[i], &c) != TL_OK)
            continue;
        /* Every stage whose time has come, in order (a late tick catches up). */
        while ((size_t)c.stage < cfg->nstages &&
               now >= c.verified_at + cfg->stages[c.stage].after_s) {
            const struct tl_escalation_stage *s = &cfg->stages[c.stage];
            const struct tl_area *a = gazetteer_by_code(d->gz, c.area_code);
            int64_t added = 0;
            if (alerts_broadcast(d, &c, a, "escalation", s->radius_km, s->whole_city != 0,
                                 &added, NULL) != TL_OK)
                break;
            c.stage++;
            if (s->radius_km > c.radius_km)
                c.radius_km = s->radius_km;
            c.updated_at = now;
            if (store_case_update(d->store, &c) != TL_OK)
                break;
        }
        store_case_clear(&c);
    }
    free(ids);
}

void alerts_tick(struct tl_daemon *d)
{
    static int64_t last_redaction;
    int64_t now = clock_now();

    escalate_due(d);
    if (now - last_redaction >= 3600) {
        int64_t n = store_cases_redact(d->store, now - d->cfg->retention_days * 86400, now);
        if (n > 0)
            log_info("alerts", "event=redacted cases=%lld", (long long)n);
        /* A report for a message we never sent is not worth keeping past a week. */
        n = store_dlr_pending_prune(d->store, now - 7 * 86400);
        if (n > 0)
            log_info("alerts", "event=dlr_pending_pruned reports=%lld", (long long)n);
        last_redaction = now;
    }
}
