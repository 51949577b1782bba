/* gis/geom.c - the one validate/repair rule for polygonal geometry (division boundaries, station
 * coverage): the importer and the spatial index both use it, so a boundary the index would repair
 * is never rejected on import. */
#include "gis/geom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The polygonal part of a MakeValid result (a new geometry), or NULL. */
static GEOSGeometry *polygonal_part(GEOSContextHandle_t h, const GEOSGeometry *g) {
    int type = GEOSGeomTypeId_r(h, g);
    GEOSGeometry **parts = NULL, *out = NULL;
    int i, n, k = 0;

    if (type == GEOS_POLYGON || type == GEOS_MULTIPOLYGON) return GEOSGeom_clone_r(h, g);
    if (type != GEOS_GEOMETRYCOLLECTION) return NULL;
    n = GEOSGetNumGeometries_r(h, g);
    parts = calloc((size_t)(n > 0 ? n : 1) * 4, sizeof *parts);
    if (parts == NULL) return NULL;
    for (i = 0; i < n; i++) {
        const GEOSGeometry *p = GEOSGetGeometryN_r(h, g, i);
        int t = p ? GEOSGeomTypeId_r(h, p) : -1;
        if (t == GEOS_POLYGON) {
            if ((parts[k] = GEOSGeom_clone_r(h, p)) == NULL) goto done;
            k++;
        } else if (t == GEOS_MULTIPOLYGON) {
            int j, m = GEOSGetNumGeometries_r(h, p);
            GEOSGeometry **more =
                realloc(parts, ((size_t)k + (size_t)m + (size_t)n) * sizeof *parts);
            if (more == NULL) goto done;
            parts = more;
            for (j = 0; j < m; j++) {
                if ((parts[k] = GEOSGeom_clone_r(h, GEOSGetGeometryN_r(h, p, j))) == NULL)
                    goto done;
                k++;
            }
        }
    }
    if (k == 0) goto done;
    if (k == 1) {
        out = parts[0];
        k = 0;
        goto done;
    }
    out = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, parts, (unsigned int)k);
    if (out != NULL) k = 0; /* parts now owned by out */
done:
    for (i = 0; i < k; i++)
        GEOSGeom_destroy_r(h, parts[i]);
    free(parts);
    return out;
}

/* A valid, non-empty polygonal version of g (new geometry), or NULL.
 * Consumes cand (a MakeValid/buffer result, may be NULL). */
static GEOSGeometry *valid_polygonal(GEOSContextHandle_t h, GEOSGeometry *cand) {
    GEOSGeometry *p, *u;

    if (cand == NULL) return NULL;
    p = polygonal_part(h, cand);
    GEOSGeom_destroy_r(h, cand);
    if (p == NULL) return NULL;
    if (GEOSisEmpty_r(h, p) == 0 && GEOSisValid_r(h, p) == 1) return p;
    /* Polygons of a collection may overlap or share edges: dissolve. */
    u = GEOSUnaryUnion_r(h, p);
    GEOSGeom_destroy_r(h, p);
    if (u == NULL) return NULL;
    p = polygonal_part(h, u);
    GEOSGeom_destroy_r(h, u);
    if (p != NULL && GEOSisEmpty_r(h, p) == 0 && GEOSisValid_r(h, p) == 1) return p;
    if (p != NULL) GEOSGeom_destroy_r(h, p);
    return NULL;
}

GEOSGeometry *gis_polygon_repair(GEOSContextHandle_t h, const GEOSGeometry *g) {
    static const enum GEOSMakeValidMethods methods[] = {GEOS_MAKE_VALID_STRUCTURE,
                                                        GEOS_MAKE_VALID_LINEWORK};
    GEOSGeometry *out = NULL;
    size_t i;

    for (i = 0; i < sizeof methods / sizeof methods[0] && out == NULL; i++) {
        GEOSMakeValidParams *params = GEOSMakeValidParams_create_r(h);
        if (params == NULL) return NULL;
        if (GEOSMakeValidParams_setMethod_r(h, params, methods[i]) &&
            GEOSMakeValidParams_setKeepCollapsed_r(h, params, 0))
            out = valid_polygonal(h, GEOSMakeValidWithParams_r(h, g, params));
        GEOSMakeValidParams_destroy_r(h, params);
    }
    if (out == NULL) out = valid_polygonal(h, GEOSBuffer_r(h, g, 0.0, 8));
    return out;
}

GEOSGeometry *gis_polygon_multi(GEOSContextHandle_t h, const GEOSGeometry *g) {
    int type = GEOSGeomTypeId_r(h, g);
    if (type == GEOS_MULTIPOLYGON) return GEOSGeom_clone_r(h, g);
    if (type != GEOS_POLYGON) return NULL;
    GEOSGeometry *one = GEOSGeom_clone_r(h, g);
    if (!one) return NULL;
    GEOSGeometry *out = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, &one, 1);
    if (!out) GEOSGeom_destroy_r(h, one);
    return out;
}

/* ---- GeoJSON polygons in (administration, imports) ---- */

typedef struct read_ctx {
    char msg[256]; /* GEOS's last error */
    gis_crs crs;
} read_ctx;

