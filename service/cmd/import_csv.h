/* import_csv.h - a division list (CSV) into `divisions` and `division_changes` (import_csv.c).
 * Library code: never prints, never exits. */
#ifndef PATROLD_IMPORT_CSV_H
#define PATROLD_IMPORT_CSV_H

#include <stddef.h>

#include "service/core/app.h"

typedef struct csv_stats {
    long rows;      /* data lines in the file */
    long kept;      /* distinct well-formed codes */
    long added;     /* recorded as new (their parent was known before) */
    long renamed;   /* same code, new name */
    long merged;    /* ended, their area given to another division */
    long abolished; /* ended, nobody took them over */
} csv_stats;

/* Imports a division list (CSV, gzip or plain, header code,name,level,parent_code) into
 * `divisions` on pg (see import_csv.c): adds new codes, renames, ends the divisions of the listed
 * cities that the list no longer has (valid_to = effective, merged or abolished) and records each
 * change in division_changes dated `effective` (YYYY-MM-DD). Runs inside the caller's
 * transaction. Returns 0, or -1 with a message in err. */
int import_csv(worker *w, const char *path, const char *effective, csv_stats *st, char *err,
               size_t errlen);

#endif
