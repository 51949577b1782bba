/* vocab.h - the service's vocabulary, one table each: report categories, report statuses,
 * outcomes, station tiers (with their acknowledgement limits), unit statuses, transition types,
 * live event kinds, person sexes, user roles, division kinds and changes, timeline types and error
 * codes, every term with its Chinese label (GET /api/v1/vocabulary serves them all: the console and
 * the app take every label from there); the 12-digit division
 * codes with the scope rule (which codes a user sees); and the one way SQL names vocabulary values
 * (VOCAB_SQL_ANY, VOCAB_SQL_TERM). The schema's CHECK constraints hold the same lists (tests
 * compare them); error messages are generated from the tables. No other file spells a code
 * (scripts/check-vocabulary.sh). All tables are constant: safe from every thread. */
#ifndef PATROLD_VOCAB_H
#define PATROLD_VOCAB_H

#include <stddef.h>

#include <jansson.h>

#include "service/core/config.h"

/* One term of a vocabulary: its code (what the API and the database store), its Chinese label
 * (what people read: console, app, exports; for an error code, its message) and, where the
 * vocabulary has them, a description and search keywords (categories) and an English name for
 * interfaces that show both (Open311's service_name is "label / label_en"). */
typedef struct vocab_term {
    const char *code, *label, *description, *keywords;
    unsigned flags; /* VOCAB_* below: what the term means to the code */
    const char *label_en;
} vocab_term;

/* Term flags: code that must pick terms by meaning asks for a flag, never for a code. Numbers,
 * not an enum: VOCAB_SQL_ANY writes them into SQL text. */
#define VOCAB_OPEN 1    /* report statuses of open reports (reports_open_geom_idx holds them) */
#define VOCAB_INITIAL 2 /* the status a report is created in (the escalation thread watches it) */
#define VOCAB_HOLDS_UNIT 4  /* report and unit statuses of a unit that is on its report */
#define VOCAB_EV_REPORT 8   /* event kinds about a report: payload ReportEventPayload */
#define VOCAB_EV_UNIT 16    /* event kinds about a unit: payload UnitEventPayload */
#define VOCAB_INTERNAL 32   /* never sent to a client: not served, not in the schema's enum */
#define VOCAB_CLOSED 64     /* report statuses a report ends in (reports_unmasked_closed_idx) */
#define VOCAB_EV_PATROL 128 /* event kinds about a patrol plan: payload PatrolEventPayload */

