/* db.c - one PGconn per worker slot, lazily (re)connected, with a per-connection statement cache. */
#include "service/core/db.h"
#include "service/core/tz.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/vocab.h"

static void set_err(worker *w, const char *msg, const char *state) {
    snprintf(w->err, sizeof w->err, "%s", msg ? msg : "unknown database error");
    size_t n = strlen(w->err);
    while (n && (w->err[n - 1] == '\n' || w->err[n - 1] == ' '))
        w->err[--n] = 0;
    snprintf(w->sqlstate, sizeof w->sqlstate, "%s", state ? state : "");
}

PGconn *db_connect_raw(const char *conninfo, char *err, size_t errlen) {
    PGconn *c = PQconnectdb(conninfo);
    PGresult *res = NULL;
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        goto fail;
    }
    /* the deployment's zone: every timestamp and day boundary PostgreSQL draws is the city's */
    const char *zone[] = {tz_name()};
    res = PQexecParams(c,
                       "SELECT set_config('search_path', 'public, pg_catalog', false),"
                       " set_config('TimeZone', $1, false)",
                       1, NULL, zone, NULL, NULL, 0);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        goto fail;
    }
    PQclear(res);
    return c;
fail:
    PQclear(res);
    PQfinish(c);
    return NULL;
}

/* An idle connection whose server went away (restart, admin shutdown) has a FATAL message and
 * then EOF waiting on its socket: reading them now marks it bad before any statement is sent,
 * so nothing is ever half-sent on a dead connection and no statement has to be retried. */
static int alive(PGconn *c) {
    if (!c || PQstatus(c) != CONNECTION_OK) return 0;
    if (PQtransactionStatus(c) == PQTRANS_IDLE)
        for (int i = 0; i < 2 && PQstatus(c) == CONNECTION_OK; i++)
            PQconsumeInput(c);
    return PQstatus(c) == CONNECTION_OK;
}

/* Sets the connection's statement_timeout (a statement cancelled by it fails with 57014). */
static int set_statement_timeout(PGconn *c, int ms, char *err, size_t errlen) {
    char v[24];
    const char *params[] = {v};
    snprintf(v, sizeof v, "%dms", ms);
    PGresult *res = PQexecParams(c, "SELECT set_config('statement_timeout', $1, false)", 1, NULL,
                                 params, NULL, NULL, 0);
    int ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok) snprintf(err, errlen, "%s", PQerrorMessage(c));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Connects *pg to conninfo unless it is alive (statement_timeout set unless w->no_timeout).
 * Returns 0, or -1 with w->err, w->db_down and SQLSTATE 08006. */
static int ensure(worker *w, PGconn **pg, const char *conninfo) {
    if (alive(*pg)) return 0;
    PQfinish(*pg);
    *pg = db_connect_raw(conninfo, w->err, sizeof w->err);
    if (*pg && !w->no_timeout && w->app->cfg.statement_timeout_ms > 0 &&
        set_statement_timeout(*pg, w->app->cfg.statement_timeout_ms, w->err, sizeof w->err) != 0) {
        PQfinish(*pg);
        *pg = NULL;
    }
    w->db_down = *pg == NULL;
    if (w->db_down) snprintf(w->sqlstate, sizeof w->sqlstate, "08006");
    return w->db_down ? -1 : 0;
}

int db_ensure(worker *w) {
    if (alive(w->pg)) return 0;
    w->nprepared = 0;
    return ensure(w, &w->pg, w->app->conninfo);
}

/* res of a statement on pg: kept when it succeeded; else NULL with the error in w. */
static PGresult *check_on(worker *w, PGconn *pg, PGresult *res) {
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        w->sqlstate[0] = 0;
        return res;
    }
    set_err(w, res ? PQresultErrorMessage(res) : PQerrorMessage(pg),
            res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "08006");
    w->db_down = PQstatus(pg) != CONNECTION_OK;
    if (w->db_down) snprintf(w->sqlstate, sizeof w->sqlstate, "08006");
    PQclear(res);
    return NULL;
}

static PGresult *check(worker *w, PGresult *res) {
    return check_on(w, w->pg, res);
}

