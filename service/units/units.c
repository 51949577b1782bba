/* units.c - patrol units: list/create/read, status, position fixes, dispatch candidates, the
 * in-memory unit table, the unit status that follows a report, and position partition upkeep.
 *
 * Threads: handlers run on CivetWeb workers with their own worker; the in-memory table is shared
 * (one rwlock). Positions: a batch is validated, sorted and checked for impossible speeds in C,
 * then written by ONE statement (unnest of arrays: insert ON CONFLICT DO NOTHING, move the unit
 * when the newest accepted fix is newer than its position, append the unit.position event). */
#include "service/units/units.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/coords.h"
#include "gis/transform.h"
#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/server.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/shapes.h"
#include "service/reports/reports.h"

enum { MAX_CANDIDATES = CANDIDATES_MAX, FUTURE_SLACK_S = 300 };

/* ---- the in-memory unit table ---- */

typedef struct umem {
    long long id, station_id, ev_id;
    char division[13];
    char status[12];
    char name[96];
    char callsign[32];
    int has_pos;
    double lon, lat, pos_epoch;
    double ux, uy, uz; /* the position as a unit vector: nearest first = largest dot product */
} umem;

static pthread_rwlock_t mem_mu = PTHREAD_RWLOCK_INITIALIZER;
static umem *mem_v;
static size_t mem_n, mem_cap;

