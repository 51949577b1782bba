/* tests/unit/test_buf.c - service/core/buf: the JSON writers give the bytes jansson's json_dumps
 * gives for the same values (JSON_COMPACT | JSON_REAL_PRECISION(15), as http_json writes them):
 * strings with every kind of character, numbers across magnitudes and signs, integers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../service/core/buf.h"

/* jansson's text of j (taken), and ours in b: equal, or both printed. */
static void same(json_t *j, buf *b) {
    char *want = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(j);
    assert_non_null(want);
    assert_false(b->oom);
    assert_string_equal(b->p, want);
    free(want);
    buf_free(b);
}

static void string_is(const char *s) {
    buf b = {0};
    buf_json_str(&b, s);
    same(json_string(s), &b);
}

static void test_strings(void **state) {
    (void)state;
    static const char *const fixed[] = {
        "",
        "plain",
        "a\"b\\c/d",
        "\x01\x02\x1f\x7f",
        "tab\tnl\ncr\rbs\bff\f",
        "\xe2\x80\xa8 \xe2\x80\xa9",
        "连云港市海州区新浦街道朝阳社区居民委员会",
        "12345678\"",
        "1234567\\",
        "\"\"\"\"\"\"\"\"\"",
        "末尾\x1f",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        string_is(fixed[i]);
    /* random strings of ASCII, controls, quotes and 3-byte characters at every alignment */
    srand(7);
    for (int t = 0; t < 2000; t++) {
        char s[128];
        size_t n = 0, len = (size_t)(rand() % 40);
        while (n < len) {
            int k = rand() % 10;
            if (k < 4)
                s[n++] = (char)('a' + rand() % 26);
            else if (k == 4)
                s[n++] = (char)(1 + rand() % 31);
            else if (k == 5)
                s[n++] = rand() % 2 ? '"' : '\\';
            else
                memcpy(s + n, "海", 3), n += 3;
        }
        s[n] = 0;
        string_is(s);
    }
    buf b = {0};
    buf_json_str(&b, NULL);
    same(json_null(), &b);
}

static void fixed_is(double v, int decimals) {
    double p = pow(10, decimals);
    buf b = {0};
    buf_json_fixed(&b, v, decimals);
    same(json_real(round(v * p) / p), &b);
}

static void test_numbers(void **state) {
    (void)state;
    static const double fixed[] = {119.1234567,
                                   34.6,
                                   0,
                                   -0.04,
                                   1234.56789,
                                   12.0,
                                   1e-7,
                                   5e-8,
                                   4.9999999e-8,
                                   -3e-5,
                                   -0.00012345,
                                   0.00009,
                                   2e15,
                                   1e20,
                                   9.99999e14,
                                   -179.9999999,
                                   0.30000000000000004,
                                   180,
                                   -90,
                                   6371008.8};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        for (int d = 0; d <= 7; d++)
            fixed_is(fixed[i], d);
    srand(11);
    for (int t = 0; t < 20000; t++) { /* every magnitude a coordinate or a distance takes */
        double v = (double)rand() / RAND_MAX * pow(10, rand() % 12 - 5) * (rand() % 2 ? 1 : -1);
        fixed_is(v, t % 2 ? 7 : 1);
    }
    buf b = {0};
    buf_json_fixed(&b, NAN, 1);
    same(json_null(), &b);
}

static void test_integers(void **state) {
    (void)state;
    static const long long fixed[] = {0, 1, -1, 42, 9007199254740993LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        buf b = {0};
        buf_json_int(&b, fixed[i]);
        same(json_integer(fixed[i]), &b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
