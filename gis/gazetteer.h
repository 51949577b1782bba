/* gis/gazetteer.h - in-memory gazetteer: every division, station and named place with its
 * aliases, found by code, name prefix, any substring (one character is a valid query) or pinyin,
 * and the nearest named points to a location. Pure: no HTTP, no SQL.
 *
 * Life cycle and ownership
 *   gaz_builder_create -> gaz_builder_add (copies every argument) -> gaz_builder_finish (consumes
 *   the builder, returns an immutable gaz) -> gaz_slot_publish (the slot takes it) ->
 *   gaz_slot_acquire / gaz_release around each use by a reader.
 *   Layers: gaz_builder_finish_over builds a gaz from a builder of stations and places on top of
 *   the divisions of an existing gaz, which it shares (no copy): a reload that changes no division
 *   builds only the small top layer.
 *
 * Threads
 *   A builder belongs to one thread. A finished gaz is read-only: any number of threads may
 *   search it at once. A slot has one writer and any number of readers. A reader takes no lock
 *   and writes no shared memory: gaz_slot_acquire marks the gaz in a hazard cell of the calling
 *   thread and gaz_release (on the same thread) clears it; a gaz replaced by gaz_slot_publish is
 *   freed when no thread's cell holds it any more.
 *
 * Memory
 *   Each layer's arrays are anonymous mappings of their own (freed memory goes back to the system
 *   at once); texts are one arena per layer addressed by 32-bit offsets; posting lists are
 *   delta-coded varints; pinyin is spelled on demand from the names (a pinyin key is 4 bytes).
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

/* One entry (64 bytes). The texts are offsets: read them with gaz_text. */
typedef struct gaz_entry {
    double lon, lat;     /* WGS-84 point; NaN when the entry has none */
    long long id;        /* station or place id; 0 for a division */
    int32_t parent;      /* entry index of the parent division, -1 when none */
    int32_t replaced_by; /* former division: entry index of today's division, else -1 */
    uint32_t name;       /* display name */
    uint32_t level;      /* division level, "station", or the place's kind */
    uint32_t valid_from; /* "YYYY-MM-DD", or none (gaz_text answers NULL) */
    uint32_t valid_to;   /* none while in force */
    char code[13];       /* division: its 12-digit code; station/place: its division's or "" */
    uint8_t kind;        /* gaz_kind */
    uint8_t former;      /* 1: no longer in force (found by search, answered with replaced_by) */
    uint8_t nchars;      /* characters in the normalised name */
} gaz_entry;

typedef struct gaz_builder gaz_builder;
typedef struct gaz gaz;

enum { GAZ_MAX_QUERY_BYTES = 400, GAZ_MAX_QUERY_CHARS = 100, GAZ_MAX_LIMIT = 500 };

/* At most this many search keys (names and aliases) per layer: gaz_builder_finish fails beyond. */
#define GAZ_MAX_KEYS (1u << 24)

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

/* Keeps tag (the caller's fingerprint of the rows added) with the layer built from b: read it back
 * with gaz_base_tag to tell whether a reload may keep that layer. */
void gaz_builder_tag(gaz_builder *b, uint64_t tag);

/* Builds the search structures; always consumes b. Returns the gaz or NULL with a message. */
gaz *gaz_builder_finish(gaz_builder *b, char *err, size_t errlen);

/* Like gaz_builder_finish, on top of the bottom layer of `under` (shared, not copied: under may be
 * released or destroyed at once). b holds stations and places only (a division is refused);
 * their entries come after under's, their parents are found among its divisions. */
gaz *gaz_builder_finish_over(gaz_builder *b, const gaz *under, char *err, size_t errlen);

/* The tag given to the builder of g's bottom layer (gaz_builder_tag), or 0. */
uint64_t gaz_base_tag(const gaz *g);

/* Frees a builder that will not be finished; NULL is a no-op. */
void gaz_builder_destroy(gaz_builder *b);

/* Frees an unpublished gaz (a shared bottom layer goes with its last gaz). NULL is a no-op. */
void gaz_destroy(gaz *g);

/* Number of entries and keys, and the bytes held (every mapping of every layer). Outputs may be
 * NULL. */
void gaz_stats(const gaz *g, size_t *nentries, size_t *nkeys, size_t *bytes);

/* Entry i (0 <= i < nentries), or NULL. */
const gaz_entry *gaz_entry_at(const gaz *g, uint32_t i);

/* The text of a name, level, valid_from or valid_to field of an entry of g (owned by g), or NULL
 * for an absent valid_from/valid_to. */
const char *gaz_text(const gaz *g, uint32_t text);

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
    int limit;        /* 1..GAZ_MAX_LIMIT */
    const char *home; /* digits: entries whose code starts with this prefix (the searcher's own
                       * division) rank before every other; NULL = none */
} gaz_query;

/* Searches q (raw UTF-8; normalised here). Digits: by code prefix; otherwise names and aliases:
 * exact, then prefix, then substring, then (a-z only) pinyin full or initials, each entry once at
 * its best tier; inside a tier nearer first (with near), then shorter names, then code order.
 * With home, the hits inside home come first (in that order among themselves), then the others
 * (two ranked passes: the second keeps the early stops of a plain search).
 * Writes at most opt->limit hits to out; returns their number, or -1 for a query that is not
 * valid UTF-8, is empty once normalised, or is too long (message in err). */
int gaz_search(const gaz *g, const char *q, const gaz_query *opt, gaz_hit *out, char *err,
               size_t errlen);

/* The k (<= 64) entries with a point nearest to WGS-84 (lon, lat) by geodesic distance, ties by
 * entry order; divisions of level province, city and county are not counted as points. Writes
 * hits (tier 0) nearest first; returns their number. */
int gaz_nearest(const gaz *g, double lon, double lat, int k, gaz_hit *out);

/* Atomic publication: one writer, many readers (see Threads). */
typedef struct gaz_slot gaz_slot;
gaz_slot *gaz_slot_create(void);
/* Frees the slot, its current gaz and any replaced one; no reader may hold one. NULL is a no-op. */
void gaz_slot_destroy(gaz_slot *s);
/* Makes g current (the slot takes it); the previous one goes when its last reader releases it. */
void gaz_slot_publish(gaz_slot *s, gaz *g);
/* The current gaz (NULL when none was published), valid until gaz_release on the same thread.
 * Lock-free; a thread may hold a few at once. */
gaz *gaz_slot_acquire(gaz_slot *s);
/* Gives back a gaz from gaz_slot_acquire (on the thread that acquired it). NULL is a no-op. */
void gaz_release(gaz *g);

#endif