/* Index of id in mem_v, or -(insertion point)-1. Caller holds mem_mu. */
static long mem_find(long long id) {
    size_t lo = 0, hi = mem_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (mem_v[mid].id == id) return (long)mid;
        if (mem_v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

/* Slot for id (made when missing), or NULL on out of memory. Caller holds mem_mu for writing. */
static umem *mem_slot(long long id) {
    long i = mem_find(id);
    if (i >= 0) return &mem_v[i];
    size_t at = (size_t)(-i - 1);
    if (mem_n == mem_cap) {
        size_t cap = mem_cap ? mem_cap * 2 : 256;
        umem *v = realloc(mem_v, cap * sizeof *v);
        if (!v) return NULL;
        mem_v = v, mem_cap = cap;
    }
    memmove(&mem_v[at + 1], &mem_v[at], (mem_n - at) * sizeof *mem_v);
    mem_n++;
    memset(&mem_v[at], 0, sizeof *mem_v);
    mem_v[at].id = id;
    return &mem_v[at];
}

static void copy_str(char *dst, size_t n, const char *s) {
    snprintf(dst, n, "%s", s ? s : "");
}

static void unit_vector(double lon, double lat, double *x, double *y, double *z) {
    const double k = M_PI / 180.0;
    *x = cos(lat * k) * cos(lon * k), *y = cos(lat * k) * sin(lon * k), *z = sin(lat * k);
}

/* Applies a unit payload object (UNIT_PAYLOAD) as of event ev_id. */
static void mem_apply_json(long long ev_id, json_t *p) {
    long long id = json_integer_value(json_object_get(p, "id"));
    if (id <= 0) return;
    pthread_rwlock_wrlock(&mem_mu);
    umem *u = mem_slot(id);
    if (u && ev_id >= u->ev_id) {
        int newer = ev_id > u->ev_id; /* the reader re-applies this instance's own events */
        u->ev_id = ev_id;
        u->station_id = json_integer_value(json_object_get(p, "station_id"));
        copy_str(u->division, sizeof u->division,
                 json_string_value(json_object_get(p, "division_code")));
        copy_str(u->status, sizeof u->status, json_string_value(json_object_get(p, "status")));
        copy_str(u->name, sizeof u->name, json_string_value(json_object_get(p, "name")));
        copy_str(u->callsign, sizeof u->callsign,
                 json_string_value(json_object_get(p, "callsign")));
        json_t *lon = json_object_get(p, "lon"), *lat = json_object_get(p, "lat");
        u->has_pos = json_is_number(lon) && json_is_number(lat);
        u->lon = json_number_value(lon);
        u->lat = json_number_value(lat);
        u->pos_epoch = json_number_value(json_object_get(p, "position_epoch"));
        unit_vector(u->lon, u->lat, &u->ux, &u->uy, &u->uz);
        const char *ev = json_string_value(json_object_get(p, "event"));
        if (newer && ev && strcmp(ev, "position") == 0) units_positions_changed();
    }
    pthread_rwlock_unlock(&mem_mu);
}

void units_mem_apply(long long ev_id, const char *payload) {
    json_t *p = json_loads(payload, 0, NULL);
    if (json_is_object(p)) mem_apply_json(ev_id, p);
    json_decref(p);
}

/* Applies the (event id, payload) rows of res, columns c and c+1. */
static void mem_apply_rows(PGresult *res, int c) {
    for (int i = 0; i < PQntuples(res); i++)
        if (!PQgetisnull(res, i, c))
            units_mem_apply(strtoll(PQgetvalue(res, i, c), NULL, 10), PQgetvalue(res, i, c + 1));
}

int units_mem_load(worker *w, long long as_of, char *err, size_t errlen) {
    PGresult *res =
        db_exec(w, "SELECT " UNIT_PAYLOAD("u", "'load'") "::text FROM units u", 0, NULL);
    if (!res) {
        snprintf(err, errlen, "units: %s", w->err);
        return -1;
    }
    pthread_rwlock_wrlock(&mem_mu);
    mem_n = 0;
    pthread_rwlock_unlock(&mem_mu);
    for (int i = 0; i < PQntuples(res); i++)
        units_mem_apply(as_of, PQgetvalue(res, i, 0));
    PQclear(res);
    return 0;
}

/* Copies the unit's memory row into *out. Returns 1 when known, 0 when not. */
static int mem_get(long long id, umem *out) {
    pthread_rwlock_rdlock(&mem_mu);
    long i = mem_find(id);
    if (i >= 0) *out = mem_v[i];
    pthread_rwlock_unlock(&mem_mu);
    return i >= 0;
}

/* ---- shared helpers ---- */

static double now_epoch(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *val(PGresult *res, int row, int col) {
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* A unit's position as it goes out: in crs, rounded like a report's location (7 decimals). */
static json_t *location_json(double lon, double lat, gis_crs crs) {
    double x = lon, y = lat;
    gis_from_wgs84(crs, lon, lat, &x, &y);
    return json_pack("{s:f,s:f,s:s}", "lon", report_coord_out(x), "lat", report_coord_out(y), "crs",
                     gis_crs_name(crs));
}

/* The columns of a unit row: `SELECT UNIT_COLUMNS FROM units u LEFT JOIN stations s ...`. */
#define UNIT_COLUMNS                                                                                   \
    "u.id, u.name, u.callsign, u.station_id, s.name, u.division_code, u.status, ST_X(u.position),"     \
    " ST_Y(u.position), to_json(u.position_at)#>>'{}',"                                                \
    " round(extract(epoch FROM now() - u.position_at)::numeric, 1)::float8, u.speed_mps, u.heading,"   \
    " to_json(u.updated_at)#>>'{}',"                                                                   \
    " (SELECT coalesce(json_agg(json_build_object('id', m.id, 'username', m.username) ORDER BY m.id)," \
    " '[]') FROM users m WHERE m.unit_id = u.id AND m.role = 'patrol'),"                               \
    " (SELECT max(r.id) FROM reports r WHERE r.unit_id = u.id AND r.status IN ('dispatched', 'on_scene'))"
#define UNIT_FROM " FROM units u LEFT JOIN stations s ON s.id = u.station_id"

static json_t *unit_row_json(PGresult *res, int i, gis_crs crs) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(strtoll(PQgetvalue(res, i, 0), NULL, 10)));
    json_object_set_new(o, "name", json_string(PQgetvalue(res, i, 1)));
    json_object_set_new(o, "callsign", val(res, i, 2) ? json_string(val(res, i, 2)) : json_null());
    json_object_set_new(o, "station",
                        val(res, i, 3) ? json_pack("{s:I,s:s}", "id",
                                                   (json_int_t)strtoll(val(res, i, 3), NULL, 10),
                                                   "name", val(res, i, 4) ? val(res, i, 4) : "")
                                       : json_null());
    json_object_set_new(o, "division_code",
                        val(res, i, 5) ? json_string(val(res, i, 5)) : json_null());
    json_object_set_new(o, "status", json_string(PQgetvalue(res, i, 6)));
    if (val(res, i, 7)) {
        json_t *loc = location_json(atof(val(res, i, 7)), atof(val(res, i, 8)), crs);
        json_object_set_new(o, "position", loc);
        json_object_set_new(o, "position_at", json_string(val(res, i, 9)));
        json_object_set_new(o, "position_age_s", json_real(atof(val(res, i, 10))));
    } else {
        json_object_set_new(o, "position", json_null());
        json_object_set_new(o, "position_at", json_null());
        json_object_set_new(o, "position_age_s", json_null());
    }
    json_object_set_new(o, "speed_mps",
                        val(res, i, 11) ? json_real(atof(val(res, i, 11))) : json_null());
    json_object_set_new(o, "heading",
                        val(res, i, 12) ? json_real(atof(val(res, i, 12))) : json_null());
    json_object_set_new(o, "updated_at", json_string(PQgetvalue(res, i, 13)));
    json_object_set_new(o, "members", json_loads(PQgetvalue(res, i, 14), 0, NULL));
    json_object_set_new(o, "report_id",
                        val(res, i, 15) ? json_integer(strtoll(val(res, i, 15), NULL, 10))
                                        : json_null());
    return o;
}

/* Loads unit params[0] when the user may see it: 0 with *res (one row, UNIT_COLUMNS), or the status
 * of the error sent (404 for malformed, unknown or out of scope). */
static int unit_load_visible(http_req *r, long long *id, PGresult **res) {
    int rc = param_path_id(r, 0, "unit", id);
    if (rc) return rc;
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", *id);
    const char *p[] = {ids};
    PGresult *q = db_exec(r->w, "SELECT " UNIT_COLUMNS UNIT_FROM " WHERE u.id = $1::bigint", 1, p);
    if (!q) return http_db_error(r);
    if (PQntuples(q) != 1 || !auth_in_scope(&r->user, PQgetvalue(q, 0, 5))) {
        PQclear(q);
        return http_error(r, 404, "not_found", NULL, "no such unit: %lld", *id);
    }
    *res = q;
    return 0;
}

int units_check_visible(http_req *r, long long *id) {
    PGresult *q = NULL;
    int rc = unit_load_visible(r, id, &q);
    PQclear(q);
    return rc;
}

/* ---- GET /api/v1/units ---- */

/* GET /api/v1/units?status=&division=&limit=&cursor=&crs= : units in the user's division, by id. */
int h_units_list(http_req *r) {
    const http_qval *div = http_q(r, "division");
    const char *status = http_q(r, "status")->s;
    char prefix[13];
    gis_crs crs = http_q(r, "crs")->crs;
    int limit = (int)http_q(r, "limit")->i;
    long long after = http_q(r, "cursor")->i;
    vocab_code_prefix(r->user.division_code, prefix);
    if (div->given) {
        if (strncmp(div->prefix, prefix, strlen(prefix)) != 0) /* outside: nothing, as if empty */
            snprintf(prefix, sizeof prefix, "x");
        else
            snprintf(prefix, sizeof prefix, "%s", div->prefix);
    }
    char afters[24], lims[16], like[16];
    snprintf(afters, sizeof afters, "%lld", after);
    snprintf(lims, sizeof lims, "%d", limit + 1);
    snprintf(like, sizeof like, "%s%%", prefix);
    const char *p[] = {like, status, afters, lims};
    PGresult *q = db_exec(r->w,
                          "SELECT " UNIT_COLUMNS UNIT_FROM
                          " WHERE u.division_code LIKE $1 AND ($2::text IS NULL OR u.status = $2)"
                          " AND u.id > $3::bigint ORDER BY u.id LIMIT $4::int",
                          4, p);
    if (!q) return http_db_error(r);
    json_t *items = json_array();
    int n = PQntuples(q);
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(items, unit_row_json(q, i, crs));
    json_t *next = json_null();
    if (n > limit) {
        char cur[64];
        params_cursor_encode("u1", strtoll(PQgetvalue(q, limit - 1, 0), NULL, 10), cur, sizeof cur);
        next = json_string(cur);
    }
    PQclear(q);
    return http_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next));
}

