/* gis/index.c - spatial index of tiers, zones and station coverage (cell
 * grids over GEOS polygons: GEOS prepared covers only where a boundary
 * crosses the cell), atomic publication, per-thread point location and
 * station routing. Rules and thread model: see index.h. */
#include "index.h"

#include "gis/err.h"
#include "gis/geom.h"
#include "gis/transform.h"

#include <geos_c.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_LEN 256
#define NZONES_MAX 8
#define NCHAIN_MAX 4

/* A run of at most CHUNK_SEGS consecutive boundary segments with its
 * envelope: the read-only, thread-shared index used for snapping. */
#define CHUNK_SEGS 16
typedef struct {
    double env[4];
    const GEOSCoordSequence *seq; /* owned by the division's geometry */
    unsigned int start, count;    /* vertices start .. start+count-1 */
} seg_chunk;

typedef struct {
    seg_chunk *v;
    size_t n, cap;
} chunk_vec;

/* A uniform grid of cells over one layer; see "cell grids" below. */
typedef struct {
    double x0, y0, cw, ch, icw, ich; /* origin, cell size and its inverse */
    size_t nx, ny;                   /* 0 when the layer is empty */
    uint32_t *off;                   /* nx * ny + 1 offsets into ent */
    uint32_t *ent;                   /* item index << 2 | CELL_* */
    void **items;                    /* gis_division* or gis_station*, by priority */
    size_t nitems;
} cell_grid;

/* One division considered for snapping: its nearest boundary point in the
 * local frame and that point's distance there (metres). */
typedef struct {
    const gis_division *d;
    double local_m, qlon, qlat;
} snap_cand;

struct gis_builder {
    GEOSContextHandle_t h;
    GEOSWKBReader *rd;
    char msg[MSG_LEN]; /* last GEOS message */
    gis_division *divs;
    size_t ndivs, capdivs;
    gis_station *sts;
    size_t nsts, capsts;
    size_t nvertices;
};

struct gis_index {
    GEOSContextHandle_t h; /* the builder's context: owns the geometries */
    char msg[MSG_LEN];
    gis_division *divs;
    size_t ndivs;
    gis_station *sts;
    size_t nsts;
    gis_station **by_id; /* sorted by id */
    gis_station **city;  /* tier GIS_CITY stations */
    size_t ncity;
    cell_grid tier_grid[4]; /* divisions by code */
    cell_grid zone_grid;    /* zones by code */
    cell_grid cov_grid;     /* dispatching coverages: lowest tier first, then id */
    double snap_m;
    size_t nvertices;
    size_t approx_bytes;
    atomic_long refs;
};

struct gis_slot {
    pthread_mutex_t mu;
    gis_index *cur;   /* guarded by mu */
    atomic_ulong gen; /* bumped under mu at each publish; 0 = none yet */
};

struct gis_locator {
    gis_slot *s;
    GEOSContextHandle_t h;
    char msg[MSG_LEN];
    unsigned long gen;                 /* generation of ix */
    gis_index *ix;                     /* referenced index or NULL */
    const GEOSPreparedGeometry **pdiv; /* by division priv_slot, lazily */
    const GEOSPreparedGeometry **pcov; /* by station priv_slot, lazily */
    GEOSGeometry *pt;                  /* the point of the current gis_locate, lazily */
    double pt_lon, pt_lat;
    snap_cand *sc; /* snapping candidates, reused */
    size_t capsc;
    double memo[4][3]; /* (qlon, qlat, geodesic m) of the current locate */
    int nmemo;
};

/* ---------------------------------------------------------------- helpers */

static void geos_msg(const char *message, void *userdata) {
    char *buf = userdata;

    snprintf(buf, MSG_LEN, "%s", message);
}

static void geos_notice(const char *message, void *userdata) {
    (void)message;
    (void)userdata;
}

static pthread_mutex_t geos_init_mu = PTHREAD_MUTEX_INITIALIZER;

/* A GEOS context whose error messages go to buf (MSG_LEN bytes). */
static GEOSContextHandle_t geos_open(char *buf) {
    GEOSContextHandle_t h;

    pthread_mutex_lock(&geos_init_mu);
    h = GEOS_init_r();
    pthread_mutex_unlock(&geos_init_mu);
    if (h == NULL) return NULL;
    buf[0] = '\0';
    GEOSContext_setErrorMessageHandler_r(h, geos_msg, buf);
    GEOSContext_setNoticeMessageHandler_r(h, geos_notice, NULL);
    return h;
}

static void geos_close(GEOSContextHandle_t h) {
    if (h == NULL) return;
    pthread_mutex_lock(&geos_init_mu);
    GEOS_finish_r(h);
    pthread_mutex_unlock(&geos_init_mu);
}

const char *gis_level_name(gis_level l) {
    switch (l) {
    case GIS_CITY:
        return "city";
    case GIS_COUNTY:
        return "county";
    case GIS_TOWN:
        return "town";
    case GIS_COMMUNITY:
        return "community";
    }
    return "unknown";
}

static int valid_level(int l) {
    return l >= GIS_CITY && l <= GIS_COMMUNITY;
}

static int valid_lonlat(double lon, double lat) {
    return isfinite(lon) && isfinite(lat) && lon >= -180.0 && lon <= 180.0 && lat >= -90.0 &&
           lat <= 90.0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL) memcpy(d, s, n);
    return d;
}

/* Calls fn on every ring (exterior and holes) of a Polygon/MultiPolygon.
 * Stops and returns -1 as soon as fn does. */
static int for_each_ring(GEOSContextHandle_t h, const GEOSGeometry *g,
                         int (*fn)(GEOSContextHandle_t, const GEOSGeometry *, void *), void *ud) {
    int type = GEOSGeomTypeId_r(h, g);
    int i, n;

    if (type == GEOS_MULTIPOLYGON) {
        n = GEOSGetNumGeometries_r(h, g);
        for (i = 0; i < n; i++) {
            const GEOSGeometry *p = GEOSGetGeometryN_r(h, g, i);
            if (p == NULL || for_each_ring(h, p, fn, ud) != 0) return -1;
        }
        return 0;
    }
    if (type != GEOS_POLYGON) return -1;
    if (GEOSisEmpty_r(h, g) == 1) return 0;
    {
        const GEOSGeometry *r = GEOSGetExteriorRing_r(h, g);
        if (r == NULL || fn(h, r, ud) != 0) return -1;
    }
    n = GEOSGetNumInteriorRings_r(h, g);
    for (i = 0; i < n; i++) {
        const GEOSGeometry *r = GEOSGetInteriorRingN_r(h, g, i);
        if (r == NULL || fn(h, r, ud) != 0) return -1;
    }
    return 0;
}

/* Ring visitor: counts vertices, refuses non-finite or out-of-range ones. */
static int ring_check(GEOSContextHandle_t h, const GEOSGeometry *r, void *ud) {
    size_t *count = ud;
    const GEOSCoordSequence *seq = GEOSGeom_getCoordSeq_r(h, r);
    unsigned int n, i;

    if (seq == NULL || GEOSCoordSeq_getSize_r(h, seq, &n) == 0) return -1;
    for (i = 0; i < n; i++) {
        double x, y;
        if (GEOSCoordSeq_getXY_r(h, seq, i, &x, &y) == 0 || !valid_lonlat(x, y)) return -1;
    }
    *count += n;
    return 0;
}

/* Ring visitor: computes (and so caches, if GEOS caches lazily) the envelope
 * of every ring before the geometry is shared between threads. */
static int ring_warm(GEOSContextHandle_t h, const GEOSGeometry *r, void *ud) {
    double a, b, c, d;

    (void)ud;
    return GEOSGeom_getExtent_r(h, r, &a, &b, &c, &d) == 1 ? 0 : -1;
}

