/* tiles.c - GET /tiles/{layer}/{z}/{x}/{y}.mvt: Mapbox Vector Tiles made by PostGIS; static layers
 * (divisions, stations, coverage) cached in a bounded LRU dropped on every spatial index reload,
 * dynamic layers (reports, units) scoped to the signed-in user and never cached. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gis/coords.h"
#include "service/core/auth.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/places/tiles.h"

#define EXTENT 4096
#define BUFFER 64
#define WORLD 40075016.685578488 /* Web Mercator world width, metres */

/* Every statement takes $1 z, $2 x, $3 y, $4 simplification tolerance (metres), $5 $6 the shift
 * of a GCJ-02 base map at the tile (metres, 0 for WGS-84). */
#define TILE_CTE                                                                                   \
    "WITH e AS (SELECT ST_TileEnvelope($1::int, $2::int, $3::int) AS env, $4::float8 AS tol,"      \
    " $5::float8 AS dx, $6::float8 AS dy),"                                                        \
    " q AS (SELECT ST_Translate(ST_Expand(env, tol * 64), -dx, -dy) AS m FROM e),"                 \
    " q4 AS (SELECT ST_Transform(m, 4326) AS m4 FROM q) "
#define MVT_GEOM(g) "ST_AsMVTGeom(ST_Translate(" g ", e.dx, e.dy), e.env, 4096, 64, true) AS geom"

/* Outlines of the tiers in $7, label points of the tiers in $8. */
static const char divisions_sql[] = TILE_CTE
    "SELECT ST_AsMVT(t, 'divisions', 4096, 'geom') FROM (SELECT d.code::text AS code, "
    "d.name, d.level, " MVT_GEOM(
        "CASE WHEN GeometryType(d.geom) = 'POINT' THEN d.geom"
        " ELSE ST_Simplify(d.geom, e.tol) END") " FROM tile_divisions d, e, q WHERE d.geom && q.m AND CASE WHEN GeometryType(d.geom)"
                                                " = 'POINT' THEN d.level = ANY ($8::text[]) ELSE d.level = ANY ($7::text[]) END) t"
                                                " WHERE t.geom IS NOT NULL";

static const char stations_sql[] = TILE_CTE
    "SELECT ST_AsMVT(t, 'stations', 4096, 'geom', 'id') FROM (SELECT s.id, s.name, s.tier,"
    " s.can_dispatch, " MVT_GEOM(
        "ST_Transform(s.location, 3857)") " FROM stations s, e, q4 WHERE s.location && q4.m4) t WHERE t.geom IS NOT NULL";

static const char coverage_sql[] = TILE_CTE
    "SELECT ST_AsMVT(t, 'coverage', 4096, 'geom') FROM (SELECT c.station_id, c.name,"
    " c.tier, " MVT_GEOM(
        "ST_Simplify(c.geom, e.tol)") " FROM tile_coverage c, e, q WHERE c.geom && q.m) t WHERE t.geom IS NOT NULL";

/* Reports: $7 the user's division prefix, $8 the user's id (the visibility rule, auth.h); open
 * reports only (reports_open_geom_idx holds them). Units: $7 the user's division prefix. */
/* clang-format off */
static const char reports_sql[] = TILE_CTE
    "SELECT ST_AsMVT(t, 'reports', 4096, 'geom', 'id') FROM (SELECT r.id, r.status, r.category,"
    " " VOCAB_REPORT_ESCALATED_SQL("r") " AS escalated, to_json(r.ack_deadline)#>>'{}' AS ack_deadline, "
    MVT_GEOM("ST_Transform(r.geom, 3857)") " FROM reports r, e, q4 WHERE r.geom && q4.m4"
    " AND r.status IN (" VOCAB_SQL_ANY("ReportStatus", VOCAB_OPEN) ")"
    " AND " AUTH_REPORT_VISIBLE_SQL("r", "$7", "$8")
    " ORDER BY r.id DESC LIMIT 5000) t WHERE t.geom IS NOT NULL";

static const char units_sql[] = TILE_CTE
    "SELECT ST_AsMVT(t, 'units', 4096, 'geom', 'id') FROM (SELECT u.id, u.name, u.status,"
    " greatest(0, extract(epoch FROM now() - u.position_at))::int AS age_s, "
    MVT_GEOM("ST_Transform(u.position, 3857)") " FROM units u, e, q4 WHERE u.position && q4.m4"
    " AND " VOCAB_CODE_WITHIN_SQL("u.division_code", "$7") ") t WHERE t.geom IS NOT NULL";
