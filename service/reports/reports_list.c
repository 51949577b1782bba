/* reports_list.c - GET /api/v1/reports (filtered, keyset-paged, always limited to the user's
 * division) and the same filters as a GeoJSON (RFC 7946) or CSV (RFC 4180) export, streamed in
 * pages. Runs on the calling worker thread; all state is per request. SQL is assembled only from
 * fixed fragments; every value from the request travels as a statement parameter. The reports a
 * list page or an export page sends are written to the personal-data audit trail (audit.c), one
 * row per page, before the page goes out. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gis/coords.h"
#include "service/core/audit.h"
#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/shapes.h"
#include "service/reports/report_json.h"

enum {
    LIST_MAX = PAGE_MAX,
    EXPORT_PAGE = 1000,
    EXPORT_CAP = EXPORT_MAX, /* rows in one export; narrow the filters for more */
    QB_MAXPARAMS = 32,
    QB_VALLEN = 48, /* numbers formatted here; longer values point into the request */
};

/* The filters of one request, typed by the door (routes.c: REPORT_FILTERS). Strings are the
 * request's (PostgreSQL literals: "{new,resolved}", "{12,15}"); NULL when absent. */
typedef struct list_query {
    const char *statuses, *categories, *outcomes, *tiers; /* text[] literals */
    const char *stations, *ids;                           /* bigint[] literals */
    const char *escalated_from;                           /* text[] of tiers */
    int escalated;    /* 1 escalated at least once, 0 never, -1 either */
    const char *open; /* text[] of open (or closed) statuses */
    char open_lit[160];
    char division[13]; /* significant prefix of ?within= or ?division=, "" for none */
    const char *since, *received_from, *received_to; /* RFC 3339 text */
    int has_bbox;
    double bbox[4]; /* WGS-84 minlon, minlat, maxlon, maxlat */
    gis_crs crs;    /* coordinates out (and bbox in) */
    int limit;
    long long before_id; /* cursor: only rows with id < before_id; 0 = from the newest */
} list_query;

/* ---- the statement under construction ---- */
typedef struct qbuild {
    char sql[4096];
    size_t len;
    int n;
    const char *params[QB_MAXPARAMS];
    char vals[QB_MAXPARAMS][QB_VALLEN];
} qbuild;

