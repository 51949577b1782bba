/* units_admin.c - units as the administration enters them: POST /api/v1/units and PATCH
 * /api/v1/units/{id} (station, agency, call sign, vehicle, members) and PUT
 * /api/v1/units/{id}/members. A user is in at most one unit at a time (users.unit_id); migration
 * 0014's trigger keeps the membership history from it. Every change appends a unit.* event with
 * the whole unit (units.h UNIT_PAYLOAD) and an audit row with the unit before and after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/admin/admin.h"
#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/events_append.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/units/units.h"

/* "{1,2,3}" of the ids of a checked SHAPE_IDS array. */
static void ids_literal(json_t *arr, buf *b) {
    size_t i;
    json_t *v;
    buf_put(b, "{", 1);
    json_array_foreach(arr, i, v)
        buf_printf(b, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
    buf_put(b, "}", 1);
}

/* Why user row i of a members query may not join a unit of division `div` (0: it may; else the
 * status sent), its requested position k naming the field. Columns: id, username, role,
 * division_code, unit_id, unit name. */
static int member_refused(http_req *r, PGresult *q, int i, size_t k, long long unit,
                          const char *div) {
    char field[32];
    snprintf(field, sizeof field, "members[%zu]", k);
    const char *name = PQgetvalue(q, i, 1), *role = PQgetvalue(q, i, 2);
    const char *other = admin_val(q, i, 4);
    if (!admin_in_scope(&r->user, PQgetvalue(q, i, 3)) && !admin_nested(PQgetvalue(q, i, 3), div))
        return http_error(r, 404, "not_found", field, "no such user: %s", PQgetvalue(q, i, 0));
    if (!(auth_role_parse(role) & ROLE_FIELD))
        return http_error(r, 400, "invalid_field", field,
                          "%s is a %s: units are made of patrol and community users", name, role);
    if (!admin_nested(PQgetvalue(q, i, 3), div))
        return http_error(r, 409, "member_other_division", field,
                          "%s belongs to division %s, the unit to %s", name, PQgetvalue(q, i, 3),
                          div);
    if (other && strtoll(other, NULL, 10) != unit)
        return admin_member_in_unit(r, field, name, other, PQgetvalue(q, i, 5));
    return 0;
}

/* Makes `members` (a checked id array) the members of unit `unit` of division `div`: each must be
 * a patrol or community user of the unit's county (another county's, out of r's user's sight:
 * 404; in sight: 409) and in no other unit (409 with that unit). Users no longer listed leave the
 * unit. Appends the unit.updated event. In the open transaction: 0, -1 or the status sent. */
static int set_members(http_req *r, long long unit, const char *div, json_t *members) {
    buf ids = {0};
    char uid[24];
    int rc = 0;
    ids_literal(members, &ids);
    if (ids.oom) return -1;
    const char *p[] = {admin_id(unit, uid), ids.p};
    PGresult *q = db_exec(r->w,
                          "SELECT u.id, u.username, u.role, u.division_code, u.unit_id, n.name"
                          " FROM users u LEFT JOIN units n ON n.id = u.unit_id"
                          " WHERE u.id = ANY ($1::bigint[]) FOR UPDATE OF u",
                          1, p + 1);
    for (size_t k = 0; q && !rc && k < json_array_size(members); k++) {
        long long want = json_integer_value(json_array_get(members, k));
        int found = -1;
        for (int i = 0; i < PQntuples(q) && found < 0; i++)
            if (strtoll(PQgetvalue(q, i, 0), NULL, 10) == want) found = i;
        if (found < 0)
            rc = http_error(r, 404, "not_found", "members", "no such user: %lld", want);
        else
            rc = member_refused(r, q, found, k, unit, div);
    }
    PQclear(q);
    PGresult *e =
        !q || rc
            ? NULL
            : db_exec(r->w,
                      "WITH gone AS (UPDATE users SET unit_id = NULL WHERE unit_id = $1::bigint"
                      " AND NOT (id = ANY ($2::bigint[])) RETURNING 1),"
                      " came AS (UPDATE users SET unit_id = $1::bigint WHERE id = ANY"
                      " ($2::bigint[]) AND unit_id IS DISTINCT FROM $1::bigint RETURNING 1),"
                      " e AS (" EVENTS_UNIT_INSERT(
                          EK_UNIT_UPDATED, "u",
                          "'members'") " FROM units u WHERE u.id = $1::bigint"
                                       " AND (EXISTS (SELECT 1 FROM gone) OR EXISTS"
                                       " (SELECT 1 FROM came)) RETURNING id, payload::text)"
                                       " SELECT id, payload FROM e",
                      2, p);
    buf_free(&ids);
    if (!q || (!rc && !e)) return -1;
    if (e) units_mem_apply_rows(e, 0);
    PQclear(e);
    return rc;
}

/* The station of the body (station_id, or `current` when absent): in r's user's scope, its
 * division into div. 0, -1 or the 422 sent (as for POST /units: unknown_station). */
static int unit_station(http_req *r, long long current, long long *station, char div[13]) {
    char sid[24];
    json_t *v = json_object_get(r->json, "station_id");
    *station = v ? json_integer_value(v) : current;
    const char *p[] = {admin_id(*station, sid)};
    PGresult *q = db_exec(r->w, "SELECT division_code FROM stations WHERE id = $1::bigint", 1, p);
    if (!q) return -1;
    int ok = PQntuples(q) == 1 && admin_in_scope(&r->user, PQgetvalue(q, 0, 0));
    if (ok) snprintf(div, 13, "%s", PQgetvalue(q, 0, 0));
    PQclear(q);
    return ok ? 0 : http_error(r, 422, "unknown_station", "station_id", "no such station: %s", sid);
}

/* The agency of the body, when it names one: in r's user's scope and of the unit's county. */
static int unit_agency(http_req *r, const char *div) {
    char aid[24];
    if (admin_field(r, "agency_id") != 2) return 0;
    const char *p[] = {admin_id(json_integer_value(json_object_get(r->json, "agency_id")), aid)};
    PGresult *q =
        db_exec(r->w, "SELECT division_code, name FROM agencies WHERE id = $1::bigint", 1, p);
    if (!q) return -1;
    int rc = PQntuples(q) != 1 || !admin_in_scope(&r->user, PQgetvalue(q, 0, 0))
                 ? http_error(r, 404, "not_found", "agency_id", "no such agency: %s", aid)
             : !admin_nested(PQgetvalue(q, 0, 0), div)
                 ? http_error(r, 409, "agency_other_division", "agency_id",
                              "%s belongs to division %s, the unit to %s", PQgetvalue(q, 0, 1),
                              PQgetvalue(q, 0, 0), div)
                 : 0;
    PQclear(q);
    return rc;
}

/* Writes the unit's own columns: a new unit (id 0) or the fields the body sends (null clears
 * callsign, agency and vehicle), with its unit.created / unit.updated event. *out: its id.
 * 0, -1 or the 409 sent (callsign taken). */
static int unit_row(http_req *r, long long id, long long station, long long *out) {
    json_t *b = r->json;
    char sid[24], st[24], set[8];
    snprintf(set, sizeof set, "%d%d%d", admin_field(r, "callsign"), admin_field(r, "agency_id"),
             admin_field(r, "vehicle"));
    char agency[24] = "";
    if (admin_field(r, "agency_id") == 2)
        admin_id(json_integer_value(json_object_get(b, "agency_id")), agency);
    const char *p[] = {admin_id(id, sid),
                       json_string_value(json_object_get(b, "name")),
                       json_string_value(json_object_get(b, "callsign")),
                       admin_id(station, st),
                       *agency ? agency : NULL,
                       json_string_value(json_object_get(b, "vehicle")),
                       set};
    PGresult *q = db_exec(
        r->w,
        "WITH n AS (INSERT INTO units (name, callsign, station_id, division_code, agency_id,"
        " vehicle) SELECT $2::text, $3::text, s.id, s.division_code, $5::bigint, $6::text FROM"
        " stations s WHERE s.id = $4::bigint AND $1::bigint = 0 RETURNING *),"
        " c AS (UPDATE units u SET name = coalesce($2::text, u.name), callsign = CASE"
        " substr($7::text, 1, 1) WHEN '0' THEN u.callsign ELSE $3::text END, station_id = s.id,"
        " division_code = s.division_code, agency_id = CASE substr($7::text, 2, 1) WHEN '0' THEN"
        " u.agency_id ELSE $5::bigint END, vehicle = CASE substr($7::text, 3, 1) WHEN '0' THEN"
        " u.vehicle ELSE $6::text END, updated_at = now() FROM stations s WHERE u.id = $1::bigint"
        " AND s.id = $4::bigint RETURNING u.*),"
        " en AS (" EVENTS_UNIT_INSERT(
            EK_UNIT_CREATED, "n",
            VOCAB_SQL_TERM(
                "TimelineType",
                TL_CREATED)) " FROM n RETURNING entity_id, id, payload::text),"
                             " ec AS (" EVENTS_UNIT_INSERT(
                                 EK_UNIT_UPDATED, "c",
                                 "'changed'") " FROM c RETURNING entity_id, id, payload::text) SELECT * FROM en UNION ALL SELECT * FROM ec",
        7, p);
    if (!q)
        return db_failed_with(r->w, "23505")
                   ? http_error(r, 409, "callsign_taken", "callsign", "callsign already in use")
                   : -1;
    *out = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
    units_mem_apply_rows(q, 1);
    PQclear(q);
    return 0;
}

/* The write of a unit (id 0: new) in the open transaction: station, agency, the row, members,
 * audit; then commit and answer. Returns the status sent (ending the transaction). */
static int unit_write(http_req *r, long long id, long long station0, json_t *before) {
    long long station, uid = id;
    char div[13];
    json_t *after = NULL, *members = json_object_get(r->json, "members");
    int rc;
    if ((rc = unit_station(r, station0, &station, div)) || (rc = unit_agency(r, div)) ||
        (rc = unit_row(r, id, station, &uid)) ||
        (members && (rc = set_members(r, uid, div, members))))
        return admin_end(r, rc);
    int got = units_json(r->w, uid, GIS_CRS_WGS84, &after);
    return admin_audited_reply(r, id ? 200 : 201, id ? AA_UNIT_UPDATE : AA_UNIT_CREATE, AE_UNIT,
                               uid, div, before, got, after);
}

/* Locks unit params[0] in the open transaction when r's user may administer it: 0 with *id,
 * *station and *before (the unit now), or the status sent (404), or -1. */
static int unit_lock(http_req *r, long long *id, long long *station, json_t **before) {
    char sid[24];
    int rc = param_path_id(r, 0, "unit", id);
    if (rc) return rc;
    const char *p[] = {admin_id(*id, sid)};
    PGresult *q = db_exec(r->w,
                          "SELECT coalesce(division_code, ''), coalesce(station_id, 0) FROM units"
                          " WHERE id = $1::bigint FOR UPDATE",
                          1, p);
    if (!q) return -1;
    int ok = PQntuples(q) == 1 && admin_in_scope(&r->user, PQgetvalue(q, 0, 0));
    if (ok) *station = strtoll(PQgetvalue(q, 0, 1), NULL, 10);
    PQclear(q);
    if (!ok) return http_error(r, 404, "not_found", NULL, "no such unit: %lld", *id);
    return units_json(r->w, *id, GIS_CRS_WGS84, before) == 1 ? 0 : -1;
}

/* POST /api/v1/units {name, callsign?, station_id, agency_id?, vehicle?, members?} (staff): a unit
 * of a station in scope. */
int h_units_create(http_req *r) {
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    return unit_write(r, 0, 0, NULL);
}

/* PATCH /api/v1/units/{id} {name?, callsign?, station_id?, agency_id?, vehicle?, members?} */
int h_units_patch(http_req *r) {
    long long id, station;
    json_t *before = NULL;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    int rc = unit_lock(r, &id, &station, &before);
    rc = rc ? admin_end(r, rc) : unit_write(r, id, station, before);
    json_decref(before);
    return rc;
}

/* PUT /api/v1/units/{id}/members {"members": [user ids]} */
int h_units_members(http_req *r) {
    long long id, station;
    json_t *before = NULL, *after = NULL;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    int rc = unit_lock(r, &id, &station, &before);
    const char *div = json_string_value(json_object_get(before, "division_code"));
    if (!rc) rc = set_members(r, id, div ? div : "", json_object_get(r->json, "members"));
    if (rc) {
        json_decref(before);
        return admin_end(r, rc);
    }
    int got = units_json(r->w, id, GIS_CRS_WGS84, &after);
    rc = admin_audited_reply(r, 200, AA_UNIT_MEMBERS, AE_UNIT, id, div, before, got, after);
    json_decref(before); /* only now: div points into it */
    return rc;
}
