/* patrol_figures.c - the patrol figures of the bureau's statistics ("Joint street patrols", issue
 * 18): patrols, staff turns, places visited, hours and kilometres, in total and per group of the
 * figures, from the scorer's stored tables (patrol_scored_windows, patrol_visits: migration 0019)
 * with THE definition of GET /api/v1/campaigns/{id}/summary (PATROL_WINDOW_VISITED_SQL and
 * PATROL_FIGURES_CTES_SQL, service/patrols/campaigns.h): a patrol is a window of a plan in which a
 * unit of it visited a target; its staff turns the distinct members on shift on the units that
 * took part; its places the distinct targets visited; its hours and km the group's, counted once.
 * A patrol belongs to the division of its plan, to the day, week or month its window starts in
 * (city time) and to the station (and tier) of the lowest-id unit with a station that took part:
 * a joint patrol of two units, or two stations, is counted once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/patrols/campaigns.h"
#include "service/stats/patrol_figures.h"

/* The group key of a shift row s (its unit's division code, station, tier, start). */
static const char *patrol_key_sql(int by) {
    static const char *const keys[] = {
        [SB_TIER] = "s.tier",
        [SB_COUNTY] = "CASE WHEN substr(s.code, 5, 2) <> '00' THEN left(s.code, 6) || '000000' END",
        [SB_TOWN] = "CASE WHEN substr(s.code, 7, 3) <> '000' THEN left(s.code, 9) || '000' END",
        [SB_STATION] = "s.station_id::text",
        [SB_CATEGORY] = NULL, /* patrols have no category */
        [SB_MONTH] = "to_char(s.start, 'YYYY-MM')",
        [SB_WEEK] = "to_char(s.start, 'IYYY-\"W\"IW')",
        [SB_DAY] = "to_char(s.start, 'YYYY-MM-DD')",
    };
    if (by >= 0 && (size_t)by < sizeof keys / sizeof keys[0] && keys[by]) return keys[by];
    return "NULL::text";
}

/* {patrols, staff_turns, places_visited, hours, km, source} of one row (NULL: all zero). */
static json_t *patrol_json(PGresult *res, int i) {
    long long n[3] = {0, 0, 0};
    double hours = 0, km = 0;
    for (int k = 0; res && k < 3; k++)
        n[k] = strtoll(PQgetvalue(res, i, 2 + k), NULL, 10);
    if (res) hours = strtod(PQgetvalue(res, i, 5), NULL), km = strtod(PQgetvalue(res, i, 6), NULL);
    return json_pack("{s:I,s:I,s:I,s:f,s:f,s:s}", "patrols", (json_int_t)n[0], "staff_turns",
                     (json_int_t)n[1], "places_visited", (json_int_t)n[2], "hours", hours, "km", km,
                     "source", "patrol_scored_windows");
}

json_t *stats_patrol_figures(worker *w, const stats_query *q) {
    buf b = {0};
    buf_printf(
        &b,
        "WITH win AS (SELECT s.plan_id, s.starts_at, s.ends_at, s.active_min, s.km,"
        " p.division_code::text AS code, k.station_id, st.tier FROM patrol_scored_windows s"
        " JOIN patrol_plans p ON p.id = s.plan_id LEFT JOIN LATERAL (SELECT u.station_id FROM"
        " patrol_visits v CROSS JOIN LATERAL unnest(v.unit_ids) AS x(id) JOIN units u ON u.id = x.id"
        " WHERE v.plan_id = s.plan_id AND v.patrol = s.starts_at AND u.station_id IS NOT NULL"
        " ORDER BY u.id LIMIT 1) k ON true LEFT JOIN stations st ON st.id = k.station_id"
        " WHERE s.starts_at >= $1::date::timestamptz AND s.starts_at < $2::date::timestamptz"
        " AND left(p.division_code, length($3::text)) = $3::text AND" PATROL_WINDOW_VISITED_SQL
        ")," PATROL_FIGURES_CTES_SQL
        " SELECT g.k, %s, count(*), coalesce(sum(g.staff_turns), 0), coalesce(sum(g.places), 0),"
        " round((coalesce(sum(g.active_min), 0) / 60)::numeric, 2),"
        " round(coalesce(sum(g.km), 0)::numeric, 3)"
        " FROM (SELECT %s AS k, s.* FROM (SELECT pw.*, pw.starts_at AS start FROM pw) s) g"
        " GROUP BY %s",
        q->by >= 0 ? "GROUPING(g.k) = 1" : "true", patrol_key_sql(q->by),
        q->by >= 0 ? "GROUPING SETS ((g.k), ())" : "g.k");
    if (b.oom) return NULL;
    const char *p[] = {q->from, q->to, q->prefix};
    PGresult *res = db_exec_dynamic(w, b.p, 3, p);
    buf_free(&b);
    if (!res) return NULL;
    json_t *total = NULL, *groups = json_object();
    for (int i = 0; i < PQntuples(res); i++) {
        if (PQgetvalue(res, i, 1)[0] == 't')
            total = patrol_json(res, i);
        else if (!PQgetisnull(res, i, 0))
            json_object_set_new(groups, PQgetvalue(res, i, 0), patrol_json(res, i));
    }
    PQclear(res);
    return json_pack("{s:o,s:o,s:o}", "total", total ? total : patrol_json(NULL, 0), "groups",
                     groups, "zero", patrol_json(NULL, 0));
}
