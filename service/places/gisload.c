/* gisload.c - PostGIS rows -> gis_builder -> published index; LISTEN gis_changed for reloads. */
#include "service/places/gisload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/index.h"
#include "service/core/db.h"
#include "service/core/server.h"
#include "service/core/vocab.h"
#include "service/places/gazload.h"
#include "service/places/tiles.h"

static gis_level level_of(const char *s) {
    int t = vocab_find(&VOCAB_TIER, s);
    return t < 0 ? GIS_COMMUNITY : (gis_level)t;
}

/* Binary results: geometry columns come as raw WKB; the others are cast to text in SQL. */
static PGresult *query_bin(worker *w, const char *sql, char *err, size_t errlen) {
    PGresult *res = db_exec_params(w, sql, 0, NULL, NULL, NULL, 1);
    if (!res) snprintf(err, errlen, "%s", w->err);
    return res;
}

int gisload_once(app *a, worker *w, char *err, size_t errlen) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = -1;
    PGresult *div = NULL, *st = NULL;
    gis_builder *b = gis_builder_create(err, errlen);
    if (!b) return -1;
    div = query_bin(
        w,
        "SELECT code::text, name, level, (kind = " VOCAB_SQL_TERM(
            "DivisionKind",
            DK_ZONE) ")::int::text, ST_AsBinary(geom) FROM divisions"
                     " WHERE geom IS NOT NULL AND valid_to IS NULL AND level IN (" VOCAB_SQL_ANY(
                         "Tier", 0) ")"
                                    " ORDER BY code",
        err, errlen);
    st =
        div ? query_bin(
                  w,
                  "SELECT id::text, name, tier, can_dispatch::int::text, coalesce(parent_id, 0)::text,"
                  " ST_X(location)::text, ST_Y(location)::text, ST_AsBinary(coverage) FROM stations ORDER BY id",
                  err, errlen)
            : NULL;
    if (!st) goto done;
    char msg[256];
    int skipped = 0;
    for (int i = 0; i < PQntuples(div); i++) {
        if (gis_builder_add_division(
                b, PQgetvalue(div, i, 0), PQgetvalue(div, i, 1), level_of(PQgetvalue(div, i, 2)),
                PQgetvalue(div, i, 3)[0] == '1', (const unsigned char *)PQgetvalue(div, i, 4),
                (size_t)PQgetlength(div, i, 4), msg, sizeof msg) != 0) {
            fprintf(stderr, "gis: skipping division: %s\n", msg);
            skipped++;
        }
    }
    for (int i = 0; i < PQntuples(st); i++) {
        if (gis_builder_add_station(
                b, strtoll(PQgetvalue(st, i, 0), NULL, 10), PQgetvalue(st, i, 1),
                level_of(PQgetvalue(st, i, 2)), PQgetvalue(st, i, 3)[0] == '1',
                strtoll(PQgetvalue(st, i, 4), NULL, 10), strtod(PQgetvalue(st, i, 5), NULL),
                strtod(PQgetvalue(st, i, 6), NULL), (const unsigned char *)PQgetvalue(st, i, 7),
                (size_t)PQgetlength(st, i, 7), msg, sizeof msg) != 0) {
            fprintf(stderr, "gis: skipping station: %s\n", msg);
            skipped++;
        }
    }
    gis_index *ix = gis_builder_finish(b, a->cfg.snap_tolerance_m, err, errlen);
    b = NULL;
    if (!ix) goto done;
    size_t nd, ns, nv, bytes;
    gis_index_stats(ix, &nd, &ns, &nv, &bytes);
    gis_slot_publish(a->gis, ix);
    tiles_invalidate();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(
        stderr,
        "gis: index of %zu divisions, %zu stations, %zu vertices (%.1f MiB) built in %.0f ms%s\n",
        nd, ns, nv, (double)bytes / 1048576.0,
        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
        skipped ? " (some rows skipped)" : "");
    rc = 0;
done:
    gis_builder_destroy(b);
    PQclear(div);
    PQclear(st);
    return rc;
}

/* Loads now, then again after every burst of gis_changed notifications, until the connection
 * goes. */
static void load_and_listen(app *a, worker *w) {
    char err[512];
    int dirty = 1;
    while (!a->stopping) {
        if (dirty) {
            server_sleep(a, 50); /* let a burst of changes settle */
            if (db_wait_notify(w, 0) < 0) return;
            /* at start the gazetteer first (once /readyz sees the index, place search works
             * too); on reloads the spatial index first (routing must not wait for names) */
            int first = !gis_slot_ready(a->gis);
            if (first && gazload_once(a, w, err, sizeof err) != 0)
                fprintf(stderr, "gazetteer: reload failed: %s\n", err);
            if (gisload_once(a, w, err, sizeof err) != 0)
                fprintf(stderr, "gis: reload failed: %s\n", err);
            if (!first && gazload_once(a, w, err, sizeof err) != 0)
                fprintf(stderr, "gazetteer: reload failed: %s\n", err);
            dirty = 0;
        }
        int n = db_wait_notify(w, 250);
        if (n < 0) return;
        dirty = n > 0;
    }
}

void *gisload_thread(void *arg) {
    app *a = arg;
    worker w = {.app = a, .no_timeout = 1};
    while (!a->stopping) {
        if (db_ensure(&w) != 0 || db_listen(&w, "gis_changed") != 0) {
            db_disconnect(&w);
            server_sleep(a, 1000);
            continue;
        }
        load_and_listen(a, &w);
        db_disconnect(&w);
    }
    return NULL;
}
