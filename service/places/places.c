/* places.c - place-name answers from memory: search of the gazetteer (gis/gazetteer.h) and reverse
 * geocoding (four tiers, zones and responsible station from the spatial index, the nearest named
 * places and stations from the gazetteer's own KD-tree). No database query on either path. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/coords.h"
#include "gis/gazetteer.h"
#include "gis/index.h"
#include "service/cmd/commands.h"
#include "service/core/db.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/places/gisload.h"
#include "service/places/places.h"

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

/* {"code"|"id", "name", "kind", "distance_m", "location"} of a nearest hit. */
static json_t *places_nearby_json(const gaz *g, const gaz_hit *h, gis_crs crs) {
    const gaz_entry *e = gaz_entry_at(g, h->entry);
    json_t *n = json_pack("{s:s,s:s,s:f,s:o}", "name", e->name, "kind",
                          e->kind == GAZ_DIVISION  ? e->level
                          : e->kind == GAZ_STATION ? "station"
                                                   : e->level,
                          "distance_m", round(h->distance_m * 10) / 10, "location",
                          point_json(e->lon, e->lat, crs));
    if (e->kind == GAZ_DIVISION)
        json_object_set_new(n, "code", json_string(e->code));
    else
        json_object_set_new(n, "id", json_integer(e->id));
    return n;
}

/* {code, name, level} of a division entry. */
static json_t *brief_json(const gaz_entry *e) {
    return json_pack("{s:s,s:s,s:s}", "code", e->code, "name", e->name, "level", e->level);
}

json_t *places_entry_json(const gaz *g, uint32_t i, gis_crs crs) {
    const gaz_entry *e = gaz_entry_at(g, i);
    json_t *chain = json_array();
    int32_t up[16], n = 0;
    for (int32_t p = e->parent; p >= 0 && n < 16; p = gaz_entry_at(g, (uint32_t)p)->parent)
        up[n++] = p;
    while (n > 0)
        json_array_append_new(chain, brief_json(gaz_entry_at(g, (uint32_t)up[--n])));
    static const char *const kinds[] = {"division", "station", "place"};
    json_t *o =
        json_pack("{s:s?,s:s,s:s,s:s,s:o,s:o}", "code", e->kind == GAZ_DIVISION ? e->code : NULL,
                  "name", e->name, "level", e->level, "kind", kinds[e->kind], "parent_chain", chain,
                  "location", isfinite(e->lon) ? point_json(e->lon, e->lat, crs) : json_null());
    if (e->kind != GAZ_DIVISION) json_object_set_new(o, "id", json_integer(e->id));
    if (e->kind == GAZ_DIVISION) {
        json_object_set_new(o, "valid_from",
                            e->valid_from ? json_string(e->valid_from) : json_null());
        json_object_set_new(o, "valid_to", e->valid_to ? json_string(e->valid_to) : json_null());
    }
    if (e->former) {
        const gaz_entry *t = e->replaced_by >= 0 ? gaz_entry_at(g, (uint32_t)e->replaced_by) : NULL;
        json_object_set_new(o, "replaced_by",
                            !t          ? json_null()
                            : t->former ? brief_json(t)
                                        : places_entry_json(g, (uint32_t)e->replaced_by, crs));
    }
    return o;
}

_Static_assert((int)PAGE_MAX <= (int)GAZ_MAX_LIMIT,
               "?limit= of /places (routes.c) fits the hits buffer");

/* GET /api/v1/places?q=&limit=&within=&near=lon,lat&crs= */
int h_places_search(http_req *r) {
    static const char *const tiers[] = {"exact", "prefix", "substring", "pinyin"};
    const char *q = http_q(r, "q")->s;
    const http_qval *within = http_q(r, "within"), *near = http_q(r, "near");
    char err[128];
    gis_crs crs = http_q(r, "crs")->crs;
    int n;
    gaz_query opt = {within->prefix, near->given, near->lon, near->lat, (int)http_q(r, "limit")->i};
    gaz *g = gaz_slot_acquire(r->app->gaz);
    if (!g) return http_error(r, 503, "index_unavailable", NULL, "the gazetteer is not loaded yet");
    gaz_hit hits[GAZ_MAX_LIMIT];
    n = gaz_search(g, q, &opt, hits, err, sizeof err);
    if (n < 0) {
        gaz_release(g);
        return http_error(r, 400, "invalid_query", "q", "%s", err);
    }
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = places_entry_json(g, hits[i].entry, crs);
        json_object_set_new(o, "match", json_string(tiers[hits[i].tier]));
        if (opt.near)
            json_object_set_new(o, "distance_m",
                                hits[i].distance_m >= 0
                                    ? json_real(round(hits[i].distance_m * 10) / 10)
                                    : json_null());
        json_array_append_new(items, o);
    }
    gaz_release(g);
    return http_json(r, 200, json_pack("{s:o,s:n}", "items", items, "next"));
}

