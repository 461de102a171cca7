/*
 * police.h — registered police numbers: PINs, who may act on which case,
 * and the `talaash police add|list|remove` command.
 */
#ifndef TALAASH_POLICE_H
#define TALAASH_POLICE_H

#include <stdbool.h>
#include <stdint.h>

#include "parsers/phone.h"

struct tl_daemon;
struct tl_store;
struct tl_gazetteer;
struct tl_area;

/* The stored form of a PIN for phone: hex SHA-256, never the PIN itself (caller frees). */
char *police_pin_hash(const char *phone, const char *pin);

enum tl_police_verdict {
    TL_POLICE_OK = 0,
    TL_POLICE_NOT_REGISTERED = 1,
    TL_POLICE_WRONG_AREA = 2,
    TL_POLICE_BAD_PIN = 3,
    TL_POLICE_STORE_ERROR = 4,
    TL_POLICE_LOCKED = 5,
};

/* The PIN lockout ([limits] pin_attempts, pin_lockout). */
struct tl_pin_policy {
    int64_t attempts;  /* wrong PINs within lockout_s that lock */
    int64_t lockout_s; /* how long a lock lasts */
};

/*
 * May `phone` act on a case in `case_area` with `pin` ("" = none given)?
 * Allowed when one of the phone's registrations covers an area enclosing the
 * case's area (a Karachi registration covers every Karachi town) and, when
 * that registration has a PIN, the PIN matches.
 *
 * Brute force: wrong PINs are counted for the number and for each
 * registration the PIN was tried against; the one that reaches
 * pp->attempts within pp->lockout_s locks both out of police commands
 * for pp->lockout_s (TL_POLICE_LOCKED, *just_locked = true). While locked,
 * every command is TL_POLICE_LOCKED before any PIN is looked at (so a right
 * PIN after many wrong ones does not work). *locked_until gets the lock's
 * end. A right PIN clears the counts. A refusal that is not LOCKED sets
 * neither out value.
 */
enum tl_police_verdict police_authorize(struct tl_store *st, const struct tl_gazetteer *gz,
                                        const struct tl_pin_policy *pp, const char *phone,
                                        const struct tl_area *case_area, const char *pin,
                                        int64_t now, int64_t *locked_until, bool *just_locked);

/*
 * The operator's unlock: ends the PIN lockout of phone and of its
 * registrations, and forgets their wrong PINs. Returns how many lock
 * records were removed (0: nothing was locked or counted), or -1 on a store
 * error. `talaash police unlock PHONE` calls it; so may the operator API.
 */
int64_t police_unlock(struct tl_store *st, const char *phone);
/* True when phone has any police registration. */
bool police_is_registered(struct tl_store *st, const char *phone);

/* A PIN is 4 to 6 digits. */
bool police_pin_valid(const char *pin);

struct tl_police_registration {
    const char *phone; /* as typed (0300…, +92300…) */
    const char *area;  /* an area code or a name matched as in SMS */
    const char *pin;   /* or NULL */
    const char *actor; /* for the audit: "cli", "api:NAME" */
};
/*
 * Registers a police number for an area (the CLI and the API): phone
 * (E.164, out) and *area get what was registered. TL_OK; TL_ERR_INVALID
 * with the reason in *cause (bad number, PIN or area); TL_ERR_STORE.
 */
int police_register(struct tl_store *st, const struct tl_gazetteer *gz, const char *country_code,
                    const struct tl_police_registration *r, char phone[TL_PHONE_MAX],
                    const struct tl_area **area, char **cause);
/* Removes every registration of phone (E.164), audited; returns how many, or -1. */
int64_t police_deregister(struct tl_store *st, const char *phone, const char *actor);

/* `talaash police …`; argv[0] is "police". Returns the exit status. */
int police_main(int argc, char **argv);

#endif