/* GET /api/v1/units/{id} */
int h_units_get(http_req *r) {
    long long id;
    PGresult *q = NULL;
    gis_crs crs = http_q(r, "crs")->crs;
    int rc;
    if ((rc = unit_load_visible(r, &id, &q))) return rc;
    json_t *o = unit_row_json(q, 0, crs);
    PQclear(q);
    return http_json(r, 200, o);
}

/* POST /api/v1/units {"name", "callsign"?, "station_id"} (staff): a unit of a station in scope. */
int h_units_create(http_req *r) {
    json_t *jn = json_object_get(r->json, "name"), *jc = json_object_get(r->json, "callsign"),
           *js = json_object_get(r->json, "station_id");
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", (long long)json_integer_value(js));
    const char *ps[] = {sid};
    PGresult *q = db_exec(r->w, "SELECT division_code FROM stations WHERE id = $1::bigint", 1, ps);
    if (!q) return http_db_error(r);
    if (PQntuples(q) != 1 || !auth_in_scope(&r->user, PQgetvalue(q, 0, 0))) {
        PQclear(q);
        return http_error(r, 422, "unknown_station", "station_id", "no such station: %s", sid);
    }
    PQclear(q);
    const char *callsign = json_is_string(jc) ? json_string_value(jc) : NULL;
    const char *p[] = {json_string_value(jn), callsign, sid};
    q = db_exec(
        r->w,
        "WITH u AS (INSERT INTO units (name, callsign, station_id, division_code)"
        " SELECT $1::text, $2::text, s.id, s.division_code FROM stations s WHERE s.id = $3::bigint"
        " RETURNING *), e AS (INSERT INTO events (kind, entity_id, division_code, payload)"
        " SELECT 'unit.created', u.id, u.division_code, " UNIT_PAYLOAD(
            "u", "'created'") " FROM u RETURNING id, payload::text)"
                              " SELECT u.id, e.id, e.payload FROM u, e",
        3, p);
    if (!q) {
        if (db_failed_with(r->w, "23505"))
            return http_error(r, 409, "callsign_taken", "callsign", "callsign already in use");
        return http_db_error(r);
    }
    mem_apply_rows(q, 1);
    const char *pid[] = {PQgetvalue(q, 0, 0)};
    PGresult *g =
        db_exec(r->w, "SELECT " UNIT_COLUMNS UNIT_FROM " WHERE u.id = $1::bigint", 1, pid);
    PQclear(q);
    if (!g) return http_db_error(r);
    json_t *o = unit_row_json(g, 0, GIS_CRS_WGS84);
    PQclear(g);
    return http_json(r, 201, o);
}

