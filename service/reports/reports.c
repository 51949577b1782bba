/* reports.c - report creation: validation, location and routing, idempotent creation (single and
 * batch).
 *
 * Threads: every function runs on a CivetWeb worker with that thread's worker (PGconn, locator).
 *
 * Creation (report_submit, batch): each item is validated and located in C (gis_locate on the
 * worker's own locator), then ONE statement inserts every item of the request:
 *   WITH x AS (jsonb_to_recordset), ins AS (INSERT INTO reports ... ON CONFLICT (client_id) DO NOTHING
 *   RETURNING *), ev AS (INSERT INTO report_events 'created'), le AS (INSERT INTO events
 *   report.created) SELECT REPORT_COLUMNS, possible_duplicates FROM ins
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
 * The live event of a creation is report.created in the one report-event shape (events_append.h).
 * Reads are in report_read.c, the serializer in report_json.c, later changes in lifecycle.c. */
#include "service/reports/reports.h"
#include "service/reports/report_json.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/index.h"
#include "service/core/audit.h"
#include "service/core/db.h"
#include "service/core/events_append.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/shapes.h"

enum { MAX_DUPS = 20 };

#define tier_name(t) vocab_code(&VOCAB_TIER, (size_t)(t))

/* ---- small helpers ---- */

/* report_error is a shape_error: one way to fill it, one character count (shapes.c) */
#define fail shape_fail
#define utf8_chars shape_utf8_chars

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

/* Locates body, which the door judged against SHAPE_REPORT (verdict: NULL when it passed, else
 * why not), and fills it->rec. Returns 0, or -1 with it->err (it->client_id_ok when the key passed:
 * a stored copy still answers). */
static int validate_item(worker *w, json_t *body, int ord, const shape_error *verdict, item *it) {
    report_error *e = &it->err;
    const config *cfg = &w->app->cfg;
    if (verdict) *e = *verdict;
    if (verdict && !shape_key_passed(&SHAPE_REPORT, verdict)) return -1;
    shape_uuid(body, "client_id", it->client_id);
    it->client_id_ok = 1;
    if (verdict) return -1;

    const char *category = json_string_value(json_object_get(body, "category"));
    json_t *loc = json_object_get(body, "location");
    double lon = json_number_value(json_object_get(loc, "lon"));
    double lat = json_number_value(json_object_get(loc, "lat"));
    gis_crs crs = shape_crs(loc, "crs");
    json_t *acc = json_object_get(loc, "accuracy_m");
    double wlon, wlat;
    if (gis_to_wgs84(crs, lon, lat, &wlon, &wlat) != 0)
        return fail(e, 400, "invalid_location", "location",
                    "the location cannot be converted to WGS-84");
    double observed = shape_time(body, "observed_at");
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
        json_object_set_new(rec, "ack_s",
                            json_integer(vocab_tier_ack_s(cfg, (size_t)where.station->tier)));
        it->station_name = strdup(where.station->name);
    }
    it->rec = rec;
    it->valid = 1;
    return 0;
}

/* ---- the one insert statement ---- */

#define DUPS_COLUMN DUPS_EXPR("$4", "$5", "$7", "$8")

/* The columns of a created row: REPORT_COLUMNS without the name subqueries (put_names fills them). */
#define REPORT_COLUMNS_BARE                                                                        \
    REPORT_COLUMNS_NAMED("NULL::text", "NULL::text", "NULL::text", "NULL::text", "NULL::text",     \
                         "NULL::text")

/* The audit row and the live event of every row of `ins`; actor id A, actor name N. */
#define CREATED_EVENTS(A, N, LE_ORDER)                                                                          \
    " ev AS (INSERT INTO report_events (report_id, type, actor_id, actor, at, from_status, to_status, details)" \
    " SELECT i.id, " VOCAB_SQL_TERM(                                                                            \
        "TimelineType",                                                                                         \
        TL_CREATED) ", " A "::bigint, " N "::text, i.received_at, NULL, i.status,"                              \
                    " json_build_object('station_id', i.station_id, 'tier', i.tier, 'source', i.source,"        \
                    " 'ack_deadline', i.ack_deadline) FROM ins i),"                                             \
                    " le AS (" EVENTS_REPORT_INSERT(EK_REPORT_CREATED, "i",                                     \
                                                    VOCAB_SQL_TERM("TimelineType", TL_CREATED),                 \
                                                    "'{}'::jsonb") " FROM ins i" LE_ORDER ")"

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

/* The insert statement for the records recs (one: insert_one_sql with plain parameters; more:
 * insert_sql with a jsonb recordset). Returns its result, or NULL on failure (w->err). */
static PGresult *run_insert(worker *w, const auth_user *actor, const char *actor_name,
                            const char *source, json_t *recs) {
    char actor_id[24], window[16], radius[32], prefix[13] = "";
    snprintf(actor_id, sizeof actor_id, "%lld", actor ? actor->id : 0);
    if (actor) vocab_code_prefix(actor->division_code, prefix);
    const char *vis_prefix = actor ? prefix : NULL, *vis_id = actor ? actor_id : NULL;
    const char *by = actor && actor->id ? actor_id : NULL;
    snprintf(window, sizeof window, "%d", w->app->cfg.dup_window_s);
    snprintf(radius, sizeof radius, "%.3f", w->app->cfg.dup_radius_m);
    PGresult *res = NULL;
    if (json_array_size(recs) > 1) {
        char *recs_s = json_dumps(recs, JSON_COMPACT);
        if (!recs_s) return NULL;
        const char *params[] = {recs_s, actor_name, by, window, radius, source, vis_prefix, vis_id};
        res = db_exec(w, insert_sql, 8, params);
        free(recs_s);
        return res;
    }
    json_t *rec = json_array_get(recs, 0);
    char *vals[NREC_KEYS];
    const char *params[NREC_KEYS + 7];
    int oom = 0;
    for (int k = 0; k < NREC_KEYS; k++)
        params[k] = vals[k] = param_text(json_object_get(rec, rec_keys[k]), &oom);
    const char *tail[] = {source, by, actor_name, window, radius, vis_prefix, vis_id};
    memcpy(params + NREC_KEYS, tail, sizeof tail);
    if (!oom) res = db_exec(w, insert_one_sql, NREC_KEYS + 7, params);
    for (int k = 0; k < NREC_KEYS; k++)
        free(vals[k]);
    if (oom) {
        snprintf(w->err, sizeof w->err, "out of memory");
        snprintf(w->sqlstate, sizeof w->sqlstate, "53200");
    }
    return res;
}

