/* report_json.h - the report row and its JSON: the columns of a report read (one list, one home),
 * the row -> JSON serializer, the visibility rule and the SQL fragments every report query shares.
 * Pure functions of a PGresult; thread-safe. */
#ifndef PATROLD_REPORT_JSON_H
#define PATROLD_REPORT_JSON_H

#include <jansson.h>
#include <libpq-fe.h>

#include "gis/coords.h"
#include "service/core/auth.h"
#include "service/core/config.h"
#include "service/core/vocab.h"

/* The first time one of the event types TYPES (a SQL list of literals) happened to report r, RFC 3339
 * text or NULL (report_event_at, migration 0021): acknowledged (an acknowledgement, or a dispatch
 * straight from new), dispatched, arrived on scene, resolved. The figures (report_facts) count the
 * same times. */
#define REPORT_EVENT_AT(TYPES) "report_event_at(r.id, ARRAY[" TYPES "])"
#define REPORT_ACKNOWLEDGED_AT                                                                     \
    REPORT_EVENT_AT(VOCAB_SQL_TERM("ReportEventType", RT_ACKNOWLEDGE) ", " VOCAB_SQL_TERM(         \
        "ReportEventType", RT_DISPATCH))
#define REPORT_DISPATCHED_AT REPORT_EVENT_AT(VOCAB_SQL_TERM("ReportEventType", RT_DISPATCH))
#define REPORT_ON_SCENE_AT REPORT_EVENT_AT(VOCAB_SQL_TERM("ReportEventType", RT_ARRIVE))
#define REPORT_RESOLVED_AT REPORT_EVENT_AT(VOCAB_SQL_TERM("ReportEventType", RT_RESOLVE))

/* THE column list of a report read: X(NAME, sql expression, JSON key, kind, JSON Schema). It gives
 * the select list (REPORT_COLUMNS), the REPORT_COL_* positions, the serializer's table, the CSV
 * columns of the exports and the Report schema of the OpenAPI document (report_json.c), so a new
 * plain column is one line here, in the reply, the CSV and the schema at once. Kinds: RJ_STR,
 * RJ_INT, RJ_REAL, RJ_BOOL, RJ_ARRAY (json text, [] when NULL), RJ_PERSON (the person object,
 * SHAPE_PERSON's fields; null when NULL), and the composite ones that read the columns that follow
 * them: RJ_LOCATION (lon, lat, accuracy_m), RJ_DIVISIONS (the four code/name pairs), RJ_STATION
 * (id, name, tier); RJ_STAFF: personal data only staff read, on one report (jsonb text, null when
 * NULL; report_row_json_for): never a CSV column, and not required in the schema; RJ_NONE: read by
 * a composite or not sent. The six name expressions are parameters so the creation statement can
 * pass NULL::text and fill names from its index.
 * Timestamps are RFC 3339 text in the session time zone (Asia/Shanghai, +08:00). */
#define RJ_S_REF(N) "{\"$ref\": \"#/components/schemas/" N "\"}"
#define RJ_S_NULLABLE(N)                                                                           \
    "{\"anyOf\": [{\"$ref\": \"#/components/schemas/" N "\"}, {\"type\": \"null\"}]}"
#define RJ_S_TIME "{\"type\": \"string\", \"format\": \"date-time\"}"
#define RJ_S_REFS(N, DOC)                                                                          \
    "{\"type\": \"array\", \"description\": \"" DOC "\", \"items\": " RJ_S_REF(N) "}"
