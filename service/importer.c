/* importer.c - placeholder until the GeoJSON importer lands. */
#include <stdio.h>

#include "service/commands.h"

int cmd_import_divisions(app *a, int argc, char **argv) {
    (void)a, (void)argc, (void)argv;
    fprintf(stderr, "patrold: import-divisions: not built yet\n");
    return 1;
}
