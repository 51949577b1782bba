/* patrol_figures.c - the patrol figures of the bureau's statistics ("Joint street patrols", issue
 * 18): patrols, staff turns, places visited, hours and kilometres, in total and per group of the
 * figures. THE one function the joint-patrol tables plug into: stats_patrol_figures (stats.h).
 *
 * Today, from migration 0014: a patrol is a shift (a unit on duty) overlapping the period on a unit
 * of the division; its staff turns are the members on that shift (shift_members: one person, one
 * shift); its hours are the shift's hours inside the period. Places visited and kilometres need
 * the patrol engineer's visit tables and tracks (service/patrols/): null until they plug in here,
 * with `source` naming what the figures came from. A shift belongs to the group of its unit
 * (division, station, the station's tier) and to the day, week or month it starts in (or the
 * period's first, when it started before). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
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
    long long patrols = res ? strtoll(PQgetvalue(res, i, 2), NULL, 10) : 0;
    long long staff = res ? strtoll(PQgetvalue(res, i, 3), NULL, 10) : 0;
    double hours = res ? strtod(PQgetvalue(res, i, 4), NULL) : 0;
    return json_pack("{s:I,s:I,s:n,s:f,s:n,s:s}", "patrols", (json_int_t)patrols, "staff_turns",
                     (json_int_t)staff, "places_visited", "hours", hours, "km", "source", "shifts");
}

json_t *stats_patrol_figures(worker *w, const stats_query *q) {
    buf b = {0};
    buf_printf(
        &b,
        "WITH s AS (SELECT s.id, greatest(s.starts_at, $1::date::timestamptz) AS start,"
        " u.division_code::text AS code, u.station_id, st.tier,"
        " extract(epoch FROM least(s.ends_at, $2::date::timestamptz)"
        " - greatest(s.starts_at, $1::date::timestamptz)) / 3600.0 AS hours,"
        " (SELECT count(*) FROM shift_members m WHERE m.shift_id = s.id) AS staff"
        " FROM shifts s JOIN units u ON u.id = s.unit_id LEFT JOIN stations st ON st.id = u.station_id"
        " WHERE s.starts_at < $2::date::timestamptz AND s.ends_at > $1::date::timestamptz"
        " AND left(u.division_code, length($3::text)) = $3::text)"
        " SELECT g.k, %s, count(*), coalesce(sum(g.staff), 0),"
        " round(coalesce(sum(g.hours), 0)::numeric, 2)"
        " FROM (SELECT %s AS k, s.* FROM s) g GROUP BY %s",
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
