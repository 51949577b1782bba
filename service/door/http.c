/* http.c - runs the route table for every request: match, a worker slot from the pool, auth, body
 * limits, depth and types, replies with the security and CORS headers, the access log and the
 * request metrics. Thread-safe: per-request state lives in http_req. */
#include "service/door/http.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "service/core/buf.h"
#include "service/core/conn.h"
#include "service/core/db.h"
#include "service/core/pool.h"
#include "service/door/params.h"
#include "service/door/routes.h"
#include "service/door/shapes.h"

/* ---- metrics: per route (and one slot for unmatched paths) ---- */
enum { MAX_ROUTES = 96, NBUCKETS = 12 };
static const double buckets_s[NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                           0.05,   0.1,   0.25,   0.5,   1,    2.5};
typedef struct {
    atomic_ullong handler_calls; /* requests the door let through to the handler */
    atomic_ullong by_class[6];   /* 1xx..5xx by first digit */
    atomic_ullong bucket[NBUCKETS];
    atomic_ullong count;
    atomic_ullong sum_us;
} route_stats;
static route_stats stats[MAX_ROUTES + 1];
static atomic_ullong db_errors;

void http_count_db_error(void) {
    atomic_fetch_add(&db_errors, 1);
}

static void record(int route_ix, int status, double secs) {
    route_stats *s = &stats[route_ix < 0 || route_ix >= MAX_ROUTES ? MAX_ROUTES : route_ix];
    int cls = status / 100;
    atomic_fetch_add(&s->by_class[cls >= 1 && cls <= 5 ? cls : 0], 1);
    for (int i = 0; i < NBUCKETS; i++)
        if (secs <= buckets_s[i]) atomic_fetch_add(&s->bucket[i], 1);
    atomic_fetch_add(&s->count, 1);
    atomic_fetch_add(&s->sum_us, (unsigned long long)(secs * 1e6));
}

/* Row i of the metrics (nroutes: the unmatched requests) and its labels. */
static route_stats *stats_row(size_t i, const char **method, const char **pattern) {
    *method = i == nroutes ? "" : routes[i].method;
    *pattern = i == nroutes ? "unmatched" : routes[i].pattern;
    return &stats[i == nroutes ? MAX_ROUTES : i];
}

int http_metrics_reply(http_req *r) {
    buf b = {0};
    buf_printf(&b, "# HELP patrold_http_requests_total Requests by route and status class.\n"
                   "# TYPE patrold_http_requests_total counter\n");
    for (size_t i = 0; i <= nroutes && i <= MAX_ROUTES; i++) {
        const char *m, *p;
        route_stats *s = stats_row(i, &m, &p);
        for (int c = 1; c <= 5; c++)
            buf_printf(
                &b,
                "patrold_http_requests_total{method=\"%s\",route=\"%s\",status=\"%dxx\"} %llu\n", m,
                p, c, (unsigned long long)atomic_load(&s->by_class[c]));
    }
    buf_printf(&b, "# HELP patrold_http_request_duration_seconds Request latency by route.\n"
                   "# TYPE patrold_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= nroutes && i <= MAX_ROUTES; i++) {
        const char *m, *p;
        route_stats *s = stats_row(i, &m, &p);
        for (int k = 0; k < NBUCKETS; k++)
            buf_printf(
                &b,
                "patrold_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
                m, p, buckets_s[k], (unsigned long long)atomic_load(&s->bucket[k]));
        unsigned long long n = atomic_load(&s->count);
        buf_printf(
            &b,
            "patrold_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n"
            "patrold_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
            "patrold_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
            m, p, n, m, p, (double)atomic_load(&s->sum_us) / 1e6, m, p, n);
    }
    buf_printf(&b, "# HELP patrold_http_handler_calls_total Requests that passed the door (route,"
                   " roles, body shape, query parameters) and ran the route's handler.\n"
                   "# TYPE patrold_http_handler_calls_total counter\n");
    for (size_t i = 0; i < nroutes && i < MAX_ROUTES; i++)
        buf_printf(&b, "patrold_http_handler_calls_total{method=\"%s\",route=\"%s\"} %llu\n",
                   routes[i].method, routes[i].pattern,
                   (unsigned long long)atomic_load(&stats[i].handler_calls));
    buf_printf(&b,
               "# HELP patrold_db_errors_total Failed database statements.\n"
               "# TYPE patrold_db_errors_total counter\npatrold_db_errors_total %llu\n",
               (unsigned long long)atomic_load(&db_errors));
    int in_use, size;
    unsigned long long refused;
    pool_stats(r->app, &in_use, &size, &refused);
    buf_printf(&b,
               "# HELP patrold_pool_slots Worker slots (database connections) in the pool.\n"
               "# TYPE patrold_pool_slots gauge\npatrold_pool_slots %d\n"
               "# HELP patrold_pool_in_use Worker slots lent to requests now.\n"
               "# TYPE patrold_pool_in_use gauge\npatrold_pool_in_use %d\n"
               "# HELP patrold_pool_refused_total Requests answered 503 busy: no slot in time.\n"
               "# TYPE patrold_pool_refused_total counter\npatrold_pool_refused_total %llu\n",
               size, in_use, refused);
    int rc = http_send(r, 200, "text/plain; version=0.0.4", b.p ? b.p : "", b.len, NULL);
    buf_free(&b);
    return rc;
}

