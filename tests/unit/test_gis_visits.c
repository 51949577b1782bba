/* tests/unit/test_gis_visits.c - gis/visits: a track's spans inside an area against the crossing
 * times worked out by hand (a walk straight through a square, a gap inside bridged or cut, a lone
 * fix, areas not allowed), visits of several units (partly overlapping: one visit with the union's
 * length; gaps under the bridge joined, longer ones not), the union of some units' spans, a group's
 * distance counted once when its units walk together and twice when apart, and gis_areas_within. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <geos_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gis/visits.h"

static GEOSContextHandle_t tg;

/* A set of areas (key, WKT in metres) with 20 m cells. */
static gis_areas *make(const char *const *kv, size_t n) {
    char err[256];
    gis_areas_builder *b = gis_areas_builder_create(4549, 20, 1 << 20, err, sizeof err);
    assert_non_null(b);
    GEOSWKTReader *r = GEOSWKTReader_create_r(tg);
    GEOSWKBWriter *w = GEOSWKBWriter_create_r(tg);
    for (size_t i = 0; i < n; i++) {
        GEOSGeometry *g = GEOSWKTReader_read_r(tg, r, kv[2 * i + 1]);
        size_t len;
        unsigned char *wkb = GEOSWKBWriter_write_r(tg, w, g, &len);
        assert_int_equal(gis_areas_add_wkb(b, kv[2 * i], wkb, len, err, sizeof err), 0);
        GEOSFree_r(tg, wkb);
        GEOSGeom_destroy_r(tg, g);
    }
    GEOSWKTReader_destroy_r(tg, r);
    GEOSWKBWriter_destroy_r(tg, w);
    gis_areas *s = gis_areas_finish(b, err, sizeof err);
    assert_non_null(s);
    return s;
}

#define SQUARE                                                                                     \
    "POLYGON((500000 3800000, 501000 3800000, 501000 3801000, 500000 3801000, 500000 3800000))"
#define FAR                                                                                        \
    "POLYGON((510000 3800000, 511000 3800000, 511000 3801000, 510000 3801000, 510000 3800000))"

typedef struct got {
    size_t area[16];
    double t0[16], t1[16];
    int n;
} got;

static int collect(void *ud, size_t area, double t0, double t1) {
    got *g = ud;
    g->area[g->n] = area, g->t0[g->n] = t0, g->t1[g->n] = t1;
    g->n++;
    return 0;
}

/* Fixes east along y = 3800500 from x = 499900 at 1 m/s, one every `step` s, from t = 1000. */
static size_t walk_east(gis_fix *v, size_t n, double step) {
    for (size_t k = 0; k < n; k++)
        v[k] = (gis_fix){1000 + step * (double)k, 0, 0, 499900 + step * (double)k, 3800500};
    return n;
}

