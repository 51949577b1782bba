/* units.h - patrol units: REST handlers (handlers.h), the unit status that follows a report, the
 * in-memory unit table behind dispatch candidates, and the position partitions' maintenance.
 *
 * The in-memory table is process-wide, guarded by a read-write lock: the event reader
 * (events.c) loads it at start and applies every unit.* event (from any instance); this
 * instance's handlers also apply their own committed changes at once. */
#ifndef PATROLD_UNITS_H
#define PATROLD_UNITS_H

#include <libpq-fe.h>

#include "service/core/app.h"
#include "service/door/http.h"

/* The live-event payload of a units row aliased X, event name EV (SQL expressions). Every unit.*
 * event carries the whole unit state, so applying events in id order rebuilds the table. The
 * position is rounded like every location that goes out (7 decimals: report_coord_out). */
#define UNIT_PAYLOAD(X, EV)                                                                        \
    "json_build_object('id', " X ".id, 'name', " X ".name, 'callsign', " X ".callsign,"            \
    " 'station_id', " X ".station_id, 'division_code', " X ".division_code, 'status', " X          \
    ".status, 'lon', round(ST_X(" X ".position)::numeric, 7)::float8, 'lat', round(ST_Y(" X        \
    ".position)::numeric, 7)::float8, 'position_at', " X ".position_at, 'position_epoch',"         \
    " extract(epoch FROM " X ".position_at)::float8, 'event', " EV ")"

/* Unit r->params[0] when r's user may see it (the rule of GET /api/v1/units/{id}): 0 with *id, or
 * the status of the error sent (404 for a malformed, unknown or out-of-scope unit). */
int units_check_visible(http_req *r, long long *id);

/* Loads every unit into the in-memory table (replacing it) from pg, as of event id `as_of` (events
 * with a higher id are applied afterwards). Returns 0 or -1 with err. */
int units_mem_load(worker *w, long long as_of, char *err, size_t errlen);

/* Applies one unit.* event (its id and payload JSON text) to the in-memory table; older than what
 * the table holds for that unit is ignored. */
void units_mem_apply(long long ev_id, const char *payload);

/* Tells the coverage cache (coverage.c) that positions arrived: its answers get recomputed. */
void units_positions_changed(void);

/* Background thread (server.c background[]): makes the coming days' position partitions and drops
 * the days older than position_retention_days, at start and then hourly. arg is the app. */
void *units_maintenance_thread(void *arg);

#endif
