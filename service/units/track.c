/* track.c - GET /api/v1/units/{id}/track: a unit's fixes of a period as GeoJSON for track replay.
 *
 * The fixes of [from, to) are read by one statement (the key unit_id, at of the day partitions),
 * the pool slot goes back at once, and the reply is built in memory and written without a slot
 * (HACKING.md: no slot while bytes move). Both are bounded: a period of at most track_max_hours
 * and at most track_max_fixes fixes (more is a 400 that says so, nothing half sent).
 *
 * The shape (schema UnitTrack): a FeatureCollection whose features are, first, the continuous
 * stretches in time order, each a LineString (a Point when the stretch is one fix) with
 * properties.times the RFC 3339 time of each vertex in the deployment's zone; then each flagged fix
 * (stored with an impossible speed, never the unit's position) as a Point of its own with its flag.
 * A stretch ends where the next accepted fix comes more than gap_s later, or implies a speed over
 * max_fix_speed_mps (an impossible jump between fixes that arrived in separate batches).
 * Coordinates are in ?crs=, rounded like report locations (7 decimals). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/coords.h"
#include "gis/transform.h"
#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/tz.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/reports/report_json.h"
#include "service/units/units.h"

typedef struct tfix {
    long long us; /* microseconds since the epoch, as stored */
    double lon, lat;
    int flagged;
} tfix;

/* RFC 3339 times in the deployment's zone, made per minute: localtime and strftime once a minute
 * (zone offsets change on whole minutes), the seconds and the fraction by hand. */
typedef struct tclock {
    long long minute; /* epoch minute of head/offset; LLONG_MIN when none */
    char head[20];    /* "2024-05-01T08:00:" */
    char offset[16];  /* "+08:00" */
} tclock;

/* RFC 3339 of us with the stored fraction (trailing zeros dropped, as PostgreSQL writes it):
 * "2024-05-01T08:00:05.25+08:00". out: TZ_RFC3339_LEN + 8 bytes. */
static void time_text(tclock *c, long long us, char *out) {
    long long s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    long long minute = s >= 0 ? s / 60 : -((-s + 59) / 60);
    int frac = (int)(us - s * 1000000), sec = (int)(s - minute * 60);
    if (minute != c->minute) {
        char t[TZ_RFC3339_LEN];
        tz_rfc3339((time_t)(minute * 60), t); /* "2024-05-01T08:00:00+08:00" */
        memcpy(c->head, t, 17);
        c->head[17] = 0;
        snprintf(c->offset, sizeof c->offset, "%s", t + 19);
        c->minute = minute;
    }
    char f[8] = "";
    if (frac) {
        int n = snprintf(f, sizeof f, ".%06d", frac);
        while (n > 1 && f[n - 1] == '0')
            f[--n] = 0;
    }
    snprintf(out, TZ_RFC3339_LEN + 8, "%s%02d%s%s", c->head, sec, f, c->offset);
}

/* A coordinate rounded to 7 decimals (report_coord_out), written without trailing zeros. */
static void put_coord(buf *b, double v) {
    char t[40];
    long long k = llround(report_coord_out(v) * 1e7), a = k < 0 ? -k : k;
    int n = snprintf(t, sizeof t, "%s%lld.%07lld", k < 0 ? "-" : "", a / 10000000, a % 10000000);
    while (t[n - 1] == '0')
        t[--n] = 0;
    if (t[n - 1] == '.') t[--n] = 0;
    buf_put(b, t, (size_t)n);
}

static void put_position(buf *b, const tfix *f, gis_crs crs) {
    double x = f->lon, y = f->lat;
    gis_from_wgs84(crs, f->lon, f->lat, &x, &y);
    buf_put(b, "[", 1);
    put_coord(b, x);
    buf_put(b, ",", 1);
    put_coord(b, y);
    buf_put(b, "]", 1);
}

/* One feature of the fixes v[from..to] that are (flagged 0) or are not (flagged 1) flagged: a
 * LineString of them, or a Point when there is one. */
static void put_feature(buf *b, const tfix *v, size_t from, size_t to, size_t count, gis_crs crs,
                        int flagged) {
    char t[TZ_RFC3339_LEN + 8];
    tclock c = {.minute = LLONG_MIN};
    buf_str(b, "{\"type\":\"Feature\",\"geometry\":{\"type\":");
    buf_str(b, count == 1 ? "\"Point\",\"coordinates\":" : "\"LineString\",\"coordinates\":[");
    for (size_t i = from, k = 0; i <= to; i++) {
        if (v[i].flagged != flagged) continue;
        if (k++) buf_put(b, ",", 1);
        put_position(b, &v[i], crs);
    }
    buf_str(b, count == 1 ? "},\"properties\":{" : "]},\"properties\":{");
    buf_str(b, flagged ? "\"kind\":\"flagged\",\"flag\":\"impossible_speed\""
                       : "\"kind\":\"stretch\"");
    buf_str(b, ",\"times\":[");
    for (size_t i = from, k = 0; i <= to; i++) {
        if (v[i].flagged != flagged) continue;
        time_text(&c, v[i].us, t);
        buf_printf(b, "%s\"%s\"", k++ ? "," : "", t);
    }
    buf_str(b, "]}}");
}