/* The text PostgreSQL gets for sql: sql itself, or (when it names vocabulary values, vocab.h) a
 * copy with the literals in *tmp (the caller frees it). NULL with w->err when a marker names
 * nothing or memory ran out. */
static const char *sql_text(worker *w, const char *sql, char **tmp) {
    *tmp = NULL;
    if (!vocab_sql_has_marker(sql)) return sql;
    long n = vocab_sql_expand(sql, NULL, 0);
    if (n < 0) {
        set_err(w, "a vocabulary marker in the statement names nothing", "XX000");
        return NULL;
    }
    if (!(*tmp = malloc((size_t)n + 1))) {
        set_err(w, "out of memory", "53200");
        return NULL;
    }
    vocab_sql_expand(sql, *tmp, (size_t)n + 1);
    return *tmp;
}

PGresult *db_exec_dynamic(worker *w, const char *sql, int nparams, const char *const *params) {
    char *tmp;
    if (db_ensure(w) != 0 || !(sql = sql_text(w, sql, &tmp))) return NULL;
    PGresult *res = check(w, PQexecParams(w->pg, sql, nparams, NULL, params, NULL, NULL, 0));
    free(tmp);
    return res;
}

/* FNV-1a: the statement cache's key is the text (hash, then strcmp), never the address. */
static unsigned long long sql_hash(const char *s) {
    unsigned long long h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

PGresult *db_exec(worker *w, const char *sql, int nparams, const char *const *params) {
    char name[16];
    int slot = -1;
    unsigned long long h = sql_hash(sql);
    if (db_ensure(w) != 0) return NULL;
    for (int i = 0; i < w->nprepared && slot < 0; i++)
        if (w->prepared_hash[i] == h && (w->prepared[i] == sql || strcmp(w->prepared[i], sql) == 0))
            slot = i;
    if (slot < 0) {
        if (w->nprepared == (int)(sizeof w->prepared / sizeof w->prepared[0]))
            return db_exec_dynamic(w, sql, nparams, params);
        slot = w->nprepared;
        snprintf(name, sizeof name, "s%d", slot);
        char *tmp;
        const char *text = sql_text(w, sql, &tmp);
        PGresult *res = text ? check(w, PQprepare(w->pg, name, text, nparams, NULL)) : NULL;
        free(tmp);
        if (!res) return NULL;
        PQclear(res);
        w->prepared_hash[w->nprepared] = h;
        w->prepared[w->nprepared++] = sql;
    }
    snprintf(name, sizeof name, "s%d", slot);
    return check(w, PQexecPrepared(w->pg, name, nparams, params, NULL, NULL, 0));
}

int db_command(worker *w, const char *sql, int nparams, const char *const *params) {
    PGresult *res = db_exec(w, sql, nparams, params);
    PQclear(res);
    return res ? 0 : -1;
}

int db_begin(worker *w) {
    return db_command(w, "BEGIN", 0, NULL);
}

int db_commit(worker *w) {
    return db_command(w, "COMMIT", 0, NULL);
}

void db_rollback(worker *w) {
    if (!w->pg || PQtransactionStatus(w->pg) == PQTRANS_IDLE) return;
    char state[6], err[sizeof w->err];
    memcpy(state, w->sqlstate, sizeof state); /* keep the failure that caused the rollback */
    memcpy(err, w->err, sizeof err);
    PQclear(PQexec(w->pg, "ROLLBACK"));
    memcpy(w->sqlstate, state, sizeof state);
    memcpy(w->err, err, sizeof err);
}

int db_failed_with(const worker *w, const char *state) {
    return strcmp(w->sqlstate, state) == 0;
}

int db_conninfo_set(const char *conninfo, const char *key, const char *value, char *out,
                    size_t outlen, char *err, size_t errlen) {
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg), *o;
    size_t n = 0;
    int found = 0, rc = -1;
    if (!opts) {
        snprintf(err, errlen, "%s", msg ? msg : "out of memory");
        PQfreemem(msg);
        return -1;
    }
    out[0] = 0;
    for (o = opts; o->keyword; o++) {
        const char *v = strcmp(o->keyword, key) == 0 ? (found = 1, value) : o->val;
        if (!v) continue;
        n += (size_t)snprintf(out + (n < outlen ? n : outlen), n < outlen ? outlen - n : 0,
                              "%s%s='", n ? " " : "", o->keyword);
        for (; *v; v++) /* quote ' and \ as libpq reads them back */
            n += (size_t)snprintf(out + (n < outlen ? n : outlen), n < outlen ? outlen - n : 0,
                                  "%s%c", *v == '\'' || *v == '\\' ? "\\" : "", *v);
        n += (size_t)snprintf(out + (n < outlen ? n : outlen), n < outlen ? outlen - n : 0, "'");
    }
    if (!found)
        snprintf(err, errlen, "conninfo has no setting %s", key);
    else if (n >= outlen)
        snprintf(err, errlen, "conninfo longer than %zu bytes", outlen - 1);
    else
        rc = 0;
    PQconninfoFree(opts);
    return rc;
}

