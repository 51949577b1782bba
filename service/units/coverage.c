/* coverage.c - patrol coverage per community: the last time a unit was inside it and the share of
 * its area within 100 m of a patrol track since a time, with GEOS in CGCS2000 Gauss-Kruger metres
 * (gis/transform), cached per (division, since rounded down to the minute).
 *
 * Tracks: each unit's accepted fixes in time order, cut where two fixes are more than
 * TRACK_GAP_S seconds or TRACK_GAP_M metres apart (no straight line over a gap); a lone fix
 * counts as a point. The tracks are simplified (2 m), buffered by 100 m, and the buffer is
 * intersected with each community.
 * Cache: an answer is reused for coverage_cache_s seconds, but once positions arrived (on this
 * instance, or a unit moved on another: its event) only for a sixth of that (10 s by default), so
 * a room of dispatchers refreshing recomputes at most once per 10 s while patrols move.
 * Threads: one GEOS context per request (GEOS_init_r); PROJ through the worker's own context. */
#include <geos_c.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/transform.h"
#include "service/core/db.h"
#include "service/core/tz.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/reports/reports.h"
#include "service/units/units.h"

enum { CACHE_SLOTS = 32, TRACK_GAP_S = 600, TRACK_GAP_M = 2000 };
#define BUFFER_M 100.0

static atomic_ullong positions_gen;

void units_positions_changed(void) {
    atomic_fetch_add(&positions_gen, 1);
}

typedef struct centry {
    char key[48];
    double t;
    unsigned long long gen;
    char *json; /* owned */
} centry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static centry cache[CACHE_SLOTS];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A copy of the cached answer for key, or NULL. */
static char *cache_get(const char *key, int ttl) {
    char *out = NULL;
    double now = now_s();
    unsigned long long gen = atomic_load(&positions_gen);
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        centry *c = &cache[i];
        if (!c->json || strcmp(c->key, key)) continue;
        double age = now - c->t;
        if (age < ttl && (c->gen == gen || age < ttl / 6.0)) out = strdup(c->json);
        break;
    }
    pthread_mutex_unlock(&cache_mu);
    return out;
}

static void cache_put(const char *key, const char *json, unsigned long long gen, double t) {
    pthread_mutex_lock(&cache_mu);
    centry *slot = &cache[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!cache[i].json || !strcmp(cache[i].key, key)) {
            slot = &cache[i];
            break;
        }
        if (cache[i].t < slot->t) slot = &cache[i];
    }
    char *copy = strdup(json);
    if (copy) {
        free(slot->json);
        snprintf(slot->key, sizeof slot->key, "%s", key);
        slot->json = copy, slot->t = t, slot->gen = gen;
    }
    pthread_mutex_unlock(&cache_mu);
}

typedef struct xform {
    gis_proj *proj;
    int epsg, failed;
} xform;

static int to_gk(double *x, double *y, void *ud) {
    xform *t = ud;
    char err[128];
    if (gis_proj_to_gk(t->proj, t->epsg, *x, *y, x, y, err, sizeof err) != 0) {
        t->failed = 1;
        return 0;
    }
    return 1;
}

static void geos_msg(const char *fmt, ...) {
    (void)fmt; /* the result (NULL) is what matters; never print from a request thread */
}

typedef struct community {
    char code[13];
    char *name;
    GEOSGeometry *g; /* GK metres */
    const GEOSPreparedGeometry *prep;
    double last_at; /* 0 when no fix inside */
} community;

typedef struct hit_ctx {
    GEOSContextHandle_t h;
    GEOSGeometry *pt;
    double at;
} hit_ctx;

/* STRtree callback: the fix in ud is inside community item: remember its time. */
static void last_inside(void *item, void *ud) {
    community *c = item;
    hit_ctx *x = ud;
    if (x->at > c->last_at && GEOSPreparedIntersects_r(x->h, c->prep, x->pt) == 1)
        c->last_at = x->at;
}

