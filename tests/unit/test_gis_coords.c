/* tests/unit/test_gis_coords.c - gis/coords and gis/transform: CRS shifts, Gauss-Kruger
 * (against cs2cs), geodesic distance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../gis/coords.h"
#include "../../gis/transform.h"

/* ---- An independent transcription of the classic published formulas
 * (eviltransform / coordtransform style), used only as the oracle. */
static const double PI = 3.1415926535897932384626;
static const double A = 6378245.0;
static const double EE = 0.00669342162296594323;

static double ref_tlat(double lng, double lat) {
    double ret =
        -100.0 + 2.0 * lng + 3.0 * lat + 0.2 * lat * lat + 0.1 * lng * lat + 0.2 * sqrt(fabs(lng));
    ret += (20.0 * sin(6.0 * lng * PI) + 20.0 * sin(2.0 * lng * PI)) * 2.0 / 3.0;
    ret += (20.0 * sin(lat * PI) + 40.0 * sin(lat / 3.0 * PI)) * 2.0 / 3.0;
    ret += (160.0 * sin(lat / 12.0 * PI) + 320 * sin(lat * PI / 30.0)) * 2.0 / 3.0;
    return ret;
}

static double ref_tlng(double lng, double lat) {
    double ret =
        300.0 + lng + 2.0 * lat + 0.1 * lng * lng + 0.1 * lng * lat + 0.1 * sqrt(fabs(lng));
    ret += (20.0 * sin(6.0 * lng * PI) + 20.0 * sin(2.0 * lng * PI)) * 2.0 / 3.0;
    ret += (20.0 * sin(lng * PI) + 40.0 * sin(lng / 3.0 * PI)) * 2.0 / 3.0;
    ret += (150.0 * sin(lng / 12.0 * PI) + 300.0 * sin(lng / 30.0 * PI)) * 2.0 / 3.0;
    return ret;
}

static void ref_wgs84togcj02(double lng, double lat, double *olng, double *olat) {
    double dlat = ref_tlat(lng - 105.0, lat - 35.0);
    double dlng = ref_tlng(lng - 105.0, lat - 35.0);
    double radlat = lat / 180.0 * PI;
    double magic = sin(radlat);
    magic = 1 - EE * magic * magic;
    double sqrtmagic = sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrtmagic) * PI);
    dlng = (dlng * 180.0) / (A / sqrtmagic * cos(radlat) * PI);
    *olat = lat + dlat;
    *olng = lng + dlng;
}

static void ref_gcj02tobd09(double lng, double lat, double *olng, double *olat) {
    const double x_PI = 3.14159265358979324 * 3000.0 / 180.0;
    double z = sqrt(lng * lng + lat * lat) + 0.00002 * sin(lat * x_PI);
    double theta = atan2(lat, lng) + 0.000003 * cos(lng * x_PI);
    *olng = z * cos(theta) + 0.0065;
    *olat = z * sin(theta) + 0.006;
}

/* Fixed points: Lianyungang, Beijing, Shanghai, Urumqi, Harbin, Sanya, Lhasa. */
static const double fixed_pts[][2] = {
    {119.2216, 34.5967}, {116.404, 39.915},   {121.4737, 31.2304}, {87.6168, 43.8256},
    {126.535, 45.8038},  {109.5119, 18.2528}, {91.1409, 29.6456},  {119.45, 34.75},
};

static void test_forward_gcj02_matches_formula(void **state) {
    size_t i;
    (void)state;
    for (i = 0; i < sizeof fixed_pts / sizeof fixed_pts[0]; i++) {
        double lon, lat, elon, elat;
        gis_wgs84_to_gcj02(fixed_pts[i][0], fixed_pts[i][1], &lon, &lat);
        ref_wgs84togcj02(fixed_pts[i][0], fixed_pts[i][1], &elon, &elat);
        assert_true(fabs(lon - elon) < 1e-9);
        assert_true(fabs(lat - elat) < 1e-9);
        /* The shift is real: hundreds of metres, not zero. */
        assert_true(fabs(lon - fixed_pts[i][0]) + fabs(lat - fixed_pts[i][1]) > 1e-4);
    }
}

