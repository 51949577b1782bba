/* ledger.c - the weekly ledger of joint patrols: GET /api/v1/patrol-ledger?division=&week=, from
 * the stored score (patrol_scored_windows, patrol_visits: scorer.c keeps them). Per plan of the
 * division (the user's, or one inside it): its windows of the week, each started on time (a fix of
 * a unit of the plan within 500 m of its targets in its first 15 minutes) or overdue, and per
 * target: the visits needed (visits_per_week), the verified visits (times, dwell, units,
 * agencies), met or not, and the gap. The week is the city's (Monday 00:00 to Monday 00:00). */
#include "service/patrols/ledger.h"

#include <stdio.h>
#include <stdlib.h>

#include "service/admin/admin.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"

enum { LEDGER_MAX_PLANS = 500 };

/* $1 the LIKE pattern of the divisions, $2 the Monday (NULL: this week), $3 the plans' limit. */
static const char ledger_sql[] =
    "WITH b AS (SELECT d::timestamptz AS a, (d + 7)::timestamptz AS z, to_char(d, 'IYYY-\"W\"IW')"
    " AS week FROM (SELECT coalesce($2::date, date_trunc('week', now())::date) AS d) x),"
    " pl AS (SELECT * FROM patrol_plans p WHERE p.division_code LIKE $1::text AND p.starts_on <"
    " (SELECT z FROM b)::date AND (p.ends_on IS NULL OR p.ends_on >= (SELECT a FROM b)::date)"
    " ORDER BY p.id LIMIT $3::int)"
    " SELECT (SELECT count(*) FROM pl), json_build_object('week', b.week, 'from', b.a, 'to', b.z,"
    " 'plans', coalesce((SELECT json_agg(json_build_object('id', pl.id, 'name', pl.name,"
    " 'division_code', pl.division_code, 'campaign_id', pl.campaign_id, 'windows', (SELECT"
    " coalesce(json_agg(json_build_object('starts_at', w.starts_at, 'ends_at', w.ends_at, 'status',"
    " coalesce(s.status, CASE WHEN w.starts_at < now() THEN " VOCAB_SQL_TERM(
        "WalkedStatus",
        WS_MISSED) " END), 'first_near_at', s.first_near_at, 'started_on_time',"
                   " CASE WHEN s.first_near_at <= w.starts_at + interval '15 minutes' THEN true WHEN s.overdue"
                   " THEN false END, 'overdue', coalesce(s.overdue, false), 'active_min', s.active_min, 'km',"
                   " s.km) ORDER BY w.starts_at), '[]') FROM patrol_windows(pl.id, b.a, b.z) w LEFT JOIN"
                   " patrol_scored_windows s ON s.plan_id = pl.id AND s.starts_at = w.starts_at), 'targets',"
                   " (SELECT coalesce(json_agg(json_build_object('id', t.id, 'name', t.name, 'visits_needed',"
                   " t.visits_per_week, 'min_dwell_min', t.min_dwell_min, 'verified', v.n, 'met', v.n >="
                   " t.visits_per_week, 'gap', greatest(t.visits_per_week - v.n, 0), 'visits', v.list) ORDER BY"
                   " t.id), '[]') FROM patrol_targets t CROSS JOIN LATERAL (SELECT count(*)::int AS n,"
                   " coalesce(json_agg(json_build_object('from', pv.starts_at, 'to', pv.ends_at, 'dwell_min',"
                   " round((pv.dwell_s / 60)::numeric, 1), 'unit_ids', pv.unit_ids, 'agencies', pv.agencies)"
                   " ORDER BY pv.starts_at), '[]') AS list FROM patrol_visits pv WHERE pv.target_id = t.id AND"
                   " pv.counted AND pv.starts_at >= b.a AND pv.starts_at < b.z) v WHERE t.plan_id = pl.id AND"
                   " (t.retired_at IS NULL OR t.retired_at > b.a))) ORDER BY pl.id) FROM pl), '[]'))::text"
                   " FROM b";

/* GET /api/v1/patrol-ledger?division=&week= */
int h_patrol_ledger(http_req *r) {
    char like[16], lim[16];
    admin_scope_like(r, like);
    snprintf(lim, sizeof lim, "%d", LEDGER_MAX_PLANS + 1);
    const char *p[] = {like, http_q(r, "week")->from, lim};
    PGresult *q = db_exec_read(r->w, ledger_sql, 3, p);
    if (!q) return http_db_error(r);
    if (atoi(PQgetvalue(q, 0, 0)) > LEDGER_MAX_PLANS) {
        PQclear(q);
        return http_error(r, 413, "too_many_items", "division",
                          "more than %d plans in the week: ask for a smaller division",
                          LEDGER_MAX_PLANS);
    }
    json_t *out = json_loads(PQgetvalue(q, 0, 1), 0, NULL);
    PQclear(q);
    return out ? http_json(r, 200, out) : http_error(r, 500, "internal", NULL, "out of memory");
}