static void test_straight_through(void **state) {
    (void)state;
    const char *kv[] = {"a", SQUARE, "b", FAR};
    gis_areas *s = make(kv, 2);
    gis_fix v[130];
    got g = {0};
    walk_east(v, 130, 10); /* 499900 .. 501190: enters at t = 1100, leaves at t = 2100 */
    assert_int_equal(gis_track_spans(s, NULL, v, 130, 120, 2000, collect, &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.area[0], 0);
    assert_true(fabs(g.t0[0] - 1100) < 1e-6 && fabs(g.t1[0] - 2100) < 1e-6);
    unsigned char allowed[2] = {0, 1}; /* only the far square: nothing */
    g.n = 0;
    assert_int_equal(gis_track_spans(s, allowed, v, 130, 120, 2000, collect, &g), 0);
    assert_int_equal(g.n, 0);
    gis_areas_destroy(s);
}

static void test_gaps_inside(void **state) {
    (void)state;
    const char *kv[] = {"a", SQUARE};
    gis_areas *s = make(kv, 1);
    gis_fix v[130];
    got g = {0};
    walk_east(v, 130, 10);
    for (size_t k = 60; k < 130; k++) /* no fix between t = 1500 and 1560: a 60 s GPS gap */
        v[k - 5] = v[k];
    assert_int_equal(gis_track_spans(s, NULL, v, 125, 120, 2000, collect, &g), 0);
    assert_int_equal(g.n, 1); /* a step of 60 s is still a step: one period */
    assert_true(fabs(g.t0[0] - 1100) < 1e-6 && fabs(g.t1[0] - 2100) < 1e-6);
    walk_east(v, 130, 10);
    for (size_t k = 80; k < 130; k++) /* 300 s without a fix: the walk cuts there */
        v[k - 30] = v[k];
    g.n = 0;
    assert_int_equal(gis_track_spans(s, NULL, v, 100, 120, 2000, collect, &g), 0);
    assert_int_equal(g.n, 2);
    double a = fmin(g.t0[0], g.t0[1]), b = fmax(g.t1[0], g.t1[1]);
    assert_true(fabs(a - 1100) < 1e-6 && fabs(b - 2100) < 1e-6);
    /* a lone fix inside: a period of no length */
    gis_fix one = {5000, 0, 0, 500500, 3800500};
    g.n = 0;
    assert_int_equal(gis_track_spans(s, NULL, &one, 1, 120, 2000, collect, &g), 0);
    assert_int_equal(g.n, 1);
    assert_true(g.t0[0] == 5000 && g.t1[0] == 5000);
    gis_areas_destroy(s);
}

static void test_visits_join(void **state) {
    (void)state;
    /* two units overlapping partly: one visit of the union's length */
    gis_span v[] = {{1300, 1900, 1}, {1000, 1600, 0}, {2000, 2100, 0}, {2300, 2400, 1}};
    gis_visit out[4];
    size_t n = gis_visits_join(v, 4, 120, out);
    assert_int_equal(n, 2); /* 1900 -> 2000 is bridged (100 s); 2100 -> 2300 is not (200 s) */
    assert_true(out[0].t0 == 1000 && out[0].t1 == 2100 && out[0].count == 3);
    assert_true(out[1].t0 == 2300 && out[1].t1 == 2400 && out[1].count == 1);
    unsigned char only0[2] = {1, 0}, only1[2] = {0, 1};
    assert_true(gis_spans_union(v + out[0].first, out[0].count, NULL) == 1000);
    assert_true(gis_spans_union(v + out[0].first, out[0].count, only0) == 700);
    assert_true(gis_spans_union(v + out[0].first, out[0].count, only1) == 600);
    gis_span edge[] = {{0, 10, 0}, {130, 140, 0}}; /* a gap of exactly 120 s is not bridged */
    assert_int_equal(gis_visits_join(edge, 2, 120, out), 2);
    assert_int_equal(gis_visits_join(edge, 0, 120, out), 0);
}

static void test_group_counted_once(void **state) {
    (void)state;
    gis_fix a[100], b[100];
    walk_east(a, 100, 10);
    walk_east(b, 100, 10);
    for (int k = 0; k < 100; k++)
        b[k].y += 15, b[k].t += 3; /* beside a, a few seconds behind */
    const gis_fix *tracks[] = {a, b};
    size_t n[] = {100, 100};
    gis_group_out out;
    assert_int_equal(gis_group_measure(tracks, n, 2, 0, 1e9, 120, 2000, 100, &out), 0);
    assert_true(fabs(out.metres - 990) < 1e-6); /* one walk, not two */
    assert_true(fabs(out.active_s - 993) < 1e-6);
    for (int k = 0; k < 100; k++)
        b[k].y += 3000; /* apart: both count */
    assert_int_equal(gis_group_measure(tracks, n, 2, 0, 1e9, 120, 2000, 100, &out), 0);
    assert_true(fabs(out.metres - 1980) < 1e-6);
    /* clipped to [1200, 1400): 200 m of each */
    assert_int_equal(gis_group_measure(tracks, n, 2, 1200, 1400, 120, 2000, 100, &out), 0);
    assert_true(fabs(out.metres - 400) < 1e-6 && fabs(out.active_s - 200) < 1e-6);
}

static void test_within(void **state) {
    (void)state;
    const char *kv[] = {"a", SQUARE};
    gis_areas *s = make(kv, 1);
    assert_int_equal(gis_areas_within(s, 0, 500500, 3800500, 0), 1);
    assert_int_equal(gis_areas_within(s, 0, 501400, 3800500, 500), 1);
    assert_int_equal(gis_areas_within(s, 0, 501600, 3800500, 500), 0);
    assert_int_equal(gis_areas_within(s, 0, 501300, 3801400, 500), 1); /* a corner, 424 m */
    assert_int_equal(gis_areas_within(s, 0, 501400, 3801400, 500), 0); /* 566 m */
    gis_areas_destroy(s);
}

int main(void) {
    tg = GEOS_init_r();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_straight_through), cmocka_unit_test(test_gaps_inside),
        cmocka_unit_test(test_visits_join),      cmocka_unit_test(test_group_counted_once),
        cmocka_unit_test(test_within),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    GEOS_finish_r(tg);
    return rc;
}
