/* coverage_figures.c - the coverage roll-up of the bureau's statistics: of the communities of a
 * division, the share visited by a patrol in the period, and the ten longest unvisited (their last
 * patrolled time). THE one function that reads the source: stats_coverage_rows (stats.h).
 *
 * Source: the coverage days kept as fixes arrive (migration 0009, service/units/coverage.c): a row
 * per community and UTC day with the last accepted fix inside it that day (last_at), in
 * coverage_days or, not merged yet, coverage_delta. Nothing rescans the fixes of the period.
 *
 * Day edges: the period is whole days of the city ([from 00:00, to 00:00) local, tz.h), the rows
 * are UTC days. A UTC day that ends at or before the period's end holds only earlier fixes, so its
 * last_at is exact; a row of the period's start day counts as visited exactly when its last fix is
 * at or after the start (the last fix of a day is its latest). Only the UTC day holding the
 * period's end instant (E) can be ambiguous: when its last fix is at or after the end, an earlier
 * fix of that day may still be inside the period. For those communities alone (a row of day E
 * with last_at >= the end) the fixes of day E before the end are read from unit_positions (one
 * partition, at most one day: bounded), by PostGIS as the painter's community polygons. With
 * UTC+8, E runs from 08:00 local on the period's last day to 08:00 on the day after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/core/db.h"
#include "service/core/tz.h"
#include "service/door/handlers.h"
#include "service/stats/coverage_figures.h"

enum { LONGEST = 10 };

/* $1 LIKE pattern of the communities, $2 the period's first instant, $3 the instant after it. */
static const char coverage_sql[] =
    "WITH c AS (SELECT code, name, geom FROM divisions WHERE level = " VOCAB_SQL_TERM("DivisionLevel", LEVEL_COMMUNITY) " AND kind = " VOCAB_SQL_TERM(
        "DivisionKind",
        DK_ADMIN) " AND code LIKE $1 AND geom IS NOT NULL),"
                  " e AS (SELECT ($3::timestamptz AT TIME ZONE 'UTC')::date AS day),"
                  " d AS (SELECT x.code, x.day, x.last_at FROM coverage_days x, e WHERE x.day <= e.day"
                  " AND x.code LIKE $1 AND x.last_at IS NOT NULL UNION ALL SELECT x.code, x.day, x.last_at"
                  " FROM coverage_delta x, e WHERE x.day <= e.day AND x.code LIKE $1"
                  " AND x.last_at IS NOT NULL),"
                  " h AS (SELECT d.code, max(d.last_at) FILTER (WHERE d.last_at < $3::timestamptz)"
                  " AS last_at, bool_or(d.last_at >= $3::timestamptz) AS edge FROM d GROUP BY d.code),"
                  " x AS (SELECT c.code, max(p.at) AS last_at FROM c JOIN h ON h.code = c.code AND h.edge"
                  " JOIN unit_positions p ON ST_Intersects(c.geom, p.geom), e"
                  " WHERE p.at >= e.day::timestamp AT TIME ZONE 'UTC' AND p.at < $3::timestamptz"
                  " AND NOT p.flagged GROUP BY c.code),"
                  " l AS (SELECT h.code, CASE WHEN x.last_at IS NULL THEN h.last_at"
                  " ELSE greatest(h.last_at, x.last_at) END AS last_at FROM h LEFT JOIN x USING (code))"
                  " SELECT c.code, c.name, to_json(l.last_at) #>> '{}',"
                  " coalesce(l.last_at >= $2::timestamptz, false) FROM c LEFT JOIN l USING (code)"
                  " ORDER BY c.code";

PGresult *stats_coverage_rows(worker *w, const stats_query *q) {
    char like[16];
    snprintf(like, sizeof like, "%s%%", q->prefix);
    const char *p[] = {like, q->from_ts, q->to_ts};
    return db_exec_read(w, coverage_sql, 3, p);
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

/* The roll-up of the rows of stats_coverage_rows. */
static json_t *rollup(PGresult *res) {
    int n = PQntuples(res), visited = 0;
    for (int i = 0; i < n; i++)
        visited += PQgetvalue(res, i, 3)[0] == 't';
    return json_pack("{s:b,s:s,s:i,s:i,s:o,s:o}", "available", 1, "source", "coverage_days",
                     "communities", n, "visited", visited, "share",
                     n ? json_real((double)visited / n) : json_null(), "longest_unvisited",
                     longest_unvisited(res));
}

json_t *stats_coverage_figures(worker *w, const stats_query *q) {
    PGresult *res = stats_coverage_rows(w, q);
    if (!res) return NULL;
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
    int rc = stats_query_read(r, &q);
    if (rc) return rc;
    char like[16];
    snprintf(like, sizeof like, "%s%%", q.prefix);
    const char *p[] = {like};
    PGresult *rows = stats_coverage_rows(r->w, &q), *geo = NULL;
    if (!rows ||
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