/* 1 when accepted fix b does not continue the stretch of accepted fix a (a before b). */
static int breaks(const tfix *a, const tfix *b, double gap_s, double max_speed) {
    double dt = (double)(b->us - a->us) / 1e6;
    return dt > gap_s || gis_geodesic_m(a->lon, a->lat, b->lon, b->lat) > max_speed * dt;
}

/* The features of v[0..n) (time order) into b: the stretches, then the flagged fixes. */
static void put_features(buf *b, const tfix *v, size_t n, double gap_s, double max_speed,
                         gis_crs crs) {
    size_t start = 0, prev = 0, count = 0, nf = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i].flagged) continue;
        if (count && (i == n || breaks(&v[prev], &v[i], gap_s, max_speed))) {
            if (nf++) buf_put(b, ",", 1);
            put_feature(b, v, start, prev, count, crs, 0);
            count = 0;
        }
        if (i == n) break;
        if (!count) start = i;
        count++, prev = i;
    }
    for (size_t i = 0; i < n; i++)
        if (v[i].flagged) {
            if (nf++) buf_put(b, ",", 1);
            put_feature(b, v, i, i, 1, crs, 1);
        }
}

/* The rows of q (us, lon, lat, flagged) as fixes; NULL on out of memory. */
static tfix *read_fixes(PGresult *q, size_t n, int *nflagged) {
    tfix *v = malloc((n ? n : 1) * sizeof *v);
    *nflagged = 0;
    for (size_t i = 0; v && i < n; i++) {
        v[i].us = strtoll(PQgetvalue(q, (int)i, 0), NULL, 10);
        v[i].lon = strtod(PQgetvalue(q, (int)i, 1), NULL);
        v[i].lat = strtod(PQgetvalue(q, (int)i, 2), NULL);
        v[i].flagged = PQgetvalue(q, (int)i, 3)[0] == 't';
        *nflagged += v[i].flagged;
    }
    return v;
}

/* Checks the period [from, to) against track_max_hours: 0, or the status of the 400 sent. */
static int check_period(http_req *r, double from, double to) {
    int hours = r->app->cfg.track_max_hours;
    if (to <= from) return http_error(r, 400, "invalid_period", "to", "to must be after from");
    if (to - from > hours * 3600.0)
        return http_error(r, 400, "invalid_period", "to",
                          "a track covers at most %d hours (track_max_hours): ask for a shorter"
                          " period",
                          hours);
    return 0;
}

static const char track_sql[] =
    "SELECT (extract(epoch FROM at) * 1000000)::bigint, ST_X(geom), ST_Y(geom), flagged"
    " FROM unit_positions WHERE unit_id = $1::bigint AND at >= to_timestamp($2::float8)"
    " AND at < to_timestamp($3::float8) ORDER BY at LIMIT $4::int";

/* GET /api/v1/units/{id}/track?from=&to=&gap_s=&crs= */
int h_units_track(http_req *r) {
    const http_qval *from = http_q(r, "from"), *to = http_q(r, "to");
    gis_crs crs = http_q(r, "crs")->crs;
    int gap_s = (int)http_q(r, "gap_s")->i, max = r->app->cfg.track_max_fixes, rc, nflagged;
    long long id;
    char ids[24], f[32], t[32], lim[16], tf[TZ_RFC3339_LEN + 8], tt[TZ_RFC3339_LEN + 8];
    if ((rc = check_period(r, from->d, to->d)) || (rc = units_check_visible(r, &id))) return rc;
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(f, sizeof f, "%.6f", from->d);
    snprintf(t, sizeof t, "%.6f", to->d);
    snprintf(lim, sizeof lim, "%d", max + 1);
    const char *p[] = {ids, f, t, lim};
    PGresult *q = db_exec(r->w, track_sql, 4, p);
    if (!q) return http_db_error(r);
    http_release_worker(r); /* the rest is memory and the client's socket */
    size_t n = (size_t)PQntuples(q);
    if (n > (size_t)max) {
        PQclear(q);
        return http_error(r, 400, "too_many_fixes", "to",
                          "the period holds more than %d fixes (track_max_fixes): ask for a shorter"
                          " period",
                          max);
    }
    tfix *v = read_fixes(q, n, &nflagged);
    PQclear(q);
    if (!v) return http_error(r, 500, "out_of_memory", NULL, "out of memory");
    buf b = {0};
    tclock c = {.minute = LLONG_MIN};
    time_text(&c, llround(from->d * 1e6), tf);
    time_text(&c, llround(to->d * 1e6), tt);
    buf_printf(&b,
               "{\"type\":\"FeatureCollection\",\"unit_id\":%lld,\"from\":\"%s\",\"to\":\"%s\","
               "\"gap_s\":%d,\"coordinate_system\":\"%s\",\"fixes\":%zu,\"flagged\":%d,"
               "\"features\":[",
               id, tf, tt, gap_s, gis_crs_name(crs), n, nflagged);
    put_features(&b, v, n, gap_s, r->app->cfg.max_fix_speed_mps, crs);
    buf_str(&b, "]}");
    free(v);
    rc = b.oom ? http_error(r, 500, "out_of_memory", NULL, "out of memory")
               : http_send(r, 200, "application/geo+json; charset=utf-8", b.p, b.len, NULL);
    buf_free(&b);
    return rc;
}
