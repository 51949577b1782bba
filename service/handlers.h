/* handlers.h - every route handler, by subsystem; the route table in routes.c names them. */
#ifndef PATROLD_HANDLERS_H
#define PATROLD_HANDLERS_H

#include "service/http.h"

/* ops.c */
int h_healthz(http_req *r);
int h_readyz(http_req *r);
int h_metrics(http_req *r);
int h_openapi(http_req *r);

/* auth.c */
int h_auth_login(http_req *r);
int h_auth_logout(http_req *r);
int h_auth_me(http_req *r);

/* places.c */

/* reports.c */

/* units.c */

/* open311.c */

#endif
