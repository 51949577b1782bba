/* divisions.c - the gazetteer loader (divisions with former names and codes, stations, places
 * from PostgreSQL into gis/gazetteer.h, off the request path) and the division endpoints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/coords.h"
#include "gis/gazetteer.h"
#include "service/core/db.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/places/places.h"

/* Runs sql in single-row mode, handing each row to fn. Returns 0, or -1 with a message. */
static int each_row(worker *w, const char *sql, int (*fn)(void *, PGresult *), void *ctx, char *err,
                    size_t errlen) {
    if (db_each_row(w, sql, 0, NULL, fn, ctx) == 0) return 0;
    snprintf(err, errlen, "%s", w->err);
    return -1;
}

static const char *opt(PGresult *res, int col) {
    return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

static double num(PGresult *res, int col) {
    return PQgetisnull(res, 0, col) ? NAN : strtod(PQgetvalue(res, 0, col), NULL);
}

typedef struct {
    gaz_builder *b;
    long skipped;
} loadctx;

/* code, name, level, parent_code, x, y, valid_from, valid_to, replaced_by */
static int add_division(void *p, PGresult *res) {
    loadctx *c = p;
    char msg[256];
    if (gaz_builder_add(c->b, GAZ_DIVISION, PQgetvalue(res, 0, 0), 0, PQgetvalue(res, 0, 1),
                        PQgetvalue(res, 0, 2), opt(res, 3), NULL, num(res, 4), num(res, 5),
                        opt(res, 6), opt(res, 7), opt(res, 8), msg, sizeof msg) != 0) {
        if (strcmp(msg, "out of memory") == 0) return -1;
        if (c->skipped++ < 5) fprintf(stderr, "gazetteer: skipping %s\n", msg);
    }
    return 0;
}

/* kind, id, name, level, division_code, aliases (newline-separated), x, y */
static int add_point(void *p, PGresult *res) {
    loadctx *c = p;
    char msg[256], *al = NULL;
    const char *aliases[33] = {NULL};
    if (!PQgetisnull(res, 0, 5)) {
        if (!(al = strdup(PQgetvalue(res, 0, 5)))) return -1;
        int n = 0;
        for (char *s = al, *save = NULL, *t; n < 32 && (t = strtok_r(s, "\n", &save)); s = NULL)
            aliases[n++] = t;
    }
    int rc = gaz_builder_add(c->b, PQgetvalue(res, 0, 0)[0] == 's' ? GAZ_STATION : GAZ_PLACE,
                             opt(res, 4), strtoll(PQgetvalue(res, 0, 1), NULL, 10),
                             PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), NULL, aliases,
                             num(res, 6), num(res, 7), NULL, NULL, NULL, msg, sizeof msg);
    free(al);
    if (rc != 0) {
        if (strcmp(msg, "out of memory") == 0) return -1;
        if (c->skipped++ < 5) fprintf(stderr, "gazetteer: skipping %s\n", msg);
    }
    return 0;
}

