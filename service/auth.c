/* auth.c - Argon2id passwords, random bearer tokens kept only as SHA-256 hashes, roles and scope. */
#include "service/auth.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "service/db.h"
#include "service/handlers.h"

static const char *const role_names[] = {"patrol", "community", "dispatcher", "supervisor",
                                         "admin"};

unsigned auth_role_parse(const char *name) {
    for (unsigned i = 0; name && i < 5; i++)
        if (strcmp(name, role_names[i]) == 0) return 1u << i;
    return 0;
}

const char *auth_role_name(unsigned role) {
    for (unsigned i = 0; i < 5; i++)
        if (role == 1u << i) return role_names[i];
    return "nobody";
}

int auth_hash_password(const char *password, char *out, size_t outlen) {
    if (outlen < crypto_pwhash_STRBYTES || sodium_init() < 0) return -1;
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

/* "\\x" + hex of SHA-256(token): the bytea text form used as a statement parameter. */
static void token_hash_param(const char *token, char out[2 + 2 * crypto_hash_sha256_BYTES + 1]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    out[0] = '\\', out[1] = 'x';
    sodium_bin2hex(out + 2, 2 * crypto_hash_sha256_BYTES + 1, h, sizeof h);
}

static void copy_field(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
}

int auth_check_token(worker *w, const char *token, auth_user *u) {
    char hash[2 + 2 * crypto_hash_sha256_BYTES + 1];
    while (*token == ' ')
        token++;
    if (!*token || strlen(token) > 256) return 0;
    token_hash_param(token, hash);
    const char *params[] = {hash};
    PGresult *res =
        db_exec(w,
                "SELECT u.id, u.username, u.role, u.division_code, coalesce(u.station_id, 0),"
                " coalesce(u.unit_id, 0) FROM sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.token_hash = $1::bytea AND s.revoked_at IS NULL"
                " AND s.expires_at > now() AND NOT u.disabled",
                1, params);
    if (!res) return -1;
    int ok = PQntuples(res) == 1;
    if (ok) {
        u->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        copy_field(u->username, sizeof u->username, PQgetvalue(res, 0, 1));
        u->role = auth_role_parse(PQgetvalue(res, 0, 2));
        copy_field(u->division_code, sizeof u->division_code, PQgetvalue(res, 0, 3));
        u->station_id = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        u->unit_id = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    }
    PQclear(res);
    return ok;
}

void auth_code_prefix(const char *code12, char *out) {
    static const int cut[] = {2, 4, 6, 9};
    int n = 12;
    for (int i = 0; i < 4; i++) {
        int zeros = 1;
        for (int k = cut[i]; k < 12 && code12[k]; k++)
            zeros &= code12[k] == '0';
        if (zeros) {
            n = cut[i];
            break;
        }
    }
    memcpy(out, code12, (size_t)n);
    out[n] = 0;
}

int auth_in_scope(const auth_user *u, const char *code12) {
    char prefix[13];
    auth_code_prefix(u->division_code, prefix);
    if (!code12 || !*code12) return strlen(prefix) <= 4;
    return strncmp(code12, prefix, strlen(prefix)) == 0;
}

int auth_code12(const char *in, char out[13]) {
    size_t n = in ? strlen(in) : 0;
    if (n != 2 && n != 4 && n != 6 && n != 9 && n != 12) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)in[i])) return -1;
    memcpy(out, in, n);
    memset(out + n, '0', 12 - n);
    out[12] = 0;
    return 0;
}

