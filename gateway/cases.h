/*
 * cases.h — the life of a case (SPEC.md §2, §4), shared by SMS and USSD:
 *
 *   draft ──(required fields complete)──▶ REPORTED ──VERIFY──▶ ACTIVE
 *   REPORTED/ACTIVE ──FOUND──▶ FOUND, ──CLOSE──▶ CLOSED, ──CANCEL──▶ CANCELLED
 *
 * Each function acts for one person (struct tl_actor), queues every message
 * to others (police, the reporter) in the outbox, and writes the text meant
 * for the actor into `reply` — SMS sends it as a reply, USSD shows it as a
 * screen. They run inside the caller's transaction (store_tx_begin), and
 * so does a broadcast they start: a VERIFY and its whole wave of alert
 * messages commit together or not at all.
 */
#ifndef TALAASH_CASES_H
#define TALAASH_CASES_H

#include <stdint.h>

#include "common/buf.h"
#include "parsers/grammar.h"

struct tl_daemon;
struct tl_case;

/* A reporter's answers within this many seconds complete their open draft. */
#define CASES_DRAFT_WINDOW_S (30 * 60)

struct tl_actor {
    const char *phone;   /* E.164 */
    const char *channel; /* where the actor wrote (replies go back there) */
    enum tl_lang lang;   /* the language to answer in */
    int64_t inbound_id;  /* the message being handled, or 0 (USSD) */
};

/* A new report (SMS "MISSING …" or the USSD confirm screen). */
int cases_report(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                 struct tl_buf *reply);
/* An answer to a draft's question ("8", "Malir"); `draft` is updated. */
int cases_answer(struct tl_daemon *d, const struct tl_actor *a, struct tl_case *draft,
                 const char *text, size_t len, struct tl_buf *reply);
int cases_sighting(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                   struct tl_buf *reply);
int cases_status(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                 struct tl_buf *reply);
/* VERIFY, FOUND, CLOSE, CANCEL, WIDEN: police only (registered number, area, PIN). */
int cases_police(struct tl_daemon *d, const struct tl_actor *a, const struct tl_sms_parse *p,
                 struct tl_buf *reply);

/* A state change of a case, by a police officer (SMS) or an operator (API). */
struct tl_case_action {
    enum tl_command command;        /* VERIFY, FOUND, CLOSE, CANCEL, WIDEN */
    const char *text;               /* CLOSE's reason, or "" */
    const struct tl_area *widen_to; /* WIDEN's area, or NULL */
    const char *actor;              /* for the audit: the officer's phone, or "api:NAME" */
};
enum tl_case_outcome {
    TL_CASE_DONE = 0,
    TL_CASE_BAD_STATE = 1, /* not allowed from the case's state; nothing changed */
    TL_CASE_NO_AREA = 2,   /* WIDEN without an area; nothing changed */
};
/*
 * Applies an authorised action to case c (the caller checked who may act),
 * the one path for SMS and API: state, broadcast or closing updates, the
 * reporter told, the audit line; `reply` gets the English confirmation and
 * *recipients the messages queued. Fields of c are updated (c stays the
 * caller's to clear). Inside the caller's transaction.
 */
int cases_apply(struct tl_daemon *d, struct tl_case *c, const struct tl_case_action *act,
                enum tl_case_outcome *outcome, int64_t *recipients, struct tl_buf *reply);

#endif
