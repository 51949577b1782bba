/* login.c - sign-in, sign-out, password change and session upkeep, guarded against guessing.
 *
 * Guessing: failed sign-ins are counted per user name (known or not, so the answers never tell
 * which names exist) and per client address in the login_throttle table, shared by every
 * instance. After login_max_failures failures a name must wait login_backoff_s, doubling with
 * each further failure up to login_backoff_max_s; a success resets it. An address with
 * login_address_limit failures in its current minute waits for the minute's end. Both answer
 * 429 too_many_attempts with Retry-After, before any password hashing.
 *
 * Memory: an Argon2id check takes 64 MiB, so at most login_concurrency run at once in a process
 * (a counting semaphore); a few more sign-ins wait up to login_wait_ms, the rest get 503 busy
 * with Retry-After. Threads: any worker thread; the semaphore is the only shared state here. */
#include "service/admin/login.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "service/core/audit.h"
#include "service/core/db.h"
#include "service/core/server.h"
#include "service/door/handlers.h"

/* ---- hashing slots: a counting semaphore with a bounded wait and a bounded queue ---- */
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cv = PTHREAD_COND_INITIALIZER;
static int slots_busy, slots_waiting;

int login_slot_acquire(int limit, int wait_ms) {
    struct timespec until;
    int rc = 0;
    if (limit < 1) limit = 1;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&slot_mu);
    if (slots_busy >= limit && slots_waiting >= limit * LOGIN_WAITERS_PER_SLOT) {
        rc = -1;
    } else {
        slots_waiting++;
        while (slots_busy >= limit && rc == 0)
            if (pthread_cond_timedwait(&slot_cv, &slot_mu, &until) != 0 && slots_busy >= limit)
                rc = -1;
        slots_waiting--;
        if (rc == 0) slots_busy++;
    }
    pthread_mutex_unlock(&slot_mu);
    return rc;
}

void login_slot_release(void) {
    pthread_mutex_lock(&slot_mu);
    slots_busy--;
    pthread_cond_signal(&slot_cv);
    pthread_mutex_unlock(&slot_mu);
}

/* ---- throttling, in the login_throttle table ---- */

/* Seconds the name or the address must still wait (0 = go ahead), or -1 on a database error. */
static int throttle_wait(worker *w, const char *ukey, const char *akey) {
    const char *params[] = {ukey, akey};
    PGresult *res = db_exec(w,
                            "SELECT coalesce(max(ceil(extract(epoch FROM blocked_until - now()))),"
                            " 0)::int FROM login_throttle WHERE key IN ($1, $2)"
                            " AND blocked_until > now()",
                            2, params);
    if (!res) return -1;
    int wait = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return wait > 0 ? wait : 0;
}

/* Counts one failure of the name (ukey, may be NULL) and of the address. Returns 0 or -1. */
static int throttle_fail(worker *w, const config *c, const char *ukey, const char *akey) {
    char max[16], base[16], cap[16], limit[16];
    snprintf(max, sizeof max, "%d", c->login_max_failures);
    snprintf(base, sizeof base, "%d", c->login_backoff_s);
    snprintf(cap, sizeof cap, "%d", c->login_backoff_max_s);
    snprintf(limit, sizeof limit, "%d", c->login_address_limit);
    if (ukey && c->login_max_failures > 0) {
        const char *p[] = {ukey, max, base, cap};
        if (db_command(
                w,
                "INSERT INTO login_throttle AS t (key, failures, blocked_until) VALUES ($1, 1,"
                " CASE WHEN $2::int <= 1 THEN now() + make_interval(secs => least($3::int,"
                " $4::int)) END)"
                " ON CONFLICT (key) DO UPDATE SET failures = t.failures + 1, updated_at = now(),"
                " blocked_until = CASE WHEN t.failures + 1 >= $2::int THEN now() + make_interval("
                "secs => least($3::int * power(2, least(t.failures + 1 - $2::int, 30)), $4::int))"
                " ELSE t.blocked_until END",
                4, p) != 0)
            return -1;
    }
    if (c->login_address_limit > 0) {
        const char *p[] = {akey, limit};
        if (db_command(
                w,
                "INSERT INTO login_throttle AS t (key, failures, blocked_until) VALUES ($1, 1,"
                " CASE WHEN $2::int <= 1 THEN now() + interval '1 minute' END)"
                " ON CONFLICT (key) DO UPDATE SET updated_at = now(),"
                " failures = CASE WHEN t.window_start < now() - interval '1 minute' THEN 1"
                " ELSE t.failures + 1 END,"
                " window_start = CASE WHEN t.window_start < now() - interval '1 minute' THEN now()"
                " ELSE t.window_start END,"
                " blocked_until = CASE WHEN t.window_start < now() - interval '1 minute'"
                " THEN CASE WHEN $2::int <= 1 THEN now() + interval '1 minute' END"
                " WHEN t.failures + 1 >= $2::int THEN t.window_start + interval '1 minute'"
                " ELSE t.blocked_until END",
                2, p) != 0)
            return -1;
    }
    return 0;
}

