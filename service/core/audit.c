/* audit.c - the audit trail (table `audit`) and GET /api/v1/audit.
 *
 * Reads: one INSERT per request whatever the number of reports read (ids as one bigint[]
 * parameter), merged into the row of the same reader, action and minute (ON CONFLICT on the
 * minute's unique index), so a console refreshing every few seconds writes one row a minute that
 * still names every report it read and every request. Outside a transaction the statement commits
 * asynchronously (synchronous_commit off for that one statement's implicit transaction): a read
 * then costs one round trip, not a WAL flush. The price: if PostgreSQL itself crashes, the
 * read-audit rows of its last moments (about 3 x wal_writer_delay, 0.6 s by default) can be lost;
 * they are never half-written. Writes and sign-ins keep synchronous commit, writes inside the
 * transaction of their change. Runs on the calling worker thread; nothing global. */
#include "service/core/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"

void audit_actor_of(const http_req *r, audit_actor *a) {
    char addr[AUTH_ADDR_LEN];
    auth_client_addr(r->ri->remote_addr, http_header(r, "X-Forwarded-For"),
                     http_header(r, "X-Real-IP"), r->app->cfg.trusted_proxies, addr, sizeof addr);
    a->user_id = r->user.id;
    a->username = r->user.username;
    a->role = r->user.id ? auth_role_name(r->user.role) : "";
    a->division_code = r->user.id ? r->user.division_code : NULL;
    a->request_id = r->request_id;
    snprintf(a->address, sizeof a->address, "%s", strncmp(addr, "addr:", 5) ? addr : addr + 5);
}

/* The actor's columns as text parameters: user_id (NULL for 0) into uid. */
#define ACTOR_PARAMS(a, uid)                                                                       \
    (a)->user_id ? (uid) : NULL, (a)->username, (a)->role, (a)->division_code, (a)->request_id,    \
        *(a)->address ? (a)->address : NULL

static void actor_uid(const audit_actor *a, char uid[24]) {
    snprintf(uid, 24, "%lld", a->user_id);
}

/* One read row, or the reads of the same reader, action and minute with this one added. */
#define READ_INSERT                                                                                \
    "INSERT INTO audit AS a (kind, user_id, username, role, division_code, request_id, address,"   \
    " action, report_ids, request_ids, minute) SELECT " VOCAB_SQL_TERM(                            \
        "AuditKind",                                                                               \
        AK_READ) ", $1::bigint, $2::text, $3::text,"                                               \
                 " $4::text, $5::text, $6::text, $7::text, $8::bigint[], ARRAY[$5::text],"         \
                 " date_trunc('minute', now())"
#define READ_MERGE                                                                                 \
    " ON CONFLICT (user_id, action, minute) WHERE minute IS NOT NULL DO UPDATE SET"                \
    " report_ids = ARRAY(SELECT DISTINCT x FROM unnest(a.report_ids || EXCLUDED.report_ids) x"     \
    " ORDER BY x), request_ids = a.request_ids || EXCLUDED.request_ids, reads = a.reads + 1,"      \
    " at = now()"

/* The code of action term i (AA_*). */
static const char *action_code(size_t i) {
    return vocab_code(&VOCAB_AUDIT_ACTION, i);
}

int audit_read(http_req *r, size_t action, const long long *ids, size_t n) {
    buf b = {0};
    char num[24], uid[24];
    audit_actor a;
    audit_actor_of(r, &a);
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
    actor_uid(&a, uid);
    const char *p[] = {ACTOR_PARAMS(&a, uid), action_code(action), b.p};
    int idle = r->w->pg && !db_in_transaction(r->w);
    int rc =
        idle ? db_command(
                   r->w,
                   "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)) " READ_INSERT
                   " FROM s" READ_MERGE,
                   8, p)
             : db_command(r->w, READ_INSERT READ_MERGE, 8, p);
    free(b.p);
    return rc;
}

int audit_write(worker *w, const audit_actor *a, size_t action, size_t entity, long long id,
                const char *division, json_t *before, json_t *after) {
    char uid[24], eid[24];
    char *bj = before ? json_dumps(before, JSON_COMPACT) : NULL;
    char *aj = after ? json_dumps(after, JSON_COMPACT) : NULL;
    actor_uid(a, uid);
    snprintf(eid, sizeof eid, "%lld", id);
    const char *p[] = {ACTOR_PARAMS(a, uid),
                       action_code(action),
                       vocab_code(&VOCAB_AUDIT_ENTITY, entity),
                       eid,
                       division,
                       bj,
                       aj};
    int rc = (before && !bj) || (after && !aj)
                 ? (snprintf(w->err, sizeof w->err, "out of memory"), -1)
                 : db_command(
                       w,
                       "INSERT INTO audit (kind, user_id, username, role, division_code,"
                       " request_id, address, action, request_ids, entity, entity_id,"
                       " entity_division, before, after) VALUES (" VOCAB_SQL_TERM(
                           "AuditKind",
                           AK_WRITE) ", $1::bigint,"
                                     " $2::text, $3::text, $4::text, $5::text, $6::text, $7::text,"
                                     " CASE WHEN $5::text <> '' THEN ARRAY[$5::text] ELSE '{}' END,"
                                     " $8::text, $9::bigint, $10::text, $11::jsonb, $12::jsonb)",
                       12, p);
    free(bj);
    free(aj);
    return rc;
}

int audit_sign_in(worker *w, const audit_actor *a, size_t action) {
    char uid[24];
    actor_uid(a, uid);
    const char *p[] = {ACTOR_PARAMS(a, uid), action_code(action)};
    return db_command(
        w,
        "INSERT INTO audit (kind, user_id, username, role, division_code,"
        " request_id, address, action, request_ids) VALUES (" VOCAB_SQL_TERM(
            "AuditKind",
            AK_SIGN_IN) ", $1::bigint,"
                        " left($2::text, 63), $3::text, $4::text, $5::text, $6::text, $7::text,"
                        " ARRAY[$5::text])",
        7, p);
}