/* POST /api/v1/units/{id}/status {"status": available|busy|off_duty}: a patrol member of the unit,
 * or staff in scope. A unit on a report (dispatched, on_scene) changes with its report: 409. */
int h_units_status(http_req *r) {
    long long id;
    PGresult *q = NULL;
    int rc;
    const char *st = json_string_value(json_object_get(r->json, "status"));
    if ((rc = unit_load_visible(r, &id, &q))) return rc;
    PQclear(q);
    q = NULL;
    if (r->user.role == ROLE_PATROL ? r->user.unit_id != id : !(r->user.role & ROLE_STAFF))
        return http_error(r, 403, "forbidden", NULL, "only the unit's members or staff may");
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[] = {ids, st};
    q = db_exec(
        r->w,
        "WITH old AS (SELECT status FROM units WHERE id = $1::bigint FOR UPDATE),"
        " u AS (UPDATE units SET status = $2::text, updated_at = now() WHERE id = $1::bigint"
        " AND status NOT IN ('dispatched', 'on_scene') RETURNING *),"
        " e AS (INSERT INTO events (kind, entity_id, division_code, payload)"
        " SELECT 'unit.updated', u.id, u.division_code, " UNIT_PAYLOAD(
            "u",
            "'status'") " FROM u RETURNING id, payload::text)"
                        " SELECT (SELECT status FROM old), e.id, e.payload FROM (SELECT 1) x LEFT JOIN e ON true",
        2, p);
    if (!q) return http_db_error(r);
    if (PQgetisnull(q, 0, 1)) {
        rc = http_error(r, 409, "unit_on_assignment", "status",
                        "unit %lld is %s: it changes with its report", id, PQgetvalue(q, 0, 0));
        PQclear(q);
        return rc;
    }
    mem_apply_rows(q, 1);
    PQclear(q);
    q = NULL;
    if ((rc = unit_load_visible(r, &id, &q))) return rc;
    json_t *o = unit_row_json(q, 0, GIS_CRS_WGS84);
    PQclear(q);
    return http_json(r, 200, o);
}

/* ---- positions ---- */

typedef struct fix {
    double at, lon, lat;
    double speed, heading, acc; /* NAN when not given */
    int ord;                    /* index in the request */
    int flagged;
} fix;

static int fix_cmp(const void *a, const void *b) {
    const fix *x = a, *y = b;
    if (x->at != y->at) return x->at < y->at ? -1 : 1;
    return x->ord - y->ord;
}

/* Number field `name` of o into *out: NAN when absent or null (the shape checked it). */
static void opt_num(json_t *o, const char *name, double *out) {
    json_t *v = json_object_get(o, name);
    *out = json_is_number(v) ? json_number_value(v) : NAN;
}

/* Fix i of the request into *f (the door's verdict on its shape: r->item_errors[i]). Returns 0, or
 * the status of the 400 sent. */
