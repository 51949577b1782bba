/* escalate.c - the escalation worker: reports nobody acknowledged in time move one tier up.
 *
 * One background thread per process with its own worker (worker_create: its own connection through
 * db.h). Every escalate_interval_ms it runs lifecycle_escalate_overdue (lifecycle.c: ONE statement,
 * one transaction) that picks overdue reports (status 'new', ack_deadline < now(), a responsible
 * station with a parent) with FOR UPDATE SKIP LOCKED, moves each to the parent station with a new
 * ack_deadline from the parent's tier limit, and writes an 'escalated' audit row (actor 'system',
 * details from/to station and tier) and a report.updated event per report. Several instances may
 * run against one database: a report locked by one is skipped by the others, and a report another
 * instance escalated meanwhile is re-checked on the new row version (its new deadline is in the
 * future) so no report moves twice for one deadline. At the top (the city station, no parent) a
 * report stays put with its deadline, still listed as overdue. The state is only in the database:
 * a restart resumes where it was. */
#include "service/reports/escalate.h"

#include <stdio.h>

#include "service/core/server.h"
#include "service/core/services.h"
#include "service/reports/lifecycle.h"

void *escalate_thread(void *arg) {
    app *a = arg;
    worker *w = NULL;
    int interval = a->cfg.escalate_interval_ms > 0 ? a->cfg.escalate_interval_ms : 1000;
    while (!server_sleep(a, interval)) {
        if (!w && !(w = worker_create(a))) continue;
        int n = lifecycle_escalate_overdue(w);
        if (n < 0)
            fprintf(stderr, "escalation: %s\n", w->err);
        else if (n > 0)
            fprintf(stderr, "escalation: %d report(s) moved one tier up\n", n);
    }
    worker_destroy(w);
    return NULL;
}
