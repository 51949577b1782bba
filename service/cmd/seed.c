/* seed.c - `patrold seed`: loads the Lianyungang demo data once, in one transaction: the division
 * list (CSV), the six real county polygons (GeoJSON, GCJ-02, through the importer), the seed SQL
 * files (synthetic towns/communities, stations, units, API key) and the demo users. */
#include "service/cmd/seed.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/cmd/commands.h"
#include "service/cmd/importer.h"
#include "service/cmd/migrate.h"
#include "service/core/auth.h"
#include "service/core/db.h"
#include "service/core/vocab.h"

#define SEED_CSV "lianyungang-divisions.csv"
#define SEED_GEOJSON "lianyungang-counties.geojson"
#define SEED_SQL_MAX ((size_t)4 << 20)

/* The demo users, each named after its role: password `demo`; no division: a community of 海州区. */
static const struct {
    const char *name;
    unsigned role;
    const char *division;
} demo_users[] = {
    {"admin", ROLE_ADMIN, "320700000000"},
    {"supervisor", ROLE_SUPERVISOR, "320700000000"},
    {"dispatcher", ROLE_DISPATCHER, "320706000000"},
    {"dispatcher_gn", ROLE_DISPATCHER, "320724000000"},
    {"patrol", ROLE_PATROL, "320706000000"},
    {"community", ROLE_COMMUNITY, NULL},
};

/* rc of a db_* call on w; on failure puts "what: message" in err. Returns rc. */
static int ok_result(worker *w, int rc, const char *what, char *err, size_t errlen) {
    if (rc != 0) snprintf(err, errlen, "%s: %s", what, w->err);
    return rc;
}

/* Runs one static parameterised statement; returns 0 or -1 with err. */
static int run(worker *w, const char *sql, int n, const char *const *params, char *err,
               size_t errlen) {
    return ok_result(w, db_command(w, sql, n, params), "seed", err, errlen);
}

/* db_copy_in's reader over a FILE. */
static int file_read(void *ctx, char *buf, int cap) {
    FILE *f = ctx;
    size_t n = fread(buf, 1, (size_t)cap, f);
    return n > 0 ? (int)n : ferror(f) ? -1 : 0;
}

/* Streams the division CSV into `divisions` with COPY. */
static int load_csv(worker *w, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return -1;
    }
    int rc = db_copy_in(w,
                        "COPY divisions (code, name, level, parent_code) FROM STDIN WITH "
                        "(FORMAT csv, HEADER true)",
                        file_read, f);
    fclose(f);
    return ok_result(w, rc, path, err, errlen);
}

static int is_sql(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0 && e->d_name[0] != '.';
}

/* Runs every *.sql file of dir in name order (each may hold many statements). */
static int run_sql_files(worker *w, const char *dir, int *nfiles, char *err, size_t errlen) {
    struct dirent **list = NULL;
    char path[600];
    int rc = 0, n = scandir(dir, &list, is_sql, alphasort);
    *nfiles = n > 0 ? n : 0;
    if (n < 0) {
        snprintf(err, errlen, "cannot read the seed folder %s", dir);
        return -1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        snprintf(path, sizeof path, "%.255s/%.255s", dir, list[i]->d_name);
        FILE *f = fopen(path, "rb");
        char *text = malloc(SEED_SQL_MAX + 1);
        size_t len = f && text ? fread(text, 1, SEED_SQL_MAX + 1, f) : 0;
        if (!f || !text || len > SEED_SQL_MAX || ferror(f)) {
            snprintf(err, errlen, "cannot read %s (or larger than 4 MB)", path);
            rc = -1;
        } else {
            text[len] = 0;
            rc = ok_result(w, db_script(w, text), path, err, errlen);
        }
        free(text);
        if (f) fclose(f);
    }
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return rc;
}

