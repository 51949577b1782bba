/* conn.c - what a connection may hold: whole-request deadlines on CivetWeb worker threads (a
 * per-thread timer whose signal ends a read in progress), keep-alive shedding when threads run
 * low, and giving freed memory back. CivetWeb calls the callbacks (server.c registers them); the
 * door (http.c) arms and clears deadlines and asks whether threads are low. */
#define _GNU_SOURCE
#include "service/core/conn.h"

#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "service/core/pool.h"

/* ---- deadlines: one timer per worker thread ----
 * CivetWeb times each wait for a client's bytes (request_timeout_ms), never a whole request: a
 * client sending a byte every few seconds keeps a worker thread as long as it likes. So each
 * worker thread has a timer of its own; armed, it sends the thread DEADLINE_SIGNAL when due and
 * every 100 ms after, until cleared. The handler does nothing: the signal makes the poll() CivetWeb
 * waits in fail with EINTR, which CivetWeb takes for a failed read, so the read in progress (a
 * first request's headers, a body in mg_read) gives up. Writes retry on EINTR. The signal is
 * blocked in every other thread; a signal due before conn_deadline_clear returns is delivered
 * by then (it is unblocked here), so none arrives later. */
static _Thread_local timer_t deadline_timer;
static _Thread_local int deadline_made, deadline_armed;

int conn_deadline_arm(long ms) {
    struct itimerspec due = {.it_interval = {0, 100000000L},
                             .it_value = {ms / 1000, (ms % 1000) * 1000000L}};
    if (!deadline_made || ms <= 0 || timer_settime(deadline_timer, 0, &due, NULL) != 0) return -1;
    deadline_armed = 1;
    return 0;
}

void conn_deadline_clear(void) {
    struct itimerspec off;
    if (!deadline_armed) return;
    memset(&off, 0, sizeof off);
    timer_settime(deadline_timer, 0, &off, NULL);
    deadline_armed = 0;
}

/* CivetWeb's init_thread: a worker thread (type 1) gets its deadline timer and the signal. */
void *conn_thread_begin(const struct mg_context *ctx, int type) {
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

void conn_thread_end(const struct mg_context *ctx, int type, void *user) {
    (void)ctx, (void)user;
    if (type == 1 && deadline_made) timer_delete(deadline_timer), deadline_made = 0;
}

/* ---- connections held by worker threads, and keep-alive shedding ---- */
static atomic_int conns_open;          /* connections a worker thread holds now */
static _Thread_local int conn_counted; /* this thread counted the connection it holds */

/* CivetWeb's init_connection: a worker thread took a new connection; its first request must
 * arrive within first_request_timeout_ms. */
int conn_begin(const struct mg_connection *conn, void **data) {
    const app *a = mg_get_user_data(mg_get_context(conn));
    *data = NULL;
    atomic_fetch_add(&conns_open, 1);
    conn_counted = 1;
    if (a->cfg.first_request_timeout_ms > 0) conn_deadline_arm(a->cfg.first_request_timeout_ms);
    return 0;
}

void conn_end(const struct mg_connection *conn) {
    (void)conn;
    conn_deadline_clear();
    if (conn_counted) atomic_fetch_sub(&conns_open, 1), conn_counted = 0;
}

int conn_threads_low(const app *a) {
    int threads = a->cfg.threads > 0 ? a->cfg.threads : 1;
    int free_threads = threads - atomic_load(&conns_open);
    return free_threads * 100 < threads * a->cfg.keep_alive_free_pct;
}

/* ---- memory ----
 * glibc keeps what is freed in the arena it came from (up to 8 per core), and a large request's
 * many small allocations leave pages that only malloc_trim gives back. Arenas are limited by
 * malloc_arenas before any thread starts; conn_memory_settle trims once the pool is idle. */
static atomic_llong last_trim_ms;

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void conn_memory_settle(app *a) {
    long long now = mono_ms(), last = atomic_load(&last_trim_ms);
    int in_use, size;
    unsigned long long refused;
    if (now - last < 1000) return; /* at most once a second */
    pool_stats(a, &in_use, &size, &refused);
    if (in_use || !atomic_compare_exchange_strong(&last_trim_ms, &last, now)) return;
    malloc_trim(0);
}
