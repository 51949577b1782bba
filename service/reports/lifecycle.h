/* lifecycle.h - the life of a report after creation: the transitions table (which event moves a
 * report from which status to which, who may send it, what it needs), their side effects on the
 * report's unit and the escalation rule (climb to the parent station; the per-tier
 * acknowledgement time limits are data of the tier table, vocab.h). Used by the event handler
 * (POST /api/v1/reports/{id}/events, handlers.h) and by the escalation thread (escalate.c).
 * Every function runs on the calling thread with its own worker; nothing is global but constants. */
#ifndef PATROLD_LIFECYCLE_H
#define PATROLD_LIFECYCLE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "gis/index.h"
#include "service/core/app.h"
#include "service/core/auth.h"

/* What a transition needs besides its type. */
typedef enum { NEEDS_NONE, NEEDS_UNIT, NEEDS_OUTCOME, NEEDS_DUPLICATE_OF, NEEDS_PARENT } needs;

/* One row of the transitions table (lifecycle.c), one per VOCAB_EVENT_TYPE term. */
typedef struct transition {
    unsigned from;      /* bits 1 << RS_* of the statuses it applies to; ~0u: every open status */
    int to;             /* RS_* the report moves to; -1: its status stays */
    unsigned roles;     /* ROLE_* bits that may send it (see check_actor for a creator's cancel) */
    needs needs;        /* what the body must add */
    int unit_to;        /* US_* the report's unit moves to; -1: the unit stays */
    unsigned unit_from; /* ... only from these (bits 1 << US_*) */
} transition;

/* The row of transition type `type` (a VOCAB_EVENT_TYPE code), NULL when there is none. */
const transition *lifecycle_find(const char *type);

/* The type (VOCAB_EVENT_TYPE code) of a row of the table. */
const char *lifecycle_type(const transition *tr);

/* 1 when tr may move a report that is in `status`, else 0. */
int lifecycle_allows(const transition *tr, const char *status);

/* The event types (VOCAB_EVENT_TYPE codes) user u may send now for row `row` of a REPORT_COLUMNS
 * result, by the table's statuses and roles and the report's creator and unit: a new JSON array
 * (an escalation may still find no station above; dispatch still needs an available unit). */
json_t *lifecycle_actions(const auth_user *u, PGresult *res, int row);

/* The escalation rule in SQL: the station above the responsible station of reports row X is `p`
 * (p.id, p.tier); append to a FROM clause that has X. A report whose station has no parent has no
 * row (it stays where it is). */
#define LIFECYCLE_PARENT_JOIN(X)                                                                   \
    " JOIN stations s_ ON s_.id = " X ".station_id JOIN stations p ON p.id = s_.parent_id"

/* The new acknowledgement deadline for a station of tier TIER (SQL text expression), LIMITS the
 * parameter holding vocab_tier_ack_json() (the tier table's limits). */
#define LIFECYCLE_ACK_DEADLINE(TIER, LIMITS)                                                       \
    "now() + make_interval(secs => (" LIMITS "::jsonb ->> " TIER ")::int)"

/* One escalation pass of the background thread on w: moves every overdue `new` report (up to 1000,
 * FOR UPDATE SKIP LOCKED: several instances may run) to its parent station in one transaction, with
 * an 'escalated' audit row (actor 'system') and a report.updated event each. Returns the number
 * moved, or -1 (w->err). */
int lifecycle_escalate_overdue(worker *w);

#endif
