/* units.c - patrol units: list/create/read, status, position fixes, dispatch candidates, the
 * in-memory unit table, the unit status that follows a report, and position partition upkeep.
 *
 * Threads: handlers run on CivetWeb workers with their own worker; the in-memory table is shared
 * (one rwlock). Positions: each fix of a batch is validated alone (a bad one is refused with its
 * reason, the rest go on); the batch is judged with the unit's stored fixes around it (gis/track:
 * the longest believable chain wins, so a glitch cannot outvote the real track), its coverage is
 * painted (coverage.h), then everything is written by ONE statement (unnest of arrays: insert ON
 * CONFLICT DO NOTHING, the stored fixes the judgement revised, the coverage deltas, move the unit
 * when the newest believable fix is newer than its position, append the unit.position event). */
#include "service/units/units.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/coords.h"
#include "gis/track.h"
#include "gis/transform.h"
#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/events_append.h"
#include "service/core/server.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/shapes.h"
#include "service/reports/report_json.h"
#include "service/reports/report_read.h"
#include "service/units/coverage.h"

enum { MAX_CANDIDATES = CANDIDATES_MAX };

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

/* Applies a unit payload object (EVENTS_UNIT_PAYLOAD) as of event ev_id. */
static void mem_apply_json(long long ev_id, json_t *p) {
    long long id = json_integer_value(json_object_get(p, "id"));
    if (id <= 0) return;
    pthread_rwlock_wrlock(&mem_mu);
    umem *u = mem_slot(id);
    if (u && ev_id >= u->ev_id) { /* the reader re-applies this instance's own events */
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
    }
    pthread_rwlock_unlock(&mem_mu);
}

void units_mem_apply(long long ev_id, const char *payload) {
    json_t *p = json_loads(payload, 0, NULL);
    if (json_is_object(p)) mem_apply_json(ev_id, p);
    json_decref(p);
}

void units_mem_apply_rows(PGresult *res, int c) {
    for (int i = 0; i < PQntuples(res); i++)
        if (!PQgetisnull(res, i, c))
            units_mem_apply(strtoll(PQgetvalue(res, i, c), NULL, 10), PQgetvalue(res, i, c + 1));
}

