/* tiles.h - the vector tile cache's one outside hook: dropping it when the spatial data changed. */
#ifndef PATROLD_TILES_H
#define PATROLD_TILES_H

/* Drops every cached static tile (divisions, stations, coverage); tiles being made from older data
 * are not cached. Called after each spatial index (re)load. Thread-safe. */
void tiles_invalidate(void);

#endif
