/* events.h - live events: ONE reader thread per process reads the `events` table in id order,
 * never skipping a row whose transaction commits late, into an in-memory ring; every
 * text/event-stream client of the process is fed from the ring (handlers.h: h_events_stream,
 * h_events_token). No NOTIFY: the reader polls every events_poll_ms.
 *
 * The gap rule (why nothing is skipped): an event id is taken only after its transaction has an
 * xid (migration 0006, events_next_id()). When the reader sees id K but not an id N < K, N was
 * taken before K, so N's transaction had its xid before this snapshot S1 was taken: its xid is
 * below pg_snapshot_xmax(S1). The reader delivers ids in order and stops at such a gap until a
 * later snapshot S2 has pg_snapshot_xmin(S2) >= pg_snapshot_xmax(S1): every transaction that might
 * hold N has then ended, so N is either visible in S2 (delivered in order) or never will be. */
#ifndef PATROLD_EVENTS_H
#define PATROLD_EVENTS_H

#include "service/core/app.h"
#include "service/reports/report_json.h"

/* Background thread (services.c background[]): loads the unit table, then polls events into the
 * ring, applying unit.* events to the unit table (units.h). Returns when a->stopping. */
void *events_thread(void *arg);

/* The highest event id delivered into the ring (every event up to it is final), or -1 while the
 * reader has not started. */
long long events_cursor(void);

/* ---- writing events: one shape per event type ---- */

/* The live-event payload of a report (events.payload of report.created and report.updated), a
 * jsonb SQL expression of a reports row aliased X (a table row or a RETURNING * row); EV is the
 * event name (SQL text: 'created', $3::text ...), EXTRA a jsonb expression merged in ('{}'::jsonb
 * for nothing; an escalation adds from_station, a photo photo_id). Every report event carries what
 * a map needs: {"id","status","category","lon","lat" (WGS-84),"division_code" (the most local),
 * "city_code","county_code","town_code","community_code","station_id","tier","ack_deadline",
 * "unit_id","outcome","event"}. */
#define EVENTS_REPORT_PAYLOAD(X, EV, EXTRA)                                                        \
    "(jsonb_build_object('id', " X ".id, 'status', " X ".status, 'category', " X ".category,"      \
    " 'lon', ST_X(" X ".geom), 'lat', ST_Y(" X ".geom), 'division_code', " MOST_LOCAL(             \
        X) ","                                                                                     \
           " 'city_code', " X ".city_code, 'county_code', " X ".county_code, 'town_code', " X      \
           ".town_code, 'community_code', " X ".community_code, 'station_id', " X ".station_id,"   \
           " 'tier', " X ".tier, 'ack_deadline', " X ".ack_deadline, 'unit_id', " X ".unit_id,"    \
           " 'outcome', " X ".outcome, 'event', " EV ") || " EXTRA ")"

/* `INSERT INTO events ... SELECT` of the report event KIND (SQL text: 'report.updated') for every
 * row X of the FROM clause the caller appends (e.g. " FROM ins i ORDER BY i.id"): for statements
 * that write a report and its event at once. */
#define EVENTS_REPORT_INSERT(KIND, X, EV, EXTRA)                                                   \
    "INSERT INTO events (kind, entity_id, division_code, payload) SELECT " KIND ", " X             \
    ".id, " MOST_LOCAL(X) ", " EVENTS_REPORT_PAYLOAD(X, EV, EXTRA)

/* Appends the live event `kind` ("report.updated") of report `report_id` (decimal text) as the row
 * reads now in the caller's transaction, event name `event`, `extra` a JSON object text merged into
 * the payload (NULL for none). Returns 0, or -1 (w->err). */
int events_append_report(worker *w, const char *kind, const char *report_id, const char *event,
                         const char *extra);

#endif