/* Positions of terms that C code names (vocab.c binds each row to its number). */
/* VOCAB_REPORT_STATUS */
#define RS_NEW 0
#define RS_ACKNOWLEDGED 1
#define RS_DISPATCHED 2
#define RS_ON_SCENE 3
#define RS_RESOLVED 4
#define RS_CANCELLED 5
#define RS_DUPLICATE 6
/* VOCAB_UNIT_STATUS */
#define US_AVAILABLE 0
#define US_DISPATCHED 1
#define US_ON_SCENE 2
#define US_BUSY 3
#define US_OFF_DUTY 4
/* VOCAB_LEVEL: the province, then the tiers (LEVEL_CITY + TIER_* is that tier's level) */
#define LEVEL_PROVINCE 0
#define LEVEL_CITY 1
#define LEVEL_COUNTY 2
#define LEVEL_TOWN 3
#define LEVEL_COMMUNITY 4
/* VOCAB_TIER, in gis_level order (GIS_CITY = 0) */
#define TIER_CITY 0
#define TIER_COUNTY 1
#define TIER_TOWN 2
#define TIER_COMMUNITY 3
/* VOCAB_EVENT_TYPE: one per row of lifecycle.c's transitions table */
#define RT_ACKNOWLEDGE 0
#define RT_DISPATCH 1
#define RT_ARRIVE 2
#define RT_RESOLVE 3
#define RT_CANCEL 4
#define RT_MARK_DUPLICATE 5
#define RT_ESCALATE 6
/* VOCAB_ROLE: term i is the role bit 1 << i of auth.h */
#define RO_PATROL 0
#define RO_COMMUNITY 1
#define RO_DISPATCHER 2
#define RO_SUPERVISOR 3
#define RO_ADMIN 4
/* VOCAB_DIVISION_KIND */
#define DK_ADMIN 0
#define DK_ZONE 1
/* VOCAB_DIVISION_CHANGE */
#define DC_NEW 0
#define DC_RENAMED 1
#define DC_MERGED 2
#define DC_ABOLISHED 3
/* VOCAB_EVENT_KIND: the live events (events_append.h writes them, events.c streams them) */
#define EK_REPORT_CREATED 0
#define EK_REPORT_UPDATED 1
#define EK_UNIT_CREATED 2
#define EK_UNIT_UPDATED 3
#define EK_UNIT_POSITION 4
#define EK_SESSION_REVOKED 5
#define EK_PATROL_VISIT 6
#define EK_PATROL_OVERDUE 7
/* VOCAB_TIME_PRESET: a target's time of day by name (service/patrols/plans.c has the times) */
#define TP_NIGHT 0
/* VOCAB_WALKED_STATUS: what a plan's window shows in the tracks (service/patrols/walked.c) */
#define WS_DONE 0
#define WS_PARTLY 1
#define WS_MISSED 2
/* VOCAB_AUDIT_KIND */
#define AK_READ 0
#define AK_WRITE 1
#define AK_SIGN_IN 2
/* VOCAB_AUDIT_ACTION: reads of personal data, sign-ins, administrative writes, system steps */
#define AA_REPORT_GET 0
#define AA_REPORT_LIST 1
#define AA_PHOTO_LIST 2
#define AA_PHOTO_GET 3
#define AA_EXPORT_CSV 4
#define AA_EXPORT_GEOJSON 5
#define AA_AUTH_LOGIN 6
#define AA_AUTH_LOGIN_FAILED 7
#define AA_AUTH_LOGOUT 8
#define AA_AUTH_PASSWORD 9
#define AA_AUTH_RESET 10
#define AA_AUTH_RESET_FAILED 11
#define AA_STATION_CREATE 12
#define AA_STATION_UPDATE 13
#define AA_AGENCY_CREATE 14
#define AA_AGENCY_UPDATE 15
#define AA_UNIT_CREATE 16
#define AA_UNIT_UPDATE 17
#define AA_UNIT_MEMBERS 18
#define AA_SHIFT_CREATE 19
#define AA_SHIFT_UPDATE 20
#define AA_USER_CREATE 21
#define AA_USER_UPDATE 22
#define AA_USER_RESET_CODE 23
#define AA_REPORT_MASK 24
#define AA_PLAN_CREATE 25
#define AA_PLAN_UPDATE 26
#define AA_EXPORT_XLSX 27
#define AA_CAMPAIGN_CREATE 28
/* VOCAB_AUDIT_ENTITY: what an administrative write changed */
#define AE_STATION 0
#define AE_AGENCY 1
#define AE_UNIT 2
#define AE_SHIFT 3
#define AE_USER 4
#define AE_PLAN 5
#define AE_CAMPAIGN 6
/* VOCAB_STATS_BY: the groupings of the figures (?by=) */
#define SB_TIER 0
#define SB_COUNTY 1
#define SB_TOWN 2
#define SB_STATION 3
#define SB_CATEGORY 4
#define SB_MONTH 5
#define SB_WEEK 6
#define SB_DAY 7
/* VOCAB_REPORT_SOURCE */
#define SRC_APP 0
#define SRC_OPEN311 1
#define SRC_PHONE 2
/* VOCAB_TIMELINE: the entries that are not transitions */
#define TL_CREATED 0
#define TL_ESCALATED 7
#define TL_PHOTO_ADDED 8

typedef struct vocab {
    const char *component; /* name of its schema in the OpenAPI document: "Category", ... */
    const vocab_term *terms;
    size_t n;
    const char *list; /* its key in GET /api/v1/vocabulary ("categories"); NULL: not served */
    const struct vocab *labels_from; /* a term without a label has the label of its code there */
} vocab;

