/*
 * test_cap.c — the CAP 1.2 and Atom writers (gateway/cap.h) on hand-made
 * cases: msgType and references along a case's waves, identifiers and
 * times never masked (large wave ids), people's texts masked of phone
 * numbers, the city circle, XML escaping by libxml2, and — when xmllint
 * and ../shared/schemas/CAP-v1.2.xsd are there — schema validity.
 */
#include "common/buf.h"
#include "common/result.h"
#include "gateway/cap.h"
#include "gateway/store/store_feed.h"
#include "parsers/gazetteer.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <unistd.h>

#define XSD "../shared/schemas/CAP-v1.2.xsd"

static struct tl_feed_wave wave(int64_t id, const char *kind, double radius, int64_t at,
                                const char *en, const char *ur)
{
    struct tl_feed_wave w = {.id = id, .radius_km = radius, .created_at = at};
    snprintf(w.kind, sizeof(w.kind), "%s", kind);
    w.text_en = (char *)en;
    w.text_ur = (char *)ur;
    return w;
}

static void validate(const struct tl_buf *doc, const char *what)
{
    char path[] = "/tmp/talaash-test-cap-XXXXXX";
    int fd = mkstemp(path);
    char cmd[300];

    if (access(XSD, R_OK) != 0 || system("command -v xmllint >/dev/null 2>&1") != 0) {
        ok(1, "# SKIP xmllint or " XSD " missing: %s", what);
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        return;
    }
    if (fd < 0 || write(fd, doc->data, doc->len) != (ssize_t)doc->len) {
        ok(0, "%s: temporary file", what);
        return;
    }
    close(fd);
    snprintf(cmd, sizeof(cmd), "xmllint --noout --schema " XSD " %s 2>/dev/null", path);
    ok(system(cmd) == 0, "%s validates against CAP-v1.2.xsd", what);
    unlink(path);
}

#define has(doc, s) ok(strstr(tl_buf_str(doc), (s)) != NULL, "has: %s", (s))
#define hasnt(doc, s) ok(strstr(tl_buf_str(doc), (s)) == NULL, "has not: %s", (s))

int main(void)
{
    struct tl_gazetteer *gz = NULL;
    char *cause = NULL;

    if (gazetteer_load_default(&gz, &cause) != TL_OK) {
        printf("Bail out! gazetteer: %s\n", cause);
        return 1;
    }
    struct tl_cap_ctx cx = {.sender = "talaash@example.org", .base_url = "https://example.org",
                            .status = "Actual", .event_en = "Child Abduction Emergency",
                            .event_ur = "ہنگامی", .contact = "15", .gz = gz};
    struct tl_feed_wave waves[3] = {
        wave(4321, "alert", 5, 1760000000, "ALERT: Ali <7> & co, call 0300 1234567", "الرٹ"),
        wave(98765, "escalation", -1, 1760003600, "ALERT wider", "الرٹ"),
        wave(1234567, "update", 0, 1760007200, "FOUND: Ali is safe", "مل گیا"),
    };
    struct tl_feed_case c = {.id = 1, .verified_at = 1760000000, .police_verified = true};
    snprintf(c.case_no, sizeof(c.case_no), "482918");
    snprintf(c.state, sizeof(c.state), "active");
    c.area_code = (char *)"PK-SD-KHI-KOR";
    c.waves = waves;

    struct tl_buf doc = {0};
    c.nwaves = 1;
    is_int(cap_write_message(&cx, &c, &doc), TL_OK, "first alert written");
    has(&doc, "<identifier>talaash-482918-4321</identifier>");
    has(&doc, "<sent>2025-10-09T08:53:20-00:00</sent>");
    has(&doc, "<msgType>Alert</msgType>");
    hasnt(&doc, "<references>");
    has(&doc, "<certainty>Observed</certainty>");
    has(&doc, "Ali &lt;7&gt; &amp; co");
    hasnt(&doc, "1234567");
    has(&doc, "<language>ur-PK</language>");
    has(&doc, " 5.0</circle>");
    validate(&doc, "the Alert");
    tl_buf_free(&doc);

    c.nwaves = 2;
    cap_write_message(&cx, &c, &doc);
    has(&doc, "<msgType>Update</msgType>");
    has(&doc, "<identifier>talaash-482918-98765</identifier>");
    has(&doc, "<references>talaash@example.org,talaash-482918-4321,2025-10-09T08:53:20-00:00"
              "</references>");
    has(&doc, "<areaDesc>Karachi</areaDesc>");
    ok(strstr(tl_buf_str(&doc), " 5.0</circle>") == NULL, "a city stage is not the 5 km circle");
    validate(&doc, "the Update (city)");
    tl_buf_free(&doc);

    c.nwaves = 3;
    snprintf(c.state, sizeof(c.state), "found");
    c.closed_at = 1760007200;
    cap_write_message(&cx, &c, &doc);
    has(&doc, "<msgType>Cancel</msgType>");
    has(&doc, "<identifier>talaash-482918-1234567</identifier>");
    has(&doc, ",talaash-482918-4321,2025-10-09T08:53:20-00:00 talaash@example.org,"
              "talaash-482918-98765,2025-10-09T09:53:20-00:00</references>");
    has(&doc, "<urgency>Past</urgency>");
    has(&doc, "FOUND: Ali is safe");
    validate(&doc, "the Cancel");
    tl_buf_free(&doc);

    /* An end that made no wave (no one had been sent the alert). */
    c.nwaves = 1;
    cap_write_message(&cx, &c, &doc);
    has(&doc, "<identifier>talaash-482918-end</identifier>");
    has(&doc, "<msgType>Cancel</msgType>");
    validate(&doc, "a Cancel without an update wave");
    tl_buf_free(&doc);

    cx.status = "Exercise";
    c.police_verified = false;
    snprintf(c.state, sizeof(c.state), "active");
    cap_write_message(&cx, &c, &doc);
    has(&doc, "<status>Exercise</status>");
    has(&doc, "<certainty>Likely</certainty>");
    validate(&doc, "the Exercise");
    tl_buf_free(&doc);

    is_int(cap_write_atom(&cx, &c, 1, 1760000000, &doc), TL_OK, "feed written");
    has(&doc, "<feed xmlns=\"http://www.w3.org/2005/Atom\">");
    has(&doc, "<updated>2025-10-09T08:53:20Z</updated>");
    has(&doc, "href=\"https://example.org/alerts/482918.xml\"");
    has(&doc, "rel=\"self\"");
    hasnt(&doc, "1234567");
    tl_buf_free(&doc);
    is_int(cap_write_atom(&cx, NULL, 0, 0, &doc), TL_OK, "an empty feed written");
    has(&doc, "<updated>1970-01-01T00:00:00Z</updated>");
    hasnt(&doc, "<entry>");
    tl_buf_free(&doc);
    gazetteer_free(gz);
    return done_testing();
}
