/* gazload.c - the gazetteer loader: divisions (with former names and codes), stations and places
 * from PostgreSQL into gis/gazetteer.h, off the request path, published in app->gaz. */
#include "service/places/gazload.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/gazetteer.h"
#include "service/core/db.h"
#include "service/core/vocab.h"

/* Runs sql in single-row mode, handing each row to fn. Returns 0, or -1 with a message. */
static int each_row(worker *w, const char *sql, int (*fn)(void *, PGresult *), void *ctx, char *err,
                    size_t errlen) {
    if (db_each_row(w, sql, 0, NULL, fn, ctx) == 0) return 0;
    snprintf(err, errlen, "%s", w->err);
    return -1;
}

static const char *opt(PGresult *res, int col) {
    return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

static double num(PGresult *res, int col) {
    return PQgetisnull(res, 0, col) ? NAN : strtod(PQgetvalue(res, 0, col), NULL);
}

typedef struct {
    gaz_builder *b;
    long skipped;
} loadctx;

/* code, name, level, parent_code, x, y, valid_from, valid_to, replaced_by */
static int add_division(void *p, PGresult *res) {
    loadctx *c = p;
    char msg[256];
    if (gaz_builder_add(c->b, GAZ_DIVISION, PQgetvalue(res, 0, 0), 0, PQgetvalue(res, 0, 1),
                        PQgetvalue(res, 0, 2), opt(res, 3), NULL, num(res, 4), num(res, 5),
                        opt(res, 6), opt(res, 7), opt(res, 8), msg, sizeof msg) != 0) {
        if (strcmp(msg, "out of memory") == 0) return -1;
        if (c->skipped++ < 5) fprintf(stderr, "gazetteer: skipping %s\n", msg);
    }
    return 0;
}

/* kind, id, name, level, division_code, aliases (newline-separated), x, y */
static int add_point(void *p, PGresult *res) {
    loadctx *c = p;
    char msg[256], *al = NULL;
    const char *aliases[33] = {NULL};
    if (!PQgetisnull(res, 0, 5)) {
        if (!(al = strdup(PQgetvalue(res, 0, 5)))) return -1;
        int n = 0;
        for (char *s = al, *save = NULL, *t; n < 32 && (t = strtok_r(s, "\n", &save)); s = NULL)
            aliases[n++] = t;
    }
    int rc = gaz_builder_add(c->b, PQgetvalue(res, 0, 0)[0] == 's' ? GAZ_STATION : GAZ_PLACE,
                             opt(res, 4), strtoll(PQgetvalue(res, 0, 1), NULL, 10),
                             PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), NULL, aliases,
                             num(res, 6), num(res, 7), NULL, NULL, NULL, msg, sizeof msg);
    free(al);
    if (rc != 0) {
        if (strcmp(msg, "out of memory") == 0) return -1;
        if (c->skipped++ < 5) fprintf(stderr, "gazetteer: skipping %s\n", msg);
    }
    return 0;
}

/* The rows of the divisions layer (add_division's columns): today's and former divisions, and
 * each former name (renamed, same code) as a former entry of its own, pointing at today's
 * division. */
#define DIVISION_ROWS                                                                              \
    "SELECT d.code, name, level, parent_code, ST_X(p), ST_Y(p), valid_from::text,"                 \
    " valid_to::text, m.into_code FROM divisions d LEFT JOIN LATERAL (SELECT"                      \
    " ST_PointOnSurface(d.geom) AS p) s ON true LEFT JOIN (SELECT DISTINCT ON (code) code,"        \
    " into_code FROM division_changes WHERE change = " VOCAB_SQL_TERM(                             \
        "DivisionChange",                                                                          \
        DC_MERGED) " ORDER BY code, effective DESC, id DESC) m ON m.code = d.code"
#define RENAMED_ROWS                                                                                        \
    "SELECT c.code, c.old_name, d.level, d.parent_code, NULL, NULL, NULL, c.effective::text,"               \
    " c.code FROM division_changes c JOIN divisions d ON d.code = c.code WHERE c.change = " VOCAB_SQL_TERM( \
        "DivisionChange", DC_RENAMED) " AND c.old_name IS NOT NULL"

