/* reports.c - report creation: validation, location and routing, idempotent creation (single and
 * batch).
 *
 * Threads: validation runs on a CivetWeb worker with that thread's worker (PGconn, locator); the
 * writes of the two routes and of Open311 (report_submit) on the report writer's thread (group.h,
 * reports_writer_thread).
 *
 * Creation (report_submit, batch): each item is validated and located in C (gis_locate on the
 * worker's own locator); the request then gives its slot back and hands its items to the report
 * writer, which writes the items of every request waiting at that moment (group commit: one
 * transaction, one WAL flush for all of them; report_group_commit = 0 writes each request on its
 * own slot instead) and wakes each request after the commit. ONE statement inserts every item of
 * the group, each row with its own sender (item_actor):
 *   WITH x AS (jsonb_to_recordset), ins AS (INSERT INTO reports ... ON CONFLICT (client_id) DO NOTHING
 *   RETURNING *), ev AS (INSERT INTO report_events 'created'), le AS (INSERT INTO events
 *   report.created) SELECT REPORT_COLUMNS, possible_duplicates FROM ins
 * A single statement is a single transaction: the report, its audit row and its live event are
 * committed together or not at all, and the reply is built from the committed rows. A statement
 * that fails on one row's data is run again on each half of the group, down to that item alone,
 * which fails alone (insert_created); a database failure fails the requests it touched (503/500,
 * nothing of theirs written unless already committed: their client_ids make a resend safe). Items whose
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
#include "service/core/group.h"
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
    int db_failed;      /* its answer was lost to a database failure (nothing of it written) */
    int db_down;        /* ...and that failure: the database unreachable, its SQLSTATE */
    char sqlstate[6];
    const auth_user *actor; /* who sends it (NULL: Open311): who may see a stored copy */
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

/* How item it came in (source, channel, contact) into its record, from body and the default
 * `source`: a report taken by phone ("source":"phone") is filed by staff only, with the line it
 * came on (channel) and the caller's call-back details (contact, optional); an app report has
 * neither. Returns 0, or -1 with it->err (the record dropped: nothing is written). */
static int item_intake(item *it, json_t *body, const auth_user *actor, const char *source) {
    json_t *src = json_object_get(body, "source"), *ch = json_object_get(body, "channel"),
           *contact = json_object_get(body, "contact");
    int phone = vocab_find(&VOCAB_REPORT_SOURCE,
                           json_is_string(src) ? json_string_value(src) : source) == SRC_PHONE;
    int has_ch = json_is_string(ch), has_contact = json_is_object(contact);
    if (phone && (!actor || !(actor->role & ROLE_STAFF)))
        fail(&it->err, 403, "forbidden", "source",
             "only dispatchers, supervisors and administrators file reports taken by phone");
    else if (phone && !has_ch)
        fail(&it->err, 400, "missing_field", "channel",
             "a report taken by phone needs the line the call came on (channel)");
    else if (!phone && (has_ch || has_contact))
        fail(&it->err, 400, "invalid_field", has_ch ? "channel" : "contact",
             "%s is only for a report taken by phone (\"source\": \"phone\")",
             has_ch ? "channel" : "contact");
    else {
        json_t *picked = has_contact ? shape_pick(&SHAPE_CONTACT, contact) : NULL;
        if (picked && !json_object_size(picked)) json_decref(picked), picked = NULL;
        json_object_set_new(
            it->rec, "source",
            json_string(phone ? vocab_code(&VOCAB_REPORT_SOURCE, SRC_PHONE) : source));
        json_object_set_new(it->rec, "channel", has_ch ? json_incref(ch) : json_null());
        json_object_set_new(it->rec, "contact", picked ? picked : json_null());
        return 0;
    }
    it->valid = 0;
    json_decref(it->rec);
    it->rec = NULL;
    return -1;
}

/* Who sends item it (whose body is `body`), into its record (the columns every row of a group
 * carries for itself): source, channel and contact (item_intake; `source` unless the body says
 * phone), created_by (NULL for nobody), actor_name (the audit row's actor), vis_prefix and vis_id
 * (possible_duplicates only within what actor may see; both NULL for a NULL actor: none). */
