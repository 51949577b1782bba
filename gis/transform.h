/* gis/transform.h - PROJ transforms (CGCS2000 3-degree Gauss-Kruger) and geodesic
 * distance on the WGS-84 ellipsoid.
 *
 * Threads: a gis_proj owns one PJ_CONTEXT and the PJ objects it created; use
 * one gis_proj per thread (never the same one from two threads at once).
 * gis_gk_epsg_for_lon and gis_geodesic_m are pure and thread-safe.
 * Axis order: every coordinate is (lon, lat) or (easting, northing)
 * (proj_normalize_for_visualization is applied to every transform).
 */
#ifndef GIS_TRANSFORM_H
#define GIS_TRANSFORM_H

#include <stddef.h>

typedef struct gis_proj gis_proj;

/* Create a PROJ context and an empty transform cache. Returns NULL and writes
 * a message to err (errlen bytes, may be 0) on failure. The caller owns the
 * result and frees it with gis_proj_destroy. */
gis_proj *gis_proj_create(char *err, size_t errlen);

/* Free the context and every cached transform. NULL is a no-op. */
void gis_proj_destroy(gis_proj *p);

/* EPSG code of the CGCS2000 3-degree Gauss-Kruger zone (without zone prefix
 * in the easting) whose central meridian is nearest to lon:
 * 4534 (CM 75E) .. 4554 (CM 135E), 4549 = CM 120E (Lianyungang). A zone
 * covers CM-1.5 .. CM+1.5 (a lon on a zone edge goes to the eastern zone).
 * Returns -1 for NaN/inf or lon outside 73.5 .. 136.5. */
int gis_gk_epsg_for_lon(double lon);

/* WGS-84/CGCS2000 (lon, lat) in degrees -> (easting, northing) in metres of
 * EPSG `epsg`, which must be 4534..4554. The transform is created on first
 * use and cached in p. Returns 0, or -1 with a message in err (bad epsg,
 * NaN/out-of-range input, PROJ failure, HUGE_VAL result). Outputs are
 * untouched on failure. */
int gis_proj_to_gk(gis_proj *p, int epsg, double lon, double lat, double *e, double *n, char *err,
                   size_t errlen);

/* Inverse of gis_proj_to_gk: (easting, northing) -> (lon, lat) degrees.
 * Same rules and errors. */
int gis_proj_from_gk(gis_proj *p, int epsg, double e, double n, double *lon, double *lat, char *err,
                     size_t errlen);

/* Geodesic distance in metres between two (lon, lat) points on the WGS-84
 * ellipsoid (Karney's algorithm, geodesic.h from PROJ). NaN if any input is
 * not finite. Thread-safe. */
double gis_geodesic_m(double lon1, double lat1, double lon2, double lat2);

#endif
