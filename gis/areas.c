/* gis/areas.c - target areas in projected metres: rings as plain arrays, a cell grid per area with
 * its inside cells (scan lines, even-odd), buckets to find areas near a box, the 100 m buffer of a
 * track step painted onto a grid, exact point-in-area and the parts of a step inside an area.
 * GEOS only reads and repairs the input in the builder; a finished set is immutable. */
#include "gis/areas.h"

#include <geos_c.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/err.h"
#include "gis/geom.h"

enum { KEY_LEN = 64, MAX_BUCKETS = 1 << 20 };

typedef struct area_priv {
    gis_area pub;
    char key[KEY_LEN];
    double *xy;   /* every ring's vertices as x, y pairs; each ring closed (last == first) */
    size_t *ring; /* first point of each ring; ring[nrings] = npts */
    size_t nrings, npts;
    unsigned char *inside;
} area_priv;

struct gis_areas {
    int epsg;
    size_t n;
    area_priv *a;
    double bx0, by0, bsize; /* buckets: origin and side */
    long bnx, bny;
    size_t *bstart; /* bnx * bny + 1 offsets into bitems */
    size_t *bitems;
};

struct gis_areas_builder {
    int epsg;
    double cell;
    size_t max_cells;
    GEOSContextHandle_t h;
    GEOSWKBReader *rd;
    char msg[256];
    area_priv *a;
    size_t n, cap;
};

/* ------------------------------------------------------------------ the builder */

static void geos_msg(const char *message, void *userdata) {
    snprintf((char *)userdata, 256, "%s", message);
}

static void geos_quiet(const char *message, void *userdata) {
    (void)message;
    (void)userdata;
}

static pthread_mutex_t geos_init_mu = PTHREAD_MUTEX_INITIALIZER;

gis_areas_builder *gis_areas_builder_create(int epsg, double cell_m, size_t max_cells, char *err,
                                            size_t errlen) {
    if (!(cell_m > 0) || !isfinite(cell_m) || max_cells < 64) {
        gis_set_err(err, errlen, "areas: the cell must be > 0 m and max_cells >= 64");
        return NULL;
    }
    gis_areas_builder *b = calloc(1, sizeof *b);
    if (!b) goto oom;
    b->epsg = epsg, b->cell = cell_m, b->max_cells = max_cells;
    pthread_mutex_lock(&geos_init_mu);
    b->h = GEOS_init_r();
    pthread_mutex_unlock(&geos_init_mu);
    if (!b->h) goto oom;
    GEOSContext_setErrorMessageHandler_r(b->h, geos_msg, b->msg);
    GEOSContext_setNoticeMessageHandler_r(b->h, geos_quiet, NULL);
    if (!(b->rd = GEOSWKBReader_create_r(b->h))) goto oom;
    return b;
oom:
    gis_areas_builder_destroy(b);
    gis_set_err(err, errlen, "areas: out of memory");
    return NULL;
}

static void area_free(area_priv *a) {
    free(a->xy);
    free(a->ring);
    free(a->inside);
}

void gis_areas_builder_destroy(gis_areas_builder *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++)
        area_free(&b->a[i]);
    free(b->a);
    if (b->rd) GEOSWKBReader_destroy_r(b->h, b->rd);
    if (b->h) {
        pthread_mutex_lock(&geos_init_mu);
        GEOS_finish_r(b->h);
        pthread_mutex_unlock(&geos_init_mu);
    }
    free(b);
}

/* Appends the vertices of ring r to a (growing its arrays). Returns 0, or -1 (out of memory or a
 * coordinate that is not finite). */
