/* gis/visits.c - spans of a track inside areas, visits of several units' spans, and a group's
 * active time and distance counted once (see visits.h). */
#include "gis/visits.h"

#include <math.h>
#include <stdlib.h>

#include "gis/err.h"

enum { MAX_PARTS = 32 };

/* Pieces closer than this (seconds) are one: a step's end and the next step's start are the same
 * fix, computed twice. */
#define TOUCH_S 1e-6

/* ---- spans of one track ---- */

typedef struct open_span {
    double t0, t1;
    int open;
} open_span;

typedef struct span_walk {
    const gis_areas *s;
    const unsigned char *allowed;
    const gis_fix *v;
    size_t i, j;
    open_span *st; /* per area */
    gis_span_fn fn;
    void *ud;
} span_walk;

/* Adds [t0, t1] to area a's open period, or closes that one (fn) and opens this. */
static int add_piece(span_walk *w, size_t a, double t0, double t1) {
    open_span *o = &w->st[a];
    if (o->open && t0 <= o->t1 + TOUCH_S) {
        if (t1 > o->t1) o->t1 = t1;
        return 0;
    }
    int rc = o->open ? w->fn(w->ud, a, o->t0, o->t1) : 0;
    o->t0 = t0, o->t1 = t1, o->open = 1;
    return rc;
}

static int span_area(void *ud, size_t a) {
    span_walk *w = ud;
    if (w->allowed && !w->allowed[a]) return 0;
    const gis_fix *f = &w->v[w->i], *g = &w->v[w->j];
    if (w->i == w->j)
        return gis_areas_contains(w->s, a, f->x, f->y) ? add_piece(w, a, f->t, f->t) : 0;
    double ts[2 * MAX_PARTS], dt = g->t - f->t;
    int k = gis_areas_segment_inside(w->s, a, f->x, f->y, g->x, g->y, ts, MAX_PARTS);
    for (int p = 0; p < k; p++) {
        int rc = add_piece(w, a, f->t + ts[2 * p] * dt,
                           ts[2 * p + 1] == 1 ? g->t : f->t + ts[2 * p + 1] * dt);
        if (rc) return rc;
    }
    return 0;
}

static int span_step(void *ud, size_t i, size_t j) {
    span_walk *w = ud;
    const gis_fix *f = &w->v[i], *g = &w->v[j];
    w->i = i, w->j = j;
    return gis_areas_near(w->s, fmin(f->x, g->x), fmin(f->y, g->y), fmax(f->x, g->x),
                          fmax(f->y, g->y), span_area, w);
}

int gis_track_spans(const gis_areas *s, const unsigned char *allowed, const gis_fix *v, size_t n,
                    double gap_s, double gap_m, gis_span_fn fn, void *ud) {
    size_t na = gis_areas_count(s);
    span_walk w = {s, allowed, v, 0, 0, calloc(na ? na : 1, sizeof(open_span)), fn, ud};
    if (!w.st) return -1;
    int rc = gis_track_walk(v, n, gap_s, gap_m, span_step, &w);
    for (size_t a = 0; a < na && !rc; a++)
        if (w.st[a].open) rc = fn(ud, a, w.st[a].t0, w.st[a].t1);
    free(w.st);
    return rc;
}

/* ---- visits of several units ---- */

static int span_cmp(const void *x, const void *y) {
    const gis_span *a = x, *b = y;
    if (a->t0 != b->t0) return a->t0 < b->t0 ? -1 : 1;
    if (a->t1 != b->t1) return a->t1 < b->t1 ? -1 : 1;
    return (a->who > b->who) - (a->who < b->who);
}

size_t gis_visits_join(gis_span *spans, size_t n, double bridge_s, gis_visit *out) {
    size_t nv = 0;
    if (!n) return 0;
    gis_sort(spans, n, sizeof *spans, span_cmp);
    for (size_t k = 0; k < n; k++) {
        if (nv && spans[k].t0 - out[nv - 1].t1 < bridge_s) {
            gis_visit *v = &out[nv - 1];
            if (spans[k].t1 > v->t1) v->t1 = spans[k].t1;
            v->count++;
            continue;
        }
        out[nv++] = (gis_visit){spans[k].t0, spans[k].t1, k, 1};
    }
    return nv;
}

