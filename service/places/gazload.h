/* gazload.h - the gazetteer's loader (PostgreSQL rows -> gis/gazetteer.h, published in app->gaz). */
#ifndef PATROLD_GAZLOAD_H
#define PATROLD_GAZLOAD_H

#include <stddef.h>

#include "service/core/app.h"

/* Builds a gazetteer from the divisions (with their former names and codes), stations and places
 * behind w's connection and publishes it in a->gaz. Returns 0, or -1 with a message in err. */
int gazload_once(app *a, worker *w, char *err, size_t errlen);

#endif
