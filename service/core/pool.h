/* pool.h - the pool of `worker` slots (app.h) that requests borrow (pool.c). Thread-safe. */
#ifndef PATROLD_POOL_H
#define PATROLD_POOL_H

#include "service/core/app.h"

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

/* The number of slots (fixed once made). */
int pool_size(app *a);

/* Wakes every request waiting for a slot (after a->stopping is set: they give up at once). */
void pool_wake(app *a);

#endif