static int parse_fix(http_req *r, json_t *o, int i, fix *f, double oldest, double newest) {
    char field[64];
    const shape_error *e = r->item_errors[i];
    memset(f, 0, sizeof *f);
    f->ord = i;
    if (e) {
        snprintf(field, sizeof field, "positions[%d]%s%s", i, e->field ? "." : "",
                 e->field ? e->field : "");
        return http_error(r, e->status, e->code, field, "%s", e->message);
    }
#define BAD(name, ...)                                                                             \
    (snprintf(field, sizeof field, "positions[%d]%s", i, name),                                    \
     http_error(r, 400, "invalid_field", field, __VA_ARGS__))
    json_t *loc = json_object_get(o, "location");
    double lon = json_number_value(json_object_get(loc, "lon"));
    double lat = json_number_value(json_object_get(loc, "lat"));
    if (gis_to_wgs84(shape_crs(loc, "crs"), lon, lat, &f->lon, &f->lat) != 0)
        return BAD(".location", "the location cannot be converted to WGS-84");
    opt_num(o, "accuracy_m", &f->acc);
    if (isnan(f->acc)) opt_num(loc, "accuracy_m", &f->acc);
    opt_num(o, "speed_mps", &f->speed);
    opt_num(o, "heading", &f->heading);
    f->at = shape_time(o, "at");
    if (f->at > newest) return BAD(".at", "at is in the future");
    if (f->at < oldest) return BAD(".at", "at is older than the positions kept");
#undef BAD
    return 0;
}

/* Appends "{a,b,...}" of the fixes' values (NULL for NAN) to b. */
static void put_array(buf *b, const fix *v, int n, size_t off, const char *fmt) {
    buf_put(b, "{", 1);
    for (int i = 0; i < n; i++) {
        double d = *(const double *)((const char *)&v[i] + off);
        if (i) buf_put(b, ",", 1);
        if (isnan(d))
            buf_str(b, "NULL");
        else
            buf_printf(b, fmt, d);
    }
    buf_put(b, "}", 1);
}

static const char positions_sql[] =
    "WITH x AS (SELECT * FROM unnest($2::float8[], $3::float8[], $4::float8[], $5::real[], $6::real[],"
    " $7::real[], $8::boolean[]) AS x(t, lon, lat, acc, speed, heading, flagged)),"
    " ins AS (INSERT INTO unit_positions (unit_id, at, geom, accuracy_m, speed_mps, heading, flagged)"
    " SELECT $1::bigint, to_timestamp(t), ST_SetSRID(ST_MakePoint(lon, lat), 4326), acc, speed, heading,"
    " flagged FROM x ON CONFLICT DO NOTHING RETURNING 1),"
    " u AS (UPDATE units SET position = ST_SetSRID(ST_MakePoint($10::float8, $11::float8), 4326),"
    " position_at = to_timestamp($9::float8), speed_mps = $12::real, heading = $13::real, updated_at = now()"
    " WHERE id = $1::bigint AND $9::float8 IS NOT NULL"
    " AND (position_at IS NULL OR position_at < to_timestamp($9::float8)) RETURNING *),"
    " e AS (INSERT INTO events (kind, entity_id, division_code, payload)"
    " SELECT 'unit.position', u.id, u.division_code, " UNIT_PAYLOAD(
        "u",
        "'position'") " FROM u RETURNING id, payload::text)"
                      " SELECT (SELECT count(*) FROM ins), e.id, e.payload FROM (SELECT 1) o LEFT JOIN e ON true";

/* The newest accepted fix before `before` stored for the unit (when a batch is older than the
 * unit's position: an offline buffer arriving late). Returns 1 with *anchor, 0 none, -1 error. */
static int older_anchor(worker *w, const char *ids, double before, fix *anchor) {
    char t[32];
    snprintf(t, sizeof t, "%.6f", before);
    const char *p[] = {ids, t};
    PGresult *q =
        db_exec(w,
                "SELECT extract(epoch FROM at)::float8, ST_X(geom), ST_Y(geom) FROM unit_positions"
                " WHERE unit_id = $1::bigint AND at < to_timestamp($2::float8) AND NOT flagged"
                " ORDER BY at DESC LIMIT 1",
                2, p);
    if (!q) return -1;
    int n = PQntuples(q);
    if (n) {
        anchor->at = atof(PQgetvalue(q, 0, 0));
        anchor->lon = atof(PQgetvalue(q, 0, 1));
        anchor->lat = atof(PQgetvalue(q, 0, 2));
    }
    PQclear(q);
    return n ? 1 : 0;
}

/* The unit of a positions post, from memory (asked of the database when created a moment ago
 * elsewhere), when r's user may post for it: its own patrol members, or staff in scope (a tracker
 * gateway). Returns 0 with *u, or the status sent. */
