/* gazload.c - the gazetteer loader: divisions (with former names and codes), stations and places
 * from PostgreSQL into gis/gazetteer.h, off the request path, published in app->gaz. */
#include "service/places/gazload.h"

#include <math.h>
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

int gazload_once(app *a, worker *w, char *err, size_t errlen) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    loadctx c = {gaz_builder_create(), 0};
    if (!c.b) return snprintf(err, errlen, "out of memory"), -1;
    /* today's and former divisions; a former name (renamed, same code) is a former entry of its
     * own that points at today's division */
    if (each_row(
            w,
            "SELECT code, name, level, parent_code, ST_X(p), ST_Y(p), valid_from::text,"
            " valid_to::text, (SELECT into_code FROM division_changes c WHERE c.code = d.code"
            "  AND c.change = " VOCAB_SQL_TERM(
                "DivisionChange",
                DC_MERGED) " ORDER BY c.effective DESC, c.id DESC LIMIT 1)"
                           " FROM divisions d LEFT JOIN LATERAL (SELECT ST_PointOnSurface(d.geom) AS p) s ON"
                           " true ORDER BY code",
            add_division, &c, err, errlen) != 0 ||
        each_row(w,
                 "SELECT c.code, c.old_name, d.level, d.parent_code, NULL, NULL, NULL,"
                 " c.effective::text, c.code FROM division_changes c JOIN divisions d"
                 " ON d.code = c.code WHERE c.change = " VOCAB_SQL_TERM(
                     "DivisionChange", DC_RENAMED) " AND c.old_name IS NOT NULL"
                                                   " ORDER BY c.id",
                 add_division, &c, err, errlen) != 0 ||
        each_row(w,
                 "SELECT 's', id, name, 'station', division_code, NULL, ST_X(location),"
                 " ST_Y(location) FROM stations ORDER BY id",
                 add_point, &c, err, errlen) != 0 ||
        each_row(w,
                 "SELECT 'p', id, name, kind, division_code, array_to_string(aliases, E'\\n'),"
                 " ST_X(geom), ST_Y(geom) FROM places ORDER BY id",
                 add_point, &c, err, errlen) != 0) {
        gaz_builder_destroy(c.b);
        return -1;
    }
    gaz *g = gaz_builder_finish(c.b, err, errlen);
    if (!g) return -1;
    size_t n, nkeys, bytes;
    gaz_stats(g, &n, &nkeys, &bytes);
    gaz_slot_publish(a->gaz, g);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "gazetteer: %zu entries, %zu keys (%.1f MiB) built in %.0f ms%s\n", n, nkeys,
            (double)bytes / 1048576.0,
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
            c.skipped ? " (some rows skipped)" : "");
    return 0;
}