/* clang-format off */
#define REPORT_FIELDS(X, N_CITY, N_COUNTY, N_TOWN, N_COMMUNITY, N_ZONES, N_STATION)                                         \
    X(ID,             "r.id",                           "id",                  RJ_INT,       "{\"type\": \"integer\"}")             \
    X(CLIENT_ID,      "r.client_id",                    "client_id",           RJ_STR,       "{\"type\": \"string\", \"format\": \"uuid\"}") \
    X(STATUS,         "r.status",                       "status",              RJ_STR,       RJ_S_REF("ReportStatus"))          \
    X(CATEGORY,       "r.category",                     "category",            RJ_STR,       RJ_S_REF("Category"))              \
    X(LON,            "ST_X(r.geom)",                   "location",            RJ_LOCATION,  RJ_S_REF("Location"))              \
    X(LAT,            "ST_Y(r.geom)",                   NULL,                  RJ_NONE,      NULL)                              \
    X(ACCURACY_M,     "r.accuracy_m",                   NULL,                  RJ_NONE,      NULL)                              \
    X(OBSERVED_AT,    "to_json(r.observed_at)#>>'{}'",  "observed_at",         RJ_STR,       RJ_S_TIME)                         \
    X(RECEIVED_AT,    "to_json(r.received_at)#>>'{}'",  "received_at",         RJ_STR,       RJ_S_TIME)                         \
    X(UPDATED_AT,     "to_json(r.updated_at)#>>'{}'",   "updated_at",          RJ_STR,       RJ_S_TIME)                         \
    X(DESCRIPTION,    "r.description",                  "description",         RJ_STR,       "{\"type\": \"string\"}")              \
    X(PEOPLE_COUNT,   "r.people_count",                 "people_count",        RJ_INT,       "{\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100}") \
    X(PERSON,         "r.person",                       "person",              RJ_PERSON,    RJ_S_NULLABLE("Person"))           \
    X(CITY_CODE,      "r.city_code",                    "divisions",           RJ_DIVISIONS, RJ_S_REFS("DivisionRef", "City down to community")) \
    X(CITY_NAME,      N_CITY,                           NULL,                  RJ_NONE,      NULL)                              \
    X(COUNTY_CODE,    "r.county_code",                  NULL,                  RJ_NONE,      NULL)                              \
    X(COUNTY_NAME,    N_COUNTY,                         NULL,                  RJ_NONE,      NULL)                              \
    X(TOWN_CODE,      "r.town_code",                    NULL,                  RJ_NONE,      NULL)                              \
    X(TOWN_NAME,      N_TOWN,                           NULL,                  RJ_NONE,      NULL)                              \
    X(COMMUNITY_CODE, "r.community_code",               NULL,                  RJ_NONE,      NULL)                              \
    X(COMMUNITY_NAME, N_COMMUNITY,                      NULL,                  RJ_NONE,      NULL)                              \
    X(ZONES,          N_ZONES,                          "zones",               RJ_ARRAY,     RJ_S_REFS("DivisionRef", "Zones the place lies in")) \
    X(OUTSIDE,        "r.outside",                      "outside",             RJ_BOOL,      "{\"type\": \"boolean\"}")             \
    X(SNAPPED_M,      "r.snapped_m",                    "snapped_m",           RJ_REAL,      "{\"type\": [\"number\", \"null\"]}") \
    X(STATION_ID,     "r.station_id",                   "responsible_station", RJ_STATION,   RJ_S_NULLABLE("Station"))          \
    X(STATION_NAME,   N_STATION,                        NULL,                  RJ_NONE,      NULL)                              \
    X(STATION_TIER,   "r.tier",                         NULL,                  RJ_NONE,      NULL)                              \
    X(ACK_DEADLINE,   "to_json(r.ack_deadline)#>>'{}'", "ack_deadline",        RJ_STR,       "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}") \
    X(UNIT_ID,        "r.unit_id",                      "unit_id",             RJ_INT,       "{\"type\": [\"integer\", \"null\"]}") \
    X(OUTCOME,        "r.outcome",                      "outcome",             RJ_STR,       RJ_S_NULLABLE("Outcome"))          \
    X(DUPLICATE_OF,   "r.duplicate_of",                 "duplicate_of",        RJ_INT,       "{\"type\": [\"integer\", \"null\"]}") \
    X(SOURCE,         "r.source",                       "source",              RJ_STR,       RJ_S_REF("ReportSource"))          \
    X(CHANNEL,        "r.channel",                      "channel",             RJ_STR,       "{\"anyOf\": [" RJ_S_REF("PhoneChannel") ", {\"type\": \"null\"}], \"description\": \"The line a report taken by phone came on; null for the others\"}") \
    X(ACKNOWLEDGED_AT, REPORT_ACKNOWLEDGED_AT, "acknowledged_at", RJ_STR, "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}") \
    X(DISPATCHED_AT,  REPORT_DISPATCHED_AT, "dispatched_at", RJ_STR, "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}") \
    X(ON_SCENE_AT,    REPORT_ON_SCENE_AT, "on_scene_at", RJ_STR, "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}") \
    X(RESOLVED_AT,    REPORT_RESOLVED_AT, "resolved_at", RJ_STR, "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\"}") \
    X(CREATED_BY,     "r.created_by",                   NULL,                  RJ_NONE,      NULL)                              \
    X(PERSONAL_GONE,  "to_json(r.personal_masked_at)#>>'{}'", "personal_data_deleted_at", RJ_STR, "{\"type\": [\"string\", \"null\"], \"format\": \"date-time\", \"description\": \"When person, photos and contact were deleted, personal_data_retention_days after the report closed; null while they are kept\"}") \
    X(CONTACT,        REPORT_CONTACT_SQL,               "contact",             RJ_STAFF,     "{\"anyOf\": [" RJ_S_REF("ReportContact") ", {\"type\": \"null\"}], \"description\": \"Staff only, on GET of one report (audited as a personal-data read): the call-back details an Open311 reporter or a caller (a report taken by phone) gave\"}")