static void item_actor(item *it, json_t *body, const auth_user *actor, const char *actor_name,
                       const char *source) {
    char prefix[13] = "";
    it->actor = actor;
    if (!it->rec || item_intake(it, body, actor, source) != 0) return;
    if (actor) vocab_code_prefix(actor->division_code, prefix);
    json_object_set_new(it->rec, "created_by",
                        actor && actor->id ? json_integer(actor->id) : json_null());
    json_object_set_new(it->rec, "actor_name", json_string(actor_name));
    json_object_set_new(it->rec, "vis_prefix", actor ? json_string(prefix) : json_null());
    json_object_set_new(it->rec, "vis_id", actor ? json_integer(actor->id) : json_null());
}

/* Marks it db_failed with w's failure at this moment (later statements overwrite w's). */
static void item_db_failed(item *it, const worker *w) {
    it->db_failed = 1;
    it->db_down = w->db_down;
    memcpy(it->sqlstate,
           w->db_down       ? "08006"
           : w->sqlstate[0] ? w->sqlstate
                            : "XX000",
           sizeof it->sqlstate);
}

/* ---- the insert statements ---- */

/* The columns of a created row: REPORT_COLUMNS without the name subqueries (put_names fills them). */
#define REPORT_COLUMNS_BARE                                                                        \
    REPORT_COLUMNS_NAMED("NULL::text", "NULL::text", "NULL::text", "NULL::text", "NULL::text",     \
                         "NULL::text")

/* The audit row and the live event of every row of `ins`; actor id A, actor name N (SQL of the
 * rows of EV_FROM, which names ins as i). */
#define CREATED_EVENTS(A, N, EV_FROM, LE_ORDER)                                                                 \
    " ev AS (INSERT INTO report_events (report_id, type, actor_id, actor, at, from_status, to_status, details)" \
    " SELECT i.id, " VOCAB_SQL_TERM(                                                                            \
        "TimelineType",                                                                                         \
        TL_CREATED) ", " A "::bigint, " N "::text, i.received_at, NULL, i.status,"                              \
                    " json_build_object('station_id', i.station_id, 'tier', i.tier, 'source', i.source,"        \
                    " 'ack_deadline', i.ack_deadline)" EV_FROM "),"                                             \
                    " le AS (" EVENTS_REPORT_INSERT(                                                            \
                        EK_REPORT_CREATED, "i", VOCAB_SQL_TERM("TimelineType", TL_CREATED),                     \
                        "jsonb_build_object('actor_id', i.created_by)") " FROM ins i" LE_ORDER ")"

/* A group (the items of every request the writer took, and a batch written on its own): one
 * statement, one transaction. Each row carries who sent it (item_actor); the client_ids are
 * distinct (group_records), so x joins ins one to one. $2 window seconds, $3 radius metres.
 * Keep tests/bench/pgbench_reports.sql (the bench's database ceiling) doing what insert_one_sql
 * does. */
static const char insert_sql[] =
    "WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(ord int, client_id uuid, category text,"
    " lon float8, lat float8, accuracy_m real, crs_in text, observed_at float8, description text,"
    " people_count int, person jsonb, city_code text, county_code text, town_code text, community_code text,"
    " zone_codes text[], outside boolean, snapped_m real, station_id bigint, tier text, ack_s int,"
    " source text, created_by bigint, actor_name text, vis_prefix text, vis_id bigint, channel text,"
    " contact jsonb)),"
    " ins AS (INSERT INTO reports (client_id, category, geom, accuracy_m, crs_in, observed_at, description,"
    " people_count, person, city_code, county_code, town_code, community_code, zone_codes, outside, snapped_m,"
    " station_id, tier, ack_deadline, source, created_by, channel, contact)"
    " SELECT client_id, category, ST_SetSRID(ST_MakePoint(lon, lat), 4326), accuracy_m, crs_in,"
    " to_timestamp(observed_at), description, people_count, person, city_code, county_code, town_code,"
    " community_code, zone_codes::char(12)[], outside, snapped_m, station_id, tier,"
    " now() + make_interval(secs => ack_s), source, created_by, channel, contact FROM x ORDER BY ord"
    " ON CONFLICT (client_id) DO NOTHING RETURNING *)," CREATED_EVENTS(
        "i.created_by", "x.actor_name", " FROM ins i JOIN x ON x.client_id = i.client_id",
        " ORDER BY i.id") " SELECT " REPORT_COLUMNS_BARE
                          ", " DUPS_EXPR(
                              "$2", "$3", "x.vis_prefix",
                              "x.vis_id") " FROM ins r JOIN x ON x.client_id = r.client_id";

/* The same write for one report (a group of one: an idle writer): plain parameters
 * instead of a jsonb recordset, no sorts. $1..$27 are the record fields in rec_keys order (source
 * $21, created_by $22, actor name $23, the caller's division prefix and id $24 $25, channel $26,
 * contact $27), $28 window seconds, $29 radius metres. */
