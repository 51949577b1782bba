/* reports.c - field reports: validation, location and routing, idempotent creation (single and
 * batch), read-back, the lifecycle state machine and the timeline.
 *
 * Threads: every function runs on a CivetWeb worker with that thread's worker (PGconn, locator).
 *
 * Creation (report_submit, batch): each item is validated and located in C (gis_locate on the
 * worker's own locator), then ONE statement inserts every item of the request:
 *   WITH x AS (jsonb_to_recordset), ins AS (INSERT INTO reports ... ON CONFLICT (client_id) DO NOTHING
 *   RETURNING *), ev AS (INSERT INTO report_events 'created'), le AS (INSERT INTO events
 *   'report.created') SELECT REPORT_COLUMNS, possible_duplicates FROM ins
 * A single statement is a single transaction: the report, its audit row and its live event are
 * committed together or not at all, and the reply is built from the committed rows. Items whose
 * client_id already existed (or arrived twice in one batch, or at the same moment on another
 * connection: ON CONFLICT waits for the other inserter) come back "existing", read with a second
 * statement after the first committed. A client_id sent again with a different, or even invalid,
 * body returns the stored report: the first copy wins, the key is the client_id alone. A replay
 * whose stored report the caller may not see (report_row_visible) is 409 client_id_conflict with
 * no data, single or batch item; a stored report sent back is an audited read (audit.c).
 * Possible duplicates (at most 20: the 50 planar-nearest candidates by the GiST index, kept when
 * within dup_radius_m geodesic metres) are computed against the reports committed before the
 * statement, so two
 * items of one batch never list each other.
 *
 * Live event payload (events.payload of report.created / report.updated):
 *   {"id","status","category","lon","lat","station_id","tier","ack_deadline","unit_id","outcome",
 *    "division_code","event"}  (event: created|acknowledge|dispatch|...|escalated)
 *
 * Lifecycle rules (the table `transitions` below; anything else is 409 invalid_transition):
 *   acknowledge     new                                -> acknowledged  dispatcher, supervisor, admin
 *   dispatch        acknowledged (also new)            -> dispatched    dispatcher, supervisor, admin
 *                   needs unit_id of an existing unit in the user's division that is `available`
 *                   (missing or another division's: one answer, 404 not_found field unit_id); the
 *                   unit becomes `dispatched`
 *   arrive          dispatched                         -> on_scene      patrol, dispatcher, supervisor, admin
 *   resolve         on_scene, dispatched               -> resolved      patrol, dispatcher, supervisor, admin
 *                   needs outcome (API.md enum)
 *   cancel          new, acknowledged, dispatched, on_scene -> cancelled  dispatcher, supervisor, admin;
 *                   also the patrol/community user who created it while it is still `new`
 *   mark_duplicate  new, acknowledged                  -> duplicate     dispatcher, supervisor, admin
 *                   needs duplicate_of: another existing report the user may see
 *   escalate        new, acknowledged, dispatched, on_scene -> (same)    dispatcher, supervisor, admin
 *                   moves the responsible station to its parent (409 no_parent_station at the top),
 *                   new ack_deadline from the parent's tier
 * The unit follows (units_follow_report): dispatch -> dispatched, arrive -> on_scene, and ending a
 * report (resolve, cancel, mark_duplicate) sets it back to `available`.
 * Every request may carry "note" (string, <= 1,000 characters) kept in the audit details.
 * Every user acts only on reports it may see (report_row_visible: in scope or made by the user);
 * others get 404, as for GET. A patrol user moves only reports dispatched to its own unit
 * (users.unit_id = reports.unit_id): any other is 403 not_your_unit (withdrawing its own new
 * report excepted).
 * A transition is one transaction: SELECT ... FOR UPDATE, checks, UPDATE ... WHERE status = <from>,
 * audit row, events row, COMMIT. */
#include "service/reports.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/index.h"
#include "service/audit.h"
#include "service/db.h"
#include "service/handlers.h"
#include "service/params.h"
#include "service/shapes.h"
#include "service/units.h"
#include "service/vocab.h"

enum { MAX_NOTE = 1000, MAX_DUPS = 20 };

#define tier_name(t) vocab_code(&VOCAB_TIER, (size_t)(t))

/* ---- small helpers ---- */

/* report_error is a shape_error: one way to fill it, one character count (shapes.c) */
#define fail shape_fail
#define utf8_chars shape_utf8_chars

static int ack_limit_s(const config *c, gis_level tier) {
    switch (tier) {
    case GIS_COMMUNITY:
        return c->ack_community_s;
    case GIS_TOWN:
        return c->ack_town_s;
    case GIS_COUNTY:
        return c->ack_county_s;
    default:
        return c->ack_city_s;
    }
}

/* ---- row -> JSON ---- */

