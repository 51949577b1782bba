/* report_json.c - the report serializer: a report row (REPORT_COLUMNS) -> the public report JSON,
 * driven by the one column list REPORT_FIELDS; plus the visibility rule. Pure; thread-safe. */
#include "service/reports/report_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/vocab.h"

#define REPORT_COL_TABLE_(NAME, SQL, KEY, KIND) {REPORT_COL_##NAME, KEY, KIND},
static const struct field {
    int col;
    const char *key;
    report_json_kind kind;
} fields[] = {REPORT_FIELDS(REPORT_COL_TABLE_, "", "", "", "", "", "")};

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
    if (by && u->id && strtoll(by, NULL, 10) == u->id) return 1;
    const char *code = report_row_scope_code(res, row);
    return auth_in_scope(u, *code ? code : NULL);
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
    case RJ_JSON:
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
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].key && fields[i].kind != RJ_NONE && (fields[i].kind != RJ_STAFF || staff))
            json_object_set_new(o, fields[i].key, field_json(res, row, &fields[i], crs));
    return o;
}

json_t *report_row_json(PGresult *res, int row, gis_crs crs) {
    return report_row_json_for(res, row, crs, NULL);
}

void report_dups_params_fill(report_dups_params *p, const config *c, const auth_user *u) {
    snprintf(p->window, sizeof p->window, "%d", c->dup_window_s);
    snprintf(p->radius, sizeof p->radius, "%.3f", c->dup_radius_m);
    snprintf(p->uid, sizeof p->uid, "%lld", u->id);
    vocab_code_prefix(u->division_code, p->prefix);
}
