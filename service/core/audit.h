/* audit.h - the audit trail (table `audit`, migrations 0003 and 0016): reads of personal data
 * (PIPL: who read which reports' person fields, photos or exports), sign-ins and password
 * changes, and administrative writes with the entity before and after; and GET /api/v1/audit for
 * supervisors (their division) and admins. Every row says who (as the user was then), when, from
 * which address and in which requests. */
#ifndef PATROLD_AUDIT_H
#define PATROLD_AUDIT_H

#include <stddef.h>

#include <jansson.h>

#include "service/core/auth.h"
#include "service/door/http.h"

/* Actions, kinds and entities are positions in their vocabularies (vocab.h: AA_*, AK_*, AE_*),
 * never spelled here: audit.c writes their codes. */

/* Who acted and from where: a request's user, a name that failed to sign in, or a command. */
typedef struct audit_actor {
    long long user_id;           /* 0: nobody (a failed sign-in, a command) */
    const char *username;        /* as typed for a failed sign-in; "system" or the command */
    const char *role;            /* "" when none */
    const char *division_code;   /* NULL when none */
    const char *request_id;      /* "" for a command */
    char address[AUTH_ADDR_LEN]; /* the client's address without "addr:", "" for a command */
} audit_actor;

/* The actor of r: its signed-in user (r->user) and its client address. */
void audit_actor_of(const http_req *r, audit_actor *a);

/* Records that r's user read the reports ids[0..n) by `action` (AA_*; n may be 0: the row still says
 * that the user looked), before the data goes out: answer http_db_error(r) when it fails (a read
 * that cannot be recorded is not served). One user's reads by one action in one minute are one
 * row: a later read adds its request id and the report ids it read to it, and its time becomes the
 * row's `at` (the console's refreshes do not flood the trail). In the caller's transaction if one is open, else on its own with
 * asynchronous commit (audit.c). Returns 0 or -1 (r->w->err). */
int audit_read(http_req *r, size_t action, const long long *ids, size_t n);

/* Records an administrative write `action` (AA_*) by a on `entity` (AE_*) `id` of division
 * `division` (NULL when none): the entity `before` (NULL for a creation) and `after` (borrowed
 * objects, as the API shows them). Call it in the transaction of the change, so both commit
 * together. Returns 0 or -1 (w->err). */
int audit_write(worker *w, const audit_actor *a, size_t action, size_t entity, long long id,
                const char *division, json_t *before, json_t *after);

/* Records a sign-in event (AA_AUTH_*: sign-in, failed sign-in, sign-out, password change, reset)
 * of a. Returns 0 or -1 (w->err). */
int audit_sign_in(worker *w, const audit_actor *a, size_t action);

/* Records a step of the service itself (no request, no user: username "system", role ""), kind
 * write: action on the reports ids_array (a SQL bigint[] literal, "{1,2}") of division (12 digits:
 * whose supervisors see the row). On w, in the caller's transaction if one is open, so the change
 * and its row commit together. Returns 0 or -1 (w->err). */
int audit_system(worker *w, size_t action, const char *division, const char *ids_array);

#endif
