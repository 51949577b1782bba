/* fuzz_importer.c - libFuzzer driver for the GeoJSON division importer (service/cmd/importer.c): the
 * streaming FeatureCollection scanner (scan_feed/scan_finish) and the per-feature parse, repair
 * and CRS conversion (load_feature), without a database.
 *
 * The .c is #included (as h2o's tests do) to reach the static scanner; `make fuzz` links this
 * driver without importer.o. The one database call on the success path, db_send, is renamed to
 * fake_send below: it checks what would be stored (a 12-digit code, a level, a parent code, a
 * non-empty valid WGS-84 MultiPolygon as 2D WKB) instead of sending it. db_wait on a worker that
 * never connected returns 0, so the pipelined wait carries on.
 *
 * Input: byte 0 = options (bits 0-1 CRS, bits 2-4 --level override: 0 none, 1..5 a level, 6-7 an
 * invalid one; bits 5-7 chunk size 1, 2, 3, 7, 64, 4096, 65536, whole), the rest is the file,
 * fed to the scanner in chunks of that size (state must survive any split). Oracles besides the
 * sanitizers: on a 0 return, features == imported + rejected; an error always has a message. */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/app.h"

static int fake_send(worker *w, const char *command, int nParams, const char *const *paramValues,
                     const int *paramLengths, const int *paramFormats);
#define db_send fake_send
#include "service/cmd/importer.c"
#undef db_send

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static GEOSContextHandle_t check_g;
static GEOSWKBReader *check_rd;

static int coord_ok(double *x, double *y, void *ud) {
    (void)ud;
    if (!(*x >= -180.0 && *x <= 180.0 && *y >= -90.0 && *y <= 90.0)) abort(); /* also catches NaN */
    return 1;
}

static int fake_send(worker *w, const char *command, int nParams, const char *const *paramValues,
                     const int *paramLengths, const int *paramFormats) {
    (void)w, (void)command;
    if (nParams != 5 || paramFormats[4] != 1) abort();
    const char *code = paramValues[0], *name = paramValues[1], *level = paramValues[2];
    const char *parent = paramValues[3];
    if (strlen(code) != 12 || strspn(code, "0123456789") != 12) abort();
    if (!name || !*name || strlen(name) > 200) abort();
    if (!import_level_valid(level)) abort();
    if (strcmp(level, "province") == 0
            ? parent != NULL
            : !parent || strlen(parent) != 12 || strncmp(parent, code, 2) != 0)
        abort();
    GEOSGeometry *g = GEOSWKBReader_read_r(check_g, check_rd, (const unsigned char *)paramValues[4],
                                           (size_t)paramLengths[4]);
    if (!g) abort();
    if (GEOSGeomTypeId_r(check_g, g) != GEOS_MULTIPOLYGON) abort();
    if (GEOSisEmpty_r(check_g, g) != 0) abort();
    if (GEOSisValid_r(check_g, g) != 1) abort();
    GEOSGeometry *t = GEOSGeom_transformXY_r(check_g, g, coord_ok, NULL); /* visits every vertex */
    if (!t) abort();
    GEOSGeom_destroy_r(check_g, t);
    GEOSGeom_destroy_r(check_g, g);
    return 1;
}

static void ignore_reject(void *ctx, long index, const char *code, const char *msg) {
    long *n = ctx;
    if (index < 0 || !msg || !*msg) abort();
    if (code && strlen(code) != 12) abort();
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const size_t chunks[] = {1, 2, 3, 7, 64, 4096, 65536, (size_t)-1};
    static const char *const lvl[] = {NULL,   "province",  "city", "county",
                                      "town", "community", "",     "County"};
    if (size < 1 || size > (1u << 18)) return 0;
    if (!check_g) {
        check_g = GEOS_init_r();
        check_rd = GEOSWKBReader_create_r(check_g);
    }
    long nrejects = 0;
    import_opts o = {.level = lvl[(data[0] >> 2) & 7],
                     .crs = (gis_crs)(data[0] & 3),
                     .on_reject = ignore_reject,
                     .ctx = &nrejects};
    if (o.level && !import_level_valid(o.level)) o.level = NULL; /* the command refuses those */
    size_t chunk = chunks[data[0] >> 5];
    import_stats st;
    char err[512] = "";
    memset(&st, 0, sizeof st);
    /* Set up as import_geojson does, minus the file. */
    worker nodb = {0}; /* never connects */
    imp im = {.w = &nodb, .o = &o, .st = &st, .err = err, .errlen = sizeof err};
    scan s;
    memset(&s, 0, sizeof s);
    im.g = GEOS_init_r();
    if (!im.g) return 0;
    GEOSContext_setErrorMessageHandler_r(im.g, geos_message, &im);
    GEOSContext_setNoticeMessageHandler_r(im.g, geos_notice, &im);
    im.wkb = GEOSWKBWriter_create_r(im.g);
    GEOSWKBWriter_setOutputDimension_r(im.g, im.wkb, 2);
    const char *p = (const char *)data + 1;
    size_t left = size - 1;
    int rc = 0;
    while (left > 0 && rc == 0) {
        size_t n = left < chunk ? left : chunk;
        /* each chunk in its own heap block: a read past the chunk is an ASan report */
        char *c = malloc(n);
        if (!c) abort();
        memcpy(c, p, n);
        rc = scan_feed(&s, &im, c, n);
        free(c);
        p += n, left -= n;
    }
    if (rc == 0) rc = scan_finish(&s, &im);
    if (rc == 0) rc = upsert_wait(&im);
    if (rc != 0 && !err[0]) abort(); /* every failure says why */
    if (rc == 0 && st.features != st.imported + st.rejected) abort();
    if (st.rejected != nrejects) abort();
    free(s.skel.p);
    free(s.elem.p);
    free_parts(&im);
    GEOSWKBWriter_destroy_r(im.g, im.wkb);
    GEOS_finish_r(im.g);
    free(im.xy);
    free(im.holes);
    free(im.polys);
    return 0;
}
