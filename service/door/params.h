/* params.h - the one home of request value parsing (query strings and path captures): crs, point,
 * RFC 3339 times (calendar checked), ids, UUIDs, bbox, limit and list cursors, each with one error
 * answer. Request bodies are described elsewhere (shapes); vocabulary (status, category, division
 * codes) too. Pure parsers are thread-safe and allocate nothing.
 *
 * Two layers:
 *   params_*(text, ...)  parse a string: 0, or -1 when malformed (out left as it was);
 *   param_*(r, name...)  read ?name= of a request and parse it: 0 when absent (defaults kept) or
 *                        valid, else the status of the one 400 answer sent (params_fail). */
#ifndef SERVICE_PARAMS_H
#define SERVICE_PARAMS_H

#include <stddef.h>

#include "gis/coords.h"
#include "service/door/http.h"

/* What a value is, for its one error answer. */
typedef enum {
    PARAM_CRS,    /* invalid_crs */
    PARAM_POINT,  /* invalid_location: "lon,lat" */
    PARAM_NUMBER, /* invalid_location: one coordinate (lon=, lat=) */
    PARAM_TIME,   /* invalid_<field>: RFC 3339 */
    PARAM_ID,     /* invalid_<field>: positive 64-bit integer */
    PARAM_SEQ,    /* invalid_<field>: non-negative 64-bit integer (event ids) */
    PARAM_UUID,   /* invalid_<field> */
    PARAM_BBOX,   /* invalid_bbox */
    PARAM_LIMIT,  /* invalid_limit */
    PARAM_CURSOR, /* invalid_cursor */
} param_kind;

/* Limits of ?limit= for one route: used when absent, smallest and largest accepted. */
typedef struct {
    int def, min, max;
} param_limit_rule;

/* Sends the one 400 answer for a malformed `field` of that kind (min/max only for PARAM_LIMIT).
 * The code is invalid_crs / invalid_location for coordinates, invalid_<field> otherwise.
 * Returns 400. */
int params_fail(http_req *r, param_kind kind, const char *field, int min, int max);

/* ---- pure parsers: 0, or -1 when malformed ---- */

/* wgs84 | cgcs2000 | gcj02 | bd09 any case; "" is wgs84. */
int params_crs(const char *s, gis_crs *out);
/* A strict decimal number: sign, digits, fraction, exponent; no hex, inf, nan, blanks; finite. */
int params_number(const char *s, double *out);
/* "lon,lat" in crs, converted to WGS-84 (lon -180..180, lat -90..90 after conversion). */
int params_point(const char *s, gis_crs crs, double *lon, double *lat);
/* The earliest time any field may hold: 2000-01-01T00:00:00Z. Earlier dates are typing errors or
 * unset clocks, and a time zone gives them offsets in seconds (Asia/Shanghai in 1900: +08:05:43),
 * which RFC 3339 cannot write: every time answered has an offset of whole minutes. */
#define PARAMS_TIME_FLOOR 946684800.0

/* RFC 3339 date-time YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), not before PARAMS_TIME_FLOOR, a
 * real calendar day (no 31 February, 29 February only in leap years), second 60 read as 59; 'T' may
 * be 't' or ' '; the offset is whole minutes (HH:MM). *out: seconds since the epoch. */
int params_rfc3339(const char *s, double *out);
/* A calendar date YYYY-MM-DD, year 1900 or later, a real day (no 2024-02-31): the date part of
 * params_rfc3339. *days (may be NULL): days since 1970-01-01. */
int params_date(const char *s, long long *days);
/* A decimal integer min..max: digits only (no sign, blanks, or overflow). */
int params_int(const char *s, long long min, long long max, long long *out);
/* A positive 64-bit id (1..9223372036854775807). */
int params_id(const char *s, long long *out);
/* 8-4-4-4-12 hex digits, lower-cased into out (37 bytes with the NUL). */
int params_uuid(const char *s, char out[37]);
/* "minlon,minlat,maxlon,maxlat" in crs (min <= max) -> the WGS-84 envelope of its four corners. */
int params_bbox(const char *s, gis_crs crs, double out[4]);
/* A list cursor: an opaque URL-safe token of `tag` (e.g. "r1" for reports) and a row id > 0. */
void params_cursor_encode(const char *tag, long long id, char *out, size_t outlen);
int params_cursor_decode(const char *tag, const char *s, long long *id);

/* ---- request readers: 0 (absent: *out untouched, *found 0) or the status sent ---- */

/* ?crs=, default wgs84. */
int param_crs(http_req *r, gis_crs *out);
/* ?name= RFC 3339; text (optional) gets the checked time as given, for SQL timestamptz ('+' of the
 * offset restored when URL decoding made it a blank); "" when absent. */
int param_time(http_req *r, const char *name, double *epoch, char *text, size_t textlen);
/* ?name= positive id; *found tells whether it was there (may be NULL). */
int param_id(http_req *r, const char *name, long long *out, int *found);
/* ?limit= by rule: rule->def when absent. */
int param_limit(http_req *r, const param_limit_rule *rule, int *out);
/* ?cursor= of tag: *id 0 when absent. */
int param_cursor(http_req *r, const char *tag, long long *id);
/* ?bbox= in crs; *found tells whether it was there. */
int param_bbox(http_req *r, gis_crs crs, double out[4], int *found);
/* ?name=lon,lat in crs (WGS-84 out); *found tells whether it was there. */
int param_point(http_req *r, const char *name, gis_crs crs, double *lon, double *lat, int *found);
/* ?name= one required coordinate: 400 missing_field when absent. */
int param_number(http_req *r, const char *name, double *out);

/* Path capture r->params[i] as the id of a `what` ("report", "unit", ...): 0, or the status of
 * the 404 not_found sent (a malformed id is as unknown as a missing one). */
int param_path_id(http_req *r, int i, const char *what, long long *out);

#endif
