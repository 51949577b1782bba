/* fuzz_coords.c - libFuzzer driver for gis/coords.c: gis_to_wgs84 / gis_from_wgs84 on arbitrary
 * doubles (NaN, infinities, huge, subnormal, the edges of the China box) and CRS values.
 *
 * Input: byte 0 = CRS (any value, also outside the enum) and mode; then two doubles, either raw
 * IEEE bits (mode 0) or 32-bit fractions scaled into the China box (mode 1) where the iterative
 * inverses run. Oracles: every call returns (libFuzzer -timeout catches a loop); an accepted input
 * (return 0) gives finite output within a few hundred metres of the valid range; a rejected input
 * leaves the outputs untouched; the inverse of the forward shift gets back within 1e-6 degree for
 * points well inside the box. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gis/coords.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL 12345.678

static void check_one(int (*conv)(gis_crs, double, double, double *, double *), gis_crs crs,
                      double lon, double lat) {
    double ox = SENTINEL, oy = SENTINEL;
    int rc = conv(crs, lon, lat, &ox, &oy);
    int valid_in =
        isfinite(lon) && isfinite(lat) && lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90;
    int valid_crs = crs == GIS_CRS_WGS84 || crs == GIS_CRS_CGCS2000 || crs == GIS_CRS_GCJ02 ||
                    crs == GIS_CRS_BD09;
    if (rc != 0 && rc != -1) abort();
    if (rc == 0) {
        if (!valid_in || !valid_crs) abort(); /* accepted something the contract refuses */
        if (!isfinite(ox) || !isfinite(oy)) abort();
        /* The shifts are at most ~1 km: 0.02 degree is generous. */
        if (ox < -180.02 || ox > 180.02 || oy < -90.02 || oy > 90.02) abort();
        if (fabs(ox - lon) > 0.1 || fabs(oy - lat) > 0.1) abort();
    } else {
        if (valid_in && valid_crs) abort();            /* refused a valid input */
        if (ox != SENTINEL || oy != SENTINEL) abort(); /* outputs must be untouched */
    }
}

/* Well inside the box (0.5 degree margin), to_wgs84(from_wgs84(p)) comes back to p. */
static void check_roundtrip(gis_crs crs, double lon, double lat) {
    double x, y, bx, by;
    if (!(lon > 72.504 && lon < 137.3347 && lat > 1.3293 && lat < 55.3271)) return;
    if (gis_from_wgs84(crs, lon, lat, &x, &y) != 0) abort();
    if (gis_to_wgs84(crs, x, y, &bx, &by) != 0) abort();
    if (fabs(bx - lon) > 1e-6 || fabs(by - lat) > 1e-6) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    double lon, lat;
    if (size < 1) return 0;
    gis_crs crs = (gis_crs)(data[0] % 8 < 4 ? data[0] % 4 : data[0] % 8 == 4 ? -1 : data[0] % 8);
    int mode = (data[0] >> 3) & 1;
    if (mode == 0) {
        if (size < 17) return 0;
        memcpy(&lon, data + 1, 8);
        memcpy(&lat, data + 9, 8);
    } else {
        uint32_t a, b;
        if (size < 9) return 0;
        memcpy(&a, data + 1, 4);
        memcpy(&b, data + 5, 4);
        lon = 71.9 + 66.0 * (a / 4294967295.0); /* a little beyond the box on both sides */
        lat = 0.7 + 55.2 * (b / 4294967295.0);
    }
    check_one(gis_to_wgs84, crs, lon, lat);
    check_one(gis_from_wgs84, crs, lon, lat);
    if (crs == GIS_CRS_GCJ02 || crs == GIS_CRS_BD09) check_roundtrip(crs, lon, lat);
    return 0;
}
