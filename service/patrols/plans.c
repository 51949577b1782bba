/* plans.c - joint patrol plans (issue 18; tables of migration 0018): which units, of any agencies,
 * walk together where and when. POST/GET/PATCH /api/v1/patrol-plans, GET /api/v1/patrol-plans/{id}.
 * A plan belongs to a division; staff act inside their own division only (anything outside, a
 * plan, a unit, a target's division, looks missing: 404). The door has checked the body's form
 * (SHAPE_PATROL_PLAN, shapes.c); this file checks what needs the data or several fields at once,
 * then writes in one transaction with its audit row. Targets are normalised here (a point into
 * WGS84, a time of day into minutes) and made into areas by patrol_target_geom (SQL, 0018). */
#include "service/patrols/plans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/coords.h"
#include "service/admin/admin.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/shapes.h"

enum { NIGHT_FROM = 20 * 60, NIGHT_TO = 6 * 60 }; /* TP_NIGHT: 20:00-06:00 */

/* THE plan as the API shows it (one JSON text column; p a patrol_plans row). */
#define PLAN_SQL                                                                                   \
    "SELECT p.id, json_build_object('id', p.id, 'name', p.name, 'division_code', p.division_code," \
    " 'campaign_id', p.campaign_id, 'unit_ids', (SELECT coalesce(json_agg(pu.unit_id ORDER BY"     \
    " pu.unit_id), '[]') FROM patrol_plan_units pu WHERE pu.plan_id = p.id), 'units', (SELECT"     \
    " coalesce(json_agg(json_build_object('id', u.id, 'name', u.name, 'callsign', u.callsign,"     \
    " 'division_code', u.division_code, 'agency_id', u.agency_id, 'agency_kind', a.kind) ORDER BY" \
    " u.id), '[]') FROM patrol_plan_units pu JOIN units u ON u.id = pu.unit_id LEFT JOIN agencies" \
    " a ON a.id = u.agency_id WHERE pu.plan_id = p.id), 'windows', (SELECT"                        \
    " coalesce(json_agg(json_build_object('starts_at', w.starts_at, 'ends_at', w.ends_at) ORDER"   \
    " BY w.starts_at), '[]') FROM patrol_plan_windows w WHERE w.plan_id = p.id), 'weekly', CASE"   \
    " WHEN p.weekly_days IS NOT NULL THEN json_build_object('days', p.weekly_days, 'from',"        \
    " patrol_hhmm(p.weekly_from), 'to', patrol_hhmm(p.weekly_to)) END, 'starts_on', p.starts_on,"  \
    " 'ends_on', p.ends_on, 'revision', p.revision, 'targets', (SELECT"                            \
    " coalesce(json_agg(json_build_object('id', t.id, 'name', t.name, 'division_code',"            \
    " t.division_code, 'center', CASE WHEN t.center IS NOT NULL THEN json_build_object('lon',"     \
    " round(ST_X(t.center)::numeric, 7), 'lat', round(ST_Y(t.center)::numeric, 7)) END,"           \
    " 'radius_m', t.radius_m, 'geometry', ST_AsGeoJSON(t.geom, 7)::json, 'area_m2',"               \
    " round(ST_Area(t.geom::geography)), 'visits_per_week', t.visits_per_week, 'min_dwell_min',"   \
    " t.min_dwell_min, 'time_window', CASE WHEN t.tod_from IS NOT NULL THEN"                       \
    " json_build_object('from', patrol_hhmm(t.tod_from), 'to', patrol_hhmm(t.tod_to)) END,"        \
    " 'agencies', to_json(t.agencies)) ORDER BY t.id), '[]') FROM patrol_targets t WHERE"          \
    " t.plan_id = p.id AND t.retired_at IS NULL), 'created_by', p.created_by, 'created_at',"       \
    " p.created_at, 'updated_at', p.updated_at)::text FROM patrol_plans p"

static json_t *plan_row_json(PGresult *q, int i) {
    return admin_json(q, i, 1);
}

