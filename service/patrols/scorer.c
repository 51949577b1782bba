/* scorer.c - the live patrol scorer: one per cluster (the instance holding the advisory lock
 * SCORER_LOCK scores; the others wait for it), a background thread. What changed is noted in
 * patrol_dirty where it changes (migration 0019: the triggers on unit_positions note a unit's
 * time range, those on the plan tables a plan), so fixes that landed on any instance, in any
 * order, a batch hours late included, are seen. Each round takes the noted rows, finds the
 * windows of the plans they touch, and scores each window again from its fixes through the one
 * engine (walked_window: gis/areas + gis/visits in CGCS2000 metres, the same answer as GET
 * .../walked), in one REPEATABLE READ transaction with the removal of the noted rows: a plan
 * edited meanwhile is scored as one version (its trigger notes it again: the score follows the
 * edit), and a scorer killed half-way leaves the rows for the next. Results: patrol_scored_windows
 * and patrol_visits; each counted visit raises patrol.visit once (patrol_raised), and a window in
 * which no unit of the plan sent a fix within 500 m of its targets 15 minutes after it started
 * raises patrol.overdue once. A round starts when this instance's ingest stored fixes of a unit in
 * a plan (units.c: server_kick, no NOTIFY per transaction), else every second (the other
 * instances' fixes and the plans' edits). */
#include "service/patrols/scorer.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gis/transform.h"
#include "service/core/db.h"
#include "service/core/events_append.h"
#include "service/core/server.h"
#include "service/patrols/walked.h"
#include "service/units/coverage.h"

#define SCORER_LOCK "7240018001" /* pg_advisory_lock key: one scorer per cluster */

enum {
    SCORER_BATCH = 5000,    /* noted rows taken per round: a pass of every unit, windows once */
    SCORER_SETTLE_MS = 250, /* after a wake, the batches landing meanwhile join the round */
};

/* The payload of a patrol event: X a row with plan_id, plan_name, division_code, patrol (the
 * window's start) and the visit's columns (NULL for overdue). */
#define PATROL_PAYLOAD(X, EV)                                                                      \
    "jsonb_build_object('event', " EV ", 'plan_id', " X ".plan_id, 'plan_name', " X ".plan_name,"  \
    " 'division_code', " X ".division_code, 'window_starts_at', " X ".patrol, 'target_id', " X     \
    ".target_id, 'target_name', " X ".target_name, 'from', " X ".starts_at, 'to', " X ".ends_at,"  \
    " 'dwell_min', round((" X ".dwell_s / 60)::numeric, 1), 'unit_ids', to_jsonb(" X ".unit_ids)," \
    " 'agencies', to_jsonb(" X ".agencies))"

/* Stores window ws of plan $1 (as walked_window answered: $3; its old visits deleted first) and
 * raises its new patrol.visit events. */
static const char store_sql[] =
    "WITH v AS (INSERT INTO patrol_visits (target_id, plan_id, patrol, n, starts_at, ends_at, dwell_s,"
    " unit_ids, agencies, counted) SELECT (t->>'target_id')::bigint, $1::bigint,"
    " to_timestamp($2::float8), v.n, (v.x->>'from')::timestamptz, (v.x->>'to')::timestamptz,"
    " extract(epoch FROM (v.x->>'to')::timestamptz - (v.x->>'from')::timestamptz),"
    " ARRAY(SELECT jsonb_array_elements_text(v.x->'unit_ids'))::bigint[],"
    " ARRAY(SELECT jsonb_array_elements_text(v.x->'agencies')), (v.x->>'counted')::boolean"
    " FROM jsonb_array_elements($3::jsonb->'targets') t,"
    " jsonb_array_elements(t->'visits') WITH ORDINALITY v(x, n) RETURNING *),"
    " w AS (INSERT INTO patrol_scored_windows (plan_id, starts_at, ends_at, status, unit_ids,"
    " active_min, km, revision) SELECT $1::bigint, to_timestamp($2::float8),"
    " ($3::jsonb->>'ends_at')::timestamptz, $3::jsonb->>'status',"
    " ARRAY(SELECT jsonb_array_elements_text($3::jsonb->'unit_ids'))::bigint[],"
    " ($3::jsonb->>'active_min')::real, ($3::jsonb->>'km')::real, p.revision FROM patrol_plans p"
    " WHERE p.id = $1::bigint ON CONFLICT (plan_id, starts_at) DO UPDATE SET"
    " ends_at = EXCLUDED.ends_at, status = EXCLUDED.status, unit_ids = EXCLUDED.unit_ids,"
    " active_min = EXCLUDED.active_min, km = EXCLUDED.km, revision = EXCLUDED.revision,"
    " scored_at = now()),"
    " c AS (SELECT v.*, row_number() OVER (PARTITION BY v.target_id ORDER BY v.n) AS k,"
    " p.name AS plan_name, p.division_code, t.name AS target_name FROM v"
    " JOIN patrol_plans p ON p.id = v.plan_id JOIN patrol_targets t ON t.id = v.target_id"
    " WHERE v.counted),"
    " r AS (INSERT INTO patrol_raised (kind, plan_id, patrol, target_id, n) SELECT"
    " " VOCAB_SQL_TERM(
        "EventKind",
        EK_PATROL_VISIT) ", c.plan_id, c.patrol, c.target_id, c.k"
                         " FROM c ON CONFLICT DO NOTHING RETURNING target_id, n)"
                         " " EVENTS_PATROL_INSERT(
                             EK_PATROL_VISIT, "c",
                             PATROL_PAYLOAD(
                                 "c",
                                 "'visit'")) " FROM c JOIN r ON r.target_id = c.target_id AND r.n = c.k ORDER BY c.target_id, c.k";

