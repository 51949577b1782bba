/* tests/unit/test_gis_track.c - gis/track: the speed check keeps a clean track whole, flags a
 * glitch every other fix (fixed or scattered), a lone glitch at the end, and a glitch that comes
 * first (it cannot outvote the real fixes after it, as "the first accepted fix wins" did); the walk
 * cuts at gaps in time and space and reports lone fixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gis/track.h"

#define MAX_MPS 70.0

/* A real walk: 1.5 m/s east from (119.2, 34.6), a fix every 5 s. */
static gis_fix real(int k, double t0) {
    gis_fix f = {t0 + 5.0 * k, 119.2 + k * 7.5 / 91600.0, 34.6, 0, 0};
    return f;
}

static size_t kept(const unsigned char *keep, size_t n) {
    size_t c = 0;
    for (size_t k = 0; k < n; k++)
        c += keep[k];
    return c;
}

static void test_clean_track(void **state) {
    (void)state;
    gis_fix v[300];
    unsigned char keep[300];
    for (int k = 0; k < 300; k++)
        v[k] = real(k, 1000);
    assert_int_equal(gis_track_judge(v, 300, MAX_MPS, 32, keep, NULL, 0), 0);
    assert_int_equal(kept(keep, 300), 300);
    assert_int_equal(gis_track_judge(v, 0, MAX_MPS, 32, keep, NULL, 0), 0);
}

/* The finding: the unit's last fix an hour before (any jump is possible since), then a batch that
 * alternates a glitch and the real track, a glitch first. Glitches at one wrong spot 5 km away are
 * a consistent chain of their own; the real track has the older fix too, so it is longer. */
static void test_alternating_glitches(void **state) {
    (void)state;
    enum { N = 1001 };
    for (int scattered = 0; scattered < 2; scattered++) {
        gis_fix *v = calloc(N, sizeof *v);
        unsigned char *keep = calloc(N, 1);
        v[0] = real(-720, 10000); /* an hour earlier, where the walk starts */
        v[0].lon = 119.2;
        for (int k = 1; k < N; k++) {
            v[k] = real(k / 2, 10000);
            v[k].t = 10000 + 2.5 * k;
            if (k % 2 == 1) { /* the glitch comes first */
                v[k].lon = 119.25 + (scattered ? (k % 7) * 0.01 : 0);
                v[k].lat = 34.6 + (scattered ? (k % 5) * 0.01 : 0);
            }
        }
        assert_int_equal(gis_track_judge(v, N, MAX_MPS, 32, keep, NULL, 0), 0);
        for (int k = 0; k < N; k++)
            assert_int_equal(keep[k], k % 2 == 0); /* every glitch out, every real fix kept */
        free(v);
        free(keep);
    }
}

/* A lone glitch at the end, and one glitch as the only fix before a real track. */
static void test_lone_glitches(void **state) {
    (void)state;
    gis_fix v[12];
    unsigned char keep[12];
    for (int k = 0; k < 11; k++)
        v[k] = real(k, 0);
    v[11] = (gis_fix){60, 121.0, 35.0, 0, 0}; /* 200 km in 10 s */
    assert_int_equal(gis_track_judge(v, 12, MAX_MPS, 32, keep, NULL, 0), 0);
    assert_int_equal(kept(keep, 12), 11);
    assert_int_equal(keep[11], 0);
    v[0] = (gis_fix){0, 121.0, 35.0, 0, 0}; /* now the first one is the glitch */
    for (int k = 1; k < 12; k++)
        v[k] = real(k, 0);
    assert_int_equal(gis_track_judge(v, 12, MAX_MPS, 32, keep, NULL, 0), 0);
    assert_int_equal(keep[0], 0);
    assert_int_equal(kept(keep, 12), 11);
}

/* A legitimate fast move (a car at 20 m/s) is no glitch. */
static void test_fast_but_possible(void **state) {
    (void)state;
    gis_fix v[20];
    unsigned char keep[20];
    for (int k = 0; k < 20; k++)
        v[k] = (gis_fix){k * 10.0, 119.2 + k * 200.0 / 91600.0, 34.6, 0, 0};
    assert_int_equal(gis_track_judge(v, 20, MAX_MPS, 32, keep, NULL, 0), 0);
    assert_int_equal(kept(keep, 20), 20);
}

typedef struct {
    size_t i[32], j[32], n;
} steps;

static int record(void *ud, size_t i, size_t j) {
    steps *s = ud;
    s->i[s->n] = i, s->j[s->n] = j, s->n++;
    return 0;
}

static int stop_at_two(void *ud, size_t i, size_t j) {
    steps *s = ud;
    record(ud, i, j);
    return s->n == 2 ? 7 : 0;
}

static void test_walk_cuts(void **state) {
    (void)state;
    /* 0-1-2 joined; 3 lone (11 min after 2); 4-5 joined; 6 lone (3 km from 5, 10 s later) */
    gis_fix v[] = {{0, 0, 0, 0, 0},      {10, 0, 0, 10, 0},   {20, 0, 0, 20, 0},
                   {680, 0, 0, 30, 0},   {1500, 0, 0, 40, 0}, {1510, 0, 0, 50, 0},
                   {1520, 0, 0, 3050, 0}};
    steps s = {.n = 0};
    assert_int_equal(gis_track_walk(v, 7, 600, 2000, record, &s), 0);
    const size_t wi[] = {0, 1, 3, 4, 6}, wj[] = {1, 2, 3, 5, 6};
    assert_int_equal(s.n, 5);
    for (size_t k = 0; k < 5; k++) {
        assert_int_equal(s.i[k], wi[k]);
        assert_int_equal(s.j[k], wj[k]);
    }
    steps t = {.n = 0};
    assert_int_equal(gis_track_walk(v, 7, 600, 2000, stop_at_two, &t), 7);
    assert_int_equal(t.n, 2);
    steps one = {.n = 0};
    assert_int_equal(gis_track_walk(v, 1, 600, 2000, record, &one), 0);
    assert_int_equal(one.n, 1);
    assert_int_equal(one.i[0], 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_track),   cmocka_unit_test(test_alternating_glitches),
        cmocka_unit_test(test_lone_glitches), cmocka_unit_test(test_fast_but_possible),
        cmocka_unit_test(test_walk_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
