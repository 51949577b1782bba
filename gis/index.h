/* gis/index.h - in-memory spatial index of the four tiers (city, county,
 * town, community), functional zones and station coverage; point location
 * and routing to the responsible station.
 *
 * Life cycle and ownership
 *   gis_builder_create -> gis_builder_add_division / _add_station (copies
 *   every argument) -> gis_builder_finish (consumes the builder, returns a
 *   complete, read-only gis_index) -> gis_slot_publish (the slot takes the
 *   index) -> gis_locator_create per reader thread -> gis_locate.
 *   Destroy every locator of a slot before the slot.
 *
 * Threads
 *   - A builder is used by one thread. An index is immutable once finished:
 *     geometries, the per-layer cell grids (which cells lie inside, outside
 *     or on the edge of which polygon) and envelopes are all computed in
 *     gis_builder_finish.
 *   - A slot has one writer (gis_slot_publish) and any number of readers.
 *   - A gis_locator belongs to one thread. It owns its GEOS context and its
 *     own prepared geometries, created lazily per index generation:
 *     prepared geometries are not thread-safe (GEOS issue 825) and are never
 *     shared. The read path takes no lock: a locator compares the slot's
 *     atomic generation counter with its own, and only when it changed takes
 *     the slot mutex to switch (reference counted) to the new index and drop
 *     its prepared cache. An old index is freed when its last holder lets go.
 *
 * Geometry rules
 *   - Input is WKB (or EWKB with SRID 0 or 4326) Polygon or MultiPolygon in
 *     EPSG:4326 (lon, lat). Empty, non-polygonal, non-finite or out-of-range
 *     input is refused (-1 with a message). An invalid polygon (for example a
 *     self-touching ring) is repaired with GEOSMakeValid (structure method,
 *     polygonal part kept); if nothing polygonal remains it is refused.
 *   - Each tier is located independently, with its own polygon set. Holes
 *     and MultiPolygon islands are honoured.
 *   - A point on a shared boundary (edge or vertex) belongs to exactly one
 *     division: among the divisions of the tier whose polygon covers the
 *     point (GEOSPreparedCovers), the smallest code (strcmp order) wins.
 *   - A point covered by no polygon of a tier snaps to the nearest division
 *     of that tier whose boundary lies within snap_tolerance_m geodesic
 *     metres (ties: smallest code); farther away that tier is NULL.
 *     gis_location.snapped_m is the largest snap distance used over the four
 *     tiers, or -1 when no tier was snapped.
 *   - outside = 1 when there is no city-tier division even after snapping.
 *   - Functional zones (is_zone = 1) are never tiers: every zone covering the
 *     point is listed in zones[] (smallest codes first, at most 8; no
 *     snapping), whatever their level.
 *
 * Routing rules
 *   - The responsible station is, among the stations with can_dispatch whose
 *     coverage covers the point, the one with the lowest tier (community <
 *     town < county < city, i.e. the highest gis_level value); ties go to the
 *     nearest by geodesic distance to the station's location, then to the
 *     smallest id.
 *   - When no coverage covers the point (also outside the city), the station
 *     is the city-tier station (tier GIS_CITY, coverage not needed): stations
 *     with can_dispatch are preferred, then the nearest, then smallest id.
 *     No city-tier station -> station NULL.
 *   - chain[] follows parent_id upward from the station (nearest first, at
 *     most 4); it stops at a parent_id <= 0, an unknown id, or a repeat.
 */
#ifndef GIS_INDEX_H
#define GIS_INDEX_H

#include <stddef.h>

typedef enum { GIS_CITY = 0, GIS_COUNTY = 1, GIS_TOWN = 2, GIS_COMMUNITY = 3 } gis_level;

/* "city", "county", "town", "community"; "unknown" for other values. Static. */
const char *gis_level_name(gis_level l);

typedef struct gis_division {
    char code[13]; /* 1..12 characters, unique in an index */
    char *name;    /* UTF-8, owned by the index */
    gis_level level;
    int is_zone; /* 1: functional zone, never a tier */
    /* private: owned by gis/index.c, do not use */
    void *priv_geom;
    size_t priv_slot;
    double priv_env[4]; /* xmin, ymin, xmax, ymax */
    void *priv_chunks;
    size_t priv_nchunks;
} gis_division;

typedef struct gis_station {
    long long id; /* unique in an index */
    char *name;   /* UTF-8, owned by the index */
    gis_level tier;
    int can_dispatch;
    long long parent_id; /* <= 0: none */
    double lon, lat;     /* WGS-84 location of the station */
    /* private: owned by gis/index.c, do not use */
    void *priv_cov; /* coverage geometry or NULL */
    size_t priv_slot;
} gis_station;

typedef struct gis_builder gis_builder;
typedef struct gis_index gis_index;

