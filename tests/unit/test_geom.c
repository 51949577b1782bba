/* tests/unit/test_geom.c - gis/geom: the one polygon repair rule. A bow-tie ring and a ring with
 * a spike are repaired the same way on the importer's path (gis_polygon_repair then
 * gis_polygon_multi, as service/cmd/importer.c does) and on the index's path (gis_builder_add_division
 * repairs with the same rule): both keep the same area, and the index locates points in it. And
 * GeoJSON polygons in (gis_polygon_read: administration and imports). */
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

/* GeoJSON in (administration, imports): a closed ring in GCJ-02 comes out a valid WGS-84
 * MultiPolygon; a ring that does not close, a short ring, another geometry, a coordinate out of
 * range and broken text are refused with a message that says so; a bow-tie is repaired. */
static void test_polygon_read(void **state) {
    (void)state;
    char *hex = NULL, err[200];
    int repaired = -1;
    assert_int_equal(gis_polygon_read("{\"type\":\"Polygon\",\"coordinates\":[[[119.1,34.5],[119.2,"
                                      "34.5],[119.2,34.6],[119.1,34.6],[119.1,34.5]]]}",
                                      GIS_CRS_GCJ02, &hex, &repaired, err, sizeof err),
                     0);
    assert_int_equal(repaired, 0);
    GEOSWKBReader *rd = GEOSWKBReader_create_r(g);
    GEOSGeometry *m = GEOSWKBReader_readHEX_r(g, rd, (const unsigned char *)hex, strlen(hex));
    assert_non_null(m);
    assert_int_equal(GEOSGeomTypeId_r(g, m), GEOS_MULTIPOLYGON);
    double x, wlon, wlat;
    const GEOSGeometry *ring = GEOSGetExteriorRing_r(g, GEOSGetGeometryN_r(g, m, 0));
    gis_gcj02_to_wgs84(119.1, 34.5, &wlon, &wlat);
    GEOSGeometry *p0 = GEOSGeomGetStartPoint_r(g, ring);
    GEOSGeomGetX_r(g, p0, &x);
    assert_true(fabs(x - wlon) < 1e-9);
    GEOSGeom_destroy_r(g, p0);
    GEOSGeom_destroy_r(g, m);
    GEOSWKBReader_destroy_r(g, rd);
    free(hex);
    static const struct {
        const char *json, *says;
    } bad[] = {
        {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1]]]}", "does not close"},
        {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[0,0]]]}", "fewer than 4"},
        {"{\"type\":\"Point\",\"coordinates\":[0,0]}", "Polygon or MultiPolygon is needed"},
        {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[200,0],[200,1],[0,0]]]}", "out of range"},
        {"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,", "not a GeoJSON"},
        {"{\"type\":\"Polygon\",\"coordinates\":[]}", "empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(gis_polygon_read(bad[i].json, GIS_CRS_WGS84, &hex, NULL, err, sizeof err),
                         -1);
        assert_null(hex);
        if (!strstr(err, bad[i].says))
            fail_msg("%s: %s (wanted %s)", bad[i].json, err, bad[i].says);
    }
    assert_int_equal(gis_polygon_read("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,1],[1,0],"
                                      "[0,1],[0,0]]]}",
                                      GIS_CRS_WGS84, &hex, &repaired, err, sizeof err),
                     0);
    assert_int_equal(repaired, 1);
    free(hex);
}

int main(void) {
    g = GEOS_init_r();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bowtie),
        cmocka_unit_test(test_spike),
        cmocka_unit_test(test_not_polygonal),
        cmocka_unit_test(test_polygon_read),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    GEOS_finish_r(g);
    return rc;
}
