/* escalate.c - the escalation worker: reports nobody acknowledged in time move one tier up.
 *
 * One background thread per process with its own PGconn. Every escalate_interval_ms it runs ONE
 * statement (one transaction) that picks overdue reports (status 'new', ack_deadline < now(), a
 * responsible station with a parent) with FOR UPDATE SKIP LOCKED, moves each to the parent station
 * with a new ack_deadline from the parent's tier limit, and writes an 'escalated' audit row (actor
 * 'system', details from/to station and tier) and a report.updated event per report. Several
 * instances may run against one database: a report locked by one is skipped by the others, and a
 * report another instance escalated meanwhile is re-checked on the new row version (its new
 * deadline is in the future) so no report moves twice for one deadline. At the top (the city
 * station, no parent) a report stays put with its deadline, still listed as overdue. The state is
 * only in the database: a restart resumes where it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/db.h"
#include "service/reports.h"
#include "service/server.h"

static const char escalate_sql[] =
    "WITH due AS (SELECT r.id, r.station_id AS from_id, r.tier AS from_tier, p.id AS to_id, p.tier AS to_tier"
    " FROM reports r JOIN stations s ON s.id = r.station_id JOIN stations p ON p.id = s.parent_id"
    " WHERE r.status = 'new' AND r.ack_deadline < now()"
    " ORDER BY r.ack_deadline LIMIT 1000 FOR UPDATE OF r SKIP LOCKED),"
    " upd AS (UPDATE reports r SET station_id = d.to_id, tier = d.to_tier, updated_at = now(),"
    " ack_deadline = now() + make_interval(secs => CASE d.to_tier WHEN 'community' THEN $1::int"
    " WHEN 'town' THEN $2::int WHEN 'county' THEN $3::int ELSE $4::int END)"
    " FROM due d WHERE r.id = d.id AND r.status = 'new'"
    " RETURNING r.*, d.from_id, d.from_tier),"
    " ev AS (INSERT INTO report_events (report_id, type, actor, from_status, to_status, details)"
    " SELECT u.id, 'escalated', 'system', u.status, u.status, json_build_object('from_station', u.from_id,"
    " 'from_tier', u.from_tier, 'to_station', u.station_id, 'to_tier', u.tier, 'reason', 'ack_deadline_passed',"
    " 'ack_deadline', u.ack_deadline) FROM upd u),"
    " le AS (INSERT INTO events (kind, entity_id, division_code, payload)"
    " SELECT 'report.updated', u.id, coalesce(u.community_code, u.town_code, u.county_code, u.city_code),"
    " json_build_object('id', u.id, 'status', u.status, 'category', u.category, 'lon', ST_X(u.geom),"
    " 'lat', ST_Y(u.geom), 'station_id', u.station_id, 'tier', u.tier, 'ack_deadline', u.ack_deadline,"
    " 'unit_id', u.unit_id, 'outcome', u.outcome, 'division_code', coalesce(u.community_code, u.town_code,"
    " u.county_code, u.city_code), 'event', 'escalated', 'from_station', u.from_id) FROM upd u ORDER BY u.id)"
    " SELECT count(*) FROM upd";

int escalate_once(app *a, PGconn *pg, char *err, size_t errlen) {
    char lim[4][16];
    snprintf(lim[0], sizeof lim[0], "%d", a->cfg.ack_community_s);
    snprintf(lim[1], sizeof lim[1], "%d", a->cfg.ack_town_s);
    snprintf(lim[2], sizeof lim[2], "%d", a->cfg.ack_county_s);
    snprintf(lim[3], sizeof lim[3], "%d", a->cfg.ack_city_s);
    const char *params[] = {lim[0], lim[1], lim[2], lim[3]};
    PGresult *res = PQexecParams(pg, escalate_sql, 4, NULL, params, NULL, NULL, 0);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

void *escalate_thread(void *arg) {
    app *a = arg;
    char err[512];
    PGconn *pg = NULL;
    int interval = a->cfg.escalate_interval_ms > 0 ? a->cfg.escalate_interval_ms : 1000;
    while (!server_sleep(a, interval)) {
        if (!pg || PQstatus(pg) != CONNECTION_OK) {
            PQfinish(pg);
            if (!(pg = db_connect_raw(a->conninfo, err, sizeof err))) continue;
        }
        int n = escalate_once(a, pg, err, sizeof err);
        if (n < 0)
            fprintf(stderr, "escalation: %s\n", err);
        else if (n > 0)
            fprintf(stderr, "escalation: %d report(s) moved one tier up\n", n);
    }
    PQfinish(pg);
    return NULL;
}
