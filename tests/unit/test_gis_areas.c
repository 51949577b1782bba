/* tests/unit/test_gis_areas.c - gis/areas: grids (window, inside cells against the exact
 * point-in-area rule, coarser cells for big areas, the bit layout of PostgreSQL's bit varying),
 * painting a step's buffer (every cell against a brute-force distance, repaint adds nothing, a
 * share against GEOS buffer/intersection within the grid's error), areas near a box, the parts of
 * a segment inside an area, and refused input. Fixtures are WKT in projected metres (GK-like
 * eastings near 500 km) turned into WKB with GEOS. */
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

#include "../../gis/areas.h"

static GEOSContextHandle_t tg;

static unsigned char *wkt_to_wkb(const char *wkt, size_t *len) {
    GEOSWKTReader *r = GEOSWKTReader_create_r(tg);
    GEOSWKBWriter *w = GEOSWKBWriter_create_r(tg);
    GEOSGeometry *g = GEOSWKTReader_read_r(tg, r, wkt);
    assert_non_null(g);
    unsigned char *wkb = GEOSWKBWriter_write_r(tg, w, g, len);
    assert_non_null(wkb);
    GEOSGeom_destroy_r(tg, g);
    GEOSWKTReader_destroy_r(tg, r);
    GEOSWKBWriter_destroy_r(tg, w);
    return wkb;
}

static int add(gis_areas_builder *b, const char *key, const char *wkt) {
    size_t n;
    char err[256];
    unsigned char *wkb = wkt_to_wkb(wkt, &n);
    int rc = gis_areas_add_wkb(b, key, wkb, n, err, sizeof err);
    GEOSFree_r(tg, wkb);
    return rc;
}

/* A set of the given (key, WKT) pairs with 20 m cells. */
static gis_areas *make(const char *const *kv, size_t n, size_t max_cells) {
    char err[256];
    gis_areas_builder *b = gis_areas_builder_create(4549, 20, max_cells, err, sizeof err);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(add(b, kv[2 * i], kv[2 * i + 1]), 0);
    gis_areas *s = gis_areas_finish(b, err, sizeof err);
    assert_non_null(s);
    return s;
}

static int bit(const unsigned char *bits, size_t k) {
    return (bits[k >> 3] >> (7 - (k & 7))) & 1;
}