char *db_password_hash(worker *w, const char *role, const char *password) {
    if (db_ensure(w) != 0) return NULL;
    char *h = PQencryptPasswordConn(w->pg, password, role, NULL);
    if (!h) set_err(w, PQerrorMessage(w->pg), "");
    return h;
}

void db_disconnect(worker *w) {
    PQfinish(w->pg);
    PQfinish(w->pg_read);
    w->pg = w->pg_read = NULL;
    w->nprepared = 0;
}

int db_in_transaction(const worker *w) {
    if (!w->pg) return 0;
    PGTransactionStatusType ts = PQtransactionStatus(w->pg);
    return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR;
}

void db_reset(worker *w) {
    if (w->pg) {
        if (db_in_transaction(w))
            db_rollback(w);
        else if (PQtransactionStatus(w->pg) == PQTRANS_ACTIVE) /* a statement still running */
            db_disconnect(w);
    }
    w->db_down = 0;
    w->sqlstate[0] = 0;
    w->err[0] = 0;
}

PGresult *db_exec_params(worker *w, const char *sql, int nparams, const char *const *params,
                         const int *lengths, const int *formats, int binary_result) {
    char *tmp;
    if (db_ensure(w) != 0 || !(sql = sql_text(w, sql, &tmp))) return NULL;
    PGresult *res = check(w, PQexecParams(w->pg, sql, nparams, NULL, params, lengths, formats,
                                          binary_result ? 1 : 0));
    free(tmp);
    return res;
}

int db_script(worker *w, const char *sql) {
    if (db_ensure(w) != 0) return -1;
    PGresult *res = check(w, PQexec(w->pg, sql));
    PQclear(res);
    return res ? 0 : -1;
}

/* Collects every result still coming; the first failure goes to w->err. Returns 0 or -1. */
static int drain(worker *w, int rc) {
    PGresult *res;
    while ((res = PQgetResult(w->pg))) {
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE &&
            rc == 0) {
            set_err(w, PQresultErrorMessage(res), PQresultErrorField(res, PG_DIAG_SQLSTATE));
            rc = -1;
        }
        PQclear(res);
    }
    if (PQstatus(w->pg) != CONNECTION_OK) {
        w->db_down = 1;
        snprintf(w->sqlstate, sizeof w->sqlstate, "08006");
        rc = -1;
    }
    return rc;
}

static int conn_failed(worker *w) {
    set_err(w, PQerrorMessage(w->pg), "08006");
    w->db_down = PQstatus(w->pg) != CONNECTION_OK;
    if (!w->db_down) w->sqlstate[0] = 0;
    return -1;
}

int db_copy_in(worker *w, const char *copy_sql, int (*read)(void *ctx, char *buf, int cap),
               void *ctx) {
    char chunk[65536];
    int n;
    if (db_ensure(w) != 0) return -1;
    PGresult *res = PQexec(w->pg, copy_sql);
    int ok = res && PQresultStatus(res) == PGRES_COPY_IN;
    if (!ok) {
        PQclear(check(w, res)); /* a COPY that did not start: its error in w->err */
        if (res && PQstatus(w->pg) == CONNECTION_OK && !w->sqlstate[0])
            set_err(w, "not a COPY FROM STDIN statement", "");
        return -1;
    }
    PQclear(res);
    w->err[0] = 0;
    while ((n = read(ctx, chunk, (int)sizeof chunk)) > 0)
        if (PQputCopyData(w->pg, chunk, n) != 1) return conn_failed(w);
    char why[sizeof w->err];
    snprintf(why, sizeof why, "%s", w->err[0] ? w->err : "read error");
    if (PQputCopyEnd(w->pg, n < 0 ? why : NULL) != 1) return conn_failed(w);
    return drain(w, 0);
}

