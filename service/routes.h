/* routes.h - the route table type; the table itself is in routes.c. */
#ifndef PATROLD_ROUTES_H
#define PATROLD_ROUTES_H

#include <stddef.h>

#include "service/http.h"

typedef enum { BODY_NONE, BODY_JSON, BODY_FORM, BODY_BINARY } body_type;

typedef struct route {
    const char *method;
    const char *pattern; /* "/api/v1/reports/{id}/photos"; "{y}.mvt" captures with a suffix */
    http_handler handler;
    body_type body;      /* what the body must be; checked before the handler runs */
    size_t limit;        /* body limit in bytes; 0 = config json_body_limit */
    unsigned roles;      /* ROLE_* bits allowed; 0 = public (no token needed) */
    const char *summary; /* one line, also the OpenAPI summary */
} route;

extern const route routes[];
extern const size_t nroutes;

/* Matches path against pattern, filling captures (pointing into scratch, which must hold
 * strlen(path)+1 bytes). Returns the number of captures, or -1 when it does not match. */
int route_match(const char *pattern, const char *path, char *scratch, const char **caps,
                int maxcaps);

/* 0 for the routes that touch neither the database nor the GEOS/PROJ state (they run without a
 * worker slot, so they answer even when every slot is lent out), 1 for the others. */
int route_needs_worker(const route *rt);

#endif
