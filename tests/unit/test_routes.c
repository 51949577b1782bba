/* test_routes.c - the path matcher behind the route table, and the table's own invariants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "service/routes.h"

static int match(const char *pattern, const char *path, const char **caps, char *scratch) {
    return route_match(pattern, path, scratch, caps, HTTP_MAX_PARAMS);
}

static void literal_paths(void **state) {
    (void)state;
    const char *caps[HTTP_MAX_PARAMS];
    char scratch[256];
    assert_int_equal(match("/healthz", "/healthz", caps, scratch), 0);
    assert_int_equal(match("/healthz", "/healthz/", caps, scratch), -1);
    assert_int_equal(match("/healthz", "/health", caps, scratch), -1);
    assert_int_equal(match("/api/v1/reports", "/api/v1/reports/1", caps, scratch), -1);
    assert_int_equal(match("/api/v1/reports/{id}", "/api/v1/reports", caps, scratch), -1);
}

static void captures(void **state) {
    (void)state;
    const char *caps[HTTP_MAX_PARAMS];
    char scratch[256];
    assert_int_equal(
        match("/api/v1/reports/{id}/photos/{photo}", "/api/v1/reports/42/photos/7", caps, scratch),
        2);
    assert_string_equal(caps[0], "42");
    assert_string_equal(caps[1], "7");
    assert_int_equal(match("/api/v1/reports/{id}", "/api/v1/reports/", caps, scratch),
                     -1); /* empty capture */
}

static void suffix_captures(void **state) {
    (void)state;
    const char *caps[HTTP_MAX_PARAMS];
    char scratch[256];
    assert_int_equal(
        match("/tiles/{layer}/{z}/{x}/{y}.mvt", "/tiles/units/12/3400/1650.mvt", caps, scratch), 4);
    assert_string_equal(caps[3], "1650");
    assert_int_equal(
        match("/tiles/{layer}/{z}/{x}/{y}.mvt", "/tiles/units/12/3400/1650.png", caps, scratch),
        -1);
    assert_int_equal(
        match("/open311/v2/requests/{id}.json", "/open311/v2/requests/.json", caps, scratch), -1);
    assert_int_equal(
        match("/open311/v2/requests/{id}.json", "/open311/v2/requests/9.json", caps, scratch), 1);
    assert_string_equal(caps[0], "9");
}

static void table_is_sane(void **state) {
    (void)state;
    assert_true(nroutes > 0);
    for (size_t i = 0; i < nroutes; i++) {
        assert_non_null(routes[i].handler);
        assert_non_null(routes[i].summary);
        assert_true(routes[i].pattern[0] == '/');
        for (size_t k = 0; k < i; k++) /* no route shadows another */
            assert_false(strcmp(routes[i].method, routes[k].method) == 0 &&
                         strcmp(routes[i].pattern, routes[k].pattern) == 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_paths),
        cmocka_unit_test(captures),
        cmocka_unit_test(suffix_captures),
        cmocka_unit_test(table_is_sane),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
