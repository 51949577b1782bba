/* places.c - place-name answers: reverse geocoding from the in-memory index (four tiers, zones,
 * responsible station) plus the nearest named places and stations from PostGIS. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/coords.h"
#include "gis/index.h"
#include "service/commands.h"
#include "service/db.h"
#include "service/gisload.h"
#include "service/handlers.h"

/* Reads a finite number from the query string. Returns 0, or an HTTP error already sent. */
static int query_number(http_req *r, const char *name, double *out) {
    char buf[64], *end;
    int n = http_query(r, name, buf, sizeof buf);
    if (n < 0)
        return http_error(r, 400, n == -1 ? "missing_field" : "invalid_location", name,
                          "%s is required", name);
    *out = strtod(buf, &end);
    if (end == buf || *end || !isfinite(*out))
        return http_error(r, 400, "invalid_location", name, "%s must be a finite number", name);
    return 0;
}

static json_t *division_json(const gis_division *d, const char *level) {
    return json_pack("{s:s,s:s,s:s}", "code", d->code, "name", d->name, "level", level);
}

static json_t *station_json(const gis_station *s) {
    return json_pack("{s:I,s:s,s:s}", "id", (json_int_t)s->id, "name", s->name, "tier",
                     gis_level_name(s->tier));
}

static json_t *point_json(double lon, double lat, gis_crs crs) {
    double x = lon, y = lat;
    gis_from_wgs84(crs, lon, lat, &x, &y);
    return json_pack("{s:f,s:f,s:s}", "lon", round(x * 1e7) / 1e7, "lat", round(y * 1e7) / 1e7,
                     "crs", gis_crs_name(crs));
}

/* GET /api/v1/places/reverse?lon=&lat=&crs= */
int h_places_reverse(http_req *r) {
    double lon, lat, wlon, wlat;
    char crsname[16] = "", err[256];
    gis_crs crs;
    int rc;
    if ((rc = query_number(r, "lon", &lon)) || (rc = query_number(r, "lat", &lat))) return rc;
    if (http_query(r, "crs", crsname, sizeof crsname) == -2 || gis_crs_parse(crsname, &crs) != 0)
        return http_error(r, 400, "invalid_crs", "crs",
                          "crs must be one of wgs84, cgcs2000, gcj02, bd09");
    if (gis_to_wgs84(crs, lon, lat, &wlon, &wlat) != 0)
        return http_error(r, 400, "invalid_location", lon < -180 || lon > 180 ? "lon" : "lat",
                          "lon must be within -180..180 and lat within -90..90");
    gis_location loc;
    if (gis_locate(r->w->loc, wlon, wlat, &loc, err, sizeof err) != 0)
        return http_error(r, 503, "index_unavailable", NULL, "the spatial index is not ready: %s",
                          err);

    json_t *divisions = json_array(), *zones = json_array();
    for (int t = GIS_CITY; t <= GIS_COMMUNITY; t++)
        if (loc.tiers[t])
            json_array_append_new(divisions,
                                  division_json(loc.tiers[t], gis_level_name((gis_level)t)));
    for (int z = 0; z < loc.nzones; z++)
        json_array_append_new(zones, division_json(loc.zones[z], "zone"));
    json_t *station = json_null();
    if (loc.station) {
        station = station_json(loc.station);
        json_object_set_new(station, "distance_m",
                            json_real(round(loc.station_distance_m * 10) / 10));
        json_t *chain = json_array();
        for (int c = 0; c < loc.nchain; c++)
            json_array_append_new(chain, station_json(loc.chain[c]));
        json_object_set_new(station, "chain", chain);
    }

    char lonbuf[32], latbuf[32];
    snprintf(lonbuf, sizeof lonbuf, "%.9f", wlon);
    snprintf(latbuf, sizeof latbuf, "%.9f", wlat);
    const char *params[] = {lonbuf, latbuf};
    PGresult *res = db_exec(
        r->w,
        "WITH p AS (SELECT ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326) AS g)"
        " SELECT * FROM ("
        "  (SELECT 'place' AS src, id::text AS id, name, kind, ST_X(geom), ST_Y(geom),"
        "   ST_Distance(geom::geography, p.g::geography) AS d FROM places, p ORDER BY geom <-> p.g LIMIT 5)"
        "  UNION ALL"
        "  (SELECT 'station', id::text, name, 'station', ST_X(location), ST_Y(location),"
        "   ST_Distance(location::geography, p.g::geography) FROM stations, p"
        "   ORDER BY location <-> p.g LIMIT 5)) n ORDER BY d LIMIT 5",
        2, params);
    if (!res) {
        json_decref(divisions), json_decref(zones), json_decref(station);
        return http_db_error(r);
    }
    json_t *nearby = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *n = json_pack("{s:s,s:s,s:f,s:o}", "name", PQgetvalue(res, i, 2), "kind",
                              PQgetvalue(res, i, 3), "distance_m",
                              round(strtod(PQgetvalue(res, i, 6), NULL) * 10) / 10, "location",
                              point_json(strtod(PQgetvalue(res, i, 4), NULL),
                                         strtod(PQgetvalue(res, i, 5), NULL), crs));
        json_object_set_new(n, "id", json_integer(strtoll(PQgetvalue(res, i, 1), NULL, 10)));
        json_array_append_new(nearby, n);
    }
    PQclear(res);
    json_t *out =
        json_pack("{s:o,s:o,s:b,s:o,s:o,s:o,s:o}", "location", point_json(wlon, wlat, crs),
                  "divisions", divisions, "outside", loc.outside, "snapped_m",
                  loc.snapped_m >= 0 ? json_real(round(loc.snapped_m * 10) / 10) : json_null(),
                  "zones", zones, "responsible_station", station, "nearby", nearby);
    return http_json(r, 200, out);
}

