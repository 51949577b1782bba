/* fuzz_query.c - libFuzzer driver for the door's query parameters (service/door/params.c:
 * params_parse against the specs of a real route of routes.c) and, on the report list routes, what
 * the handler makes of the typed values (service/reports/reports_list.c: parse_query, then
 * build_select, which turns the filters into the SQL text and its parameters).
 *
 * reports_list.c is #included to reach its static functions (`make fuzz` links this driver without
 * reports_list.o); http_error is renamed to fake_error there, which records the status instead of
 * writing to a connection, so parse_query runs unchanged on a request without a socket.
 *
 * Input: byte 0 = which route (among those with query specs) and which user scope (city-wide,
 * county, community); the rest is the raw query string. Oracles besides the sanitizers: a refusal
 * names a declared parameter and a code; an accepted query has every value within its spec (an
 * integer in min..max, a list literal "{a,b}" of at most its items, a finite WGS-84 point or bbox
 * with min <= max, a cursor that encodes back to the same id, a division of 12 digits and its
 * prefix); strings fit the memory params_mem_size promised; on the report list, the SQL ends with
 * its LIMIT (no fragment dropped for length) and every parameter $1..$n appears in it. */
#include <stdint.h>

#include "service/door/http.h"

static int fake_error(http_req *r, int status, const char *code, const char *field, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));
#define http_error fake_error
#include "service/reports/reports_list.c"
#undef http_error

#include "service/door/routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_error(http_req *r, int status, const char *code, const char *field, const char *fmt,
                      ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!code || !msg[0] || !field) abort();
    r->status = status;
    return status;
}

static void check_list(const char *s, int max) {
    size_t n = strlen(s);
    int items = 1;
    if (n < 3 || s[0] != '{' || s[n - 1] != '}' || strstr(s, ",,") || s[1] == ',' ||
        s[n - 2] == ',')
        abort();
    for (const char *p = s; *p; p++)
        items += *p == ',';
    if (items > max) abort();
}

static void check_value(const param_spec *p, const http_qval *q) {
    if (!q->given) {
        if (p->flags & PARAM_REQUIRED) abort();
        if (p->kind == PARAM_INT && q->i != (long long)p->def) abort();
        return;
    }
    if (p->flags & PARAM_LIST) {
        check_list(q->s, p->items > 0 ? p->items : PARAM_LIST_ITEMS);
        return;
    }
    switch (p->kind) {
    case PARAM_INT:
        if (q->i < (long long)p->min || q->i > (long long)p->max) abort();
        break;
    case PARAM_POINT:
        if (!isfinite(q->lon) || !isfinite(q->lat) || fabs(q->lon) > 180 || fabs(q->lat) > 90)
            abort();
        break;
    case PARAM_BBOX:
        for (int i = 0; i < 4; i++)
            if (!isfinite(q->bbox[i])) abort();
        if (q->bbox[0] > q->bbox[2] || q->bbox[1] > q->bbox[3] || q->bbox[0] < -180 ||
            q->bbox[2] > 180 || q->bbox[1] < -90 || q->bbox[3] > 90)
            abort();
        break;
    case PARAM_CURSOR: {
        char cur[64];
        long long back = 0;
        if (q->i <= 0) abort();
        params_cursor_encode(p->tag, q->i, cur, sizeof cur);
        if (params_cursor_decode(p->tag, cur, &back) != 0 || back != q->i) abort();
        break;
    }
    case PARAM_DIVISION:
        if (strlen(q->s) != 12 || strncmp(q->s, q->prefix, strlen(q->prefix)) != 0) abort();
        break;
    case PARAM_DATE:
    case PARAM_WEEK:
    case PARAM_MONTH:
        if (strlen(q->from) != 10 || strlen(q->to) != 10 || strcmp(q->from, q->to) >= 0) abort();
        break;
    default:
        if (!q->s && p->kind != PARAM_POINT && p->kind != PARAM_BBOX) abort();
    }
}

/* The report list's statement for the typed values in r: ends with its LIMIT, names every $k. */
static void check_select(http_req *r, int paged) {
    list_query q;
    if (parse_query(r, &q, paged) != 0) {
        if (r->status != 400) abort();
        return;
    }
    if (q.limit < 1 || q.limit > (paged ? LIST_MAX : EXPORT_CAP) || q.before_id < 0) abort();
    qbuild qb;
    int rows = paged ? q.limit + 1 : EXPORT_PAGE;
    build_select(r, &q, q.before_id, rows, 1, &qb);
    char tail[64];
    snprintf(tail, sizeof tail, " ORDER BY r.id DESC LIMIT %d", rows);
    size_t tl = strlen(tail);
    if (qb.len < tl || strcmp(qb.sql + qb.len - tl, tail) != 0) abort(); /* a fragment dropped */
    for (int k = 1; k <= qb.n; k++) {
        char ref[8];
        snprintf(ref, sizeof ref, "$%d", k);
        if (!strstr(qb.sql, ref) || !qb.params[k - 1]) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const scopes[] = {"320700000000", "320703000000", "320703001002"};
    static size_t with_query[128], nwith;
    if (!nwith)
        for (size_t i = 0; i < nroutes && nwith < 128; i++)
            if (routes[i].query) with_query[nwith++] = i;
    if (size < 1 || size > 8192) return 0;
    const route *rt = &routes[with_query[(data[0] >> 2) % nwith]];
    char *query = malloc(size);
    memcpy(query, data + 1, size - 1);
    query[size - 1] = 0;
    size_t n = 0;
    while (rt->query[n])
        n++;
    const char *hv[32] = {0};
    for (size_t i = 0; i < n; i++)
        if (rt->query[i]->flags & PARAM_HEADER) hv[i] = query; /* the same bytes as a header */
    size_t memlen = params_mem_size(rt->query, query, hv);
    http_qval *qv = calloc(n, sizeof *qv);
    char *mem = malloc(memlen);
    param_error e;
    if (params_parse(rt->query, query, hv, qv, mem, memlen, &e) != 0) {
        int declared = !e.field && !strcmp(e.code, "invalid_query_string"); /* too many pairs */
        for (size_t i = 0; i < n; i++)
            declared |= e.field == rt->query[i]->name;
        if (!declared || !e.code[0] || !e.message[0] || !strcmp(e.code, "internal")) abort();
    } else {
        for (size_t i = 0; i < n; i++)
            check_value(rt->query[i], &qv[i]);
        if (rt->handler == h_reports_list || rt->handler == h_reports_csv) {
            static app a;
            if (!a.cfg.dup_window_s) config_defaults(&a.cfg);
            http_req r;
            memset(&r, 0, sizeof r);
            r.app = &a;
            r.qspecs = rt->query, r.qv = qv, r.query = query;
            snprintf(r.user.division_code, sizeof r.user.division_code, "%s", scopes[data[0] % 3]);
            check_select(&r, rt->handler == h_reports_list);
        }
    }
    free(mem);
    free(qv);
    free(query);
    return 0;
}
