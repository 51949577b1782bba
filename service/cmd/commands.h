/* commands.h - the `patrold` sub-commands; each gets the loaded settings and its own arguments
 * (argv[0] is the command name) and returns the process exit code. Errors go to stderr. */
#ifndef PATROLD_COMMANDS_H
#define PATROLD_COMMANDS_H

#include "service/core/app.h"

int cmd_serve(app *a, int argc, char **argv);   /* main.c */
int cmd_migrate(app *a, int argc, char **argv); /* main.c */
int cmd_user(app *a, int argc, char **argv);    /* main.c: user add NAME --role R --division C */
int cmd_config(app *a, int argc, char **argv);  /* main.c: print the example configuration */
int cmd_seed(app *a, int argc, char **argv);    /* seed.c: Lianyungang demo data */
int cmd_import_divisions(app *a, int argc,
                         char **argv); /* importer.c: import-divisions FILE [--level L] [--crs C] */
int cmd_locate(app *a, int argc, char **argv); /* places.c: locate [--crs C] < "lon lat" lines */
int cmd_apikey(app *a, int argc, char **argv); /* open311.c: apikey add NAME | revoke NAME | list */
int cmd_init_db(app *a, int argc, char **argv); /* initdb.c: init-db [--owner R] [--database D] */

/* Makes w a connection-only worker of a command (no statement_timeout) and connects it. Returns
 * 0, or -1 with the error printed. The caller ends with db_disconnect(w). */
int cmd_connect(app *a, worker *w);

/* Reads a password for `name`, one line, from standard input into buf (len bytes); with a
 * terminal, prompts without echo. Returns 0, or -1 with a message printed. */
int cmd_read_password(const char *name, char *buf, size_t len);

#endif
