/* gis/areas.h - target areas in projected metres (CGCS2000 Gauss-Kruger, see gis/transform.h) with
 * a cell grid each: the engine for tracks crossing areas. Patrol coverage paints the 100 m buffer
 * of each track step onto the grids of the communities it touches and keeps the bitmaps per day
 * (a covered share is a union: bitmaps are ORed, never added); patrol visits ask which areas hold
 * a fix and which parts of a step lie inside an area (time inside = the step's time times those
 * parts). No GEOS at read time: a finished set is plain arrays, so any number of threads share it.
 *
 * Life cycle and ownership
 *   gis_areas_builder_create -> gis_areas_add_wkb (copies what it keeps) -> gis_areas_finish
 *   (consumes the builder, returns a read-only set) -> gis_areas_destroy. A builder is used by one
 *   thread; a finished set by any number at once.
 *
 * Grids
 *   Every area's grid is a window of one lattice of square cells of side `cell` metres: cell
 *   (i, j) covers easting [i*cell, (i+1)*cell) and northing [j*cell, (j+1)*cell). The window
 *   spans the area's envelope: columns i0 .. i0+nx-1, rows j0 .. j0+ny-1. An area whose window
 *   would have more than max_cells cells gets a coarser lattice (the cell doubled until it fits).
 *   A cell is inside when its centre is inside the area (even-odd over all rings, the rule of
 *   gis_areas_contains); a cell is covered by a step when its centre lies within the radius of the
 *   step's segment. So every figure is exact for cell centres; a share differs from the exact
 *   geometric one by about half a cell along the boundaries, divided by the area.
 *   Bitmaps: bit k = (j - j0) * nx + (i - i0), most significant bit of byte k / 8 first, nbytes =
 *   ceil(nx * ny / 8) (the tail bits are never set): the layout of PostgreSQL's bit varying, so a
 *   bitmap stored as varbit of nbytes * 8 bits ORs in SQL (bit_or) and reads back unchanged.
 *   `grid` names the window ("epsg/cell/i0/j0/nx/ny"): two bitmaps OR only when it matches.
 *
 * Geometry rules
 *   Input is WKB Polygon or MultiPolygon in the set's projected metres (the caller projects: e.g.
 *   PostGIS ST_Transform(geom, epsg) or gis_proj_to_gk). An invalid polygon is repaired with the
 *   one rule (gis/geom.h); empty, non-polygonal or non-finite input is refused with a message. */
#ifndef GIS_AREAS_H
#define GIS_AREAS_H

#include <stddef.h>

typedef struct gis_areas gis_areas;
typedef struct gis_areas_builder gis_areas_builder;

/* One area of a finished set; everything is owned by the set and read-only. */
typedef struct gis_area {
    const char *key;     /* the caller's key (a division code, a target id), unique in the set */
    double area_m2;      /* the polygon's area */
    double env[4];       /* envelope: xmin, ymin, xmax, ymax */
    double cell;         /* cell side, metres */
    long i0, j0;         /* the window's first column and row on the lattice */
    int nx, ny;          /* the window's columns and rows */
    size_t nbytes;       /* bytes of one bitmap of this grid */
    size_t inside_cells; /* cells whose centre is inside */
    const unsigned char *inside; /* the inside cells (nbytes) */
    char grid[64];               /* "epsg/cell/i0/j0/nx/ny" */
} gis_area;

/* A builder for areas in EPSG `epsg` (stored with the set; the caller projects), with cells of
 * cell_m metres (> 0) and at most max_cells cells per grid (>= 64). Returns NULL with a message
 * in err on bad arguments or out of memory. */
gis_areas_builder *gis_areas_builder_create(int epsg, double cell_m, size_t max_cells, char *err,
                                            size_t errlen);

/* Adds area `key` (copied; at most 63 bytes) from WKB (Polygon or MultiPolygon, projected metres).
 * Returns 0, or -1 with a message in err (the builder stays usable: the area is skipped). */
int gis_areas_add_wkb(gis_areas_builder *b, const char *key, const unsigned char *wkb, size_t len,
                      char *err, size_t errlen);

/* Finishes the set: grids, inside cells and the lookup of areas by place. Consumes b (also on
 * failure). Returns the set, or NULL with a message in err (out of memory, a repeated key). */
gis_areas *gis_areas_finish(gis_areas_builder *b, char *err, size_t errlen);

/* Frees a builder that was not finished; NULL is a no-op. */
void gis_areas_builder_destroy(gis_areas_builder *b);

/* Frees a set; NULL is a no-op. */
void gis_areas_destroy(gis_areas *s);

/* The set's EPSG code, its number of areas, and area i (0 <= i < count; areas are in key order,
 * strcmp). */
int gis_areas_epsg(const gis_areas *s);
size_t gis_areas_count(const gis_areas *s);
const gis_area *gis_areas_get(const gis_areas *s, size_t i);

/* Index of the area with this key, or -1. */
long gis_areas_find(const gis_areas *s, const char *key);

/* Calls fn(ud, i) once for every area whose envelope meets the box xmin..xmax, ymin..ymax; fn
 * returns 0 to go on, anything else stops the walk and is returned. Returns 0 when it ran out. */
typedef int (*gis_area_fn)(void *ud, size_t i);
int gis_areas_near(const gis_areas *s, double xmin, double ymin, double xmax, double ymax,
                   gis_area_fn fn, void *ud);

/* 1 when (x, y) is inside area i (even-odd over its rings; a point exactly on the boundary may go
 * either way), else 0. */
int gis_areas_contains(const gis_areas *s, size_t i, double x, double y);

/* ORs into bits (area i's grid, nbytes) the inside cells whose centre lies within r metres of the
 * segment (ax, ay)-(bx, by); a == b paints a disc (a lone fix). Returns the number of cells that
 * were not set before. */
size_t gis_areas_paint(const gis_areas *s, size_t i, double ax, double ay, double bx, double by,
                       double r, unsigned char *bits);

/* The parts of the segment a-b inside area i, as parameter intervals [t0, t1] of a + t (b - a),
 * 0 <= t0 < t1 <= 1, in order and disjoint, written to ts[0..2k) for the k returned (at most max;
 * parts beyond max are dropped). The time inside along a step is (t1 - t0) times its time. */
int gis_areas_segment_inside(const gis_areas *s, size_t i, double ax, double ay, double bx,
                             double by, double *ts, int max);

/* Bits set in bits[0..nbytes), and in (a AND b)[0..nbytes). */
size_t gis_bits_count(const unsigned char *bits, size_t nbytes);
size_t gis_bits_count_and(const unsigned char *a, const unsigned char *b, size_t nbytes);

#endif