/* Distance from (x, y) to segment a-b. */
static double seg_dist(double x, double y, double ax, double ay, double bx, double by) {
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((x - ax) * dx + (y - ay) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(x - (ax + t * dx), y - (ay + t * dy));
}

#define SQUARE                                                                                     \
    "POLYGON((500003 3800007, 501003 3800007, 501003 3801007, 500003 3801007, 500003 3800007))"
/* an L-shape with a square hole and a slanted edge */
#define ODD                                                                                        \
    "POLYGON((500000 3800000, 501300 3800000, 501300 3800400, 500700 3801100, 500000 3801100,"     \
    " 500000 3800000), (500200 3800200, 500500 3800200, 500500 3800500, 500200 3800500,"           \
    " 500200 3800200))"

static void test_square_grid(void **state) {
    (void)state;
    const char *kv[] = {"sq", SQUARE};
    gis_areas *s = make(kv, 1, 1 << 20);
    const gis_area *a = gis_areas_get(s, 0);
    assert_string_equal(a->key, "sq");
    assert_true(fabs(a->area_m2 - 1e6) < 1e-6);
    assert_int_equal(a->i0, 500003 / 20);
    assert_int_equal(a->j0, 3800007 / 20);
    assert_int_equal(a->nx, 51), assert_int_equal(a->ny, 51); /* 1000 m over 20 m cells, offset */
    assert_int_equal(a->inside_cells, 2500);                  /* 50 x 50 centres inside */
    assert_int_equal(a->nbytes, (51 * 51 + 7) / 8);
    assert_string_equal(a->grid, "4549/20/25000/190000/51/51");
    assert_int_equal(gis_areas_find(s, "sq"), 0);
    assert_int_equal(gis_areas_find(s, "nope"), -1);
    assert_int_equal(gis_bits_count(a->inside, a->nbytes), 2500);
    gis_areas_destroy(s);
}

/* Every cell centre: inside exactly when gis_areas_contains says so (holes, slanted edges). */
static void test_inside_cells_match_contains(void **state) {
    (void)state;
    const char *kv[] = {"odd", ODD};
    gis_areas *s = make(kv, 1, 1 << 20);
    const gis_area *a = gis_areas_get(s, 0);
    size_t n = 0;
    for (int j = 0; j < a->ny; j++)
        for (int i = 0; i < a->nx; i++) {
            double x = (a->i0 + i + 0.5) * a->cell, y = (a->j0 + j + 0.5) * a->cell;
            int in = gis_areas_contains(s, 0, x, y);
            assert_int_equal(bit(a->inside, (size_t)j * (size_t)a->nx + (size_t)i), in);
            n += (size_t)in;
        }
    assert_int_equal(n, a->inside_cells);
    /* the cells' area is the polygon's within half a cell along the boundary */
    double perimeter = 1300 + 400 + hypot(600, 700) + 700 + 1100 + 4 * 300;
    assert_true(fabs(n * 400.0 - a->area_m2) < perimeter * 10);
    assert_int_equal(gis_areas_contains(s, 0, 500300, 3800300), 0); /* in the hole */
    assert_int_equal(gis_areas_contains(s, 0, 500100, 3800100), 1);
    assert_int_equal(gis_areas_contains(s, 0, 501200, 3801000), 0); /* beyond the slant */
    gis_areas_destroy(s);
}

/* Painting: exactly the inside cells within r of the segment, for steps of every direction, a
 * lone fix (a disc) and a step reaching outside the area; painting again adds nothing. */
static void test_paint_matches_brute_force(void **state) {
    (void)state;
    const char *kv[] = {"odd", ODD};
    gis_areas *s = make(kv, 1, 1 << 20);
    const gis_area *a = gis_areas_get(s, 0);
    const double steps[][4] = {
        {500100, 3800050, 501250, 3800950}, {500650, 3800000, 500650, 3801100},
        {499900, 3800700, 501400, 3800700}, {500433.3, 3800921.7, 500433.3, 3800921.7},
        {501250, 3800300, 500010, 3800010}, {499000, 3799000, 499050, 3799020},
    };
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        const double *p = steps[k];
        unsigned char *bits = calloc(a->nbytes, 1);
        size_t added = gis_areas_paint(s, 0, p[0], p[1], p[2], p[3], 100, bits);
        size_t want = 0;
        for (int j = 0; j < a->ny; j++)
            for (int i = 0; i < a->nx; i++) {
                size_t b = (size_t)j * (size_t)a->nx + (size_t)i;
                double x = (a->i0 + i + 0.5) * a->cell, y = (a->j0 + j + 0.5) * a->cell;
                int cov = bit(a->inside, b) && seg_dist(x, y, p[0], p[1], p[2], p[3]) <= 100;
                assert_int_equal(bit(bits, b), cov);
                want += (size_t)cov;
            }
        assert_int_equal(added, want);
        assert_int_equal(gis_bits_count(bits, a->nbytes), want);
        assert_int_equal(gis_areas_paint(s, 0, p[0], p[1], p[2], p[3], 100, bits), 0);
        if (k == 5) assert_int_equal(want, 0);
        if (k == 3) assert_true(want > 60 && want < 90); /* a 100 m disc: pi 10^4 / 400 = 78.5 */
        free(bits);
    }
    gis_areas_destroy(s);
}

/* The covered share of a zig-zag track against GEOS (buffer 100 m, intersection, area), within
 * the grid's error: half a cell along the boundaries of the covered part and of the area. */
