/* places.h - place search and reverse geocoding (places.c): the JSON of a gazetteer entry, shared
 * with the division endpoints, and `patrold locate`. */
#ifndef PATROLD_PLACES_H
#define PATROLD_PLACES_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "gis/coords.h"
#include "gis/gazetteer.h"

#include "service/core/app.h"

struct buf;

/* A search hit or division as JSON: {code, name, level, kind, parent_chain (from the top),
 * location (in crs, or null), valid_from/valid_to (divisions), id (stations, places),
 * replaced_by (former divisions: today's division)}. New reference for the caller. */
json_t *places_entry_json(const gaz *g, uint32_t entry, gis_crs crs);

/* `patrold locate [--crs C]`: "lon lat" lines on stdin -> the division, zones and station of
 * each. Returns the exit code. */
int cmd_locate(app *a, int argc, char **argv);

/* The same object written as JSON text at the end of b. */
void places_entry_write(struct buf *b, const gaz *g, uint32_t entry, gis_crs crs);

#endif
