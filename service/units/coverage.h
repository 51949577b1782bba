/* coverage.h - patrol coverage per community (coverage.c; its route is in handlers.h). */
#ifndef PATROLD_COVERAGE_H
#define PATROLD_COVERAGE_H

/* Tells the coverage cache that positions arrived: its answers get recomputed. Thread-safe. */
void units_positions_changed(void);

#endif
