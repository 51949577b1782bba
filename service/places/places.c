/* places.c - place-name answers from memory: search of the gazetteer (gis/gazetteer.h) and reverse
 * geocoding (four tiers, zones and responsible station from the spatial index, the nearest named
 * places and stations from the gazetteer's own KD-tree). No database query on either path. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gis/coords.h"
#include "gis/gazetteer.h"
#include "gis/index.h"
#include "service/cmd/commands.h"
#include "service/core/auth.h"
#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/places/gisload.h"
#include "service/places/places.h"

/* Replies are written straight into one buffer (their shape is fixed): no JSON tree, no allocation
 * per field. The bytes are those json_dumps wrote for the same values. */

/* {"lon", "lat", "crs"}: a WGS-84 point in crs, rounded to 1e-7 degrees. */
static void point_write(buf *b, double lon, double lat, gis_crs crs) {
    double x = lon, y = lat;
    gis_from_wgs84(crs, lon, lat, &x, &y);
    BUF_LIT(b, "{\"lon\":");
    buf_json_fixed(b, x, 7);
    BUF_LIT(b, ",\"lat\":");
    buf_json_fixed(b, y, 7);
    BUF_LIT(b, ",\"crs\":");
    buf_json_str(b, gis_crs_name(crs));
    BUF_LIT(b, "}");
}

/* {code, name, level}: a division or zone of the spatial index. */
static void division_write(buf *b, const char *code, const char *name, const char *level) {
    BUF_LIT(b, "{\"code\":");
    buf_json_str(b, code);
    BUF_LIT(b, ",\"name\":");
    buf_json_str(b, name);
    BUF_LIT(b, ",\"level\":");
    buf_json_str(b, level);
    BUF_LIT(b, "}");
}

/* The id, name and tier of a Station, without its closing brace. */
static void station_open(buf *b, const gis_station *s) {
    BUF_LIT(b, "{\"id\":");
    buf_json_int(b, s->id);
    BUF_LIT(b, ",\"name\":");
    buf_json_str(b, s->name);
    BUF_LIT(b, ",\"tier\":");
    buf_json_str(b, gis_level_name(s->tier));
}

/* {"name", "kind", "distance_m", "location", "code"|"id"} of a nearest hit. */
static void nearby_write(buf *b, const gaz *g, const gaz_hit *h, gis_crs crs) {
    const gaz_entry *e = gaz_entry_at(g, h->entry);
    BUF_LIT(b, "{\"name\":");
    buf_json_str(b, gaz_text(g, e->name));
    BUF_LIT(b, ",\"kind\":");
    buf_json_str(b, e->kind == GAZ_STATION ? "station" : gaz_text(g, e->level));
    BUF_LIT(b, ",\"distance_m\":");
    buf_json_fixed(b, h->distance_m, 1);
    BUF_LIT(b, ",\"location\":");
    point_write(b, e->lon, e->lat, crs);
    if (e->kind == GAZ_DIVISION) {
        BUF_LIT(b, ",\"code\":");
        buf_json_str(b, e->code);
    } else {
        BUF_LIT(b, ",\"id\":");
        buf_json_int(b, e->id);
    }
    BUF_LIT(b, "}");
}

/* {code, name, level} of a division entry. */
static void brief_write(buf *b, const gaz *g, const gaz_entry *e) {
    division_write(b, e->code, gaz_text(g, e->name), gaz_text(g, e->level));
}

