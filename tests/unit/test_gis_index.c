/* tests/unit/test_gis_index.c - gis/index: builder validation, tier location
 * (shared edges/vertices, holes, islands, snapping), zones, routing and
 * concurrent publication. Fixtures are WKT converted to WKB with GEOS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <geos_c.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../gis/index.h"
#include "../../gis/transform.h"

/* ------------------------------------------------------------ fixtures */

static GEOSContextHandle_t tg; /* the test's own GEOS context (main thread) */

static unsigned char *wkt_to_wkb(const char *wkt, size_t *len) {
    GEOSWKTReader *r = GEOSWKTReader_create_r(tg);
    GEOSWKBWriter *w = GEOSWKBWriter_create_r(tg);
    GEOSGeometry *g = GEOSWKTReader_read_r(tg, r, wkt);
    unsigned char *wkb;

    assert_non_null(g);
    wkb = GEOSWKBWriter_write_r(tg, w, g, len);
    assert_non_null(wkb);
    GEOSGeom_destroy_r(tg, g);
    GEOSWKTReader_destroy_r(tg, r);
    GEOSWKBWriter_destroy_r(tg, w);
    return wkb;
}

static int add_div(gis_builder *b, const char *code, const char *name, gis_level lv, int zone,
                   const char *wkt, char *err, size_t errlen) {
    size_t len;
    unsigned char *wkb = wkt_to_wkb(wkt, &len);
    int rc = gis_builder_add_division(b, code, name, lv, zone, wkb, len, err, errlen);
    GEOSFree_r(tg, wkb);
    return rc;
}

static int add_st(gis_builder *b, long long id, const char *name, gis_level tier, int disp,
                  long long parent, double lon, double lat, const char *wkt) {
    char err[256];
    size_t len = 0;
    unsigned char *wkb = wkt ? wkt_to_wkb(wkt, &len) : NULL;
    int rc = gis_builder_add_station(b, id, name, tier, disp, parent, lon, lat, wkb, len, err,
                                     sizeof err);
    if (rc != 0) print_error("add_station %lld: %s\n", id, err);
    if (wkb) GEOSFree_r(tg, wkb);
    return rc;
}

#define SQ(x0, y0, x1, y1)                                                                         \
    "POLYGON((" #x0 " " #y0 ", " #x1 " " #y0 ", " #x1 " " #y1 ", " #x0 " " #y1 ", " #x0 " " #y0 "))"

/* The fixture world (lon 119..120, lat 34..35):
 *   city 3207: the whole square
 *   counties 320703 (west half) and 320706 (east half), shared edge lon 119.5
 *   towns of 320703: four quadrants around the vertex (119.25, 34.5)
 *   community 320703001001: square with a hole; 320706001001: two islands
 *   zone 320771 straddling both counties; zone 320772 inside it
 * `reverse` inserts everything in the opposite order (ownership must not
 * depend on insertion order). */
static gis_index *build_world(int reverse, double tol) {
    static const struct {
        const char *code, *name;
        gis_level lv;
        int zone;
        const char *wkt;
    } divs[] = {
        {"3207", "Lianyungang", GIS_CITY, 0, SQ(119, 34, 120, 35)},
        {"320703", "Lianyun", GIS_COUNTY, 0, SQ(119, 34, 119.5, 35)},
        {"320706", "Haizhou", GIS_COUNTY, 0, SQ(119.5, 34, 120, 35)},
        {"320703004", "T-NE", GIS_TOWN, 0, SQ(119.25, 34.5, 119.5, 35)},
        {"320703002", "T-SE", GIS_TOWN, 0, SQ(119.25, 34, 119.5, 34.5)},
        {"320703003", "T-NW", GIS_TOWN, 0, SQ(119, 34.5, 119.25, 35)},
        {"320703001", "T-SW", GIS_TOWN, 0, SQ(119, 34, 119.25, 34.5)},
        {"320703001001", "holed", GIS_COMMUNITY, 0,
         "POLYGON((119 34, 119.2 34, 119.2 34.2, 119 34.2, 119 34),"
         "(119.05 34.05, 119.15 34.05, 119.15 34.15, 119.05 34.15, 119.05 34.05))"},
        {"320706001001", "islands", GIS_COMMUNITY, 0,
         "MULTIPOLYGON(((119.6 34.1, 119.7 34.1, 119.7 34.2, 119.6 34.2, 119.6 34.1)),"
         "((119.8 34.1, 119.9 34.1, 119.9 34.2, 119.8 34.2, 119.8 34.1)))"},
        {"320771", "ETDZ", GIS_COUNTY, 1, SQ(119.4, 34.6, 119.6, 34.8)},
        {"320772", "inner zone", GIS_TOWN, 1, SQ(119.45, 34.65, 119.55, 34.75)},
    };
    size_t n = sizeof divs / sizeof divs[0], i;
    char err[256];
    gis_builder *b = gis_builder_create(err, sizeof err);
    gis_index *ix;

    assert_non_null(b);
    for (i = 0; i < n; i++) {
        size_t k = reverse ? n - 1 - i : i;
        if (add_div(b, divs[k].code, divs[k].name, divs[k].lv, divs[k].zone, divs[k].wkt, err,
                    sizeof err) != 0)
            fail_msg("add %s: %s", divs[k].code, err);
    }
    /* Stations:
     *   1 city (no coverage needed: fallback), 2/3 counties, 4 town T-SW,
     *   5 town T-SE (cannot dispatch), 6/7 two community stations with the
     *   same coverage (ties to nearest), 8 a second-tier station without
     *   coverage whose parent is unknown. */
    assert_int_equal(
        add_st(b, 1, "city station", GIS_CITY, 1, 0, 119.3, 34.6, SQ(119, 34, 120, 35)), 0);
    assert_int_equal(
        add_st(b, 2, "county W", GIS_COUNTY, 1, 1, 119.2, 34.5, SQ(119, 34, 119.5, 35)), 0);
    assert_int_equal(
        add_st(b, 3, "county E", GIS_COUNTY, 1, 1, 119.8, 34.5, SQ(119.5, 34, 120, 35)), 0);
    assert_int_equal(
        add_st(b, 4, "town SW", GIS_TOWN, 1, 2, 119.1, 34.3, SQ(119, 34, 119.25, 34.5)), 0);
    assert_int_equal(
        add_st(b, 5, "town SE", GIS_TOWN, 0, 2, 119.4, 34.3, SQ(119.25, 34, 119.5, 34.5)), 0);
    assert_int_equal(
        add_st(b, 6, "community a", GIS_COMMUNITY, 1, 4, 119.01, 34.01, SQ(119, 34, 119.1, 34.1)),
        0);
    assert_int_equal(
        add_st(b, 7, "community b", GIS_COMMUNITY, 1, 4, 119.09, 34.09, SQ(119, 34, 119.1, 34.1)),
        0);
    assert_int_equal(add_st(b, 8, "orphan", GIS_COUNTY, 1, 99, 119.9, 34.9, NULL), 0);
    ix = gis_builder_finish(b, tol, err, sizeof err);
    if (ix == NULL) fail_msg("finish: %s", err);
    return ix;
}