static const char *val(PGresult *res, int row, int col) {
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static json_t *jstr_or_null(const char *s) {
    return s ? json_string(s) : json_null();
}

static json_t *jint_or_null(const char *s) {
    return s ? json_integer(strtoll(s, NULL, 10)) : json_null();
}

static json_t *jreal_or_null(const char *s) {
    return s ? json_real(strtod(s, NULL)) : json_null();
}

static json_t *jparse_or(const char *s, json_t *dflt) {
    json_t *j = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
    if (j) {
        json_decref(dflt);
        return j;
    }
    return dflt;
}

static json_t *location_json(double lon, double lat, gis_crs crs, const char *accuracy) {
    double ox = lon, oy = lat;
    if (gis_from_wgs84(crs, lon, lat, &ox, &oy) != 0) ox = lon, oy = lat, crs = GIS_CRS_WGS84;
    json_t *loc = json_pack("{s:f,s:f,s:s}", "lon", ox, "lat", oy, "crs", gis_crs_name(crs));
    if (loc && accuracy) json_object_set_new(loc, "accuracy_m", json_real(strtod(accuracy, NULL)));
    return loc;
}

const char *report_row_scope_code(PGresult *res, int row) {
    static const int cols[] = {REPORT_COL_COMMUNITY_CODE, REPORT_COL_TOWN_CODE,
                               REPORT_COL_COUNTY_CODE, REPORT_COL_CITY_CODE};
    for (int i = 0; i < 4; i++) {
        const char *c = val(res, row, cols[i]);
        if (c && *c) return c;
    }
    return "";
}

int report_row_visible(const auth_user *u, PGresult *res, int row) {
    const char *by = val(res, row, REPORT_COL_CREATED_BY);
    if (by && u->id && strtoll(by, NULL, 10) == u->id) return 1;
    const char *code = report_row_scope_code(res, row);
    return auth_in_scope(u, *code ? code : NULL);
}

json_t *report_row_json(PGresult *res, int row, gis_crs crs) {
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "id", jint_or_null(val(res, row, REPORT_COL_ID)));
    json_object_set_new(o, "client_id", jstr_or_null(val(res, row, REPORT_COL_CLIENT_ID)));
    json_object_set_new(o, "status", jstr_or_null(val(res, row, REPORT_COL_STATUS)));
    json_object_set_new(o, "category", jstr_or_null(val(res, row, REPORT_COL_CATEGORY)));
    json_object_set_new(o, "location",
                        location_json(strtod(PQgetvalue(res, row, REPORT_COL_LON), NULL),
                                      strtod(PQgetvalue(res, row, REPORT_COL_LAT), NULL), crs,
                                      val(res, row, REPORT_COL_ACCURACY_M)));
    json_object_set_new(o, "observed_at", jstr_or_null(val(res, row, REPORT_COL_OBSERVED_AT)));
    json_object_set_new(o, "received_at", jstr_or_null(val(res, row, REPORT_COL_RECEIVED_AT)));
    json_object_set_new(o, "updated_at", jstr_or_null(val(res, row, REPORT_COL_UPDATED_AT)));
    json_object_set_new(o, "description", jstr_or_null(val(res, row, REPORT_COL_DESCRIPTION)));
    json_object_set_new(o, "people_count", jint_or_null(val(res, row, REPORT_COL_PEOPLE_COUNT)));
    json_object_set_new(o, "person", jparse_or(val(res, row, REPORT_COL_PERSON), json_null()));
    json_t *divs = json_array();
    static const int dcols[4][2] = {{REPORT_COL_CITY_CODE, REPORT_COL_CITY_NAME},
                                    {REPORT_COL_COUNTY_CODE, REPORT_COL_COUNTY_NAME},
                                    {REPORT_COL_TOWN_CODE, REPORT_COL_TOWN_NAME},
                                    {REPORT_COL_COMMUNITY_CODE, REPORT_COL_COMMUNITY_NAME}};
    for (int t = 0; t < 4; t++) {
        const char *code = val(res, row, dcols[t][0]);
        if (!code) continue;
        const char *name = val(res, row, dcols[t][1]);
        json_array_append_new(divs, json_pack("{s:s,s:s,s:s}", "code", code, "name",
                                              name ? name : "", "level", tier_name(t)));
    }
    json_object_set_new(o, "divisions", divs);
    json_object_set_new(o, "zones", jparse_or(val(res, row, REPORT_COL_ZONES), json_array()));
    const char *outside = val(res, row, REPORT_COL_OUTSIDE);
    json_object_set_new(o, "outside", json_boolean(outside && outside[0] == 't'));
    json_object_set_new(o, "snapped_m", jreal_or_null(val(res, row, REPORT_COL_SNAPPED_M)));
    const char *sid = val(res, row, REPORT_COL_STATION_ID);
    if (sid) {
        const char *sname = val(res, row, REPORT_COL_STATION_NAME),
                   *stier = val(res, row, REPORT_COL_STATION_TIER);
        json_object_set_new(o, "responsible_station",
                            json_pack("{s:I,s:s,s:s?}", "id", (json_int_t)strtoll(sid, NULL, 10),
                                      "name", sname ? sname : "", "tier", stier));
    } else {
        json_object_set_new(o, "responsible_station", json_null());
    }
    json_object_set_new(o, "ack_deadline", jstr_or_null(val(res, row, REPORT_COL_ACK_DEADLINE)));
    json_object_set_new(o, "unit_id", jint_or_null(val(res, row, REPORT_COL_UNIT_ID)));
    json_object_set_new(o, "outcome", jstr_or_null(val(res, row, REPORT_COL_OUTCOME)));
    json_object_set_new(o, "duplicate_of", jint_or_null(val(res, row, REPORT_COL_DUPLICATE_OF)));
    json_object_set_new(o, "source", jstr_or_null(val(res, row, REPORT_COL_SOURCE)));
    return o;
}

/* Re-expresses the WGS-84 "location" of a report JSON in crs (no-op for wgs84). */
static void json_to_crs(json_t *report, gis_crs crs) {
    json_t *loc = json_object_get(report, "location");
    if (crs == GIS_CRS_WGS84 || !loc) return;
    double lon = json_number_value(json_object_get(loc, "lon")),
           lat = json_number_value(json_object_get(loc, "lat"));
    double ox, oy;
    if (gis_from_wgs84(crs, lon, lat, &ox, &oy) != 0) return;
    json_object_set_new(loc, "lon", json_real(ox));
    json_object_set_new(loc, "lat", json_real(oy));
    json_object_set_new(loc, "crs", json_string(gis_crs_name(crs)));
}

/* ---- validation + location of one item ---- */

typedef struct item {
    char client_id[37];
    int client_id_ok; /* client_id valid (even when something else is not) */
    int valid;
    report_error err;
    json_t *rec;        /* normalised record for jsonb_to_recordset (owned) */
    json_t *divisions;  /* [{code,name,level}] city -> community, from the index (owned) */
    json_t *zones;      /* [{code,name,level}] by code, from the index (owned) */
    char *station_name; /* responsible station's name from the index, NULL without one */
    json_t *report;     /* result (owned) */
    int status;         /* 1 created, 0 existing, -1 error */
} item;