int auth_user_add(worker *w, const char *username, const char *password, const char *role,
                  const char *division_code, char *err, size_t errlen) {
    char hash[crypto_pwhash_STRBYTES], code[13];
    if (!username || !*username || strlen(username) > 63) {
        snprintf(err, errlen, "username must be 1 to 63 bytes");
        return -1;
    }
    if (!password || strlen(password) < 4) {
        snprintf(err, errlen, "password must be at least 4 characters");
        return -1;
    }
    if (!auth_role_parse(role)) {
        snprintf(err, errlen,
                 "role must be one of patrol, community, dispatcher, supervisor, admin");
        return -1;
    }
    if (auth_code12(division_code, code) != 0) {
        snprintf(err, errlen, "division code must have 4, 6, 9 or 12 digits");
        return -1;
    }
    if (auth_hash_password(password, hash, sizeof hash) != 0) {
        snprintf(err, errlen, "cannot hash the password (out of memory?)");
        return -1;
    }
    const char *params[] = {username, hash, role, code};
    if (db_command(
            w,
            "INSERT INTO users (username, password_hash, role, division_code) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
            " role = EXCLUDED.role, division_code = EXCLUDED.division_code",
            4, params) != 0) {
        snprintf(err, errlen, "%s", w->err);
        return -1;
    }
    return 0;
}

/* POST /api/v1/auth/login {"username","password"} */
int h_auth_login(http_req *r) {
    const char *username = json_string_value(json_object_get(r->json, "username"));
    const char *password = json_string_value(json_object_get(r->json, "password"));
    if (!username)
        return http_error(r, 400, "invalid_field", "username", "username must be a string");
    if (!password)
        return http_error(r, 400, "invalid_field", "password", "password must be a string");
    const char *p1[] = {username};
    PGresult *res = db_exec(r->w,
                            "SELECT id, password_hash, role, division_code FROM users"
                            " WHERE username = $1 AND NOT disabled",
                            1, p1);
    if (!res) return http_db_error(r);
    int found = PQntuples(res) == 1;
    /* Verify against a fixed hash when the user is unknown, so timing does not tell. */
    static char dummy[crypto_pwhash_STRBYTES];
    if (!dummy[0]) auth_hash_password("not a password", dummy, sizeof dummy);
    int ok = crypto_pwhash_str_verify(found ? PQgetvalue(res, 0, 1) : dummy, password,
                                      strlen(password)) == 0;
    if (!found || !ok) {
        PQclear(res);
        return http_error(r, 401, "invalid_credentials", NULL, "wrong username or password");
    }
    unsigned char raw[32];
    char token[65], hash[2 + 2 * crypto_hash_sha256_BYTES + 1], ttl[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, sizeof token, raw, sizeof raw);
    token_hash_param(token, hash);
    snprintf(ttl, sizeof ttl, "%d", r->app->cfg.token_ttl_s);
    const char *p2[] = {hash, PQgetvalue(res, 0, 0), ttl};
    PGresult *ins = db_exec(
        r->w,
        "INSERT INTO sessions (token_hash, user_id, expires_at)"
        " VALUES ($1::bytea, $2, now() + make_interval(secs => $3::int))"
        " RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
        3, p2);
    if (!ins) {
        PQclear(res);
        return http_db_error(r);
    }
    json_t *out = json_pack(
        "{s:s,s:s,s:{s:I,s:s,s:s,s:s}}", "token", token, "expires_at", PQgetvalue(ins, 0, 0),
        "user", "id", (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10), "username", username,
        "role", PQgetvalue(res, 0, 2), "division_code", PQgetvalue(res, 0, 3));
    PQclear(ins);
    PQclear(res);
    return http_json(r, 200, out);
}

/* POST /api/v1/auth/logout: revokes the token the request was made with. */
int h_auth_logout(http_req *r) {
    char hash[2 + 2 * crypto_hash_sha256_BYTES + 1];
    const char *token = http_header(r, "Authorization") + 7;
    while (*token == ' ')
        token++;
    token_hash_param(token, hash);
    const char *params[] = {hash};
    if (db_command(r->w, "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1::bytea", 1,
                   params))
        return http_db_error(r);
    return http_send(r, 204, NULL, "", 0, NULL);
}

/* GET /api/v1/auth/me */
int h_auth_me(http_req *r) {
    return http_json(r, 200,
                     json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)r->user.id, "username",
                               r->user.username, "role", auth_role_name(r->user.role),
                               "division_code", r->user.division_code));
}