static void test_share_against_geos(void **state) {
    (void)state;
    const char *kv[] = {"sq", SQUARE};
    gis_areas *s = make(kv, 1, 1 << 20);
    const gis_area *a = gis_areas_get(s, 0);
    const double px[] = {499900, 500400, 500600, 501100, 500750, 500200};
    const double py[] = {3800100, 3800900, 3800150, 3800800, 3801200, 3800500};
    unsigned char *bits = calloc(a->nbytes, 1);
    char wkt[512];
    int o = snprintf(wkt, sizeof wkt, "LINESTRING(");
    for (int k = 0; k < 6; k++) {
        if (k) gis_areas_paint(s, 0, px[k - 1], py[k - 1], px[k], py[k], 100, bits);
        o += snprintf(wkt + o, sizeof wkt - (size_t)o, "%s%.0f %.0f", k ? "," : "", px[k], py[k]);
    }
    snprintf(wkt + o, sizeof wkt - (size_t)o, ")");
    double share = (double)gis_bits_count_and(bits, a->inside, a->nbytes) / (double)a->inside_cells;
    GEOSWKTReader *r = GEOSWKTReader_create_r(tg);
    GEOSGeometry *line = GEOSWKTReader_read_r(tg, r, wkt),
                 *sq = GEOSWKTReader_read_r(tg, r, SQUARE);
    GEOSGeometry *buf = GEOSBuffer_r(tg, line, 100, 16), *x = GEOSIntersection_r(tg, buf, sq);
    double ax, len;
    GEOSArea_r(tg, x, &ax);
    GEOSLength_r(tg, x, &len); /* the perimeter of the covered part */
    double exact = ax / 1e6, tol = (len * 10 + 4000 * 10 * exact) / 1e6;
    printf("share %.4f exact %.4f tolerance %.4f\n", share, exact, tol);
    assert_true(exact > 0.4 && exact < 0.95);
    assert_true(fabs(share - exact) <= tol);
    assert_true(fabs(share - exact) < 0.02); /* and in practice far less than the bound */
    GEOSGeom_destroy_r(tg, line), GEOSGeom_destroy_r(tg, sq), GEOSGeom_destroy_r(tg, buf);
    GEOSGeom_destroy_r(tg, x);
    GEOSWKTReader_destroy_r(tg, r);
    free(bits);
    gis_areas_destroy(s);
}

static int collect(void *ud, size_t i) {
    int *seen = ud;
    seen[i]++;
    return 0;
}

/* near(): every area whose envelope meets the box, each once, for boxes of every size. */
static void test_near(void **state) {
    (void)state;
    enum { N = 12 };
    char keys[N * N][8], wkts[N * N][200];
    const char *kv[2 * N * N];
    for (int k = 0; k < N * N; k++) {
        double x = 500000 + (k % N) * 1500.0, y = 3800000 + (k / N) * 1500.0;
        snprintf(keys[k], sizeof keys[k], "a%03d", k);
        snprintf(wkts[k], sizeof wkts[k], "POLYGON((%f %f,%f %f,%f %f,%f %f,%f %f))", x, y,
                 x + 1400, y, x + 1400, y + 1400, x, y + 1400, x, y);
        kv[2 * k] = keys[k], kv[2 * k + 1] = wkts[k];
    }
    gis_areas *s = make(kv, N * N, 1 << 20);
    unsigned seed = 7;
    for (int q = 0; q < 300; q++) {
        seed = seed * 1103515245u + 12345u;
        double x = 499000 + (seed >> 8) % 20000, w = (seed >> 4) % 9000 * (q % 3 ? 0.05 : 1);
        seed = seed * 1103515245u + 12345u;
        double y = 3799000 + (seed >> 8) % 20000, h = (seed >> 4) % 9000 * (q % 3 ? 0.05 : 1);
        int seen[N * N] = {0};
        assert_int_equal(gis_areas_near(s, x, y, x + w, y + h, collect, seen), 0);
        for (size_t i = 0; i < N * N; i++) {
            const double *e = gis_areas_get(s, i)->env;
            int meets = !(e[0] > x + w || e[2] < x || e[1] > y + h || e[3] < y);
            assert_int_equal(seen[i], meets);
        }
    }
    gis_areas_destroy(s);
}

