/* siting.c - GET /api/v1/analysis/siting: where the next rescue station should stand. The demand is
 * the period's reports in the division (not cancelled, not duplicates), weighted by the people in
 * them; a site covers what lies within radius_m in a straight line, in CGCS2000 3-degree
 * Gauss-Kruger metres (gis/transform; no road network here, so routing by road waits). Answers the
 * share the current stations cover (those of ?station_tier= whose area meets the division), the
 * share a candidate covers alone and with them, and the change; ?k= proposes k new sites among a
 * grid of candidates (every grid_m metres of the Gauss-Kruger plane inside the division) by maximal
 * covering (gis/cover: greedy; the exact optimum too when the combinations are few).
 * The database is read with the slot (demand bounded by siting_max_reports, estimated first; the
 * grid by MAX_CANDIDATES), the slot goes back, then the covering runs on the request's thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/coords.h"
#include "gis/cover.h"
#include "gis/transform.h"
#include "service/core/db.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/stats/stats.h"

enum { MAX_CANDIDATES = 5000, MAX_STATIONS = 1000 };
#define EXACT_MAX_COMBOS 5000
#define DEFAULT_RADIUS_M 5000.0
#define DEFAULT_GRID_M 2000.0

/* Points in Gauss-Kruger metres with their WGS-84 position and weight. */
typedef struct pts {
    double *x, *y, *lon, *lat, *w;
    long long *id;
    size_t n;
} pts;

static void pts_free(pts *p) {
    free(p->x);
    free(p->id);
    memset(p, 0, sizeof *p);
}

static int pts_alloc(pts *p, size_t n) {
    p->n = n;
    p->x = malloc(sizeof(double) * (n ? n : 1) * 5);
    p->id = calloc(n ? n : 1, sizeof *p->id);
    if (!p->x || !p->id) return -1;
    p->y = p->x + (n ? n : 1), p->lon = p->y + (n ? n : 1), p->lat = p->lon + (n ? n : 1);
    p->w = p->lat + (n ? n : 1);
    return 0;
}

/* One siting request: its division and period, what was asked, and what the database gave. */
typedef struct siting {
    stats_query q;
    double radius, grid, clon, clat;
    int k, has_candidate, epsg;
    gis_crs crs;
    char tiers[96];
    pts demand, stations, grid_pts;
    char (*station_names)[128];
    char (*station_tiers)[16];
    double cand_x, cand_y;
} siting;

/* The statuses a report counts as demand in (not cancelled, not marked duplicate). */
#define DEMAND_STATUSES                                                                            \
    (1u << RS_NEW | 1u << RS_ACKNOWLEDGED | 1u << RS_DISPATCHED | 1u << RS_ON_SCENE |              \
     1u << RS_RESOLVED)

/* Reads the demand (lon, lat, people) of s; GK by the worker's PROJ. 0, -1 db, or 400 sent. */
static int read_demand(http_req *r, siting *s) {
    buf b = {0};
    stats_sql_params p;
    stats_sql_fill(&p, &s->q);
    char statuses[128];
    vocab_pg_array_bits(&VOCAB_REPORT_STATUS, DEMAND_STATUSES, statuses, sizeof statuses);
    buf_printf(
        &b,
        "SELECT ST_X(r.geom), ST_Y(r.geom), r.people_count, r.id FROM reports r"
        " WHERE r.received_at >= $1::date::timestamptz AND r.received_at < $2::date::timestamptz"
        " AND r.status = ANY ('%s'::text[])",
        statuses);
    stats_sql_division(
        &b, &s->q, "coalesce(r.community_code, r.town_code, r.county_code, r.city_code)::bigint");
    /* the budget: the planner's estimate of the period's reports (report_facts' plain columns
     * have statistics; the expression above has none) */
    int rc = stats_budget(r, &s->q, r->app->cfg.siting_max_reports);
    if (rc) {
        buf_free(&b);
        return rc;
    }
    PGresult *res = b.oom ? NULL : db_exec_read_dynamic(r->w, b.p, p.n, p.v);
    buf_free(&b);
    if (!res) return -1;
    int n = PQntuples(res);
    rc = pts_alloc(&s->demand, (size_t)n);
    for (int i = 0; rc == 0 && i < n; i++) {
        s->demand.lon[i] = atof(PQgetvalue(res, i, 0)),
        s->demand.lat[i] = atof(PQgetvalue(res, i, 1));
        s->demand.w[i] = atof(PQgetvalue(res, i, 2));
        s->demand.id[i] = strtoll(PQgetvalue(res, i, 3), NULL, 10);
    }
    PQclear(res);
    return rc;
}

