/* lifecycle.h - the life of a report after creation: the transitions table (which event moves a
 * report from which status to which, who may send it, what it needs), their side effects on the
 * report's unit, the escalation rule (climb to the parent station) and the per-tier
 * acknowledgement time limits. Used by the event handler (POST /api/v1/reports/{id}/events,
 * handlers.h), by report creation (the first deadline) and by the escalation thread (escalate.c).
 * Every function runs on the calling thread with its own worker; nothing is global but constants. */
#ifndef PATROLD_LIFECYCLE_H
#define PATROLD_LIFECYCLE_H

#include <stddef.h>

#include "gis/index.h"
#include "service/core/app.h"

/* The acknowledgement time limit (seconds) of a report whose responsible station is of `tier`:
 * THE one definition (cfg.ack_community_s ... ack_city_s). Creation, manual escalation and the
 * escalation thread all take it from here. */
int lifecycle_ack_limit_s(const config *c, gis_level tier);

/* Every tier's limit as a JSON object text {"community":s,"town":s,"county":s,"city":s}, for SQL
 * that computes deadlines of many reports at once (LIFECYCLE_ACK_DEADLINE). */
void lifecycle_ack_limits_json(const config *c, char *out, size_t outlen);

/* The escalation rule in SQL: the station above the responsible station of reports row X is `p`
 * (p.id, p.tier); append to a FROM clause that has X. A report whose station has no parent has no
 * row (it stays where it is). */
#define LIFECYCLE_PARENT_JOIN(X)                                                                   \
    " JOIN stations s_ ON s_.id = " X ".station_id JOIN stations p ON p.id = s_.parent_id"

/* The new acknowledgement deadline for a station of tier TIER (SQL text expression), LIMITS the
 * parameter holding lifecycle_ack_limits_json(). */
#define LIFECYCLE_ACK_DEADLINE(TIER, LIMITS)                                                       \
    "now() + make_interval(secs => (" LIMITS "::jsonb ->> " TIER ")::int)"

/* One escalation pass of the background thread on w: moves every overdue `new` report (up to 1000,
 * FOR UPDATE SKIP LOCKED: several instances may run) to its parent station in one transaction, with
 * an 'escalated' audit row (actor 'system') and a report.updated event each. Returns the number
 * moved, or -1 (w->err). */
int lifecycle_escalate_overdue(worker *w);

#endif
