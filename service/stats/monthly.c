/* monthly.c - GET /api/v1/stats/monthly.xlsx?division=&month=: the monthly report of a division in
 * Chinese, written with libxlsxwriter (Debian libxlsxwriter-dev): one sheet per part (summary per
 * county; discovery and response times per county and per tier; outcomes; escalations; patrols and
 * coverage; the list of the month's reports), every label from the vocabulary (vocab.c:
 * VOCAB_STATS_TERM, the statuses, outcomes, tiers, and VOCAB_REPORT_FIELD for the list), times as
 * Excel dates, the title and header rows frozen. The figures are GET /api/v1/stats's own
 * (stats_figures by county and by tier), so the totals are the same numbers.
 *
 * The slot rule (HACKING.md): the figures and the list (at most EXPORT_MAX reports, audited as
 * export.xlsx) are read with the slot, the slot goes back, then the workbook is written to a
 * private temporary file and sent from it in chunks, and the file is removed. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "service/core/audit.h"
#include "service/core/db.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/reports/report_json.h"
#include "service/stats/stats.h"

/* The workbook being written and its formats. */
typedef struct xbook {
    lxw_workbook *wb;
    lxw_format *title, *head, *num, *min, *pct, *date, *bold;
} xbook;

static const char *term(const char *code) {
    const char *l = vocab_label(&VOCAB_STATS_TERM, code);
    return l ? l : code;
}

static void formats(xbook *x) {
    x->title = workbook_add_format(x->wb), format_set_bold(x->title);
    format_set_font_size(x->title, 14);
    x->head = workbook_add_format(x->wb), format_set_bold(x->head);
    format_set_text_wrap(x->head), format_set_bg_color(x->head, 0xDDEBF7);
    format_set_border(x->head, LXW_BORDER_THIN);
    x->num = workbook_add_format(x->wb), format_set_num_format(x->num, "0");
    x->min = workbook_add_format(x->wb), format_set_num_format(x->min, "0.0");
    x->pct = workbook_add_format(x->wb), format_set_num_format(x->pct, "0.0%");
    x->date = workbook_add_format(x->wb), format_set_num_format(x->date, "yyyy-mm-dd hh:mm:ss");
    x->bold = workbook_add_format(x->wb), format_set_bold(x->bold);
}

/* A sheet named by term `name`: row 0 the title, row 1 the headers (both frozen). */
static lxw_worksheet *sheet(xbook *x, const char *name, const char *title, const char *const *h,
                            int n) {
    lxw_worksheet *ws = workbook_add_worksheet(x->wb, term(name));
    if (!ws) return NULL;
    worksheet_write_string(ws, 0, 0, title, x->title);
    for (int i = 0; i < n; i++)
        worksheet_write_string(ws, 1, (lxw_col_t)i, h[i], x->head);
    worksheet_set_column(ws, 0, 0, 18, NULL);
    worksheet_set_column(ws, 1, (lxw_col_t)(n > 1 ? n - 1 : 1), 13, NULL);
    worksheet_set_row(ws, 1, 32, NULL);
    worksheet_freeze_panes(ws, 2, 1);
    return ws;
}

/* A number cell (a JSON number; null or absent: left empty). */
static void put_num(lxw_worksheet *ws, int row, int col, json_t *v, double scale, lxw_format *f) {
    if (json_is_number(v))
        worksheet_write_number(ws, (lxw_row_t)row, (lxw_col_t)col, json_number_value(v) * scale, f);
}

/* "2026-11-03T08:15:00[.fff]+08:00" (the city's offset: its local time) -> an Excel date cell. */
static void put_time(xbook *x, lxw_worksheet *ws, int row, int col, const char *t) {
    lxw_datetime d;
    if (!t ||
        sscanf(t, "%d-%d-%dT%d:%d:%lf", &d.year, &d.month, &d.day, &d.hour, &d.min, &d.sec) != 6)
        return;
    worksheet_write_datetime(ws, (lxw_row_t)row, (lxw_col_t)col, &d, x->date);
}

/* Header texts built from labels, kept for the life of the workbook. */
typedef struct heads {
    char text[64][96];
    const char *p[64];
    int n;
} heads;

static void head(heads *h, const char *a, const char *b, const char *c) {
    if (h->n >= 64) return;
    snprintf(h->text[h->n], sizeof h->text[0], "%s%s%s", a, b ? b : "", c ? c : "");
    h->p[h->n] = h->text[h->n];
    h->n++;
}

/* The rows of a by-county figures reply: each group, then the total. */
typedef void (*row_fn)(xbook *x, lxw_worksheet *ws, int row, json_t *g);

