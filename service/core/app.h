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
    int patrols_noted; /* this instance's ingest noted patrol work (server_kick): the scorer wakes */
    struct worker_pool *pool; /* the slots requests borrow (pool.c); NULL outside serve */
    /* The security headers of every reply: HTTP_SECURITY_HEADERS with basemap_url's origin
     * (server.c); "" outside serve, where the plain ones apply. */
    char security_headers[1024];
} app;

/* One slot of the pool: a database connection and the heavy per-reader state (GEOS locator with
 * its prepared geometries, PROJ context). Used by one thread at a time: the request that borrowed
 * it (pool_borrow, pool.h) until it gives it back (pool_return). */
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

#endif
