/* pool.c - the pool of worker slots requests borrow (pool.h): a mutex, a condition variable and a
 * LIFO free list; slots are made by worker_create (services.c) and connect at once. */
#include "service/core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "service/core/db.h"
#include "service/core/services.h"

struct worker_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a slot comes back */
    worker **all, **free_list;
    int size, nfree;
    atomic_ullong refused;
};

int pool_create(app *a) {
    int n = a->cfg.db_pool > 0 ? a->cfg.db_pool : 1;
    struct worker_pool *p = calloc(1, sizeof *p);
    pthread_condattr_t ca;
    if (!p) return -1;
    a->pool = p;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->all = calloc((size_t)n, sizeof *p->all);
    p->free_list = calloc((size_t)n, sizeof *p->free_list);
    if (!p->all || !p->free_list) goto fail;
    for (int i = 0, db_ok = 1; i < n; i++) {
        if (!(p->all[i] = worker_create(a))) goto fail;
        /* connect now, not on the first request; once one fails the rest connect on first use */
        if (db_ok) db_ok = db_ensure(p->all[i]) == 0;
        p->size++;
        p->free_list[p->nfree++] = p->all[i];
    }
    return 0;
fail:
    pool_destroy(a);
    return -1;
}

void pool_destroy(app *a) {
    struct worker_pool *p = a->pool;
    if (!p) return;
    for (int i = 0; i < p->size; i++)
        worker_destroy(p->all[i]);
    free(p->all);
    free(p->free_list);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    a->pool = NULL;
}

worker *pool_borrow(app *a, int wait_ms) {
    struct worker_pool *p = a->pool;
    struct timespec until;
    worker *w = NULL;
    if (!p) return NULL;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&p->mu);
    while (!p->nfree && !a->stopping)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0) break;
    if (p->nfree) w = p->free_list[--p->nfree]; /* LIFO: the warmest connection and caches */
    pthread_mutex_unlock(&p->mu);
    if (!w) atomic_fetch_add(&p->refused, 1);
    return w;
}

void pool_return(app *a, worker *w) {
    struct worker_pool *p = a->pool;
    if (!w || !p) return;
    db_reset(w);
    pthread_mutex_lock(&p->mu);
    p->free_list[p->nfree++] = w;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void pool_stats(app *a, int *in_use, int *size, unsigned long long *refused) {
    struct worker_pool *p = a->pool;
    *in_use = *size = 0, *refused = 0;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    *in_use = p->size - p->nfree;
    *size = p->size;
    pthread_mutex_unlock(&p->mu);
    *refused = atomic_load(&p->refused);
}

int pool_size(app *a) {
    return a->pool ? a->pool->size : 0;
}

void pool_wake(app *a) {
    struct worker_pool *p = a->pool;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
