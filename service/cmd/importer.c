/* importer.c - `patrold import-divisions`: streams a GeoJSON FeatureCollection (gzip or plain) one
 * feature at a time (a brace-depth scanner splits the features array; jansson parses one feature),
 * validates and repairs each with GEOS, converts it to WGS-84 and upserts it into `divisions`.
 * Single-threaded: one GEOS context per import_geojson() call. */
#include "service/cmd/importer.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <geos_c.h>
#include <jansson.h>
#include <zlib.h>

#include "gis/geom.h"
#include "service/cmd/commands.h"
#include "service/cmd/import_csv.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/params.h"

#define FEATURE_MAX ((size_t)512 << 20) /* one feature's JSON text */
#define SKELETON_MAX ((size_t)1 << 20)  /* the top-level object without the features */
#define NEST_MAX 64                     /* GeoJSON needs 7 */
#define CHUNK (1 << 18)

int import_level_valid(const char *level) {
    return vocab_find(&VOCAB_LEVEL, level) >= 0;
}

void import_parent_code(const char *code12, const char *level, char out[13]) {
    /* the digits of the parent's code, by VOCAB_LEVEL position (a province has none) */
    static const int keep[] = {[LEVEL_PROVINCE] = 0,
                               [LEVEL_CITY] = 2,
                               [LEVEL_COUNTY] = 4,
                               [LEVEL_TOWN] = 6,
                               [LEVEL_COMMUNITY] = 9};
    int i = vocab_find(&VOCAB_LEVEL, level);
    out[0] = 0;
    if (i <= 0 || (size_t)i >= sizeof keep / sizeof keep[0]) return;
    memcpy(out, code12, (size_t)keep[i]);
    memset(out + keep[i], '0', (size_t)(12 - keep[i]));
    out[12] = 0;
}

/* ---- growable byte buffer ---- */

typedef struct textbuf {
    char *p;
    size_t len, cap;
} textbuf;

/* Appends n bytes; -1 when that would pass `limit` or memory runs out. */
static int textbuf_put(textbuf *b, const char *s, size_t n, size_t limit) {
    if (b->len + n > limit) return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* ---- one import ---- */

typedef struct imp {
    worker *w;
    const import_opts *o;
    import_stats *st;
    GEOSContextHandle_t g;
    GEOSWKBWriter *wkb;
    char gerr[256]; /* last GEOS error message */
    double *xy;     /* one ring's coordinates, interleaved lon/lat */
    size_t xycap;
    GEOSGeometry **holes; /* one polygon's holes */
    size_t nholes, holescap;
    GEOSGeometry **polys; /* one feature's polygons */
    size_t npolys, polyscap;
    int pending; /* an upsert was sent and its result not read yet */
    long pending_index;
    char pending_code[13];
    char *err;
    size_t errlen;
} imp;

static void geos_message(const char *msg, void *ud) {
    imp *im = ud;
    snprintf(im->gerr, sizeof im->gerr, "%s", msg);
}

static void geos_notice(const char *msg, void *ud) {
    (void)msg, (void)ud;
}

static void reject(imp *im, long index, const char *code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    im->st->rejected++;
    if (im->o->on_reject) im->o->on_reject(im->o->ctx, index, code, msg);
}

static const char *json_kind(const json_t *v) {
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return v ? "null" : "missing";
    }
}

/* Pushes p onto a growable pointer array; -1 on out of memory. */
static int ptr_push(GEOSGeometry ***arr, size_t *n, size_t *cap, GEOSGeometry *p) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        GEOSGeometry **a = realloc(*arr, c * sizeof *a);
        if (!a) return -1;
        *arr = a, *cap = c;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

static void free_parts(imp *im) {
    for (size_t i = 0; i < im->nholes; i++)
        GEOSGeom_destroy_r(im->g, im->holes[i]);
    for (size_t i = 0; i < im->npolys; i++)
        GEOSGeom_destroy_r(im->g, im->polys[i]);
    im->nholes = im->npolys = 0;
}

