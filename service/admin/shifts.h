/* shifts.h - shifts move their units on and off duty: the step that applies the starts and ends
 * that are due (a shift's start makes its unit available unless it is on a case; its end makes it
 * off duty, or, on a case, once the case ends: unit_shift_over, migration 0015, read by the
 * lifecycle), run by the routes that write shifts and by a background thread. */
#ifndef PATROLD_SHIFTS_H
#define PATROLD_SHIFTS_H

#include "service/core/app.h"

/* Applies every due shift start and end through w (in its transaction if one is open): units
 * moved get a unit.updated event, applied to this instance's unit table at once. Safe with
 * several instances (each start and end is applied once). Returns the number of units moved, or
 * -1 (w->err). */
int shifts_step(worker *w);

/* Background thread (services.c background[]): shifts_step every few seconds. arg is the app. */
void *shifts_thread(void *arg);

#endif
