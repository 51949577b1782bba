/* tests/unit/test_gazetteer.c - gis/gazetteer: normalisation, aliases, search tiers and order,
 * pinyin, codes, former names, nearest against brute force, layers against one build, posting
 * lists and fences against brute force, publication (also under concurrent readers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gis/gazetteer.h"
#include "../../gis/transform.h"

static void test_normalize(void **state) {
    (void)state;
    char out[256];
    assert_int_equal(
        gaz_normalize("ＨＡＩ　ｚｈｏｕ ", strlen("ＨＡＩ　ｚｈｏｕ "), out, sizeof out), 7);
    assert_string_equal(out, "haizhou");
    assert_int_equal(gaz_normalize("海州區", strlen("海州區"), out, sizeof out), 3);
    assert_string_equal(out, "海州区");
    assert_int_equal(gaz_normalize("\xff", 1, out, sizeof out), -1);
    assert_int_equal(gaz_normalize("\xc0\x80", 2, out, sizeof out), -1);     /* overlong */
    assert_int_equal(gaz_normalize("\xed\xa0\x80", 3, out, sizeof out), -1); /* surrogate */
    assert_int_equal(gaz_normalize("a\0b", 3, out, sizeof out), -1);
    assert_int_equal(gaz_normalize("海州区", strlen("海州区"), out, 4), -2);
    assert_int_equal(gaz_normalize(" \t", 2, out, sizeof out), 0);
}

static void add(gaz_builder *b, const char *code, const char *name, const char *level,
                const char *parent, double lon, double lat) {
    char err[128];
    assert_int_equal(gaz_builder_add(b, GAZ_DIVISION, code, 0, name, level, parent, NULL, lon, lat,
                                     NULL, NULL, NULL, err, sizeof err),
                     0);
}

static gaz *sample(void) {
    gaz_builder *b = gaz_builder_create();
    char err[128];
    add(b, "320700000000", "连云港市", "city", NULL, NAN, NAN);
    add(b, "320706000000", "海州区", "county", "320700000000", 119.2, 34.57);
    add(b, "320706010000", "新浦街道", "town", "320706000000", 119.2, 34.6);
    add(b, "320706010001", "朝阳社区居委会", "community", "320706010000", 119.21, 34.61);
    add(b, "320706011001", "朝阳社区居委会", "community", "320706011000", 119.25, 34.62);
    add(b, "320706011000", "海州街道", "town", "320706000000", 119.15, 34.58);
    add(b, "320771000000", "连云港经济技术开发区", "county", "320700000000", NAN, NAN);
    add(b, "320706012000", "银行街道", "town", "320706000000", 119.1, 34.5);
    /* a former town merged into 新浦街道, and a station with an alias */
    assert_int_equal(gaz_builder_add(b, GAZ_DIVISION, "320706013000", 0, "老街镇", "town",
                                     "320706000000", NULL, NAN, NAN, "2020-01-01", "2024-01-01",
                                     "320706010000", err, sizeof err),
                     0);
    const char *al[] = {"海州站", NULL};
    assert_int_equal(gaz_builder_add(b, GAZ_STATION, "320706000000", 7, "海州区救助站", "station",
                                     NULL, al, 119.19, 34.59, NULL, NULL, NULL, err, sizeof err),
                     0);
    assert_int_equal(gaz_builder_add(b, GAZ_DIVISION, "12", 0, "x", "town", NULL, NULL, NAN, NAN,
                                     NULL, NULL, NULL, err, sizeof err),
                     -1);
    assert_int_equal(gaz_builder_add(b, GAZ_DIVISION, "320706099000", 0, "\xff", "town", NULL, NULL,
                                     NAN, NAN, NULL, NULL, NULL, err, sizeof err),
                     -1);
    gaz *g = gaz_builder_finish(b, err, sizeof err);
    assert_non_null(g);
    return g;
}

static const char *name_of(const gaz *g, const gaz_hit *h) {
    return gaz_text(g, gaz_entry_at(g, h->entry)->name);
}

