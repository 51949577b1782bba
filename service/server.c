/* server.c - serve: per-thread workers, CivetWeb, background threads, signals, clean shutdown. */
#include "service/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "gis/gazetteer.h"
#include "gis/index.h"
#include "gis/proj.h"
#include "service/db.h"
#include "service/events.h"
#include "service/gisload.h"
#include "service/http.h"
#include "service/reports.h"
#include "service/units.h"

/* Background threads, each given the app; each polls a->stopping. */
static const struct {
    const char *name;
    void *(*fn)(void *);
} background[] = {
    {"gis-loader", gisload_thread},
    {"escalation", escalate_thread},
    {"events", events_thread},
    {"positions", units_maintenance_thread},
};
#define NBACKGROUND (sizeof background / sizeof background[0])

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
    db_ensure(w); /* connect now, not on the first request; a failure is retried per request */
    return w;
}

void worker_destroy(worker *w) {
    if (!w) return;
    PQfinish(w->pg);
    gis_locator_destroy(w->loc);
    gis_proj_destroy(w->proj);
    free(w);
}

static void *init_thread(const struct mg_context *ctx, int thread_type) {
    /* thread_type 1 = worker thread: the only kind that runs request handlers. */
    return thread_type == 1 ? worker_create(mg_get_user_data(ctx)) : NULL;
}

static void exit_thread(const struct mg_context *ctx, int thread_type, void *p) {
    (void)ctx;
    if (thread_type == 1) worker_destroy(p);
}

static int log_message(const struct mg_connection *conn, const char *msg) {
    (void)conn;
    fprintf(stderr, "civetweb: %s\n", msg);
    return 1;
}

int server_run(app *a) {
    char threads[16];
    snprintf(threads, sizeof threads, "%d", a->cfg.threads > 0 ? a->cfg.threads : 1);
    const char *options[] = {"listening_ports",
                             a->cfg.listen,
                             "num_threads",
                             threads,
                             "tcp_nodelay",
                             "1",
                             "enable_keep_alive",
                             "yes",
                             "keep_alive_timeout_ms",
                             "30000",
                             "request_timeout_ms",
                             "30000",
                             "max_request_size",
                             "65536",
                             NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.init_thread = init_thread;
    cb.exit_thread = exit_thread;
    cb.log_message = log_message;

    /* Block the stop signals in every thread; main collects them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!(a->gis = gis_slot_create()) || !(a->gaz = gaz_slot_create())) {
        fprintf(stderr, "patrold: out of memory\n");
        return 1;
    }
    pthread_t bg[NBACKGROUND];
    for (size_t i = 0; i < NBACKGROUND; i++)
        pthread_create(&bg[i], NULL, background[i].fn, a);

    mg_init_library(0);
    struct mg_context *ctx = mg_start(&cb, a, options);
    if (!ctx) {
        fprintf(stderr, "patrold: cannot listen on %s (port in use?)\n", a->cfg.listen);
        a->stopping = 1;
        pthread_cond_broadcast(&stop_cv);
        for (size_t i = 0; i < NBACKGROUND; i++)
            pthread_join(bg[i], NULL);
        gis_slot_destroy(a->gis);
        gaz_slot_destroy(a->gaz);
        return 1;
    }
    mg_set_request_handler(ctx, "/", http_dispatch, a);
    fprintf(stderr, "patrold: serving on http://%s with %s threads\n", a->cfg.listen, threads);

    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "patrold: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    pthread_mutex_lock(&stop_mu);
    a->stopping = 1;
    pthread_cond_broadcast(&stop_cv);
    pthread_mutex_unlock(&stop_mu);
    mg_stop(ctx);
    for (size_t i = 0; i < NBACKGROUND; i++)
        pthread_join(bg[i], NULL);
    gis_slot_destroy(a->gis);
    gaz_slot_destroy(a->gaz);
    mg_exit_library();
    fprintf(stderr, "patrold: stopped\n");
    return 0;
}
