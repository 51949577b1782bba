/* http.c - runs the route table for every request: match, auth, body limits and types, replies,
 * the access log and the request metrics. Thread-safe: per-request state lives in http_req. */
#include "service/http.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "service/buf.h"
#include "service/db.h"
#include "service/routes.h"

/* ---- metrics: per route (and one slot for unmatched paths) ---- */
enum { MAX_ROUTES = 96, NBUCKETS = 12 };
static const double buckets_s[NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                           0.05,   0.1,   0.25,   0.5,   1,    2.5};
typedef struct {
    atomic_ullong by_class[6]; /* 1xx..5xx by first digit */
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

int http_metrics_reply(http_req *r) {
    buf b = {0};
    buf_printf(&b, "# HELP patrold_http_requests_total Requests by route and status class.\n"
                   "# TYPE patrold_http_requests_total counter\n");
    for (size_t i = 0; i <= nroutes && i <= MAX_ROUTES; i++) {
        route_stats *s = &stats[i == nroutes ? MAX_ROUTES : i];
        const char *m = i == nroutes ? "" : routes[i].method;
        const char *p = i == nroutes ? "unmatched" : routes[i].pattern;
        for (int c = 1; c <= 5; c++)
            buf_printf(
                &b,
                "patrold_http_requests_total{method=\"%s\",route=\"%s\",status=\"%dxx\"} %llu\n", m,
                p, c, (unsigned long long)atomic_load(&s->by_class[c]));
    }
    buf_printf(&b, "# HELP patrold_http_request_duration_seconds Request latency by route.\n"
                   "# TYPE patrold_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= nroutes && i <= MAX_ROUTES; i++) {
        route_stats *s = &stats[i == nroutes ? MAX_ROUTES : i];
        const char *m = i == nroutes ? "" : routes[i].method;
        const char *p = i == nroutes ? "unmatched" : routes[i].pattern;
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
    buf_printf(&b,
               "# HELP patrold_db_errors_total Failed database statements.\n"
               "# TYPE patrold_db_errors_total counter\npatrold_db_errors_total %llu\n",
               (unsigned long long)atomic_load(&db_errors));
    int rc = http_send(r, 200, "text/plain; version=0.0.4", b.p ? b.p : "", b.len, NULL);
    buf_free(&b);
    return rc;
}

/* ---- replies ---- */
int http_send(http_req *r, int status, const char *ctype, const char *body, size_t len,
              const char *extra_headers) {
    char head[1024];
    /* no-store unless the handler sends its own Cache-Control (static map tiles) */
    int own_cc = extra_headers && strstr(extra_headers, "Cache-Control:") != NULL;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nX-Request-Id: %s\r\n"
                     "%s%s%s%s%s\r\n",
                     status, mg_get_response_code_text(r->conn, status), len, r->request_id,
                     own_cc ? "" : "Cache-Control: no-store\r\n", ctype ? "Content-Type: " : "",
                     ctype ? ctype : "", ctype ? "\r\n" : "", extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof head) return -1;
    char *out = malloc((size_t)n + len);
    if (!out) return -1;
    memcpy(out, head, (size_t)n);
    if (len) memcpy(out + n, body, len);
    if (strcmp(r->method, "HEAD") == 0) len = 0;        /* the headers of the GET, no body */
    int sent = mg_write(r->conn, out, (size_t)n + len); /* one write: no Nagle stall */
    free(out);
    r->status = status;
    return sent < 0 ? -1 : status;
}

int http_json(http_req *r, int status, json_t *json) {
    char *s = json ? json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(json);
    if (!s)
        return http_send(
            r, 500, "application/json; charset=utf-8",
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"field\":null}}", 68,
            NULL);
    int rc = http_send(r, status, "application/json; charset=utf-8", s, strlen(s), NULL);
    free(s);
    return rc;
}

int http_error(http_req *r, int status, const char *code, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->error_code = code;
    json_t *e =
        json_pack("{s:{s:s,s:s,s:s?}}", "error", "code", code, "message", msg, "field", field);
    http_json(r, status, e);
    return status;
}

int http_db_error(http_req *r) {
    http_count_db_error();
    if (r->w->db_down)
        return http_error(r, 503, "db_unavailable", NULL,
                          "the database is not reachable; try again");
    fprintf(stderr, "db error [%s] %s: %s\n", r->request_id, r->w->sqlstate, r->w->err);
    return http_error(r, 500, "db_error", NULL, "database error (request %s)", r->request_id);
}

int http_query(const http_req *r, const char *name, char *buf, size_t len) {
    if (!r->query) return -1;
    int n = mg_get_var(r->query, strlen(r->query), name, buf, len);
    return n == -2 ? -2 : n < 0 ? -1 : n;
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
    mg_send_file(r->conn, path);
    r->status = 200;
    return 1;
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
    if (!rt) {
        if (*allow) {
            char hdr[160];
            snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
            r->error_code = "method_not_allowed";
            char body[256];
            int n = snprintf(
                body, sizeof body,
                "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"%s is not allowed here; "
                "allowed: %s\",\"field\":null}}",
                r->method, allow);
            rc = http_send(r, 405, "application/json; charset=utf-8", body, (size_t)n, hdr);
        } else if ((strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) || !serve_static(r)) {
            rc = http_error(r, 404, "not_found", NULL, "no such path: %s", r->path);
        }
        goto done;
    }
    if (rt->roles) {
        const char *h = http_header(r, "Authorization");
        if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
            rc = http_error(r, 401, "unauthorized", NULL,
                            "sign in first: Authorization: Bearer <token>");
            goto done;
        }
        int ok = auth_check_token(r->w, h + 7, &r->user);
        if (ok < 0) {
            rc = http_db_error(r);
            goto done;
        }
        if (!ok) {
            rc = http_error(r, 401, "unauthorized", NULL,
                            "the token is unknown, expired or revoked");
            goto done;
        }
        if (!(r->user.role & rt->roles)) {
            rc = http_error(r, 403, "forbidden", NULL, "the %s role may not do this",
                            auth_role_name(r->user.role));
            goto done;
        }
    }
    if (rt->body != BODY_NONE) {
        const char *ct = http_header(r, "Content-Type");
        if (rt->body == BODY_JSON && !has_type(ct, "application/json")) {
            rc = http_error(r, 415, "unsupported_media_type", NULL,
                            "send Content-Type: application/json");
            goto done;
        }
        if (rt->body == BODY_FORM && !has_type(ct, "application/x-www-form-urlencoded")) {
            rc = http_error(r, 415, "unsupported_media_type", NULL,
                            "send Content-Type: application/x-www-form-urlencoded");
            goto done;
        }
        size_t limit = rt->limit ? rt->limit : (size_t)r->app->cfg.json_body_limit;
        if ((rc = read_body(r, limit)) != 0) goto done;
        if (rt->body == BODY_JSON) {
            json_error_t je;
            r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
            if (!r->json) {
                rc = http_error(r, 400, "invalid_json", NULL, "line %d column %d: %s", je.line,
                                je.column, je.text);
                goto done;
            }
        }
    }
    rc = rt->handler(r);
    if (!r->status) rc = http_error(r, 500, "internal", NULL, "the handler sent no reply");
done:
    free(scratch);
    return rc;
}

int http_dispatch(struct mg_connection *conn, void *cbdata) {
    app *a = cbdata;
    double t0 = now_s();
    http_req r;
    memset(&r, 0, sizeof r);
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.app = a;
    r.w = mg_get_thread_pointer(conn);
    r.method = r.ri->request_method;
    r.path = r.ri->local_uri ? r.ri->local_uri : "/";
    r.query = r.ri->query_string;
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(r.request_id, sizeof r.request_id, rnd, sizeof rnd);
    int route_ix = -1;
    if (!r.w)
        http_error(&r, 500, "internal", NULL, "no worker state on this thread");
    else
        run_route(&r, &route_ix);
    double dt = now_s() - t0;
    record(route_ix, r.status, dt);
    if (a->cfg.access_log)
        fprintf(stderr, "%s %s %d %.3fms %s%s%s\n", r.method, r.path, r.status, dt * 1e3,
                r.request_id, r.error_code ? " " : "", r.error_code ? r.error_code : "");
    json_decref(r.json);
    free(r.body);
    return r.status ? r.status : 500;
}
