/* users.c - user administration: GET/POST /api/v1/users, PATCH /api/v1/users/{id} (role,
 * division, unit, station, disabled) and POST /api/v1/users/{id}/reset-code (a one-time code,
 * shown once, kept as a SHA-256 hash, valid RESET_CODE_TTL_S; POST /api/v1/auth/reset in login.c
 * redeems it). A supervisor administers the users of its division whose role is not above its
 * own, and grants no role above its own; only admins make admins. Disabling a user, or changing
 * its role or division, revokes its sessions in the same transaction (auth_revoke_sessions): its
 * event streams end at once on every instance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "service/admin/admin.h"
#include "service/admin/login.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"

enum { RESET_CODE_TTL_S = 15 * 60, RESET_CODE_LEN = 12 };

#define USER_SQL                                                                                   \
    "SELECT u.id, u.username, u.role, u.division_code, u.unit_id, n.name, u.station_id,"           \
    " u.disabled, to_json(u.created_at)#>>'{}' FROM users u LEFT JOIN units n ON n.id = u.unit_id"

static json_t *user_row_json(PGresult *q, int i) {
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", admin_int(q, i, 0), "username",
                     admin_str(q, i, 1), "role", admin_str(q, i, 2), "division_code",
                     admin_str(q, i, 3), "unit_id", admin_int(q, i, 4), "unit_name",
                     admin_str(q, i, 5), "station_id", admin_int(q, i, 6), "disabled",
                     admin_bool(q, i, 7), "created_at", admin_str(q, i, 8));
}

/* User id into *out (locked when lock): 1, 0, -1. */
static int user_json(worker *w, long long id, int lock, json_t **out) {
    return admin_one(w,
                     lock ? USER_SQL " WHERE u.id = $1::bigint FOR UPDATE OF u"
                          : USER_SQL " WHERE u.id = $1::bigint",
                     id, user_row_json, out);
}

/* GET /api/v1/users?division=&role=&unit=&disabled=&q=&limit=&cursor= */
int h_users_list(http_req *r) {
    const http_qval *unit = http_q(r, "unit"), *dis = http_q(r, "disabled");
    char like[16], after[24], lim[16], uid[24];
    int limit = (int)http_q(r, "limit")->i;
    admin_scope_like(r, like);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {like,
                       http_q(r, "role")->s,
                       unit->given ? admin_id(unit->i, uid) : NULL,
                       dis->given ? (dis->i ? "true" : "false") : NULL,
                       http_q(r, "q")->s,
                       admin_id(http_q(r, "cursor")->i, after),
                       lim};
    PGresult *q = db_exec(
        r->w,
        USER_SQL " WHERE u.division_code LIKE $1::text AND ($2::text[] IS NULL OR u.role = ANY"
                 " ($2::text[])) AND ($3::bigint IS NULL OR u.unit_id = $3::bigint) AND"
                 " ($4::boolean IS NULL OR u.disabled = $4::boolean) AND ($5::text IS NULL OR"
                 " left(u.username, length($5::text)) = $5::text) AND u.id > $6::bigint"
                 " ORDER BY u.id LIMIT $7::int",
        7, p);
    return q ? admin_page(r, q, limit, "us", user_row_json) : http_db_error(r);
}

/* A division of the body (field division_code) r's user may give, existing: 0 (out: 12 digits,
 * `current` when the body has none), -1 or the 404 sent. */
static int user_division(http_req *r, const char *current, char out[13]) {
    if (admin_division_field(r, "division_code", out) != 0) {
        snprintf(out, 13, "%s", current);
        return 0;
    }
    const char *p[] = {out};
    PGresult *q = db_exec(r->w, "SELECT 1 FROM divisions WHERE code = $1::text", 1, p);
    if (!q) return -1;
    int ok = PQntuples(q) == 1 && admin_in_scope(&r->user, out);
    PQclear(q);
    return ok ? 0
              : http_error(r, 404, "not_found", "division_code", "no division %s in your scope",
                           out);
}

