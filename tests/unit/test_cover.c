/* tests/unit/test_cover.c - gis/cover: maximal covering. Which demand lies within a radius (the
 * boundary included, as ST_DWithin), marks, the greedy choice against a brute force written here
 * (independent of gis_cover_exact) and against gis_cover_exact on many small random cases: greedy
 * never beats the optimum, reaches at least (1 - 1/e) of it, and equals it for k = 1; a hand-made
 * case where greedy is not optimal and the exact search is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gis/cover.h"

static void test_within_and_marks(void **state) {
    (void)state;
    /* four points on a line, radius 1: the boundary is in */
    double x[] = {0, 1, 2, 3.5}, y[] = {0, 0, 0, 0}, w[] = {1, 2, 4, 8};
    char err[128];
    gis_cover *c = gis_cover_create(x, y, w, 4, 1.0, err, sizeof err);
    assert_non_null(c);
    size_t n;
    assert_true(gis_cover_within(c, 1, 0, 0, &n) == 7 && n == 3);
    assert_true(gis_cover_within(c, 0, 1, 0, &n) == 1 && n == 1); /* (0,0) exactly 1 away */
    assert_true(gis_cover_within(c, 10, 10, 0, &n) == 0 && n == 0);
    assert_true(gis_cover_mark(c, 0, 0, &n) == 3 && n == 2); /* 0 and 1 */
    assert_true(gis_cover_within(c, 1, 0, 1, &n) == 4 && n == 1);
    assert_true(gis_cover_within(c, 1, 0, 0, &n) == 7 && n == 3);
    assert_true(gis_cover_mark(c, 0, 0, &n) == 0 && n == 0); /* nothing new */
    gis_cover_reset(c);
    assert_true(gis_cover_within(c, 1, 0, 1, NULL) == 7);
    gis_cover_destroy(c);
    gis_cover_destroy(NULL);
}

static void test_bad_input(void **state) {
    (void)state;
    double x[] = {0}, y[] = {NAN}, w[] = {1}, ok[] = {0}, neg[] = {-1};
    char err[128] = "";
    assert_null(gis_cover_create(x, ok, w, 1, 0, err, sizeof err));
    assert_true(strlen(err) > 0);
    assert_null(gis_cover_create(x, y, w, 1, 5, err, sizeof err));
    assert_null(gis_cover_create(x, ok, neg, 1, 5, err, sizeof err));
    gis_cover *c = gis_cover_create(x, ok, w, 0, 5, err, sizeof err); /* no demand at all */
    assert_non_null(c);
    int chosen[2];
    double gain[2];
    assert_int_equal(gis_cover_greedy(c, x, ok, 1, 2, chosen, gain, NULL), 0);
    gis_cover_destroy(c);
}

/* The hand-made case: a(0) 2, b(2) 3, c(4) 3, d(6) 2, radius 1; candidates L(1) = a+b 5,
 * M(3) = b+c 6, R(5) = c+d 5. For k = 2 greedy takes M then L (8); the optimum is L+R (10). */
static void test_greedy_is_not_always_optimal(void **state) {
    (void)state;
    double x[] = {0, 2, 4, 6}, y[] = {0, 0, 0, 0}, w[] = {2, 3, 3, 2};
    double cx[] = {1, 3, 5}, cy[] = {0, 0, 0};
    char err[128];
    gis_cover *c = gis_cover_create(x, y, w, 4, 1.0, err, sizeof err);
    int g[2], e[2];
    double gain[2], best;
    size_t count[2];
    assert_int_equal(gis_cover_exact(c, cx, cy, 3, 2, 1000, e, &best), 0);
    assert_true(best == 10 && e[0] == 0 && e[1] == 2);
    assert_int_equal(gis_cover_greedy(c, cx, cy, 3, 2, g, gain, count), 2);
    assert_true(g[0] == 1 && gain[0] == 6 && count[0] == 2);
    assert_true(g[1] == 0 && gain[1] == 2 && count[1] == 1);
    /* k = 1: greedy is the optimum (M, 6) */
    gis_cover_reset(c);
    assert_int_equal(gis_cover_exact(c, cx, cy, 3, 1, 1000, e, &best), 0);
    assert_true(best == 6 && e[0] == 1);
    /* too many combinations to enumerate: says so and does nothing */
    assert_int_equal(gis_cover_exact(c, cx, cy, 3, 2, 2, e, &best), 1);
    gis_cover_destroy(c);
}

/* The best union weight of k candidates by brute force over bitmasks (n, m small). */
static double brute(const double *x, const double *y, const double *w, int n, const double *cx,
                    const double *cy, int m, int k, double r) {
    double best = 0;
    for (unsigned set = 0; set < (1u << m); set++) {
        if (__builtin_popcount(set) != k) continue;
        double sum = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                if ((set >> j & 1) && hypot(x[i] - cx[j], y[i] - cy[j]) <= r) {
                    sum += w[i];
                    break;
                }
        if (sum > best) best = sum;
    }
    return best;
}

static void test_random_cases_against_brute_force(void **state) {
    (void)state;
    srand(21);
    int suboptimal = 0;
    for (int round = 0; round < 300; round++) {
        enum { N = 40, M = 10 };
        double x[N], y[N], w[N], cx[M], cy[M], r = 150 + rand() % 300;
        for (int i = 0; i < N; i++)
            x[i] = rand() % 1000, y[i] = rand() % 1000, w[i] = 1 + rand() % 5;
        for (int j = 0; j < M; j++)
            cx[j] = rand() % 1000, cy[j] = rand() % 1000;
        int k = 1 + round % 4, g[4], e[4];
        double gain[4], best, want = brute(x, y, w, N, cx, cy, M, k, r);
        char err[64];
        gis_cover *c = gis_cover_create(x, y, w, N, r, err, sizeof err);
        assert_int_equal(gis_cover_exact(c, cx, cy, M, k, 100000, e, &best), 0);
        assert_true(fabs(best - want) < 1e-9);
        int got = gis_cover_greedy(c, cx, cy, M, k, g, gain, NULL);
        double sum = 0;
        for (int i = 0; i < got; i++)
            sum += gain[i];
        assert_true(sum <= want + 1e-9);
        assert_true(sum >= (1 - 1 / M_E) * want - 1e-9);
        if (k == 1) assert_true(fabs(sum - want) < 1e-9);
        suboptimal += sum < want - 1e-9;
        gis_cover_destroy(c);
    }
    printf("greedy below the optimum in %d of 300 random cases\n", suboptimal);
}

static void test_combinations(void **state) {
    (void)state;
    assert_int_equal(gis_cover_combinations(10, 3, 1000), 120);
    assert_int_equal(gis_cover_combinations(5, 0, 1000), 1);
    assert_int_equal(gis_cover_combinations(3, 4, 1000), 0);
    assert_int_equal(gis_cover_combinations(5000, 50, 1000), 1001);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_within_and_marks),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_greedy_is_not_always_optimal),
        cmocka_unit_test(test_random_cases_against_brute_force),
        cmocka_unit_test(test_combinations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