/* A right password: the name's failures are forgotten. */
static int throttle_reset(worker *w, const char *ukey) {
    const char *p[] = {ukey};
    return db_command(w, "DELETE FROM login_throttle WHERE key = $1", 1, p);
}

/* Sends a JSON error with Retry-After: seconds. Returns status. */
static int reply_retry(http_req *r, int status, const char *code, int seconds, const char *msg) {
    return http_error_retry(r, status, seconds > 0 ? seconds : 1, code, NULL, "%s", msg);
}

static int too_many(http_req *r, int seconds) {
    return reply_retry(r, 429, "too_many_attempts", seconds,
                       "too many failed sign-ins; wait Retry-After seconds");
}

/* The throttling keys of a request: "user:<name>" and "addr:<client>". */
static void throttle_keys(http_req *r, const char *username, char *ukey, size_t ulen, char *akey,
                          size_t alen) {
    snprintf(ukey, ulen, "user:%s", username);
    auth_client_addr(r->ri->remote_addr, http_header(r, "X-Forwarded-For"),
                     http_header(r, "X-Real-IP"), r->app->cfg.trusted_proxies, akey, alen);
}

/* The Argon2 work of a request, in a hashing slot, with the request's database slot lent back to
 * the pool meanwhile (so slow guesses cannot hold every connection): checks password against hash
 * (NULL: an unknown user) and, when it matches and next is not NULL, hashes next into newhash
 * (*hashed = 1 on success). Returns 1 (match), 0 (no match), -1 when no hashing slot came free in
 * time, or -2 when no database slot came back (the 503 is sent). */
static int check_in_slot(http_req *r, const char *hash, const char *password, const char *next,
                         char *newhash, size_t len, int *hashed) {
    const config *c = &r->app->cfg;
    int ok = -1;
    http_release_worker(r);
    if (login_slot_acquire(c->login_concurrency, c->login_wait_ms) == 0) {
        ok = auth_verify_password(hash, password);
        if (ok && next) *hashed = auth_hash_password(next, newhash, len) == 0;
        login_slot_release();
    }
    return http_borrow_worker(r) != 0 ? -2 : ok;
}

int login_hash_password(http_req *r, const char *password, char *out, size_t len) {
    const config *c = &r->app->cfg;
    int ok = -1;
    http_release_worker(r);
    if (login_slot_acquire(c->login_concurrency, c->login_wait_ms) == 0) {
        ok = auth_hash_password(password, out, len) == 0;
        login_slot_release();
    }
    if (http_borrow_worker(r) != 0) return r->status;
    if (ok < 0) return reply_retry(r, 503, "busy", 1, "too many passwords at once; try again");
    return ok ? 0
              : http_error(r, 500, "internal", NULL, "cannot hash the password (out of memory)");
}

/* Records the sign-in event `action` of r by the user (id 0: a name that failed to sign in). */
static int audit_auth(http_req *r, size_t action, long long id, const char *username,
                      const char *role, const char *division) {
    audit_actor a;
    audit_actor_of(r, &a);
    a.user_id = id, a.username = username, a.role = role, a.division_code = division;
    return audit_sign_in(r->w, &a, action);
}

