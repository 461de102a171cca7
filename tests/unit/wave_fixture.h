/*
 * wave_fixture.h — the people of the alert-wave test that both backends
 * run (test_store.c on SQLite, test_pg_wave.c on PostgreSQL), through the
 * store interface only (header-only).
 *
 * wave_fixture_subscribe() subscribes: +923000000001 (Urdu) to PK-X and
 * PK-Y, +923000000002 (English) to PK-X, +923000000003 (Roman Urdu) to
 * PK-Z (outside the first scope), +923000000004 (English) to PK-X and PK-Y
 * (the test opts it out), +923009990001 (Urdu, the test makes it police of
 * PK-Y) to PK-X; then bulk numbers +9231######## in no particular order,
 * in PK-X or both. wave_fixture_wave() is the first wave the test sends.
 */
#ifndef TALAASH_WAVE_FIXTURE_H
#define TALAASH_WAVE_FIXTURE_H

#include "common/result.h"
#include "gateway/store/store.h"

#include <stdio.h>

/* Subscribes phone (language lang) to each of the areas; TL_OK or the first failure. */
static int subscribe(struct tl_store *st, const char *phone, const char *lang,
                     const char *const *areas, size_t nareas)
{
    int64_t id = 0;
    int rc = store_subscriber_touch(st, phone, lang, "at", 1000, &id);

    for (size_t i = 0; rc == TL_OK && i < nareas; i++)
        rc = store_subscription_add(st, id, areas[i], 1000);
    return rc;
}

/* The fixture's subscriptions (see above) with bulk numbers more; TL_OK or the first failure. */
static int wave_fixture_subscribe(struct tl_store *st, int bulk)
{
    const char *const X[] = {"PK-X"}, *const XY[] = {"PK-X", "PK-Y"}, *const Z[] = {"PK-Z"};
    int rc = subscribe(st, "+923000000001", "ur", XY, 2); /* in two areas of the scope */

    if (rc == TL_OK)
        rc = subscribe(st, "+923000000002", "en", X, 1);
    if (rc == TL_OK)
        rc = subscribe(st, "+923000000003", "roman-ur", Z, 1); /* outside the first scope */
    if (rc == TL_OK)
        rc = subscribe(st, "+923000000004", "en", XY, 2); /* STOPs */
    if (rc == TL_OK)
        rc = subscribe(st, "+923009990001", "ur", X, 1); /* police who also subscribes */
    /* Numbers in no particular order, in one or both areas. */
    for (int i = 0; rc == TL_OK && i < bulk; i++) {
        char phone[32];
        snprintf(phone, sizeof(phone), "+9231%08d", (i * 7919) % bulk);
        rc = subscribe(st, phone, i % 2 ? "ur" : "en", i % 3 ? X : XY, i % 3 ? 1 : 2);
    }
    return rc;
}

/* The fixture's first wave for case_id: an alert to PK-X and PK-Y on channel alerts. */
static struct tl_alert_wave wave_fixture_wave(int64_t case_id)
{
    struct tl_alert_wave w = {
        .case_id = case_id,
        .kind = "alert",
        .area_codes_json = "[\"PK-X\",\"PK-Y\"]",
        .channel = "alerts",
        .text_en = "EN",
        .text_ur = "UR",
        .text_roman_ur = "RUR",
        .expires_at = 999999999,
    };
    return w;
}

#endif
