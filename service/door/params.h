/* params.h - the one home of request value parsing (query strings, headers, path captures): the
 * parameter kinds (crs, point, number, RFC 3339 time, ids, UUIDs, bbox, integers such as limits,
 * list cursors, vocabulary codes, division codes, text, booleans, dates, ISO weeks, months, times
 * of day), each with one error answer, and the door that reads a route's declared query
 * parameters before its handler runs. Request bodies are described elsewhere (shapes). Pure
 * parsers are thread-safe and allocate nothing.
 *
 * A route declares its query parameters as specs (param_spec, the table in routes.c); the
 * dispatcher parses and checks them all (params_read) before the handler runs, and the handler
 * reads typed values:
 *
 *     const http_qval *since = http_q(r, "since");
 *     if (since->given) ... since->d (seconds since the epoch), since->s (the checked text)
 *
 * A handler never reads the query string itself. */
#ifndef SERVICE_PARAMS_H
#define SERVICE_PARAMS_H

#include <stddef.h>

#include "gis/coords.h"
#include "service/core/vocab.h"
#include "service/door/http.h"

/* What a value is: its parser, its typed value, its schema in the OpenAPI document and its one
 * error answer (invalid_crs, invalid_location for points and coordinates, invalid_<name> for the
 * rest, unless the spec names another code). */
typedef enum {
    PARAM_CRS,       /* wgs84 | cgcs2000 | gcj02 | bd09 (spec.vocab: the ones allowed) -> crs */
    PARAM_POINT,     /* "lon,lat" in the request's crs -> lon, lat (WGS-84) */
    PARAM_NUMBER,    /* a finite decimal number (min..max when both are not 0) -> d, s */
    PARAM_TIME,      /* RFC 3339 with offset, a real date -> d (epoch seconds), s (as given) */
    PARAM_ID,        /* a positive 64-bit integer -> i, s ("{1,2}" as a list) */
    PARAM_SEQ,       /* a non-negative 64-bit integer (event ids) -> i */
    PARAM_UUID,      /* 8-4-4-4-12 hex digits -> s (lower case) */
    PARAM_BBOX,      /* "minlon,minlat,maxlon,maxlat" in the request's crs -> bbox (WGS-84) */
    PARAM_INT,       /* an integer min..max, def when absent (limits) -> i */
    PARAM_CURSOR,    /* a list cursor of spec.tag -> i (the row id; 0 when absent) */
    PARAM_VOCAB,     /* a code of spec.vocab -> s (list: "{a,b}" in the vocabulary's order), mask */
    PARAM_DIVISION,  /* a 4-, 6-, 9- or 12-digit code (min 2: also 2) -> s (12 digits), prefix */
    PARAM_TEXT,      /* UTF-8 text of min..max bytes -> s */
    PARAM_BOOL,      /* true | false -> i (1 or 0) */
    PARAM_DATE,      /* 2026-11-30, a real day -> s, from (that day), to (the next) */
    PARAM_WEEK,      /* ISO week 2026-W49 (W53 only in years that have one) -> s, from (its
                      * Monday), to (the next Monday) */
    PARAM_MONTH,     /* 2026-11 -> s, from (the 1st), to (the 1st of the next month) */
    PARAM_TIMEOFDAY, /* 20:00 (00:00..23:59) -> i (minutes after midnight), s */
} param_kind;

/* Flags of a spec. */
enum {
    PARAM_REQUIRED = 1, /* absent: 400 missing_field */
    PARAM_LIST = 2,     /* comma-separated items, and repeatable: a=x,y&a=z means any of x, y, z
                         * (without it, a parameter given twice is a 400, never silently one) */
    PARAM_HEADER = 4,   /* a request header of that name, not a query parameter */
};

/* The longest value a query parameter may have, all its repetitions together (decoded bytes). */
enum { PARAM_VALUE_MAX = 1024, PARAM_LIST_ITEMS = 100 };

/* One declared query parameter (or header): what routes.c lists for a route, what the door checks
 * and what the OpenAPI document prints. Write them with designated initializers. */
typedef struct param_spec {
    const char *name; /* ?name= (a header's name with PARAM_HEADER) */
    param_kind kind;
    unsigned flags;          /* PARAM_REQUIRED, PARAM_LIST, PARAM_HEADER */
    double min, max;         /* INT, NUMBER: the range (NUMBER: none when both are 0);
                              * TEXT: length in bytes (max 0: PARAM_VALUE_MAX); DIVISION: min 2
                              * also accepts a 2-digit province code */
    double def;              /* INT: the value when absent */
    int items;               /* LIST: most items, repetitions counted (0: PARAM_LIST_ITEMS) */
    const vocab *vocab;      /* VOCAB: the codes; CRS: the systems allowed (NULL: all four) */
    const char *tag;         /* CURSOR: the tag of its list ("r1") */
    const char *code;        /* the error code, when not the kind's */
    const char *description; /* one line for the OpenAPI document */
} param_spec;