/* After the check: busy when it could not run, else the throttle again (others may have failed
 * meanwhile; their wait holds for this attempt too, right or wrong, and it is not counted).
 * Returns 0 to go on, or the status sent. */
static int after_check(http_req *r, int ok, const char *ukey, const char *akey) {
    if (ok == -2) return r->status;
    if (ok < 0)
        return reply_retry(r, 503, "busy", 1, "too many sign-ins at once; try again shortly");
    int wait = throttle_wait(r->w, ukey, akey);
    return wait == 0 ? 0 : wait < 0 ? http_db_error(r) : too_many(r, wait);
}

/* The user's unit (users.unit_id, its current membership): a new integer, or null for 0. */
static json_t *unit_id_json(long long unit_id) {
    return unit_id ? json_integer(unit_id) : json_null();
}

/* The name of the division of a users row (User.division_name; NULL when the code is none). */
#define DIVISION_NAME_SQL                                                                          \
    "(SELECT d.name FROM divisions d WHERE d.code = users.division_code) AS division_name"

/* POST /api/v1/auth/login {"username","password"} */
int h_auth_login(http_req *r) {
    const char *username = json_string_value(json_object_get(r->json, "username"));
    const char *password = json_string_value(json_object_get(r->json, "password"));
    char ukey[80], akey[AUTH_ADDR_LEN], token[65], hash[AUTH_TOKEN_HASH_LEN], ttl[32];
    PGresult *res = NULL, *ins = NULL;
    int rc;
    int valid_name = *username && strlen(username) <= 63; /* no user has another name */
    throttle_keys(r, valid_name ? username : "", ukey, sizeof ukey, akey, sizeof akey);
    int wait = throttle_wait(r->w, ukey, akey);
    if (wait) return wait < 0 ? http_db_error(r) : too_many(r, wait);
    if (!valid_name) goto wrong;
    const char *p1[] = {username};
    if (!(res = db_exec(r->w,
                        "SELECT id, password_hash, role, division_code, unit_id, " DIVISION_NAME_SQL
                        " FROM users WHERE username = $1 AND NOT disabled",
                        1, p1)))
        return http_db_error(r);
    int found = PQntuples(res) == 1;
    int ok = check_in_slot(r, found ? PQgetvalue(res, 0, 1) : NULL, password, NULL, NULL, 0, NULL);
    if ((rc = after_check(r, ok, ukey, akey)) != 0) goto done;
    if (!ok) goto wrong;
    if (throttle_reset(r->w, ukey) != 0) goto db_failed;

    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(token, sizeof token, raw, sizeof raw);
    auth_token_hash(token, hash);
    snprintf(ttl, sizeof ttl, "%d", r->app->cfg.token_ttl_s);
    /* Only while the password is still the one checked: a change meanwhile signs this out too. */
    const char *p2[] = {hash, PQgetvalue(res, 0, 0), ttl, PQgetvalue(res, 0, 1)};
    if (!(ins = db_exec(
              r->w,
              "INSERT INTO sessions (token_hash, user_id, expires_at)"
              " SELECT $1::bytea, id, now() + make_interval(secs => $3::int) FROM users"
              " WHERE id = $2 AND password_hash = $4 AND NOT disabled"
              " RETURNING to_json(date_trunc('second', sessions.expires_at)) #>> '{}' AS expires_at",
              4, p2)))
        goto db_failed;
    if (PQntuples(ins) != 1) goto wrong;
    long long uid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    if (audit_auth(r, AA_AUTH_LOGIN, uid, username, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3)))
        goto db_failed;
    json_t *out = json_pack(
        "{s:s,s:s,s:{s:I,s:s,s:s,s:s,s:o,s:o}}", "token", token, "expires_at",
        PQgetvalue(ins, 0, 0), "user", "id", (json_int_t)uid, "username", username, "role",
        PQgetvalue(res, 0, 2), "division_code", PQgetvalue(res, 0, 3), "division_name",
        PQgetisnull(res, 0, 5) ? json_null() : json_string(PQgetvalue(res, 0, 5)), "unit_id",
        unit_id_json(PQgetisnull(res, 0, 4) ? 0 : strtoll(PQgetvalue(res, 0, 4), NULL, 10)));
    rc = http_json(r, 200, out);
    goto done;
