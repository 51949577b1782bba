/* admin.c - what the administration routes share (see admin.h). */
#include "service/admin/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/audit.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/params.h"

int admin_rank(unsigned role) {
    int k = 0;
    while (role > 1)
        role >>= 1, k++;
    return k;
}

int admin_may_grant(const auth_user *u, unsigned role) {
    return role && admin_rank(role) <= admin_rank(u->role) &&
           (role != ROLE_ADMIN || u->role == ROLE_ADMIN);
}

int admin_in_scope(const auth_user *u, const char *code12) {
    return code12 && *code12 && auth_in_scope(u, code12);
}

int admin_nested(const char *a12, const char *b12) {
    char pa[13], pb[13];
    vocab_code_prefix(a12, pa);
    vocab_code_prefix(b12, pb);
    return strncmp(a12, pb, strlen(pb)) == 0 || strncmp(b12, pa, strlen(pa)) == 0;
}

int admin_end(http_req *r, int rc) {
    db_rollback(r->w);
    return rc < 0 ? http_db_error(r) : rc;
}

int admin_commit_reply(http_req *r, int status, json_t *reply) {
    if (!reply) return admin_end(r, http_error(r, 500, "internal", NULL, "out of memory"));
    if (db_commit(r->w) != 0) {
        json_decref(reply);
        return admin_end(r, -1);
    }
    return http_json(r, status, reply);
}

int admin_audited_reply(http_req *r, int status, size_t action, size_t entity, long long id,
                        const char *division, json_t *before, int got, json_t *after) {
    if (got != 1 || admin_audit(r, action, entity, id, division, before, after)) {
        json_decref(after);
        return admin_end(r, -1);
    }
    return admin_commit_reply(r, status, after);
}

int admin_audit(http_req *r, size_t action, size_t entity, long long id, const char *division,
                json_t *before, json_t *after) {
    audit_actor a;
    audit_actor_of(r, &a);
    return audit_write(r->w, &a, action, entity, id, division, before, after);
}

int admin_field(http_req *r, const char *name) {
    json_t *v = json_object_get(r->json, name);
    return !v ? 0 : json_is_null(v) ? 1 : 2;
}

int admin_division_field(http_req *r, const char *name, char out[13]) {
    return vocab_code12(json_string_value(json_object_get(r->json, name)), 4, out);
}

const char *admin_val(PGresult *res, int i, int c) {
    return PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
}

json_t *admin_str(PGresult *res, int i, int c) {
    const char *v = admin_val(res, i, c);
    return v ? json_string(v) : json_null();
}

json_t *admin_int(PGresult *res, int i, int c) {
    const char *v = admin_val(res, i, c);
    return v ? json_integer(strtoll(v, NULL, 10)) : json_null();
}

json_t *admin_bool(PGresult *res, int i, int c) {
    const char *v = admin_val(res, i, c);
    return v ? json_boolean(*v == 't') : json_null();
}

json_t *admin_json(PGresult *res, int i, int c) {
    const char *v = admin_val(res, i, c);
    json_t *j = v ? json_loads(v, 0, NULL) : NULL;
    return j ? j : json_null();
}

char *admin_id(long long v, char out[24]) {
    snprintf(out, 24, "%lld", v);
    return out;
}

json_t *admin_next(PGresult *res, int last, int more, const char *tag) {
    char cur[64];
    if (!more) return json_null();
    params_cursor_encode(tag, strtoll(PQgetvalue(res, last, 0), NULL, 10), cur, sizeof cur);
    return json_string(cur);
}

int admin_member_in_unit(http_req *r, const char *field, const char *username, const char *unit_id,
                         const char *unit_name) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "%s is a member of unit %s (%s): a user is in one unit at a time; take them out of "
             "it first",
             username, unit_id, unit_name);
    snprintf(r->error_code, sizeof r->error_code, "member_in_other_unit");
    json_t *e = json_pack("{s:{s:s,s:s,s:s,s:{s:I,s:s}}}", "error", "code", "member_in_other_unit",
                          "message", msg, "field", field, "unit", "id",
                          (json_int_t)strtoll(unit_id, NULL, 10), "name", unit_name);
    return http_json(r, 409, e);
}

int admin_one(worker *w, const char *sql, long long id, admin_row_fn row, json_t **out) {
    char sid[24];
    const char *p[] = {admin_id(id, sid)};
    PGresult *q = db_exec(w, sql, 1, p);
    if (!q) return -1;
    int found = PQntuples(q) == 1;
    if (found) *out = row(q, 0);
    PQclear(q);
    return found;
}

void admin_scope_like(http_req *r, char like[16]) {
    const http_qval *div = http_q(r, "division");
    char prefix[13];
    vocab_code_prefix(r->user.division_code, prefix);
    if (div->given && strncmp(div->prefix, prefix, strlen(prefix)) != 0)
        snprintf(like, 16, "x");
    else
        snprintf(like, 16, "%s%%", div->given ? div->prefix : prefix);
}

int admin_page(http_req *r, PGresult *q, int limit, const char *tag, admin_row_fn row) {
    int n = PQntuples(q);
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(items, row(q, i));
    json_t *next = admin_next(q, limit - 1, n > limit, tag);
    PQclear(q);
    return http_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next));
}