/* Outcome of reading a feature's coordinates. */
enum { GEOM_OK = 0, GEOM_REJECT = 1, GEOM_FATAL = -1 };

/* Reads one ring (a JSON array of positions) into a GEOS LinearRing, in the file's CRS (checked
 * to be convertible to WGS-84).
 * *out is NULL when the ring is degenerate (fewer than 4 positions once closed) and was dropped.
 * Sets *fixed when the ring had to be closed or was dropped. */
static int read_ring(imp *im, json_t *ring, const char *path, GEOSGeometry **out, int *fixed,
                     char *why, size_t whylen) {
    *out = NULL;
    if (!json_is_array(ring)) {
        snprintf(why, whylen, "coordinates are %s, not an array (at %s)", json_kind(ring), path);
        return GEOM_REJECT;
    }
    size_t n = json_array_size(ring);
    if (2 * (n + 1) > im->xycap) {
        size_t cap = 2 * (n + 1) + 64;
        double *xy = realloc(im->xy, cap * sizeof *xy);
        if (!xy) {
            snprintf(im->err, im->errlen, "out of memory");
            return GEOM_FATAL;
        }
        im->xy = xy, im->xycap = cap;
    }
    for (size_t k = 0; k < n; k++) {
        json_t *pos = json_array_get(ring, k);
        json_t *x = json_array_get(pos, 0), *y = json_array_get(pos, 1);
        if (!json_is_array(pos)) {
            snprintf(why, whylen, "coordinates are %s, not an array (at %s[%zu])", json_kind(pos),
                     path, k);
            return GEOM_REJECT;
        }
        if (!json_is_number(x) || !json_is_number(y)) {
            snprintf(why, whylen, "position is not [lon, lat] numbers (at %s[%zu])", path, k);
            return GEOM_REJECT;
        }
        double lon = json_number_value(x), lat = json_number_value(y), wlon, wlat;
        /* Kept in the file's CRS: repaired there, converted to WGS-84 afterwards. */
        im->xy[2 * k] = lon;
        im->xy[2 * k + 1] = lat;
        if (gis_to_wgs84(im->o->crs, lon, lat, &wlon, &wlat) != 0) {
            snprintf(why, whylen, "coordinate out of range: %.10g, %.10g (at %s[%zu])", lon, lat,
                     path, k);
            return GEOM_REJECT;
        }
    }
    if (n > 0 && (im->xy[0] != im->xy[2 * n - 2] || im->xy[1] != im->xy[2 * n - 1])) {
        im->xy[2 * n] = im->xy[0], im->xy[2 * n + 1] = im->xy[1];
        n++;
        *fixed = 1;
    }
    if (n < 4) {
        *fixed = 1;
        return GEOM_OK;
    }
    GEOSCoordSequence *seq = GEOSCoordSeq_copyFromBuffer_r(im->g, im->xy, (unsigned)n, 0, 0);
    GEOSGeometry *lr = seq ? GEOSGeom_createLinearRing_r(im->g, seq) : NULL;
    if (!lr) { /* GEOS owns (and has freed) seq even when the ring fails */
        snprintf(why, whylen, "bad ring (at %s): %s", path, im->gerr);
        return GEOM_REJECT;
    }
    *out = lr;
    return GEOM_OK;
}

