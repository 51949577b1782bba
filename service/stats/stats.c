/* stats.c - GET /api/v1/stats: figures of a division and a period of the city's days, in total and
 * per group (tier, county, town, station, category, month, ISO week, day), from one statement over
 * the report facts (migration 0021: a row per ended report, written once; 0023: a row per open
 * report, by the same rule report_fact(), kept as the report changes). Per group: reports by
 * status and outcome, people helped, the seconds from receipt to acknowledgement, dispatch, on scene and resolution (exact median and
 * 90th percentile, percentile_cont, and their count), reports moved up because a deadline passed
 * (per tier they left); beside them the patrol figures (patrol_figures.c) and the coverage roll-up
 * (coverage_figures.c). Every count carries `records`: the report-list query that returns exactly
 * those reports. Rankings (every grouping but the periods) leave out groups under ?min_reports=,
 * said in `left_out`. A request whose period and division hold more reports than
 * stats_max_reports (estimated by the planner, nothing run) is refused before it runs.
 * SQL is assembled from fixed fragments and the vocabulary's own codes; request values travel as
 * parameters. Runs on the request's thread and worker slot. */
#include "service/stats/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/tz.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/stats/coverage_figures.h"
#include "service/stats/patrol_figures.h"

static json_t *str_or_null(const char *s) {
    return s ? json_string(s) : json_null();
}

static const char *val(PGresult *res, int i, int c) {
    return PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
}

/* ---- days and instants ---- */

void stats_day_instant(long long days, char out[40]) {
    char d[11];
    params_day_text(days, d);
    struct tm tm = {0};
    tm.tm_year = atoi(d) - 1900, tm.tm_mon = atoi(d + 5) - 1, tm.tm_mday = atoi(d + 8);
    tm.tm_isdst = -1; /* local midnight in the process's zone (tz_setup: the city's) */
    tz_rfc3339(mktime(&tm), out);
}

/* Today in the city, as days since 1970-01-01. */
static long long today(void) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    long long local = (long long)now + tm.tm_gmtoff;
    return local >= 0 ? local / 86400 : (local - 86399) / 86400;
}

/* The calendar date of day d (days since 1970-01-01): tm_year, tm_mon, tm_mday, tm_yday, tm_wday. */
static void day_tm(long long d, struct tm *tm) {
    time_t t = (time_t)(d * 86400);
    gmtime_r(&t, tm);
}

/* 1 when r's route declares query parameter `name`. */
static int declares(const http_req *r, const char *name) {
    for (const param_spec *const *p = r->qspecs; p && *p; p++)
        if (strcmp((*p)->name, name) == 0) return 1;
    return 0;
}

/* ---- the request ---- */

/* The range of most-local codes under significant prefix p: [lo, hi]. */
static void code_range(const char *p, long long *lo, long long *hi) {
    long long scale = 1;
    for (size_t i = strlen(p); i < 12; i++)
        scale *= 10;
    *lo = strtoll(p, NULL, 10) * scale;
    *hi = *lo + scale - 1;
}

/* The division's name, level and the codes merged into it (the report list's rule: for county,
 * town and community filters). Returns 0, 404 sent, or -1 (database). */
