/* initdb.c - `patrold init-db`: what only a PostgreSQL superuser may do, once per deployment: the
 * role patrold runs as (LOGIN, nothing more), its database (owned by that role, UTF-8, C.UTF-8 so
 * pg_trgm sees Chinese) and every extension the migrations create (postgis, pg_trgm, ...: read
 * from the migrations folder). After it, `patrold migrate` and `patrold serve` run as the
 * unprivileged role: a migration's CREATE EXTENSION IF NOT EXISTS finds the extension there.
 * Every step is idempotent (a second run changes nothing and says so). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "service/cmd/commands.h"
#include "service/cmd/initdb.h"
#include "service/core/auth.h"
#include "service/core/db.h"

#define MAX_EXTENSIONS 16

typedef struct {
    const char *owner, *database, *admin;
    int password_stdin;
    char ext[MAX_EXTENSIONS][64];
    int next;
} init_opts;

/* 1 for a plain lower-case SQL identifier (what the role and database may be called). */
static int plain_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !(islower((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

/* Adds the extensions `sql` creates ("CREATE EXTENSION [IF NOT EXISTS] name", any case, outside
 * -- comments) to o. */
static void scan_extensions(const char *sql, init_opts *o) {
    static const char key[] = "create extension";
    for (const char *p = sql; *p; p++) {
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
            if (!*p) break;
            continue;
        }
        if (strncasecmp(p, key, sizeof key - 1) != 0) continue;
        const char *q = p + sizeof key - 1;
        while (isspace((unsigned char)*q))
            q++;
        if (strncasecmp(q, "if not exists", 13) == 0)
            for (q += 13; isspace((unsigned char)*q);)
                q++;
        if (*q == '"') q++;
        char name[64];
        size_t n = 0;
        while ((isalnum((unsigned char)*q) || *q == '_') && n < sizeof name - 1)
            name[n++] = (char)tolower((unsigned char)*q++);
        name[n] = 0;
        int known = n == 0;
        for (int i = 0; i < o->next && !known; i++)
            known = strcmp(o->ext[i], name) == 0;
        if (!known && o->next < MAX_EXTENSIONS) memcpy(o->ext[o->next++], name, n + 1);
    }
}

/* The extensions of every migration file in dir. Returns 0, or -1 with err. */
static int migration_extensions(const char *dir, init_opts *o, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "migrations folder %s: %s (set migrations_dir)", dir,
                 strerror(errno));
        return -1;
    }
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 9 || !isdigit((unsigned char)e->d_name[0]) || strcmp(e->d_name + n - 4, ".sql"))
            continue;
        char path[1024], *sql = NULL;
        size_t cap = 0;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f && getdelim(&sql, &cap, 0, f) >= 0) scan_extensions(sql, o);
        free(sql);
        if (f) fclose(f);
    }
    closedir(d);
    if (o->next == 0) snprintf(err, errlen, "no CREATE EXTENSION in the migrations in %s", dir);
    return o->next ? 0 : -1;
}

/* Runs the statement that `format_sql` (static text: SELECT format('... %I ...', $1...), so the
 * names are quoted by PostgreSQL) writes. Returns 0 or -1 with w->err. */