static int county_rows(xbook *x, lxw_worksheet *ws, int row, json_t *fig, row_fn fn) {
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(fig, "groups"), i, g) {
        worksheet_write_string(ws, (lxw_row_t)row, 0,
                               json_string_value(json_object_get(g, "label")), NULL);
        fn(x, ws, row++, g);
    }
    worksheet_write_string(ws, (lxw_row_t)row, 0, term("total"), x->bold);
    fn(x, ws, row++, json_object_get(fig, "total"));
    return row;
}

/* o[a][b][c] (c may be NULL: o[a][b]). */
static json_t *at(json_t *o, const char *a, const char *b, const char *c) {
    json_t *v = json_object_get(json_object_get(o, a), b);
    return c ? json_object_get(v, c) : v;
}

/* ---- the summary: per county, reports by status, escalations, two medians ---- */

static void summary_row(xbook *x, lxw_worksheet *ws, int row, json_t *g) {
    int c = 1;
    put_num(ws, row, c++, json_object_get(g, "reports"), 1, x->num);
    put_num(ws, row, c++, json_object_get(g, "people"), 1, x->num);
    for (size_t i = 0; i < VOCAB_REPORT_STATUS.n; i++)
        put_num(ws, row, c++, at(g, "by_status", vocab_code(&VOCAB_REPORT_STATUS, i), "reports"), 1,
                x->num);
    put_num(ws, row, c++, at(g, "escalations", "reports", NULL), 1, x->num);
    put_num(ws, row, c++, at(g, "ack_s", "p50", NULL), 1 / 60.0, x->min);
    put_num(ws, row, c, at(g, "resolve_s", "p50", NULL), 1 / 60.0, x->min);
}

static void summary_sheet(xbook *x, const char *title, json_t *county) {
    heads h = {.n = 0};
    head(&h, term("xlsx_by_county"), NULL, NULL);
    head(&h, term("reports"), NULL, NULL);
    head(&h, term("people"), NULL, NULL);
    for (size_t i = 0; i < VOCAB_REPORT_STATUS.n; i++)
        head(&h, VOCAB_REPORT_STATUS.terms[i].label, NULL, NULL);
    head(&h, term("escalations"), NULL, NULL);
    head(&h, term("ack_s"), term("p50"), NULL);
    head(&h, term("resolve_s"), term("p50"), NULL);
    for (int i = h.n - 2; i < h.n; i++) /* the medians are in minutes */
        snprintf(h.text[i] + strlen(h.text[i]), sizeof h.text[i] - strlen(h.text[i]), "（%s）",
                 term("ui_minutes"));
    lxw_worksheet *ws = sheet(x, "xlsx_summary", title, h.p, h.n);
    if (ws) county_rows(x, ws, 2, county, summary_row);
}

/* ---- discovery and response times: per county, then per tier ---- */

static void times_row(xbook *x, lxw_worksheet *ws, int row, json_t *g) {
    static const char *const names[] = {"ack_s", "dispatch_s", "on_scene_s", "resolve_s"};
    for (int t = 0, c = 1; t < 4; t++) {
        put_num(ws, row, c++, at(g, names[t], "p50", NULL), 1 / 60.0, x->min);
        put_num(ws, row, c++, at(g, names[t], "p90", NULL), 1 / 60.0, x->min);
        put_num(ws, row, c++, at(g, names[t], "n", NULL), 1, x->num);
    }
}

static void times_sheet(xbook *x, const char *title, json_t *county, json_t *tier) {
    static const char *const names[] = {"ack_s", "dispatch_s", "on_scene_s", "resolve_s"};
    heads h = {.n = 0};
    char minutes[64];
    snprintf(minutes, sizeof minutes, "（%s）", term("ui_minutes"));
    head(&h, term("xlsx_by_county"), NULL, NULL);
    for (int t = 0; t < 4; t++) {
        head(&h, term(names[t]), term("p50"), minutes);
        head(&h, term(names[t]), term("p90"), minutes);
        head(&h, term(names[t]), term("n"), NULL);
    }
    lxw_worksheet *ws = sheet(x, "xlsx_times", title, h.p, h.n);
    if (!ws) return;
    int row = county_rows(x, ws, 2, county, times_row) + 1;
    worksheet_write_string(ws, (lxw_row_t)row++, 0, term("xlsx_by_tier"), x->head);
    county_rows(x, ws, row, tier, times_row);
}

/* ---- outcomes: per county, reports and people of each ---- */

