/* http.h - one request's view for handlers: parsed body, path captures, user, replies and errors.
 * Handlers run on CivetWeb worker threads; an http_req lives for one request only. */
#ifndef PATROLD_HTTP_H
#define PATROLD_HTTP_H

#include <civetweb.h>
#include <jansson.h>
#include <stddef.h>

#include "service/app.h"
#include "service/auth.h"

enum { HTTP_MAX_PARAMS = 6 };

typedef struct http_req {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    worker *w; /* this thread's worker: r->w->pg, r->w->loc, ... */
    app *app;
    const char *method;
    const char *path;  /* decoded path, no query string */
    const char *query; /* raw query string or NULL */
    char *body;        /* request body (NUL-terminated), NULL when none */
    size_t body_len;
    json_t *json;                        /* parsed body of JSON routes (object or array) */
    const char *params[HTTP_MAX_PARAMS]; /* path captures, in pattern order */
    int nparams;
    auth_user user; /* valid when user.id != 0 */
    char request_id[17];
    int status;             /* status sent, for the access log and metrics */
    const char *error_code; /* error code sent, if any */
} http_req;

typedef int (*http_handler)(http_req *r);

/* Sends status + body in one write. ctype and extra_headers ("Name: v\r\n"...) may be NULL. */
int http_send(http_req *r, int status, const char *ctype, const char *body, size_t len,
              const char *extra_headers);

/* Sends json (stolen: always decref'd) as application/json. */
int http_json(http_req *r, int status, json_t *json);

/* Sends {"error":{"code","message","field"}}; field may be NULL. Returns status. */
int http_error(http_req *r, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Maps the worker's last database failure: 503 db_unavailable when the database is unreachable,
 * 500 db_error otherwise (the detail is logged, not sent). */
int http_db_error(http_req *r);

/* Copies query parameter `name` (URL-decoded) into buf. Returns its length, -1 when absent,
 * -2 when longer than buf. */
int http_query(const http_req *r, const char *name, char *buf, size_t len);

/* Request header value or NULL. */
const char *http_header(const http_req *r, const char *name);

/* Writes the Prometheus text of the request metrics to the reply. */
int http_metrics_reply(http_req *r);

/* Counts a database error for /metrics. */
void http_count_db_error(void);

/* The CivetWeb request handler that runs the route table (registered for "/"). */
int http_dispatch(struct mg_connection *conn, void *cbdata);

#endif
