/* app.h - process-wide state (one `app`) and per-thread state (one `worker` per thread). */
#ifndef PATROLD_APP_H
#define PATROLD_APP_H

#include <libpq-fe.h>

#include "service/config.h"

struct gis_slot;
struct gaz_slot;
struct gis_locator;
struct gis_proj;

typedef struct app {
    config cfg;
    char conninfo[1024];  /* resolved database conninfo */
    struct gis_slot *gis; /* the published spatial index (gis/index.h) */
    struct gaz_slot *gaz; /* the published gazetteer (gis/gazetteer.h) */
    _Atomic int stopping; /* set once on shutdown; background threads poll it */
} app;

/* Per-thread state: only the owning thread touches it. Created lazily by worker_get(). */
typedef struct worker {
    app *app;
    PGconn *pg;                /* NULL until first use; re-made after the database restarts */
    int db_down;               /* last database call failed for want of a connection */
    char sqlstate[6];          /* SQLSTATE of the last failed statement, "" if none */
    char err[512];             /* message of the last failure */
    const char *prepared[128]; /* static SQL strings prepared on this connection, by slot */
    int nprepared;
    struct gis_locator *loc; /* this thread's reader of app->gis */
    struct gis_proj *proj;   /* this thread's PROJ context */
} worker;

/* Makes a worker for the calling thread. Returns NULL on out of memory. */
worker *worker_create(app *a);

/* Frees w and everything it owns; NULL is a no-op. */
void worker_destroy(worker *w);

#endif