/* A Place (see places.h) without its closing brace: a search hit adds match and distance_m. */
static void entry_open(buf *b, const gaz *g, uint32_t i, gis_crs crs) {
    static const char *const kinds[] = {"division", "station", "place"};
    const gaz_entry *e = gaz_entry_at(g, i);
    int32_t up[16], n = 0;
    for (int32_t p = e->parent; p >= 0 && n < 16; p = gaz_entry_at(g, (uint32_t)p)->parent)
        up[n++] = p;
    BUF_LIT(b, "{\"code\":");
    buf_json_str(b, e->kind == GAZ_DIVISION ? e->code : NULL);
    BUF_LIT(b, ",\"name\":");
    buf_json_str(b, gaz_text(g, e->name));
    BUF_LIT(b, ",\"level\":");
    buf_json_str(b, gaz_text(g, e->level));
    BUF_LIT(b, ",\"kind\":");
    buf_json_str(b, kinds[e->kind]);
    BUF_LIT(b, ",\"parent_chain\":[");
    for (int k = n - 1; k >= 0; k--) {
        if (k < n - 1) BUF_LIT(b, ",");
        brief_write(b, g, gaz_entry_at(g, (uint32_t)up[k]));
    }
    BUF_LIT(b, "],\"location\":");
    if (isfinite(e->lon))
        point_write(b, e->lon, e->lat, crs);
    else
        BUF_LIT(b, "null");
    if (e->kind != GAZ_DIVISION) {
        BUF_LIT(b, ",\"id\":");
        buf_json_int(b, e->id);
    } else {
        BUF_LIT(b, ",\"valid_from\":");
        buf_json_str(b, gaz_text(g, e->valid_from));
        BUF_LIT(b, ",\"valid_to\":");
        buf_json_str(b, gaz_text(g, e->valid_to));
    }
    if (e->former) {
        const gaz_entry *t = e->replaced_by >= 0 ? gaz_entry_at(g, (uint32_t)e->replaced_by) : NULL;
        BUF_LIT(b, ",\"replaced_by\":");
        if (!t)
            BUF_LIT(b, "null");
        else if (t->former)
            brief_write(b, g, t);
        else
            places_entry_write(b, g, (uint32_t)e->replaced_by, crs);
    }
}

void places_entry_write(buf *b, const gaz *g, uint32_t i, gis_crs crs) {
    entry_open(b, g, i, crs);
    BUF_LIT(b, "}");
}

json_t *places_entry_json(const gaz *g, uint32_t i, gis_crs crs) {
    buf b = {0};
    places_entry_write(&b, g, i, crs);
    json_t *o = b.oom ? NULL : json_loadb(b.p, b.len, 0, NULL);
    buf_free(&b);
    return o;
}

/* Sends a reply written into b (200), or a 500 when writing it ran out of memory; frees b. */
static int send_written(http_req *r, buf *b) {
    int rc = b->oom ? http_error(r, 500, "internal", NULL, "out of memory")
                    : http_send(r, 200, "application/json; charset=utf-8", b->p, b->len, NULL);
    buf_free(b);
    return rc;
}

/* The items of a search reply: each hit a Place with match (and distance_m with near). */
static void hits_write(buf *b, const gaz *g, const gaz_hit *hits, int n, int near, gis_crs crs) {
    static const char *const tiers[] = {"exact", "prefix", "substring", "pinyin"};
    BUF_LIT(b, "{\"items\":[");
    for (int i = 0; i < n; i++) {
        if (i) BUF_LIT(b, ",");
        entry_open(b, g, hits[i].entry, crs);
        BUF_LIT(b, ",\"match\":");
        buf_json_str(b, tiers[hits[i].tier]);
        if (near) {
            BUF_LIT(b, ",\"distance_m\":");
            if (hits[i].distance_m >= 0)
                buf_json_fixed(b, hits[i].distance_m, 1);
            else
                BUF_LIT(b, "null");
        }
        BUF_LIT(b, "}");
    }
    BUF_LIT(b, "],\"next\":null}");
}

_Static_assert((int)PAGE_MAX <= (int)GAZ_MAX_LIMIT,
               "?limit= of /places (routes.c) fits the hits buffer");

/* The searcher's division (its significant prefix) into home when r carries a bearer token: the
 * route is public, a token only ranks the caller's own places first. A worker slot is held for
 * the token's look-up only. Returns 0 (home "" without a token), or the status sent (401, 503). */
static int search_home(http_req *r, char home[13]) {
    const char *h = http_header(r, "Authorization");
    home[0] = 0;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    int rc = http_borrow_worker(r);
    if (rc != 0) return rc;
    int ok = auth_check_token(r->w, h + 7, &r->user);
    if (ok < 0) return http_db_error(r);
    http_release_worker(r);
    if (!ok)
        return http_error(r, 401, "unauthorized", NULL, "the token is unknown, expired or revoked");
    vocab_code_prefix(r->user.division_code, home);
    return 0;
}