/* Reads a Polygon's rings (coordinates `rings` at `path`) into im->polys (0 or 1 polygon). */
static int read_polygon(imp *im, json_t *rings, const char *path, int *fixed, char *why,
                        size_t whylen) {
    char sub[80];
    if (!json_is_array(rings)) {
        snprintf(why, whylen, "coordinates are %s, not an array (at %s)", json_kind(rings), path);
        return GEOM_REJECT;
    }
    GEOSGeometry *shell = NULL;
    int rc = GEOM_OK;
    for (size_t j = 0; j < json_array_size(rings); j++) {
        GEOSGeometry *lr;
        snprintf(sub, sizeof sub, "%s[%zu]", path, j);
        if ((rc = read_ring(im, json_array_get(rings, j), sub, &lr, fixed, why, whylen)) != GEOM_OK)
            goto done;
        if (j == 0)
            shell = lr;
        else if (lr && shell && ptr_push(&im->holes, &im->nholes, &im->holescap, lr) != 0) {
            GEOSGeom_destroy_r(im->g, lr);
            snprintf(im->err, im->errlen, "out of memory");
            rc = GEOM_FATAL;
            goto done;
        } else if (lr && !shell)
            GEOSGeom_destroy_r(im->g, lr); /* hole of a dropped shell */
    }
    if (shell) {
        GEOSGeometry *p = GEOSGeom_createPolygon_r(im->g, shell, im->holes, (unsigned)im->nholes);
        shell = NULL;
        im->nholes = 0; /* owned by the polygon now (or freed by GEOS on failure) */
        if (!p || ptr_push(&im->polys, &im->npolys, &im->polyscap, p) != 0) {
            if (p) GEOSGeom_destroy_r(im->g, p);
            snprintf(im->err, im->errlen, "cannot build a polygon: %s", im->gerr);
            rc = GEOM_FATAL;
        }
    }
done:
    if (shell) GEOSGeom_destroy_r(im->g, shell);
    for (size_t i = 0; i < im->nholes; i++)
        GEOSGeom_destroy_r(im->g, im->holes[i]);
    im->nholes = 0;
    return rc;
}

/* A valid MultiPolygon made from g by the one repair rule of gis/geom.h, or NULL when nothing
 * valid and polygonal is left. The caller owns the result. */
static GEOSGeometry *repair(imp *im, const GEOSGeometry *g) {
    GEOSGeometry *v = gis_polygon_repair(im->g, g);
    GEOSGeometry *out = v ? gis_polygon_multi(im->g, v) : NULL;
    if (v) GEOSGeom_destroy_r(im->g, v);
    return out;
}

/* GEOSGeom_transformXY_r callback: the file's CRS (userdata) to WGS-84. */
static int to_wgs84_xy(double *x, double *y, void *ud) {
    const gis_crs *crs = ud;
    return gis_to_wgs84(*crs, *x, *y, x, y) == 0;
}

/* Waits for the upsert in flight (if any). Returns 0, or -1 with im->err. */
static int upsert_wait(imp *im) {
    if (!im->pending) return 0;
    im->pending = 0;
    if (db_wait(im->w) == 0) return 0;
    snprintf(im->err, im->errlen, "database (feature %ld, code %s): %s", im->pending_index,
             im->pending_code, im->w->err);
    return -1;
}

/* Sends one upsert and returns without waiting for it, so that the server stores feature N while
 * this process parses and validates feature N + 1. Returns 0, or -1 with im->err. */
static int upsert(imp *im, long index, const char *code, const char *name, const char *level,
                  const unsigned char *wkb, size_t wkblen) {
    char parent[13];
    if (upsert_wait(im) != 0) return -1;
    import_parent_code(code, level, parent);
    const char *params[] = {code, name, level, parent[0] ? parent : NULL, (const char *)wkb};
    int lengths[] = {0, 0, 0, 0, (int)wkblen};
    int formats[] = {0, 0, 0, 0, 1};
    if (db_send(im->w,
                "INSERT INTO divisions (code, name, level, parent_code, geom, synthetic)"
                " VALUES ($1, $2, $3, $4, ST_Multi(ST_GeomFromWKB($5::bytea, 4326)), false)"
                " ON CONFLICT (code) DO UPDATE SET geom = EXCLUDED.geom, synthetic = false,"
                " updated_at = now()",
                5, params, lengths, formats) != 0) {
        snprintf(im->err, im->errlen, "database: %s", im->w->err);
        return -1;
    }
    im->pending = 1;
    im->pending_index = index;
    memcpy(im->pending_code, code, 13);
    return 0;
}

/* What each step of load_feature returns: carry on, the feature was rejected (reported), or a
 * file-level failure (im->err). */
enum { FEAT_OK = 0, FEAT_REJECTED = 1, FEAT_FATAL = -1 };

