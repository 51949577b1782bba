/* services.c - the tables that tie the subsystems to the plumbing: the background threads serve
 * starts, each pool worker's locator and PROJ context, and the per-path error formats of http.c.
 * A new background thread is one row of `background[]`; a new API family with its own error
 * format is one row of `http_error_formats[]`; reply schemas a module makes from its own tables
 * are one row of `schemas_generated[]`. */
#include "service/core/services.h"

#include <pthread.h>
#include <stdlib.h>

#include "gis/gazetteer.h"
#include "gis/index.h"
#include "gis/transform.h"
#include "service/admin/login.h"
#include "service/admin/shifts.h"
#include "service/core/db.h"
#include "service/core/events.h"
#include "service/core/events_append.h"
#include "service/core/vocab.h"
#include "service/door/http.h"
#include "service/door/schemas.h"
#include "service/open311/open311.h"
#include "service/patrols/scorer.h"
#include "service/places/gisload.h"
#include "service/reports/escalate.h"
#include "service/reports/report_json.h"
#include "service/reports/reports.h"
#include "service/reports/retention.h"
#include "service/units/coverage.h"
#include "service/units/units.h"

/* Background threads, each given the app; each polls a->stopping (server_sleep). */
static const struct {
    const char *name;
    void *(*fn)(void *);
} background[] = {
    {"gis-loader", gisload_thread},
    {"escalation", escalate_thread},
    {"session-purge", login_purge_thread},
    {"events", events_thread},
    {"positions", units_maintenance_thread},
    {"coverage", coverage_thread},
    {"shifts", shifts_thread},
    /* two report writers on one queue: one builds a group while the other waits for its commit */
    {"report-writer", reports_writer_thread},
    {"report-writer", reports_writer_thread},
    {"retention", retention_thread},
    {"patrol-scorer", patrols_scorer_thread},
};
#define NBACKGROUND (sizeof background / sizeof background[0])

static pthread_t threads[NBACKGROUND];
static int started;

/* Reply schemas made from the tables that make the replies (schemas.h). */
const schemas_generator schemas_generated[] = {
    report_json_schemas,   /* Report, from REPORT_FIELDS */
    events_append_schemas, /* Event, ReportEventPayload, UnitEventPayload */
    vocab_add_schemas,     /* Category, ReportStatus, ..., Vocabulary (the vocabulary tables) */
};
const size_t schemas_ngenerated = sizeof schemas_generated / sizeof schemas_generated[0];

/* Error bodies in another API's format, by path (http.h). */
const http_error_format http_error_formats[] = {
    {o311_path, o311_send_error}, /* GeoReport v2: [{"code","description"}] or XML */
};
const size_t http_nerror_formats = sizeof http_error_formats / sizeof http_error_formats[0];

worker *worker_create(app *a) {
    worker *w = calloc(1, sizeof *w);
    char err[256];
    if (!w) return NULL;
    w->app = a;
    w->loc = gis_locator_create(a->gis);
    w->proj = gis_proj_create(err, sizeof err);
    if (!w->loc || !w->proj) {
        worker_destroy(w);
        return NULL;
    }
    return w;
}

void worker_destroy(worker *w) {
    if (!w) return;
    db_disconnect(w);
    gis_locator_destroy(w->loc);
    gis_proj_destroy(w->proj);
    free(w);
}

int services_open(app *a) {
    if ((a->gis = gis_slot_create()) && (a->gaz = gaz_slot_create())) return 0;
    gis_slot_destroy(a->gis);
    gaz_slot_destroy(a->gaz);
    a->gis = NULL, a->gaz = NULL;
    return -1;
}

int services_coverage_ready(app *a) {
    (void)a;
    const gis_areas *s = coverage_acquire();
    coverage_release(s);
    return s != NULL;
}

void services_start(app *a) {
    for (size_t i = 0; i < NBACKGROUND; i++)
        pthread_create(&threads[i], NULL, background[i].fn, a);
    started = 1;
}

void services_stop(app *a) {
    (void)a;
    if (started)
        for (size_t i = 0; i < NBACKGROUND; i++)
            pthread_join(threads[i], NULL);
    started = 0;
}

void services_close(app *a) {
    gis_slot_destroy(a->gis);
    gaz_slot_destroy(a->gaz);
    a->gis = NULL, a->gaz = NULL;
}