/* Validates body and locates it; fills it->rec. Returns 0, or -1 with it->err. */
static int validate_item(worker *w, json_t *body, int ord, item *it) {
    report_error *e = &it->err;
    const config *cfg = &w->app->cfg;
    int bad = shape_check(&SHAPE_REPORT, body, e);
    /* client_id comes first in the table: a later error still finds a stored copy */
    if (bad && (!e->field || strcmp(e->field, "client_id") == 0)) return -1;
    params_uuid(json_string_value(json_object_get(body, "client_id")), it->client_id);
    it->client_id_ok = 1;
    if (bad) return -1;

    const char *category = json_string_value(json_object_get(body, "category"));
    json_t *loc = json_object_get(body, "location");
    double lon = json_number_value(json_object_get(loc, "lon"));
    double lat = json_number_value(json_object_get(loc, "lat"));
    gis_crs crs = GIS_CRS_WGS84;
    gis_crs_parse(json_string_value(json_object_get(loc, "crs")), &crs);
    json_t *acc = json_object_get(loc, "accuracy_m");
    double wlon, wlat;
    if (gis_to_wgs84(crs, lon, lat, &wlon, &wlat) != 0)
        return fail(e, 400, "invalid_location", "location",
                    "the location cannot be converted to WGS-84");
    double observed;
    params_rfc3339(json_string_value(json_object_get(body, "observed_at")), &observed);
    if (observed > (double)time(NULL) + 600)
        return fail(e, 400, "invalid_field", "observed_at", "observed_at is in the future");
    json_t *v = json_object_get(body, "description");
    const char *description = json_is_string(v) ? json_string_value(v) : "";
    v = json_object_get(body, "people_count");
    json_int_t people = json_is_integer(v) ? json_integer_value(v) : 1;
    v = json_object_get(body, "person");
    json_t *person = json_is_object(v) ? shape_pick(&SHAPE_PERSON, v) : NULL;

    gis_location where;
    char msg[256];
    if (gis_locate(w->loc, wlon, wlat, &where, msg, sizeof msg) != 0) {
        json_decref(person);
        return fail(e, 503, "index_not_ready", NULL, "cannot locate the report now: %s", msg);
    }
    json_t *zones = json_array();
    for (int i = 0; i < where.nzones; i++)
        json_array_append_new(zones, json_string(where.zones[i]->code));
    json_t *rec = json_pack(
        "{s:i,s:s,s:s,s:f,s:f,s:o,s:s,s:f,s:s,s:I,s:o,s:o,s:b,s:o}", "ord", ord, "client_id",
        it->client_id, "category", category, "lon", wlon, "lat", wlat, "accuracy_m",
        acc && json_is_number(acc) ? json_real(json_number_value(acc)) : json_null(), "crs_in",
        gis_crs_name(crs), "observed_at", observed, "description", description, "people_count",
        people, "person", person ? person : json_null(), "zone_codes", zones, "outside",
        where.outside, "snapped_m",
        where.snapped_m >= 0 ? json_real(where.snapped_m) : json_null());
    if (!rec) return fail(e, 500, "internal", NULL, "out of memory");
    static const char *const code_keys[] = {"city_code", "county_code", "town_code",
                                            "community_code"};
    /* The names the reply shows come from the same index the codes do (it is loaded from the
     * divisions and stations tables and reloaded on gis_changed), not from subqueries. */
    it->divisions = json_array();
    it->zones = json_array();
    for (int t = 0; t < 4; t++) {
        json_object_set_new(rec, code_keys[t],
                            where.tiers[t] ? json_string(where.tiers[t]->code) : json_null());
        if (where.tiers[t])
            json_array_append_new(it->divisions,
                                  json_pack("{s:s,s:s,s:s}", "code", where.tiers[t]->code, "name",
                                            where.tiers[t]->name, "level", tier_name(t)));
    }
    for (int i = 0; i < where.nzones; i++)
        json_array_append_new(it->zones, json_pack("{s:s,s:s,s:s}", "code", where.zones[i]->code,
                                                   "name", where.zones[i]->name, "level",
                                                   gis_level_name(where.zones[i]->level)));
    if (where.station) {
        json_object_set_new(rec, "station_id", json_integer(where.station->id));
        json_object_set_new(rec, "tier", json_string(tier_name(where.station->tier)));
        json_object_set_new(rec, "ack_s", json_integer(ack_limit_s(cfg, where.station->tier)));
        it->station_name = strdup(where.station->name);
    }
    it->rec = rec;
    it->valid = 1;
    return 0;
}

/* ---- the one insert statement ---- */

/* The live-event payload of a report row aliased X (a reports row or a RETURNING * row). */
#define EVENT_PAYLOAD(X, EV)                                                                       \
    "json_build_object('id', " X ".id, 'status', " X ".status, 'category', " X                     \
    ".category, 'lon', ST_X(" X ".geom), 'lat', ST_Y(" X ".geom), 'station_id', " X                \
    ".station_id, 'tier', " X ".tier, 'ack_deadline', " X ".ack_deadline, 'unit_id', " X           \
    ".unit_id, 'outcome', " X ".outcome, 'division_code', coalesce(" X ".community_code, " X       \
    ".town_code, " X ".county_code, " X ".city_code), 'event', " EV ")"

/* possible_duplicates of report row r, W: window seconds, R: radius metres, P and U: the caller's
 * division prefix and id (REPORT_VISIBLE_SQL: only reports the caller may see; parameter references).
 * The 50 planar-nearest open reports of the same category received within the window (GiST KNN,
 * bounded by a box a little larger than the radius; reports_open_geom_idx holds only open reports so
 * closed ones are never walked), each geodesic distance computed once, kept within R. */
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

#define DUPS_COLUMN DUPS_EXPR("$4", "$5", "$7", "$8")

/* The columns of a created row: REPORT_COLUMNS without the name subqueries (put_names fills them). */
#define REPORT_COLUMNS_BARE                                                                        \
    REPORT_COLUMNS_NAMED("NULL::text", "NULL::text", "NULL::text", "NULL::text", "NULL::text",     \
                         "NULL::text")

/* The audit row and the live event of every row of `ins`; actor id A, actor name N. */
#define CREATED_EVENTS(A, N, LE_ORDER)                                                                          \
    " ev AS (INSERT INTO report_events (report_id, type, actor_id, actor, at, from_status, to_status, details)" \
    " SELECT i.id, 'created', " A "::bigint, " N "::text, i.received_at, NULL, i.status,"                       \
    " json_build_object('station_id', i.station_id, 'tier', i.tier, 'source', i.source,"                        \
    " 'ack_deadline', i.ack_deadline) FROM ins i),"                                                             \
    " le AS (INSERT INTO events (kind, entity_id, division_code, payload)"                                      \
    " SELECT 'report.created', i.id, " MOST_LOCAL("i") ", " EVENT_PAYLOAD(                                      \
        "i", "'created'") " FROM ins i" LE_ORDER ")"

