/* routes.c - THE route table: method, path, handler, body type and limit, roles. Read it to see the API. */
#include "service/routes.h"

#include "service/handlers.h"

#define KB 1024u
#define MB (1024u * 1024u)

const route routes[] = {
    /* operations */
    {"GET", "/healthz", h_healthz, BODY_NONE, 0, 0, "Process is alive"},
    {"GET", "/readyz", h_readyz, BODY_NONE, 0, 0, "Database reachable and spatial index loaded"},
    {"GET", "/metrics", h_metrics, BODY_NONE, 0, 0, "Prometheus metrics"},
    {"GET", "/api/v1/openapi.json", h_openapi, BODY_NONE, 0, 0, "This API as OpenAPI 3"},

    /* authentication */
    {"POST", "/api/v1/auth/login", h_auth_login, BODY_JSON, 4 * KB, 0, "Sign in; returns a bearer token"},
    {"POST", "/api/v1/auth/logout", h_auth_logout, BODY_NONE, 0, ROLE_ANY, "Revoke the token used"},
    {"GET", "/api/v1/auth/me", h_auth_me, BODY_NONE, 0, ROLE_ANY, "The signed-in user"},

    /* places */

    /* reports */

    /* units */

    /* open311 */
};
const size_t nroutes = sizeof routes / sizeof routes[0];