/* The feature's code (12 digits into code), name and level (the --level override first). */
static int feature_props(imp *im, long index, json_t *f, char code[13], const char **name,
                         const char **level) {
    const char *ftype = json_string_value(json_object_get(f, "type"));
    if (ftype && strcmp(ftype, "Feature") != 0) {
        reject(im, index, NULL, "type is \"%.40s\", not \"Feature\"", ftype);
        return FEAT_REJECTED;
    }
    json_t *props = json_object_get(f, "properties");
    json_t *jcode = json_object_get(props, "code");
    char raw[32];
    if (json_is_string(jcode))
        snprintf(raw, sizeof raw, "%s", json_string_value(jcode));
    else if (json_is_integer(jcode))
        snprintf(raw, sizeof raw, "%lld", (long long)json_integer_value(jcode));
    else {
        reject(im, index, NULL, "properties.code is %s, not a string of 4, 6, 9 or 12 digits",
               json_kind(jcode));
        return FEAT_REJECTED;
    }
    if (vocab_code12(raw, 4, code) != 0) {
        reject(im, index, NULL, "properties.code \"%.20s\" is not 4, 6, 9 or 12 digits", raw);
        return FEAT_REJECTED;
    }
    *name = json_string_value(json_object_get(props, "name"));
    if (!*name || !**name || strlen(*name) > 200) {
        reject(im, index, code, "properties.name must be a string of 1 to 200 bytes");
        return FEAT_REJECTED;
    }
    *level = im->o->level;
    if (!*level) {
        json_t *jl = json_object_get(props, "level");
        *level = jl ? json_string_value(jl) : vocab_code(&VOCAB_LEVEL, LEVEL_COUNTY);
        if (!import_level_valid(*level)) {
            char msg[128];
            vocab_message(&VOCAB_LEVEL, "properties.level", 0, msg, sizeof msg);
            reject(im, index, code, "%s", msg);
            return FEAT_REJECTED;
        }
    }
    return FEAT_OK;
}

/* The feature's Polygon or MultiPolygon as a new MultiPolygon in *out (file's CRS, not yet
 * checked for validity); *fixed set when a ring needed closing or cleaning. */
static int feature_polygons(imp *im, long index, const char *code, json_t *f, int *fixed,
                            GEOSGeometry **out) {
    char why[400];
    json_t *geom = json_object_get(f, "geometry");
    if (!json_is_object(geom)) {
        reject(im, index, code, "geometry is %s, not an object", json_kind(geom));
        return FEAT_REJECTED;
    }
    const char *gtype = json_string_value(json_object_get(geom, "type"));
    int multi = gtype && strcmp(gtype, "MultiPolygon") == 0;
    if (!gtype || (!multi && strcmp(gtype, "Polygon") != 0)) {
        reject(im, index, code, "geometry type %.40s is not Polygon or MultiPolygon",
               gtype ? gtype : "(none)");
        return FEAT_REJECTED;
    }
    json_t *coords = json_object_get(geom, "coordinates");
    if (!json_is_array(coords)) {
        reject(im, index, code, "coordinates are %s, not an array", json_kind(coords));
        return FEAT_REJECTED;
    }
    if (json_array_size(coords) == 0) {
        reject(im, index, code, "geometry is empty (no coordinates)");
        return FEAT_REJECTED;
    }
    size_t np = multi ? json_array_size(coords) : 1;
    for (size_t i = 0; i < np; i++) {
        char path[48];
        if (multi)
            snprintf(path, sizeof path, "coordinates[%zu]", i);
        else
            snprintf(path, sizeof path, "coordinates");
        int r = read_polygon(im, multi ? json_array_get(coords, i) : coords, path, fixed, why,
                             sizeof why);
        if (r == GEOM_FATAL) return FEAT_FATAL;
        if (r == GEOM_REJECT) {
            reject(im, index, code, "%s", why);
            return FEAT_REJECTED;
        }
    }
    if (im->npolys == 0) {
        reject(im, index, code, "geometry is empty (every ring has fewer than 4 points)");
        return FEAT_REJECTED;
    }
    *out = GEOSGeom_createCollection_r(im->g, GEOS_MULTIPOLYGON, im->polys, (unsigned)im->npolys);
    if (!*out) {
        snprintf(im->err, im->errlen, "cannot build a multipolygon: %s", im->gerr);
        return FEAT_FATAL;
    }
    im->npolys = 0; /* owned by *out */
    return FEAT_OK;
}