/* The unit and station the body gives a user of `role` and division `div` (field absent: the
 * current ones stay): in r's user's scope (404), a unit only for patrol and community users
 * (400) of the unit's county (409). 0, -1 or the status sent. */
static int user_refs(http_req *r, const char *role, const char *div, long long unit_now) {
    char id[24];
    json_t *b = r->json;
    int set = admin_field(r, "unit_id");
    long long unit = set == 2   ? json_integer_value(json_object_get(b, "unit_id"))
                     : set == 1 ? 0
                                : unit_now;
    if (unit && !(auth_role_parse(role) & ROLE_FIELD))
        return http_error(r, 400, "invalid_field", "unit_id",
                          "a %s rides no unit: units are made of patrol and community users", role);
    static const struct {
        const char *field, *sql;
    } refs[] = {{"unit_id", "SELECT coalesce(division_code, '') FROM units WHERE id = $1::bigint"},
                {"station_id", "SELECT division_code FROM stations WHERE id = $1::bigint"}};
    for (int k = 0; k < 2; k++) {
        if (admin_field(r, refs[k].field) != 2) continue;
        const char *p[] = {admin_id(json_integer_value(json_object_get(b, refs[k].field)), id)};
        PGresult *q = db_exec(r->w, refs[k].sql, 1, p);
        if (!q) return -1;
        int seen = PQntuples(q) == 1 && admin_in_scope(&r->user, PQgetvalue(q, 0, 0));
        int nested = seen && admin_nested(PQgetvalue(q, 0, 0), div);
        PQclear(q);
        if (!seen) return http_error(r, 404, "not_found", refs[k].field, "no such one: %s", id);
        if (!nested && k == 0)
            return http_error(r, 409, "member_other_division", "unit_id",
                              "the unit is not of the user's division %s", div);
    }
    return 0;
}

/* POST /api/v1/users {username, password, role, division_code, unit_id?, station_id?, disabled?} */
int h_users_create(http_req *r) {
    json_t *b = r->json;
    const char *name = json_string_value(json_object_get(b, "username"));
    const char *role = json_string_value(json_object_get(b, "role"));
    char msg[128], hash[crypto_pwhash_STRBYTES], div[13], uid[24], st[24];
    json_t *after = NULL;
    int rc;
    if (!admin_may_grant(&r->user, auth_role_parse(role)))
        return http_error(r, 403, "forbidden", "role",
                          "you grant no role above your own (only admins make admins)");
    if (auth_password_check(json_string_value(json_object_get(b, "password")), msg, sizeof msg))
        return http_error(r, 400, "weak_password", "password", "%s", msg);
    if (admin_division_field(r, "division_code", div) == 0 && !admin_in_scope(&r->user, div))
        return http_error(r, 404, "not_found", "division_code", "no division %s in your scope",
                          div);
    if ((rc = login_hash_password(r, json_string_value(json_object_get(b, "password")), hash,
                                  sizeof hash)))
        return rc;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    if ((rc = user_division(r, "", div)) || (rc = user_refs(r, role, div, 0)))
        return admin_end(r, rc);
    int unit = admin_field(r, "unit_id") == 2, station = admin_field(r, "station_id") == 2;
    const char *p[] = {
        name,
        hash,
        role,
        div,
        unit ? admin_id(json_integer_value(json_object_get(b, "unit_id")), uid) : NULL,
        station ? admin_id(json_integer_value(json_object_get(b, "station_id")), st) : NULL,
        json_is_true(json_object_get(b, "disabled")) ? "true" : "false"};
    PGresult *q = db_exec(r->w,
                          "INSERT INTO users (username, password_hash, role, division_code,"
                          " unit_id, station_id, disabled) VALUES ($1::text, $2::text, $3::text,"
                          " $4::text, $5::bigint, $6::bigint, $7::boolean) RETURNING id",
                          7, p);
    if (!q)
        return admin_end(r, db_failed_with(r->w, "23505")
                                ? http_error(r, 409, "username_taken", "username",
                                             "the username %s is taken", name)
                                : -1);
    long long id = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
    PQclear(q);
    int got = user_json(r->w, id, 0, &after);
    return admin_audited_reply(r, 201, AA_USER_CREATE, AE_USER, id, div, NULL, got, after);
}