static int load_division(http_req *r, stats_query *q) {
    const char *p[] = {q->code12, strlen(q->prefix) >= 6 ? "t" : "f"};
    PGresult *res = db_exec(
        r->w,
        "WITH RECURSIVE m(code) AS (SELECT $1::char(12) UNION SELECT d.code FROM division_changes d"
        " JOIN m ON d.into_code = m.code WHERE d.change = " VOCAB_SQL_TERM(
            "DivisionChange",
            DC_MERGED) " AND $2::bool)"
                       " SELECT d.name, d.level, (SELECT string_agg(m.code, ',') FROM m WHERE m.code <> $1)"
                       " FROM divisions d WHERE d.code = $1",
        2, p);
    if (!res) return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return http_error(r, 404, "not_found", "division", "no such division: %s", q->code12);
    }
    snprintf(q->name, sizeof q->name, "%s", PQgetvalue(res, 0, 0));
    snprintf(q->level, sizeof q->level, "%s", PQgetvalue(res, 0, 1));
    code_range(q->prefix, &q->lo[0], &q->hi[0]);
    q->nranges = 1;
    for (char *m = PQgetvalue(res, 0, 2); *m && q->nranges < STATS_MAX_RANGES;) {
        char code[13] = "", pre[13];
        snprintf(code, sizeof code, "%.12s", m);
        vocab_code_prefix(code, pre);
        code_range(pre, &q->lo[q->nranges], &q->hi[q->nranges]);
        q->nranges++;
        m += strlen(m) >= 13 ? 13 : strlen(m);
    }
    PQclear(res);
    return 0;
}

/* The period: ?month=, or ?from= and ?to= (default this month so far). 0 or the 400 sent. */
static int read_period(http_req *r, stats_query *q) {
    long long from, to;
    if (declares(r, "month")) {
        const http_qval *m = http_q(r, "month");
        from = m->day0, to = m->day1;
    } else {
        const http_qval *f = http_q(r, "from"), *t = http_q(r, "to");
        long long now = today();
        struct tm tm;
        day_tm(now, &tm);
        from = f->given ? f->day0 : now - (tm.tm_mday - 1); /* default: the 1st of this month */
        to = t->given ? t->day1 : now + 1;
        if (to <= from)
            return http_error(r, 400, "invalid_to", "to", "to (%s) is before from (%s)",
                              t->given ? t->s : "today", f->given ? f->s : "the 1st");
        if (to - from > STATS_MAX_DAYS)
            return http_error(r, 400, "invalid_to", "to",
                              "a period is at most ten years (%d days); this one is %lld",
                              STATS_MAX_DAYS, to - from);
    }
    q->from_day = from, q->to_day = to;
    params_day_text(from, q->from), params_day_text(to, q->to), params_day_text(to - 1, q->last);
    stats_day_instant(from, q->from_ts), stats_day_instant(to, q->to_ts);
    return 0;
}

int stats_query_read(http_req *r, stats_query *q) {
    memset(q, 0, sizeof *q);
    const http_qval *dv = http_q(r, "division");
    snprintf(q->code12, sizeof q->code12, "%s", dv->given ? dv->s : r->user.division_code);
    if (!auth_in_scope(&r->user, q->code12))
        return http_error(r, 404, "not_found", "division", "no such division: %s", q->code12);
    vocab_code_prefix(q->code12, q->prefix);
    int rc = read_period(r, q);
    if (rc) return rc;
    q->by = -1;
    if (declares(r, "by")) {
        q->by = vocab_find(&VOCAB_STATS_BY, http_q(r, "by")->s);
        q->min_reports = (int)http_q(r, "min_reports")->i;
    }
    rc = load_division(r, q);
    return rc < 0 ? http_db_error(r) : rc;
}

/* ---- the statement ---- */

void stats_sql_fill(stats_sql_params *p, const stats_query *q) {
    p->v[0] = q->from, p->v[1] = q->to, p->n = 2;
    for (int i = 0; i < q->nranges; i++) {
        snprintf(p->num[2 * i], 24, "%lld", q->lo[i]);
        snprintf(p->num[2 * i + 1], 24, "%lld", q->hi[i]);
        p->v[p->n++] = p->num[2 * i], p->v[p->n++] = p->num[2 * i + 1];
    }
}

void stats_sql_division(buf *b, const stats_query *q, const char *code) {
    buf_str(b, " AND (");
    for (int i = 0; i < q->nranges; i++)
        buf_printf(b, "%s%s BETWEEN $%d::bigint AND $%d::bigint", i ? " OR " : "", code, 3 + 2 * i,
                   4 + 2 * i);
    buf_str(b, ")");
}