wrong:
    if (throttle_fail(r->w, &r->app->cfg, valid_name ? ukey : NULL, akey) != 0 ||
        audit_auth(r, AA_AUTH_LOGIN_FAILED, 0, username, "", NULL) != 0)
        goto db_failed;
    rc = http_error(r, 401, "invalid_credentials", NULL, "wrong username or password");
    goto done;
db_failed:
    rc = http_db_error(r);
done:
    PQclear(ins);
    PQclear(res);
    return rc;
}

/* POST /api/v1/auth/password {"current_password","new_password"}: sets a new password and
 * revokes every session of the user, the one used included: the client signs in again. */
int h_auth_password(http_req *r) {
    const char *current = json_string_value(json_object_get(r->json, "current_password"));
    const char *next = json_string_value(json_object_get(r->json, "new_password"));
    char ukey[80], akey[AUTH_ADDR_LEN], msg[128], newhash[crypto_pwhash_STRBYTES];
    PGresult *res = NULL;
    int rc;
    if (auth_password_check(next, msg, sizeof msg) != 0)
        return http_error(r, 400, "weak_password", "new_password", "%s", msg);
    if (strcmp(current, next) == 0)
        return http_error(r, 400, "weak_password", "new_password",
                          "the new password must differ from the current one");
    throttle_keys(r, r->user.username, ukey, sizeof ukey, akey, sizeof akey);
    int wait = throttle_wait(r->w, ukey, akey);
    if (wait) return wait < 0 ? http_db_error(r) : too_many(r, wait);
    char id[24];
    snprintf(id, sizeof id, "%lld", r->user.id);
    const char *p1[] = {id};
    if (!(res = db_exec(r->w, "SELECT password_hash FROM users WHERE id = $1", 1, p1)))
        return http_db_error(r);
    if (PQntuples(res) != 1) {
        rc = http_error(r, 401, "unauthorized", NULL, "the token is unknown, expired or revoked");
        goto done;
    }
    int hashed = 0;
    int ok =
        check_in_slot(r, PQgetvalue(res, 0, 0), current, next, newhash, sizeof newhash, &hashed);
    if ((rc = after_check(r, ok, ukey, akey)) != 0) goto done;
    if (!ok) {
        if (throttle_fail(r->w, &r->app->cfg, ukey, akey) != 0) goto db_failed;
        rc = http_error(r, 403, "invalid_credentials", "current_password",
                        "the current password is wrong");
        goto done;
    }
    if (!hashed) {
        rc = http_error(r, 500, "internal", NULL, "cannot hash the password (out of memory)");
        goto done;
    }
    /* One transaction: the password, every session of the user revoked (their streams end) and
     * its sign-in failures forgotten; only while the password is still the one checked. */
    const char *p2[] = {id, newhash, PQgetvalue(res, 0, 0), ukey};
    if (db_begin(r->w) != 0) goto db_failed;
    PGresult *upd = db_exec(
        r->w,
        "WITH u AS (UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3"
        " RETURNING id),"
        " t AS (DELETE FROM login_throttle WHERE key = $4 AND EXISTS (SELECT 1 FROM u)"
        " RETURNING 1)"
        " SELECT count(*) FROM u",
        4, p2);
    if (!upd) goto db_failed;
    int changed = atoi(PQgetvalue(upd, 0, 0)), revoked = 0;
    PQclear(upd);
    if ((changed && ((revoked = auth_revoke_sessions(r->w, r->user.id, 0)) < 0 ||
                     audit_auth(r, AA_AUTH_PASSWORD, r->user.id, r->user.username,
                                auth_role_name(r->user.role), r->user.division_code) != 0)) ||
        db_commit(r->w) != 0)
        goto db_failed;
    if (!changed)
        rc = http_error(r, 409, "password_changed", NULL,
                        "the password was changed meanwhile; sign in again");
    else
        rc = http_json(r, 200,
                       json_pack("{s:b,s:i,s:s}", "changed", 1, "revoked_sessions", revoked,
                                 "message",
                                 "password changed; every session was signed out:"
                                 " sign in again with the new password"));
    goto done;
db_failed:
    db_rollback(r->w); /* before replying: the reply gives the slot back */
    rc = http_db_error(r);
done:
    PQclear(res);
    return rc;
}

