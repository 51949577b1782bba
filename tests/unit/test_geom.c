/* tests/unit/test_geom.c - gis/geom: the one polygon repair rule. A bow-tie ring and a ring with
 * a spike are repaired the same way on the importer's path (gis_polygon_repair then
 * gis_polygon_multi, as service/cmd/importer.c does) and on the index's path (gis_builder_add_division
 * repairs with the same rule): both keep the same area, and the index locates points in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <geos_c.h>
#include <math.h>
#include <stdio.h>

#include "../../gis/geom.h"
#include "../../gis/index.h"

#define BOWTIE "POLYGON((119 34, 119.1 34.1, 119.1 34, 119 34.1, 119 34))"
#define SPIKE                                                                                      \
    "POLYGON((119 34, 119.1 34, 119.1 34.1, 119.05 34.1, 119.05 34.2, 119.05 34.1, 119 34.1, 119 " \
    "34))"

static GEOSContextHandle_t g;

static GEOSGeometry *wkt(const char *text) {
    GEOSWKTReader *r = GEOSWKTReader_create_r(g);
    GEOSGeometry *out = GEOSWKTReader_read_r(g, r, text);
    GEOSWKTReader_destroy_r(g, r);
    assert_non_null(out);
    return out;
}

static double area(const GEOSGeometry *x) {
    double a = -1;
    assert_int_equal(GEOSArea_r(g, x, &a), 1);
    return a;
}

/* The importer's path: invalid in, a valid MultiPolygon of the expected area out. */
static void importer_path(const char *text, double want_area) {
    GEOSGeometry *in = wkt(text);
    assert_int_equal(GEOSisValid_r(g, in), 0);
    GEOSGeometry *fixed = gis_polygon_repair(g, in);
    assert_non_null(fixed);
    GEOSGeometry *mp = gis_polygon_multi(g, fixed);
    assert_non_null(mp);
    assert_int_equal(GEOSGeomTypeId_r(g, mp), GEOS_MULTIPOLYGON);
    assert_int_equal(GEOSisValid_r(g, mp), 1);
    assert_true(fabs(area(mp) - want_area) < 1e-9);
    assert_true(fabs(area(fixed) - want_area) < 1e-9);
    GEOSGeom_destroy_r(g, mp);
    GEOSGeom_destroy_r(g, fixed);
    GEOSGeom_destroy_r(g, in);
}

/* The index's path: the same ring is accepted (repaired) and points inside it are located. */
static void index_path(const char *text, double lon, double lat) {
    char err[256];
    size_t len = 0;
    GEOSGeometry *in = wkt(text);
    GEOSWKBWriter *w = GEOSWKBWriter_create_r(g);
    unsigned char *wkb = GEOSWKBWriter_write_r(g, w, in, &len);
    gis_builder *b = gis_builder_create(err, sizeof err);
    assert_non_null(b);
    if (gis_builder_add_division(b, "320700000000", "city", GIS_CITY, 0, wkb, len, err,
                                 sizeof err) != 0)
        fail_msg("the index refused what the importer repairs: %s", err);
    gis_index *ix = gis_builder_finish(b, 10.0, err, sizeof err);
    if (!ix) fail_msg("finish: %s", err);
    gis_slot *slot = gis_slot_create();
    gis_slot_publish(slot, ix);
    gis_locator *loc = gis_locator_create(slot);
    gis_location o;
    assert_int_equal(gis_locate(loc, lon, lat, &o, err, sizeof err), 0);
    assert_non_null(o.tiers[GIS_CITY]);
    assert_int_equal(o.outside, 0);
    gis_locator_destroy(loc);
    gis_slot_destroy(slot);
    GEOSFree_r(g, wkb);
    GEOSWKBWriter_destroy_r(g, w);
    GEOSGeom_destroy_r(g, in);
}

static void test_bowtie(void **state) {
    (void)state;
    importer_path(BOWTIE, 0.005); /* two triangles of 0.0025 square degrees */
    index_path(BOWTIE, 119.01, 34.05);
    index_path(BOWTIE, 119.09, 34.05);
}

static void test_spike(void **state) {
    (void)state;
    importer_path(SPIKE, 0.01); /* the square; the spike has no area */
    index_path(SPIKE, 119.05, 34.05);
}

static void test_not_polygonal(void **state) {
    (void)state;
    GEOSGeometry *line = wkt("LINESTRING(119 34, 119.1 34.1)");
    assert_null(gis_polygon_repair(g, line));
    assert_null(gis_polygon_multi(g, line));
    GEOSGeom_destroy_r(g, line);
}

int main(void) {
    g = GEOS_init_r();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bowtie),
        cmocka_unit_test(test_spike),
        cmocka_unit_test(test_not_polygonal),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    GEOS_finish_r(g);
    return rc;
}