/* The parts of a segment inside: across the L-shape through its hole. */
static void test_segment_inside(void **state) {
    (void)state;
    const char *kv[] = {"odd", ODD};
    gis_areas *s = make(kv, 1, 1 << 20);
    double ts[8];
    /* y = 3800300 from x = 499900 to 501400: inside 500000..500200, hole, 500500..501300 */
    int k = gis_areas_segment_inside(s, 0, 499900, 3800300, 501400, 3800300, ts, 4);
    assert_int_equal(k, 2);
    const double want[] = {100, 300, 600, 1400};
    for (int m = 0; m < 4; m++)
        assert_true(fabs(ts[m] * 1500 - want[m]) < 1e-6);
    assert_int_equal(gis_areas_segment_inside(s, 0, 499000, 3799000, 499100, 3799100, ts, 4), 0);
    k = gis_areas_segment_inside(s, 0, 500100, 3800100, 500100, 3800100, ts, 4); /* a lone fix */
    assert_int_equal(k, 1);
    assert_true(ts[0] == 0 && ts[1] == 1);
    gis_areas_destroy(s);
}

/* Big areas get coarser cells; the first cell of a grid is the top bit of byte 0. */
static void test_coarse_cells_and_layout(void **state) {
    (void)state;
    const char *kv[] = {"big", "POLYGON((500000 3800000, 510000 3800000, 510000 3810000,"
                               " 500000 3810000, 500000 3800000))"};
    gis_areas *s = make(kv, 1, 10000);
    const gis_area *a = gis_areas_get(s, 0);
    assert_true(a->cell == 160);
    assert_true((size_t)a->nx * (size_t)a->ny <= 10000);
    unsigned char *bits = calloc(a->nbytes, 1);
    gis_areas_paint(s, 0, 500050, 3800050, 500050, 3800050, 100, bits);
    assert_int_equal(bits[0] & 0x80, 0x80); /* cell (i0, j0): its centre (500080, 3800080) */
    assert_int_equal(bits[0] & 0x40, 0);    /* (i0 + 1, j0): its centre is 190 m away */
    assert_int_equal(gis_bits_count(bits, a->nbytes), 1);
    free(bits);
    gis_areas_destroy(s);
}

static void test_refused(void **state) {
    (void)state;
    char err[256];
    gis_areas_builder *b = gis_areas_builder_create(4549, 20, 1 << 20, err, sizeof err);
    assert_int_equal(add(b, "line", "LINESTRING(0 0, 10 10)"), -1);
    assert_int_equal(add(b, "empty", "POLYGON EMPTY"), -1);
    assert_int_equal(add(b, "", SQUARE), -1);
    /* a bow-tie is repaired by the one rule: two triangles of 1/4 each */
    assert_int_equal(add(b, "bowtie",
                         "POLYGON((500000 3800000, 501000 3801000, 501000 3800000, 500000 3801000,"
                         " 500000 3800000))"),
                     0);
    assert_int_equal(add(b, "bowtie", SQUARE), 0);
    assert_null(gis_areas_finish(b, err, sizeof err)); /* the same key twice */
    assert_non_null(strstr(err, "twice"));
    assert_null(gis_areas_builder_create(4549, 0, 1 << 20, err, sizeof err));
    b = gis_areas_builder_create(4549, 20, 1 << 20, err, sizeof err);
    add(b, "bowtie",
        "POLYGON((500000 3800000, 501000 3801000, 501000 3800000, 500000 3801000,"
        " 500000 3800000))");
    gis_areas *s = gis_areas_finish(b, err, sizeof err);
    assert_true(fabs(gis_areas_get(s, 0)->area_m2 - 500000) < 1e-3);
    gis_areas_destroy(s);
    gis_areas_destroy(NULL);
    gis_areas_builder_destroy(NULL);
}

int main(void) {
    tg = GEOS_init_r();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_square_grid),
        cmocka_unit_test(test_inside_cells_match_contains),
        cmocka_unit_test(test_paint_matches_brute_force),
        cmocka_unit_test(test_share_against_geos),
        cmocka_unit_test(test_near),
        cmocka_unit_test(test_segment_inside),
        cmocka_unit_test(test_coarse_cells_and_layout),
        cmocka_unit_test(test_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    GEOS_finish_r(tg);
    return rc;
}