/* Creates the demo users and ties them to their station/unit. */
static int add_users(worker *w, char *err, size_t errlen) {
    char community[13] = "";
    PGresult *res = db_exec(w,
                            "SELECT min(code) FROM divisions WHERE level = " VOCAB_SQL_TERM(
                                "DivisionLevel", LEVEL_COMMUNITY) " AND code LIKE '320706%'",
                            0, NULL);
    if (ok_result(w, res ? 0 : -1, "seed users", err, errlen) != 0 || PQgetisnull(res, 0, 0)) {
        if (res && !PQgetisnull(res, 0, 0))
            snprintf(err, errlen, "seed users: no community in 海州区");
        PQclear(res);
        return -1;
    }
    snprintf(community, sizeof community, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    for (size_t i = 0; i < sizeof demo_users / sizeof demo_users[0]; i++) {
        const char *div = demo_users[i].division ? demo_users[i].division : community;
        char uerr[512];
        /* `demo` is shorter than the policy allows: demo data, saved without the check. */
        if (auth_user_save(w, demo_users[i].name, "demo", auth_role_name(demo_users[i].role), div,
                           NULL, uerr, sizeof uerr) != 0) {
            snprintf(err, errlen, "seed user %s: %s", demo_users[i].name, uerr);
            return -1;
        }
    }
    /* The dispatchers sit at their county station; the patrol user rides 海州巡查1队 (HZ-01). */
    if (run(w,
            "UPDATE users u SET station_id = s.id FROM stations s"
            " WHERE u.role = " VOCAB_SQL_TERM("Role", RO_DISPATCHER) " AND s.tier = " VOCAB_SQL_TERM(
                "Tier", TIER_COUNTY) " AND s.division_code = u.division_code",
            0, NULL, err, errlen) != 0)
        return -1;
    return run(w,
               "UPDATE users u SET unit_id = n.id, station_id = n.station_id FROM units n"
               " WHERE u.role = " VOCAB_SQL_TERM("Role", RO_PATROL) " AND n.callsign = 'HZ-01'",
               0, NULL, err, errlen);
}

static void print_summary(worker *w, double secs) {
    PGresult *res = db_exec(
        w,
        "SELECT (SELECT count(*) FROM divisions WHERE code LIKE '3207%'),"
        " (SELECT count(*) FROM divisions WHERE code LIKE '3207%' AND synthetic),"
        " (SELECT count(*) FROM stations), (SELECT count(*) FROM stations WHERE NOT can_dispatch),"
        " (SELECT count(*) FROM units), (SELECT count(*) FROM users),"
        " (SELECT count(*) FROM api_keys)",
        0, NULL);
    if (res && PQntuples(res) == 1)
        fprintf(stderr,
                "seed: %s divisions (%s with synthetic boundaries), %s stations (%s cannot "
                "dispatch), %s units,"
                " %s users, %s API key(s), in %.1f s\n",
                PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
                PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
                PQgetvalue(res, 0, 6), secs);
    PQclear(res);
}

int cmd_seed(app *a, int argc, char **argv) {
    char err[2048], path[600];
    struct timespec t0, t1;
    int applied = 0, nfiles = 0, rc = 1;
    import_stats st;
    if (argc != 1) {
        fprintf(stderr, "patrold: %s takes no arguments\n", argv[0]);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    worker w;
    if (cmd_connect(a, &w) != 0) return 1;
    if (migrate_run(&w, a->cfg.migrations_dir, &applied, err, sizeof err) != 0) goto fail;
    if (run(&w, "BEGIN", 0, NULL, err, sizeof err) != 0) goto fail;
    /* Serialise concurrent seeds; the check below then sees a committed seed. */
    if (run(&w, "LOCK TABLE divisions IN SHARE ROW EXCLUSIVE MODE", 0, NULL, err, sizeof err) != 0)
        goto fail;
    PGresult *res = db_exec(&w, "SELECT 1 FROM divisions WHERE code = '320700000000'", 0, NULL);
    if (ok_result(&w, res ? 0 : -1, "seed", err, sizeof err) != 0) goto fail;
    int loaded = PQntuples(res) > 0;
    PQclear(res);
    if (loaded) {
        db_rollback(&w);
        fprintf(stderr, "seed: demo data already loaded\n");
        rc = 0;
        goto done;
    }
    snprintf(path, sizeof path, "%.255s/%s", a->cfg.seed_dir, SEED_CSV);
    if (load_csv(&w, path, err, sizeof err) != 0) goto fail;
    if (run(&w,
            "UPDATE divisions SET kind = " VOCAB_SQL_TERM("DivisionKind",
                                                          DK_ZONE) " WHERE code = '320771000000'",
            0, NULL, err, sizeof err) != 0)
        goto fail;
    snprintf(path, sizeof path, "%.255s/%s", a->cfg.seed_dir, SEED_GEOJSON);
    import_opts o = {.level = vocab_code(&VOCAB_LEVEL, LEVEL_COUNTY), .crs = GIS_CRS_GCJ02};
    char ierr[1024];
    if (import_geojson(&w, path, &o, &st, ierr, sizeof ierr) != 0) {
        snprintf(err, sizeof err, "%s: %s", path, ierr);
        goto fail;
    }
    if (st.imported != 6 || st.rejected != 0) {
        snprintf(err, sizeof err, "%s: expected the 6 county polygons, got %ld (%ld rejected)",
                 path, st.imported, st.rejected);
        goto fail;
    }
    if (run_sql_files(&w, a->cfg.seed_dir, &nfiles, err, sizeof err) != 0) goto fail;
    if (add_users(&w, err, sizeof err) != 0) goto fail;
    if (run(&w, "COMMIT", 0, NULL, err, sizeof err) != 0) goto fail;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_summary(&w, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    rc = 0;
    goto done;
fail:
    db_rollback(&w);
    {
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = 0;
    }
    fprintf(stderr, "patrold: seed: %s; nothing loaded\n", err);
done:
    db_disconnect(&w);
    return rc;
}
