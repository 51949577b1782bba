/* ops.c - liveness, readiness, metrics and the console settings (the OpenAPI document: openapi.c). */
#include <string.h>

#include "gis/index.h"
#include "service/core/db.h"
#include "service/core/services.h"
#include "service/door/handlers.h"

int h_healthz(http_req *r) {
    return http_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* GET /api/v1/console: the settings the dispatcher console reads. */
int h_console(http_req *r) {
    const char *u = r->app->cfg.basemap_url;
    return http_json(r, 200, json_pack("{s:s?}", "basemap_url", *u ? u : NULL));
}

int h_readyz(http_req *r) {
    PGresult *res = db_exec(r->w, "SELECT 1", 0, NULL);
    int db_ok = res != NULL, index_ok = r->app->gis && gis_slot_ready(r->app->gis);
    int coverage_ok = services_coverage_ready(r->app), ready = db_ok && index_ok && coverage_ok;
    PQclear(res);
    return http_json(r, ready ? 200 : 503,
                     json_pack("{s:b,s:b,s:b,s:b}", "ready", ready, "database", db_ok, "index",
                               index_ok, "coverage", coverage_ok));
}

/* A request straight from this host: a loopback peer and no proxy's forwarding header (behind a
 * reverse proxy on the same host every peer is loopback). */
static int from_loopback(const http_req *r) {
    const char *ip = r->ri->remote_addr;
    if (http_header(r, "X-Forwarded-For") || http_header(r, "Forwarded") ||
        http_header(r, "X-Real-IP"))
        return 0;
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

int h_metrics(http_req *r) {
    if (!r->app->cfg.metrics_public && !from_loopback(r))
        return http_error(r, 404, "not_found", NULL, "no such path: %s", r->path);
    return http_metrics_reply(r);
}
