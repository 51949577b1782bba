/* reports_list.c - GET /api/v1/reports (filtered, keyset-paged, always limited to the user's
 * division) and the same filters as a GeoJSON (RFC 7946) or CSV (RFC 4180) export, streamed in
 * pages. Runs on the calling worker thread; all state is per request. SQL is assembled only from
 * fixed fragments; every value from the request travels as a statement parameter. The reports a
 * list page or an export page sends are written to the personal-data audit trail (audit.c), one
 * row per page, before the page goes out. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gis/coords.h"
#include "service/audit.h"
#include "service/buf.h"
#include "service/db.h"
#include "service/handlers.h"
#include "service/reports.h"

enum {
    LIST_DEFAULT = 50,
    LIST_MAX = 500,
    EXPORT_PAGE = 1000,
    EXPORT_CAP = 100000, /* rows in one export; narrow the filters for more */
    QB_MAXPARAMS = 12,
    QB_VALLEN = 192,
};

static const char *const statuses[] = {"new",      "acknowledged", "dispatched", "on_scene",
                                       "resolved", "cancelled",    "duplicate",  NULL};
static const char *const categories[] = {
    "vagrant",        "beggar",         "lost_elderly", "minor",
    "mental_illness", "injured_or_ill", "other",        NULL};

/* The validated filters of one request. */
typedef struct list_query {
    char statuses[QB_VALLEN];   /* "{new,resolved}" (a text[] literal) or "" for any */
    char categories[QB_VALLEN]; /* likewise */
    char division[13];          /* significant prefix of ?division=, "" for none */
    char since[64];             /* RFC 3339 text, "" for none */
    int has_bbox;
    double bbox[4]; /* WGS-84 minlon, minlat, maxlon, maxlat */
    gis_crs crs;    /* coordinates out (and bbox in) */
    int limit;
    long long before_id; /* cursor: only rows with id < before_id; 0 = from the newest */
} list_query;

/* ---- the statement under construction ---- */
typedef struct qbuild {
    char sql[4096];
    size_t len;
    int n;
    const char *params[QB_MAXPARAMS];
    char vals[QB_MAXPARAMS][QB_VALLEN];
} qbuild;

static void qb_sql(qbuild *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qb_sql(qbuild *q, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(q->sql + q->len, sizeof q->sql - q->len, fmt, ap);
    va_end(ap);
    /* Only fixed fragments go in: overflowing 4 KiB is a programming error. */
    if (n > 0 && q->len + (size_t)n < sizeof q->sql) q->len += (size_t)n;
}

/* Adds a parameter value and returns its $number. */
static int qb_param(qbuild *q, const char *val) {
    if (q->n >= QB_MAXPARAMS) return 0;
    snprintf(q->vals[q->n], QB_VALLEN, "%s", val);
    q->params[q->n] = q->vals[q->n];
    return ++q->n;
}

static int qb_paramf(qbuild *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int qb_paramf(qbuild *q, const char *fmt, ...) {
    char v[QB_VALLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    return qb_param(q, v);
}

/* Rows inside the division with significant prefix `prefix`; with outside_ok also the reports
 * outside every division (what a city-wide user may see, as auth_in_scope()). */
static void qb_within(qbuild *q, const char *prefix, int outside_ok) {
    size_t n = strlen(prefix);
    char code12[13];
    memcpy(code12, prefix, n);
    memset(code12 + n, '0', 12 - n);
    code12[12] = 0;
    const char *col = n == 12  ? "community_code"
                      : n == 9 ? "town_code"
                      : n == 6 ? "county_code"
                               : NULL;
    if (col && !outside_ok) { /* today's division and every one merged into it (indexed) */
        qb_sql(q,
               " AND r.%s IN (WITH RECURSIVE m(code) AS (SELECT $%d::char(12) UNION"
               " SELECT d.code FROM division_changes d JOIN m ON d.into_code = m.code"
               " WHERE d.change = 'merged') SELECT code FROM m)",
               col, qb_param(q, code12));
        return;
    }
    int p = qb_param(q, prefix);
    qb_sql(q,
           " AND (left(coalesce(r.community_code, r.town_code, r.county_code, r.city_code), %zu) = "
           "$%d%s)",
           n, p,
           outside_ok && n <= 4
               ? " OR coalesce(r.community_code, r.town_code, r.county_code, r.city_code) IS NULL"
               : "");
}

/* ---- parsing the query string ---- */

/* Comma-separated names, each one of allowed[], into a text[] literal "{a,b}". Returns 0 or -1. */
static int parse_list(const char *in, const char *const *allowed, char *out, size_t outlen) {
    size_t len = 0;
    out[len++] = '{';
    const char *p = in;
    int count = 0;
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e) e = p + strlen(p);
        while (p < e && *p == ' ')
            p++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = strlen(allowed[i]) == (size_t)(t - p) &&
                 memcmp(allowed[i], p, (size_t)(t - p)) == 0;
        if (!ok || len + (size_t)(t - p) + 3 > outlen) return -1;
        if (count++) out[len++] = ',';
        memcpy(out + len, p, (size_t)(t - p));
        len += (size_t)(t - p);
        p = *e ? e + 1 : e;
        if (*e && !*p) return -1; /* trailing comma */
    }
    if (!count) return -1;
    out[len++] = '}';
    out[len] = 0;
    return 0;
}

static int digits(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int num(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int report_parse_time(const char *in, char *out, size_t outlen) {
    size_t n = strlen(in);
    if (n < 20 || n + 1 > outlen) return -1;
    memcpy(out, in, n + 1);
    if (!digits(out, 4) || out[4] != '-' || !digits(out + 5, 2) || out[7] != '-' ||
        !digits(out + 8, 2) || (out[10] != 'T' && out[10] != 't' && out[10] != ' ') ||
        !digits(out + 11, 2) || out[13] != ':' || !digits(out + 14, 2) || out[16] != ':' ||
        !digits(out + 17, 2))
        return -1;
    int mo = num(out + 5, 2), d = num(out + 8, 2), h = num(out + 11, 2), mi = num(out + 14, 2),
        s = num(out + 17, 2);
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return -1;
    char *p = out + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == 0) return 0;
    if (*p == ' ') *p = '+';
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2) && p[3] == ':' &&
        digits(p + 4, 2) && num(p + 1, 2) <= 23 && num(p + 4, 2) <= 59)
        return 0;
    return -1;
}

