/* gisload.h - feeds the gis/ index from PostGIS rows and reloads it when a NOTIFY says so. */
#ifndef PATROLD_GISLOAD_H
#define PATROLD_GISLOAD_H

#include "service/core/app.h"

/* Builds an index from the divisions (four tiers and zones) and stations of the database behind
 * w's connection and publishes it in a->gis. Returns 0, or -1 with a message in err. */
int gisload_once(app *a, worker *w, char *err, size_t errlen);

/* Background thread: loads at start, then LISTENs on gis_changed and reloads; reconnects. */
void *gisload_thread(void *a);

#endif
