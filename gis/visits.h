/* gis/visits.h - patrol visits from tracks crossing areas: the second user of the engine that
 * coverage uses (gis/areas.h for the areas in projected metres, gis/track.h for the walk over a
 * track's steps cut at gaps). A unit's track gives its spans: the periods in which it is inside an
 * area (the parts of each step inside, in time; a lone fix inside is a span of no length). The
 * spans of several units in one area give visits: a visit is a maximal period in which at least one
 * of them is inside, gaps shorter than the bridge joined; its dwell is its length, its units those
 * with a span in it. Tracks of a group also give the group's active time (the union of the units'
 * steps) and distance, where a unit walking beside another (within a distance at the same moment)
 * adds nothing: km and hours of a joint patrol are counted once, never once per unit.
 *
 * Pure functions: no state, thread-safe; times in seconds, positions in the set's metres. */
#ifndef GIS_VISITS_H
#define GIS_VISITS_H

#include <stddef.h>

#include "gis/areas.h"
#include "gis/track.h"

/* The periods a track is inside areas: fn(ud, area, t0, t1) once per maximal period (t0 <= t1) in
 * which the track v[0..n) (time order; t, x, y) is inside area `area` of s, for the areas with
 * allowed[area] set (allowed NULL: every area). Steps are the walk's (gis_track_walk with gap_s and
 * gap_m): the time inside along a step is its time times the parts inside (gis_areas_segment_inside)
 * at a constant speed; a lone fix inside gives a period of no length; parts that touch are one
 * period. In no set order. fn returns 0 to go on, anything else stops the walk and is returned.
 * Returns 0 when it ran out, -1 out of memory. */
typedef int (*gis_span_fn)(void *ud, size_t area, double t0, double t1);
int gis_track_spans(const gis_areas *s, const unsigned char *allowed, const gis_fix *v, size_t n,
                    double gap_s, double gap_m, gis_span_fn fn, void *ud);

/* A unit's period inside one area; who is the caller's index of the unit. */
typedef struct gis_span {
    double t0, t1;
    int who;
} gis_span;

/* One visit: spans[first .. first + count) of the sorted array are its units' periods. */
typedef struct gis_visit {
    double t0, t1;
    size_t first, count;
} gis_visit;

/* Sorts spans[0..n) by start (then end, then who) and joins them into visits: a span starting less
 * than bridge_s after the end of the visit so far belongs to it. Writes the visits to out (room for
 * n) and returns their number. */
size_t gis_visits_join(gis_span *spans, size_t n, double bridge_s, gis_visit *out);

/* The length of the union of the spans v[0..n) (sorted by start) whose who has member[who] set
 * (member NULL: all): how long any of those units was inside. */
double gis_spans_union(const gis_span *v, size_t n, const unsigned char *member);

/* What a group of units covered in [a, b): active_s the length of the union of their steps' times
 * (lone fixes add nothing), metres the distance of their steps inside [a, b) (a step's length times
 * its share of time inside), where a step of unit u adds nothing when, at the step's middle time, a
 * unit listed before u was within together_m of u's middle point (that unit's own step then, by
 * constant speed along it). Steps are the walk's (gap_s, gap_m). */
typedef struct gis_group_out {
    double active_s, metres;
} gis_group_out;

/* tracks[k][0..n[k]) (time order; t, x, y) for the k units of the group. Returns 0, -1 out of
 * memory. */
int gis_group_measure(const gis_fix *const *tracks, const size_t *n, size_t k, double a, double b,
                      double gap_s, double gap_m, double together_m, gis_group_out *out);

#endif
