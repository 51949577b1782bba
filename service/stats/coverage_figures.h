/* coverage_figures.h - the coverage roll-up of the bureau's figures: where the coverage per
 * community and day plugs in. */
#ifndef PATROLD_COVERAGE_FIGURES_H
#define PATROLD_COVERAGE_FIGURES_H

#include <jansson.h>
#include <libpq-fe.h>

#include "service/stats/stats.h"

/* THE last patrolled time of every community of q's division up to the end of q's period: a result
 * of (code, name, last_patrolled_at RFC 3339 or NULL, visited in the period 't'/'f'), by code; or
 * NULL on a database failure (w->err). From the coverage days (migration 0009) with the period's
 * edges in the city's time zone (see coverage_figures.c). */
PGresult *stats_coverage_rows(worker *w, const stats_query *q);

/* The coverage roll-up of q: {"communities", "visited", "share", "longest_unvisited": [10 x
 * {code, name, last_patrolled_at}], "source", "available"}. NULL on a database failure. */
json_t *stats_coverage_figures(worker *w, const stats_query *q);

#endif
