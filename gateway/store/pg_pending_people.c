/*
 * pg_pending_people.c — operations of the PostgreSQL backend not written yet
 * (people); each answers that it is not built. Delete an entry when its
 * real one lands; delete the file when it is empty.
 */
#include "gateway/store/pg_int.h"
#include "common/result.h"

int pg_subscriber_touch(struct tl_store *st, const char *phone, const char *lang, const char *channel, int64_t now, int64_t *id)
{
    (void)st, (void)phone, (void)lang, (void)channel, (void)now, (void)id;
    return TL_ERR_UNSUPPORTED;
}

int pg_subscriber_lang(struct tl_store *st, const char *phone, const char *channel, char lang[12], bool *on_channel)
{
    (void)st, (void)phone, (void)channel, (void)lang, (void)on_channel;
    return TL_ERR_UNSUPPORTED;
}

int pg_sender_areas(struct tl_store *st, const char *phone, char ***codes, size_t *n)
{
    (void)st, (void)phone, (void)codes, (void)n;
    return TL_ERR_UNSUPPORTED;
}

int pg_subscription_add(struct tl_store *st, int64_t subscriber_id, const char *area_code, int64_t now)
{
    (void)st, (void)subscriber_id, (void)area_code, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_subscription_remove(struct tl_store *st, int64_t subscriber_id, const char *area_code)
{
    (void)st, (void)subscriber_id, (void)area_code;
    return -1;
}

int pg_subscriber_set_opted_out(struct tl_store *st, const char *phone, bool opted_out, int64_t now)
{
    (void)st, (void)phone, (void)opted_out, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int pg_police_add(struct tl_store *st, const char *phone, const char *area_code, const char *pin_hash, int64_t now)
{
    (void)st, (void)phone, (void)area_code, (void)pin_hash, (void)now;
    return TL_ERR_UNSUPPORTED;
}

int64_t pg_police_remove(struct tl_store *st, const char *phone)
{
    (void)st, (void)phone;
    return -1;
}

int pg_police_list(struct tl_store *st, const char *phone, struct tl_police **out, size_t *n)
{
    (void)st, (void)phone, (void)out, (void)n;
    return TL_ERR_UNSUPPORTED;
}

int pg_police_phones_for(struct tl_store *st, const char *area_codes_json, char ***phones, size_t *n)
{
    (void)st, (void)area_codes_json, (void)phones, (void)n;
    return TL_ERR_UNSUPPORTED;
}

int pg_alert_wave(struct tl_store *st, const struct tl_alert_wave *w, int64_t now, int64_t *alert_id, int64_t *recipients)
{
    (void)st, (void)w, (void)now, (void)alert_id, (void)recipients;
    return TL_ERR_UNSUPPORTED;
}

int pg_alert_end(struct tl_store *st, int64_t case_id, const char *channel, const char *text_en, const char *text_ur, const char *text_roman_ur, int64_t now, int64_t *cancelled, int64_t *recipients)
{
    (void)st, (void)case_id, (void)channel, (void)text_en, (void)text_ur, (void)text_roman_ur, (void)now, (void)cancelled, (void)recipients;
    return TL_ERR_UNSUPPORTED;
}