static void test_forward_bd09_matches_formula(void **state) {
    size_t i;
    (void)state;
    for (i = 0; i < sizeof fixed_pts / sizeof fixed_pts[0]; i++) {
        double glon, glat, lon, lat, elon, elat, wlon, wlat;
        ref_wgs84togcj02(fixed_pts[i][0], fixed_pts[i][1], &glon, &glat);
        gis_gcj02_to_bd09(glon, glat, &lon, &lat);
        ref_gcj02tobd09(glon, glat, &elon, &elat);
        assert_true(fabs(lon - elon) < 1e-9);
        assert_true(fabs(lat - elat) < 1e-9);
        /* Through the generic entry point too. */
        assert_int_equal(
            gis_from_wgs84(GIS_CRS_BD09, fixed_pts[i][0], fixed_pts[i][1], &wlon, &wlat), 0);
        assert_true(fabs(wlon - elon) < 1e-9);
        assert_true(fabs(wlat - elat) < 1e-9);
    }
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rnd01(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void test_round_trips_1mm(void **state) {
    int i;
    double worst_gcj = 0, worst_bd = 0, worst_gb = 0;
    (void)state;
    for (i = 0; i < 10000; i++) {
        double lon = 73.6 + rnd01() * (134.7 - 73.6);
        double lat = 18.2 + rnd01() * (53.5 - 18.2);
        double a, b, c, d, dist;

        assert_int_equal(gis_from_wgs84(GIS_CRS_GCJ02, lon, lat, &a, &b), 0);
        assert_int_equal(gis_to_wgs84(GIS_CRS_GCJ02, a, b, &c, &d), 0);
        dist = gis_geodesic_m(lon, lat, c, d);
        worst_gcj = fmax(worst_gcj, dist);

        assert_int_equal(gis_from_wgs84(GIS_CRS_BD09, lon, lat, &a, &b), 0);
        assert_int_equal(gis_to_wgs84(GIS_CRS_BD09, a, b, &c, &d), 0);
        dist = gis_geodesic_m(lon, lat, c, d);
        worst_bd = fmax(worst_bd, dist);

        gis_gcj02_to_bd09(lon, lat, &a, &b);
        gis_bd09_to_gcj02(a, b, &c, &d);
        dist = gis_geodesic_m(lon, lat, c, d);
        worst_gb = fmax(worst_gb, dist);
    }
    if (worst_gcj >= 0.001 || worst_bd >= 0.001 || worst_gb >= 0.001)
        print_error("worst round trip: gcj %.6f m, bd %.6f m, gcj-bd %.6f m\n", worst_gcj, worst_bd,
                    worst_gb);
    assert_true(worst_gcj < 0.001);
    assert_true(worst_bd < 0.001);
    assert_true(worst_gb < 0.001);
}

static void test_inverse_is_not_one_step(void **state) {
    /* The classic one-step inverse (2*p - f(p)) is off by metres; ours must
     * land within 1e-9 degree of the forward image. */
    double lon = 119.2216, lat = 34.5967, glon, glat, wlon, wlat, flon, flat;
    (void)state;
    gis_wgs84_to_gcj02(lon, lat, &glon, &glat);
    gis_gcj02_to_wgs84(glon, glat, &wlon, &wlat);
    gis_wgs84_to_gcj02(wlon, wlat, &flon, &flat);
    assert_true(fabs(flon - glon) < 1e-9 && fabs(flat - glat) < 1e-9);
    assert_true(fabs(wlon - lon) < 1e-9 && fabs(wlat - lat) < 1e-9);
}

static void test_outside_china_unchanged(void **state) {
    static const double pts[][2] = {{2.3522, 48.8566},    {-74.006, 40.7128}, {139.6917, 35.6895},
                                    {151.2093, -33.8688}, {60.0, 30.0},       {100.0, 60.0}};
    size_t i;
    gis_crs c;
    (void)state;
    for (i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        double a, b;
        assert_int_equal(gis_in_china(pts[i][0], pts[i][1]), 0);
        gis_wgs84_to_gcj02(pts[i][0], pts[i][1], &a, &b);
        assert_true(a == pts[i][0] && b == pts[i][1]);
        gis_gcj02_to_wgs84(pts[i][0], pts[i][1], &a, &b);
        assert_true(a == pts[i][0] && b == pts[i][1]);
        for (c = GIS_CRS_WGS84; c <= GIS_CRS_BD09; c++) {
            assert_int_equal(gis_from_wgs84(c, pts[i][0], pts[i][1], &a, &b), 0);
            assert_true(a == pts[i][0] && b == pts[i][1]);
            assert_int_equal(gis_to_wgs84(c, pts[i][0], pts[i][1], &a, &b), 0);
            assert_true(a == pts[i][0] && b == pts[i][1]);
        }
    }
    assert_int_equal(gis_in_china(119.2, 34.6), 1);
    assert_int_equal(gis_in_china(NAN, 34.6), 0);
}

static void test_cgcs2000_is_wgs84(void **state) {
    double a, b;
    (void)state;
    assert_int_equal(gis_to_wgs84(GIS_CRS_CGCS2000, 119.2, 34.6, &a, &b), 0);
    assert_true(a == 119.2 && b == 34.6);
    assert_int_equal(gis_from_wgs84(GIS_CRS_CGCS2000, 119.2, 34.6, &a, &b), 0);
    assert_true(a == 119.2 && b == 34.6);
}

static void test_invalid_input_rejected(void **state) {
    static const double bad[][2] = {{NAN, 34.0},      {119.0, NAN},    {INFINITY, 0.0},
                                    {0.0, -INFINITY}, {180.0001, 0.0}, {-180.5, 0.0},
                                    {0.0, 90.0001},   {0.0, -91.0}};
    size_t i;
    gis_crs c;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (c = GIS_CRS_WGS84; c <= GIS_CRS_BD09; c++) {
            double a = 7.0, b = 8.0;
            assert_int_equal(gis_to_wgs84(c, bad[i][0], bad[i][1], &a, &b), -1);
            assert_int_equal(gis_from_wgs84(c, bad[i][0], bad[i][1], &a, &b), -1);
            assert_true(a == 7.0 && b == 8.0); /* outputs untouched */
        }
    }
    {
        double a, b;
        assert_int_equal(gis_to_wgs84((gis_crs)42, 119.0, 34.0, &a, &b), -1);
        assert_int_equal(gis_from_wgs84((gis_crs)42, 119.0, 34.0, &a, &b), -1);
        /* Limits themselves are valid. */
        assert_int_equal(gis_to_wgs84(GIS_CRS_GCJ02, 180.0, -90.0, &a, &b), 0);
        assert_int_equal(gis_to_wgs84(GIS_CRS_BD09, -180.0, 90.0, &a, &b), 0);
    }
}

static void test_crs_parse_and_name(void **state) {
    gis_crs c = GIS_CRS_BD09;
    (void)state;
    assert_int_equal(gis_crs_parse(NULL, &c), 0);
    assert_int_equal(c, GIS_CRS_WGS84);
    c = GIS_CRS_BD09;
    assert_int_equal(gis_crs_parse("", &c), 0);
    assert_int_equal(c, GIS_CRS_WGS84);
    assert_int_equal(gis_crs_parse("wgs84", &c), 0);
    assert_int_equal(c, GIS_CRS_WGS84);
    assert_int_equal(gis_crs_parse("cgcs2000", &c), 0);
    assert_int_equal(c, GIS_CRS_CGCS2000);
    assert_int_equal(gis_crs_parse("gcj02", &c), 0);
    assert_int_equal(c, GIS_CRS_GCJ02);
    assert_int_equal(gis_crs_parse("bd09", &c), 0);
    assert_int_equal(c, GIS_CRS_BD09);
    assert_int_equal(gis_crs_parse("GCJ02", &c), 0);
    assert_int_equal(c, GIS_CRS_GCJ02);
    c = GIS_CRS_CGCS2000;
    assert_int_equal(gis_crs_parse("gcj-02", &c), -1);
    assert_int_equal(gis_crs_parse("wgs84 ", &c), -1);
    assert_int_equal(gis_crs_parse("epsg:4326", &c), -1);
    assert_int_equal(c, GIS_CRS_CGCS2000);
    for (c = GIS_CRS_WGS84; c <= GIS_CRS_BD09; c++) {
        gis_crs back;
        assert_int_equal(gis_crs_parse(gis_crs_name(c), &back), 0);
        assert_int_equal(back, c);
    }
    assert_string_equal(gis_crs_name(GIS_CRS_GCJ02), "gcj02");
    assert_string_equal(gis_crs_name((gis_crs)42), "unknown");
}

static void test_gk_zone(void **state) {
    (void)state;
    assert_int_equal(gis_gk_epsg_for_lon(119.2), 4549);
    assert_int_equal(gis_gk_epsg_for_lon(118.5), 4549);
    assert_int_equal(gis_gk_epsg_for_lon(121.4999), 4549);
    assert_int_equal(gis_gk_epsg_for_lon(121.5), 4550);
    assert_int_equal(gis_gk_epsg_for_lon(75.0), 4534);
    assert_int_equal(gis_gk_epsg_for_lon(73.5), 4534);
    assert_int_equal(gis_gk_epsg_for_lon(135.0), 4554);
    assert_int_equal(gis_gk_epsg_for_lon(136.5), 4554);
    assert_int_equal(gis_gk_epsg_for_lon(73.4), -1);
    assert_int_equal(gis_gk_epsg_for_lon(136.6), -1);
    assert_int_equal(gis_gk_epsg_for_lon(NAN), -1);
}

static void test_gk_matches_cs2cs(void **state) {
    char in_path[] = "/tmp/test_gis_cs2csXXXXXX";
    char cmd[256], err[256];
    double pts[100][2];
    int fd, i, n = 0;
    FILE *f, *pipe;
    gis_proj *p;
    (void)state;

    p = gis_proj_create(err, sizeof err);
    assert_non_null(p);
    fd = mkstemp(in_path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    for (i = 0; i < 100; i++) {
        pts[i][0] = 118.5 + rnd01() * 3.0; /* zone CM 120E */
        pts[i][1] = 30.0 + rnd01() * 10.0;
        fprintf(f, "%.10f %.10f\n", pts[i][1], pts[i][0]); /* cs2cs: lat lon */
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "cs2cs -f %%.6f EPSG:4326 EPSG:4549 < %s 2>/dev/null", in_path);
    pipe = popen(cmd, "r");
    assert_non_null(pipe);
    for (i = 0; i < 100; i++) {
        double north, east, z, e, nn, lon, lat;
        if (fscanf(pipe, "%lf %lf %lf", &north, &east, &z) != 3) /* EPSG:4549: N, E */
            break;
        assert_int_equal(gis_proj_to_gk(p, 4549, pts[i][0], pts[i][1], &e, &nn, err, sizeof err),
                         0);
        assert_true(fabs(e - east) <= 0.001);
        assert_true(fabs(nn - north) <= 0.001);
        assert_int_equal(gis_proj_from_gk(p, 4549, e, nn, &lon, &lat, err, sizeof err), 0);
        assert_true(fabs(lon - pts[i][0]) < 1e-9 && fabs(lat - pts[i][1]) < 1e-9);
        n++;
    }
    pclose(pipe);
    unlink(in_path);
    gis_proj_destroy(p);
    assert_int_equal(n, 100); /* cs2cs must exist (proj-bin) and answer every line */
}

static void test_proj_errors(void **state) {
    char err[256] = "";
    double e = 1.0, n = 2.0;
    gis_proj *p = gis_proj_create(err, sizeof err);
    (void)state;
    assert_non_null(p);
    assert_int_equal(gis_proj_to_gk(p, 4326, 119.0, 34.0, &e, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "4326"));
    assert_int_equal(gis_proj_to_gk(p, 4549, NAN, 34.0, &e, &n, err, sizeof err), -1);
    assert_int_equal(gis_proj_to_gk(p, 4549, 119.0, 95.0, &e, &n, err, sizeof err), -1);
    assert_int_equal(gis_proj_from_gk(p, 4549, INFINITY, 0.0, &e, &n, err, sizeof err), -1);
    assert_true(e == 1.0 && n == 2.0);
    /* Zone 4534 (CM 75E) and 4554 (CM 135E) work too. */
    assert_int_equal(gis_proj_to_gk(p, 4534, 75.0, 40.0, &e, &n, err, sizeof err), 0);
    assert_true(fabs(e - 500000.0) < 1e-3);
    assert_int_equal(gis_proj_to_gk(p, 4554, 135.0, 45.0, &e, &n, err, sizeof err), 0);
    assert_true(fabs(e - 500000.0) < 1e-3);
    gis_proj_destroy(p);
    gis_proj_destroy(NULL);
}

static void test_geodesic(void **state) {
    double d;
    (void)state;
    d = gis_geodesic_m(119.0, 34.0, 119.0, 35.0);
    assert_true(d > 110600.0 && d < 111700.0);
    d = gis_geodesic_m(0.0, 0.0, 0.0, 1.0);
    assert_true(fabs(d - 110574.389) < 0.01);
    d = gis_geodesic_m(0.0, 0.0, 1.0, 0.0);
    assert_true(fabs(d - 111319.491) < 0.01);
    assert_true(gis_geodesic_m(119.2, 34.6, 119.2, 34.6) == 0.0);
    d = gis_geodesic_m(119.2, 34.6, 119.21, 34.6);
    assert_true(fabs(d - gis_geodesic_m(119.21, 34.6, 119.2, 34.6)) < 1e-9);
    assert_true(isnan(gis_geodesic_m(NAN, 0.0, 0.0, 0.0)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_gcj02_matches_formula),
        cmocka_unit_test(test_forward_bd09_matches_formula),
        cmocka_unit_test(test_round_trips_1mm),
        cmocka_unit_test(test_inverse_is_not_one_step),
        cmocka_unit_test(test_outside_china_unchanged),
        cmocka_unit_test(test_cgcs2000_is_wgs84),
        cmocka_unit_test(test_invalid_input_rejected),
        cmocka_unit_test(test_crs_parse_and_name),
        cmocka_unit_test(test_gk_zone),
        cmocka_unit_test(test_gk_matches_cs2cs),
        cmocka_unit_test(test_proj_errors),
        cmocka_unit_test(test_geodesic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
