/* server.c - serve: CivetWeb, background threads, signals, clean shutdown (connection deadlines,
 * keep-alive shedding and memory are conn.c's). CivetWeb threads are many and cheap (one per open
 * connection); the slots that hold a database connection, a GEOS locator and a PROJ context are
 * few (db_pool, pool.c) and borrowed per request. */
#include "service/core/server.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include "service/core/conn.h"
#include "service/core/pool.h"
#include "service/core/services.h"
#include "service/door/http.h"

/* DEADLINE_SIGNAL (conn.h) does nothing but end the read in progress. */
static void on_deadline(int sig) {
    (void)sig;
}

static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv = PTHREAD_COND_INITIALIZER;

int server_sleep_flag(app *a, int ms, int *flag) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&stop_mu);
    /* stop_cv is shared with server_kick: a wake for another flag sleeps on */
    while (!a->stopping && !(flag && *flag))
        if (pthread_cond_timedwait(&stop_cv, &stop_mu, &ts) == ETIMEDOUT) break;
    if (flag) *flag = 0;
    int stopping = a->stopping;
    pthread_mutex_unlock(&stop_mu);
    return stopping;
}

int server_sleep(app *a, int ms) {
    return server_sleep_flag(a, ms, NULL);
}

void server_kick(int *flag) {
    pthread_mutex_lock(&stop_mu);
    if (!*flag) *flag = 1, pthread_cond_broadcast(&stop_cv);
    pthread_mutex_unlock(&stop_mu);
}

static int log_message(const struct mg_connection *conn, const char *msg) {
    (void)conn;
    fprintf(stderr, "civetweb: %s\n", msg);
    return 1;
}

/* The security headers of every reply (app->security_headers; CivetWeb adds them to its own error
 * replies), with the base map's origin allowed as an image source when one is set
 * (config_basemap_resolve). Returns 0, or -1 with err when basemap_url is not valid. */
static int static_headers(const config *c, char *out, size_t n, char *err, size_t errlen) {
    const char *img = "img-src 'self' data: blob:";
    config_basemap b;
    if (config_basemap_resolve(c, &b, err, errlen) != 0) return -1;
    if (!b.kind) return snprintf(out, n, "%s", HTTP_SECURITY_HEADERS) < (int)n ? 0 : -1;
    const char *at = strstr(HTTP_SECURITY_HEADERS, img) + strlen(img);
    int k = snprintf(out, n, "%.*s %s%s", (int)(at - HTTP_SECURITY_HEADERS), HTTP_SECURITY_HEADERS,
                     b.origin, at);
    if (k > 0 && (size_t)k < n) return 0;
    snprintf(err, errlen, "basemap_url is too long");
    return -1;
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
     * additional_header puts the security headers on what CivetWeb itself sends (its own errors);
     * http.c adds them to every reply it writes, static files included. */
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
    cb.init_thread = conn_thread_begin;
    cb.exit_thread = conn_thread_end;
    cb.init_connection = conn_begin;
    cb.connection_close = conn_end;
    return mg_start(&cb, a, options);
}

/* Blocks the stop signals (main collects them with sigwait) and the deadline signal in every
 * thread to come; worker threads unblock the latter (conn_thread_begin). */
static void signals_setup(sigset_t *stop) {
    sigset_t blocked;
    struct sigaction sa;
    sigemptyset(stop);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGTERM);
    blocked = *stop;
    sigaddset(&blocked, DEADLINE_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    /* Started in the background, a process may inherit SIGINT ignored; an ignored signal is
     * discarded even while blocked, and sigwait would never see it. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_deadline; /* no SA_RESTART: the point is to interrupt */
    sigemptyset(&sa.sa_mask);
    sigaction(DEADLINE_SIGNAL, &sa, NULL);
}

int server_run(app *a) {
    char *headers = a->security_headers;
    char err[256];
    if (static_headers(&a->cfg, headers, sizeof a->security_headers, err, sizeof err) != 0) {
        fprintf(stderr, "patrold: %s\n", err);
        return 1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN); /* arenas: limited before any thread starts */
    mallopt(M_ARENA_MAX, a->cfg.malloc_arenas > 0 ? a->cfg.malloc_arenas
                         : cores > 0              ? (int)cores
                                                  : 2);
    sigset_t stop;
    signals_setup(&stop);

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
            a->cfg.listen, a->cfg.threads > 0 ? a->cfg.threads : 1, pool_size(a));

    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "patrold: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    pthread_mutex_lock(&stop_mu);
    a->stopping = 1;
    pthread_cond_broadcast(&stop_cv);
    pthread_mutex_unlock(&stop_mu);
    pool_wake(a); /* requests waiting for a slot give up now */
    mg_stop(ctx);
    services_stop(a);
    pool_destroy(a);
    services_close(a);
    mg_exit_library();
    fprintf(stderr, "patrold: stopped\n");
    return 0;
}
