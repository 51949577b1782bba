/* gis/track.c - the speed check (the longest believable chain of fixes, by dynamic programming over
 * a window of neighbours) and the walk over a track's steps. */
#include "gis/track.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gis/err.h"
#include "gis/transform.h"

/* 1 when a unit could go from fix a to fix b at max_mps. */
static int reachable(const gis_fix *a, const gis_fix *b, double max_mps) {
    double d = gis_geodesic_m(a->lon, a->lat, b->lon, b->lat);
    if (isnan(d)) return 0;
    if (d == 0) return 1;
    double dt = b->t - a->t;
    return dt > 0 && d <= max_mps * dt;
}

int gis_track_judge(const gis_fix *v, size_t n, double max_mps, size_t window, unsigned char *keep,
                    char *err, size_t errlen) {
    if (!n) return 0;
    size_t *best = malloc(n * sizeof *best), *prev = malloc(n * sizeof *prev);
    if (!best || !prev) {
        free(best);
        free(prev);
        memset(keep, 1, n);
        gis_set_err(err, errlen, "track: out of memory");
        return -1;
    }
    size_t end = 0;
    if (window < 1) window = 1;
    for (size_t j = 0; j < n; j++) {
        best[j] = 1, prev[j] = j;
        /* nearest first: an earlier fix must make the chain strictly longer to be taken, so a
         * clean track costs one distance per fix */
        for (size_t i = j; i-- > 0 && j - i <= window;)
            if (best[i] + 1 > best[j] && reachable(&v[i], &v[j], max_mps))
                best[j] = best[i] + 1, prev[j] = i;
        if (best[j] >= best[end]) end = j;
    }
    memset(keep, 0, n);
    for (size_t k = end;; k = prev[k]) {
        keep[k] = 1;
        if (prev[k] == k) break;
    }
    free(best);
    free(prev);
    return 0;
}

int gis_track_walk(const gis_fix *v, size_t n, double gap_s, double gap_m, gis_track_step_fn fn,
                   void *ud) {
    int joined_before = 0;
    for (size_t k = 0; k < n; k++) {
        double dx = k + 1 < n ? v[k + 1].x - v[k].x : 0, dy = k + 1 < n ? v[k + 1].y - v[k].y : 0;
        int joined_after =
            k + 1 < n && v[k + 1].t - v[k].t <= gap_s && dx * dx + dy * dy <= gap_m * gap_m;
        int rc = 0;
        if (joined_after)
            rc = fn(ud, k, k + 1);
        else if (!joined_before)
            rc = fn(ud, k, k);
        if (rc) return rc;
        joined_before = joined_after;
    }
    return 0;
}
