/*
 * cap.c — CAP 1.2 messages and the Atom feed with libxml2's xmlwriter (see
 * cap.h). Element order follows the CAP 1.2 schema; every document the
 * tests produce is validated against it (tests/e2e/61-feed.t).
 *
 * Certainty: Observed when police verified the case (an accepted VERIFY is
 * in the audit log), Likely when it was broadcast unverified
 * (verification = auto). A Cancel is urgency Past, severity Minor,
 * certainty Observed, responseType AllClear: the danger is over, and no
 * consumer should sound it as a severe alert.
 */
#include "gateway/cap.h"
#include "gateway/alerts.h"
#include "gateway/log.h"
#include "gateway/store/store_feed.h"
#include "gateway/texts.h"
#include "parsers/gazetteer.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <libxml/xmlwriter.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAP_NS "urn:oasis:names:tc:emergency:cap:1.2"
#define ATOM_NS "http://www.w3.org/2005/Atom"

/* One message of a case: which wave it is (NULL: an end with no update wave). */
struct cap_msg {
    const struct tl_feed_wave *wave;
    const char *msg_type; /* Alert, Update, Cancel */
    int64_t sent;
    char identifier[48];
};

static bool case_ended(const struct tl_feed_case *c)
{
    return strcmp(c->state, "active") != 0;
}

static void msg_of_wave(const struct tl_feed_case *c, const struct tl_feed_wave *w,
                        struct cap_msg *m)
{
    m->wave = w;
    m->msg_type = strcmp(w->kind, "update") == 0       ? "Cancel"
                  : strcmp(w->kind, "escalation") == 0 ? "Update"
                                                       : "Alert";
    m->sent = w->created_at;
    snprintf(m->identifier, sizeof(m->identifier), "talaash-%s-%lld", c->case_no,
             (long long)w->id);
}

/* The case's current message: its last wave, or its end when the end made no wave. */
static void current_msg(const struct tl_feed_case *c, struct cap_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (c->nwaves > 0 && (!case_ended(c) || strcmp(c->waves[c->nwaves - 1].kind, "update") == 0)) {
        msg_of_wave(c, &c->waves[c->nwaves - 1], m);
        return;
    }
    m->msg_type = case_ended(c) ? "Cancel" : "Alert";
    m->sent = case_ended(c) ? c->closed_at : c->verified_at;
    snprintf(m->identifier, sizeof(m->identifier), "talaash-%s-%s", c->case_no,
             case_ended(c) ? "end" : "0");
}

int64_t cap_case_updated(const struct tl_feed_case *c)
{
    struct cap_msg m;

    current_msg(c, &m);
    return m.sent;
}

/* CAP's dateTime: a numeric offset, never "Z" (UTC is written -00:00). */
static void cap_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S-00:00", &tm);
}

static void atom_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The xmlwriter calls of one document; any failure sticks in rc. */
struct xw {
    xmlTextWriterPtr w;
    xmlBufferPtr buf;
    int rc;
};

static void xw_start(struct xw *x, const char *name)
{
    if (xmlTextWriterStartElement(x->w, BAD_CAST name) < 0)
        x->rc = -1;
}

static void xw_end(struct xw *x)
{
    if (xmlTextWriterEndElement(x->w) < 0)
        x->rc = -1;
}

static void xw_attr(struct xw *x, const char *name, const char *value)
{
    if (xmlTextWriterWriteAttribute(x->w, BAD_CAST name, BAD_CAST value) < 0)
        x->rc = -1;
}

/* An element with text of our own making (identifiers, times, codes). */
static void xw_el(struct xw *x, const char *name, const char *text)
{
    if (xmlTextWriterWriteElement(x->w, BAD_CAST name, BAD_CAST(text ? text : "")) < 0)
        x->rc = -1;
}

/* An element with text people wrote (alert texts, names): phone-like runs masked. */
static void xw_text(struct xw *x, const char *name, const char *text)
{
    char *masked = log_mask_numbers(text ? text : "");

    xw_el(x, name, masked);
    free(masked);
}

