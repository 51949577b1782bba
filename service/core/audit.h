/* audit.h - the trail of personal-data reads (PIPL: who read which reports' person fields, photos
 * or exports, when, in which request) and GET /api/v1/audit for supervisors. */
#ifndef PATROLD_AUDIT_H
#define PATROLD_AUDIT_H

#include <stddef.h>

#include "service/door/http.h"

/* Actions written to audit_reads.action (migrations/0003_audit_reads.sql checks the list). */
#define AUDIT_REPORT_GET "report.get"
#define AUDIT_REPORT_LIST "report.list"
#define AUDIT_PHOTO_LIST "photo.list"
#define AUDIT_PHOTO_GET "photo.get"
#define AUDIT_EXPORT_CSV "export.csv"
#define AUDIT_EXPORT_GEOJSON "export.geojson"
#define AUDIT_EXPORT_XLSX "export.xlsx" /* the monthly report's list of reports */

/* Writes one audit row for r's user: action, the ids[0..n) of the reports read (n may be 0: the
 * row still says that the user looked), now, r's request id. One INSERT on r->w's connection: in
 * the caller's transaction if one is open, else on its own with asynchronous commit (audit.c). Call it before the data goes out and answer http_db_error(r)
 * when it fails: a read that cannot be recorded is not served. Returns 0 or -1 (w->err). */
int audit_read(http_req *r, const char *action, const long long *ids, size_t n);

#endif
