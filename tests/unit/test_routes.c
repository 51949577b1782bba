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

/* A spec is complete: a name, a description, the fields its kind needs, limits that hold. */
static void check_spec(const param_spec *p) {
    assert_non_null(p->name);
    assert_true(p->description && *p->description);
    if (p->kind == PARAM_INT) assert_true(p->min <= p->def && p->def <= p->max && p->min >= 0);
    if (p->kind == PARAM_NUMBER) assert_true(p->min <= p->max);
    if (p->kind == PARAM_TEXT) assert_true(p->min <= p->max || p->max == 0);
    if (p->kind == PARAM_CURSOR) assert_true(p->tag && *p->tag);
    if (p->kind == PARAM_VOCAB) assert_true(p->vocab && p->vocab->n && p->vocab->n <= 64);
    if (p->kind == PARAM_DIVISION) assert_true(p->min == 0 || p->min == 2);
    if (p->flags & PARAM_LIST) assert_true(p->kind == PARAM_ID || p->kind == PARAM_VOCAB);
    if (p->flags & PARAM_HEADER) assert_false(p->flags & PARAM_LIST);
}

/* Every route's query specs: complete, each name once per route, at most 32. */
static void query_specs(void **state) {
    (void)state;
    int seen = 0;
    for (size_t i = 0; i < nroutes; i++) {
        const param_spec *const *q = routes[i].query;
        size_t n = 0;
        for (; q && q[n]; n++) {
            check_spec(q[n]);
            for (size_t k = 0; k < n; k++)
                assert_string_not_equal(q[n]->name, q[k]->name);
            seen++;
        }
        assert_true(n <= 32);
    }
    assert_true(seen > 40);
}

/* Only the routes that touch neither the database nor GEOS/PROJ run without a worker slot. */
static void worker_flags(void **state) {
    (void)state;
    for (size_t i = 0; i < nroutes; i++) {
        /* what reads no database and no GEOS/PROJ state: process state, the route table, the
         * vocabulary tables and the gazetteer (place search) */
        int bare = strcmp(routes[i].pattern, "/healthz") == 0 ||
                   strcmp(routes[i].pattern, "/metrics") == 0 ||
                   strcmp(routes[i].pattern, "/api/v1/openapi.json") == 0 ||
                   strcmp(routes[i].pattern, "/api/v1/vocabulary") == 0 ||
                   strcmp(routes[i].pattern, "/api/v1/places") == 0;
        assert_int_equal(route_needs_worker(&routes[i]), !bare);
    }
}

/* The OpenAPI columns: operationIds are unique identifiers, every reply schema named exists, JSON bodies have a shape, statuses are 3-digit lists with a success. */
static void contract_columns(void **state) {
    (void)state;
    for (size_t i = 0; i < nroutes; i++) {
        const route *rt = &routes[i];
        assert_true(is_identifier(rt->op));
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(rt->op, routes[k].op);
        if (rt->reply && !strchr(rt->reply, '/')) assert_true(schemas_has(rt->reply));
        if (rt->reply && strchr(rt->reply, ':'))
            assert_true(schemas_has(strchr(rt->reply, ':') + 1));
        assert_true((rt->body == BODY_JSON || rt->body == BODY_FORM) == (rt->request != NULL));
        if (rt->request &&
            rt->request->key) /* the key comes first: shape_key_passed relies on it */
            assert_string_equal(rt->request->fields[0].name, rt->request->key);
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
        cmocka_unit_test(contract_columns), cmocka_unit_test(query_specs),
        cmocka_unit_test(worker_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