/* The typed value of one declared parameter, filled by the door. Strings live as long as the
 * request. Absent and not required: given 0, the default filled in (INT: def; CRS: wgs84), s NULL. */
typedef struct http_qval {
    int given; /* 1 when the request carried it */
    int n;     /* LIST: number of distinct items */
    long long i;
    double d;
    double lon, lat;
    double bbox[4];
    gis_crs crs;
    unsigned long long mask; /* VOCAB: bit k set for term k of the vocabulary */
    const char *s;           /* the checked value as text, ready for a SQL parameter */
    const char *prefix;      /* DIVISION: the significant prefix ("320706") */
    const char *from, *to;   /* DATE, WEEK, MONTH: first day and the day after the last
                              * ("YYYY-MM-DD", days of the city) */
    long long day0, day1;    /* DATE, WEEK, MONTH: the same as days since 1970-01-01 */
} http_qval;

/* The value of parameter `name` of r's route (declared in its row of routes.c). Never NULL: asking
 * for a name the route does not declare is a programming error (assert). */
const http_qval *http_q(const http_req *r, const char *name);

/* An error answer about one parameter (always a 400). */
typedef struct param_error {
    char code[48];
    const char *field; /* the spec's name; NULL about the whole query string (more than 256
                        * name=value pairs: invalid_query_string) */
    char message[256];
} param_error;

/* THE door for query parameters: reads every spec of the NULL-terminated list (headers from
 * header_values[i], NULL when absent) out of the raw query string (may be NULL) into out[i], strings
 * into mem (memlen: params_mem_size). Unknown names are ignored. Returns 0, or -1 with *e filled
 * (the first failing spec in list order; a crs first, as points and boxes are read in it). Pure. */
int params_parse(const param_spec *const *specs, const char *query,
                 const char *const *header_values, http_qval *out, char *mem, size_t memlen,
                 param_error *e);

/* Bytes of mem params_parse needs for this query and these specs. */
size_t params_mem_size(const param_spec *const *specs, const char *query,
                       const char *const *header_values);

/* params_parse on r's query string and headers for r's route, answering a failure with its 400.
 * Returns 0, or the status sent. Called by the dispatcher before the handler. */
int params_read(http_req *r, const param_spec *const *specs);

/* New JSON Schema of the value of p (the OpenAPI document; "x-kind" names the door's kind; a list
 * is an array of its items). The caller owns it. */
json_t *params_schema(const param_spec *p);

/* Frees what params_read kept in r (the dispatcher, when the request ends). */
void params_free(http_req *r);

/* Sends the one 400 answer for a malformed `field` of that kind (min/max only for PARAM_INT).
 * The code is invalid_crs / invalid_location for coordinates, invalid_<field> otherwise.
 * Returns 400. For checks a handler makes on a typed value (a cursor's content). */
int params_fail(http_req *r, param_kind kind, const char *field, int min, int max);

/* ---- pure parsers: 0, or -1 when malformed ---- */

/* 1 when s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
int params_utf8_valid(const char *s, size_t n);
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
/* An ISO 8601 week YYYY-Www (W01..W52, W53 in the years that have it) -> days since 1970-01-01 of
 * its Monday. */
int params_week(const char *s, long long *monday);
/* A month YYYY-MM -> days since 1970-01-01 of its first day, and of the first of the next. */
int params_month(const char *s, long long *first, long long *next);
/* A time of day HH:MM (00:00..23:59) -> minutes after midnight. */
int params_timeofday(const char *s, int *minutes);
/* Decodes s[0..n) of a query string or form ('+' a space, %XX a byte) into out (n + 1 bytes,
 * NUL-terminated; the result may hold NUL bytes). Returns its length, or -1 when a '%' is not
 * followed by two hex digits. */
long params_url_decode(const char *s, size_t n, char *out);
/* Days since 1970-01-01 -> "YYYY-MM-DD" (out: 11 bytes). */
void params_day_text(long long days, char out[11]);
/* A list cursor: an opaque URL-safe token of `tag` (e.g. "r1" for reports) and a row id > 0. */
void params_cursor_encode(const char *tag, long long id, char *out, size_t outlen);
int params_cursor_decode(const char *tag, const char *s, long long *id);

/* Path capture r->params[i] as the id of a `what` ("report", "unit", ...): 0, or the status of
 * the 404 not_found sent (a malformed id is as unknown as a missing one). */
int param_path_id(http_req *r, int i, const char *what, long long *out);

#endif
