/* test_params.c - request value parsers (service/door/params.c) against hostile values: overflow, NaN,
 * 1e999, trailing junk, impossible dates, leap years, offsets, cursors of another list. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "service/door/params.h"

static double t(const char *s) {
    double v = -12345;
    assert_int_equal(params_rfc3339(s, &v), 0);
    return v;
}

static void bad_time(const char *s) {
    double v = -12345;
    if (params_rfc3339(s, &v) == 0) fail_msg("accepted %s", s);
    assert_true(v == -12345); /* untouched */
}

static void rfc3339_calendar(void **state) {
    (void)state;
    assert_true(t("2000-01-01T00:00:00Z") == 946684800);
    assert_true(t("2024-05-01T08:00:00+08:00") == t("2024-05-01T00:00:00Z"));
    assert_true(t("2024-05-01T00:00:00-05:30") == t("2024-05-01T05:30:00Z"));
    assert_true(t("2024-05-01t00:00:00z") == t("2024-05-01T00:00:00Z"));
    assert_true(t("2024-05-01 00:00:00Z") == t("2024-05-01T00:00:00Z"));
    assert_true(fabs(t("2024-05-01T00:00:00.250Z") - t("2024-05-01T00:00:00Z") - 0.25) < 1e-6);
    assert_true(t("2016-12-31T23:59:60Z") == t("2016-12-31T23:59:59Z")); /* leap second */
    /* leap years: 2024 and 2000 yes, 2023 and 1900 no */
    assert_true(t("2024-02-29T00:00:00Z") + 86400 == t("2024-03-01T00:00:00Z"));
    assert_true(t("2000-02-29T00:00:00Z") + 86400 == t("2000-03-01T00:00:00Z"));
    bad_time("2023-02-29T00:00:00Z");
    bad_time("1900-02-29T00:00:00Z");
    bad_time("2024-02-30T00:00:00Z");
    bad_time("2024-02-31T00:00:00Z");
    bad_time("2024-04-31T00:00:00Z");
    bad_time("2024-06-31T00:00:00Z");
    bad_time("2024-09-31T00:00:00Z");
    bad_time("2024-11-31T00:00:00Z");
    assert_true(t("2024-12-31T00:00:00Z") > 0);
    bad_time("2024-13-01T00:00:00Z");
    bad_time("2024-00-01T00:00:00Z");
    bad_time("2024-01-00T00:00:00Z");
    bad_time("2024-01-01T24:00:00Z");
    bad_time("2024-01-01T23:60:00Z");
    bad_time("2024-01-01T23:59:61Z");
    bad_time("1899-12-31T23:59:59Z");
}

/* Finding 12 of issue 23: 1900-01-01 was accepted and answered with the offset +08:05:43 (Asia/
 * Shanghai's local mean time), which RFC 3339 cannot write. The floor is 2000-01-01T00:00:00Z, as
 * an instant: the local date does not matter. */
static void rfc3339_floor(void **state) {
    (void)state;
    bad_time("1900-01-01T00:00:00Z");
    bad_time("1900-01-01T08:05:43+08:00");
    bad_time("1970-01-01T00:00:00Z");
    bad_time("1999-12-31T23:59:59Z");
    bad_time("1999-12-31T23:59:59.999Z");
    bad_time("2000-01-01T07:59:59+08:00"); /* 1999-12-31T23:59:59Z */
    assert_true(t("2000-01-01T00:00:00Z") == PARAMS_TIME_FLOOR);
    assert_true(t("2000-01-01T08:00:00+08:00") == PARAMS_TIME_FLOOR);
    assert_true(t("1999-12-31T23:00:00-01:00") == PARAMS_TIME_FLOOR);
    assert_true(t("2099-12-31T23:59:59Z") > PARAMS_TIME_FLOOR);
}