/* The Gauss-Kruger zone of the division and whether the candidate lies in it. 0, -1, or 400/404
 * sent. */
static int read_division(http_req *r, siting *s) {
    char lon[32], lat[32];
    snprintf(lon, sizeof lon, "%.9f", s->clon), snprintf(lat, sizeof lat, "%.9f", s->clat);
    const char *p[] = {s->q.code12, s->has_candidate ? lon : NULL, s->has_candidate ? lat : NULL};
    PGresult *res = db_exec(
        r->w,
        "SELECT ST_X(ST_PointOnSurface(geom)), $2::float8 IS NULL OR coalesce(ST_Covers(geom,"
        " ST_SetSRID(ST_MakePoint($2::float8, $3::float8), 4326)), false) FROM divisions"
        " WHERE code = $1::char(12)",
        3, p);
    if (!res) return -1;
    int rc = 0;
    s->epsg = PQntuples(res) && !PQgetisnull(res, 0, 0)
                  ? gis_gk_epsg_for_lon(atof(PQgetvalue(res, 0, 0)))
                  : gis_gk_epsg_for_lon(s->clon);
    if (s->epsg < 0) s->epsg = 4549;
    if (PQntuples(res) != 1 || PQgetvalue(res, 0, 1)[0] != 't')
        rc = http_error(r, 400, "invalid_candidate", "candidate",
                        "the candidate site lies outside the division %s (%s)", s->q.code12,
                        s->q.name);
    PQclear(res);
    return rc;
}

