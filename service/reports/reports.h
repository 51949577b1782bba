/* reports.h - field reports: validation + creation (reports.c), shared by the report routes, the
 * batch route and Open311. Reading one report is report_read.h, the row -> JSON serializer and the
 * shared SQL fragments report_json.h, the lifecycle lifecycle.h, photos photos.h, the escalation
 * thread escalate.h. Runs on the calling thread with that thread's worker; nothing is global. */
#ifndef PATROLD_REPORTS_H
#define PATROLD_REPORTS_H

#include <jansson.h>

#include "service/core/app.h"
#include "service/core/auth.h"
#include "service/door/http.h"
#include "service/door/shapes.h"

/* An error answer of a report (status, static code, static field or NULL, message). */
typedef shape_error report_error;

/* Creates one report from a JSON object (the body of POST /api/v1/reports), which passed
 * SHAPE_REPORT (verdict NULL) or failed it with verdict (the door's r->body_error), for
 * `actor` (NULL for Open311: no created_by) named `actor_name` in the audit trail ("patrol",
 * "open311:demo"), with `source` "app" or "open311" and `contact` (a JSON object or NULL: the
 * reporter's details, stored in reports.contact only). It is written like a report route's: by the
 * report writer (group commit, r's slot given back meanwhile), the report, its contact, its
 * 'created' audit event and its 'report.created' live event in one transaction (r must not have one
 * open). A client_id seen before returns that stored report, whatever the new body says (the first
 * copy wins; nothing is written and the new body is not validated beyond client_id).
 * A client_id whose stored report `actor` may not see (report_row_visible) is -1 with 409
 * client_id_conflict and no data (an Open311 actor, NULL, never replays: its ids are made here).
 * possible_duplicates lists only reports `actor` may see (none for a NULL actor).
 * Returns 1 created, 0 existing, -1 bad input (*e filled, nothing written), or the HTTP status
 * (>= 500) of the error reply already sent (database failure, writer busy; nothing written). On 1
 * and 0 *out gets the report JSON (WGS-84, with "possible_duplicates":
 * [{id,category,status,distance_m,received_at}] on 1), owned by the caller. */
int report_submit(http_req *r, const auth_user *actor, const char *actor_name, const char *source,
                  json_t *body, json_t *contact, const report_error *verdict, json_t **out,
                  report_error *e);

/* The report writer (services.c background[]): the group commit of the report routes (group.h).
 * Returns when the server stops and every request handed to it has been answered. */
void *reports_writer_thread(void *arg);

#endif