/* patrold locate [--crs C]: reads "lon lat" lines on stdin and writes, per line, the codes of the
 * city, county, town and community ("-" when none), the snap distance (-1 none), outside (0/1),
 * the zones (comma-separated or "-") and the responsible station id (0 none). For operators and
 * for the oracle test against PostGIS. */
int cmd_locate(app *a, int argc, char **argv) {
    gis_crs crs = GIS_CRS_WGS84;
    char err[512], line[256];
    if (argc == 3 && strcmp(argv[1], "--crs") == 0) {
        if (gis_crs_parse(argv[2], &crs) != 0) {
            fprintf(stderr, "patrold: locate: unknown crs %s\n", argv[2]);
            return 2;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: patrold locate [--crs wgs84|cgcs2000|gcj02|bd09] < points\n");
        return 2;
    }
    PGconn *pg = cmd_connect(a);
    if (!pg) return 1;
    int rc = 1;
    gis_locator *loc = NULL;
    if (!(a->gis = gis_slot_create()) || gisload_once(a, pg, err, sizeof err) != 0 ||
        !(loc = gis_locator_create(a->gis))) {
        fprintf(stderr, "patrold: locate: cannot build the index: %s\n", err);
        goto done;
    }
    for (long n = 1; fgets(line, sizeof line, stdin); n++) {
        double lon, lat, wlon, wlat;
        gis_location l;
        if (sscanf(line, "%lf %lf", &lon, &lat) != 2 ||
            gis_to_wgs84(crs, lon, lat, &wlon, &wlat) != 0 ||
            gis_locate(loc, wlon, wlat, &l, err, sizeof err) != 0) {
            printf("error line %ld\n", n);
            continue;
        }
        for (int t = 0; t < 4; t++)
            printf("%s ", l.tiers[t] ? l.tiers[t]->code : "-");
        printf("%.1f %d ", l.snapped_m, l.outside);
        for (int z = 0; z < l.nzones; z++)
            printf("%s%s", z ? "," : "", l.zones[z]->code);
        printf("%s %lld\n", l.nzones ? "" : "-", l.station ? l.station->id : 0LL);
    }
    rc = 0;
done:
    gis_locator_destroy(loc);
    gis_slot_destroy(a->gis);
    PQfinish(pg);
    return rc;
}
