/* params.c - request value parsing (crs, point, RFC 3339, ids, UUIDs, bbox, limit, cursors) and
 * the one error answer of each. No state; thread-safe. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "service/door/params.h"

/* ---- error answers ---- */

static const char *const messages[] = {
    [PARAM_CRS] = "%s must be one of wgs84, cgcs2000, gcj02, bd09",
    [PARAM_POINT] = "%s must be lon,lat within -180..180 and -90..90",
    [PARAM_NUMBER] = "%s must be a finite number",
    [PARAM_TIME] =
        "%s must be an RFC 3339 time from 2000-01-01 on, such as 2024-05-01T08:00:00+08:00",
    [PARAM_ID] = "%s must be a positive integer id",
    [PARAM_SEQ] = "%s must be a non-negative integer",
    [PARAM_UUID] = "%s must be a UUID (8-4-4-4-12 hex digits)",
    [PARAM_BBOX] = "%s must be minlon,minlat,maxlon,maxlat (in the request's crs, min <= max)",
    [PARAM_LIMIT] = "%s must be an integer from %d to %d",
    [PARAM_CURSOR] = "%s is not one this service returned",
};

int params_fail(http_req *r, param_kind kind, const char *field, int min, int max) {
    char code[48];
    if (kind == PARAM_CRS)
        snprintf(code, sizeof code, "invalid_crs");
    else if (kind == PARAM_POINT || kind == PARAM_NUMBER)
        snprintf(code, sizeof code, "invalid_location");
    else {
        size_t k = (size_t)snprintf(code, sizeof code, "invalid_%.32s", field);
        for (size_t i = 8; i < k && i < sizeof code; i++) /* Last-Event-ID -> last_event_id */
            code[i] = code[i] == '-' ? '_' : (char)tolower((unsigned char)code[i]);
    }
    if (kind == PARAM_LIMIT)
        return http_error(r, 400, code, field, messages[kind], field, min, max);
    return http_error(r, 400, code, field, messages[kind], field);
}

/* ---- pure parsers ---- */

int params_crs(const char *s, gis_crs *out) {
    return gis_crs_parse(s, out);
}

int params_number(const char *s, double *out) {
    const char *p = s;
    if (!s) return -1;
    if (*p == '-' || *p == '+') p++;
    int digits = 0;
    for (; isdigit((unsigned char)*p); p++)
        digits++;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits++;
    if (!digits) return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p) return -1;
    double v = strtod(s, NULL);
    if (!isfinite(v)) return -1;
    *out = v;
    return 0;
}

int params_point(const char *s, gis_crs crs, double *lon, double *lat) {
    char buf[128];
    const char *comma = s ? strchr(s, ',') : NULL;
    double x, y;
    if (!comma || (size_t)(comma - s) >= sizeof buf) return -1;
    memcpy(buf, s, (size_t)(comma - s));
    buf[comma - s] = 0;
    if (params_number(buf, &x) != 0 || params_number(comma + 1, &y) != 0) return -1;
    return gis_to_wgs84(crs, x, y, lon, lat) == 0 ? 0 : -1;
}

static long long days_from_civil(long long y, unsigned m, unsigned d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static int num(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* Offset "Z" or "+HH:MM"/"-HH:MM" at p, all of the rest: seconds east of UTC into *off. */
static int parse_offset(const char *p, int *off) {
    if ((p[0] == 'Z' || p[0] == 'z') && !p[1]) return *off = 0, 0;
    if ((p[0] != '+' && p[0] != '-') || strlen(p) != 6 || !isdigit((unsigned char)p[1]) ||
        !isdigit((unsigned char)p[2]) || p[3] != ':' || !isdigit((unsigned char)p[4]) ||
        !isdigit((unsigned char)p[5]))
        return -1;
    int oh = num(p + 1, 2), om = num(p + 4, 2);
    if (oh > 23 || om > 59) return -1;
    *off = (oh * 60 + om) * 60 * (p[0] == '-' ? -1 : 1);
    return 0;
}

/* The date YYYY-MM-DD at the start of s (its first 10 characters): year 1900 or later, a real
 * calendar day. Returns 0 with the days since 1970-01-01, or -1. */
static int date_at(const char *s, long long *days) {
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i])) return -1;
    int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap))
        return -1;
    *days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    return 0;
}

