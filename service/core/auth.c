/* auth.c - Argon2id passwords and their policy, random bearer tokens kept only as SHA-256 hashes,
 * roles, division scope and `user add`. The sign-in routes are in login.c. */
#include "service/core/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "service/core/db.h"
#include "service/core/events_append.h"
#include "service/core/vocab.h"

_Static_assert(ROLE_PATROL == 1u << RO_PATROL && ROLE_COMMUNITY == 1u << RO_COMMUNITY &&
                   ROLE_DISPATCHER == 1u << RO_DISPATCHER &&
                   ROLE_SUPERVISOR == 1u << RO_SUPERVISOR && ROLE_ADMIN == 1u << RO_ADMIN,
               "VOCAB_ROLE term i is the role 1 << i");

unsigned auth_role_parse(const char *name) {
    int i = vocab_find(&VOCAB_ROLE, name);
    return i < 0 ? 0 : 1u << i;
}

const char *auth_role_name(unsigned role) {
    for (size_t i = 0; i < VOCAB_ROLE.n; i++)
        if (role == 1u << i) return vocab_code(&VOCAB_ROLE, i);
    return "nobody";
}

int auth_hash_password(const char *password, char *out, size_t outlen) {
    if (outlen < crypto_pwhash_STRBYTES || sodium_init() < 0) return -1;
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

/* The placeholder hash that unknown user names are checked against, made once for the process. */
static char placeholder[crypto_pwhash_STRBYTES];
static pthread_once_t placeholder_once = PTHREAD_ONCE_INIT;

static void make_placeholder(void) {
    if (auth_hash_password("placeholder: no such user", placeholder, sizeof placeholder) != 0)
        placeholder[0] = 0;
}

int auth_verify_password(const char *hash, const char *password) {
    pthread_once(&placeholder_once, make_placeholder);
    const char *h = hash ? hash : placeholder;
    int ok = *h && crypto_pwhash_str_verify(h, password, strlen(password)) == 0;
    return hash && ok;
}

int auth_password_check(const char *password, char *err, size_t errlen) {
    size_t chars = 0;
    for (const char *p = password; p && *p; p++)
        chars += ((unsigned char)*p & 0xC0) != 0x80; /* count UTF-8 lead bytes: characters */
    if (chars < AUTH_PASSWORD_MIN) {
        snprintf(err, errlen, "password must be at least %d characters", AUTH_PASSWORD_MIN);
        return -1;
    }
    if (strlen(password) > AUTH_PASSWORD_MAX) {
        snprintf(err, errlen, "password must be at most %d bytes", AUTH_PASSWORD_MAX);
        return -1;
    }
    return 0;
}

void auth_token_hash(const char *token, char out[AUTH_TOKEN_HASH_LEN]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    out[0] = '\\', out[1] = 'x';
    sodium_bin2hex(out + 2, 2 * crypto_hash_sha256_BYTES + 1, h, sizeof h);
}

static void copy_field(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%s", src ? src : "");
}

/* Runs sql (one parameter, selecting id, username, role, division_code, station_id, unit_id and,
 * for a session, its id and expiry in Unix seconds) and fills u from its one row. Returns 1
 * found, 0 not, -1 database failure (w->err). */
static int load_user(worker *w, const char *sql, const char *param, auth_user *u) {
    const char *params[] = {param};
    PGresult *res = db_exec(w, sql, 1, params);
    if (!res) return -1;
    int ok = PQntuples(res) == 1;
    if (ok) {
        u->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        copy_field(u->username, sizeof u->username, PQgetvalue(res, 0, 1));
        u->role = auth_role_parse(PQgetvalue(res, 0, 2));
        copy_field(u->division_code, sizeof u->division_code, PQgetvalue(res, 0, 3));
        u->station_id = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        u->unit_id = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
        int session = PQnfields(res) >= 8;
        u->session_id = session ? strtoll(PQgetvalue(res, 0, 6), NULL, 10) : 0;
        u->session_expires = session ? strtoll(PQgetvalue(res, 0, 7), NULL, 10) : 0;
    }
    PQclear(res);
    return ok;
}

/* A valid session and its enabled user, as load_user reads them; the caller appends the match. */
#define SESSION_USER_SQL                                                                           \
    "SELECT u.id, u.username, u.role, u.division_code, coalesce(u.station_id, 0),"                 \
    " coalesce(u.unit_id, 0), s.id, floor(extract(epoch FROM s.expires_at))::bigint"               \
    " FROM sessions s JOIN users u ON u.id = s.user_id"                                            \
    " WHERE s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled AND"

int auth_check_token(worker *w, const char *token, auth_user *u) {
    char hash[AUTH_TOKEN_HASH_LEN];
    while (*token == ' ')
        token++;
    if (!*token || strlen(token) > 256) return 0;
    auth_token_hash(token, hash);
    return load_user(w, SESSION_USER_SQL " s.token_hash = $1::bytea", hash, u);
}

int auth_check_session(worker *w, const char *session_id, auth_user *u) {
    return load_user(w, SESSION_USER_SQL " s.id = $1::bigint", session_id, u);
}

/* The one revocation statement: live sessions of user $1 or the session $2, and one
 * session.revoked event per session not yet expired (an expired one's streams ended already). */
/* clang-format off */
static const char revoke_sql[] =
    "WITH s AS (UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL"
    " AND (user_id = $1::bigint OR id = $2::bigint) RETURNING id, user_id, expires_at),"
    " e AS (" EVENTS_SESSION_REVOKED_INSERT("s") " FROM s WHERE s.expires_at > now()"
    " ORDER BY s.id RETURNING 1) SELECT count(*) FROM s";
/* clang-format on */

int auth_revoke_sessions(worker *w, long long user_id, long long session_id) {
    char uid[24], sid[24];
    snprintf(uid, sizeof uid, "%lld", user_id);
    snprintf(sid, sizeof sid, "%lld", session_id);
    const char *p[] = {uid, sid};
    PGresult *res = db_exec(w, revoke_sql, 2, p);
    if (!res) return -1;
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

int auth_user_by_id(worker *w, const char *id, auth_user *u) {
    return load_user(w,
                     "SELECT id, username, role, division_code, coalesce(station_id, 0),"
                     " coalesce(unit_id, 0) FROM users WHERE id = $1::bigint AND NOT disabled",
                     id, u);
}

int auth_in_scope(const auth_user *u, const char *code12) {
    char prefix[13];
    vocab_code_prefix(u->division_code, prefix);
    return vocab_code_within(code12, prefix);
}

int auth_report_visible(const auth_user *u, long long created_by, const char *code12) {
    if (created_by && created_by == u->id) return 1;
    return auth_in_scope(u, code12 && *code12 ? code12 : NULL);
}

int auth_user_save(worker *w, const char *username, const char *password, const char *role,
                   const char *division_code, int *revoked, char *err, size_t errlen) {
    char hash[crypto_pwhash_STRBYTES], code[13];
    int rc = -1;
    PGresult *res = NULL;
    if (!username || !*username || strlen(username) > 63) {
        snprintf(err, errlen, "username must be 1 to 63 bytes");
        return -1;
    }
    if (!auth_role_parse(role)) {
        snprintf(err, errlen,
                 "role must be one of patrol, community, dispatcher, supervisor, admin");
        return -1;
    }
    if (vocab_code12(division_code, 2, code) != 0) {
        snprintf(err, errlen, "division code must have 4, 6, 9 or 12 digits");
        return -1;
    }
    const char *p1[] = {code};
    if (!(res = db_exec(w, "SELECT 1 FROM divisions WHERE code = $1", 1, p1))) goto db_failed;
    if (PQntuples(res) == 0) {
        snprintf(err, errlen,
                 "no division with code %s: load the divisions first (patrold seed or"
                 " import-divisions)",
                 code);
        goto done;
    }
    PQclear(res);
    if (auth_hash_password(password, hash, sizeof hash) != 0) {
        snprintf(err, errlen, "cannot hash the password (out of memory?)");
        return -1;
    }
    /* One transaction: the user row, its sessions revoked (a changed password signs every device
     * out, and their event streams end) and its sign-in failures forgotten. */
    const char *p2[] = {username, hash, role, code};
    int n;
    if (db_begin(w) != 0 ||
        !(res =
              db_exec(w,
                      "WITH u AS (INSERT INTO users (username, password_hash, role, division_code)"
                      " VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO UPDATE SET"
                      " password_hash = EXCLUDED.password_hash, role = EXCLUDED.role,"
                      " division_code = EXCLUDED.division_code RETURNING id),"
                      " t AS (DELETE FROM login_throttle WHERE key = 'user:' || $1 RETURNING 1)"
                      " SELECT (SELECT id FROM u), (SELECT count(*) FROM t)",
                      4, p2)) ||
        (n = auth_revoke_sessions(w, strtoll(PQgetvalue(res, 0, 0), NULL, 10), 0)) < 0 ||
        db_commit(w) != 0)
        goto db_failed;
    if (revoked) *revoked = n;
    rc = 0;
    goto done;
db_failed:
    snprintf(err, errlen, "%s", w->err);
    db_rollback(w);
done:
    PQclear(res);
    return rc;
}

int auth_user_add(worker *w, const char *username, const char *password, const char *role,
                  const char *division_code, int *revoked, char *err, size_t errlen) {
    if (!password || auth_password_check(password, err, errlen) != 0) {
        if (!password) snprintf(err, errlen, "no password given");
        return -1;
    }
    return auth_user_save(w, username, password, role, division_code, revoked, err, errlen);
}

/* ---- the client's address ---- */
typedef struct {
    int v6;
    unsigned char b[16];
} ip_addr;

/* Parses s[0..n) (spaces around allowed) as one IPv4 or IPv6 address. Returns 0 or -1. */
static int ip_parse(const char *s, size_t n, ip_addr *ip) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char tmp[INET6_ADDRSTRLEN];
    while (n && *s == ' ')
        s++, n--;
    while (n && s[n - 1] == ' ')
        n--;
    if (n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    memset(ip, 0, sizeof *ip);
    if (inet_pton(AF_INET, tmp, ip->b) == 1) return 0;
    if (inet_pton(AF_INET6, tmp, ip->b) != 1) return -1;
    if (memcmp(ip->b, mapped, 12) == 0) { /* ::ffff:a.b.c.d is IPv4 */
        memmove(ip->b, ip->b + 12, 4);
        memset(ip->b + 4, 0, 12);
        return 0;
    }
    ip->v6 = 1;
    return 0;
}

static int ip_trusted(const ip_addr *ip, const char *trusted) {
    ip_addr t;
    for (const char *p = trusted; p && *p;) {
        size_t n = strcspn(p, ",");
        if (ip_parse(p, n, &t) == 0 && t.v6 == ip->v6 && memcmp(t.b, ip->b, 16) == 0) return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

void auth_client_addr(const char *peer, const char *xff, const char *xreal, const char *trusted,
                      char *out, size_t outlen) {
    ip_addr ip, fwd;
    char text[INET6_ADDRSTRLEN];
    if (ip_parse(peer ? peer : "", peer ? strlen(peer) : 0, &ip) != 0) {
        snprintf(out, outlen, "addr:unknown");
        return;
    }
    if (ip_trusted(&ip, trusted)) {
        int found = 0;
        /* X-Forwarded-For from the right: each trusted proxy appended the address it saw. */
        for (size_t end = xff ? strlen(xff) : 0; end > 0 && !found;) {
            size_t start = end;
            while (start > 0 && xff[start - 1] != ',')
                start--;
            if (ip_parse(xff + start, end - start, &fwd) != 0) break; /* not an address: stop */
            if (!ip_trusted(&fwd, trusted)) found = 1;
            end = start ? start - 1 : 0;
        }
        if (!found && !(xff && *xff) && xreal && ip_parse(xreal, strlen(xreal), &fwd) == 0)
            found = 1;
        if (found) ip = fwd;
    }
    if (ip.v6) memset(ip.b + 8, 0, 8); /* the /64 */
    inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.b, text, sizeof text);
    snprintf(out, outlen, "addr:%s%s", text, ip.v6 ? "/64" : "");
}
