/* coverage_figures.c - the coverage roll-up of the bureau's statistics: of the communities of a
 * division, the share visited by a patrol in the period, and the ten longest unvisited (their last
 * patrolled time). THE one function that reads the source: stats_coverage_rows (stats.h).
 *
 * Today's source: unit_positions, read-only and bounded: a community is visited when an accepted
 * fix lies inside it (PostGIS, the community's polygon through divisions_geom_idx). The fixes read
 * are those of the days kept before the end of the period (position_retention_days), or only the
 * period's when those are more than COVERAGE_MAX_FIXES (estimated by the planner first), or none:
 * then the roll-up says it is unavailable rather than read millions of fixes.
 *
 * At the merge of the coverage days (migration 0009: coverage_days and coverage_delta, a row per
 * community and UTC day with its last fix), the statement becomes, with no budget needed:
 *   WITH c AS (<the communities, as below>),
 *   h AS (SELECT code, max(last_at) AS last_at FROM (SELECT code, last_at FROM coverage_days
 *         WHERE day < $3::date + 1 UNION ALL SELECT code, last_at FROM coverage_delta
 *         WHERE day < $3::date + 1) x WHERE last_at < $3::date::timestamptz GROUP BY code)
 *   SELECT <as below> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/core/db.h"
#include "service/core/tz.h"
#include "service/door/handlers.h"
#include "service/stats/coverage_figures.h"

enum { COVERAGE_MAX_FIXES = 300000, LONGEST = 10 };

/* $1 LIKE pattern of the communities, $2 the first instant of fixes read, $3 the day after the
 * period, $4 the period's first day. */
static const char coverage_sql[] =
    "WITH c AS (SELECT code, name, geom FROM divisions WHERE level = " VOCAB_SQL_TERM("DivisionLevel", LEVEL_COMMUNITY) " AND kind = " VOCAB_SQL_TERM(
        "DivisionKind",
        DK_ADMIN) " AND code LIKE $1 AND geom IS NOT NULL),"
                  " h AS (SELECT c.code, max(p.at) AS last_at FROM unit_positions p JOIN c"
                  " ON ST_Intersects(c.geom, p.geom) WHERE p.at >= $2::timestamptz"
                  " AND p.at < $3::date::timestamptz AND NOT p.flagged GROUP BY c.code)"
                  " SELECT c.code, c.name, to_json(h.last_at) #>> '{}',"
                  " coalesce(h.last_at >= $4::date::timestamptz, false) FROM c LEFT JOIN h USING (code)"
                  " ORDER BY c.code";

/* The fixes unit_positions holds from `since` to the end of q's period, as the planner estimates
 * them; -1 on failure. */
static double fixes_estimate(worker *w, const stats_query *q, const char *since) {
    const char *p[] = {since, q->to};
    return stats_plan_rows(w,
                           "SELECT 1 FROM unit_positions WHERE at >= $1::timestamptz"
                           " AND at < $2::date::timestamptz AND NOT flagged",
                           2, p);
}

/* The first instant of fixes to read: the days kept before the period's end, or the period alone
 * when those are too many; "" when even the period's are. */
static int pick_since(worker *w, const stats_query *q, char since[40]) {
    char kept[40];
    time_t oldest = time(NULL) - (time_t)w->app->cfg.position_retention_days * 86400;
    tz_rfc3339(oldest, kept);
    double n = fixes_estimate(w, q, kept);
    if (n < 0) return -1;
    if (n <= COVERAGE_MAX_FIXES) {
        snprintf(since, 40, "%s", kept);
        return 0;
    }
    n = fixes_estimate(w, q, q->from_ts);
    if (n < 0) return -1;
    snprintf(since, 40, "%s", n <= COVERAGE_MAX_FIXES ? q->from_ts : "");
    return 0;
}

PGresult *stats_coverage_rows(worker *w, const stats_query *q, int *over) {
    char like[16], since[40];
    *over = 0;
    if (pick_since(w, q, since) != 0) return NULL;
    if (!*since) {
        *over = 1;
        return NULL;
    }
    snprintf(like, sizeof like, "%s%%", q->prefix);
    const char *p[] = {like, since, q->to, q->from};
    return db_exec_read(w, coverage_sql, 4, p);
}

typedef struct unvisited {
    const char *code, *name, *at; /* at: RFC 3339 of the last fix read, NULL when none */
} unvisited;

/* Never patrolled (within the fixes read) first, then the longest ago (RFC 3339 text of one zone
 * sorts as time), then by code. */
static int unvisited_cmp(const void *a, const void *b) {
    const unvisited *x = a, *y = b;
    if (!x->at != !y->at) return x->at ? 1 : -1;
    int c = x->at ? strcmp(x->at, y->at) : 0;
    return c ? c : strcmp(x->code, y->code);
}

