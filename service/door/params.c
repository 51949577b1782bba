/* params.c - request value parsing (crs, point, numbers, RFC 3339, ids, UUIDs, bbox, integers,
 * cursors, vocabulary and division codes, text, booleans, dates, ISO weeks, months, times of day),
 * the one error answer of each, and the door that reads a route's declared query parameters
 * (params_read). No shared state; thread-safe. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
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
    [PARAM_INT] = "%s must be an integer from %d to %d",
    [PARAM_CURSOR] = "%s is not one this service returned",
    [PARAM_VOCAB] = "%s is not a known code",
    [PARAM_DIVISION] = "%s must be a 4-, 6-, 9- or 12-digit division code",
    [PARAM_TEXT] = "%s must be UTF-8 text of %d to %d bytes",
    [PARAM_BOOL] = "%s must be true or false",
    [PARAM_DATE] = "%s must be a real date such as 2026-11-30",
    [PARAM_WEEK] = "%s must be an ISO week such as 2026-W49 (W53 only in a year that has one)",
    [PARAM_MONTH] = "%s must be a month such as 2026-11",
    [PARAM_TIMEOFDAY] = "%s must be a time of day from 00:00 to 23:59, such as 20:00",
};

/* The error code of a malformed `field` of kind (invalid_crs, invalid_location, invalid_<field>
 * with a header's Last-Event-ID written last_event_id). */
static void error_code(param_kind kind, const char *field, char *code, size_t len) {
    if (kind == PARAM_CRS)
        snprintf(code, len, "invalid_crs");
    else if (kind == PARAM_POINT)
        snprintf(code, len, "invalid_location");
    else {
        size_t k = (size_t)snprintf(code, len, "invalid_%.32s", field);
        for (size_t i = 8; i < k && i < len; i++)
            code[i] = code[i] == '-' ? '_' : (char)tolower((unsigned char)code[i]);
    }
}

int params_fail(http_req *r, param_kind kind, const char *field, int min, int max) {
    char code[48];
    error_code(kind == PARAM_NUMBER ? PARAM_POINT : kind, field, code, sizeof code);
    if (kind == PARAM_INT) return http_error(r, 400, code, field, messages[kind], field, min, max);
    return http_error(r, 400, code, field, messages[kind], field);
}

/* ---- pure parsers ---- */

int params_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

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

/* Days since 1970-01-01 -> civil year, month, day (Howard Hinnant's algorithm). */
static void civil_from_days(long long z, int *y, int *m, int *d) {
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

void params_day_text(long long days, char out[11]) {
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    const int v[] = {y / 1000 % 10, y / 100 % 10, y / 10 % 10, y % 10, -1,
                     m / 10,        m % 10,       -1,          d / 10, d % 10};
    for (int i = 0; i < 10; i++)
        out[i] = v[i] < 0 ? '-' : (char)('0' + v[i]);
    out[10] = 0;
}

/* 1 when s is exactly the pattern (d: a digit, anything else itself). */
static int shaped(const char *s, const char *pat) {
    for (; *pat; s++, pat++)
        if (*pat == 'd' ? !isdigit((unsigned char)*s) : *s != *pat) return 0;
    return *s == 0;
}

/* Days since 1970-01-01 of the Monday of ISO week 1 of year y (the week holding 4 January). */
static long long iso_week1(int y) {
    long long jan4 = days_from_civil(y, 1, 4);
    long long wd = ((jan4 + 3) % 7 + 7) % 7; /* 0 Monday .. 6 Sunday; 1970-01-01 a Thursday */
    return jan4 - wd;
}

int params_week(const char *s, long long *monday) {
    if (!s || !shaped(s, "dddd-Wdd")) return -1;
    int y = num(s, 4), w = num(s + 6, 2);
    long long first = iso_week1(y), weeks = (iso_week1(y + 1) - first) / 7; /* 52 or 53 */
    if (y < 1900 || w < 1 || w > weeks) return -1;
    *monday = first + 7LL * (w - 1);
    return 0;
}

int params_month(const char *s, long long *first, long long *next) {
    if (!s || !shaped(s, "dddd-dd")) return -1;
    int y = num(s, 4), m = num(s + 5, 2);
    if (y < 1900 || m < 1 || m > 12) return -1;
    *first = days_from_civil(y, (unsigned)m, 1);
    *next = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, (unsigned)m + 1, 1);
    return 0;
}

