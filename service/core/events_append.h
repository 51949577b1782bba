/* events_append.h - writing live events (the `events` table; events.c reads and streams them).
 * Every kind of VOCAB_EVENT_KIND (vocab.c) has one payload shape, chosen by its flag:
 * VOCAB_EV_REPORT (EVENTS_REPORT_FIELDS) or VOCAB_EV_UNIT (EVENTS_UNIT_FIELDS). An event is
 * written only by the statements below, inside the transaction that makes the change, so the
 * change and its event commit together. The same field lists make the payload schemas of the
 * OpenAPI document (events_append_schemas): a field added is in the event and its schema at once. */
#ifndef PATROLD_EVENTS_APPEND_H
#define PATROLD_EVENTS_APPEND_H

#include <jansson.h>

#include "service/core/app.h"
#include "service/core/auth.h"
#include "service/core/vocab.h"

/* JSON Schema texts of payload fields. */
#define EV_INT "{\"type\": \"integer\"}"
#define EV_INT_NULL "{\"type\": [\"integer\", \"null\"]}"
#define EV_NUM "{\"type\": \"number\"}"
#define EV_NUM_NULL "{\"type\": [\"number\", \"null\"]}"
#define EV_STR "{\"type\": \"string\"}"
#define EV_STR_NULL "{\"type\": [\"string\", \"null\"]}"
#define EV_TIME_NULL "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}"
#define EV_REF(N) "{\"$ref\": \"#/components/schemas/" N "\"}"
#define EV_REF_NULL(N)                                                                             \
    "{\"anyOf\": [{\"$ref\": \"#/components/schemas/" N "\"}, {\"type\": \"null\"}]}"

/* THE report payload: F(key, SQL expression of a reports row aliased X, JSON Schema text). What a
 * map needs: the position (WGS-84), status, the most local division and every tier's code, the
 * responsible station and its tier, the deadline, the unit, the outcome. */
#define EVENTS_REPORT_FIELDS(F, X)                                                                 \
    F("id", X ".id", EV_INT)                                                                       \
    F("status", X ".status", EV_REF("ReportStatus"))                                               \
    F("category", X ".category", EV_REF("Category"))                                               \
    F("lon", "ST_X(" X ".geom)", EV_NUM)                                                           \
    F("lat", "ST_Y(" X ".geom)", EV_NUM)                                                           \
    F("division_code", AUTH_MOST_LOCAL(X), EV_STR_NULL)                                            \
    F("city_code", X ".city_code", EV_STR_NULL)                                                    \
    F("county_code", X ".county_code", EV_STR_NULL)                                                \
    F("town_code", X ".town_code", EV_STR_NULL)                                                    \
    F("community_code", X ".community_code", EV_STR_NULL)                                          \
    F("station_id", X ".station_id", EV_INT_NULL)                                                  \
    F("tier", X ".tier", EV_REF_NULL("Tier"))                                                      \
    F("ack_deadline", X ".ack_deadline", EV_TIME_NULL)                                             \
    F("unit_id", X ".unit_id", EV_INT_NULL)                                                        \
    F("outcome", X ".outcome", EV_REF_NULL("Outcome"))

/* THE unit payload: the whole unit state, so applying unit events in id order rebuilds the unit
 * table (units.c keeps one in memory). The position is rounded like every location that goes out
 * (7 decimals, about 1 cm: report_coord_out). */
#define EVENTS_UNIT_FIELDS(F, X)                                                                   \
    F("id", X ".id", EV_INT)                                                                       \
    F("name", X ".name", EV_STR)                                                                   \
    F("callsign", X ".callsign", EV_STR_NULL)                                                      \
    F("station_id", X ".station_id", EV_INT_NULL)                                                  \
    F("division_code", X ".division_code", EV_STR_NULL)                                            \
    F("status", X ".status", EV_REF("UnitStatus"))                                                 \
    F("lon", "round(ST_X(" X ".position)::numeric, 7)::float8", EV_NUM_NULL)                       \
    F("lat", "round(ST_Y(" X ".position)::numeric, 7)::float8", EV_NUM_NULL)                       \
    F("position_at", X ".position_at", EV_TIME_NULL)                                               \
    F("position_epoch", "extract(epoch FROM " X ".position_at)::float8", EV_NUM_NULL)

#define EVENTS_SQL_PAIR_(KEY, EXPR, SCHEMA) "'" KEY "', " EXPR ", "

/* The payload of a report event (a jsonb SQL expression of a reports row aliased X: a table row or
 * a RETURNING * row); EV is the event name (SQL text: 'created', $3::text ...), EXTRA a jsonb
 * expression merged in ('{}'::jsonb for nothing; an escalation adds from_station, a photo
 * photo_id): EVENTS_REPORT_FIELDS and "event". */
#define EVENTS_REPORT_PAYLOAD(X, EV, EXTRA)                                                        \
    "(jsonb_build_object(" EVENTS_REPORT_FIELDS(EVENTS_SQL_PAIR_, X) "'event', " EV ") || " EXTRA  \
                                                                     ")"

/* The payload of a unit event (a json SQL expression of a units row aliased X), event name EV:
 * EVENTS_UNIT_FIELDS and "event". Also what units.c loads its table with. */
