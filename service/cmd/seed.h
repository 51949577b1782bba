/* seed.h - `patrold seed` (seed.c): the Lianyungang demo data. */
#ifndef PATROLD_SEED_H
#define PATROLD_SEED_H

#include "service/core/app.h"

/* Loads the demo data once, in one transaction. Returns the exit code. */
int cmd_seed(app *a, int argc, char **argv);

#endif