extern const vocab VOCAB_CATEGORY;        /* reports.category */
extern const vocab VOCAB_REPORT_STATUS;   /* reports.status (open ones flagged VOCAB_OPEN) */
extern const vocab VOCAB_OUTCOME;         /* reports.outcome */
extern const vocab VOCAB_REPORT_SOURCE;   /* reports.source: app, open311, phone (SRC_*) */
extern const vocab VOCAB_SOURCE_INPUT;    /* what a client may send as a report's source */
extern const vocab VOCAB_PHONE_CHANNEL;   /* reports.channel: the line a phoned report came on */
extern const vocab VOCAB_LEVEL;           /* divisions.level: province, then the tiers */
extern const vocab VOCAB_TIER;            /* stations.tier, reports.tier; index = gis_level */
extern const vocab VOCAB_UNIT_STATUS;     /* units.status */
extern const vocab VOCAB_UNIT_SETTABLE;   /* what a client may set a unit to */
extern const vocab VOCAB_EVENT_TYPE;      /* POST /reports/{id}/events "type": one per transition */
extern const vocab VOCAB_EVENT_KIND;      /* events.kind: the live events of GET /api/v1/events */
extern const vocab VOCAB_SEX;             /* reports.person.sex */
extern const vocab VOCAB_ROLE;            /* users.role; term i is the role bit 1 << i (auth.h) */
extern const vocab VOCAB_DIVISION_KIND;   /* divisions.kind: administrative, or a zone */
extern const vocab VOCAB_DIVISION_CHANGE; /* division_changes.change (import-divisions) */
extern const vocab VOCAB_TIMELINE;        /* report_events.type: the timeline of a report */
extern const vocab VOCAB_AGENCY_KIND;     /* agencies.kind */
extern const vocab VOCAB_TIME_PRESET;     /* a patrol target's time of day by name: night */
extern const vocab VOCAB_WALKED_STATUS;   /* a plan's window in the tracks: done, partly, missed */
extern const vocab VOCAB_AUDIT_KIND;      /* audit.kind: read, write, sign_in */
extern const vocab VOCAB_AUDIT_ACTION;    /* audit.action */
extern const vocab VOCAB_AUDIT_ENTITY;    /* audit.entity: what an administrative write changed */
extern const vocab VOCAB_STATS_BY;        /* GET /api/v1/stats?by= */
extern const vocab VOCAB_STATS_TERM;      /* names of the figures, words of the statistics page */
extern const vocab VOCAB_REPORT_FIELD;    /* export columns' Chinese headers (not served) */
extern const vocab VOCAB_ERROR;           /* error codes of {"error": {"code"}}, label = message */

/* Every vocabulary, in publishing order (*n of them). */
const vocab *const *vocab_all(size_t *n);

/* Index of code s in v, or -1 when s is NULL or not in v. */
int vocab_find(const vocab *v, const char *s);

/* Code of term i (0 <= i < v->n). */
const char *vocab_code(const vocab *v, size_t i);

/* The Chinese label of code s in v (from v->labels_from when the term has none), or NULL when s
 * is not in v. Static text. */
const char *vocab_label(const vocab *v, const char *s);

/* New JSON string "label / label_en" of term t (its label alone when it has no English name). */
json_t *vocab_bilingual(const vocab_term *t);

/* The error message for a value of `field` not in v: "field must be one of: a, b, c" (list:
 * "must be a comma-separated list of: ..."), into out. */
void vocab_message(const vocab *v, const char *field, int list, char *out, size_t outlen);

/* The codes joined with sep into out (always NUL-terminated, cut short when out is small). */
void vocab_join(const vocab *v, const char *sep, char *out, size_t outlen);

/* The PostgreSQL array literal "{a,b,...}" of the codes whose flags & mask == want (0, 0: every
 * code; VOCAB_OPEN, 0: closed report statuses) into out (outlen > 0). */
void vocab_pg_array(const vocab *v, unsigned mask, unsigned want, char *out, size_t outlen);

/* A comma-separated list of codes of v ("new, resolved"; spaces around a code are dropped) into
 * the PostgreSQL array literal "{new,resolved}" in out (outlen > 0). Returns 0, or -1 when a name
 * is not in v, the list is empty or has an empty item, or out is too small. */
int vocab_parse_list(const vocab *v, const char *in, char *out, size_t outlen);

/* New JSON Schema {"type":"string","enum":[...codes]} of v (the caller owns it). */
json_t *vocab_enum_json(const vocab *v);

/* Every vocabulary as named schemas ("Category": {...}, ...) added to the object `schemas`, with
 * "Vocabulary" (the reply of GET /api/v1/vocabulary) and "VocabularyTerm"; a vocabulary with
 * flagged terms lists them by meaning in "x-flags": {"open": [...], ...}. */
void vocab_add_schemas(json_t *schemas);