int gazload_once(app *a, worker *w, char *err, size_t errlen) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    loadctx c = {gaz_builder_create(), 0};
    if (!c.b) return snprintf(err, errlen, "out of memory"), -1;
    /* today's and former divisions; a former name (renamed, same code) is a former entry of its
     * own that points at today's division */
    if (each_row(w,
                 "SELECT code, name, level, parent_code, ST_X(p), ST_Y(p), valid_from::text,"
                 " valid_to::text, (SELECT into_code FROM division_changes c WHERE c.code = d.code"
                 "  AND c.change = 'merged' ORDER BY c.effective DESC, c.id DESC LIMIT 1)"
                 " FROM divisions d LEFT JOIN LATERAL (SELECT ST_PointOnSurface(d.geom) AS p) s ON"
                 " true ORDER BY code",
                 add_division, &c, err, errlen) != 0 ||
        each_row(w,
                 "SELECT c.code, c.old_name, d.level, d.parent_code, NULL, NULL, NULL,"
                 " c.effective::text, c.code FROM division_changes c JOIN divisions d"
                 " ON d.code = c.code WHERE c.change = 'renamed' AND c.old_name IS NOT NULL"
                 " ORDER BY c.id",
                 add_division, &c, err, errlen) != 0 ||
        each_row(w,
                 "SELECT 's', id, name, 'station', division_code, NULL, ST_X(location),"
                 " ST_Y(location) FROM stations ORDER BY id",
                 add_point, &c, err, errlen) != 0 ||
        each_row(w,
                 "SELECT 'p', id, name, kind, division_code, array_to_string(aliases, E'\\n'),"
                 " ST_X(geom), ST_Y(geom) FROM places ORDER BY id",
                 add_point, &c, err, errlen) != 0) {
        gaz_builder_destroy(c.b);
        return -1;
    }
    gaz *g = gaz_builder_finish(c.b, err, errlen);
    if (!g) return -1;
    size_t n, nkeys, bytes;
    gaz_stats(g, &n, &nkeys, &bytes);
    gaz_slot_publish(a->gaz, g);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "gazetteer: %zu entries, %zu keys (%.1f MiB) built in %.0f ms%s\n", n, nkeys,
            (double)bytes / 1048576.0,
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
            c.skipped ? " (some rows skipped)" : "");
    return 0;
}

/* Division endpoints ------------------------------------------------------------------------ */

/* Rewrites every [lon, lat] position of coordinates nested `depth` arrays deep from WGS-84 into
 * crs, rounded to 1e-7 degrees. */
static void geojson_to_crs(json_t *coords, int depth, gis_crs crs) {
    size_t i;
    json_t *v;
    if (depth > 0) {
        json_array_foreach(coords, i, v) geojson_to_crs(v, depth - 1, crs);
        return;
    }
    double x = json_number_value(json_array_get(coords, 0)),
           y = json_number_value(json_array_get(coords, 1)), ox = x, oy = y;
    gis_from_wgs84(crs, x, y, &ox, &oy);
    json_array_set_new(coords, 0, json_real(round(ox * 1e7) / 1e7));
    json_array_set_new(coords, 1, json_real(round(oy * 1e7) / 1e7));
}

void places_geometry_to_crs(json_t *geometry, gis_crs crs) {
    json_t *c = json_object_get(geometry, "coordinates");
    const char *type = json_string_value(json_object_get(geometry, "type"));
    if (c && type && crs != GIS_CRS_WGS84 && crs != GIS_CRS_CGCS2000)
        geojson_to_crs(c, strcmp(type, "MultiPolygon") == 0 ? 3 : 2, crs);
}

typedef struct {
    int geometry;         /* ?geometry=geojson */
    const char *simplify; /* metres, NULL for none */
    gis_crs crs;
    gaz *g;    /* division_find: a reference to the gazetteer (gaz_release it) */
    int32_t i; /* and the division's entry in it */
} divopts;

/* Reads geometry, simplify and crs (typed by the door). */
static void division_opts(http_req *r, divopts *o) {
    o->geometry = http_q(r, "geometry")->given;
    o->simplify = http_q(r, "simplify")->s;
    o->crs = http_q(r, "crs")->crs;
}

/* The prelude of both division routes: options, then division r->params[0] in the gazetteer.
 * Returns 0 with d->g (a reference: gaz_release it) and its entry d->i, or the status sent. */
static int division_find(http_req *r, divopts *d) {
    division_opts(r, d);
    d->g = gaz_slot_acquire(r->app->gaz);
    if (!d->g)
        return http_error(r, 503, "index_unavailable", NULL, "the gazetteer is not loaded yet");
    d->i = gaz_find_code(d->g, r->params[0]);
    if (d->i < 0) {
        gaz_release(d->g);
        return http_error(r, 404, "not_found", "code", "no division has this code");
    }
    return 0;
}

/* Boundary as GeoJSON in WGS-84, simplified (topology kept) in the CGCS2000 3-degree
 * Gauss-Kruger zone of the division (EPSG 4534..4554) when $3 is not null. */