/* Scores window [ws, we) of plan pid in the open transaction. 0; 1 when it cannot be scored
 * (too many fixes, out of memory: said on stderr, the rest goes on); -1 on a database error. */
static int score_window(worker *w, const char *pid, const char *ws, const char *we) {
    char err[256];
    w->sqlstate[0] = 0;
    json_t *j = walked_window(w, pid, atof(ws), atof(we), err, sizeof err);
    if (!j) {
        fprintf(stderr, "patrol scorer: plan %s window %s: %s\n", pid, ws, err);
        return w->sqlstate[0] ? -1 : 1;
    }
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text) {
        snprintf(w->err, sizeof w->err, "out of memory");
        return -1;
    }
    const char *p[] = {pid, ws, text};
    int rc = db_command(w,
                        "DELETE FROM patrol_visits WHERE plan_id = $1::bigint AND patrol ="
                        " to_timestamp($2::float8)",
                        2, p);
    if (rc == 0) rc = db_command(w, store_sql, 3, p);
    free(text);
    return rc;
}

/* Takes up to SCORER_BATCH noted rows and scores the windows of the plans they touch (those that
 * have started), in one transaction. Returns 1 when rows may remain, 0 when none did, -1 on a
 * failure (w->err; nothing is taken). */
static int score_round(worker *w) {
    char gap[24], lim[16];
    snprintf(gap, sizeof gap, "%.0f", COVERAGE_GAP_S),
        snprintf(lim, sizeof lim, "%d", SCORER_BATCH);
    const char *p[] = {gap, lim};
    PGresult *q = NULL;
    int rc = -1;
    if (db_begin(w) != 0 ||
        db_command(w, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", 0, NULL) != 0 ||
        !(q = db_exec(
              w,
              "WITH d AS (DELETE FROM patrol_dirty WHERE id IN (SELECT id FROM patrol_dirty ORDER BY"
              " id LIMIT $2::int FOR UPDATE SKIP LOCKED) RETURNING *),"
              " x AS (SELECT pu.plan_id, d.from_at - make_interval(secs => $1::int) AS a,"
              " d.to_at + make_interval(secs => $1::int) AS b FROM d JOIN patrol_plan_units pu ON"
              " pu.unit_id = d.unit_id UNION ALL SELECT d.plan_id, d.from_at, d.to_at FROM d JOIN"
              " patrol_plans pl ON pl.id = d.plan_id)"
              " SELECT (SELECT count(*) FROM d), w.plan_id::text,"
              " extract(epoch FROM w.starts_at)::float8::text, extract(epoch FROM"
              " w.ends_at)::float8::text FROM (SELECT 1) o LEFT JOIN (SELECT DISTINCT x.plan_id,"
              " w.starts_at, w.ends_at FROM x, patrol_windows(x.plan_id, x.a, x.b) w WHERE"
              " w.starts_at <= now()) w ON true ORDER BY 2, 3",
              2, p)))
        goto done;
    int taken = atoi(PQgetvalue(q, 0, 0));
    rc = 0;
    for (int i = 0; i < PQntuples(q) && rc >= 0; i++)
        if (!PQgetisnull(q, i, 2))
            rc = score_window(w, PQgetvalue(q, i, 1), PQgetvalue(q, i, 2), PQgetvalue(q, i, 3));
    if (rc >= 0 && db_commit(w) == 0)
        rc = taken >= SCORER_BATCH;
    else
        rc = -1;
done:
    if (rc < 0) db_rollback(w);
    PQclear(q);
    return rc;
}

/* Windows that started 15 minutes ago or more (within a day) and have no fix of a plan's unit
 * within 500 m of its targets yet: the first such fix is recorded (started on time when it came
 * within 15 minutes), and a window without one in its first 15 minutes raises patrol.overdue
 * once. The planar test first (0.01 degree is over 500 m anywhere below 63N) spares the
 * geodesic one for most pairs: a county-day's fixes against its targets took minutes without. */
static const char overdue_sql[] =
    "WITH todo AS (SELECT p.id AS plan_id, p.name AS plan_name, p.division_code, p.revision,"
    " w.starts_at AS patrol, w.ends_at AS window_ends FROM patrol_plans p CROSS JOIN LATERAL patrol_windows(p.id,"
    " now() - interval"
    " '1 day', now() - interval '15 minutes') w LEFT JOIN patrol_scored_windows s ON s.plan_id ="
    " p.id AND s.starts_at = w.starts_at WHERE w.starts_at <= now() - interval '15 minutes' AND"
    " s.first_near_at IS NULL AND EXISTS (SELECT 1 FROM patrol_targets g WHERE g.plan_id = p.id"
    " AND g.retired_at IS NULL)),"
    " near AS (SELECT t.*, (SELECT min(f.at) FROM unit_positions f JOIN patrol_plan_units pu ON"
    " pu.unit_id = f.unit_id AND pu.plan_id = t.plan_id WHERE f.at >= t.patrol AND f.at <"
    " t.window_ends AND NOT f.flagged AND EXISTS (SELECT 1 FROM patrol_targets g WHERE g.plan_id ="
    " t.plan_id AND g.retired_at IS NULL AND ST_DWithin(g.geom, f.geom, 0.01) AND"
    " ST_DWithin(g.geom::geography, f.geom::geography,"
    " 500))) AS near_at FROM todo t),"
    " late AS (SELECT n.*, NULL::bigint AS target_id, NULL::text AS target_name,"
    " NULL::timestamptz AS starts_at, NULL::timestamptz AS ends_at, NULL::real AS dwell_s,"
    " '{}'::bigint[] AS unit_ids, '{}'::text[] AS agencies FROM near n WHERE n.near_at IS NULL OR"
    " n.near_at > n.patrol + interval '15 minutes'),"
    " up AS (INSERT INTO patrol_scored_windows (plan_id, starts_at, ends_at, status, first_near_at,"
    " overdue, revision) SELECT plan_id, patrol, window_ends, " VOCAB_SQL_TERM(
        "WalkedStatus",
        WS_MISSED) ", near_at, near_at IS NULL OR"
                   " near_at > patrol + interval '15 minutes', revision FROM near ON CONFLICT (plan_id, starts_at)"
                   " DO UPDATE SET first_near_at = EXCLUDED.first_near_at, overdue = EXCLUDED.overdue),"
                   " r AS (INSERT INTO patrol_raised (kind, plan_id, patrol, target_id, n) SELECT"
                   " " VOCAB_SQL_TERM(
                       "EventKind",
                       EK_PATROL_OVERDUE) ", plan_id, patrol, 0, 0 FROM late"
                                          " ON CONFLICT DO NOTHING RETURNING plan_id, patrol)"
                                          " " EVENTS_PATROL_INSERT(
                                              EK_PATROL_OVERDUE, "l",
                                              PATROL_PAYLOAD(
                                                  "l",
                                                  "'overdue'")) " FROM late l JOIN r ON r.plan_id = l.plan_id AND r.patrol = l.patrol";

/* 1 when this session holds the scorer's lock (taken now if free), 0 when another does, -1 on a
 * failure. */
static int hold_lock(worker *w) {
    PGresult *q = db_exec(w, "SELECT pg_try_advisory_lock(" SCORER_LOCK ")", 0, NULL);
    if (!q) return -1;
    int held = PQgetvalue(q, 0, 0)[0] == 't';
    PQclear(q);
    return held;
}

void *patrols_scorer_thread(void *arg) {
    app *a = arg;
    worker w = {.app = a, .no_timeout = 1};
    char err[256];
    if (!(w.proj = gis_proj_create(err, sizeof err))) {
        fprintf(stderr, "patrol scorer: PROJ: %s\n", err);
        return NULL;
    }
    int held = 0; /* the backend holding the lock (a call may have reconnected) */
    time_t next_overdue = 0;
    while (!a->stopping) {
        if (db_ensure(&w) != 0) {
            server_sleep(a, 1000);
            continue;
        }
        if (PQbackendPID(w.pg) != held) {
            int h = hold_lock(&w);
            if (h <= 0) { /* another instance scores; take over when it goes */
                if (h < 0) db_disconnect(&w);
                server_sleep(a, 5000);
                continue;
            }
            held = PQbackendPID(w.pg);
        }
        int more = score_round(&w);
        if (more < 0) fprintf(stderr, "patrol scorer: %s\n", w.err);
        if (time(NULL) >= next_overdue) {
            if (db_command(&w, overdue_sql, 0, NULL) != 0)
                fprintf(stderr, "patrol scorer: overdue: %s\n", w.err);
            next_overdue = time(NULL) + 20;
        }
        /* soon after this instance's ingest noted work (units.c: the batches of the next
         * SCORER_SETTLE_MS, a phone's or a group's, scored in one round), else the 1 s poll for
         * that of the others */
        if (more > 0) continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        server_sleep_flag(a, 1000, &a->patrols_noted);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000)
            server_sleep(a, SCORER_SETTLE_MS);
    }
    db_disconnect(&w);
    gis_proj_destroy(w.proj);
    return NULL;
}