static int xw_open(struct xw *x)
{
    memset(x, 0, sizeof(*x));
    x->buf = xmlBufferCreate();
    x->w = x->buf ? xmlNewTextWriterMemory(x->buf, 0) : NULL;
    if (x->w == NULL) {
        if (x->buf)
            xmlBufferFree(x->buf);
        return TL_ERR_IO;
    }
    xmlTextWriterSetIndent(x->w, 1);
    xmlTextWriterSetIndentString(x->w, BAD_CAST "  ");
    if (xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL) < 0)
        x->rc = -1;
    return TL_OK;
}

static int xw_close(struct xw *x, struct tl_buf *out)
{
    if (xmlTextWriterEndDocument(x->w) < 0)
        x->rc = -1;
    xmlFreeTextWriter(x->w); /* flushes into buf */
    if (x->rc == 0)
        tl_buf_append(out, xmlBufferContent(x->buf), (size_t)xmlBufferLength(x->buf));
    xmlBufferFree(x->buf);
    return x->rc == 0 ? TL_OK : TL_ERR_IO;
}

/* The circle of the current wave: the area's centre and its radius, or the whole city. */
static void cap_area(struct xw *x, const struct tl_cap_ctx *cx, const struct tl_feed_case *c,
                     enum tl_lang lang)
{
    const struct tl_area *a = c->area_code ? gazetteer_by_code(cx->gz, c->area_code) : NULL;
    double radius = 0;
    char circle[64];

    if (a == NULL)
        return;
    for (size_t i = c->nwaves; i-- > 0;) {
        if (strcmp(c->waves[i].kind, "update") != 0) {
            radius = c->waves[i].radius_km;
            break;
        }
    }
    if (radius < 0) { /* a "city" stage: the city's centre, out to its farthest area */
        const struct tl_area *city = alerts_city_of(cx->gz, a);
        radius = 0;
        for (size_t i = 0; i < gazetteer_count(cx->gz); i++) {
            const struct tl_area *in = gazetteer_at(cx->gz, i);
            double km = gazetteer_distance_km(city, in);
            if (gazetteer_within(cx->gz, in, city) && km > radius)
                radius = km;
        }
        a = city;
    }
    snprintf(circle, sizeof(circle), "%.5f,%.5f %.1f", a->lat, a->lon, radius);
    xw_start(x, "area");
    xw_text(x, "areaDesc", texts_area_name(a, lang));
    xw_el(x, "circle", circle);
    xw_end(x);
}

static void cap_info(struct xw *x, const struct tl_cap_ctx *cx, const struct tl_feed_case *c,
                     const struct cap_msg *m, enum tl_lang lang)
{
    bool cancel = strcmp(m->msg_type, "Cancel") == 0;
    const char *text = m->wave ? (lang == TL_LANG_UR ? m->wave->text_ur : m->wave->text_en) : NULL;
    const struct tl_area *a = c->area_code ? gazetteer_by_code(cx->gz, c->area_code) : NULL;
    const char *event = lang == TL_LANG_UR ? cx->event_ur : cx->event_en;
    const char *ended = lang == TL_LANG_UR ? "ختم — " : "ended — ";
    char *headline = xasprintf("%s: %s%s", event, cancel ? ended : "",
                               a ? texts_area_name(a, lang) : "");

    xw_start(x, "info");
    xw_el(x, "language", lang == TL_LANG_UR ? "ur-PK" : "en-US");
    xw_el(x, "category", "Rescue");
    xw_el(x, "event", event);
    xw_el(x, "responseType", cancel ? "AllClear" : "Monitor");
    xw_el(x, "urgency", cancel ? "Past" : "Immediate");
    xw_el(x, "severity", cancel ? "Minor" : "Severe");
    xw_el(x, "certainty", cancel || c->police_verified ? "Observed" : "Likely");
    xw_el(x, "senderName", "Talaash");
    xw_text(x, "headline", headline);
    if (text != NULL)
        xw_text(x, "description", text);
    xw_el(x, "contact", cx->contact);
    cap_area(x, cx, c, lang);
    xw_end(x);
    free(headline);
}

int cap_write_message(const struct tl_cap_ctx *cx, const struct tl_feed_case *c,
                      struct tl_buf *out)
{
    struct xw x;
    struct cap_msg m;
    char sent[32], incident[32];
    struct tl_buf refs = {0};