int plans_json(worker *w, long long id, int lock, json_t **out) {
    return admin_one(w,
                     lock ? PLAN_SQL " WHERE p.id = $1::bigint FOR UPDATE OF p"
                          : PLAN_SQL " WHERE p.id = $1::bigint",
                     id, plan_row_json, out);
}

/* Plan id when r's user may see it: 1 with *out, 0 after the 404 sent, -1. */
int plans_visible(http_req *r, long long id, int lock, json_t **out) {
    int found = plans_json(r->w, id, lock, out);
    if (found < 0) return -1;
    if (found &&
        admin_in_scope(&r->user, json_string_value(json_object_get(*out, "division_code"))))
        return 1;
    json_decref(*out);
    *out = NULL;
    http_error(r, 404, "not_found", NULL, "no such patrol plan: %lld", id);
    return 0;
}

/* ---- checking a body ---- */

/* A target's time of day into t ({tod_from, tod_to} minutes; none: nothing). 0 or the 400 sent. */
static int norm_time(http_req *r, json_t *tw, size_t i, json_t *t) {
    char f[64];
    if (!tw || json_is_null(tw)) return 0;
    const char *preset = json_string_value(json_object_get(tw, "preset"));
    int from = shape_timeofday(tw, "from"), to = shape_timeofday(tw, "to");
    snprintf(f, sizeof f, "targets[%zu].time_window", i);
    if (preset && (from >= 0 || to >= 0))
        return http_error(r, 400, "invalid_field", f, "%s: a preset or from and to, not both", f);
    if (preset && vocab_find(&VOCAB_TIME_PRESET, preset) == TP_NIGHT)
        from = NIGHT_FROM, to = NIGHT_TO;
    if (from < 0 || to < 0)
        return http_error(r, 400, "invalid_field", f, "%s: from and to, or a preset", f);
    if (from == to)
        return http_error(r, 400, "invalid_field", f, "%s: from and to are the same time", f);
    json_object_set_new(t, "tod_from", json_integer(from));
    json_object_set_new(t, "tod_to", json_integer(to));
    return 0;
}

/* A target's area into t: exactly one of division_code, polygon (GeoJSON text), point with
 * radius_m (in WGS84). 0 or the 400 sent. */
static int norm_area(http_req *r, json_t *area, size_t i, json_t *t) {
    char f[64];
    json_t *div = json_object_get(area, "division_code"), *poly = json_object_get(area, "polygon");
    json_t *pt = json_object_get(area, "point"), *rad = json_object_get(area, "radius_m");
    snprintf(f, sizeof f, "targets[%zu].area", i);
    if (!!div + !!poly + !!pt != 1)
        return http_error(r, 400, "invalid_field", f,
                          "%s: one of division_code, polygon, or point with radius_m", f);
    if (!pt != !rad) {
        snprintf(f, sizeof f, "targets[%zu].area.radius_m", i);
        return http_error(r, 400, "invalid_field", f, "a point needs radius_m, and only a point");
    }
    if (div) {
        char code[13];
        if (vocab_code12(json_string_value(div), 4, code) != 0) {
            snprintf(f, sizeof f, "targets[%zu].area.division_code", i);
            return http_error(r, 400, "invalid_division", f, "a division of 4 to 12 digits");
        }
        json_object_set_new(t, "division_code", json_string(code));
    } else if (poly) {
        char *s = json_dumps(poly, JSON_COMPACT);
        if (!s) return -1;
        json_object_set_new(t, "polygon", json_string(s));
        free(s);
    } else {
        double lon, lat;
        if (gis_to_wgs84(shape_crs(pt, "crs"), json_number_value(json_object_get(pt, "lon")),
                         json_number_value(json_object_get(pt, "lat")), &lon, &lat) != 0) {
            snprintf(f, sizeof f, "targets[%zu].area.point", i);
            return http_error(r, 400, "invalid_location", f, "the point cannot be converted");
        }
        json_object_set_new(t, "lon", json_real(lon));
        json_object_set_new(t, "lat", json_real(lat));
        json_object_set_new(t, "radius_m", json_real(json_number_value(rad)));
    }
    return 0;
}

