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

static void dates_weeks_months_times(void **state) {
    (void)state;
    long long d = -1, e = -1;
    char t[11];
    assert_int_equal(params_date("1970-01-01", &d), 0);
    assert_true(d == 0);
    assert_int_equal(params_date("2024-02-29", &d), 0);
    params_day_text(d, t);
    assert_string_equal(t, "2024-02-29");
    params_day_text(d + 1, t);
    assert_string_equal(t, "2024-03-01");
    const char *bad_dates[] = {"2023-02-29", "2026-02-30", "2026-13-01",           "2026-00-10",
                               "2026-1-01",  "1899-12-31", "2026-11-30T00:00:00Z", "",
                               "26-11-30",   NULL};
    for (int i = 0; bad_dates[i]; i++)
        if (params_date(bad_dates[i], &d) == 0) fail_msg("date accepted %s", bad_dates[i]);
    /* ISO weeks: week 1 holds 4 January; 2026-W49 starts on Monday 30 November 2026; 2020 and 2026
     * have a week 53, 2025 has not; 2027-W01 starts in 2027, 2025-W01 on 30 December 2024 */
    assert_int_equal(params_week("2026-W49", &d), 0);
    params_day_text(d, t);
    assert_string_equal(t, "2026-11-30");
    assert_int_equal(params_week("2025-W01", &d), 0);
    params_day_text(d, t);
    assert_string_equal(t, "2024-12-30");
    assert_int_equal(params_week("2026-W53", &d), 0);
    params_day_text(d, t);
    assert_string_equal(t, "2026-12-28");
    assert_int_equal(params_week("2020-W53", &d), 0);
    const char *bad_weeks[] = {"2025-W53", "2026-W54", "2026-W00", "2026-W5", "2026W49",
                               "2026-w49", "2026-49",  "",         NULL};
    for (int i = 0; bad_weeks[i]; i++)
        if (params_week(bad_weeks[i], &d) == 0) fail_msg("week accepted %s", bad_weeks[i]);
    assert_int_equal(params_month("2026-02", &d, &e), 0);
    assert_int_equal(e - d, 28);
    assert_int_equal(params_month("2024-02", &d, &e), 0);
    assert_int_equal(e - d, 29);
    assert_int_equal(params_month("2026-12", &d, &e), 0);
    params_day_text(e, t);
    assert_string_equal(t, "2027-01-01");
    assert_int_equal(params_month("2026-13", &d, &e), -1);
    assert_int_equal(params_month("2026-1", &d, &e), -1);
    int m = -1;
    assert_int_equal(params_timeofday("20:00", &m), 0);
    assert_int_equal(m, 1200);
    assert_int_equal(params_timeofday("00:00", &m), 0);
    assert_int_equal(m, 0);
    assert_int_equal(params_timeofday("23:59", &m), 0);
    const char *bad_times[] = {"24:00", "8:00", "20:60", "20:00:00", "2000", "", NULL};
    for (int i = 0; bad_times[i]; i++)
        if (params_timeofday(bad_times[i], &m) == 0)
            fail_msg("time of day accepted %s", bad_times[i]);
}

/* ---- the door's reader ---- */

static const param_spec S_LIMIT = {"limit",   PARAM_INT,         0, .min = 1, .max = 500,
                                   .def = 50, .description = "d"};
static const param_spec S_STATUS = {"status", PARAM_VOCAB, PARAM_LIST,
                                    .vocab = &VOCAB_REPORT_STATUS, .description = "d"};
static const param_spec S_IDS = {"id", PARAM_ID, PARAM_LIST, .items = 3, .description = "d"};
static const param_spec S_Q = {"q",
                               PARAM_TEXT,
                               PARAM_REQUIRED,
                               .min = 1,
                               .max = 8,
                               .code = "invalid_query",
                               .description = "d"};
static const param_spec S_CRS = {"crs", PARAM_CRS, .description = "d"};
static const param_spec S_NEAR = {"near", PARAM_POINT, .description = "d"};
static const param_spec S_SINCE = {"since", PARAM_TIME, .description = "d"};
static const param_spec S_WEEK = {"week", PARAM_WEEK, .description = "d"};
static const param_spec S_DIV = {"division", PARAM_DIVISION, .description = "d"};
static const param_spec S_LEI = {"Last-Event-ID", PARAM_SEQ, PARAM_HEADER, .description = "d"};
static const param_spec *const SPECS[] = {&S_LIMIT, &S_STATUS, &S_IDS, &S_Q,   &S_NEAR, &S_CRS,
                                          &S_SINCE, &S_WEEK,   &S_DIV, &S_LEI, NULL};
