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

/* `patrold import-divisions FILE [--level L] [--crs C] [--effective YYYY-MM-DD]`: a GeoJSON
 * boundary file (import_geojson) or a division list (.csv, import_csv.h). Returns the exit code. */
int cmd_import_divisions(app *a, int argc, char **argv);

#endif
