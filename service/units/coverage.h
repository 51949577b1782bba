/* coverage.h - patrol coverage kept as fixes arrive (migration 0009): the published set of
 * community areas (gis/areas.h, in CGCS2000 Gauss-Kruger metres), the painter that turns a unit's
 * judged track into coverage_delta rows (the positions request stores them with the fixes), and
 * the background thread that loads the areas, merges deltas into coverage_days and repaints days
 * whose grids changed. GET /api/v1/coverage (handlers.h) reads the days and merges them.
 *
 * Threads: the published set is immutable and reference counted (acquire/release from any
 * thread); a painter (coverage_rows) belongs to one thread. */
#ifndef PATROLD_COVERAGE_H
#define PATROLD_COVERAGE_H

#include <stddef.h>

#include "gis/areas.h"
#include "gis/track.h"
#include "service/core/app.h"
#include "service/core/buf.h"

/* A track step within BUFFER_M of a cell covers it; steps longer than these are cut (no line over
 * a gap): the one rule of coverage.c, the positions request and the repaint. */
#define COVERAGE_BUFFER_M 100.0
#define COVERAGE_GAP_S 600.0
#define COVERAGE_GAP_M 2000.0

/* The SQL that stores coverage_rows: its six arrays are the parameters C, D, G, B, L, F. */
#define COVERAGE_DELTA_INSERT(C, D, G, B, L, F)                                                    \
    "INSERT INTO coverage_delta (code, day, grid, bits, last_at, fixes) SELECT c, d, g, b,"        \
    " to_timestamp(l), f FROM unnest(" C "::text[], " D "::date[], " G "::text[], " B              \
    "::varbit[], " L "::float8[], " F "::int[]) AS x(c, d, g, b, l, f)"

/* The published community areas: NULL until the first load. A holder calls coverage_release. */
const gis_areas *coverage_acquire(void);
void coverage_release(const gis_areas *s);

/* What a fix of a track contributes: its steps are painted (PAINT) and, inside a community, it is
 * counted in that day's fixes and last_at (COUNT: a fix stored now, not counted before). */
enum { COVERAGE_PAINT = 1, COVERAGE_COUNT = 2 };

/* The coverage_delta rows of tracks, as PostgreSQL array literals for one INSERT ... unnest:
 * code text[], day date[], grid text[], bits varbit[] (hex), last_at float8[] (epoch or NULL),
 * fixes int[]. n rows; oom set when memory ran out (the arrays are then incomplete). */
typedef struct coverage_rows {
    buf code, day, grid, bits, last_at, fixes;
    int n, oom;
} coverage_rows;

/* Paints one unit's track v[0..n) (kept fixes in time order, t and projected x, y in the set's
 * EPSG) onto the community grids of s: a step is painted when one of its fixes has
 * COVERAGE_PAINT in mark[] (into the day of its later fix), a fix with COVERAGE_COUNT is counted
 * in the community holding it. Then appends the rows to out (out zeroed by the caller; free it with
 * coverage_rows_free). Returns 0; -1 on out of memory; -2 when the (community, day) bitmaps would
 * take more than max_bytes (0: no bound): fixes spread over too many places and days at once. */
int coverage_track_rows(const gis_areas *s, const gis_fix *v, const unsigned char *mark, size_t n,
                        size_t max_bytes, coverage_rows *out);
void coverage_rows_free(coverage_rows *r);

/* Background thread (services.c background[]): loads the areas at start and after gis_changed,
 * records their grids (coverage_grids; a new or changed grid queues its days for a repaint), merges
 * coverage_delta into coverage_days every few seconds, repaints queued days, drops days past
 * position_retention_days. arg is the app. */
void *coverage_thread(void *arg);

#endif