/* "minlon,minlat,maxlon,maxlat" in crs -> WGS-84 envelope of the four converted corners. */
static int parse_bbox(const char *in, gis_crs crs, double out[4]) {
    double v[4];
    const char *p = in;
    for (int i = 0; i < 4; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(p, &end);
        if (end == p || errno || !isfinite(v[i])) return -1;
        p = end;
        if (i < 3 && *p++ != ',') return -1;
    }
    if (*p || v[0] > v[2] || v[1] > v[3]) return -1;
    out[0] = out[1] = INFINITY;
    out[2] = out[3] = -INFINITY;
    for (int i = 0; i < 4; i++) {
        double lon, lat;
        if (gis_to_wgs84(crs, v[i & 1 ? 2 : 0], v[i & 2 ? 3 : 1], &lon, &lat) != 0) return -1;
        out[0] = fmin(out[0], lon), out[1] = fmin(out[1], lat);
        out[2] = fmax(out[2], lon), out[3] = fmax(out[3], lat);
    }
    return 0;
}

void list_cursor_encode(const char *tag, long long id, char *out, size_t outlen) {
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%s:%lld", tag, id);
    sodium_bin2base64(out, outlen, (const unsigned char *)raw, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int list_cursor_decode(const char *tag, const char *in, long long *id) {
    unsigned char raw[32];
    size_t n = 0, t = strlen(tag);
    if (sodium_base642bin(raw, sizeof raw - 1, in, strlen(in), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n < t + 2 || memcmp(raw, tag, t) != 0 || raw[t] != ':')
        return -1;
    raw[n] = 0;
    if (!digits((const char *)raw + t + 1, (int)(n - t - 1)) || n - t - 1 > 18) return -1;
    *id = strtoll((const char *)raw + t + 1, NULL, 10);
    return *id > 0 ? 0 : -1;
}

/* Reads and validates every filter. Returns 0, or the status of the 400 already sent. */
static int parse_query(http_req *r, list_query *q, int paged) {
    char v[256];
    int n;
    memset(q, 0, sizeof *q);
    q->limit = LIST_DEFAULT;
#define GET(name) (n = http_query(r, name, v, sizeof v), n == -2 ? -2 : n <= 0 ? -1 : 0)
    if (GET("crs") == -2 || (n > 0 && gis_crs_parse(v, &q->crs) != 0))
        return http_error(r, 400, "invalid_crs", "crs",
                          "crs must be one of wgs84, cgcs2000, gcj02, bd09");
    int g = GET("status");
    if (g == -2 || (g == 0 && parse_list(v, statuses, q->statuses, sizeof q->statuses) != 0))
        return http_error(
            r, 400, "invalid_status", "status",
            "status must be a comma-separated list of new, acknowledged, dispatched, on_scene, "
            "resolved, cancelled, duplicate");
    g = GET("category");
    if (g == -2 || (g == 0 && parse_list(v, categories, q->categories, sizeof q->categories) != 0))
        return http_error(
            r, 400, "invalid_category", "category",
            "category must be a comma-separated list of vagrant, beggar, lost_elderly, minor, "
            "mental_illness, injured_or_ill, other");
    g = GET("division");
    if (g == -2 || g == 0) {
        char code12[13];
        size_t len = g == 0 ? strlen(v) : 0;
        if (g == -2 || (len != 4 && len != 6 && len != 9 && len != 12) ||
            auth_code12(v, code12) != 0)
            return http_error(r, 400, "invalid_division", "division",
                              "division must be a 4, 6, 9 or 12-digit division code");
        auth_code_prefix(code12, q->division);
    }
    g = GET("since");
    if (g == -2 || (g == 0 && report_parse_time(v, q->since, sizeof q->since) != 0))
        return http_error(r, 400, "invalid_since", "since",
                          "since must be an RFC 3339 time such as 2024-05-01T08:00:00+08:00");
    g = GET("bbox");
    if (g == -2 || (g == 0 && parse_bbox(v, q->crs, q->bbox) != 0))
        return http_error(
            r, 400, "invalid_bbox", "bbox",
            "bbox must be minlon,minlat,maxlon,maxlat (in the request's crs, min <= max)");
    q->has_bbox = g == 0;
    if (paged) {
        g = GET("limit");
        if (g == -2 || (g == 0 && (!digits(v, n) || n > 4 || atoi(v) < 1 || atoi(v) > LIST_MAX)))
            return http_error(r, 400, "invalid_limit", "limit",
                              "limit must be an integer from 1 to %d", LIST_MAX);
        if (g == 0) q->limit = atoi(v);
        g = GET("cursor");
        if (g == -2 || (g == 0 && list_cursor_decode("r1", v, &q->before_id) != 0))
            return http_error(r, 400, "invalid_cursor", "cursor",
                              "cursor is not one this service returned");
    }
#undef GET
    return 0;
}

/* Builds `SELECT REPORT_COLUMNS FROM reports r WHERE <scope> <filters> AND id < before ORDER BY id
 * DESC LIMIT rows` for the user of r. <scope> is report_row_visible() in indexable form: the user's
 * division, or made by the user; callers still check every row with report_row_visible(). */
static void build_select(const http_req *r, const list_query *q, long long before_id, int rows,
                         qbuild *qb) {
    char prefix[13];
    memset(qb, 0, sizeof *qb);
    qb_sql(qb, "SELECT " REPORT_COLUMNS " FROM reports r WHERE true");
    auth_code_prefix(r->user.division_code, prefix);
    qb_sql(qb, " AND ((true");
    qb_within(qb, prefix, 1);
    qb_sql(qb, ") OR r.created_by = $%d::bigint)", qb_paramf(qb, "%lld", r->user.id));
    if (q->division[0]) qb_within(qb, q->division, 0);
    if (q->statuses[0]) qb_sql(qb, " AND r.status = ANY ($%d::text[])", qb_param(qb, q->statuses));
    if (q->categories[0])
        qb_sql(qb, " AND r.category = ANY ($%d::text[])", qb_param(qb, q->categories));
    if (q->since[0]) qb_sql(qb, " AND r.updated_at >= $%d::timestamptz", qb_param(qb, q->since));
    if (q->has_bbox) {
        int a = qb_paramf(qb, "%.9f", q->bbox[0]), b = qb_paramf(qb, "%.9f", q->bbox[1]),
            c = qb_paramf(qb, "%.9f", q->bbox[2]), d = qb_paramf(qb, "%.9f", q->bbox[3]);
        qb_sql(qb,
               " AND r.geom && ST_MakeEnvelope($%d::float8, $%d::float8, $%d::float8, $%d::float8, "
               "4326)",
               a, b, c, d);
    }
    if (before_id > 0) qb_sql(qb, " AND r.id < $%d::bigint", qb_paramf(qb, "%lld", before_id));
    qb_sql(qb, " ORDER BY r.id DESC LIMIT %d", rows);
}

/* Runs one page. NULL on failure: the reply (400 for a time PostgreSQL refuses, else the database
 * error) has been sent and *rc holds its status. */
static PGresult *run_page(http_req *r, const list_query *q, long long before_id, int rows,
                          int *rc) {
    qbuild qb;
    build_select(r, q, before_id, rows, &qb);
    PGresult *res = db_exec_read_dynamic(r->w, qb.sql, qb.n, qb.params);
    if (!res) {
        if (strncmp(r->w->sqlstate, "22", 2) == 0 && q->since[0] && !r->w->db_down)
            *rc = http_error(r, 400, "invalid_since", "since", "since is not a valid time");
        else
            *rc = http_db_error(r);
    }
    return res;
}

/* GET /api/v1/reports */
int h_reports_list(http_req *r) {
    list_query q;
    int rc = parse_query(r, &q, 1);
    if (rc) return rc;
    PGresult *res = run_page(r, &q, q.before_id, q.limit + 1, &rc);
    if (!res) return rc;
    int n = PQntuples(res), more = n > q.limit;
    if (more) n = q.limit;
    json_t *items = json_array();
    long long ids[LIST_MAX];
    size_t nids = 0;
    for (int i = 0; i < n; i++) {
        if (!report_row_visible(&r->user, res, i))
            continue; /* the SQL scope already excludes these */
        json_t *item = report_row_json(res, i, q.crs);
        if (item) json_array_append_new(items, item);
        ids[nids++] = strtoll(PQgetvalue(res, i, REPORT_COL_ID), NULL, 10);
    }
    if (nids && audit_read(r, AUDIT_REPORT_LIST, ids, nids) != 0) {
        PQclear(res);
        json_decref(items);
        return http_db_error(r);
    }
    json_t *next = json_null();
    if (more) {
        char cur[64];
        list_cursor_encode("r1", strtoll(PQgetvalue(res, n - 1, REPORT_COL_ID), NULL, 10), cur,
                           sizeof cur);
        next = json_string(cur);
    }
    PQclear(res);
    return http_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next));
}

/* ---- exports ---- */

/* One CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF (quotes doubled). Text
 * that a spreadsheet would run as a formula (starting with = + - @, tab or CR) gets a leading '. */
static void csv_cell(buf *b, const char *s, int last) {
    if (!s) s = "";
    int guard = strchr("=+-@\t\r", *s) != NULL && *s;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) buf_put(b, "\"", 1);
    if (guard) buf_put(b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            buf_put(b, "\"\"", 2);
        else
            buf_put(b, p, 1);
    }
    if (quote) buf_put(b, "\"", 1);
    buf_put(b, last ? "\r\n" : ",", last ? 2 : 1);
}