int db_each_row(worker *w, const char *sql, int nparams, const char *const *params,
                int (*fn)(void *ctx, PGresult *row), void *ctx) {
    int rc = 0;
    PGresult *res;
    char *tmp;
    if (db_ensure(w) != 0 || !(sql = sql_text(w, sql, &tmp))) return -1;
    if (!PQsendQueryParams(w->pg, sql, nparams, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(w->pg)) {
        conn_failed(w);
        rc = -1;
    }
    free(tmp);
    w->err[0] = 0;
    while ((res = PQgetResult(w->pg))) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE) {
            if (rc == 0 && fn(ctx, res) != 0) {
                if (!w->err[0]) set_err(w, "out of memory", "");
                rc = -1;
            }
        } else if (st != PGRES_TUPLES_OK && rc == 0) {
            set_err(w, PQresultErrorMessage(res), PQresultErrorField(res, PG_DIAG_SQLSTATE));
            rc = -1;
        }
        PQclear(res);
    }
    return rc;
}

int db_send(worker *w, const char *sql, int nparams, const char *const *params, const int *lengths,
            const int *formats) {
    char *tmp;
    if (db_ensure(w) != 0 || !(sql = sql_text(w, sql, &tmp))) return -1;
    int sent = PQsendQueryParams(w->pg, sql, nparams, NULL, params, lengths, formats, 0);
    free(tmp);
    return sent ? 0 : conn_failed(w);
}

int db_wait(worker *w) {
    if (!w->pg) return 0;
    return drain(w, 0);
}

int db_listen(worker *w, const char *channel) {
    char sql[128];
    snprintf(sql, sizeof sql, "LISTEN %s", channel);
    return db_script(w, sql);
}

int db_wait_notify(worker *w, int timeout_ms) {
    PGnotify *n;
    int got = 0;
    if (!w->pg || PQstatus(w->pg) != CONNECTION_OK) return -1;
    struct pollfd pfd = {.fd = PQsocket(w->pg), .events = POLLIN};
    if (poll(&pfd, 1, timeout_ms) > 0 || timeout_ms == 0)
        if (!PQconsumeInput(w->pg)) return conn_failed(w);
    while ((n = PQnotifies(w->pg))) {
        got = 1;
        PQfreemem(n);
    }
    return PQstatus(w->pg) == CONNECTION_OK ? got : -1;
}

unsigned char *db_unescape_bytea(const char *text, size_t *len) {
    return PQunescapeBytea((const unsigned char *)text, len);
}

void db_free(void *p) {
    PQfreemem(p);
}

/* ---- the lag-tolerant read connection (database_read_url) ---- */

int db_read_separate(const worker *w) {
    return w->app->conninfo_read[0] != 0;
}

/* db_exec_read and db_exec_read_dynamic: `prepared` says whether the write-connection fallback
 * may prepare and cache the text (static SQL only). */
static PGresult *exec_read(worker *w, int prepared, const char *sql, int nparams,
                           const char *const *params) {
    if (!db_read_separate(w) || (w->pg && PQtransactionStatus(w->pg) != PQTRANS_IDLE))
        return prepared ? db_exec(w, sql, nparams, params)
                        : db_exec_dynamic(w, sql, nparams, params);
    char *tmp;
    if (ensure(w, &w->pg_read, w->app->conninfo_read) != 0 || !(sql = sql_text(w, sql, &tmp)))
        return NULL;
    PGresult *res = check_on(w, w->pg_read,
                             PQexecParams(w->pg_read, sql, nparams, NULL, params, NULL, NULL, 0));
    free(tmp);
    return res;
}

PGresult *db_exec_read(worker *w, const char *sql, int nparams, const char *const *params) {
    return exec_read(w, 1, sql, nparams, params);
}

PGresult *db_exec_read_dynamic(worker *w, const char *sql, int nparams, const char *const *params) {
    return exec_read(w, 0, sql, nparams, params);
}
