/* places.h - the gazetteer's loader (PostgreSQL rows -> gis/gazetteer.h, published in app->gaz). */
#ifndef PATROLD_PLACES_H
#define PATROLD_PLACES_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "gis/coords.h"
#include "gis/gazetteer.h"

#include "service/core/app.h"

/* Builds a gazetteer from the divisions (with their former names and codes), stations and places
 * behind w's connection and publishes it in a->gaz. Returns 0, or -1 with a message in err. */
int gazload_once(app *a, worker *w, char *err, size_t errlen);

/* A search hit or division as JSON: {code, name, level, kind, parent_chain (from the top),
 * location (in crs, or null), valid_from/valid_to (divisions), id (stations, places),
 * replaced_by (former divisions: today's division)}. New reference for the caller. */
json_t *places_entry_json(const gaz *g, uint32_t entry, gis_crs crs);

/* Rewrites the positions of a GeoJSON Polygon or MultiPolygon (WGS-84) into crs, rounded to 1e-7
 * degrees (a division's boundary, a station's coverage). */
void places_geometry_to_crs(json_t *geometry, gis_crs crs);

#endif