/* The body's targets normalised into *out (an array of {i, id?, name?, division_code | polygon |
 * lon lat radius_m, visits, dwell, tod_from?, tod_to?, agencies}). 0, -1 or the 400 sent. */
static int norm_targets(http_req *r, json_t **out) {
    json_t *list = json_object_get(r->json, "targets"), *v;
    size_t i;
    *out = json_array();
    json_array_foreach(list, i, v) {
        json_t *agencies = json_object_get(v, "agencies");
        json_t *t = json_pack(
            "{s:I,s:O,s:O,s:O,s:O,s:o}", "i", (json_int_t)i, "id",
            json_object_get(v, "id") ? json_object_get(v, "id") : json_null(), "name",
            json_object_get(v, "name") ? json_object_get(v, "name") : json_null(), "visits",
            json_object_get(v, "visits_per_week"), "dwell", json_object_get(v, "min_dwell_min"),
            "agencies", agencies ? json_incref(agencies) : json_array()); /* o: t takes it */
        int rc = t ? norm_area(r, json_object_get(v, "area"), i, t) : -1;
        if (!rc) rc = norm_time(r, json_object_get(v, "time_window"), i, t);
        if (t) json_array_append_new(*out, t);
        if (rc) return rc;
    }
    return 0;
}

/* The targets' areas: each readable, valid, not empty, a division in r's scope. 0, -1, status. */
static int check_areas(http_req *r, const char *targets) {
    const char *p[] = {targets};
    PGresult *q = db_exec(r->w,
                          "SELECT (t->>'i')::int, patrol_area_error(t), t->>'division_code' FROM"
                          " jsonb_array_elements($1::jsonb) t ORDER BY (t->>'i')::int",
                          1, p);
    if (!q) return -1;
    int rc = 0;
    char f[64];
    for (int i = 0; !rc && i < PQntuples(q); i++) {
        const char *err = admin_val(q, i, 1), *div = admin_val(q, i, 2);
        if (div && (err || !admin_in_scope(&r->user, div))) {
            snprintf(f, sizeof f, "targets[%s].area.division_code", PQgetvalue(q, i, 0));
            rc = http_error(r, 404, "not_found", f, "no such division with a boundary: %s", div);
        } else if (err) {
            snprintf(f, sizeof f, "targets[%s].area.polygon", PQgetvalue(q, i, 0));
            rc = http_error(r, 400, "invalid_geometry", f, "%s", err);
        }
    }
    PQclear(q);
    return rc;
}

/* The body's unit_ids: each a unit in r's scope. 0, -1 or the 404 sent. */
static int check_units(http_req *r) {
    json_t *ids = json_object_get(r->json, "unit_ids");
    if (!ids) return 0;
    char *s = json_dumps(ids, JSON_COMPACT);
    if (!s) return -1;
    const char *p[] = {s};
    PGresult *q = db_exec(r->w,
                          "SELECT x.ord - 1, coalesce(u.division_code, '') FROM"
                          " jsonb_array_elements_text($1::jsonb) WITH ORDINALITY x (id, ord) LEFT"
                          " JOIN units u ON u.id = x.id::bigint ORDER BY x.ord",
                          1, p);
    free(s);
    if (!q) return -1;
    int rc = 0;
    char f[32];
    for (int i = 0; !rc && i < PQntuples(q); i++)
        if (!admin_in_scope(&r->user, PQgetvalue(q, i, 1))) {
            snprintf(f, sizeof f, "unit_ids[%d]", i);
            rc = http_error(r, 404, "not_found", f, "no such unit: %lld",
                            (long long)json_integer_value(json_array_get(ids, (size_t)i)));
        }
    PQclear(q);
    return rc;
}

/* The plan's own fields (body over `cur`, NULL for a new plan) into `plan`, a JSON object the
 * writer reads: division (in scope), campaign (in scope), windows (each ending after it starts),
 * weekly (minutes), starts_on .. ends_on. 0, -1 or the status sent. */
