/* migrate.h - applies migrations/NNNN_*.sql in order, each in one transaction, recorded with its
 * SHA-256; an advisory lock serialises instances; an edited, applied file is refused. */
#ifndef PATROLD_MIGRATE_H
#define PATROLD_MIGRATE_H

#include <stddef.h>

#include "service/core/app.h"

/* Applies what is new in dir. *applied gets how many were applied now. Returns 0, or -1 with a
 * message in err (nothing of the failing file is kept). */
int migrate_run(worker *w, const char *dir, int *applied, char *err, size_t errlen);

#endif