static int add_ring(GEOSContextHandle_t h, const GEOSGeometry *r, area_priv *a, size_t *cap) {
    const GEOSCoordSequence *seq = r ? GEOSGeom_getCoordSeq_r(h, r) : NULL;
    unsigned int m = 0;
    if (!seq || !GEOSCoordSeq_getSize_r(h, seq, &m)) return -1;
    if (m < 4) return 0; /* a degenerate ring encloses nothing */
    if (a->npts + m > *cap) {
        size_t c = (a->npts + m) * 2;
        double *xy = realloc(a->xy, c * 2 * sizeof *xy);
        if (!xy) return -1;
        a->xy = xy, *cap = c;
    }
    size_t *rs = realloc(a->ring, (a->nrings + 2) * sizeof *rs);
    if (!rs) return -1;
    a->ring = rs;
    a->ring[a->nrings++] = a->npts;
    for (unsigned int k = 0; k < m; k++) {
        double x, y;
        if (!GEOSCoordSeq_getXY_r(h, seq, k, &x, &y) || !isfinite(x) || !isfinite(y)) return -1;
        a->xy[2 * a->npts] = x, a->xy[2 * a->npts + 1] = y;
        a->npts++;
    }
    a->ring[a->nrings] = a->npts;
    return 0;
}

/* Copies the rings of g (a valid Polygon or MultiPolygon) into a. Returns 0 or -1. */
static int take_rings(GEOSContextHandle_t h, const GEOSGeometry *g, area_priv *a) {
    size_t cap = 0;
    int np = GEOSGeomTypeId_r(h, g) == GEOS_MULTIPOLYGON ? GEOSGetNumGeometries_r(h, g) : 1;
    for (int p = 0; p < np; p++) {
        const GEOSGeometry *poly =
            GEOSGeomTypeId_r(h, g) == GEOS_MULTIPOLYGON ? GEOSGetGeometryN_r(h, g, p) : g;
        if (!poly || add_ring(h, GEOSGetExteriorRing_r(h, poly), a, &cap) != 0) return -1;
        int holes = GEOSGetNumInteriorRings_r(h, poly);
        for (int k = 0; k < holes; k++)
            if (add_ring(h, GEOSGetInteriorRingN_r(h, poly, k), a, &cap) != 0) return -1;
    }
    return a->nrings ? 0 : -1;
}

/* The polygonal, valid version of the WKB (a new geometry), or NULL with err. */
static GEOSGeometry *read_polygon(gis_areas_builder *b, const unsigned char *wkb, size_t len,
                                  char *err, size_t errlen) {
    b->msg[0] = 0;
    GEOSGeometry *g = wkb && len ? GEOSWKBReader_read_r(b->h, b->rd, wkb, len) : NULL;
    if (!g) {
        gis_set_err(err, errlen, "unreadable WKB: %s", b->msg);
        return NULL;
    }
    int t = GEOSGeomTypeId_r(b->h, g);
    if ((t != GEOS_POLYGON && t != GEOS_MULTIPOLYGON) || GEOSisEmpty_r(b->h, g) != 0) {
        GEOSGeom_destroy_r(b->h, g);
        gis_set_err(err, errlen, "not a non-empty Polygon or MultiPolygon");
        return NULL;
    }
    if (GEOSisValid_r(b->h, g) != 1) {
        GEOSGeometry *fixed = gis_polygon_repair(b->h, g);
        GEOSGeom_destroy_r(b->h, g);
        if (!(g = fixed)) gis_set_err(err, errlen, "an invalid polygon that cannot be repaired");
    }
    return g;
}

