/* report_json.c - the report serializer: a report row (REPORT_COLUMNS) -> the public report JSON,
 * driven by the one column list REPORT_FIELDS; plus the visibility rule. Pure; thread-safe. */
#include "service/reports/report_json.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/vocab.h"
#include "service/door/shapes.h"

#define REPORT_COL_TABLE_(NAME, SQL, KEY, KIND, SCHEMA) {REPORT_COL_##NAME, KEY, KIND, SCHEMA},
static const struct field {
    int col;
    const char *key;
    report_json_kind kind;
    const char *schema;
} fields[] = {REPORT_FIELDS(REPORT_COL_TABLE_, "", "", "", "", "", "")};
#define NFIELDS (sizeof fields / sizeof fields[0])

const char *rj_val(PGresult *res, int row, int col) {
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

json_t *rj_str(const char *s) {
    return s ? json_string(s) : json_null();
}

json_t *rj_int(const char *s) {
    return s ? json_integer(strtoll(s, NULL, 10)) : json_null();
}

json_t *rj_parse_or(const char *s, json_t *dflt) {
    json_t *j = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
    if (j) {
        json_decref(dflt);
        return j;
    }
    return dflt;
}

double report_coord_out(double v) {
    return round(v * 1e7) / 1e7;
}

static json_t *location_json(double lon, double lat, gis_crs crs, const char *accuracy) {
    double ox = lon, oy = lat;
    if (gis_from_wgs84(crs, lon, lat, &ox, &oy) != 0) ox = lon, oy = lat, crs = GIS_CRS_WGS84;
    json_t *loc = json_pack("{s:f,s:f,s:s}", "lon", report_coord_out(ox), "lat",
                            report_coord_out(oy), "crs", gis_crs_name(crs));
    if (loc && accuracy) json_object_set_new(loc, "accuracy_m", json_real(strtod(accuracy, NULL)));
    return loc;
}

void report_json_to_crs(json_t *report, gis_crs crs) {
    json_t *loc = json_object_get(report, "location");
    if (crs == GIS_CRS_WGS84 || !loc) return;
    double lon = json_number_value(json_object_get(loc, "lon")),
           lat = json_number_value(json_object_get(loc, "lat"));
    double ox, oy;
    if (gis_from_wgs84(crs, lon, lat, &ox, &oy) != 0) return;
    json_object_set_new(loc, "lon", json_real(report_coord_out(ox)));
    json_object_set_new(loc, "lat", json_real(report_coord_out(oy)));
    json_object_set_new(loc, "crs", json_string(gis_crs_name(crs)));
}

const char *report_row_scope_code(PGresult *res, int row) {
    static const int cols[] = {REPORT_COL_COMMUNITY_CODE, REPORT_COL_TOWN_CODE,
                               REPORT_COL_COUNTY_CODE, REPORT_COL_CITY_CODE};
    for (int i = 0; i < 4; i++) {
        const char *c = rj_val(res, row, cols[i]);
        if (c && *c) return c;
    }
    return "";
}

int report_row_visible(const auth_user *u, PGresult *res, int row) {
    const char *by = rj_val(res, row, REPORT_COL_CREATED_BY);
    return auth_report_visible(u, by ? strtoll(by, NULL, 10) : 0, report_row_scope_code(res, row));
}

/* divisions [{code,name,level}] from the code/name pairs that start at column c. */
static json_t *divisions_json(PGresult *res, int row, int c) {
    json_t *divs = json_array();
    for (int t = 0; t < 4; t++) {
        const char *code = rj_val(res, row, c + 2 * t);
        if (!code) continue;
        const char *name = rj_val(res, row, c + 2 * t + 1);
        json_array_append_new(divs,
                              json_pack("{s:s,s:s,s:s}", "code", code, "name", name ? name : "",
                                        "level", vocab_code(&VOCAB_TIER, (size_t)t)));
    }
    return divs;
}

/* responsible_station {id,name,tier} from the id, name, tier columns that start at c, or null. */
static json_t *station_json(PGresult *res, int row, int c) {
    const char *sid = rj_val(res, row, c);
    if (!sid) return json_null();
    const char *sname = rj_val(res, row, c + 1), *stier = rj_val(res, row, c + 2);
    return json_pack("{s:I,s:s,s:s?}", "id", (json_int_t)strtoll(sid, NULL, 10), "name",
                     sname ? sname : "", "tier", stier);
}

static json_t *field_json(PGresult *res, int row, const struct field *f, gis_crs crs) {
    const char *v = rj_val(res, row, f->col);
    switch (f->kind) {
    case RJ_STR:
        return rj_str(v);
    case RJ_INT:
        return rj_int(v);
    case RJ_REAL:
        return v ? json_real(strtod(v, NULL)) : json_null();
    case RJ_BOOL:
        return json_boolean(v && v[0] == 't');
    case RJ_PERSON:
    case RJ_STAFF:
        return rj_parse_or(v, json_null());
    case RJ_ARRAY:
        return rj_parse_or(v, json_array());
    case RJ_LOCATION:
        return location_json(strtod(PQgetvalue(res, row, f->col), NULL),
                             strtod(PQgetvalue(res, row, f->col + 1), NULL), crs,
                             rj_val(res, row, f->col + 2));
    case RJ_DIVISIONS:
        return divisions_json(res, row, f->col);
    case RJ_STATION:
        return station_json(res, row, f->col);
    case RJ_NONE:
        break;
    }
    return NULL;
}

json_t *report_row_json_for(PGresult *res, int row, gis_crs crs, const auth_user *u) {
    json_t *o = json_object();
    int staff = u && (u->role & ROLE_STAFF);
    if (!o) return NULL;
    for (size_t i = 0; i < NFIELDS; i++)
        if (fields[i].key && fields[i].kind != RJ_NONE && (fields[i].kind != RJ_STAFF || staff))
            json_object_set_new(o, fields[i].key, field_json(res, row, &fields[i], crs));
    return o;
}

json_t *report_row_json(PGresult *res, int row, gis_crs crs) {
    return report_row_json_for(res, row, crs, NULL);
}

/* ---- the CSV columns and the schema, from the same table ---- */

enum { MAX_CSV = 64 };
static report_csv_col csv[MAX_CSV];
static size_t ncsv;

static void csv_add(const struct field *f, int part, const char *fmt, const char *arg) {
    if (ncsv == MAX_CSV) return;
    report_csv_col *c = &csv[ncsv++];
    snprintf(c->name, sizeof c->name, fmt, arg);
    c->key = f->key, c->col = f->col, c->part = part, c->kind = f->kind;
}

static void csv_make(void) {
    static const char *const location[] = {"lon", "lat", "crs", "accuracy_m"};
    static const char *const station[] = {"station_id", "station", "tier"};
    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *f = &fields[i];
        int part = 0;
        if (f->kind == RJ_NONE || f->kind == RJ_STAFF || !f->key) continue; /* never exported */
        if (f->kind == RJ_LOCATION)
            for (; part < 4; part++)
                csv_add(f, part, "%s", location[part]);
        else if (f->kind == RJ_STATION)
            for (; part < 3; part++)
                csv_add(f, part, "%s", station[part]);
        else if (f->kind == RJ_PERSON)
            for (; (size_t)part < SHAPE_PERSON.n; part++)
                csv_add(f, part, "person_%s", SHAPE_PERSON.fields[part].name);
        else if (f->kind == RJ_DIVISIONS)
            for (size_t t = 0; t < VOCAB_TIER.n; t++) {
                csv_add(f, 2 * (int)t, "%s_code", vocab_code(&VOCAB_TIER, t));
                csv_add(f, 2 * (int)t + 1, "%s", vocab_code(&VOCAB_TIER, t));
            }
        else
            csv_add(f, 0, "%s", f->key);
    }
}