/* Makes *g (owned, replaced) valid and WGS-84: repaired in the file's own coordinates, where
 * quantised collinear edges are exactly collinear (repairing after a non-linear shift leaves
 * micro-slivers), then converted and checked again. *fixed set when repaired. */
static int feature_fix(imp *im, long index, const char *code, GEOSGeometry **g, int *fixed) {
    if (GEOSisValid_r(im->g, *g) != 1) {
        GEOSGeometry *v = repair(im, *g);
        if (!v) {
            reject(im, index, code, "invalid geometry that MakeValid cannot repair (%s)", im->gerr);
            return FEAT_REJECTED;
        }
        GEOSGeom_destroy_r(im->g, *g);
        *g = v;
        *fixed = 1;
    }
    if (im->o->crs != GIS_CRS_GCJ02 && im->o->crs != GIS_CRS_BD09) return FEAT_OK;
    gis_crs crs = im->o->crs;
    GEOSGeometry *t = GEOSGeom_transformXY_r(im->g, *g, to_wgs84_xy, &crs);
    if (!t) {
        reject(im, index, code, "cannot convert to WGS-84 (%s)", im->gerr);
        return FEAT_REJECTED;
    }
    GEOSGeom_destroy_r(im->g, *g);
    *g = t;
    if (GEOSisValid_r(im->g, t) == 1) return FEAT_OK;
    GEOSGeometry *v = repair(im, t);
    if (!v) {
        reject(im, index, code, "invalid after conversion to WGS-84, MakeValid cannot repair (%s)",
               im->gerr);
        return FEAT_REJECTED;
    }
    GEOSGeom_destroy_r(im->g, *g);
    *g = v;
    *fixed = 1;
    return FEAT_OK;
}

/* Validates and loads one element of the features array. Returns 0 (imported or rejected) or -1
 * (file-level failure, message in im->err). */
static int load_feature(imp *im, long index, const char *text, size_t len) {
    json_error_t je;
    json_t *f = json_loadb(text, len, JSON_DECODE_ANY, &je);
    GEOSGeometry *mp = NULL;
    unsigned char *wkb = NULL;
    char code[13] = "";
    const char *name = NULL, *level = NULL;
    int r, fixed = 0;
    im->st->features++;
    im->gerr[0] = 0;
    if (!f) {
        snprintf(im->err, im->errlen, "not valid JSON in feature %ld: %s (line %d of the feature)",
                 index, je.text, je.line);
        return -1;
    }
    if (!json_is_object(f)) {
        reject(im, index, NULL, "a feature must be an object, not %s", json_kind(f));
        r = FEAT_REJECTED;
        goto done;
    }
    if ((r = feature_props(im, index, f, code, &name, &level)) != FEAT_OK ||
        (r = feature_polygons(im, index, code, f, &fixed, &mp)) != FEAT_OK ||
        (r = feature_fix(im, index, code, &mp, &fixed)) != FEAT_OK)
        goto done;
    size_t wkblen = 0;
    wkb = GEOSWKBWriter_write_r(im->g, im->wkb, mp, &wkblen);
    if (!wkb) {
        snprintf(im->err, im->errlen, "cannot write WKB for feature %ld: %s", index, im->gerr);
        r = FEAT_FATAL;
        goto done;
    }
    if (upsert(im, index, code, name, level, wkb, wkblen) != 0) {
        r = FEAT_FATAL;
        goto done;
    }
    im->st->imported++;
    im->st->repaired += fixed;
done:
    free_parts(im);
    if (wkb) GEOSFree_r(im->g, wkb);
    if (mp) GEOSGeom_destroy_r(im->g, mp);
    json_decref(f);
    return r == FEAT_FATAL ? -1 : 0;
}

/* ---- the streaming scanner ---- */

