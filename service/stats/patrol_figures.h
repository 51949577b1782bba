/* patrol_figures.h - the patrol figures of the bureau's figures: one function, where the joint
 * patrol tables plug in. */
#ifndef PATROLD_PATROL_FIGURES_H
#define PATROLD_PATROL_FIGURES_H

#include <jansson.h>

#include "service/stats/stats.h"

/* THE patrol figures of q ("Joint street patrols", issue 18): {"total": P, "groups": {key: P}}
 * with P = {patrols, staff_turns, places_visited, hours, km, source}, keyed as the figures' groups
 * (q->by: a county or town code, a station id, a tier, a month, week or day; none for category).
 * From the scorer's tables, with the definition of the campaign summary (patrol_figures.c). NULL
 * on a database failure (w->err). */
json_t *stats_patrol_figures(worker *w, const stats_query *q);

#endif
