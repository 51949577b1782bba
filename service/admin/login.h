/* login.h - sign-in guarding (hashing slots, client address) and the session purge thread.
 * The sign-in routes themselves are in handlers.h. */
#ifndef PATROLD_LOGIN_H
#define PATROLD_LOGIN_H

#include <stddef.h>

#include "service/core/app.h"

struct http_req;

enum {
    LOGIN_WAITERS_PER_SLOT = 4, /* at most this many sign-ins wait per hashing slot; more: busy */
};

/* Takes one of `limit` process-wide hashing slots, waiting up to wait_ms when all are taken.
 * Returns 0 (call login_slot_release) or -1 when none came free in time or too many already
 * wait (then the caller answers 503 busy). Thread-safe. */
int login_slot_acquire(int limit, int wait_ms);
void login_slot_release(void);

/* Hashes a new password (Argon2id) into out (crypto_pwhash_STRBYTES) in a hashing slot, with r's
 * pool slot lent back meanwhile, as sign-in does. Returns 0 with r->w set again, or the status of
 * the answer sent (503 busy, or no slot came back). */
int login_hash_password(struct http_req *r, const char *password, char *out, size_t len);

/* Deletes sessions expired or revoked more than retention_s seconds ago, and sign-in failure
 * rows idle for a day and no longer blocking, through w's connection. Returns the number of
 * sessions deleted, or -1 (w->err says why). */
int login_purge_once(worker *w, int retention_s);

/* Background thread (services.c background[]): login_purge_once every session_purge_interval_s,
 * on its own connection, until a->stopping. Safe with several instances (plain DELETEs). */
void *login_purge_thread(void *arg);

#endif