int params_date(const char *s, long long *days) {
    long long dd;
    if (!s || strlen(s) != 10 || date_at(s, &dd) != 0) return -1;
    if (days) *days = dd;
    return 0;
}

int params_rfc3339(const char *s, double *out) {
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    long long days;
    if (!s || strlen(s) > 64 || strlen(s) < 20 || date_at(s, &days) != 0) return -1;
    for (int i = 10; i < 19; i++)
        if (pat[i] == 'd'   ? !isdigit((unsigned char)s[i])
            : pat[i] == 'T' ? (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
                            : s[i] != pat[i])
            return -1;
    int h = num(s + 11, 2), mi = num(s + 14, 2), sec = num(s + 17, 2);
    if (h > 23 || mi > 59 || sec > 60) return -1;
    const char *p = s + 19;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        if (!isdigit((unsigned char)*++p)) return -1;
        for (; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    int off;
    if (parse_offset(p, &off) != 0) return -1;
    double t = (double)(days * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec) - off) + frac;
    if (t < PARAMS_TIME_FLOOR) return -1;
    *out = t;
    return 0;
}

int params_int(const char *s, long long min, long long max, long long *out) {
    long long v = 0;
    if (!s || !*s || strlen(s) > 19) return -1;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) return -1;
        if (v > (LLONG_MAX - (*p - '0')) / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < min || v > max) return -1;
    *out = v;
    return 0;
}

int params_id(const char *s, long long *out) {
    return params_int(s, 1, LLONG_MAX, out);
}

int params_uuid(const char *s, char out[37]) {
    if (!s || strlen(s) != 36) return -1;
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return -1;
    }
    for (int i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = 0;
    return 0;
}

int params_bbox(const char *s, gis_crs crs, double out[4]) {
    double v[4], env[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    char part[64];
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        const char *end = i < 3 ? strchr(p, ',') : p + strlen(p);
        if (!end || (size_t)(end - p) >= sizeof part) return -1;
        memcpy(part, p, (size_t)(end - p));
        part[end - p] = 0;
        if (params_number(part, &v[i]) != 0) return -1;
        p = end + (i < 3);
    }
    if (v[0] > v[2] || v[1] > v[3]) return -1;
    for (int i = 0; i < 4; i++) {
        double lon, lat;
        if (gis_to_wgs84(crs, v[i & 1 ? 2 : 0], v[i & 2 ? 3 : 1], &lon, &lat) != 0) return -1;
        env[0] = fmin(env[0], lon), env[1] = fmin(env[1], lat);
        env[2] = fmax(env[2], lon), env[3] = fmax(env[3], lat);
    }
    memcpy(out, env, sizeof env);
    return 0;
}

