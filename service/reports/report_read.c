/* report_read.c - reading one report: GET /api/v1/reports/{id} (with possible_duplicates now) and
 * its timeline (GET /api/v1/reports/{id}/timeline, paged like every list). Runs on the calling
 * worker thread; a report the user may not see is answered as missing (404). */
#include "service/reports/report_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/audit.h"
#include "service/core/db.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/reports/lifecycle.h"
#include "service/reports/report_json.h"

enum { TIMELINE_MAX = PAGE_MAX };

const char report_get_sql[] = REPORT_GET_SQL;

int report_load_visible(http_req *r, long long *id, PGresult **res) {
    *res = NULL;
    if (params_id(r->params[0], id) != 0)
        return http_error(r, 404, "not_found", NULL, "no such report: %.40s", r->params[0]);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", *id);
    const char *params[] = {ids};
    PGresult *q = db_exec(r->w, report_get_sql, 1, params);
    if (!q) return http_db_error(r);
    if (PQntuples(q) != 1 || !report_row_visible(&r->user, q, 0)) {
        PQclear(q);
        return http_error(r, 404, "not_found", NULL, "no such report: %lld", *id);
    }
    *res = q;
    return 0;
}

static const char dups_of_sql[] =
    "SELECT " DUPS_EXPR("$2", "$3", "$4", "$5") " FROM reports r WHERE r.id = $1::bigint";

/* GET /api/v1/reports/{id}?crs= */
int h_reports_get(http_req *r) {
    gis_crs crs = http_q(r, "crs")->crs;
    long long id;
    PGresult *res;
    int st = report_load_visible(r, &id, &res);
    if (st) return st;
    json_t *out = report_row_json_for(res, 0, crs, &r->user); /* staff: the call-back too */
    json_object_set_new(out, "actions", lifecycle_actions(&r->user, res, 0));
    PQclear(res);
    /* possible duplicates now (open reports nearby, same category) */
    char ids[24];
    report_dups_params dp;
    snprintf(ids, sizeof ids, "%lld", id);
    report_dups_params_fill(&dp, &r->app->cfg, &r->user);
    const char *params[] = {ids, dp.window, dp.radius, dp.prefix, dp.uid};
    PGresult *d = db_exec(r->w, dups_of_sql, 5, params);
    if (!d) {
        json_decref(out);
        return http_db_error(r);
    }
    json_object_set_new(out, "possible_duplicates",
                        PQntuples(d) ? rj_parse_or(rj_val(d, 0, 0), json_array()) : json_array());
    PQclear(d);
    if (audit_read(r, AA_REPORT_GET, &id, 1) != 0) { /* person and description go out */
        json_decref(out);
        return http_db_error(r);
    }
    return http_json(r, 200, out);
}

/* ?limit= and ?cursor= of a timeline. The cursor carries the position and the page size, so a
 * client following `next` keeps its limit whether or not it repeats it. 0 or the 400 sent. */
static int timeline_page(http_req *r, long long *after, int *limit) {
    const http_qval *lim = http_q(r, "limit");
    long long c = http_q(r, "cursor")->i;
    *after = c / 1024;
    *limit = (int)lim->i;
    int paged = (int)(c % 1024);
    if (c && (paged < 1 || paged > TIMELINE_MAX))
        return params_fail(r, PARAM_CURSOR, "cursor", 0, 0);
    if (c && !lim->given) *limit = paged;
    return 0;
}

static json_t *timeline_item(PGresult *ev, int i) {
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", rj_int(rj_val(ev, i, 0)), "type",
                     rj_str(rj_val(ev, i, 1)), "actor", rj_str(rj_val(ev, i, 2)), "actor_id",
                     rj_int(rj_val(ev, i, 3)), "at", rj_str(rj_val(ev, i, 4)), "from_status",
                     rj_str(rj_val(ev, i, 5)), "to_status", rj_str(rj_val(ev, i, 6)), "details",
                     rj_parse_or(rj_val(ev, i, 7), json_object()));
}

/* GET /api/v1/reports/{id}/timeline?limit=&cursor= (oldest first) */
int h_reports_timeline(http_req *r) {
    long long id, after;
    int limit;
    PGresult *res;
    int st = report_load_visible(r, &id, &res);
    if (st) return st;
    PQclear(res);
    if ((st = timeline_page(r, &after, &limit))) return st;
    char ids[24], afters[24], rows[16];
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(afters, sizeof afters, "%lld", after);
    snprintf(rows, sizeof rows, "%d", limit + 1);
    const char *params[] = {ids, afters, rows};
    PGresult *ev = db_exec(
        r->w,
        "SELECT id, type, actor, actor_id, to_json(at)#>>'{}', from_status, to_status, details"
        " FROM report_events WHERE report_id = $1::bigint AND id > $2::bigint ORDER BY id"
        " LIMIT $3::int",
        3, params);
    if (!ev) return http_db_error(r);
    int n = PQntuples(ev), more = n > limit;
    if (more) n = limit;
    json_t *items = json_array(), *next = json_null();
    for (int i = 0; i < n; i++)
        json_array_append_new(items, timeline_item(ev, i));
    if (more) {
        char cur[64];
        long long last = strtoll(PQgetvalue(ev, n - 1, 0), NULL, 10);
        params_cursor_encode("t1", last * 1024 + limit, cur, sizeof cur);
        next = json_string(cur);
    }
    PQclear(ev);
    return http_json(
        r, 200,
        json_pack("{s:I,s:o,s:o}", "report_id", (json_int_t)id, "items", items, "next", next));
}
