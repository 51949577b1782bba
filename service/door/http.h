/* http.h - one request's view for handlers: parsed body, path captures, user, replies and errors.
 * Handlers run on CivetWeb worker threads; an http_req lives for one request only. The dispatcher
 * lends each handler a worker slot from the pool (r->w) for the length of the call. */
#ifndef PATROLD_HTTP_H
#define PATROLD_HTTP_H

#include <civetweb.h>
#include <jansson.h>
#include <stddef.h>

#include "service/core/app.h"
#include "service/core/auth.h"

enum { HTTP_MAX_PARAMS = 6 };

/* The security headers of every reply, one home: http_send and http_begin_chunked write them,
 * and CivetWeb (its additional_header option) puts them on static files and its own replies.
 * Scripts only from this origin (no inline script); inline styles allowed (map libraries set
 * them); images and workers also from blob: and data: (map tiles, canvas). */
#define HTTP_SECURITY_HEADERS                                                                      \
    "Content-Security-Policy: default-src 'self'; img-src 'self' data: blob:; "                    \
    "style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; object-src 'none'; "               \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n"                              \
    "X-Frame-Options: DENY\r\n"                                                                    \
    "X-Content-Type-Options: nosniff\r\n"                                                          \
    "Referrer-Policy: no-referrer\r\n"

struct param_spec;
struct http_qval;
struct shape_error;

typedef struct http_req {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    worker *w; /* the slot lent for this handler: r->w->pg, r->w->loc, ...; NULL after
                * http_release_worker and on routes that need none (/healthz, /metrics) */
    app *app;
    const char *method;
    const char *path;  /* decoded path, no query string */
    const char *query; /* raw query string or NULL (the door reads it: handlers use http_q) */
    char *body;        /* request body (NUL-terminated), NULL when none */
    size_t body_len;
    json_t *json; /* the body, checked against the route's shape (a form as an object) */
    /* The door's verdicts, for a handler that answers them itself (shapes.h): */
    const struct shape_error *body_error; /* a keyed body (shape.key) whose key passed but not the
                                           * rest: the handler answers it or replays the key */
    json_t *items;                        /* the body's per-item array (SF_ITEMS_LATER), borrowed */
    struct shape_error **item_errors;     /* [i]: NULL when item i passed its shape, else why not */
    /* The route's query parameters, typed by the door: read them with http_q (params.h). */
    const struct param_spec *const *qspecs;
    struct http_qval *qv;
    const char *params[HTTP_MAX_PARAMS]; /* path captures, in pattern order */
    int nparams;
    auth_user user; /* valid when user.id != 0 */
    char request_id[17];
    int close;           /* 1: the connection closes after this reply (Connection: close) */
    int status;          /* status sent, for the access log and metrics */
    char error_code[48]; /* error code sent, if any ("" none); a copy: codes may be built */
} http_req;

typedef int (*http_handler)(http_req *r);

/* Sends status + body in one write. ctype and extra_headers ("Name: v\r\n"...) may be NULL. */
int http_send(http_req *r, int status, const char *ctype, const char *body, size_t len,
              const char *extra_headers);

/* Slots and replies (the rule, HACKING.md): no pool slot is held while bytes go to a client.
 * http_send (and http_json, http_error...), http_begin_chunked and http_begin_stream give r->w
 * back to the pool before they write, unless a transaction is open on it (the handler then ends
 * it itself): after replying, a handler must not touch r->w. A reply made of several database
 * pages (exports, stream backlogs) borrows a slot per page (http_borrow_page_worker), reads the
 * page into memory, gives the slot back (http_release_worker), then writes it. */

/* Writes the head of a chunked reply (Transfer-Encoding: chunked) with the headers every reply
 * carries; the caller then sends mg_send_chunk()s and an empty one to end. Returns 0 or -1. */
int http_begin_chunked(http_req *r, int status, const char *ctype, const char *extra_headers);

/* Writes the head of a reply whose body runs until the connection closes (an event stream:
 * Connection: close, no length) with the headers every reply carries (security, CORS, request
 * id); the caller then mg_write()s the body. CivetWeb closes the connection when the handler
 * returns. Returns 0 or -1. */
int http_begin_stream(http_req *r, int status, const char *ctype, const char *extra_headers);

/* Gives the worker slot back to the pool before the handler returns, for a handler that then
 * waits a long time without the database (an event stream). Afterwards r->w is NULL: the handler
 * must not touch r->w (nor anything it borrowed from it: PGresults stay valid, the connection,
 * locator and PROJ context do not). Calling it twice is a no-op. */
void http_release_worker(http_req *r);

/* Borrows a slot again after http_release_worker (e.g. login: look the user up, release, run the
 * slow password hash, borrow again to write the session). Returns 0 with r->w set, or, when no
 * slot came free within db_pool_wait_ms, the status of the 503 busy reply it sent. A no-op
 * returning 0 when r->w is already set. */
int http_borrow_worker(http_req *r);

/* Borrows a slot for the next page of a reply already under way (export, stream backlog), within
 * db_pool_wait_ms, without sending anything. Returns 0 with r->w set (a no-op when it is), or -1
 * when none came free (the caller ends the reply; the client resumes or retries). */
int http_borrow_page_worker(http_req *r);

/* Sends json (stolen: always decref'd) as application/json. */
int http_json(http_req *r, int status, json_t *json);

/* Sends {"error":{"code","message","field"}}; field may be NULL. Returns status. */
int http_error(http_req *r, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Like http_error with a Retry-After: retry_after_s header (for 429 and 503). */
int http_error_retry(http_req *r, int status, int retry_after_s, const char *code,
                     const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Maps the worker's last database failure: 503 db_unavailable when the database is unreachable,
 * 503 db_timeout when a statement ran past statement_timeout_ms (both with Retry-After), 500
 * db_error otherwise (the detail is logged, not sent). */
int http_db_error(http_req *r);

/* Request header value or NULL. */
const char *http_header(const http_req *r, const char *name);

/* Writes the Prometheus text of the request metrics to the reply. */
int http_metrics_reply(http_req *r);

/* Counts a database error for /metrics. */
void http_count_db_error(void);

/* 0 when the JSON text s[0..n) nests arrays and objects at most max deep, -1 when deeper.
 * A loop over the bytes (no recursion, no allocation): run it before a recursive parser. */
int http_json_depth_ok(const char *s, size_t n, int max);

/* Copies s into out (size n, always terminated) with control bytes, space, quote, backslash and
 * bytes >= 0x80 written as \xNN, so a log line cannot be forged or broken. */
void http_log_escape(const char *s, char *out, size_t n);

/* The CivetWeb request handler that runs the route table (registered for "/"). */
int http_dispatch(struct mg_connection *conn, void *cbdata);

/* An API family whose error bodies are not {"error":{...}} (Open311): for a path `owns` says 1
 * to, every error the core or a handler sends goes through `send` (status, message, extra
 * headers or NULL; returns status; must not touch r->error_code). The table is defined outside
 * the plumbing (service/core/services.c), so http.c knows no subsystem. */
typedef struct http_error_format {
    int (*owns)(const char *path);
    int (*send)(http_req *r, int status, const char *message, const char *extra_headers);
} http_error_format;
extern const http_error_format http_error_formats[];
extern const size_t http_nerror_formats;

/* Matches path against a route pattern, filling captures (pointing into scratch, which must hold
 * strlen(path)+1 bytes). Returns the number of captures, or -1 when it does not match. */
int route_match(const char *pattern, const char *path, char *scratch, const char **caps,
                int maxcaps);

#endif
