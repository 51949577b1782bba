/* bench_locate.c - the in-memory index built from PostGIS rows (as patrold builds it) against
 * PostGIS itself answering the same question one point per query through libpq.
 *
 * usage: bench_locate TAG N_INDEX N_POSTGIS   (PATROLD_DATABASE names the database)
 * Points are uniform in the extent of the divisions' geometries, from a fixed seed; "inside" counts
 * the points that fell in at least one tier. Prints
 * `TAG_index_us_median`, `TAG_postgis_us_median`, `TAG_speedup_median`, ... on stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/index.h"
#include "service/core/app.h"
#include "service/core/db.h"
#include "service/places/gisload.h"

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return (double)res * 4096.0 / 1048576.0;
}

static unsigned long long rng = 88172645463325252ull;
static double uniform(double lo, double hi) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bench_locate TAG N_INDEX N_POSTGIS\n");
        return 2;
    }
    const char *tag = argv[1];
    long n_index = atol(argv[2]), n_pg = atol(argv[3]);
    static app a;
    char err[512];
    config_defaults(&a.cfg);
    snprintf(a.conninfo, sizeof a.conninfo, "%s",
             getenv("PATROLD_DATABASE") ? getenv("PATROLD_DATABASE") : "");
    PGconn *pg = db_connect_raw(a.conninfo, err, sizeof err);
    if (!pg) {
        fprintf(stderr, "bench_locate: %s", err);
        return 1;
    }
    PGresult *ext =
        PQexec(pg, "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM"
                   " (SELECT ST_Extent(geom) e FROM divisions WHERE level <> 'province') s");
    if (PQresultStatus(ext) != PGRES_TUPLES_OK || PQgetisnull(ext, 0, 0)) {
        fprintf(stderr, "bench_locate: no divisions\n");
        return 1;
    }
    double x0 = atof(PQgetvalue(ext, 0, 0)), y0 = atof(PQgetvalue(ext, 0, 1));
    double x1 = atof(PQgetvalue(ext, 0, 2)), y1 = atof(PQgetvalue(ext, 0, 3));
    PQclear(ext);

    double rss0 = rss_mb(), t0 = now_us();
    a.gis = gis_slot_create();
    worker loader = {.app = &a, .pg = pg, .no_timeout = 1}; /* db.c borrows pg for the load */
    if (gisload_once(&a, &loader, err, sizeof err) != 0) {
        fprintf(stderr, "bench_locate: %s\n", err);
        return 1;
    }
    double build_s = (now_us() - t0) / 1e6, rss1 = rss_mb();
    gis_locator *loc = gis_locator_create(a.gis);
    gis_location l;
    double *lat_us = malloc(sizeof(double) * (size_t)(n_index > n_pg ? n_index : n_pg));
    /* warm pass: prepares every geometry this thread will touch */
    for (long i = 0; i < n_index; i++)
        gis_locate(loc, uniform(x0, x1), uniform(y0, y1), &l, err, sizeof err);
    long inside = 0;
    for (long i = 0; i < n_index; i++) {
        double x = uniform(x0, x1), y = uniform(y0, y1), s = now_us();
        gis_locate(loc, x, y, &l, err, sizeof err);
        lat_us[i] = now_us() - s;
        inside +=
            l.tiers[GIS_CITY] || l.tiers[GIS_COUNTY] || l.tiers[GIS_TOWN] || l.tiers[GIS_COMMUNITY];
    }
    qsort(lat_us, (size_t)n_index, sizeof *lat_us, cmp_double);
    double idx_med = lat_us[n_index / 2], idx_p99 = lat_us[(long)((double)n_index * 0.99)];

    /* PostGIS: the four tiers, the zones and the responsible station, one point per query. */
    PGresult *prep = PQprepare(
        pg, "q",
        "WITH p AS (SELECT ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326) AS g)"
        " SELECT (SELECT array_agg(d.code ORDER BY d.level, d.code) FROM divisions d, p WHERE ST_Covers(d.geom, p.g)"
        "         AND d.level IN ('city','county','town','community')),"
        "        (SELECT s.id FROM stations s, p WHERE s.can_dispatch AND ST_Covers(s.coverage, p.g)"
        "         ORDER BY array_position(ARRAY['community','town','county','city'], s.tier),"
        "         ST_Distance(s.location::geography, p.g::geography), s.id LIMIT 1)",
        2, NULL);
    if (PQresultStatus(prep) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench_locate: %s", PQerrorMessage(pg));
        return 1;
    }
    PQclear(prep);
    for (long i = 0; i < n_pg; i++) {
        char xs[32], ys[32];
        snprintf(xs, sizeof xs, "%.9f", uniform(x0, x1));
        snprintf(ys, sizeof ys, "%.9f", uniform(y0, y1));
        const char *params[] = {xs, ys};
        double s = now_us();
        PGresult *res = PQexecPrepared(pg, "q", 2, params, NULL, NULL, 0);
        lat_us[i] = now_us() - s;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "bench_locate: %s", PQerrorMessage(pg));
            return 1;
        }
        PQclear(res);
    }
    qsort(lat_us, (size_t)n_pg, sizeof *lat_us, cmp_double);
    double pg_med = lat_us[n_pg / 2], pg_p99 = lat_us[(long)((double)n_pg * 0.99)];
    printf("%s_index_build_s %.3f\n%s_index_rss_mb %.1f\n", tag, build_s, tag, rss1 - rss0);
    printf("%s_inside_fraction %.3f\n", tag, (double)inside / (double)n_index);
    printf("%s_index_us_median %.3f\n%s_index_us_p99 %.3f\n", tag, idx_med, tag, idx_p99);
    printf("%s_postgis_us_median %.1f\n%s_postgis_us_p99 %.1f\n", tag, pg_med, tag, pg_p99);
    printf("%s_speedup_median %.0f\n", tag, pg_med / idx_med);
    gis_locator_destroy(loc);
    gis_slot_destroy(a.gis);
    free(lat_us);
    PQfinish(pg);
    return 0;
}