enum { NSPECS = 10 };

/* Parses query (and a Last-Event-ID header) against SPECS into v; the error into *e. */
static int parse(const char *query, const char *lei, http_qval v[NSPECS], param_error *e) {
    static char mem[8192];
    const char *hv[NSPECS] = {[9] = lei};
    assert_true(params_mem_size(SPECS, query, hv) <= sizeof mem);
    memset(e, 0, sizeof *e);
    return params_parse(SPECS, query, hv, v, mem, params_mem_size(SPECS, query, hv), e);
}

static void door_values(void **state) {
    (void)state;
    http_qval v[NSPECS];
    param_error e;
    assert_int_equal(
        parse("q=%E6%96%B0+x&status=new,resolved&status=new&id=7&id=3,7&near=119.2,34.6"
              "&crs=gcj02&since=2024-05-01T08:00:00+08:00&week=2026-W49&division=320706"
              "&unknown=1",
              "42", v, &e),
        0);
    assert_false(v[0].given);
    assert_int_equal(v[0].i, 50); /* the default */
    assert_string_equal(v[1].s, "{new,resolved}");
    assert_int_equal(v[1].n, 2);
    assert_string_equal(v[2].s, "{7,3}");
    assert_string_equal(v[3].s, "新 x");
    assert_int_equal(v[5].crs, GIS_CRS_GCJ02);
    assert_true(v[4].given && fabs(v[4].lon - 119.2) < 0.01 &&
                v[4].lon != 119.2);                           /* read in gcj02 */
    assert_string_equal(v[6].s, "2024-05-01T08:00:00+08:00"); /* the '+' read as a blank restored */
    assert_true(v[6].d == 1714521600);
    assert_string_equal(v[7].from, "2026-11-30");
    assert_string_equal(v[7].to, "2026-12-07");
    assert_string_equal(v[8].s, "320706000000");
    assert_string_equal(v[8].prefix, "320706");
    assert_true(v[9].given && v[9].i == 42);
}

static void door_refusals(void **state) {
    (void)state;
    static const struct {
        const char *query, *code, *field;
    } cases[] = {
        {"status=new", "missing_field", "q"},
        {"q=x&limit=1&limit=2", "invalid_limit", "limit"}, /* not a list: never silently one */
        {"q=x&q=y", "invalid_query", "q"},
        {"q=x&limit=501", "invalid_limit", "limit"},
        {"q=x&status=open", "invalid_status", "status"},
        {"q=x&status=new,", "invalid_status", "status"},
        {"q=x&id=1,2&id=3,4", "invalid_id", "id"}, /* 4 items, 3 allowed */
        {"q=123456789", "invalid_query", "q"},     /* 9 bytes, 8 allowed */
        {"q=", "invalid_query", "q"},
        {"q=%FF", "invalid_query", "q"},
        {"q=a%00b", "invalid_query", "q"},
        {"q=%zz", "invalid_query", "q"},
        {"q=x&near=999,34", "invalid_location", "near"},
        {"q=x&crs=mars&near=999,34", "invalid_crs", "crs"}, /* a crs first */
        {"q=x&since=2024-02-30T00:00:00Z", "invalid_since", "since"},
        {"q=x&week=2025-W53", "invalid_week", "week"},
        {"q=x&division=32070", "invalid_division", "division"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_qval v[NSPECS];
        param_error e;
        if (parse(cases[i].query, NULL, v, &e) == 0) fail_msg("accepted %s", cases[i].query);
        assert_string_equal(e.code, cases[i].code);
        assert_string_equal(e.field, cases[i].field);
        assert_true(e.message[0]);
    }
    http_qval v[NSPECS];
    param_error e;
    assert_int_equal(parse("q=x", "-1", v, &e), -1);
    assert_string_equal(e.code, "invalid_last_event_id");
    char big[2200] = "q=x&id=";
    memset(big + 7, '1', sizeof big - 8);
    assert_int_equal(parse(big, NULL, v, &e), -1); /* over PARAM_VALUE_MAX */
    assert_string_equal(e.field, "id");
    char many[2000] = "q=x";
    for (int i = 0; i < 300; i++)
        strcat(many, "&a");
    assert_int_equal(parse(many, NULL, v, &e), -1); /* 301 pairs: a clear refusal, not a scan */
    assert_string_equal(e.code, "invalid_query_string");
    assert_null(e.field);
    many[3 + 2 * 250] = 0; /* 251 pairs, unknown ones ignored */
    assert_int_equal(parse(many, NULL, v, &e), 0);
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
        cmocka_unit_test(dates_weeks_months_times),
        cmocka_unit_test(door_values),
        cmocka_unit_test(door_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