typedef struct scan {
    int depth;
    char stack[NEST_MAX];
    int in_str, esc;
    int started, finished; /* top-level '{' seen / its '}' seen */
    int in_features;       /* inside the top-level "features" array */
    int features_seen;
    int key_capture, key_len, after_str; /* the last depth-1 string, a key once ':' follows */
    char key[16], cur_key[16];
    long index; /* next element of the features array */
    textbuf skel, elem;
} scan;

/* One byte inside a string: escapes, its end, and the depth-1 key being captured. */
static void scan_string_byte(scan *s, char c) {
    if (s->esc)
        s->esc = 0, s->key_len = (int)sizeof s->key; /* escaped key: never "features" */
    else if (c == '\\')
        s->esc = 1;
    else if (c == '"') {
        s->in_str = 0;
        if (s->key_capture) s->key_capture = 0, s->after_str = 1;
    } else if (s->key_capture && s->key_len < (int)sizeof s->key - 1)
        s->key[s->key_len++] = c;
    else if (s->key_capture)
        s->key_len = (int)sizeof s->key;
}

/* Feeds n bytes. Returns 0 or -1 with im->err. */
static int scan_feed(scan *s, imp *im, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        textbuf *to = s->in_features && s->depth >= 2 ? &s->elem : &s->skel;
        size_t limit = to == &s->elem ? FEATURE_MAX : SKELETON_MAX;
        if (s->in_str) {
            if (textbuf_put(to, &c, 1, limit) != 0) goto too_big;
            scan_string_byte(s, c);
            continue;
        }
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            if (to == &s->skel && textbuf_put(to, &c, 1, limit) != 0) goto too_big;
            if (to == &s->elem && s->elem.len && textbuf_put(to, &c, 1, limit) != 0) goto too_big;
            continue;
        }
        if (s->finished) {
            snprintf(im->err, im->errlen, "not JSON: data after the end of the top-level object");
            return -1;
        }
        if (!s->started) {
            if (c != '{') {
                snprintf(im->err, im->errlen,
                         c == '[' ? "not a FeatureCollection: the top level is an array"
                                  : "not JSON: the file does not start with '{'");
                return -1;
            }
            s->started = 1;
        }
        if (s->in_features && s->depth == 2 && (c == ',' || c == ']')) {
            if (s->elem.len) {
                if (load_feature(im, s->index, s->elem.p, s->elem.len) != 0) return -1;
                s->elem.len = 0;
                s->index++;
            } else if (c == ',' || s->index > 0) {
                snprintf(im->err, im->errlen,
                         "not JSON: empty element in the features array after feature %ld",
                         s->index - 1);
                return -1;
            }
            if (c == ',') continue;
            s->in_features = 0;
            to = &s->skel;
        }
        if (textbuf_put(to, &c, 1, limit) != 0) goto too_big;
        int was_after = s->after_str;
        s->after_str = 0;
        if (c == '"') {
            s->in_str = 1;
            if (s->depth == 1) s->key_capture = 1, s->key_len = 0;
        } else if (c == ':' && s->depth == 1 && was_after) {
            memcpy(s->cur_key, s->key, (size_t)s->key_len);
            s->cur_key[s->key_len < (int)sizeof s->cur_key ? s->key_len : 0] = 0;
            if (s->key_len >= (int)sizeof s->cur_key) s->cur_key[0] = 0;
        } else if (c == '{' || c == '[') {
            if (s->depth >= NEST_MAX) {
                snprintf(im->err, im->errlen, "JSON nested deeper than %d levels", NEST_MAX);
                return -1;
            }
            s->stack[s->depth++] = c;
            if (c == '[' && s->depth == 2 && !s->features_seen &&
                strcmp(s->cur_key, "features") == 0)
                s->in_features = s->features_seen = 1;
        } else if (c == '}' || c == ']') {
            if (s->depth == 0 || s->stack[s->depth - 1] != (c == '}' ? '{' : '[')) {
                snprintf(im->err, im->errlen, "not JSON: unbalanced '%c' near feature %ld", c,
                         s->index);
                return -1;
            }
            if (--s->depth == 0) s->finished = 1;
        }
    }
    return 0;
