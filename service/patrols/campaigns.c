/* campaigns.c - campaigns of joint patrols (寒冬送温暖 winter night sweeps, 酷暑 summer checks):
 * POST/GET /api/v1/campaigns and GET /api/v1/campaigns/{id}/summary, the figures a bureau reports,
 * per county and in total, from the stored score (scorer.c) of the campaign's plans in its dates:
 * patrols (巡查次数: windows of a plan in which a unit of it visited a target), staff turns
 * (出动人次: per patrol, the distinct members on shift on the units that visited, summed), places
 * visited (巡查点: per patrol, the targets visited, summed), hours and km (the group's, counted
 * once: the window's active time and distance), people found (reports filed during a patrol by a
 * unit that took part: reports.reporter_unit_id, received in the window) and their outcomes. A campaign belongs to a
 * division; staff see those of theirs (another county's: 404). Creating one is audited
 * (campaign.create). */
#include "service/patrols/campaigns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/admin/admin.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/shapes.h"

#define CAMPAIGN_SQL                                                                               \
    "SELECT c.id, json_build_object('id', c.id, 'name', c.name, 'division_code', c.division_code," \
    " 'starts_on', c.starts_on, 'ends_on', c.ends_on, 'note', c.note, 'plan_ids', (SELECT"         \
    " coalesce(json_agg(p.id ORDER BY p.id), '[]') FROM patrol_plans p WHERE p.campaign_id ="      \
    " c.id))::text FROM campaigns c"

static json_t *campaign_row_json(PGresult *res, int i) {
    return json_loads(PQgetvalue(res, i, 1), 0, NULL);
}

/* POST /api/v1/campaigns (staff, a division in scope). */
int h_campaigns_create(http_req *r) {
    char code[13], by[24];
    json_t *b = r->json;
    if (admin_division_field(r, "division_code", code) != 0)
        return http_error(r, 400, "invalid_division", "division_code",
                          "a division of 4 to 12 digits");
    if (!admin_in_scope(&r->user, code))
        return http_error(r, 404, "not_found", "division_code", "no such division: %s", code);
    const char *from = json_string_value(json_object_get(b, "starts_on")),
               *to = json_string_value(json_object_get(b, "ends_on"));
    if (strcmp(to, from) < 0)
        return http_error(r, 400, "invalid_field", "ends_on",
                          "ends_on must not be before starts_on");
    const char *p[] = {json_string_value(json_object_get(b, "name")),
                       code,
                       from,
                       to,
                       json_string_value(json_object_get(b, "note")),
                       admin_id(r->user.id, by)};
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    PGresult *q =
        db_exec(r->w,
                "WITH c AS (INSERT INTO campaigns (name, division_code, starts_on, ends_on,"
                " note, created_by) SELECT $1, code, $3::date, $4::date, $5, $6::bigint"
                " FROM divisions WHERE code = $2 RETURNING id) SELECT id FROM c",
                6, p);
    if (!q) return admin_end(r, -1);
    if (PQntuples(q) == 0) {
        PQclear(q);
        return admin_end(
            r, http_error(r, 404, "not_found", "division_code", "no such division: %s", code));
    }
    long long id = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
    PQclear(q);
    /* the campaign and its audit row commit together */
    json_t *out = NULL;
    int got = admin_one(r->w, CAMPAIGN_SQL " WHERE c.id = $1::bigint", id, campaign_row_json, &out);
    return admin_audited_reply(r, 201, AA_CAMPAIGN_CREATE, AE_CAMPAIGN, id, code, NULL, got, out);
}

/* GET /api/v1/campaigns?division=&limit=&cursor= : by id. */
int h_campaigns_list(http_req *r) {
    char like[16], after[24], lim[16];
    int limit = (int)http_q(r, "limit")->i;
    admin_scope_like(r, like);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {like, admin_id(http_q(r, "cursor")->i, after), lim};
    PGresult *q = db_exec_read(r->w,
                               CAMPAIGN_SQL " WHERE c.division_code LIKE $1::text AND c.id >"
                                            " $2::bigint ORDER BY c.id LIMIT $3::int",
                               3, p);
    return q ? admin_page(r, q, limit, "cp", campaign_row_json) : http_db_error(r);
}

