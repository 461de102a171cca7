/*
 * police.c — police registrations: PIN hashing, the authorisation rule for
 * police commands with its PIN lockout, and `talaash police
 * add|list|remove|unlock` (see police.h).
 *
 * A PIN is stored as the hex SHA-256 of "talaash-pin", the phone and the
 * PIN, never in clear; with 4-6 digits it only stops a stolen or borrowed
 * phone, not someone holding the store.
 */
#include "gateway/police.h"
#include "gateway/areas.h"
#include "gateway/clock.h"
#include "gateway/config.h"
#include "gateway/store/store.h"
#include "parsers/gazetteer.h"
#include "parsers/phone.h"
#include "common/buf.h"
#include "common/result.h"
#include "common/xmalloc.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *police_pin_hash(const char *phone, const char *pin)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct tl_buf in = {0}, out = {0};

    tl_buf_append(&in, "talaash-pin", sizeof("talaash-pin"));
    tl_buf_append(&in, phone, strlen(phone) + 1);
    tl_buf_append_str(&in, pin);
    EVP_Digest(in.data, in.len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < mdlen; i++)
        tl_buf_appendf(&out, "%02x", md[i]);
    tl_buf_free(&in);
    return tl_buf_steal(&out);
}

bool police_is_registered(struct tl_store *st, const char *phone)
{
    struct tl_police *p;
    size_t n = 0;

    if (store_police_list(st, phone, &p, &n) != TL_OK)
        return false;
    store_police_free(p, n);
    return n > 0;
}

/* The lockout keys of a number and of a registration (see migration 4). */
static void pin_key_phone(char out[64], const char *phone)
{
    snprintf(out, 64, "phone:%s", phone);
}

static void pin_key_reg(char out[64], int64_t id)
{
    snprintf(out, 64, "reg:%lld", (long long)id);
}

/* The latest lock end over phone and its registrations (0: none), or -1. */
static int64_t pin_locked_until(struct tl_store *st, const char *phone,
                                const struct tl_police *regs, size_t n, int64_t now)
{
    char key[64];
    int64_t until, latest;

    pin_key_phone(key, phone);
    if ((latest = store_pin_locked_until(st, key, now)) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        pin_key_reg(key, regs[i].id);
        if ((until = store_pin_locked_until(st, key, now)) < 0)
            return -1;
        if (until > latest)
            latest = until;
    }
    return latest;
}

enum tl_police_verdict police_authorize(struct tl_store *st, const struct tl_gazetteer *gz,
                                        const struct tl_pin_policy *pp, const char *phone,
                                        const struct tl_area *case_area, const char *pin,
                                        int64_t now, int64_t *locked_until, bool *just_locked)
{
    struct tl_police *regs;
    size_t n = 0;
    enum tl_police_verdict v = TL_POLICE_NOT_REGISTERED;
    int64_t tried = -1, until;
    char key[64];

    *just_locked = false;
    if (store_police_list(st, phone, &regs, &n) != TL_OK)
        return TL_POLICE_STORE_ERROR;
    until = n > 0 ? pin_locked_until(st, phone, regs, n, now) : 0;
    if (until != 0) {
        store_police_free(regs, n);
        if (until < 0)
            return TL_POLICE_STORE_ERROR;
        *locked_until = until;
        return TL_POLICE_LOCKED;
    }
    for (size_t i = 0; i < n && v != TL_POLICE_OK; i++) {
        const struct tl_area *area = gazetteer_by_code(gz, regs[i].area_code);
        if (area == NULL || case_area == NULL || !gazetteer_within(gz, case_area, area)) {
            if (v == TL_POLICE_NOT_REGISTERED)
                v = TL_POLICE_WRONG_AREA;
            continue;
        }
        if (regs[i].pin_hash == NULL) {
            v = TL_POLICE_OK;
        } else {
            char *h = police_pin_hash(phone, pin ? pin : "");
            v = strcmp(h, regs[i].pin_hash) == 0 ? TL_POLICE_OK : TL_POLICE_BAD_PIN;
            if (v == TL_POLICE_BAD_PIN && tried < 0)
                tried = regs[i].id;
            free(h);
        }
    }
    if (v == TL_POLICE_OK) {
        /* a right PIN: the wrong ones before it are forgotten */
        if (police_unlock(st, phone) < 0)
            v = TL_POLICE_STORE_ERROR;
    } else if (v == TL_POLICE_BAD_PIN) {
        int64_t by_phone = 0, by_reg = 0;

        pin_key_phone(key, phone);
        if (store_pin_failure(st, key, pp->attempts, pp->lockout_s, now, &by_phone) != TL_OK)
            v = TL_POLICE_STORE_ERROR;
        pin_key_reg(key, tried);
        if (v == TL_POLICE_BAD_PIN &&
            store_pin_failure(st, key, pp->attempts, pp->lockout_s, now, &by_reg) != TL_OK)
            v = TL_POLICE_STORE_ERROR;
        if (v == TL_POLICE_BAD_PIN && (by_phone != 0 || by_reg != 0)) {
            v = TL_POLICE_LOCKED;
            *just_locked = true;
            *locked_until = by_phone > by_reg ? by_phone : by_reg;
        }
    }
    store_police_free(regs, n);
    return v;
}