static int search(const gaz *g, const char *q, gaz_hit *hits, int limit) {
    char err[128];
    gaz_query opt = {NULL, 0, 0, 0, limit, NULL};
    return gaz_search(g, q, &opt, hits, err, sizeof err);
}

static void test_tiers_and_order(void **state) {
    (void)state;
    gaz *g = sample();
    gaz_hit h[20];
    int n = search(g, "海州", h, 20);
    assert_true(n >= 3);
    assert_string_equal(name_of(g, &h[0]), "海州区"); /* exact alias (suffix stripped) */
    assert_int_equal(h[0].tier, GAZ_EXACT);
    assert_string_equal(name_of(g, &h[1]), "海州街道");
    for (int i = 1; i < n; i++)
        assert_true(h[i - 1].tier <= h[i].tier);
    /* one character: substring hits too, shorter names first inside a tier */
    n = search(g, "阳", h, 20);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].tier, GAZ_SUBSTRING);
    /* namesakes: both, told apart by parent */
    n = search(g, "朝阳社区居委会", h, 20);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].tier, GAZ_EXACT);
    assert_int_equal(h[1].tier, GAZ_EXACT);
    assert_int_not_equal(gaz_entry_at(g, h[0].entry)->parent, gaz_entry_at(g, h[1].entry)->parent);
    /* short form and parent-stripped alias */
    n = search(g, "开发区", h, 20);
    assert_int_equal(n, 1);
    assert_string_equal(name_of(g, &h[0]), "连云港经济技术开发区");
    assert_int_equal(h[0].tier, GAZ_EXACT);
    /* given alias of a station */
    n = search(g, "海州站", h, 20);
    assert_int_equal(n, 1);
    assert_int_equal(gaz_entry_at(g, h[0].entry)->kind, GAZ_STATION);
    /* limit */
    assert_int_equal(search(g, "海", h, 1), 1);
    gaz_destroy(g);
}

static void test_pinyin_and_codes(void **state) {
    (void)state;
    gaz *g = sample();
    gaz_hit h[20];
    assert_true(search(g, "haizhou", h, 20) >= 2);
    assert_string_equal(name_of(g, &h[0]), "海州区");
    assert_int_equal(h[0].tier, GAZ_PINYIN);
    assert_true(search(g, "hzq", h, 20) >= 1);
    assert_string_equal(name_of(g, &h[0]), "海州区");
    /* 行 reads yin-hang and yin-xing: both spellings find 银行街道 */
    assert_int_equal(search(g, "yinhang", h, 20), 1);
    assert_int_equal(search(g, "yinxing", h, 20), 1);
    assert_int_equal(search(g, "yhjd", h, 20), 1);
    assert_int_equal(search(g, "qqqq", h, 20), 0);
    /* codes */
    assert_true(search(g, "320706", h, 20) >= 5);
    assert_string_equal(gaz_entry_at(g, h[0].entry)->code, "320706000000");
    assert_int_equal(h[0].tier, GAZ_EXACT);
    assert_int_equal(gaz_find_code(g, "320706"), gaz_find_code(g, "320706000000"));
    assert_int_equal(gaz_find_code(g, "999999"), -1);
    uint32_t kids[8];
    assert_int_equal(gaz_children(g, (uint32_t)gaz_find_code(g, "320706"), kids, 8), 3);
    /* a former town: found, pointing at today's division */
    assert_int_equal(search(g, "老街", h, 20), 1);
    const gaz_entry *e = gaz_entry_at(g, h[0].entry);
    assert_true(e->former);
    assert_string_equal(gaz_text(g, gaz_entry_at(g, (uint32_t)e->replaced_by)->name), "新浦街道");
    /* within */
    char err[128];
    gaz_query opt = {"320706010", 0, 0, 0, 20, NULL};
    assert_int_equal(gaz_search(g, "朝阳", &opt, h, err, sizeof err), 1);
    assert_string_equal(gaz_entry_at(g, h[0].entry)->code, "320706010001");
    /* bad queries */
    assert_int_equal(gaz_search(g, "", &opt, h, err, sizeof err), -1);
    assert_int_equal(gaz_search(g, "\xff", &opt, h, err, sizeof err), -1);
    char big[500];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(gaz_search(g, big, &opt, h, err, sizeof err), -1);
    gaz_destroy(g);
}

