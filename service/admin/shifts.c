/* shifts.c - the roster: a unit on duty from when to when, with the members on it (shifts and
 * shift_members, migration 0014). POST/GET /api/v1/units/{id}/shifts, PATCH /api/v1/shifts/{id}
 * (ends_at now ends a shift), GET /api/v1/shifts?division=&at= (who is on shift), and the step
 * that moves units on and off duty as shifts start and end (shifts.h). Members are separate from
 * membership: a shift names who of the unit's members is on it; staff turns count them. */
#include "service/admin/shifts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/admin/admin.h"
#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/events_append.h"
#include "service/core/server.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/shapes.h"
#include "service/units/units.h"

enum {
    SHIFT_MAX_S = 7 * 86400, /* the longest shift */
    STEP_INTERVAL_MS = 5000, /* how often the background step looks for due starts and ends */
};

/* ---- the step ---- */

/* Due starts (the shift on now, not applied) make their unit available; due ends (applied once,
 * waiting while the unit is on a case) make it off duty unless another shift holds it now. A
 * shift that never started here (made after its end) moves nothing. */
static const char step_sql[] =
    "WITH st AS (UPDATE shifts SET start_applied = true WHERE NOT start_applied"
    " AND starts_at <= now() AND ends_at > now() RETURNING unit_id),"
    " en AS (UPDATE shifts s SET end_applied = true, start_applied = true FROM (SELECT f.id,"
    " f.start_applied AS was FROM shifts f WHERE NOT f.end_applied AND f.ends_at <= now()"
    " AND NOT EXISTS (SELECT 1 FROM units x WHERE x.id = f.unit_id AND x.status IN (" VOCAB_SQL_ANY(
        "UnitStatus",
        VOCAB_HOLDS_UNIT) ")) FOR UPDATE OF f) o WHERE s.id = o.id"
                          " RETURNING s.unit_id, o.was),"
                          " on_now AS (SELECT unit_id FROM shifts WHERE starts_at <= now() AND ends_at > now()),"
                          " u AS (UPDATE units u SET status = CASE WHEN u.id IN (SELECT unit_id FROM st) THEN " VOCAB_SQL_TERM(
                              "UnitStatus",
                              US_AVAILABLE) ""
                                            " ELSE " VOCAB_SQL_TERM("UnitStatus", US_OFF_DUTY) " END, updated_at = now() WHERE u.status NOT IN (" VOCAB_SQL_ANY(
                                                "UnitStatus",
                                                VOCAB_HOLDS_UNIT) ") AND ((u.id IN (SELECT unit_id FROM st)"
                                                                  " AND u.status <> " VOCAB_SQL_TERM(
                                                                      "UnitStatus",
                                                                      US_AVAILABLE) ") OR (u.id IN (SELECT unit_id FROM en WHERE was)"
                                                                                    " AND u.id NOT IN (SELECT unit_id FROM on_now) AND u.status <> " VOCAB_SQL_TERM(
                                                                                        "UnitStatus",
                                                                                        US_OFF_DUTY) "))"
                                                                                                     " RETURNING u.*) " EVENTS_UNIT_INSERT(
                                                                                                         EK_UNIT_UPDATED,
                                                                                                         "u",
                                                                                                         "CASE u.status WHEN " VOCAB_SQL_TERM(
                                                                                                             "UnitStatus",
                                                                                                             US_AVAILABLE) " THEN 'shift_start'"
                                                                                                                           " ELSE 'shift_end' END") " FROM u RETURNING id, payload::text";

int shifts_step(worker *w) {
    PGresult *q = db_exec(w, step_sql, 0, NULL);
    if (!q) return -1;
    int n = PQntuples(q);
    units_mem_apply_rows(q, 0);
    PQclear(q);
    return n;
}

void *shifts_thread(void *arg) {
    app *a = arg;
    worker w = {.app = a, .no_timeout = 1};
    while (!server_sleep(a, STEP_INTERVAL_MS)) {
        if (db_ensure(&w) != 0) continue;
        if (shifts_step(&w) < 0) fprintf(stderr, "shifts: %s\n", w.err);
    }
    db_disconnect(&w);
    return NULL;
}

/* ---- the API ---- */

