/* main.c - the patrold command line: serve, migrate, seed, import-divisions, user add, config. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "service/commands.h"

static const struct {
    const char *name;
    int (*fn)(app *, int, char **);
    const char *usage;
} commands[] = {
    {"serve", cmd_serve,
     "serve                      apply migrations, then serve HTTP until SIGINT/SIGTERM"},
    {"migrate", cmd_migrate, "migrate                    apply new migrations and exit"},
    {"seed", cmd_seed, "seed                       load the Lianyungang demo data (once)"},
    {"import-divisions", cmd_import_divisions,
     "import-divisions FILE [--level L] [--crs C]   load GeoJSON boundaries (gzip or not)"},
    {"locate", cmd_locate,
     "locate [--crs C] < points     print the four tiers, zones and station of each \"lon lat\" line"},
    {"user", cmd_user,
     "user add NAME --role R --division CODE < password   create or update a user (password:\n"
     "                             one line on standard input; updating signs the user out)"},
    {"apikey", cmd_apikey,
     "apikey add NAME | revoke NAME | list   Open311 API keys (a new key is printed once)"},
    {"config", cmd_config,
     "config                     print the effective settings (a valid config file)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: patrold [--config FILE] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(
        f,
        "\nSettings come from the defaults, then --config FILE, then PATROLD_* environment variables.\n");
}

/* Adds connect_timeout to a->conninfo unless it names one: first in a key=value string (a later
 * value wins), as a parameter of a postgres:// URI. */
static void add_connect_timeout(app *a) {
    char *c = a->conninfo, tmp[sizeof a->conninfo + 64];
    int s = a->cfg.connect_timeout_s, n;
    if (s <= 0 || strstr(c, "connect_timeout")) return;
    if (strncmp(c, "postgresql://", 13) == 0 || strncmp(c, "postgres://", 11) == 0)
        n = snprintf(tmp, sizeof tmp, "%s%cconnect_timeout=%d", c, strchr(c, '?') ? '&' : '?', s);
    else
        n = snprintf(tmp, sizeof tmp, "connect_timeout=%d %s", s, c);
    if (n > 0 && (size_t)n < sizeof a->conninfo) memcpy(c, tmp, (size_t)n + 1);
}

/* The local cluster's socket under state_dir (scripts/pg.sh layout) when no database is named. */
static void resolve_conninfo(app *a) {
    if (a->cfg.database[0]) {
        snprintf(a->conninfo, sizeof a->conninfo, "%s", a->cfg.database);
        return;
    }
    char path[PATH_MAX + 16], real[PATH_MAX + 1];
    const char *sub[] = {"sock", "pg/sock"};
    struct stat st;
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", a->cfg.state_dir, sub[i]);
        if (stat(path, &st) == 0 && realpath(path, real) && strlen(real) < 512) {
            snprintf(a->conninfo, sizeof a->conninfo, "host=%.512s dbname=patrol user=postgres",
                     real);
            return;
        }
    }
    snprintf(a->conninfo, sizeof a->conninfo, "dbname=patrol");
}

int main(int argc, char **argv) {
    static app a;
    char err[512];
    const char *config_file = NULL;
    int i = 1;
    if (sodium_init() < 0) {
        fprintf(stderr, "patrold: libsodium failed to start\n");
        return 1;
    }
    config_defaults(&a.cfg);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_file = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            config_file = argv[i] + 9;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "patrold: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if ((config_file && config_load_file(&a.cfg, config_file, err, sizeof err) != 0) ||
        config_load_env(&a.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "patrold: %s\n", err);
        return 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[i], "help") == 0) { /* asked for: success, on stdout */
        usage(stdout);
        return 0;
    }
    resolve_conninfo(&a);
    add_connect_timeout(&a);
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (strcmp(argv[i], commands[k].name) == 0) return commands[k].fn(&a, argc - i, argv + i);
    fprintf(stderr, "patrold: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