/* ---- replies ---- */

/* The CORS headers of this request's replies, the same on the preflight and the real reply: an
 * Origin listed in cors_origins is echoed; any other gets no Access-Control-Allow-Origin. */
static void cors_headers(const http_req *r, char *out, size_t n) {
    const char *list = r->app->cfg.cors_origins, *origin = http_header(r, "Origin");
    *out = 0;
    if (!*list) return;
    size_t olen = origin ? strlen(origin) : 0;
    for (const char *p = list; olen && *p;) {
        size_t k = strcspn(p, " ,\t");
        if (k == olen && memcmp(p, origin, k) == 0) {
            snprintf(out, n,
                     "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
                     "Access-Control-Expose-Headers: X-Request-Id, Retry-After\r\n",
                     origin);
            return;
        }
        p += k;
        p += strspn(p, " ,\t");
    }
    snprintf(out, n, "Vary: Origin\r\n");
}

/* The head of a reply: status line, `length` (a Content-Length or Transfer-Encoding line), the
 * headers of every reply, then ctype and extra. Returns its length, -1 when it does not fit. */
static int reply_head(http_req *r, int status, const char *ctype, const char *length,
                      const char *extra, char *out, size_t n) {
    char cors[640];
    cors_headers(r, cors, sizeof cors);
    /* no-store unless the handler sends its own Cache-Control (static map tiles) */
    int own_cc = extra && strstr(extra, "Cache-Control:") != NULL;
    const char *security =
        *r->app->security_headers ? r->app->security_headers : HTTP_SECURITY_HEADERS;
    int k = snprintf(out, n,
                     "HTTP/1.1 %d %s\r\n%sX-Request-Id: %s\r\n%s%s"
                     "%s%s%s%s%s%s\r\n",
                     status, mg_get_response_code_text(r->conn, status), length, r->request_id,
                     r->close ? "Connection: close\r\n" : "",
                     own_cc ? "" : "Cache-Control: no-store\r\n", security, cors,
                     ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                     extra ? extra : "");
    return k < 0 || (size_t)k >= n ? -1 : k;
}

/* The rule (HACKING.md, Runtime model): no pool slot is held while bytes go to a client. A reply
 * is whole in memory when it is written, so the slot goes back first, unless the handler still
 * has a transaction open (it rolls back or commits after replying: it keeps the slot). */
static void release_before_write(http_req *r) {
    if (r->w && !db_in_transaction(r->w)) http_release_worker(r);
}

int http_send(http_req *r, int status, const char *ctype, const char *body, size_t len,
              const char *extra_headers) {
    char head[3072], length[48];
    snprintf(length, sizeof length, "Content-Length: %zu\r\n", len);
    int n = reply_head(r, status, ctype, length, extra_headers, head, sizeof head);
    if (n < 0) return -1;
    char *out = malloc((size_t)n + len);
    if (!out) return -1;
    memcpy(out, head, (size_t)n);
    if (len) memcpy(out + n, body, len);
    if (strcmp(r->method, "HEAD") == 0 || status == 304)
        len = 0; /* the headers of the GET (its Content-Length too), no body */
    release_before_write(r);
    int sent = mg_write(r->conn, out, (size_t)n + len); /* one write: no Nagle stall */
    free(out);
    r->status = status;
    /* the client is gone: requests it pipelined behind this one are not worth a slot each */
    if (sent <= 0) mg_disable_connection_keep_alive(r->conn);
    return sent < 0 ? -1 : status;
}

