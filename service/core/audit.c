/* audit.c - the trail of personal-data reads (audit_reads, migration 0003) and GET /api/v1/audit.
 * One INSERT per request whatever the number of reports read (ids as one bigint[] parameter).
 * Outside a transaction the INSERT commits asynchronously (synchronous_commit off for that one
 * statement's implicit transaction): a read then costs one round trip, not a WAL flush. The price:
 * if PostgreSQL itself crashes, the read-audit rows of its last moments (about 3 x
 * wal_writer_delay, 0.6 s by default) can be lost; they are never half-written, and every other
 * write keeps synchronous commit. Runs on the calling worker thread; nothing global. */
#include "service/core/audit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/reports/reports.h"

int audit_read(http_req *r, const char *action, const long long *ids, size_t n) {
    buf b = {0};
    char num[24], uid[24];
    buf_put(&b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(num, sizeof num, "%s%lld", i ? "," : "", ids[i]);
        buf_put(&b, num, (size_t)k);
    }
    buf_put(&b, "}", 1);
    if (b.oom) {
        free(b.p);
        snprintf(r->w->err, sizeof r->w->err, "out of memory");
        return -1;
    }
    snprintf(uid, sizeof uid, "%lld", r->user.id);
    const char *p[] = {
        uid, r->user.username, auth_role_name(r->user.role), r->user.division_code, action,
        b.p, r->request_id};
    int idle = r->w->pg && !db_in_transaction(r->w);
    int rc = idle ? db_command(r->w,
                               "WITH s AS (SELECT set_config('synchronous_commit', 'off', true))"
                               " INSERT INTO audit_reads (user_id, username, role, division_code,"
                               " action, report_ids, request_id) SELECT $1::bigint, $2::text,"
                               " $3::text, $4::text, $5::text, $6::bigint[], $7::text FROM s",
                               7, p)
                  : db_command(r->w,
                               "INSERT INTO audit_reads (user_id, username, role, division_code,"
                               " action, report_ids, request_id) VALUES ($1::bigint, $2::text,"
                               " $3::text, $4::text, $5::text, $6::bigint[], $7::text)",
                               7, p);
    free(b.p);
    return rc;
}

int audit_system(worker *w, const char *action, const char *division, const char *ids_array) {
    const char *p[] = {division, action, ids_array};
    return db_command(w,
                      "INSERT INTO audit_reads (user_id, username, role, division_code, action,"
                      " report_ids, request_id) VALUES (NULL, 'system', 'system', $1::text,"
                      " $2::text, $3::bigint[], '')",
                      3, p);
}

static const char list_sql[] =
    "SELECT a.id, to_json(a.at)#>>'{}', a.user_id, a.username, a.role, a.action,"
    " to_json(a.report_ids)::text, a.request_id FROM audit_reads a"
    " WHERE ($1::text IS NULL OR left(a.division_code, length($1::text)) = $1::text)"
    " AND ($2::timestamptz IS NULL OR a.at >= $2::timestamptz)"
    " AND ($3::text IS NULL OR a.username = $3::text)"
    " AND ($4::bigint IS NULL OR a.report_ids @> ARRAY[$4::bigint])"
    " AND ($5::bigint IS NULL OR a.id < $5::bigint)"
    " ORDER BY a.id DESC LIMIT $6::int";

/* GET /api/v1/audit?since=&user=&report=&limit=&cursor= (supervisor, admin). A supervisor sees the
 * reads made by users of its own division; an admin sees all. Newest first. */
int h_audit_list(http_req *r) {
    char prefix[13], report_s[24] = "", before_s[24] = "", limit_s[16];
    const http_qval *report = http_q(r, "report");
    const char *since = http_q(r, "since")->s, *p_user = http_q(r, "user")->s;
    int lim = (int)http_q(r, "limit")->i;
    long long before = http_q(r, "cursor")->i;
    if (report->given) snprintf(report_s, sizeof report_s, "%lld", report->i);
    if (before) snprintf(before_s, sizeof before_s, "%lld", before);
    vocab_code_prefix(r->user.division_code, prefix);
    snprintf(limit_s, sizeof limit_s, "%d", lim + 1);
    const char *p[] = {(r->user.role & ROLE_ADMIN) ? NULL : prefix,
                       since,
                       p_user,
                       *report_s ? report_s : NULL,
                       *before_s ? before_s : NULL,
                       limit_s};
    PGresult *res = db_exec(r->w, list_sql, 6, p);
    if (!res) return http_db_error(r);
    int rows = PQntuples(res), more = rows > lim;
    if (more) rows = lim;
    json_t *items = json_array();
    for (int i = 0; i < rows; i++) {
        json_t *ids = json_loads(PQgetvalue(res, i, 6), 0, NULL);
        json_array_append_new(
            items, json_pack("{s:I,s:s,s:o,s:s,s:s,s:s,s:o,s:s}", "id",
                             (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "at",
                             PQgetvalue(res, i, 1), "user_id",
                             PQgetisnull(res, i, 2)
                                 ? json_null()
                                 : json_integer(strtoll(PQgetvalue(res, i, 2), NULL, 10)),
                             "username", PQgetvalue(res, i, 3), "role", PQgetvalue(res, i, 4),
                             "action", PQgetvalue(res, i, 5), "report_ids",
                             ids ? ids : json_array(), "request_id", PQgetvalue(res, i, 7)));
    }
    json_t *next = json_null();
    if (more) {
        char cur[64];
        params_cursor_encode("a1", strtoll(PQgetvalue(res, rows - 1, 0), NULL, 10), cur,
                             sizeof cur);
        next = json_string(cur);
    }
    PQclear(res);
    return http_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next));
}