typedef struct {
    gis_slot *slot;
    gis_locator *loc;
} world;

static int setup_world(void **state) {
    world *w = calloc(1, sizeof *w);
    w->slot = gis_slot_create();
    gis_slot_publish(w->slot, build_world(0, 500.0));
    w->loc = gis_locator_create(w->slot);
    *state = w;
    return w->loc ? 0 : -1;
}

static int teardown_world(void **state) {
    world *w = *state;
    gis_locator_destroy(w->loc);
    gis_slot_destroy(w->slot);
    free(w);
    return 0;
}

static gis_location loc_at(gis_locator *l, double lon, double lat) {
    gis_location out;
    char err[256];
    if (gis_locate(l, lon, lat, &out, err, sizeof err) != 0)
        fail_msg("locate(%f, %f): %s", lon, lat, err);
    return out;
}

static const char *code_of(const gis_division *d) {
    return d ? d->code : "(null)";
}

/* Longitude offset east of (lon, lat) that is `m` geodesic metres away. */
static double east_by(double lon, double lat, double m) {
    return m / gis_geodesic_m(lon, lat, lon + 0.01, lat) * 0.01;
}

/* ---------------------------------------------------------------- tests */

static void test_level_names(void **state) {
    (void)state;
    assert_string_equal(gis_level_name(GIS_CITY), "city");
    assert_string_equal(gis_level_name(GIS_COUNTY), "county");
    assert_string_equal(gis_level_name(GIS_TOWN), "town");
    assert_string_equal(gis_level_name(GIS_COMMUNITY), "community");
    assert_string_equal(gis_level_name((gis_level)9), "unknown");
}

static void test_interior_all_tiers(void **state) {
    world *w = *state;
    gis_location o = loc_at(w->loc, 119.01, 34.18); /* community 320703001001, not the hole */
    assert_string_equal(code_of(o.tiers[GIS_CITY]), "3207");
    assert_string_equal(code_of(o.tiers[GIS_COUNTY]), "320703");
    assert_string_equal(code_of(o.tiers[GIS_TOWN]), "320703001");
    assert_string_equal(code_of(o.tiers[GIS_COMMUNITY]), "320703001001");
    assert_int_equal(o.outside, 0);
    assert_true(o.snapped_m == -1.0);
    assert_int_equal(o.nzones, 0);
    assert_string_equal(o.tiers[GIS_COUNTY]->name, "Lianyun");
    assert_int_equal(o.tiers[GIS_TOWN]->level, GIS_TOWN);
}

static void check_shared(gis_locator *l) {
    gis_location o;
    /* Shared edge between the counties. */
    o = loc_at(l, 119.5, 34.3);
    assert_string_equal(code_of(o.tiers[GIS_COUNTY]), "320703");
    /* Shared vertex of four towns: the smallest code. */
    o = loc_at(l, 119.25, 34.5);
    assert_string_equal(code_of(o.tiers[GIS_TOWN]), "320703001");
    /* Shared edge between T-SE (002) and T-NE (004). */
    o = loc_at(l, 119.4, 34.5);
    assert_string_equal(code_of(o.tiers[GIS_TOWN]), "320703002");
    /* Shared edge between T-NW (003) and T-NE (004). */
    o = loc_at(l, 119.25, 34.8);
    assert_string_equal(code_of(o.tiers[GIS_TOWN]), "320703003");
    /* A town boundary that is also the county edge: town 004, county 320703. */
    o = loc_at(l, 119.5, 34.9);
    assert_string_equal(code_of(o.tiers[GIS_TOWN]), "320703004");
    assert_string_equal(code_of(o.tiers[GIS_COUNTY]), "320703");
    /* Just east of the shared edge: the other county. */
    o = loc_at(l, 119.5000001, 34.3);
    assert_string_equal(code_of(o.tiers[GIS_COUNTY]), "320706");
    /* 320706 has no towns: the town tier snaps (1 cm) to the western town. */
    assert_string_equal(code_of(o.tiers[GIS_TOWN]), "320703002");
    assert_true(o.snapped_m >= 0.0 && o.snapped_m < 0.1);
}

