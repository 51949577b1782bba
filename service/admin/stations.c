/* stations.c - rescue stations: the rule of a valid station and its one writer (stations.h), and
 * GET/POST /api/v1/stations, GET/PATCH /api/v1/stations/{id}. A write changes `stations`, whose
 * statement trigger NOTIFYs gis_changed: every instance reloads its spatial index (routing) and
 * gazetteer. Coverage polygons are read and repaired by gis/geom.h's one rule. */
#include "service/admin/stations.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/geom.h"
#include "service/admin/admin.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/shapes.h"
#include "service/places/divisions.h"
#include "service/places/places.h"

/* A tier's rank (city 1 .. community 4: its place in VOCAB_TIER) and the digits of its division's
 * prefix, in SQL. */
#define TIER_RANK(X) "array_position(ARRAY[" VOCAB_SQL_ANY("Tier", 0) "], " X ")"
#define TIER_DIGITS(X) "((ARRAY[4, 6, 9, 12])[" TIER_RANK(X) "])"

/* A new station's parent: the nearest station of a higher tier whose division holds its division
 * (tier T, division D), one that can dispatch first. */
#define DEFAULT_PARENT(T, D)                                                                       \
    "(SELECT p.id FROM stations p WHERE " TIER_RANK("p.tier") " < " TIER_RANK(                     \
        T) " AND left(" D                                                                          \
           ", " TIER_DIGITS("p.tier") ") = left(p.division_code, " TIER_DIGITS(                    \
               "p.tier") ")"                                                                       \
                         " ORDER BY " TIER_RANK(                                                   \
                             "p.tier") " DESC, p.can_dispatch DESC, p.id LIMIT 1)"

static const char division_sql[] =
    "SELECT level, geom IS NOT NULL, geom IS NULL OR ST_Covers(geom, p.pt)"
    " OR ST_DWithin(geom::geography, p.pt::geography, 1), name"
    " FROM divisions, (SELECT ST_SetSRID(ST_MakePoint($2::float8, $3::float8), 4326) AS pt) p"
    " WHERE code = $1::text AND valid_to IS NULL";

static const char insert_sql[] =
    "INSERT INTO stations (code, name, tier, division_code, location, coverage, coverage_own,"
    " can_dispatch, parent_id, phone, address, beds) SELECT $1::text, $2::text, $3::text, d.code,"
    " ST_SetSRID(ST_MakePoint($5::float8, $6::float8), 4326), CASE WHEN $7::text IS NULL THEN"
    " d.geom ELSE ST_GeomFromWKB(decode($7::text, 'hex'), 4326) END, $7::text IS NOT NULL,"
    " $8::boolean, CASE WHEN $9::bigint = -1 THEN " DEFAULT_PARENT(
        "$3::text", "$4::text") " ELSE nullif($9::bigint, 0) END, $10::text, $11::text,"
                                " nullif($12::int, -1) FROM divisions d WHERE d.code = $4::text"
                                " RETURNING id";

/* The new state is written only when it differs (an unchanged re-import writes nothing). */
static const char update_sql[] =
    "UPDATE stations s SET code = coalesce($2::text, s.code), name = $3::text, tier = $4::text,"
    " division_code = $5::text, location = n.pt, coverage = n.cov, coverage_own = $8::text IS NOT"
    " NULL, can_dispatch = $9::boolean, parent_id = n.parent, phone = $11::text, address ="
    " $12::text, beds = nullif($13::int, -1), updated_at = now()"
    " FROM (SELECT ST_SetSRID(ST_MakePoint($6::float8, $7::float8), 4326) AS pt,"
    " CASE WHEN $8::text IS NULL THEN d.geom ELSE ST_GeomFromWKB(decode($8::text, 'hex'), 4326)"
    " END AS cov, CASE WHEN $10::bigint = -1 THEN (SELECT parent_id FROM stations WHERE id ="
    " $1::bigint) ELSE nullif($10::bigint, 0) END AS parent FROM divisions d WHERE d.code ="
    " $5::text) n WHERE s.id = $1::bigint AND (s.code <> coalesce($2::text, s.code)"
    " OR s.name <> $3::text OR s.tier <> $4::text OR s.division_code <> $5::text"
    " OR NOT ST_Equals(s.location, n.pt) OR s.coverage_own <> ($8::text IS NOT NULL)"
    " OR NOT ST_Equals(s.coverage, n.cov) OR s.can_dispatch <> $9::boolean"
    " OR s.parent_id IS DISTINCT FROM n.parent OR s.phone IS DISTINCT FROM $11::text"
    " OR s.address IS DISTINCT FROM $12::text OR s.beds IS DISTINCT FROM nullif($13::int, -1))"
    " RETURNING s.id";

