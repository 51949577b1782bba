/* main.c - the patrold command line: serve, migrate, seed, import-divisions, import-stations,
 * locate, user add, apikey, init-db, config and help (the dispatch table, which is also the help). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "service/cmd/commands.h"
#include "service/cmd/import_stations.h"
#include "service/cmd/importer.h"
#include "service/cmd/initdb.h"
#include "service/cmd/seed.h"
#include "service/core/tz.h"
#include "service/open311/open311.h"
#include "service/places/places.h"

/* The dispatch table, and THE help: every form of every command. `patrold help` prints them all,
 * `patrold help COMMAND` one command's, and a command that ends with status 2 (misused) gets its
 * forms printed under "usage:" (a command prints only what was wrong). tests/integration/
 * test_help.py reads this table: a command dispatched here and missing from the help fails it. */
enum { MAX_FORMS = 4 };
static const struct {
    const char *name;
    int (*fn)(app *, int, char **);
    const char *forms[MAX_FORMS]; /* "name arguments...", NULL after the last */
    const char *help;             /* what it does, lines of at most 80 columns */
} commands[] = {
    {"serve", cmd_serve, {"serve"}, "apply new migrations, then serve HTTP until SIGINT/SIGTERM"},
    {"migrate", cmd_migrate, {"migrate"}, "apply new migrations and exit"},
    {"seed", cmd_seed, {"seed"}, "load the Lianyungang demo data (once; takes no arguments)"},
    {"import-divisions",
     cmd_import_divisions,
     {"import-divisions BOUNDARIES.geojson[.gz] [--level L] [--crs wgs84|cgcs2000|gcj02|bd09]",
      "import-divisions LIST.csv[.gz] [--effective YYYY-MM-DD]"},
     "load boundaries (GeoJSON FeatureCollection, gzip or not; --level province, city, county,\n"
     "town or community where features carry none), or a division list (CSV code,name,level,\n"
     "parent_code): renames, merges and abolitions recorded as of --effective (default today)"},
    {"import-stations",
     cmd_import_stations,
     {"import-stations STATIONS.csv|STATIONS.geojson [--crs wgs84|cgcs2000|gcj02|bd09]"},
     "load rescue stations (CSV with a header row, or GeoJSON Point features), matched by their\n"
     "code: a re-import updates what changed and reports new / changed / unchanged; a bad row\n"
     "is printed with its number and nothing of the file is stored"},
    {"locate",
     cmd_locate,
     {"locate [--crs wgs84|cgcs2000|gcj02|bd09] < POINTS"},
     "print the four tiers, zones and responsible station of each \"lon lat\" line"},
    {"user",
     cmd_user,
     {"user add NAME --role ROLE --division CODE < PASSWORD"},
     "create or update a user (ROLE patrol, community, dispatcher, supervisor or admin); the\n"
     "password is one line on standard input, never an argument; updating signs the user out"},
    {"apikey",
     cmd_apikey,
     {"apikey add NAME", "apikey revoke NAME", "apikey list"},
     "Open311 API keys: add prints the new key once (only its hash is kept), revoke ends it,\n"
     "list shows names and dates"},
    {"init-db",
     cmd_init_db,
     {"init-db [--owner ROLE] [--database NAME] [--admin CONNINFO] [--password-stdin]"},
     "as a PostgreSQL superuser, once: the role patrold runs as (default patrold), its database\n"
     "(patrol) and the extensions the migrations need; then migrate and serve run as that role"},
    {"config", cmd_config, {"config"}, "print the effective settings (a valid config file)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Prints the forms of command k, each after `lead`, and (with help) what it does, indented. */
static void print_command(FILE *f, size_t k, const char *lead, int help) {
    for (int j = 0; j < MAX_FORMS && commands[k].forms[j]; j++)
        fprintf(f, "%spatrold %s\n", lead, commands[k].forms[j]);
    if (!help) return;
    for (const char *h = commands[k].help; *h;) {
        size_t n = strcspn(h, "\n");
        fprintf(f, "      %.*s\n", (int)n, h);
        h += n + (h[n] == '\n');
    }
}

static void usage(FILE *f) {
    fprintf(f, "usage: patrold [--config FILE] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        print_command(f, i, "  ", 1);
    fprintf(f, "  patrold help [COMMAND]\n      this list, or the forms of one command\n");
    fprintf(
        f,
        "\nSettings come from the defaults, then --config FILE, then PATROLD_* environment variables\n"
        "(`patrold config` prints them all with their meaning).\n");
}

/* patrold help [COMMAND]: on stdout, 0; an unknown command is a usage error (2). */
static int help(int argc, char **argv) {
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (argc == 2 && strcmp(argv[1], commands[k].name) == 0) {
            print_command(stdout, k, "usage: ", 1);
            return 0;
        }
    fprintf(stderr, "patrold: help: no command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

/* Adds `key=value` to conninfo c (of size n) unless it names key: first in a key=value string
 * (a later value wins), as a parameter of a postgres:// URI. */
static void add_param(char *c, size_t n, const char *key, const char *value) {
    char tmp[1100];
    int len;
    if (strstr(c, key)) return;
    if (strncmp(c, "postgresql://", 13) == 0 || strncmp(c, "postgres://", 11) == 0)
        len = snprintf(tmp, sizeof tmp, "%s%c%s=%s", c, strchr(c, '?') ? '&' : '?', key, value);
    else
        len = snprintf(tmp, sizeof tmp, "%s=%s %s", key, value, c);
    if (len > 0 && (size_t)len < n) memcpy(c, tmp, (size_t)len + 1);
}

/* Adds connect_timeout (the setting) to conninfo c of size n unless it names one. */
static void add_connect_timeout(const app *a, char *c, size_t n) {
    char v[16];
    if (a->cfg.connect_timeout_s <= 0) return;
    snprintf(v, sizeof v, "%d", a->cfg.connect_timeout_s);
    add_param(c, n, "connect_timeout", v);
}

/* Adds target_session_attrs=attrs to conninfo c (of size n) when it names several hosts
 * (host=a,b or postgres://a,b/...) and no target_session_attrs yet; and TCP keepalives, so that a
 * connection to a machine that vanished (no FIN, no RST) fails within about 20 s, not hours. */
static void add_session_attrs(char *c, size_t n, const char *attrs) {
    const char *h = strstr(c, "://"), *end;
    int uri = h != NULL;
    if (uri) {
        h += 3;
        end = h + strcspn(h, "/?");
    } else {
        if (!(h = strstr(c, "host="))) return;
        h += 5;
        end = h + strcspn(h, " \t");
    }
    if (!memchr(h, ',', (size_t)(end - h))) return;
    add_param(c, n, "target_session_attrs", attrs);
    add_param(c, n, "keepalives_idle", "10");
    add_param(c, n, "keepalives_interval", "3");
    add_param(c, n, "keepalives_count", "3");
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
    if (tz_setup(a.cfg.timezone, err, sizeof err) != 0) {
        fprintf(stderr, "patrold: %s\n", err);
        return 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[i], "help") == 0) return help(argc - i, argv + i); /* asked for: stdout */
    resolve_conninfo(&a);
    add_connect_timeout(&a, a.conninfo, sizeof a.conninfo);
    add_session_attrs(a.conninfo, sizeof a.conninfo, "read-write");
    if (a.cfg.database_read_url[0]) {
        snprintf(a.conninfo_read, sizeof a.conninfo_read, "%s", a.cfg.database_read_url);
        add_connect_timeout(&a, a.conninfo_read, sizeof a.conninfo_read);
        add_session_attrs(a.conninfo_read, sizeof a.conninfo_read, "prefer-standby");
        add_param(a.conninfo_read, sizeof a.conninfo_read, "application_name", "patrold-read");
    }
    for (size_t k = 0; k < NCOMMANDS; k++)
        if (strcmp(argv[i], commands[k].name) == 0) {
            int rc = commands[k].fn(&a, argc - i, argv + i);
            if (rc == 2) print_command(stderr, k, "usage: ", 0); /* misused: its forms */
            return rc;
        }
    fprintf(stderr, "patrold: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