static const char insert_one_sql[] =
    "WITH ins AS (INSERT INTO reports (client_id, category, geom, accuracy_m, crs_in, observed_at, description,"
    " people_count, person, city_code, county_code, town_code, community_code, zone_codes, outside, snapped_m,"
    " station_id, tier, ack_deadline, source, created_by, channel, contact)"
    " VALUES ($1::uuid, $2::text, ST_SetSRID(ST_MakePoint($3::float8, $4::float8), 4326), $5::real, $6::text,"
    " to_timestamp($7::float8), $8::text, $9::int, $10::jsonb, $11::text, $12::text, $13::text, $14::text,"
    " $15::text[]::char(12)[], $16::boolean, $17::real, $18::bigint, $19::text,"
    " now() + make_interval(secs => $20::int), $21::text, $22::bigint, $26::text, $27::jsonb)"
    " ON CONFLICT (client_id) DO NOTHING RETURNING *)," CREATED_EVENTS(
        "$22", "$23", " FROM ins i", "") " SELECT " REPORT_COLUMNS_BARE
                                         ", " DUPS_EXPR("$28", "$29", "$24", "$25") " FROM ins r";

static const char *const rec_keys[] = {
    "client_id",   "category",       "lon",          "lat",        "accuracy_m", "crs_in",
    "observed_at", "description",    "people_count", "person",     "city_code",  "county_code",
    "town_code",   "community_code", "zone_codes",   "outside",    "snapped_m",  "station_id",
    "tier",        "ack_s",          "source",       "created_by", "actor_name", "vis_prefix",
    "vis_id",      "channel",        "contact"};
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
static PGresult *run_insert(worker *w, json_t *recs) {
    char window[16], radius[32];
    snprintf(window, sizeof window, "%d", w->app->cfg.dup_window_s);
    snprintf(radius, sizeof radius, "%.3f", w->app->cfg.dup_radius_m);
    PGresult *res = NULL;
    if (json_array_size(recs) > 1) {
        char *recs_s = json_dumps(recs, JSON_COMPACT);
        if (!recs_s) {
            snprintf(w->err, sizeof w->err, "out of memory");
            return NULL;
        }
        const char *params[] = {recs_s, window, radius};
        res = db_exec(w, insert_sql, 3, params);
        free(recs_s);
        return res;
    }
    json_t *rec = json_array_get(recs, 0);
    char *vals[NREC_KEYS];
    const char *params[NREC_KEYS + 2];
    int oom = 0;
    for (int k = 0; k < NREC_KEYS; k++)
        params[k] = vals[k] = param_text(json_object_get(rec, rec_keys[k]), &oom);
    params[NREC_KEYS] = window, params[NREC_KEYS + 1] = radius;
    if (!oom) res = db_exec(w, insert_one_sql, NREC_KEYS + 2, params);
    for (int k = 0; k < NREC_KEYS; k++)
        free(vals[k]);
    if (oom) {
        snprintf(w->err, sizeof w->err, "out of memory");
        snprintf(w->sqlstate, sizeof w->sqlstate, "53200");
    }
    return res;
}

/* The records of the valid items of items[0..n) in order, the first item of each client_id only:
 * a later copy (the same report sent twice at once) is answered with the stored one after the
 * commit. A new array. */
static json_t *group_records(item **items, size_t n) {
    json_t *recs = json_array(), *seen = json_object();
    for (size_t i = 0; i < n; i++) {
        item *it = items[i];
        if (!it->valid || json_object_get(seen, it->client_id)) continue;
        json_object_set_new(seen, it->client_id, json_true());
        json_object_set_new(it->rec, "ord", json_integer((json_int_t)json_array_size(recs)));
        json_array_append(recs, it->rec);
    }
    json_decref(seen);
    return recs;
}

/* Hands the created rows of res to the first valid item of each client_id in items[0..n). */
static void take_created(PGresult *res, item **items, size_t n) {
    json_t *created = json_object();
    for (int row = 0; row < PQntuples(res); row++) {
        json_t *rep = report_row_json(res, row, GIS_CRS_WGS84);
        json_object_set_new(rep, "possible_duplicates",
                            rj_parse_or(rj_val(res, row, REPORT_NCOLS), json_array()));
        json_object_set_new(created, PQgetvalue(res, row, REPORT_COL_CLIENT_ID), rep);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *rep;
        if (items[i]->valid && (rep = json_object_get(created, items[i]->client_id))) {
            items[i]->report = json_incref(rep);
            items[i]->status = 1;
            put_names(rep, items[i]);
            json_object_del(created, items[i]->client_id);
        }
    }
    json_decref(created);
}