    if (xw_open(&x) != TL_OK)
        return TL_ERR_IO;
    current_msg(c, &m);
    cap_time(m.sent, sent);
    /* Every earlier message of the case, oldest first. */
    for (size_t i = 0; i < c->nwaves && &c->waves[i] != m.wave; i++) {
        struct cap_msg e;
        char esent[32];
        msg_of_wave(c, &c->waves[i], &e);
        cap_time(e.sent, esent);
        tl_buf_appendf(&refs, "%s%s,%s,%s", refs.len ? " " : "", cx->sender, e.identifier, esent);
    }
    snprintf(incident, sizeof(incident), "talaash-%s", c->case_no);
    xw_start(&x, "alert");
    xw_attr(&x, "xmlns", CAP_NS);
    xw_el(&x, "identifier", m.identifier);
    xw_el(&x, "sender", cx->sender);
    xw_el(&x, "sent", sent);
    xw_el(&x, "status", cx->status);
    xw_el(&x, "msgType", m.msg_type);
    xw_el(&x, "scope", "Public");
    if (refs.len > 0 && strcmp(m.msg_type, "Alert") != 0)
        xw_el(&x, "references", tl_buf_str(&refs));
    xw_el(&x, "incidents", incident);
    cap_info(&x, cx, c, &m, TL_LANG_EN);
    cap_info(&x, cx, c, &m, TL_LANG_UR);
    xw_end(&x);
    tl_buf_free(&refs);
    return xw_close(&x, out);
}

int cap_write_atom(const struct tl_cap_ctx *cx, const struct tl_feed_case *cases, size_t n,
                   int64_t updated, struct tl_buf *out)
{
    struct xw x;
    char when[32];
    char *self = xasprintf("%s/alerts.atom", cx->base_url);

    if (xw_open(&x) != TL_OK) {
        free(self);
        return TL_ERR_IO;
    }
    atom_time(updated, when);
    xw_start(&x, "feed");
    xw_attr(&x, "xmlns", ATOM_NS);
    xw_el(&x, "id", self);
    xw_el(&x, "title", "Talaash: missing-child alerts");
    xw_el(&x, "subtitle", "Active alerts, and those ended in the last 24 hours, as CAP 1.2");
    xw_el(&x, "updated", when);
    xw_start(&x, "author");
    xw_el(&x, "name", "Talaash");
    xw_end(&x);
    xw_start(&x, "link");
    xw_attr(&x, "rel", "self");
    xw_attr(&x, "type", "application/atom+xml");
    xw_attr(&x, "href", self);
    xw_end(&x);
    for (size_t i = 0; i < n; i++) {
        const struct tl_feed_case *c = &cases[i];
        const struct tl_area *a = c->area_code ? gazetteer_by_code(cx->gz, c->area_code) : NULL;
        struct cap_msg m;
        char *href = xasprintf("%s/alerts/%s.xml", cx->base_url, c->case_no);
        char *id = xasprintf("%s/alerts/%s", cx->base_url, c->case_no);
        current_msg(c, &m);
        char *title = xasprintf("%s%s: %s (case %s)",
                          strcmp(m.msg_type, "Cancel") == 0   ? "Ended — "
                          : strcmp(m.msg_type, "Update") == 0 ? "Update — "
                                                              : "",
                          cx->event_en, a ? texts_area_name(a, TL_LANG_EN) : "", c->case_no);
        atom_time(m.sent, when);
        xw_start(&x, "entry");
        xw_el(&x, "id", id);
        xw_text(&x, "title", title);
        xw_el(&x, "updated", when);
        if (m.wave != NULL && m.wave->text_en != NULL)
            xw_text(&x, "summary", m.wave->text_en);
        xw_start(&x, "category");
        xw_attr(&x, "term", m.msg_type);
        xw_end(&x);
        xw_start(&x, "link");
        xw_attr(&x, "rel", "alternate");
        xw_attr(&x, "type", "application/cap+xml");
        xw_attr(&x, "href", href);
        xw_end(&x);
        xw_end(&x);
        free(href);
        free(id);
        free(title);
    }
    xw_end(&x);
    free(self);
    return xw_close(&x, out);
}
