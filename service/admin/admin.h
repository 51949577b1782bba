/* admin.h - what the administration routes (stations, agencies, units, shifts, users) share: who
 * may administer what, the one shape of an administrative write (lock, check, write, audit before
 * and after, commit, reply), and small readers of a checked body and of result rows.
 *
 * Scope: an admin acts anywhere; a supervisor (or, for units and shifts, a dispatcher) acts inside
 * its division only; anything outside looks missing (404). A role is granted only by a user of at
 * least that rank (roles in VOCAB_ROLE order: patrol < community < dispatcher < supervisor <
 * admin; only admins make admins).
 *
 * Step functions of a write return 0 (go on), -1 (a database failure: w->err) or the HTTP status
 * of the answer they sent (the transaction is still open: admin_end rolls it back). */
#ifndef PATROLD_ADMIN_H
#define PATROLD_ADMIN_H

#include <jansson.h>
#include <libpq-fe.h>

#include "service/door/http.h"

/* The rank of a role bit: patrol 0 ... admin 4. */
int admin_rank(unsigned role);

/* 1 when u may grant `role` (not above its own rank). */
int admin_may_grant(const auth_user *u, unsigned role);

/* 1 when a division code (12 digits) lies within u's division. */
int admin_in_scope(const auth_user *u, const char *code12);

/* 1 when two divisions are one inside the other (the same county line): a member and its unit. */
int admin_nested(const char *a12, const char *b12);

/* Ends a write that did not commit: rc -1 rolls back and answers http_db_error, rc > 0 (an answer
 * already sent inside the transaction) rolls back. Returns the status sent. */
int admin_end(http_req *r, int rc);

/* Commits and answers `status` with `reply` (stolen). A failed commit is a db error. */
int admin_commit_reply(http_req *r, int status, json_t *reply);

/* Audits the administrative write `action` (AA_*) on `entity` (AE_*) id (division: its division,
 * may be NULL) by r's user: before (NULL for a creation) and after, both borrowed. 0 or -1. */
int admin_audit(http_req *r, size_t action, size_t entity, long long id, const char *division,
                json_t *before, json_t *after);

/* The end of an administrative write whose row was read back into after (got: that read's 1, 0
 * or -1): audited with before (borrowed), committed and answered status with after (stolen).
 * A read that found nothing or a failed audit is a db error, rolled back. */
int admin_audited_reply(http_req *r, int status, size_t action, size_t entity, long long id,
                        const char *division, json_t *before, int got, json_t *after);

/* The state of optional field `name` of the checked body: 0 absent, 1 null, 2 a value. */
int admin_field(http_req *r, const char *name);

/* The 12-digit division of the checked body's field `name` (the door checked its form) into out.
 * 0, or -1 when absent. */
int admin_division_field(http_req *r, const char *name, char out[13]);

/* Value of row i, column c, or NULL when SQL NULL. */
const char *admin_val(PGresult *res, int i, int c);

/* JSON of a result cell: a string, an integer, a boolean ('t') or a JSON text; null when NULL. */
json_t *admin_str(PGresult *res, int i, int c);
json_t *admin_int(PGresult *res, int i, int c);
json_t *admin_bool(PGresult *res, int i, int c);
json_t *admin_json(PGresult *res, int i, int c);

/* "%lld" of v into out (24 bytes). Returns out. */
char *admin_id(long long v, char out[24]);

/* The next-page cursor of a list: the id in column 0 of row `last` (tag: the spec's), or null when
 * there is no more. */
json_t *admin_next(PGresult *res, int last, int more, const char *tag);

/* A row of a result as the API shows it. */
typedef json_t *(*admin_row_fn)(PGresult *res, int i);

/* Runs `sql` (static text, one parameter: the id) and makes its one row with `row` into *out.
 * Returns 1, 0 when there is no such row, -1 (w->err). */
int admin_one(worker *w, const char *sql, long long id, admin_row_fn row, json_t **out);

/* The LIKE pattern of a list's divisions into like (16 bytes): the user's division, or the
 * query's `division` inside it (outside it: nothing matches, as if the list were empty). */
void admin_scope_like(http_req *r, char like[16]);

/* Answers a page of rows made by `row`: {"items": [...], "next": cursor of tag or null}; the
 * query asked for limit + 1 rows (one more: there is a next page). Clears q. */
int admin_page(http_req *r, PGresult *q, int limit, const char *tag, admin_row_fn row);

/* Answers a member error with the unit the user is in: 409 member_in_other_unit {"error": {code,
 * message, field, unit: {id, name}}}. Returns 409. */
int admin_member_in_unit(http_req *r, const char *field, const char *username, const char *unit_id,
                         const char *unit_name);

#endif
