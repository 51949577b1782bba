/* server.h - serve: CivetWeb, background threads, signals, clean shutdown. */
#ifndef PATROLD_SERVER_H
#define PATROLD_SERVER_H

#include "service/core/app.h"

/* Serves until SIGINT/SIGTERM. Returns the process exit code. */
int server_run(app *a);

/* Sleeps up to ms milliseconds, waking early when the server is stopping. Returns 1 if stopping. */
int server_sleep(app *a, int ms);

#endif