/* Reads the communities of cq (code, name, WKB) into cs[0..nc), in GK metres, prepared. */
static void load_communities(GEOSContextHandle_t h, GEOSWKBReader *rd, PGresult *cq, xform *xf,
                             community *cs, int nc) {
    for (int i = 0; i < nc; i++) {
        size_t n;
        unsigned char *wkb = db_unescape_bytea(PQgetvalue(cq, i, 2), &n);
        GEOSGeometry *g = wkb ? GEOSWKBReader_read_r(h, rd, wkb, n) : NULL;
        db_free(wkb);
        snprintf(cs[i].code, sizeof cs[i].code, "%s", PQgetvalue(cq, i, 0));
        cs[i].name = PQgetvalue(cq, i, 1);
        if (!g) continue;
        cs[i].g = GEOSGeom_transformXY_r(h, g, to_gk, xf);
        GEOSGeom_destroy_r(h, g);
        if (!cs[i].g) continue;
        cs[i].prep = GEOSPrepare_r(h, cs[i].g);
    }
}

/* Appends part to *parts (growing it); destroys part when out of memory. Returns 0 or -1. */
static int add_part(GEOSContextHandle_t h, GEOSGeometry *part, GEOSGeometry ***parts, int *n,
                    int *cap) {
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 64;
        GEOSGeometry **np = realloc(*parts, sizeof *np * (size_t)c);
        if (!np) {
            GEOSGeom_destroy_r(h, part);
            return -1;
        }
        *parts = np, *cap = c;
    }
    (*parts)[(*n)++] = part;
    return 0;
}

/* The track of fixes start..i-1 (GK metres in xs, ys): a line, or a point for a lone fix. */
static GEOSGeometry *track_part(GEOSContextHandle_t h, const double *xs, const double *ys,
                                int start, int i) {
    int n = i - start;
    GEOSCoordSequence *seq = GEOSCoordSeq_create_r(h, (unsigned)(n > 1 ? n : 1), 2);
    for (int k = 0; seq && k < n; k++)
        GEOSCoordSeq_setXY_r(h, seq, (unsigned)k, xs[start + k], ys[start + k]);
    return !seq    ? NULL
           : n > 1 ? GEOSGeom_createLineString_r(h, seq)
                   : GEOSGeom_createPoint_r(h, seq);
}

/* The tracks of the fixes in fq (unit_id, epoch, lon, lat; by unit and time): lines between close
 * fixes of one unit, lone fixes as points, simplified and buffered by BUFFER_M (NULL when none;
 * *oom set when out of memory). Also sets each community's last_at. */
