/* divisions.c - the division endpoints (GET /api/v1/divisions/{code} and its children), read from
 * the published gazetteer (gazload.c loads it). */
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
#include "service/places/divisions.h"
#include "service/places/places.h"

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