int audit_system(worker *w, size_t action, const char *division, const char *ids_array) {
    const char *p[] = {division, action_code(action), ids_array};
    return db_command(w,
                      "INSERT INTO audit (kind, user_id, username, role, division_code, request_id,"
                      " action, report_ids) VALUES (" VOCAB_SQL_TERM(
                          "AuditKind", AK_WRITE) ", NULL, 'system', '',"
                                                 " $1::text, '',"
                                                 " $2::text, $3::bigint[])",
                      3, p);
}

/* ---- GET /api/v1/audit ---- */

static const char list_sql[] =
    "SELECT a.id, to_json(a.at)#>>'{}', a.user_id, a.username, a.role, a.action,"
    " to_json(a.report_ids)::text, a.request_id, a.kind, a.address, a.entity, a.entity_id,"
    " a.before::text, a.after::text, to_json(a.request_ids)::text, a.reads FROM audit a"
    " WHERE ($1::text IS NULL OR left(a.division_code, length($1::text)) = $1::text"
    " OR left(a.entity_division, length($1::text)) = $1::text)"
    " AND ($2::timestamptz IS NULL OR a.at >= $2::timestamptz)"
    " AND ($3::timestamptz IS NULL OR a.at < $3::timestamptz)"
    " AND ($4::text IS NULL OR a.username = $4::text)"
    " AND ($5::bigint IS NULL OR a.report_ids @> ARRAY[$5::bigint])"
    " AND ($6::text[] IS NULL OR a.kind = ANY ($6::text[]))"
    " AND ($7::text[] IS NULL OR a.action = ANY ($7::text[]))"
    " AND ($8::text IS NULL OR a.entity = $8::text)"
    " AND ($9::bigint IS NULL OR a.entity_id = $9::bigint)"
    " AND ($10::bigint IS NULL OR a.id < $10::bigint)"
    " ORDER BY a.id DESC LIMIT $11::int";

static json_t *text_or_null(PGresult *res, int i, int c) {
    return PQgetisnull(res, i, c) ? json_null() : json_string(PQgetvalue(res, i, c));
}

static json_t *int_or_null(PGresult *res, int i, int c) {
    return PQgetisnull(res, i, c) ? json_null()
                                  : json_integer(strtoll(PQgetvalue(res, i, c), NULL, 10));
}

static json_t *json_or(PGresult *res, int i, int c, json_t *dflt) {
    json_t *v = PQgetisnull(res, i, c) ? NULL : json_loads(PQgetvalue(res, i, c), 0, NULL);
    if (v) json_decref(dflt);
    return v ? v : dflt;
}

/* Row i of list_sql as an AuditEntry. */
static json_t *entry_json(PGresult *res, int i) {
    return json_pack("{s:I,s:s,s:o,s:s,s:s,s:s,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:i}", "id",
                     (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "at",
                     PQgetvalue(res, i, 1), "user_id", int_or_null(res, i, 2), "username",
                     PQgetvalue(res, i, 3), "role", PQgetvalue(res, i, 4), "action",
                     PQgetvalue(res, i, 5), "report_ids", json_or(res, i, 6, json_array()),
                     "request_id", PQgetvalue(res, i, 7), "kind", PQgetvalue(res, i, 8), "address",
                     text_or_null(res, i, 9), "entity", text_or_null(res, i, 10), "entity_id",
                     int_or_null(res, i, 11), "before", json_or(res, i, 12, json_null()), "after",
                     json_or(res, i, 13, json_null()), "request_ids",
                     json_or(res, i, 14, json_array()), "reads", atoi(PQgetvalue(res, i, 15)));
}

/* GET /api/v1/audit?since=&until=&user=&report=&kind=&action=&entity=&entity_id=&limit=&cursor=
 * (supervisor, admin). A supervisor sees what users of its division did and the writes on
 * entities of its division; an admin sees all. Newest first. */
int h_audit_list(http_req *r) {
    char prefix[13], report_s[24] = "", eid_s[24] = "", before_s[24] = "", limit_s[16];
    const http_qval *report = http_q(r, "report"), *eid = http_q(r, "entity_id");
    int lim = (int)http_q(r, "limit")->i;
    long long before = http_q(r, "cursor")->i;
    if (report->given) snprintf(report_s, sizeof report_s, "%lld", report->i);
    if (eid->given) snprintf(eid_s, sizeof eid_s, "%lld", eid->i);
    if (before) snprintf(before_s, sizeof before_s, "%lld", before);
    vocab_code_prefix(r->user.division_code, prefix);
    snprintf(limit_s, sizeof limit_s, "%d", lim + 1);
    const char *p[] = {(r->user.role & ROLE_ADMIN) ? NULL : prefix,
                       http_q(r, "since")->s,
                       http_q(r, "until")->s,
                       http_q(r, "user")->s,
                       *report_s ? report_s : NULL,
                       http_q(r, "kind")->s,
                       http_q(r, "action")->s,
                       http_q(r, "entity")->s,
                       *eid_s ? eid_s : NULL,
                       *before_s ? before_s : NULL,
                       limit_s};
    PGresult *res = db_exec(r->w, list_sql, 11, p);
    if (!res) return http_db_error(r);
    int rows = PQntuples(res), more = rows > lim;
    if (more) rows = lim;
    json_t *items = json_array();
    for (int i = 0; i < rows; i++)
        json_array_append_new(items, entry_json(res, i));
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