int64_t police_unlock(struct tl_store *st, const char *phone)
{
    struct tl_police *regs;
    size_t n = 0;
    int64_t removed, total;
    char key[64];

    if (store_police_list(st, phone, &regs, &n) != TL_OK)
        return -1;
    pin_key_phone(key, phone);
    total = store_pin_clear(st, key);
    for (size_t i = 0; i < n && total >= 0; i++) {
        pin_key_reg(key, regs[i].id);
        removed = store_pin_clear(st, key);
        total = removed < 0 ? -1 : total + removed;
    }
    store_police_free(regs, n);
    return total;
}

/* ---- talaash police ---- */

static void police_usage(void)
{
    fputs("usage: talaash police add PHONE --area NAME [--pin PIN] [-c FILE]\n"
          "       talaash police list [-c FILE]\n"
          "       talaash police remove PHONE [-c FILE]\n"
          "       talaash police unlock PHONE [-c FILE]\n",
          stderr);
}

/* Resolves NAME (an area code, or a name matched as in SMS), or NULL and why in *cause. */
static const struct tl_area *resolve_area(const struct tl_gazetteer *gz, const char *name,
                                          char **cause)
{
    struct tl_area_candidate cands[5];
    size_t n = 0;
    const struct tl_area *a = gazetteer_by_code(gz, name);
    struct tl_buf why = {0};

    if (a != NULL)
        return a;
    enum tl_match_kind k = gazetteer_match(gz, name, strlen(name), cands, 5, &n);
    if ((k == TL_MATCH_EXACT || k == TL_MATCH_FUZZY) && n > 0)
        return cands[0].area;
    tl_buf_appendf(&why, "area '%s' is %s", name,
                   k == TL_MATCH_AMBIGUOUS ? "ambiguous" : "not known");
    for (size_t i = 0; i < n; i++)
        tl_buf_appendf(&why, "%s%s (%s)", i ? ", " : "; did you mean ", cands[i].area->name_en,
                       cands[i].area->code);
    *cause = tl_buf_steal(&why);
    return NULL;
}

bool police_pin_valid(const char *pin)
{
    size_t n = strlen(pin);
    bool digits = n >= 4 && n <= 6;

    for (size_t i = 0; digits && i < n; i++)
        digits = pin[i] >= '0' && pin[i] <= '9';
    return digits;
}

int police_register(struct tl_store *st, const struct tl_gazetteer *gz, const char *country_code,
                    const struct tl_police_registration *r, char phone[TL_PHONE_MAX],
                    const struct tl_area **area, char **cause)
{
    if (phone_normalize(r->phone, strlen(r->phone), country_code, phone) != TL_OK) {
        *cause = xasprintf("'%s' is not a phone number", r->phone);
        return TL_ERR_INVALID;
    }
    if (r->pin != NULL && !police_pin_valid(r->pin)) {
        *cause = xstrdup("a PIN is 4 to 6 digits");
        return TL_ERR_INVALID;
    }
    *area = resolve_area(gz, r->area, cause);
    if (*area == NULL)
        return TL_ERR_INVALID;
    char *hash = r->pin ? police_pin_hash(phone, r->pin) : NULL;
    int64_t now = clock_now();
    int rc = store_police_add(st, phone, (*area)->code, hash, now);
    free(hash);
    if (rc == TL_OK)
        rc = store_audit(st, r->actor, "police add", 0, "ok", (*area)->code, now);
    if (rc != TL_OK)
        *cause = xstrdup(store_errmsg(st));
    return rc == TL_OK ? TL_OK : TL_ERR_STORE;
}

int64_t police_deregister(struct tl_store *st, const char *phone, const char *actor)
{
    int64_t n = store_police_remove(st, phone);

    if (n >= 0 && store_audit(st, actor, "police remove", 0, "ok", NULL, clock_now()) != TL_OK)
        return -1;
    return n;
}

