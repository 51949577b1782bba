/* test_db_cache.c - db_exec's statement cache is keyed by the SQL text, not its address: two
 * different texts at one address never share a prepared statement. Needs a database: runs when
 * PATROLD_TEST_CONNINFO names one (test_edge_core.py does), and is skipped otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "service/core/db.h"

static int value_of(worker *w, const char *sql) {
    PGresult *res = db_exec(w, sql, 0, NULL);
    assert_non_null(res);
    int v = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static void keyed_by_text(void **state) {
    (void)state;
    const char *ci = getenv("PATROLD_TEST_CONNINFO");
    if (!ci) skip();
    static app a;
    config_defaults(&a.cfg);
    snprintf(a.conninfo, sizeof a.conninfo, "%s", ci);
    worker w;
    memset(&w, 0, sizeof w);
    w.app = &a;
    static char sql[64], same[64];
    strcpy(sql, "SELECT 1::int");
    assert_int_equal(value_of(&w, sql), 1);
    strcpy(sql, "SELECT 2::int"); /* same address, new text */
    assert_int_equal(value_of(&w, sql), 2);
    assert_int_equal(w.nprepared, 2);
    strcpy(same, "SELECT 2::int"); /* same text, another address: the cached statement */
    assert_int_equal(value_of(&w, same), 2);
    assert_int_equal(w.nprepared, 2);
    /* the pooled connection carries the statement time limit */
    PGresult *res = db_exec(&w, "SHOW statement_timeout", 0, NULL);
    assert_non_null(res);
    char want[32];
    snprintf(want, sizeof want, "%ds", a.cfg.statement_timeout_ms / 1000);
    assert_string_equal(PQgetvalue(res, 0, 0), want);
    PQclear(res);
    PQfinish(w.pg);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(keyed_by_text)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
