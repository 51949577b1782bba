/* routes.h - the route table type; the table itself (and the query parameter specs its rows name)
 * is in routes.c. */
#ifndef PATROLD_ROUTES_H
#define PATROLD_ROUTES_H

#include <stddef.h>

#include "service/door/http.h"
#include "service/door/params.h"
#include "service/door/shapes.h"

typedef enum { BODY_NONE, BODY_JSON, BODY_FORM, BODY_BINARY } body_type;

/* Flags of a route row. */
enum {
    ROUTE_NO_WORKER = 1, /* touches neither the database nor the GEOS/PROJ state: runs without a
                          * worker slot, so it answers even when every slot is lent out */
};

typedef struct route {
    const char *method;
    const char *pattern; /* "/api/v1/reports/{id}/photos"; "{y}.mvt" captures with a suffix */
    http_handler handler;
    body_type body;      /* what the body must be; checked before the handler runs */
    size_t limit;        /* body limit in bytes; 0 = config json_body_limit */
    unsigned roles;      /* ROLE_* bits allowed; 0 = public (no token needed) */
    const char *summary; /* one line, also the OpenAPI summary */
    /* The contract of the route: the door checks it before the handler runs, and openapi.c prints
     * /api/v1/openapi.json from it. */
    const char *op;    /* operationId: a unique C/JS identifier ("createReport") */
    const char *reply; /* 2xx body: a component schema name ("Report") for JSON, else
                                      * the content type(s) ("text/csv", "image/jpeg,image/png"); a
                                      * type with a schema is "application/geo+json:ReportFeatures";
                                      * NULL = no body */
    const param_spec *const
        *query;           /* the query parameters (and headers), NULL-terminated: Q(...) */
    const char *statuses; /* what the handler itself answers, "201,200,400,409";
                                      * openapi.c adds the ones the door answers */
    const shape *request; /* the body's shape (JSON or form); NULL when none */
    unsigned flags;       /* ROUTE_* */
} route;

extern const route routes[];
extern const size_t nroutes;

/* 0 for a ROUTE_NO_WORKER row, 1 for the others (the dispatcher lends them a worker slot). */
int route_needs_worker(const route *rt);

#endif