static int positions_unit(http_req *r, long long id, umem *u) {
    if (!mem_get(id, u)) {
        char ids0[24];
        snprintf(ids0, sizeof ids0, "%lld", id);
        const char *p0[] = {ids0};
        PGresult *q = db_exec(
            r->w, "SELECT " UNIT_PAYLOAD("u", "'load'") "::text FROM units u WHERE id = $1::bigint",
            1, p0);
        if (!q) return http_db_error(r);
        if (PQntuples(q) == 1) units_mem_apply(0, PQgetvalue(q, 0, 0));
        PQclear(q);
        if (!mem_get(id, u)) return http_error(r, 404, "not_found", NULL, "no such unit: %lld", id);
    }
    if (!auth_in_scope(&r->user, u->division))
        return http_error(r, 404, "not_found", NULL, "no such unit: %lld", id);
    if (r->user.role == ROLE_PATROL ? r->user.unit_id != id : !(r->user.role & ROLE_STAFF))
        return http_error(r, 403, "forbidden", NULL,
                          "a patrol posts positions for its own unit only");
    return 0;
}

/* Flags impossible speeds in v[0..m) (time order) against the previous accepted fix (the unit's
 * position, or the newest stored one before v[0] when the batch is older). Returns 0 with *newest
 * (the newest accepted fix, NULL when none), or -1 on a database error. */
static int flag_speeds(worker *w, const config *cfg, const umem *u, const char *ids, fix *v, int m,
                       const fix **newest) {
    fix anchor = {0};
    int have = 0;
    if (u->has_pos && u->pos_epoch <= v[0].at) {
        anchor.at = u->pos_epoch, anchor.lon = u->lon, anchor.lat = u->lat, have = 1;
    } else if (u->has_pos) {
        if ((have = older_anchor(w, ids, v[0].at, &anchor)) < 0) return -1;
    }
    *newest = NULL;
    for (int i = 0; i < m; i++) {
        if (have && v[i].at > anchor.at) {
            double d = gis_geodesic_m(anchor.lon, anchor.lat, v[i].lon, v[i].lat);
            v[i].flagged = d / (v[i].at - anchor.at) > cfg->max_fix_speed_mps;
        }
        if (!v[i].flagged) anchor = v[i], have = 1, *newest = &v[i];
    }
    return 0;
}

/* Stores v[0..m) for unit ids and moves the unit to newest (may be NULL): positions_sql, creating
 * the day partitions once when missing. Returns the result, or NULL: w's error set, or *oom
 * when the arrays did not fit in memory. */
static PGresult *store_fixes(worker *w, const char *ids, const fix *v, int m, const fix *newest,
                             int *oom) {
    buf a[7] = {{0}};
    PGresult *q = NULL;
    put_array(&a[0], v, m, offsetof(fix, at), "%.6f");
    put_array(&a[1], v, m, offsetof(fix, lon), "%.9f");
    put_array(&a[2], v, m, offsetof(fix, lat), "%.9f");
    put_array(&a[3], v, m, offsetof(fix, acc), "%.2f");
    put_array(&a[4], v, m, offsetof(fix, speed), "%.3f");
    put_array(&a[5], v, m, offsetof(fix, heading), "%.2f");
    buf_put(&a[6], "{", 1);
    for (int i = 0; i < m; i++)
        buf_str(&a[6], i ? (v[i].flagged ? ",t" : ",f") : (v[i].flagged ? "t" : "f"));
    buf_put(&a[6], "}", 1);
    *oom = 0;
    for (int i = 0; i < 7; i++)
        *oom |= a[i].oom;
    char nt[32] = "", nlon[32] = "", nlat[32] = "", nsp[32] = "", nhd[32] = "";
    if (newest) {
        snprintf(nt, sizeof nt, "%.6f", newest->at);
        snprintf(nlon, sizeof nlon, "%.9f", newest->lon);
        snprintf(nlat, sizeof nlat, "%.9f", newest->lat);
        if (!isnan(newest->speed)) snprintf(nsp, sizeof nsp, "%.3f", newest->speed);
        if (!isnan(newest->heading)) snprintf(nhd, sizeof nhd, "%.2f", newest->heading);
    }
    const char *p[] = {ids,
                       a[0].p,
                       a[1].p,
                       a[2].p,
                       a[3].p,
                       a[4].p,
                       a[5].p,
                       a[6].p,
                       newest ? nt : NULL,
                       newest ? nlon : NULL,
                       newest ? nlat : NULL,
                       *nsp ? nsp : NULL,
                       *nhd ? nhd : NULL};
    for (int attempt = 0; attempt < 2 && !q && !*oom; attempt++) {
        q = db_exec(w, positions_sql, 13, p);
        if (!q && attempt == 0 && db_failed_with(w, "23514")) { /* no partition for a day yet */
            char lo[32], hi[32];
            snprintf(lo, sizeof lo, "%.6f", v[0].at);
            snprintf(hi, sizeof hi, "%.6f", v[m - 1].at);
            const char *pk[] = {lo, hi};
            db_command(
                w,
                "SELECT unit_positions_ensure((to_timestamp($1::float8) AT TIME ZONE 'UTC')::date,"
                " (to_timestamp($2::float8) AT TIME ZONE 'UTC')::date)",
                2, pk);
            continue;
        }
        if (!q) break;
    }
    for (int i = 0; i < 7; i++)
        buf_free(&a[i]);
    return q;
}

