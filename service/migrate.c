/* migrate.c - numbered SQL migrations under an advisory lock, checksummed. */
#include "service/migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define MIGRATE_LOCK "7240017001" /* pg_advisory_lock key shared by every patrold */

static int ok(PGconn *pg, PGresult *res, char *err, size_t errlen, const char *what) {
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return 1;
    snprintf(err, errlen, "%s: %s", what, res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
    size_t n = strlen(err);
    while (n && err[n - 1] == '\n')
        err[--n] = 0;
    return 0;
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
static int apply_one(PGconn *pg, const char *dir, const char *name, int *applied, char *err,
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
    res = PQexecParams(pg, "SELECT checksum, name FROM schema_migrations WHERE version = $1::int",
                       1, NULL, p1, NULL, NULL, 0);
    if (!ok(pg, res, err, errlen, name)) goto done;
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
    PQclear(res);
    res = PQexec(pg, "BEGIN");
    if (!ok(pg, res, err, errlen, name)) goto done;
    PQclear(res);
    res = PQexec(pg, sql);
    if (!ok(pg, res, err, errlen, name)) goto rollback;
    PQclear(res);
    const char *p2[] = {version, name, sum};
    res = PQexecParams(
        pg, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::int, $2, $3)", 3,
        NULL, p2, NULL, NULL, 0);
    if (!ok(pg, res, err, errlen, name)) goto rollback;
    PQclear(res);
    res = PQexec(pg, "COMMIT");
    if (!ok(pg, res, err, errlen, name)) goto done;
    (*applied)++;
    rc = 0;
    goto done;
rollback:
    PQclear(PQexec(pg, "ROLLBACK"));
done:
    PQclear(res);
    free(sql);
    return rc;
}

int migrate_run(PGconn *pg, const char *dir, int *applied, char *err, size_t errlen) {
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = -1, locked = 0;
    PGresult *res = NULL;
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
    res = PQexec(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")");
    if (!ok(pg, res, err, errlen, "advisory lock")) goto done;
    locked = 1;
    PQclear(res);
    res = PQexec(
        pg,
        "SET client_min_messages = warning;"
        "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL,"
        " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    if (!ok(pg, res, err, errlen, "schema_migrations")) goto done;
    for (size_t i = 0; i < n; i++)
        if (apply_one(pg, dir, names[i], applied, err, errlen) != 0) goto done;
    rc = 0;
done:
    PQclear(res);
    if (locked) PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")"));
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}