/* 1 when the last failure was about the data of a row (SQLSTATE class 22 data exception or 23
 * integrity violation): an item the checks in C let through, not the database itself. */
static int failed_on_data(const worker *w) {
    return !w->db_down &&
           (strncmp(w->sqlstate, "22", 2) == 0 || strncmp(w->sqlstate, "23", 2) == 0);
}

/* Inserts the valid items of items[0..n) in one statement (ON CONFLICT: a client_id stored before
 * is skipped, not an error) and hands each created row to its item (status 1). A statement that
 * fails on the data of a row (failed_on_data) is run again on each half, down to that item alone,
 * which fails alone (500 db_error); its neighbours are written. A deadlock with another instance's
 * writer is run again. Any other failure marks the items db_failed (nothing of them written).
 * Inside a caller's transaction (none today) a failure is final: the transaction is aborted. */
static void insert_created(worker *w, item **items, size_t n) {
    json_t *recs = group_records(items, n);
    size_t nrecs = json_array_size(recs);
    int own_tx = !db_in_transaction(w);
    PGresult *res = NULL;
    for (int attempt = 0; nrecs && !res && attempt < 3; attempt++)
        if (!(res = run_insert(w, recs)) &&
            !(own_tx && (db_failed_with(w, "40P01") || db_failed_with(w, "40001"))))
            break;
    json_decref(recs);
    if (res || !nrecs) {
        if (res) take_created(res, items, n);
        PQclear(res);
        return;
    }
    if (own_tx && failed_on_data(w) && n > 1) {
        insert_created(w, items, n / 2);
        insert_created(w, items + n / 2, n - n / 2);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!items[i]->valid) continue;
        if (own_tx && failed_on_data(w)) { /* the one item that fails: it fails alone */
            fprintf(stderr, "report %s not stored: [%s] %s\n", items[i]->client_id, w->sqlstate,
                    w->err);
            items[i]->valid = 0;
            fail(&items[i]->err, 500, "db_error", NULL,
                 "database error: the report was not stored");
        } else {
            item_db_failed(items[i], w);
        }
    }
}

static const char existing_sql[] =
    "SELECT " REPORT_COLUMNS " FROM reports r WHERE r.client_id = ANY ($1::uuid[])";

/* Reads the stored reports of the items with a valid client_id that were not created here
 * (replays, later copies, invalid bodies whose key may have been stored) and answers them:
 * existing (status 0), or 409 client_id_conflict when the item's actor may not see the stored
 * report (no data: it is not even turned into JSON). Returns 0, or -1 (w->err; those items are
 * then db_failed). */
static int read_existing(worker *w, item **items, size_t n) {
    /* "{uuid,uuid}": UUIDs need no quoting */
    char *lookup = malloc(3 + n * 37), *p = lookup;
    size_t k = 0;
    if (lookup) {
        *p++ = '{';
        for (size_t i = 0; i < n; i++) {
            if (items[i]->status == 1 || !items[i]->client_id_ok || items[i]->db_failed) continue;
            if (k++) *p++ = ',';
            memcpy(p, items[i]->client_id, 36);
            p += 36;
        }
        *p++ = '}', *p = 0;
        if (!k) {
            free(lookup);
            return 0;
        }
    } else {
        snprintf(w->err, sizeof w->err, "out of memory");
        snprintf(w->sqlstate, sizeof w->sqlstate, "53200");
    }
    const char *params[] = {lookup};
    PGresult *ex = lookup ? db_exec(w, existing_sql, 1, params) : NULL;
    free(lookup);
    for (size_t i = 0; i < n; i++) {
        item *it = items[i];
        if (it->status == 1 || !it->client_id_ok || it->db_failed) continue;
        if (!ex) {
            item_db_failed(it, w);
            continue;
        }
        int row = 0;
        while (row < PQntuples(ex) &&
               strcmp(PQgetvalue(ex, row, REPORT_COL_CLIENT_ID), it->client_id))
            row++;
        if (row == PQntuples(ex)) continue;
        if (it->actor && !report_row_visible(it->actor, ex, row)) {
            it->status = -1;
            it->valid = 0;
            fail(&it->err, 409, "client_id_conflict", "client_id",
                 "this client_id belongs to another report; make a new one");
            continue;
        }
        it->report = report_row_json(ex, row, GIS_CRS_WGS84);
        it->status = 0;
    }
    int rc = ex ? 0 : -1;
    PQclear(ex);
    return rc;
}

