/* reports.h - field reports: the row -> JSON mapping, validation + creation (shared by the report
 * routes, the batch route and Open311), photo metadata stripping and the escalation worker.
 * Every function here runs on the calling thread with that thread's worker; nothing is global. */
#ifndef PATROLD_REPORTS_H
#define PATROLD_REPORTS_H

#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "gis/coords.h"
#include "service/app.h"
#include "service/auth.h"
#include "service/http.h"
#include "service/shapes.h"

/* The columns of a report row, in order, for `SELECT " REPORT_COLUMNS " FROM reports r ...`: use it
 * in every query whose rows become report JSON (report_row_json reads them by the REPORT_COL_*
 * positions below). Self-contained: division names, zones and the station come from scalar
 * subqueries, so the FROM clause needs nothing but `reports r` (add your own WHERE/ORDER BY/LIMIT).
 * Timestamps are RFC 3339 text in the session time zone (Asia/Shanghai, +08:00). */
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
 * report with (reports.c): six subqueries less on the hot path. */
#define REPORT_COLUMNS_NAMED(CITY_NAME, COUNTY_NAME, TOWN_NAME, COMMUNITY_NAME, ZONES,             \
                             STATION_NAME)                                                         \
    "r.id, r.client_id, r.status, r.category, ST_X(r.geom), ST_Y(r.geom), r.accuracy_m,"           \
    " to_json(r.observed_at)#>>'{}', to_json(r.received_at)#>>'{}', to_json(r.updated_at)#>>'{}'," \
    " r.description, r.people_count, r.person,"                                                    \
    " r.city_code, " CITY_NAME ", r.county_code, " COUNTY_NAME ", r.town_code, " TOWN_NAME ","     \
    " r.community_code, " COMMUNITY_NAME ", " ZONES ","                                            \
    " r.outside, r.snapped_m, r.station_id, " STATION_NAME ","                                     \
    " r.tier, to_json(r.ack_deadline)#>>'{}', r.unit_id, r.outcome, r.duplicate_of, r.source,"     \
    " r.created_by, r.crs_in"

/* Positions of REPORT_COLUMNS (0-based), for callers that read a column themselves. */
enum {
    REPORT_COL_ID,
    REPORT_COL_CLIENT_ID,
    REPORT_COL_STATUS,
    REPORT_COL_CATEGORY,
    REPORT_COL_LON, /* WGS-84 */
    REPORT_COL_LAT,
    REPORT_COL_ACCURACY_M, /* NULL when not given */
    REPORT_COL_OBSERVED_AT,
    REPORT_COL_RECEIVED_AT,
    REPORT_COL_UPDATED_AT,
    REPORT_COL_DESCRIPTION,
    REPORT_COL_PEOPLE_COUNT,
    REPORT_COL_PERSON, /* jsonb text or NULL */
    REPORT_COL_CITY_CODE,
    REPORT_COL_CITY_NAME,
    REPORT_COL_COUNTY_CODE,
    REPORT_COL_COUNTY_NAME,
    REPORT_COL_TOWN_CODE,
    REPORT_COL_TOWN_NAME,
    REPORT_COL_COMMUNITY_CODE,
    REPORT_COL_COMMUNITY_NAME,
    REPORT_COL_ZONES,     /* json array text of {code,name,level} */
    REPORT_COL_OUTSIDE,   /* "t" / "f" */
    REPORT_COL_SNAPPED_M, /* NULL when not snapped */
    REPORT_COL_STATION_ID,
    REPORT_COL_STATION_NAME,
    REPORT_COL_STATION_TIER, /* r.tier: the responsible station's tier */
    REPORT_COL_ACK_DEADLINE, /* kept after acknowledgement (history); NULL only without a station */
    REPORT_COL_UNIT_ID,
    REPORT_COL_OUTCOME,
    REPORT_COL_DUPLICATE_OF,
    REPORT_COL_SOURCE, /* "app" / "open311" */
    REPORT_COL_CREATED_BY,
    REPORT_COL_CRS_IN,
    REPORT_NCOLS
};

/* One row of a `SELECT REPORT_COLUMNS FROM reports r` result -> the public report JSON of API.md:
 * id, client_id, status, category, location {lon,lat,crs[,accuracy_m]} converted to `crs`,
 * observed_at, received_at, updated_at, description, people_count, person (object or null),
 * divisions [{code,name,level}] city -> community (tiers that are NULL are left out), zones,
 * outside, snapped_m, responsible_station {id,name,tier} (or null), ack_deadline, unit_id, outcome,
 * duplicate_of, source. Personal data (person) is included: callers serving the public (Open311)
 * delete what they must not show. Caller owns the result; NULL only on out of memory. */
