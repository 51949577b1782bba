/* routes.h - the route table type; the table itself is in routes.c. */
#ifndef PATROLD_ROUTES_H
#define PATROLD_ROUTES_H

#include <stddef.h>

#include "service/door/http.h"
#include "service/door/shapes.h"

typedef enum { BODY_NONE, BODY_JSON, BODY_FORM, BODY_BINARY } body_type;

typedef struct route {
    const char *method;
    const char *pattern; /* "/api/v1/reports/{id}/photos"; "{y}.mvt" captures with a suffix */
    http_handler handler;
    body_type body;      /* what the body must be; checked before the handler runs */
    size_t limit;        /* body limit in bytes; 0 = config json_body_limit */
    unsigned roles;      /* ROLE_* bits allowed; 0 = public (no token needed) */
    const char *summary; /* one line, also the OpenAPI summary */
    /* The OpenAPI contract of the route (openapi.c turns these into /api/v1/openapi.json): */
    const char *op;       /* operationId: a unique C/JS identifier ("createReport") */
    const char *reply;    /* 2xx body: a component schema name ("Report") for JSON, else the
                           * content type(s) ("text/csv", "image/jpeg,image/png"); a type with
                           * a schema is "application/geo+json:ReportFeatures"; NULL = no body */
    const char *query;    /* declared query parameters, "q!,limit:places" (names in
                           * route_params; "status:unit" picks that variant of status; a "!"
                           * suffix marks a required one) */
    const char *statuses; /* what the handler itself answers, "201,200,400,409"; openapi.c adds
                           * the ones the HTTP core answers (401 403 413 415 400 500 503) */
    const shape *request; /* JSON body shape; NULL when the route takes none */
} route;

/* One query parameter as clients see it: name ("status" or the variant "status:unit"), JSON
 * Schema (JSON text) and a one-line description. */
typedef struct route_param {
    const char *name;
    const char *schema;
    const char *description;
} route_param;

extern const route routes[];
extern const size_t nroutes;
extern const route_param route_params[];
extern const size_t nroute_params;

/* 0 for the routes that touch neither the database nor the GEOS/PROJ state (they run without a
 * worker slot, so they answer even when every slot is lent out), 1 for the others. */
int route_needs_worker(const route *rt);

#endif