/* Keep tests/bench/pgbench_reports.sql (the bench's database ceiling) doing what these two do. */
static const char insert_sql[] =
    "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(ord int, client_id uuid, category text,"
    " lon float8, lat float8, accuracy_m real, crs_in text, observed_at float8, description text,"
    " people_count int, person jsonb, city_code text, county_code text, town_code text, community_code text,"
    " zone_codes text[], outside boolean, snapped_m real, station_id bigint, tier text, ack_s int)),"
    " ins AS (INSERT INTO reports (client_id, category, geom, accuracy_m, crs_in, observed_at, description,"
    " people_count, person, city_code, county_code, town_code, community_code, zone_codes, outside, snapped_m,"
    " station_id, tier, ack_deadline, source, created_by)"
    " SELECT client_id, category, ST_SetSRID(ST_MakePoint(lon, lat), 4326), accuracy_m, crs_in,"
    " to_timestamp(observed_at), description, people_count, person, city_code, county_code, town_code,"
    " community_code, zone_codes::char(12)[], outside, snapped_m, station_id, tier,"
    " now() + make_interval(secs => ack_s), $6::text, $3::bigint FROM x ORDER BY ord"
    " ON CONFLICT (client_id) DO NOTHING RETURNING *)," CREATED_EVENTS(
        "$3", "$2", " ORDER BY i.id") " SELECT " REPORT_COLUMNS_BARE ", " DUPS_COLUMN " FROM ins r";

/* The same write for one report (POST /api/v1/reports): plain parameters instead of a jsonb
 * recordset, no sorts. $1..$20 are the record fields in rec_keys order, then $21 source,
 * $22 created_by, $23 actor name, $24 window seconds, $25 radius metres, $26 and $27 the caller's
 * division prefix and id (possible_duplicates only within what the caller may see). */
static const char insert_one_sql[] =
    "WITH ins AS (INSERT INTO reports (client_id, category, geom, accuracy_m, crs_in, observed_at, description,"
    " people_count, person, city_code, county_code, town_code, community_code, zone_codes, outside, snapped_m,"
    " station_id, tier, ack_deadline, source, created_by)"
    " VALUES ($1::uuid, $2::text, ST_SetSRID(ST_MakePoint($3::float8, $4::float8), 4326), $5::real, $6::text,"
    " to_timestamp($7::float8), $8::text, $9::int, $10::jsonb, $11::text, $12::text, $13::text, $14::text,"
    " $15::text[]::char(12)[], $16::boolean, $17::real, $18::bigint, $19::text,"
    " now() + make_interval(secs => $20::int), $21::text, $22::bigint)"
    " ON CONFLICT (client_id) DO NOTHING RETURNING *)," CREATED_EVENTS(
        "$22", "$23", "") " SELECT " REPORT_COLUMNS_BARE
                          ", " DUPS_EXPR("$24", "$25", "$26", "$27") " FROM ins r";

static const char *const rec_keys[] = {
    "client_id",   "category",       "lon",          "lat",     "accuracy_m", "crs_in",
    "observed_at", "description",    "people_count", "person",  "city_code",  "county_code",
    "town_code",   "community_code", "zone_codes",   "outside", "snapped_m",  "station_id",
    "tier",        "ack_s"};
enum { NREC_KEYS = sizeof rec_keys / sizeof rec_keys[0] };

/* The text form of one record field as a statement parameter: NULL for null/absent, else malloc'd
 * (doubles with 17 digits as json_dumps writes them, arrays of codes as "{a,b}", objects as JSON).
 * Sets *oom on allocation failure. */
