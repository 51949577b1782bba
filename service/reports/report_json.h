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

/* The first time one of the event types TYPES (a SQL list of literals) happened to report r, RFC 3339
 * text or NULL: acknowledged (an acknowledgement, or a dispatch straight from new), dispatched,
 * arrived on scene, resolved. The figures (report_facts, migration 0021) count the same times. */
#define REPORT_EVENT_AT(TYPES)                                                                     \
    "(SELECT to_json(min(e.at)) #>> '{}' FROM report_events e WHERE e.report_id = r.id"            \
    " AND e.type IN (" TYPES "))"

/* THE column list of a report read: X(NAME, sql expression, JSON key, kind). It gives the select
 * list (REPORT_COLUMNS), the REPORT_COL_* positions and the serializer's table (report_json.c), so
 * a new plain column is one line here. Kinds: RJ_STR, RJ_INT, RJ_REAL, RJ_BOOL, RJ_JSON (jsonb text,
 * null when NULL), RJ_ARRAY (json text, [] when NULL), and the composite ones that read the columns
 * that follow them: RJ_LOCATION (lon, lat, accuracy_m), RJ_DIVISIONS (the four code/name pairs),
 * RJ_STATION (id, name, tier); RJ_NONE: read by a composite or not sent. The six name expressions
 * are parameters so the creation statement can pass NULL::text and fill names from its index.
 * Timestamps are RFC 3339 text in the session time zone (Asia/Shanghai, +08:00). */
/* clang-format off */
#define REPORT_FIELDS(X, N_CITY, N_COUNTY, N_TOWN, N_COMMUNITY, N_ZONES, N_STATION)     \
    X(ID,             "r.id",                             "id",                  RJ_INT)       \
    X(CLIENT_ID,      "r.client_id",                      "client_id",           RJ_STR)       \
    X(STATUS,         "r.status",                         "status",              RJ_STR)       \
    X(CATEGORY,       "r.category",                       "category",            RJ_STR)       \
    X(LON,            "ST_X(r.geom)",                     "location",            RJ_LOCATION)  \
    X(LAT,            "ST_Y(r.geom)",                     NULL,                  RJ_NONE)      \
    X(ACCURACY_M,     "r.accuracy_m",                     NULL,                  RJ_NONE)      \
    X(OBSERVED_AT,    "to_json(r.observed_at)#>>'{}'",    "observed_at",         RJ_STR)       \
    X(RECEIVED_AT,    "to_json(r.received_at)#>>'{}'",    "received_at",         RJ_STR)       \
    X(UPDATED_AT,     "to_json(r.updated_at)#>>'{}'",     "updated_at",          RJ_STR)       \
    X(DESCRIPTION,    "r.description",                    "description",         RJ_STR)       \
    X(PEOPLE_COUNT,   "r.people_count",                   "people_count",        RJ_INT)       \
    X(PERSON,         "r.person",                         "person",              RJ_JSON)      \
    X(CITY_CODE,      "r.city_code",                      "divisions",           RJ_DIVISIONS) \
    X(CITY_NAME,      N_CITY,                             NULL,                  RJ_NONE)      \
    X(COUNTY_CODE,    "r.county_code",                    NULL,                  RJ_NONE)      \
    X(COUNTY_NAME,    N_COUNTY,                           NULL,                  RJ_NONE)      \
    X(TOWN_CODE,      "r.town_code",                      NULL,                  RJ_NONE)      \
    X(TOWN_NAME,      N_TOWN,                             NULL,                  RJ_NONE)      \
    X(COMMUNITY_CODE, "r.community_code",                 NULL,                  RJ_NONE)      \
    X(COMMUNITY_NAME, N_COMMUNITY,                        NULL,                  RJ_NONE)      \
    X(ZONES,          N_ZONES,                            "zones",               RJ_ARRAY)     \
    X(OUTSIDE,        "r.outside",                        "outside",             RJ_BOOL)      \
    X(SNAPPED_M,      "r.snapped_m",                      "snapped_m",           RJ_REAL)      \
    X(STATION_ID,     "r.station_id",                     "responsible_station", RJ_STATION)   \
    X(STATION_NAME,   N_STATION,                          NULL,                  RJ_NONE)      \
    X(STATION_TIER,   "r.tier",                           NULL,                  RJ_NONE)      \
    X(ACK_DEADLINE,   "to_json(r.ack_deadline)#>>'{}'",   "ack_deadline",        RJ_STR)       \
    X(UNIT_ID,        "r.unit_id",                        "unit_id",             RJ_INT)       \
    X(OUTCOME,        "r.outcome",                        "outcome",             RJ_STR)       \
    X(DUPLICATE_OF,   "r.duplicate_of",                   "duplicate_of",        RJ_INT)       \
    X(SOURCE,         "r.source",                         "source",              RJ_STR)       \
    X(ACKNOWLEDGED_AT, REPORT_EVENT_AT("'acknowledge', 'dispatch'"), "acknowledged_at", RJ_STR) \
    X(DISPATCHED_AT,  REPORT_EVENT_AT("'dispatch'"),     "dispatched_at",       RJ_STR)       \
    X(ON_SCENE_AT,    REPORT_EVENT_AT("'arrive'"),       "on_scene_at",         RJ_STR)       \
    X(RESOLVED_AT,    REPORT_EVENT_AT("'resolve'"),      "resolved_at",         RJ_STR)       \
    X(CREATED_BY,     "r.created_by",                     NULL,                  RJ_NONE)
