/* gis/geom.c - the one validate/repair rule for polygonal geometry (division boundaries, station
 * coverage): the importer and the spatial index both use it, so a boundary the index would repair
 * is never rejected on import. */
#include "gis/geom.h"

#include <stdlib.h>

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