static int warm_envelopes(GEOSContextHandle_t h, const GEOSGeometry *g, double env[4]) {
    int i, n;

    if (GEOSGeom_getExtent_r(h, g, &env[0], &env[1], &env[2], &env[3]) != 1) return -1;
    if (GEOSGeomTypeId_r(h, g) == GEOS_MULTIPOLYGON) {
        n = GEOSGetNumGeometries_r(h, g);
        for (i = 0; i < n; i++) {
            double e[4];
            const GEOSGeometry *p = GEOSGetGeometryN_r(h, g, i);
            if (p == NULL || GEOSGeom_getExtent_r(h, p, &e[0], &e[1], &e[2], &e[3]) != 1) return -1;
        }
    }
    return for_each_ring(h, g, ring_warm, NULL);
}

/* Ring visitor: appends the ring's chunks to a chunk_vec. */
static int ring_chunks(GEOSContextHandle_t h, const GEOSGeometry *r, void *ud) {
    chunk_vec *cv = ud;
    const GEOSCoordSequence *seq = GEOSGeom_getCoordSeq_r(h, r);
    unsigned int n, start, i;

    if (seq == NULL || GEOSCoordSeq_getSize_r(h, seq, &n) == 0) return -1;
    for (start = 0; start + 1 < n; start += CHUNK_SEGS) {
        seg_chunk *c;
        if (cv->n == cv->cap) {
            size_t cap = cv->cap ? cv->cap * 2 : 16;
            seg_chunk *m = realloc(cv->v, cap * sizeof *m);
            if (m == NULL) return -1;
            cv->v = m;
            cv->cap = cap;
        }
        c = &cv->v[cv->n++];
        c->seq = seq;
        c->start = start;
        c->count = n - start < CHUNK_SEGS + 1 ? n - start : CHUNK_SEGS + 1;
        c->env[0] = c->env[1] = INFINITY;
        c->env[2] = c->env[3] = -INFINITY;
        for (i = 0; i < c->count; i++) {
            double x, y;
            if (GEOSCoordSeq_getXY_r(h, seq, start + i, &x, &y) == 0) return -1;
            c->env[0] = fmin(c->env[0], x);
            c->env[1] = fmin(c->env[1], y);
            c->env[2] = fmax(c->env[2], x);
            c->env[3] = fmax(c->env[3], y);
        }
    }
    return 0;
}

/* Read, check and if needed repair a polygonal WKB. Returns a new geometry
 * (caller owns it) with envelopes computed, or NULL with a message. */
static GEOSGeometry *read_polygonal(gis_builder *b, const char *what, const unsigned char *wkb,
                                    size_t len, size_t *nverts, double env[4], char *err,
                                    size_t errlen) {
    GEOSContextHandle_t h = b->h;
    GEOSGeometry *g = NULL, *out = NULL;
    int type, srid, valid;
    size_t count = 0;

    if (wkb == NULL || len == 0) {
        gis_set_err(err, errlen, "%s: no geometry", what);
        goto done;
    }
    b->msg[0] = '\0';
    g = GEOSWKBReader_read_r(h, b->rd, wkb, len);
    if (g == NULL) {
        gis_set_err(err, errlen, "%s: unreadable WKB: %s", what,
                    b->msg[0] ? b->msg : "parse error");
        goto done;
    }
    type = GEOSGeomTypeId_r(h, g);
    if (type != GEOS_POLYGON && type != GEOS_MULTIPOLYGON) {
        char *t = GEOSGeomType_r(h, g);
        gis_set_err(err, errlen, "%s: geometry is %s, expected Polygon or MultiPolygon", what,
                    t ? t : "unknown");
        GEOSFree_r(h, t);
        goto done;
    }
    if (GEOSisEmpty_r(h, g) != 0) {
        gis_set_err(err, errlen, "%s: empty geometry", what);
        goto done;
    }
    srid = GEOSGetSRID_r(h, g);
    if (srid != 0 && srid != 4326) {
        gis_set_err(err, errlen, "%s: SRID %d, expected 4326", what, srid);
        goto done;
    }
    if (for_each_ring(h, g, ring_check, &count) != 0) {
        gis_set_err(err, errlen, "%s: coordinate not finite or outside lon -180..180 / lat -90..90",
                    what);
        goto done;
    }
    valid = GEOSisValid_r(h, g);
    if (valid == 2) {
        gis_set_err(err, errlen, "%s: validity check failed: %s", what, b->msg);
        goto done;
    }
    if (valid == 0) {
        char *reason = GEOSisValidReason_r(h, g);
        GEOSGeometry *fixed_g = gis_polygon_repair(h, g);
        GEOSGeom_destroy_r(h, g);
        g = fixed_g;
        if (g == NULL) {
            gis_set_err(err, errlen, "%s: invalid polygon (%s) cannot be repaired", what,
                        reason ? reason : "unknown reason");
            GEOSFree_r(h, reason);
            goto done;
        }
        GEOSFree_r(h, reason);
        count = 0;
        if (for_each_ring(h, g, ring_check, &count) != 0) {
            gis_set_err(err, errlen, "%s: repaired geometry out of range", what);
            goto done;
        }
    }
    GEOSSetSRID_r(h, g, 4326);
    if (warm_envelopes(h, g, env) != 0) {
        gis_set_err(err, errlen, "%s: cannot compute envelope: %s", what, b->msg);
        goto done;
    }
    *nverts = count;
    out = g;
    g = NULL;
done:
    if (g != NULL) GEOSGeom_destroy_r(h, g);
    return out;
}

/* ------------------------------------------------------------ cell grids */

/* A uniform grid over one layer (a tier, the zones or the station
 * coverages), immutable once built and shared by every reader. Each cell
 * lists, in the layer's priority order, the items that matter there with
 * the status of the whole cell for that item:
 *   CELL_IN   the cell lies strictly inside the item (covers without GEOS);
 *   CELL_EDGE the item's boundary may pass through the cell (GEOS decides);
 *   CELL_NEAR the cell lies strictly outside the item but its boundary may
 *             be within snapping reach (only in layers that snap).
 * Items absent from a cell neither cover nor can be snapped to from any
 * point of it. A cell is CELL_EDGE as soon as a boundary segment comes
 * within GRID_MARGIN degrees of it, so the other statuses hold for every
 * point that maps to the cell, rounding included. */
#define CELL_NEAR 0u
#define CELL_EDGE 1u
#define CELL_IN 2u
#define CELL_NONE 0xffu
#define GRID_MARGIN 1e-8 /* degrees (about 1 mm) */
#define GRID_MIN_CELLS 4096.0
#define GRID_MAX_CELLS 2097152.0
#define GRID_CELLS_PER_ITEM 256.0

/* WGS-84 metres per degree of longitude and latitude at lat. */
static void metres_per_degree(double lat, double *kx, double *ky) {
    const double a = 6378137.0, e2 = 0.00669437999014;
    double phi = lat * 3.14159265358979323846 / 180.0;
    double s = sin(phi), w = sqrt(1.0 - e2 * s * s);
    double rad = 3.14159265358979323846 / 180.0;

    *ky = a * (1.0 - e2) / (w * w * w) * rad;
    *kx = a / w * cos(phi) * rad;
}

/* Entries of the cell holding (lon, lat); *n = 0 outside the grid. */
static const uint32_t *grid_cell(const cell_grid *g, double lon, double lat, size_t *n) {
    double fx, fy;
    size_t c;

    *n = 0;
    if (g->nx == 0 || !(lon >= g->x0) || !(lat >= g->y0)) return NULL;
    fx = (lon - g->x0) * g->icw;
    fy = (lat - g->y0) * g->ich;
    if (!(fx < (double)g->nx) || !(fy < (double)g->ny)) return NULL;
    c = (size_t)fy * g->nx + (size_t)fx;
    *n = g->off[c + 1] - g->off[c];
    return g->ent + g->off[c];
}

static void grid_free(cell_grid *g) {
    free(g->off);
    free(g->ent);
    free(g->items);
    memset(g, 0, sizeof *g);
}

/* Build state of one item: its window of cells and their statuses. */
typedef struct {
    size_t cx0, cy0, w, hgt; /* window origin and size in cells */
    unsigned char *st;       /* w * hgt statuses */
    double *cross;           /* (row, x) crossings of row centre lines */
    size_t ncross, capcross;
    int oom;
    const cell_grid *g;
} grid_item;

