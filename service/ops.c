/* ops.c - liveness, readiness, metrics and the OpenAPI document made from the route table. */
#include <string.h>

#include "gis/index.h"
#include "service/db.h"
#include "service/handlers.h"
#include "service/routes.h"
#include "service/shapes.h"

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
    PQclear(res);
    return http_json(r, db_ok && index_ok ? 200 : 503,
                     json_pack("{s:b,s:b,s:b}", "ready", db_ok && index_ok, "database", db_ok,
                               "index", index_ok));
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

static json_t *operation(const route *rt) {
    json_t *op = json_pack("{s:s,s:s,s:{s:{s:s},s:{s:s,s:{s:{s:{s:s}}}}}}", "summary", rt->summary,
                           "operationId", rt->summary, "responses", "200", "description", "success",
                           "default", "description", "error", "content", "application/json",
                           "schema", "$ref", "#/components/schemas/Error");
    json_object_set_new(op, "operationId", json_sprintf("%s %s", rt->method, rt->pattern));
    json_t *params = json_array();
    for (const char *p = strchr(rt->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p + 1,
                                                (size_t)(e - p - 1), "in", "path", "required", 1,
                                                "schema", "type", "string"));
    }
    if (json_array_size(params)) json_object_set(op, "parameters", params);
    json_decref(params);
    if (rt->roles) json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
    const char *ct = rt->body == BODY_JSON     ? "application/json"
                     : rt->body == BODY_FORM   ? "application/x-www-form-urlencoded"
                     : rt->body == BODY_BINARY ? "application/octet-stream"
                                               : NULL;
    if (ct)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b,s:{s:{}}}", "required", 1, "content", ct));
    return op;
}

int h_openapi(http_req *r) {
    json_t *paths = json_object();
    for (size_t i = 0; i < nroutes; i++) {
        json_t *item = json_object_get(paths, routes[i].pattern);
        if (!item) json_object_set_new(paths, routes[i].pattern, item = json_object());
        char method[8];
        size_t n = strlen(routes[i].method);
        for (size_t k = 0; k <= n && k < sizeof method; k++)
            method[k] = (char)(routes[i].method[k] | (k < n ? 0x20 : 0));
        json_object_set_new(item, method, operation(&routes[i]));
    }
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:o,s:{s:{s:{s:s,s:s}},s:{s:{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s},s:{s:[ss]}}}}}}}}",
        "openapi", "3.1.0", "info", "title", "patrold", "version", "1.0", "description",
        "Street patrol and rescue discovery network", "paths", paths, "components",
        "securitySchemes", "bearer", "type", "http", "scheme", "bearer", "schemas", "Error", "type",
        "object", "properties", "error", "type", "object", "properties", "code", "type", "string",
        "message", "type", "string", "field", "type", "string", "null");
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    vocab_add_schemas(schemas);
    shapes_add_schemas(schemas);
    return http_json(r, 200, doc);
}
