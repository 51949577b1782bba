/* login.h - sign-in guarding (hashing slots, client address) and the session purge thread.
 * The sign-in routes themselves are in handlers.h. */
#ifndef PATROLD_LOGIN_H
#define PATROLD_LOGIN_H

#include <stddef.h>

#include "service/core/app.h"

enum {
    LOGIN_WAITERS_PER_SLOT = 4, /* at most this many sign-ins wait per hashing slot; more: busy */
    LOGIN_ADDR_LEN = 64,        /* "addr:" + an IPv4 address or an IPv6 /64 */
};

/* Takes one of `limit` process-wide hashing slots, waiting up to wait_ms when all are taken.
 * Returns 0 (call login_slot_release) or -1 when none came free in time or too many already
 * wait (then the caller answers 503 busy). Thread-safe. */
int login_slot_acquire(int limit, int wait_ms);
void login_slot_release(void);

/* The client's address, normalised, into out (LOGIN_ADDR_LEN bytes): the peer itself, or, when
 * the peer is listed in `trusted` (comma-separated addresses), the rightmost address of
 * X-Forwarded-For (xff, may be NULL) that is not itself trusted, else X-Real-IP (xreal). A
 * forwarded value that is not an address falls back to the peer. IPv6 addresses are cut to their
 * /64 (one household or phone has a whole /64). */
void login_client_addr(const char *peer, const char *xff, const char *xreal, const char *trusted,
                       char *out, size_t outlen);

/* Deletes sessions expired or revoked more than retention_s seconds ago, and sign-in failure
 * rows idle for a day and no longer blocking, through w's connection. Returns the number of
 * sessions deleted, or -1 (w->err says why). */
int login_purge_once(worker *w, int retention_s);

/* Background thread (services.c background[]): login_purge_once every session_purge_interval_s,
 * on its own connection, until a->stopping. Safe with several instances (plain DELETEs). */
void *login_purge_thread(void *arg);

#endif