static const char existing_sql[] =
    "SELECT " REPORT_COLUMNS " FROM reports r WHERE r.client_id = ANY ($1::uuid[])";

/* Reads the stored reports of the client_ids in lookup (items not created by this statement) and
 * answers those items: existing (status 0), or 409 client_id_conflict when `actor` may not see
 * the stored report (no data: it is not even turned into JSON). Returns 0, or -1 (w->err). */
static int read_existing(worker *w, const auth_user *actor, item *items, size_t n, json_t *lookup) {
    /* "{uuid,uuid}": UUIDs need no quoting */
    char *lookup_s = malloc(3 + json_array_size(lookup) * 37), *p = lookup_s;
    if (!lookup_s) return -1;
    *p++ = '{';
    for (size_t k = 0; k < json_array_size(lookup); k++) {
        if (k) *p++ = ',';
        memcpy(p, json_string_value(json_array_get(lookup, k)), 36);
        p += 36;
    }
    *p++ = '}', *p = 0;
    const char *params[] = {lookup_s};
    PGresult *ex = db_exec(w, existing_sql, 1, params);
    free(lookup_s);
    if (!ex) return -1;
    json_t *found = json_object();
    for (int row = 0; row < PQntuples(ex); row++)
        json_object_set_new(found, PQgetvalue(ex, row, REPORT_COL_CLIENT_ID),
                            !actor || report_row_visible(actor, ex, row)
                                ? report_row_json(ex, row, GIS_CRS_WGS84)
                                : json_false());
    PQclear(ex);
    for (size_t i = 0; i < n; i++) {
        json_t *rep;
        if (items[i].status == 1 || !items[i].client_id_ok ||
            !(rep = json_object_get(found, items[i].client_id)))
            continue;
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
    json_decref(found);
    return 0;
}

/* Inserts every valid item of items[0..n) in one statement, then reads back the existing ones.
 * Items already answered (valid == 0 and client_id_ok == 0) are skipped. Returns 0, or -1 on a
 * database failure (nothing written). */
static int insert_items(worker *w, const auth_user *actor, const char *actor_name,
                        const char *source, item *items, size_t n) {
    int rc = -1;
    PGresult *res = NULL;
    json_t *recs = json_array(), *created = json_object(), *lookup = json_array();
    for (size_t i = 0; i < n; i++)
        if (items[i].valid) json_array_append(recs, items[i].rec);
    if (json_array_size(recs)) {
        if (!(res = run_insert(w, actor, actor_name, source, recs))) goto done;
        for (int row = 0; row < PQntuples(res); row++) {
            json_t *rep = report_row_json(res, row, GIS_CRS_WGS84);
            json_object_set_new(rep, "possible_duplicates",
                                rj_parse_or(rj_val(res, row, REPORT_NCOLS), json_array()));
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
    if (json_array_size(lookup) && read_existing(w, actor, items, n, lookup) != 0) goto done;
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
    PQclear(res);
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
                  json_t *body, const report_error *verdict, json_t **out, report_error *e) {
    item it;
    memset(&it, 0, sizeof it);
    it.status = -1;
    *out = NULL;
    if (validate_item(w, body, 0, verdict, &it) != 0 && !it.client_id_ok) {
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

/* POST /api/v1/reports?crs= */
int h_reports_create(http_req *r) {
    gis_crs crs = http_q(r, "crs")->crs;
    json_t *out;
    report_error e;
    int rc =
        report_submit(r->w, &r->user, r->user.username, "app", r->json, r->body_error, &out, &e);
    if (rc == -2) return http_db_error(r);
    if (rc == -1) return reply_error(r, &e);
    long long id = json_integer_value(json_object_get(out, "id"));
    if (rc == 0 && audit_read(r, AA_REPORT_GET, &id, 1) != 0) { /* a stored report goes out */
        json_decref(out);
        return http_db_error(r);
    }
    report_json_to_crs(out, crs);
    return http_json(r, rc == 1 ? 201 : 200, out);
}

static json_t *error_json(const report_error *e) {
    return json_pack("{s:s,s:s,s:s?}", "code", e->code, "message", e->message, "field", e->field);
}

/* POST /api/v1/reports/batch?crs= {"reports":[...]}: the door judged each item (r->item_errors) */
int h_reports_batch(http_req *r) {
    gis_crs crs = http_q(r, "crs")->crs;
    size_t n = json_array_size(r->items);
    item *items = calloc(n ? n : 1, sizeof *items);
    if (!items) return http_error(r, 500, "internal", NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        items[i].status = -1;
        validate_item(r->w, json_array_get(r->items, i), (int)i, r->item_errors[i], &items[i]);
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
    if (nexisting && audit_read(r, AA_REPORT_GET, existing, nexisting) != 0) {
        rc = http_db_error(r);
        goto done;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        json_t *res;
        if (it->report) {
            report_json_to_crs(it->report, crs);
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