static void test_shared_edges_and_vertices(void **state) {
    world *w = *state;
    gis_slot *s2 = gis_slot_create();
    gis_locator *l2;

    check_shared(w->loc);
    check_shared(w->loc); /* again, with the prepared geometries cached */
    /* The same world inserted in reverse order gives the same owners. */
    gis_slot_publish(s2, build_world(1, 500.0));
    l2 = gis_locator_create(s2);
    check_shared(l2);
    gis_locator_destroy(l2);
    gis_slot_destroy(s2);
}

static void test_holes(void **state) {
    world *w = *state;
    gis_location o;
    double d;

    /* Centre of the hole: ~4.6 km from the ring, beyond tolerance. */
    o = loc_at(w->loc, 119.1, 34.1);
    assert_null(o.tiers[GIS_COMMUNITY]);
    assert_string_equal(code_of(o.tiers[GIS_TOWN]), "320703001");
    assert_true(o.snapped_m == -1.0);
    /* On the hole's boundary: covered. */
    o = loc_at(w->loc, 119.05, 34.1);
    assert_string_equal(code_of(o.tiers[GIS_COMMUNITY]), "320703001001");
    assert_true(o.snapped_m == -1.0);
    /* Inside the hole, 200 m from its western edge: snapped back. */
    d = east_by(119.05, 34.1, 200.0);
    o = loc_at(w->loc, 119.05 + d, 34.1);
    assert_string_equal(code_of(o.tiers[GIS_COMMUNITY]), "320703001001");
    assert_true(fabs(o.snapped_m - 200.0) < 1.0);
}

static void test_multipolygon_islands(void **state) {
    world *w = *state;
    gis_location o;

    o = loc_at(w->loc, 119.65, 34.15);
    assert_string_equal(code_of(o.tiers[GIS_COMMUNITY]), "320706001001");
    o = loc_at(w->loc, 119.85, 34.15);
    assert_string_equal(code_of(o.tiers[GIS_COMMUNITY]), "320706001001");
    o = loc_at(w->loc, 119.75, 34.15); /* the water between: 4.6 km away */
    assert_null(o.tiers[GIS_COMMUNITY]);
    assert_string_equal(code_of(o.tiers[GIS_COUNTY]), "320706");
    assert_string_equal(code_of(o.tiers[GIS_CITY]), "3207");
}

