/* agencies.c - the agencies of the joint patrol (civil affairs, police, urban management, health,
 * street offices, community workers, volunteers: VOCAB_AGENCY_KIND), each of a division:
 * GET/POST /api/v1/agencies, PATCH /api/v1/agencies/{id}. Units name their agency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/admin/admin.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"

#define AGENCY_SQL                                                                                 \
    "SELECT a.id, a.name, a.kind, a.division_code, to_json(a.created_at)#>>'{}',"                  \
    " to_json(a.updated_at)#>>'{}', (SELECT count(*) FROM units u WHERE u.agency_id = a.id)"       \
    " FROM agencies a"

static json_t *agency_row_json(PGresult *q, int i) {
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", admin_int(q, i, 0), "name",
                     admin_str(q, i, 1), "kind", admin_str(q, i, 2), "division_code",
                     admin_str(q, i, 3), "created_at", admin_str(q, i, 4), "updated_at",
                     admin_str(q, i, 5), "units", admin_int(q, i, 6));
}

/* Agency id into *out (locked when lock), when it exists: 1, 0, -1. */
static int agency_json(worker *w, long long id, int lock, json_t **out) {
    return admin_one(w,
                     lock ? AGENCY_SQL " WHERE a.id = $1::bigint FOR UPDATE OF a"
                          : AGENCY_SQL " WHERE a.id = $1::bigint",
                     id, agency_row_json, out);
}

/* GET /api/v1/agencies?division=&kind=&limit=&cursor= */
int h_agencies_list(http_req *r) {
    char like[16], after[24], lim[16];
    int limit = (int)http_q(r, "limit")->i;
    admin_scope_like(r, like);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {like, http_q(r, "kind")->s, admin_id(http_q(r, "cursor")->i, after), lim};
    PGresult *q = db_exec(r->w,
                          AGENCY_SQL " WHERE a.division_code LIKE $1::text AND ($2::text[] IS NULL"
                                     " OR a.kind = ANY ($2::text[])) AND a.id > $3::bigint"
                                     " ORDER BY a.id LIMIT $4::int",
                          4, p);
    return q ? admin_page(r, q, limit, "g1", agency_row_json) : http_db_error(r);
}

/* The division of the body (or `current`): exists and lies in r's user's division. 0, -1, or the
 * 404 sent. */
static int agency_division(http_req *r, const char *current, char out[13]) {
    if (admin_division_field(r, "division_code", out) != 0) snprintf(out, 13, "%s", current);
    if (!admin_in_scope(&r->user, out))
        return http_error(r, 404, "not_found", "division_code", "no division %s in your scope",
                          out);
    const char *p[] = {out};
    PGresult *q = db_exec(r->w, "SELECT 1 FROM divisions WHERE code = $1::text", 1, p);
    if (!q) return -1;
    int found = PQntuples(q) == 1;
    PQclear(q);
    return found ? 0 : http_error(r, 404, "not_found", "division_code", "no division %s", out);
}

/* Writes agency id (0: new) from the body over `before` (NULL for a new one), audits, commits
 * and answers. Ends the transaction in every case; returns the status sent. */
static int agency_write(http_req *r, long long id, json_t *before) {
    char div[13], sid[24];
    json_t *b = r->json, *after = NULL;
    int rc = agency_division(
        r, before ? json_string_value(json_object_get(before, "division_code")) : "", div);
    if (rc) return admin_end(r, rc);
    const char *p[] = {admin_id(id, sid), json_string_value(json_object_get(b, "name")),
                       json_string_value(json_object_get(b, "kind")), div};
    PGresult *q = db_exec(
        r->w,
        "WITH i AS (INSERT INTO agencies (name, kind, division_code) SELECT $2::text, $3::text,"
        " $4::text WHERE $1::bigint = 0 RETURNING id), u AS (UPDATE agencies SET name ="
        " coalesce($2::text, name), kind = coalesce($3::text, kind), division_code = $4::text,"
        " updated_at = now() WHERE id = $1::bigint AND $1::bigint <> 0 RETURNING id)"
        " SELECT id FROM i UNION ALL SELECT id FROM u",
        4, p);
    if (!q) {
        if (!db_failed_with(r->w, "23505")) return admin_end(r, -1);
        return admin_end(r, http_error(r, 409, "agency_name_taken", "name",
                                       "an agency of this name exists in %s", div));
    }
    long long aid = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
    PQclear(q);
    int got = agency_json(r->w, aid, 0, &after);
    return admin_audited_reply(r, id ? 200 : 201, id ? AA_AGENCY_UPDATE : AA_AGENCY_CREATE,
                               AE_AGENCY, aid, div, before, got, after);
}

/* POST /api/v1/agencies {name, kind, division_code} (supervisor in its division, admin) */
int h_agencies_create(http_req *r) {
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    return agency_write(r, 0, NULL);
}

/* PATCH /api/v1/agencies/{id} {name?, kind?, division_code?} */
int h_agencies_patch(http_req *r) {
    long long id;
    json_t *before = NULL;
    int rc = param_path_id(r, 0, "agency", &id);
    if (rc) return rc;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    int found = agency_json(r->w, id, 1, &before);
    if (found < 0)
        rc = admin_end(r, -1);
    else if (!found ||
             !admin_in_scope(&r->user, json_string_value(json_object_get(before, "division_code"))))
        rc = admin_end(r, http_error(r, 404, "not_found", NULL, "no such agency: %lld", id));
    else
        rc = agency_write(r, id, before);
    json_decref(before);
    return rc;
}