static void qb_sql(qbuild *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qb_sql(qbuild *q, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(q->sql + q->len, sizeof q->sql - q->len, fmt, ap);
    va_end(ap);
    /* Only fixed fragments go in: overflowing 4 KiB is a programming error. */
    if (n > 0 && q->len + (size_t)n < sizeof q->sql) q->len += (size_t)n;
}

/* Adds a parameter value kept by pointer (the request's strings: they outlive the statement) and
 * returns its $number. */
static int qb_param(qbuild *q, const char *val) {
    if (q->n >= QB_MAXPARAMS) return 0;
    q->params[q->n] = val;
    return ++q->n;
}

/* Adds a parameter value formatted into the statement's own room (at most QB_VALLEN - 1 bytes). */
static int qb_paramf(qbuild *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int qb_paramf(qbuild *q, const char *fmt, ...) {
    if (q->n >= QB_MAXPARAMS) return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->vals[q->n], QB_VALLEN, fmt, ap);
    va_end(ap);
    return qb_param(q, q->vals[q->n]);
}

/* Rows inside the division with significant prefix `prefix` (the ?within= filter). */
static void qb_within(qbuild *q, const char *prefix) {
    size_t n = strlen(prefix);
    char code12[13];
    vocab_code12(prefix, 2, code12);
    const char *col = n == 12  ? "community_code"
                      : n == 9 ? "town_code"
                      : n == 6 ? "county_code"
                               : NULL;
    if (col) { /* today's division and every one merged into it (indexed) */
        qb_sql(q,
               " AND r.%s IN (WITH RECURSIVE m(code) AS (SELECT $%d::char(12) UNION"
               " SELECT d.code FROM division_changes d JOIN m ON d.into_code = m.code"
               " WHERE d.change = " VOCAB_SQL_TERM("DivisionChange",
                                                   DC_MERGED) ") SELECT code FROM m)",
               col, qb_paramf(q, "%s", code12));
        return;
    }
    qb_sql(q, " AND left(" AUTH_MOST_LOCAL("r") ", %zu) = $%d", n, qb_paramf(q, "%s", prefix));
}

/* ---- the filters ---- */

/* The typed filters of r (the door read them) into q. Returns 0, or the status of the 400 sent. */
static int parse_query(http_req *r, list_query *q, int paged) {
    memset(q, 0, sizeof *q);
    q->crs = http_q(r, "crs")->crs;
    q->statuses = http_q(r, "status")->s;
    q->categories = http_q(r, "category")->s;
    q->outcomes = http_q(r, "outcome")->s;
    q->tiers = http_q(r, "tier")->s;
    q->stations = http_q(r, "station")->s;
    q->ids = http_q(r, "id")->s;
    q->since = http_q(r, "since")->s;
    q->received_from = http_q(r, "received_from")->s;
    q->received_to = http_q(r, "received_to")->s;
    q->escalated_from = http_q(r, "escalated_from")->s;
    const http_qval *escalated = http_q(r, "escalated");
    q->escalated = escalated->given ? (int)escalated->i : -1;
    const http_qval *open = http_q(r, "open"), *bbox = http_q(r, "bbox");
    if (open->given) { /* open (or closed) statuses, from the vocabulary's flags */
        vocab_pg_array(&VOCAB_REPORT_STATUS, VOCAB_OPEN, open->i ? VOCAB_OPEN : 0, q->open_lit,
                       sizeof q->open_lit);
        q->open = q->open_lit;
    }
    const http_qval *within = http_q(r, "within"), *division = http_q(r, "division");
    if (within->given && division->given) /* one filter, two names (API.md says within) */
        return http_error(r, 400, "invalid_division", "division",
                          "give within or division, not both");
    if (within->given || division->given)
        snprintf(q->division, sizeof q->division, "%s",
                 (within->given ? within : division)->prefix);
    if ((q->has_bbox = bbox->given)) memcpy(q->bbox, bbox->bbox, sizeof q->bbox);
    /* a list pages (cursor); an export streams up to limit rows, EXPORT_CAP unless asked fewer */
    q->limit = (int)http_q(r, "limit")->i;
    q->before_id = paged ? http_q(r, "cursor")->i : 0;
    return 0;
}

/* Builds `SELECT REPORT_COLUMNS[, possible_duplicates] FROM reports r WHERE <visible> <filters> AND
 * id < before ORDER BY id DESC LIMIT rows` for the user of r. <visible> is the visibility rule
 * (AUTH_REPORT_VISIBLE_SQL); callers still check every row with report_row_visible(). With dups,
 * column REPORT_NCOLS holds each row's possible_duplicates (the meaning of a single read,
 * DUPS_EXPR) in the same statement. */
static void build_select(const http_req *r, const list_query *q, long long before_id, int rows,
                         int dups, qbuild *qb) {
    report_dups_params dp;
    memset(qb, 0, sizeof *qb);
    report_dups_params_fill(&dp, &r->app->cfg, &r->user);
    if (dups) { /* $1 window, $2 radius, $3 the user's prefix, $4 the user's id */
        qb_paramf(qb, "%s", dp.window), qb_paramf(qb, "%s", dp.radius);
        qb_paramf(qb, "%s", dp.prefix), qb_paramf(qb, "%s", dp.uid);
        qb_sql(qb, "SELECT " REPORT_COLUMNS ", " DUPS_EXPR(
                       "$1", "$2", "$3",
                       "$4") " FROM reports r WHERE " AUTH_REPORT_VISIBLE_SQL("r", "$3", "$4"));
    } else { /* $1 the user's prefix, $2 the user's id */
        qb_paramf(qb, "%s", dp.prefix), qb_paramf(qb, "%s", dp.uid);
        qb_sql(qb, "SELECT " REPORT_COLUMNS
                   " FROM reports r WHERE " AUTH_REPORT_VISIBLE_SQL("r", "$1", "$2"));
    }
    if (q->division[0]) qb_within(qb, q->division);
    static const struct {
        size_t off;
        const char *sql; /* with the parameter's $number */
    } filters[] = {
        {offsetof(list_query, statuses), " AND r.status = ANY ($%d::text[])"},
        {offsetof(list_query, open), " AND r.status = ANY ($%d::text[])"},
        {offsetof(list_query, categories), " AND r.category = ANY ($%d::text[])"},
        {offsetof(list_query, outcomes), " AND r.outcome = ANY ($%d::text[])"},
        {offsetof(list_query, tiers), " AND r.tier = ANY ($%d::text[])"},
        {offsetof(list_query, stations), " AND r.station_id = ANY ($%d::bigint[])"},
        {offsetof(list_query, ids), " AND r.id = ANY ($%d::bigint[])"},
        {offsetof(list_query, since), " AND r.updated_at >= $%d::timestamptz"},
        {offsetof(list_query, received_from), " AND r.received_at >= $%d::timestamptz"},
        {offsetof(list_query, received_to), " AND r.received_at < $%d::timestamptz"},
        /* moved up because the deadline passed (the escalation thread's reason; report_facts) */
        {offsetof(list_query, escalated_from),
         " AND EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = r.id"
         " AND e.type = " VOCAB_SQL_TERM(
             "TimelineType", TL_ESCALATED) " AND e.details ->> 'reason' = 'ack_deadline_passed'"
                                           " AND e.details ->> 'from_tier' = ANY ($%d::text[]))"},
    };
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        const char *v = *(const char *const *)((const char *)q + filters[i].off);
        if (v) qb_sql(qb, filters[i].sql, qb_param(qb, v));
    }
    if (q->escalated >= 0) /* escalated by hand or by the deadline (the timeline's rows) */
        qb_sql(qb, " AND %s" VOCAB_REPORT_ESCALATED_SQL("r"), q->escalated ? "" : "NOT ");
    if (q->has_bbox) {
        int a = qb_paramf(qb, "%.9f", q->bbox[0]), b = qb_paramf(qb, "%.9f", q->bbox[1]),
            c = qb_paramf(qb, "%.9f", q->bbox[2]), d = qb_paramf(qb, "%.9f", q->bbox[3]);
        qb_sql(qb,
               " AND r.geom && ST_MakeEnvelope($%d::float8, $%d::float8, $%d::float8, $%d::float8, "
               "4326)",
               a, b, c, d);
    }
    if (before_id > 0) qb_sql(qb, " AND r.id < $%d::bigint", qb_paramf(qb, "%lld", before_id));
    qb_sql(qb, " ORDER BY r.id DESC LIMIT %d", rows);
}

