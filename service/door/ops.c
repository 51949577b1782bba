/* ops.c - liveness, readiness, metrics, the console settings and the vocabulary (the OpenAPI
 * document: openapi.c). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/index.h"
#include "service/core/db.h"
#include "service/core/services.h"
#include "service/core/tz.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"

int h_healthz(http_req *r) {
    return http_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* GET /api/v1/console: the settings the dispatcher console and the patrol app read (the time zone:
 * their "today"; the base map, resolved: config_basemap_resolve). basemap_url stays as before for
 * older pages: the setting itself for a plain template, else the bottom layer's template. */
int h_console(http_req *r) {
    config_basemap b;
    char err[256];
    json_t *bm = json_null(), *layers;
    if (config_basemap_resolve(&r->app->cfg, &b, err, sizeof err) == 0 && b.kind) {
        layers = json_array();
        for (int i = 0; i < b.nlayers; i++)
            json_array_append_new(layers, json_string(b.layers[i]));
        bm = json_pack("{s:s,s:o,s:s,s:s?}", "kind", b.kind, "layers", layers, "crs", b.crs,
                       "attribution", b.attribution);
    }
    return http_json(r, 200,
                     json_pack("{s:s?,s:o,s:s,s:i}", "basemap_url", b.kind ? b.layers[0] : NULL,
                               "basemap", bm, "timezone", tz_name(), "photo_max_px",
                               r->app->cfg.app_photo_max_px));
}

/* The vocabulary reply: the tables are constant, so its bytes are made once and live as long as
 * the process; its ETag is their FNV-1a hash (it changes only with the binary). */
static struct {
    char *body;
    size_t len;
    char etag[24];
} vocabulary;
static pthread_once_t vocabulary_once = PTHREAD_ONCE_INIT;

static void vocabulary_make(void) {
    json_t *j = vocab_lists_json();
    vocabulary.body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!vocabulary.body) return;
    vocabulary.len = strlen(vocabulary.body);
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < vocabulary.len; i++)
        h = (h ^ (unsigned char)vocabulary.body[i]) * 1099511628211u;
    snprintf(vocabulary.etag, sizeof vocabulary.etag, "\"%016llx\"", (unsigned long long)h);
}

/* GET /api/v1/vocabulary: every code list with its Chinese label; 304 when If-None-Match names
 * this ETag (clients revalidate each time: "no-cache"). */
int h_vocabulary(http_req *r) {
    pthread_once(&vocabulary_once, vocabulary_make);
    if (!vocabulary.body) return http_error(r, 500, "out_of_memory", NULL, "out of memory");
    char extra[96];
    snprintf(extra, sizeof extra, "ETag: %s\r\nCache-Control: public, no-cache\r\n",
             vocabulary.etag);
    const char *inm = http_header(r, "If-None-Match");
    int same = inm && (strstr(inm, vocabulary.etag) || strcmp(inm, "*") == 0);
    return http_send(r, same ? 304 : 200, "application/json; charset=utf-8", vocabulary.body,
                     vocabulary.len, extra);
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