/* The facts of q: the ended reports' rows and the open reports' (kept as they change, migration
 * 0023), both by the one rule report_fact(). */
static void put_facts(buf *b, const stats_query *q) {
    static const char *const tables[] = {"report_facts", "report_open_facts"};
    for (int i = 0; i < 2; i++) {
        buf_printf(b,
                   "%sSELECT f.* FROM %s f WHERE f.received_at >= $1::date::timestamptz"
                   " AND f.received_at < $2::date::timestamptz",
                   i ? " UNION ALL " : "", tables[i]);
        stats_sql_division(b, q, "f.code");
    }
}

/* The time figures: name (a VOCAB_STATS_TERM code), fact column, and the statuses of the reports
 * it is drawn from. report_fact() keeps no times of cancelled or duplicate reports, so a time is
 * there exactly when the report is in one of these statuses: the records of those statuses are
 * exactly its n. */
static const struct time_fig {
    const char *name, *col;
    unsigned statuses; /* 1 << RS_* */
} TIMES[] = {
    {"ack_s", "ack_s",
     1u << RS_ACKNOWLEDGED | 1u << RS_DISPATCHED | 1u << RS_ON_SCENE | 1u << RS_RESOLVED},
    {"dispatch_s", "dispatch_s", 1u << RS_DISPATCHED | 1u << RS_ON_SCENE | 1u << RS_RESOLVED},
    {"on_scene_s", "on_scene_s", 1u << RS_ON_SCENE | 1u << RS_RESOLVED},
    {"resolve_s", "resolve_s", 1u << RS_RESOLVED},
};
enum { NTIMES = sizeof TIMES / sizeof TIMES[0] };

/* A grouping: the group key of a fact row f (NULL: no group; a county or town only when the report
 * lies in one), grouped as a number or an instant (cheaper to sort than text), and its text form
 * from the grouped value f.k. */
static const struct group_key {
    const char *key, *text;
} KEYS[] = {
    [SB_TIER] = {"f.tier", "f.k"},
    [SB_COUNTY] = {"CASE WHEN f.code / 1000000 % 100 <> 0 THEN f.code / 1000000 END",
                   "lpad((f.k * 1000000)::text, 12, '0')"},
    [SB_TOWN] = {"CASE WHEN f.code / 1000 % 1000 <> 0 THEN f.code / 1000 END",
                 "lpad((f.k * 1000)::text, 12, '0')"},
    [SB_STATION] = {"f.station_id", "f.k::text"},
    [SB_CATEGORY] = {"f.category", "f.k"},
    [SB_MONTH] = {"date_trunc('month', f.received_at)", "to_char(f.k, 'YYYY-MM')"},
    [SB_WEEK] = {"date_trunc('week', f.received_at)", "to_char(f.k, 'IYYY-\"W\"IW')"},
    [SB_DAY] = {"date_trunc('day', f.received_at)", "to_char(f.k, 'YYYY-MM-DD')"},
};

static const struct group_key *group_key_of(int by) {
    return by >= 0 && (size_t)by < sizeof KEYS / sizeof KEYS[0] ? &KEYS[by] : NULL;
}

/* Column positions of the statement's rows. */
enum { C_KEY, C_TOTAL, C_LABEL, C_REPORTS, C_PEOPLE, C_STATUS };
#define C_OUTCOME (C_STATUS + (int)VOCAB_REPORT_STATUS.n)
#define C_ESC (C_OUTCOME + 2 * (int)VOCAB_OUTCOME.n)
#define C_TIMES (C_ESC + 1 + (int)VOCAB_TIER.n)