static int refuse(station_error *e, int status, const char *code, const char *field,
                  const char *fmt, const char *a, const char *b) {
    e->status = status, e->code = code, e->field = field;
    snprintf(e->message, sizeof e->message, fmt, a, b);
    return 1;
}

/* The division: it exists, has a boundary (or the station brings its own coverage), the tier is
 * its level and the location lies inside it. *tier gets the tier. 0, 1 refused, -1. */
static int check_division(worker *w, const station_in *in, const char **tier, char *level,
                          station_error *e) {
    char lon[32], lat[32];
    snprintf(lon, sizeof lon, "%.9f", in->lon);
    snprintf(lat, sizeof lat, "%.9f", in->lat);
    const char *p[] = {in->division, lon, lat};
    PGresult *q = db_exec(w, division_sql, 3, p);
    if (!q) return -1;
    int rc = 0;
    if (PQntuples(q) != 1) {
        rc = refuse(e, 404, "not_found", "division_code", "no division %s%s", in->division, "");
        goto done;
    }
    snprintf(level, 16, "%s", PQgetvalue(q, 0, 0));
    *tier = in->tier ? in->tier : level;
    if (vocab_find(&VOCAB_TIER, level) < 0)
        rc = refuse(e, 400, "invalid_division", "division_code",
                    "a station serves a city, county, town or community, not a %s%s", level, "");
    else if (strcmp(*tier, level) != 0)
        rc = refuse(e, 400, "invalid_field", "tier",
                    "the tier of a station is the level of its division: %s is a %s",
                    PQgetvalue(q, 0, 3), level);
    else if (*PQgetvalue(q, 0, 1) != 't' && !in->coverage)
        rc = refuse(e, 400, "invalid_division", "division_code",
                    "%s has no boundary yet: import it (patrold import-divisions) or give the "
                    "station a coverage polygon%s",
                    PQgetvalue(q, 0, 3), "");
    else if (*PQgetvalue(q, 0, 2) != 't')
        rc = refuse(e, 400, "outside_division", "location", "the location lies outside %s (%s)",
                    PQgetvalue(q, 0, 3), in->division);
done:
    PQclear(q);
    return rc;
}

/* The parent: an existing station of a higher tier, not the station itself. 0, 1, -1. */
static int check_parent(worker *w, long long id, const station_in *in, const char *tier,
                        station_error *e) {
    char pid[24];
    if (in->parent_id <= 0) return 0;
    if (in->parent_id == id)
        return refuse(e, 400, "invalid_field", "parent_id", "a station is not its own parent%s%s",
                      "", "");
    const char *p[] = {admin_id(in->parent_id, pid), tier};
    PGresult *q = db_exec(w,
                          "SELECT " TIER_RANK("tier") " < " TIER_RANK(
                              "$2::text") " FROM stations WHERE id = $1::bigint",
                          2, p);
    if (!q) return -1;
    int rc = PQntuples(q) != 1
                 ? refuse(e, 404, "not_found", "parent_id", "no station %s%s", pid, "")
             : *PQgetvalue(q, 0, 0) != 't'
                 ? refuse(e, 400, "invalid_field", "parent_id",
                          "the parent must be a station of a higher tier than %s%s", tier, "")
                 : 0;
    PQclear(q);
    return rc;
}

/* A code another station has: 1 refused, 0, -1. */
static int check_code(worker *w, long long id, const station_in *in, station_error *e) {
    long long other;
    if (!in->code) return 0;
    int found = stations_by_code(w, in->code, &other);
    if (found < 0) return -1;
    if (found && other != id)
        return refuse(e, 409, "station_code_taken", "code", "station code %s is taken%s", in->code,
                      "");
    return 0;
}