static char *param_text(json_t *v, int *oom) {
    char buf[64], *out = NULL;
    if (!v || json_is_null(v)) return NULL;
    if (json_is_string(v)) {
        out = strdup(json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        out = strdup(buf);
    } else if (json_is_real(v)) {
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        out = strdup(buf);
    } else if (json_is_boolean(v)) {
        out = strdup(json_is_true(v) ? "t" : "f");
    } else if (json_is_array(v)) { /* division codes: digits only, no quoting needed */
        size_t n = json_array_size(v), len = 3;
        for (size_t i = 0; i < n; i++)
            len += strlen(json_string_value(json_array_get(v, i))) + 1;
        if ((out = malloc(len))) {
            char *p = out;
            *p++ = '{';
            for (size_t i = 0; i < n; i++)
                p += sprintf(p, "%s%s", i ? "," : "", json_string_value(json_array_get(v, i)));
            *p++ = '}', *p = 0;
        }
    } else {
        out = json_dumps(v, JSON_COMPACT);
    }
    if (!out) *oom = 1;
    return out;
}

/* Moves the names taken from the index into a created report's JSON (see REPORT_COLUMNS_BARE). */
static void put_names(json_t *rep, item *it) {
    if (it->divisions) json_object_set_new(rep, "divisions", it->divisions);
    if (it->zones) json_object_set_new(rep, "zones", it->zones);
    it->divisions = it->zones = NULL;
    json_t *st = json_object_get(rep, "responsible_station");
    if (json_is_object(st) && it->station_name)
        json_object_set_new(st, "name", json_string(it->station_name));
}

static const char existing_sql[] =
    "SELECT " REPORT_COLUMNS " FROM reports r WHERE r.client_id = ANY ($1::uuid[])";

/* Inserts every valid item of items[0..n) in one statement, then reads back the existing ones.
 * Items already answered (valid == 0 and client_id_ok == 0) are skipped. Returns 0, or -1 on a
 * database failure (nothing written). */
static int insert_items(worker *w, const auth_user *actor, const char *actor_name,
                        const char *source, item *items, size_t n) {
    int rc = -1;
    PGresult *res = NULL, *ex = NULL;
    json_t *recs = json_array(), *created = json_object(), *lookup = json_array();
    char *recs_s = NULL, *lookup_s = NULL;
    for (size_t i = 0; i < n; i++)
        if (items[i].valid) json_array_append(recs, items[i].rec);
    if (json_array_size(recs)) {
        char actor_id[24], window[16], radius[32], prefix[13] = "";
        snprintf(actor_id, sizeof actor_id, "%lld", actor ? actor->id : 0);
        if (actor) auth_code_prefix(actor->division_code, prefix);
        const char *vis_prefix = actor ? prefix : NULL, *vis_id = actor ? actor_id : NULL;
        snprintf(window, sizeof window, "%d", w->app->cfg.dup_window_s);
        snprintf(radius, sizeof radius, "%.3f", w->app->cfg.dup_radius_m);
        if (json_array_size(recs) == 1) {
            json_t *rec = json_array_get(recs, 0);
            char *vals[NREC_KEYS];
            const char *params[NREC_KEYS + 7];
            int oom = 0;
            for (int k = 0; k < NREC_KEYS; k++)
                params[k] = vals[k] = param_text(json_object_get(rec, rec_keys[k]), &oom);
            params[NREC_KEYS] = source;
            params[NREC_KEYS + 1] = actor && actor->id ? actor_id : NULL;
            params[NREC_KEYS + 2] = actor_name;
            params[NREC_KEYS + 3] = window;
            params[NREC_KEYS + 4] = radius;
            params[NREC_KEYS + 5] = vis_prefix;
            params[NREC_KEYS + 6] = vis_id;
            if (!oom) res = db_exec(w, insert_one_sql, NREC_KEYS + 7, params);
            for (int k = 0; k < NREC_KEYS; k++)
                free(vals[k]);
            if (oom) {
                snprintf(w->err, sizeof w->err, "out of memory");
                snprintf(w->sqlstate, sizeof w->sqlstate, "53200");
            }
            if (!res) goto done;
        } else {
            recs_s = json_dumps(recs, JSON_COMPACT);
            if (!recs_s) goto done;
            const char *params[] = {recs_s,     actor_name, actor && actor->id ? actor_id : NULL,
                                    window,     radius,     source,
                                    vis_prefix, vis_id};
            if (!(res = db_exec(w, insert_sql, 8, params))) goto done;
        }
        for (int row = 0; row < PQntuples(res); row++) {
            json_t *rep = report_row_json(res, row, GIS_CRS_WGS84);
            json_object_set_new(rep, "possible_duplicates",
                                jparse_or(val(res, row, REPORT_NCOLS), json_array()));
            json_object_set_new(created, PQgetvalue(res, row, REPORT_COL_CLIENT_ID), rep);
        }
    }
    /* created: first valid item with that client_id; everything else with a valid client_id: existing */
    for (size_t i = 0; i < n; i++) {
        json_t *rep;
        if (items[i].valid && (rep = json_object_get(created, items[i].client_id))) {
            items[i].report = json_incref(rep);
            items[i].status = 1;
            put_names(rep, &items[i]);
            json_object_del(created, items[i].client_id);
        } else if (items[i].client_id_ok) {
            json_array_append_new(lookup, json_string(items[i].client_id));
        }
    }
    if (json_array_size(lookup)) {
        /* "{uuid,uuid}": UUIDs need no quoting */
        size_t len = 3 + json_array_size(lookup) * 37;
        lookup_s = malloc(len);
        if (!lookup_s) goto done;
        char *p = lookup_s;
        *p++ = '{';
        for (size_t k = 0; k < json_array_size(lookup); k++) {
            if (k) *p++ = ',';
            memcpy(p, json_string_value(json_array_get(lookup, k)), 36);
            p += 36;
        }
        *p++ = '}', *p = 0;
        const char *params[] = {lookup_s};
        if (!(ex = db_exec(w, existing_sql, 1, params))) goto done;
        /* A replayed client_id of a report the actor may not see: 409 and no data (the stored
         * report is not even turned into JSON). */
        json_t *found = json_object();
        for (int row = 0; row < PQntuples(ex); row++)
            json_object_set_new(found, PQgetvalue(ex, row, REPORT_COL_CLIENT_ID),
                                !actor || report_row_visible(actor, ex, row)
                                    ? report_row_json(ex, row, GIS_CRS_WGS84)
                                    : json_false());
        for (size_t i = 0; i < n; i++) {
            json_t *rep;
            if (items[i].status != 1 && items[i].client_id_ok &&
                (rep = json_object_get(found, items[i].client_id))) {
                if (json_is_false(rep)) {
                    items[i].status = -1;
                    items[i].valid = 0;
                    fail(&items[i].err, 409, "client_id_conflict", "client_id",
                         "this client_id belongs to another report; make a new one");
                    continue;
                }
                items[i].report = json_deep_copy(rep);
                items[i].status = 0;
            }
        }
        json_decref(found);
    }
    /* A valid item neither created nor found: its twin in this statement was created by another
     * connection that then rolled back, or ... cannot happen with ON CONFLICT; report it. */
    for (size_t i = 0; i < n; i++)
        if (items[i].valid && !items[i].report) {
            items[i].status = -1;
            fail(&items[i].err, 409, "conflict", "client_id",
                 "the report was not stored; send it again");
        }
    rc = 0;
done:
    free(recs_s);
    free(lookup_s);
    PQclear(res);
    PQclear(ex);
    json_decref(recs);
    json_decref(created);
    json_decref(lookup);
    return rc;
}

static void item_free(item *it) {
    json_decref(it->rec);
    json_decref(it->divisions);
    json_decref(it->zones);
    free(it->station_name);
    json_decref(it->report);
}

int report_submit(worker *w, const auth_user *actor, const char *actor_name, const char *source,
                  json_t *body, json_t **out, report_error *e) {
    item it;
    memset(&it, 0, sizeof it);
    it.status = -1;
    *out = NULL;
    if (validate_item(w, body, 0, &it) != 0 && !it.client_id_ok) {
        *e = it.err;
        return -1;
    }
    if (insert_items(w, actor, actor_name, source, &it, 1) != 0) {
        item_free(&it);
        return -2;
    }
    int rc = it.report ? it.status : -1;
    if (rc >= 0) {
        *out = it.report;
        it.report = NULL;
    } else {
        *e = it.err;
    }
    item_free(&it);
    return rc;
}

/* ---- handlers: create, batch, get ---- */

static int reply_error(http_req *r, const report_error *e) {
    return http_error(r, e->status, e->code, e->field, "%s", e->message);
}

/* POST /api/v1/reports */
int h_reports_create(http_req *r) {
    gis_crs crs;
    if (param_crs(r, &crs)) return r->status;
    json_t *out;
    report_error e;
    int rc = report_submit(r->w, &r->user, r->user.username, "app", r->json, &out, &e);
    if (rc == -2) return http_db_error(r);
    if (rc == -1) return reply_error(r, &e);
    long long id = json_integer_value(json_object_get(out, "id"));
    if (rc == 0 && audit_read(r, AUDIT_REPORT_GET, &id, 1) != 0) { /* a stored report goes out */
        json_decref(out);
        return http_db_error(r);
    }
    json_to_crs(out, crs);
    return http_json(r, rc == 1 ? 201 : 200, out);
}

static json_t *error_json(const report_error *e) {
    return json_pack("{s:s,s:s,s:s?}", "code", e->code, "message", e->message, "field", e->field);
}

/* POST /api/v1/reports/batch {"reports":[...]} */
int h_reports_batch(http_req *r) {
    gis_crs crs;
    if (param_crs(r, &crs)) return r->status;
    if (shape_check_reply(r, &SHAPE_BATCH)) return r->status;
    json_t *list = json_object_get(r->json, "reports");
    size_t n = json_array_size(list);
    item *items = calloc(n ? n : 1, sizeof *items);
    if (!items) return http_error(r, 500, "internal", NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        items[i].status = -1;
        validate_item(r->w, json_array_get(list, i), (int)i, &items[i]);
    }
    int rc;
    long long *existing = NULL;
    size_t nexisting = 0;
    if (insert_items(r->w, &r->user, r->user.username, "app", items, n) != 0) {
        rc = http_db_error(r);
        goto done;
    }
    /* stored reports sent back (replays) are personal-data reads: one audit row for all of them */
    if (!(existing = malloc((n ? n : 1) * sizeof *existing))) {
        rc = http_error(r, 500, "internal", NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (items[i].report && items[i].status == 0)
            existing[nexisting++] = json_integer_value(json_object_get(items[i].report, "id"));
    if (nexisting && audit_read(r, AUDIT_REPORT_GET, existing, nexisting) != 0) {
        rc = http_db_error(r);
        goto done;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        json_t *res;
        if (it->report) {
            json_to_crs(it->report, crs);
            res =
                json_pack("{s:I,s:s,s:O,s:n}", "index", (json_int_t)i, "status",
                          it->status == 1 ? "created" : "existing", "report", it->report, "error");
        } else {
            res = json_pack("{s:I,s:s,s:n,s:o}", "index", (json_int_t)i, "status", "error",
                            "report", "error", error_json(&it->err));
        }
        json_array_append_new(results, res);
    }
    rc = http_json(r, 200, json_pack("{s:o}", "results", results));
done:
    for (size_t i = 0; i < n; i++)
        item_free(&items[i]);
    free(items);
    free(existing);
    return rc;
}

static const char get_sql[] = "SELECT " REPORT_COLUMNS " FROM reports r WHERE r.id = $1::bigint";

/* Loads report params[0] visible to the user into *res (one row). Returns 0, or the status sent. */
int report_load_visible(http_req *r, long long *id, PGresult **res) {
    *res = NULL;
    if (params_id(r->params[0], id) != 0)
        return http_error(r, 404, "not_found", NULL, "no such report: %.40s", r->params[0]);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", *id);
    const char *params[] = {ids};
    PGresult *q = db_exec(r->w, get_sql, 1, params);
    if (!q) return http_db_error(r);
    if (PQntuples(q) != 1 || !report_row_visible(&r->user, q, 0)) {
        PQclear(q);
        return http_error(r, 404, "not_found", NULL, "no such report: %lld", *id);
    }
    *res = q;
    return 0;
}

static const char dups_of_sql[] =
    "SELECT " DUPS_EXPR("$2", "$3", "$4", "$5") " FROM reports r WHERE r.id = $1::bigint";

/* GET /api/v1/reports/{id}?crs= */
int h_reports_get(http_req *r) {
    gis_crs crs;
    long long id;
    PGresult *res;
    if (param_crs(r, &crs)) return r->status;
    int st = report_load_visible(r, &id, &res);
    if (st) return st;
    json_t *out = report_row_json(res, 0, crs);
    PQclear(res);
    /* possible duplicates now (open reports nearby, same category) */
    char ids[24], window[16], radius[32], prefix[13], uid[24];
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(window, sizeof window, "%d", r->app->cfg.dup_window_s);
    snprintf(radius, sizeof radius, "%.3f", r->app->cfg.dup_radius_m);
    snprintf(uid, sizeof uid, "%lld", r->user.id);
    auth_code_prefix(r->user.division_code, prefix);
    const char *params[] = {ids, window, radius, prefix, uid};
    PGresult *d = db_exec(r->w, dups_of_sql, 5, params);
    if (!d) {
        json_decref(out);
        return http_db_error(r);
    }
    json_object_set_new(out, "possible_duplicates",
                        PQntuples(d) ? jparse_or(val(d, 0, 0), json_array()) : json_array());
    PQclear(d);
    if (audit_read(r, AUDIT_REPORT_GET, &id, 1) != 0) { /* person and description go out */
        json_decref(out);
        return http_db_error(r);
    }
    return http_json(r, 200, out);
}

/* GET /api/v1/reports/{id}/timeline */
int h_reports_timeline(http_req *r) {
    long long id;
    PGresult *res;
    int st = report_load_visible(r, &id, &res);
    if (st) return st;
    PQclear(res);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *params[] = {ids};
    PGresult *ev = db_exec(
        r->w,
        "SELECT id, type, actor, actor_id, to_json(at)#>>'{}', from_status, to_status, details"
        " FROM report_events WHERE report_id = $1::bigint ORDER BY id",
        1, params);
    if (!ev) return http_db_error(r);
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(ev); i++)
        json_array_append_new(
            items, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", jint_or_null(val(ev, i, 0)),
                             "type", jstr_or_null(val(ev, i, 1)), "actor",
                             jstr_or_null(val(ev, i, 2)), "actor_id", jint_or_null(val(ev, i, 3)),
                             "at", jstr_or_null(val(ev, i, 4)), "from_status",
                             jstr_or_null(val(ev, i, 5)), "to_status", jstr_or_null(val(ev, i, 6)),
                             "details", jparse_or(val(ev, i, 7), json_object())));
    PQclear(ev);
    return http_json(
        r, 200, json_pack("{s:I,s:o,s:n}", "report_id", (json_int_t)id, "items", items, "next"));
}

/* ---- lifecycle ---- */

typedef enum { NEEDS_NONE, NEEDS_UNIT, NEEDS_OUTCOME, NEEDS_DUPLICATE_OF, NEEDS_PARENT } needs;

enum {
    S_NEW = 1,
    S_ACK = 2,
    S_DISPATCHED = 4,
    S_ON_SCENE = 8,
    S_RESOLVED = 16,
    S_CANCELLED = 32,
    S_DUPLICATE = 64
};
#define S_OPEN (S_NEW | S_ACK | S_DISPATCHED | S_ON_SCENE)

/* S_* bits are in VOCAB_REPORT_STATUS order. */
static unsigned status_bit(const char *s) {
    int i = vocab_find(&VOCAB_REPORT_STATUS, s);
    return i < 0 ? 0 : 1u << i;
}

static const struct transition {
    const char *type;
    unsigned from;  /* S_* bits */
    const char *to; /* NULL: status unchanged */
    unsigned roles; /* ROLE_* bits */
    needs needs;
    int ends; /* frees the unit */
} transitions[] = {
    {"acknowledge", S_NEW, "acknowledged", ROLE_STAFF, NEEDS_NONE, 0},
    {"dispatch", S_NEW | S_ACK, "dispatched", ROLE_STAFF, NEEDS_UNIT, 0},
    {"arrive", S_DISPATCHED, "on_scene", ROLE_PATROL | ROLE_STAFF, NEEDS_NONE, 0},
    {"resolve", S_DISPATCHED | S_ON_SCENE, "resolved", ROLE_PATROL | ROLE_STAFF, NEEDS_OUTCOME, 1},
    {"cancel", S_OPEN, "cancelled", ROLE_STAFF, NEEDS_NONE, 1},
    {"mark_duplicate", S_NEW | S_ACK, "duplicate", ROLE_STAFF, NEEDS_DUPLICATE_OF, 1},
    {"escalate", S_OPEN, NULL, ROLE_STAFF, NEEDS_PARENT, 0},
};
#define NTRANSITIONS (sizeof transitions / sizeof transitions[0])

static const char lock_sql[] =
    "SELECT " REPORT_COLUMNS " FROM reports r WHERE r.id = $1::bigint FOR UPDATE";

static const char update_sql[] =
    "UPDATE reports SET status = $3::text, unit_id = coalesce($4::bigint, unit_id), outcome = coalesce($5::text, outcome),"
    " duplicate_of = coalesce($6::bigint, duplicate_of), station_id = coalesce($7::bigint, station_id),"
    " tier = coalesce($8::text, tier),"
    " ack_deadline = CASE WHEN $9::int IS NULL THEN ack_deadline ELSE now() + make_interval(secs => $9::int) END,"
    " updated_at = now() WHERE id = $1::bigint AND status = $2::text"
    " RETURNING id, " MOST_LOCAL("reports") ", " EVENT_PAYLOAD("reports", "$10::text");

/* Reads the positive integer field `name` of the body into *out. Returns 0, or the status of the
 * 400 already sent (missing_field with `missing`, invalid_field with `invalid`). */
static int id_field(http_req *r, const char *name, const char *missing, const char *invalid,
                    long long *out) {
    json_t *v = json_object_get(r->json, name);
    if (!v) return http_error(r, 400, "missing_field", name, "%s", missing);
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return http_error(r, 400, "invalid_field", name, "%s", invalid);
    *out = json_integer_value(v);
    return 0;
}

/* POST /api/v1/reports/{id}/events {"type", "unit_id"?, "outcome"?, "duplicate_of"?, "note"?} */
int h_reports_event(http_req *r) {
    worker *w = r->w;
    long long id;
    PGresult *cur = NULL, *q = NULL;
    json_t *details = NULL;
    int rc;
    if (!json_is_object(r->json))
        return http_error(r, 400, "invalid_body", NULL, "send a JSON object");
    if (params_id(r->params[0], &id) != 0)
        return http_error(r, 404, "not_found", NULL, "no such report: %.40s", r->params[0]);

    /* what is asked (validated before touching the database) */
    json_t *jt = json_object_get(r->json, "type");
    if (!jt) return http_error(r, 400, "missing_field", "type", "type is required");
    const struct transition *tr = NULL;
    for (size_t i = 0; json_is_string(jt) && i < NTRANSITIONS; i++)
        if (strcmp(json_string_value(jt), transitions[i].type) == 0) tr = &transitions[i];
    if (!tr)
        return http_error(
            r, 400, "invalid_field", "type",
            "type must be one of acknowledge, dispatch, arrive, resolve, cancel, mark_duplicate, escalate");
    details = json_object();
    json_t *note = json_object_get(r->json, "note");
    if (note && !json_is_null(note)) {
        if (!json_is_string(note) || utf8_chars(json_string_value(note)) > MAX_NOTE) {
            json_decref(details);
            return http_error(r, 400, "invalid_field", "note",
                              "note must be a string of at most %d characters", MAX_NOTE);
        }
        json_object_set(details, "note", note);
    }
    long long unit_id = 0, dup_of = 0;
    const char *outcome = NULL;
    if (tr->needs == NEEDS_UNIT) {
        if ((rc = id_field(r, "unit_id", "dispatch needs unit_id",
                           "unit_id must be a positive integer", &unit_id)))
            goto done;
        json_object_set_new(details, "unit_id", json_integer(unit_id));
    } else if (tr->needs == NEEDS_OUTCOME) {
        json_t *o = json_object_get(r->json, "outcome");
        rc = !o ? http_error(r, 400, "missing_field", "outcome", "resolve needs outcome")
             : vocab_find(&VOCAB_OUTCOME, json_string_value(o)) < 0
                 ? shape_vocab_error(r, "invalid_field", "outcome", &VOCAB_OUTCOME, 0)
                 : 0;
        if (rc) goto done;
        outcome = json_string_value(o);
        json_object_set_new(details, "outcome", json_string(outcome));
    } else if (tr->needs == NEEDS_DUPLICATE_OF) {
        if ((rc = id_field(r, "duplicate_of", "mark_duplicate needs duplicate_of",
                           "duplicate_of must be a report id", &dup_of)))
            goto done;
        if (dup_of == id) {
            rc = http_error(r, 400, "invalid_field", "duplicate_of",
                            "a report cannot duplicate itself");
            goto done;
        }
        json_object_set_new(details, "duplicate_of", json_integer(dup_of));
    }

    if (db_begin(w) != 0) {
        rc = http_db_error(r);
        goto done;
    }
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p1[] = {ids};
    if (!(cur = db_exec(w, lock_sql, 1, p1))) goto dberr;
    if (PQntuples(cur) != 1 || !report_row_visible(&r->user, cur, 0)) {
        rc = http_error(r, 404, "not_found", NULL, "no such report: %lld", id);
        goto rollback;
    }
    const char *from = PQgetvalue(cur, 0, REPORT_COL_STATUS);
    const char *created_by = val(cur, 0, REPORT_COL_CREATED_BY);
    int own_new_report = (r->user.role & (ROLE_PATROL | ROLE_COMMUNITY)) &&
                         strcmp(tr->type, "cancel") == 0 && strcmp(from, "new") == 0 &&
                         created_by && strtoll(created_by, NULL, 10) == r->user.id;
    if (!(r->user.role & tr->roles) && !own_new_report) {
        rc = http_error(r, 403, "forbidden", "type", "the %s role may not %s a report",
                        auth_role_name(r->user.role), tr->type);
        goto rollback;
    }
    /* A patrol moves only the reports dispatched to its own unit (dispatch is a dispatcher's act);
     * the report is visible to it, so this is a 403, not a 404. */
    const char *rep_unit = val(cur, 0, REPORT_COL_UNIT_ID);
    if ((r->user.role & ROLE_PATROL) && !own_new_report &&
        (!r->user.unit_id || !rep_unit || strtoll(rep_unit, NULL, 10) != r->user.unit_id)) {
        rc = http_error(r, 403, "not_your_unit", "type",
                        "only the unit the report is dispatched to may %s it", tr->type);
        goto rollback;
    }
    if (!(status_bit(from) & tr->from)) {
        rc = http_error(r, 409, "invalid_transition", "type", "cannot %s a report that is %s",
                        tr->type, from);
        goto rollback;
    }
    const char *to = tr->to ? tr->to : from;
    char unit_s[24] = "", dup_s[24] = "", station_s[24] = "", ack_s[16] = "";
    const char *tier = NULL;
    if (tr->needs == NEEDS_UNIT) {
        snprintf(unit_s, sizeof unit_s, "%lld", unit_id);
        const char *pu[] = {unit_s};
        PQclear(q);
        if (!(q = db_exec(w,
                          "SELECT status, coalesce(division_code, '') FROM units"
                          " WHERE id = $1::bigint FOR UPDATE",
                          1, pu)))
            goto dberr;
        /* A county sends its own units; another county's unit is answered like a missing one,
         * so the answer does not tell that it exists. */
        if (PQntuples(q) != 1 || !auth_in_scope(&r->user, PQgetvalue(q, 0, 1))) {
            rc = http_error(r, 404, "not_found", "unit_id", "no such unit: %lld", unit_id);
            goto rollback;
        }
        if (strcmp(PQgetvalue(q, 0, 0), "available") != 0) {
            rc = http_error(r, 409, "unit_unavailable", "unit_id", "unit %lld is %s", unit_id,
                            PQgetvalue(q, 0, 0));
            goto rollback;
        }
    } else if (tr->needs == NEEDS_DUPLICATE_OF) {
        snprintf(dup_s, sizeof dup_s, "%lld", dup_of);
        const char *pd[] = {dup_s};
        PQclear(q);
        if (!(q = db_exec(w, get_sql, 1, pd))) goto dberr;
        if (PQntuples(q) != 1 || !report_row_visible(&r->user, q, 0)) {
            rc = http_error(r, 422, "unknown_report", "duplicate_of", "no such report: %lld",
                            dup_of);
            goto rollback;
        }
    } else if (tr->needs == NEEDS_PARENT) {
        const char *sid = val(cur, 0, REPORT_COL_STATION_ID);
        const char *ps[] = {sid ? sid : "0"};
        PQclear(q);
        if (!(q = db_exec(
                  w,
                  "SELECT p.id, p.tier FROM stations s JOIN stations p ON p.id = s.parent_id"
                  " WHERE s.id = $1::bigint",
                  1, ps)))
            goto dberr;
        if (PQntuples(q) != 1) {
            rc = http_error(r, 409, "no_parent_station", "type",
                            "the responsible station has no station above it");
            goto rollback;
        }
        snprintf(station_s, sizeof station_s, "%s", PQgetvalue(q, 0, 0));
        tier = PQgetvalue(q, 0, 1);
        gis_level lv = GIS_CITY;
        int t = vocab_find(&VOCAB_TIER, tier);
        if (t >= 0) lv = (gis_level)t;
        snprintf(ack_s, sizeof ack_s, "%d", ack_limit_s(&r->app->cfg, lv));
        json_object_set_new(details, "from_station", jint_or_null(sid));
        json_object_set_new(details, "from_tier",
                            jstr_or_null(val(cur, 0, REPORT_COL_STATION_TIER)));
        json_object_set_new(details, "to_station", json_integer(strtoll(station_s, NULL, 10)));
        json_object_set_new(details, "to_tier", json_string(tier));
    }
    char tier_buf[16];
    snprintf(tier_buf, sizeof tier_buf, "%s", tier ? tier : "");
    const char *event_name = tr->needs == NEEDS_PARENT ? "escalated" : tr->type;
    const char *pu[] = {ids,
                        from,
                        to,
                        *unit_s ? unit_s : NULL,
                        outcome,
                        *dup_s ? dup_s : NULL,
                        *station_s ? station_s : NULL,
                        *tier_buf ? tier_buf : NULL,
                        *ack_s ? ack_s : NULL,
                        event_name};
    PGresult *up = db_exec(w, update_sql, 10, pu);
    if (!up) goto dberr;
    if (PQntuples(up) != 1) { /* cannot happen under FOR UPDATE; keep the guarantee anyway */
        PQclear(up);
        rc = http_error(r, 409, "invalid_transition", "type", "the report changed meanwhile");
        goto rollback;
    }
    char *details_s = json_dumps(details, JSON_COMPACT);
    char actor_id[24];
    snprintf(actor_id, sizeof actor_id, "%lld", r->user.id);
    const char *pe[] = {ids, event_name, actor_id,      r->user.username,    from,
                        to,  details_s,  val(up, 0, 1), PQgetvalue(up, 0, 2)};
    PQclear(q);
    q = db_exec(
        w,
        "WITH a AS (INSERT INTO report_events (report_id, type, actor_id, actor, from_status, to_status, details)"
        " VALUES ($1::bigint, $2::text, $3::bigint, $4::text, $5::text, $6::text, $7::jsonb))"
        " INSERT INTO events (kind, entity_id, division_code, payload)"
        " VALUES ('report.updated', $1::bigint, $8::text, $9::jsonb)",
        9, pe);
    free(details_s);
    PQclear(up);
    if (!q) goto dberr;
    /* the unit follows its report (units.c): dispatched, on_scene, available again at the end */
    if (units_follow_report(w, *unit_s ? unit_s : val(cur, 0, REPORT_COL_UNIT_ID), tr->type) != 0)
        goto dberr;
    PQclear(q);
    if (!(q = db_exec(w, get_sql, 1, p1))) goto dberr;
    if (db_commit(w) != 0) goto dberr;
    rc = http_json(r, 200, report_row_json(q, 0, GIS_CRS_WGS84));
    goto done;
dberr:
    rc = http_db_error(r);
rollback:
    db_rollback(w);
done:
    PQclear(cur);
    PQclear(q);
    json_decref(details);
    return rc;
}