/* The aggregates of one group (the select list after key, total and label). */
static void put_aggregates(buf *b) {
    buf_str(b, ", count(*), coalesce(sum(f.people), 0)");
    for (size_t i = 0; i < VOCAB_REPORT_STATUS.n; i++)
        buf_printf(b, ", count(*) FILTER (WHERE f.status = '%s')",
                   vocab_code(&VOCAB_REPORT_STATUS, i));
    for (size_t i = 0; i < VOCAB_OUTCOME.n; i++) {
        const char *o = vocab_code(&VOCAB_OUTCOME, i);
        buf_printf(b,
                   ", count(*) FILTER (WHERE f.outcome = '%s'),"
                   " coalesce(sum(f.people) FILTER (WHERE f.outcome = '%s'), 0)",
                   o, o);
    }
    buf_str(b, ", count(*) FILTER (WHERE f.esc_from IS NOT NULL)");
    for (size_t i = 0; i < VOCAB_TIER.n; i++)
        buf_printf(b, ", count(*) FILTER (WHERE '%s' = ANY (f.esc_from))",
                   vocab_code(&VOCAB_TIER, i));
    for (int t = 0; t < NTIMES; t++)
        buf_printf(b,
                   ", percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY f.%s), count(f.%s)",
                   TIMES[t].col, TIMES[t].col);
}

/* The label of a group (its key's text T) in SQL: divisions and stations by name; the rest in C. */
static void put_label(buf *b, int by, const char *t) {
    if (by == SB_COUNTY || by == SB_TOWN)
        buf_printf(b, "(SELECT d.name FROM divisions d WHERE d.code = (%s)::char(12))", t);
    else if (by == SB_STATION)
        buf_printf(b, "(SELECT s.name FROM stations s WHERE s.id = f.k)");
    else
        buf_str(b, "NULL::text");
}

/* The whole statement: the facts (only the columns the figures read), each with its key, grouped
 * by key and in total. */
static void build_sql(buf *b, const stats_query *q) {
    const struct group_key *k = group_key_of(q->by);
    buf_str(b, "WITH f AS (");
    put_facts(b, q);
    buf_printf(b,
               "), g AS (SELECT %s AS k, f.status, f.outcome, f.people, f.esc_from, f.ack_s,"
               " f.dispatch_s, f.on_scene_s, f.resolve_s FROM f)",
               k ? k->key : "NULL::text");
    if (k) {
        buf_printf(b, " SELECT %s, GROUPING(f.k) = 1, ", k->text);
        put_label(b, q->by, k->text);
    } else { /* the total alone */
        buf_str(b, " SELECT NULL::text, true, NULL::text");
    }
    put_aggregates(b);
    buf_printf(b, " FROM g f GROUP BY %s", k ? "GROUPING SETS ((f.k), ())" : "()");
}

double stats_plan_rows(worker *w, const char *sql, int n, const char *const *params) {
    buf b = {0};
    buf_printf(&b, "EXPLAIN (FORMAT JSON) %s", sql);
    PGresult *res = b.oom ? NULL : db_exec_dynamic(w, b.p, n, params);
    buf_free(&b);
    if (!res) return -1;
    json_t *plan = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    double rows = json_number_value(
        json_object_get(json_object_get(json_array_get(plan, 0), "Plan"), "Plan Rows"));
    json_decref(plan);
    return rows;
}

int stats_budget(http_req *r, const stats_query *q, int budget) {
    buf b = {0};
    stats_sql_params p;
    stats_sql_fill(&p, q);
    put_facts(&b, q);
    double rows = b.oom ? -1 : stats_plan_rows(r->w, b.p, p.n, p.v);
    buf_free(&b);
    if (rows < 0) return -1;
    if (rows <= budget) return 0;
    return http_error(r, 400, "over_budget", "from",
                      "the period and division hold about %.0f reports, more than the %d one "
                      "request may read: narrow the period or the division",
                      rows, budget);
}

/* ---- records: the report-list query behind a figure ---- */

/* Appends s URL-encoded (RFC 3986 unreserved characters kept). */
static void url_put(buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~,", *p))
            buf_put(b, (const char *)p, 1);
        else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_put(b, e, 3);
        }
    }
}