static void test_nearest_brute_force(void **state) {
    (void)state;
    gaz_builder *b = gaz_builder_create();
    char err[128];
    srand(42);
    enum { N = 3000 };
    double lon[N], lat[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        lon[i] = 118 + 2.0 * rand() / RAND_MAX, lat[i] = 33.5 + 2.0 * rand() / RAND_MAX;
        snprintf(name, sizeof name, "点%d", i);
        assert_int_equal(gaz_builder_add(b, GAZ_PLACE, NULL, i + 1, name, "poi", NULL, NULL, lon[i],
                                         lat[i], NULL, NULL, NULL, err, sizeof err),
                         0);
    }
    gaz *g = gaz_builder_finish(b, err, sizeof err);
    assert_non_null(g);
    for (int t = 0; t < 300; t++) {
        double x = 117.5 + 3.0 * rand() / RAND_MAX, y = 33 + 3.0 * rand() / RAND_MAX;
        gaz_hit h[5];
        assert_int_equal(gaz_nearest(g, x, y, 5, h), 5);
        /* brute force: the 5 smallest geodesic distances */
        double best[5] = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
        for (int i = 0; i < N; i++) {
            double d = gis_geodesic_m(x, y, lon[i], lat[i]);
            for (int k = 0; k < 5; k++)
                if (d < best[k]) {
                    memmove(best + k + 1, best + k, (size_t)(4 - k) * sizeof *best);
                    best[k] = d;
                    break;
                }
        }
        for (int k = 0; k < 5; k++)
            assert_true(fabs(h[k].distance_m - best[k]) < 1e-6);
    }
    gaz_destroy(g);
}

/* The same stations and places as a top layer over the divisions of sample(), and all in one. */
static void add_points(gaz_builder *b) {
    char err[128];
    const char *al[] = {"海州站", "Ｈａｉ 站", NULL}, *al2[] = {"老\"街\\", NULL};
    assert_int_equal(gaz_builder_add(b, GAZ_STATION, "320706000000", 7, "海州区救助站", "station",
                                     NULL, al, 119.19, 34.59, NULL, NULL, NULL, err, sizeof err),
                     0);
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof name, "朝阳公园%d号门", i);
        assert_int_equal(gaz_builder_add(b, GAZ_PLACE, i % 2 ? "320706010001" : "320706011000",
                                         100 + i, name, "park", NULL, i % 3 ? NULL : al2,
                                         119.1 + i * 0.0005, 34.5 + i * 0.0003, NULL, NULL, NULL,
                                         err, sizeof err),
                         0);
    }
}

/* Five divisions of sample(): the layer under add_points. */
static void add_divisions(gaz_builder *b) {
    static const char *const rows[][4] = {
        {"320700000000", "连云港市", "city", NULL},
        {"320706000000", "海州区", "county", "320700000000"},
        {"320706010000", "新浦街道", "town", "320706000000"},
        {"320706010001", "朝阳社区居委会", "community", "320706010000"},
        {"320706011000", "海州街道", "town", "320706000000"}};
    static const double pts[][2] = {
        {NAN, NAN}, {119.2, 34.57}, {119.2, 34.6}, {119.21, 34.61}, {119.15, 34.58}};
    for (int i = 0; i < 5; i++)
        add(b, rows[i][0], rows[i][1], rows[i][2], rows[i][3], pts[i][0], pts[i][1]);
}

static gaz *divisions_only(uint64_t tag) {
    gaz_builder *b = gaz_builder_create();
    char err[128];
    add_divisions(b);
    gaz_builder_tag(b, tag);
    gaz *g = gaz_builder_finish(b, err, sizeof err);
    assert_non_null(g);
    return g;
}