static int check_plan(http_req *r, json_t *cur, json_t *plan) {
    json_t *b = r->json, *v;
    size_t i;
    char code[13], f[48];
    if (admin_division_field(r, "division_code", code) == 0) {
        if (!admin_in_scope(&r->user, code))
            return http_error(r, 404, "not_found", "division_code", "no such division: %s", code);
        json_object_set_new(plan, "division_code", json_string(code));
    } else if (json_object_get(b, "division_code")) {
        return http_error(r, 400, "invalid_division", "division_code",
                          "a division of 4 to 12 digits");
    }
    json_array_foreach(json_object_get(b, "windows"), i, v) {
        snprintf(f, sizeof f, "windows[%zu].ends_at", i);
        if (shape_time(v, "ends_at") <= shape_time(v, "starts_at"))
            return http_error(r, 400, "invalid_field", f, "%s must be after starts_at", f);
    }
    json_t *wk = json_object_get(b, "weekly");
    if (json_is_object(wk)) {
        if (shape_timeofday(wk, "from") == shape_timeofday(wk, "to"))
            return http_error(r, 400, "invalid_field", "weekly.to", "weekly.to equals weekly.from");
        json_object_set_new(plan, "weekly_from", json_integer(shape_timeofday(wk, "from")));
        json_object_set_new(plan, "weekly_to", json_integer(shape_timeofday(wk, "to")));
    }
    json_t *ws = json_object_get(b, "windows");
    if (!ws && cur) ws = json_object_get(cur, "windows");
    if (!json_object_get(b, "weekly") && cur) wk = json_object_get(cur, "weekly");
    if (json_array_size(ws) == 0 && !json_is_object(wk))
        return http_error(r, 400, "invalid_field", "windows", "windows or weekly: when to walk");
    const char *on = json_string_value(json_object_get(b, "starts_on"));
    const char *end = json_string_value(json_object_get(b, "ends_on"));
    if (!on && cur) on = json_string_value(json_object_get(cur, "starts_on"));
    if (!end && admin_field(r, "ends_on") == 0 && cur)
        end = json_string_value(json_object_get(cur, "ends_on"));
    if (on && end && strcmp(end, on) < 0)
        return http_error(r, 400, "invalid_field", "ends_on", "ends_on is before starts_on");
    return 0;
}

/* A campaign the body names: in r's scope. 0, -1 or the 404 sent. */
static int check_campaign(http_req *r) {
    json_t *c = json_object_get(r->json, "campaign_id");
    if (!json_is_integer(c)) return 0;
    char id[24];
    const char *p[] = {admin_id(json_integer_value(c), id)};
    PGresult *q = db_exec(r->w, "SELECT division_code FROM campaigns WHERE id = $1::bigint", 1, p);
    if (!q) return -1;
    int ok = PQntuples(q) == 1 && admin_in_scope(&r->user, PQgetvalue(q, 0, 0));
    PQclear(q);
    return ok ? 0 : http_error(r, 404, "not_found", "campaign_id", "no such campaign: %s", id);
}

/* ---- writing ---- */

/* Writes the body over plan id (0: a new one; its id into *id): the plan's row, its windows and
 * units when sent, its targets when sent (those with an id kept and changed, the others of the
 * plan retired, new ones made). `plan` holds the checked fields, `targets` the normalised ones.
 * 0, -1, or the 404 sent (a target id not of the plan). */
static int write_plan(http_req *r, long long *id, json_t *plan, const char *targets) {
    char sid[24], by[24];
    char *body = json_dumps(r->json, JSON_COMPACT), *pl = json_dumps(plan, JSON_COMPACT);
    const char *p[] = {admin_id(*id, sid), body, pl, targets, admin_id(r->user.id, by)};
    PGresult *q =
        body && pl
            ? db_exec(
                  r->w,
                  "SELECT patrol_plan_write($1::bigint, $2::jsonb, $3::jsonb, $4::jsonb, $5::bigint)",
                  5, p)
            : NULL;
    free(body);
    free(pl);
    if (!q) return -1;
    long long got = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
    PQclear(q);
    if (got < 0) {
        char f[32];
        snprintf(f, sizeof f, "targets[%lld].id", -got - 1);
        return http_error(r, 404, "not_found", f, "no such target of the plan");
    }
    *id = got;
    return 0;
}