/* POST /api/v1/auth/logout: revokes the session the request was made with (its streams end). */
int h_auth_logout(http_req *r) {
    if (db_begin(r->w) != 0 || auth_revoke_sessions(r->w, 0, r->user.session_id) < 0 ||
        audit_auth(r, AA_AUTH_LOGOUT, r->user.id, r->user.username, auth_role_name(r->user.role),
                   r->user.division_code) != 0 ||
        db_commit(r->w) != 0) {
        db_rollback(r->w);
        return http_db_error(r);
    }
    return http_send(r, 204, NULL, "", 0, NULL);
}

/* GET /api/v1/auth/me: the user, with its unit (users.unit_id now; null when none) and the name
 * of its division (the console's header; null when the code is no division). */
int h_auth_me(http_req *r) {
    const char *p[] = {r->user.division_code};
    PGresult *q = db_exec(
        r->w, "SELECT " DIVISION_NAME_SQL " FROM (SELECT $1::text AS division_code) users", 1, p);
    if (!q) return http_db_error(r);
    json_t *name = PQgetisnull(q, 0, 0) ? json_null() : json_string(PQgetvalue(q, 0, 0));
    PQclear(q);
    return http_json(r, 200,
                     json_pack("{s:I,s:s,s:s,s:s,s:o,s:o}", "id", (json_int_t)r->user.id,
                               "username", r->user.username, "role", auth_role_name(r->user.role),
                               "division_code", r->user.division_code, "division_name", name,
                               "unit_id", unit_id_json(r->user.unit_id)));
}

/* A reset code's candidate: the user of `username` whose live code has the hash `hash`. Returns
 * 1 with its id in uid, 0 none, -1. */
static int reset_user(worker *w, const char *username, const char *hash, char uid[24]) {
    const char *p[] = {username, hash};
    PGresult *q = db_exec(w,
                          "SELECT c.user_id FROM reset_codes c JOIN users u ON u.id = c.user_id"
                          " WHERE u.username = $1::text AND c.code_hash = $2::bytea"
                          " AND c.expires_at > now() AND NOT u.disabled",
                          2, p);
    if (!q) return -1;
    int found = PQntuples(q) == 1;
    if (found) snprintf(uid, 24, "%s", PQgetvalue(q, 0, 0));
    PQclear(q);
    return found;
}

/* The redemption, once the new password is hashed: the code used up (only if still there), the
 * password, the name's failures forgotten, every session revoked, the audit row; one transaction.
 * Returns the number of sessions revoked, -2 when the code went meanwhile, -1 (w->err). */
static int reset_apply(http_req *r, const char *uid, const char *hash, const char *newhash,
                       const char *ukey, const char *username) {
    const char *p[] = {uid, hash, newhash, ukey};
    if (db_begin(r->w) != 0) return -1;
    PGresult *q = db_exec(r->w,
                          "WITH c AS (DELETE FROM reset_codes WHERE user_id = $1::bigint AND"
                          " code_hash = $2::bytea AND expires_at > now() RETURNING user_id),"
                          " u AS (UPDATE users SET password_hash = $3::text WHERE id IN (SELECT"
                          " user_id FROM c) RETURNING role, division_code),"
                          " t AS (DELETE FROM login_throttle WHERE key = $4::text AND EXISTS"
                          " (SELECT 1 FROM u)) SELECT role, division_code FROM u",
                          4, p);
    if (!q) return -1;
    int n = -2;
    if (PQntuples(q) == 1 && (n = auth_revoke_sessions(r->w, strtoll(uid, NULL, 10), 0)) >= 0 &&
        audit_auth(r, AA_AUTH_RESET, strtoll(uid, NULL, 10), username, PQgetvalue(q, 0, 0),
                   PQgetvalue(q, 0, 1)) != 0)
        n = -1;
    PQclear(q);
    return n;
}

