/* server.h - serve: CivetWeb, background threads, signals, clean shutdown. */
#ifndef PATROLD_SERVER_H
#define PATROLD_SERVER_H

#include "service/core/app.h"

/* Serves until SIGINT/SIGTERM. Returns the process exit code. */
int server_run(app *a);

/* Sleeps up to ms milliseconds, waking early when the server is stopping. Returns 1 if stopping. */
int server_sleep(app *a, int ms);

/* server_sleep that also wakes when *flag is set by server_kick (then cleared). Returns 1 if
 * stopping. */
int server_sleep_flag(app *a, int ms, int *flag);

/* Sets *flag and wakes the thread sleeping on it (server_sleep_flag): cheap, no database. */
void server_kick(int *flag);

#endif