/* clang-format on */

/* What a layer's statement takes after $1..$6: nothing (a static layer, the same for everyone:
 * cached), the tiers a zoom shows ($7 outline tiers, $8 label tiers: static), or the signed-in
 * user (dynamic: Bearer required, never cached): its division prefix $7 (P_SCOPE), and its id $8
 * (P_VISIBLE: the report visibility rule). */
typedef enum { P_NONE, P_TIERS, P_SCOPE, P_VISIBLE } layer_params;

/* THE layers: a new one is one row and its statement. */
static const struct layer {
    const char *name;
    const char *sql;
    layer_params params;
} layers[] = {
    {"divisions", divisions_sql, P_TIERS}, {"stations", stations_sql, P_NONE},
    {"coverage", coverage_sql, P_NONE},    {"reports", reports_sql, P_VISIBLE},
    {"units", units_sql, P_SCOPE},
};
#define NLAYERS (sizeof layers / sizeof layers[0])

static const struct layer *layer_find(const char *name) {
    for (size_t i = 0; i < NLAYERS; i++)
        if (strcmp(name, layers[i].name) == 0) return &layers[i];
    return NULL;
}

const char *tiles_sql(const char *layer) {
    const struct layer *l = layer_find(layer);
    return l ? l->sql : NULL;
}

/* ---- the cache of static tiles ---- */

typedef struct centry {
    struct centry *hnext;       /* hash chain */
    struct centry *prev, *next; /* LRU list, most recent first */
    char key[48];
    size_t len;
    unsigned char data[]; /* the tile; len 0 = an empty tile (204) */
} centry;

#define NBUCKETS 4096
static struct {
    pthread_mutex_t mu;
    centry *buckets[NBUCKETS];
    centry *head, *tail;
    size_t bytes;
    unsigned long gen; /* cache generation the entries belong to */
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER};
static atomic_ulong generation;

void tiles_invalidate(void) {
    atomic_fetch_add(&generation, 1);
}