int http_begin_chunked(http_req *r, int status, const char *ctype, const char *extra_headers) {
    char head[3072];
    int n = reply_head(r, status, ctype, "Transfer-Encoding: chunked\r\n", extra_headers, head,
                       sizeof head);
    r->status = status;
    release_before_write(r);
    return n < 0 || mg_write(r->conn, head, (size_t)n) < 0 ? -1 : 0;
}

int http_begin_stream(http_req *r, int status, const char *ctype, const char *extra_headers) {
    char head[3072];
    int n = reply_head(r, status, ctype, "Connection: close\r\n", extra_headers, head, sizeof head);
    r->status = status;
    mg_disable_connection_keep_alive(r->conn); /* the body ends when the connection does */
    release_before_write(r);
    return n < 0 || mg_write(r->conn, head, (size_t)n) < 0 ? -1 : 0;
}

void http_release_worker(http_req *r) {
    pool_return(r->app, r->w);
    r->w = NULL;
}

static int json_reply(http_req *r, int status, json_t *json, const char *extra) {
    char *s = json ? json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(json);
    if (!s)
        return http_send(
            r, 500, "application/json; charset=utf-8",
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"field\":null}}", 68,
            NULL);
    int rc = http_send(r, status, "application/json; charset=utf-8", s, strlen(s), extra);
    free(s);
    return rc;
}

int http_json(http_req *r, int status, json_t *json) {
    return json_reply(r, status, json, NULL);
}

/* The error format that owns r's path, or NULL for the core's own. */
static const http_error_format *error_format(const http_req *r) {
    for (size_t i = 0; i < http_nerror_formats; i++)
        if (http_error_formats[i].owns(r->path)) return &http_error_formats[i];
    return NULL;
}

static int error_reply(http_req *r, int status, const char *extra, const char *code,
                       const char *field, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    snprintf(r->error_code, sizeof r->error_code, "%s", code ? code : "");
    const http_error_format *other = error_format(r);
    if (other) return other->send(r, status, msg, extra); /* that API's format */
    json_t *e =
        json_pack("{s:{s:s,s:s,s:s?}}", "error", "code", code, "message", msg, "field", field);
    if (!e) /* the message carried invalid UTF-8 (request text): say it without that text */
        e = json_pack("{s:{s:s,s:s,s:s?}}", "error", "code", code, "message",
                      "(the message held invalid UTF-8)", "field", field);
    json_reply(r, status, e, extra);
    return status;
}

int http_error(http_req *r, int status, const char *code, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_reply(r, status, NULL, code, field, fmt, ap);
    va_end(ap);
    return status;
}

int http_error_retry(http_req *r, int status, int retry_after_s, const char *code,
                     const char *field, const char *fmt, ...) {
    char extra[40];
    va_list ap;
    snprintf(extra, sizeof extra, "Retry-After: %d\r\n", retry_after_s);
    va_start(ap, fmt);
    error_reply(r, status, extra, code, field, fmt, ap);
    va_end(ap);
    return status;
}

int http_db_error(http_req *r) {
    http_count_db_error();
    if (r->w->db_down)
        return http_error_retry(r, 503, 2, "db_unavailable", NULL,
                                "the database is not reachable; try again");
    if (db_failed_with(r->w, "57014")) /* query_canceled: statement_timeout */
        return http_error_retry(r, 503, 2, "db_timeout", NULL,
                                "the database did not answer within %d ms; try again",
                                r->app->cfg.statement_timeout_ms);
    fprintf(stderr, "db error [%s] %s: %s\n", r->request_id, r->w->sqlstate, r->w->err);
    return http_error(r, 500, "db_error", NULL, "database error (request %s)", r->request_id);
}

/* ---- checks on request bytes, before anything recursive or anything that logs them ---- */

int http_json_depth_ok(const char *s, size_t n, int max) {
    int depth = 0, in_str = 0, esc = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max) return -1;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

