/* db.h - libpq on a worker's own connection: reconnect, parameterised statements, transactions.
 * db.c is the only file that connects or runs statements (requests, background threads and
 * commands alike); other files only read results (PQntuples, PQgetvalue, PQgetisnull,
 * PQgetlength, PQcmdTuples, PQclear).
 *
 * One result convention: a function returning PGresult* returns it on success (the caller
 * PQclear()s it) and NULL on failure; a function returning int returns 0 (or a count, or 1 for
 * "yes") on success and -1 on failure. Either way a failure leaves its message in w->err, its
 * SQLSTATE in w->sqlstate ("08006" when the connection is gone, then w->db_down = 1). Never prints.
 *
 * A background thread or command uses a connection-only worker of its own:
 *     worker w = {.app = a, .no_timeout = 1};   ... db_exec(&w, ...) ...   db_disconnect(&w);
 * (no locator, no PROJ context: worker_create is for the request pool). */
#ifndef PATROLD_DB_H
#define PATROLD_DB_H

#include <libpq-fe.h>

#include "service/core/app.h"

/* Connects (or re-connects after the database went away), sets a safe search_path and the
 * configured statement_timeout. Returns 0, or -1 with w->db_down = 1. */
int db_ensure(worker *w);

/* Runs one parameterised statement; `sql` must be static text (a string literal): it is prepared
 * once per connection and cached by its text (hash, then strcmp), so two different texts never
 * share a statement, even at one address. Every function here that takes SQL text replaces the
 * vocabulary markers in it (VOCAB_SQL_ANY, VOCAB_SQL_TERM of vocab.h) with their literals first:
 * a statement is prepared with the codes spelled out. Returns a PGresult the caller PQclear()s, with status
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

/* Opens a bare connection (search_path and time zone set). Returns NULL with err. Prefer a
 * connection-only worker (above); this stays for tools (bench) that need a PGconn. */
PGconn *db_connect_raw(const char *conninfo, char *err, size_t errlen);

/* Writes into out (outlen bytes) conninfo (a key=value string or a postgres:// URI) with `key` set
 * to value, as a key='value' string. Returns 0, or -1 with a message in err (unparsable conninfo,
 * unknown key, out too small). */
int db_conninfo_set(const char *conninfo, const char *key, const char *value, char *out,
                    size_t outlen, char *err, size_t errlen);

/* The hashed form (SCRAM-SHA-256, as the server's password_encryption says) of role's password,
 * computed here so that the clear text never reaches the server or its logs. Connects w if need
 * be. Returns text to free with db_free, or NULL with w->err. */
char *db_password_hash(worker *w, const char *role, const char *password);

/* Closes w's connections (write and read), if any (w may connect again on its next call). */
void db_disconnect(worker *w);

/* 1 if w's connection has a transaction open (or failed and not rolled back), else 0. */
int db_in_transaction(const worker *w);

/* Makes w fit for its next user: rolls back an open transaction; a connection with a statement
 * still running is closed. Clears the last error. */
void db_reset(worker *w);

/* Like db_exec_dynamic with binary parameters (lengths/formats as in PQexecParams, may be NULL)
 * and, when binary_result is 1, binary result columns (WKB geometry). Not cached. */
PGresult *db_exec_params(worker *w, const char *sql, int nparams, const char *const *params,
                         const int *lengths, const int *formats, int binary_result);

/* Runs a script of one or more statements without parameters (simple query protocol: migration
 * and seed files). Returns 0 or -1. */
int db_script(worker *w, const char *sql);

/* COPY ... FROM STDIN: runs copy_sql, then sends what read(ctx, buf, cap) gives (> 0 bytes; 0 at
 * the end; -1 aborts the COPY with the message it left in w->err). Returns 0 or -1. */
int db_copy_in(worker *w, const char *copy_sql, int (*read)(void *ctx, char *buf, int cap),
               void *ctx);

/* Runs sql in single-row mode, handing each row (a one-row PGresult the callee must not clear)
 * to fn; fn returns 0, or -1 to stop (the rest is drained; w->err says "out of memory" unless
 * fn set it). Returns 0 or -1. */
int db_each_row(worker *w, const char *sql, int nparams, const char *const *params,
                int (*fn)(void *ctx, PGresult *row), void *ctx);

/* Pipelining for bulk loads: db_send sends one statement without waiting for it (at most one in
 * flight); db_wait waits for it and returns 0, or -1 with the first error. db_wait with nothing
 * in flight returns 0. */
int db_send(worker *w, const char *sql, int nparams, const char *const *params, const int *lengths,
            const int *formats);
int db_wait(worker *w);

/* LISTEN channel (a static identifier). Returns 0 or -1. */
int db_listen(worker *w, const char *channel);

/* Waits up to timeout_ms (0: just look) for notifications and consumes all that came. Returns 1
 * if at least one came, 0 if none, -1 when the connection is gone (then db_disconnect, connect
 * and LISTEN again). */
int db_wait_notify(worker *w, int timeout_ms);

/* Decodes a bytea column in text format. Returns bytes to free with db_free, NULL on failure. */
unsigned char *db_unescape_bytea(const char *text, size_t *len);
void db_free(void *p);

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