#define EVENTS_UNIT_PAYLOAD(X, EV)                                                                 \
    "json_build_object(" EVENTS_UNIT_FIELDS(EVENTS_SQL_PAIR_, X) "'event', " EV ")"

/* `INSERT INTO events ... SELECT` of the report event KIND (EK_REPORT_*) for every row X of the
 * FROM clause the caller appends (e.g. " FROM ins i ORDER BY i.id"): for statements that write a
 * report and its event at once. The event keeps the report's creator (the visibility rule's
 * creator clause, auth.h) beside its most local division. */
#define EVENTS_REPORT_INSERT(KIND, X, EV, EXTRA)                                                   \
    EVENTS_REPORT_INSERT_AS(VOCAB_SQL_TERM("EventKind", KIND), X, EV, EXTRA)

/* EVENTS_REPORT_INSERT with the kind as an SQL text expression (events_append_report's
 * parameter). */
/* clang-format off */
#define EVENTS_REPORT_INSERT_AS(KIND_SQL, X, EV, EXTRA)                                            \
    "INSERT INTO events (kind, entity_id, division_code, report_creator, payload) SELECT "         \
    KIND_SQL ", " X ".id, " AUTH_MOST_LOCAL(X) ", " X ".created_by, "                              \
    EVENTS_REPORT_PAYLOAD(X, EV, EXTRA)
/* clang-format on */

/* `INSERT INTO events ... SELECT` of the unit event KIND (EK_UNIT_*) for every row X of the FROM
 * clause the caller appends (" FROM u RETURNING id, payload::text"). */
/* clang-format off */
#define EVENTS_UNIT_INSERT(KIND, X, EV)                                                            \
    "INSERT INTO events (kind, entity_id, division_code, payload) SELECT "                         \
    VOCAB_SQL_TERM("EventKind", KIND) ", " X ".id, " X ".division_code, "                          \
    EVENTS_UNIT_PAYLOAD(X, EV)
/* clang-format on */

/* `INSERT INTO events ... SELECT` of a session.revoked event (EK_SESSION_REVOKED: entity_id the
 * session, payload {"user_id"}) for every row X (columns id, user_id of sessions) of the FROM
 * clause the caller appends (auth_revoke_sessions). Only the streams of that session act on it
 * (they end); it is never sent to a client. */
/* clang-format off */
#define EVENTS_SESSION_REVOKED_INSERT(X)                                                           \
    "INSERT INTO events (kind, entity_id, division_code, payload) SELECT "                         \
    VOCAB_SQL_TERM("EventKind", EK_SESSION_REVOKED) ", " X ".id, NULL,"                            \
    " jsonb_build_object('user_id', " X ".user_id)"
/* clang-format on */

/* THE patrol payload (VOCAB_EV_PATROL kinds, written by service/patrols/scorer.c):
 * F(key, -, JSON Schema text). patrol.visit: a target's verified visit in a window of its plan;
 * patrol.overdue: the window, target_id null. */
#define EVENTS_PATROL_FIELDS(F, X)                                                                 \
    F("plan_id", "", EV_INT)                                                                       \
    F("plan_name", "", EV_STR)                                                                     \
    F("division_code", "", EV_STR)                                                                 \
    F("window_starts_at", "", "{\"type\": \"string\", \"format\": \"date-time\"}")                 \
    F("target_id", "", EV_INT_NULL)                                                                \
    F("target_name", "", EV_STR_NULL)                                                              \
    F("from", "", EV_TIME_NULL)                                                                    \
    F("to", "", EV_TIME_NULL)                                                                      \
    F("dwell_min", "", EV_NUM_NULL)                                                                \
    F("unit_ids", "", "{\"type\": \"array\", \"items\": {\"type\": \"integer\"}}")                 \
    F("agencies", "", "{\"type\": \"array\", \"items\": {\"type\": \"string\"}}")

/* `INSERT INTO events ... SELECT` of the patrol event KIND (EK_PATROL_*) for every row X (columns
 * plan_id, division_code) of the FROM clause the caller appends; PAYLOAD a jsonb SQL expression
 * with EVENTS_PATROL_FIELDS and "event". */
/* clang-format off */
#define EVENTS_PATROL_INSERT(KIND, X, PAYLOAD)                                                     \
    "INSERT INTO events (kind, entity_id, division_code, payload) SELECT "                         \
    VOCAB_SQL_TERM("EventKind", KIND) ", " X ".plan_id, " X ".division_code, " PAYLOAD
/* clang-format on */

/* Appends the report event `kind` (a VOCAB_EV_REPORT kind: EK_REPORT_*) of report `report_id`
 * (decimal text) as the row reads now in the caller's transaction, event name `event`, `extra` a
 * JSON object text merged into the payload (NULL for none). Returns 0, or -1 (w->err). */
int events_append_report(worker *w, int kind, const char *report_id, const char *event,
                         const char *extra);

/* Adds the schemas of the events to `schemas`: ReportEventPayload, UnitEventPayload,
 * PatrolEventPayload (from the field lists above) and Event (one branch per kind of VOCAB_EVENT_KIND: its kind and payload). */
void events_append_schemas(json_t *schemas);

#endif
