/* commands.h - the `patrold` sub-commands of commands.c (the others are declared by their own
 * modules: seed.h, importer.h, places.h, open311.h; main.c's table lists them all). Each gets the
 * loaded settings and its own arguments (argv[0] is the command name) and returns the process exit
 * code. Errors go to stderr. */
#ifndef PATROLD_COMMANDS_H
#define PATROLD_COMMANDS_H

#include "service/core/app.h"

int cmd_serve(app *a, int argc, char **argv);
int cmd_migrate(app *a, int argc, char **argv);
int cmd_user(app *a, int argc, char **argv);   /* user add NAME --role R --division C */
int cmd_config(app *a, int argc, char **argv); /* print the example configuration */

/* Makes w a connection-only worker of a command (no statement_timeout) and connects it. Returns
 * 0, or -1 with the error printed. The caller ends with db_disconnect(w). */
int cmd_connect(app *a, worker *w);

/* Reads a password for `name`, one line, from standard input into buf (len bytes); with a
 * terminal, prompts without echo. Returns 0, or -1 with a message printed. */
int cmd_read_password(const char *name, char *buf, size_t len);

#endif