const report_csv_col *report_csv_cols(size_t *n) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, csv_make);
    *n = ncsv;
    return csv;
}

/* A person field as text (approx_age is a number; strings as they are), NULL when absent. */
static const char *person_text(json_t *person, const char *key, char *tmp, size_t tmplen) {
    json_t *v = json_object_get(person, key);
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v))
        snprintf(tmp, tmplen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(tmp, tmplen, "%g", json_real_value(v));
    else
        return NULL;
    return tmp;
}

/* The zone codes of a zones cell ([{code,name,level}]) joined by ';' into tmp. */
static const char *zone_codes(const char *zones, char *tmp, size_t tmplen) {
    json_t *z = zones ? json_loads(zones, 0, NULL) : NULL;
    size_t i, len = 0;
    json_t *item;
    tmp[0] = 0;
    json_array_foreach(z, i, item) {
        int n = snprintf(tmp + len, tmplen - len, "%s%s", i ? ";" : "",
                         json_string_value(json_object_get(item, "code")));
        if (n < 0 || (size_t)n >= tmplen - len) break;
        len += (size_t)n;
    }
    json_decref(z);
    return tmp;
}

const char *report_csv_text(const report_csv_col *c, PGresult *res, int row, gis_crs crs,
                            json_t *person, char *tmp, size_t tmplen) {
    const char *v = rj_val(res, row, c->col + (c->kind == RJ_DIVISIONS ? c->part : 0));
    double x, y;
    switch (c->kind) {
    case RJ_LOCATION:
        if (c->part == 2) return gis_crs_name(crs);
        if (c->part == 3) return rj_val(res, row, c->col + 2);
        if (gis_from_wgs84(crs, strtod(PQgetvalue(res, row, c->col), NULL),
                           strtod(PQgetvalue(res, row, c->col + 1), NULL), &x, &y) != 0)
            return NULL;
        snprintf(tmp, tmplen, "%.7f", c->part ? y : x);
        return tmp;
    case RJ_STATION:
        return rj_val(res, row, c->col + c->part);
    case RJ_PERSON:
        return person_text(person, SHAPE_PERSON.fields[c->part].name, tmp, tmplen);
    case RJ_BOOL:
        return v && v[0] == 't' ? "true" : "false";
    case RJ_ARRAY:
        return zone_codes(v, tmp, tmplen);
    default:
        return v;
    }
}