static GEOSGeometry *track_cover(GEOSContextHandle_t h, worker *w, PGresult *fq, int epsg,
                                 community *cs, int nc, int *oom) {
    int nf = PQntuples(fq), nparts = 0, cap = 0;
    GEOSGeometry **parts = NULL, *cover = NULL;
    double *xs = malloc(sizeof(double) * (size_t)(nf ? nf : 1) * 2), *ys = xs + (nf ? nf : 1);
    if ((*oom = !xs)) return NULL;
    GEOSSTRtree *tree = GEOSSTRtree_create_r(h, 10);
    for (int k = 0; tree && k < nc; k++)
        if (cs[k].prep) GEOSSTRtree_insert_r(h, tree, cs[k].g, &cs[k]);
    for (int i = 0, start = 0; i <= nf; i++) {
        if (i < nf) {
            double lon = atof(PQgetvalue(fq, i, 2)), lat = atof(PQgetvalue(fq, i, 3));
            char err[128];
            if (gis_proj_to_gk(w->proj, epsg, lon, lat, &xs[i], &ys[i], err, sizeof err) != 0)
                xs[i] = ys[i] = 0;
            hit_ctx hc = {h, GEOSGeom_createPointFromXY_r(h, xs[i], ys[i]),
                          atof(PQgetvalue(fq, i, 1))};
            if (hc.pt && tree) GEOSSTRtree_query_r(h, tree, hc.pt, last_inside, &hc);
            GEOSGeom_destroy_r(h, hc.pt);
        }
        int cut = i == nf ||
                  (i > start &&
                   (strcmp(PQgetvalue(fq, i, 0), PQgetvalue(fq, i - 1, 0)) != 0 ||
                    atof(PQgetvalue(fq, i, 1)) - atof(PQgetvalue(fq, i - 1, 1)) > TRACK_GAP_S ||
                    hypot(xs[i] - xs[i - 1], ys[i] - ys[i - 1]) > TRACK_GAP_M));
        if (!cut || i == start) continue;
        GEOSGeometry *part = track_part(h, xs, ys, start, i);
        if (part && add_part(h, part, &parts, &nparts, &cap) != 0) break;
        start = i;
    }
    free(xs);
    if (tree) GEOSSTRtree_destroy_r(h, tree);
    if (nparts) {
        GEOSGeometry *coll =
            GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, parts, (unsigned)nparts);
        if (coll) {
            /* 2 m Douglas-Peucker first: a day of 5-second fixes is mostly collinear points */
            GEOSGeometry *simple = GEOSSimplify_r(h, coll, 2.0);
            cover = GEOSBuffer_r(h, simple ? simple : coll, BUFFER_M, 8);
            if (simple) GEOSGeom_destroy_r(h, simple);
            GEOSGeom_destroy_r(h, coll);
        } else {
            for (int i = 0; i < nparts; i++)
                GEOSGeom_destroy_r(h, parts[i]);
        }
    }
    free(parts);
    return cover;
}

/* One item per community: code, name, last_patrolled_at, covered_share (of cover), area_m2. */
static json_t *coverage_items(GEOSContextHandle_t h, const community *cs, int nc,
                              const GEOSGeometry *cover) {
    const GEOSPreparedGeometry *pcover = cover ? GEOSPrepare_r(h, cover) : NULL;
    json_t *items = json_array();
    for (int i = 0; i < nc; i++) {
        const community *c = &cs[i];
        double area = 0, share = 0;
        if (c->g) GEOSArea_r(h, c->g, &area);
        if (c->g && pcover && area > 0 && GEOSPreparedIntersects_r(h, pcover, c->g) == 1) {
            GEOSGeometry *x = GEOSIntersection_r(h, c->g, cover);
            double ai = 0;
            if (x) GEOSArea_r(h, x, &ai);
            GEOSGeom_destroy_r(h, x);
            share = ai / area;
        }
        json_t *last = json_null();
        if (c->last_at > 0) {
            char buf[TZ_RFC3339_LEN];
            tz_rfc3339((time_t)c->last_at, buf);
            last = json_string(buf);
        }
        json_array_append_new(items,
                              json_pack("{s:s,s:s,s:o,s:f,s:f}", "code", c->code, "name", c->name,
                                        "last_patrolled_at", last, "covered_share",
                                        round(share * 10000) / 10000, "area_m2", round(area)));
    }
    if (pcover) GEOSPreparedGeom_destroy_r(h, pcover);
    return items;
}

/* Computes the coverage JSON text (caller frees) for communities under `like` since `since`.
 * Returns NULL with *status set (503/500) on failure. */