/* clang-format on */

/* The call-back details an Open311 reporter or a caller gave (reports.contact), as staff see them: null when
 * none, else every key present (null when not given). */
#define REPORT_CONTACT_SQL                                                                         \
    "CASE WHEN r.contact IS NULL THEN NULL ELSE jsonb_build_object('first_name',"                  \
    " r.contact->'first_name', 'last_name', r.contact->'last_name', 'phone', r.contact->'phone',"  \
    " 'email', r.contact->'email', 'address_string', r.contact->'address_string') END"

typedef enum {
    RJ_NONE,
    RJ_STR,
    RJ_INT,
    RJ_REAL,
    RJ_BOOL,
    RJ_PERSON,
    RJ_ARRAY,
    RJ_LOCATION,
    RJ_DIVISIONS,
    RJ_STATION,
    RJ_STAFF
} report_json_kind;

#define REPORT_COL_SQL_(NAME, SQL, KEY, KIND, SCHEMA) SQL ", "
#define REPORT_COL_ENUM_(NAME, SQL, KEY, KIND, SCHEMA) REPORT_COL_##NAME,

/* The columns of a report row, in order, for `SELECT " REPORT_COLUMNS " FROM reports r ...`: use it
 * in every query whose rows become report JSON (report_row_json reads them by the REPORT_COL_*
 * positions below). Self-contained: division names, zones and the station come from scalar
 * subqueries, so the FROM clause needs nothing but `reports r` (add your own WHERE/ORDER BY/LIMIT). */
#define REPORT_COLUMNS                                                                             \
    REPORT_COLUMNS_NAMED(                                                                          \
        "(SELECT d.name FROM divisions d WHERE d.code = r.city_code)",                             \
        "(SELECT d.name FROM divisions d WHERE d.code = r.county_code)",                           \
        "(SELECT d.name FROM divisions d WHERE d.code = r.town_code)",                             \
        "(SELECT d.name FROM divisions d WHERE d.code = r.community_code)",                        \
        "(SELECT coalesce(json_agg(json_build_object('code', z.code, 'name', z.name,"              \
        " 'level', z.level) ORDER BY z.code), '[]') FROM divisions z"                              \
        " WHERE z.code = ANY (r.zone_codes))",                                                     \
        "(SELECT s.name FROM stations s WHERE s.id = r.station_id)")

/* REPORT_COLUMNS with the six name columns given as SQL expressions (same positions). The creation
 * statement passes NULL::text for all six and fills the names from the spatial index it located the
 * report with (reports.c): six subqueries less on the hot path. The last column is r.crs_in. */
#define REPORT_COLUMNS_NAMED(CITY, COUNTY, TOWN, COMMUNITY, ZONES, STATION)                        \
    REPORT_FIELDS(REPORT_COL_SQL_, CITY, COUNTY, TOWN, COMMUNITY, ZONES, STATION) "r.crs_in"

/* One report by id ($1): the statement every single read shares (report_read.h, lifecycle.c). */
#define REPORT_GET_SQL "SELECT " REPORT_COLUMNS " FROM reports r WHERE r.id = $1::bigint"

/* Positions of REPORT_COLUMNS (0-based), for callers that read a column themselves. */
enum { REPORT_FIELDS(REPORT_COL_ENUM_, "", "", "", "", "", "") REPORT_COL_CRS_IN, REPORT_NCOLS };

/* One row of a `SELECT REPORT_COLUMNS FROM reports r` result -> the public report JSON of API.md:
 * id, client_id, status, category, location {lon,lat,crs[,accuracy_m]} converted to `crs` (rounded
 * to 7 decimals, about 1 cm), observed_at, received_at, updated_at, description, people_count,
 * person (object or null), divisions [{code,name,level}] city -> community (tiers that are NULL are
 * left out), zones, outside, snapped_m, responsible_station {id,name,tier} (or null),
 * ack_deadline, unit_id, outcome, duplicate_of, source, personal_data_deleted_at (when the
 * retention step deleted person, photos and call-back details; null before). Personal data
 * (person) is included: callers serving the public (Open311) delete what they must not show; the
 * RJ_STAFF fields (the Open311 call-back `contact`) are not. Caller owns the result; NULL only on
 * out of memory. */
json_t *report_row_json(PGresult *res, int row, gis_crs crs);

/* report_row_json plus the RJ_STAFF fields when u is staff (dispatcher, supervisor, admin): THE
 * staff-only rule. For GET /api/v1/reports/{id}, whose read is audited as personal data; never for
 * lists, exports, events, tiles or Open311. */
