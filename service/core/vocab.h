/* vocab.h - the service's vocabulary, one table each: report categories, report statuses,
 * outcomes, station tiers, unit statuses, person sexes, roles, report event and timeline types,
 * live event kinds and error codes, every term with its Chinese label (GET /api/v1/vocabulary
 * serves them all: the console and the app take every label from there); and the 12-digit
 * division codes with the scope rule (which codes a user sees). The schema's CHECK constraints
 * hold the same lists (a test compares them); error messages are generated from the tables. All
 * tables are constant: safe from every thread. */
#ifndef PATROLD_VOCAB_H
#define PATROLD_VOCAB_H

#include <stddef.h>

#include <jansson.h>

/* One term of a vocabulary: its code (what the API and the database store), its Chinese label
 * (what people read: console, app, exports; for an error code, its message) and, where the
 * vocabulary has them, a description and search keywords (categories) and an English name for
 * interfaces that show both (Open311's service_name is "label / label_en"). */
typedef struct vocab_term {
    const char *code, *label, *description, *keywords;
    unsigned flags; /* VOCAB_OPEN for report statuses of open reports */
    const char *label_en;
} vocab_term;

enum { VOCAB_OPEN = 1 };

typedef struct vocab {
    const char *component; /* name of its schema in the OpenAPI document: "Category", ... */
    const vocab_term *terms;
    size_t n;
    const char *list; /* its key in GET /api/v1/vocabulary ("categories"); NULL: not served */
    const struct vocab *labels_from; /* a term without a label has the label of its code there */
} vocab;

extern const vocab VOCAB_CATEGORY;      /* reports.category */
extern const vocab VOCAB_REPORT_STATUS; /* reports.status (open ones flagged VOCAB_OPEN) */
extern const vocab VOCAB_OUTCOME;       /* reports.outcome */
extern const vocab VOCAB_LEVEL;         /* divisions.level: province, then the tiers */
extern const vocab VOCAB_TIER;          /* stations.tier, reports.tier; index = gis_level */
extern const vocab VOCAB_UNIT_STATUS;   /* units.status */
extern const vocab VOCAB_UNIT_SETTABLE; /* what a client may set a unit to */
extern const vocab VOCAB_EVENT_TYPE;    /* POST /reports/{id}/events "type": one per transition */
extern const vocab VOCAB_SEX;           /* reports.person.sex */
extern const vocab VOCAB_ROLE;          /* users.role; bit i of ROLE_* (auth.h) is term i */
extern const vocab VOCAB_TIMELINE;      /* report_events.type: the timeline of a report */
extern const vocab VOCAB_EVENT_KIND;    /* events.kind: what the live event stream sends */
extern const vocab VOCAB_STATS_BY;      /* GET /api/v1/stats?by= */
extern const vocab VOCAB_STATS_TERM;    /* names of the figures, words of the statistics page */
extern const vocab VOCAB_REPORT_FIELD;  /* export columns' Chinese headers (not served) */
extern const vocab VOCAB_ERROR;         /* error codes of {"error": {"code"}}, label = message */

/* Index of code s in v, or -1 when s is NULL or not in v. */
int vocab_find(const vocab *v, const char *s);

/* Code of term i (0 <= i < v->n). */
const char *vocab_code(const vocab *v, size_t i);

/* The Chinese label of code s in v (from v->labels_from when the term has none), or NULL when s
 * is not in v. Static text. */
const char *vocab_label(const vocab *v, const char *s);

/* New JSON string "label / label_en" of term t (its label alone when it has no English name). */
json_t *vocab_bilingual(const vocab_term *t);

/* The error message for a value of `field` not in v: "field must be one of: a, b, c" (list:
 * "must be a comma-separated list of: ..."), into out. */
void vocab_message(const vocab *v, const char *field, int list, char *out, size_t outlen);

/* The codes joined with sep into out (always NUL-terminated, cut short when out is small). */
void vocab_join(const vocab *v, const char *sep, char *out, size_t outlen);

/* The PostgreSQL array literal "{a,b,...}" of the codes whose flags & mask == want (0, 0: every
 * code; VOCAB_OPEN, 0: closed report statuses) into out (outlen > 0). */
void vocab_pg_array(const vocab *v, unsigned mask, unsigned want, char *out, size_t outlen);

/* A comma-separated list of codes of v ("new, resolved"; spaces around a code are dropped) into
 * the PostgreSQL array literal "{new,resolved}" in out (outlen > 0). Returns 0, or -1 when a name
 * is not in v, the list is empty or has an empty item, or out is too small. */
int vocab_parse_list(const vocab *v, const char *in, char *out, size_t outlen);

/* New JSON Schema {"type":"string","enum":[...codes]} of v (the caller owns it). */
json_t *vocab_enum_json(const vocab *v);

/* Every vocabulary as named schemas ("Category": {...}, ...) added to the object `schemas`, with
 * "Vocabulary" (the reply of GET /api/v1/vocabulary) and "VocabularyTerm". */
void vocab_add_schemas(json_t *schemas);

/* 1 when vocab_add_schemas adds a schema of this name, else 0. */
int vocab_has_schema(const char *name);

/* New JSON object of every served vocabulary: {"categories": [{"code", "label", ...}], ...}, in
 * table order; report statuses carry "open", unit statuses "settable", categories
 * "description". NULL when out of memory. */
json_t *vocab_lists_json(void);

/* ---- division codes (GB/T 2260 + 3-digit town + 3-digit community = 12 digits) ---- */

/* Normalises a code of 2 (min_digits 2 only), 4, 6, 9 or 12 digits to 12 digits by padding with
 * zeros into out. Returns 0, or -1 when `in` is NULL or not such a code. */
int vocab_code12(const char *in, int min_digits, char out[13]);

/* The significant prefix of a 12-digit code (its trailing all-zero tiers cut: 2, 4, 6, 9 or 12
 * digits) into out (13 bytes). */
void vocab_code_prefix(const char *code12, char out[13]);

/* Scope: 1 when code12 (a division of some tier, or NULL/"" for a place outside every division)
 * lies within the division whose significant prefix is `prefix`. Outside every division is seen
 * only from city level up (a prefix of at most 4 digits). */
int vocab_code_within(const char *code12, const char *prefix);

#endif
