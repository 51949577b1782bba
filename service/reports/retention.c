/* retention.c - the life of personal data (PIPL art. 19: kept no longer than its purpose needs).
 * A report that is closed keeps its person fields, photos and Open311 call-back details for
 * personal_data_retention_days after it closed (the first report event that took it to resolved,
 * cancelled or duplicate; its updated_at when it has none), for follow-up, reviews and complaints;
 * then this step clears person and contact, deletes its photos and stamps personal_masked_at
 * (migration 0017), and writes it to the audit trail as AA_REPORT_MASK by the "system".
 *
 * Threads and instances: one background thread per instance with its own connection-only worker.
 * A batch is one statement in one transaction that takes its reports with FOR NO KEY UPDATE SKIP
 * LOCKED, so instances running at once take disjoint reports, and a report another instance
 * masked meanwhile is no longer due (personal_masked_at is set) when the lock is re-checked. The
 * audit rows are written in the same transaction: nothing is masked without its row. */
#include "service/reports/retention.h"

#include <stdio.h>
#include <stdlib.h>

#include "service/core/audit.h"
#include "service/core/db.h"
#include "service/core/server.h"
#include "service/core/vocab.h"

enum { BATCH = 500, PERIOD_MS = 3600 * 1000, RETRY_MS = 60 * 1000 };

/* The final SELECT of both statements: the count COUNT, then per division (the county of the
 * report, else its city, else its station's division: an outside report's city) the ids of the
 * reports in DONE (a relation with a column id) as a bigint[] literal, and their number. One row
 * with NULLs when DONE is empty. */
#define BY_DIVISION(COUNT, DONE)                                                                     \
    " SELECT " COUNT ", g.division, g.ids, g.n FROM (SELECT 1) o LEFT JOIN (SELECT"                  \
    " coalesce(r.county_code, r.city_code, s.division_code, '000000000000') AS division,"            \
    " array_agg(r.id ORDER BY r.id)::text AS ids, count(*) AS n FROM (SELECT DISTINCT id FROM " DONE \
    ") d JOIN reports r ON r.id = d.id LEFT JOIN stations s ON s.id = r.station_id GROUP BY 1) g"    \
    " ON true ORDER BY 2"

/* $1 days, $2 batch size. The closed statuses are literals once prepared (VOCAB_SQL_ANY), the
 * very list of reports_unmasked_closed_idx (0017), so the planner reads that index. */
#define CLOSED VOCAB_SQL_ANY("ReportStatus", VOCAB_CLOSED)
/* clang-format off */
static const char mask_sql[] =
    "WITH due AS (SELECT r.id, r.person IS NOT NULL OR r.contact IS NOT NULL AS held FROM reports r"
    " WHERE r.status IN (" CLOSED ") AND r.personal_masked_at IS NULL"
    " AND coalesce((SELECT min(e.at) FROM report_events e WHERE e.report_id = r.id"
    " AND e.to_status IN (" CLOSED ")), r.updated_at) < now() - make_interval(days => $1::int)"
    " ORDER BY r.id LIMIT $2::int FOR NO KEY UPDATE OF r SKIP LOCKED),"
    " m AS (UPDATE reports r SET person = NULL, contact = NULL, personal_masked_at = now(),"
    " updated_at = now() FROM due WHERE r.id = due.id RETURNING r.id, due.held),"
    " ph AS (DELETE FROM photos p USING due WHERE p.report_id = due.id RETURNING p.report_id AS id),"
    " done AS (SELECT id FROM m WHERE held UNION ALL SELECT id FROM ph)"
    BY_DIVISION("(SELECT count(*) FROM m)", "done");
/* clang-format on */

/* Photos a phone uploaded to a report after it was masked (an offline queue arriving late). */
static const char late_photos_sql[] =
    "WITH ph AS (DELETE FROM photos p USING reports r WHERE r.id = p.report_id"
    " AND r.personal_masked_at IS NOT NULL RETURNING p.report_id AS id)" BY_DIVISION("0", "ph");

/* Runs sql (a BY_DIVISION statement) in one transaction with an audit row per division. Returns
 * its count column (the reports it took), adding the reports audited to *masked, or -1. */
static long step(worker *w, const char *sql, int nparams, const char *const *params, long *masked) {
    long taken = -1, n = 0;
    PGresult *q = NULL;
    if (db_begin(w) != 0 || !(q = db_exec(w, sql, nparams, params))) goto fail;
    for (int i = 0; i < PQntuples(q); i++) {
        if (PQgetisnull(q, i, 1)) continue;
        if (audit_system(w, AA_REPORT_MASK, PQgetvalue(q, i, 1), PQgetvalue(q, i, 2)) != 0)
            goto fail;
        n += atol(PQgetvalue(q, i, 3));
    }
    taken = atol(PQgetvalue(q, 0, 0));
    PQclear(q);
    if (db_commit(w) != 0) {
        db_rollback(w);
        return -1;
    }
    *masked += n;
    return taken;
fail:
    PQclear(q);
    db_rollback(w);
    return -1;
}

int retention_run(worker *w, int days, long *masked) {
    char d[16], lim[16];
    snprintf(d, sizeof d, "%d", days);
    snprintf(lim, sizeof lim, "%d", BATCH);
    const char *p[] = {d, lim};
    long taken;
    *masked = 0;
    do {
        if ((taken = step(w, mask_sql, 2, p, masked)) < 0) return -1;
    } while (taken == BATCH && !w->app->stopping);
    return step(w, late_photos_sql, 0, NULL, masked) < 0 ? -1 : 0;
}

void *retention_thread(void *arg) {
    app *a = arg;
    worker w = {.app = a, .no_timeout = 1};
    int wait_ms = 0;
    long masked;
    while (!server_sleep(a, wait_ms)) {
        wait_ms = RETRY_MS;
        if (a->cfg.personal_data_retention_days <= 0) {
            wait_ms = PERIOD_MS;
            continue;
        }
        if (db_ensure(&w) != 0) continue;
        if (retention_run(&w, a->cfg.personal_data_retention_days, &masked) != 0) {
            fprintf(stderr, "retention: %s\n", w.err);
            continue;
        }
        if (masked)
            fprintf(stderr, "retention: personal data of %ld closed report(s) deleted\n", masked);
        wait_ms = PERIOD_MS;
    }
    db_disconnect(&w);
    return NULL;
}