json_t *report_row_json_for(PGresult *res, int row, gis_crs crs, const auth_user *u);

/* A coordinate as it goes out: rounded to 7 decimals (about 1 cm in degrees, 0.1 um in metres). */
double report_coord_out(double v);

/* Re-expresses the WGS-84 "location" of a report JSON in crs (no-op for wgs84). */
void report_json_to_crs(json_t *report, gis_crs crs);

/* The most local division code of a report row (community, else town, county, city), or "" for a
 * report outside every division. Points into res. For auth_in_scope(). */
const char *report_row_scope_code(PGresult *res, int row);

/* auth_report_visible() (auth.h: THE visibility rule) of a report row: 1 when user u may see it. */
int report_row_visible(const auth_user *u, PGresult *res, int row);

/* Column helpers for report code: the value or NULL when SQL NULL (points into res); JSON values of
 * a text cell (NULL -> null). rj_parse_or returns the parsed cell, else dflt (consumed). */
const char *rj_val(PGresult *res, int row, int col);
json_t *rj_str(const char *s);
json_t *rj_int(const char *s);
json_t *rj_parse_or(const char *s, json_t *dflt);

/* possible_duplicates of report row r (a json array text), W: window seconds, R: radius metres, P
 * and U: the caller's division prefix and id (AUTH_REPORT_VISIBLE_SQL: only reports the caller may see;
 * parameter references). The 50 planar-nearest open reports of the same category received within
 * the window (GiST KNN, bounded by a box a little larger than the radius; reports_open_geom_idx
 * holds only open reports so closed ones are never walked), each geodesic distance computed once,
 * kept within R: [{id,category,status,distance_m,received_at}] nearest first, at most 20. The same
 * meaning on creation, single reads and list items. */
/* clang-format off */
#define DUPS_EXPR(W, R, P, U)                                                                                  \
    "(SELECT coalesce(json_agg(t ORDER BY t.distance_m, t.id), '[]') FROM (SELECT k.id, k.category, k.status," \
    " round(k.dist::numeric, 1)::float8 AS distance_m, k.received_at FROM (SELECT d.id, d.category, d.status," \
    " d.received_at, ST_Distance(d.geom::geography, r.geom::geography) AS dist FROM reports d"                 \
    " WHERE d.id <> r.id AND d.category = r.category"                                                          \
    " AND d.status IN (" VOCAB_SQL_ANY("ReportStatus", VOCAB_OPEN) ")"                                        \
    " AND d.received_at > now() - make_interval(secs => " W "::int)"                                           \
    " AND d.geom && ST_Expand(r.geom, " R "::float8 / 50000.0)"                                                \
    " AND " VISIBLE_D(P, U) " ORDER BY d.geom <-> r.geom LIMIT 50) k"                                          \
    " WHERE k.dist <= " R "::float8 ORDER BY 4, 1 LIMIT 20) t)"
#define VISIBLE_D(P, U) AUTH_REPORT_VISIBLE_SQL("d", P, U)
/* clang-format on */

/* Adds the Report schema (from REPORT_FIELDS, each property with "x-csv": the export's CSV columns
 * it becomes) to `schemas` (a row of schemas_generated[], services.c). */
void report_json_schemas(json_t *schemas);

/* One CSV column of the report exports, made from REPORT_FIELDS: one per plain field (named as its
 * key) and the parts of the composite ones (location: lon, lat, crs, accuracy_m; person:
 * person_<field> of SHAPE_PERSON; divisions: <tier>_code and <tier> of every tier;
 * responsible_station: station_id, station, tier). */
typedef struct report_csv_col {
    char name[32];
    const char *key;       /* the JSON key of the field it comes from */
    int col;               /* the REPORT_COL_* of that field */
    int part;              /* which part of a composite field (0 for a plain one) */
    report_json_kind kind; /* the field's kind */
} report_csv_col;

/* The CSV columns in order (made once; thread-safe), their number in *n. */
const report_csv_col *report_csv_cols(size_t *n);

/* The text of column c of row `row` of a REPORT_COLUMNS result (NULL: an empty cell): coordinates
 * in crs, booleans true/false, zones their codes joined by ';'. person: the row's person object
 * (the caller parses it once per row; may be NULL). tmp (tmplen >= 64) holds text made here. */
const char *report_csv_text(const report_csv_col *c, PGresult *res, int row, gis_crs crs,
                            json_t *person, char *tmp, size_t tmplen);

/* The four values DUPS_EXPR's parameters take for user u (window, radius, prefix, id), as text. */
typedef struct report_dups_params {
    char window[16], radius[32], prefix[13], uid[24];
} report_dups_params;
void report_dups_params_fill(report_dups_params *p, const config *c, const auth_user *u);

#endif