static int ddl(worker *w, const char *format_sql, int n, const char *const *p) {
    PGresult *res = db_exec(w, format_sql, n, p);
    int rc = res && PQntuples(res) == 1 ? db_script(w, PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return rc;
}

/* The first value of the one-row result of static `sql` with one parameter into out ("" when no
 * row). Returns 1 row found, 0 none, -1 failure (w->err). */
static int lookup(worker *w, const char *sql, const char *param, char *out, size_t outlen) {
    const char *p[] = {param};
    PGresult *res = db_exec(w, sql, param ? 1 : 0, param ? p : NULL);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    snprintf(out, outlen, "%s", found ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return found;
}

/* The role: made with LOGIN only; an existing superuser is refused; its password when given. */
static int ensure_role(worker *w, const init_opts *o, const char *password) {
    char super[8];
    const char *p[] = {o->owner, NULL};
    int found = lookup(w, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", o->owner, super,
                       sizeof super);
    if (found < 0) return -1;
    if (found && strcmp(super, "t") == 0) {
        snprintf(w->err, sizeof w->err,
                 "role %s is a superuser; patrold runs unprivileged (ALTER ROLE %s NOSUPERUSER)",
                 o->owner, o->owner);
        return -1;
    }
    if (!found && ddl(w, "SELECT format('CREATE ROLE %I LOGIN', $1::text)", 1, p) != 0) return -1;
    fprintf(stderr, "patrold: init-db: role %s %s\n", o->owner, found ? "exists" : "created");
    if (!password) return 0;
    char *hash = db_password_hash(w, o->owner, password);
    if (!hash) return -1;
    p[1] = hash;
    int rc = ddl(w, "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", 2, p);
    db_free(hash);
    if (rc == 0) fprintf(stderr, "patrold: init-db: password of %s set\n", o->owner);
    return rc;
}

/* The database, owned by the role (UTF-8, C.UTF-8: pg_trgm then reads Chinese characters). */
static int ensure_database(worker *w, const init_opts *o) {
    char owner[64];
    const char *p[] = {o->database, o->owner};
    int found = lookup(w, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1",
                       o->database, owner, sizeof owner);
    if (found < 0) return -1;
    if (!found) {
        if (ddl(w,
                "SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' LOCALE ''C.UTF-8''"
                " TEMPLATE template0', $1::text, $2::text)",
                2, p) != 0)
            return -1;
        fprintf(stderr, "patrold: init-db: database %s created, owned by %s\n", o->database,
                o->owner);
    } else if (strcmp(owner, o->owner) != 0) {
        if (ddl(w, "SELECT format('ALTER DATABASE %I OWNER TO %I', $1::text, $2::text)", 2, p))
            return -1;
        fprintf(stderr, "patrold: init-db: database %s now owned by %s (was %s)\n", o->database,
                o->owner, owner);
    } else
        fprintf(stderr, "patrold: init-db: database %s exists, owned by %s\n", o->database,
                o->owner);
    return 0;
}

/* Every extension the migrations create, in the database w is connected to. */
static int ensure_extensions(worker *w, const init_opts *o) {
    for (int i = 0; i < o->next; i++) {
        const char *p[] = {o->ext[i]};
        char version[32];
        int found = lookup(w, "SELECT extversion FROM pg_extension WHERE extname = $1", o->ext[i],
                           version, sizeof version);
        if (found < 0 ||
            (!found &&
             ddl(w, "SELECT format('CREATE EXTENSION IF NOT EXISTS %I', $1::text)", 1, p) != 0) ||
            lookup(w, "SELECT extversion FROM pg_extension WHERE extname = $1", o->ext[i], version,
                   sizeof version) != 1)
            return -1;
        fprintf(stderr, "patrold: init-db: extension %s %s %s\n", o->ext[i], version,
                found ? "exists" : "created");
    }
    return 0;
}

/* Options into o. Returns 0, or 2 (usage) with the message printed. */
static int parse_opts(int argc, char **argv, init_opts *o) {
    static const struct option opts[] = {{"owner", required_argument, 0, 'o'},
                                         {"database", required_argument, 0, 'd'},
                                         {"admin", required_argument, 0, 'a'},
                                         {"password-stdin", no_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'o')
            o->owner = optarg;
        else if (c == 'd')
            o->database = optarg;
        else if (c == 'a')
            o->admin = optarg;
        else if (c == 'p')
            o->password_stdin = 1;
        else
            return 2;
    }
    if (optind != argc || !plain_name(o->owner) || !plain_name(o->database)) {
        fprintf(stderr, "patrold: init-db: ROLE and NAME are lower-case letters, digits and _\n");
        return 2; /* main.c prints the forms */
    }
    return 0;
}

int cmd_init_db(app *a, int argc, char **argv) {
    init_opts o = {.owner = "patrold", .database = "patrol", .admin = "dbname=postgres"};
    char err[512], password[AUTH_PASSWORD_MAX + 2], super[8];
    int rc = parse_opts(argc, argv, &o);
    worker w;
    if (rc) return rc;
    if (migration_extensions(a->cfg.migrations_dir, &o, err, sizeof err) != 0) {
        fprintf(stderr, "patrold: init-db: %s\n", err);
        return 1;
    }
    if (o.password_stdin && cmd_read_password(o.owner, password, sizeof password) != 0) return 1;
    snprintf(a->conninfo, sizeof a->conninfo, "%s", o.admin);
    if (cmd_connect(a, &w) != 0) return 1;
    rc = lookup(&w, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user", NULL, super,
                sizeof super);
    if (rc == 1 && strcmp(super, "t") != 0)
        snprintf(w.err, sizeof w.err,
                 "connected as a role that is not a superuser (CREATE EXTENSION postgis needs one):"
                 " run it as the postgres OS user, or name one with --admin");
    if (rc != 1 || strcmp(super, "t") != 0 ||
        ensure_role(&w, &o, o.password_stdin ? password : NULL) != 0 ||
        ensure_database(&w, &o) != 0)
        goto failed;
    db_disconnect(&w);
    if (db_conninfo_set(o.admin, "dbname", o.database, a->conninfo, sizeof a->conninfo, w.err,
                        sizeof w.err) != 0 ||
        ensure_extensions(&w, &o) != 0)
        goto failed;
    db_disconnect(&w);
    sodium_memzero(password, sizeof password);
    fprintf(stderr,
            "patrold: init-db: done; now, as the role %s: patrold migrate (then serve), with\n"
            "  database = \"dbname=%s user=%s\" (and host=... where the server is elsewhere)\n",
            o.owner, o.database, o.owner);
    return 0;
failed:
    fprintf(stderr, "patrold: init-db: %s\n", w.err);
    db_disconnect(&w);
    sodium_memzero(password, sizeof password);
    return 1;
}