/* Writes items[0..n) (of one request or of a whole group: each carries its actor) on w: the
 * insert, then the stored copies of the rest. Afterwards every item is answered (status, report
 * or err) unless db_failed. */
static void write_items(worker *w, item **items, size_t n) {
    int failed = 0;
    insert_created(w, items, n);
    for (size_t i = 0; i < n; i++)
        failed |= items[i]->db_failed;
    if (!failed || !db_in_transaction(w)) /* the caller's aborted transaction runs nothing more */
        read_existing(w, items, n);
    /* A valid item neither created nor found: its twin in this statement was created by another
     * connection that then rolled back, or ... cannot happen with ON CONFLICT; report it. */
    for (size_t i = 0; i < n; i++)
        if (items[i]->valid && !items[i]->report && !items[i]->db_failed) {
            items[i]->status = -1;
            fail(&items[i]->err, 409, "conflict", "client_id",
                 "the report was not stored; send it again");
        }
}

static void item_free(item *it) {
    json_decref(it->rec);
    json_decref(it->divisions);
    json_decref(it->zones);
    free(it->station_name);
    json_decref(it->report);
}

/* ---- the writer: one group commit for the reports of every request waiting ---- */

/* A request's items waiting for the writer. */
typedef struct pending {
    group_job job; /* first: the writer hands back &job */
    item **items;
    size_t n;
} pending;

/* The group's items in one statement (write_items); a request any of whose items was lost to a
 * database failure fails as a whole (the client sends it again: its client_ids make that safe). */
static void write_group(worker *w, group_job **jobs, size_t n) {
    size_t total = 0, k = 0;
    for (size_t j = 0; j < n; j++)
        total += ((pending *)jobs[j])->n;
    item **all = malloc((total ? total : 1) * sizeof *all);
    if (!all) {
        snprintf(w->err, sizeof w->err, "out of memory");
        for (size_t j = 0; j < n; j++)
            group_job_fail(jobs[j], w);
        return;
    }
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < ((pending *)jobs[j])->n; i++)
            all[k++] = ((pending *)jobs[j])->items[i];
    write_items(w, all, total);
    for (size_t j = 0; j < n; j++) {
        pending *p = (pending *)jobs[j];
        for (size_t i = 0; i < p->n; i++)
            if (p->items[i]->db_failed) {
                group_job_fail(&p->job, w);
                p->job.db_down = p->items[i]->db_down;
                memcpy(p->job.sqlstate, p->items[i]->sqlstate, sizeof p->job.sqlstate);
                break;
            }
    }
    free(all);
}

/* A group takes requests up to this many items. A request of more than SOLO_ITEMS items already
 * shares one commit among them: it writes on its own slot, beside the writers (in one group it
 * would only wait for the others' work). */
enum { GROUP_MAX_ITEMS = 1000, SOLO_ITEMS = 32 };
static group_queue writer = GROUP_QUEUE_INIT("reports", write_group, GROUP_MAX_ITEMS);

void *reports_writer_thread(void *arg) {
    group_run(&writer, arg);
    return NULL;
}

/* ---- handlers: create, batch ---- */

static int reply_error(http_req *r, const report_error *e) {
    return http_error(r, e->status, e->code, e->field, "%s", e->message);
}

/* Writes items[0..n) (validated on r's slot): handed to the writer, waiting for the commit that
 * answers them, with r's slot back in the pool meanwhile (no slot is held while waiting on others);
 * or on r's own slot when report_group_commit is 0 or the request has more than SOLO_ITEMS. Returns 0 (every item answered: status,
 * report or err), or the status of the error reply sent (503 while the server stops or the writer
 * is too far behind, the database's failure). */
