/* schemas.h - the named JSON Schemas of the replies (OpenAPI components): written in schemas.c, or
 * made from the tables that make the replies. */
#ifndef PATROLD_SCHEMAS_H
#define PATROLD_SCHEMAS_H

#include <jansson.h>

/* A new object {name: schema, ...} of every reply schema; the caller owns it. NULL on OOM. */
json_t *schemas_components(void);

/* 1 when name is one of the schemas of schemas_components(), else 0. */
int schemas_has(const char *name);

/* A subsystem's schemas made from its own tables: adds them to `schemas`. The rows of
 * schemas_generated[] (services.c, the wiring table) are called by schemas_components(). */
typedef void (*schemas_generator)(json_t *schemas);
extern const schemas_generator schemas_generated[];
extern const size_t schemas_ngenerated;

#endif