/* The fingerprint of those rows, computed by PostgreSQL (one row comes back, not 665,000): the
 * count and the sum of a 64-bit hash of each row's text. Returns 0 or -1 with a message. */
static int divisions_tag(worker *w, uint64_t *tag, char *err, size_t errlen) {
    PGresult *res =
        db_exec(w,
                "SELECT count(*)::text || ':' || coalesce(sum(hashtextextended(r::text,"
                " 0)::numeric), 0)::text FROM (" DIVISION_ROWS " UNION ALL " RENAMED_ROWS ") r",
                0, NULL);
    if (!res) return snprintf(err, errlen, "%s", w->err), -1;
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the answer */
    for (const unsigned char *v = (const unsigned char *)PQgetvalue(res, 0, 0); *v; v++)
        h = (h ^ *v) * 1099511628211ull;
    PQclear(res);
    *tag = h;
    return 0;
}

/* The divisions as a gaz of their own, tagged, or NULL with a message. */
static gaz *build_divisions(worker *w, uint64_t tag, long *skipped, char *err, size_t errlen) {
    loadctx c = {gaz_builder_create(), 0};
    if (!c.b) return snprintf(err, errlen, "out of memory"), NULL;
    if (each_row(w, DIVISION_ROWS " ORDER BY d.code", add_division, &c, err, errlen) != 0 ||
        each_row(w, RENAMED_ROWS " ORDER BY c.id", add_division, &c, err, errlen) != 0) {
        gaz_builder_destroy(c.b);
        return NULL;
    }
    *skipped += c.skipped;
    gaz_builder_tag(c.b, tag);
    return gaz_builder_finish(c.b, err, errlen);
}

/* Stations and places on top of the divisions of `under`, or NULL with a message. */
static gaz *build_points(worker *w, const gaz *under, long *skipped, char *err, size_t errlen) {
    loadctx c = {gaz_builder_create(), 0};
    if (!c.b) return snprintf(err, errlen, "out of memory"), NULL;
    if (each_row(w,
                 "SELECT 's', id, name, 'station', division_code, NULL, ST_X(location),"
                 " ST_Y(location) FROM stations ORDER BY id",
                 add_point, &c, err, errlen) != 0 ||
        each_row(w,
                 "SELECT 'p', id, name, kind, division_code, array_to_string(aliases, E'\\n'),"
                 " ST_X(geom), ST_Y(geom) FROM places ORDER BY id",
                 add_point, &c, err, errlen) != 0) {
        gaz_builder_destroy(c.b);
        return NULL;
    }
    *skipped += c.skipped;
    return gaz_builder_finish_over(c.b, under, err, errlen);
}

/* Builds the gazetteer and publishes it. The divisions are one layer, tagged with the fingerprint
 * of their rows, the stations and places another on top: when the fingerprint (taken before the
 * rows are read: a change after it makes one more reload) is the published gazetteer's, its
 * divisions are kept and only the top layer is built, so that a reload after a change of places
 * never holds two copies of the divisions. */
int gazload_once(app *a, worker *w, char *err, size_t errlen) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long skipped = 0;
    uint64_t tag = 0;
    gaz *cur = gaz_slot_acquire(a->gaz), *base = NULL, *g = NULL;
    int keep = -1;
    if (divisions_tag(w, &tag, err, errlen) == 0) keep = cur && gaz_base_tag(cur) == tag;
    if (keep >= 0 && (keep || (base = build_divisions(w, tag, &skipped, err, errlen))))
        g = build_points(w, keep ? cur : base, &skipped, err, errlen);
    gaz_destroy(base); /* g holds its divisions */
    gaz_release(cur);
    if (!g) return -1;
    size_t n, nkeys, bytes;
    gaz_stats(g, &n, &nkeys, &bytes);
    gaz_slot_publish(a->gaz, g);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "gazetteer: %zu entries, %zu keys (%.1f MiB) built in %.0f ms%s%s\n", n, nkeys,
            (double)bytes / 1048576.0,
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
            keep ? " (divisions unchanged: kept)" : "", skipped ? " (some rows skipped)" : "");
    return 0;
}