/* POST /api/v1/units/{id}/positions {"positions":[{location, at, speed_mps, heading, accuracy_m}]} */
int h_units_positions(http_req *r) {
    const config *cfg = &r->app->cfg;
    long long id;
    fix *v = NULL;
    PGresult *q = NULL;
    int rc, oom;
    json_t *arr = r->items; /* the door checked the envelope and judged each fix */
    size_t n = json_array_size(arr);
    umem u;
    if ((rc = param_path_id(r, 0, "unit", &id)) || (rc = positions_unit(r, id, &u))) return rc;

    double now = now_epoch();
    double oldest =
        now - 86400.0 * (cfg->position_retention_days > 0 ? cfg->position_retention_days : 1);
    if (!(v = malloc(n * sizeof *v))) return http_error(r, 500, "internal", NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        if ((rc =
                 parse_fix(r, json_array_get(arr, i), (int)i, &v[i], oldest, now + FUTURE_SLACK_S)))
            goto done;

    /* time order, repeats dropped (the first sent wins, as the database keeps the first stored) */
    qsort(v, n, sizeof *v, fix_cmp);
    int m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[i].at != v[m - 1].at) v[m++] = v[i];

    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const fix *newest;
    if (flag_speeds(r->w, cfg, &u, ids, v, m, &newest) != 0) {
        rc = http_db_error(r);
        goto done;
    }
    if (!(q = store_fixes(r->w, ids, v, m, newest, &oom))) {
        rc = oom ? http_error(r, 500, "internal", NULL, "out of memory") : http_db_error(r);
        goto done;
    }
    mem_apply_rows(q, 1);
    units_positions_changed();
    int flagged = 0;
    for (int i = 0; i < m; i++)
        flagged += v[i].flagged;
    rc = http_json(r, 200,
                   json_pack("{s:i,s:i,s:i,s:i,s:b}", "received", (int)n, "stored",
                             atoi(PQgetvalue(q, 0, 0)), "duplicates",
                             (int)n - atoi(PQgetvalue(q, 0, 0)), "flagged", flagged, "moved",
                             !PQgetisnull(q, 0, 1)));
done:
    PQclear(q);
    free(v);
    return rc;
}

/* ---- dispatch candidates ---- */

typedef struct cand {
    double d;
    umem u;
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->u.id < y->u.id ? -1 : x->u.id > y->u.id;
}

/* 1 when a unit of the memory table is a candidate: available, placed, in the caller's division
 * (prefix: the caller's significant code prefix; "" division = outside: city-wide users only). */
static int eligible(const umem *u, const char *prefix, size_t plen) {
    if (!u->has_pos || strcmp(u->status, "available") != 0) return 0;
    return *u->division ? strncmp(u->division, prefix, plen) == 0 : plen <= 4;
}

/* GET /api/v1/reports/{id}/candidates?limit=5&crs= : available units in the user's scope nearest
 * to the report, from the in-memory unit table (no table scan). The sphere picks a short list (dot
 * products of unit vectors: the k nearest, then everything within 0.6 % + 1 m of the k-th, as the
 * spheroid's distances differ from the sphere's by less), then geodesic metres rank it. */