static long grid_floor(double v) {
    double f = floor(v);

    if (f < -1.0) return -1;
    if (f > 2147483646.0) return 2147483646;
    return (long)f;
}

/* Marks the window cells within GRID_MARGIN of segment a-b as CELL_EDGE and
 * records where the segment crosses the window's row centre lines. */
static void grid_segment(grid_item *it, double ax, double ay, double bx, double by) {
    const cell_grid *g = it->g;
    double ylo = (ay < by ? ay : by) - GRID_MARGIN, yhi = (ay < by ? by : ay) + GRID_MARGIN;
    double dy = by - ay;
    long r0 = grid_floor((ylo - g->y0) * g->ich) - 1, r1 = grid_floor((yhi - g->y0) * g->ich) + 1;
    long wr0 = (long)it->cy0, wr1 = (long)(it->cy0 + it->hgt) - 1;
    long wc0 = (long)it->cx0, wc1 = (long)(it->cx0 + it->w) - 1;
    long r;

    if (r0 < wr0) r0 = wr0;
    if (r1 > wr1) r1 = wr1;
    for (r = r0; r <= r1; r++) {
        double b0 = g->y0 + (double)r * g->ch - GRID_MARGIN;
        double b1 = g->y0 + (double)(r + 1) * g->ch + GRID_MARGIN;
        double yc = g->y0 + ((double)r + 0.5) * g->ch;
        double xa, xb, t0, t1;
        long c0, c1, c;

        if (b1 >= ylo && b0 <= yhi) {
            if (dy == 0.0) {
                xa = ax;
                xb = bx;
            } else {
                t0 = (b0 - ay) / dy;
                t1 = (b1 - ay) / dy;
                t0 = t0 < 0.0 ? 0.0 : (t0 > 1.0 ? 1.0 : t0);
                t1 = t1 < 0.0 ? 0.0 : (t1 > 1.0 ? 1.0 : t1);
                xa = ax + t0 * (bx - ax);
                xb = ax + t1 * (bx - ax);
            }
            if (xa > xb) {
                double tmp = xa;
                xa = xb;
                xb = tmp;
            }
            c0 = grid_floor((xa - GRID_MARGIN - g->x0) * g->icw);
            c1 = grid_floor((xb + GRID_MARGIN - g->x0) * g->icw);
            if (c0 < wc0) c0 = wc0;
            if (c1 > wc1) c1 = wc1;
            for (c = c0; c <= c1; c++)
                it->st[(size_t)(r - wr0) * it->w + (size_t)(c - wc0)] = CELL_EDGE;
        }
        if ((ay > yc) != (by > yc)) {
            if (it->ncross + 2 > it->capcross) {
                size_t cap = it->capcross ? it->capcross * 2 : 64;
                double *m = realloc(it->cross, cap * sizeof *m);
                if (m == NULL) {
                    it->oom = 1;
                    return;
                }
                it->cross = m;
                it->capcross = cap;
            }
            it->cross[it->ncross++] = (double)(r - wr0);
            it->cross[it->ncross++] = ax + (yc - ay) * (bx - ax) / dy;
        }
    }
}

/* Ring visitor: feeds every segment of the ring to grid_segment. */
static int grid_ring(GEOSContextHandle_t h, const GEOSGeometry *ring, void *ud) {
    grid_item *it = ud;
    const GEOSCoordSequence *seq = GEOSGeom_getCoordSeq_r(h, ring);
    unsigned int n, i;
    double px = 0.0, py = 0.0;

    if (seq == NULL || GEOSCoordSeq_getSize_r(h, seq, &n) == 0) return -1;
    for (i = 0; i < n; i++) {
        double x, y;
        if (GEOSCoordSeq_getXY_r(h, seq, i, &x, &y) == 0) return -1;
        if (i > 0) grid_segment(it, px, py, x, y);
        if (it->oom) return -1;
        px = x;
        py = y;
    }
    return 0;
}

