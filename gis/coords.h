/* gis/coords.h - coordinate reference systems of Chinese web maps: WGS-84,
 * CGCS2000, GCJ-02 ("Mars coordinates") and BD-09 (Baidu).
 *
 * Pure functions, no allocation, no global state: safe from any thread.
 * All coordinates are (longitude, latitude) in degrees.
 *
 * Datum note: CGCS2000 (EPSG:4490) and WGS-84 (EPSG:4326) differ by a few
 * centimetres, far below the precision of anything this product handles, so
 * they are treated as identical (no shift).
 *
 * The GCJ-02 and BD-09 shifts are applied only inside gis_in_china()'s
 * bounding box; outside it the four systems coincide (no shift), as the
 * published reference implementations do.
 */
#ifndef GIS_COORDS_H
#define GIS_COORDS_H

typedef enum { GIS_CRS_WGS84, GIS_CRS_CGCS2000, GIS_CRS_GCJ02, GIS_CRS_BD09 } gis_crs;

/* Parse a CRS name. NULL or "" -> GIS_CRS_WGS84; otherwise one of "wgs84",
 * "cgcs2000", "gcj02", "bd09" (ASCII case-insensitive). Returns 0 and sets
 * *out, or -1 (and leaves *out untouched) for anything else. */
int gis_crs_parse(const char *s, gis_crs *out);

/* Canonical lower-case name of a CRS ("wgs84", ...); "unknown" for a value
 * outside the enum. The string is static. */
const char *gis_crs_name(gis_crs c);

/* 1 when (lon, lat) lies in the bounding box in which the GCJ-02/BD-09 shift
 * is applied: lon 72.004 .. 137.8347, lat 0.8293 .. 55.8271 (the box of the
 * widely used reference implementations), else 0. NaN -> 0. */
int gis_in_china(double lon, double lat);

/* Forward GCJ-02 obfuscation (Krasovsky a = 6378245.0,
 * ee = 0.00669342162296594323). Outside gis_in_china(): output = input. */
void gis_wgs84_to_gcj02(double lon, double lat, double *olon, double *olat);

/* Inverse of gis_wgs84_to_gcj02 by fixed-point iteration until the forward
 * image matches the input to 1e-9 degree (about 0.1 mm). Outside
 * gis_in_china() of the input: output = input. */
void gis_gcj02_to_wgs84(double lon, double lat, double *olon, double *olat);

/* Forward BD-09 from GCJ-02 (x_pi = pi * 3000 / 180). Outside
 * gis_in_china(): output = input. */
void gis_gcj02_to_bd09(double lon, double lat, double *olon, double *olat);

/* Inverse of gis_gcj02_to_bd09 by fixed-point iteration to 1e-9 degree.
 * Outside gis_in_china() of the input: output = input. */
void gis_bd09_to_gcj02(double lon, double lat, double *olon, double *olat);

/* Convert (lon, lat) given in `from` to WGS-84. Returns -1 (outputs
 * untouched) when an input is NaN/inf, lon is outside -180..180 or lat outside
 * -90..90, or `from` is not a gis_crs; 0 otherwise. */
int gis_to_wgs84(gis_crs from, double lon, double lat, double *olon, double *olat);

/* Convert WGS-84 (lon, lat) to `to`. Same validation and returns as
 * gis_to_wgs84. */
int gis_from_wgs84(gis_crs to, double lon, double lat, double *olon, double *olat);

#endif
