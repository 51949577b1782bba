/* retention.h - the life of personal data: the background step that deletes what closed reports
 * hold about people once personal_data_retention_days have passed (retention.c). */
#ifndef PATROLD_RETENTION_H
#define PATROLD_RETENTION_H

#include "service/core/app.h"

/* One pass of the step on w (a connection-only worker): every report closed (resolved, cancelled,
 * duplicate) more than `days` days ago and not masked yet loses its person fields and Open311
 * call-back details (set to null) and its photos (deleted), and is stamped personal_masked_at;
 * photos that arrived after a report was masked are deleted too. Batches of a few hundred
 * reports, each one transaction with its audit rows (one per division: AA_REPORT_MASK with the
 * ids of the reports that held something). Safe with several instances (SKIP LOCKED). *masked gets
 * the number of reports that lost something. Returns 0 or -1 (w->err). */
int retention_run(worker *w, int days, long *masked);

/* Background thread (services.c background[]): retention_run at start, then hourly, while
 * personal_data_retention_days is above 0. arg is the app. */
void *retention_thread(void *arg);

#endif