int police_main(int argc, char **argv)
{
    const char *cfgfile = getenv("TALAASH_CONFIG") ? getenv("TALAASH_CONFIG")
                                                   : "/etc/talaash/gateway.conf";
    const char *area_name = NULL, *pin = NULL, *args[2] = {NULL, NULL};
    size_t nargs = 0;
    struct tl_config *cfg = NULL;
    struct tl_gazetteer *gz = NULL;
    struct tl_store *st = NULL;
    char *cause = NULL;
    int status = 0;

    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            cfgfile = argv[++i];
        else if (strcmp(argv[i], "--area") == 0 && i + 1 < argc)
            area_name = argv[++i];
        else if (strcmp(argv[i], "--pin") == 0 && i + 1 < argc)
            pin = argv[++i];
        else if (argv[i][0] != '-' && nargs < 2)
            args[nargs++] = argv[i];
        else {
            police_usage();
            return 2;
        }
    }
    if (nargs == 0 || (strcmp(args[0], "add") == 0 && (nargs != 2 || area_name == NULL)) ||
        ((strcmp(args[0], "remove") == 0 || strcmp(args[0], "unlock") == 0) && nargs != 2) ||
        (strcmp(args[0], "list") == 0 && nargs != 1) ||
        (strcmp(args[0], "add") != 0 && strcmp(args[0], "remove") != 0 &&
         strcmp(args[0], "list") != 0 && strcmp(args[0], "unlock") != 0)) {
        police_usage();
        return 2;
    }
    if (pin != NULL && !police_pin_valid(pin)) {
        fputs("talaash police: a PIN is 4 to 6 digits\n", stderr);
        return 2;
    }
    if (config_load(cfgfile, &cfg, &cause) != TL_OK) {
        fprintf(stderr, "%s\n", cause);
        free(cause);
        return 2;
    }
    if (areas_load(cfg, &gz, &cause) != TL_OK ||
        store_open(cfg->store_where, cfg->busy_timeout_ms, &st, &cause) != TL_OK) {
        fprintf(stderr, "talaash police: %s\n", cause);
        free(cause);
        status = 1;
        goto out;
    }
    char phone[TL_PHONE_MAX];
    if (nargs == 2 &&
        phone_normalize(args[1], strlen(args[1]), cfg->country_code, phone) != TL_OK) {
        fprintf(stderr, "talaash police: '%s' is not a phone number\n", args[1]);
        status = 2;
        goto out;
    }
    if (strcmp(args[0], "add") == 0) {
        struct tl_police_registration reg = {
            .phone = args[1], .area = area_name, .pin = pin, .actor = "cli"};
        const struct tl_area *a = NULL;
        int rc = police_register(st, gz, cfg->country_code, &reg, phone, &a, &cause);
        if (rc != TL_OK) {
            fprintf(stderr, "talaash police: %s\n", cause);
            free(cause);
            status = rc == TL_ERR_INVALID ? 2 : 1;
        } else {
            printf("%s registered for %s (%s)%s\n", phone, a->name_en, a->code,
                   pin ? " with a PIN" : "");
        }
    } else if (strcmp(args[0], "unlock") == 0) {
        int64_t n = police_unlock(st, phone);
        if (n < 0) {
            fprintf(stderr, "talaash police: %s\n", store_errmsg(st));
            status = 1;
        } else {
            store_audit(st, "cli", "police unlock", 0, n > 0 ? "ok" : "nothing locked", phone,
                        clock_now());
            printf("%s: %s\n", phone, n > 0 ? "unlocked" : "was not locked");
        }
    } else if (strcmp(args[0], "remove") == 0) {
        int64_t n = police_deregister(st, phone, "cli");
        if (n < 0) {
            status = 1;
        } else {
            printf("%s: %lld registration%s removed\n", phone, (long long)n, n == 1 ? "" : "s");
            status = n > 0 ? 0 : 1;
        }
    } else {
        struct tl_police *p;
        size_t n;
        if (store_police_list(st, NULL, &p, &n) != TL_OK) {
            status = 1;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            const struct tl_area *a = gazetteer_by_code(gz, p[i].area_code);
            printf("%s\t%s\t%s\t%s\n", p[i].phone, p[i].area_code, a ? a->name_en : "?",
                   p[i].pin_hash ? "pin" : "no-pin");
        }
        store_police_free(p, n);
    }
out:
    store_close(st);
    gazetteer_free(gz);
    config_free(cfg);
    return status;
}
