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
#include <time.h>

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
    size_t offlen;
} tclock;

/* Room for a time_text: head 17, seconds 2, fraction 7, offset 15, NUL. */
#define TIME_LEN 48

/* Writes the n low decimal digits of v (v >= 0, zero-padded) at p; returns p + n. */
static char *put_digits(char *p, long long v, int n) {
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* RFC 3339 of us with the stored fraction (trailing zeros dropped, as PostgreSQL writes it):
 * "2024-05-01T08:00:05.25+08:00", NUL-terminated. out: TIME_LEN bytes. Returns its
 * length. */
static size_t time_text(tclock *c, long long us, char *out) {
    long long s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    long long minute = s >= 0 ? s / 60 : -((-s + 59) / 60);
    int frac = (int)(us - s * 1000000), sec = (int)(s - minute * 60);
    if (minute != c->minute) {
        char t[TZ_RFC3339_LEN];
        tz_rfc3339((time_t)(minute * 60), t); /* "2024-05-01T08:00:00+08:00" */
        memcpy(c->head, t, 17);
        c->offlen = strlen(t + 19) < sizeof c->offset ? strlen(t + 19) : 0;
        memcpy(c->offset, t + 19, c->offlen);
        c->minute = minute;
    }
    char *p = out;
    memcpy(p, c->head, 17);
    p = put_digits(p + 17, sec, 2);
    if (frac) {
        int digits = 6;
        for (; frac % 10 == 0; frac /= 10)
            digits--;
        *p++ = '.';
        p = put_digits(p, frac, digits);
    }
    memcpy(p, c->offset, c->offlen);
    p += c->offlen;
    *p = 0;
    return (size_t)(p - out);
}

/* Writes a coordinate rounded to 7 decimals (report_coord_out) without trailing zeros at p;
 * returns the end. p: room for 32 bytes. */
static char *put_coord(char *p, double v) {
    long long k = llround(report_coord_out(v) * 1e7), a = k < 0 ? -k : k, whole = a / 10000000;
    int frac = (int)(a % 10000000), digits = 7, n = 1;
    if (k < 0) *p++ = '-';
    for (long long w = whole; w >= 10; w /= 10)
        n++;
    p = put_digits(p, whole, n);
    if (frac) {
        for (; frac % 10 == 0; frac /= 10)
            digits--;
        *p++ = '.';
        p = put_digits(p, frac, digits);
    }
    return p;
}

static void put_position(buf *b, const tfix *f, gis_crs crs) {
    char t[72], *p = t;
    double x = f->lon, y = f->lat;
    gis_from_wgs84(crs, f->lon, f->lat, &x, &y);
    *p++ = '[';
    p = put_coord(p, x);
    *p++ = ',';
    p = put_coord(p, y);
    *p++ = ']';
    buf_put(b, t, (size_t)(p - t));
}

/* One feature of the fixes of v[from..to] whose flag is `flagged` (count of them): a LineString,
 * or a Point when there is one. */
static void put_feature(buf *b, const tfix *v, size_t from, size_t to, size_t count, gis_crs crs,
                        int flagged) {
    char t[TIME_LEN + 4]; /* ,"time" */
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
        t[0] = ',', t[1] = '"';
        size_t n = time_text(&c, v[i].us, t + 2);
        t[n + 2] = '"';
        if (k++)
            buf_put(b, t, n + 3);
        else
            buf_put(b, t + 1, n + 2);
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

/* A big-endian 8-byte field of a binary result. */
static unsigned long long be64(const char *p) {
    unsigned long long v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

static double be_double(const char *p) {
    unsigned long long bits = be64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* The rows of q (binary: at timestamptz, x float8, y float8, flagged bool) as fixes; NULL on out of
 * memory. A binary timestamptz is microseconds since 2000-01-01 UTC. */
static tfix *read_fixes(PGresult *q, size_t n, int *nflagged) {
    const long long epoch_2000_us = 946684800LL * 1000000;
    tfix *v = malloc((n ? n : 1) * sizeof *v);
    *nflagged = 0;
    for (size_t i = 0; v && i < n; i++) {
        v[i].us = (long long)be64(PQgetvalue(q, (int)i, 0)) + epoch_2000_us;
        v[i].lon = be_double(PQgetvalue(q, (int)i, 1));
        v[i].lat = be_double(PQgetvalue(q, (int)i, 2));
        v[i].flagged = PQgetvalue(q, (int)i, 3)[0] != 0;
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
    "SELECT at, ST_X(geom), ST_Y(geom), flagged"
    " FROM unit_positions WHERE unit_id = $1::bigint AND at >= to_timestamp($2::float8)"
    " AND at < to_timestamp($3::float8) ORDER BY at LIMIT $4::int";

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The reply of the n fixes v (time order) into b: the collection's head, then the features. */
static void put_track(http_req *r, buf *b, long long id, const tfix *v, size_t n, int nflagged) {
    const http_qval *from = http_q(r, "from"), *to = http_q(r, "to");
    gis_crs crs = http_q(r, "crs")->crs;
    int gap_s = (int)http_q(r, "gap_s")->i;
    char tf[TIME_LEN], tt[TIME_LEN];
    tclock c = {.minute = LLONG_MIN};
    time_text(&c, llround(from->d * 1e6), tf);
    time_text(&c, llround(to->d * 1e6), tt);
    buf_printf(b,
               "{\"type\":\"FeatureCollection\",\"unit_id\":%lld,\"from\":\"%s\",\"to\":\"%s\","
               "\"gap_s\":%d,\"coordinate_system\":\"%s\",\"fixes\":%zu,\"flagged\":%d,"
               "\"features\":[",
               id, tf, tt, gap_s, gis_crs_name(crs), n, nflagged);
    put_features(b, v, n, gap_s, r->app->cfg.max_fix_speed_mps, crs);
    buf_str(b, "]}");
}

/* GET /api/v1/units/{id}/track?from=&to=&gap_s=&crs= . Server-Timing says how long the read and
 * the building of the reply took (read;dur=, build;dur= in ms), for the bench. */
int h_units_track(http_req *r) {
    const http_qval *from = http_q(r, "from"), *to = http_q(r, "to");
    int max = r->app->cfg.track_max_fixes, rc, nflagged;
    long long id;
    char ids[24], f[32], t[32], lim[16], timing[96];
    if ((rc = check_period(r, from->d, to->d)) || (rc = units_check_visible(r, &id))) return rc;
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(f, sizeof f, "%.6f", from->d);
    snprintf(t, sizeof t, "%.6f", to->d);
    snprintf(lim, sizeof lim, "%d", max + 1);
    const char *p[] = {ids, f, t, lim};
    double t0 = mono_ms();
    PGresult *q = db_exec_params(r->w, track_sql, 4, p, NULL, NULL, 1); /* binary: no number text */
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
    double t1 = mono_ms();
    tfix *v = read_fixes(q, n, &nflagged);
    PQclear(q);
    if (!v) return http_error(r, 500, "out_of_memory", NULL, "out of memory");
    buf b = {0};
    put_track(r, &b, id, v, n, nflagged);
    free(v);
    snprintf(timing, sizeof timing, "Server-Timing: read;dur=%.1f, build;dur=%.1f\r\n", t1 - t0,
             mono_ms() - t1);
    rc = b.oom ? http_error(r, 500, "out_of_memory", NULL, "out of memory")
               : http_send(r, 200, "application/geo+json; charset=utf-8", b.p, b.len, timing);
    buf_free(&b);
    return rc;
}