static void test_layers(void **state) {
    (void)state;
    char err[128];
    gaz *base = divisions_only(42);
    gaz_builder *top = gaz_builder_create(), *all = gaz_builder_create();
    add_points(top);
    gaz *over = gaz_builder_finish_over(top, base, err, sizeof err);
    assert_non_null(over);
    gaz_destroy(base); /* the divisions live on in over */
    assert_int_equal(gaz_base_tag(over), 42);
    add_divisions(all);
    add_points(all);
    gaz *one = gaz_builder_finish(all, err, sizeof err);
    assert_non_null(one);
    /* the same answers, entry for entry */
    static const char *const qs[] = {"朝阳",  "海州",   "海州站",  "haizhou",      "cygy",
                                     "hai站", "老\"街", "3207",    "320706010001", "门",
                                     "号门",  "公园1",  "zhaoyang"};
    for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++)
        for (int near = 0; near < 2; near++) {
            gaz_hit a[500], b[500];
            gaz_query opt = {q % 2 ? "320706" : NULL, near, 119.2, 34.6, q % 3 ? 500 : 7, NULL};
            int na = gaz_search(over, qs[q], &opt, a, err, sizeof err);
            int nb = gaz_search(one, qs[q], &opt, b, err, sizeof err);
            assert_true(na > 0);
            assert_int_equal(na, nb);
            for (int i = 0; i < na; i++) {
                assert_int_equal(a[i].entry, b[i].entry);
                assert_int_equal(a[i].tier, b[i].tier);
                assert_true(a[i].distance_m == b[i].distance_m);
            }
        }
    for (int t = 0; t < 200; t++) { /* nearest of both layers at once, as of one */
        gaz_hit a[8], b[8];
        double x = 119 + 0.4 * (t % 20) / 20, y = 34.4 + 0.4 * (t / 20) / 10.0;
        assert_int_equal(gaz_nearest(over, x, y, 8, a), 8);
        assert_int_equal(gaz_nearest(one, x, y, 8, b), 8);
        for (int i = 0; i < 8; i++) {
            assert_int_equal(a[i].entry, b[i].entry);
            assert_true(a[i].distance_m == b[i].distance_m);
        }
    }
    /* texts, parents and codes across the layers */
    const gaz_entry *st = gaz_entry_at(over, 5);
    assert_string_equal(gaz_text(over, st->name), "海州区救助站");
    assert_string_equal(gaz_text(over, st->level), "station");
    assert_null(gaz_text(over, st->valid_from));
    assert_string_equal(gaz_text(over, gaz_entry_at(over, (uint32_t)st->parent)->name), "海州区");
    assert_int_equal(gaz_find_code(over, "320706"), 1);
    uint32_t kids[4];
    assert_int_equal(gaz_children(over, 1, kids, 4), 2);
    /* a division on top is refused */
    gaz_builder *bad = gaz_builder_create();
    add(bad, "320706012000", "银行街道", "town", "320706000000", NAN, NAN);
    assert_null(gaz_builder_finish_over(bad, over, err, sizeof err));
    gaz_destroy(over);
    gaz_destroy(one);
}

/* Posting lists of every gap size and key ranges much longer than a fence: the hits of a query
 * are exactly the names that hold it. */
