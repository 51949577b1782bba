/* commands.c - the sub-commands that manage the service itself: serve, migrate, user, config. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/auth.h"
#include "service/commands.h"
#include "service/db.h"
#include "service/migrate.h"
#include "service/server.h"

PGconn *cmd_connect(app *a) {
    char err[512];
    PGconn *pg = db_connect_raw(a->conninfo, err, sizeof err);
    if (!pg) fprintf(stderr, "patrold: cannot connect to the database (%s): %s", a->conninfo, err);
    return pg;
}

static int migrate_with(app *a, PGconn *pg) {
    char err[1024];
    int applied = 0;
    if (migrate_run(pg, a->cfg.migrations_dir, &applied, err, sizeof err) != 0) {
        fprintf(stderr, "patrold: migrate: %s\n", err);
        return 1;
    }
    if (applied) fprintf(stderr, "patrold: applied %d migration(s)\n", applied);
    return 0;
}

int cmd_migrate(app *a, int argc, char **argv) {
    (void)argc, (void)argv;
    PGconn *pg = cmd_connect(a);
    if (!pg) return 1;
    int rc = migrate_with(a, pg);
    PQfinish(pg);
    return rc;
}

int cmd_serve(app *a, int argc, char **argv) {
    int rc = cmd_migrate(a, argc, argv);
    return rc ? rc : server_run(a);
}

int cmd_config(app *a, int argc, char **argv) {
    (void)argc, (void)argv;
    config_print(&a->cfg, stdout);
    return 0;
}

int cmd_user(app *a, int argc, char **argv) {
    static const struct option opts[] = {{"role", required_argument, 0, 'r'},
                                         {"division", required_argument, 0, 'd'},
                                         {"password", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    const char *role = NULL, *division = NULL, *password = getenv("PATROLD_PASSWORD");
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r')
            role = optarg;
        else if (c == 'd')
            division = optarg;
        else if (c == 'p')
            password = optarg;
        else
            return 2;
    }
    if (argc - optind != 2 || strcmp(argv[optind], "add") != 0 || !role || !division || !password) {
        fprintf(
            stderr,
            "usage: patrold user add NAME --role R --division CODE --password P (or PATROLD_PASSWORD)\n");
        return 2;
    }
    PGconn *pg = cmd_connect(a);
    if (!pg) return 1;
    worker w = {.app = a, .pg = pg};
    char err[512];
    int rc = auth_user_add(&w, argv[optind + 1], password, role, division, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "patrold: user add: %s\n", err);
    else
        fprintf(stderr, "patrold: user %s (%s) saved\n", argv[optind + 1], role);
    PQfinish(w.pg);
    return rc ? 1 : 0;
}