void http_log_escape(const char *s, char *out, size_t n) {
    size_t k = 0;
    if (!n) return;
    for (; *s && k + 1 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7F || c == '"' || c == '\\') {
            if (k + 5 > n) break;
            snprintf(out + k, 5, "\\x%02X", c);
            k += 4;
        } else {
            out[k++] = (char)c;
        }
    }
    out[k] = 0;
}

const char *http_header(const http_req *r, const char *name) {
    return mg_get_header(r->conn, name);
}

/* ---- the request's shape (shapes.h judges a body; these answer and keep the verdicts) ---- */

static int shape_reply(http_req *r, const shape_error *e) {
    return http_error(r, e->status, e->code, e->field, "%s", e->message);
}

static shape_error *error_copy(const shape_error *e) {
    shape_error *c = malloc(sizeof *c);
    if (c) *c = *e;
    return c;
}

/* The per-item array field of s (SF_ITEMS_LATER), or NULL. */
static const shape_field *items_field(const shape *s) {
    for (size_t i = 0; i < s->n; i++)
        if (s->fields[i].type == SHAPE_ARRAY && (s->fields[i].flags & SF_ITEMS_LATER))
            return &s->fields[i];
    return NULL;
}

static int shape_run(http_req *r, const shape *s) {
    shape_error e;
    if (shape_check(s, r->json, &e) != 0) {
        if (!shape_key_passed(s, &e)) return shape_reply(r, &e);
        if (!(r->body_error = error_copy(&e)))
            return http_error(r, 500, "internal", NULL, "out of memory");
        return 0;
    }
    const shape_field *f = items_field(s);
    if (!f) return 0;
    r->items = json_object_get(r->json, f->name);
    size_t n = json_array_size(r->items);
    if (!(r->item_errors = calloc(n ? n : 1, sizeof *r->item_errors)))
        return http_error(r, 500, "internal", NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (shape_check(f->sub, json_array_get(r->items, i), &e) != 0 &&
            !(r->item_errors[i] = error_copy(&e)))
            return http_error(r, 500, "internal", NULL, "out of memory");
    return 0;
}

static void shape_free_verdicts(http_req *r) {
    for (size_t i = 0; r->item_errors && i < json_array_size(r->items); i++)
        free(r->item_errors[i]);
    free(r->item_errors);
    free((shape_error *)r->body_error);
    r->item_errors = NULL, r->body_error = NULL, r->items = NULL;
}

/* ---- matching ---- */
static int match_segment(const char *pat, const char *pe, const char *seg, const char *se,
                         char *out, const char **caps, int *ncaps, int maxcaps) {
    /* pat..pe: "{name}" or "{name}.ext" or literal; seg..se: the path segment. */
    if (*pat != '{') return (pe - pat == se - seg && memcmp(pat, seg, (size_t)(pe - pat)) == 0);
    const char *close = memchr(pat, '}', (size_t)(pe - pat));
    if (!close) return 0;
    size_t suffix = (size_t)(pe - close - 1);
    if ((size_t)(se - seg) <= suffix || memcmp(se - suffix, close + 1, suffix) != 0) return 0;
    if (*ncaps >= maxcaps) return 0;
    size_t n = (size_t)(se - seg) - suffix;
    memcpy(out, seg, n);
    out[n] = 0;
    caps[(*ncaps)++] = out;
    return 1;
}

int route_match(const char *pattern, const char *path, char *scratch, const char **caps,
                int maxcaps) {
    const char *p = pattern, *s = path;
    int ncaps = 0;
    char *out = scratch;
    while (*p && *s) {
        if (*p != '/' || *s != '/') return -1;
        p++, s++;
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        if (!pe) pe = p + strlen(p);
        if (!se) se = s + strlen(s);
        if (!match_segment(p, pe, s, se, out, caps, &ncaps, maxcaps)) return -1;
        if (ncaps && caps[ncaps - 1] == out) out += strlen(out) + 1;
        p = pe, s = se;
    }
    return (*p || *s) ? -1 : ncaps;
}

/* ---- the dispatcher ---- */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The connection closes after this reply: a body left unread, or few free worker threads. */
static void close_after(http_req *r) {
    r->close = 1;
    mg_disable_connection_keep_alive(r->conn);
}

/* The deadline of a request body: body_timeout_ms from the first read, plus one second for every
 * body_min_rate bytes received. A client sending at least that fast is never cut, whatever the
 * size; one trickling bytes is cut after about body_timeout_ms, whatever length it announced.
 * The thread's timer (conn_deadline_arm) interrupts a read in progress when it is due. */
typedef struct {
    double start, due;
    size_t got;
} body_clock;

static void body_clock_start(http_req *r, body_clock *k) {
    k->start = now_s(), k->got = 0;
    k->due = k->start + r->app->cfg.body_timeout_ms / 1e3;
    conn_deadline_arm(r->app->cfg.body_timeout_ms);
}

/* mg_read of at most n bytes into buf within k's deadline. Returns what mg_read returned; *late is
 * 1 when the deadline has passed. */
static int body_read(http_req *r, body_clock *k, char *buf, size_t n, int *late) {
    const config *c = &r->app->cfg;
    if ((*late = now_s() >= k->due)) return 0;
    int got = mg_read(r->conn, buf, n);
    if (got > 0 && c->body_min_rate > 0) {
        k->got += (size_t)got;
        double due = k->start + (c->body_timeout_ms + k->got * 1e3 / c->body_min_rate) / 1e3;
        if (due > k->due + 0.05) /* earned more time: move the timer */
            k->due = due, conn_deadline_arm((long)((due - now_s()) * 1e3) + 1);
    }
    *late = now_s() >= k->due;
    return got;
}

enum { DRAIN_MAX = 16 << 20 };

/* 413, then the rest of the body is read and dropped (up to DRAIN_MAX, within the deadline), so
 * that the client, still sending, gets the answer rather than a reset; the connection closes. */
static int too_large(http_req *r, size_t limit, body_clock *k) {
    char sink[4096]; /* worker threads have 100 KiB of stack */
    long long left = r->ri->content_length;
    int late = 0;
    close_after(r);
    http_error(r, 413, "payload_too_large", NULL, "request body over %zu bytes", limit);
    for (size_t drained = 0; drained < DRAIN_MAX && (left < 0 || left <= DRAIN_MAX) && !late;) {
        int n = body_read(r, k, sink, sizeof sink, &late);
        if (n <= 0) break;
        drained += (size_t)n;
    }
    conn_deadline_clear();
    return 413;
}

/* Reads the body, at most limit bytes, within its deadline (body_clock). Returns 0, or the status
 * sent: 413 over the limit, 408 past the deadline, 400 when the client stopped short of its
 * length; after an error the connection closes (the rest of the body is not read). */
static int read_body(http_req *r, size_t limit) {
    long long cl = r->ri->content_length;
    size_t cap = cl >= 0 && cl <= (long long)limit ? (size_t)cl + 1 : 65536, len = 0;
    body_clock k;
    int late = 0;
    body_clock_start(r, &k);
    if (cl > (long long)limit) return too_large(r, limit, &k);
    char *buf = malloc(cap);
    if (!buf) {
        conn_deadline_clear();
        return http_error(r, 500, "internal", NULL, "out of memory");
    }
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > limit + 1) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb, cap *= 2;
        }
        int n = body_read(r, &k, buf + len, cap - len - 1, &late);
        if (n > 0) len += (size_t)n;
        if (n <= 0 || late || len > limit || (cl >= 0 && len >= (size_t)cl)) break;
    }
    if (len > limit) {
        free(buf);
        return too_large(r, limit, &k);
    }
    conn_deadline_clear();
    if (cl >= 0 ? len < (size_t)cl : late) { /* a body that came whole in time is taken */
        free(buf);
        close_after(r); /* the rest of the body is not read: the connection cannot go on */
        if (late)
            return http_error(r, 408, "body_timeout", NULL,
                              "the request body did not arrive in time (%d ms, and one more second "
                              "for every %d bytes received); send it again",
                              r->app->cfg.body_timeout_ms, r->app->cfg.body_min_rate);
        return http_error(r, 400, "body_incomplete", NULL,
                          "the request body ended after %zu of %lld bytes", len, cl);
    }
    buf[len] = 0;
    r->body = buf, r->body_len = len;
    return 0;
}

