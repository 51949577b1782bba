/* db.c - one PGconn per worker thread, lazily (re)connected, with a per-connection statement cache. */
#include "service/db.h"

#include <stdio.h>
#include <string.h>

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
    res = PQexec(c, "SET search_path = public, pg_catalog; SET TIME ZONE 'Asia/Shanghai'");
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
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

int db_ensure(worker *w) {
    if (alive(w->pg)) return 0;
    PQfinish(w->pg);
    w->pg = db_connect_raw(w->app->conninfo, w->err, sizeof w->err);
    w->nprepared = 0;
    w->db_down = w->pg == NULL;
    if (w->db_down) snprintf(w->sqlstate, sizeof w->sqlstate, "08006");
    return w->db_down ? -1 : 0;
}

static PGresult *check(worker *w, PGresult *res) {
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        w->sqlstate[0] = 0;
        return res;
    }
    set_err(w, res ? PQresultErrorMessage(res) : PQerrorMessage(w->pg),
            res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "08006");
    w->db_down = PQstatus(w->pg) != CONNECTION_OK;
    if (w->db_down) snprintf(w->sqlstate, sizeof w->sqlstate, "08006");
    PQclear(res);
    return NULL;
}

PGresult *db_exec_dynamic(worker *w, const char *sql, int nparams, const char *const *params) {
    if (db_ensure(w) != 0) return NULL;
    return check(w, PQexecParams(w->pg, sql, nparams, NULL, params, NULL, NULL, 0));
}

PGresult *db_exec(worker *w, const char *sql, int nparams, const char *const *params) {
    char name[16];
    int slot = -1;
    if (db_ensure(w) != 0) return NULL;
    for (int i = 0; i < w->nprepared; i++)
        if (w->prepared[i] == sql) slot = i;
    if (slot < 0) {
        if (w->nprepared == (int)(sizeof w->prepared / sizeof w->prepared[0]))
            return db_exec_dynamic(w, sql, nparams, params);
        slot = w->nprepared;
        snprintf(name, sizeof name, "s%d", slot);
        PGresult *res = check(w, PQprepare(w->pg, name, sql, nparams, NULL));
        if (!res) return NULL;
        PQclear(res);
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
