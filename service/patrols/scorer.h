/* scorer.h - the live patrol scorer (scorer.c): one per cluster, a background thread
 * (services.c) that keeps patrol_scored_windows and patrol_visits (migration 0019) and raises
 * patrol.visit and patrol.overdue. */
#ifndef PATROLD_SCORER_H
#define PATROLD_SCORER_H

/* The thread's body; arg is the app. */
void *patrols_scorer_thread(void *arg);

#endif