/* Runs one page. NULL on failure: the reply (400 for a time PostgreSQL refuses, else the database
 * error) has been sent and *rc holds its status. */
static PGresult *run_page(http_req *r, const list_query *q, long long before_id, int rows, int dups,
                          int *rc) {
    qbuild qb;
    build_select(r, q, before_id, rows, dups, &qb);
    PGresult *res = db_exec_read_dynamic(r->w, qb.sql, qb.n, qb.params);
    if (!res) {
        if (strncmp(r->w->sqlstate, "22", 2) == 0 && !r->w->db_down &&
            (q->since || q->received_from || q->received_to))
            *rc = http_error(r, 400, "invalid_time", NULL,
                             "a time filter is outside the range PostgreSQL accepts");
        else
            *rc = http_db_error(r);
    }
    return res;
}

/* GET /api/v1/reports */
int h_reports_list(http_req *r) {
    list_query q;
    int rc = parse_query(r, &q, 1);
    if (rc) return rc;
    PGresult *res = run_page(r, &q, q.before_id, q.limit + 1, 1, &rc);
    if (!res) return rc;
    int n = PQntuples(res), more = n > q.limit;
    if (more) n = q.limit;
    json_t *items = json_array();
    long long ids[LIST_MAX];
    size_t nids = 0;
    for (int i = 0; i < n; i++) {
        if (!report_row_visible(&r->user, res, i))
            continue; /* the SQL scope already excludes these */
        json_t *item = report_row_json(res, i, q.crs);
        if (item) {
            json_object_set_new(item, "possible_duplicates",
                                rj_parse_or(rj_val(res, i, REPORT_NCOLS), json_array()));
            json_array_append_new(items, item);
        }
        ids[nids++] = strtoll(PQgetvalue(res, i, REPORT_COL_ID), NULL, 10);
    }
    if (nids && audit_read(r, AA_REPORT_LIST, ids, nids) != 0) {
        PQclear(res);
        json_decref(items);
        return http_db_error(r);
    }
    json_t *next = json_null();
    if (more) {
        char cur[64];
        params_cursor_encode("r1", strtoll(PQgetvalue(res, n - 1, REPORT_COL_ID), NULL, 10), cur,
                             sizeof cur);
        next = json_string(cur);
    }
    PQclear(res);
    return http_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next));
}