/* The current stations: of the asked tiers, whose area meets the division. 0 or -1. */
static int read_stations(http_req *r, siting *s) {
    const char *p[] = {s->q.code12, s->tiers};
    PGresult *res =
        db_exec(r->w,
                "SELECT s.id, s.name, s.tier, ST_X(s.location), ST_Y(s.location) FROM stations s"
                " JOIN divisions d ON d.code = $1::char(12) WHERE s.tier = ANY ($2::text[])"
                " AND ST_Intersects(s.coverage, d.geom) ORDER BY s.id LIMIT 1000",
                2, p);
    if (!res) return -1;
    int n = PQntuples(res), rc = pts_alloc(&s->stations, (size_t)n);
    s->station_names = calloc((size_t)(n ? n : 1), sizeof *s->station_names);
    s->station_tiers = calloc((size_t)(n ? n : 1), sizeof *s->station_tiers);
    if (!s->station_names || !s->station_tiers) rc = -1;
    for (int i = 0; rc == 0 && i < n; i++) {
        s->stations.id[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        snprintf(s->station_names[i], sizeof *s->station_names, "%s", PQgetvalue(res, i, 1));
        snprintf(s->station_tiers[i], sizeof *s->station_tiers, "%s", PQgetvalue(res, i, 2));
        s->stations.lon[i] = atof(PQgetvalue(res, i, 3)),
        s->stations.lat[i] = atof(PQgetvalue(res, i, 4));
        s->stations.w[i] = 0;
    }
    PQclear(res);
    return rc;
}

/* The candidate grid: every multiple of grid_m (Gauss-Kruger metres of the division's zone) inside
 * the division, with its WGS-84 position. 0, -1, or the 400 sent (too many candidates). */
static int read_grid(http_req *r, siting *s) {
    char epsg[16], step[32];
    snprintf(epsg, sizeof epsg, "%d", s->epsg), snprintf(step, sizeof step, "%.3f", s->grid);
    const char *p[] = {s->q.code12, epsg, step};
#define GRID_BOX                                                                                   \
    "WITH d AS (SELECT ST_Transform(geom, $2::int) AS g FROM divisions WHERE code = $1::char(12)"  \
    " AND geom IS NOT NULL), b AS (SELECT g, ceil(ST_XMin(g) / $3::float8)::bigint AS x0,"         \
    " floor(ST_XMax(g) / $3::float8)::bigint AS x1, ceil(ST_YMin(g) / $3::float8)::bigint AS y0,"  \
    " floor(ST_YMax(g) / $3::float8)::bigint AS y1 FROM d)"
    PGresult *res = db_exec(r->w, GRID_BOX " SELECT (x1 - x0 + 1) * (y1 - y0 + 1) FROM b", 3, p);
    if (!res) return -1;
    double cells = PQntuples(res) ? atof(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (cells > MAX_CANDIDATES * 2.0)
        return http_error(r, 400, "over_budget", "grid_m",
                          "a %.0f m grid over %s has about %.0f points, more than %d candidates: "
                          "take a wider grid_m",
                          s->grid, s->q.name, cells, MAX_CANDIDATES);
    res = db_exec(r->w,
                  GRID_BOX " SELECT i * $3::float8, j * $3::float8, ST_X(ST_Transform(p.pt, 4326)),"
                           " ST_Y(ST_Transform(p.pt, 4326)) FROM b, generate_series(b.y0, b.y1) j,"
                           " generate_series(b.x0, b.x1) i, LATERAL (SELECT ST_SetSRID("
                           "ST_MakePoint(i * $3::float8, j * $3::float8), $2::int) AS pt) p"
                           " WHERE ST_Intersects(b.g, p.pt) ORDER BY j, i LIMIT 5001",
                  3, p);
#undef GRID_BOX
    if (!res) return -1;
    int n = PQntuples(res) > MAX_CANDIDATES ? MAX_CANDIDATES : PQntuples(res);
    int rc = pts_alloc(&s->grid_pts, (size_t)n);
    for (int i = 0; rc == 0 && i < n; i++) {
        s->grid_pts.x[i] = atof(PQgetvalue(res, i, 0)),
        s->grid_pts.y[i] = atof(PQgetvalue(res, i, 1));
        s->grid_pts.lon[i] = atof(PQgetvalue(res, i, 2)),
        s->grid_pts.lat[i] = atof(PQgetvalue(res, i, 3));
    }
    PQclear(res);
    return rc;
}

/* lon/lat -> Gauss-Kruger of every point of p with the worker's PROJ context. 0 or -1. */
static int to_gk(worker *w, int epsg, pts *p) {
    char err[128];
    for (size_t i = 0; i < p->n; i++)
        if (gis_proj_to_gk(w->proj, epsg, p->lon[i], p->lat[i], &p->x[i], &p->y[i], err,
                           sizeof err) != 0) {
            snprintf(w->err, sizeof w->err, "siting: %s", err);
            return -1;
        }
    return 0;
}

/* The request's values into s (the door checked them). */
static void read_params(http_req *r, siting *s) {
    const http_qval *c = http_q(r, "candidate"), *rad = http_q(r, "radius_m"),
                    *grid = http_q(r, "grid_m"), *tier = http_q(r, "station_tier");
    s->has_candidate = c->given, s->clon = c->lon, s->clat = c->lat;
    s->radius = rad->given ? rad->d : DEFAULT_RADIUS_M;
    s->grid = grid->given ? grid->d : DEFAULT_GRID_M;
    s->k = (int)http_q(r, "k")->i;
    s->crs = http_q(r, "crs")->crs;
    if (tier->given)
        snprintf(s->tiers, sizeof s->tiers, "%s", tier->s);
    else /* the stations that take reports in from the street: the city's and the counties' */
        vocab_pg_array_bits(&VOCAB_TIER, 1u << TIER_CITY | 1u << TIER_COUNTY, s->tiers,
                            sizeof s->tiers);
}

/* Everything the database gives, then the slot goes back. 0, or the status sent. */
static int read_all(http_req *r, siting *s) {
    int rc = stats_query_read(r, &s->q);
    if (rc) return rc;
    read_params(r, s);
    if ((rc = read_division(r, s)) || (rc = read_demand(r, s)) || (rc = read_stations(r, s)) ||
        (s->k && (rc = read_grid(r, s))))
        return rc < 0 ? http_db_error(r) : rc;
    if (s->has_candidate && gis_proj_to_gk(r->w->proj, s->epsg, s->clon, s->clat, &s->cand_x,
                                           &s->cand_y, r->w->err, sizeof r->w->err) != 0)
        return http_error(r, 400, "invalid_candidate", "candidate", "%s", r->w->err);
    if (to_gk(r->w, s->epsg, &s->demand) != 0 || to_gk(r->w, s->epsg, &s->stations) != 0)
        return http_error(r, 500, "internal", NULL, "%s", r->w->err);
    http_release_worker(r); /* the covering below needs no database: no slot while it runs */
    return 0;
}

static json_t *share(double w, double total) {
    return total > 0 ? json_real(w / total) : json_null();
}

/* {"reports", "people", "share"} of a covered weight. */
static json_t *cover_json(double w, size_t n, double total) {
    return json_pack("{s:I,s:I,s:o}", "reports", (json_int_t)n, "people", (json_int_t)llround(w),
                     "share", share(w, total));
}

static json_t *location_json(double lon, double lat, gis_crs crs) {
    double x = lon, y = lat;
    if (gis_from_wgs84(crs, lon, lat, &x, &y) != 0) x = lon, y = lat, crs = GIS_CRS_WGS84;
    return json_pack("{s:f,s:f,s:s}", "lon", round(x * 1e7) / 1e7, "lat", round(y * 1e7) / 1e7,
                     "crs", gis_crs_name(crs));
}

/* The current stations and what they cover (marked in c): *covered, *ncovered. */
static json_t *current_json(siting *s, gis_cover *c, double total, double *covered,
                            size_t *ncovered) {
    json_t *list = json_array();
    size_t k;
    *covered = 0, *ncovered = 0;
    for (size_t i = 0; i < s->stations.n; i++) {
        *covered += gis_cover_mark(c, s->stations.x[i], s->stations.y[i], &k);
        *ncovered += k;
        json_array_append_new(
            list, json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)s->stations.id[i], "name",
                            s->station_names[i], "tier", s->station_tiers[i], "location",
                            location_json(s->stations.lon[i], s->stations.lat[i], s->crs)));
    }
    json_t *o = cover_json(*covered, *ncovered, total);
    json_object_set_new(o, "stations", list);
    return o;
}