int h_reports_candidates(http_req *r) {
    const config *cfg = &r->app->cfg;
    long long rid;
    PGresult *res = NULL;
    gis_crs crs = http_q(r, "crs")->crs;
    int rc, k = (int)http_q(r, "limit")->i;
    if ((rc = report_load_visible(r, &rid, &res))) return rc;
    double lon = atof(PQgetvalue(res, 0, REPORT_COL_LON)),
           lat = atof(PQgetvalue(res, 0, REPORT_COL_LAT));
    PQclear(res);

    double t_start = now_epoch();
    const double R = 6371008.8;
    double px, py, pz, top[MAX_CANDIDATES + 1];
    int ntop = 0;
    char prefix[13];
    vocab_code_prefix(r->user.division_code, prefix);
    size_t plen = strlen(prefix);
    unit_vector(lon, lat, &px, &py, &pz);
    cand *short_list = NULL;
    size_t nshort = 0, cap = 0;
    pthread_rwlock_rdlock(&mem_mu);
    for (size_t i = 0; i < mem_n; i++) { /* pass 1: the k largest dot products */
        const umem *u = &mem_v[i];
        if (!eligible(u, prefix, plen)) continue;
        double dot = px * u->ux + py * u->uy + pz * u->uz;
        if (ntop == k && dot <= top[ntop - 1]) continue;
        int j = ntop < k ? ntop++ : ntop - 1;
        while (j > 0 && top[j - 1] < dot)
            top[j] = top[j - 1], j--;
        top[j] = dot;
    }
    double kth = ntop ? R * acos(top[ntop - 1] < 1 ? top[ntop - 1] : 1) : 0;
    double lim_angle = (kth * 1.006 + 1) / R;
    double min_dot = cos(lim_angle < M_PI ? lim_angle : M_PI);
    for (size_t i = 0; i < mem_n && ntop; i++) { /* pass 2: all that could rank in the top k */
        const umem *u = &mem_v[i];
        if (!eligible(u, prefix, plen) || px * u->ux + py * u->uy + pz * u->uz < min_dot) continue;
        if (nshort == cap) {
            cap = cap ? cap * 2 : 16;
            cand *nv = realloc(short_list, cap * sizeof *nv);
            if (!nv) break;
            short_list = nv;
        }
        short_list[nshort].u = *u;
        short_list[nshort++].d = gis_geodesic_m(lon, lat, u->lon, u->lat);
    }
    pthread_rwlock_unlock(&mem_mu);
    if (nshort) qsort(short_list, nshort, sizeof *short_list, cand_cmp);

    double now = now_epoch();
    double speed = cfg->dispatch_speed_mps > 0 ? cfg->dispatch_speed_mps : 8.3;
    json_t *items = json_array();
    for (size_t i = 0; i < nshort && (long)i < k; i++) {
        const cand *c = &short_list[i];
        double age = now - c->u.pos_epoch;
        json_array_append_new(
            items,
            json_pack("{s:I,s:s,s:s?,s:I,s:s,s:f,s:i,s:o,s:f,s:b}", "unit_id", (json_int_t)c->u.id,
                      "name", c->u.name, "callsign", *c->u.callsign ? c->u.callsign : NULL,
                      "station_id", (json_int_t)c->u.station_id, "status", c->u.status,
                      "distance_m", round(c->d * 10) / 10, "eta_s", (int)lround(c->d / speed),
                      "position", location_json(c->u.lon, c->u.lat, crs), "position_age_s",
                      round(age * 10) / 10, "stale", age > cfg->position_stale_s));
    }
    free(short_list);
    /* the ranking's own time (memory only), for the bench: Server-Timing: rank;dur=<ms> */
    char timing[64];
    snprintf(timing, sizeof timing, "Server-Timing: rank;dur=%.3f\r\n",
             (now_epoch() - t_start) * 1e3);
    json_t *o = json_pack("{s:I,s:o}", "report_id", (json_int_t)rid, "items", items);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    if (!s) return http_error(r, 500, "internal", NULL, "out of memory");
    rc = http_send(r, 200, "application/json; charset=utf-8", s, strlen(s), timing);
    free(s);
    return rc;
}

/* ---- partitions ---- */

void *units_maintenance_thread(void *arg) {
    app *a = arg;
    char keep[16];
    worker w = {.app = a, .no_timeout = 1};
    int wait_ms = 0;
    while (!server_sleep(a, wait_ms)) {
        wait_ms = 60000;
        if (db_ensure(&w) != 0) continue;
        snprintf(keep, sizeof keep, "%d", a->cfg.position_retention_days);
        const char *p[] = {keep};
        PGresult *res = db_exec(&w, "SELECT unit_positions_maintain($1::int, 3)", 1, p);
        if (!res)
            fprintf(stderr, "positions: %s\n", w.err);
        else {
            if (atoi(PQgetvalue(res, 0, 0)) > 0)
                fprintf(stderr, "positions: dropped %s day(s) past retention\n",
                        PQgetvalue(res, 0, 0));
            wait_ms = 3600 * 1000;
        }
        PQclear(res);
    }
    db_disconnect(&w);
    return NULL;
}