static unsigned hash(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

static void unlink_lru(centry *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        cache.head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        cache.tail = c->prev;
}

static void remove_entry(centry *c) {
    centry **p = &cache.buckets[hash(c->key)];
    while (*p != c)
        p = &(*p)->hnext;
    *p = c->hnext;
    unlink_lru(c);
    cache.bytes -= sizeof *c + c->len;
    free(c);
}

/* Drops everything when the generation moved on. Caller holds the mutex. */
static void check_gen(unsigned long g) {
    if (cache.gen == g) return;
    while (cache.head)
        remove_entry(cache.head);
    cache.gen = g;
}

/* Copies the cached tile into a new buffer. Returns 1 (hit), 0 (miss). */
static int cache_get(const char *key, unsigned char **data, size_t *len) {
    int found = 0;
    pthread_mutex_lock(&cache.mu);
    check_gen(atomic_load(&generation));
    for (centry *c = cache.buckets[hash(key)]; c; c = c->hnext) {
        if (strcmp(c->key, key) != 0) continue;
        *data = malloc(c->len + 1);
        if (*data) {
            memcpy(*data, c->data, c->len);
            *len = c->len;
            found = 1;
            unlink_lru(c);
            c->prev = NULL;
            c->next = cache.head;
            if (cache.head) cache.head->prev = c;
            cache.head = c;
            if (!cache.tail) cache.tail = c;
        }
        break;
    }
    pthread_mutex_unlock(&cache.mu);
    return found;
}

/* Stores a tile made from data of generation g (dropped when the index reloaded meanwhile). */
static void cache_put(const char *key, const unsigned char *data, size_t len, unsigned long g,
                      size_t limit) {
    if (sizeof(centry) + len > limit / 8) return;
    centry *c = malloc(sizeof *c + len);
    if (!c) return;
    snprintf(c->key, sizeof c->key, "%s", key);
    c->len = len;
    memcpy(c->data, data, len);
    pthread_mutex_lock(&cache.mu);
    check_gen(atomic_load(&generation));
    int dup = 0;
    for (centry *o = cache.buckets[hash(key)]; o; o = o->hnext)
        dup |= strcmp(o->key, key) == 0;
    if (g != cache.gen || dup) {
        pthread_mutex_unlock(&cache.mu);
        free(c);
        return;
    }
    unsigned h = hash(key);
    c->hnext = cache.buckets[h];
    cache.buckets[h] = c;
    c->prev = NULL;
    c->next = cache.head;
    if (cache.head) cache.head->prev = c;
    cache.head = c;
    if (!cache.tail) cache.tail = c;
    cache.bytes += sizeof *c + len;
    while (cache.bytes > limit && cache.tail && cache.tail != c)
        remove_entry(cache.tail);
    pthread_mutex_unlock(&cache.mu);
}

/* ---- the handler ---- */

/* A tile coordinate 0..max: no sign, blanks or leading zeros. Returns 0 or -1. */
static int parse_uint(const char *s, long max, long *out) {
    long long v;
    if ((s[0] == '0' && s[1]) || params_int(s, 0, max, &v) != 0) return -1;
    *out = (long)v;
    return 0;
}

/* Web Mercator metres of WGS-84 (lon, lat). */
static void merc(double lon, double lat, double *x, double *y) {
    *x = lon * WORLD / 360.0;
    *y = log(tan(M_PI / 4 + lat * M_PI / 360.0)) * WORLD / (2 * M_PI);
}

/* The GCJ-02 shift at the tile's centre, in Mercator metres (applied to the whole tile: the shift
 * changes by less than a metre across a tile at the zooms where a metre shows). */
static void gcj_shift(long z, long x, long y, double *dx, double *dy) {
    double n = pow(2.0, (double)z);
    double lon = ((double)x + 0.5) / n * 360.0 - 180.0;
    double lat = atan(sinh(M_PI * (1 - 2 * ((double)y + 0.5) / n))) * 180.0 / M_PI;
    double glon, glat, x0, y0, x1, y1;
    gis_wgs84_to_gcj02(lon, lat, &glon, &glat);
    merc(lon, lat, &x0, &y0);
    merc(glon, glat, &x1, &y1);
    *dx = x1 - x0;
    *dy = y1 - y0;
}

/* text[] literals of the tiers (VOCAB_TIER): outlines[t] the tiers down to t, labels[t] tier t. */
static char outlines[TIER_COMMUNITY + 1][64], labels[TIER_COMMUNITY + 1][32];

static void tiers_make(void) {
    for (unsigned t = 0; t <= TIER_COMMUNITY; t++) {
        vocab_pg_array_bits(&VOCAB_TIER, (2u << t) - 1, outlines[t], sizeof outlines[t]);
        vocab_pg_array_bits(&VOCAB_TIER, 1u << t, labels[t], sizeof labels[t]);
    }
}

void tiles_tiers(long z, const char **outline, const char **label) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, tiers_make);
    *outline = outlines[z >= 12 ? TIER_COMMUNITY : z >= 10 ? TIER_TOWN : TIER_COUNTY];
    *label = labels[z >= 12   ? TIER_COMMUNITY
                    : z >= 10 ? TIER_TOWN
                    : z >= 7  ? TIER_COUNTY
                              : TIER_CITY];
}

/* Authorization: Bearer for the dynamic layers. Returns 0 with r->user set, or the reply. */
static int tile_auth(http_req *r) {
    const char *h = http_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return http_error(r, 401, "unauthorized", NULL,
                          "sign in first: Authorization: Bearer <token>");
    int ok = auth_check_token(r->w, h + 7, &r->user);
    if (ok < 0) return http_db_error(r);
    if (!ok)
        return http_error(r, 401, "unauthorized", NULL, "the token is unknown, expired or revoked");
    return 0;
}

/* One tile asked for: layer, z/x/y, crs. */
typedef struct {
    const struct layer *layer;
    long z, x, y;
    gis_crs crs;
} tile_req;

/* Reads layer and z/x/y of r, and its ?crs= (typed by the door). Returns 0, or the status of the
 * 400 sent. */
