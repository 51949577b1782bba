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

/* Background thread (services.c background[]): loads the unit table, then polls events into the
 * ring, applying unit.* events to the unit table (units.h). Returns when a->stopping. */
void *events_thread(void *arg);

/* The highest event id delivered into the ring (every event up to it is final), or -1 while the
 * reader has not started. */
long long events_cursor(void);

/* Writing events: events_append.h (one shape per kind, the one append path). */

#endif