static int cmp_cross(const void *a, const void *b) {
    const double *x = a, *y = b;

    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Statuses of one item's window: CELL_EDGE from its segments, then
 * CELL_IN / CELL_NEAR by even-odd parity at the cell centre (exact for the
 * other cells: no boundary comes near them), then CELL_NEAR cells with no
 * CELL_EDGE cell within (kx, ky) cells are dropped. */
static int grid_item_build(GEOSContextHandle_t h, grid_item *it, const GEOSGeometry *geom, long kx,
                           long ky, int keep_near) {
    const cell_grid *g = it->g;
    size_t r, c, k = 0, ncells = it->w * it->hgt;
    uint32_t *sum = NULL;

    it->st = malloc(ncells);
    if (it->st == NULL) return -1;
    memset(it->st, CELL_NONE, ncells);
    if (for_each_ring(h, geom, grid_ring, it) != 0) return -1;
    gis_sort(it->cross, it->ncross / 2, 2 * sizeof *it->cross, cmp_cross);
    for (r = 0; r < it->hgt; r++) {
        int odd = 0;
        for (c = 0; c < it->w; c++) {
            double xc = g->x0 + ((double)(it->cx0 + c) + 0.5) * g->cw;
            unsigned char *s = &it->st[r * it->w + c];
            while (k < it->ncross && it->cross[k] == (double)r && it->cross[k + 1] < xc) {
                odd = !odd;
                k += 2;
            }
            if (*s != CELL_EDGE) *s = odd ? CELL_IN : CELL_NEAR;
        }
        while (k < it->ncross && it->cross[k] == (double)r)
            k += 2;
    }
    free(it->cross);
    it->cross = NULL;
    /* Summed-area table of CELL_EDGE cells, (w + 1) x (hgt + 1). */
    if (keep_near) {
        sum = calloc((it->w + 1) * (it->hgt + 1), sizeof *sum);
        if (sum == NULL) return -1;
        for (r = 0; r < it->hgt; r++)
            for (c = 0; c < it->w; c++)
                sum[(r + 1) * (it->w + 1) + c + 1] =
                    sum[r * (it->w + 1) + c + 1] + sum[(r + 1) * (it->w + 1) + c] -
                    sum[r * (it->w + 1) + c] + (it->st[r * it->w + c] == CELL_EDGE);
    }
    for (r = 0; r < it->hgt; r++) {
        for (c = 0; c < it->w; c++) {
            unsigned char *s = &it->st[r * it->w + c];
            size_t a0, a1, b0, b1;
            if (*s != CELL_NEAR) continue;
            if (!keep_near) {
                *s = CELL_NONE;
                continue;
            }
            a0 = c > (size_t)kx ? c - (size_t)kx : 0;
            b0 = r > (size_t)ky ? r - (size_t)ky : 0;
            a1 = c + (size_t)kx + 1 < it->w ? c + (size_t)kx + 1 : it->w;
            b1 = r + (size_t)ky + 1 < it->hgt ? r + (size_t)ky + 1 : it->hgt;
            if (sum[b1 * (it->w + 1) + a1] - sum[b0 * (it->w + 1) + a1] -
                    sum[b1 * (it->w + 1) + a0] + sum[b0 * (it->w + 1) + a0] ==
                0)
                *s = CELL_NONE;
        }
    }
    free(sum);
    return 0;
}

/* Build g over n items (in priority order) with their polygonal geometries.
 * reach_m > 0: keep CELL_NEAR cells for snapping within reach_m metres
 * (local metric, as snap measures). nverts: total vertices (sizes cells).
 * Returns 0 or -1 (out of memory or GEOS failure). */
/* Sizes g's cells for n items (nverts vertices) in the box x0,y0..x1,y1, widened by the reach
 * (metres: *dlon, *dlat get it in degrees) and the margin. */
static void grid_shape(cell_grid *g, double x0, double y0, double x1, double y1, size_t n,
                       size_t nverts, double reach_m, double *dlonp, double *dlatp) {
    double dlat = 0.0, dlon = 0.0, target, cell, kxm, kym, maxlat;
    if (reach_m > 0.0) {
        metres_per_degree(0.0, &kxm, &kym); /* ky is smallest at the equator */
        dlat = reach_m / kym;
        maxlat = fmax(fabs(y0), fabs(y1)) + dlat;
        metres_per_degree(fmin(maxlat, 90.0), &kxm, &kym);
        dlon = maxlat < 89.0 && kxm > 1e-3 ? reach_m / kxm : 360.0;
        if (dlon > 360.0) dlon = 360.0;
    }
    x0 -= dlon + 2.0 * GRID_MARGIN;
    y0 -= dlat + 2.0 * GRID_MARGIN;
    x1 += dlon + 2.0 * GRID_MARGIN;
    y1 += dlat + 2.0 * GRID_MARGIN;
    target = fmax((double)n * GRID_CELLS_PER_ITEM, (double)nverts);
    target = fmin(fmax(target, GRID_MIN_CELLS), GRID_MAX_CELLS);
    cell = sqrt((x1 - x0) * (y1 - y0) / target);
    g->nx = (size_t)ceil((x1 - x0) / cell);
    g->ny = (size_t)ceil((y1 - y0) / cell);
    if (g->nx < 1) g->nx = 1;
    if (g->ny < 1) g->ny = 1;
    while ((double)g->nx * (double)g->ny > 2.0 * GRID_MAX_CELLS) { /* very thin extents */
        g->nx = (g->nx + 1) / 2;
        g->ny = (g->ny + 1) / 2;
    }
    g->x0 = x0;
    g->y0 = y0;
    g->cw = (x1 - x0) / (double)g->nx;
    g->ch = (y1 - y0) / (double)g->ny;
    g->icw = 1.0 / g->cw;
    g->ich = 1.0 / g->ch;
    *dlonp = dlon;
    *dlatp = dlat;
}

/* Fills g's cell lists (offsets counted in g->off[1..]) from the items' cell states, in item
 * (priority) order. Returns 0 or -1. */
static int grid_fill(cell_grid *g, grid_item *its, size_t n, size_t ncells, size_t total) {
    size_t i;
    if (total > UINT32_MAX || n > (UINT32_MAX >> 2)) return -1;
    for (i = 0; i < ncells; i++)
        g->off[i + 1] += g->off[i];
    g->ent = malloc((total ? total : 1) * sizeof *g->ent);
    if (g->ent == NULL) return -1;
    for (i = 0; i < n; i++) { /* items in priority order: each cell's list stays sorted */
        grid_item *it = &its[i];
        size_t r, c;
        for (r = 0; r < it->hgt; r++)
            for (c = 0; c < it->w; c++) {
                unsigned char s = it->st[r * it->w + c];
                if (s != CELL_NONE) {
                    size_t cell_i = (it->cy0 + r) * g->nx + it->cx0 + c;
                    g->ent[g->off[cell_i]++] = (uint32_t)(i << 2) | s;
                }
            }
    }
    for (i = ncells; i > 0; i--) /* undo the fill's shift */
        g->off[i] = g->off[i - 1];
    g->off[0] = 0;
    return 0;
}

static int grid_build(GEOSContextHandle_t h, cell_grid *g, void **items, const GEOSGeometry **geoms,
                      size_t n, double reach_m, size_t nverts) {
    double(*env)[4] = NULL;
    grid_item *its = NULL;
    double dlat = 0.0, dlon = 0.0, x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    long kx = 0, ky = 0;
    size_t i, ncells, total = 0;
    int rc = -1;

    memset(g, 0, sizeof *g);
    if (n == 0) return 0;
    env = malloc(n * sizeof *env);
    its = calloc(n, sizeof *its);
    g->items = malloc(n * sizeof *g->items);
    if (env == NULL || its == NULL || g->items == NULL) goto done;
    memcpy(g->items, items, n * sizeof *items);
    g->nitems = n;
    for (i = 0; i < n; i++) {
        if (GEOSGeom_getExtent_r(h, geoms[i], &env[i][0], &env[i][1], &env[i][2], &env[i][3]) != 1)
            goto done;
        x0 = fmin(x0, env[i][0]);
        y0 = fmin(y0, env[i][1]);
        x1 = fmax(x1, env[i][2]);
        y1 = fmax(y1, env[i][3]);
    }
    grid_shape(g, x0, y0, x1, y1, n, nverts, reach_m, &dlon, &dlat);
    x0 = g->x0, y0 = g->y0; /* the widened origin */
    ncells = g->nx * g->ny;
    kx = (long)ceil(dlon * g->icw) + 1;
    ky = (long)ceil(dlat * g->ich) + 1;
    g->off = calloc(ncells + 1, sizeof *g->off);
    if (g->off == NULL) goto done;
    for (i = 0; i < n; i++) {
        grid_item *it = &its[i];
        long c0 = grid_floor((env[i][0] - dlon - GRID_MARGIN - x0) * g->icw) - 1;
        long r0 = grid_floor((env[i][1] - dlat - GRID_MARGIN - y0) * g->ich) - 1;
        long c1 = grid_floor((env[i][2] + dlon + GRID_MARGIN - x0) * g->icw) + 1;
        long r1 = grid_floor((env[i][3] + dlat + GRID_MARGIN - y0) * g->ich) + 1;
        size_t r, c;
        c0 = c0 < 0 ? 0 : c0;
        r0 = r0 < 0 ? 0 : r0;
        c1 = c1 >= (long)g->nx ? (long)g->nx - 1 : c1;
        r1 = r1 >= (long)g->ny ? (long)g->ny - 1 : r1;
        it->g = g;
        it->cx0 = (size_t)c0;
        it->cy0 = (size_t)r0;
        it->w = (size_t)(c1 - c0 + 1);
        it->hgt = (size_t)(r1 - r0 + 1);
        if (grid_item_build(h, it, geoms[i], kx, ky, reach_m > 0.0) != 0) goto done;
        for (r = 0; r < it->hgt; r++)
            for (c = 0; c < it->w; c++)
                if (it->st[r * it->w + c] != CELL_NONE) {
                    g->off[(it->cy0 + r) * g->nx + it->cx0 + c + 1]++;
                    total++;
                }
    }
    if (grid_fill(g, its, n, ncells, total) != 0) goto done;
    rc = 0;
done:
    for (i = 0; its != NULL && i < n; i++) {
        free(its[i].st);
        free(its[i].cross);
    }
    free(its);
    free(env);
    if (rc != 0) grid_free(g);
    return rc;
}

static size_t grid_bytes(const cell_grid *g) {
    return g->nx == 0 ? 0
                      : (g->nx * g->ny + 1) * sizeof *g->off +
                            g->off[g->nx * g->ny] * sizeof *g->ent + g->nitems * sizeof(void *);
}

/* ---------------------------------------------------------------- builder */

gis_builder *gis_builder_create(char *err, size_t errlen) {
    gis_builder *b = calloc(1, sizeof *b);

    if (b == NULL) {
        gis_set_err(err, errlen, "out of memory");
        return NULL;
    }
    b->h = geos_open(b->msg);
    if (b->h == NULL) {
        gis_set_err(err, errlen, "cannot create GEOS context");
        free(b);
        return NULL;
    }
    b->rd = GEOSWKBReader_create_r(b->h);
    if (b->rd == NULL) {
        gis_set_err(err, errlen, "cannot create WKB reader");
        geos_close(b->h);
        free(b);
        return NULL;
    }
    return b;
}

int gis_builder_add_division(gis_builder *b, const char *code, const char *name, gis_level level,
                             int is_zone, const unsigned char *wkb, size_t wkb_len, char *err,
                             size_t errlen) {
    char what[64];
    gis_division *d;
    GEOSGeometry *g;
    size_t nverts = 0, clen;
    double env[4];
    char *name_copy;
    chunk_vec cv = {NULL, 0, 0};

    if (b == NULL) {
        gis_set_err(err, errlen, "no builder");
        return -1;
    }
    clen = code ? strlen(code) : 0;
    if (clen == 0 || clen > 12) {
        gis_set_err(err, errlen, "division code must have 1..12 characters");
        return -1;
    }
    snprintf(what, sizeof what, "division %s", code);
    if (!valid_level((int)level)) {
        gis_set_err(err, errlen, "%s: level %d is not a gis_level", what, (int)level);
        return -1;
    }
    if (b->ndivs == b->capdivs) {
        size_t cap = b->capdivs ? b->capdivs * 2 : 64;
        gis_division *m = realloc(b->divs, cap * sizeof *m);
        if (m == NULL) {
            gis_set_err(err, errlen, "%s: out of memory", what);
            return -1;
        }
        b->divs = m;
        b->capdivs = cap;
    }
    name_copy = dup_str(name ? name : "");
    if (name_copy == NULL) {
        gis_set_err(err, errlen, "%s: out of memory", what);
        return -1;
    }
    g = read_polygonal(b, what, wkb, wkb_len, &nverts, env, err, errlen);
    if (g == NULL) {
        free(name_copy);
        return -1;
    }
    if (for_each_ring(b->h, g, ring_chunks, &cv) != 0) {
        gis_set_err(err, errlen, "%s: out of memory", what);
        free(cv.v);
        GEOSGeom_destroy_r(b->h, g);
        free(name_copy);
        return -1;
    }
    d = &b->divs[b->ndivs++];
    memset(d, 0, sizeof *d);
    memcpy(d->code, code, clen + 1);
    d->name = name_copy;
    d->level = level;
    d->is_zone = is_zone != 0;
    d->priv_geom = g;
    d->priv_chunks = cv.v;
    d->priv_nchunks = cv.n;
    memcpy(d->priv_env, env, sizeof env);
    b->nvertices += nverts;
    return 0;
}

int gis_builder_add_station(gis_builder *b, long long id, const char *name, gis_level tier,
                            int can_dispatch, long long parent_id, double lon, double lat,
                            const unsigned char *coverage_wkb, size_t wkb_len, char *err,
                            size_t errlen) {
    char what[64];
    gis_station *st;
    GEOSGeometry *g = NULL;
    size_t nverts = 0;
    double env[4];
    char *name_copy;

    if (b == NULL) {
        gis_set_err(err, errlen, "no builder");
        return -1;
    }
    snprintf(what, sizeof what, "station %lld", id);
    if (!valid_level((int)tier)) {
        gis_set_err(err, errlen, "%s: tier %d is not a gis_level", what, (int)tier);
        return -1;
    }
    if (!valid_lonlat(lon, lat)) {
        gis_set_err(err, errlen, "%s: location not finite or out of range", what);
        return -1;
    }
    if (b->nsts == b->capsts) {
        size_t cap = b->capsts ? b->capsts * 2 : 64;
        gis_station *m = realloc(b->sts, cap * sizeof *m);
        if (m == NULL) {
            gis_set_err(err, errlen, "%s: out of memory", what);
            return -1;
        }
        b->sts = m;
        b->capsts = cap;
    }
    name_copy = dup_str(name ? name : "");
    if (name_copy == NULL) {
        gis_set_err(err, errlen, "%s: out of memory", what);
        return -1;
    }
    if (coverage_wkb != NULL && wkb_len > 0) {
        char cwhat[80];
        snprintf(cwhat, sizeof cwhat, "%s coverage", what);
        g = read_polygonal(b, cwhat, coverage_wkb, wkb_len, &nverts, env, err, errlen);
        if (g == NULL) {
            free(name_copy);
            return -1;
        }
    }
    st = &b->sts[b->nsts++];
    memset(st, 0, sizeof *st);
    st->id = id;
    st->name = name_copy;
    st->tier = tier;
    st->can_dispatch = can_dispatch != 0;
    st->parent_id = parent_id;
    st->lon = lon;
    st->lat = lat;
    st->priv_cov = g;
    b->nvertices += nverts;
    return 0;
}

static void free_items(GEOSContextHandle_t h, gis_division *divs, size_t ndivs, gis_station *sts,
                       size_t nsts) {
    size_t i;

    for (i = 0; i < ndivs; i++) {
        if (divs[i].priv_geom != NULL) GEOSGeom_destroy_r(h, divs[i].priv_geom);
        free(divs[i].priv_chunks);
        free(divs[i].name);
    }
    for (i = 0; i < nsts; i++) {
        if (sts[i].priv_cov != NULL) GEOSGeom_destroy_r(h, sts[i].priv_cov);
        free(sts[i].name);
    }
    free(divs);
    free(sts);
}

void gis_builder_destroy(gis_builder *b) {
    if (b == NULL) return;
    free_items(b->h, b->divs, b->ndivs, b->sts, b->nsts);
    if (b->rd != NULL) GEOSWKBReader_destroy_r(b->h, b->rd);
    geos_close(b->h);
    free(b);
}

static void index_free(gis_index *ix) {
    int i;

    if (ix == NULL) return;
    for (i = 0; i < 4; i++)
        grid_free(&ix->tier_grid[i]);
    grid_free(&ix->zone_grid);
    grid_free(&ix->cov_grid);
    free_items(ix->h, ix->divs, ix->ndivs, ix->sts, ix->nsts);
    free(ix->by_id);
    free(ix->city);
    geos_close(ix->h);
    free(ix);
}

void gis_index_destroy(gis_index *ix) {
    index_free(ix);
}

static int cmp_div_code(const void *a, const void *b) {
    const gis_division *x = *(const gis_division *const *)a;
    const gis_division *y = *(const gis_division *const *)b;

    return strcmp(x->code, y->code);
}

static int cmp_station_id(const void *a, const void *b) {
    const gis_station *x = *(const gis_station *const *)a;
    const gis_station *y = *(const gis_station *const *)b;

    return (x->id > y->id) - (x->id < y->id);
}

/* Stations for routing: lowest tier (highest gis_level) first, then id. */
static int cmp_station_route(const void *a, const void *b) {
    const gis_station *x = *(const gis_station *const *)a;
    const gis_station *y = *(const gis_station *const *)b;

    if (x->tier != y->tier) return x->tier > y->tier ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Division items of one layer (level lv, or the zones when lv < 0) in code
 * order, with their geometries and vertex count, into the grid. */
static int build_div_grid(gis_index *ix, gis_division **sorted, int lv, void **items,
                          const GEOSGeometry **geoms, cell_grid *g) {
    size_t i, n = 0, nv = 0;

    for (i = 0; i < ix->ndivs; i++) {
        gis_division *d = sorted[i];
        size_t k;
        if (lv < 0 ? !d->is_zone : (d->is_zone || (int)d->level != lv)) continue;
        items[n] = d;
        geoms[n++] = d->priv_geom;
        for (k = 0; k < d->priv_nchunks; k++)
            nv += ((seg_chunk *)d->priv_chunks)[k].count - 1;
    }
    return grid_build(ix->h, g, items, geoms, n, lv < 0 ? 0.0 : ix->snap_m * 1.01 + 1.0, nv);
}

/* The cell grids (four tiers, zones, dispatching stations' coverage), items in priority order.
 * Returns 0, or -1 (GEOS message in ix->msg, else out of memory). */
static int build_grids(gis_index *ix, gis_division **sorted) {
    size_t i;
    int l;
    void **items = malloc((ix->ndivs + ix->nsts + 1) * sizeof *items);
    const GEOSGeometry **geoms = malloc((ix->ndivs + ix->nsts + 1) * sizeof *geoms);
    gis_station **route = malloc((ix->nsts + 1) * sizeof *route);
    size_t n = 0, nv = 0;
    int bad = items == NULL || geoms == NULL || route == NULL;
    for (l = 0; l < 4 && !bad; l++)
        bad = build_div_grid(ix, sorted, l, items, geoms, &ix->tier_grid[l]) != 0;
    if (!bad) bad = build_div_grid(ix, sorted, -1, items, geoms, &ix->zone_grid) != 0;
    if (!bad) {
        memcpy(route, ix->by_id, ix->nsts * sizeof *route);
        gis_sort(route, ix->nsts, sizeof *route, cmp_station_route);
        for (i = 0; i < ix->nsts; i++) {
            gis_station *st = route[i];
            if (st->can_dispatch && st->priv_cov != NULL) {
                items[n] = st;
                geoms[n++] = st->priv_cov;
                nv += (size_t)GEOSGetNumCoordinates_r(ix->h, st->priv_cov);
            }
        }
        bad = grid_build(ix->h, &ix->cov_grid, items, geoms, n, 0.0, nv) != 0;
    }
    free(items);
    free(geoms);
    free(route);
    return bad ? -1 : 0;
}

/* Rough heap estimate: GEOS keeps 24 bytes per coordinate (x, y, z), plus per-geometry objects,
 * the cell grids and our records. */
static void estimate_bytes(gis_index *ix) {
    size_t i;
    int l;
    ix->approx_bytes = sizeof *ix + ix->nvertices * 24 +
                       ix->ndivs * (sizeof(gis_division) + 256 + 96) +
                       ix->nsts * (sizeof(gis_station) + 3 * sizeof(void *) + 256 + 96);
    for (i = 0; i < ix->ndivs; i++)
        ix->approx_bytes +=
            strlen(ix->divs[i].name) + 1 + ix->divs[i].priv_nchunks * sizeof(seg_chunk);
    for (i = 0; i < ix->nsts; i++)
        ix->approx_bytes += strlen(ix->sts[i].name) + 1;
    for (l = 0; l < 4; l++)
        ix->approx_bytes += grid_bytes(&ix->tier_grid[l]);
    ix->approx_bytes += grid_bytes(&ix->zone_grid) + grid_bytes(&ix->cov_grid);
}

/* Sorts the divisions by code and the stations by id (and lists the city-tier ones); refuses a
 * code or id given twice. Returns 0 or -1 with err. */
static int index_tables(gis_index *ix, gis_division **sorted, char *err, size_t errlen) {
    size_t i;
    for (i = 0; i < ix->ndivs; i++) {
        ix->divs[i].priv_slot = i;
        sorted[i] = &ix->divs[i];
    }
    gis_sort(sorted, ix->ndivs, sizeof *sorted, cmp_div_code);
    for (i = 1; i < ix->ndivs; i++) {
        if (strcmp(sorted[i - 1]->code, sorted[i]->code) == 0) {
            gis_set_err(err, errlen, "duplicate division code %s", sorted[i]->code);
            return -1;
        }
    }
    /* Unique station ids, city-tier stations. */
    for (i = 0; i < ix->nsts; i++) {
        ix->sts[i].priv_slot = i;
        ix->by_id[i] = &ix->sts[i];
        if (ix->sts[i].tier == GIS_CITY) ix->city[ix->ncity++] = &ix->sts[i];
    }
    gis_sort(ix->by_id, ix->nsts, sizeof *ix->by_id, cmp_station_id);
    for (i = 1; i < ix->nsts; i++) {
        if (ix->by_id[i - 1]->id == ix->by_id[i]->id) {
            gis_set_err(err, errlen, "duplicate station id %lld", ix->by_id[i]->id);
            return -1;
        }
    }
    return 0;
}

gis_index *gis_builder_finish(gis_builder *b, double snap_tolerance_m, char *err, size_t errlen) {
    gis_index *ix = NULL, *out = NULL;
    gis_division **sorted = NULL;

    if (b == NULL) {
        gis_set_err(err, errlen, "no builder");
        return NULL;
    }
    if (!isfinite(snap_tolerance_m) || snap_tolerance_m < 0.0) {
        gis_set_err(err, errlen, "snap tolerance must be a finite number >= 0 metres");
        goto done;
    }
    ix = calloc(1, sizeof *ix);
    if (ix == NULL) {
        gis_set_err(err, errlen, "out of memory");
        goto done;
    }
    /* Move the builder's content into the index. */
    ix->h = b->h;
    GEOSContext_setErrorMessageHandler_r(ix->h, geos_msg, ix->msg);
    GEOSWKBReader_destroy_r(b->h, b->rd);
    b->rd = NULL;
    b->h = NULL;
    ix->divs = b->divs;
    ix->ndivs = b->ndivs;
    ix->sts = b->sts;
    ix->nsts = b->nsts;
    ix->nvertices = b->nvertices;
    ix->snap_m = snap_tolerance_m;
    b->divs = NULL;
    b->sts = NULL;
    b->ndivs = b->nsts = 0;
    atomic_init(&ix->refs, 1);

    /* Unique division codes. */
    sorted = malloc((ix->ndivs ? ix->ndivs : 1) * sizeof *sorted);
    ix->by_id = malloc((ix->nsts ? ix->nsts : 1) * sizeof *ix->by_id);
    ix->city = malloc((ix->nsts ? ix->nsts : 1) * sizeof *ix->city);
    if (sorted == NULL || ix->by_id == NULL || ix->city == NULL) {
        gis_set_err(err, errlen, "out of memory");
        goto done;
    }
    if (index_tables(ix, sorted, err, errlen) != 0) goto done;
    if (build_grids(ix, sorted) != 0) {
        gis_set_err(err, errlen, "cannot build the cell grids: %s",
                    ix->msg[0] ? ix->msg : "out of memory");
        goto done;
    }
    estimate_bytes(ix);

    out = ix;
    ix = NULL;
done:
    free(sorted);
    index_free(ix);
    gis_builder_destroy(b);
    return out;
}

void gis_index_stats(const gis_index *ix, size_t *ndivisions, size_t *nstations, size_t *nvertices,
                     size_t *approx_bytes) {
    if (ndivisions) *ndivisions = ix ? ix->ndivs : 0;
    if (nstations) *nstations = ix ? ix->nsts : 0;
    if (nvertices) *nvertices = ix ? ix->nvertices : 0;
    if (approx_bytes) *approx_bytes = ix ? ix->approx_bytes : 0;
}

/* ------------------------------------------------------------------ slot */

static void index_release(gis_index *ix) {
    if (ix != NULL && atomic_fetch_sub_explicit(&ix->refs, 1, memory_order_acq_rel) == 1)
        index_free(ix);
}

gis_slot *gis_slot_create(void) {
    gis_slot *s = calloc(1, sizeof *s);

    if (s == NULL) return NULL;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return NULL;
    }
    atomic_init(&s->gen, 0);
    return s;
}

void gis_slot_destroy(gis_slot *s) {
    if (s == NULL) return;
    index_release(s->cur);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void gis_slot_publish(gis_slot *s, gis_index *ix) {
    gis_index *old;

    if (s == NULL || ix == NULL) return;
    pthread_mutex_lock(&s->mu);
    old = s->cur;
    s->cur = ix; /* the slot's reference is the one ix was created with */
    atomic_fetch_add_explicit(&s->gen, 1, memory_order_release);
    pthread_mutex_unlock(&s->mu);
    index_release(old);
}

int gis_slot_ready(gis_slot *s) {
    return s != NULL && atomic_load_explicit(&s->gen, memory_order_acquire) != 0;
}

/* --------------------------------------------------------------- locator */

gis_locator *gis_locator_create(gis_slot *s) {
    gis_locator *l;

    if (s == NULL) return NULL;
    l = calloc(1, sizeof *l);
    if (l == NULL) return NULL;
    l->s = s;
    l->h = geos_open(l->msg);
    if (l->h == NULL) {
        free(l);
        return NULL;
    }
    return l;
}

/* Drop the prepared geometries and the index reference. */
static void locator_drop(gis_locator *l) {
    size_t i;

    if (l->ix != NULL) {
        for (i = 0; l->pdiv != NULL && i < l->ix->ndivs; i++)
            if (l->pdiv[i] != NULL) GEOSPreparedGeom_destroy_r(l->h, l->pdiv[i]);
        for (i = 0; l->pcov != NULL && i < l->ix->nsts; i++)
            if (l->pcov[i] != NULL) GEOSPreparedGeom_destroy_r(l->h, l->pcov[i]);
    }
    free(l->pdiv);
    free(l->pcov);
    l->pdiv = NULL;
    l->pcov = NULL;
    index_release(l->ix);
    l->ix = NULL;
    l->gen = 0;
}

void gis_locator_destroy(gis_locator *l) {
    if (l == NULL) return;
    locator_drop(l);
    free(l->sc);
    if (l->pt != NULL) GEOSGeom_destroy_r(l->h, l->pt);
    geos_close(l->h);
    free(l);
}

/* Make l->ix the newest published index. Lock-free unless it changed. */
static int locator_refresh(gis_locator *l, char *err, size_t errlen) {
    gis_slot *s = l->s;
    unsigned long g = atomic_load_explicit(&s->gen, memory_order_acquire);
    gis_index *ix;

    if (g != 0 && g == l->gen && l->ix != NULL) return 0;
    if (g == 0) {
        gis_set_err(err, errlen, "no spatial index published yet");
        return -1;
    }
    locator_drop(l);
    pthread_mutex_lock(&s->mu);
    ix = s->cur;
    atomic_fetch_add_explicit(&ix->refs, 1, memory_order_relaxed);
    g = atomic_load_explicit(&s->gen, memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
    l->ix = ix;
    l->gen = g;
    l->pdiv = calloc(ix->ndivs ? ix->ndivs : 1, sizeof *l->pdiv);
    l->pcov = calloc(ix->nsts ? ix->nsts : 1, sizeof *l->pcov);
    if (l->pdiv == NULL || l->pcov == NULL) {
        locator_drop(l);
        gis_set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The GEOS point at (lon, lat) of the current gis_locate, created on first
 * need (only cells on an edge need GEOS) and kept for the next calls.
 * GEOS 3.11 caches a geometry's envelope, so a point is never moved: a new
 * position gets a new point. NULL on failure. */
static const GEOSGeometry *locate_point(gis_locator *l, double lon, double lat) {
    if (l->pt != NULL && l->pt_lon == lon && l->pt_lat == lat) return l->pt;
    if (l->pt != NULL) GEOSGeom_destroy_r(l->h, l->pt);
    l->pt = GEOSGeom_createPointFromXY_r(l->h, lon, lat);
    l->pt_lon = lon;
    l->pt_lat = lat;
    return l->pt;
}

/* 1 if the item with cell status st, geometry geom and prepared slot
 * cache[slot] covers (lon, lat), 0 if not, -1 on GEOS failure. Only
 * CELL_EDGE needs the polygon test; prepares lazily in the locator. */
static int covers(gis_locator *l, unsigned int st, const GEOSPreparedGeometry **cache, size_t slot,
                  const GEOSGeometry *geom, double lon, double lat) {
    const GEOSGeometry *pt;
    char r;

    if (st != CELL_EDGE) return st == CELL_IN;
    pt = locate_point(l, lon, lat);
    if (pt == NULL) return -1;
    if (cache[slot] == NULL) {
        cache[slot] = GEOSPrepare_r(l->h, geom);
        if (cache[slot] == NULL) return -1;
    }
    r = GEOSPreparedCovers_r(l->h, cache[slot], pt);
    return r == 2 ? -1 : r;
}

/* Geodesic metres from (lon, lat) to (qlon, qlat), remembered for the rest
 * of this gis_locate (tiers often snap to the same boundary point). */
static double memo_geodesic(gis_locator *l, double lon, double lat, double qlon, double qlat) {
    int i;
    double d;

    for (i = 0; i < l->nmemo; i++)
        if (l->memo[i][0] == qlon && l->memo[i][1] == qlat) return l->memo[i][2];
    d = gis_geodesic_m(lon, lat, qlon, qlat);
    i = l->nmemo < 4 ? l->nmemo++ : 3;
    l->memo[i][0] = qlon;
    l->memo[i][1] = qlat;
    l->memo[i][2] = d;
    return d;
}

/* Nearest-point search in a local tangent frame (metres) centred on the
 * query point; exact enough within a few kilometres. */
typedef struct {
    double lon0, lat0, kx, ky; /* metres per degree of lon / lat at lat0 */
    double reach;              /* ignore chunks farther than this */
    double best2, bx, by;      /* best squared distance and its point (local) */
} near_ctx;

/* Distance from v to the interval [lo, hi], 0 inside (fmax(0, fmax(lo - v,
 * v - hi)) without the libm calls). */
static inline double gap(double lo, double hi, double v) {
    return v < lo ? lo - v : (v > hi ? v - hi : 0.0);
}

/* Scan the division's boundary chunks, skipping those whose envelope is
 * beyond reach or beyond the best distance so far. */
static int chunks_near(GEOSContextHandle_t h, const gis_division *d, near_ctx *c) {
    const seg_chunk *ch = d->priv_chunks;
    double reach2 = c->reach * c->reach;
    size_t k;

    for (k = 0; k < d->priv_nchunks; k++) {
        double dx = gap(ch[k].env[0], ch[k].env[2], c->lon0) * c->kx;
        double dy = gap(ch[k].env[1], ch[k].env[3], c->lat0) * c->ky;
        double px = 0.0, py = 0.0, d2 = dx * dx + dy * dy;
        unsigned int i;

        if (d2 > reach2 || d2 >= c->best2) continue;
        for (i = 0; i < ch[k].count; i++) {
            double x, y, qx, qy, vx, vy, t, len2;
            if (GEOSCoordSeq_getXY_r(h, ch[k].seq, ch[k].start + i, &x, &y) == 0) return -1;
            qx = (x - c->lon0) * c->kx;
            qy = (y - c->lat0) * c->ky;
            if (i > 0) {
                /* Closest point of segment p-q to the origin. */
                vx = qx - px;
                vy = qy - py;
                len2 = vx * vx + vy * vy;
                t = len2 > 0.0 ? -(px * vx + py * vy) / len2 : 0.0;
                t = t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
                x = px + t * vx;
                y = py + t * vy;
                d2 = x * x + y * y;
                if (d2 < c->best2) {
                    c->best2 = d2;
                    c->bx = x;
                    c->by = y;
                }
            }
            px = qx;
            py = qy;
        }
    }
    return 0;
}

/* Upper bound of |geodesic - local| metres for a local distance of m metres
 * (m within snapping reach, |lat| <= 85): the tangent-frame error is below
 * 1e-4 relative there; 1e-3 leaves a wide margin. */
static double local_slack(double m) {
    return m * 1e-3 + 1e-6;
}

/* The division among the grid entries ents[0..n) nearest to (lon, lat)
 * within tol metres (ties: smallest code), NULL if none; *dist_m gets its
 * geodesic distance. The nearest boundary point of each division is found
 * in a local tangent frame from its boundary chunks (immutable, shared by
 * all readers); the geodesic distance, which decides, is measured only for
 * the divisions whose local distance leaves them a chance to win. The cell's
 * entries hold every division within reach (see cell grids). */
static int snap(gis_locator *l, const cell_grid *g, const uint32_t *ents, size_t n, double lon,
                double lat, double tol, const gis_division **best, double *dist_m) {
    near_ctx c = {0.0, 0.0, 0.0, 0.0, 0.0, INFINITY, 0.0, 0.0};
    double bestd = INFINITY, lmin = INFINITY, limit;
    size_t i, nc = 0;
    int exact_all = fabs(lat) > 85.0;

    *best = NULL;
    *dist_m = -1.0;
    if (n > l->capsc) {
        snap_cand *m = realloc(l->sc, n * sizeof *m);
        if (m == NULL) return -1;
        l->sc = m;
        l->capsc = n;
    }
    metres_per_degree(lat, &c.kx, &c.ky);
    c.lon0 = lon;
    c.lat0 = lat;
    c.reach = tol * 1.01 + 1.0;
    for (i = 0; i < n; i++) {
        const gis_division *d = g->items[ents[i] >> 2];
        double ex, ey;
        ex = gap(d->priv_env[0], d->priv_env[2], lon) * c.kx;
        ey = gap(d->priv_env[1], d->priv_env[3], lat) * c.ky;
        if (ex * ex + ey * ey > c.reach * c.reach) continue;
        c.best2 = INFINITY;
        if (chunks_near(l->h, d, &c) != 0) return -1;
        if (!isfinite(c.best2)) continue;
        l->sc[nc].d = d;
        l->sc[nc].local_m = sqrt(c.best2);
        l->sc[nc].qlon = lon + c.bx / c.kx;
        l->sc[nc].qlat = lat + c.by / c.ky;
        if (l->sc[nc].local_m < lmin) lmin = l->sc[nc].local_m;
        nc++;
    }
    /* A division whose geodesic distance surely exceeds the nearest one's or
     * the tolerance cannot win. */
    limit = fmin(lmin + local_slack(lmin), tol);
    for (i = 0; i < nc; i++) {
        const snap_cand *s = &l->sc[i];
        double d_m;
        if (!exact_all && s->local_m - local_slack(s->local_m) > limit) continue;
        d_m = memo_geodesic(l, lon, lat, s->qlon, s->qlat);
        if (d_m <= tol &&
            (d_m < bestd || (d_m == bestd && strcmp(s->d->code, (*best)->code) < 0))) {
            bestd = d_m;
            *best = s->d;
        }
    }
    *dist_m = *best ? bestd : -1.0;
    return 0;
}

static const gis_station *station_lookup(const gis_index *ix, long long id) {
    size_t lo = 0, hi = ix->nsts;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->by_id[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->nsts && ix->by_id[lo]->id == id ? ix->by_id[lo] : NULL;
}

/* out->tiers and out->snapped_m. Returns 0 or -1 with err. */
static int locate_tiers(gis_locator *l, double lon, double lat, gis_location *out, char *err,
                        size_t errlen) {
    gis_index *ix = l->ix;
    const uint32_t *ents;
    size_t i, n;
    int lv;
    /* Tiers: smallest covering code wins (cells list divisions in code
     * order); else snap within tolerance. */
    for (lv = 0; lv < 4; lv++) {
        const cell_grid *g = &ix->tier_grid[lv];
        const gis_division *win = NULL;
        ents = grid_cell(g, lon, lat, &n);
        for (i = 0; i < n && win == NULL; i++) {
            const gis_division *d = g->items[ents[i] >> 2];
            int c = covers(l, ents[i] & 3u, l->pdiv, d->priv_slot, d->priv_geom, lon, lat);
            if (c < 0) {
                gis_set_err(err, errlen, "GEOS covers failed for %s: %s", d->code, l->msg);
                return -1;
            }
            if (c) win = d;
        }
        if (win == NULL && n > 0 && ix->snap_m > 0.0) {
            double dm;
            if (snap(l, g, ents, n, lon, lat, ix->snap_m, &win, &dm) != 0) {
                gis_set_err(err, errlen, "snapping failed: %s",
                            l->msg[0] ? l->msg : "out of memory");
                return -1;
            }
            if (win != NULL && dm > out->snapped_m) out->snapped_m = dm;
        }
        out->tiers[lv] = win;
    }
    return 0;
}

/* out->zones. Returns 0 or -1 with err. */
static int locate_zones(gis_locator *l, double lon, double lat, gis_location *out, char *err,
                        size_t errlen) {
    gis_index *ix = l->ix;
    size_t i, n;
    const uint32_t *ents;
    /* Zones: every covering zone, smallest codes first, at most 8 (cells
     * list zones in code order). */
    ents = grid_cell(&ix->zone_grid, lon, lat, &n);
    for (i = 0; i < n && out->nzones < NZONES_MAX; i++) {
        const gis_division *d = ix->zone_grid.items[ents[i] >> 2];
        int c = covers(l, ents[i] & 3u, l->pdiv, d->priv_slot, d->priv_geom, lon, lat);
        if (c < 0) {
            gis_set_err(err, errlen, "GEOS covers failed for %s: %s", d->code, l->msg);
            return -1;
        }
        if (c) out->zones[out->nzones++] = d;
    }

    return 0;
}

/* out->station, its distance and its chain of parents. Returns 0 or -1 with err. */
static int locate_station(gis_locator *l, double lon, double lat, gis_location *out, char *err,
                          size_t errlen) {
    gis_index *ix = l->ix;
    const gis_station *best = NULL;
    const uint32_t *ents;
    double bestd = -1.0;
    size_t i, n;
    int nbest = 0;
    /* Routing: lowest tier covering (cells list coverages lowest tier
     * first, then by id), nearest, smallest id. The geodesic distance is
     * measured only when it decides or is reported. */
    ents = grid_cell(&ix->cov_grid, lon, lat, &n);
    for (i = 0; i < n; i++) {
        const gis_station *st = ix->cov_grid.items[ents[i] >> 2];
        int c;
        if (best != NULL && st->tier != best->tier) break; /* a higher tier: cannot win */
        c = covers(l, ents[i] & 3u, l->pcov, st->priv_slot, st->priv_cov, lon, lat);
        if (c < 0) {
            gis_set_err(err, errlen, "GEOS covers failed for station %lld: %s", st->id, l->msg);
            return -1;
        }
        if (!c) continue;
        if (++nbest == 1) {
            best = st;
            continue;
        }
        if (nbest == 2) bestd = gis_geodesic_m(lon, lat, best->lon, best->lat);
        {
            double d = gis_geodesic_m(lon, lat, st->lon, st->lat);
            if (d < bestd) { /* equal: the earlier, smaller id stays */
                best = st;
                bestd = d;
            }
        }
    }
    if (nbest == 1) bestd = gis_geodesic_m(lon, lat, best->lon, best->lat);
    if (best == NULL) {
        /* City fallback: dispatching city stations first, then nearest. */
        for (i = 0; i < ix->ncity; i++) {
            const gis_station *st = ix->city[i];
            double d = gis_geodesic_m(lon, lat, st->lon, st->lat);
            if (best == NULL || st->can_dispatch > best->can_dispatch ||
                (st->can_dispatch == best->can_dispatch &&
                 (d < bestd || (d == bestd && st->id < best->id)))) {
                best = st;
                bestd = d;
            }
        }
    }
    out->station = best;
    out->station_distance_m = best ? bestd : -1.0;
    if (best != NULL) {
        const gis_station *cur = best;
        while (out->nchain < NCHAIN_MAX && cur->parent_id > 0) {
            const gis_station *up = station_lookup(ix, cur->parent_id);
            int k, seen = (up == best);
            for (k = 0; k < out->nchain && !seen; k++)
                seen = out->chain[k] == up;
            if (up == NULL || seen) break;
            out->chain[out->nchain++] = up;
            cur = up;
        }
    }
    return 0;
}

int gis_locate(gis_locator *l, double lon, double lat, gis_location *out, char *err,
               size_t errlen) {
    if (l == NULL || out == NULL) {
        gis_set_err(err, errlen, "no locator or output");
        return -1;
    }
    if (!valid_lonlat(lon, lat)) {
        gis_set_err(err, errlen, "lon/lat not finite or out of range (lon -180..180, lat -90..90)");
        return -1;
    }
    if (locator_refresh(l, err, errlen) != 0) return -1;
    memset(out, 0, sizeof *out);
    out->snapped_m = -1.0;
    out->station_distance_m = -1.0;
    l->nmemo = 0;

    if (locate_tiers(l, lon, lat, out, err, errlen) != 0 ||
        locate_zones(l, lon, lat, out, err, errlen) != 0)
        return -1;
    out->outside = out->tiers[GIS_CITY] == NULL;
    return locate_station(l, lon, lat, out, err, errlen);
}

const gis_station *gis_station_by_id(gis_locator *l, long long id) {
    if (l == NULL || locator_refresh(l, NULL, 0) != 0) return NULL;
    return station_lookup(l->ix, id);
}
