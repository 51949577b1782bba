/* report_read.h - reading one report (report_read.c): the statement every single read shares and
 * the load that answers a report the user may not see as missing. Runs on the calling worker. */
#ifndef PATROLD_REPORT_READ_H
#define PATROLD_REPORT_READ_H

#include <libpq-fe.h>

#include "service/door/http.h"

/* `SELECT REPORT_COLUMNS FROM reports r WHERE r.id = $1::bigint`. */
extern const char report_get_sql[];

/* Loads report r->params[0] (REPORT_COLUMNS) when r's user may see it. Returns 0 with *res (the
 * caller PQclears it), or the status of the error already sent: 404 for a malformed, unknown or
 * out-of-scope id (one answer for all three), 503/500 for the database. */
int report_load_visible(http_req *r, long long *id, PGresult **res);

#endif
