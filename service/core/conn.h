/* conn.h - what a connection may hold: deadlines, keep-alive shedding, memory (conn.c). */
#ifndef PATROLD_CONN_H
#define PATROLD_CONN_H

#include <civetweb.h>

#include "service/core/app.h"

/* The signal a due deadline sends its worker thread (server.c installs a handler that does
 * nothing and blocks it in every other thread). */
#define DEADLINE_SIGNAL SIGUSR1

/* Connection deadlines, for the calling CivetWeb worker thread only: once ms milliseconds have
 * passed, the read it is blocked in (mg_read, CivetWeb reading headers) returns early, as if the
 * client had gone, until conn_deadline_clear. A connection's first request is timed this way
 * from the moment a thread takes it (first_request_timeout_ms); http.c times request bodies.
 * Returns 0, or -1 when this thread has no timer (not a worker thread). */
int conn_deadline_arm(long ms);
void conn_deadline_clear(void);

/* 1 when fewer than keep_alive_free_pct percent of the worker threads are free (the others hold a
 * connection: a request, an idle keep-alive connection, a stream): replies then close their
 * connection, so that clients waiting for a thread get one. */
int conn_threads_low(const app *a);

/* After a request: gives memory the allocator keeps back to the system (malloc_trim) when no
 * worker slot is lent, at most once a second. */
void conn_memory_settle(app *a);

/* CivetWeb callbacks (struct mg_callbacks): init_thread / exit_thread give a worker thread (type
 * 1) its deadline timer; init_connection / connection_close count the connections threads hold
 * and time a new connection's first request. */
void *conn_thread_begin(const struct mg_context *ctx, int type);
void conn_thread_end(const struct mg_context *ctx, int type, void *user);
int conn_begin(const struct mg_connection *conn, void **data);
void conn_end(const struct mg_connection *conn);

#endif
