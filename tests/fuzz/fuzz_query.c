/* fuzz_query.c - libFuzzer driver for the query-string filters of GET /api/v1/reports and its
 * exports (service/reports/reports_list.c): parse_query (crs, status, category, division, since, bbox,
 * limit, cursor; URL-decoded by CivetWeb's mg_get_var through http_query) and build_select, which
 * turns the filters into the SQL text and its parameters.
 *
 * The .c files are #included to reach the static functions (`make fuzz` links this driver without
 * reports_list.o, params.o and shapes.o, whose readers answer through the same fake); http_error is renamed to fake_error, which records the status instead of writing
 * to a connection, so parse_query runs unchanged on a request without a socket.
 *
 * Input: byte 0 = paged flag and which user scope (city-wide, county, community); the rest is the
 * raw query string. Oracles besides the sanitizers: a refusal is a 400 with a field; an accepted
 * query has a limit in 1..LIST_MAX, list filters of the form "{a,b}", a finite WGS-84 bbox with
 * min <= max, a cursor that encodes back to the same id; its SQL ends with the LIMIT (no fragment
 * dropped for length) and every parameter $1..$n appears in it. */
#include <stdint.h>

#include "service/door/http.h"

static int fake_error(http_req *r, int status, const char *code, const char *field, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));
#define http_error fake_error
#include "service/door/params.c"
#include "service/door/shapes.c"
#include "service/reports/reports_list.c"
#undef http_error

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fake_field;

static int fake_error(http_req *r, int status, const char *code, const char *field, const char *fmt,
                      ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!code || !msg[0]) abort();
    fake_field = field;
    r->status = status;
    return status;
}

static void check_list(const char *s) {
    size_t n = strlen(s);
    if (!n) return;
    if (n < 3 || s[0] != '{' || s[n - 1] != '}' || strstr(s, ",,") || s[1] == ',' ||
        s[n - 2] == ',')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const scopes[] = {"320700000000", "320703000000", "320703001002"};
    if (size < 1 || size > 8192) return 0;
    char *query = malloc(size);
    if (!query) return 0;
    memcpy(query, data + 1, size - 1);
    query[size - 1] = 0;
    http_req r;
    memset(&r, 0, sizeof r);
    r.query = query;
    snprintf(r.user.division_code, sizeof r.user.division_code, "%s", scopes[(data[0] >> 1) % 3]);
    int paged = data[0] & 1;
    list_query q;
    fake_field = NULL;
    int rc = parse_query(&r, &q, paged);
    if (rc != 0) {
        if (rc != 400 || r.status != 400 || !fake_field) abort();
        free(query);
        return 0;
    }
    if (q.limit < 1 || q.limit > (paged ? LIST_MAX : EXPORT_CAP)) abort();
    check_list(q.statuses);
    check_list(q.categories);
    if (q.has_bbox) {
        for (int i = 0; i < 4; i++)
            if (!isfinite(q.bbox[i])) abort();
        if (q.bbox[0] > q.bbox[2] || q.bbox[1] > q.bbox[3] || q.bbox[0] < -180 || q.bbox[2] > 180 ||
            q.bbox[1] < -90 || q.bbox[3] > 90)
            abort();
    }
    if (q.before_id < 0) abort();
    if (q.before_id > 0) {
        char cur[64];
        long long back = 0;
        params_cursor_encode("r1", q.before_id, cur, sizeof cur);
        if (params_cursor_decode("r1", cur, &back) != 0 || back != q.before_id) abort();
    }
    qbuild qb;
    int rows = paged ? q.limit + 1 : EXPORT_PAGE;
    build_select(&r, &q, q.before_id, rows, 0, &qb);
    char tail[64];
    snprintf(tail, sizeof tail, " ORDER BY r.id DESC LIMIT %d", rows);
    size_t tl = strlen(tail);
    if (qb.len < tl || strcmp(qb.sql + qb.len - tl, tail) != 0)
        abort(); /* a fragment was dropped */
    for (int k = 1; k <= qb.n; k++) {
        char ref[8];
        snprintf(ref, sizeof ref, "$%d", k);
        if (!strstr(qb.sql, ref)) abort();
        if (strlen(qb.params[k - 1]) >= QB_VALLEN - 1) abort(); /* a value possibly cut short */
    }
    free(query);
    return 0;
}
