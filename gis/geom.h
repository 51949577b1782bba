/* gis/geom.h - the one validate/repair rule for polygonal geometry, used by the importer
 * (service/cmd/importer.c) and the spatial index (gis/index.c).
 *
 * Threads: pure functions of a GEOS context; use each context from one thread at a time. */
#ifndef GIS_GEOM_H
#define GIS_GEOM_H

#include <geos_c.h>

/* Repairs an invalid polygonal geometry: GEOSMakeValid "structure" first (keeps the areas a ring
 * encloses), then "linework" (GEOS 3.11.1's structure method can still return invalid output on
 * some self-touching rings), then a zero-width buffer; each candidate keeps only its polygonal
 * part, dissolved when its polygons overlap. Returns a new valid, non-empty Polygon or
 * MultiPolygon (the caller destroys it), or NULL when nothing valid and polygonal is left. */
GEOSGeometry *gis_polygon_repair(GEOSContextHandle_t h, const GEOSGeometry *g);

/* g (a Polygon or MultiPolygon) as a new MultiPolygon; NULL for other types or out of memory. */
GEOSGeometry *gis_polygon_multi(GEOSContextHandle_t h, const GEOSGeometry *g);

#endif
