/* openapi.c - GET /api/v1/openapi.json: the OpenAPI 3.1 document made from the route table
 * (routes.c: operationIds, query parameters, statuses, replies), the reply schemas (schemas.c)
 * and the request shapes (shapes.c). Built per request from static tables; no shared state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/auth.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/routes.h"
#include "service/door/schemas.h"
#include "service/door/shapes.h"

#define REF "#/components/schemas/"

static json_t *ref(const char *name) {
    return json_pack("{s:s+}", "$ref", REF, name);
}

/* Appends the route's declared query parameters (and headers) to params. */
static void add_query_params(json_t *params, const param_spec *const *query) {
    for (size_t i = 0; query && query[i]; i++) {
        const param_spec *p = query[i];
        json_t *o = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", p->name, "in",
                              p->flags & PARAM_HEADER ? "header" : "query", "required",
                              (p->flags & PARAM_REQUIRED) != 0, "description", p->description,
                              "schema", params_schema(p));
        if (p->flags &
            PARAM_LIST) { /* status=new,acknowledged (status=new&status=acknowledged too) */
            json_object_set_new(o, "style", json_string("form"));
            json_object_set_new(o, "explode", json_false());
        }
        json_array_append_new(params, o);
    }
}

/* Path parameters of "/reports/{id}/photos/{photo_id}" and "{y}.mvt". */
static void add_path_params(json_t *params, const char *pattern) {
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
        size_t n = strcspn(p + 1, "}");
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)n, p + 1);
        json_t *schema = strcmp(name, "layer") == 0
                             ? json_pack("{s:s,s:[s,s,s,s,s]}", "type", "string", "enum",
                                         "divisions", "stations", "coverage", "reports", "units")
                         : strcmp(name, "code") == 0 || strcmp(name, "token") == 0 ||
                                 strncmp(pattern, "/open311/", 9) == 0
                             ? json_pack("{s:s}", "type", "string")
                             : json_pack("{s:s,s:i}", "type", "integer", "minimum", 0);
        json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", "path",
                                                "required", 1, "schema", schema));
    }
}

/* The content of a 2xx reply: a component name means JSON, anything with a '/' is a list of
 * content types ("type:Schema" for a typed one). */
static json_t *reply_content(const char *reply) {
    if (!strchr(reply, '/'))
        return json_pack("{s:{s:o}}", "application/json", "schema", ref(reply));
    json_t *c = json_object();
    for (const char *p = reply; *p;) {
        size_t len = strcspn(p, ","), tl = strcspn(p, ",:");
        char type[64];
        snprintf(type, sizeof type, "%.*s", (int)tl, p);
        json_t *schema;
        if (tl < len)
            schema = ref(p + tl + 1); /* "application/geo+json:Name": Name is the last item */
        else if (strncmp(type, "text/", 5) == 0)
            schema = json_pack("{s:s}", "type", "string");
        else
            schema = json_pack("{s:s,s:s}", "type", "string", "contentMediaType", type);
        json_t *media = json_pack("{s:o}", "schema", schema);
        if (strcmp(type, "text/event-stream") == 0) /* OpenAPI 3.1 cannot type SSE data: */
            json_object_set_new(media, "x-event-data", ref("Event"));
        json_object_set_new(c, type, media);
        if (tl < len) break;
        p += len + (p[len] == ',');
    }
    return c;
}

static json_t *error_content(const route *rt) {
    size_t n = strlen(rt->pattern);
    if (strncmp(rt->pattern, "/open311/", 9) != 0) return reply_content("Error");
    if (n > 4 && strcmp(rt->pattern + n - 4, ".xml") == 0)
        return json_pack("{s:{s:{s:s}}}", "text/xml", "schema", "type", "string");
    return reply_content("O311Errors");
}

/* The statuses the route answers: its own list plus what the HTTP core answers before or around
 * the handler (run_route in http.c). Writes "NNN" or "NNN:Schema" items, returns their count. */
