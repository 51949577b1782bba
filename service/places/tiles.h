/* tiles.h - the vector tile cache's one outside hook: dropping it when the spatial data changed. */
#ifndef PATROLD_TILES_H
#define PATROLD_TILES_H

/* Drops every cached static tile (divisions, stations, coverage); tiles being made from older data
 * are not cached. Called after each spatial index (re)load. Thread-safe. */
void tiles_invalidate(void);

/* The statement behind a layer's tiles (for the bench's direct-SQL baseline), NULL if unknown.
 * Parameters: $1 z, $2 x, $3 y, $4 tolerance (metres), $5 $6 shift (metres); divisions: $7 outline
 * tiers, $8 label tiers (text[] literals, see tiles_tiers); reports: $7 the user's division prefix,
 * $8 the user's id; units: $7 the prefix. The text may hold vocabulary markers (vocab.h: expand
 * it with vocab_sql_expand before sending it elsewhere than db.h). */
const char *tiles_sql(const char *layer);

/* The tiers whose outlines and labels zoom z shows, as text[] literals. */
void tiles_tiers(long z, const char **outline, const char **label);

#endif
