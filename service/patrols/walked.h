/* walked.h - what a joint patrol plan's units walked, from their fixes (walked.c: the route
 * GET /api/v1/patrol-plans/{id}/walked, its handler in handlers.h; the scorer, scorer.c, stores
 * the same answer per window). */
#ifndef PATROLD_WALKED_H
#define PATROLD_WALKED_H

#include <jansson.h>
#include <stddef.h>

#include "service/core/app.h"

/* The window [ws, we) (epoch seconds) of plan pid (decimal text) as GET .../walked shows it (one
 * item of its "windows": status, unit_ids, active_min, km, targets with their visits), read
 * through w (in its transaction, when one is open). NULL with err: a database error, more than
 * coverage_max_fixes fixes, out of memory, or an area refused. */
json_t *walked_window(worker *w, const char *pid, double ws, double we, char *err, size_t errlen);

#endif