static void outcomes_row(xbook *x, lxw_worksheet *ws, int row, json_t *g) {
    for (size_t i = 0, c = 1; i < VOCAB_OUTCOME.n; i++) {
        const char *o = vocab_code(&VOCAB_OUTCOME, i);
        put_num(ws, row, (int)c++, at(g, "by_outcome", o, "reports"), 1, x->num);
        put_num(ws, row, (int)c++, at(g, "by_outcome", o, "people"), 1, x->num);
    }
}

static void outcomes_sheet(xbook *x, const char *title, json_t *county) {
    heads h = {.n = 0};
    char reports[64], people[64];
    snprintf(reports, sizeof reports, "（%s）", term("reports"));
    snprintf(people, sizeof people, "（%s）", term("people"));
    head(&h, term("xlsx_by_county"), NULL, NULL);
    for (size_t i = 0; i < VOCAB_OUTCOME.n; i++) {
        head(&h, VOCAB_OUTCOME.terms[i].label, reports, NULL);
        head(&h, VOCAB_OUTCOME.terms[i].label, people, NULL);
    }
    lxw_worksheet *ws = sheet(x, "xlsx_outcomes", title, h.p, h.n);
    if (ws) county_rows(x, ws, 2, county, outcomes_row);
}

/* ---- escalations: per county, in all and per tier they left ---- */

static void escalations_row(xbook *x, lxw_worksheet *ws, int row, json_t *g) {
    int c = 1;
    put_num(ws, row, c++, at(g, "escalations", "reports", NULL), 1, x->num);
    for (size_t i = 0; i < VOCAB_TIER.n; i++)
        put_num(
            ws, row, c++,
            json_object_get(at(g, "escalations", "from", vocab_code(&VOCAB_TIER, i)), "reports"), 1,
            x->num);
}

static void escalations_sheet(xbook *x, const char *title, json_t *county) {
    heads h = {.n = 0};
    head(&h, term("xlsx_by_county"), NULL, NULL);
    head(&h, term("escalations"), NULL, NULL);
    for (size_t i = 0; i < VOCAB_TIER.n; i++)
        head(&h, term("escalated_from"), "：", VOCAB_TIER.terms[i].label);
    lxw_worksheet *ws = sheet(x, "xlsx_escalations", title, h.p, h.n);
    if (ws) county_rows(x, ws, 2, county, escalations_row);
}

/* ---- patrols per county, and the coverage ---- */

static void patrols_row(xbook *x, lxw_worksheet *ws, int row, json_t *g) {
    static const char *const names[] = {"patrols", "staff_turns", "places_visited", "hours", "km"};
    for (int i = 0; i < 5; i++)
        put_num(ws, row, 1 + i, at(g, "patrols", names[i], NULL), 1, i == 3 ? x->min : x->num);
}

static void coverage_block(xbook *x, lxw_worksheet *ws, int row, json_t *cov) {
    static const char *const names[] = {"communities", "visited", "share"};
    worksheet_write_string(ws, (lxw_row_t)row++, 0, term("coverage"), x->head);
    for (int i = 0; i < 3; i++, row++) {
        worksheet_write_string(ws, (lxw_row_t)row, 0, term(names[i]), NULL);
        put_num(ws, row, 1, json_object_get(cov, names[i]), 1, i == 2 ? x->pct : x->num);
    }
    row++;
    worksheet_write_string(ws, (lxw_row_t)row, 0, term("longest_unvisited"), x->head);
    worksheet_write_string(
        ws, (lxw_row_t)row, 1,
        vocab_label(&VOCAB_REPORT_FIELD, vocab_code(&VOCAB_TIER, TIER_COMMUNITY)), x->head);
    worksheet_write_string(ws, (lxw_row_t)row++, 2, term("last_patrolled_at"), x->head);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(cov, "longest_unvisited"), i, c) {
        worksheet_write_string(ws, (lxw_row_t)row, 0, json_string_value(json_object_get(c, "code")),
                               NULL);
        worksheet_write_string(ws, (lxw_row_t)row, 1, json_string_value(json_object_get(c, "name")),
                               NULL);
        put_time(x, ws, row++, 2, json_string_value(json_object_get(c, "last_patrolled_at")));
    }
}

static void patrols_sheet(xbook *x, const char *title, json_t *county) {
    static const char *const names[] = {"patrols", "staff_turns", "places_visited", "hours", "km"};
    heads h = {.n = 0};
    head(&h, term("xlsx_by_county"), NULL, NULL);
    for (int i = 0; i < 5; i++)
        head(&h, term(names[i]), NULL, NULL);
    lxw_worksheet *ws = sheet(x, "xlsx_patrols", title, h.p, h.n);
    if (!ws) return;
    int row = county_rows(x, ws, 2, county, patrols_row) + 1;
    coverage_block(x, ws, row, json_object_get(county, "coverage"));
}

