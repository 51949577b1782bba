/* auth.h - roles, bearer tokens (stored as SHA-256 hashes), Argon2id passwords, division scope. */
#ifndef PATROLD_AUTH_H
#define PATROLD_AUTH_H

#include <stddef.h>

#include "service/core/vocab.h"

struct worker;

enum {
    ROLE_PATROL = 1u << 0,
    ROLE_COMMUNITY = 1u << 1,
    ROLE_DISPATCHER = 1u << 2,
    ROLE_SUPERVISOR = 1u << 3,
    ROLE_ADMIN = 1u << 4,
    ROLE_ANY = 0x1f, /* any signed-in user */
    ROLE_STAFF = ROLE_DISPATCHER | ROLE_SUPERVISOR | ROLE_ADMIN,
    ROLE_FIELD = ROLE_PATROL | ROLE_COMMUNITY, /* the roles a patrol unit is made of */
};

typedef struct auth_user {
    long long id; /* 0 = nobody signed in */
    char username[64];
    unsigned role;             /* one ROLE_* bit */
    char division_code[13];    /* 12 digits: bounds what the user may see and change */
    long long station_id;      /* 0 when none */
    long long unit_id;         /* 0 when none */
    long long session_id;      /* the session the request came with (sessions.id); 0 when none */
    long long session_expires; /* that session's expiry, Unix seconds; 0 when none */
} auth_user;

/* "patrol" -> ROLE_PATROL ...; 0 when unknown. */
unsigned auth_role_parse(const char *name);
const char *auth_role_name(unsigned role);

/* Passwords set through the API or `user add` (the demo seed's `demo` is demo data). */
enum { AUTH_PASSWORD_MIN = 10 /* characters */, AUTH_PASSWORD_MAX = 1024 /* bytes */ };

/* "\\x" + 64 hex digits + NUL: the bytea parameter form of a token's SHA-256. */
enum { AUTH_TOKEN_HASH_LEN = 2 + 64 + 1 };

/* Hashes a password with Argon2id (libsodium crypto_pwhash_str, 64 MiB) into out (>= 128 bytes).
 * Returns 0 or -1. */
int auth_hash_password(const char *password, char *out, size_t outlen);

/* 1 when password matches hash, else 0. hash NULL (an unknown user) checks against a placeholder
 * hash made once per process (pthread_once) and returns 0, so the time taken does not tell
 * whether the user exists. Costs one Argon2id computation (64 MiB): callers bound how many run
 * at once (login.c). */
int auth_verify_password(const char *hash, const char *password);

/* The password policy for new passwords: at least AUTH_PASSWORD_MIN characters (UTF-8),
 * at most AUTH_PASSWORD_MAX bytes. Returns 0, or -1 with a message for people in err. */
int auth_password_check(const char *password, char *err, size_t errlen);

/* The bytea text form ("\\x" + hex) of SHA-256(token), as sessions.token_hash is stored. */
void auth_token_hash(const char *token, char out[AUTH_TOKEN_HASH_LEN]);

/* Looks up the bearer token. Returns 1 and fills *u when valid, 0 when missing, unknown, expired
 * or revoked, -1 on a database failure. */
int auth_check_token(struct worker *w, const char *token, auth_user *u);

/* Like auth_check_token for the session with id `session_id` (decimal text): 1 and *u (session
 * fields included) while the session is neither revoked nor expired and its user enabled, 0 when
 * not, -1 on a database failure. Stream tokens are bound to a session this way. */
int auth_check_session(struct worker *w, const char *session_id, auth_user *u);

/* Revokes every live session of user `user_id`, or the one session `session_id` (the other 0),
 * and appends one `session.revoked` event per session (events.h), in the caller's transaction if
 * one is open: every instance's event reader then ends the streams of those sessions. The one way
 * sessions are revoked (sign-out, password change, `user add`, disabling a user). Returns the
 * number of sessions revoked, or -1 (w->err). */
int auth_revoke_sessions(struct worker *w, long long user_id, long long session_id);

/* The client's address, normalised, into out (AUTH_ADDR_LEN bytes): "addr:" and the peer itself,
 * or, when the peer is listed in `trusted` (comma-separated addresses), the rightmost address of
 * X-Forwarded-For (xff, may be NULL) that is not itself trusted, else X-Real-IP (xreal). A
 * forwarded value that is not an address falls back to the peer. IPv6 addresses are cut to their
 * /64 (one household or phone has a whole /64). Sign-in throttling and the audit trail use it. */
enum { AUTH_ADDR_LEN = 64 /* "addr:" + an IPv4 address or an IPv6 /64 */ };
void auth_client_addr(const char *peer, const char *xff, const char *xreal, const char *trusted,
                      char *out, size_t outlen);

/* Loads the enabled user with id `id` (decimal text). Returns 1 found, 0 not (or disabled), -1
 * database failure (w->err). */
int auth_user_by_id(struct worker *w, const char *id, auth_user *u);

/* 1 when `code12` (a division of some tier, or NULL/"" for outside every division) lies within
 * the user's division. Outside the city is visible only to city-wide users. */
int auth_in_scope(const auth_user *u, const char *code12);

/* THE visibility rule of a report (one home: this and its SQL twin AUTH_REPORT_VISIBLE_SQL): 1
 * when user u made the report (created_by = u->id, 0 for nobody: a patrol that reported across
 * its county line still sees its own report, on the map and the event stream too) or the report
 * lies in u's division (auth_in_scope of its most local code, NULL/"" outside every division).
 * Lists, reads, exports, photos, tiles, the event stream and duplicate candidates all use it; a
 * report not visible is answered as missing. */
int auth_report_visible(const auth_user *u, long long created_by, const char *code12);

/* The most local division code of a reports row aliased X, in SQL (NULL outside every division):
 * the one spelling of it (events, lists, tiles, visibility). */
#define AUTH_MOST_LOCAL(X)                                                                         \
    "coalesce(" X ".community_code, " X ".town_code, " X ".county_code, " X ".city_code)"

/* auth_report_visible() in SQL for a reports row aliased X: P is a text parameter holding the
 * user's significant division prefix (vocab_code_prefix), U a bigint parameter holding the user's
 * id. With both NULL nothing is visible. Keep the two in step. */
#define AUTH_REPORT_VISIBLE_SQL(X, P, U)                                                           \
    "(" X ".created_by = " U "::bigint OR " VOCAB_CODE_WITHIN_SQL(AUTH_MOST_LOCAL(X), P) ")"

/* Creates or updates (by username) a user after checking the password policy (`user add`).
 * Updating revokes every session of the user and forgets its sign-in failures; *revoked (may be
 * NULL) gets the number of sessions revoked. An unknown division is a message, not a database
 * error. Returns 0 or -1 with err. */
int auth_user_add(struct worker *w, const char *username, const char *password, const char *role,
                  const char *division_code, int *revoked, char *err, size_t errlen);

/* auth_user_add without the password policy: only for the demo seed's `demo` password. */
int auth_user_save(struct worker *w, const char *username, const char *password, const char *role,
                   const char *division_code, int *revoked, char *err, size_t errlen);

#endif
