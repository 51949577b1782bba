/* events_append.c - the one append path of live events and their schemas (events_append.h). */
#include "service/core/events_append.h"

#include <stdio.h>
#include <string.h>

#include "service/core/db.h"

static const char append_report_sql[] = EVENTS_REPORT_INSERT_AS(
    "$1::text", "r", "$3::text",
    "coalesce($4::jsonb, '{}'::jsonb)") " FROM reports r WHERE r.id = $2::bigint";

int events_append_report(worker *w, int kind, const char *report_id, const char *event,
                         const char *extra) {
    if (kind < 0 || (size_t)kind >= VOCAB_EVENT_KIND.n ||
        !(VOCAB_EVENT_KIND.terms[kind].flags & VOCAB_EV_REPORT)) {
        snprintf(w->err, sizeof w->err, "events_append_report: %d is no report event kind", kind);
        return -1;
    }
    const char *p[] = {vocab_code(&VOCAB_EVENT_KIND, (size_t)kind), report_id, event, extra};
    return db_command(w, append_report_sql, 4, p);
}

/* ---- schemas ---- */

typedef struct field {
    const char *key, *schema;
} field;

#define EVENTS_FIELD_(KEY, EXPR, SCHEMA) {KEY, SCHEMA},
static const field report_fields[] = {EVENTS_REPORT_FIELDS(EVENTS_FIELD_, "")};
static const field unit_fields[] = {EVENTS_UNIT_FIELDS(EVENTS_FIELD_, "")};
static const field patrol_fields[] = {EVENTS_PATROL_FIELDS(EVENTS_FIELD_, "")};

/* An object schema of fields[0..n) plus "event" (all required) and the optional `extra` ones. */
static json_t *payload_schema(const field *fields, size_t n, const char *event_doc,
                              const field *extra, size_t nextra) {
    json_t *props = json_object(), *req = json_array();
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(props, fields[i].key, json_loads(fields[i].schema, 0, NULL));
        json_array_append_new(req, json_string(fields[i].key));
    }
    json_object_set_new(props, "event",
                        json_pack("{s:s,s:s}", "type", "string", "description", event_doc));
    json_array_append_new(req, json_string("event"));
    for (size_t i = 0; i < nextra; i++)
        json_object_set_new(props, extra[i].key, json_loads(extra[i].schema, 0, NULL));
    return json_pack("{s:s,s:o,s:o}", "type", "object", "required", req, "properties", props);
}

void events_append_schemas(json_t *schemas) {
    static const field report_extra[] = {
        {"from_station", "{\"type\": [\"integer\", \"null\"], \"description\": \"escalated: the "
                         "station it came from\"}"},
        {"photo_id", "{\"type\": \"integer\", \"description\": \"photo_added: the photo\"}"},
        {"actor_id", "{\"type\": [\"integer\", \"null\"], \"description\": \"created and a "
                     "transition: the user whose act it was (null: an Open311 sighting); absent "
                     "when the system escalated\"}"}};
    json_object_set_new(
        schemas, "ReportEventPayload",
        payload_schema(report_fields, sizeof report_fields / sizeof report_fields[0],
                       "What happened: created, a transition type (acknowledge, dispatch, ...), "
                       "escalated, photo_added",
                       report_extra, sizeof report_extra / sizeof report_extra[0]));
    json_object_set_new(schemas, "UnitEventPayload",
                        payload_schema(unit_fields, sizeof unit_fields / sizeof unit_fields[0],
                                       "What happened: created, position, a status change or the "
                                       "transition of the unit's report",
                                       NULL, 0));
    json_object_set_new(
        schemas, "PatrolEventPayload",
        payload_schema(patrol_fields, sizeof patrol_fields / sizeof patrol_fields[0],
                       "What happened: visit (a verified visit of a target), overdue", NULL, 0));
    json_object_set_new(schemas, "EventPayload",
                        json_pack("{s:s,s:s}", "type", "object", "description",
                                  "The payload of a kind with a shape of its own"));
    json_t *branches = json_array();
    for (size_t i = 0; i < VOCAB_EVENT_KIND.n; i++) {
        const vocab_term *k = &VOCAB_EVENT_KIND.terms[i];
        if (k->flags & VOCAB_INTERNAL) continue; /* never sent */
        const char *payload =
            k->flags & VOCAB_EV_UNIT     ? "#/components/schemas/UnitEventPayload"
            : k->flags & VOCAB_EV_REPORT ? "#/components/schemas/ReportEventPayload"
            : k->flags & VOCAB_EV_PATROL ? "#/components/schemas/PatrolEventPayload"
                                         : "#/components/schemas/EventPayload";
        json_array_append_new(
            branches,
            json_pack("{s:s,s:s,s:[s,s,s,s,s],s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:s},s:{s:s}}}",
                      "type", "object", "description", k->description ? k->description : k->code,
                      "required", "id", "kind", "entity_id", "at", "payload", "properties", "id",
                      "type", "integer", "kind", "const", k->code, "entity_id", "type", "integer",
                      "at", "type", "string", "format", "date-time", "payload", "$ref", payload));
    }
    json_object_set_new(
        schemas, "Event",
        json_pack("{s:s,s:o}", "description",
                  "The data: of one text/event-stream event (GET /api/v1/events), its SSE event: "
                  "is the kind and its id: the same id; one shape per kind",
                  "oneOf", branches));
}