int stations_save(worker *w, long long id, const station_in *in, long long *out_id, int *changed,
                  station_error *e) {
    const char *tier = NULL;
    char level[16], lon[32], lat[32], can[8], parent[24], beds[24], sid[24];
    int rc;
    if ((rc = check_division(w, in, &tier, level, e)) || (rc = check_parent(w, id, in, tier, e)) ||
        (rc = check_code(w, id, in, e)))
        return rc;
    snprintf(lon, sizeof lon, "%.9f", in->lon);
    snprintf(lat, sizeof lat, "%.9f", in->lat);
    snprintf(can, sizeof can, "%s", in->can_dispatch ? "true" : "false");
    admin_id(in->parent_id, parent);
    admin_id(in->beds, beds);
    PGresult *q;
    if (id == 0) {
        const char *p[] = {in->code,     in->name, tier,   in->division, lon,         lat,
                           in->coverage, can,      parent, in->phone,    in->address, beds};
        q = db_exec(w, insert_sql, 12, p);
    } else {
        const char *p[] = {admin_id(id, sid), in->code, in->name, tier,      in->division, lon, lat,
                           in->coverage,      can,      parent,   in->phone, in->address,  beds};
        q = db_exec(w, update_sql, 13, p);
    }
    if (!q) return -1;
    *changed = PQntuples(q) == 1;
    *out_id = *changed ? strtoll(PQgetvalue(q, 0, 0), NULL, 10) : id;
    PQclear(q);
    return 0;
}

int stations_by_code(worker *w, const char *code, long long *id) {
    const char *p[] = {code};
    PGresult *q = db_exec(w, "SELECT id FROM stations WHERE code = $1::text", 1, p);
    if (!q) return -1;
    int found = PQntuples(q) == 1;
    if (found) *id = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
    PQclear(q);
    return found;
}

int stations_load(worker *w, long long id, station_in *in, PGresult **hold) {
    char sid[24];
    const char *p[] = {admin_id(id, sid)};
    PGresult *q = db_exec(w,
                          "SELECT code, name, tier, division_code, ST_X(location), ST_Y(location),"
                          " address, phone, coalesce(beds, -1), CASE WHEN coverage_own THEN"
                          " encode(ST_AsBinary(coverage), 'hex') END, can_dispatch,"
                          " coalesce(parent_id, 0) FROM stations WHERE id = $1::bigint FOR UPDATE",
                          1, p);
    if (!q) return -1;
    if (PQntuples(q) != 1) {
        PQclear(q);
        return 0;
    }
    *in = (station_in){.code = PQgetvalue(q, 0, 0),
                       .name = PQgetvalue(q, 0, 1),
                       .tier = PQgetvalue(q, 0, 2),
                       .lon = atof(PQgetvalue(q, 0, 4)),
                       .lat = atof(PQgetvalue(q, 0, 5)),
                       .address = admin_val(q, 0, 6),
                       .phone = admin_val(q, 0, 7),
                       .beds = strtoll(PQgetvalue(q, 0, 8), NULL, 10),
                       .coverage = admin_val(q, 0, 9),
                       .can_dispatch = *PQgetvalue(q, 0, 10) == 't',
                       .parent_id = strtoll(PQgetvalue(q, 0, 11), NULL, 10)};
    snprintf(in->division, sizeof in->division, "%s", PQgetvalue(q, 0, 3));
    *hold = q;
    return 1;
}

/* ---- the API ---- */

/* A station's columns; its own coverage as GeoJSON when G (SQL: a boolean) is true. */
#define STATION_COLUMNS(G)                                                                         \
    "SELECT s.id, s.code, s.name, s.tier, s.division_code, d.name, ST_X(s.location),"              \
    " ST_Y(s.location), s.address, s.phone, s.beds, CASE WHEN s.coverage_own AND " G " THEN"       \
    " ST_AsGeoJSON(s.coverage, 9) END, s.can_dispatch, s.parent_id, to_json(s.updated_at)#>>'{}'," \
    " s.coverage_own FROM stations s LEFT JOIN divisions d ON d.code = s.division_code"
#define STATION_SQL STATION_COLUMNS("true")

/* Row i of STATION_SQL as the API shows it, in crs. */
static json_t *station_row_json(PGresult *q, int i, gis_crs crs) {
    double x = atof(PQgetvalue(q, i, 6)), y = atof(PQgetvalue(q, i, 7)), ox = x, oy = y;
    gis_from_wgs84(crs, x, y, &ox, &oy);
    json_t *cov = admin_json(q, i, 11);
    places_geometry_to_crs(cov, crs);
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:{s:f,s:f,s:s},s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                     "id", admin_int(q, i, 0), "code", admin_str(q, i, 1), "name",
                     admin_str(q, i, 2), "tier", admin_str(q, i, 3), "division_code",
                     admin_str(q, i, 4), "division_name", admin_str(q, i, 5), "location", "lon",
                     round(ox * 1e7) / 1e7, "lat", round(oy * 1e7) / 1e7, "crs", gis_crs_name(crs),
                     "address", admin_str(q, i, 8), "phone", admin_str(q, i, 9), "beds",
                     admin_int(q, i, 10), "coverage", cov, "can_dispatch", admin_bool(q, i, 12),
                     "parent_id", admin_int(q, i, 13), "updated_at", admin_str(q, i, 14),
                     "coverage_own", admin_bool(q, i, 15));
}