static json_t *records_between(const char *division, const char *from_ts, const char *to_ts,
                               const char *extra) {
    buf b = {0};
    buf_printf(&b, "/api/v1/reports?division=%s&received_from=", division);
    url_put(&b, from_ts);
    buf_str(&b, "&received_to=");
    url_put(&b, to_ts);
    buf_str(&b, extra);
    json_t *s = b.oom ? NULL : json_string(b.p);
    buf_free(&b);
    return s;
}

/* Where a group's records start: its part of the period and its own filter ("&tier=town"). */
typedef struct group_ref {
    long long d0, d1;  /* [d0, d1) days, or 0, 0 for the whole period */
    char division[13]; /* its division's prefix ("" for q's) */
    char filter[96];
} group_ref;

static json_t *rec(const stats_query *q, const group_ref *g, const char *fmt, const char *arg) {
    char extra[256], f[40], t[40];
    size_t n = (size_t)snprintf(extra, sizeof extra, "%s", g->filter);
    if (fmt && n < sizeof extra) snprintf(extra + n, sizeof extra - n, fmt, arg);
    if (!g->d1)
        return records_between(*g->division ? g->division : q->prefix, q->from_ts, q->to_ts, extra);
    stats_day_instant(g->d0 < q->from_day ? q->from_day : g->d0, f);
    stats_day_instant(g->d1 > q->to_day ? q->to_day : g->d1, t);
    return records_between(q->prefix, f, t, extra);
}

json_t *stats_records(const stats_query *q, const char *extra) {
    return records_between(q->prefix, q->from_ts, q->to_ts, extra);
}

json_t *stats_records_days(const stats_query *q, long long from_day, long long to_day,
                           const char *extra) {
    group_ref g = {.d0 = from_day, .d1 = to_day};
    return rec(q, &g, "%s", extra);
}

/* ---- one group's figures ---- */

/* A count of row i (0 for a group without reports: res NULL or i < 0). */
static long long ll(PGresult *res, int i, int c) {
    return !res || i < 0 || PQgetisnull(res, i, c) ? 0 : strtoll(PQgetvalue(res, i, c), NULL, 10);
}

/* {"p50","p90","n","records"} of time figure t from the array text "{a,b}" (NULL: no reports). */
static json_t *time_json(const stats_query *q, const group_ref *g, PGresult *res, int i, int t) {
    int c = C_TIMES + 2 * t;
    json_t *p50 = json_null(), *p90 = json_null();
    if (res && i >= 0 && !PQgetisnull(res, i, c)) {
        char *end;
        double a = strtod(PQgetvalue(res, i, c) + 1, &end), z = strtod(end + 1, NULL);
        json_decref(p50), json_decref(p90);
        p50 = json_real(a), p90 = json_real(z);
    }
    char arr[96];
    vocab_pg_array_bits(&VOCAB_REPORT_STATUS, TIMES[t].statuses, arr, sizeof arr);
    const char *statuses = arr + 1;
    arr[strlen(arr) - 1] = 0; /* "{a,b}" -> "a,b" */
    return json_pack("{s:o,s:o,s:I,s:o}", "p50", p50, "p90", p90, "n",
                     (json_int_t)ll(res, i, c + 1), "records", rec(q, g, "&status=%s", statuses));
}