double gis_spans_union(const gis_span *v, size_t n, const unsigned char *member) {
    double total = 0, s = 0, e = 0;
    int have = 0;
    for (size_t k = 0; k < n; k++) {
        if (member && !member[v[k].who]) continue;
        if (have && v[k].t0 <= e) {
            if (v[k].t1 > e) e = v[k].t1;
            continue;
        }
        if (have) total += e - s;
        s = v[k].t0, e = v[k].t1, have = 1;
    }
    return have ? total + (e - s) : 0;
}

/* ---- a group's active time and distance ---- */

typedef struct interval {
    double a, b;
} interval;

static int interval_cmp(const void *x, const void *y) {
    const interval *p = x, *q = y;
    return (p->a > q->a) - (p->a < q->a);
}

/* 1 when fixes v[i] and v[i + 1] make a step of the walk (gis_track_walk's rule). */
static int joined(const gis_fix *v, size_t i, double gap_s, double gap_m) {
    double dx = v[i + 1].x - v[i].x, dy = v[i + 1].y - v[i].y;
    return v[i + 1].t - v[i].t <= gap_s && dx * dx + dy * dy <= gap_m * gap_m;
}

/* Where track v[0..n) was at time t (on a step of the walk, or at a fix): 1 with *x, *y, else 0. */
static int position_at(const gis_fix *v, size_t n, double t, double gap_s, double gap_m, double *x,
                       double *y) {
    size_t lo = 0, hi = n; /* the first fix after t */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].t <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return 0;
    const gis_fix *f = &v[lo - 1];
    if (f->t == t) {
        *x = f->x, *y = f->y;
        return 1;
    }
    if (lo == n || !joined(v, lo - 1, gap_s, gap_m)) return 0;
    double p = (t - f->t) / (v[lo].t - f->t);
    *x = f->x + p * (v[lo].x - f->x), *y = f->y + p * (v[lo].y - f->y);
    return 1;
}

/* Unit u's distance in [a, b): its steps' lengths (the part of their time inside), without the
 * steps walked beside a unit listed before it. */
static double unit_metres(const gis_fix *const *tracks, const size_t *n, size_t u, double a,
                          double b, double gap_s, double gap_m, double together_m) {
    const gis_fix *v = tracks[u];
    double metres = 0;
    for (size_t i = 0; i + 1 < n[u]; i++) {
        if (!joined(v, i, gap_s, gap_m) || v[i + 1].t <= a || v[i].t >= b) continue;
        double dt = v[i + 1].t - v[i].t, s = fmax(v[i].t, a), e = fmin(v[i + 1].t, b);
        double share = dt > 0 ? (e - s) / dt : 1, tm = (s + e) / 2,
               p = dt > 0 ? (tm - v[i].t) / dt : 0;
        double mx = v[i].x + p * (v[i + 1].x - v[i].x), my = v[i].y + p * (v[i + 1].y - v[i].y);
        int beside = 0;
        for (size_t w = 0; w < u && !beside; w++) {
            double ox, oy;
            beside = position_at(tracks[w], n[w], tm, gap_s, gap_m, &ox, &oy) &&
                     hypot(ox - mx, oy - my) <= together_m;
        }
        if (!beside) metres += hypot(v[i + 1].x - v[i].x, v[i + 1].y - v[i].y) * share;
    }
    return metres;
}

int gis_group_measure(const gis_fix *const *tracks, const size_t *n, size_t k, double a, double b,
                      double gap_s, double gap_m, double together_m, gis_group_out *out) {
    size_t total = 0, m = 0;
    out->active_s = out->metres = 0;
    for (size_t u = 0; u < k; u++)
        total += n[u];
    interval *iv = malloc((total ? total : 1) * sizeof *iv);
    if (!iv) return -1;
    for (size_t u = 0; u < k; u++) {
        for (size_t i = 0; i + 1 < n[u]; i++) {
            const gis_fix *v = tracks[u];
            if (!joined(v, i, gap_s, gap_m) || v[i + 1].t <= a || v[i].t >= b) continue;
            iv[m++] = (interval){fmax(v[i].t, a), fmin(v[i + 1].t, b)};
        }
        out->metres += unit_metres(tracks, n, u, a, b, gap_s, gap_m, together_m);
    }
    gis_sort(iv, m, sizeof *iv, interval_cmp);
    for (size_t i = 0, j; i < m; i = j) {
        double s = iv[i].a, e = iv[i].b;
        for (j = i + 1; j < m && iv[j].a <= e; j++)
            if (iv[j].b > e) e = iv[j].b;
        out->active_s += e - s;
    }
    free(iv);
    return 0;
}
