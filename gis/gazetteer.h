/* gis/gazetteer.h - in-memory gazetteer: every division, station and named place with its
 * aliases, found by code, name prefix, any substring (one character is a valid query) or pinyin,
 * and the nearest named points to a location. Pure: no HTTP, no SQL.
 *
 * Life cycle and ownership
 *   gaz_builder_create -> gaz_builder_add (copies every argument) -> gaz_builder_finish (consumes
 *   the builder, returns an immutable gaz) -> gaz_slot_publish (the slot takes it) ->
 *   gaz_slot_acquire / gaz_release around each use by a reader.
 *
 * Threads
 *   A builder belongs to one thread. A finished gaz is read-only: any number of threads may
 *   search it at once. A slot has one writer and any number of readers; a reader holds a
 *   reference (gaz_slot_acquire) and the gaz is freed when the last reference goes.
 *
 * Text rules
 *   Names and queries go through gaz_normalize: UTF-8 checked, full-width ASCII folded,
 *   white space dropped, ASCII lower-cased, traditional characters turned simplified (OpenCC
 *   t2s.json). Each entry is searchable under its name, the aliases given, and derived aliases:
 *   the name without an administrative suffix (新浦街道 -> 新浦), without its parent's name
 *   (连云港经济技术开发区 -> 经济技术开发区) and short forms (经济技术开发区 -> 开发区, 经开区).
 */
#ifndef GIS_GAZETTEER_H
#define GIS_GAZETTEER_H

#include <stddef.h>
#include <stdint.h>

typedef enum { GAZ_DIVISION = 0, GAZ_STATION = 1, GAZ_PLACE = 2 } gaz_kind;

typedef struct gaz_entry {
    char code[13];          /* division: its 12-digit code; station/place: its division's or "" */
    long long id;           /* station or place id; 0 for a division */
    const char *name;       /* display name (owned by the gaz) */
    const char *level;      /* division level, "station", or the place's kind (owned) */
    int32_t parent;         /* entry index of the parent division, -1 when none */
    int32_t replaced_by;    /* former division: entry index of today's division, else -1 */
    double lon, lat;        /* WGS-84 point; NaN when the entry has none */
    const char *valid_from; /* "YYYY-MM-DD" or NULL (owned) */
    const char *valid_to;   /* NULL while in force (owned) */
    uint8_t kind;           /* gaz_kind */
    uint8_t former;         /* 1: no longer in force (found by search, answered with replaced_by) */
    uint16_t nchars;        /* characters in the normalised name */
} gaz_entry;

typedef struct gaz_builder gaz_builder;
typedef struct gaz gaz;

enum { GAZ_MAX_QUERY_BYTES = 400, GAZ_MAX_QUERY_CHARS = 100, GAZ_MAX_LIMIT = 500 };

/* Normalises UTF-8 text (see Text rules) into out (NUL-terminated). Returns the number of
 * characters, -1 for invalid UTF-8 (or a NUL byte), -2 when the result does not fit outlen. */
int gaz_normalize(const char *in, size_t len, char *out, size_t outlen);

/* A new, empty builder; NULL on out of memory. */
gaz_builder *gaz_builder_create(void);

/* Adds one entry; every string is copied. kind: gaz_kind; code: 12 digits for a division (its
 * own), else the division it lies in (may be NULL); parent_code: 12 digits or NULL (divisions);
 * aliases: NULL or a NULL-terminated array; lon/lat NaN when there is no point; valid_from,
 * valid_to: dates or NULL; replaced_by: the code of today's division for a former one, or NULL.
 * Returns 0, or -1 with a message (bad UTF-8 name, bad code, out of memory). */
int gaz_builder_add(gaz_builder *b, gaz_kind kind, const char *code, long long id, const char *name,
                    const char *level, const char *parent_code, const char *const *aliases,
                    double lon, double lat, const char *valid_from, const char *valid_to,
                    const char *replaced_by, char *err, size_t errlen);

/* Builds the search structures; always consumes b. Returns the gaz or NULL with a message. */
gaz *gaz_builder_finish(gaz_builder *b, char *err, size_t errlen);

/* Frees a builder that will not be finished; NULL is a no-op. */
void gaz_builder_destroy(gaz_builder *b);

/* Frees an unpublished gaz (or drops a reference: see gaz_release). NULL is a no-op. */
void gaz_destroy(gaz *g);

/* Number of entries and an estimate of the heap bytes held. Outputs may be NULL. */
void gaz_stats(const gaz *g, size_t *nentries, size_t *nkeys, size_t *bytes);

/* Entry i (0 <= i < nentries). */
const gaz_entry *gaz_entry_at(const gaz *g, uint32_t i);

/* The entry of a division code (12 digits, or 4/6/9 digits padded with zeros); -1 if none. */
int32_t gaz_find_code(const gaz *g, const char *code);

/* The divisions whose parent is entry i, in code order: up to max indexes into out; returns the
 * total number of children (may exceed max). */
size_t gaz_children(const gaz *g, uint32_t i, uint32_t *out, size_t max);

typedef enum { GAZ_EXACT = 0, GAZ_PREFIX = 1, GAZ_SUBSTRING = 2, GAZ_PINYIN = 3 } gaz_tier;

typedef struct gaz_hit {
    uint32_t entry;
    uint8_t tier;      /* gaz_tier */
    double distance_m; /* to `near` when given and the entry has a point, else -1 */
} gaz_hit;

typedef struct gaz_query {
    const char *within; /* digits: only entries whose code starts with this prefix; NULL = all */
    int near;           /* 1: rank by geodesic distance to (lon, lat) inside a tier */
    double lon, lat;
    int limit; /* 1..GAZ_MAX_LIMIT */
} gaz_query;

/* Searches q (raw UTF-8; normalised here). Digits: by code prefix; otherwise names and aliases:
 * exact, then prefix, then substring, then (a-z only) pinyin full or initials, each entry once at
 * its best tier; inside a tier nearer first (with near), then shorter names, then code order.
 * Writes at most opt->limit hits to out; returns their number, or -1 for a query that is not
 * valid UTF-8, is empty once normalised, or is too long (message in err). */
int gaz_search(const gaz *g, const char *q, const gaz_query *opt, gaz_hit *out, char *err,
               size_t errlen);

/* The k (<= 64) entries with a point nearest to WGS-84 (lon, lat) by geodesic distance, ties by
 * entry order; divisions of level province, city and county are not counted as points. Writes
 * hits (tier 0) nearest first; returns their number. */
int gaz_nearest(const gaz *g, double lon, double lat, int k, gaz_hit *out);

/* Atomic publication: one writer, many readers. */
typedef struct gaz_slot gaz_slot;
gaz_slot *gaz_slot_create(void);
/* Frees the slot and drops its reference to the current gaz. NULL is a no-op. */
void gaz_slot_destroy(gaz_slot *s);
/* Makes g current (the slot takes it); the previous one goes when its last reader releases it. */
void gaz_slot_publish(gaz_slot *s, gaz *g);
/* A reference to the current gaz (NULL when none was published); give it back with gaz_release. */
gaz *gaz_slot_acquire(gaz_slot *s);
/* Drops a reference from gaz_slot_acquire. NULL is a no-op. */
void gaz_release(gaz *g);

#endif
