/* server.h - serve: CivetWeb, background threads, signals, clean shutdown. */
#ifndef PATROLD_SERVER_H
#define PATROLD_SERVER_H

#include "service/core/app.h"

/* Serves until SIGINT/SIGTERM. Returns the process exit code. */
int server_run(app *a);

/* Sleeps up to ms milliseconds, waking early when the server is stopping. Returns 1 if stopping. */
int server_sleep(app *a, int ms);

/* Connection deadlines, for the calling CivetWeb worker thread only: once ms milliseconds have
 * passed, the read it is blocked in (mg_read, CivetWeb reading headers) returns early, as if the
 * client had gone, until server_deadline_clear. A connection's first request is timed this way
 * from the moment a thread takes it (first_request_timeout_ms); http.c times request bodies.
 * Returns 0, or -1 when this thread has no timer (not a worker thread). */
int server_deadline_arm(long ms);
void server_deadline_clear(void);

/* 1 when fewer than keep_alive_free_pct percent of the worker threads are free (the others hold a
 * connection: a request, an idle keep-alive connection, a stream): replies then close their
 * connection, so that clients waiting for a thread get one. */
int server_threads_low(const app *a);

/* After a request: gives memory the allocator keeps back to the system (malloc_trim) when no
 * worker slot is lent, at most once a second. */
void server_memory_settle(app *a);

#endif
