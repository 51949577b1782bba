/* schemas.h - the named JSON Schemas of the replies (OpenAPI components), written in schemas.c. */
#ifndef PATROLD_SCHEMAS_H
#define PATROLD_SCHEMAS_H

#include <jansson.h>

/* A new object {name: schema, ...} of every reply schema; the caller owns it. NULL on OOM. */
json_t *schemas_components(void);

/* 1 when name is one of the schemas of schemas_components(), else 0. */
int schemas_has(const char *name);

#endif
