/* services.h - what `serve` starts besides HTTP: the shared state the pool's workers read (spatial
 * index and gazetteer slots), each worker's heavy state, and the background threads. The one
 * place that knows the subsystems; plumbing (server.c) calls only these. */
#ifndef PATROLD_SERVICES_H
#define PATROLD_SERVICES_H

#include "service/core/app.h"

/* Makes the process-wide slots (a->gis, a->gaz) before the pool. Returns 0, or -1 (out of
 * memory, nothing left made). */
int services_open(app *a);

/* Starts every background thread (listed in services.c). Call once, after the pool exists. */
void services_start(app *a);

/* Joins the background threads (a->stopping must be set and signalled), if they were started. */
void services_stop(app *a);

/* 1 when the patrol coverage areas are loaded (positions are refused with 503 before), else 0. */
int services_coverage_ready(app *a);

/* Frees what services_open made; after pool_destroy (the workers read the slots). */
void services_close(app *a);

/* Makes a slot (locator, PROJ context; the connection is made on first use). NULL on out of
 * memory. */
worker *worker_create(app *a);

/* Frees w and everything it owns; NULL is a no-op. */
void worker_destroy(worker *w);

#endif