static int tile_parse(http_req *r, tile_req *t) {
    if (!(t->layer = layer_find(r->params[0]))) {
        char names[128] = "";
        for (size_t i = 0; i < NLAYERS; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     layers[i].name);
        return http_error(r, 400, "invalid_layer", "layer", "layer must be one of: %s", names);
    }
    if (parse_uint(r->params[1], 22, &t->z) != 0)
        return http_error(r, 400, "invalid_tile", "z", "z must be an integer 0..22");
    long max = (1L << t->z) - 1;
    if (parse_uint(r->params[2], max, &t->x) != 0)
        return http_error(r, 400, "invalid_tile", "x", "x must be an integer 0..%ld", max);
    if (parse_uint(r->params[3], max, &t->y) != 0)
        return http_error(r, 400, "invalid_tile", "y", "y must be an integer 0..%ld", max);
    t->crs = http_q(r, "crs")->crs; /* wgs84 or gcj02: tiles exist in two grids only */
    return 0;
}

/* Makes tile t with PostGIS (the dynamic layers bounded by r's user's division). Returns 0 with
 * *data (db_free it) and *len, or the status of the error sent. */
static int tile_make(http_req *r, const tile_req *t, unsigned char **data, size_t *len) {
    double tol = WORLD / (double)(1L << t->z) / EXTENT, dx = 0, dy = 0;
    if (t->crs == GIS_CRS_GCJ02) gcj_shift(t->z, t->x, t->y, &dx, &dy);
    char pz[8], px[16], py[16], ptol[32], pdx[32], pdy[32], uid[24], prefix[13];
    snprintf(pz, sizeof pz, "%ld", t->z);
    snprintf(px, sizeof px, "%ld", t->x);
    snprintf(py, sizeof py, "%ld", t->y);
    snprintf(ptol, sizeof ptol, "%.17g", tol);
    snprintf(pdx, sizeof pdx, "%.17g", dx);
    snprintf(pdy, sizeof pdy, "%.17g", dy);
    const char *p[8] = {pz, px, py, ptol, pdx, pdy, NULL, NULL};
    int np = 6;
    if (t->layer->params == P_TIERS) {
        tiles_tiers(t->z, &p[6], &p[7]);
        np = 8;
    } else if (t->layer->params != P_NONE) {
        vocab_code_prefix(r->user.division_code, prefix);
        snprintf(uid, sizeof uid, "%lld", r->user.id);
        p[6] = prefix;
        p[7] = uid;
        np = t->layer->params == P_VISIBLE ? 8 : 7;
    }
    PGresult *res = db_exec_read(r->w, t->layer->sql, np, p);
    if (!res) return http_db_error(r);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return http_error(r, 500, "internal", NULL, "no tile made");
    }
    *data = db_unescape_bytea(PQgetvalue(res, 0, 0), len);
    PQclear(res);
    if (!*data) return http_error(r, 500, "internal", NULL, "out of memory");
    return 0;
}

int h_tiles(http_req *r) {
    tile_req t = {.layer = NULL};
    int rc;
    if ((rc = tile_parse(r, &t))) return rc;
    int dynamic = t.layer->params == P_SCOPE || t.layer->params == P_VISIBLE;
    if (dynamic && (rc = tile_auth(r)) != 0) return rc;

    char key[48];
    snprintf(key, sizeof key, "%d/%ld/%ld/%ld/%d", (int)(t.layer - layers), t.z, t.x, t.y,
             (int)t.crs);
    size_t limit = r->app->cfg.tile_cache_mb > 0 ? (size_t)r->app->cfg.tile_cache_mb << 20 : 0;
    unsigned char *data = NULL;
    size_t len = 0;
    unsigned long gen = atomic_load(&generation);
    int from_pq = 0;
    const char *hdr = dynamic ? "Cache-Control: private, no-store\r\n"
                              : "Cache-Control: public, max-age=60\r\nX-Tile-Cache: miss\r\n";
    if (!dynamic && limit && cache_get(key, &data, &len)) {
        hdr = "Cache-Control: public, max-age=60\r\nX-Tile-Cache: hit\r\n";
    } else {
        if ((rc = tile_make(r, &t, &data, &len))) return rc;
        from_pq = 1;
        if (!dynamic && limit) cache_put(key, data, len, gen, limit);
    }
    if (len == 0)
        rc = http_send(r, 204, NULL, "", 0, hdr);
    else
        rc = http_send(r, 200, "application/vnd.mapbox-vector-tile", (const char *)data, len, hdr);
    if (from_pq)
        db_free(data);
    else
        free(data);
    return rc;
}