int stations_json(worker *w, long long id, gis_crs crs, json_t **out) {
    char sid[24];
    const char *p[] = {admin_id(id, sid)};
    PGresult *q = db_exec(w, STATION_SQL " WHERE s.id = $1::bigint", 1, p);
    if (!q) return -1;
    int found = PQntuples(q) == 1;
    if (found) *out = station_row_json(q, 0, crs);
    PQclear(q);
    return found;
}

/* GET /api/v1/stations?division=&tier=&geometry=&limit=&cursor=&crs= : stations in the user's
 * division; their own coverage polygons only with geometry=geojson (a page stays small). */
int h_stations_list(http_req *r) {
    char like[16], after[24], lim[16];
    int limit = (int)http_q(r, "limit")->i;
    gis_crs crs = http_q(r, "crs")->crs;
    admin_scope_like(r, like);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {like, http_q(r, "tier")->s, admin_id(http_q(r, "cursor")->i, after), lim,
                       http_q(r, "geometry")->given ? "true" : "false"};
    PGresult *q = db_exec(r->w,
                          STATION_COLUMNS("$5::boolean") " WHERE s.division_code LIKE $1::text AND"
                                                         " ($2::text[] IS NULL OR s.tier = ANY"
                                                         " ($2::text[])) AND s.id > $3::bigint"
                                                         " ORDER BY s.id LIMIT $4::int",
                          5, p);
    if (!q) return http_db_error(r);
    int n = PQntuples(q), more = n > limit;
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(items, station_row_json(q, i, crs));
    json_t *next = admin_next(q, limit - 1, more, "s1");
    PQclear(q);
    return http_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next));
}

/* GET /api/v1/stations/{id} */
int h_stations_get(http_req *r) {
    long long id;
    json_t *o = NULL;
    int rc = param_path_id(r, 0, "station", &id);
    if (rc) return rc;
    int found = stations_json(r->w, id, http_q(r, "crs")->crs, &o);
    if (found < 0) return http_db_error(r);
    if (!found ||
        !admin_in_scope(&r->user, json_string_value(json_object_get(o, "division_code")))) {
        json_decref(o);
        return http_error(r, 404, "not_found", NULL, "no such station: %lld", id);
    }
    return http_json(r, 200, o);
}

int stations_apply_json(json_t *b, gis_crs crs, station_in *in, char **cov, station_error *e) {
    json_t *loc = json_object_get(b, "location"), *v;
    const char *s;
    char err[200];
    if ((s = json_string_value(json_object_get(b, "code")))) in->code = s;
    if ((s = json_string_value(json_object_get(b, "name")))) in->name = s;
    if ((s = json_string_value(json_object_get(b, "tier")))) in->tier = s;
    if (vocab_code12(json_string_value(json_object_get(b, "division_code")), 4, in->division) ==
            0 &&
        !json_object_get(b, "tier"))
        in->tier = NULL; /* a new division brings its level */
    if ((v = json_object_get(b, "address"))) in->address = json_string_value(v);
    if ((v = json_object_get(b, "phone"))) in->phone = json_string_value(v);
    if ((v = json_object_get(b, "beds")))
        in->beds = json_is_integer(v) ? json_integer_value(v) : -1;
    if (json_is_boolean(v = json_object_get(b, "can_dispatch"))) in->can_dispatch = json_is_true(v);
    if ((v = json_object_get(b, "parent_id"))) in->parent_id = json_integer_value(v); /* null: 0 */
    if (loc &&
        gis_to_wgs84(shape_crs(loc, "crs"), json_number_value(json_object_get(loc, "lon")),
                     json_number_value(json_object_get(loc, "lat")), &in->lon, &in->lat) != 0)
        return refuse(e, 400, "invalid_location", "location",
                      "the location cannot be converted to WGS-84%s%s", "", "");
    if (!(v = json_object_get(b, "coverage"))) return 0;
    in->coverage = NULL; /* null: its division */
    if (json_is_null(v)) return 0;
    char *text = json_dumps(v, JSON_COMPACT);
    int bad = !text || gis_polygon_read(text, crs, cov, NULL, err, sizeof err) != 0;
    free(text);
    if (bad) return refuse(e, 400, "invalid_geometry", "coverage", "coverage: %s%s", err, "");
    in->coverage = *cov;
    return 0;
}

