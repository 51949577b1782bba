/* gis/cover.c - maximal covering on the plane: demand bucketed by cell, greedy and exact choice. */
#include "gis/cover.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/err.h"

struct gis_cover {
    size_t n;
    double r, r2, x0, y0;
    double *x, *y, *w;   /* by cell order */
    int64_t *key;        /* cell key of each point, ascending */
    unsigned char *done; /* covered marks */
};

static int64_t cell_key(int64_t ix, int64_t iy) {
    return iy * ((int64_t)1 << 32) + ix;
}

static void cell_of(const gis_cover *c, double x, double y, int64_t *ix, int64_t *iy) {
    *ix = (int64_t)floor((x - c->x0) / c->r);
    *iy = (int64_t)floor((y - c->y0) / c->r);
}

typedef struct sort_item {
    int64_t key;
    size_t i;
} sort_item;

static int item_cmp(const void *a, const void *b) {
    const sort_item *p = a, *q = b;
    return p->key < q->key ? -1 : p->key > q->key ? 1 : (p->i > q->i) - (p->i < q->i);
}

void gis_cover_destroy(gis_cover *c) {
    if (!c) return;
    free(c->x);
    free(c->key);
    free(c->done);
    free(c);
}

/* Copies the points into c in cell order. Returns 0 or -1 (out of memory). */
static int fill(gis_cover *c, const double *x, const double *y, const double *w) {
    size_t n = c->n ? c->n : 1;
    sort_item *it = malloc(sizeof *it * n);
    c->x = malloc(sizeof(double) * n * 3);
    c->key = malloc(sizeof *c->key * n);
    c->done = calloc(n, 1);
    if (!it || !c->x || !c->key || !c->done) {
        free(it);
        return -1;
    }
    c->y = c->x + n, c->w = c->y + n;
    for (size_t i = 0; i < c->n; i++) {
        int64_t ix, iy;
        cell_of(c, x[i], y[i], &ix, &iy);
        it[i] = (sort_item){cell_key(ix, iy), i};
    }
    qsort(it, c->n, sizeof *it, item_cmp);
    for (size_t k = 0; k < c->n; k++) {
        size_t i = it[k].i;
        c->x[k] = x[i], c->y[k] = y[i], c->w[k] = w[i], c->key[k] = it[k].key;
    }
    free(it);
    return 0;
}

gis_cover *gis_cover_create(const double *x, const double *y, const double *w, size_t n,
                            double radius, char *err, size_t errlen) {
    if (!(radius > 0) || !isfinite(radius)) {
        gis_set_err(err, errlen, "cover: the radius must be a positive number");
        return NULL;
    }
    double x0 = INFINITY, y0 = INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) || !isfinite(w[i]) || w[i] < 0) {
            gis_set_err(err, errlen,
                        "cover: demand point %zu is not finite or has a negative weight", i);
            return NULL;
        }
        x0 = x[i] < x0 ? x[i] : x0, y0 = y[i] < y0 ? y[i] : y0;
    }
    gis_cover *c = calloc(1, sizeof *c);
    if (!c) goto oom;
    c->n = n, c->r = radius, c->r2 = radius * radius;
    c->x0 = n ? x0 : 0, c->y0 = n ? y0 : 0;
    if (fill(c, x, y, w) == 0) return c;
oom:
    gis_cover_destroy(c);
    gis_set_err(err, errlen, "cover: out of memory");
    return NULL;
}