/* ---- exports ---- */

/* One CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF (quotes doubled). Text
 * that a spreadsheet would run as a formula (starting with = + - @, tab or CR) gets a leading '. */
static void csv_cell(buf *b, const char *s, int last) {
    if (!s) s = "";
    int guard = strchr("=+-@\t\r", *s) != NULL && *s;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) buf_put(b, "\"", 1);
    if (guard) buf_put(b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            buf_put(b, "\"\"", 2);
        else
            buf_put(b, p, 1);
    }
    if (quote) buf_put(b, "\"", 1);
    buf_put(b, last ? "\r\n" : ",", last ? 2 : 1);
}

/* ?labels=zh: a column's Chinese header (VOCAB_REPORT_FIELD), and a value's label when the column
 * holds codes of a vocabulary. */
static const struct {
    const char *col;
    const vocab *v;
} csv_vocabs[] = {{"status", &VOCAB_REPORT_STATUS},
                  {"category", &VOCAB_CATEGORY},
                  {"outcome", &VOCAB_OUTCOME},
                  {"tier", &VOCAB_TIER},
                  {"person_sex", &VOCAB_SEX}};

static const char *csv_zh(const char *col, const char *value) {
    if (!value)
        return vocab_label(&VOCAB_REPORT_FIELD, col) ? vocab_label(&VOCAB_REPORT_FIELD, col) : col;
    for (size_t i = 0; i < sizeof csv_vocabs / sizeof csv_vocabs[0]; i++)
        if (strcmp(col, csv_vocabs[i].col) == 0 && vocab_label(csv_vocabs[i].v, value))
            return vocab_label(csv_vocabs[i].v, value);
    return value;
}

/* The header line: the CSV columns of REPORT_FIELDS (report_csv_cols), in Chinese when zh. */
static void csv_header(buf *b, int zh) {
    size_t n;
    const report_csv_col *cols = report_csv_cols(&n);
    for (size_t k = 0; k < n; k++)
        csv_cell(b, zh ? csv_zh(cols[k].name, NULL) : cols[k].name, k + 1 == n);
}

static void csv_row(buf *b, PGresult *res, int i, gis_crs crs, int zh) {
    size_t n;
    const report_csv_col *cols = report_csv_cols(&n);
    const char *pj = rj_val(res, i, REPORT_COL_PERSON);
    json_t *person = pj ? json_loads(pj, 0, NULL) : NULL;
    char tmp[1024];
    for (size_t k = 0; k < n; k++) {
        const char *cell = report_csv_text(&cols[k], res, i, crs, person, tmp, sizeof tmp);
        csv_cell(b, zh && cell ? csv_zh(cols[k].name, cell) : cell, k + 1 == n);
    }
    json_decref(person);
}