/* The body's fields over *in, as stations_apply_json; a refusal answered (400). 0 or the status. */
static int station_body(http_req *r, station_in *in, char **cov) {
    station_error e;
    if (stations_apply_json(r->json, http_q(r, "crs")->crs, in, cov, &e) == 0) return 0;
    return http_error(r, e.status, e.code, e.field, "%s", e.message);
}

/* What r's user may not touch: a division outside its own (the station's, old and new) or an
 * explicit parent outside it. 0, -1 or the 404 sent. */
static int station_scope(http_req *r, const station_in *in) {
    char pid[24];
    if (!admin_in_scope(&r->user, in->division))
        return http_error(r, 404, "not_found", "division_code", "no division %s in your scope",
                          in->division);
    if (in->parent_id <= 0 || !json_object_get(r->json, "parent_id")) return 0;
    const char *p[] = {admin_id(in->parent_id, pid)};
    PGresult *q = db_exec(r->w, "SELECT division_code FROM stations WHERE id = $1::bigint", 1, p);
    if (!q) return -1;
    int ok = PQntuples(q) == 1 && admin_in_scope(&r->user, PQgetvalue(q, 0, 0));
    PQclear(q);
    return ok ? 0 : http_error(r, 404, "not_found", "parent_id", "no station %s", pid);
}

/* Saves in as station id (0: new), audits it, commits and answers with it; or ends the open
 * transaction with the refusal or the database error. Returns the status sent. */
static int station_write(http_req *r, long long id, const station_in *in, json_t *before) {
    station_error e;
    long long sid;
    int changed, rc;
    json_t *after = NULL, *reply = NULL;
    if ((rc = station_scope(r, in))) return admin_end(r, rc);
    if ((rc = stations_save(r->w, id, in, &sid, &changed, &e)) > 0)
        return admin_end(r, http_error(r, e.status, e.code, e.field, "%s", e.message));
    if (rc < 0 || stations_json(r->w, sid, GIS_CRS_WGS84, &after) != 1 ||
        stations_json(r->w, sid, http_q(r, "crs")->crs, &reply) != 1 ||
        (changed && admin_audit(r, id ? AA_STATION_UPDATE : AA_STATION_CREATE, AE_STATION, sid,
                                in->division, before, after) != 0)) {
        json_decref(after);
        json_decref(reply);
        return admin_end(r, -1);
    }
    json_decref(after);
    return admin_commit_reply(r, id ? 200 : 201, reply);
}

/* POST /api/v1/stations (supervisor in its division, admin) */
int h_stations_create(http_req *r) {
    station_in in = {.beds = -1, .can_dispatch = 1, .parent_id = -1};
    char *cov = NULL;
    int rc = station_body(r, &in, &cov);
    if (!rc) rc = db_begin(r->w) != 0 ? admin_end(r, -1) : station_write(r, 0, &in, NULL);
    free(cov);
    return rc;
}

/* PATCH /api/v1/stations/{id}: the fields sent change; coverage null follows the division. */
int h_stations_patch(http_req *r) {
    long long id;
    station_in in;
    PGresult *hold = NULL;
    json_t *before = NULL;
    char *cov = NULL;
    int rc = param_path_id(r, 0, "station", &id);
    if (rc) return rc;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    int found = stations_load(r->w, id, &in, &hold);
    if (found < 0 || (found && stations_json(r->w, id, GIS_CRS_WGS84, &before) < 0))
        rc = admin_end(r, -1);
    else if (!found || !admin_in_scope(&r->user, in.division))
        rc = admin_end(r, http_error(r, 404, "not_found", NULL, "no such station: %lld", id));
    else if ((rc = station_body(r, &in, &cov)) != 0)
        rc = admin_end(r, rc);
    else
        rc = station_write(r, id, &in, before);
    json_decref(before);
    PQclear(hold);
    free(cov);
    return rc;
}
