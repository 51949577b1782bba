/* initdb.h - `patrold init-db`: the role, database and extensions, made once by a superuser. */
#ifndef PATROLD_INITDB_H
#define PATROLD_INITDB_H

#include "service/core/app.h"

/* init-db [--owner R] [--database D] [--password-stdin]: returns the exit code. */
int cmd_init_db(app *a, int argc, char **argv);

#endif
