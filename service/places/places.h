/* places.h - the gazetteer's loader (PostgreSQL rows -> gis/gazetteer.h, published in app->gaz). */
#ifndef PATROLD_PLACES_H
#define PATROLD_PLACES_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "gis/coords.h"
#include "gis/gazetteer.h"

#include "service/core/app.h"

struct buf;

/* Builds a gazetteer from the divisions (with their former names and codes), stations and places
 * behind w's connection and publishes it in a->gaz. Returns 0, or -1 with a message in err. */
int gazload_once(app *a, worker *w, char *err, size_t errlen);

/* A search hit or division as JSON: {code, name, level, kind, parent_chain (from the top),
 * location (in crs, or null), valid_from/valid_to (divisions), id (stations, places),
 * replaced_by (former divisions: today's division)}. New reference for the caller. */
json_t *places_entry_json(const gaz *g, uint32_t entry, gis_crs crs);

/* The same object written as JSON text at the end of b. */
void places_entry_write(struct buf *b, const gaz *g, uint32_t entry, gis_crs crs);

#endif