static void test_postings_and_fences(void **state) {
    (void)state;
    enum { N = 40000 };
    gaz_builder *b = gaz_builder_create();
    char err[128], (*names)[40] = calloc(N, 40);
    static const char *const ch[] = {"甲", "乙", "丙", "丁", "戊"};
    assert_non_null(names);
    for (int i = 0; i < N; i++) { /* 丁 every 300th, 戊 every 20,000th: gaps past 2^7, 2^14 */
        snprintf(names[i], 40, "%s%s%s%s%d", ch[i % 3], i % 300 == 7 ? "丁" : ch[(i / 3) % 3],
                 i % 20000 == 11 ? "戊" : "", ch[(i / 9) % 3], i);
        assert_int_equal(gaz_builder_add(b, GAZ_PLACE, NULL, i + 1, names[i], "poi", NULL, NULL,
                                         NAN, NAN, NULL, NULL, NULL, err, sizeof err),
                         0);
    }
    gaz *g = gaz_builder_finish(b, err, sizeof err);
    assert_non_null(g);
    static const char *const qs[] = {"丁",   "戊",      "甲丁", "丁乙",
                                     "丙戊", "甲乙丙1", "乙99", "丙丙丙3"};
    for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
        gaz_hit h[GAZ_MAX_LIMIT];
        gaz_query opt = {NULL, 0, 0, 0, GAZ_MAX_LIMIT, NULL};
        int n = gaz_search(g, qs[q], &opt, h, err, sizeof err), want = 0;
        for (int i = 0; i < N; i++)
            want += strstr(names[i], qs[q]) != NULL;
        assert_int_equal(n, want < GAZ_MAX_LIMIT ? want : GAZ_MAX_LIMIT);
        for (int i = 0; i < n; i++)
            assert_non_null(strstr(gaz_text(g, gaz_entry_at(g, h[i].entry)->name), qs[q]));
    }
    /* pinyin over thousands of keys: jia yi bing ding wu */
    gaz_hit h[GAZ_MAX_LIMIT];
    gaz_query opt = {NULL, 0, 0, 0, GAZ_MAX_LIMIT, NULL};
    assert_int_equal(gaz_search(g, "jiayibing", &opt, h, err, sizeof err), GAZ_MAX_LIMIT);
    for (int i = 0; i < GAZ_MAX_LIMIT; i++)
        assert_memory_equal(gaz_text(g, gaz_entry_at(g, h[i].entry)->name), "甲乙丙", 9);
    free(names);
    gaz_destroy(g);
}

/* Namesakes in other provinces (鼓楼, 海州区) beside 海州区's own: the caller's division first. */
static gaz *namesakes(void) {
    gaz_builder *b = gaz_builder_create();
    char err[128];
    add(b, "210900000000", "阜新市", "city", NULL, 121.67, 42.02);
    add(b, "210902000000", "海州区", "county", "210900000000", 121.66, 42.01);
    add(b, "320100000000", "南京市", "city", NULL, 118.8, 32.06);
    add(b, "320106000000", "鼓楼区", "county", "320100000000", 118.77, 32.07);
    add(b, "350100000000", "福州市", "city", NULL, 119.3, 26.08);
    add(b, "350102000000", "鼓楼区", "county", "350100000000", 119.3, 26.08);
    add(b, "110118001000", "鼓楼街道", "town", NULL, 116.84, 40.37);
    add_divisions(b);
    add(b, "320706011001", "鼓楼社区居委会", "community", "320706011000", 119.17, 34.58);
    add(b, "320706011002", "海州区人民医院社区", "community", "320706011000", 119.18, 34.58);
    gaz *g = gaz_builder_finish(b, err, sizeof err);
    assert_non_null(g);
    return g;
}