/* User params[0], locked, when r's user may administer it (in its division, role not above its
 * own): 0 with *id and *before, -1, or the status sent (404, 403). */
static int user_lock(http_req *r, long long *id, json_t **before) {
    int rc = param_path_id(r, 0, "user", id);
    if (rc) return rc;
    int found = user_json(r->w, *id, 1, before);
    if (found < 0) return -1;
    if (!found ||
        !admin_in_scope(&r->user, json_string_value(json_object_get(*before, "division_code"))))
        return http_error(r, 404, "not_found", NULL, "no such user: %lld", *id);
    unsigned role = auth_role_parse(json_string_value(json_object_get(*before, "role")));
    if (!admin_may_grant(&r->user, role))
        return http_error(r, 403, "forbidden", NULL,
                          "you may not administer a user whose role is above yours");
    return 0;
}

/* What a PATCH may not do: grant a role above the caller's, change the caller's own role or
 * division, or disable the caller. 0 or the 403 sent. */
static int user_patch_allowed(http_req *r, long long id) {
    const char *role = json_string_value(json_object_get(r->json, "role"));
    if (role && !admin_may_grant(&r->user, auth_role_parse(role)))
        return http_error(r, 403, "forbidden", "role",
                          "you grant no role above your own (only admins make admins)");
    if (id != r->user.id) return 0;
    if (role || json_object_get(r->json, "division_code") ||
        json_is_true(json_object_get(r->json, "disabled")))
        return http_error(r, 403, "forbidden", role ? "role" : "division_code",
                          "you may not change your own role or division, nor disable yourself");
    return 0;
}

/* Writes the PATCH body over user id (before: its state), revoking its sessions when it is
 * disabled or its role or division changes. 0, -1 or the status sent. */
static int user_change(http_req *r, long long id, json_t *before) {
    json_t *b = r->json;
    char div[13], sid[24], uid[24], st[24], set[4];
    const char *role = json_string_value(json_object_get(b, "role"));
    if (!role) role = json_string_value(json_object_get(before, "role"));
    int rc = user_division(r, json_string_value(json_object_get(before, "division_code")), div);
    if (!rc) rc = user_refs(r, role, div, json_integer_value(json_object_get(before, "unit_id")));
    if (rc) return rc;
    snprintf(set, sizeof set, "%d%d", admin_field(r, "unit_id"), admin_field(r, "station_id"));
    json_t *dis = json_object_get(b, "disabled");
    const char *p[] = {admin_id(id, sid),
                       role,
                       div,
                       admin_field(r, "unit_id") == 2
                           ? admin_id(json_integer_value(json_object_get(b, "unit_id")), uid)
                           : NULL,
                       admin_field(r, "station_id") == 2
                           ? admin_id(json_integer_value(json_object_get(b, "station_id")), st)
                           : NULL,
                       dis ? (json_is_true(dis) ? "true" : "false") : NULL,
                       set};
    PGresult *q = db_exec(
        r->w,
        "WITH o AS (SELECT role, division_code, disabled FROM users WHERE id = $1::bigint),"
        " u AS (UPDATE users SET role = $2::text, division_code = $3::text, unit_id = CASE"
        " substr($7::text, 1, 1) WHEN '0' THEN unit_id ELSE $4::bigint END, station_id = CASE"
        " substr($7::text, 2, 1) WHEN '0' THEN station_id ELSE $5::bigint END, disabled ="
        " coalesce($6::boolean, disabled) WHERE id = $1::bigint RETURNING role, division_code,"
        " disabled) SELECT (u.disabled AND NOT o.disabled) OR u.role <> o.role OR u.division_code"
        " <> o.division_code FROM o, u",
        7, p);
    if (!q) return -1;
    int signout = *PQgetvalue(q, 0, 0) == 't';
    PQclear(q);
    return signout && auth_revoke_sessions(r->w, id, 0) < 0 ? -1 : 0;
}

