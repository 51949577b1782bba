/* divisions.h - divisions as the API shows them (divisions.c; its routes are in handlers.h). */
#ifndef PATROLD_DIVISIONS_H
#define PATROLD_DIVISIONS_H

#include <jansson.h>

#include "gis/coords.h"

/* Rewrites the positions of a GeoJSON Polygon or MultiPolygon (WGS-84) into crs, rounded to 1e-7
 * degrees (a division's boundary, a station's coverage). */
void places_geometry_to_crs(json_t *geometry, gis_crs crs);

#endif