/* Checks the body (over `cur`, NULL for a creation) and writes plan *id. 0, -1 or the status. */
static int plan_change(http_req *r, json_t *cur, long long *id) {
    json_t *plan = json_object(), *targets = NULL;
    int rc = plan ? check_plan(r, cur, plan) : -1;
    if (!rc) rc = check_units(r);
    if (!rc) rc = check_campaign(r);
    if (!rc && json_object_get(r->json, "targets")) rc = norm_targets(r, &targets);
    char *ts = !rc && targets ? json_dumps(targets, JSON_COMPACT) : NULL;
    if (!rc && targets && !ts) rc = -1;
    if (!rc && ts) rc = check_areas(r, ts);
    if (!rc) rc = write_plan(r, id, plan, ts);
    free(ts);
    json_decref(targets);
    json_decref(plan);
    return rc;
}

/* After the write of plan id: the audit, commit, the answer. */
static int plan_done(http_req *r, long long id, json_t *before, int status) {
    json_t *after = NULL;
    int got = plans_json(r->w, id, 0, &after);
    return admin_audited_reply(r, status, before ? AA_PLAN_UPDATE : AA_PLAN_CREATE, AE_PLAN, id,
                               json_string_value(json_object_get(after, "division_code")), before,
                               got, after);
}

/* POST /api/v1/patrol-plans (staff in scope). */
int h_plans_create(http_req *r) {
    long long id = 0;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    int rc = plan_change(r, NULL, &id);
    return rc ? admin_end(r, rc) : plan_done(r, id, NULL, 201);
}

/* PATCH /api/v1/patrol-plans/{id}: what is sent changes. */
int h_plans_patch(http_req *r) {
    long long id;
    json_t *before = NULL;
    int rc = param_path_id(r, 0, "patrol plan", &id);
    if (rc) return rc;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    int found = plans_visible(r, id, 1, &before);
    if (found <= 0) return admin_end(r, found < 0 ? -1 : 404);
    rc = plan_change(r, before, &id);
    rc = rc ? admin_end(r, rc) : plan_done(r, id, before, 200);
    json_decref(before);
    return rc;
}

/* GET /api/v1/patrol-plans/{id} */
int h_plans_get(http_req *r) {
    long long id;
    json_t *plan = NULL;
    int rc = param_path_id(r, 0, "patrol plan", &id);
    if (rc) return rc;
    int found = plans_visible(r, id, 0, &plan);
    if (found < 0) return http_db_error(r);
    return found ? http_json(r, 200, plan) : 404;
}

/* GET /api/v1/patrol-plans?division=&unit=&at=&limit=&cursor= : plans by id; at: those with a
 * window around that time (default: all). */
int h_plans_list(http_req *r) {
    char like[16], after[24], lim[16], unit[24];
    int limit = (int)http_q(r, "limit")->i;
    admin_scope_like(r, like);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {like, admin_id(http_q(r, "cursor")->i, after), lim,
                       admin_id(http_q(r, "unit")->i, unit), http_q(r, "at")->s};
    PGresult *q = db_exec(
        r->w,
        PLAN_SQL
        " WHERE p.division_code LIKE $1::text AND p.id > $2::bigint AND ($4::bigint = 0 OR EXISTS"
        " (SELECT 1 FROM patrol_plan_units u WHERE u.plan_id = p.id AND u.unit_id = $4::bigint))"
        " AND ($5::timestamptz IS NULL OR EXISTS (SELECT 1 FROM patrol_windows(p.id,"
        " $5::timestamptz, $5::timestamptz + interval '1 second'))) ORDER BY p.id LIMIT $3::int",
        5, p);
    return q ? admin_page(r, q, limit, "pp", plan_row_json) : http_db_error(r);
}
