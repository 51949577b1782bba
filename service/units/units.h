/* units.h - patrol units: REST handlers (handlers.h), the unit status that follows a report, the
 * in-memory unit table behind dispatch candidates, and the position partitions' maintenance.
 *
 * The in-memory table is process-wide, guarded by a read-write lock: the event reader
 * (events.c) loads it at start and applies every unit.* event (from any instance); this
 * instance's handlers also apply their own committed changes at once. */
#ifndef PATROLD_UNITS_H
#define PATROLD_UNITS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "gis/coords.h"

#include "service/core/app.h"
#include "service/door/http.h"

/* Unit r->params[0] when r's user may see it (the rule of GET /api/v1/units/{id}): 0 with *id, or
 * the status of the error sent (404 for a malformed, unknown or out-of-scope unit). */
int units_check_visible(http_req *r, long long *id);

/* Loads every unit into the in-memory table (replacing it) from pg, as of event id `as_of` (events
 * with a higher id are applied afterwards). Returns 0 or -1 with err. */
int units_mem_load(worker *w, long long as_of, char *err, size_t errlen);

/* Applies one unit event (its id and payload JSON text, EVENTS_UNIT_PAYLOAD) to the in-memory table; older than what
 * the table holds for that unit is ignored. */
void units_mem_apply(long long ev_id, const char *payload);

/* Applies the (event id, payload) rows of res, columns c and c+1 (unit.* events this instance
 * just committed), to the in-memory table at once. */
void units_mem_apply_rows(PGresult *res, int c);

/* Unit id as the API shows it (Unit schema: station, division_code, status, members, agency_id,
 * vehicle, position in crs ...) into *out, a new reference. Returns 1, 0 when missing, -1
 * (w->err). */
int units_json(worker *w, long long id, gis_crs crs, json_t **out);

/* Background thread (services.c background[]): makes the coming days' position partitions and drops
 * the days older than position_retention_days, at start and then hourly. arg is the app. */
void *units_maintenance_thread(void *arg);

#endif