/* A new, empty builder with its own GEOS context. NULL (message in err) on
 * failure. Free with gis_builder_finish or gis_builder_destroy. */
gis_builder *gis_builder_create(char *err, size_t errlen);

/* Add one division. code: 1..12 characters; name: any UTF-8 (NULL = "");
 * level: a gis_level; is_zone: non-zero for a functional zone; wkb/wkb_len:
 * the polygonal boundary (see Geometry rules). Everything is copied.
 * Returns 0, or -1 with a message naming the code; on -1 the builder is
 * unchanged and still usable (the caller may skip the feature and go on).
 * Duplicate codes are reported by gis_builder_finish. */
int gis_builder_add_division(gis_builder *b, const char *code, const char *name, gis_level level,
                             int is_zone, const unsigned char *wkb, size_t wkb_len, char *err,
                             size_t errlen);

/* Add one station. id: unique; tier: a gis_level; (lon, lat): WGS-84, finite
 * and in range; coverage_wkb/wkb_len: polygonal coverage area, or NULL/0 for
 * none (then the station is only reachable as city fallback or in chains).
 * Copies everything. Returns 0, or -1 with a message (builder unchanged). */
int gis_builder_add_station(gis_builder *b, long long id, const char *name, gis_level tier,
                            int can_dispatch, long long parent_id, double lon, double lat,
                            const unsigned char *coverage_wkb, size_t wkb_len, char *err,
                            size_t errlen);

/* Build the index: a cell grid per tier, for the zones and for the station
 * coverages, envelopes computed. snap_tolerance_m: finite, >= 0 (0 disables
 * snapping; the server passes 500). Always consumes b. Returns the index
 * (caller owns it: publish it or gis_index_destroy it) or NULL with a message
 * (duplicate division code or station id, bad tolerance, out of memory). */
gis_index *gis_builder_finish(gis_builder *b, double snap_tolerance_m, char *err, size_t errlen);

/* Free a builder that will not be finished. NULL is a no-op. */
void gis_builder_destroy(gis_builder *b);

/* Free an index that was never published. NULL is a no-op. Never call it on
 * an index given to gis_slot_publish. (Addition to the original API.) */
void gis_index_destroy(gis_index *ix);

/* Counts and an estimate of the heap held by the index (geometries, grids,
 * strings; not the per-locator prepared caches). Any output may be NULL. */
void gis_index_stats(const gis_index *ix, size_t *ndivisions, size_t *nstations, size_t *nvertices,
                     size_t *approx_bytes);

/* Atomic publication: many reader threads, one writer. */
typedef struct gis_slot gis_slot;

/* An empty slot (no index yet); NULL on out of memory. */
gis_slot *gis_slot_create(void);

/* Free the slot and its current index. Every locator of the slot must have
 * been destroyed first. NULL is a no-op. */
void gis_slot_destroy(gis_slot *s);

/* Make ix the current index (the slot takes ownership; ix NULL is ignored).
 * Readers switch on their next call; the previous index is freed when its
 * last reader lets go. One writer at a time. */
void gis_slot_publish(gis_slot *s, gis_index *ix);

/* 1 once an index was published, else 0. Lock-free. */
int gis_slot_ready(gis_slot *s);

/* Per-thread reader. */
typedef struct gis_locator gis_locator;

/* A reader of slot s for the calling thread (own GEOS context, own prepared
 * geometries). NULL on out of memory. s must outlive the locator. */
gis_locator *gis_locator_create(gis_slot *s);

/* Release the locator, its prepared geometries and its index reference.
 * NULL is a no-op. */
void gis_locator_destroy(gis_locator *l);

typedef struct {
    const gis_division *tiers[4]; /* by gis_level; NULL when outside that tier */
    int outside;                  /* 1: in no city polygon even after snapping */
    double snapped_m;             /* >= 0 when a tier was snapped, else -1 */
    const gis_division *zones[8]; /* covering functional zones (is_zone = 1) */
    int nzones;
    const gis_station *station;  /* responsible station or NULL */
    double station_distance_m;   /* geodesic metres to it, -1 when NULL */
    const gis_station *chain[4]; /* stations above `station`, nearest first */
    int nchain;
} gis_location;

/* Locate WGS-84 (lon, lat) in the newest published index (switching to it if
 * needed). Returns 0 and fills *out, or -1 with a message: NaN/inf, lon
 * outside -180..180 or lat outside -90..90, no index published yet, GEOS
 * failure or out of memory. Every pointer in *out stays valid until the next
 * gis_locate / gis_station_by_id call on this locator (or its destruction). */
int gis_locate(gis_locator *l, double lon, double lat, gis_location *out, char *err, size_t errlen);

/* The station with this id in the newest published index (switching to it
 * if needed, which ends the validity of pointers from earlier calls); NULL
 * if unknown or no index is published. */
const gis_station *gis_station_by_id(gis_locator *l, long long id);

#endif