/* POST /api/v1/auth/reset {"username", "code", "new_password"}: a one-time code from an
 * administrator (POST /api/v1/users/{id}/reset-code) sets a new password; guessing is throttled
 * like sign-in (per name and per address), and every session of the user is revoked. */
int h_auth_reset(http_req *r) {
    const char *username = json_string_value(json_object_get(r->json, "username"));
    const char *code = json_string_value(json_object_get(r->json, "code"));
    const char *next = json_string_value(json_object_get(r->json, "new_password"));
    char ukey[80], akey[AUTH_ADDR_LEN], msg[128], hash[AUTH_TOKEN_HASH_LEN], uid[24], up[65];
    char newhash[crypto_pwhash_STRBYTES];
    int rc;
    if (auth_password_check(next, msg, sizeof msg) != 0)
        return http_error(r, 400, "weak_password", "new_password", "%s", msg);
    throttle_keys(r, username, ukey, sizeof ukey, akey, sizeof akey);
    int wait = throttle_wait(r->w, ukey, akey), found = 0;
    if (wait) return wait < 0 ? http_db_error(r) : too_many(r, wait);
    size_t n = strlen(code) < sizeof up ? strlen(code) : sizeof up - 1;
    for (size_t i = 0; i < n;
         i++) /* codes are upper case: a code typed in lower case is the same */
        up[i] = (char)(code[i] >= 'a' && code[i] <= 'z' ? code[i] - 32 : code[i]);
    up[n] = 0;
    auth_token_hash(up, hash);
    if ((found = reset_user(r->w, username, hash, uid)) < 0) return http_db_error(r);
    if (found && (rc = login_hash_password(r, next, newhash, sizeof newhash)) != 0) return rc;
    int revoked = found ? reset_apply(r, uid, hash, newhash, ukey, username) : -2;
    if (revoked == -1 || (revoked >= 0 && db_commit(r->w) != 0)) {
        db_rollback(r->w);
        return http_db_error(r);
    }
    if (revoked >= 0)
        return http_json(r, 200,
                         json_pack("{s:b,s:i,s:s}", "changed", 1, "revoked_sessions", revoked,
                                   "message", "password set; sign in with the new password"));
    db_rollback(r->w);
    if (throttle_fail(r->w, &r->app->cfg, *username && strlen(username) <= 63 ? ukey : NULL,
                      akey) != 0 ||
        audit_auth(r, AA_AUTH_RESET_FAILED, 0, username, "", NULL) != 0)
        return http_db_error(r);
    return http_error(r, 400, "invalid_reset_code", "code",
                      "the code is wrong, used or expired: ask for a new one");
}

/* ---- purging ---- */
int login_purge_once(worker *w, int retention_s) {
    char keep[16];
    snprintf(keep, sizeof keep, "%d", retention_s);
    const char *p[] = {keep};
    PGresult *res = db_exec(
        w,
        "WITH s AS (DELETE FROM sessions WHERE expires_at < now() - make_interval(secs => $1::int)"
        " OR revoked_at < now() - make_interval(secs => $1::int) RETURNING 1),"
        " t AS (DELETE FROM login_throttle WHERE updated_at < now() - interval '1 day'"
        " AND (blocked_until IS NULL OR blocked_until < now()) RETURNING 1)"
        " SELECT (SELECT count(*) FROM s)",
        1, p);
    if (!res) return -1;
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

void *login_purge_thread(void *arg) {
    app *a = arg;
    worker w = {.app = a};
    int interval = a->cfg.session_purge_interval_s;
    if (interval <= 0) return NULL;
    if (interval > 86400) interval = 86400;
    do {
        int n = login_purge_once(&w, a->cfg.session_retention_s);
        if (n < 0)
            fprintf(stderr, "session purge: %s\n", w.err);
        else if (n > 0)
            fprintf(stderr, "session purge: %d old session(s) deleted\n", n);
    } while (!server_sleep(a, interval * 1000));
    db_disconnect(&w);
    return NULL;
}
