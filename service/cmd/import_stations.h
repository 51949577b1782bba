/* import_stations.h - `patrold import-stations FILE [--crs C]`: rescue stations from GeoJSON or
 * CSV, re-imported by their stable code (import_stations.c). */
#ifndef PATROLD_IMPORT_STATIONS_H
#define PATROLD_IMPORT_STATIONS_H

#include "service/core/app.h"

/* Reports new / changed / unchanged; a bad row is reported with its number and nothing of the
 * file is stored. Returns the exit code. */
int cmd_import_stations(app *a, int argc, char **argv);

#endif