#define DIVISION_GEOM_SQL                                                                          \
    "SELECT code, synthetic, CASE WHEN $2::bool AND geom IS NOT NULL THEN ST_AsGeoJSON("           \
    " CASE WHEN $3::float8 IS NULL THEN geom ELSE ST_Transform(ST_SimplifyPreserveTopology("       \
    "  ST_Transform(geom, z.srid), $3::float8), 4326) END, 9) END FROM divisions"                  \
    " LEFT JOIN LATERAL (SELECT 4534 + least(20, greatest(0, round((ST_X(ST_PointOnSurface(geom))" \
    " - 75) / 3)::int)) AS srid) z ON true"

/* Adds synthetic and (when asked) geometry from row i of res to o. */
static void add_geometry(json_t *o, PGresult *res, int i, const divopts *d) {
    json_object_set_new(o, "synthetic", json_boolean(PQgetvalue(res, i, 1)[0] == 't'));
    if (!d->geometry) return;
    json_t *geom = NULL;
    if (!PQgetisnull(res, i, 2)) {
        geom = json_loads(PQgetvalue(res, i, 2), 0, NULL);
        places_geometry_to_crs(geom, d->crs);
    }
    json_object_set_new(o, "geometry", geom ? geom : json_null());
}

/* GET /api/v1/divisions/{code} */
int h_divisions_get(http_req *r) {
    divopts d;
    int rc = division_find(r, &d);
    if (rc) return rc;
    json_t *o = places_entry_json(d.g, (uint32_t)d.i, d.crs);
    char code[13];
    snprintf(code, sizeof code, "%s", gaz_entry_at(d.g, (uint32_t)d.i)->code);
    const char *params[] = {code, d.geometry ? "true" : "false", d.simplify};
    gaz_release(d.g);
    PGresult *res = db_exec_read(r->w, DIVISION_GEOM_SQL " WHERE code = $1", 3, params);
    if (!res) {
        json_decref(o);
        return http_db_error(r);
    }
    if (PQntuples(res) == 1)
        add_geometry(o, res, 0, &d);
    else
        json_object_set_new(o, "synthetic", json_false());
    PQclear(res);
    return http_json(r, 200, o);
}

/* GET /api/v1/divisions/{code}/children */
int h_divisions_children(http_req *r) {
    divopts d;
    int rc = division_find(r, &d);
    if (rc) return rc;
    size_t total = gaz_children(d.g, (uint32_t)d.i, NULL, 0);
    uint32_t *kids = malloc((total ? total : 1) * sizeof *kids);
    if (!kids) {
        gaz_release(d.g);
        return http_error(r, 500, "out_of_memory", NULL, "out of memory");
    }
    gaz_children(d.g, (uint32_t)d.i, kids, total);
    json_t *items = json_array();
    for (size_t k = 0; k < total; k++)
        json_array_append_new(items, places_entry_json(d.g, kids[k], d.crs));
    const char *params[] = {gaz_entry_at(d.g, (uint32_t)d.i)->code, d.geometry ? "true" : "false",
                            d.simplify};
    free(kids);
    PGresult *res =
        db_exec_read(r->w, DIVISION_GEOM_SQL " WHERE parent_code = $1 ORDER BY code", 3, params);
    gaz_release(d.g);
    if (!res) {
        json_decref(items);
        return http_db_error(r);
    }
    /* both lists are in code order: merge */
    size_t k = 0;
    json_t *o;
    json_array_foreach(items, k, o) {
        const char *code = json_string_value(json_object_get(o, "code"));
        json_object_set_new(o, "synthetic", json_false());
        for (int row = 0; row < PQntuples(res); row++)
            if (strcmp(PQgetvalue(res, row, 0), code) == 0) {
                add_geometry(o, res, row, &d);
                break;
            }
    }
    PQclear(res);
    return http_json(r, 200, json_pack("{s:o,s:n}", "items", items, "next"));
}