static int statuses(const route *rt, char out[][40], int max) {
    int n = 0;
    for (const char *p = rt->statuses; p && *p && n < max;) {
        size_t len = strcspn(p, ",");
        snprintf(out[n++], 40, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    int core[10], k = 0;
    if (rt->body == BODY_JSON || rt->body == BODY_FORM || rt->query || strchr(rt->pattern, '{'))
        core[k++] = 400; /* a body, a query parameter or a path the door refuses */
    if (rt->roles) core[k++] = 401;
    if (rt->roles && rt->roles != ROLE_ANY) core[k++] = 403;
    if (rt->body != BODY_NONE) core[k++] = 408, core[k++] = 413; /* body deadline, size */
    if (rt->body == BODY_JSON || rt->body == BODY_FORM) core[k++] = 415;
    core[k++] = 500;
    if (route_needs_worker(rt)) core[k++] = 503; /* no worker slot or no database */
    for (int i = 0; i < k && n < max; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= atoi(out[j]) == core[i];
        if (!dup) snprintf(out[n++], 40, "%d", core[i]);
    }
    for (int i = 1; i < n; i++) /* ascending, as readers expect */
        for (int j = i; j > 0 && atoi(out[j - 1]) > atoi(out[j]); j--) {
            char t[40];
            memcpy(t, out[j], 40);
            memcpy(out[j], out[j - 1], 40);
            memcpy(out[j - 1], t, 40);
        }
    return n;
}

static const char *reason(int status) {
    static const struct {
        int status;
        const char *text;
    } t[] = {{200, "OK"},
             {201, "Created"},
             {204, "No content"},
             {304, "Not modified since the ETag sent in If-None-Match"},
             {400, "Bad request (malformed, invalid or too deep)"},
             {401, "Not signed in, or the token is unknown, expired or revoked"},
             {403, "The role or the user may not do this"},
             {404, "Not found (or outside the caller's division)"},
             {408, "The request body did not arrive in time"},
             {409, "Conflict with the current state"},
             {413, "Body or list too large"},
             {415, "Unsupported media type"},
             {422, "A referenced entity does not exist"},
             {429, "Too many attempts (Retry-After)"},
             {500, "Internal error"},
             {503, "Unavailable now (Retry-After)"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].status == status) return t[i].text;
    return "Reply";
}

static json_t *responses(const route *rt) {
    char st[24][40];
    int n = statuses(rt, st, 24);
    json_t *rs = json_object();
    for (int i = 0; i < n; i++) {
        int code = atoi(st[i]);
        const char *schema = strchr(st[i], ':');
        json_t *r = json_pack("{s:s}", "description", reason(code));
        json_t *content = schema        ? reply_content(schema + 1)
                          : code >= 400 ? error_content(rt)
                          : code != 204 && code != 304 && rt->reply != NULL
                              ? reply_content(rt->reply)
                              : NULL;
        if (content) json_object_set_new(r, "content", content);
        if (code == 429 || code == 503)
            json_object_set_new(r, "headers",
                                json_pack("{s:{s:s,s:{s:s}}}", "Retry-After", "description",
                                          "Seconds to wait", "schema", "type", "integer"));
        char key[8];
        snprintf(key, sizeof key, "%d", code);
        json_object_set_new(rs, key, r);
    }
    return rs;
}

static json_t *request_body(const route *rt, json_t *schemas) {
    json_t *content;
    if (rt->body == BODY_JSON && rt->request) {
        json_object_set_new(schemas, shape_name(rt->request), shape_schema(rt->request));
        content =
            json_pack("{s:{s:o}}", "application/json", "schema", ref(shape_name(rt->request)));
    } else if (rt->body == BODY_JSON) {
        content = json_pack("{s:{s:{s:s}}}", "application/json", "schema", "type", "object");
    } else if (rt->body == BODY_FORM && rt->request) { /* a[b]=v fields: deepObject */
        json_object_set_new(schemas, shape_name(rt->request), shape_schema(rt->request));
        json_t *enc = json_object();
        for (size_t i = 0; i < rt->request->n; i++)
            if (rt->request->fields[i].type == SHAPE_OBJECT)
                json_object_set_new(enc, rt->request->fields[i].name,
                                    json_pack("{s:s,s:b}", "style", "deepObject", "explode", 1));
        content = json_pack("{s:{s:o,s:o}}", "application/x-www-form-urlencoded", "schema",
                            ref(shape_name(rt->request)), "encoding", enc);
    } else if (rt->body == BODY_FORM) {
        content = json_pack("{s:{s:{s:s}}}", "application/x-www-form-urlencoded", "schema", "type",
                            "object");
    } else { /* BODY_BINARY: the photo upload; the Content-Type must name the image's type */
        content = json_pack("{s:{s:{s:s,s:s}},s:{s:{s:s,s:s}}}", "image/jpeg", "schema", "type",
                            "string", "contentMediaType", "image/jpeg", "image/png", "schema",
                            "type", "string", "contentMediaType", "image/png");
    }
    return json_pack("{s:b,s:o}", "required", 1, "content", content);
}

/* The operation object of rt. */
static json_t *operation(const route *rt, json_t *schemas) {
    json_t *params = json_array();
    add_path_params(params, rt->pattern);
    add_query_params(params, rt->query);
    json_t *op = json_pack("{s:s,s:s,s:o}", "operationId", rt->op, "summary", rt->summary,
                           "responses", responses(rt));
    if (json_array_size(params)) json_object_set(op, "parameters", params);
    json_decref(params);
    if (rt->roles) {
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
        json_t *roles = json_array();
        for (unsigned bit = 1; bit <= ROLE_ADMIN; bit <<= 1)
            if (rt->roles & bit) json_array_append_new(roles, json_string(auth_role_name(bit)));
        json_object_set_new(op, "x-roles", roles);
    }
    if (rt->body != BODY_NONE) json_object_set_new(op, "requestBody", request_body(rt, schemas));
    return op;
}

int h_openapi(http_req *r) {
    json_t *paths = json_object(), *schemas = schemas_components();
    for (size_t i = 0; schemas && i < nroutes; i++) {
        json_t *item = json_object_get(paths, routes[i].pattern);
        if (!item) json_object_set_new(paths, routes[i].pattern, item = json_object());
        char method[8];
        size_t n = strlen(routes[i].method);
        for (size_t k = 0; k <= n && k < sizeof method; k++)
            method[k] = (char)(routes[i].method[k] | (k < n ? 0x20 : 0));
        json_object_set_new(item, method, operation(&routes[i], schemas));
    }
    if (!schemas) {
        json_decref(paths);
        return http_error(r, 500, "internal", NULL, "out of memory");
    }
    json_t *doc =
        json_pack("{s:s,s:{s:s,s:s,s:s},s:[{s:s,s:s}],s:o,s:{s:{s:{s:s,s:s}},s:o}}", "openapi",
                  "3.1.0", "info", "title", "patrold", "version", "1.0", "description",
                  "Street patrol and rescue discovery network", "servers", "url", "/",
                  "description", "this server (the document is served by the API it describes)",
                  "paths", paths, "components", "securitySchemes", "bearer", "type", "http",
                  "scheme", "bearer", "schemas", schemas);
    return http_json(r, 200, doc);
}
