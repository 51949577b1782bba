/* gis/geom.h - the one validate/repair rule for polygonal geometry, used by the importer
 * (service/cmd/importer.c) and the spatial index (gis/index.c).
 *
 * Threads: pure functions of a GEOS context; use each context from one thread at a time. */
#ifndef GIS_GEOM_H
#define GIS_GEOM_H

#include <stddef.h>

#include <geos_c.h>

#include "gis/coords.h"

/* Repairs an invalid polygonal geometry: GEOSMakeValid "structure" first (keeps the areas a ring
 * encloses), then "linework" (GEOS 3.11.1's structure method can still return invalid output on
 * some self-touching rings), then a zero-width buffer; each candidate keeps only its polygonal
 * part, dissolved when its polygons overlap. Returns a new valid, non-empty Polygon or
 * MultiPolygon (the caller destroys it), or NULL when nothing valid and polygonal is left. */
GEOSGeometry *gis_polygon_repair(GEOSContextHandle_t h, const GEOSGeometry *g);

/* g (a Polygon or MultiPolygon) as a new MultiPolygon; NULL for other types or out of memory. */
GEOSGeometry *gis_polygon_multi(GEOSContextHandle_t h, const GEOSGeometry *g);

/* Reads a GeoJSON Polygon or MultiPolygon geometry (the text of its object) whose coordinates are
 * in crs, and makes it a valid WGS-84 MultiPolygon by the rule above (repaired in the input's own
 * coordinates, converted, checked again): its hex WKB into *hex (malloc'd; the caller frees it).
 * *repaired (may be NULL) is set when the repair changed it. Returns 0, or -1 with a message for
 * people in err: not a GeoJSON Polygon or MultiPolygon, a ring that does not close (its last
 * position differs from its first) or has fewer than 4 positions, a coordinate out of range,
 * nothing valid left after the repair. Thread-safe: makes its own GEOS context (for the rare
 * writes of administration and imports, not for hot paths). */
int gis_polygon_read(const char *geojson, gis_crs crs, char **hex, int *repaired, char *err,
                     size_t errlen);

#endif