/* The candidate alone and with the current stations (c holds their marks). */
static json_t *candidate_json(siting *s, gis_cover *c, double total, double covered,
                              size_t ncovered, double *change) {
    size_t alone_n, more_n;
    double alone = gis_cover_within(c, s->cand_x, s->cand_y, 0, &alone_n);
    double more = gis_cover_within(c, s->cand_x, s->cand_y, 1, &more_n);
    *change = total > 0 ? more / total : 0;
    json_t *o = cover_json(alone, alone_n, total);
    json_object_set_new(o, "location", location_json(s->clon, s->clat, s->crs));
    json_object_set_new(o, "with_current", cover_json(covered + more, ncovered + more_n, total));
    return o;
}

/* The sites chosen[0..n) with what each added. */
static json_t *sites_json(siting *s, const int *chosen, const double *gain, const size_t *count,
                          int n, double total) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = cover_json(gain[i], count ? count[i] : 0, total);
        json_object_set_new(
            o, "location",
            location_json(s->grid_pts.lon[chosen[i]], s->grid_pts.lat[chosen[i]], s->crs));
        json_array_append_new(a, o);
    }
    return a;
}

/* Marks the current stations again after a reset, then sites[0..n) in order, each one's gain and
 * count into gain[], count[]. */
static void remark(siting *s, gis_cover *c, const int *sites, int n, double *gain, size_t *count) {
    gis_cover_reset(c);
    for (size_t i = 0; i < s->stations.n; i++)
        gis_cover_mark(c, s->stations.x[i], s->stations.y[i], NULL);
    for (int i = 0; i < n; i++)
        gain[i] = gis_cover_mark(c, s->grid_pts.x[sites[i]], s->grid_pts.y[sites[i]], &count[i]);
}

/* ?k=: the sites proposed on the grid (c holds the current stations' marks): greedy, or the exact
 * optimum when the combinations are few enough to enumerate and it covers more. */