#define SHIFT_SQL                                                                                  \
    "SELECT s.id, s.unit_id, u.name, u.callsign, u.division_code, to_json(s.starts_at)#>>'{}',"    \
    " to_json(s.ends_at)#>>'{}', s.note, s.starts_at <= now() AND s.ends_at > now(),"              \
    " (SELECT coalesce(json_agg(json_build_object('id', m.id, 'username', m.username) ORDER BY"    \
    " m.id), '[]') FROM shift_members sm JOIN users m ON m.id = sm.user_id WHERE sm.shift_id ="    \
    " s.id)::text, s.created_by, to_json(s.created_at)#>>'{}' FROM shifts s JOIN units u ON u.id"  \
    " = s.unit_id"

static json_t *shift_row_json(PGresult *q, int i) {
    return json_pack("{s:o,s:o,s:{s:o,s:o,s:o},s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
                     admin_int(q, i, 0), "unit_id", admin_int(q, i, 1), "unit", "id",
                     admin_int(q, i, 1), "name", admin_str(q, i, 2), "callsign", admin_str(q, i, 3),
                     "division_code", admin_str(q, i, 4), "starts_at", admin_str(q, i, 5),
                     "ends_at", admin_str(q, i, 6), "note", admin_str(q, i, 7), "on_now",
                     admin_bool(q, i, 8), "members", admin_json(q, i, 9), "created_by",
                     admin_int(q, i, 10), "created_at", admin_str(q, i, 11));
}

/* Shift id into *out (locked when lock): 1, 0, -1. */
static int shift_json(worker *w, long long id, int lock, json_t **out) {
    return admin_one(w,
                     lock ? SHIFT_SQL " WHERE s.id = $1::bigint FOR UPDATE OF s"
                          : SHIFT_SQL " WHERE s.id = $1::bigint",
                     id, shift_row_json, out);
}

/* Unit `id` (locked when lock) when r's user may administer it: 0, -1 or the 404 sent; its
 * division into div. */
static int lock_unit(http_req *r, long long id, char div[13], int lock) {
    char sid[24];
    const char *p[] = {admin_id(id, sid)};
    PGresult *q = db_exec(r->w,
                          lock ? "SELECT coalesce(division_code, '') FROM units WHERE id ="
                                 " $1::bigint FOR UPDATE"
                               : "SELECT coalesce(division_code, '') FROM units WHERE id ="
                                 " $1::bigint",
                          1, p);
    if (!q) return -1;
    int ok = PQntuples(q) == 1 && admin_in_scope(&r->user, PQgetvalue(q, 0, 0));
    if (ok) snprintf(div, 13, "%s", PQgetvalue(q, 0, 0));
    PQclear(q);
    return ok ? 0 : http_error(r, 404, "not_found", NULL, "no such unit: %lld", id);
}

/* The shift's period (the body's, or the current one's text): ends after it starts, 7 days at
 * most, no other shift of the unit overlapping. PostgreSQL compares the times (a current one is
 * its own text, and the door has read the body's): no parsing here. 0, -1 or the status sent. */
static int check_period(http_req *r, long long unit, long long self, const char *from,
                        const char *to) {
    char uid[24], sid[24], max[16];
    snprintf(max, sizeof max, "%d", SHIFT_MAX_S);
    const char *p[] = {admin_id(unit, uid), admin_id(self, sid), from, to, max};
    PGresult *q =
        db_exec(r->w,
                "SELECT $4::timestamptz <= $3::timestamptz, $4::timestamptz -"
                " $3::timestamptz > make_interval(secs => $5::int), (SELECT id FROM"
                " shifts WHERE unit_id = $1::bigint AND id <> $2::bigint AND"
                " tstzrange(starts_at, ends_at) && tstzrange($3::timestamptz,"
                " greatest($3::timestamptz, $4::timestamptz)) ORDER BY starts_at LIMIT 1)",
                5, p);
    if (!q) return -1;
    int rc = *PQgetvalue(q, 0, 0) == 't'
                 ? http_error(r, 400, "invalid_field", "ends_at", "ends_at must be after starts_at")
             : *PQgetvalue(q, 0, 1) == 't'
                 ? http_error(r, 400, "invalid_field", "ends_at", "a shift lasts at most %d days",
                              SHIFT_MAX_S / 86400)
             : !PQgetisnull(q, 0, 2)
                 ? http_error(r, 409, "shift_overlap", "starts_at",
                              "the unit has shift %s at that time", PQgetvalue(q, 0, 2))
                 : 0;
    PQclear(q);
    return rc;
}

