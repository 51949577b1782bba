/* test_http_edge.c - the request-byte checks of http.c: the JSON depth scanner (run with
 * json_loadb on a thread with the 100 KiB stack CivetWeb's Debian build gives its workers), the
 * UTF-8 check of paths and the access-log escaping. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "service/door/http.h"
#include "service/door/params.h"

enum { WORKER_STACK = 100 * 1024, MAX_DEPTH = 32 };

typedef struct {
    const char *body;
    size_t len;
    int depth_ok; /* out: http_json_depth_ok */
    int parsed;   /* out: json_loadb succeeded */
} parse_job;

/* What the dispatcher does with a JSON body: the depth check, then (only if it passed) jansson. */
static void *parse_body(void *arg) {
    parse_job *j = arg;
    j->depth_ok = http_json_depth_ok(j->body, j->len, MAX_DEPTH) == 0;
    if (j->depth_ok) {
        json_error_t je;
        json_t *v = json_loadb(j->body, j->len, JSON_REJECT_DUPLICATES, &je);
        j->parsed = v != NULL;
        json_decref(v);
    }
    return NULL;
}

/* Runs parse_body on a thread with a worker's stack; a stack overflow kills the test binary. */
static void on_worker_stack(parse_job *j) {
    pthread_attr_t at;
    pthread_t t;
    assert_int_equal(pthread_attr_init(&at), 0);
    assert_int_equal(pthread_attr_setstacksize(&at, WORKER_STACK), 0);
    assert_int_equal(pthread_create(&t, &at, parse_body, j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&at);
}

static char *repeat(const char *unit, size_t times, const char *tail) {
    size_t u = strlen(unit), tl = strlen(tail);
    char *s = malloc(u * times + tl + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * u, unit, u);
    memcpy(s + u * times, tail, tl + 1);
    return s;
}

static void deep_bodies_are_refused_before_parsing(void **state) {
    (void)state;
    static const struct {
        const char *unit;
        size_t times;
    } cases[] = {{"[", 1000},         {"[", 100000},       {"{\"a\":", 1000},
                 {"{\"a\":", 100000}, {"[{\"a\":", 50000}, {"[", MAX_DEPTH + 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = repeat(cases[i].unit, cases[i].times, "");
        parse_job j = {s, strlen(s), -1, 0};
        on_worker_stack(&j);
        assert_int_equal(j.depth_ok, 0);
        free(s);
    }
}

static void allowed_depth_parses_on_a_worker_stack(void **state) {
    (void)state;
    /* MAX_DEPTH levels, closed: accepted and parsed by jansson within the worker's stack */
    char *open = repeat("[", MAX_DEPTH, ""), *s = repeat("]", MAX_DEPTH, "");
    char *body = malloc(strlen(open) + strlen(s) + 1);
    assert_non_null(body);
    strcpy(body, open);
    strcat(body, s);
    parse_job j = {body, strlen(body), -1, 0};
    on_worker_stack(&j);
    assert_int_equal(j.depth_ok, 1);
    assert_int_equal(j.parsed, 1);
    free(open), free(s), free(body);
}

static void brackets_in_strings_do_not_count(void **state) {
    (void)state;
    char *str = repeat("[{", 5000, "");
    size_t n = strlen(str) + 64;
    char *body = malloc(n);
    assert_non_null(body);
    snprintf(body, n, "{\"description\":\"%s\\\"]]\",\"x\":[1]}", str);
    parse_job j = {body, strlen(body), -1, 0};
    on_worker_stack(&j);
    assert_int_equal(j.depth_ok, 1);
    assert_int_equal(j.parsed, 1);
    /* an escaped quote does not end the string: the brackets after it still do not count */
    assert_int_equal(http_json_depth_ok("[\"\\\"[[[[\"]", 10, 1), 0);
    /* ...but a closed string does not hide what follows */
    assert_int_equal(http_json_depth_ok("[\"\\\\\",[[", 9, 2), -1);
    free(str), free(body);
}

static void utf8_paths(void **state) {
    (void)state;
    assert_true(params_utf8_valid("/api/v1/places", 14));
    assert_true(params_utf8_valid("/新浦", strlen("/新浦")));
    assert_false(params_utf8_valid("/\xff", 2));
    assert_false(params_utf8_valid("/\xc0\xaf", 3));         /* overlong '/' */
    assert_false(params_utf8_valid("/\xed\xa0\x80", 4));     /* surrogate */
    assert_false(params_utf8_valid("/\xf4\x90\x80\x80", 5)); /* past U+10FFFF */
    assert_false(params_utf8_valid("/\xe6\x96", 3));         /* cut short */
}

static void log_escape(void **state) {
    (void)state;
    char out[64];
    http_log_escape("/x\nGET /forged 200", out, sizeof out);
    assert_string_equal(out, "/x\\x0AGET\\x20/forged\\x20200");
    assert_null(strchr(out, '\n'));
    http_log_escape("/\r\x1b[31m\"\\", out, sizeof out);
    assert_string_equal(out, "/\\x0D\\x1B[31m\\x22\\x5C");
    http_log_escape("/abcdefgh\n", out, 12); /* cut, never a partial escape, always terminated */
    assert_string_equal(out, "/abcdefgh");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deep_bodies_are_refused_before_parsing),
        cmocka_unit_test(allowed_depth_parses_on_a_worker_stack),
        cmocka_unit_test(brackets_in_strings_do_not_count),
        cmocka_unit_test(utf8_paths),
        cmocka_unit_test(log_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
