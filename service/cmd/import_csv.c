/* import_csv.c - `patrold import-divisions LIST.csv[.gz]`: a division list (code,name,level,
 * parent_code; the national 665,276-row list included) streamed with COPY into a temporary table,
 * then compared with `divisions` in set-based SQL: new codes are added, and what changed is
 * recorded in division_changes instead of being overwritten (renamed; merged into a neighbour,
 * found by where the ended division's children went; abolished). Ended divisions keep their row
 * with valid_to set, so reports keep the codes they were routed with; their area goes to the
 * division they were merged into. Runs inside the caller's transaction. */
#include "service/cmd/import_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "service/core/db.h"
#include "service/core/vocab.h"

/* Runs one static statement; *rows (if given) gets the first column of its first row (a count).
 * Returns 0, or -1 with the message in err. */
static int exec(worker *w, const char *sql, int nparams, const char *const *params, char *err,
                size_t errlen, long *rows) {
    PGresult *res = db_exec(w, sql, nparams, params);
    if (!res) return snprintf(err, errlen, "%s", w->err), -1;
    if (rows)
        *rows = PQntuples(res) ? strtol(PQgetvalue(res, 0, 0), NULL, 10)
                               : strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return 0;
}

typedef struct {
    gzFile f;
    worker *w;
} gzsource;

/* db_copy_in's reader: the next bytes of the file; -1 when it cannot be read to its end. */
static int gz_read(void *ctx, char *buf, int cap) {
    gzsource *s = ctx;
    int n = gzread(s->f, buf, (unsigned)cap), gzerr;
    if (n > 0) return n;
    gzerror(s->f, &gzerr);
    if (n == 0 && (gzerr == Z_OK || gzerr == Z_STREAM_END)) return 0;
    snprintf(s->w->err, sizeof s->w->err, "the file could not be read to its end (truncated?)");
    return -1;
}

/* COPY the file (gzip or plain; gzread reads both) after its header line into `incoming`. */
static int copy_in(worker *w, const char *path, char *err, size_t errlen) {
    char buf[1 << 16];
    int rc = -1;
    gzFile f = gzopen(path, "rb");
    if (!f) return snprintf(err, errlen, "cannot open %s", path), -1;
    if (!gzgets(f, buf, sizeof buf) || strncmp(buf, "code,name,level,parent_code", 27) != 0) {
        snprintf(err, errlen,
                 "not a division list: the first line must be "
                 "code,name,level,parent_code");
        goto done;
    }
    gzsource src = {f, w};
    rc =
        db_copy_in(w, "COPY incoming (code, name, level, parent_code) FROM STDIN WITH (FORMAT csv)",
                   gz_read, &src);
    if (rc != 0) snprintf(err, errlen, "%s", w->err);
done:
    gzclose(f);
    return rc;
}

/* The set-based steps after the COPY, in order ($1 = the effective date). Levels and changes are
 * named through the vocabulary (vocab.h). */
#define LEVEL(x) VOCAB_SQL_TERM("DivisionLevel", LEVEL_##x)
#define CHANGE(x) VOCAB_SQL_TERM("DivisionChange", DC_##x)
/* One row per well-formed code; a code listed twice (the national list repeats cities
 * without counties one level down) keeps its highest level. */
