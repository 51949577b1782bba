/* gis/transform.c - PROJ contexts, Gauss-Kruger transforms, geodesic distance.
 * Thread rule: one gis_proj per thread (PJ_CONTEXT and PJ are not shared). */
#include "gis/transform.h"
#include "gis/err.h"

#include <geodesic.h>
#include <math.h>
#include <proj.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define GK_EPSG_FIRST 4534 /* CGCS2000 / 3-degree Gauss-Kruger CM 75E */
#define GK_EPSG_LAST 4554  /* CGCS2000 / 3-degree Gauss-Kruger CM 135E */
#define GK_NZONES (GK_EPSG_LAST - GK_EPSG_FIRST + 1)

struct gis_proj {
    PJ_CONTEXT *ctx;
    PJ *gk[GK_NZONES]; /* EPSG:4326 -> EPSG:45xx, normalised, created lazily */
};

gis_proj *gis_proj_create(char *err, size_t errlen) {
    gis_proj *p = calloc(1, sizeof *p);

    if (p == NULL) {
        gis_set_err(err, errlen, "out of memory");
        return NULL;
    }
    p->ctx = proj_context_create();
    if (p->ctx == NULL) {
        gis_set_err(err, errlen, "proj_context_create failed");
        free(p);
        return NULL;
    }
    /* Never reach for the network: every transform used here is offline. */
    proj_context_set_enable_network(p->ctx, 0);
    return p;
}

void gis_proj_destroy(gis_proj *p) {
    int i;

    if (p == NULL) return;
    for (i = 0; i < GK_NZONES; i++)
        if (p->gk[i] != NULL) proj_destroy(p->gk[i]);
    proj_context_destroy(p->ctx);
    free(p);
}

int gis_gk_epsg_for_lon(double lon) {
    int zone;

    if (!isfinite(lon) || lon < 73.5 || lon > 136.5) return -1;
    zone = (int)floor((lon + 1.5) / 3.0); /* CM = 3 * zone */
    if (zone > 45)                        /* lon == 136.5 exactly */
        zone = 45;
    return GK_EPSG_FIRST + (zone - 25);
}

/* The cached EPSG:4326 -> EPSG:epsg transform, created on first use. */
static PJ *gk_transform(gis_proj *p, int epsg, char *err, size_t errlen) {
    char target[32];
    PJ *raw = NULL, *norm = NULL;
    int slot;

    if (p == NULL) {
        gis_set_err(err, errlen, "no PROJ context");
        return NULL;
    }
    if (epsg < GK_EPSG_FIRST || epsg > GK_EPSG_LAST) {
        gis_set_err(err, errlen, "EPSG:%d is not a CGCS2000 3-degree Gauss-Kruger CM zone (%d..%d)",
                    epsg, GK_EPSG_FIRST, GK_EPSG_LAST);
        return NULL;
    }
    slot = epsg - GK_EPSG_FIRST;
    if (p->gk[slot] != NULL) return p->gk[slot];

    snprintf(target, sizeof target, "EPSG:%d", epsg);
    raw = proj_create_crs_to_crs(p->ctx, "EPSG:4326", target, NULL);
    if (raw == NULL) {
        int e = proj_context_errno(p->ctx);
        gis_set_err(err, errlen, "cannot create EPSG:4326 -> %s: %s", target,
                    e ? proj_context_errno_string(p->ctx, e) : "unknown PROJ error");
        goto done;
    }
    norm = proj_normalize_for_visualization(p->ctx, raw);
    if (norm == NULL) {
        int e = proj_context_errno(p->ctx);
        gis_set_err(err, errlen, "cannot normalise EPSG:4326 -> %s: %s", target,
                    e ? proj_context_errno_string(p->ctx, e) : "unknown PROJ error");
        goto done;
    }
    p->gk[slot] = norm;
    norm = NULL;
done:
    if (raw != NULL) proj_destroy(raw);
    if (norm != NULL) proj_destroy(norm);
    return p->gk[slot];
}

static int run(gis_proj *p, int epsg, PJ_DIRECTION dir, double x, double y, double *ox, double *oy,
               char *err, size_t errlen) {
    PJ *pj;
    PJ_COORD c;

    if (!isfinite(x) || !isfinite(y)) {
        gis_set_err(err, errlen, "coordinate is not a finite number");
        return -1;
    }
    if (dir == PJ_FWD && (x < -180.0 || x > 180.0 || y < -90.0 || y > 90.0)) {
        gis_set_err(err, errlen, "lon/lat out of range (%.9g, %.9g)", x, y);
        return -1;
    }
    pj = gk_transform(p, epsg, err, errlen);
    if (pj == NULL) return -1;
    proj_errno_reset(pj);
    c = proj_coord(x, y, 0.0, 0.0);
    c = proj_trans(pj, dir, c);
    if (c.xy.x == HUGE_VAL || c.xy.y == HUGE_VAL || !isfinite(c.xy.x) || !isfinite(c.xy.y)) {
        int e = proj_errno(pj);
        gis_set_err(err, errlen, "EPSG:%d %s transform failed for (%.9g, %.9g): %s", epsg,
                    dir == PJ_FWD ? "forward" : "inverse", x, y,
                    e ? proj_context_errno_string(p->ctx, e) : "no result");
        proj_errno_reset(pj);
        return -1;
    }
    *ox = c.xy.x;
    *oy = c.xy.y;
    return 0;
}

int gis_proj_to_gk(gis_proj *p, int epsg, double lon, double lat, double *e, double *n, char *err,
                   size_t errlen) {
    return run(p, epsg, PJ_FWD, lon, lat, e, n, err, errlen);
}

int gis_proj_from_gk(gis_proj *p, int epsg, double e, double n, double *lon, double *lat, char *err,
                     size_t errlen) {
    return run(p, epsg, PJ_INV, e, n, lon, lat, err, errlen);
}

static struct geod_geodesic wgs84_geod;
static pthread_once_t wgs84_once = PTHREAD_ONCE_INIT;

static void wgs84_init(void) {
    geod_init(&wgs84_geod, 6378137.0, 1.0 / 298.257223563);
}

double gis_geodesic_m(double lon1, double lat1, double lon2, double lat2) {
    double s12 = 0.0;

    if (!isfinite(lon1) || !isfinite(lat1) || !isfinite(lon2) || !isfinite(lat2)) return NAN;
    pthread_once(&wgs84_once, wgs84_init);
    geod_inverse(&wgs84_geod, lat1, lon1, lat2, lon2, &s12, NULL, NULL);
    return s12;
}