static int write_grouped(http_req *r, item **items, size_t n) {
    pending p = {.job.weight = (int)n, .items = items, .n = n};
    size_t keyed = 0;
    for (size_t i = 0; i < n; i++)
        keyed += items[i]->client_id_ok;
    if (!keyed) return 0; /* nothing to write or look up */
    if (!r->app->cfg.report_group_commit || n > SOLO_ITEMS) {
        write_items(r->w, items, n);
        for (size_t i = 0; i < n; i++)
            if (items[i]->db_failed)
                return http_db_failure(r, items[i]->db_down, items[i]->sqlstate, r->w->err);
        return 0;
    }
    http_release_worker(r);
    int wait_ms = r->app->cfg.db_pool_wait_ms;
    int rc = group_submit(&writer, &p.job, wait_ms);
    if (rc == -1)
        return http_error_retry(r, 503, 1, "busy", NULL, "the server is stopping; try again");
    if (rc == -2)
        return http_error_retry(r, 503, 2, "busy", NULL,
                                "the report writer did not start on this within %d ms; try again",
                                wait_ms);
    if (p.job.failed) return http_db_failure(r, p.job.db_down, p.job.sqlstate, p.job.err);
    return 0;
}

int report_submit(http_req *r, const auth_user *actor, const char *actor_name, const char *source,
                  json_t *body, json_t *contact, const report_error *verdict, json_t **out,
                  report_error *e) {
    item it, *one = &it;
    memset(&it, 0, sizeof it);
    it.status = -1;
    *out = NULL;
    if (validate_item(r->w, body, 0, verdict, &it) != 0 && !it.client_id_ok) {
        *e = it.err;
        return -1;
    }
    item_actor(&it, body, actor, actor_name, source);
    if (it.rec && json_object_size(contact)) json_object_set(it.rec, "contact", contact);
    int rc = write_grouped(r, &one, 1);
    if (!rc) rc = it.report ? it.status : -1;
    if (rc == 0 || rc == 1) {
        *out = it.report;
        it.report = NULL;
    } else if (rc == -1) {
        *e = it.err;
    }
    item_free(&it);
    return rc;
}

/* Stored reports sent back (replays) are personal-data reads: one audit row for all the items of
 * the request answered "existing", on a slot borrowed again. Returns 0 or the status sent. */
static int audit_replays(http_req *r, item **items, size_t n) {
    long long *ids = malloc((n ? n : 1) * sizeof *ids);
    size_t k = 0;
    int rc = 0;
    if (!ids) return http_error(r, 500, "internal", NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (items[i]->report && items[i]->status == 0)
            ids[k++] = json_integer_value(json_object_get(items[i]->report, "id"));
    if (k && !(rc = http_borrow_worker(r)) && audit_read(r, AA_REPORT_GET, ids, k) != 0)
        rc = http_db_error(r);
    free(ids);
    return rc;
}

/* POST /api/v1/reports?crs= */
int h_reports_create(http_req *r) {
    gis_crs crs = http_q(r, "crs")->crs;
    item it, *one = &it;
    int rc;
    memset(&it, 0, sizeof it);
    it.status = -1;
    if (validate_item(r->w, r->json, 0, r->body_error, &it) != 0 && !it.client_id_ok) {
        rc = reply_error(r, &it.err);
        goto done;
    }
    item_actor(&it, r->json, &r->user, r->user.username, vocab_code(&VOCAB_REPORT_SOURCE, SRC_APP));
    if ((rc = write_grouped(r, &one, 1)) != 0 || (rc = audit_replays(r, &one, 1)) != 0) goto done;
    if (!it.report) {
        rc = reply_error(r, &it.err);
        goto done;
    }
    report_json_to_crs(it.report, crs);
    rc = http_json(r, it.status == 1 ? 201 : 200, it.report);
    it.report = NULL;
done:
    item_free(&it);
    return rc;
}

static json_t *error_json(const report_error *e) {
    return json_pack("{s:s,s:s,s:s?}", "code", e->code, "message", e->message, "field", e->field);
}

/* POST /api/v1/reports/batch?crs= {"reports":[...]}: the door judged each item (r->item_errors) */
int h_reports_batch(http_req *r) {
    gis_crs crs = http_q(r, "crs")->crs;
    size_t n = json_array_size(r->items);
    item *items = calloc(n ? n : 1, sizeof *items);
    item **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    int rc;
    if (!items || !ptrs) {
        rc = http_error(r, 500, "internal", NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = &items[i];
        items[i].status = -1;
        validate_item(r->w, json_array_get(r->items, i), (int)i, r->item_errors[i], &items[i]);
        item_actor(&items[i], json_array_get(r->items, i), &r->user, r->user.username,
                   vocab_code(&VOCAB_REPORT_SOURCE, SRC_APP));
    }
    if ((rc = write_grouped(r, ptrs, n)) != 0 || (rc = audit_replays(r, ptrs, n)) != 0) goto done;
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
    for (size_t i = 0; items && i < n; i++)
        item_free(&items[i]);
    free(items);
    free(ptrs);
    return rc;
}
