/* main.c - the patrold command line: serve, migrate, seed, import-divisions, user add, config. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "service/cmd/commands.h"
#include "service/core/tz.h"

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
    {"init-db", cmd_init_db,
     "init-db [--owner ROLE] [--database NAME] [--admin CONNINFO] [--password-stdin]\n"
     "                             as a PostgreSQL superuser, once: the role patrold runs as\n"
     "                             (default patrold), its database (patrol) and the extensions\n"
     "                             the migrations need; then migrate and serve run as that role"},
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
    if (strcmp(argv[i], "help") == 0) { /* asked for: success, on stdout */
        usage(stdout);
        return 0;
    }
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
        if (strcmp(argv[i], commands[k].name) == 0) return commands[k].fn(&a, argc - i, argv + i);
    fprintf(stderr, "patrold: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