/* ---- the list of the month's reports ---- */

/* The list's columns: id, received, category, status, outcome, county, town, community, station,
 * tier, people, acknowledged, dispatched, on scene, resolved (REPORT_EVENT_AT: the times of the
 * report JSON and the CSV). $1, $2 the period's days, then the division's code ranges. */
static const struct list_col {
    const char *name; /* the column's name in the CSV (VOCAB_REPORT_FIELD); NULL: tier's name */
    int tier;         /* a division column: the CSV names it after its tier (report_csv_cols) */
} LIST_COLS[] = {{"id", 0},
                 {"received_at", 0},
                 {"category", 0},
                 {"status", 0},
                 {"outcome", 0},
                 {NULL, TIER_COUNTY},
                 {NULL, TIER_TOWN},
                 {NULL, TIER_COMMUNITY},
                 {"station", 0},
                 {"tier", 0},
                 {"people_count", 0},
                 {"acknowledged_at", 0},
                 {"dispatched_at", 0},
                 {"on_scene_at", 0},
                 {"resolved_at", 0}};
enum { NLIST = sizeof LIST_COLS / sizeof LIST_COLS[0] };

/* The Chinese header of a list column. */
static const char *list_head(const struct list_col *c) {
    return vocab_label(&VOCAB_REPORT_FIELD,
                       c->name ? c->name : vocab_code(&VOCAB_TIER, (size_t)c->tier));
}

static PGresult *read_list(worker *w, const stats_query *q) {
    buf b = {0};
    stats_sql_params p;
    stats_sql_fill(&p, q);
    buf_str(
        &b,
        "SELECT r.id, to_json(r.received_at) #>> '{}', r.category, r.status, r.outcome,"
        " (SELECT d.name FROM divisions d WHERE d.code = r.county_code),"
        " (SELECT d.name FROM divisions d WHERE d.code = r.town_code),"
        " (SELECT d.name FROM divisions d WHERE d.code = r.community_code),"
        " (SELECT s.name FROM stations s WHERE s.id = r.station_id), r.tier, r.people_count, " REPORT_ACKNOWLEDGED_AT
        ", " REPORT_DISPATCHED_AT ", " REPORT_ON_SCENE_AT ", " REPORT_RESOLVED_AT
        " FROM reports r WHERE r.received_at >= $1::date::timestamptz"
        " AND r.received_at < $2::date::timestamptz");
    stats_sql_division(
        &b, q, "coalesce(r.community_code, r.town_code, r.county_code, r.city_code)::bigint");
    buf_printf(&b, " ORDER BY r.received_at, r.id LIMIT %d", EXPORT_MAX);
    PGresult *res = b.oom ? NULL : db_exec_read_dynamic(w, b.p, p.n, p.v);
    buf_free(&b);
    return res;
}

static void list_sheet(xbook *x, const char *title, PGresult *res) {
    const char *h[NLIST];
    for (int i = 0; i < NLIST; i++)
        h[i] = list_head(&LIST_COLS[i]);
    lxw_worksheet *ws = sheet(x, "xlsx_reports", title, h, NLIST);
    if (!ws) return;
    worksheet_set_column(ws, 1, 1, 20, NULL);
    worksheet_set_column(ws, 11, 14, 20, NULL);
    static const vocab *const coded[NLIST] = {
        [2] = &VOCAB_CATEGORY, [3] = &VOCAB_REPORT_STATUS, [4] = &VOCAB_OUTCOME, [9] = &VOCAB_TIER};
    for (int i = 0; i < PQntuples(res); i++) {
        lxw_row_t row = (lxw_row_t)i + 2;
        for (int c = 0; c < NLIST; c++) {
            const char *v = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
            if (!v) continue;
            if (c == 0 || c == 10)
                worksheet_write_number(ws, row, (lxw_col_t)c, atof(v), x->num);
            else if (c == 1 || c >= 11)
                put_time(x, ws, (int)row, c, v);
            else
                worksheet_write_string(
                    ws, row, (lxw_col_t)c,
                    coded[c] && vocab_label(coded[c], v) ? vocab_label(coded[c], v) : v, NULL);
        }
    }
}

/* ---- the request ---- */

/* The month's figures and list, read with the slot. */
typedef struct month {
    stats_query q;
    json_t *county, *tier;
    PGresult *list;
    char path[256];
    int written; /* write_book's result: 0 written */
} month;

static void month_free(month *m) {
    json_decref(m->county);
    json_decref(m->tier);
    PQclear(m->list);
    if (*m->path) unlink(m->path);
}