/* The first point of cell key k (binary search), or c->n. */
static size_t cell_start(const gis_cover *c, int64_t k) {
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->key[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Calls fn(c, i, ud) for every point within the radius of (x, y). */
static void each_within(const gis_cover *c, double x, double y,
                        void (*fn)(const gis_cover *, size_t, void *), void *ud) {
    int64_t ix, iy;
    if (!isfinite(x) || !isfinite(y)) return;
    cell_of(c, x, y, &ix, &iy);
    for (int64_t dy = -1; dy <= 1; dy++)
        for (int64_t dx = -1; dx <= 1; dx++) {
            int64_t k = cell_key(ix + dx, iy + dy);
            for (size_t i = cell_start(c, k); i < c->n && c->key[i] == k; i++) {
                double ex = c->x[i] - x, ey = c->y[i] - y;
                if (ex * ex + ey * ey <= c->r2) fn(c, i, ud);
            }
        }
}

typedef struct sum_ctx {
    double w;
    size_t n;
    int uncovered_only, mark;
} sum_ctx;

static void sum_one(const gis_cover *c, size_t i, void *ud) {
    sum_ctx *s = ud;
    if (s->uncovered_only && c->done[i]) return;
    s->w += c->w[i];
    s->n++;
    if (s->mark) c->done[i] = 1; /* only through gis_cover_mark, whose c is not const */
}

double gis_cover_within(const gis_cover *c, double x, double y, int uncovered_only, size_t *count) {
    sum_ctx s = {0, 0, uncovered_only, 0};
    each_within(c, x, y, sum_one, &s);
    if (count) *count = s.n;
    return s.w;
}

double gis_cover_mark(gis_cover *c, double x, double y, size_t *count) {
    sum_ctx s = {0, 0, 1, 1};
    each_within(c, x, y, sum_one, &s);
    if (count) *count = s.n;
    return s.w;
}

void gis_cover_reset(gis_cover *c) {
    if (c->n) memset(c->done, 0, c->n);
}

int gis_cover_greedy(gis_cover *c, const double *cx, const double *cy, size_t nc, int k,
                     int *chosen, double *gain, size_t *count) {
    double *bound = malloc(sizeof *bound * (nc ? nc : 1));
    unsigned char *taken = calloc(nc ? nc : 1, 1);
    int got = 0;
    if (!bound || !taken) {
        free(bound);
        free(taken);
        return -1;
    }
    for (size_t j = 0; j < nc; j++)
        bound[j] = gis_cover_within(c, cx[j], cy[j], 1, NULL);
    while (got < k) {
        /* lazy: re-evaluate the best bound until it stays the best (gains only fall) */
        long best = -1;
        for (;;) {
            best = -1;
            for (size_t j = 0; j < nc; j++)
                if (!taken[j] && (best < 0 || bound[j] > bound[best])) best = (long)j;
            if (best < 0) break;
            double now = gis_cover_within(c, cx[best], cy[best], 1, NULL);
            int stale = now < bound[best];
            bound[best] = now;
            if (!stale) break;
        }
        if (best < 0 || bound[best] <= 0) break;
        chosen[got] = (int)best;
        size_t n;
        gain[got] = gis_cover_mark(c, cx[best], cy[best], &n);
        if (count) count[got] = n;
        got++;
        taken[best] = 1;
    }
    free(bound);
    free(taken);
    return got;
}

long long gis_cover_combinations(size_t n, int k, long long max) {
    if (k < 0 || (size_t)k > n) return 0;
    long double v = 1;
    for (int i = 1; i <= k; i++) {
        v = v * (long double)(n - (size_t)k + (size_t)i) / i;
        if (v > (long double)max) return max + 1;
    }
    return (long long)(v + 0.5L);
}

/* What each candidate covers (uncovered points, by index), for the exact search. */
typedef struct lists {
    size_t *idx, *start; /* candidate j covers idx[start[j] .. start[j + 1]) */
    double *alone;       /* weight each covers alone */
    double *most;        /* most[j]: the largest alone[j'] for j' >= j */
    size_t len, cap;
} lists;

static void list_one(const gis_cover *c, size_t i, void *ud) {
    lists *l = ud;
    if (c->done[i] || !l->idx) return;
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        size_t *p = realloc(l->idx, sizeof *p * cap);
        if (!p) {
            free(l->idx);
            l->idx = NULL;
            return;
        }
        l->idx = p, l->cap = cap;
    }
    l->idx[l->len++] = i;
}

/* The search state: the combination so far, a stamp per point (counted in this union). */
typedef struct search {
    const gis_cover *c;
    const lists *l;
    int k, *cur, *best_set;
    unsigned *stamp, tick;
    double best;
} search;

/* The weight of the union of s->cur[0..k). */
static double union_weight(search *s) {
    double w = 0;
    s->tick++;
    for (int a = 0; a < s->k; a++) {
        size_t j = (size_t)s->cur[a];
        for (size_t p = s->l->start[j]; p < s->l->start[j + 1]; p++) {
            size_t i = s->l->idx[p];
            if (s->stamp[i] != s->tick) s->stamp[i] = s->tick, w += s->c->w[i];
        }
    }
    return w;
}

/* Every combination extending cur[0..depth) with candidates from `from` on, skipping those that
 * cannot beat the best found: `bound` is what the chosen cover alone, summed; each further pick
 * adds at most the largest alone-weight left. */
static void enumerate(search *s, size_t nc, int depth, size_t from, double bound) {
    if (depth == s->k) {
        double w = union_weight(s);
        if (w > s->best) {
            s->best = w;
            memcpy(s->best_set, s->cur, sizeof(int) * (size_t)s->k);
        }
        return;
    }
    for (size_t j = from; j + (size_t)(s->k - depth) <= nc; j++) {
        if (bound + s->l->most[j] * (s->k - depth) <= s->best) break; /* most[] only falls */
        s->cur[depth] = (int)j;
        enumerate(s, nc, depth + 1, j + 1, bound + s->l->alone[j]);
    }
}

int gis_cover_exact(const gis_cover *c, const double *cx, const double *cy, size_t nc, int k,
                    long long max_combos, int *chosen, double *best) {
    if (k <= 0 || (size_t)k > nc) return 1;
    if (gis_cover_combinations(nc, k, max_combos) > max_combos) return 1;
    lists l = {.idx = malloc(sizeof(size_t) * 256), .cap = 256};
    l.start = malloc(sizeof(size_t) * (nc + 1));
    l.alone = malloc(sizeof(double) * nc * 2);
    search s = {.c = c, .l = &l, .k = k, .best = -1};
    s.cur = malloc(sizeof(int) * (size_t)k * 2);
    s.stamp = calloc(c->n ? c->n : 1, sizeof *s.stamp);
    int rc = -1;
    for (size_t j = 0; l.idx && l.start && l.alone && j < nc; j++) {
        l.start[j] = l.len;
        l.alone[j] = gis_cover_within(c, cx[j], cy[j], 1, NULL);
        each_within(c, cx[j], cy[j], list_one, &l);
    }
    if (l.idx && l.start && l.alone && s.cur && s.stamp) {
        l.start[nc] = l.len;
        l.most = l.alone + nc;
        for (size_t j = nc; j-- > 0;)
            l.most[j] = j + 1 < nc && l.most[j + 1] > l.alone[j] ? l.most[j + 1] : l.alone[j];
        s.best_set = s.cur + k;
        enumerate(&s, nc, 0, 0, 0);
        memcpy(chosen, s.best_set, sizeof(int) * (size_t)k);
        *best = s.best;
        rc = 0;
    }
    free(l.idx);
    free(l.start);
    free(l.alone);
    free(s.cur);
    free(s.stamp);
    return rc;
}