int params_timeofday(const char *s, int *minutes) {
    if (!s || !shaped(s, "dd:dd")) return -1;
    int h = num(s, 2), m = num(s + 3, 2);
    if (h > 23 || m > 59) return -1;
    *minutes = h * 60 + m;
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

/* ---- the door: a route's declared query parameters ---- */

enum { PARAMS_MAX_SPECS = 32 };

/* Strings of the typed values: a bump allocator over the request's block. */
typedef struct arena {
    char *p;
    size_t len, cap;
} arena;

static const char *keep(arena *a, const char *s, size_t n) {
    if (a->len + n + 1 > a->cap) return NULL;
    char *out = a->p + a->len;
    memcpy(out, s, n);
    out[n] = 0;
    a->len += n + 1;
    return out;
}

static int fail(param_error *e, const param_spec *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(param_error *e, const param_spec *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    if (p->code)
        snprintf(e->code, sizeof e->code, "%s", p->code);
    else
        error_code(p->kind, p->name, e->code, sizeof e->code);
    e->field = p->name;
    return -1;
}

/* The kind's own answer for a malformed value of p. */
static int bad(param_error *e, const param_spec *p) {
    const char *name = p->name;
    char list[160];
    switch (p->kind) {
    case PARAM_CRS:
        if (!p->vocab) break;
        vocab_join(p->vocab, ", ", list, sizeof list);
        return fail(e, p, "%s must be one of %s", name, list);
    case PARAM_NUMBER:
        if (p->min == 0 && p->max == 0) break;
        return fail(e, p, "%s must be a number from %g to %g", name, p->min, p->max);
    case PARAM_INT:
        return fail(e, p, messages[PARAM_INT], name, (int)p->min, (int)p->max);
    case PARAM_ID:
        if (!(p->flags & PARAM_LIST)) break;
        return fail(e, p, "%s must be a comma-separated list of positive integer ids", name);
    case PARAM_VOCAB:
        fail(e, p, "%s", "");
        vocab_message(p->vocab, name, (p->flags & PARAM_LIST) != 0, e->message, sizeof e->message);
        return -1;
    case PARAM_DIVISION:
        if (p->min != 2) break;
        return fail(e, p, "%s must be a 2-, 4-, 6-, 9- or 12-digit division code", name);
    case PARAM_TEXT:
        return fail(e, p, messages[PARAM_TEXT], name, (int)p->min,
                    p->max > 0 ? (int)p->max : PARAM_VALUE_MAX);
    default:
        break;
    }
    return fail(e, p, messages[p->kind], name);
}

static int hexval(int c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

long params_url_decode(const char *s, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+') {
            out[k++] = ' ';
        } else if (s[i] != '%') {
            out[k++] = s[i];
        } else if (i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
                   (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            out[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            return -1;
        }
    }
    out[k] = 0;
    return (long)k;
}

/* Room for one parameter's raw value while it is decoded: decoding never grows a value, and a
 * value of more than 3 * PARAM_VALUE_MAX raw bytes decodes to more than PARAM_VALUE_MAX. */
enum { RAW_MAX = 3 * PARAM_VALUE_MAX + 3 };

/* One name=value pair of a query string, as sent (raw). */
typedef struct qpair {
    const char *key, *val;
    size_t klen, vlen;
    int plain; /* the key has no escape: compared as it is */
} qpair;

enum { QUERY_MAX_PAIRS = 256 };

/* Splits query into its pairs (empty ones skipped). Returns their number, -1 when over max. */
static int split_query(const char *query, qpair *out, int max) {
    int n = 0;
    for (const char *s = query; s && *s;) {
        size_t pair = strcspn(s, "&"), klen = strcspn(s, "=&");
        if (pair) {
            if (n == max) return -1;
            qpair *q = &out[n++];
            q->key = s, q->klen = klen;
            q->val = klen < pair ? s + klen + 1 : s + pair;
            q->vlen = klen < pair ? pair - klen - 1 : 0;
            q->plain = !memchr(s, '%', klen) && !memchr(s, '+', klen);
        }
        s += pair + (s[pair] == '&');
    }
    return n;
}

/* 1 when pair q names p. */
static int names(const qpair *q, const param_spec *p) {
    size_t want = strlen(p->name);
    char key[72];
    if (q->plain) return q->klen == want && memcmp(q->key, p->name, want) == 0;
    return q->klen < sizeof key && params_url_decode(q->key, q->klen, key) == (long)want &&
           memcmp(key, p->name, want) == 0;
}

/* Every ?name= of the pairs joined with ',' into v (RAW_MAX + 1 bytes), decoded. *count: how many
 * times it was given (0: absent). Returns 0, or -1 with *e filled (badly escaped, too long, NUL
 * or not UTF-8). */
static int query_value(const qpair *pairs, int npairs, const param_spec *p, char *v, size_t *vlen,
                       int *count, param_error *e) {
    size_t len = 0;
    *count = 0;
    for (int i = 0; i < npairs; i++) {
        if (!names(&pairs[i], p)) continue;
        if (len + 1 + pairs[i].vlen > RAW_MAX)
            return fail(e, p, "%s is longer than %d bytes", p->name, PARAM_VALUE_MAX);
        if ((*count)++) v[len++] = ',';
        long k = params_url_decode(pairs[i].val, pairs[i].vlen, v + len);
        if (k < 0) return fail(e, p, "%s is not properly %%-escaped", p->name);
        len += (size_t)k;
    }
    v[len] = 0;
    *vlen = len;
    if (len > PARAM_VALUE_MAX)
        return fail(e, p, "%s is longer than %d bytes", p->name, PARAM_VALUE_MAX);
    if (*count && (memchr(v, 0, len) || !params_utf8_valid(v, len)))
        return fail(e, p, "%s must be UTF-8 text without NUL characters", p->name);
    return 0;
}

/* Dates of a DATE, WEEK or MONTH value: the first day and the day after the last, as text. */
static int keep_days(arena *a, long long first, long long next, http_qval *q) {
    char t[11];
    params_day_text(first, t);
    q->from = keep(a, t, 10);
    params_day_text(next, t);
    q->to = keep(a, t, 10);
    q->day0 = first, q->day1 = next;
    return q->from && q->to ? 0 : -1;
}

/* Parses v, one value of p, into q (q->s: v kept as given unless the kind sets it). Returns 0, 1
 * when malformed, -1 out of room. */
static int parse_one(const param_spec *p, char *v, size_t n, gis_crs crs, http_qval *q, arena *a) {
    long long x, y;
    int m;
    char u[37];
    switch (p->kind) {
    case PARAM_CRS:
        if (params_crs(v, &q->crs) != 0 ||
            (p->vocab && vocab_find(p->vocab, gis_crs_name(q->crs)) < 0))
            return 1;
        return (q->s = gis_crs_name(q->crs)) ? 0 : -1;
    case PARAM_POINT:
        return params_point(v, crs, &q->lon, &q->lat) != 0;
    case PARAM_NUMBER:
        if (params_number(v, &q->d) != 0 ||
            ((p->min != 0 || p->max != 0) && (q->d < p->min || q->d > p->max)))
            return 1;
        break;
    case PARAM_TIME:
        if (n > 19 && v[n - 6] == ' ') v[n - 6] = '+'; /* an unescaped '+' of the offset */
        if (params_rfc3339(v, &q->d) != 0) return 1;
        break;
    case PARAM_ID:
        if (params_id(v, &q->i) != 0) return 1;
        break;
    case PARAM_SEQ:
        if (params_int(v, 0, LLONG_MAX, &q->i) != 0) return 1;
        break;
    case PARAM_UUID:
        if (params_uuid(v, u) != 0) return 1;
        return (q->s = keep(a, u, 36)) ? 0 : -1;
    case PARAM_BBOX:
        return params_bbox(v, crs, q->bbox) != 0;
    case PARAM_INT:
        if (params_int(v, (long long)p->min, (long long)p->max, &q->i) != 0) return 1;
        break;
    case PARAM_CURSOR:
        return params_cursor_decode(p->tag, v, &q->i) != 0;
    case PARAM_VOCAB:
        if ((m = vocab_find(p->vocab, v)) < 0) return 1;
        q->mask |= 1ull << m;
        return (q->s = vocab_code(p->vocab, (size_t)m)) ? 0 : -1;
    case PARAM_DIVISION: {
        char code[13], prefix[13];
        if (n > 12 || vocab_code12(v, p->min == 2 ? 2 : 4, code) != 0) return 1;
        vocab_code_prefix(code, prefix);
        q->s = keep(a, code, 12);
        return (q->prefix = keep(a, prefix, strlen(prefix))) && q->s ? 0 : -1;
    }
    case PARAM_TEXT:
        if (n < (size_t)p->min || n > (p->max > 0 ? (size_t)p->max : (size_t)PARAM_VALUE_MAX))
            return 1;
        break;
    case PARAM_BOOL:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) return 1;
        q->i = v[0] == 't';
        break;
    case PARAM_DATE:
        if (params_date(v, &x) != 0) return 1;
        return keep_days(a, x, x + 1, q) ? -1 : (q->s = keep(a, v, n)) ? 0 : -1;
    case PARAM_WEEK:
        if (params_week(v, &x) != 0) return 1;
        return keep_days(a, x, x + 7, q) ? -1 : (q->s = keep(a, v, n)) ? 0 : -1;
    case PARAM_MONTH:
        if (params_month(v, &x, &y) != 0) return 1;
        return keep_days(a, x, y, q) ? -1 : (q->s = keep(a, v, n)) ? 0 : -1;
    case PARAM_TIMEOFDAY:
        if (params_timeofday(v, &m) != 0) return 1;
        q->i = m;
        break;
    }
    return (q->s = keep(a, v, n)) ? 0 : -1;
}

/* Appends sep and item to the literal lit (cap bytes). Returns 0, -1 when it does not fit. */
static int put_item(char *lit, size_t *len, size_t cap, int first, const char *item) {
    size_t n = strlen(item);
    if (*len + n + 2 > cap) return -1;
    if (!first) lit[(*len)++] = ',';
    memcpy(lit + *len, item, n);
    *len += n;
    return 0;
}

/* A list value (PARAM_LIST: ids or vocabulary codes; spaces around an item dropped): q->s the
 * PostgreSQL array literal of the distinct items ("{a,b}": codes in the vocabulary's order, ids in
 * the order given), q->n their number. Returns 0, 1 malformed, 2 too many items, -1 out of room. */
static int parse_list(const param_spec *p, char *v, http_qval *q, arena *a) {
    int max = p->items > 0 ? p->items : PARAM_LIST_ITEMS, items = 0;
    long long ids[PARAM_VALUE_MAX / 2 + 1];
    char lit[PARAM_VALUE_MAX + 3];
    size_t len = 0;
    lit[len++] = '{';
    for (char *s = v, *end;; s = end + 1) {
        end = s + strcspn(s, ",");
        int last = *end == 0, k = 0;
        char *b = s, *e = end;
        while (b < e && *b == ' ')
            b++;
        while (e > b && e[-1] == ' ')
            e--;
        *e = 0;
        long long id;
        if (p->kind == PARAM_VOCAB ? (k = vocab_find(p->vocab, b)) < 0 : params_id(b, &id) != 0)
            return 1;
        if (++items > max) return 2;
        if (p->kind == PARAM_VOCAB) {
            q->mask |= 1ull << k;
        } else {
            int dup = 0;
            for (int i = 0; i < q->n && !dup; i++)
                dup = ids[i] == id;
            char t[24];
            snprintf(t, sizeof t, "%lld", id);
            if (!dup && put_item(lit, &len, sizeof lit, q->n == 0, t) != 0) return -1;
            if (!dup) ids[q->n++] = id;
        }
        if (last) break;
    }
    for (size_t k = 0; p->kind == PARAM_VOCAB && k < p->vocab->n; k++)
        if (q->mask >> k & 1 &&
            put_item(lit, &len, sizeof lit, q->n++ == 0, vocab_code(p->vocab, k)))
            return -1;
    lit[len++] = '}';
    if (p->kind == PARAM_ID) q->i = ids[0];
    return (q->s = keep(a, lit, len)) ? 0 : -1;
}

/* Reads spec p (value v of vlen bytes given count times, or the header) into q. 0 or -1 (*e). */
static int read_spec(const param_spec *p, char *v, size_t vlen, int count, gis_crs crs,
                     http_qval *q, arena *a, param_error *e) {
    memset(q, 0, sizeof *q);
    q->crs = GIS_CRS_WGS84;
    if (p->kind == PARAM_INT) q->i = (long long)p->def, q->d = p->def;
    if (!count) {
        if (p->flags & PARAM_REQUIRED) {
            snprintf(e->code, sizeof e->code, "missing_field");
            e->field = p->name;
            snprintf(e->message, sizeof e->message, "%s is required", p->name);
            return -1;
        }
        return 0;
    }
    if (count > 1 && !(p->flags & PARAM_LIST))
        return fail(e, p, "%s may be given only once (it is not a list)", p->name);
    q->given = 1;
    int rc = p->flags & PARAM_LIST ? parse_list(p, v, q, a) : parse_one(p, v, vlen, crs, q, a);
    if (rc == 2)
        return fail(e, p, "%s lists at most %d items", p->name,
                    p->items > 0 ? p->items : PARAM_LIST_ITEMS);
    if (rc < 0) {
        fail(e, p, "%s: out of room for its value", p->name);
        snprintf(e->code, sizeof e->code, "internal");
        return -1;
    }
    if (rc > 0) return bad(e, p);
    if (p->kind == PARAM_INT) q->d = (double)q->i;
    return 0;
}

int params_parse(const param_spec *const *specs, const char *query,
                 const char *const *header_values, http_qval *out, char *mem, size_t memlen,
                 param_error *e) {
    arena a = {mem, 0, memlen};
    gis_crs crs = GIS_CRS_WGS84;
    char v[RAW_MAX + 1];
    qpair pairs[QUERY_MAX_PAIRS];
    int npairs = split_query(query, pairs, QUERY_MAX_PAIRS);
    if (npairs < 0) {
        snprintf(e->code, sizeof e->code, "invalid_query_string");
        e->field = NULL;
        snprintf(e->message, sizeof e->message, "the query string has more than %d parameters",
                 QUERY_MAX_PAIRS);
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) /* a crs first: points and boxes are read in it */
        for (size_t i = 0; specs && specs[i]; i++) {
            const param_spec *p = specs[i];
            if ((p->kind == PARAM_CRS) != (pass == 0)) continue;
            size_t vlen = 0;
            int count = 0;
            if (p->flags & PARAM_HEADER) {
                const char *h = header_values ? header_values[i] : NULL;
                vlen = h ? strlen(h) : 0;
                if (vlen > PARAM_VALUE_MAX || (vlen && !params_utf8_valid(h, vlen)))
                    return fail(e, p, "%s must be UTF-8 text of at most %d bytes", p->name,
                                PARAM_VALUE_MAX);
                count = vlen > 0;
                memcpy(v, h ? h : "", vlen + 1);
            } else if (query_value(pairs, npairs, p, v, &vlen, &count, e) != 0) {
                return -1;
            }
            if (read_spec(p, v, vlen, count, crs, &out[i], &a, e) != 0) return -1;
            if (p->kind == PARAM_CRS && out[i].given) crs = out[i].crs;
        }
    return 0;
}

size_t params_mem_size(const param_spec *const *specs, const char *query,
                       const char *const *header_values) {
    size_t n = 64 + 2 * (query ? strlen(query) : 0);
    for (size_t i = 0; specs && specs[i]; i++)
        n += 96 + (header_values && header_values[i] ? strlen(header_values[i]) : 0);
    return n;
}

int params_read(http_req *r, const param_spec *const *specs) {
    const char *hv[PARAMS_MAX_SPECS] = {0};
    size_t n = 0;
    r->qspecs = specs;
    for (; specs && specs[n]; n++) {
        if (n >= PARAMS_MAX_SPECS) return http_error(r, 500, "internal", NULL, "too many specs");
        if (specs[n]->flags & PARAM_HEADER) hv[n] = http_header(r, specs[n]->name);
    }
    if (!n) return 0;
    size_t mem = params_mem_size(specs, r->query, hv);
    char *block = malloc(n * sizeof(http_qval) + mem);
    if (!block) return http_error(r, 500, "internal", NULL, "out of memory");
    r->qv = (http_qval *)block;
    param_error e;
    if (params_parse(specs, r->query, hv, r->qv, block + n * sizeof(http_qval), mem, &e) != 0)
        return http_error(r, strcmp(e.code, "internal") ? 400 : 500, e.code, e.field, "%s",
                          e.message);
    return 0;
}

void params_free(http_req *r) {
    free(r->qv);
    r->qv = NULL;
    r->qspecs = NULL;
}

/* ---- the OpenAPI schema of a spec ---- */

/* Per kind: the JSON Schema type, pattern and format of a value, and the door's name for it. */
static const struct {
    const char *type, *pattern, *format, *name;
} kind_schemas[] = {
    [PARAM_CRS] = {"string", NULL, NULL, "crs"},
    [PARAM_POINT] = {"string", "^[-+]?[0-9.]+([eE][-+]?[0-9]+)?,[-+]?[0-9.]+([eE][-+]?[0-9]+)?$",
                     NULL, "point"},
    [PARAM_NUMBER] = {"number", NULL, NULL, "number"},
    [PARAM_TIME] = {"string", NULL, "date-time", "time"},
    [PARAM_ID] = {"integer", NULL, NULL, "id"},
    [PARAM_SEQ] = {"integer", NULL, NULL, "seq"},
    [PARAM_UUID] = {"string", NULL, "uuid", "uuid"},
    [PARAM_BBOX] = {"string",
                    "^([-+]?[0-9.]+([eE][-+]?[0-9]+)?,){3}[-+]?[0-9.]+([eE][-+]?[0-9]+)?$", NULL,
                    "bbox"},
    [PARAM_INT] = {"integer", NULL, NULL, "int"},
    [PARAM_CURSOR] = {"string", NULL, NULL, "cursor"},
    [PARAM_VOCAB] = {NULL, NULL, NULL, "vocab"},
    [PARAM_DIVISION] = {"string", "^([0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$", NULL, "division"},
    [PARAM_TEXT] = {"string", NULL, NULL, "text"},
    [PARAM_BOOL] = {"boolean", NULL, NULL, "bool"},
    [PARAM_DATE] = {"string", NULL, "date", "date"},
    [PARAM_WEEK] = {"string", "^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$", NULL, "week"},
    [PARAM_MONTH] = {"string", "^[0-9]{4}-(0[1-9]|1[0-2])$", NULL, "month"},
    [PARAM_TIMEOFDAY] = {"string", "^([01][0-9]|2[0-3]):[0-5][0-9]$", NULL, "timeofday"},
};

static json_t *kind_schema(const param_spec *p) {
    static const vocab_term crs_terms[] = {
        {.code = "wgs84"}, {.code = "cgcs2000"}, {.code = "gcj02"}, {.code = "bd09"}};
    static const vocab crs_all = {.terms = crs_terms, .n = 4};
    const char *pattern = kind_schemas[p->kind].pattern, *format = kind_schemas[p->kind].format;
    json_t *o;
    if (p->kind == PARAM_VOCAB && p->vocab->component)
        return json_pack("{s:s+}", "$ref", "#/components/schemas/", p->vocab->component);
    if (p->kind == PARAM_VOCAB || p->kind == PARAM_CRS)
        o = vocab_enum_json(p->kind == PARAM_VOCAB || p->vocab ? p->vocab : &crs_all);
    else
        o = json_pack("{s:s}", "type", kind_schemas[p->kind].type);
    if (p->kind == PARAM_CRS) json_object_set_new(o, "default", json_string("wgs84"));
    if (p->kind == PARAM_INT || (p->kind == PARAM_NUMBER && (p->min != 0 || p->max != 0))) {
        json_object_set_new(o, "minimum", json_integer((json_int_t)p->min));
        json_object_set_new(o, "maximum", json_integer((json_int_t)p->max));
    }
    if (p->kind == PARAM_INT) json_object_set_new(o, "default", json_integer((json_int_t)p->def));
    if (p->kind == PARAM_ID || p->kind == PARAM_SEQ)
        json_object_set_new(o, "minimum", json_integer(p->kind == PARAM_ID));
    if (p->kind == PARAM_DIVISION && p->min == 2)
        pattern = "^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$";
    if (p->kind == PARAM_TEXT) {
        json_object_set_new(o, "minLength", json_integer((json_int_t)p->min));
        json_object_set_new(o, "maxLength",
                            json_integer(p->max > 0 ? (json_int_t)p->max : PARAM_VALUE_MAX));
    }
    if (pattern) json_object_set_new(o, "pattern", json_string(pattern));
    if (format) json_object_set_new(o, "format", json_string(format));
    json_object_set_new(o, "x-kind", json_string(kind_schemas[p->kind].name));
    return o;
}

json_t *params_schema(const param_spec *p) {
    json_t *item = kind_schema(p);
    if (!(p->flags & PARAM_LIST)) return item;
    return json_pack("{s:s,s:o,s:i,s:i,s:s}", "type", "array", "items", item, "minItems", 1,
                     "maxItems", p->items > 0 ? p->items : PARAM_LIST_ITEMS, "x-kind",
                     p->kind == PARAM_ID ? "id" : "vocab");
}

const http_qval *http_q(const http_req *r, const char *name) {
    static const http_qval absent = {.crs = GIS_CRS_WGS84};
    for (size_t i = 0; r->qspecs && r->qspecs[i]; i++)
        if (strcmp(r->qspecs[i]->name, name) == 0) return r->qv ? &r->qv[i] : &absent;
    fprintf(stderr, "http_q: %s %s does not declare the parameter %s (routes.c)\n", r->method,
            r->path, name);
    assert(!"http_q: a parameter the route does not declare");
    return &absent;
}

int param_path_id(http_req *r, int i, const char *what, long long *out) {
    if (params_id(r->params[i], out) != 0)
        return http_error(r, 404, "not_found", NULL, "no such %s: %.40s", what, r->params[i]);
    return 0;
}