static int has_type(const char *ct, const char *want) {
    size_t n = strlen(want);
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* ---- static files: the built web apps, nothing else ---- */

/* The files under web_root that are served (fnmatch patterns: '*' stays within one folder and
 * matches no leading dot), and only with a type in web_types: the built pages and bundles, never
 * sources, source maps, package files or what npm puts there. A path ending in '/' means its
 * index.html. The patrol app (/app/) is built into dist/app/. */
static const char *const web_files[] = {
    "/index.html",
    "/favicon.ico",
    "/dist/*.js",
    "/dist/*.css",
    "/dist/*.png",
    "/dist/*.svg",
    "/dist/*.woff2",
    "/icons/*",
    "/dist/app/index.html",
    "/dist/app/*.js",
    "/dist/app/*.css",
    "/dist/app/*.png",
    "/dist/app/*.webmanifest",
    "/dist/app/chunks/*.js",
};
static const struct {
    const char *ext, *type;
} web_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".png", "image/png"},
    {".svg", "image/svg+xml"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".webmanifest", "application/manifest+json"},
};
enum { WEB_FILE_MAX = 32 << 20 };

/* The content type of a path that is served, NULL for any other. */
static const char *web_type(const char *path) {
    int listed = 0;
    for (size_t i = 0; i < sizeof web_files / sizeof *web_files && !listed; i++)
        listed = fnmatch(web_files[i], path, FNM_PATHNAME | FNM_PERIOD) == 0;
    const char *dot = strrchr(path, '.');
    if (!listed || !dot || strchr(dot, '/') || strstr(path, "..")) return NULL;
    for (size_t i = 0; i < sizeof web_types / sizeof *web_types; i++)
        if (strcmp(dot, web_types[i].ext) == 0) return web_types[i].type;
    return NULL;
}