/* The body's members (a checked id array, may be absent) into ids ("{1,2}"; absent: NULL): each
 * must be a member of the unit now. 0, -1 or the 409 sent. */
static int check_members(http_req *r, long long unit, buf *ids) {
    json_t *m = json_object_get(r->json, "members");
    size_t i;
    json_t *v;
    char uid[24];
    if (!m) return 0;
    buf_put(ids, "{", 1);
    json_array_foreach(m, i, v)
        buf_printf(ids, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
    buf_put(ids, "}", 1);
    if (ids->oom) return -1;
    const char *p[] = {admin_id(unit, uid), ids->p};
    PGresult *q = db_exec(r->w,
                          "SELECT x.ord - 1 FROM unnest($2::bigint[]) WITH ORDINALITY x (id, ord)"
                          " WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.id AND u.unit_id"
                          " = $1::bigint) ORDER BY x.ord LIMIT 1",
                          2, p);
    if (!q) return -1;
    char field[32];
    int rc = 0;
    if (PQntuples(q)) {
        snprintf(field, sizeof field, "members[%s]", PQgetvalue(q, 0, 0));
        rc = http_error(r, 409, "not_a_member", field, "user %lld is not a member of unit %lld",
                        (long long)json_integer_value(json_array_get(m, atoi(PQgetvalue(q, 0, 0)))),
                        unit);
    }
    PQclear(q);
    return rc;
}

/* After the write of shift id: the due starts and ends applied, the audit, commit, the answer. */
static int shift_done(http_req *r, long long id, const char *div, json_t *before, int status) {
    json_t *after = NULL;
    int got = shifts_step(r->w) < 0 ? -1 : shift_json(r->w, id, 0, &after);
    return admin_audited_reply(r, status, before ? AA_SHIFT_UPDATE : AA_SHIFT_CREATE, AE_SHIFT, id,
                               div, before, got, after);
}

/* POST /api/v1/units/{id}/shifts {starts_at, ends_at, members?, note?} (staff in scope). */
int h_shifts_create(http_req *r) {
    long long unit;
    char div[13], uid[24], by[24];
    buf ids = {0};
    json_t *b = r->json;
    const char *from = json_string_value(json_object_get(b, "starts_at"));
    const char *to = json_string_value(json_object_get(b, "ends_at"));
    int rc = param_path_id(r, 0, "unit", &unit);
    if (rc) return rc;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    if ((rc = lock_unit(r, unit, div, 1)) || (rc = check_period(r, unit, 0, from, to)) ||
        (rc = check_members(r, unit, &ids))) {
        buf_free(&ids);
        return admin_end(r, rc);
    }
    const char *p[] = {
        admin_id(unit, uid),      from, to, json_string_value(json_object_get(b, "note")),
        admin_id(r->user.id, by), ids.p};
    PGresult *q = db_exec(r->w,
                          "WITH s AS (INSERT INTO shifts (unit_id, starts_at, ends_at, note,"
                          " created_by) VALUES ($1::bigint, $2::timestamptz, $3::timestamptz,"
                          " $4::text, $5::bigint) RETURNING id), m AS (INSERT INTO shift_members"
                          " (shift_id, user_id) SELECT s.id, u.id FROM s, users u WHERE u.unit_id"
                          " = $1::bigint AND ($6::bigint[] IS NULL OR u.id = ANY ($6::bigint[])))"
                          " SELECT id FROM s",
                          6, p);
    buf_free(&ids);
    if (!q) return admin_end(r, -1);
    long long id = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
    PQclear(q);
    return shift_done(r, id, div, NULL, 201);
}

/* Writes the body over shift id (locked, `cur` its current state): times (an applied start or end
 * applies again when the period moves over now), note, members. 0, -1 or the status sent. */
static int shift_change(http_req *r, long long id, json_t *cur) {
    json_t *b = r->json;
    long long unit = json_integer_value(json_object_get(cur, "unit_id"));
    const char *from = json_string_value(json_object_get(b, "starts_at"));
    const char *to = json_string_value(json_object_get(b, "ends_at"));
    char sid[24];
    buf ids = {0};
    if (!from) from = json_string_value(json_object_get(cur, "starts_at"));
    if (!to) to = json_string_value(json_object_get(cur, "ends_at"));
    int rc = check_period(r, unit, id, from, to);
    if (!rc) rc = check_members(r, unit, &ids);
    const char *p[] = {admin_id(id, sid), from, to, admin_field(r, "note") ? "t" : "f",
                       json_string_value(json_object_get(b, "note"))};
    if (!rc &&
        (db_command(r->w,
                    "UPDATE shifts SET starts_at = $2::timestamptz, ends_at = $3::timestamptz,"
                    " note = CASE WHEN $4::boolean THEN $5::text ELSE note END, end_applied ="
                    " end_applied AND $3::timestamptz <= now(), start_applied = start_applied"
                    " AND $2::timestamptz <= now() AND NOT (end_applied AND $3::timestamptz"
                    " > now()) WHERE id = $1::bigint",
                    5, p) != 0 ||
         (ids.p &&
          (db_command(r->w, "DELETE FROM shift_members WHERE shift_id = $1::bigint", 1, p) != 0 ||
           db_command(r->w,
                      "INSERT INTO shift_members (shift_id, user_id) SELECT"
                      " $1::bigint, unnest($2::bigint[])",
                      2, (const char *[]){sid, ids.p}) != 0))))
        rc = -1;
    buf_free(&ids);
    return rc;
}

/* PATCH /api/v1/shifts/{id} {starts_at?, ends_at?, members?, note?}: ends_at now ends it. */
int h_shifts_patch(http_req *r) {
    long long id;
    json_t *before = NULL;
    char div[13];
    int rc = param_path_id(r, 0, "shift", &id);
    if (rc) return rc;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    int found = shift_json(r->w, id, 1, &before);
    const char *d = json_string_value(json_object_get(before, "division_code"));
    if (found < 0)
        rc = admin_end(r, -1);
    else if (!found || !admin_in_scope(&r->user, d))
        rc = admin_end(r, http_error(r, 404, "not_found", NULL, "no such shift: %lld", id));
    else if (snprintf(div, sizeof div, "%s", d) && (rc = shift_change(r, id, before)) != 0)
        rc = admin_end(r, rc);
    else
        rc = shift_done(r, id, div, before, 200);
    json_decref(before);
    return rc;
}

/* GET /api/v1/units/{id}/shifts?from=&to=&limit=&cursor= : the unit's roster by start. */
int h_shifts_of_unit(http_req *r) {
    long long unit;
    char div[13], uid[24], after[24], lim[16];
    int limit = (int)http_q(r, "limit")->i;
    int rc = param_path_id(r, 0, "unit", &unit);
    if (rc) return rc;
    if ((rc = lock_unit(r, unit, div, 0))) return rc < 0 ? http_db_error(r) : rc;
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {admin_id(unit, uid), http_q(r, "from")->s, http_q(r, "to")->s,
                       admin_id(http_q(r, "cursor")->i, after), lim};
    PGresult *q = db_exec(
        r->w,
        SHIFT_SQL " WHERE s.unit_id = $1::bigint AND s.ends_at > coalesce($2::timestamptz, now()"
                  " - interval '7 days') AND ($3::timestamptz IS NULL OR s.starts_at <"
                  " $3::timestamptz) AND ($4::bigint = 0 OR (s.starts_at, s.id) > (SELECT"
                  " starts_at, id FROM shifts WHERE id = $4::bigint)) ORDER BY s.starts_at, s.id"
                  " LIMIT $5::int",
        5, p);
    return q ? admin_page(r, q, limit, "f1", shift_row_json) : http_db_error(r);
}

/* GET /api/v1/shifts?division=&at=&limit=&cursor= : who is on shift at a time (default now). */
int h_shifts_on(http_req *r) {
    char like[16], after[24], lim[16];
    int limit = (int)http_q(r, "limit")->i;
    admin_scope_like(r, like);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {like, http_q(r, "at")->s, admin_id(http_q(r, "cursor")->i, after), lim};
    PGresult *q = db_exec(r->w,
                          SHIFT_SQL " WHERE u.division_code LIKE $1::text AND s.starts_at <="
                                    " coalesce($2::timestamptz, now()) AND s.ends_at >"
                                    " coalesce($2::timestamptz, now()) AND s.id > $3::bigint"
                                    " ORDER BY s.id LIMIT $4::int",
                          4, p);
    return q ? admin_page(r, q, limit, "f1", shift_row_json) : http_db_error(r);
}
