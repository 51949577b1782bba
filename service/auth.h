/* auth.h - roles, bearer tokens (stored as SHA-256 hashes), Argon2id passwords, division scope. */
#ifndef PATROLD_AUTH_H
#define PATROLD_AUTH_H

#include <stddef.h>

struct worker;

enum {
    ROLE_PATROL = 1u << 0,
    ROLE_COMMUNITY = 1u << 1,
    ROLE_DISPATCHER = 1u << 2,
    ROLE_SUPERVISOR = 1u << 3,
    ROLE_ADMIN = 1u << 4,
    ROLE_ANY = 0x1f, /* any signed-in user */
    ROLE_STAFF = ROLE_DISPATCHER | ROLE_SUPERVISOR | ROLE_ADMIN,
};

typedef struct auth_user {
    long long id; /* 0 = nobody signed in */
    char username[64];
    unsigned role;          /* one ROLE_* bit */
    char division_code[13]; /* 12 digits: bounds what the user may see and change */
    long long station_id;   /* 0 when none */
    long long unit_id;      /* 0 when none */
} auth_user;

/* "patrol" -> ROLE_PATROL ...; 0 when unknown. */
unsigned auth_role_parse(const char *name);
const char *auth_role_name(unsigned role);

/* Hashes a password with Argon2id (libsodium crypto_pwhash_str) into out (>= 128 bytes).
 * Returns 0 or -1. */
int auth_hash_password(const char *password, char *out, size_t outlen);

/* Looks up the bearer token. Returns 1 and fills *u when valid, 0 when missing, unknown, expired
 * or revoked, -1 on a database failure. */
int auth_check_token(struct worker *w, const char *token, auth_user *u);

/* The significant prefix of a 12-digit division code: 3207 for a city, 320706 for a county,
 * 320706001 for a town, all 12 for a community. Writes it to out (13 bytes). */
void auth_code_prefix(const char *code12, char *out);

/* 1 when `code12` (a division of some tier, or NULL/"" for outside every division) lies within
 * the user's division. Outside the city is visible only to city-wide users. */
int auth_in_scope(const auth_user *u, const char *code12);

/* Normalises a 4/6/9/12-digit division code to 12 digits. Returns 0 or -1 when malformed. */
int auth_code12(const char *in, char out[13]);

/* Creates a user (command line and seed). Returns 0 or -1 with err. */
int auth_user_add(struct worker *w, const char *username, const char *password, const char *role,
                  const char *division_code, char *err, size_t errlen);

#endif