void params_cursor_encode(const char *tag, long long id, char *out, size_t outlen) {
    char raw[48];
    int n = snprintf(raw, sizeof raw, "%.8s:%lld", tag, id);
    sodium_bin2base64(out, outlen, (const unsigned char *)raw, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int params_cursor_decode(const char *tag, const char *s, long long *id) {
    unsigned char raw[48];
    size_t n = 0, t = strlen(tag);
    if (!s ||
        sodium_base642bin(raw, sizeof raw - 1, s, strlen(s), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n < t + 2 || memcmp(raw, tag, t) != 0 || raw[t] != ':')
        return -1;
    raw[n] = 0;
    if (strlen((const char *)raw) != n) return -1;
    return params_id((const char *)raw + t + 1, id);
}

/* ---- request readers ---- */

/* ?name= into buf: 1 present, 0 absent (or empty when empty_is_absent), -1 too long. */
static int query(http_req *r, const char *name, char *buf, size_t len, int empty_is_absent) {
    int n = http_query(r, name, buf, len);
    if (n == -2) return -1;
    if (n == -1 || (n == 0 && empty_is_absent)) return 0;
    return (size_t)n == strlen(buf) ? 1 : -1; /* an encoded NUL is malformed */
}

int param_crs(http_req *r, gis_crs *out) {
    char v[32];
    int q = query(r, "crs", v, sizeof v, 1);
    gis_crs c = GIS_CRS_WGS84;
    if (q < 0 || (q > 0 && params_crs(v, &c) != 0)) return params_fail(r, PARAM_CRS, "crs", 0, 0);
    *out = c;
    return 0;
}

int param_time(http_req *r, const char *name, double *epoch, char *text, size_t textlen) {
    char v[72];
    double t;
    if (text && textlen) text[0] = 0;
    int q = query(r, name, v, sizeof v, 0);
    if (q == 0) return 0;
    if (q > 0 && strlen(v) > 19 && v[strlen(v) - 6] == ' ') /* '+' decoded to a blank */
        v[strlen(v) - 6] = '+';
    if (q < 0 || params_rfc3339(v, &t) != 0 || (text && strlen(v) >= textlen))
        return params_fail(r, PARAM_TIME, name, 0, 0);
    if (epoch) *epoch = t;
    if (text) memcpy(text, v, strlen(v) + 1);
    return 0;
}

int param_id(http_req *r, const char *name, long long *out, int *found) {
    char v[32];
    int q = query(r, name, v, sizeof v, 0);
    if (found) *found = q != 0;
    if (q == 0) return 0;
    if (q < 0 || params_id(v, out) != 0) return params_fail(r, PARAM_ID, name, 0, 0);
    return 0;
}

int param_limit(http_req *r, const param_limit_rule *rule, int *out) {
    char v[16];
    long long n;
    int q = query(r, "limit", v, sizeof v, 0);
    *out = rule->def;
    if (q == 0) return 0;
    if (q < 0 || params_int(v, rule->min, rule->max, &n) != 0)
        return params_fail(r, PARAM_LIMIT, "limit", rule->min, rule->max);
    *out = (int)n;
    return 0;
}

int param_cursor(http_req *r, const char *tag, long long *id) {
    char v[64];
    int q = query(r, "cursor", v, sizeof v, 0);
    *id = 0;
    if (q == 0) return 0;
    if (q < 0 || params_cursor_decode(tag, v, id) != 0)
        return *id = 0, params_fail(r, PARAM_CURSOR, "cursor", 0, 0);
    return 0;
}

int param_bbox(http_req *r, gis_crs crs, double out[4], int *found) {
    char v[256];
    int q = query(r, "bbox", v, sizeof v, 1);
    *found = q != 0;
    if (q == 0) return 0;
    if (q < 0 || params_bbox(v, crs, out) != 0) return params_fail(r, PARAM_BBOX, "bbox", 0, 0);
    return 0;
}

int param_point(http_req *r, const char *name, gis_crs crs, double *lon, double *lat, int *found) {
    char v[128];
    int q = query(r, name, v, sizeof v, 0);
    *found = q != 0;
    if (q == 0) return 0;
    if (q < 0 || params_point(v, crs, lon, lat) != 0)
        return params_fail(r, PARAM_POINT, name, 0, 0);
    return 0;
}

int param_number(http_req *r, const char *name, double *out) {
    char v[64];
    int q = query(r, name, v, sizeof v, 0);
    if (q == 0) return http_error(r, 400, "missing_field", name, "%s is required", name);
    if (q < 0 || params_number(v, out) != 0) return params_fail(r, PARAM_NUMBER, name, 0, 0);
    return 0;
}

int param_path_id(http_req *r, int i, const char *what, long long *out) {
    if (params_id(r->params[i], out) != 0)
        return http_error(r, 404, "not_found", NULL, "no such %s: %.40s", what, r->params[i]);
    return 0;
}