/* GET /api/v1/places?q=&limit=&within=&near=lon,lat&crs= (with a token: the caller's division
 * first) */
int h_places_search(http_req *r) {
    const char *q = http_q(r, "q")->s;
    const http_qval *within = http_q(r, "within"), *near = http_q(r, "near");
    char err[128], home[13];
    gis_crs crs = http_q(r, "crs")->crs;
    int n = search_home(r, home);
    if (n != 0) return n;
    gaz_query opt = {
        within->prefix,     near->given, near->lon, near->lat, (int)http_q(r, "limit")->i,
        *home ? home : NULL};
    gaz *g = gaz_slot_acquire(r->app->gaz);
    if (!g) return http_error(r, 503, "index_unavailable", NULL, "the gazetteer is not loaded yet");
    gaz_hit hits[GAZ_MAX_LIMIT];
    n = gaz_search(g, q, &opt, hits, err, sizeof err);
    if (n < 0) {
        gaz_release(g);
        return http_error(r, 400, "invalid_query", "q", "%s", err);
    }
    buf b = {0};
    buf_reserve(&b, 512 + 448 * (size_t)n); /* a hit takes about 400 bytes */
    hits_write(&b, g, hits, n, opt.near, crs);
    gaz_release(g);
    return send_written(r, &b);
}

/* A ReverseResult: the point, its divisions and zones, the responsible station and its chain, the
 * nearest named places of the gazetteer in slot gs (none while it is not loaded). */
static void reverse_write(buf *b, const gis_location *loc, gaz_slot *gs, double lon, double lat,
                          gis_crs crs) {
    BUF_LIT(b, "{\"location\":");
    point_write(b, lon, lat, crs);
    BUF_LIT(b, ",\"divisions\":[");
    for (int t = GIS_CITY, k = 0; t <= GIS_COMMUNITY; t++)
        if (loc->tiers[t]) {
            if (k++) BUF_LIT(b, ",");
            division_write(b, loc->tiers[t]->code, loc->tiers[t]->name,
                           gis_level_name((gis_level)t));
        }
    BUF_LIT(b, "],\"outside\":");
    if (loc->outside)
        BUF_LIT(b, "true");
    else
        BUF_LIT(b, "false");
    BUF_LIT(b, ",\"snapped_m\":");
    if (loc->snapped_m >= 0)
        buf_json_fixed(b, loc->snapped_m, 1);
    else
        BUF_LIT(b, "null");
    BUF_LIT(b, ",\"zones\":[");
    for (int z = 0; z < loc->nzones; z++) {
        if (z) BUF_LIT(b, ",");
        division_write(b, loc->zones[z]->code, loc->zones[z]->name,
                       vocab_code(&VOCAB_DIVISION_KIND, DK_ZONE));
    }
    BUF_LIT(b, "],\"responsible_station\":");
    if (loc->station) {
        station_open(b, loc->station);
        BUF_LIT(b, ",\"distance_m\":");
        buf_json_fixed(b, loc->station_distance_m, 1);
        BUF_LIT(b, ",\"chain\":[");
        for (int c = 0; c < loc->nchain; c++) {
            if (c) BUF_LIT(b, ",");
            station_open(b, loc->chain[c]);
            BUF_LIT(b, "}");
        }
        BUF_LIT(b, "]}");
    } else {
        BUF_LIT(b, "null");
    }
    BUF_LIT(b, ",\"nearby\":[");
    gaz *g = gaz_slot_acquire(gs);
    gaz_hit hits[5];
    int nh = g ? gaz_nearest(g, lon, lat, 5, hits) : 0;
    for (int i = 0; i < nh; i++) {
        if (i) BUF_LIT(b, ",");
        nearby_write(b, g, &hits[i], crs);
    }
    gaz_release(g);
    BUF_LIT(b, "]}");
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

    buf b = {0};
    buf_reserve(&b, 2048);
    reverse_write(&b, &loc, r->app->gaz, wlon, wlat, crs);
    return send_written(r, &b);
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