int gis_areas_add_wkb(gis_areas_builder *b, const char *key, const unsigned char *wkb, size_t len,
                      char *err, size_t errlen) {
    if (!key || !*key || strlen(key) >= KEY_LEN) {
        gis_set_err(err, errlen, "areas: a key of 1 to %d bytes is needed", KEY_LEN - 1);
        return -1;
    }
    if (b->n == b->cap) {
        size_t c = b->cap ? b->cap * 2 : 64;
        area_priv *na = realloc(b->a, c * sizeof *na);
        if (!na) goto oom;
        b->a = na, b->cap = c;
    }
    GEOSGeometry *g = read_polygon(b, wkb, len, err, errlen);
    if (!g) return -1;
    area_priv *a = &b->a[b->n];
    memset(a, 0, sizeof *a);
    snprintf(a->key, sizeof a->key, "%s", key);
    if (GEOSArea_r(b->h, g, &a->pub.area_m2) != 1 || take_rings(b->h, g, a) != 0) {
        GEOSGeom_destroy_r(b->h, g);
        area_free(a);
        gis_set_err(err, errlen, "area %s: no usable ring (or out of memory)", key);
        return -1;
    }
    GEOSGeom_destroy_r(b->h, g);
    b->n++;
    return 0;
oom:
    gis_set_err(err, errlen, "areas: out of memory");
    return -1;
}

/* ------------------------------------------------------------------ grids */

/* min, max and a byte's bit count without library calls (the painting's inner loop) */
static inline double dmin(double a, double b) {
    return a < b ? a : b;
}

static inline double dmax(double a, double b) {
    return a > b ? a : b;
}

static inline unsigned pop8(unsigned x) {
    x = x - ((x >> 1) & 0x55u);
    x = (x & 0x33u) + ((x >> 2) & 0x33u);
    return (x + (x >> 4)) & 0x0Fu;
}

static int dbl_cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* The crossings of the horizontal line y with a's edges (the rule of gis_areas_contains), sorted,
 * into xs; returns how many. */
static size_t row_crossings(const area_priv *a, double y, double *xs) {
    size_t n = 0;
    for (size_t r = 0; r < a->nrings; r++)
        for (size_t k = a->ring[r]; k + 1 < a->ring[r + 1]; k++) {
            double x1 = a->xy[2 * k], y1 = a->xy[2 * k + 1];
            double x2 = a->xy[2 * k + 2], y2 = a->xy[2 * k + 3];
            if ((y1 > y) != (y2 > y)) xs[n++] = x1 + (y - y1) * (x2 - x1) / (y2 - y1);
        }
    qsort(xs, n, sizeof *xs, dbl_cmp);
    return n;
}

/* The first lattice index whose cell centre (i + 0.5) * c is >= x (ge) or > x (!ge). */
static long first_centre(double x, double c, int ge) {
    long i = (long)ceil(x / c - 0.5);
    while (ge ? (i + 0.5) * c < x : (i + 0.5) * c <= x)
        i++;
    while (ge ? (i - 0.5) * c >= x : (i - 0.5) * c > x)
        i--;
    return i;
}

static void set_bit(unsigned char *bits, size_t k) {
    bits[k >> 3] |= (unsigned char)(0x80u >> (k & 7));
}

static int get_bit(const unsigned char *bits, size_t k) {
    return (bits[k >> 3] >> (7 - (k & 7))) & 1;
}