void report_json_schemas(json_t *schemas) {
    size_t n;
    const report_csv_col *cols = report_csv_cols(&n);
    json_t *props = json_object(), *req = json_array();
    for (size_t i = 0; i < NFIELDS; i++) {
        if (!fields[i].key || fields[i].kind == RJ_NONE) continue;
        json_t *p = json_loads(fields[i].schema, 0, NULL), *names = json_array();
        for (size_t k = 0; k < n; k++)
            if (cols[k].key == fields[i].key)
                json_array_append_new(names, json_string(cols[k].name));
        json_object_set_new(p, "x-csv", names);
        json_object_set_new(props, fields[i].key, p);
        if (fields[i].kind != RJ_STAFF) /* staff only, on one report */
            json_array_append_new(req, json_string(fields[i].key));
    }
    json_object_set_new(props, "possible_duplicates",
                        json_pack("{s:s,s:s,s:{s:s}}", "type", "array", "description",
                                  "Single reads, lists and creation", "items", "$ref",
                                  "#/components/schemas/PossibleDuplicate"));
    json_object_set_new(props, "actions",
                        json_pack("{s:s,s:s,s:{s:s}}", "type", "array", "description",
                                  "A single read: the events this user may send now (by the "
                                  "report's status, the user's role, its creator and unit)",
                                  "items", "$ref", "#/components/schemas/ReportEventType"));
    json_object_set_new(schemas, "Report",
                        json_pack("{s:s,s:s,s:o,s:o}", "type", "object", "description",
                                  "A field report (REPORT_FIELDS); x-csv: its columns in the CSV "
                                  "export",
                                  "required", req, "properties", props));
}

void report_dups_params_fill(report_dups_params *p, const config *c, const auth_user *u) {
    snprintf(p->window, sizeof p->window, "%d", c->dup_window_s);
    snprintf(p->radius, sizeof p->radius, "%.3f", c->dup_radius_m);
    snprintf(p->uid, sizeof p->uid, "%lld", u->id);
    vocab_code_prefix(u->division_code, p->prefix);
}