static const char *const csv_header[] = {"id",
                                         "client_id",
                                         "status",
                                         "category",
                                         "lon",
                                         "lat",
                                         "crs",
                                         "accuracy_m",
                                         "observed_at",
                                         "received_at",
                                         "updated_at",
                                         "description",
                                         "people_count",
                                         "person_sex",
                                         "person_approx_age",
                                         "person_appearance",
                                         "person_name_if_known",
                                         "city_code",
                                         "city",
                                         "county_code",
                                         "county",
                                         "town_code",
                                         "town",
                                         "community_code",
                                         "community",
                                         "outside",
                                         "station_id",
                                         "station",
                                         "tier",
                                         "ack_deadline",
                                         "unit_id",
                                         "outcome",
                                         "duplicate_of",
                                         "source",
                                         NULL};

static const char *col(PGresult *res, int row, int c) {
    return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static void csv_row(buf *b, PGresult *res, int i, gis_crs crs) {
    char lon[32] = "", lat[32] = "", ppl_age[32] = "";
    double x = strtod(PQgetvalue(res, i, REPORT_COL_LON), NULL),
           y = strtod(PQgetvalue(res, i, REPORT_COL_LAT), NULL);
    double ox, oy;
    if (gis_from_wgs84(crs, x, y, &ox, &oy) == 0) {
        snprintf(lon, sizeof lon, "%.7f", ox);
        snprintf(lat, sizeof lat, "%.7f", oy);
    }
    json_t *person = NULL;
    const char *pj = col(res, i, REPORT_COL_PERSON);
    if (pj) person = json_loads(pj, 0, NULL);
    json_t *age = json_object_get(person, "approx_age");
    if (json_is_integer(age))
        snprintf(ppl_age, sizeof ppl_age, "%" JSON_INTEGER_FORMAT, json_integer_value(age));
    else if (json_is_string(age))
        snprintf(ppl_age, sizeof ppl_age, "%s", json_string_value(age));
    else if (json_is_real(age))
        snprintf(ppl_age, sizeof ppl_age, "%g", json_real_value(age));
    const char *outside = col(res, i, REPORT_COL_OUTSIDE);
    const char *cells[] = {col(res, i, REPORT_COL_ID),
                           col(res, i, REPORT_COL_CLIENT_ID),
                           col(res, i, REPORT_COL_STATUS),
                           col(res, i, REPORT_COL_CATEGORY),
                           lon,
                           lat,
                           gis_crs_name(crs),
                           col(res, i, REPORT_COL_ACCURACY_M),
                           col(res, i, REPORT_COL_OBSERVED_AT),
                           col(res, i, REPORT_COL_RECEIVED_AT),
                           col(res, i, REPORT_COL_UPDATED_AT),
                           col(res, i, REPORT_COL_DESCRIPTION),
                           col(res, i, REPORT_COL_PEOPLE_COUNT),
                           json_string_value(json_object_get(person, "sex")),
                           ppl_age,
                           json_string_value(json_object_get(person, "appearance")),
                           json_string_value(json_object_get(person, "name_if_known")),
                           col(res, i, REPORT_COL_CITY_CODE),
                           col(res, i, REPORT_COL_CITY_NAME),
                           col(res, i, REPORT_COL_COUNTY_CODE),
                           col(res, i, REPORT_COL_COUNTY_NAME),
                           col(res, i, REPORT_COL_TOWN_CODE),
                           col(res, i, REPORT_COL_TOWN_NAME),
                           col(res, i, REPORT_COL_COMMUNITY_CODE),
                           col(res, i, REPORT_COL_COMMUNITY_NAME),
                           outside && *outside == 't' ? "true" : "false",
                           col(res, i, REPORT_COL_STATION_ID),
                           col(res, i, REPORT_COL_STATION_NAME),
                           col(res, i, REPORT_COL_STATION_TIER),
                           col(res, i, REPORT_COL_ACK_DEADLINE),
                           col(res, i, REPORT_COL_UNIT_ID),
                           col(res, i, REPORT_COL_OUTCOME),
                           col(res, i, REPORT_COL_DUPLICATE_OF),
                           col(res, i, REPORT_COL_SOURCE)};
    size_t nc = sizeof cells / sizeof cells[0];
    for (size_t k = 0; k < nc; k++)
        csv_cell(b, cells[k], k + 1 == nc);
    json_decref(person);
}

/* A GeoJSON Feature: geometry in WGS-84 [lon, lat] (RFC 7946 allows no other CRS), properties the
 * report JSON without its location object (accuracy_m kept). Open311 contact data is never in a
 * report row's JSON. */
static void geojson_feature(buf *b, PGresult *res, int i, int first) {
    json_t *rep = report_row_json(res, i, GIS_CRS_WGS84);
    if (!rep) {
        b->oom = 1;
        return;
    }
    json_t *acc = json_object_get(json_object_get(rep, "location"), "accuracy_m");
    json_object_set(rep, "accuracy_m", acc ? acc : json_null());
    json_object_del(rep, "location");
    double lon = strtod(PQgetvalue(res, i, REPORT_COL_LON), NULL),
           lat = strtod(PQgetvalue(res, i, REPORT_COL_LAT), NULL);
    json_t *f = json_pack("{s:s,s:O,s:{s:s,s:[f,f]},s:o}", "type", "Feature", "id",
                          json_object_get(rep, "id"), "geometry", "type", "Point", "coordinates",
                          lon, lat, "properties", rep);
    char *s = f ? json_dumps(f, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(f);
    if (!s) {
        b->oom = 1;
        return;
    }
    if (!first) buf_put(b, ",\n", 2);
    buf_str(b, s);
    free(s);
}

enum { FMT_GEOJSON, FMT_CSV };

static int send_chunk(http_req *r, buf *b) {
    if (b->oom) return -1;
    int rc = b->len ? mg_send_chunk(r->conn, b->p, (unsigned)b->len) : 0;
    b->len = 0;
    return rc < 0 ? -1 : 0;
}

/* Streams every matching row (up to EXPORT_CAP) with chunked transfer encoding, one database page
 * per chunk. The first page is read and audited before the headers go out, so a failure there is a
 * clean error reply; a later failure ends the stream without its last chunk (the client sees it
 * cut). Each page's reports are written to the audit trail (one row per page of EXPORT_PAGE)
 * before the page is sent. */
static int export_reports(http_req *r, int fmt) {
    list_query q;
    int rc = parse_query(r, &q, 0);
    if (rc) return rc;
    PGresult *res = run_page(r, &q, 0, EXPORT_PAGE, &rc);
    if (!res) return rc;
    const char *ctype =
        fmt == FMT_CSV ? "text/csv; charset=utf-8" : "application/geo+json; charset=utf-8";
    const char *disp = fmt == FMT_CSV
                           ? "Content-Disposition: attachment; filename=\"reports.csv\"\r\n"
                           : "Content-Disposition: inline; filename=\"reports.geojson\"\r\n";
    if (strcmp(r->method, "HEAD") == 0) { /* no data goes out: nothing to audit */
        http_begin_chunked(r, 200, ctype, disp);
        PQclear(res);
        return 200;
    }
    long long *ids = malloc(EXPORT_PAGE * sizeof *ids);
    if (!ids) {
        PQclear(res);
        return http_error(r, 500, "internal", NULL, "out of memory");
    }
    buf b = {0};
    if (fmt == FMT_CSV) {
        buf_str(&b, "\xEF\xBB\xBF"); /* UTF-8 BOM: spreadsheets then read the Chinese text right */
        for (int k = 0; csv_header[k]; k++)
            csv_cell(&b, csv_header[k], csv_header[k + 1] == NULL);
    } else {
        buf_str(&b, "{\"type\":\"FeatureCollection\",\"features\":[\n");
    }
    int total = 0, ok = 1, head_sent = 0;
    while (res) {
        int n = PQntuples(res);
        size_t nids = 0;
        for (int i = 0; i < n && total < EXPORT_CAP; i++) {
            if (!report_row_visible(&r->user, res, i)) continue;
            if (fmt == FMT_CSV)
                csv_row(&b, res, i, q.crs);
            else
                geojson_feature(&b, res, i, total == 0);
            ids[nids++] = strtoll(PQgetvalue(res, i, REPORT_COL_ID), NULL, 10);
            total++;
        }
        long long last = n ? strtoll(PQgetvalue(res, n - 1, REPORT_COL_ID), NULL, 10) : 0;
        PQclear(res);
        res = NULL;
        if ((nids || !head_sent) &&
            audit_read(r, fmt == FMT_CSV ? AUDIT_EXPORT_CSV : AUDIT_EXPORT_GEOJSON, ids, nids)) {
            if (!head_sent) {
                free(b.p);
                free(ids);
                return http_db_error(r);
            }
            http_count_db_error();
            fprintf(stderr, "export [%s] cut: audit: %s\n", r->request_id, r->w->err);
            ok = 0;
            break;
        }
        if (!head_sent) {
            r->status = 200;
            head_sent = 1;
            if (http_begin_chunked(r, 200, ctype, disp) < 0) {
                ok = 0;
                break;
            }
        }
        if (send_chunk(r, &b) != 0) {
            ok = 0;
            break;
        }
        if (n < EXPORT_PAGE || total >= EXPORT_CAP) break;
        int want = EXPORT_CAP - total < EXPORT_PAGE ? EXPORT_CAP - total : EXPORT_PAGE;
        qbuild qb;
        build_select(r, &q, last, want < EXPORT_PAGE ? want : EXPORT_PAGE, &qb);
        res = db_exec_read_dynamic(r->w, qb.sql, qb.n, qb.params);
        if (!res) {
            http_count_db_error();
            fprintf(stderr, "export [%s] cut: %s\n", r->request_id, r->w->err);
            ok = 0;
        }
    }
    if (ok) {
        if (fmt == FMT_GEOJSON) buf_str(&b, "\n]}\n");
        if (send_chunk(r, &b) == 0) mg_send_chunk(r->conn, "", 0);
    }
    free(b.p);
    free(ids);
    return 200;
}

/* GET /api/v1/reports.geojson */
int h_reports_geojson(http_req *r) {
    return export_reports(r, FMT_GEOJSON);
}

/* GET /api/v1/reports.csv */
int h_reports_csv(http_req *r) {
    return export_reports(r, FMT_CSV);
}