int units_mem_load(worker *w, long long as_of, char *err, size_t errlen) {
    PGresult *res =
        db_exec(w, "SELECT " EVENTS_UNIT_PAYLOAD("u", "'load'") "::text FROM units u", 0, NULL);
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
    " round(greatest(0, extract(epoch FROM now() - u.position_at))::numeric, 1)::float8,"              \
    " u.speed_mps, u.heading, to_json(u.updated_at)#>>'{}',"                                           \
    " (SELECT coalesce(json_agg(json_build_object('id', m.id, 'username', m.username) ORDER BY m.id)," \
    " '[]') FROM users m WHERE m.unit_id = u.id),"                                                     \
    " (SELECT max(r.id) FROM reports r WHERE r.unit_id = u.id"                                         \
    " AND r.status IN (" VOCAB_SQL_ANY(                                                                \
        "ReportStatus",                                                                                \
        VOCAB_HOLDS_UNIT) ")),"                                                                        \
                          " u.app_queue_length, to_json(u.app_queue_oldest_at)#>>'{}',"                \
                          " to_json(u.app_queue_at)#>>'{}', u.agency_id, u.vehicle"
#define UNIT_FROM " FROM units u LEFT JOIN stations s ON s.id = u.station_id"

/* The patrol app's queue as its phone last reported it (columns c..c+2: length, oldest_at,
 * reported_at), or null when it never did. */
static json_t *app_queue_json(PGresult *res, int i, int c) {
    if (!val(res, i, c + 2)) return json_null();
    return json_pack("{s:i,s:s?,s:s}", "length", atoi(val(res, i, c)), "oldest_at",
                     val(res, i, c + 1), "reported_at", val(res, i, c + 2));
}

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
    json_object_set_new(o, "app_queue", app_queue_json(res, i, 16));
    json_object_set_new(o, "agency_id",
                        val(res, i, 19) ? json_integer(strtoll(val(res, i, 19), NULL, 10))
                                        : json_null());
    json_object_set_new(o, "vehicle", val(res, i, 20) ? json_string(val(res, i, 20)) : json_null());
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
        if (!vocab_code_within(div->s, prefix)) /* outside: nothing there, as if empty */
            return http_json(r, 200, json_pack("{s:[],s:n}", "items", "next"));
        snprintf(prefix, sizeof prefix, "%s", div->prefix);
    }
    char afters[24], lims[16];
    snprintf(afters, sizeof afters, "%lld", after);
    snprintf(lims, sizeof lims, "%d", limit + 1);
    const char *p[] = {prefix, status, afters, lims};
    PGresult *q =
        db_exec(r->w,
                "SELECT " UNIT_COLUMNS UNIT_FROM " WHERE " VOCAB_CODE_WITHIN_SQL(
                    "u.division_code", "$1") " AND ($2::text IS NULL OR u.status = $2)"
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

int units_json(worker *w, long long id, gis_crs crs, json_t **out) {
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    const char *p[] = {ids};
    PGresult *q = db_exec(w, "SELECT " UNIT_COLUMNS UNIT_FROM " WHERE u.id = $1::bigint", 1, p);
    if (!q) return -1;
    int found = PQntuples(q) == 1;
    if (found) *out = unit_row_json(q, 0, crs);
    PQclear(q);
    return found;
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
        " AND status NOT IN (" VOCAB_SQL_ANY(
            "UnitStatus",
            VOCAB_HOLDS_UNIT) ") RETURNING *),"
                              " e AS (" EVENTS_UNIT_INSERT(
                                  EK_UNIT_UPDATED, "u",
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
    units_mem_apply_rows(q, 1);
    PQclear(q);
    q = NULL;
    if ((rc = unit_load_visible(r, &id, &q))) return rc;
    json_t *o = unit_row_json(q, 0, GIS_CRS_WGS84);
    PQclear(q);
    return http_json(r, 200, o);
}

/* ---- positions ---- */

/* A fix in the future by more than FUTURE_SLACK_S is refused (a phone with a fast clock); one
 * within it is stored, but the unit's position_at is never later than now. The speed check judges
 * a fix against JUDGE_WINDOW neighbours in time, the stored ones included: up to NEIGHBOURS before
 * and after the batch (within NEIGHBOUR_S) and up to 4,000 between its first and last fix. */
enum { FUTURE_SLACK_S = 30, JUDGE_WINDOW = 32, NEIGHBOURS = 32, NEIGHBOUR_S = 3600 };

typedef struct fix {
    double at, lon, lat;
    double speed, heading, acc; /* NAN when not given */
    int ord;                    /* index in the request */
    int flagged;
    int dup; /* a fix at this time is stored already: not inserted, not judged again */
} fix;

/* A fix refused alone: its index in the request and the error it would have answered alone. */
typedef struct refusal {
    int index, status;
    char code[48], field[64], message[256];
} refusal;

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

static int refuse(refusal *e, int i, int status, const char *code, const char *field,
                  const char *msg) {
    e->index = i, e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->field, sizeof e->field, "positions[%d]%s%s", i, field && *field ? "." : "",
             field ? field : "");
    snprintf(e->message, sizeof e->message, "%s", msg);
    return -1;
}

/* Fix i of the request into *f, given the door's verdict on its shape (se, NULL when it passed):
 * 0, or -1 with *e (the fix is refused alone). */
static int parse_fix(const shape_error *se, json_t *o, int i, fix *f, double oldest, double newest,
                     refusal *e) {
    memset(f, 0, sizeof *f);
    f->ord = i;
    if (se) return refuse(e, i, se->status, se->code, se->field, se->message);
    json_t *loc = json_object_get(o, "location");
    double lon = json_number_value(json_object_get(loc, "lon"));
    double lat = json_number_value(json_object_get(loc, "lat"));
    if (gis_to_wgs84(shape_crs(loc, "crs"), lon, lat, &f->lon, &f->lat) != 0)
        return refuse(e, i, 400, "invalid_field", "location",
                      "the location cannot be converted to WGS-84");
    opt_num(o, "accuracy_m", &f->acc);
    if (isnan(f->acc)) opt_num(loc, "accuracy_m", &f->acc);
    opt_num(o, "speed_mps", &f->speed);
    opt_num(o, "heading", &f->heading);
    f->at = shape_time(o, "at");
    if (f->at > newest)
        return refuse(e, i, 400, "invalid_field", "at",
                      "at is in the future (the phone's clock is ahead of the server's)");
    if (f->at < oldest)
        return refuse(e, i, 400, "invalid_field", "at", "at is older than the positions kept");
    return 0;
}

/* Appends "{a,b,...}" of the fixes' values (NULL for NAN) to b, dup fixes left out. */
static void put_array(buf *b, const fix *v, int n, size_t off, const char *fmt) {
    int k = 0;
    buf_put(b, "{", 1);
    for (int i = 0; i < n; i++) {
        double d = *(const double *)((const char *)&v[i] + off);
        if (v[i].dup) continue;
        if (k++) buf_put(b, ",", 1);
        if (isnan(d))
            buf_str(b, "NULL");
        else
            buf_printf(b, fmt, d);
    }
    buf_put(b, "}", 1);
}

/* The unit of a positions post, from memory (asked of the database when created a moment ago
 * elsewhere), when r's user may post for it: its own patrol members, or staff in scope (a tracker
 * gateway). Returns 0 with *u, or the status sent. */
static int positions_unit(http_req *r, long long id, umem *u) {
    if (!mem_get(id, u)) {
        char ids0[24];
        snprintf(ids0, sizeof ids0, "%lld", id);
        const char *p0[] = {ids0};
        PGresult *q = db_exec(r->w,
                              "SELECT " EVENTS_UNIT_PAYLOAD(
                                  "u", "'load'") "::text FROM units u WHERE id = $1::bigint",
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

/* Stores the fixes, the coverage deltas, moves the unit and appends its event (one statement). */
#define POSITIONS_COVERAGE COVERAGE_DELTA_INSERT("$15", "$16", "$17", "$18", "$19", "$20")
static const char positions_sql[] =
    "WITH x AS (SELECT * FROM unnest($2::float8[], $3::float8[], $4::float8[], $5::real[], $6::real[],"
    " $7::real[], $8::boolean[]) AS x(t, lon, lat, acc, speed, heading, flagged)),"
    " ins AS (INSERT INTO unit_positions (unit_id, at, geom, accuracy_m, speed_mps, heading, flagged)"
    " SELECT $1::bigint, to_timestamp(t), ST_SetSRID(ST_MakePoint(lon, lat), 4326), acc, speed, heading,"
    " flagged FROM x ON CONFLICT DO NOTHING RETURNING 1),"
    " cov AS (" POSITIONS_COVERAGE "),"
    " u AS (UPDATE units SET position = ST_SetSRID(ST_MakePoint($10::float8, $11::float8), 4326),"
    " position_at = least(to_timestamp($9::float8), now()), speed_mps = $12::real, heading = $13::real,"
    " updated_at = now() WHERE id = $1::bigint AND $9::float8 IS NOT NULL AND (position_at IS NULL"
    " OR position_at < least(to_timestamp($9::float8), now()) OR position_at = ANY($14::timestamptz[]))"
    " RETURNING *),"
    " e AS (" EVENTS_UNIT_INSERT(
        EK_UNIT_POSITION, "u",
        "'position'") " FROM u RETURNING id,"
                      " payload::text) SELECT (SELECT count(*) FROM ins), e.id, e.payload, EXISTS (SELECT 1 FROM"
                      " patrol_plan_units WHERE unit_id = $1::bigint) FROM (SELECT 1) o"
                      " LEFT JOIN e ON true";

/* The unit's stored fixes around the batch (first .. last): up to NEIGHBOURS before and after
 * (within NEIGHBOUR_S) and those between, in time order: at (text, as the database writes it),
 * epoch, lon, lat, flagged ('t'/'f'). NULL on a database error. */
static PGresult *stored_around(worker *w, const char *ids, double first, double last) {
    char a[32], b[32], span[16], lim[16];
    snprintf(a, sizeof a, "%.6f", first), snprintf(b, sizeof b, "%.6f", last);
    snprintf(span, sizeof span, "%d", NEIGHBOUR_S), snprintf(lim, sizeof lim, "%d", NEIGHBOURS);
    const char *p[] = {ids, a, b, span, lim};
    return db_exec(
        w,
        "SELECT at::text, extract(epoch FROM at)::float8, ST_X(geom), ST_Y(geom), flagged FROM ("
        "(SELECT at, geom, flagged FROM unit_positions WHERE unit_id = $1::bigint"
        " AND at < to_timestamp($2::float8) AND at >= to_timestamp($2::float8 - $4::int)"
        " ORDER BY at DESC LIMIT $5::int) UNION ALL"
        " (SELECT at, geom, flagged FROM unit_positions WHERE unit_id = $1::bigint"
        " AND at >= to_timestamp($2::float8) AND at <= to_timestamp($3::float8) ORDER BY at LIMIT 4000)"
        " UNION ALL (SELECT at, geom, flagged FROM unit_positions WHERE unit_id = $1::bigint"
        " AND at > to_timestamp($3::float8) AND at <= to_timestamp($3::float8 + $4::int)"
        " ORDER BY at LIMIT $5::int)) s ORDER BY at",
        5, p);
}

/* A stored fix around a batch: from stored_around's rows, or the unit's position (at NULL). */
typedef struct stored_fix {
    double t, lon, lat;
    int flagged;
    const char *at; /* its time as the database writes it (borrowed from the result) */
} stored_fix;

/* stored_around's rows as stored fixes (*ns of them; the caller frees). NULL on out of memory. */
static stored_fix *stored_list(PGresult *st, int *ns) {
    *ns = PQntuples(st);
    stored_fix *out = malloc((size_t)(*ns ? *ns : 1) * sizeof *out);
    for (int k = 0; out && k < *ns; k++)
        out[k] = (stored_fix){atof(PQgetvalue(st, k, 1)), atof(PQgetvalue(st, k, 2)),
                              atof(PQgetvalue(st, k, 3)), PQgetvalue(st, k, 4)[0] == 't',
                              PQgetvalue(st, k, 0)};
    return out;
}

/* A batch judged with the stored fixes around it. */
typedef struct judged {
    gis_fix *pt;         /* the batch's fixes (dups left out) and the stored ones, time order */
    int *src;            /* per point: index in the batch (>= 0), or -1 - the stored one */
    unsigned char *keep; /* per point: on the believable track */
    size_t n;
    buf reflag, unflag;   /* stored fixes the judgement flags / clears: timestamptz[] literals */
    int revised, flagged; /* stored fixes revised; batch fixes flagged */
    double revised_lo, revised_hi; /* the revised ones' first and last time */
    long newest;                   /* the newest kept point, or -1 */
} judged;

static void judged_free(judged *j) {
    free(j->pt), free(j->src), free(j->keep);
    buf_free(&j->reflag), buf_free(&j->unflag);
    memset(j, 0, sizeof *j);
}

static long long micros(double t) {
    return llround(t * 1e6);
}

/* Merges the batch v[0..m) (time order) with the stored fixes st[0..ns) into j->pt; a batch fix at
 * a stored time is a dup. Returns 0 or -1 (out of memory). */
static int merge_track(fix *v, int m, const stored_fix *st, int ns, judged *j) {
    int i = 0, k = 0;
    size_t cap = (size_t)(m + ns) + 1;
    if (!(j->pt = malloc(cap * sizeof *j->pt)) || !(j->src = malloc(cap * sizeof *j->src)) ||
        !(j->keep = malloc(cap)))
        return -1;
    while (i < m || k < ns) {
        double ts = k < ns ? st[k].t : INFINITY;
        if (i < m && k < ns && micros(v[i].at) == micros(ts)) v[i].dup = 1;
        if (i < m && v[i].dup) {
            i++;
            continue;
        }
        gis_fix *f = &j->pt[j->n];
        if (i < m && v[i].at < ts) {
            *f = (gis_fix){v[i].at, v[i].lon, v[i].lat, NAN, NAN};
            j->src[j->n++] = i++;
        } else {
            *f = (gis_fix){ts, st[k].lon, st[k].lat, NAN, NAN};
            j->src[j->n++] = -1 - k++;
        }
    }
    return 0;
}

/* The speed check over the merged track: flags the batch's fixes off the believable track, lists
 * the stored fixes whose flag changes, finds the newest kept point. Returns 0 or -1. */
static int judge_batch(const config *cfg, fix *v, int m, const stored_fix *st, int ns, judged *j) {
    for (int i = 0; i < m; i++)
        v[i].dup = v[i].flagged = 0;
    if (merge_track(v, m, st, ns, j) != 0 ||
        gis_track_judge(j->pt, j->n, cfg->max_fix_speed_mps, JUDGE_WINDOW, j->keep, NULL, 0) != 0)
        return -1;
    j->newest = -1;
    buf_str(&j->reflag, "{"), buf_str(&j->unflag, "{");
    for (size_t k = 0; k < j->n; k++) {
        if (j->keep[k]) j->newest = (long)k;
        if (j->src[k] >= 0) {
            j->flagged += v[j->src[k]].flagged = !j->keep[k];
            continue;
        }
        const stored_fix *f = &st[-1 - j->src[k]];
        if (f->flagged == !j->keep[k]) continue;
        buf *b = f->flagged ? &j->unflag : &j->reflag;
        buf_printf(b, "%s\"%s\"", b->len > 1 ? "," : "", f->at ? f->at : "");
        if (!j->revised++) j->revised_lo = j->pt[k].t;
        j->revised_hi = j->pt[k].t;
    }
    buf_str(&j->reflag, "}"), buf_str(&j->unflag, "}");
    return j->reflag.oom || j->unflag.oom ? -1 : 0;
}

/* Judges the batch: first against the unit's position alone when the batch comes after it (a
 * phone streaming: no query), and when that keeps every fix and the position, that is the answer;
 * otherwise (a glitch, a late batch, no position) against the stored fixes around it (*st, the
 * caller clears it). Returns 0, -1 out of memory, or -2 on a database error. */
static int judge(worker *w, const umem *u, const char *ids, fix *v, int m, judged *j, PGresult **st,
                 stored_fix **sf) {
    const config *cfg = &w->app->cfg;
    int ns;
    if (u->has_pos && u->pos_epoch < v[0].at && v[0].at - u->pos_epoch <= NEIGHBOUR_S) {
        *sf = malloc(sizeof **sf);
        if (!*sf) return -1;
        **sf = (stored_fix){u->pos_epoch, u->lon, u->lat, 0, NULL};
        if (judge_batch(cfg, v, m, *sf, 1, j) != 0) return -1;
        if (!j->flagged && !j->revised) return 0;
        judged_free(j);
        free(*sf);
        *sf = NULL;
    }
    if (!(*st = stored_around(w, ids, v[0].at, v[m - 1].at))) return -2;
    if (!(*sf = stored_list(*st, &ns))) return -1;
    return judge_batch(cfg, v, m, *sf, ns, j);
}

/* The coverage rows of the judged track: its kept points projected to the areas' metres, the
 * batch's new fixes and the stored ones judged believable again painted and counted. Returns 0,
 * -1 (out of memory) or -2 (the fixes spread over more community-days than coverage_max_mb / 3
 * holds: the bitmaps, then twice that as hex; a phone's walk never comes near). */
static int track_coverage(worker *w, const gis_areas *s, const judged *j, const stored_fix *st,
                          coverage_rows *out) {
    gis_fix *t = malloc((j->n ? j->n : 1) * sizeof *t);
    unsigned char *mark = malloc(j->n ? j->n : 1);
    size_t n = 0;
    int rc = -1;
    if (!t || !mark) goto done;
    for (size_t k = 0; k < j->n; k++) {
        char err[128];
        if (!j->keep[k]) continue;
        t[n] = j->pt[k];
        if (gis_proj_to_gk(w->proj, gis_areas_epsg(s), t[n].lon, t[n].lat, &t[n].x, &t[n].y, err,
                           sizeof err) != 0)
            continue; /* far outside the zone: no community there */
        mark[n++] =
            j->src[k] >= 0 || st[-1 - j->src[k]].flagged ? COVERAGE_PAINT | COVERAGE_COUNT : 0;
    }
    rc = coverage_track_rows(s, t, mark, n, ((size_t)w->app->cfg.coverage_max_mb << 20) / 3, out);
done:
    free(t);
    free(mark);
    return rc;
}

/* The stored fixes the judgement revised ($2 now flagged, $3 flagged no more): their times bound
 * the statement to their days' partitions (an UPDATE by unit alone would open every day's). */
static const char revise_sql[] =
    "UPDATE unit_positions SET flagged = (at = ANY($2::timestamptz[])) WHERE unit_id = $1::bigint"
    " AND at >= to_timestamp($4::float8) AND at <= to_timestamp($5::float8)"
    " AND (at = ANY($2::timestamptz[]) OR at = ANY($3::timestamptz[]))";

/* The columns of positions_sql's x: v's fixes (dups left out) as array literals in a[0..7). */
static void fix_arrays(buf a[7], const fix *v, int m) {
    put_array(&a[0], v, m, offsetof(fix, at), "%.6f");
    put_array(&a[1], v, m, offsetof(fix, lon), "%.9f");
    put_array(&a[2], v, m, offsetof(fix, lat), "%.9f");
    put_array(&a[3], v, m, offsetof(fix, acc), "%.2f");
    put_array(&a[4], v, m, offsetof(fix, speed), "%.3f");
    put_array(&a[5], v, m, offsetof(fix, heading), "%.2f");
    buf_put(&a[6], "{", 1);
    for (int i = 0, k = 0; i < m; i++)
        if (!v[i].dup)
            buf_str(&a[6], k++ ? (v[i].flagged ? ",t" : ",f") : (v[i].flagged ? "t" : "f"));
    buf_put(&a[6], "}", 1);
}

/* Runs positions_sql with p, after revise_sql in the same transaction when j revised stored fixes.
 * Returns the result or NULL (w's error). */
static PGresult *store_once(worker *w, const char *ids, const judged *j, const char *const *p) {
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%.6f", j->revised_lo), snprintf(hi, sizeof hi, "%.6f", j->revised_hi);
    const char *pr[] = {ids, j->reflag.p, j->unflag.p, lo, hi};
    if (!j->revised) return db_exec(w, positions_sql, 20, p);
    if (db_begin(w) != 0 || db_command(w, revise_sql, 5, pr) != 0) {
        db_rollback(w);
        return NULL;
    }
    PGresult *q = db_exec(w, positions_sql, 20, p);
    if (!q || db_commit(w) != 0) {
        db_rollback(w);
        PQclear(q);
        return NULL;
    }
    return q;
}

/* Stores the batch's fixes v[0..m) (dups left out), the stored fixes' new flags and the coverage
 * rows, and moves the unit to the newest kept point (none: j->newest -1), creating the day
 * partitions when missing. Returns the result, or NULL: w's error set, or *oom. */
static PGresult *store_fixes(worker *w, const char *ids, const fix *v, int m, const judged *j,
                             const coverage_rows *cov, int *oom) {
    buf a[7] = {{0}};
    PGresult *q = NULL;
    fix_arrays(a, v, m);
    *oom = cov->oom;
    for (int i = 0; i < 7; i++)
        *oom |= a[i].oom;
    char nt[32] = "", nlon[32] = "", nlat[32] = "", nsp[32] = "", nhd[32] = "";
    if (j->newest >= 0) {
        const gis_fix *p = &j->pt[j->newest];
        const fix *f = j->src[j->newest] >= 0 ? &v[j->src[j->newest]] : NULL;
        snprintf(nt, sizeof nt, "%.6f", p->t);
        snprintf(nlon, sizeof nlon, "%.9f", p->lon), snprintf(nlat, sizeof nlat, "%.9f", p->lat);
        if (f && !isnan(f->speed)) snprintf(nsp, sizeof nsp, "%.3f", f->speed);
        if (f && !isnan(f->heading)) snprintf(nhd, sizeof nhd, "%.2f", f->heading);
    }
    const char *p[] = {ids,
                       a[0].p,
                       a[1].p,
                       a[2].p,
                       a[3].p,
                       a[4].p,
                       a[5].p,
                       a[6].p,
                       *nt ? nt : NULL,
                       *nt ? nlon : NULL,
                       *nt ? nlat : NULL,
                       *nsp ? nsp : NULL,
                       *nhd ? nhd : NULL,
                       j->reflag.p,
                       cov->code.p,
                       cov->day.p,
                       cov->grid.p,
                       cov->bits.p,
                       cov->last_at.p,
                       cov->fixes.p};
    for (int attempt = 0; attempt < 3 && !q && !*oom; attempt++) {
        q = store_once(w, ids, j, p);
        if (!q && attempt < 2 && db_failed_with(w, "23514")) { /* no partition for a day yet */
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

/* Keeps the envelope's "queue" ({length, oldest_at}: the patrol app's unsent items) on unit ids
 * (migration 0013); nothing when the batch has none. Returns 0 or -1 (w->err). */
static int store_app_queue(worker *w, const char *ids, json_t *queue) {
    if (!json_is_object(queue)) return 0;
    char len[24];
    json_int_t n = json_integer_value(json_object_get(queue, "length"));
    snprintf(len, sizeof len, "%lld", (long long)n);
    const char *oldest = json_string_value(json_object_get(queue, "oldest_at"));
    const char *p[] = {ids, len, n > 0 ? oldest : NULL};
    return db_command(w,
                      "UPDATE units SET app_queue_length = $2::int, app_queue_oldest_at ="
                      " $3::timestamptz, app_queue_at = now() WHERE id = $1::bigint",
                      3, p);
}

/* Parses every fix of the request: the valid ones into v (*m of them, in time order, repeats of a
 * time dropped: the first sent wins, as the database keeps the first stored), the refused ones
 * into e (*ne). */
static void parse_batch(json_t *arr, const shape_error *const *verdicts, size_t n, double now,
                        int keep_days, fix *v, int *m, refusal *e, int *ne) {
    double oldest = now - 86400.0 * (keep_days > 0 ? keep_days : 1);
    *m = *ne = 0;
    for (size_t i = 0; i < n; i++)
        if (parse_fix(verdicts[i], json_array_get(arr, i), (int)i, &v[*m], oldest,
                      now + FUTURE_SLACK_S, &e[*ne]) == 0)
            (*m)++;
        else
            (*ne)++;
    qsort(v, (size_t)*m, sizeof *v, fix_cmp);
    int k = 0;
    for (int i = 0; i < *m; i++)
        if (k == 0 || v[i].at != v[k - 1].at) v[k++] = v[i];
    *m = k;
}

/* The reply: counts (received, stored, duplicates, flagged, refused, revised, moved) and each
 * refused fix's error with its index. */
static json_t *positions_reply(size_t n, const refusal *e, int ne, const judged *j, PGresult *q) {
    int stored = atoi(PQgetvalue(q, 0, 0)), flagged = j->flagged;
    json_t *errors = json_array();
    for (int i = 0; i < ne; i++)
        json_array_append_new(errors,
                              json_pack("{s:i,s:s,s:s,s:s}", "index", e[i].index, "code", e[i].code,
                                        "field", e[i].field, "message", e[i].message));
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:b,s:o}", "received", (int)n, "stored", stored,
                     "duplicates", (int)n - ne - stored, "flagged", flagged, "refused", ne,
                     "revised", j->revised, "moved", !PQgetisnull(q, 0, 1), "errors", errors);
}

/* POST /api/v1/units/{id}/positions {"positions":[{location, at, speed_mps, heading, accuracy_m}],
 * "queue"?: {length, oldest_at}} Each fix stands alone: a refused one is listed in `errors` and the rest are stored (all refused:
 * the first one's 400). */
int h_units_positions(http_req *r) {
    long long id;
    fix *v = NULL;
    refusal *e = NULL;
    judged j = {0};
    coverage_rows cov = {0};
    PGresult *st = NULL, *q = NULL;
    stored_fix *sf = NULL;
    const gis_areas *areas = NULL;
    int rc, oom, m, ne;
    json_t *arr = r->items; /* the door checked the envelope and judged each fix */
    size_t n = json_array_size(arr);
    umem u;
    if ((rc = param_path_id(r, 0, "unit", &id)) || (rc = positions_unit(r, id, &u))) return rc;
    if (!(v = calloc(n, sizeof *v)) || !(e = calloc(n, sizeof *e))) {
        rc = http_error(r, 500, "internal", NULL, "out of memory");
        goto done;
    }
    parse_batch(arr, (const shape_error *const *)r->item_errors, n, now_epoch(),
                r->app->cfg.position_retention_days, v, &m, e, &ne);
    if (m == 0) {
        rc = http_error(r, e[0].status, e[0].code, e[0].field, "%s", e[0].message);
        goto done;
    }
    if (!(areas = coverage_acquire())) {
        rc = http_error_retry(r, 503, 2, "starting", NULL, "coverage areas are being loaded");
        goto done;
    }
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", id);
    if ((rc = judge(r->w, &u, ids, v, m, &j, &st, &sf)) == -2) {
        rc = http_db_error(r);
        goto done;
    }
    if (rc == -1 || (rc = track_coverage(r->w, areas, &j, sf, &cov)) == -1) {
        rc = http_error(r, 500, "internal", NULL, "out of memory");
        goto done;
    }
    if (rc == -2) {
        rc = http_error(
            r, 413, "too_spread", "positions",
            "these fixes cover too many communities and days at once: send smaller batches");
        goto done;
    }
    if (!(q = store_fixes(r->w, ids, v, m, &j, &cov, &oom))) {
        rc = oom ? http_error(r, 500, "internal", NULL, "out of memory") : http_db_error(r);
        goto done;
    }
    units_mem_apply_rows(q, 1);
    if (PQgetvalue(q, 0, 3)[0] == 't') server_kick(&r->app->patrols_noted); /* the scorer wakes */
    if (store_app_queue(r->w, ids, json_object_get(r->json, "queue")) != 0) {
        rc = http_db_error(r);
        goto done;
    }
    rc = http_json(r, 200, positions_reply(n, e, ne, &j, q));
done:
    coverage_release(areas);
    coverage_rows_free(&cov);
    judged_free(&j);
    free(sf);
    PQclear(st);
    PQclear(q);
    free(v);
    free(e);
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
 * (prefix: the caller's significant code prefix; the scope rule, vocab_code_within). */
static int eligible(const umem *u, const char *prefix) {
    return u->has_pos && strcmp(u->status, vocab_code(&VOCAB_UNIT_STATUS, US_AVAILABLE)) == 0 &&
           vocab_code_within(u->division, prefix);
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
    unit_vector(lon, lat, &px, &py, &pz);
    cand *short_list = NULL;
    size_t nshort = 0, cap = 0;
    pthread_rwlock_rdlock(&mem_mu);
    for (size_t i = 0; i < mem_n; i++) { /* pass 1: the k largest dot products */
        const umem *u = &mem_v[i];
        if (!eligible(u, prefix)) continue;
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
        if (!eligible(u, prefix) || px * u->ux + py * u->uy + pz * u->uz < min_dot) continue;
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