json_t *report_row_json(PGresult *res, int row, gis_crs crs);

/* The most local division code of a report row (community, else town, county, city), or "" for a
 * report outside every division. Points into res. For auth_in_scope(). */
const char *report_row_scope_code(PGresult *res, int row);

/* THE visibility rule of a report (one home; REPORT_VISIBLE_SQL is its SQL twin): 1 when user u
 * made the report (created_by = u->id: a patrol that reported across its county line still reads
 * its own report and adds its photos) or the report lies in u's division (auth_in_scope of the most
 * local code; outside-city reports only for city-wide users). Used by GET, photos, timeline,
 * events, lists, exports and client_id replays; a report not visible is answered as missing. */
int report_row_visible(const auth_user *u, PGresult *res, int row);

/* The most local division code of a report row aliased X, in SQL (NULL outside every division). */
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

/* Old names of params.h parsers (defined in params.c), kept for other branches until the merge.
 * List paging cursors: an opaque URL-safe token of `tag` (e.g. "r1" for reports) and a row id.
 * decode returns 0 with *id > 0, or -1 when the token is not one of `tag`. */
void list_cursor_encode(const char *tag, long long id, char *out, size_t outlen);
int list_cursor_decode(const char *tag, const char *in, long long *id);

/* A positive decimal id of at most 18 digits -> *out. Returns 0, or -1 when malformed. */
int report_parse_id(const char *s, long long *out);

/* RFC 3339 date-time with offset (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)) -> seconds since the
 * epoch. Returns 0, or -1 when malformed (31 February included). The one parser of client times. */
int report_parse_rfc3339(const char *s, double *out);

/* Loads report r->params[0] (REPORT_COLUMNS) when r's user may see it. Returns 0 with *res (the
 * caller PQclears it), or the status of the error already sent: 404 for a malformed, unknown or
 * out-of-scope id (one answer for all three), 503/500 for the database. */
int report_load_visible(http_req *r, long long *id, PGresult **res);

/* An error answer of a report (status, static code, static field or NULL, message). */
typedef shape_error report_error;

/* Validates and creates one report from a JSON object (the body of POST /api/v1/reports) for
 * `actor` (NULL for Open311: no created_by) named `actor_name` in the audit trail ("patrol",
 * "open311:demo"), with `source` "app" or "open311". The report, its 'created' audit event and its
 * 'report.created' live event are written in one transaction (the caller must not have one open).
 * A client_id seen before returns that stored report, whatever the new body says (the first copy
 * wins; nothing is written and the new body is not validated beyond client_id).
 * A client_id whose stored report `actor` may not see (report_row_visible) is -1 with 409
 * client_id_conflict and no data (an Open311 actor, NULL, never replays: its ids are made here).
 * possible_duplicates lists only reports `actor` may see (none for a NULL actor).
 * Returns 1 created, 0 existing, -1 bad input (*e filled, nothing written), -2 database failure
 * (see w->err / w->sqlstate / w->db_down; nothing written). On 1 and 0 *out gets the report JSON
 * (WGS-84, with "possible_duplicates": [{id,category,status,distance_m,received_at}] on 1), owned
 * by the caller. */
int report_submit(worker *w, const auth_user *actor, const char *actor_name, const char *source,
                  json_t *body, json_t **out, report_error *e);

/* Removes metadata from an image whose type is told by its magic bytes (not by any header).
 * JPEG: keeps SOI, APP0 (JFIF), DQT, SOF*, DHT, DRI, DAC, SOS + scan data, EOI; drops APP1..APP15
 * (EXIF incl. GPS, XMP, ICC, ...) and COM. PNG: checks the signature and every chunk's CRC, drops
 * tEXt, zTXt, iTXt, eXIf and tIME. Returns 0 with *out (malloc'd, caller frees), *outn and *ctype
 * ("image/jpeg" or "image/png", static); -1 when the bytes are neither a well-formed JPEG nor PNG
 * (*out untouched). Pure: no I/O, thread-safe. */
int photo_strip(const unsigned char *in, size_t n, unsigned char **out, size_t *outn,
                const char **ctype);

/* Background thread (server.c background[]): every cfg.escalate_interval_ms, moves overdue new
 * reports one tier up in one transaction with FOR UPDATE SKIP LOCKED (several instances may run).
 * Returns when a->stopping. arg is the app. */
void *escalate_thread(void *arg);

/* One escalation pass on pg (used by escalate_thread and tests). Returns the number of reports
 * escalated, or -1 with a message in err. */
int escalate_once(app *a, PGconn *pg, char *err, size_t errlen);

#endif
