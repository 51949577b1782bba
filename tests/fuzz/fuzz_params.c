/* fuzz_params.c - libFuzzer driver for the pure request value parsers of service/door/params.c: RFC 3339,
 * numbers, points, ids, UUIDs, bboxes and cursors on arbitrary bytes.
 *
 * Input: byte 0 picks the CRS; the rest is the value (NUL-terminated copy). Oracles besides the
 * sanitizers: a refused value leaves the output untouched; an accepted time has a real calendar
 * date and equals timegm() of its fields minus its offset (fraction aside); an accepted number is
 * finite and equals strtod; an accepted id is positive and prints back to the same digits; an
 * accepted UUID is 36 lower-case characters; an accepted bbox is a finite WGS-84 envelope with
 * min <= max; an accepted cursor encodes back to itself. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/door/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL 12345.678

static int num(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static void check_time(const char *s) {
    double t = SENTINEL;
    if (params_rfc3339(s, &t) != 0) {
        if (t != SENTINEL) abort();
        return;
    }
    struct tm tm = {0};
    tm.tm_year = num(s, 4) - 1900, tm.tm_mon = num(s + 5, 2) - 1, tm.tm_mday = num(s + 8, 2);
    tm.tm_hour = num(s + 11, 2), tm.tm_min = num(s + 14, 2);
    tm.tm_sec = num(s + 17, 2) > 59 ? 59 : num(s + 17, 2);
    int mday = tm.tm_mday;
    time_t base = timegm(&tm);
    if (tm.tm_mday != mday) abort(); /* timegm normalised it: not a calendar day */
    const char *z = s + strlen(s) - 1;
    long off = 0;
    if (*z != 'Z' && *z != 'z') {
        const char *o = s + strlen(s) - 6;
        off = (num(o + 1, 2) * 60 + num(o + 4, 2)) * 60L * (*o == '-' ? -1 : 1);
    }
    double want = (double)base - (double)off;
    if (!(t >= want && t < want + 1)) abort();
}

static void check_number(const char *s) {
    double v = SENTINEL;
    if (params_number(s, &v) != 0) {
        if (v != SENTINEL) abort();
        return;
    }
    if (!isfinite(v) || v != strtod(s, NULL) || strpbrk(s, "xXnNiI ")) abort();
}

static void check_id(const char *s) {
    long long v = 42;
    if (params_id(s, &v) != 0) {
        if (v != 42) abort();
        return;
    }
    char back[32];
    snprintf(back, sizeof back, "%lld", v);
    const char *p = s;
    while (*p == '0' && p[1])
        p++;
    if (v <= 0 || strcmp(back, p) != 0) abort();
}

static void check_uuid(const char *s) {
    char out[37] = "untouched";
    if (params_uuid(s, out) != 0) {
        if (strcmp(out, "untouched") != 0) abort();
        return;
    }
    if (strlen(out) != 36) abort();
    for (int i = 0; i < 36; i++)
        if (isupper((unsigned char)out[i])) abort();
}

static void check_bbox(const char *s, gis_crs crs) {
    double b[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};
    if (params_bbox(s, crs, b) != 0) {
        for (int i = 0; i < 4; i++)
            if (b[i] != SENTINEL) abort();
        return;
    }
    for (int i = 0; i < 4; i++)
        if (!isfinite(b[i])) abort();
    if (b[0] > b[2] || b[1] > b[3] || b[0] < -180.5 || b[2] > 180.5 || b[1] < -90.5 || b[3] > 90.5)
        abort();
    double lon, lat;
    if (params_point(s, crs, &lon, &lat) == 0) abort(); /* four numbers are no point */
}

static void check_cursor(const char *s) {
    long long id = 0;
    if (params_cursor_decode("r1", s, &id) != 0) return;
    char back[64];
    if (id <= 0) abort();
    params_cursor_encode("r1", id, back, sizeof back);
    long long again = 0;
    if (params_cursor_decode("r1", back, &again) != 0 || again != id) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 512) return 0;
    char s[512];
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    gis_crs crs = (gis_crs)(data[0] % 4);
    check_time(s);
    check_number(s);
    check_id(s);
    check_uuid(s);
    check_bbox(s, crs);
    check_cursor(s);
    double lon = SENTINEL, lat = SENTINEL;
    if (params_point(s, crs, &lon, &lat) == 0 ? !isfinite(lon) || !isfinite(lat)
                                              : lon != SENTINEL || lat != SENTINEL)
        abort();
    return 0;
}
