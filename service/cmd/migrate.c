/* migrate.c - numbered SQL migrations under an advisory lock, checksummed. */
#include "service/cmd/migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "service/core/db.h"

#define MIGRATE_LOCK "7240017001" /* pg_advisory_lock key shared by every patrold */

/* rc of a db_* call; on failure puts "what: message" in err. Returns rc. */
static int ok(worker *w, int rc, char *err, size_t errlen, const char *what) {
    /* 42501 insufficient privilege: the extensions (or the database) are a superuser's to make */
    if (rc != 0)
        snprintf(err, errlen, "%s: %s%s", what, w->err,
                 db_failed_with(w, "42501") ? " (as a PostgreSQL superuser, run `patrold init-db` "
                                              "once: it makes the role, database and extensions)"
                                            : "");
    return rc;
}

static int is_migration(const char *name) {
    size_t n = strlen(name);
    return n > 9 && isdigit((unsigned char)name[0]) && isdigit((unsigned char)name[1]) &&
           isdigit((unsigned char)name[2]) && isdigit((unsigned char)name[3]) && name[4] == '_' &&
           strcmp(name + n - 4, ".sql") == 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
            *len = fread(buf, 1, (size_t)n, f);
            buf[*len] = 0;
        }
    }
    fclose(f);
    return buf;
}

/* Applies one file unless recorded; refuses a recorded file whose checksum changed. */
static int apply_one(worker *w, const char *dir, const char *name, int *applied, char *err,
                     size_t errlen) {
    char path[1024], sum[2 * crypto_hash_sha256_BYTES + 1], version[8];
    unsigned char h[crypto_hash_sha256_BYTES];
    size_t len = 0;
    int rc = -1;
    PGresult *res = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *sql = read_file(path, &len);
    if (!sql) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    crypto_hash_sha256(h, (unsigned char *)sql, len);
    sodium_bin2hex(sum, sizeof sum, h, sizeof h);
    snprintf(version, sizeof version, "%.4s", name);
    const char *p1[] = {version};
    res = db_exec(w, "SELECT checksum, name FROM schema_migrations WHERE version = $1::int", 1, p1);
    if (ok(w, res ? 0 : -1, err, errlen, name) != 0) goto done;
    if (PQntuples(res) == 1) {
        if (strcmp(PQgetvalue(res, 0, 0), sum) != 0) {
            snprintf(
                err, errlen,
                "migration %s was edited after it was applied (recorded sha256 %.12s..., file %.12s...); "
                "add a new migration instead",
                name, PQgetvalue(res, 0, 0), sum);
            goto done;
        }
        rc = 0;
        goto done;
    }
    const char *p2[] = {version, name, sum};
    if (ok(w, db_begin(w), err, errlen, name) != 0) goto done;
    if (ok(w, db_script(w, sql), err, errlen, name) != 0 ||
        ok(w,
           db_command(w,
                      "INSERT INTO schema_migrations (version, name, checksum)"
                      " VALUES ($1::int, $2, $3)",
                      3, p2),
           err, errlen, name) != 0) {
        db_rollback(w);
        goto done;
    }
    if (ok(w, db_commit(w), err, errlen, name) != 0) goto done;
    (*applied)++;
    rc = 0;
done:
    PQclear(res);
    free(sql);
    return rc;
}

int migrate_run(worker *w, const char *dir, int *applied, char *err, size_t errlen) {
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = -1, locked = 0;
    *applied = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "migrations folder %s: %s", dir, strerror(errno));
        return -1;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_migration(e->d_name)) continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names);
            if (!nn) goto done;
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) goto done;
        n++;
    }
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 1; i < n; i++)
        if (strncmp(names[i - 1], names[i], 4) == 0) {
            snprintf(err, errlen, "two migrations share the number %.4s: %s and %s", names[i],
                     names[i - 1], names[i]);
            goto done;
        }
    if (ok(w, db_script(w, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")"), err, errlen,
           "advisory lock") != 0)
        goto done;
    locked = 1;
    if (ok(w,
           db_script(w, "SET client_min_messages = warning;"
                        "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY,"
                        " name text NOT NULL, checksum text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())"),
           err, errlen, "schema_migrations") != 0)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (apply_one(w, dir, names[i], applied, err, errlen) != 0) goto done;
    rc = 0;
done:
    if (locked) db_script(w, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}