static void test_invalid_points(void **state) {
    world *w = *state;
    static const double bad[][2] = {{NAN, 34.5},   {119.5, NAN},  {INFINITY, 34.5}, {180.5, 0.0},
                                    {-181.0, 0.0}, {119.5, 90.5}, {119.5, -91.0}};
    size_t i;
    gis_location o;
    char err[256];

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(gis_locate(w->loc, bad[i][0], bad[i][1], &o, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    /* Range limits are valid input (far outside the city). */
    assert_int_equal(gis_locate(w->loc, 180.0, -90.0, &o, err, sizeof err), 0);
    assert_int_equal(o.outside, 1);
}

static void test_no_index_published(void **state) {
    gis_slot *s = gis_slot_create();
    gis_locator *l = gis_locator_create(s);
    gis_location o;
    char err[256] = "";
    (void)state;

    assert_int_equal(gis_slot_ready(s), 0);
    assert_int_equal(gis_locate(l, 119.5, 34.5, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "no spatial index"));
    assert_null(gis_station_by_id(l, 1));
    gis_slot_publish(s, build_world(0, 500.0));
    assert_int_equal(gis_slot_ready(s), 1);
    assert_int_equal(gis_locate(l, 119.5, 34.5, &o, err, sizeof err), 0);
    gis_locator_destroy(l);
    gis_slot_destroy(s);
    gis_slot_destroy(NULL);
    gis_locator_destroy(NULL);
    gis_builder_destroy(NULL);
    gis_index_destroy(NULL);
}

static void test_snapping(void **state) {
    world *w = *state;
    gis_location o;
    gis_slot *s0;
    gis_locator *l0;

    /* 300 m east of the city's eastern edge: city and county snapped. */
    o = loc_at(w->loc, 120.0 + east_by(120.0, 34.5, 300.0), 34.5);
    assert_string_equal(code_of(o.tiers[GIS_CITY]), "3207");
    assert_string_equal(code_of(o.tiers[GIS_COUNTY]), "320706");
    assert_null(o.tiers[GIS_TOWN]); /* no town of 320706 within 500 m */
    assert_int_equal(o.outside, 0);
    assert_true(fabs(o.snapped_m - 300.0) < 1.0);
    /* 499 m: still in. */
    o = loc_at(w->loc, 120.0 + east_by(120.0, 34.5, 499.0), 34.5);
    assert_string_equal(code_of(o.tiers[GIS_CITY]), "3207");
    assert_true(o.snapped_m > 498.0 && o.snapped_m <= 500.0);
    /* 501 m and 700 m: outside. */
    o = loc_at(w->loc, 120.0 + east_by(120.0, 34.5, 501.0), 34.5);
    assert_null(o.tiers[GIS_CITY]);
    assert_int_equal(o.outside, 1);
    o = loc_at(w->loc, 120.0 + east_by(120.0, 34.5, 700.0), 34.5);
    assert_null(o.tiers[GIS_CITY]);
    assert_null(o.tiers[GIS_COUNTY]);
    assert_int_equal(o.outside, 1);
    assert_true(o.snapped_m == -1.0);
    /* North of the city (latitude direction): 1 degree lat ~ 110.9 km. */
    o = loc_at(w->loc, 119.3, 35.0 + 300.0 / 110900.0);
    assert_string_equal(code_of(o.tiers[GIS_CITY]), "3207");
    assert_string_equal(code_of(o.tiers[GIS_TOWN]), "320703004");
    assert_true(fabs(o.snapped_m - 300.0) < 2.0);
    /* Near the outer corner, 300 m diagonally: distance to the vertex. */
    o = loc_at(w->loc, 120.0 + east_by(120.0, 35.0, 212.0), 35.0 + 212.0 / 110900.0);
    assert_string_equal(code_of(o.tiers[GIS_CITY]), "3207");
    assert_true(fabs(o.snapped_m - 300.0) < 3.0);
    /* A tolerance of 0 disables snapping. */
    s0 = gis_slot_create();
    gis_slot_publish(s0, build_world(0, 0.0));
    l0 = gis_locator_create(s0);
    o = loc_at(l0, 120.0 + east_by(120.0, 34.5, 300.0), 34.5);
    assert_null(o.tiers[GIS_CITY]);
    assert_int_equal(o.outside, 1);
    gis_locator_destroy(l0);
    gis_slot_destroy(s0);
}

static void test_zones(void **state) {
    world *w = *state;
    gis_location o;

    o = loc_at(w->loc, 119.42, 34.62); /* zone 320771 over county 320703 */
    assert_string_equal(code_of(o.tiers[GIS_COUNTY]), "320703");
    assert_int_equal(o.nzones, 1);
    assert_string_equal(o.zones[0]->code, "320771");
    assert_int_equal(o.zones[0]->is_zone, 1);
    o = loc_at(w->loc, 119.58, 34.62); /* same zone over county 320706 */
    assert_string_equal(code_of(o.tiers[GIS_COUNTY]), "320706");
    assert_int_equal(o.nzones, 1);
    assert_string_equal(o.zones[0]->code, "320771");
    o = loc_at(w->loc, 119.52, 34.7); /* both zones, sorted by code */
    assert_string_equal(code_of(o.tiers[GIS_COUNTY]), "320706");
    assert_string_equal(code_of(o.tiers[GIS_TOWN]), "(null)"); /* zone is never a town */
    assert_int_equal(o.nzones, 2);
    assert_string_equal(o.zones[0]->code, "320771");
    assert_string_equal(o.zones[1]->code, "320772");
    o = loc_at(w->loc, 119.3, 34.9); /* no zone */
    assert_int_equal(o.nzones, 0);
}

static void test_routing(void **state) {
    world *w = *state;
    gis_location o;
    const gis_station *st;

    /* Town T-SW covers, no community coverage here: town station 4. */
    o = loc_at(w->loc, 119.2, 34.4);
    assert_non_null(o.station);
    assert_int_equal(o.station->id, 4);
    assert_true(fabs(o.station_distance_m - gis_geodesic_m(119.2, 34.4, 119.1, 34.3)) < 1e-6);
    assert_int_equal(o.nchain, 2);
    assert_int_equal(o.chain[0]->id, 2);
    assert_int_equal(o.chain[1]->id, 1);
    /* Two community stations cover: the nearest wins, both ways. */
    o = loc_at(w->loc, 119.02, 34.02);
    assert_int_equal(o.station->id, 6);
    assert_int_equal(o.nchain, 3);
    assert_int_equal(o.chain[0]->id, 4);
    assert_int_equal(o.chain[1]->id, 2);
    assert_int_equal(o.chain[2]->id, 1);
    o = loc_at(w->loc, 119.08, 34.08);
    assert_int_equal(o.station->id, 7);
    /* T-SE's station cannot dispatch: the county station. */
    o = loc_at(w->loc, 119.4, 34.3);
    assert_int_equal(o.station->id, 2);
    assert_int_equal(o.station->tier, GIS_COUNTY);
    assert_int_equal(o.nchain, 1);
    assert_int_equal(o.chain[0]->id, 1);
    /* East county. */
    o = loc_at(w->loc, 119.7, 34.5);
    assert_int_equal(o.station->id, 3);
    /* Outside the city: the city station, chain empty. */
    o = loc_at(w->loc, 121.0, 36.0);
    assert_int_equal(o.outside, 1);
    assert_int_equal(o.station->id, 1);
    assert_int_equal(o.nchain, 0);
    assert_true(fabs(o.station_distance_m - gis_geodesic_m(121.0, 36.0, 119.3, 34.6)) < 1e-6);
    /* Lookups by id. */
    st = gis_station_by_id(w->loc, 5);
    assert_non_null(st);
    assert_string_equal(st->name, "town SE");
    assert_int_equal(st->can_dispatch, 0);
    assert_int_equal(st->parent_id, 2);
    assert_null(gis_station_by_id(w->loc, 99));
    assert_non_null(gis_station_by_id(w->loc, 8));
}

static void test_city_fallback_and_chain_cycles(void **state) {
    char err[256];
    gis_builder *b = gis_builder_create(err, sizeof err);
    gis_slot *s = gis_slot_create();
    gis_locator *l;
    gis_location o;
    (void)state;

    assert_int_equal(add_div(b, "3207", "c", GIS_CITY, 0, SQ(119, 34, 120, 35), err, sizeof err),
                     0);
    /* Two city stations without coverage; 11 cannot dispatch. */
    assert_int_equal(add_st(b, 10, "city west", GIS_CITY, 1, 0, 119.1, 34.5, NULL), 0);
    assert_int_equal(add_st(b, 12, "city east", GIS_CITY, 1, 0, 119.9, 34.5, NULL), 0);
    assert_int_equal(add_st(b, 11, "city mid", GIS_CITY, 0, 0, 119.5, 34.5, NULL), 0);
    /* A parent cycle 20 -> 21 -> 20. */
    assert_int_equal(add_st(b, 20, "a", GIS_TOWN, 1, 21, 119.5, 34.2, SQ(119.4, 34.1, 119.6, 34.3)),
                     0);
    assert_int_equal(add_st(b, 21, "b", GIS_COUNTY, 1, 20, 119.5, 34.2, NULL), 0);
    gis_slot_publish(s, gis_builder_finish(b, 500.0, err, sizeof err));
    l = gis_locator_create(s);
    o = loc_at(l, 119.2, 34.8);
    assert_int_equal(o.station->id, 10);
    o = loc_at(l, 119.52, 34.8); /* 11 is nearer but cannot dispatch */
    assert_int_equal(o.station->id, 12);
    o = loc_at(l, 100.0, 30.0); /* far outside: still a city station */
    assert_int_equal(o.outside, 1);
    assert_int_equal(o.station->id, 10);
    o = loc_at(l, 119.5, 34.2);
    assert_int_equal(o.station->id, 20);
    assert_int_equal(o.nchain, 1);
    assert_int_equal(o.chain[0]->id, 21);
    gis_locator_destroy(l);
    gis_slot_destroy(s);
}

static void test_no_stations(void **state) {
    char err[256];
    gis_builder *b = gis_builder_create(err, sizeof err);
    gis_slot *s = gis_slot_create();
    gis_locator *l;
    gis_location o;
    size_t nd, ns, nv, bytes;
    (void)state;

    assert_int_equal(add_div(b, "3207", "c", GIS_CITY, 0, SQ(119, 34, 120, 35), err, sizeof err),
                     0);
    gis_index *ix = gis_builder_finish(b, 500.0, err, sizeof err);
    assert_non_null(ix);
    gis_index_stats(ix, &nd, &ns, &nv, &bytes);
    assert_int_equal(nd, 1);
    assert_int_equal(ns, 0);
    assert_int_equal(nv, 5);
    assert_true(bytes > 0);
    gis_slot_publish(s, ix);
    l = gis_locator_create(s);
    o = loc_at(l, 119.5, 34.5);
    assert_null(o.station);
    assert_true(o.station_distance_m == -1.0);
    assert_int_equal(o.nchain, 0);
    gis_locator_destroy(l);
    gis_slot_destroy(s);
}

static void test_builder_validation(void **state) {
    char err[256];
    gis_builder *b = gis_builder_create(err, sizeof err);
    static const unsigned char garbage[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    gis_index *ix;
    gis_slot *s;
    gis_locator *l;
    gis_location o;
    size_t nd;
    (void)state;

    assert_non_null(b);
    err[0] = '\0';
    assert_int_equal(add_div(b, "1", "line", GIS_CITY, 0, "LINESTRING(0 0, 1 1)", err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "expected Polygon or MultiPolygon"));
    assert_int_equal(add_div(b, "2", "pt", GIS_CITY, 0, "POINT(0 0)", err, sizeof err), -1);
    assert_int_equal(add_div(b, "3", "empty", GIS_CITY, 0, "POLYGON EMPTY", err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(gis_builder_add_division(b, "4", "junk", GIS_CITY, 0, garbage, sizeof garbage,
                                              err, sizeof err),
                     -1);
    assert_int_equal(
        gis_builder_add_division(b, "5", "none", GIS_CITY, 0, NULL, 0, err, sizeof err), -1);
    assert_int_equal(add_div(b, "6", "range", GIS_CITY, 0, SQ(179, 0, 181, 1), err, sizeof err),
                     -1);
    assert_int_equal(
        add_div(b, "1234567890123", "long", GIS_CITY, 0, SQ(0, 0, 1, 1), err, sizeof err), -1);
    assert_int_equal(add_div(b, "", "nocode", GIS_CITY, 0, SQ(0, 0, 1, 1), err, sizeof err), -1);
    assert_int_equal(add_div(b, "7", "level", (gis_level)4, 0, SQ(0, 0, 1, 1), err, sizeof err),
                     -1);
    assert_int_equal(add_st(b, 1, "nan", GIS_CITY, 1, 0, NAN, 34.0, NULL), -1);
    assert_int_equal(add_st(b, 1, "line", GIS_CITY, 1, 0, 119.0, 34.0, "LINESTRING(0 0, 1 1)"), -1);
    /* A bow-tie (self-intersecting) ring is repaired, both lobes kept. */
    assert_int_equal(add_div(b, "3207", "bowtie", GIS_CITY, 0,
                             "POLYGON((119 34, 120 35, 120 34, 119 35, 119 34))", err, sizeof err),
                     0);
    /* The builder is still usable after the errors above. */
    assert_int_equal(
        add_div(b, "320703", "ok", GIS_COUNTY, 0, SQ(119, 34, 119.5, 35), err, sizeof err), 0);
    ix = gis_builder_finish(b, 500.0, err, sizeof err);
    assert_non_null(ix);
    gis_index_stats(ix, &nd, NULL, NULL, NULL);
    assert_int_equal(nd, 2);
    s = gis_slot_create();
    gis_slot_publish(s, ix);
    l = gis_locator_create(s);
    o = loc_at(l, 119.1, 34.5); /* west lobe */
    assert_string_equal(code_of(o.tiers[GIS_CITY]), "3207");
    o = loc_at(l, 119.9, 34.5); /* east lobe */
    assert_string_equal(code_of(o.tiers[GIS_CITY]), "3207");
    o = loc_at(l, 119.5, 34.9); /* between the lobes, > 500 m from both */
    assert_null(o.tiers[GIS_CITY]);
    gis_locator_destroy(l);
    gis_slot_destroy(s);

    /* Duplicate codes and ids are refused by finish, which consumes b. */
    b = gis_builder_create(err, sizeof err);
    assert_int_equal(add_div(b, "3207", "a", GIS_CITY, 0, SQ(119, 34, 120, 35), err, sizeof err),
                     0);
    assert_int_equal(add_div(b, "3207", "b", GIS_COUNTY, 0, SQ(119, 34, 120, 35), err, sizeof err),
                     0);
    assert_null(gis_builder_finish(b, 500.0, err, sizeof err));
    assert_non_null(strstr(err, "duplicate division code 3207"));
    b = gis_builder_create(err, sizeof err);
    assert_int_equal(add_st(b, 1, "a", GIS_CITY, 1, 0, 119.0, 34.0, NULL), 0);
    assert_int_equal(add_st(b, 1, "b", GIS_CITY, 1, 0, 119.0, 34.0, NULL), 0);
    assert_null(gis_builder_finish(b, 500.0, err, sizeof err));
    assert_non_null(strstr(err, "duplicate station id 1"));
    b = gis_builder_create(err, sizeof err);
    assert_null(gis_builder_finish(b, NAN, err, sizeof err));
    b = gis_builder_create(err, sizeof err);
    assert_null(gis_builder_finish(b, -1.0, err, sizeof err));
    /* An unfinished builder can be destroyed with its content. */
    b = gis_builder_create(err, sizeof err);
    assert_int_equal(add_div(b, "3207", "a", GIS_CITY, 0, SQ(119, 34, 120, 35), err, sizeof err),
                     0);
    gis_builder_destroy(b);
}

/* --------------------------------------------- concurrent publication */

/* Generation g has a single city polygon named "gen<g>" whose code is
 * "32<g>", plus one county; readers must see names in non-decreasing order
 * and end on the last generation. */
#define NGEN 12
#define NTHREADS 4

static gis_index *build_gen(int g) {
    char err[256], code[13], name[32];
    gis_builder *b = gis_builder_create(err, sizeof err);
    gis_index *ix;

    assert_non_null(b);
    snprintf(code, sizeof code, "%d", 3200 + g);
    snprintf(name, sizeof name, "gen%d", g);
    assert_int_equal(add_div(b, code, name, GIS_CITY, 0, SQ(119, 34, 120, 35), err, sizeof err), 0);
    assert_int_equal(
        add_div(b, "320703", name, GIS_COUNTY, 0, SQ(119, 34, 119.5, 35), err, sizeof err), 0);
    assert_int_equal(add_st(b, 1, name, GIS_CITY, 1, 0, 119.5, 34.5, SQ(119, 34, 120, 35)), 0);
    ix = gis_builder_finish(b, 500.0, err, sizeof err);
    assert_non_null(ix);
    return ix;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    gis_slot *slot;
    atomic_int *stop;
    double deadline;
    long calls, errors, regressions, wrong;
    int last_gen;
} reader_arg;

static void *reader(void *p) {
    reader_arg *a = p;
    gis_locator *l = gis_locator_create(a->slot);
    char err[256];
    unsigned i = 0;

    if (l == NULL) {
        a->errors++;
        return NULL;
    }
    a->last_gen = -1;
    while (!atomic_load(a->stop) || a->last_gen != NGEN - 1) {
        gis_location o;
        if ((i & 1023) == 0 && now_s() > a->deadline)
            break; /* safety net: never hang (the asserts in main then fail) */
        double lon = 119.0 + (i % 97) / 97.0, lat = 34.0 + (i % 89) / 89.0;
        int g;
        i++;
        if (gis_locate(l, lon, lat, &o, err, sizeof err) != 0) {
            a->errors++;
            continue;
        }
        a->calls++;
        if (o.tiers[GIS_CITY] == NULL || o.station == NULL ||
            sscanf(o.tiers[GIS_CITY]->name, "gen%d", &g) != 1) {
            a->wrong++;
            continue;
        }
        /* Everything in one result comes from one generation. */
        if (atoi(o.tiers[GIS_CITY]->code) != 3200 + g ||
            strcmp(o.station->name, o.tiers[GIS_CITY]->name) != 0)
            a->wrong++;
        if (lon < 119.5 && (o.tiers[GIS_COUNTY] == NULL ||
                            strcmp(o.tiers[GIS_COUNTY]->name, o.tiers[GIS_CITY]->name) != 0))
            a->wrong++;
        if (g < a->last_gen) a->regressions++;
        a->last_gen = g;
    }
    gis_locator_destroy(l);
    return NULL;
}

static void test_publish_while_reading(void **state) {
    gis_slot *s = gis_slot_create();
    pthread_t th[NTHREADS];
    reader_arg args[NTHREADS];
    atomic_int stop;
    int g, t;
    (void)state;

    atomic_init(&stop, 0);
    gis_slot_publish(s, build_gen(0));
    memset(args, 0, sizeof args);
    for (t = 0; t < NTHREADS; t++) {
        args[t].slot = s;
        args[t].stop = &stop;
        args[t].deadline = now_s() + 60.0;
        assert_int_equal(pthread_create(&th[t], NULL, reader, &args[t]), 0);
    }
    for (g = 1; g < NGEN; g++) {
        struct timespec ts = {0, 2000000}; /* 2 ms between rebuilds */
        nanosleep(&ts, NULL);
        gis_slot_publish(s, build_gen(g));
    }
    atomic_store(&stop, 1);
    for (t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    for (t = 0; t < NTHREADS; t++) {
        assert_int_equal(args[t].errors, 0);
        assert_int_equal(args[t].wrong, 0);
        assert_int_equal(args[t].regressions, 0);
        assert_true(args[t].calls > 0);
        assert_int_equal(args[t].last_gen, NGEN - 1); /* switched to the newest */
    }
    gis_slot_destroy(s);
}

/* The cell grids that spare most polygon tests must agree with GEOS covers
 * everywhere: a star with a hole and a comb of 10 m teeth (cells inside,
 * outside and on edges, teeth narrower than a cell), random points, every
 * vertex and points just off the vertices. No snapping (tolerance 0). */
static void test_cells_match_geos_covers(void **state) {
    static const char *wkts[2] = {NULL, NULL};
    char star[4096], comb[8192], err[256];
    GEOSWKTReader *rd = GEOSWKTReader_create_r(tg);
    GEOSGeometry *g[2];
    gis_builder *b = gis_builder_create(err, sizeof err);
    gis_index *ix;
    gis_slot *s = gis_slot_create();
    gis_locator *l;
    size_t n = 0;
    int i, k, t;
    unsigned long long rng = 42;

    (void)state;
    assert_non_null(b);
    n += (size_t)snprintf(star + n, sizeof star - n, "POLYGON((");
    for (i = 0; i <= 40; i++) {
        double a = 2.0 * M_PI * (i % 40) / 40.0, r = (i % 2) ? 0.12 : 0.3;
        n += (size_t)snprintf(star + n, sizeof star - n, "%s%.9f %.9f", i ? ", " : "",
                              119.5 + r * cos(a), 34.5 + r * sin(a));
    }
    snprintf(star + n, sizeof star - n,
             "), (119.48 34.48, 119.48 34.52, 119.52 34.52, 119.52 34.48, 119.48 34.48))");
    n = (size_t)snprintf(comb, sizeof comb, "POLYGON((119.1 34.1, 119.1 34.2");
    for (i = 0; i < 50; i++) {
        double x = 119.1 + i * 0.002;
        n += (size_t)snprintf(comb + n, sizeof comb - n, ", %.6f 34.2, %.6f 34.2, %.6f 34.15",
                              x + 0.0001, x + 0.0001, x + 0.0002);
    }
    snprintf(comb + n, sizeof comb - n, ", 119.2 34.15, 119.2 34.1, 119.1 34.1))");
    wkts[0] = star;
    wkts[1] = comb;
    assert_int_equal(add_div(b, "9001", "star", GIS_COUNTY, 0, star, err, sizeof err), 0);
    assert_int_equal(add_div(b, "9002", "comb", GIS_TOWN, 0, comb, err, sizeof err), 0);
    ix = gis_builder_finish(b, 0.0, err, sizeof err);
    assert_non_null(ix);
    gis_slot_publish(s, ix);
    l = gis_locator_create(s);
    for (t = 0; t < 2; t++) {
        g[t] = GEOSWKTReader_read_r(tg, rd, wkts[t]);
        assert_non_null(g[t]);
    }
    for (t = 0; t < 2; t++) {
        const GEOSCoordSequence *seq = GEOSGeom_getCoordSeq_r(tg, GEOSGetExteriorRing_r(tg, g[t]));
        unsigned int nv = 0;
        double x0 = t ? 119.09 : 119.15, x1 = t ? 119.21 : 119.85;
        double y0 = t ? 34.09 : 34.15, y1 = t ? 34.21 : 34.85;
        assert_int_equal(GEOSCoordSeq_getSize_r(tg, seq, &nv), 1);
        for (k = 0; k < 20000 + 5 * (int)nv; k++) {
            double x, y, u, v;
            GEOSGeometry *pt;
            gis_location o;
            char want;
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            u = (double)(rng >> 11) / 9007199254740992.0;
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            v = (double)(rng >> 11) / 9007199254740992.0;
            if (k < 20000) {
                x = x0 + u * (x1 - x0);
                y = y0 + v * (y1 - y0);
            } else {
                static const double off[5] = {0.0, 1e-9, -1e-9, 1e-6, -1e-6};
                GEOSCoordSeq_getXY_r(tg, seq, (unsigned int)(k - 20000) / 5, &x, &y);
                x += off[(k - 20000) % 5] * (u < 0.5 ? 1.0 : -1.0);
                y += off[(k - 20000) % 5] * (v < 0.5 ? 1.0 : -1.0);
            }
            pt = GEOSGeom_createPointFromXY_r(tg, x, y);
            want = GEOSCovers_r(tg, g[t], pt);
            GEOSGeom_destroy_r(tg, pt);
            assert_int_equal(gis_locate(l, x, y, &o, err, sizeof err), 0);
            if ((o.tiers[t ? GIS_TOWN : GIS_COUNTY] != NULL) != (want == 1))
                fail_msg("(%.12f %.12f): index says %d, GEOS covers says %d", x, y,
                         o.tiers[t ? GIS_TOWN : GIS_COUNTY] != NULL, want);
        }
    }
    for (t = 0; t < 2; t++)
        GEOSGeom_destroy_r(tg, g[t]);
    GEOSWKTReader_destroy_r(tg, rd);
    gis_locator_destroy(l);
    gis_slot_destroy(s);
}

/* Overlapping coverages of the same tier: the nearest station wins and its
 * distance is the exact geodesic one; equal distances go to the smaller id;
 * a lower tier beats a nearer higher tier. */
static void test_routing_ties_overlapping(void **state) {
    char err[256];
    gis_builder *b = gis_builder_create(err, sizeof err);
    gis_index *ix;
    gis_slot *s = gis_slot_create();
    gis_locator *l;
    gis_location o;

    (void)state;
    assert_non_null(b);
    assert_int_equal(add_div(b, "3207", "city", GIS_CITY, 0, SQ(119, 34, 120, 35), err, sizeof err),
                     0);
    assert_int_equal(add_st(b, 1, "city", GIS_CITY, 1, 0, 119.5, 34.5, NULL), 0);
    assert_int_equal(add_st(b, 30, "town far", GIS_TOWN, 1, 1, 119.40, 34.5, SQ(119, 34, 120, 35)),
                     0);
    assert_int_equal(add_st(b, 20, "town near", GIS_TOWN, 1, 1, 119.62, 34.5, SQ(119, 34, 120, 35)),
                     0);
    assert_int_equal(
        add_st(b, 10, "town twin", GIS_TOWN, 1, 1, 119.38, 34.5, SQ(119, 34, 119.5, 35)), 0);
    assert_int_equal(
        add_st(b, 5, "county next door", GIS_COUNTY, 1, 1, 119.61, 34.5, SQ(119, 34, 120, 35)), 0);
    ix = gis_builder_finish(b, 500.0, err, sizeof err);
    assert_non_null(ix);
    gis_slot_publish(s, ix);
    l = gis_locator_create(s);
    assert_int_equal(gis_locate(l, 119.6, 34.5, &o, err, sizeof err), 0);
    assert_non_null(o.station);
    assert_int_equal(o.station->id, 20);
    assert_true(o.station_distance_m == gis_geodesic_m(119.6, 34.5, 119.62, 34.5));
    /* 119.39: 10 m... equidistant from 30 (119.40) and 10 (119.38) -> smaller id */
    assert_int_equal(gis_locate(l, 119.39, 34.5, &o, err, sizeof err), 0);
    assert_non_null(o.station);
    if (gis_geodesic_m(119.39, 34.5, 119.40, 34.5) == gis_geodesic_m(119.39, 34.5, 119.38, 34.5))
        assert_int_equal(o.station->id, 10);
    else
        assert_int_equal(o.station->id, gis_geodesic_m(119.39, 34.5, 119.40, 34.5) <
                                                gis_geodesic_m(119.39, 34.5, 119.38, 34.5)
                                            ? 30
                                            : 10);
    assert_int_equal(gis_locate(l, 119.7, 34.5, &o, err, sizeof err), 0);
    assert_int_equal(o.station->id, 20);
    assert_true(o.station_distance_m == gis_geodesic_m(119.7, 34.5, 119.62, 34.5));
    gis_locator_destroy(l);
    gis_slot_destroy(s);
}

static int group_setup(void **state) {
    (void)state;
    tg = GEOS_init_r();
    return tg ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    GEOS_finish_r(tg);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_names),
        cmocka_unit_test_setup_teardown(test_interior_all_tiers, setup_world, teardown_world),
        cmocka_unit_test_setup_teardown(test_shared_edges_and_vertices, setup_world,
                                        teardown_world),
        cmocka_unit_test_setup_teardown(test_holes, setup_world, teardown_world),
        cmocka_unit_test_setup_teardown(test_multipolygon_islands, setup_world, teardown_world),
        cmocka_unit_test_setup_teardown(test_invalid_points, setup_world, teardown_world),
        cmocka_unit_test(test_no_index_published),
        cmocka_unit_test_setup_teardown(test_snapping, setup_world, teardown_world),
        cmocka_unit_test_setup_teardown(test_zones, setup_world, teardown_world),
        cmocka_unit_test_setup_teardown(test_routing, setup_world, teardown_world),
        cmocka_unit_test(test_city_fallback_and_chain_cycles),
        cmocka_unit_test(test_no_stations),
        cmocka_unit_test(test_builder_validation),
        cmocka_unit_test(test_publish_while_reading),
        cmocka_unit_test(test_cells_match_geos_covers),
        cmocka_unit_test(test_routing_ties_overlapping),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
