/* gis/cover.h - maximal covering on the plane (MCLP, Church and ReVelle 1974): weighted demand
 * points, candidate sites, a service radius in metres (straight line, e.g. CGCS2000 Gauss-Kruger
 * coordinates from gis/transform). Which demand lies within the radius of a site, how much a set
 * of sites covers, the greedy choice of k sites and, for small cases, the exact optimum.
 *
 * Pure: no I/O, no globals. A gis_cover is used by one thread at a time (its covered marks change);
 * distinct ones are independent. Points are bucketed in a grid of cells the size of the radius,
 * kept sorted by cell, so a query reads the nine cells around it (no memory per empty cell). */
#ifndef GIS_COVER_H
#define GIS_COVER_H

#include <stddef.h>

typedef struct gis_cover gis_cover;

/* A cover problem over n demand points (x[i], y[i]) with weights w[i] >= 0 and service radius
 * `radius` (> 0, the same unit as the coordinates). The arrays are copied. Returns NULL with a
 * message in err (errlen bytes) on bad input (non-finite values, radius <= 0) or out of memory.
 * The caller frees it with gis_cover_destroy. */
gis_cover *gis_cover_create(const double *x, const double *y, const double *w, size_t n,
                            double radius, char *err, size_t errlen);

/* Frees c; NULL is a no-op. */
void gis_cover_destroy(gis_cover *c);

/* The weight of the demand within the radius of (x, y) (distance <= radius), of every point
 * (uncovered_only 0) or of those not yet marked covered; *count (may be NULL) gets their number. */
double gis_cover_within(const gis_cover *c, double x, double y, int uncovered_only, size_t *count);

/* Marks covered every demand point within the radius of (x, y) (an existing site). Returns the
 * weight newly covered; *count (may be NULL) gets how many points. */
double gis_cover_mark(gis_cover *c, double x, double y, size_t *count);

/* Forgets every mark. */
void gis_cover_reset(gis_cover *c);

/* Greedy maximal covering: up to k sites among the nc candidates (cx[j], cy[j]), each the one that
 * adds the most weight not yet covered (ties: the lowest index), with lazy re-evaluation (a
 * candidate's gain only falls as sites are added). Stops early when no candidate adds anything.
 * Fills chosen[0..] (candidate indices), gain[0..] (the weight each added) and count[0..] (how many
 * points; count may be NULL) and marks what they cover. Returns how many were chosen (0..k), or -1 out of memory. Greedy covers at least
 * (1 - 1/e) of the optimum and equals it for k = 1. */
int gis_cover_greedy(gis_cover *c, const double *cx, const double *cy, size_t nc, int k,
                     int *chosen, double *gain, size_t *count);

/* The exact optimum for small cases: the k candidates (k <= nc) whose union covers the most
 * weight not yet covered, by enumerating every combination with a bound; *best gets that weight
 * and chosen[0..k) the candidates (lexicographically first among equals). Marks nothing.
 * Returns 0, 1 when C(nc, k) exceeds max_combos (nothing done: too big to enumerate), -1 out of
 * memory. */
int gis_cover_exact(const gis_cover *c, const double *cx, const double *cy, size_t nc, int k,
                    long long max_combos, int *chosen, double *best);

/* C(n, k), or max + 1 when it is larger than max. */
long long gis_cover_combinations(size_t n, int k, long long max);

#endif