/* Chooses a's window (the cell doubled until it fits max_cells) and fills its inside cells. */
static int make_grid(area_priv *a, int epsg, double cell, size_t max_cells) {
    gis_area *p = &a->pub;
    double *env = p->env;
    env[0] = env[1] = INFINITY, env[2] = env[3] = -INFINITY;
    for (size_t k = 0; k < a->npts; k++) {
        env[0] = fmin(env[0], a->xy[2 * k]), env[1] = fmin(env[1], a->xy[2 * k + 1]);
        env[2] = fmax(env[2], a->xy[2 * k]), env[3] = fmax(env[3], a->xy[2 * k + 1]);
    }
    for (;; cell *= 2) {
        p->i0 = (long)floor(env[0] / cell), p->j0 = (long)floor(env[1] / cell);
        double nx = floor(env[2] / cell) - (double)p->i0 + 1,
               ny = floor(env[3] / cell) - (double)p->j0 + 1;
        if (nx * ny <= (double)max_cells) {
            p->nx = (int)nx, p->ny = (int)ny;
            break;
        }
    }
    p->cell = cell;
    p->nbytes = ((size_t)p->nx * (size_t)p->ny + 7) / 8;
    snprintf(p->grid, sizeof p->grid, "%d/%g/%ld/%ld/%d/%d", epsg, cell, p->i0, p->j0, p->nx,
             p->ny);
    double *xs = malloc((a->npts ? a->npts : 1) * sizeof *xs);
    if (!xs || !(a->inside = calloc(p->nbytes ? p->nbytes : 1, 1))) {
        free(xs);
        return -1;
    }
    for (int j = 0; j < p->ny; j++) {
        size_t n = row_crossings(a, ((double)(p->j0 + j) + 0.5) * cell, xs);
        for (size_t k = 0; k + 1 < n; k += 2) {
            long lo = first_centre(xs[k], cell, 1), hi = first_centre(xs[k + 1], cell, 1) - 1;
            if (lo < p->i0) lo = p->i0;
            if (hi > p->i0 + p->nx - 1) hi = p->i0 + p->nx - 1;
            for (long i = lo; i <= hi; i++) {
                size_t bit = (size_t)j * (size_t)p->nx + (size_t)(i - p->i0);
                if (!get_bit(a->inside, bit)) p->inside_cells++;
                set_bit(a->inside, bit);
            }
        }
    }
    free(xs);
    p->inside = a->inside;
    return 0;
}

static int key_cmp(const void *x, const void *y) {
    return strcmp(((const area_priv *)x)->key, ((const area_priv *)y)->key);
}

/* The bucket range (inclusive) of a box, clipped to the buckets. Returns 0 when outside. */
static int bucket_range(const gis_areas *s, const double *box, long r[4]) {
    if (!s->bnx || box[2] < s->bx0 || box[3] < s->by0) return 0;
    double f[4] = {(box[0] - s->bx0) / s->bsize, (box[1] - s->by0) / s->bsize,
                   (box[2] - s->bx0) / s->bsize, (box[3] - s->by0) / s->bsize};
    if (f[0] >= (double)s->bnx || f[1] >= (double)s->bny) return 0;
    r[0] = f[0] < 0 ? 0 : (long)f[0], r[1] = f[1] < 0 ? 0 : (long)f[1];
    r[2] = f[2] >= (double)s->bnx ? s->bnx - 1 : (long)f[2];
    r[3] = f[3] >= (double)s->bny ? s->bny - 1 : (long)f[3];
    return 1;
}

/* Buckets: a uniform grid over the set's extent, each listing the areas whose envelope meets it. */
static int make_buckets(gis_areas *s) {
    double ext[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    for (size_t i = 0; i < s->n; i++) {
        const double *e = s->a[i].pub.env;
        ext[0] = fmin(ext[0], e[0]), ext[1] = fmin(ext[1], e[1]);
        ext[2] = fmax(ext[2], e[2]), ext[3] = fmax(ext[3], e[3]);
    }
    if (!s->n) return 0;
    double w = ext[2] - ext[0], hgt = ext[3] - ext[1];
    s->bsize = fmax(2000.0, sqrt(w * hgt / (double)MAX_BUCKETS) * 1.01);
    s->bx0 = ext[0], s->by0 = ext[1];
    s->bnx = (long)(w / s->bsize) + 1, s->bny = (long)(hgt / s->bsize) + 1;
    size_t nb = (size_t)s->bnx * (size_t)s->bny, total = 0;
    if (!(s->bstart = calloc(nb + 1, sizeof *s->bstart))) return -1;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < s->n; i++) {
            long r[4];
            bucket_range(s, s->a[i].pub.env, r);
            for (long by = r[1]; by <= r[3]; by++)
                for (long bx = r[0]; bx <= r[2]; bx++) {
                    size_t b = (size_t)by * (size_t)s->bnx + (size_t)bx;
                    if (pass == 0)
                        s->bstart[b + 1]++;
                    else
                        s->bitems[s->bstart[b]++] = i;
                }
        }
        if (pass == 0) {
            for (size_t b = 0; b < nb; b++)
                s->bstart[b + 1] += s->bstart[b];
            total = s->bstart[nb];
            if (!(s->bitems = malloc((total ? total : 1) * sizeof *s->bitems))) return -1;
        } else { /* the fill moved every start to the next bucket's: shift back */
            memmove(s->bstart + 1, s->bstart, nb * sizeof *s->bstart);
            s->bstart[0] = 0;
        }
    }
    return 0;
}