/* by_status, by_outcome and escalations of row i into o. */
static void counts_json(json_t *o, const stats_query *q, const group_ref *g, PGresult *res, int i) {
    json_t *st = json_object(), *out = json_object(), *from = json_object();
    for (size_t k = 0; k < VOCAB_REPORT_STATUS.n; k++) {
        const char *s = vocab_code(&VOCAB_REPORT_STATUS, k);
        json_object_set_new(st, s,
                            json_pack("{s:I,s:o}", "reports",
                                      (json_int_t)ll(res, i, C_STATUS + (int)k), "records",
                                      rec(q, g, "&status=%s", s)));
    }
    for (size_t k = 0; k < VOCAB_OUTCOME.n; k++) {
        const char *s = vocab_code(&VOCAB_OUTCOME, k);
        int c = C_OUTCOME + 2 * (int)k;
        json_object_set_new(out, s,
                            json_pack("{s:I,s:I,s:o}", "reports", (json_int_t)ll(res, i, c),
                                      "people", (json_int_t)ll(res, i, c + 1), "records",
                                      rec(q, g, "&outcome=%s", s)));
    }
    char tiers[96];
    vocab_join(&VOCAB_TIER, ",", tiers, sizeof tiers);
    for (size_t k = 0; k < VOCAB_TIER.n; k++) {
        const char *t = vocab_code(&VOCAB_TIER, k);
        json_object_set_new(from, t,
                            json_pack("{s:I,s:o}", "reports",
                                      (json_int_t)ll(res, i, C_ESC + 1 + (int)k), "records",
                                      rec(q, g, "&escalated_from=%s", t)));
    }
    json_object_set_new(o, "by_status", st);
    json_object_set_new(o, "by_outcome", out);
    json_object_set_new(o, "escalations",
                        json_pack("{s:I,s:o,s:o}", "reports", (json_int_t)ll(res, i, C_ESC),
                                  "records", rec(q, g, "&escalated_from=%s", tiers), "from", from));
}

/* Every figure of row i (NULL i < 0: a group without reports, all zero). */
static json_t *figures_json(const stats_query *q, const group_ref *g, PGresult *res, int i) {
    json_t *o = json_pack("{s:I,s:o,s:I}", "reports", (json_int_t)ll(res, i, C_REPORTS), "records",
                          rec(q, g, NULL, NULL), "people", (json_int_t)ll(res, i, C_PEOPLE));
    if (!o) return NULL;
    counts_json(o, q, g, res, i);
    for (int t = 0; t < NTIMES; t++)
        json_object_set_new(o, TIMES[t].name, time_json(q, g, res, i, t));
    return o;
}

/* ---- the groups ---- */

static int is_period(int by) {
    return by == SB_MONTH || by == SB_WEEK || by == SB_DAY;
}

/* The ISO 8601 week of day d ("2026-W49") and its Monday. */
static long long iso_week(long long d, char out[16]) {
    long long wd = ((d + 3) % 7 + 7) % 7 + 1, monday = d - wd + 1, thursday = monday + 3;
    struct tm tm; /* the week's Thursday names its year and, by its day of the year, its number */
    day_tm(thursday, &tm);
    snprintf(out, 16, "%04d-W%02d", (tm.tm_year + 1900) % 10000, (tm.tm_yday / 7 + 1) % 100);
    return monday;
}

/* The period after day d for grouping `by` (its start in *d0 and its key): the next day, ISO week
 * or month starting at or before d. Returns the day after it. */
static long long period_of(int by, long long d, long long *d0, char key[16]) {
    char t[11];
    params_day_text(d, t);
    if (by == SB_DAY) {
        snprintf(key, 16, "%s", t);
        *d0 = d;
        return d + 1;
    }
    if (by == SB_WEEK) {
        *d0 = iso_week(d, key);
        return *d0 + 7;
    }
    struct tm tm;
    snprintf(key, 16, "%.7s", t);
    day_tm(d, &tm);
    *d0 = d - (tm.tm_mday - 1);
    day_tm(*d0 + 31, &tm); /* in the next month: its day number says how far past its 1st */
    return *d0 + 31 - (tm.tm_mday - 1);
}

typedef struct group {
    json_t *j;
    long long sort;
    char key[16];
} group;

