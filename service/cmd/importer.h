/* importer.h - GeoJSON division boundaries (gzip or plain) into `divisions`, streamed one feature
 * at a time, each validated and repaired with GEOS. Library code: never prints, never exits. */
#ifndef PATROLD_IMPORTER_H
#define PATROLD_IMPORTER_H

#include <stddef.h>

#include "gis/coords.h"
#include "service/core/app.h"

typedef struct import_stats {
    long features; /* elements seen in the features array */
    long imported; /* upserted (including repaired ones) */
    long repaired; /* imported after GEOS MakeValid, dropping degenerate rings or closing open ones
                    */
    long rejected; /* malformed: reported through on_reject, not imported */
} import_stats;

/* Called once per rejected feature. `index` counts from 0 in the features array; `code` is the
 * 12-digit code when the feature had a usable one, else NULL. Both strings are borrowed. */
typedef void (*import_reject_fn)(void *ctx, long index, const char *code, const char *msg);

typedef struct import_opts {
    const char *level;          /* province|city|county|town|community overriding properties.level;
                                   NULL: properties.level, else county */
    gis_crs crs;                /* CRS of the coordinates in the file; converted to WGS-84 */
    import_reject_fn on_reject; /* may be NULL */
    void *ctx;
} import_opts;

/* 1 when `level` is one of province, city, county, town, community. */
int import_level_valid(const char *level);

/* The parent of a 12-digit code at `level` (community -> town prefix 9, town -> county 6,
 * county -> city 4, city -> province 2), zero-padded into out; "" for a province. */
void import_parent_code(const char *code12, const char *level, char out[13]);

/* Reads the FeatureCollection at `path` and upserts every well-formed feature by code into
 * `divisions` on `pg`: geometry (WGS-84 MultiPolygon), synthetic = false; name, level and
 * parent_code only when the row is new. Runs inside the caller's transaction (it neither begins
 * nor commits), so a failure leaves the caller to roll back. Returns 0 when the whole file was
 * read (malformed features counted in st->rejected and reported), or -1 with a message in err for
 * a file-level failure: unreadable, not JSON, not a FeatureCollection, truncated, database error.
 */
int import_geojson(worker *w, const char *path, const import_opts *opts, import_stats *st,
                   char *err, size_t errlen);

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