/* Figures by county (with patrols and coverage) and by tier, the list, its audit row. 0 or the
 * status sent. */
static int read_month(http_req *r, month *m) {
    int rc = stats_query_read(r, &m->q);
    if (rc) return rc;
    stats_query qc = m->q, qt = m->q;
    qc.by = SB_COUNTY, qt.by = SB_TIER;
    qc.min_reports = qt.min_reports = 1; /* a report lists every county */
    if (!(m->county = stats_figures(r, &qc, 1, &rc)) || !(m->tier = stats_figures(r, &qt, 0, &rc)))
        return rc;
    if (!(m->list = read_list(r->w, &m->q))) return http_db_error(r);
    size_t n = (size_t)PQntuples(m->list);
    long long *ids = malloc(sizeof *ids * (n ? n : 1));
    if (!ids) return http_error(r, 500, "internal", NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        ids[i] = strtoll(PQgetvalue(m->list, (int)i, 0), NULL, 10);
    rc = audit_read(r, AA_EXPORT_XLSX, ids, n);
    free(ids);
    return rc ? http_db_error(r) : 0;
}

/* Writes the workbook of m to m->path (a thread of its own: libxlsxwriter and zlib get a whole
 * stack, not a worker thread's 100 KiB). */
static void *write_book(void *arg) {
    month *m = arg;
    lxw_workbook_options o = {.constant_memory = 0, .tmpdir = NULL, .use_zip64 = 0};
    xbook x = {.wb = workbook_new_opt(m->path, &o)};
    m->written = -1;
    if (!x.wb) return NULL;
    formats(&x);
    char title[320];
    snprintf(title, sizeof title, "%s %.7s %s", m->q.name, m->q.from, term("xlsx_title"));
    summary_sheet(&x, title, m->county);
    times_sheet(&x, title, m->county, m->tier);
    outcomes_sheet(&x, title, m->county);
    escalations_sheet(&x, title, m->county);
    patrols_sheet(&x, title, m->county);
    list_sheet(&x, title, m->list);
    m->written = workbook_close(x.wb) == LXW_NO_ERROR ? 0 : -1;
    return NULL;
}

static int run_writer(month *m) {
    pthread_attr_t a;
    pthread_t t;
    if (pthread_attr_init(&a) != 0) return -1;
    pthread_attr_setstacksize(&a, 4u << 20);
    int rc = pthread_create(&t, &a, write_book, m);
    pthread_attr_destroy(&a);
    if (rc != 0) return -1;
    pthread_join(t, NULL);
    return m->written;
}

#define XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

/* Sends the file at path in chunks of 64 KiB (no slot: it went back before). */
static int send_file(http_req *r, const month *m) {
    FILE *f = fopen(m->path, "rb");
    char *chunk = malloc(65536), disp[160];
    if (!f || !chunk) {
        if (f) fclose(f);
        free(chunk);
        return http_error(r, 500, "internal", NULL, "the report could not be read back");
    }
    snprintf(disp, sizeof disp,
             "Content-Disposition: attachment; filename=\"monthly-%s-%.7s.xlsx\"\r\n", m->q.code12,
             m->q.from);
    int ok = http_begin_chunked(r, 200, XLSX_TYPE, disp) == 0 && strcmp(r->method, "HEAD") != 0;
    size_t n;
    while (ok && (n = fread(chunk, 1, 65536, f)) > 0)
        if (mg_send_chunk(r->conn, chunk, (unsigned)n) < 0) {
            mg_disable_connection_keep_alive(r->conn); /* gone: no pipelined request after */
            ok = 0;
        }
    if (ok) mg_send_chunk(r->conn, "", 0);
    fclose(f);
    free(chunk);
    return 200;
}

/* GET /api/v1/stats/monthly.xlsx?division=&month= (supervisors, admins) */
int h_stats_monthly(http_req *r) {
    month m;
    memset(&m, 0, sizeof m);
    int rc = read_month(r, &m);
    if (rc) goto done;
    http_release_worker(r); /* read and audited: write and send without a slot */
    const char *dir = getenv("TMPDIR");
    snprintf(m.path, sizeof m.path, "%s/patrold-monthly-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(m.path);
    if (fd < 0) {
        *m.path = 0;
        rc = http_error(r, 500, "internal", NULL, "no temporary file: %s", strerror(errno));
        goto done;
    }
    close(fd);
    rc = run_writer(&m) == 0 ? send_file(r, &m)
                             : http_error(r, 500, "internal", NULL, "the workbook failed");
done:
    month_free(&m);
    return rc;
}