gis_areas *gis_areas_finish(gis_areas_builder *b, char *err, size_t errlen) {
    gis_areas *s = calloc(1, sizeof *s);
    if (!s) {
        gis_areas_builder_destroy(b);
        gis_set_err(err, errlen, "areas: out of memory");
        return NULL;
    }
    s->epsg = b->epsg, s->n = b->n, s->a = b->a;
    b->a = NULL, b->n = 0;
    double cell = b->cell;
    size_t max_cells = b->max_cells;
    gis_areas_builder_destroy(b);
    qsort(s->a, s->n, sizeof *s->a, key_cmp);
    for (size_t i = 0; i < s->n; i++) {
        s->a[i].pub.key = s->a[i].key;
        if (i && strcmp(s->a[i].key, s->a[i - 1].key) == 0) {
            gis_set_err(err, errlen, "areas: key %s given twice", s->a[i].key);
            goto fail;
        }
        if (make_grid(&s->a[i], s->epsg, cell, max_cells) != 0) goto oom;
    }
    if (make_buckets(s) != 0) goto oom;
    return s;
oom:
    gis_set_err(err, errlen, "areas: out of memory");
fail:
    gis_areas_destroy(s);
    return NULL;
}

void gis_areas_destroy(gis_areas *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        area_free(&s->a[i]);
    free(s->a);
    free(s->bstart);
    free(s->bitems);
    free(s);
}

/* ------------------------------------------------------------------ reading */

int gis_areas_epsg(const gis_areas *s) {
    return s->epsg;
}

size_t gis_areas_count(const gis_areas *s) {
    return s->n;
}

const gis_area *gis_areas_get(const gis_areas *s, size_t i) {
    return &s->a[i].pub;
}

long gis_areas_find(const gis_areas *s, const char *key) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->a[mid].key, key);
        if (!c) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int gis_areas_near(const gis_areas *s, double xmin, double ymin, double xmax, double ymax,
                   gis_area_fn fn, void *ud) {
    double box[4] = {xmin, ymin, xmax, ymax};
    long q[4];
    if (!bucket_range(s, box, q)) return 0;
    for (long by = q[1]; by <= q[3]; by++)
        for (long bx = q[0]; bx <= q[2]; bx++) {
            size_t b = (size_t)by * (size_t)s->bnx + (size_t)bx;
            for (size_t k = s->bstart[b]; k < s->bstart[b + 1]; k++) {
                size_t i = s->bitems[k];
                const double *e = s->a[i].pub.env;
                long r[4];
                if (e[0] > xmax || e[2] < xmin || e[1] > ymax || e[3] < ymin) continue;
                bucket_range(s, e, r); /* report i once: in the first bucket both boxes share */
                if (bx != (r[0] > q[0] ? r[0] : q[0]) || by != (r[1] > q[1] ? r[1] : q[1]))
                    continue;
                int rc = fn(ud, i);
                if (rc) return rc;
            }
        }
    return 0;
}

int gis_areas_contains(const gis_areas *s, size_t i, double x, double y) {
    const area_priv *a = &s->a[i];
    const double *e = a->pub.env;
    int in = 0;
    if (x < e[0] || x > e[2] || y < e[1] || y > e[3]) return 0;
    for (size_t r = 0; r < a->nrings; r++)
        for (size_t k = a->ring[r]; k + 1 < a->ring[r + 1]; k++) {
            double x1 = a->xy[2 * k], y1 = a->xy[2 * k + 1];
            double x2 = a->xy[2 * k + 2], y2 = a->xy[2 * k + 3];
            if ((y1 > y) != (y2 > y) && x < x1 + (y - y1) * (x2 - x1) / (y2 - y1)) in = !in;
        }
    return in;
}

