/* server.c - serve: the pool of worker slots, CivetWeb, background threads, signals, clean shutdown,
 * connection deadlines, keep-alive shedding and the allocator's arenas.
 * CivetWeb threads are many and cheap (one per open connection); the slots that hold a database
 * connection, a GEOS locator and a PROJ context are few (db_pool) and borrowed per request. */
#include "service/core/server.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

/* ---- deadlines: one timer per worker thread ----
 * CivetWeb times each wait for a client's bytes (request_timeout_ms), never a whole request: a
 * client sending a byte every few seconds keeps a worker thread as long as it likes. So each
 * worker thread has a timer of its own; armed, it sends the thread DEADLINE_SIGNAL when due and
 * every 100 ms after, until cleared. The handler does nothing: the signal makes the poll() CivetWeb
 * waits in fail with EINTR, which CivetWeb takes for a failed read, so the read in progress (a
 * first request's headers, a body in mg_read) gives up. Writes retry on EINTR. The signal is
 * blocked in every other thread; a signal due before server_deadline_clear returns is delivered
 * by then (it is unblocked here), so none arrives later. */
#define DEADLINE_SIGNAL SIGUSR1
static _Thread_local timer_t deadline_timer;
static _Thread_local int deadline_made, deadline_armed;

static void on_deadline(int sig) {
    (void)sig;
}

int server_deadline_arm(long ms) {
    struct itimerspec due = {.it_interval = {0, 100000000L},
                             .it_value = {ms / 1000, (ms % 1000) * 1000000L}};
    if (!deadline_made || ms <= 0 || timer_settime(deadline_timer, 0, &due, NULL) != 0) return -1;
    deadline_armed = 1;
    return 0;
}

void server_deadline_clear(void) {
    struct itimerspec off;
    if (!deadline_armed) return;
    memset(&off, 0, sizeof off);
    timer_settime(deadline_timer, 0, &off, NULL);
    deadline_armed = 0;
}

/* CivetWeb's init_thread: a worker thread (type 1) gets its deadline timer and the signal. */
static void *thread_begin(const struct mg_context *ctx, int type) {
    (void)ctx;
    if (type != 1) return NULL;
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = DEADLINE_SIGNAL;
    ev._sigev_un._tid = (pid_t)syscall(SYS_gettid); /* sigev_notify_thread_id */
    deadline_made = timer_create(CLOCK_MONOTONIC, &ev, &deadline_timer) == 0;
    if (!deadline_made) perror("patrold: timer_create (no connection deadlines on this thread)");
    sigset_t sig;
    sigemptyset(&sig);
    sigaddset(&sig, DEADLINE_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &sig, NULL);
    return NULL;
}

static void thread_end(const struct mg_context *ctx, int type, void *user) {
    (void)ctx, (void)user;
    if (type == 1 && deadline_made) timer_delete(deadline_timer), deadline_made = 0;
}

/* ---- connections held by worker threads, and keep-alive shedding ---- */
static atomic_int conns_open;          /* connections a worker thread holds now */
static _Thread_local int conn_counted; /* this thread counted the connection it holds */

/* CivetWeb's init_connection: a worker thread took a new connection; its first request must
 * arrive within first_request_timeout_ms. */
static int conn_begin(const struct mg_connection *conn, void **data) {
    const app *a = mg_get_user_data(mg_get_context(conn));
    *data = NULL;
    atomic_fetch_add(&conns_open, 1);
    conn_counted = 1;
    if (a->cfg.first_request_timeout_ms > 0) server_deadline_arm(a->cfg.first_request_timeout_ms);
    return 0;
}

static void conn_end(const struct mg_connection *conn) {
    (void)conn;
    server_deadline_clear();
    if (conn_counted) atomic_fetch_sub(&conns_open, 1), conn_counted = 0;
}

int server_threads_low(const app *a) {
    int threads = a->cfg.threads > 0 ? a->cfg.threads : 1;
    int free_threads = threads - atomic_load(&conns_open);
    return free_threads * 100 < threads * a->cfg.keep_alive_free_pct;
}

/* ---- memory ----
 * glibc keeps what is freed in the arena it came from (up to 8 per core), and a large request's
 * many small allocations leave pages that only malloc_trim gives back. Arenas are limited by
 * malloc_arenas before any thread starts; server_memory_settle trims once the pool is idle. */
static atomic_llong last_trim_ms;

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void server_memory_settle(app *a) {
    long long now = mono_ms(), last = atomic_load(&last_trim_ms);
    int in_use, size;
    unsigned long long refused;
    if (now - last < 1000) return; /* at most once a second */
    pool_stats(a, &in_use, &size, &refused);
    if (in_use || !atomic_compare_exchange_strong(&last_trim_ms, &last, now)) return;
    malloc_trim(0);
}

static int log_message(const struct mg_connection *conn, const char *msg) {
    (void)conn;
    fprintf(stderr, "civetweb: %s\n", msg);
    return 1;
}

/* The security headers of every reply (app->security_headers; CivetWeb adds them to its own error
 * replies), with the base map's origin allowed as an image source when one is set. Returns 0, or -1
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
    cb.init_thread = thread_begin;
    cb.exit_thread = thread_end;
    cb.init_connection = conn_begin;
    cb.connection_close = conn_end;
    return mg_start(&cb, a, options);
}

/* Blocks the stop signals (main collects them with sigwait) and the deadline signal in every
 * thread to come; worker threads unblock the latter (thread_begin). */
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
    if (static_headers(&a->cfg, headers, sizeof a->security_headers) != 0) {
        fprintf(stderr, "patrold: basemap_url must be an http:// or https:// URL without spaces,"
                        " quotes, commas or semicolons\n");
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