static char *compute(http_req *r, const char *like, double since, const char *since_txt,
                     int *status) {
    worker *w = r->w;
    GEOSContextHandle_t h = GEOS_init_r();
    GEOSWKBReader *rd = NULL;
    PGresult *cq = NULL, *fq = NULL;
    community *cs = NULL;
    int nc = 0;
    GEOSGeometry *cover = NULL;
    char *out = NULL;
    *status = 500;
    if (!h) return NULL;
    GEOSContext_setErrorHandler_r(h, geos_msg);
    GEOSContext_setNoticeHandler_r(h, geos_msg);
    const char *pc[] = {like};
    if (!(cq = db_exec_read(
              w,
              "SELECT code, name, ST_AsBinary(geom), ST_X(ST_Centroid(geom)) FROM divisions"
              " WHERE level = 'community' AND kind = 'admin' AND code LIKE $1 AND geom IS NOT NULL"
              " ORDER BY code",
              1, pc)))
        goto dberr;
    char st[32];
    snprintf(st, sizeof st, "%.3f", since);
    const char *pf[] = {st, like};
    if (!(fq = db_exec_read(
              w,
              "SELECT unit_id, extract(epoch FROM at)::float8, ST_X(geom), ST_Y(geom) FROM unit_positions"
              " WHERE at >= to_timestamp($1::float8) AND NOT flagged AND geom && (SELECT"
              " ST_Expand(ST_Extent(geom), 0.01) FROM divisions WHERE level = 'community'"
              " AND kind = 'admin' AND code LIKE $2) ORDER BY unit_id, at",
              2, pf)))
        goto dberr;
    nc = PQntuples(cq);
    xform xf = {w->proj, nc ? gis_gk_epsg_for_lon(atof(PQgetvalue(cq, 0, 3))) : 4549, 0};
    if (xf.epsg < 0) xf.epsg = 4549;
    if (!(cs = calloc((size_t)(nc ? nc : 1), sizeof *cs)) || !(rd = GEOSWKBReader_create_r(h)))
        goto done;
    load_communities(h, rd, cq, &xf, cs, nc);
    int oom;
    if (!(cover = track_cover(h, w, fq, xf.epsg, cs, nc, &oom)) && oom) goto done;
    json_t *o = json_pack("{s:s,s:f,s:i,s:o}", "since", since_txt, "buffer_m", BUFFER_M, "fixes",
                          PQntuples(fq), "items", coverage_items(h, cs, nc, cover));
    out = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    goto done;
dberr:
    *status = http_db_error(r);
done:
    for (int i = 0; cs && i < nc; i++) {
        if (cs[i].prep) GEOSPreparedGeom_destroy_r(h, cs[i].prep);
        GEOSGeom_destroy_r(h, cs[i].g);
    }
    free(cs);
    if (cover) GEOSGeom_destroy_r(h, cover);
    if (rd) GEOSWKBReader_destroy_r(h, rd);
    PQclear(cq);
    PQclear(fq);
    GEOS_finish_r(h);
    return out;
}

/* GET /api/v1/coverage?since=&division= (staff) */
int h_coverage(http_req *r) {
    char code[13], prefix[13], key[48], since_txt[32];
    const http_qval *sq = http_q(r, "since"), *dq = http_q(r, "division");
    double now = now_s(), since = sq->given ? sq->d : now - 86400;
    int keep = r->app->cfg.position_retention_days, rc;
    if (since > now || since < now - 86400.0 * (keep + 1))
        return http_error(r, 400, "invalid_field", "since",
                          "since must be in the past and within the %d days of positions kept",
                          keep);
    since = floor(since / 60) * 60;
    snprintf(code, sizeof code, "%s", dq->given ? dq->s : r->user.division_code);
    if (!auth_in_scope(&r->user, code))
        return http_error(r, 404, "not_found", "division", "no such division: %s", code);
    vocab_code_prefix(code, prefix);
    tz_rfc3339((time_t)since, since_txt);
    snprintf(key, sizeof key, "%s|%.0f", prefix, since);
    int ttl = r->app->cfg.coverage_cache_s;
    char *json = cache_get(key, ttl);
    int hit = json != NULL;
    if (!json) {
        unsigned long long gen = atomic_load(&positions_gen);
        char like[16];
        int status;
        snprintf(like, sizeof like, "%s%%", prefix);
        if (!(json = compute(r, like, since, since_txt, &status)))
            return r->status ? r->status : http_error(r, 500, "internal", NULL, "coverage failed");
        cache_put(key, json, gen, now);
    }
    rc = http_send(r, 200, "application/json; charset=utf-8", json, strlen(json),
                   hit ? "X-Cache: hit\r\n" : "X-Cache: miss\r\n");
    free(json);
    return rc;
}
