/* db.h - libpq on a worker's own connection: reconnect, parameterised statements, transactions.
 * Never prints; a failure leaves its message in w->err and SQLSTATE in w->sqlstate. */
#ifndef PATROLD_DB_H
#define PATROLD_DB_H

#include <libpq-fe.h>

#include "service/app.h"

/* Connects (or re-connects after the database went away), sets a safe search_path and the
 * configured statement_timeout. Returns 0, or -1 with w->db_down = 1. */
int db_ensure(worker *w);

/* Runs one parameterised statement; `sql` must be static text (a string literal): it is prepared
 * once per connection and cached by its text (hash, then strcmp), so two different texts never
 * share a statement, even at one address. Returns a PGresult the caller PQclear()s, with status
 * TUPLES_OK or COMMAND_OK; NULL on failure (see w->err, w->sqlstate, w->db_down). */
PGresult *db_exec(worker *w, const char *sql, int nparams, const char *const *params);

/* Like db_exec for SQL built at run time (still parameterised; never paste request text). */
PGresult *db_exec_dynamic(worker *w, const char *sql, int nparams, const char *const *params);

/* Runs a statement and only checks it succeeded. Returns 0 or -1. */
int db_command(worker *w, const char *sql, int nparams, const char *const *params);

int db_begin(worker *w);
int db_commit(worker *w);
/* Rolls back if a transaction is open; safe to call on any path. */
void db_rollback(worker *w);

/* 1 if the last failure was SQLSTATE `state` (e.g. "23505" unique violation). */
int db_failed_with(const worker *w, const char *state);

/* Opens a separate connection for a background thread. Returns NULL with err. */
PGconn *db_connect_raw(const char *conninfo, char *err, size_t errlen);

/* Like db_exec, for reads that tolerate a little replication lag (tiles, lists, exports,
 * coverage): on the worker's second connection to database_read_url (a standby when there is
 * one), made on first use and re-made after a failure. Inside a transaction of w->pg, or when
 * no read URL is set, it is db_exec itself. Same result and failure convention as db_exec. */
PGresult *db_exec_read(worker *w, const char *sql, int nparams, const char *const *params);

/* db_exec_read for SQL built at run time (the fallback is db_exec_dynamic: nothing cached). */
PGresult *db_exec_read_dynamic(worker *w, const char *sql, int nparams, const char *const *params);

/* 1 when database_read_url names a connection of its own (db_exec_read does not use w->pg). */
int db_read_separate(const worker *w);

#endif