/* The whole of the open file fd (st: its stat) in *out (malloc'd). Returns 0 or -1. */
static int read_file(int fd, const struct stat *st, char **out) {
    size_t n = (size_t)st->st_size, got = 0;
    char *b = malloc(n ? n : 1);
    while (b && got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    if (!b || got < n) {
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

/* GET/HEAD of a built file under web_root (/app/<file> is dist/app/<file>, what `make web` builds
 * for the patrol app; /app moves to /app/) with the headers of every reply (security, CORS), a
 * validator (ETag, Last-Modified) and Cache-Control: no-cache, so a browser asks each time and an
 * unchanged file is a 304 (with the same headers). Returns 1 when served, 0 when there is no such
 * file to serve. */
static int serve_static(http_req *r) {
    char want[1024], file[1280], etag[48], date[40], extra[192];
    size_t plen = strlen(r->path);
    struct stat st;
    struct tm tm;
    char *body = NULL;
    if (strcmp(r->path, "/app") == 0) /* the app's scope is /app/ */
        return http_send(r, 301, NULL, "", 0, "Location: /app/\r\n") > 0;
    snprintf(want, sizeof want, "%s%s%s", strncmp(r->path, "/app/", 5) ? "" : "/dist", r->path,
             plen && r->path[plen - 1] == '/' ? "index.html" : "");
    const char *type = web_type(want);
    if (!type ||
        snprintf(file, sizeof file, "%s%s", r->app->cfg.web_root, want) >= (int)sizeof file)
        return 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > WEB_FILE_MAX) {
        close(fd);
        return 0;
    }
    snprintf(etag, sizeof etag, "\"%llx-%llx\"",
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st.st_mtim.tv_nsec,
             (unsigned long long)st.st_size);
    gmtime_r(&st.st_mtim.tv_sec, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(extra, sizeof extra, "Cache-Control: no-cache\r\nETag: %s\r\nLast-Modified: %s\r\n",
             etag, date);
    const char *inm = http_header(r, "If-None-Match");
    if (inm && (strstr(inm, etag) || strcmp(inm, "*") == 0)) {
        char head[3072];
        int n = reply_head(r, 304, NULL, "", extra, head, sizeof head);
        r->status = 304;
        if (n > 0) mg_write(r->conn, head, (size_t)n);
    } else if (read_file(fd, &st, &body) == 0) {
        http_send(r, 200, type, body, (size_t)st.st_size, extra);
    } else {
        http_error(r, 500, "internal", NULL, "cannot read %s", want);
    }
    free(body);
    close(fd);
    return 1;
}

int http_borrow_worker(http_req *r) {
    if (r->w) return 0;
    if ((r->w = pool_borrow(r->app, r->app->cfg.db_pool_wait_ms))) return 0;
    return http_error_retry(r, 503, 1, "busy", NULL, "the server is busy; try again");
}

int http_borrow_page_worker(http_req *r) {
    if (r->w) return 0;
    return (r->w = pool_borrow(r->app, r->app->cfg.db_pool_wait_ms)) ? 0 : -1;
}

/* No route has r's method and path: 405 with Allow when another method has it, else a static
 * file or 404. Returns the status sent. */
static int no_route(http_req *r, const char *allow) {
    if (!*allow) {
        if ((strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) || !serve_static(r))
            return http_error(r, 404, "not_found", NULL, "no such path: %s", r->path);
        return 0;
    }
    char hdr[160], body[256];
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
    snprintf(r->error_code, sizeof r->error_code, "method_not_allowed");
    const http_error_format *other = error_format(r);
    if (other) {
        snprintf(body, sizeof body, "%s is not allowed here; allowed: %s", r->method, allow);
        return other->send(r, 405, body, hdr);
    }
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"%s is not allowed "
                     "here; allowed: %s\",\"field\":null}}",
                     r->method, allow);
    return http_send(r, 405, "application/json; charset=utf-8", body, (size_t)n, hdr);
}

/* The bearer token of a route with roles: borrows a worker and fills r->user. Returns 0 when the
 * user may go on, else the status sent (401, 403, 503...). */
static int check_roles(http_req *r, const route *rt) {
    int rc;
    const char *h = http_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return http_error(r, 401, "unauthorized", NULL,
                          "sign in first: Authorization: Bearer <token>");
    if ((rc = http_borrow_worker(r)) != 0) return rc;
    int ok = auth_check_token(r->w, h + 7, &r->user);
    if (ok < 0) return http_db_error(r);
    if (!ok)
        return http_error(r, 401, "unauthorized", NULL, "the token is unknown, expired or revoked");
    if (!(r->user.role & rt->roles))
        return http_error(r, 403, "forbidden", NULL, "the %s role may not do this",
                          auth_role_name(r->user.role));
    return 0;
}

/* Reads and checks the body the route wants (type, limit, JSON depth, JSON; a form decoded into
 * an object). Returns 0, or the status sent. */
static int take_body(http_req *r, const route *rt) {
    int rc;
    const char *ct = http_header(r, "Content-Type");
    http_release_worker(r); /* a slow client's body must not hold a database slot */
    if (rt->body == BODY_JSON && !has_type(ct, "application/json"))
        return http_error(r, 415, "unsupported_media_type", NULL,
                          "send Content-Type: application/json");
    if (rt->body == BODY_FORM && !has_type(ct, "application/x-www-form-urlencoded"))
        return http_error(r, 415, "unsupported_media_type", NULL,
                          "send Content-Type: application/x-www-form-urlencoded");
    size_t limit = rt->limit ? rt->limit : (size_t)r->app->cfg.json_body_limit;
    if ((rc = read_body(r, limit)) != 0) return rc;
    if (rt->body == BODY_FORM && rt->request) {
        shape_error e;
        return shape_form(rt->request, r->body, r->body_len, &r->json, &e) ? shape_reply(r, &e) : 0;
    }
    if (rt->body != BODY_JSON) return 0;
    json_error_t je;
    int max = r->app->cfg.json_max_depth;
    if (http_json_depth_ok(r->body, r->body_len, max) != 0) /* jansson recurses */
        return http_error(r, 400, "invalid_json", NULL, "JSON nested deeper than %d levels", max);
    r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!r->json)
        return http_error(r, 400, "invalid_json", NULL, "line %d column %d: %s", je.line, je.column,
                          je.text);
    return 0;
}

static int run_route(http_req *r, int *route_ix) {
    char *scratch = malloc(strlen(r->path) + 1);
    const char *caps[HTTP_MAX_PARAMS];
    const route *rt = NULL;
    char allow[128] = "";
    int rc = 0;
    if (!scratch) return http_error(r, 500, "internal", NULL, "out of memory");
    for (size_t i = 0; i < nroutes && !rt; i++) {
        int n = route_match(routes[i].pattern, r->path, scratch, caps, HTTP_MAX_PARAMS);
        if (n < 0) continue;
        const char *want = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
        if (strcmp(routes[i].method, want) == 0) {
            rt = &routes[i];
            *route_ix = (int)i;
            r->nparams = n;
            for (int k = 0; k < n; k++)
                r->params[k] = caps[k];
        } else if (strlen(allow) + strlen(routes[i].method) + 3 < sizeof allow) {
            if (*allow) strcat(allow, ", ");
            strcat(allow, routes[i].method);
        }
    }
    /* The door: roles, body (type, size, depth, JSON), query parameters, body shape; only then a
     * worker slot and the handler, which receives typed values (http_q, r->json, verdicts). */
    if (!rt)
        rc = no_route(r, allow);
    else if ((!rt->roles || (rc = check_roles(r, rt)) == 0) &&
             (rt->body == BODY_NONE || (rc = take_body(r, rt)) == 0) &&
             (rc = params_read(r, rt->query)) == 0 &&
             (!rt->request || (rc = shape_run(r, rt->request)) == 0) &&
             (!route_needs_worker(rt) || (rc = http_borrow_worker(r)) == 0)) {
        if (*route_ix < MAX_ROUTES) atomic_fetch_add(&stats[*route_ix].handler_calls, 1);
        rc = rt->handler(r);
        if (!r->status) rc = http_error(r, 500, "internal", NULL, "the handler sent no reply");
    }
    free(scratch);
    return rc;
}

/* OPTIONS: the methods of the path and, for a listed Origin, the CORS preflight answer. */
static int preflight(http_req *r) {
    char *scratch = malloc(strlen(r->path) + 1), allow[128] = "OPTIONS", extra[512];
    const char *caps[HTTP_MAX_PARAMS];
    if (!scratch) return http_error(r, 500, "internal", NULL, "out of memory");
    for (size_t i = 0; i < nroutes; i++)
        if (route_match(routes[i].pattern, r->path, scratch, caps, HTTP_MAX_PARAMS) >= 0 &&
            !strstr(allow, routes[i].method) &&
            strlen(allow) + strlen(routes[i].method) + 3 < sizeof allow) {
            strcat(allow, ", ");
            strcat(allow, routes[i].method);
        }
    free(scratch);
    char cors[640];
    cors_headers(r, cors, sizeof cors);
    if (strstr(cors, "Access-Control-Allow-Origin") &&
        http_header(r, "Access-Control-Request-Method"))
        snprintf(extra, sizeof extra,
                 "Allow: %s\r\nAccess-Control-Allow-Methods: %s\r\n"
                 "Access-Control-Allow-Headers: Authorization, Content-Type, Last-Event-ID\r\n"
                 "Access-Control-Max-Age: 600\r\n",
                 allow, allow);
    else
        snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
    return http_send(r, 204, NULL, "", 0, extra);
}

int http_dispatch(struct mg_connection *conn, void *cbdata) {
    app *a = cbdata;
    double t0 = now_s();
    http_req r;
    memset(&r, 0, sizeof r);
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.app = a;
    r.method = r.ri->request_method;
    r.path = r.ri->local_uri ? r.ri->local_uri : "/";
    r.query = r.ri->query_string;
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(r.request_id, sizeof r.request_id, rnd, sizeof rnd);
    int route_ix = -1;
    conn_deadline_clear(); /* the first request of a connection came in time */
    if (conn_threads_low(a)) close_after(&r);
    if (!params_utf8_valid(r.path, strlen(r.path)))
        http_error(&r, 400, "invalid_path", NULL, "the path is not valid UTF-8");
    else if (strcmp(r.method, "OPTIONS") == 0)
        preflight(&r);
    else
        run_route(&r, &route_ix);
    http_release_worker(&r);
    double dt = now_s() - t0;
    record(route_ix, r.status, dt);
    if (a->cfg.access_log) {
        char method[64], path[1024];
        http_log_escape(r.method, method, sizeof method);
        http_log_escape(r.path, path, sizeof path);
        fprintf(stderr, "%s %s %d %.3fms %s%s%s\n", method, path, r.status, dt * 1e3, r.request_id,
                r.error_code[0] ? " " : "", r.error_code);
    }
    shape_free_verdicts(&r);
    params_free(&r);
    json_decref(r.json);
    free(r.body);
    conn_memory_settle(a);
    return r.status ? r.status : 500;
}
