/* gis/track.h - a unit's track from its fixes: which fixes are believable and the steps between
 * them. The speed check judges each fix against its neighbours in time (the longest run of fixes
 * that a unit could have travelled through at the speed limit wins), so one glitch, or a glitch
 * every other fix, cannot outvote the real track; the walk cuts the track at gaps in time or
 * space and hands each step (or a lone fix) to the caller: coverage paints it onto area grids
 * (gis/areas.h), visits measure the time inside an area along it.
 *
 * Pure functions: no state, thread-safe. Times in seconds, fixes in time order. */
#ifndef GIS_TRACK_H
#define GIS_TRACK_H

#include <stddef.h>

/* One fix: time, WGS-84/CGCS2000 degrees (the speed check) and projected metres (the walk; see
 * gis_proj_to_gk). A function reads only the fields it names. */
typedef struct gis_fix {
    double t, lon, lat, x, y;
} gis_fix;

/* The speed check of v[0..n) (t strictly increasing; lon, lat): keep[k] = 1 for the fixes of the
 * longest chain in which every step from one kept fix to the next is at most max_mps (geodesic
 * metres over seconds), a step reaching at most `window` fixes ahead (a run of more than
 * window - 1 glitches in a row splits the chain); 0 for the others. Ties go to the chain that ends
 * latest, then to the nearer predecessor. Returns 0, or -1 with a message in err (out of memory:
 * keep is then all 1). */
int gis_track_judge(const gis_fix *v, size_t n, double max_mps, size_t window, unsigned char *keep,
                    char *err, size_t errlen);

/* fn(ud, i, j) for each step of the track v[0..n) (time order; t, x, y): j = i + 1 for two
 * consecutive fixes not more than gap_s seconds and gap_m metres apart; j = i for a fix that has
 * no such neighbour (a lone fix). In time order. fn returns 0 to go on, anything else stops the
 * walk and is returned; 0 when it ran out. */
typedef int (*gis_track_step_fn)(void *ud, size_t i, size_t j);
int gis_track_walk(const gis_fix *v, size_t n, double gap_s, double gap_m, gis_track_step_fn fn,
                   void *ud);

#endif