/* GET /api/v1/places/reverse?lon=&lat=&crs= */
int h_places_reverse(http_req *r) {
    double lon = http_q(r, "lon")->d, lat = http_q(r, "lat")->d, wlon, wlat;
    char err[256];
    gis_crs crs = http_q(r, "crs")->crs;
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

    gaz *g = gaz_slot_acquire(r->app->gaz);
    json_t *nearby = json_array();
    gaz_hit hits[5];
    int nh = g ? gaz_nearest(g, wlon, wlat, 5, hits) : 0;
    for (int i = 0; i < nh; i++)
        json_array_append_new(nearby, places_nearby_json(g, &hits[i], crs));
    gaz_release(g);
    json_t *out =
        json_pack("{s:o,s:o,s:b,s:o,s:o,s:o,s:o}", "location", point_json(wlon, wlat, crs),
                  "divisions", divisions, "outside", loc.outside, "snapped_m",
                  loc.snapped_m >= 0 ? json_real(round(loc.snapped_m * 10) / 10) : json_null(),
                  "zones", zones, "responsible_station", station, "nearby", nearby);
    return http_json(r, 200, out);
}

/* One "lon lat" line of cmd_locate: prints its answer, or says on stderr why not. Returns 0/-1. */
static int locate_line(gis_locator *loc, gis_crs crs, long n, const char *line) {
    double lon, lat, wlon, wlat;
    char err[256], *end;
    gis_location l;
    const char *p = line;
    lon = strtod(p, &end);
    if (end == p || !isspace((unsigned char)*end)) goto bad;
    lat = strtod(p = end, &end);
    if (end == p) goto bad;
    for (; *end; end++)
        if (!isspace((unsigned char)*end)) goto bad;
    if (!isfinite(lon) || !isfinite(lat) || gis_to_wgs84(crs, lon, lat, &wlon, &wlat) != 0) {
        fprintf(stderr, "patrold: locate: line %ld: lon must be within -180..180, lat -90..90\n",
                n);
        return -1;
    }
    if (gis_locate(loc, wlon, wlat, &l, err, sizeof err) != 0) {
        fprintf(stderr, "patrold: locate: line %ld: %s\n", n, err);
        return -1;
    }
    printf("%ld ", n);
    for (int t = 0; t < 4; t++)
        printf("%s ", l.tiers[t] ? l.tiers[t]->code : "-");
    printf("%.1f %d ", l.snapped_m, l.outside);
    for (int z = 0; z < l.nzones; z++)
        printf("%s%s", z ? "," : "", l.zones[z]->code);
    printf("%s %lld\n", l.nzones ? "" : "-", l.station ? l.station->id : 0LL);
    return 0;
bad:
    fprintf(stderr, "patrold: locate: line %ld: expected \"lon lat\" (two numbers)\n", n);
    return -1;
}

/* patrold locate [--crs C]: reads "lon lat" lines on stdin and writes a header line, then per line
 * its number, the codes of the city, county, town and community ("-" when none), the snap distance
 * (-1 none), outside (0/1), the zones (comma-separated or "-") and the responsible station id (0
 * none). A bad line is reported on stderr with its number and skipped; the exit status is then 1.
 * For operators and for the oracle test against PostGIS. */
int cmd_locate(app *a, int argc, char **argv) {
    gis_crs crs = GIS_CRS_WGS84;
    char err[512], line[256];
    if (argc == 3 && strcmp(argv[1], "--crs") == 0) {
        if (gis_crs_parse(argv[2], &crs) != 0) {
            fprintf(stderr, "patrold: locate: unknown crs %s\n", argv[2]);
            return 2;
        }
    } else if (argc != 1) {
        return 2; /* main.c prints the forms */
    }
    worker w;
    if (cmd_connect(a, &w) != 0) return 1;
    int rc = 1;
    gis_locator *loc = NULL;
    if (!(a->gis = gis_slot_create()) || gisload_once(a, &w, err, sizeof err) != 0 ||
        !(loc = gis_locator_create(a->gis))) {
        fprintf(stderr, "patrold: locate: cannot build the index: %s\n", err);
        goto done;
    }
    long bad = 0;
    printf("line city county town community snapped_m outside zones station\n");
    for (long n = 1; fgets(line, sizeof line, stdin); n++) {
        if (locate_line(loc, crs, n, line) != 0) bad++;
    }
    if (bad) fprintf(stderr, "patrold: locate: %ld bad line(s)\n", bad);
    rc = bad ? 1 : 0;
done:
    gis_locator_destroy(loc);
    gis_slot_destroy(a->gis);
    db_disconnect(&w);
    return rc;
}
