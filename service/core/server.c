/* server.c - serve: the pool of worker slots, CivetWeb, background threads, signals, clean shutdown.
 * CivetWeb threads are many and cheap (one per open connection); the slots that hold a database
 * connection, a GEOS locator and a PROJ context are few (db_pool) and borrowed per request. */
#include "service/core/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "service/core/db.h"
#include "service/core/services.h"
#include "service/door/http.h"

static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv = PTHREAD_COND_INITIALIZER;

int server_sleep(app *a, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&stop_mu);
    if (!a->stopping) pthread_cond_timedwait(&stop_cv, &stop_mu, &ts);
    int stopping = a->stopping;
    pthread_mutex_unlock(&stop_mu);
    return stopping;
}

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

static int log_message(const struct mg_connection *conn, const char *msg) {
    (void)conn;
    fprintf(stderr, "civetweb: %s\n", msg);
    return 1;
}

/* The headers CivetWeb adds to what it sends itself (the console's files among them): the security
 * headers, with the base map's origin allowed as an image source when one is set. Returns 0, or -1
 * when basemap_url is not an http(s) URL of plain characters. */
static int static_headers(const config *c, char *out, size_t n) {
    const char *u = c->basemap_url, *img = "img-src 'self' data: blob:";
    if (!*u) return snprintf(out, n, "%s", HTTP_SECURITY_HEADERS) < (int)n ? 0 : -1;
    size_t scheme = strncmp(u, "https://", 8) == 0 ? 8 : strncmp(u, "http://", 7) == 0 ? 7 : 0;
    size_t origin = scheme + strcspn(u + scheme, "/");
    if (!scheme || origin == scheme || strcspn(u, " \t\r\n;,'\"\\") != strlen(u)) return -1;
    const char *at = strstr(HTTP_SECURITY_HEADERS, img) + strlen(img);
    int k = snprintf(out, n, "%.*s %.*s%s", (int)(at - HTTP_SECURITY_HEADERS),
                     HTTP_SECURITY_HEADERS, (int)origin, u, at);
    return k > 0 && (size_t)k < n ? 0 : -1;
}

/* Starts CivetWeb on a's settings with the security headers `headers`; NULL when it cannot
 * listen. */
static struct mg_context *civetweb_start(app *a, const char *headers) {
    char threads[16], req_to[16], ka_to[16];
    snprintf(threads, sizeof threads, "%d", a->cfg.threads > 0 ? a->cfg.threads : 1);
    snprintf(req_to, sizeof req_to, "%d", a->cfg.request_timeout_ms);
    snprintf(ka_to, sizeof ka_to, "%d", a->cfg.keep_alive_timeout_ms);
    /* CivetWeb 1.15 option names (src/civetweb.c config_options). Its CORS answers are off (empty
     * access_control_*): http.c answers preflights and real replies from cors_origins alike.
     * additional_header puts the security headers on what CivetWeb itself sends (static files,
     * 304s, its own errors); http.c adds them to every reply it writes. */
    const char *options[] = {"listening_ports",
                             a->cfg.listen,
                             "num_threads",
                             threads,
                             "tcp_nodelay",
                             "1",
                             "enable_keep_alive",
                             "yes",
                             "keep_alive_timeout_ms",
                             ka_to,
                             "request_timeout_ms",
                             req_to,
                             "max_request_size",
                             "65536",
                             "access_control_allow_origin",
                             "",
                             "access_control_allow_methods",
                             "",
                             "access_control_allow_headers",
                             "",
                             "additional_header",
                             headers,
                             NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = log_message;
    return mg_start(&cb, a, options);
}

int server_run(app *a) {
    char headers[1024];
    if (static_headers(&a->cfg, headers, sizeof headers) != 0) {
        fprintf(stderr, "patrold: basemap_url must be an http:// or https:// URL without spaces,"
                        " quotes, commas or semicolons\n");
        return 1;
    }
    /* Block the stop signals in every thread; main collects them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (services_open(a) != 0 || pool_create(a) != 0) {
        fprintf(stderr, "patrold: out of memory\n");
        services_close(a);
        return 1;
    }
    services_start(a);

    mg_init_library(0);
    struct mg_context *ctx = civetweb_start(a, headers);
    if (!ctx) {
        fprintf(stderr, "patrold: cannot listen on %s (port in use?)\n", a->cfg.listen);
        a->stopping = 1;
        pthread_cond_broadcast(&stop_cv);
        services_stop(a);
        pool_destroy(a);
        services_close(a);
        return 1;
    }
    mg_set_request_handler(ctx, "/", http_dispatch, a);
    fprintf(stderr, "patrold: serving on http://%s with %d threads, %d database slots\n",
            a->cfg.listen, a->cfg.threads > 0 ? a->cfg.threads : 1, a->pool->size);

    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "patrold: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    pthread_mutex_lock(&stop_mu);
    a->stopping = 1;
    pthread_cond_broadcast(&stop_cv);
    pthread_mutex_unlock(&stop_mu);
    pthread_mutex_lock(&a->pool->mu); /* requests waiting for a slot give up now */
    pthread_cond_broadcast(&a->pool->cv);
    pthread_mutex_unlock(&a->pool->mu);
    mg_stop(ctx);
    services_stop(a);
    pool_destroy(a);
    services_close(a);
    mg_exit_library();
    fprintf(stderr, "patrold: stopped\n");
    return 0;
}
