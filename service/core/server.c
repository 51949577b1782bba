/* server.c - serve: CivetWeb, background threads, signals, clean shutdown. CivetWeb threads are
 * many and cheap (one per open connection); the slots that hold a database connection, a GEOS
 * locator and a PROJ context are few (db_pool, pool.c) and borrowed per request. */
#include "service/core/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "service/core/pool.h"
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
