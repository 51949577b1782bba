/* app.h - process-wide state (one `app`) and the pool of `worker` slots requests borrow. */
#ifndef PATROLD_APP_H
#define PATROLD_APP_H

#include <libpq-fe.h>

#include "service/core/config.h"

struct gis_slot;
struct gaz_slot;
struct gis_locator;
struct gis_proj;
struct worker_pool;

typedef struct app {
    config cfg;
    char conninfo[1024];      /* resolved database conninfo */
    char conninfo_read[1024]; /* conninfo of lag-tolerant reads; "" = conninfo (db_exec_read) */
    struct gis_slot *gis;     /* the published spatial index (gis/index.h) */
    struct gaz_slot *gaz;     /* the published gazetteer (gis/gazetteer.h) */
    _Atomic int stopping;     /* set once on shutdown; background threads poll it */
    struct worker_pool *pool; /* the slots requests borrow (server.c); NULL outside serve */
    /* The security headers of every reply: HTTP_SECURITY_HEADERS with basemap_url's origin
     * (server.c); "" outside serve, where the plain ones apply. */
    char security_headers[1024];
} app;

/* One slot of the pool: a database connection and the heavy per-reader state (GEOS locator with
 * its prepared geometries, PROJ context). Used by one thread at a time: the request that borrowed
 * it (pool_borrow) until it gives it back (pool_return). */
typedef struct worker {
    app *app;
    PGconn *pg;                /* NULL until first use; re-made after the database restarts */
    int db_down;               /* last database call failed for want of a connection */
    int no_timeout;            /* 1: no statement_timeout (commands, background loaders) */
    char sqlstate[6];          /* SQLSTATE of the last failed statement, "" if none */
    char err[512];             /* message of the last failure */
    const char *prepared[256]; /* static SQL strings prepared on this connection, by slot */
    unsigned long long prepared_hash[256]; /* hash of each one's text: the cache key with it */
    int nprepared;
    PGconn *pg_read; /* the lag-tolerant read connection (app->conninfo_read); NULL until used */
    struct gis_locator *loc; /* this thread's reader of app->gis */
    struct gis_proj *proj;   /* this thread's PROJ context */
} worker;

/* Makes a slot (locator, PROJ context; the connection is made on first use). NULL on out of
 * memory. */
worker *worker_create(app *a);

/* Frees w and everything it owns; NULL is a no-op. */
void worker_destroy(worker *w);

/* Makes a.pool with a->cfg.db_pool slots (each connects now; a failure is retried on use).
 * Returns 0, or -1 on out of memory. */
int pool_create(app *a);

/* Frees every slot; all must have been returned. NULL pool is a no-op. */
void pool_destroy(app *a);

/* Borrows a free slot, waiting up to wait_ms for one. Returns NULL when none became free in time
 * (or the server is stopping). The caller gives it back with pool_return. */
worker *pool_borrow(app *a, int wait_ms);

/* Gives w back: an open transaction is rolled back (a connection busy mid-statement is closed).
 * NULL is a no-op. */
void pool_return(app *a, worker *w);

/* Slots in use now, slots in all, and requests refused for want of a slot so far. */
void pool_stats(app *a, int *in_use, int *size, unsigned long long *refused);

#endif