static int group_cmp(const void *a, const void *b) {
    const group *x = a, *y = b;
    if (x->sort != y->sort) return x->sort < y->sort ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* The reference and label of a group with key k (not a period). */
static json_t *group_label(int by, const char *k, const char *sql_label, group_ref *g,
                           long long *sort) {
    *sort = 0;
    if (by == SB_TIER || by == SB_CATEGORY) { /* the list's filter has the grouping's name */
        const vocab *v = by == SB_TIER ? &VOCAB_TIER : &VOCAB_CATEGORY;
        snprintf(g->filter, sizeof g->filter, "&%s=%s", vocab_code(&VOCAB_STATS_BY, (size_t)by), k);
        *sort = vocab_find(v, k);
        return str_or_null(vocab_label(v, k));
    }
    if (by == SB_STATION) {
        snprintf(g->filter, sizeof g->filter, "&station=%s", k);
        *sort = strtoll(k, NULL, 10);
    } else { /* county, town: the group's own division */
        vocab_code_prefix(k, g->division);
    }
    return str_or_null(sql_label);
}

/* The period groups of q (every day, week or month of the period, also those without reports). */
static void period_groups(const stats_query *q, PGresult *res, json_t *groups) {
    int n = PQntuples(res);
    for (long long d = q->from_day, d0, next; d < q->to_day; d = next) {
        char key[16];
        next = period_of(q->by, d, &d0, key);
        int row = -1;
        for (int i = 0; i < n && row < 0; i++)
            if (!PQgetisnull(res, i, C_KEY) && !strcmp(PQgetvalue(res, i, C_KEY), key)) row = i;
        group_ref g = {.d0 = d0, .d1 = next};
        json_t *o = figures_json(q, &g, res, row);
        if (!o) continue;
        json_object_set_new(o, "key", json_string(key));
        json_object_set_new(o, "label", json_string(key));
        json_array_append_new(groups, o);
    }
}

/* One left-out group: under the minimum (with its records) or without a group at all. */
static json_t *left_out_json(const char *k, json_t *label, long long reports, json_t *records,
                             const char *reason) {
    return json_pack("{s:s?,s:o,s:I,s:o,s:s}", "key", k, "label", label ? label : json_null(),
                     "reports", (json_int_t)reports, "records", records ? records : json_null(),
                     "reason", reason);
}

/* The groups of q->by (a ranking: under q->min_reports into left_out) in their order. */
static void build_groups(const stats_query *q, PGresult *res, json_t *groups, json_t *left_out) {
    if (is_period(q->by)) {
        period_groups(q, res, groups);
        return;
    }
    int n = PQntuples(res), ng = 0;
    group *gs = calloc((size_t)(n ? n : 1), sizeof *gs);
    for (int i = 0; gs && i < n; i++) {
        if (PQgetvalue(res, i, C_TOTAL)[0] == 't') continue;
        const char *k = val(res, i, C_KEY);
        long long reports = ll(res, i, C_REPORTS), sort;
        if (!k) {
            json_array_append_new(left_out, left_out_json(NULL, NULL, reports, NULL, "no_group"));
            continue;
        }
        group_ref g = {0};
        json_t *label = group_label(q->by, k, val(res, i, C_LABEL), &g, &sort);
        if (reports < q->min_reports) {
            json_array_append_new(left_out, left_out_json(k, label, reports, rec(q, &g, NULL, NULL),
                                                          "under_min_reports"));
            continue;
        }
        json_t *o = figures_json(q, &g, res, i);
        if (!o) {
            json_decref(label);
            continue;
        }
        json_object_set_new(o, "key", json_string(k));
        json_object_set_new(o, "label", label);
        gs[ng].j = o, gs[ng].sort = sort;
        snprintf(gs[ng++].key, sizeof gs->key, "%s", k);
    }
    if (gs) qsort(gs, (size_t)ng, sizeof *gs, group_cmp);
    for (int i = 0; i < ng; i++)
        json_array_append_new(groups, gs[i].j);
    free(gs);
}

/* Each group gets its patrol figures (none for a grouping patrols do not have: category). */
static void attach_patrols(const stats_query *q, json_t *groups, json_t *patrols) {
    json_t *by_key = json_object_get(patrols, "groups"), *zero = json_object_get(patrols, "zero");
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        json_t *p = json_object_get(by_key, json_string_value(json_object_get(g, "key")));
        int none = q->by == SB_CATEGORY;
        json_object_set(g, "patrols", none || !zero ? json_null() : p ? p : zero);
    }
}