/* A GeoJSON Feature: geometry [lon, lat] always in WGS-84 (RFC 7946 section 4: a GeoJSON reader
 * may assume nothing else), properties the report JSON with accuracy_m at the top and its
 * `location` {lon,lat,crs} in the request's ?crs= (API.md: any response carrying coordinates
 * honours it; a map on GCJ-02 tiles reads it there). Open311 contact data is never in a report
 * row's JSON. */
static void geojson_feature(buf *b, PGresult *res, int i, int first, gis_crs crs) {
    json_t *rep = report_row_json(res, i, crs);
    if (!rep) {
        b->oom = 1;
        return;
    }
    json_t *acc = json_object_get(json_object_get(rep, "location"), "accuracy_m");
    json_object_set(rep, "accuracy_m", acc ? acc : json_null());
    double lon = report_coord_out(strtod(PQgetvalue(res, i, REPORT_COL_LON), NULL)),
           lat = report_coord_out(strtod(PQgetvalue(res, i, REPORT_COL_LAT), NULL));
    json_t *f = json_pack("{s:s,s:O,s:{s:s,s:[f,f]},s:o}", "type", "Feature", "id",
                          json_object_get(rep, "id"), "geometry", "type", "Point", "coordinates",
                          lon, lat, "properties", rep);
    char *s = f ? json_dumps(f, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(f);
    if (!s) {
        b->oom = 1;
        return;
    }
    if (!first) buf_put(b, ",\n", 2);
    buf_str(b, s);
    free(s);
}

enum { FMT_GEOJSON, FMT_CSV };

static int send_chunk(http_req *r, buf *b) {
    if (b->oom) return -1;
    int rc = b->len ? mg_send_chunk(r->conn, b->p, (unsigned)b->len) : 0;
    b->len = 0;
    if (rc < 0) mg_disable_connection_keep_alive(r->conn); /* gone: no pipelined request after */
    return rc < 0 ? -1 : 0;
}

/* Picks the visible rows of one page (up to q->limit in all, *total so far): their ids into ids
 * (for the audit trail) and row numbers into rows. Returns how many. */
static size_t export_pick(http_req *r, PGresult *res, const list_query *q, long long *ids,
                          int *rows, int *total) {
    size_t n = 0;
    for (int i = 0; i < PQntuples(res) && *total < q->limit; i++) {
        if (!report_row_visible(&r->user, res, i)) continue;
        ids[n] = strtoll(PQgetvalue(res, i, REPORT_COL_ID), NULL, 10);
        rows[n++] = i;
        (*total)++;
    }
    return n;
}

/* Renders the picked rows into b; `first`: they start the export (no separator before). */
static void export_render(buf *b, PGresult *res, const int *rows, size_t n, int fmt, int first,
                          gis_crs crs, int zh) {
    for (size_t k = 0; k < n; k++) {
        if (fmt == FMT_CSV)
            csv_row(b, res, rows[k], crs, zh);
        else
            geojson_feature(b, res, rows[k], first && k == 0, crs);
    }
}

/* The export's next page: `want` rows after id `last`, read with a pool slot borrowed for it (lent
 * until the page is audited). NULL when no slot came free in time or the database failed (logged:
 * the export is cut). */
static PGresult *export_next_page(http_req *r, const list_query *q, long long last, int want) {
    qbuild qb;
    build_select(r, q, last, want, 0, &qb);
    if (http_borrow_page_worker(r) != 0) {
        fprintf(stderr, "export [%s] cut: no pool slot for the next page\n", r->request_id);
        return NULL;
    }
    PGresult *res = db_exec_read_dynamic(r->w, qb.sql, qb.n, qb.params);
    if (!res) {
        http_count_db_error();
        fprintf(stderr, "export [%s] cut: %s\n", r->request_id, r->w->err);
    }
    return res;
}

/* Streams every matching row (up to ?limit=, at most EXPORT_CAP) with chunked transfer encoding, one
 * database page per chunk. The first page is read and audited before the headers go out, so a
 * failure there is a clean error reply; a later failure ends the stream without its last chunk
 * (the client sees it cut). Each page's reports are written to the audit trail (one row per page
 * of EXPORT_PAGE) before the page is sent. No slot is held while a page is written (a slow reader
 * would keep it for minutes): each page is read with a slot borrowed for it, rendered into memory
 * (one page, bounded), and the slot goes back before the write. */
static int export_reports(http_req *r, int fmt) {
    list_query q;
    int rc = parse_query(r, &q, 0);
    if (rc) return rc;
    PGresult *res = run_page(r, &q, 0, q.limit < EXPORT_PAGE ? q.limit : EXPORT_PAGE, 0, &rc);
    if (!res) return rc;
    static const char *const ctypes[] = {"application/geo+json; charset=utf-8",
                                         "text/csv; charset=utf-8"};
    static const char *const disps[] = {
        "Content-Disposition: inline; filename=\"reports.geojson\"\r\n",
        "Content-Disposition: attachment; filename=\"reports.csv\"\r\n"};
    const char *ctype = ctypes[fmt], *disp = disps[fmt];
    if (strcmp(r->method, "HEAD") == 0) { /* no data goes out: nothing to audit */
        http_begin_chunked(r, 200, ctype, disp);
        PQclear(res);
        return 200;
    }
    long long *ids = malloc(EXPORT_PAGE * (sizeof *ids + sizeof(int))); /* and the row numbers */
    if (!ids) {
        PQclear(res);
        return http_error(r, 500, "internal", NULL, "out of memory");
    }
    int *rows = (int *)(ids + EXPORT_PAGE);
    buf b = {0};
    int zh = fmt == FMT_CSV && http_q(r, "labels")->given;
    if (fmt == FMT_CSV) {
        buf_str(&b, "\xEF\xBB\xBF"); /* UTF-8 BOM: spreadsheets then read the Chinese text right */
        csv_header(&b, zh);
    } else {
        buf_str(&b, "{\"type\":\"FeatureCollection\",\"features\":[\n");
    }
    int total = 0, ok = 1, head_sent = 0;
    while (res) {
        int n = PQntuples(res), first = total == 0;
        size_t nids = export_pick(r, res, &q, ids, rows, &total);
        long long last = n ? strtoll(PQgetvalue(res, n - 1, REPORT_COL_ID), NULL, 10) : 0;
        if ((nids || !head_sent) &&
            audit_read(r, fmt == FMT_CSV ? AA_EXPORT_CSV : AA_EXPORT_GEOJSON, ids, nids)) {
            PQclear(res);
            if (!head_sent) {
                free(b.p);
                free(ids);
                return http_db_error(r);
            }
            http_count_db_error();
            fprintf(stderr, "export [%s] cut: audit: %s\n", r->request_id, r->w->err);
            ok = 0;
            break;
        }
        http_release_worker(r); /* read and audited: render and write the page without a slot */
        export_render(&b, res, rows, nids, fmt, first, q.crs, zh);
        PQclear(res);
        res = NULL;
        if (!head_sent) {
            r->status = 200;
            head_sent = 1;
            if (http_begin_chunked(r, 200, ctype, disp) < 0) {
                ok = 0;
                break;
            }
        }
        if (send_chunk(r, &b) != 0) {
            ok = 0;
            break;
        }
        if (n < EXPORT_PAGE || total >= q.limit) break;
        int want = q.limit - total < EXPORT_PAGE ? q.limit - total : EXPORT_PAGE;
        if (!(res = export_next_page(r, &q, last, want))) ok = 0;
    }
    if (ok) {
        if (fmt == FMT_GEOJSON) buf_str(&b, "\n]}\n");
        if (send_chunk(r, &b) == 0) mg_send_chunk(r->conn, "", 0);
    }
    free(b.p);
    free(ids);
    return 200;
}

/* GET /api/v1/reports.geojson */
int h_reports_geojson(http_req *r) {
    return export_reports(r, FMT_GEOJSON);
}

/* GET /api/v1/reports.csv */
int h_reports_csv(http_req *r) {
    return export_reports(r, FMT_CSV);
}
