/* stats.h - figures for the bureau: the request a figure answers (division, period, grouping), the
 * figures themselves (stats.c: one statement over report_facts, migration 0021), the patrol figures
 * (patrol_figures.c) and the coverage roll-up (coverage_figures.c), shared by GET /api/v1/stats,
 * the monthly report (monthly.c) and the siting analysis (siting.c). Everything runs on the calling
 * request's thread with its worker slot; nothing is global but constants. */
#ifndef PATROLD_STATS_H
#define PATROLD_STATS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "service/core/buf.h"
#include "service/door/http.h"

enum { STATS_MAX_RANGES = 16, STATS_MAX_DAYS = 3653 /* ten years */ };

/* What one request asks: a division inside the user's, a period of whole days of the city, and a
 * grouping. Filled by stats_query_read. */
typedef struct stats_query {
    char code12[13], prefix[13]; /* the division, its significant prefix */
    char name[160], level[16];   /* its name and level (divisions) */
    char from[11], to[11];       /* first day, the day after the last ("YYYY-MM-DD", city days) */
    char last[11];               /* the last day */
    char from_ts[40], to_ts[40]; /* the same as RFC 3339 instants (local midnight, with offset) */
    long long from_day, to_day;  /* the same as days since 1970-01-01 */
    int by;                      /* a VOCAB_STATS_BY position (SB_*), or -1: the total only */
    int min_reports;             /* groups of a ranking under this are left out */
    /* the division as ranges of most-local codes (report_facts.code): its own and every division
     * merged into it (division_changes), as the report list counts them */
    long long lo[STATS_MAX_RANGES], hi[STATS_MAX_RANGES];
    int nranges;
} stats_query;

/* The division (?division=, default the user's; outside the user's: 404), its ranges and name, and
 * the period: ?month= when the route has it, else ?from= and ?to= (default: this month so far);
 * ?by= and ?min_reports= when the route has them. Returns 0, or the status of the answer sent (400
 * invalid_to: to before from, more than ten years; 404 not_found). Uses r->w. */
int stats_query_read(http_req *r, stats_query *q);

/* The parameters of a statement about q: $1 its first day, $2 the day after its last (dates), then
 * the bounds of its code ranges (stats_sql_division). */
typedef struct stats_sql_params {
    const char *v[2 + 2 * STATS_MAX_RANGES];
    char num[2 * STATS_MAX_RANGES][24];
    int n;
} stats_sql_params;
void stats_sql_fill(stats_sql_params *p, const stats_query *q);

/* Appends " AND (<code> BETWEEN $3 AND $4 OR ...)": the SQL expression `code` (a most-local
 * division code as bigint) lies in q's division, as the report list's division filter counts it. */
void stats_sql_division(buf *b, const stats_query *q, const char *code);

/* The rows the planner expects `sql` (with its parameters) to return: EXPLAIN, nothing run. -1 on a
 * database failure (w->err). */
double stats_plan_rows(worker *w, const char *sql, int n, const char *const *params);

/* The rows of the reports q covers, estimated by the planner (EXPLAIN, nothing run): 0 when within
 * `budget`, else the status of the 400 over_budget sent; -1 on a database failure (not answered). */
int stats_budget(http_req *r, const stats_query *q, int budget);

/* The figures of q (the reply of GET /api/v1/stats): total, groups, left_out and, with extras,
 * the patrol figures and the coverage (else null). Refused (400 over_budget) when the period and
 * division hold more than stats_max_reports. Returns a new object, or NULL with the answer sent
 * and *status its code. */
json_t *stats_figures(http_req *r, const stats_query *q, int extras, int *status);

/* A report-list query (/api/v1/reports?...) of q's division and period, with `extra` (already
 * URL-encoded "&a=b" pairs, may be "") appended: the records behind a figure. New JSON string. */
json_t *stats_records(const stats_query *q, const char *extra);

/* Like stats_records for the part [from_day, to_day) of q's period (a month, a week, a day). */
json_t *stats_records_days(const stats_query *q, long long from_day, long long to_day,
                           const char *extra);

/* RFC 3339 of local midnight starting day `days` (since 1970-01-01) in the city's zone. */
void stats_day_instant(long long days, char out[40]);

#endif
