/* test_routes.c - the path matcher behind the route table, and the table's own invariants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "service/door/routes.h"
#include "service/door/schemas.h"

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

static int is_identifier(const char *s) {
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

static int param_known(const char *name, size_t len) {
    for (size_t i = 0; i < nroute_params; i++)
        if (strlen(route_params[i].name) == len && strncmp(route_params[i].name, name, len) == 0)
            return 1;
    return 0;
}

/* The OpenAPI columns: operationIds are unique identifiers, every query parameter and reply
 * schema named exists, JSON bodies have a shape, statuses are 3-digit lists with a success. */
static void contract_columns(void **state) {
    (void)state;
    for (size_t i = 0; i < nroutes; i++) {
        const route *rt = &routes[i];
        assert_true(is_identifier(rt->op));
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(rt->op, routes[k].op);
        for (const char *p = rt->query; p && *p;) {
            size_t len = strcspn(p, ",");
            assert_true(param_known(p, len - (len > 0 && p[len - 1] == '!')));
            p += len + (p[len] == ',');
        }
        if (rt->reply && !strchr(rt->reply, '/')) assert_true(schemas_has(rt->reply));
        if (rt->reply && strchr(rt->reply, ':'))
            assert_true(schemas_has(strchr(rt->reply, ':') + 1));
        assert_true((rt->body == BODY_JSON) == (rt->request != NULL));
        int success = 0;
        for (const char *p = rt->statuses; *p;) {
            size_t len = strcspn(p, ",:");
            assert_int_equal(len, 3);
            success |= p[0] == '2';
            if (p[len] == ':') {
                char name[64];
                snprintf(name, sizeof name, "%.*s", (int)strcspn(p + len + 1, ","), p + len + 1);
                assert_true(schemas_has(name));
            }
            p += strcspn(p, ",");
            p += *p == ',';
        }
        assert_true(success);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_paths),    cmocka_unit_test(captures),
        cmocka_unit_test(suffix_captures),  cmocka_unit_test(table_is_sane),
        cmocka_unit_test(contract_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
