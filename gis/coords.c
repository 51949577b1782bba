/* gis/coords.c - WGS-84 / CGCS2000 / GCJ-02 / BD-09 conversions (pure, thread-safe). */
#include "coords.h"

#include <math.h>
#include <stddef.h>
#include <strings.h>

/* Public GCJ-02 constants: Krasovsky 1940 ellipsoid. */
#define GCJ_A 6378245.0
#define GCJ_EE 0.00669342162296594323
/* BD-09 constant. */
#define BD_X_PI (M_PI_VALUE * 3000.0 / 180.0)
#define M_PI_VALUE 3.14159265358979323846

/* Fixed-point iteration stops when the forward image is within this many
 * degrees of the target (1e-9 degree is about 0.1 mm). */
#define INV_TOL 1e-9
#define INV_MAX_ITER 50

static const struct {
    const char *name;
    gis_crs crs;
} crs_table[] = {
    {"wgs84", GIS_CRS_WGS84},
    {"cgcs2000", GIS_CRS_CGCS2000},
    {"gcj02", GIS_CRS_GCJ02},
    {"bd09", GIS_CRS_BD09},
};

int gis_crs_parse(const char *s, gis_crs *out) {
    size_t i;

    if (s == NULL || s[0] == '\0') {
        *out = GIS_CRS_WGS84;
        return 0;
    }
    for (i = 0; i < sizeof crs_table / sizeof crs_table[0]; i++) {
        if (strcasecmp(s, crs_table[i].name) == 0) {
            *out = crs_table[i].crs;
            return 0;
        }
    }
    return -1;
}

const char *gis_crs_name(gis_crs c) {
    size_t i;

    for (i = 0; i < sizeof crs_table / sizeof crs_table[0]; i++)
        if (crs_table[i].crs == c) return crs_table[i].name;
    return "unknown";
}

int gis_in_china(double lon, double lat) {
    return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
}

static double gcj_dlat(double x, double y) {
    double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * M_PI_VALUE) + 20.0 * sin(2.0 * x * M_PI_VALUE)) * 2.0 / 3.0;
    r += (20.0 * sin(y * M_PI_VALUE) + 40.0 * sin(y / 3.0 * M_PI_VALUE)) * 2.0 / 3.0;
    r += (160.0 * sin(y / 12.0 * M_PI_VALUE) + 320.0 * sin(y * M_PI_VALUE / 30.0)) * 2.0 / 3.0;
    return r;
}

static double gcj_dlon(double x, double y) {
    double r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * M_PI_VALUE) + 20.0 * sin(2.0 * x * M_PI_VALUE)) * 2.0 / 3.0;
    r += (20.0 * sin(x * M_PI_VALUE) + 40.0 * sin(x / 3.0 * M_PI_VALUE)) * 2.0 / 3.0;
    r += (150.0 * sin(x / 12.0 * M_PI_VALUE) + 300.0 * sin(x / 30.0 * M_PI_VALUE)) * 2.0 / 3.0;
    return r;
}

/* The forward formula without the bounding-box test. */
static void gcj_forward(double lon, double lat, double *olon, double *olat) {
    double dlat = gcj_dlat(lon - 105.0, lat - 35.0);
    double dlon = gcj_dlon(lon - 105.0, lat - 35.0);
    double radlat = lat / 180.0 * M_PI_VALUE;
    double magic = sin(radlat);
    double sqrtmagic;

    magic = 1.0 - GCJ_EE * magic * magic;
    sqrtmagic = sqrt(magic);
    dlat = (dlat * 180.0) / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrtmagic) * M_PI_VALUE);
    dlon = (dlon * 180.0) / (GCJ_A / sqrtmagic * cos(radlat) * M_PI_VALUE);
    *olon = lon + dlon;
    *olat = lat + dlat;
}

static void bd_forward(double lon, double lat, double *olon, double *olat) {
    double z = sqrt(lon * lon + lat * lat) + 0.00002 * sin(lat * BD_X_PI);
    double theta = atan2(lat, lon) + 0.000003 * cos(lon * BD_X_PI);

    *olon = z * cos(theta) + 0.0065;
    *olat = z * sin(theta) + 0.006;
}

/* Solve f(x) = target by x <- x - (f(x) - target), starting at the target.
 * Both shifts are small, smooth perturbations of the identity, so this
 * contracts quickly (typically 3-5 rounds to 1e-9 degree). */
static void invert(void (*f)(double, double, double *, double *), double lon, double lat,
                   double *olon, double *olat) {
    double x = lon, y = lat;
    int i;

    for (i = 0; i < INV_MAX_ITER; i++) {
        double fx, fy, ex, ey;
        f(x, y, &fx, &fy);
        ex = fx - lon;
        ey = fy - lat;
        x -= ex;
        y -= ey;
        if (fabs(ex) < INV_TOL && fabs(ey) < INV_TOL) break;
    }
    *olon = x;
    *olat = y;
}

void gis_wgs84_to_gcj02(double lon, double lat, double *olon, double *olat) {
    if (!gis_in_china(lon, lat)) {
        *olon = lon;
        *olat = lat;
        return;
    }
    gcj_forward(lon, lat, olon, olat);
}

void gis_gcj02_to_wgs84(double lon, double lat, double *olon, double *olat) {
    if (!gis_in_china(lon, lat)) {
        *olon = lon;
        *olat = lat;
        return;
    }
    invert(gcj_forward, lon, lat, olon, olat);
}

void gis_gcj02_to_bd09(double lon, double lat, double *olon, double *olat) {
    if (!gis_in_china(lon, lat)) {
        *olon = lon;
        *olat = lat;
        return;
    }
    bd_forward(lon, lat, olon, olat);
}

void gis_bd09_to_gcj02(double lon, double lat, double *olon, double *olat) {
    if (!gis_in_china(lon, lat)) {
        *olon = lon;
        *olat = lat;
        return;
    }
    invert(bd_forward, lon, lat, olon, olat);
}

static int valid_lonlat(double lon, double lat) {
    return isfinite(lon) && isfinite(lat) && lon >= -180.0 && lon <= 180.0 && lat >= -90.0 &&
           lat <= 90.0;
}

int gis_to_wgs84(gis_crs from, double lon, double lat, double *olon, double *olat) {
    double x, y;

    if (!valid_lonlat(lon, lat)) return -1;
    switch (from) {
    case GIS_CRS_WGS84:
    case GIS_CRS_CGCS2000: /* identical to WGS-84 at this precision */
        *olon = lon;
        *olat = lat;
        return 0;
    case GIS_CRS_GCJ02:
        gis_gcj02_to_wgs84(lon, lat, olon, olat);
        return 0;
    case GIS_CRS_BD09:
        gis_bd09_to_gcj02(lon, lat, &x, &y);
        gis_gcj02_to_wgs84(x, y, olon, olat);
        return 0;
    }
    return -1;
}

int gis_from_wgs84(gis_crs to, double lon, double lat, double *olon, double *olat) {
    double x, y;

    if (!valid_lonlat(lon, lat)) return -1;
    switch (to) {
    case GIS_CRS_WGS84:
    case GIS_CRS_CGCS2000: /* identical to WGS-84 at this precision */
        *olon = lon;
        *olat = lat;
        return 0;
    case GIS_CRS_GCJ02:
        gis_wgs84_to_gcj02(lon, lat, olon, olat);
        return 0;
    case GIS_CRS_BD09:
        gis_wgs84_to_gcj02(lon, lat, &x, &y);
        gis_gcj02_to_bd09(x, y, olon, olat);
        return 0;
    }
    return -1;
}