/* Runs the statement in a read-only transaction with room to sort (the percentiles). */
static PGresult *run_figures(worker *w, const stats_query *q) {
    buf b = {0};
    stats_sql_params p;
    stats_sql_fill(&p, q);
    build_sql(&b, q);
    PGresult *res = NULL;
    if (!b.oom && db_begin(w) == 0 &&
        db_command(w, "SELECT set_config('work_mem', '128MB', true)", 0, NULL) == 0)
        res = db_exec_dynamic(w, b.p, p.n, p.v);
    buf_free(&b);
    if (res && db_commit(w) != 0) {
        PQclear(res);
        res = NULL;
    }
    if (!res) db_rollback(w);
    return res;
}

/* The reply from the statement's rows, the patrol figures and the coverage (both stolen). */
static json_t *reply_json(http_req *r, const stats_query *q, PGresult *res, json_t *patrols,
                          json_t *coverage) {
    char limits[128];
    vocab_tier_ack_json(&r->app->cfg, limits, sizeof limits);
    int ti = 0;
    for (int i = 0; i < PQntuples(res); i++)
        if (PQgetvalue(res, i, C_TOTAL)[0] == 't') ti = i;
    group_ref all = {0};
    json_t *total = figures_json(q, &all, res, ti), *groups = json_array(),
           *left_out = json_array();
    json_t *pt = json_object_get(patrols, "total");
    json_object_set(total, "patrols", pt ? pt : json_null());
    if (q->by >= 0) build_groups(q, res, groups, left_out);
    attach_patrols(q, groups, patrols);
    json_decref(patrols);
    int ranking = q->by >= 0 && !is_period(q->by);
    json_t *out =
        json_pack("{s:{s:s,s:s,s:s},s:s,s:s,s:{s:s,s:s},s:s,s:s?,s:o,s:o,s:o,s:o,s:o,s:o}",
                  "division", "code", q->code12, "name", q->name, "level", q->level, "from",
                  q->from, "to", q->last, "period", "from", q->from_ts, "to", q->to_ts, "timezone",
                  tz_name(), "by", q->by >= 0 ? vocab_code(&VOCAB_STATS_BY, (size_t)q->by) : NULL,
                  "min_reports", ranking ? json_integer(q->min_reports) : json_null(),
                  "ack_limit_s", json_loads(limits, 0, NULL), "total", total, "groups", groups,
                  "left_out", left_out, "coverage", coverage);
    return out;
}

json_t *stats_figures(http_req *r, const stats_query *q, int extras, int *status) {
    int rc = stats_budget(r, q, r->app->cfg.stats_max_reports);
    if (rc) {
        *status = rc < 0 ? http_db_error(r) : rc;
        return NULL;
    }
    PGresult *res = run_figures(r->w, q);
    json_t *patrols = res && extras ? stats_patrol_figures(r->w, q) : NULL;
    json_t *coverage = patrols ? stats_coverage_figures(r->w, q) : NULL;
    if (!res || (extras && !coverage)) {
        PQclear(res);
        json_decref(patrols);
        *status = http_db_error(r);
        return NULL;
    }
    json_t *out = reply_json(r, q, res, patrols, coverage ? coverage : json_null());
    PQclear(res);
    if (!out) *status = http_error(r, 500, "internal", NULL, "out of memory");
    return out;
}

/* GET /api/v1/stats?division=&from=&to=&by=&min_reports= (supervisors, admins) */
int h_stats(http_req *r) {
    stats_query q;
    int rc = stats_query_read(r, &q);
    if (rc) return rc;
    if (q.by == SB_DAY && q.to_day - q.from_day > 400)
        return http_error(r, 400, "over_budget", "by",
                          "by=day is for periods of at most 400 days; use week or month");
    json_t *out = stats_figures(r, &q, 1, &rc);
    return out ? http_json(r, 200, out) : rc;
}