static void test_home_first(void **state) {
    (void)state;
    gaz *g = namesakes();
    gaz_hit h[GAZ_MAX_LIMIT], all[GAZ_MAX_LIMIT];
    char err[128];
    gaz_query plain = {NULL, 0, 0, 0, 20, NULL}, home = {NULL, 0, 0, 0, 20, "320706"};
    /* without a home, the exact 鼓楼区 aliases come before the local community */
    assert_true(gaz_search(g, "鼓楼", &plain, h, err, sizeof err) >= 4);
    assert_string_not_equal(gaz_entry_at(g, h[0].entry)->code, "320706011001");
    assert_true(gaz_search(g, "鼓楼", &home, h, err, sizeof err) >= 4);
    assert_string_equal(gaz_entry_at(g, h[0].entry)->code, "320706011001");
    /* hzq: by code order 阜新's 海州区 comes first; from 海州区 its own */
    assert_true(gaz_search(g, "hzq", &plain, h, err, sizeof err) >= 2);
    assert_string_equal(gaz_entry_at(g, h[0].entry)->code, "210902000000");
    assert_true(gaz_search(g, "hzq", &home, h, err, sizeof err) >= 2);
    assert_string_equal(gaz_entry_at(g, h[0].entry)->code, "320706000000");
    /* against the plain order: home's hits, then the others, each group as ranked without home;
     * with within and near, and with a limit that cuts either group */
    static const char *const qs[] = {"鼓楼", "hzq", "海州", "社区", "haizhou", "3207", "区", "gl"};
    static const char *const homes[] = {"320706", "3207", "32", "320706011", "21"};
    static const char *const withins[] = {NULL, "32", "320706", "350102"};
    for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++)
        for (size_t k = 0; k < sizeof homes / sizeof homes[0]; k++)
            for (size_t w = 0; w < sizeof withins / sizeof withins[0]; w++)
                for (int near = 0; near < 2; near++)
                    for (int limit = 1; limit <= GAZ_MAX_LIMIT; limit += GAZ_MAX_LIMIT / 2) {
                        gaz_query o = {withins[w], near, 119.2, 34.6, GAZ_MAX_LIMIT, NULL};
                        int na = gaz_search(g, qs[q], &o, all, err, sizeof err),
                            want[GAZ_MAX_LIMIT], nw = 0;
                        assert_true(na >= 0);
                        size_t hl = strlen(homes[k]);
                        for (int pass = 0; pass < 2; pass++)
                            for (int i = 0; i < na && nw < limit; i++)
                                if ((strncmp(gaz_entry_at(g, all[i].entry)->code, homes[k], hl) ==
                                     0) == !pass)
                                    want[nw++] = (int)all[i].entry;
                        o.limit = limit, o.home = homes[k];
                        assert_int_equal(gaz_search(g, qs[q], &o, h, err, sizeof err), nw);
                        for (int i = 0; i < nw; i++)
                            assert_int_equal(h[i].entry, want[i]);
                    }
    gaz_destroy(g);
}

static void test_slot(void **state) {
    (void)state;
    gaz_slot *s = gaz_slot_create();
    assert_null(gaz_slot_acquire(s));
    gaz_slot_publish(s, sample());
    gaz *a = gaz_slot_acquire(s);
    assert_non_null(a);
    gaz_slot_publish(s, sample()); /* a stays valid until released */
    gaz_hit h[2];
    assert_int_equal(search(a, "海州区", h, 2), 2);
    gaz *b = gaz_slot_acquire(s);
    assert_ptr_not_equal(a, b);
    gaz_release(a);
    gaz_release(b);
    gaz_slot_destroy(s);
    gaz_slot_destroy(NULL);
    gaz_destroy(NULL);
    gaz_release(NULL);
}

/* Readers search while the writer publishes again and again: every reader sees a whole gaz. */
typedef struct {
    gaz_slot *s;
    _Atomic int *stop;
    long searches;
} reader;

static void *read_loop(void *p) {
    reader *r = p;
    char err[128];
    while (!atomic_load(r->stop)) {
        gaz *g = gaz_slot_acquire(r->s), *g2 = gaz_slot_acquire(r->s);
        gaz_hit h[4];
        gaz_query opt = {NULL, 0, 0, 0, 4, NULL};
        if (gaz_search(g, "朝阳", &opt, h, err, sizeof err) != 2) abort();
        if (gaz_search(g2, "haizhou", &opt, h, err, sizeof err) < 1) abort();
        gaz_release(g2);
        gaz_release(g);
        r->searches++;
    }
    return NULL;
}

static void test_slot_threads(void **state) {
    (void)state;
    gaz_slot *s = gaz_slot_create();
    _Atomic int stop = 0;
    reader r[3] = {{s, &stop, 0}, {s, &stop, 0}, {s, &stop, 0}};
    pthread_t t[3];
    gaz_slot_publish(s, sample());
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, read_loop, &r[i]), 0);
    for (int i = 0; i < 40; i++)
        gaz_slot_publish(s, sample());
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_true(r[i].searches > 0);
    }
    gaz_slot_destroy(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),        cmocka_unit_test(test_tiers_and_order),
        cmocka_unit_test(test_pinyin_and_codes), cmocka_unit_test(test_nearest_brute_force),
        cmocka_unit_test(test_layers),           cmocka_unit_test(test_postings_and_fences),
        cmocka_unit_test(test_home_first),       cmocka_unit_test(test_slot),
        cmocka_unit_test(test_slot_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
