/* shapes.h - request bodies declared once (THROWAWAY STUB of the openapi branch: the contracts
 * branch owns the real module; the lead replaces this file at merge). */
#ifndef PATROLD_SHAPES_H
#define PATROLD_SHAPES_H

#include <jansson.h>

typedef struct shape shape; /* opaque here */

extern const shape SHAPE_LOGIN, SHAPE_PASSWORD, SHAPE_REPORT, SHAPE_BATCH, SHAPE_REPORT_EVENT,
    SHAPE_UNIT_CREATE, SHAPE_UNIT_STATUS, SHAPE_POSITIONS;

/* The component name of s ("LoginRequest", "ReportInput", ...); static storage. */
const char *shape_name(const shape *s);

/* A new JSON Schema object (draft 2020-12 / OAS 3.1) of s; the caller owns it. NULL on OOM. */
json_t *shape_schema(const shape *s);

#endif