/* New JSON object of every served vocabulary: {"categories": [{"code", "label", ...}], ...}, in
 * table order; report statuses carry "open", unit statuses "settable", categories
 * "description". NULL when out of memory. */
json_t *vocab_lists_json(void);

/* The PostgreSQL array literal "{a,b}" of the terms of v whose positions are the bits of `bits`
 * (1 << RS_NEW | ...) into out (outlen > 0). */
void vocab_pg_array_bits(const vocab *v, unsigned bits, char *out, size_t outlen);

/* The acknowledgement time limit (seconds) of a report whose responsible station is of tier t
 * (gis_level order, TIER_*): the tier table's setting. Creation, manual escalation and the
 * escalation thread all take it from here. */
int vocab_tier_ack_s(const config *c, size_t t);

/* Every tier's limit as a JSON object text {"city":s,"county":s,...}, for SQL that computes the
 * deadlines of many reports at once (lifecycle.h LIFECYCLE_ACK_DEADLINE). */
void vocab_tier_ack_json(const config *c, char *out, size_t outlen);

/* ---- vocabulary values in SQL ----
 * SQL names vocabulary values only through these markers; db.c replaces them with the literals
 * made from the tables when it prepares a statement (a dynamic one each time it runs), so the
 * planner sees constants: a partial index whose predicate lists the same codes (reports_open_geom_
 * idx, reports_due_idx) still serves the statement, which a parameter would not allow.
 *   VOCAB_SQL_ANY("ReportStatus", VOCAB_OPEN)  'new', 'acknowledged', ...  (flag 0: every code)
 *   VOCAB_SQL_TERM("EventKind", EK_UNIT_CREATED)  'unit.created'
 * V is the vocabulary's component name; write `r.status IN (` VOCAB_SQL_ANY(...) `)`. */
#define VOCAB_SQL_STR_(x) #x
#define VOCAB_SQL_STR(x) VOCAB_SQL_STR_(x)
#define VOCAB_SQL_ANY(V, FLAG) "${" V "&" VOCAB_SQL_STR(FLAG) "}"
#define VOCAB_SQL_TERM(V, I) "${" V "#" VOCAB_SQL_STR(I) "}"

/* Copies sql into out with every marker replaced, like snprintf: returns the length the whole
 * text needs (write into a buffer of at least that + 1), or -1 when a marker names no vocabulary,
 * no term or no flagged term. out may be NULL when outlen is 0. */
long vocab_sql_expand(const char *sql, char *out, size_t outlen);

/* 1 when sql holds a marker (then it must go through vocab_sql_expand), else 0. */
int vocab_sql_has_marker(const char *sql);

/* ---- division codes (GB/T 2260 + 3-digit town + 3-digit community = 12 digits) ---- */

/* Normalises a code of 2 (min_digits 2 only), 4, 6, 9 or 12 digits to 12 digits by padding with
 * zeros into out. Returns 0, or -1 when `in` is NULL or not such a code. */
int vocab_code12(const char *in, int min_digits, char out[13]);

/* The significant prefix of a 12-digit code (its trailing all-zero tiers cut: 2, 4, 6, 9 or 12
 * digits) into out (13 bytes). */
void vocab_code_prefix(const char *code12, char out[13]);

/* Scope: 1 when code12 (a division of some tier, or NULL/"" for a place outside every division)
 * lies within the division whose significant prefix is `prefix`. Outside every division is seen
 * only from city level up (a prefix of at most 4 digits). */
int vocab_code_within(const char *code12, const char *prefix);

/* The SQL twin of vocab_code_within(): CODE (an SQL expression, NULL outside every division) lies
 * within the division whose significant prefix is the text parameter P. Keep the two in step. */
#define VOCAB_CODE_WITHIN_SQL(CODE, P)                                                             \
    "(left(" CODE ", length(" P "::text)) = " P "::text OR (" CODE " IS NULL AND length(" P        \
    "::text) <= 4))"

/* SQL: the report of alias R was escalated at least once, by hand or because a deadline passed
 * (its timeline holds an 'escalated' row): the map tiles' flag and the list's ?escalated=. */
#define VOCAB_REPORT_ESCALATED_SQL(R)                                                              \
    "EXISTS (SELECT 1 FROM report_events v WHERE v.report_id = " R                                 \
    ".id AND v.type = " VOCAB_SQL_TERM("TimelineType", TL_ESCALATED) ")"

#endif