/* clang-format on */

typedef enum {
    RJ_NONE,
    RJ_STR,
    RJ_INT,
    RJ_REAL,
    RJ_BOOL,
    RJ_JSON,
    RJ_ARRAY,
    RJ_LOCATION,
    RJ_DIVISIONS,
    RJ_STATION
} report_json_kind;

#define REPORT_COL_SQL_(NAME, SQL, KEY, KIND) SQL ", "
#define REPORT_COL_ENUM_(NAME, SQL, KEY, KIND) REPORT_COL_##NAME,

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

/* Positions of REPORT_COLUMNS (0-based), for callers that read a column themselves. */
enum { REPORT_FIELDS(REPORT_COL_ENUM_, "", "", "", "", "", "") REPORT_COL_CRS_IN, REPORT_NCOLS };

/* One row of a `SELECT REPORT_COLUMNS FROM reports r` result -> the public report JSON of API.md:
 * id, client_id, status, category, location {lon,lat,crs[,accuracy_m]} converted to `crs` (rounded
 * to 7 decimals, about 1 cm), observed_at, received_at, updated_at, description, people_count,
 * person (object or null), divisions [{code,name,level}] city -> community (tiers that are NULL are
 * left out), zones, outside, snapped_m, responsible_station {id,name,tier} (or null),
 * ack_deadline, unit_id, outcome, duplicate_of, source. Personal data (person) is included: callers
 * serving the public (Open311) delete what they must not show. Caller owns the result; NULL only on
 * out of memory. */
json_t *report_row_json(PGresult *res, int row, gis_crs crs);

/* A coordinate as it goes out: rounded to 7 decimals (about 1 cm in degrees, 0.1 um in metres). */
double report_coord_out(double v);

/* Re-expresses the WGS-84 "location" of a report JSON in crs (no-op for wgs84). */
void report_json_to_crs(json_t *report, gis_crs crs);

/* The most local division code of a report row (community, else town, county, city), or "" for a
 * report outside every division. Points into res. For auth_in_scope(). */
const char *report_row_scope_code(PGresult *res, int row);

/* THE visibility rule of a report (one home; REPORT_VISIBLE_SQL is its SQL twin): 1 when user u
 * made the report (created_by = u->id: a patrol that reported across its county line still reads
 * its own report and adds its photos) or the report lies in u's division (auth_in_scope of the most
 * local code; outside-city reports only for city-wide users). Used by GET, photos, timeline,
 * events, lists, exports and client_id replays; a report not visible is answered as missing. */
int report_row_visible(const auth_user *u, PGresult *res, int row);

/* Column helpers for report code: the value or NULL when SQL NULL (points into res); JSON values of
 * a text cell (NULL -> null). rj_parse_or returns the parsed cell, else dflt (consumed). */
const char *rj_val(PGresult *res, int row, int col);
json_t *rj_str(const char *s);
json_t *rj_int(const char *s);
json_t *rj_parse_or(const char *s, json_t *dflt);

/* The most local division code of a reports row aliased X, in SQL (NULL outside every division):
 * the one spelling of it (events, lists, tiles, visibility). */
#define MOST_LOCAL(X)                                                                              \
    "coalesce(" X ".community_code, " X ".town_code, " X ".county_code, " X ".city_code)"

/* report_row_visible() in SQL for a reports row aliased X: P is a text parameter holding the
 * user's significant division prefix (auth_code_prefix), U a bigint parameter holding the user's
 * id. With both NULL nothing is visible. Keep the two in step. */
#define REPORT_VISIBLE_SQL(X, P, U)                                                                \
    "(" X ".created_by = " U                                                                       \
    "::bigint OR left(" MOST_LOCAL(X) ", length(" P "::text)) = " P                                \
                                      "::text OR (" MOST_LOCAL(X) " IS NULL AND length(" P         \
                                                                  "::text) <= 4))"

/* possible_duplicates of report row r (a json array text), W: window seconds, R: radius metres, P
 * and U: the caller's division prefix and id (REPORT_VISIBLE_SQL: only reports the caller may see;
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
    " AND d.status IN ('new', 'acknowledged', 'dispatched', 'on_scene')"                                       \
    " AND d.received_at > now() - make_interval(secs => " W "::int)"                                           \
    " AND d.geom && ST_Expand(r.geom, " R "::float8 / 50000.0)"                                                \
    " AND " VISIBLE_D(P, U) " ORDER BY d.geom <-> r.geom LIMIT 50) k"                                          \
    " WHERE k.dist <= " R "::float8 ORDER BY 4, 1 LIMIT 20) t)"
#define VISIBLE_D(P, U) REPORT_VISIBLE_SQL("d", P, U)
/* clang-format on */

/* The four values DUPS_EXPR's parameters take for user u (window, radius, prefix, id), as text. */
typedef struct report_dups_params {
    char window[16], radius[32], prefix[13], uid[24];
} report_dups_params;
void report_dups_params_fill(report_dups_params *p, const config *c, const auth_user *u);

#endif