static void rfc3339_syntax(void **state) {
    (void)state;
    bad_time(NULL);
    bad_time("");
    bad_time("yesterday");
    bad_time("2024-05-01");
    bad_time("2024-05-01T08:00:00");       /* no offset */
    bad_time("2024-05-01T08:00:00+0800");  /* offset without colon */
    bad_time("2024-05-01T08:00:00+24:00"); /* offset hour */
    bad_time("2024-05-01T08:00:00+08:60");
    bad_time("2024-05-01T08:00:00 08:00"); /* a blank is no sign (the query reader restores '+') */
    bad_time("2024-05-01T08:00:00Zjunk");
    bad_time("2024-05-01T08:00:00+08:00 ");
    bad_time("2024-05-01T08:00:00.Z");
    bad_time("2024-5-01T08:00:00Z");
    bad_time("+2024-05-01T08:00:00Z");
    bad_time("2024-05-01X08:00:00Z");
    bad_time("2024-05-01T08:00:00.1234567890123456789012345678901234567890123456789Z"); /* > 64 */
    assert_true(t("2024-05-01T08:00:00-00:00") == t("2024-05-01T08:00:00Z"));
}

static void ints_and_ids(void **state) {
    (void)state;
    long long v = 7;
    assert_int_equal(params_id("1", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(params_id("9223372036854775807", &v), 0);
    assert_true(v == LLONG_MAX);
    v = 7;
    const char *bad[] = {"0",
                         "-1",
                         "+1",
                         " 1",
                         "1 ",
                         "1a",
                         "0x10",
                         "1e3",
                         "",
                         "1.0",
                         "9223372036854775808",
                         "18446744073709551617",
                         "99999999999999999999",
                         NULL};
    for (int i = 0; bad[i]; i++)
        if (params_id(bad[i], &v) == 0) fail_msg("id accepted %s", bad[i]);
    assert_int_equal(params_id(NULL, &v), -1);
    assert_int_equal(v, 7);
    assert_int_equal(params_int("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(params_int("11", 0, 10, &v), -1);
    assert_int_equal(params_int("500", 1, 500, &v), 0);
    assert_int_equal(params_int("501", 1, 500, &v), -1);
}

static void uuids(void **state) {
    (void)state;
    char out[37];
    assert_int_equal(params_uuid("6F9619FF-8B86-D011-B42D-00C04FC964FF", out), 0);
    assert_string_equal(out, "6f9619ff-8b86-d011-b42d-00c04fc964ff");
    assert_int_equal(params_uuid("6f9619ff8b86d011b42d00c04fc964ff", out), -1);
    assert_int_equal(params_uuid("6f9619ff-8b86-d011-b42d-00c04fc964fg", out), -1);
    assert_int_equal(params_uuid("6f9619ff-8b86-d011-b42d-00c04fc964ff0", out), -1);
    assert_int_equal(params_uuid("'; DROP TABLE reports; --aaaaaaaaaaa", out), -1);
    assert_int_equal(params_uuid(NULL, out), -1);
}

static void numbers_and_points(void **state) {
    (void)state;
    double x = 3, lon, lat;
    assert_int_equal(params_number("119.22", &x), 0);
    assert_true(x == 119.22);
    assert_int_equal(params_number("-1e2", &x), 0);
    assert_true(x == -100);
    assert_int_equal(params_number(".5", &x), 0);
    x = 3;
    const char *bad[] = {"nan", "NaN", "inf", "-inf", "1e999", "-1e999", "0x10",  "1,5", "1 ", " 1",
                         "1e",  "e5",  ".",   "-",    "",      "1.2.3",  "12abc", "1e+", NULL};
    for (int i = 0; bad[i]; i++)
        if (params_number(bad[i], &x) == 0) fail_msg("number accepted %s", bad[i]);
    assert_true(x == 3);
    assert_int_equal(params_point("119.22,34.6", GIS_CRS_WGS84, &lon, &lat), 0);
    assert_true(lon == 119.22 && lat == 34.6);
    const char *badp[] = {"119.22",  "119.22,",  ",34.6",  "999,34",          "119,91", "nan,1",
                          "1e999,1", "119,34,1", "119;34", "119.22,34.6junk", NULL};
    for (int i = 0; badp[i]; i++)
        if (params_point(badp[i], GIS_CRS_WGS84, &lon, &lat) == 0) fail_msg("point %s", badp[i]);
    /* gcj02 in, wgs84 out: a shift of a few hundred metres at most */
    assert_int_equal(params_point("119.22,34.6", GIS_CRS_GCJ02, &lon, &lat), 0);
    assert_true(fabs(lon - 119.22) < 0.01 && fabs(lat - 34.6) < 0.01 && lon != 119.22);
}

static void crs_names(void **state) {
    (void)state;
    gis_crs c = GIS_CRS_BD09;
    assert_int_equal(params_crs("", &c), 0);
    assert_int_equal(c, GIS_CRS_WGS84);
    assert_int_equal(params_crs("gcj02", &c), 0);
    assert_int_equal(c, GIS_CRS_GCJ02);
    assert_int_equal(params_crs("BD09", &c), 0);
    assert_int_equal(c, GIS_CRS_BD09);
    assert_int_equal(params_crs("cgcs2000", &c), 0);
    assert_int_equal(params_crs("epsg3857", &c), -1);
    assert_int_equal(params_crs("wgs84 ", &c), -1);
    assert_int_equal(params_crs("'", &c), -1);
}

static void bboxes(void **state) {
    (void)state;
    double b[4] = {9, 9, 9, 9};
    assert_int_equal(params_bbox("119.1,34.5,119.3,34.7", GIS_CRS_WGS84, b), 0);
    assert_true(b[0] == 119.1 && b[1] == 34.5 && b[2] == 119.3 && b[3] == 34.7);
    const char *bad[] = {"1,2,3",       "119.3,34,119.1,35",
                         "a,b,c,d",     "1,2,3,4,5",
                         "1,2,3,4,",    "nan,1,2,3",
                         "1e999,1,2,3", "1,2,3,4junk",
                         "-181,0,0,1",  "0,-91,1,0",
                         "0,0,1,1e999", "",
                         ",,,",         "1,,3,4",
                         "0x1,0,1,1",   NULL};
    for (int i = 0; bad[i]; i++) {
        double o[4] = {9, 9, 9, 9};
        if (params_bbox(bad[i], GIS_CRS_WGS84, o) == 0) fail_msg("bbox accepted %s", bad[i]);
        assert_true(o[0] == 9 && o[3] == 9);
    }
    /* in gcj02: the WGS-84 envelope of the converted corners */
    assert_int_equal(params_bbox("119.1,34.5,119.3,34.7", GIS_CRS_GCJ02, b), 0);
    assert_true(b[0] < b[2] && b[1] < b[3] && b[0] != 119.1);
}

static void cursors(void **state) {
    (void)state;
    char c[64];
    long long id = 0;
    params_cursor_encode("r1", 12345, c, sizeof c);
    assert_null(strchr(c, '+'));
    assert_null(strchr(c, '/'));
    assert_int_equal(params_cursor_decode("r1", c, &id), 0);
    assert_int_equal(id, 12345);
    assert_int_equal(params_cursor_decode("a1", c, &id), -1); /* another list's cursor */
    assert_int_equal(params_cursor_decode("r1", "not-a-cursor", &id), -1);
    assert_int_equal(params_cursor_decode("r1", "", &id), -1);
    assert_int_equal(params_cursor_decode("r1", "12345", &id), -1);
    /* well-formed base64 of bad contents */
    const char *raw[] = {"r1:0", "r1:-5", "r1:", "r1:12x", "r1:99999999999999999999", "r2:5", NULL};
    for (int i = 0; raw[i]; i++) {
        char enc[64];
        sodium_bin2base64(enc, sizeof enc, (const unsigned char *)raw[i], strlen(raw[i]),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        if (params_cursor_decode("r1", enc, &id) == 0) fail_msg("cursor accepted %s", raw[i]);
    }
    params_cursor_encode("u1", LLONG_MAX, c, sizeof c);
    assert_int_equal(params_cursor_decode("u1", c, &id), 0);
    assert_true(id == LLONG_MAX);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3339_calendar),
        cmocka_unit_test(rfc3339_floor),
        cmocka_unit_test(rfc3339_syntax),
        cmocka_unit_test(ints_and_ids),
        cmocka_unit_test(uuids),
        cmocka_unit_test(numbers_and_points),
        cmocka_unit_test(crs_names),
        cmocka_unit_test(bboxes),
        cmocka_unit_test(cursors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