/* PATCH /api/v1/users/{id} {role?, division_code?, unit_id?, station_id?, disabled?} */
int h_users_patch(http_req *r) {
    long long id;
    json_t *before = NULL, *after = NULL;
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    int rc = user_lock(r, &id, &before);
    if (!rc) rc = user_patch_allowed(r, id);
    if (!rc) rc = user_change(r, id, before);
    if (rc) {
        json_decref(before);
        return admin_end(r, rc);
    }
    int got = user_json(r->w, id, 0, &after);
    rc = admin_audited_reply(r, 200, AA_USER_UPDATE, AE_USER, id,
                             json_string_value(json_object_get(after, "division_code")), before,
                             got, after);
    json_decref(before);
    return rc;
}

/* A new code: RESET_CODE_LEN characters of an alphabet without look-alikes (60 random bits). */
static void new_code(char out[RESET_CODE_LEN + 1]) {
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; /* 32 */
    for (int i = 0; i < RESET_CODE_LEN; i++)
        out[i] = alphabet[randombytes_uniform(32)];
    out[RESET_CODE_LEN] = 0;
}

/* POST /api/v1/users/{id}/reset-code -> 201 {user_id, username, code, expires_at}: the code is
 * shown once (only its hash is kept); a new one replaces the last. */
int h_users_reset_code(http_req *r) {
    long long id;
    json_t *before = NULL;
    char code[RESET_CODE_LEN + 1], hash[AUTH_TOKEN_HASH_LEN], sid[24], ttl[16], by[24];
    if (db_begin(r->w) != 0) return admin_end(r, -1);
    int rc = user_lock(r, &id, &before);
    if (rc) {
        json_decref(before);
        return admin_end(r, rc);
    }
    new_code(code);
    auth_token_hash(code, hash);
    snprintf(ttl, sizeof ttl, "%d", RESET_CODE_TTL_S);
    const char *p[] = {admin_id(id, sid), hash, ttl, admin_id(r->user.id, by)};
    PGresult *q = db_exec(r->w,
                          "INSERT INTO reset_codes (user_id, code_hash, expires_at, created_by)"
                          " VALUES ($1::bigint, $2::bytea, now() + make_interval(secs =>"
                          " $3::int), $4::bigint) ON CONFLICT (user_id) DO UPDATE SET code_hash ="
                          " EXCLUDED.code_hash, expires_at = EXCLUDED.expires_at, created_by ="
                          " EXCLUDED.created_by, created_at = now()"
                          " RETURNING to_json(expires_at)#>>'{}'",
                          4, p);
    json_t *note = q ? json_pack("{s:s}", "reset_code_expires_at", PQgetvalue(q, 0, 0)) : NULL;
    if (!q ||
        admin_audit(r, AA_USER_RESET_CODE, AE_USER, id,
                    json_string_value(json_object_get(before, "division_code")), NULL, note)) {
        PQclear(q);
        json_decref(note);
        json_decref(before);
        return admin_end(r, -1);
    }
    json_t *reply = json_pack("{s:I,s:O,s:s,s:s}", "user_id", (json_int_t)id, "username",
                              json_object_get(before, "username"), "code", code, "expires_at",
                              PQgetvalue(q, 0, 0));
    PQclear(q);
    json_decref(note);
    json_decref(before);
    sodium_memzero(code, sizeof code);
    return admin_commit_reply(r, 201, reply);
}