/* The x interval [*lo, *hi] where the horizontal line y meets the points within r of segment
 * a-b (a convex capsule: the hull of its two end discs and its band). Returns 0 when none. */
static int capsule_row(double ax, double ay, double bx, double by, double r, double y, double *lo,
                       double *hi) {
    double l = INFINITY, h = -INFINITY;
    const double px[2] = {ax, bx}, py[2] = {ay, by};
    for (int k = 0; k < 2; k++) {
        double d = y - py[k];
        if (fabs(d) <= r) {
            double w = sqrt(r * r - d * d);
            l = dmin(l, px[k] - w), h = dmax(h, px[k] + w);
        }
    }
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy, e = y - ay;
    if (len2 > 0) {
        double len = sqrt(len2), bl = -INFINITY, bh = INFINITY;
        int empty = 0;
        if (dy != 0) { /* |dx e - dy (x - ax)| <= r len */
            double u = (dx * e - r * len) / dy, v = (dx * e + r * len) / dy;
            bl = dmax(bl, ax + dmin(u, v)), bh = dmin(bh, ax + dmax(u, v));
        } else if (fabs(dx * e) > r * len) {
            empty = 1;
        }
        if (dx != 0) { /* 0 <= dx (x - ax) + dy e <= len2 */
            double u = -dy * e / dx, v = (len2 - dy * e) / dx;
            bl = dmax(bl, ax + dmin(u, v)), bh = dmin(bh, ax + dmax(u, v));
        } else if (dy * e < 0 || dy * e > len2) {
            empty = 1;
        }
        if (!empty && bl <= bh) l = dmin(l, bl), h = dmax(h, bh);
    }
    *lo = l, *hi = h;
    return l <= h;
}

/* ORs mask's bits k0..k1 (inclusive) into bits; returns how many were not set before. */
static size_t or_run(unsigned char *bits, const unsigned char *mask, size_t k0, size_t k1) {
    size_t added = 0;
    for (size_t byte = k0 >> 3; byte <= k1 >> 3; byte++) {
        unsigned lo = byte == k0 >> 3 ? (unsigned)(k0 & 7) : 0;
        unsigned hi = byte == k1 >> 3 ? (unsigned)(k1 & 7) : 7;
        unsigned run = (0xFFu >> lo) & (0xFFu << (7 - hi)) & 0xFFu;
        unsigned add = mask[byte] & run & ~(unsigned)bits[byte] & 0xFFu;
        added += pop8(add);
        bits[byte] |= (unsigned char)add;
    }
    return added;
}

size_t gis_areas_paint(const gis_areas *s, size_t i, double ax, double ay, double bx, double by,
                       double r, unsigned char *bits) {
    const gis_area *p = &s->a[i].pub;
    double c = p->cell, ymin = dmin(ay, by) - r, ymax = dmax(ay, by) + r;
    if (dmax(ax, bx) + r < p->env[0] || dmin(ax, bx) - r > p->env[2] || ymax < p->env[1] ||
        ymin > p->env[3] || !(r >= 0))
        return 0;
    long jlo = first_centre(ymin, c, 1), jhi = first_centre(ymax, c, 0) - 1;
    if (jlo < p->j0) jlo = p->j0;
    if (jhi > p->j0 + p->ny - 1) jhi = p->j0 + p->ny - 1;
    size_t added = 0;
    for (long j = jlo; j <= jhi; j++) {
        double lo, hi;
        if (!capsule_row(ax, ay, bx, by, r, ((double)j + 0.5) * c, &lo, &hi)) continue;
        long ilo = first_centre(lo, c, 1), ihi = first_centre(hi, c, 0) - 1;
        if (ilo < p->i0) ilo = p->i0;
        if (ihi > p->i0 + p->nx - 1) ihi = p->i0 + p->nx - 1;
        if (ilo > ihi) continue;
        size_t row = (size_t)(j - p->j0) * (size_t)p->nx;
        added += or_run(bits, p->inside, row + (size_t)(ilo - p->i0), row + (size_t)(ihi - p->i0));
    }
    return added;
}