/* The summary of campaign $1: per county (6 digits of the plan's division) and in total. */
static const char summary_sql[] =
    "WITH c AS (SELECT * FROM campaigns WHERE id = $1::bigint),"
    " win AS (SELECT s.plan_id, s.starts_at, s.ends_at, s.active_min, s.km,"
    " left(p.division_code, 6) AS county FROM c JOIN patrol_plans p ON p.campaign_id = c.id JOIN"
    " patrol_scored_windows s ON s.plan_id = p.id WHERE s.starts_at >= c.starts_on::timestamptz"
    " AND s.starts_at < (c.ends_on + 1)::timestamptz AND" PATROL_WINDOW_VISITED_SQL
    ")," PATROL_FIGURES_CTES_SQL ","
    " found AS (SELECT DISTINCT w.county, r.id, r.outcome FROM win w JOIN took t ON t.plan_id ="
    " w.plan_id AND t.starts_at = w.starts_at JOIN reports r ON r.reporter_unit_id = t.unit_id AND"
    " r.received_at >= w.starts_at AND r.received_at < w.ends_at),"
    " agg AS (SELECT county, count(*) AS patrols, coalesce(sum(staff_turns), 0) AS staff,"
    " coalesce(sum(places), 0) AS places, coalesce(sum(active_min), 0) / 60 AS hours,"
    " coalesce(sum(km), 0) AS km FROM pw GROUP BY ROLLUP (county)),"
    " fc AS (SELECT county, count(DISTINCT id) AS n FROM found GROUP BY ROLLUP (county)),"
    " fo AS (SELECT county, json_object_agg(outcome, n) AS o FROM (SELECT county, outcome,"
    " count(DISTINCT id) AS n FROM found WHERE outcome IS NOT NULL GROUP BY GROUPING SETS"
    " ((county, outcome), (outcome))) x GROUP BY county),"
    " rows AS (SELECT a.county, json_build_object('county_code', a.county, 'patrols', a.patrols,"
    " 'staff_turns', a.staff, 'places_visited', a.places, 'hours', round(a.hours::numeric, 2),"
    " 'km', round(a.km::numeric, 3), 'people_found', coalesce(fc.n, 0), 'outcomes',"
    " coalesce(fo.o, '{}'::json)) AS j FROM agg a LEFT JOIN fc ON fc.county IS NOT DISTINCT FROM"
    " a.county LEFT JOIN fo ON fo.county IS NOT DISTINCT FROM a.county)"
    " SELECT json_build_object('campaign_id', c.id, 'name', c.name, 'division_code',"
    " c.division_code, 'starts_on', c.starts_on, 'ends_on', c.ends_on, 'total', (SELECT j FROM"
    " rows WHERE county IS NULL), 'counties', (SELECT coalesce(json_agg(j ORDER BY county), '[]')"
    " FROM rows WHERE county IS NOT NULL))::text FROM c";

/* GET /api/v1/campaigns/{id}/summary */
int h_campaigns_summary(http_req *r) {
    long long id;
    char sid[24];
    int rc = param_path_id(r, 0, "campaign", &id);
    if (rc) return rc;
    const char *p[] = {admin_id(id, sid)};
    PGresult *q =
        db_exec_read(r->w, "SELECT division_code FROM campaigns WHERE id = $1::bigint", 1, p);
    if (!q) return http_db_error(r);
    int found = PQntuples(q) == 1 && admin_in_scope(&r->user, PQgetvalue(q, 0, 0));
    PQclear(q);
    if (!found) return http_error(r, 404, "not_found", NULL, "no such campaign: %lld", id);
    if (!(q = db_exec_read(r->w, summary_sql, 1, p))) return http_db_error(r);
    json_t *out = json_loads(PQgetvalue(q, 0, 0), 0, NULL);
    PQclear(q);
    return out ? http_json(r, 200, out) : http_error(r, 500, "internal", NULL, "out of memory");
}
