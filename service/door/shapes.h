/* shapes.h - request bodies declared once, as tables of fields (name, JSON type, required, length,
 * range, vocabulary, nested shape). One table drives the validation of a body, the error answer
 * ({"error":{"code","message","field"}}) and the request's JSON Schema in the OpenAPI document.
 * Checks that a table cannot say (a point converts to WGS-84, a time is not in the future) stay in
 * the handler, after the table check. Tables are constant: safe from every thread. */
#ifndef PATROLD_SHAPES_H
#define PATROLD_SHAPES_H

#include <stddef.h>

#include <jansson.h>

#include "gis/coords.h"
#include "service/core/vocab.h"

typedef struct shape shape;

typedef enum {
    SHAPE_STRING,
    SHAPE_INTEGER,
    SHAPE_ID, /* an integer > 0 */
    SHAPE_NUMBER,
    SHAPE_OBJECT,
    SHAPE_ARRAY,
    SHAPE_BOOLEAN,
    SHAPE_IDS,  /* an array of distinct ids (integers > 0), at most max of them */
    SHAPE_INTS, /* an array of distinct integers within min..max, at least one */
    SHAPE_CODES /* an array of distinct codes of vocab (none is fine) */
} shape_type;

enum {
    SF_REQUIRED = 1,        /* absent: missing_field (or the invalid answer, SF_MISSING_INVALID) */
    SF_NULLABLE = 2,        /* null counts as absent */
    SF_BYTES = 4,           /* string lengths in bytes (default: characters) */
    SF_MISSING_INVALID = 8, /* absent is answered like a wrong type (the field's code) */
    SF_RANGE = 16,          /* numbers: min..max applies */
    SF_ITEMS_LATER = 32     /* arrays: the door judges each item on its own and the handler
                             * answers per item (r->items, r->item_errors) */
};

/* A string format a table cannot spell: check() returns 0 when s is well-formed. */
typedef struct shape_format {
    const char *schema_format; /* JSON Schema "format", or NULL */
    const char *what;          /* for messages: "a UUID" */
    int (*check)(const char *s);
    const vocab *schema_enum; /* the schema's enum, when the format is one */
} shape_format;

/* Formats for new tables (shapes.c also has a UUID, an RFC 3339 time and a crs, used above). */
extern const shape_format FMT_DATE, FMT_WEEK, FMT_MONTH, FMT_TIMEOFDAY;

typedef struct shape_field {
    const char *name; /* key in the object */
    const char *path; /* static field name in error answers ("location.lon") */
    shape_type type;
    unsigned flags;
    double min, max;         /* SF_RANGE numbers; strings: max length (0: none), min length */
    const vocab *vocab;      /* strings: one of its codes */
    const shape_format *fmt; /* strings: a format */
    const shape *sub;        /* objects: their shape; arrays: the items' shape */
    const char *code;        /* error code when invalid; NULL: "invalid_field" */
    int too_many_status;     /* arrays over max items (max > 0): this status and code */
    const char *too_many_code;
} shape_field;

struct shape {
    const char *name;      /* component name in the OpenAPI document */
    const char *body_code; /* not an object: this code (field NULL); NULL: read as {} */
    const char *body_message;
    const shape_field *fields;
    size_t n;
    const char *key; /* an idempotency key (the first field), or NULL: a body that fails its shape
                      * after its key passed is the handler's to answer (it may replay the key) */
};

extern const shape SHAPE_LOGIN, SHAPE_PASSWORD, SHAPE_REPORT, SHAPE_BATCH, SHAPE_REPORT_EVENT,
    SHAPE_UNIT_CREATE, SHAPE_UNIT_STATUS, SHAPE_POSITIONS;
/* administration (service/admin/) */
extern const shape SHAPE_UNIT_PATCH, SHAPE_UNIT_MEMBERS, SHAPE_SHIFT, SHAPE_SHIFT_PATCH,
    SHAPE_STATION, SHAPE_STATION_PATCH, SHAPE_AGENCY, SHAPE_AGENCY_PATCH, SHAPE_USER,
    SHAPE_USER_PATCH, SHAPE_RESET;
/* joint patrols (service/patrols/) */
extern const shape SHAPE_PATROL_PLAN, SHAPE_PATROL_PLAN_PATCH, SHAPE_CAMPAIGN;
extern const shape SHAPE_O311_REQUEST; /* the Open311 form (application/x-www-form-urlencoded) */
extern const shape SHAPE_POSITION;     /* one item of SHAPE_POSITIONS */
extern const shape SHAPE_PERSON;       /* SHAPE_REPORT's person */
extern const shape SHAPE_CONTACT;      /* SHAPE_REPORT's contact (a report taken by phone) */

/* One error answer. */
typedef struct shape_error {
    int status;        /* HTTP status: 400, 404, 409, 413, 415, 422 ... */
    const char *code;  /* static: "invalid_field", "missing_field", "invalid_location", ... */
    const char *field; /* static or NULL: "location.lat", "client_id", ... */
    char message[256];
} shape_error;

/* Fills *e (message from fmt). Returns -1. */
int shape_fail(shape_error *e, int status, const char *code, const char *field, const char *fmt,
               ...) __attribute__((format(printf, 5, 6)));

/* Number of UTF-8 code points of s (valid UTF-8, as jansson guarantees). */
size_t shape_utf8_chars(const char *s);

/* Component name: "LoginRequest", "ReportInput", ... */
const char *shape_name(const shape *s);

/* New JSON Schema object (draft 2020-12 / OAS 3.1) of s; the caller owns it. */
json_t *shape_schema(const shape *s);

/* Adds the schema of every request shape to `schemas` under its component name. */
void shapes_add_schemas(json_t *schemas);

/* Checks body (borrowed) against s, field by field in table order, and stops at the first error.
 * Returns 0, or -1 with *e filled. */
int shape_check(const shape *s, json_t *body, shape_error *e);

/* 1 when e, an error of a body of keyed shape s, is not about the key itself (nor the body's
 * type): the key may still find a stored copy. */
int shape_key_passed(const shape *s, const shape_error *e);

/* Decodes an application/x-www-form-urlencoded body into *out, an object of strings (`a[b]=v`
 * into the object "a"), then gives the fields of s their JSON types: a number or integer field's
 * text becomes a number when it is one, an empty value is left out. A name given twice, a bad %
 * escape, a NUL, bytes that are not UTF-8 or more than 64 fields: -1 with *e (400). Linear. */
int shape_form(const shape *s, const char *body, size_t len, json_t **out, shape_error *e);

/* Typed reads of a body the door checked (absent: 0, wgs84, ""): a date-time field as seconds
 * since the epoch, a crs field, a UUID field in lower case (out: 37 bytes). */
double shape_time(json_t *obj, const char *key);
gis_crs shape_crs(json_t *obj, const char *key);
void shape_uuid(json_t *obj, const char *key, char out[37]);

/* A time-of-day field (FMT_TIMEOFDAY) of a checked body as minutes after midnight; -1 when
 * absent. */
int shape_timeofday(json_t *obj, const char *key);

/* A new object of the fields of s present and not null in obj (borrowed values, shallow): what
 * a handler stores of a checked body. */
json_t *shape_pick(const shape *s, json_t *obj);

#endif