too_big:
    snprintf(im->err, im->errlen, "%s is larger than %zu MB (or out of memory)",
             s->in_features ? "a feature" : "the top-level object outside \"features\"",
             (s->in_features ? FEATURE_MAX : SKELETON_MAX) >> 20);
    return -1;
}

/* After the last byte: the skeleton must be a FeatureCollection with a features array. */
static int scan_finish(scan *s, imp *im) {
    json_error_t je;
    if (!s->started) {
        snprintf(im->err, im->errlen, "not JSON: the file is empty");
        return -1;
    }
    if (!s->finished || s->in_str) {
        snprintf(im->err, im->errlen, "truncated: the JSON ends inside %s (after %ld features)",
                 s->in_features ? "the features array" : "the top-level object", s->index);
        return -1;
    }
    json_t *top = json_loadb(s->skel.p, s->skel.len, 0, &je);
    if (!top) {
        snprintf(im->err, im->errlen, "not JSON: %s (line %d outside the features)", je.text,
                 je.line);
        return -1;
    }
    const char *type = json_string_value(json_object_get(top, "type"));
    int ok = type && strcmp(type, "FeatureCollection") == 0 && s->features_seen;
    if (!ok)
        snprintf(im->err, im->errlen, "not a FeatureCollection (type %s%s)",
                 type ? type : "missing", s->features_seen ? "" : ", no features array");
    json_decref(top);
    return ok ? 0 : -1;
}

int import_geojson(worker *w, const char *path, const import_opts *opts, import_stats *st,
                   char *err, size_t errlen) {
    imp im = {.w = w, .o = opts, .st = st, .err = err, .errlen = errlen};
    scan s = {0};
    char *chunk = NULL;
    gzFile gz = NULL;
    int rc = -1;
    unsigned char magic[2] = {0, 0};
    memset(st, 0, sizeof *st);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    int gzipped = fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    fclose(f);
    gz = gzopen(path, "rb"); /* reads plain files as they are */
    chunk = malloc(CHUNK);
    im.g = GEOS_init_r();
    if (!gz || !chunk || !im.g) {
        snprintf(err, errlen, "cannot open %s (or out of memory)", path);
        goto done;
    }
    gzbuffer(gz, CHUNK);
    GEOSContext_setErrorMessageHandler_r(im.g, geos_message, &im);
    GEOSContext_setNoticeMessageHandler_r(im.g, geos_notice, &im);
    im.wkb = GEOSWKBWriter_create_r(im.g);
    if (!im.wkb) goto done;
    GEOSWKBWriter_setOutputDimension_r(im.g, im.wkb, 2);
    for (;;) {
        int n = gzread(gz, chunk, CHUNK);
        if (n < 0) {
            int errnum;
            const char *m = gzerror(gz, &errnum);
            snprintf(err, errlen, "%s: %s", gzipped ? "truncated or corrupt gzip" : "read error",
                     m);
            goto done;
        }
        if (n == 0) break;
        if (scan_feed(&s, &im, chunk, (size_t)n) != 0) goto done;
    }
    int errnum = Z_OK;
    const char *m = gzerror(gz, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END) {
        snprintf(err, errlen, "%s: %s", gzipped ? "truncated or corrupt gzip" : "read error", m);
        goto done;
    }
    if (scan_finish(&s, &im) != 0) goto done;
    rc = 0;
done:
    if (rc != 0) { /* drain the upsert in flight; the first failure is the one to report */
        char scratch[256];
        im.err = scratch, im.errlen = sizeof scratch;
        upsert_wait(&im);
    } else if (upsert_wait(&im) != 0)
        rc = -1; /* the last feature's upsert */
    if (gz) gzclose(gz);
    free(chunk);
    free(s.skel.p);
    free(s.elem.p);
    if (im.g) {
        free_parts(&im);
        if (im.wkb) GEOSWKBWriter_destroy_r(im.g, im.wkb);
        GEOS_finish_r(im.g);
    }
    free(im.xy);
    free(im.holes);
    free(im.polys);
    return rc;
}

