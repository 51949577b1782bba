/* commands.c - the sub-commands that manage the service itself: serve, migrate, user, config. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "service/cmd/commands.h"
#include "service/cmd/migrate.h"
#include "service/core/auth.h"
#include "service/core/db.h"
#include "service/core/server.h"

int cmd_connect(app *a, worker *w) {
    *w = (worker){.app = a, .no_timeout = 1};
    if (db_ensure(w) == 0) return 0;
    fprintf(stderr, "patrold: cannot connect to the database (%s): %s\n", a->conninfo, w->err);
    return -1;
}

static int migrate_with(app *a, worker *w) {
    char err[1024];
    int applied = 0;
    if (migrate_run(w, a->cfg.migrations_dir, &applied, err, sizeof err) != 0) {
        fprintf(stderr, "patrold: migrate: %s\n", err);
        return 1;
    }
    if (applied) fprintf(stderr, "patrold: applied %d migration(s)\n", applied);
    return 0;
}

int cmd_migrate(app *a, int argc, char **argv) {
    (void)argc, (void)argv;
    worker w;
    if (cmd_connect(a, &w) != 0) return 1;
    int rc = migrate_with(a, &w);
    db_disconnect(&w);
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

int cmd_read_password(const char *name, char *buf, size_t len) {
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "password for %s: ", name);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *line = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    size_t n = line ? strlen(buf) : 0;
    if (!line || n == 0) {
        fprintf(stderr, "patrold: no password for %s on standard input\n", name);
        return -1;
    }
    if (buf[n - 1] != '\n' && !feof(stdin)) {
        fprintf(stderr, "patrold: the password line is longer than %zu bytes\n", len - 2);
        return -1;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    return 0;
}

int cmd_user(app *a, int argc, char **argv) {
    static const struct option opts[] = {{"role", required_argument, 0, 'r'},
                                         {"division", required_argument, 0, 'd'},
                                         {"password", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    const char *role = NULL, *division = NULL;
    char password[AUTH_PASSWORD_MAX + 2];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r')
            role = optarg;
        else if (c == 'd')
            division = optarg;
        else if (c == 'p') {
            fprintf(stderr, "patrold: user add: --password is refused (every user of the machine"
                            " sees arguments in ps); write the password on standard input\n");
            return 2;
        } else
            return 2;
    }
    if (argc - optind != 2 || strcmp(argv[optind], "add") != 0 || !role || !division) {
        fprintf(stderr, "patrold: user: expected add NAME with --role and --division\n");
        return 2; /* main.c prints the forms */
    }
    const char *name = argv[optind + 1];
    if (cmd_read_password(name, password, sizeof password) != 0) return 1;
    worker w;
    if (cmd_connect(a, &w) != 0) return 1;
    char err[512];
    int revoked = 0;
    int rc = auth_user_add(&w, name, password, role, division, &revoked, err, sizeof err);
    sodium_memzero(password, sizeof password);
    if (rc != 0)
        fprintf(stderr, "patrold: user add: %s\n", err);
    else
        fprintf(stderr, "patrold: user %s (%s) saved; %d session(s) revoked\n", name, role,
                revoked);
    db_disconnect(&w);
    return rc ? 1 : 0;
}