/* Appends to ts the parameters t in [0, 1] where a + t (b - a) meets a's edges. */
static size_t edge_params(const area_priv *a, double ax, double ay, double dx, double dy,
                          double *ts, size_t n) {
    for (size_t r = 0; r < a->nrings; r++)
        for (size_t k = a->ring[r]; k + 1 < a->ring[r + 1]; k++) {
            double px = a->xy[2 * k], py = a->xy[2 * k + 1];
            double ex = a->xy[2 * k + 2] - px, ey = a->xy[2 * k + 3] - py;
            double den = dx * ey - dy * ex, wx = px - ax, wy = py - ay;
            if (den != 0) {
                double t = (wx * ey - wy * ex) / den, u = (wx * dy - wy * dx) / den;
                if (t >= 0 && t <= 1 && u >= 0 && u <= 1) ts[n++] = t;
            } else if (wx * dy - wy * dx == 0 && dx * dx + dy * dy > 0) { /* collinear */
                double l2 = dx * dx + dy * dy, t1 = (wx * dx + wy * dy) / l2;
                double t2 = ((wx + ex) * dx + (wy + ey) * dy) / l2;
                if (t1 >= 0 && t1 <= 1) ts[n++] = t1;
                if (t2 >= 0 && t2 <= 1) ts[n++] = t2;
            }
        }
    return n;
}

int gis_areas_segment_inside(const gis_areas *s, size_t i, double ax, double ay, double bx,
                             double by, double *ts, int max) {
    const area_priv *a = &s->a[i];
    double dx = bx - ax, dy = by - ay;
    if (max < 1) return 0;
    if (dx == 0 && dy == 0) {
        if (!gis_areas_contains(s, i, ax, ay)) return 0;
        ts[0] = 0, ts[1] = 1;
        return 1;
    }
    const double *e = a->pub.env;
    if (fmax(ax, bx) < e[0] || fmin(ax, bx) > e[2] || fmax(ay, by) < e[1] || fmin(ay, by) > e[3])
        return 0;
    double *p = malloc((2 * a->npts + 2) * sizeof *p);
    if (!p) return 0;
    size_t n = edge_params(a, ax, ay, dx, dy, p, 0);
    p[n++] = 0, p[n++] = 1;
    qsort(p, n, sizeof *p, dbl_cmp);
    int k = 0;
    for (size_t m = 0; m + 1 < n; m++) {
        if (p[m + 1] <= p[m]) continue;
        double mid = (p[m] + p[m + 1]) / 2;
        if (!gis_areas_contains(s, i, ax + mid * dx, ay + mid * dy)) continue;
        if (k && ts[2 * k - 1] == p[m])
            ts[2 * k - 1] = p[m + 1]; /* continues the previous part */
        else if (k < max)
            ts[2 * k] = p[m], ts[2 * k + 1] = p[m + 1], k++;
    }
    free(p);
    return k;
}

size_t gis_bits_count(const unsigned char *bits, size_t nbytes) {
    size_t n = 0;
    for (size_t k = 0; k < nbytes; k++)
        n += pop8(bits[k]);
    return n;
}

size_t gis_bits_count_and(const unsigned char *a, const unsigned char *b, size_t nbytes) {
    size_t n = 0;
    for (size_t k = 0; k < nbytes; k++)
        n += pop8((unsigned)(a[k] & b[k]));
    return n;
}