/* The LONGEST communities not visited in the period. */
static json_t *longest_unvisited(PGresult *res) {
    int n = PQntuples(res), k = 0;
    unvisited *u = malloc(sizeof *u * (size_t)(n ? n : 1));
    json_t *out = json_array();
    for (int i = 0; u && i < n; i++)
        if (PQgetvalue(res, i, 3)[0] == 'f')
            u[k++] = (unvisited){PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                                 PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2)};
    if (u) qsort(u, (size_t)k, sizeof *u, unvisited_cmp);
    for (int i = 0; u && i < k && i < LONGEST; i++)
        json_array_append_new(out, json_pack("{s:s,s:s,s:s?}", "code", u[i].code, "name", u[i].name,
                                             "last_patrolled_at", u[i].at));
    free(u);
    return out;
}

/* The roll-up of the rows of stats_coverage_rows (NULL: over its budget). */
static json_t *rollup(PGresult *res) {
    if (!res)
        return json_pack("{s:b,s:s,s:s}", "available", 0, "source", "unit_positions", "reason",
                         "more position fixes in the period than the fallback reads");
    int n = PQntuples(res), visited = 0;
    for (int i = 0; i < n; i++)
        visited += PQgetvalue(res, i, 3)[0] == 't';
    return json_pack("{s:b,s:s,s:i,s:i,s:o,s:o}", "available", 1, "source", "unit_positions",
                     "communities", n, "visited", visited, "share",
                     n ? json_real((double)visited / n) : json_null(), "longest_unvisited",
                     longest_unvisited(res));
}

json_t *stats_coverage_figures(worker *w, const stats_query *q) {
    int over;
    PGresult *res = stats_coverage_rows(w, q, &over);
    if (!res && !over) return NULL;
    json_t *out = rollup(res);
    PQclear(res);
    return out;
}

/* One community as a GeoJSON Feature: boundary (simplified), last patrolled, visited. */
static json_t *feature(PGresult *geo, int i, PGresult *rows, int k) {
    json_t *g = json_loads(PQgetvalue(geo, i, 2), 0, NULL);
    const char *last = rows && !PQgetisnull(rows, k, 2) ? PQgetvalue(rows, k, 2) : NULL;
    int visited = rows && PQgetvalue(rows, k, 3)[0] == 't';
    return json_pack("{s:s,s:s,s:o,s:{s:s,s:s,s:s?,s:b}}", "type", "Feature", "id",
                     PQgetvalue(geo, i, 0), "geometry", g ? g : json_null(), "properties", "code",
                     PQgetvalue(geo, i, 0), "name", PQgetvalue(geo, i, 1), "last_patrolled_at",
                     last, "visited", visited);
}

/* GET /api/v1/stats/coverage.geojson?division=&from=&to= (supervisors, admins): the choropleth. */
int h_stats_coverage_map(http_req *r) {
    stats_query q;
    int rc = stats_query_read(r, &q), over;
    if (rc) return rc;
    char like[16];
    snprintf(like, sizeof like, "%s%%", q.prefix);
    const char *p[] = {like};
    PGresult *rows = stats_coverage_rows(r->w, &q, &over), *geo = NULL;
    if ((!rows && !over) ||
        !(geo = db_exec_read(
              r->w,
              "SELECT code, name, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom,"
              " 0.0003), 6) FROM divisions WHERE level = " VOCAB_SQL_TERM(
                  "DivisionLevel",
                  LEVEL_COMMUNITY) " AND kind = " VOCAB_SQL_TERM("DivisionKind",
                                                                 DK_ADMIN) " AND code LIKE $1 AND geom IS NOT NULL ORDER BY code",
              1, p))) {
        PQclear(rows);
        return http_db_error(r);
    }
    json_t *features = json_array();
    for (int i = 0, k = 0; i < PQntuples(geo); i++) { /* both by code: advance k to i's code */
        while (rows && k < PQntuples(rows) &&
               strcmp(PQgetvalue(rows, k, 0), PQgetvalue(geo, i, 0)) < 0)
            k++;
        int match =
            rows && k < PQntuples(rows) && !strcmp(PQgetvalue(rows, k, 0), PQgetvalue(geo, i, 0));
        json_array_append_new(features, feature(geo, i, match ? rows : NULL, k));
    }
    json_t *out = json_pack("{s:s,s:o,s:o}", "type", "FeatureCollection", "coverage", rollup(rows),
                            "features", features);
    PQclear(rows);
    PQclear(geo);
    char *body = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (!body) return http_error(r, 500, "internal", NULL, "out of memory");
    rc = http_send(r, 200, "application/geo+json; charset=utf-8", body, strlen(body), NULL);
    free(body);
    return rc;
}