/* clang-format off */
static const char *const steps[] = {
    "CREATE TEMP TABLE inc ON COMMIT DROP AS SELECT DISTINCT ON (code) code::char(12) AS code,"
    " btrim(name) AS name, level, CASE WHEN parent_code ~ '^[0-9]{12}$' AND parent_code <> code"
    " THEN parent_code::char(12) END AS parent_code FROM incoming"
    " WHERE code ~ '^[0-9]{12}$' AND level IN (" VOCAB_SQL_ANY("DivisionLevel", 0) ")"
    " AND btrim(coalesce(name, '')) <> ''"
    " ORDER BY code, array_position(ARRAY[" VOCAB_SQL_ANY("DivisionLevel", 0) "], level)",
    "CREATE INDEX ON inc (code)",
    "CREATE INDEX ON inc (parent_code, name)",
    "ANALYZE inc",
    /* what the list covers: its cities (first four digits) */
    "CREATE TEMP TABLE scope ON COMMIT DROP AS SELECT DISTINCT left(code, 4) AS p FROM inc",
    /* renamed: same code, another name */
    "INSERT INTO division_changes (change, code, old_name, new_name, effective)"
    " SELECT " CHANGE(RENAMED) ", d.code, d.name, i.name, $1::date FROM divisions d JOIN inc i USING (code)"
    " WHERE d.valid_to IS NULL AND d.name <> i.name",
    "UPDATE divisions d SET name = i.name, updated_at = now() FROM inc i"
    " WHERE i.code = d.code AND d.valid_to IS NULL AND d.name <> i.name",
    "UPDATE divisions d SET valid_to = NULL, updated_at = now() FROM inc i"
    " WHERE i.code = d.code AND d.valid_to IS NOT NULL",
    /* new: recorded when its parent was already known (not on a first import) */
    "INSERT INTO division_changes (change, code, new_name, effective)"
    " SELECT " CHANGE(NEW) ", i.code, i.name, $1::date FROM inc i"
    " WHERE NOT EXISTS (SELECT 1 FROM divisions d WHERE d.code = i.code)"
    " AND EXISTS (SELECT 1 FROM divisions d WHERE d.code = i.parent_code)",
    "INSERT INTO divisions (code, name, level, parent_code, valid_from)"
    " SELECT i.code, i.name, i.level, i.parent_code,"
    "  CASE WHEN EXISTS (SELECT 1 FROM divisions d WHERE d.code = i.parent_code) THEN $1::date END"
    " FROM inc i WHERE NOT EXISTS (SELECT 1 FROM divisions d WHERE d.code = i.code)",
    "UPDATE divisions d SET parent_code = i.parent_code, updated_at = now() FROM inc i"
    " WHERE i.code = d.code AND i.parent_code IS NOT NULL"
    " AND d.parent_code IS DISTINCT FROM i.parent_code",
    /* ended: in force, inside what the list covers, but not in it */
    "CREATE TEMP TABLE ended ON COMMIT DROP AS SELECT d.code, d.name, d.level, d.parent_code,"
    " NULL::char(12) AS into_code FROM divisions d WHERE d.valid_to IS NULL"
    " AND d.level <> " LEVEL(PROVINCE) " AND left(d.code, 4) IN (SELECT p FROM scope)"
    " AND NOT EXISTS (SELECT 1 FROM inc i WHERE i.code = d.code)",
    /* a town or county merged into the division most of its children now belong to */
    "UPDATE ended e SET into_code = m.p FROM (SELECT e2.code, (SELECT i.parent_code FROM"
    "  divisions c JOIN inc i ON i.name = c.name AND i.code <> c.code"
    "  AND left(i.code, CASE e2.level WHEN " LEVEL(TOWN) " THEN 6 ELSE 4 END)"
    "    = left(e2.code, CASE e2.level WHEN " LEVEL(TOWN) " THEN 6 ELSE 4 END)"
    "  WHERE c.parent_code = e2.code AND i.parent_code IS NOT NULL AND i.parent_code <> e2.code"
    "  GROUP BY i.parent_code ORDER BY count(*) DESC, i.parent_code LIMIT 1) AS p"
    "  FROM ended e2 WHERE e2.level IN (" LEVEL(CITY) ", " LEVEL(COUNTY) ", " LEVEL(TOWN) ")) m"
    " WHERE m.code = e.code AND m.p IS NOT NULL",
    /* a community of a merged town: into its namesake under the town it went to */
    "UPDATE ended c SET into_code = i.code FROM ended t, inc i WHERE c.level = " LEVEL(COMMUNITY)
    " AND t.code = c.parent_code AND t.into_code IS NOT NULL AND i.parent_code = t.into_code"
    " AND i.name = c.name",
    "INSERT INTO division_changes (change, code, old_name, into_code, effective)"
    " SELECT CASE WHEN into_code IS NULL THEN " CHANGE(ABOLISHED) " ELSE " CHANGE(MERGED) " END,"
    " code, name, into_code, $1::date FROM ended ORDER BY code",
    /* the area of an ended division goes to the one it was merged into */
    "UPDATE divisions d SET geom = ST_Multi(ST_CollectionExtract(ST_MakeValid("
    "  CASE WHEN d.geom IS NULL THEN u.g ELSE ST_Union(d.geom, u.g) END), 3)),"
    "  synthetic = d.synthetic OR u.s, updated_at = now()"
    " FROM (SELECT e.into_code, ST_Union(o.geom) AS g, bool_or(o.synthetic) AS s FROM ended e"
    "  JOIN divisions o ON o.code = e.code WHERE e.into_code IS NOT NULL AND o.geom IS NOT NULL"
    "  GROUP BY e.into_code) u WHERE d.code = u.into_code",
    "UPDATE divisions d SET valid_to = $1::date, updated_at = now() FROM ended e"
    " WHERE d.code = e.code",
};
/* clang-format on */

int import_csv(worker *w, const char *path, const char *effective, csv_stats *st, char *err,
               size_t errlen) {
    memset(st, 0, sizeof *st);
    const char *p[] = {effective};
    if (exec(w,
             "CREATE TEMP TABLE incoming (code text COLLATE \"C\", name text COLLATE \"C\","
             " level text COLLATE \"C\", parent_code text COLLATE \"C\") ON COMMIT DROP",
             0, NULL, err, errlen, NULL) ||
        copy_in(w, path, err, errlen) ||
        exec(w, "SELECT count(*) FROM incoming", 0, NULL, err, errlen, &st->rows))
        return -1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (exec(w, steps[i], strstr(steps[i], "$1") ? 1 : 0, p, err, errlen, NULL)) return -1;
    if (exec(w, "SELECT count(*) FROM inc", 0, NULL, err, errlen, &st->kept)) return -1;
    long *out[] = {[DC_NEW] = &st->added,
                   [DC_RENAMED] = &st->renamed,
                   [DC_MERGED] = &st->merged,
                   [DC_ABOLISHED] = &st->abolished};
    for (size_t k = 0; k < sizeof out / sizeof out[0]; k++) {
        const char *kp[] = {vocab_code(&VOCAB_DIVISION_CHANGE, k), effective};
        if (exec(w,
                 "SELECT count(*) FROM division_changes WHERE change = $1"
                 " AND effective = $2::date AND recorded_at = now()",
                 2, kp, err, errlen, out[k]))
            return -1;
    }
    return 0;
}