/* ---- the command ---- */

static void print_reject(void *ctx, long index, const char *code, const char *msg) {
    (void)ctx;
    if (code)
        fprintf(stderr, "feature %ld (code %s): %s\n", index, code, msg);
    else
        fprintf(stderr, "feature %ld: %s\n", index, msg);
}

/* Imports path (a CSV list when csv, else GeoJSON) in one transaction. Returns 0, or -1 with the
 * error printed (nothing imported). */
static int import_file(app *a, const char *path, int csv, const char *effective,
                       const import_opts *o, import_stats *st, csv_stats *cs) {
    char err[1024];
    worker w;
    if (cmd_connect(a, &w) != 0) return -1;
    int ok = db_begin(&w) == 0;
    if (!ok)
        snprintf(err, sizeof err, "database: %s", w.err);
    else if (csv ? import_csv(&w, path, effective, cs, err, sizeof err) != 0
                 : import_geojson(&w, path, o, st, err, sizeof err) != 0)
        ok = 0;
    else if (!(ok = db_commit(&w) == 0))
        snprintf(err, sizeof err, "database: %s", w.err);
    if (!ok) {
        db_rollback(&w);
        size_t n = strlen(err);
        while (n && err[n - 1] == '\n')
            err[--n] = 0;
        for (char *p = err; *p; p++) /* one line: libpq adds CONTEXT/DETAIL lines */
            if (*p == '\n') *p = ' ';
        fprintf(stderr, "patrold: import-divisions: %s: %s; nothing imported\n", path, err);
        db_disconnect(&w);
        return -1;
    }
    db_disconnect(&w);
    return 0;
}

int cmd_import_divisions(app *a, int argc, char **argv) {
    static const struct option longopts[] = {{"level", required_argument, 0, 'l'},
                                             {"crs", required_argument, 0, 'c'},
                                             {"effective", required_argument, 0, 'e'},
                                             {0, 0, 0, 0}};
    const char *effective = NULL;
    csv_stats cs;
    import_opts o = {.crs = GIS_CRS_WGS84, .on_reject = print_reject};
    import_stats st;
    struct timespec t0, t1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'l')
            o.level = optarg;
        else if (c == 'e')
            effective = optarg;
        else if (c == 'c') {
            if (gis_crs_parse(optarg, &o.crs) != 0) {
                fprintf(
                    stderr,
                    "patrold: import-divisions: --crs must be wgs84, cgcs2000, gcj02 or bd09\n");
                return 2;
            }
        } else
            return 2;
    }
    if (argc - optind != 1) {
        fprintf(stderr, "patrold: import-divisions: expected one FILE\n");
        return 2; /* main.c prints the forms */
    }
    if (o.level && !import_level_valid(o.level)) {
        char msg[128];
        vocab_message(&VOCAB_LEVEL, "--level", 0, msg, sizeof msg);
        fprintf(stderr, "patrold: import-divisions: %s\n", msg);
        return 2;
    }
    size_t plen = strlen(argv[optind]);
    int csv = (plen > 4 && strcmp(argv[optind] + plen - 4, ".csv") == 0) ||
              (plen > 7 && strcmp(argv[optind] + plen - 7, ".csv.gz") == 0);
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(today, sizeof today, "%Y-%m-%d", localtime_r(&now, &tm));
    if (!effective)
        effective = today;
    else if (params_date(effective, NULL) != 0) {
        fprintf(stderr, "patrold: import-divisions: --effective must be a date YYYY-MM-DD\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (import_file(a, argv[optind], csv, effective, &o, &st, &cs) != 0) return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (csv)
        printf("imported %ld divisions of %ld rows (effective %s): %ld new, %ld renamed, %ld "
               "merged, %ld abolished, in %.1f s\n",
               cs.kept, cs.rows, effective, cs.added, cs.renamed, cs.merged, cs.abolished, secs);
    else
        printf("imported %ld features (%ld repaired), rejected %ld, in %.1f s\n", st.imported,
               st.repaired, st.rejected, secs);
    return 0;
}