static json_t *proposals_json(siting *s, gis_cover *c, double total, double covered) {
    int k = s->k, *chosen = malloc(sizeof(int) * (size_t)k * 2), got, method_exact = 0;
    double *gain = malloc(sizeof(double) * (size_t)k), best = 0, greedy = 0;
    size_t *count = malloc(sizeof(size_t) * (size_t)k), nc = s->grid_pts.n;
    json_t *exact = json_null(), *out = NULL;
    if (!chosen || !gain || !count) goto done;
    int *opt = chosen + k;
    int rc = k <= (int)nc ? gis_cover_exact(c, s->grid_pts.x, s->grid_pts.y, nc, k,
                                            EXACT_MAX_COMBOS, opt, &best)
                          : 1;
    if (rc < 0 ||
        (got = gis_cover_greedy(c, s->grid_pts.x, s->grid_pts.y, nc, k, chosen, gain, count)) < 0)
        goto done;
    for (int i = 0; i < got; i++)
        greedy += gain[i];
    if (rc == 0) {
        json_t *where = json_array();
        for (int i = 0; i < k; i++)
            json_array_append_new(
                where, location_json(s->grid_pts.lon[opt[i]], s->grid_pts.lat[opt[i]], s->crs));
        json_decref(exact);
        exact = json_pack("{s:o,s:o}", "share", share(covered + best, total), "sites", where);
        if (best > greedy * (1 + 1e-12) + 1e-9) { /* the optimum beats greedy: propose it */
            method_exact = 1, got = k;
            remark(s, c, opt, k, gain, count);
            memcpy(chosen, opt, sizeof(int) * (size_t)k);
        }
    }
    out = json_pack("{s:i,s:f,s:I,s:s,s:o,s:o,s:o,s:O}", "k", k, "grid_m", s->grid, "candidates",
                    (json_int_t)nc, "method", method_exact ? "exact" : "greedy", "sites",
                    sites_json(s, chosen, gain, count, got, total), "share",
                    share(covered + (method_exact ? best : greedy), total), "greedy_share",
                    share(covered + greedy, total), "exact", exact);
done:
    json_decref(exact);
    free(chosen);
    free(gain);
    free(count);
    return out;
}

/* The reply: demand, current stations, the candidate and the change, the proposals. */
static json_t *siting_json(siting *s) {
    double total = 0, covered, change = 0;
    size_t ncovered;
    for (size_t i = 0; i < s->demand.n; i++)
        total += s->demand.w[i];
    char err[128];
    gis_cover *c = gis_cover_create(s->demand.x, s->demand.y, s->demand.w, s->demand.n, s->radius,
                                    err, sizeof err);
    if (!c) return NULL;
    char arr[128], statuses[136];
    vocab_pg_array_bits(&VOCAB_REPORT_STATUS, DEMAND_STATUSES, arr, sizeof arr);
    snprintf(statuses, sizeof statuses, "&status=%.*s", (int)strlen(arr) - 2, arr + 1);
    json_t *current = current_json(s, c, total, &covered, &ncovered);
    json_t *cand =
        s->has_candidate ? candidate_json(s, c, total, covered, ncovered, &change) : json_null();
    json_t *prop = s->k ? proposals_json(s, c, total, covered) : json_null();
    gis_cover_destroy(c);
    return json_pack("{s:{s:s,s:s,s:s},s:s,s:s,s:f,s:{s:I,s:I,s:o},s:o,s:o,s:o,s:o}", "division",
                     "code", s->q.code12, "name", s->q.name, "level", s->q.level, "from", s->q.from,
                     "to", s->q.last, "radius_m", s->radius, "demand", "reports",
                     (json_int_t)s->demand.n, "people", (json_int_t)llround(total), "records",
                     stats_records(&s->q, statuses), "current", current, "candidate", cand,
                     "change", s->has_candidate ? json_real(change) : json_null(), "proposals",
                     prop ? prop : json_null());
}

/* GET /api/v1/analysis/siting?division=&from=&to=&candidate=&radius_m=&k=&grid_m=&station_tier= */
int h_siting(http_req *r) {
    siting s;
    memset(&s, 0, sizeof s);
    int rc = read_all(r, &s);
    if (!rc) {
        json_t *out = siting_json(&s);
        rc = out ? http_json(r, 200, out) : http_error(r, 500, "internal", NULL, "out of memory");
    }
    pts_free(&s.demand), pts_free(&s.stations), pts_free(&s.grid_pts);
    free(s.station_names);
    free(s.station_tiers);
    return rc;
}
