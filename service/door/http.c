/* http.c - runs the route table for every request: match, a worker slot from the pool, auth, body
 * limits, depth and types, replies with the security and CORS headers, the access log and the
 * request metrics. Thread-safe: per-request state lives in http_req. */
#include "service/door/http.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "service/core/buf.h"
#include "service/core/db.h"
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
    int k = snprintf(out, n,
                     "HTTP/1.1 %d %s\r\n%sX-Request-Id: %s\r\n%s"
                     "%s%s%s%s%s%s\r\n",
                     status, mg_get_response_code_text(r->conn, status), length, r->request_id,
                     own_cc ? "" : "Cache-Control: no-store\r\n", HTTP_SECURITY_HEADERS, cors,
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

int http_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
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

static int read_body(http_req *r, size_t limit) {
    long long cl = r->ri->content_length;
    if (cl > (long long)limit)
        return http_error(r, 413, "payload_too_large", NULL, "request body over %zu bytes", limit);
    size_t cap = cl >= 0 ? (size_t)cl + 1 : 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf) return http_error(r, 500, "internal", NULL, "out of memory");
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > limit + 1) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb, cap *= 2;
        }
        int n = mg_read(r->conn, buf + len, cap - len - 1);
        if (n <= 0) break;
        len += (size_t)n;
        if (len > limit) {
            free(buf);
            return http_error(r, 413, "payload_too_large", NULL, "request body over %zu bytes",
                              limit);
        }
        if (cl >= 0 && len >= (size_t)cl) break;
    }
    buf[len] = 0;
    r->body = buf, r->body_len = len;
    return 0;
}

static int has_type(const char *ct, const char *want) {
    size_t n = strlen(want);
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static int serve_static(http_req *r) {
    char path[1024];
    struct stat st;
    const char *p = strcmp(r->path, "/") == 0 ? "/index.html" : r->path;
    if (strstr(p, "..") ||
        snprintf(path, sizeof path, "%s%s", r->app->cfg.web_root, p) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    char cors[640];
    cors_headers(r, cors, sizeof cors); /* the security headers: CivetWeb's additional_header */
    mg_send_mime_file2(r->conn, path, NULL, *cors ? cors : NULL);
    r->status = 200;
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
    if (!http_utf8_valid(r.path, strlen(r.path)))
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
    return r.status ? r.status : 500;
}