static void read_message(const char *msg, void *ud) {
    read_ctx *c = ud;
    snprintf(c->msg, sizeof c->msg, "%s", msg);
}

/* GEOSGeom_transformXY_r callback: the input's crs to WGS-84 (0 for a coordinate out of range). */
static int read_to_wgs84(double *x, double *y, void *ud) {
    const read_ctx *c = ud;
    return gis_to_wgs84(c->crs, *x, *y, x, y) == 0;
}

/* g (owned) made valid by the one rule when it is not; NULL (g freed) when nothing is left. */
static GEOSGeometry *read_valid(GEOSContextHandle_t h, GEOSGeometry *g, int *repaired) {
    if (GEOSisValid_r(h, g) == 1) return g;
    GEOSGeometry *v = gis_polygon_repair(h, g);
    GEOSGeom_destroy_r(h, g);
    *repaired = 1;
    return v;
}

/* 1 when a ring of polygonal g has fewer than 4 positions (GEOS reads such rings from GeoJSON). */
static int ring_short(GEOSContextHandle_t h, const GEOSGeometry *g) {
    for (int i = 0; i < GEOSGetNumGeometries_r(h, g); i++) {
        const GEOSGeometry *p = GEOSGetGeometryN_r(h, g, i);
        int nr = GEOSGetNumInteriorRings_r(h, p);
        for (int k = -1; k < nr; k++) {
            const GEOSGeometry *r =
                k < 0 ? GEOSGetExteriorRing_r(h, p) : GEOSGetInteriorRingN_r(h, p, k);
            if (r && GEOSGeomGetNumPoints_r(h, r) < 4) return 1;
        }
    }
    return 0;
}

/* The polygon of geojson in WGS-84, valid, as a MultiPolygon; NULL with err. */
static GEOSGeometry *read_polygon(GEOSContextHandle_t h, read_ctx *c, const char *geojson,
                                  int *repaired, char *err, size_t errlen) {
    GEOSGeoJSONReader *rd = GEOSGeoJSONReader_create_r(h);
    GEOSGeometry *g = rd ? GEOSGeoJSONReader_readGeometry_r(h, rd, geojson) : NULL, *t = NULL;
    if (rd) GEOSGeoJSONReader_destroy_r(h, rd);
    int type = g ? GEOSGeomTypeId_r(h, g) : -1;
    if (!g)
        snprintf(err, errlen, "%s",
                 strstr(c->msg, "closed") ? "a ring does not close: its last position must "
                                            "repeat its first"
                 : strstr(c->msg, "number of points") ? "a ring has fewer than 4 positions"
                                                      : "not a GeoJSON Polygon or MultiPolygon");
    else if (type != GEOS_POLYGON && type != GEOS_MULTIPOLYGON)
        snprintf(err, errlen, "a GeoJSON Polygon or MultiPolygon is needed, not another geometry");
    else if (GEOSisEmpty_r(h, g) == 1)
        snprintf(err, errlen, "the polygon is empty");
    else if (ring_short(h, g))
        snprintf(err, errlen, "a ring has fewer than 4 positions");
    else if (!(g = read_valid(h, g, repaired)))
        snprintf(err, errlen, "the polygon is invalid and cannot be repaired");
    else if (!(t = GEOSGeom_transformXY_r(h, g, read_to_wgs84, c)))
        snprintf(err, errlen, "a coordinate is out of range for %s", gis_crs_name(c->crs));
    else if ((t = read_valid(h, t, repaired)) != NULL) {
        GEOSGeometry *m = gis_polygon_multi(h, t);
        GEOSGeom_destroy_r(h, t);
        if (g) GEOSGeom_destroy_r(h, g);
        if (!m) snprintf(err, errlen, "out of memory");
        return m;
    } else
        snprintf(err, errlen, "the polygon is invalid in WGS-84 and cannot be repaired");
    if (g) GEOSGeom_destroy_r(h, g);
    return NULL;
}

int gis_polygon_read(const char *geojson, gis_crs crs, char **hex, int *repaired, char *err,
                     size_t errlen) {
    read_ctx c = {.crs = crs};
    int fixed = 0, rc = -1;
    *hex = NULL;
    GEOSContextHandle_t h = GEOS_init_r();
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    GEOSContext_setErrorMessageHandler_r(h, read_message, &c);
    GEOSGeometry *m = read_polygon(h, &c, geojson, &fixed, err, errlen);
    GEOSWKBWriter *wr = m ? GEOSWKBWriter_create_r(h) : NULL;
    if (wr) {
        GEOSWKBWriter_setOutputDimension_r(h, wr, 2);
        size_t n = 0;
        unsigned char *x = GEOSWKBWriter_writeHEX_r(h, wr, m, &n);
        if (x && (*hex = malloc(n + 1))) {
            memcpy(*hex, x, n);
            (*hex)[n] = 0;
            rc = 0;
        }
        if (x) GEOSFree_r(h, x);
        GEOSWKBWriter_destroy_r(h, wr);
    }
    if (m && rc != 0) snprintf(err, errlen, "out of memory");
    if (m) GEOSGeom_destroy_r(h, m);
    GEOS_finish_r(h);
    if (repaired) *repaired = fixed;
    return rc;
}
