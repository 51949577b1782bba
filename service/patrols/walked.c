/* walked.c - what a joint patrol plan's units walked, from their stored fixes (unit_positions):
 * GET /api/v1/patrol-plans/{id}/walked?from=&to=. Per window of the plan (patrol_windows, 0018),
 * per target: the visits (gis/visits.h: a maximal period in which at least one unit of the plan is
 * inside, gaps under 2 minutes bridged, within the target's time of day; its units and agency
 * kinds those inside during it; it counts when its dwell reaches min_dwell_min and each required
 * agency kind was inside for at least half of it), the time any unit was inside, and the group's
 * active time and distance counted once. A window is done when every target has a visit that
 * counts, partly when some unit was inside a target, missed otherwise; the range is done when
 * every window is, missed when none was walked, partly otherwise.
 *
 * Tracks cross areas through the one engine (gis/areas.h, gis/track.h, gis/visits.h), in
 * CGCS2000 Gauss-Kruger metres; PostGIS only projects the targets and the fixes it reads. The work
 * is bounded: 31 days, WALKED_MAX_WINDOWS windows, WALKED_MAX_CELLS targets times windows,
 * coverage_max_fixes fixes (413 beyond); each target's periods and spans are its own ranges. */
#include "service/patrols/walked.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/areas.h"
#include "gis/err.h"
#include "gis/transform.h"
#include "gis/visits.h"
#include "service/admin/admin.h"
#include "service/core/db.h"
#include "service/core/tz.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/patrols/plans.h"
#include "service/units/coverage.h"

enum {
    WALKED_MAX_DAYS = 31,
    WALKED_MAX_WINDOWS = 500,
    WALKED_MAX_CELLS = 20000, /* targets times windows of one answer */
    WALKED_BRIDGE_S = 120,    /* gaps shorter than this inside a visit are bridged */
    WALKED_TOGETHER_M = 50,   /* a unit this near another at the same moment walks with it */
};

typedef struct period {
    size_t target; /* index into targets */
    double patrol, t0, t1;
} period;

typedef struct target {
    long long id;
    const char *name;     /* NULL: none */
    double dwell_s;       /* min_dwell_min in seconds */
    unsigned long agency; /* bit k: agency kind k must be inside */
    long area;            /* index in the set */
    size_t p0, p1;        /* its periods: periods[p0 .. p1) */
    size_t s0, s1;        /* its units' spans: spans[s0 .. s1) (after find_spans) */
} target;

typedef struct area_span {
    long area;
    gis_span s;
} area_span;

typedef struct walk {
    PGresult *tq, *pq, *uq, *fq; /* targets, periods, units, fixes */
    gis_areas *areas;
    target *targets;
    size_t nt, nu, np;
    period *periods;
    unsigned long *unit_agency; /* per unit: bit of its agency kind (0: none) */
    gis_fix *fixes;
    size_t *first, *count; /* per unit: its fixes */
    area_span *spans; /* every unit's periods inside every target's area (who = unit), by area */
    size_t nspans, cap;
} walk;

static void walk_free(walk *k) {
    PQclear(k->tq), PQclear(k->pq), PQclear(k->uq), PQclear(k->fq);
    gis_areas_destroy(k->areas);
    free(k->targets), free(k->periods), free(k->unit_agency), free(k->fixes);
    free(k->first), free(k->count), free(k->spans);
}

static json_t *time_json(double t) {
    char buf[TZ_RFC3339_LEN];
    tz_rfc3339((time_t)floor(t), buf);
    return json_string(buf);
}

/* v rounded to `digits` decimals. */
static json_t *num_json(double v, int digits) {
    double f = pow(10, digits);
    return json_real(round(v * f) / f);
}

/* ---- reading ---- */

/* hex (2 * n digits) into out (n bytes). */
static void unhex(const char *hex, unsigned char *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* The plan's targets (id, name, dwell, agency kinds, area in GK metres) into k->targets and
 * k->areas. 0, -1 (w->err), or -2 (out of memory or an area refused: err). */
static int read_targets(worker *w, walk *k, const char *pid, char es[16], char *err,
                        size_t errlen) {
    const char *p1[] = {pid};
    PGresult *c = db_exec_read(w,
                               "SELECT ST_X(ST_Centroid(ST_Collect(geom))) FROM patrol_targets"
                               " WHERE plan_id = $1::bigint AND retired_at IS NULL",
                               1, p1);
    if (!c) return -1;
    int epsg = PQgetisnull(c, 0, 0) ? -1 : gis_gk_epsg_for_lon(atof(PQgetvalue(c, 0, 0)));
    PQclear(c);
    snprintf(es, 16, "%d", epsg < 0 ? 4549 : epsg);
    const char *p2[] = {pid, es};
    if (!(k->tq = db_exec_read(w,
                               "SELECT id::text, name, min_dwell_min, array_to_string(agencies,"
                               " ','), encode(ST_AsBinary(ST_Transform(geom, $2::int)), 'hex')"
                               " FROM patrol_targets WHERE plan_id = $1::bigint AND retired_at IS"
                               " NULL ORDER BY id",
                               2, p2)))
        return -1;
    k->nt = (size_t)PQntuples(k->tq);
    gis_areas_builder *b = gis_areas_builder_create(
        atoi(es), fmax(w->app->cfg.coverage_cell_m, 1.0),
        (size_t)(w->app->cfg.coverage_max_cells > 64 ? w->app->cfg.coverage_max_cells : 64), err,
        errlen);
    k->targets = calloc(k->nt ? k->nt : 1, sizeof *k->targets);
    if (!b || !k->targets) return gis_areas_builder_destroy(b), -2;
    for (size_t i = 0; i < k->nt; i++) {
        target *t = &k->targets[i];
        int row = (int)i, len = PQgetlength(k->tq, row, 4) / 2;
        unsigned char *wkb = malloc((size_t)(len ? len : 1));
        if (!wkb) return gis_areas_builder_destroy(b), -2;
        unhex(PQgetvalue(k->tq, row, 4), wkb, (size_t)len);
        int rc = gis_areas_add_wkb(b, PQgetvalue(k->tq, row, 0), wkb, (size_t)len, err, errlen);
        free(wkb);
        if (rc != 0) return gis_areas_builder_destroy(b), -2;
        t->id = strtoll(PQgetvalue(k->tq, row, 0), NULL, 10);
        t->name = admin_val(k->tq, row, 1);
        t->dwell_s = atof(PQgetvalue(k->tq, row, 2)) * 60;
        char list[512], *save = NULL;
        snprintf(list, sizeof list, "%s", PQgetvalue(k->tq, row, 3));
        for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
            long a = vocab_find(&VOCAB_AGENCY_KIND, s);
            if (a >= 0) t->agency |= 1ul << a;
        }
    }
    if (!(k->areas = gis_areas_finish(b, err, errlen))) return -2;
    for (size_t i = 0; i < k->nt; i++)
        k->targets[i].area = gis_areas_find(k->areas, PQgetvalue(k->tq, (int)i, 0));
    return 0;
}

/* The targets' periods in [from, to) (patrol_target_windows), the plan's units with their agency
 * kinds, and their fixes (WGS-84, unflagged, by unit and time) with a gap's margin each side.
 * 0, -1 (w->err), or -3 (more than coverage_max_fixes fixes). */
static int read_rest(worker *w, walk *k, const char *pid, const char *from, const char *to) {
    const char *p3[] = {pid, from, to};
    if (!(k->pq = db_exec_read(
              w,
              "SELECT t.id::text, extract(epoch FROM w.patrol)::float8,"
              " extract(epoch FROM w.starts_at)::float8, extract(epoch FROM"
              " w.ends_at)::float8 FROM patrol_targets t, patrol_target_windows(t.id,"
              " to_timestamp($2::float8), to_timestamp($3::float8)) w WHERE t.plan_id = $1::bigint"
              " AND t.retired_at IS NULL ORDER BY t.id, w.starts_at",
              3, p3)) ||
        !(k->uq = db_exec_read(w,
                               "SELECT pu.unit_id, coalesce(a.kind, '') FROM patrol_plan_units pu"
                               " JOIN units u ON u.id = pu.unit_id LEFT JOIN agencies a ON a.id ="
                               " u.agency_id WHERE pu.plan_id = $1::bigint ORDER BY pu.unit_id",
                               1, p3)))
        return -1;
    char lim[24], gap[24];
    snprintf(lim, sizeof lim, "%d", w->app->cfg.coverage_max_fixes + 1);
    snprintf(gap, sizeof gap, "%.0f", COVERAGE_GAP_S);
    const char *p4[] = {pid, from, to, lim, gap};
    if (!(k->fq = db_exec_read(
              w,
              "SELECT unit_id, extract(epoch FROM at)::float8, ST_X(geom), ST_Y(geom) FROM"
              " unit_positions WHERE unit_id IN (SELECT unit_id FROM patrol_plan_units WHERE"
              " plan_id = $1::bigint) AND at >= to_timestamp($2::float8 - $5::int) AND at <"
              " to_timestamp($3::float8 + $5::int) AND NOT flagged ORDER BY unit_id, at LIMIT"
              " $4::int",
              5, p4)))
        return -1;
    return PQntuples(k->fq) > w->app->cfg.coverage_max_fixes ? -3 : 0;
}

/* Arrays from the results: periods (by target index), units' agency bits, fixes (projected to
 * EPSG epsg in C: no PostGIS per fix) and where each unit's run of them starts. 0 or -1 (out of
 * memory, or a fix PROJ refuses: err). */
static int load_arrays(walk *k, gis_proj *proj, int epsg, char *err, size_t errlen) {
    int np = PQntuples(k->pq), nf = PQntuples(k->fq);
    k->nu = (size_t)PQntuples(k->uq);
    k->periods = malloc(sizeof *k->periods * (size_t)(np ? np : 1));
    k->unit_agency = calloc(k->nu ? k->nu : 1, sizeof *k->unit_agency);
    k->fixes = malloc(sizeof *k->fixes * (size_t)(nf ? nf : 1));
    k->first = calloc(k->nu ? k->nu : 1, sizeof *k->first);
    k->count = calloc(k->nu ? k->nu : 1, sizeof *k->count);
    if (!k->periods || !k->unit_agency || !k->fixes || !k->first || !k->count) return -1;
    for (int i = 0; i < np; i++) {
        long long tid = strtoll(PQgetvalue(k->pq, i, 0), NULL, 10);
        size_t t = 0;
        while (t < k->nt && k->targets[t].id != tid)
            t++; /* both by id */
        if (t < k->nt && k->targets[t].p1 == 0) k->targets[t].p0 = k->np;
        if (t < k->nt) k->targets[t].p1 = k->np + 1;
        k->periods[k->np++] =
            (period){t, atof(PQgetvalue(k->pq, i, 1)), atof(PQgetvalue(k->pq, i, 2)),
                     atof(PQgetvalue(k->pq, i, 3))};
    }
    for (size_t u = 0; u < k->nu; u++) {
        long a = vocab_find(&VOCAB_AGENCY_KIND, PQgetvalue(k->uq, (int)u, 1));
        k->unit_agency[u] = a >= 0 ? 1ul << a : 0;
    }
    for (int i = 0, u = 0; i < nf; i++) {
        const char *id = PQgetvalue(k->fq, i, 0);
        while ((size_t)u < k->nu && strcmp(PQgetvalue(k->uq, u, 0), id) != 0)
            u++;
        if ((size_t)u == k->nu) break; /* both by unit id */
        if (!k->count[u]) k->first[u] = (size_t)i;
        k->count[u]++;
        gis_fix *f = &k->fixes[i];
        f->t = atof(PQgetvalue(k->fq, i, 1));
        if (gis_proj_to_gk(proj, epsg, atof(PQgetvalue(k->fq, i, 2)), atof(PQgetvalue(k->fq, i, 3)),
                           &f->x, &f->y, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* ---- spans and visits ---- */

typedef struct span_ctx {
    walk *k;
    int who;
} span_ctx;

static int add_span(void *ud, size_t area, double t0, double t1) {
    span_ctx *c = ud;
    walk *k = c->k;
    if (k->nspans == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 256;
        area_span *s = realloc(k->spans, cap * sizeof *s);
        if (!s) return -1;
        k->spans = s, k->cap = cap;
    }
    k->spans[k->nspans++] = (area_span){(long)area, {t0, t1, c->who}};
    return 0;
}

static int by_area(const void *a, const void *b) {
    long x = ((const area_span *)a)->area, y = ((const area_span *)b)->area;
    return (x > y) - (x < y);
}

/* Every unit's periods inside every target, by area, and each target's range of them. 0 or -1
 * (out of memory). */
static int find_spans(walk *k) {
    for (size_t u = 0; u < k->nu; u++) {
        span_ctx c = {k, (int)u};
        if (k->count[u] && gis_track_spans(k->areas, NULL, k->fixes + k->first[u], k->count[u],
                                           COVERAGE_GAP_S, COVERAGE_GAP_M, add_span, &c) != 0)
            return -1;
    }
    gis_sort(k->spans, k->nspans, sizeof *k->spans, by_area);
    for (size_t t = 0, i = 0; t < k->nt; t++) {
        while (i < k->nspans && k->spans[i].area < k->targets[t].area)
            i++;
        k->targets[t].s0 = i;
        while (i < k->nspans && k->spans[i].area == k->targets[t].area)
            i++;
        k->targets[t].s1 = i;
    }
    return 0;
}

/* The spans of target t in its periods of the window starting at ws, cut to them, into out (room
 * for its spans times those periods). Returns their number. */
static size_t clip_spans(const walk *k, size_t t, double ws, gis_span *out) {
    const target *tg = &k->targets[t];
    size_t n = 0;
    for (size_t p = tg->p0; p < tg->p1; p++) {
        const period *pr = &k->periods[p];
        if (pr->patrol != ws) continue;
        for (size_t i = tg->s0; i < tg->s1; i++) {
            const gis_span *sp = &k->spans[i].s;
            double a = fmax(sp->t0, pr->t0), b = fmin(sp->t1, pr->t1);
            if (b > a || (b == a && sp->t0 >= pr->t0 && sp->t0 <= pr->t1))
                out[n++] = (gis_span){a, b, sp->who};
        }
    }
    return n;
}

/* One visit as the API shows it; *counted says whether it counts for target t. NULL: no memory. */
static json_t *visit_json(const walk *k, const target *t, const gis_span *s, const gis_visit *v,
                          unsigned char *member, int *counted) {
    json_t *units = json_array(), *kinds = json_array();
    unsigned long present = 0, missing = 0;
    double dwell = v->t1 - v->t0;
    memset(member, 0, k->nu);
    for (size_t i = v->first; i < v->first + v->count; i++)
        member[s[i].who] = 1;
    for (size_t u = 0; u < k->nu; u++)
        if (member[u]) {
            json_array_append_new(units, json_integer(atoll(PQgetvalue(k->uq, (int)u, 0))));
            present |= k->unit_agency[u];
        }
    for (size_t a = 0; a < VOCAB_AGENCY_KIND.n; a++) {
        if (present & (1ul << a))
            json_array_append_new(kinds, json_string(vocab_code(&VOCAB_AGENCY_KIND, a)));
        if (!(t->agency & (1ul << a))) continue;
        for (size_t u = 0; u < k->nu; u++)
            member[u] = (k->unit_agency[u] & (1ul << a)) != 0;
        if (gis_spans_union(s + v->first, v->count, member) * 2 < dwell) missing |= 1ul << a;
    }
    *counted = dwell >= t->dwell_s && !missing;
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:b}", "from", time_json(v->t0), "to", time_json(v->t1),
                     "dwell_min", num_json(dwell / 60, 1), "unit_ids", units, "agencies", kinds,
                     "counted", *counted);
}

/* Target t in the window starting at ws as the API shows it; *verified its visits that count,
 * *walked 1 when a unit was inside. NULL: no memory. */
static json_t *target_json(const walk *k, size_t t, double ws, int *verified, int *walked) {
    const target *tg = &k->targets[t];
    size_t per = 0;
    for (size_t p = tg->p0; p < tg->p1; p++)
        per += k->periods[p].patrol == ws;
    size_t room = (tg->s1 - tg->s0) * per + 1;
    gis_span *s = malloc(room * sizeof *s);
    gis_visit *v = malloc(room * sizeof *v);
    unsigned char *member = malloc(k->nu + 1);
    json_t *visits = json_array(), *out = NULL;
    if (s && v && member && visits) {
        size_t n = clip_spans(k, t, ws, s), nv = gis_visits_join(s, n, WALKED_BRIDGE_S, v);
        *verified = 0, *walked = n > 0;
        for (size_t i = 0; i < nv; i++) {
            int counted;
            json_array_append_new(visits, visit_json(k, tg, s, &v[i], member, &counted));
            *verified += counted;
        }
        out = json_pack("{s:I,s:s?,s:I,s:o,s:i,s:O}", "target_id", (json_int_t)tg->id, "name",
                        tg->name, "min_dwell_min", (json_int_t)(tg->dwell_s / 60), "inside_min",
                        num_json(gis_spans_union(s, n, NULL) / 60, 1), "verified", *verified,
                        "visits", visits);
    }
    json_decref(visits);
    free(s), free(v), free(member);
    return out;
}

/* The window [ws, we) as the API shows it; its state (WS_*) into *state. NULL: no memory. */
static json_t *window_json(const walk *k, double ws, double we, int *state) {
    const gis_fix **tracks = malloc((k->nu + 1) * sizeof *tracks);
    json_t *units = json_array(), *targets = json_array();
    gis_group_out g = {0, 0};
    long fixes = 0;
    int done = k->nt > 0, walked = 0, ok = tracks && units && targets;
    for (size_t u = 0; ok && u < k->nu; u++) {
        tracks[u] = k->fixes + k->first[u];
        long in = 0;
        for (size_t i = 0; i < k->count[u]; i++)
            in += tracks[u][i].t >= ws && tracks[u][i].t < we;
        if (in) json_array_append_new(units, json_integer(atoll(PQgetvalue(k->uq, (int)u, 0))));
        fixes += in;
    }
    if (ok && gis_group_measure(tracks, k->count, k->nu, ws, we, COVERAGE_GAP_S, COVERAGE_GAP_M,
                                WALKED_TOGETHER_M, &g) != 0)
        ok = 0;
    for (size_t t = 0; ok && t < k->nt; t++) {
        int verified = 0, inside = 0;
        json_t *tj = target_json(k, t, ws, &verified, &inside);
        if (!tj) ok = 0;
        json_array_append_new(targets, tj);
        done &= verified > 0, walked |= inside;
    }
    free(tracks);
    *state = done ? WS_DONE : walked ? WS_PARTLY : WS_MISSED;
    if (!ok) return json_decref(units), json_decref(targets), NULL;
    return json_pack("{s:o,s:o,s:s,s:o,s:o,s:o,s:I,s:o}", "starts_at", time_json(ws), "ends_at",
                     time_json(we), "status", vocab_code(&VOCAB_WALKED_STATUS, (size_t)*state),
                     "unit_ids", units, "active_min", num_json(g.active_s / 60, 1), "km",
                     num_json(g.metres / 1000, 3), "fixes", (json_int_t)fixes, "targets", targets);
}

/* The reply: every window of the plan in [from, to) (k->pq's patrols, with those of no target
 * from patrol_windows). NULL: no memory. */
static json_t *walked_json(http_req *r, walk *k, long long id, PGresult *wq, double from,
                           double to) {
    json_t *windows = json_array();
    int n = PQntuples(wq), all_done = n > 0, any = 0;
    for (int i = 0; windows && i < n; i++) {
        int state;
        json_t *w = window_json(k, atof(PQgetvalue(wq, i, 0)), atof(PQgetvalue(wq, i, 1)), &state);
        if (!w) return json_decref(windows), NULL;
        json_array_append_new(windows, w);
        all_done &= state == WS_DONE, any |= state != WS_MISSED;
    }
    (void)r;
    int state = all_done ? WS_DONE : any ? WS_PARTLY : WS_MISSED;
    return json_pack("{s:I,s:o,s:o,s:s,s:o}", "plan_id", (json_int_t)id, "from", time_json(from),
                     "to", time_json(to), "status", vocab_code(&VOCAB_WALKED_STATUS, (size_t)state),
                     "windows", windows);
}

/* from .. to of the request (to default now, from default 7 days before), at most
 * WALKED_MAX_DAYS apart, as text for SQL. 0 or the 400 sent. */
static int walked_range(http_req *r, double *from, double *to, char f[32], char t[32]) {
    const http_qval *qf = http_q(r, "from"), *qt = http_q(r, "to");
    *to = qt->given ? qt->d : (double)time(NULL);
    *from = qf->given ? qf->d : *to - 7 * 86400.0;
    if (*to <= *from) return http_error(r, 400, "invalid_field", "to", "to must be after from");
    if (*to - *from > WALKED_MAX_DAYS * 86400.0)
        return http_error(r, 400, "invalid_field", "to", "at most %d days from from",
                          WALKED_MAX_DAYS);
    snprintf(f, 32, "%.6f", *from), snprintf(t, 32, "%.6f", *to);
    return 0;
}

/* GET /api/v1/patrol-plans/{id}/walked?from=&to= */
int h_plans_walked(http_req *r) {
    long long id;
    json_t *plan = NULL;
    double from, to;
    char ft[32], tt[32], pid[24], err[256] = "", es[16];
    walk k = {0};
    int rc = param_path_id(r, 0, "patrol plan", &id);
    if (rc || (rc = walked_range(r, &from, &to, ft, tt))) return rc;
    int found = plans_visible(r, id, 0, &plan);
    json_decref(plan);
    if (found <= 0) return found < 0 ? http_db_error(r) : 404;
    admin_id(id, pid);
    char lim[16];
    snprintf(lim, sizeof lim, "%d", WALKED_MAX_WINDOWS + 1);
    const char *pw[] = {pid, ft, tt, lim};
    PGresult *wq = db_exec_read(r->w,
                                "SELECT extract(epoch FROM starts_at)::float8, extract(epoch FROM"
                                " ends_at)::float8 FROM patrol_windows($1::bigint,"
                                " to_timestamp($2::float8), to_timestamp($3::float8)) ORDER BY 1"
                                " LIMIT $4::int",
                                4, pw);
    if (!wq) return http_db_error(r);
    if (PQntuples(wq) > WALKED_MAX_WINDOWS) {
        PQclear(wq);
        return http_error(r, 413, "too_many_items", "from",
                          "more than %d windows in the period: ask for a shorter one",
                          WALKED_MAX_WINDOWS);
    }
    rc = read_targets(r->w, &k, pid, es, err, sizeof err);
    if (!rc && k.nt * (size_t)PQntuples(wq) > WALKED_MAX_CELLS)
        rc = http_error(r, 413, "too_many_items", "from",
                        "%zu targets in %d windows: ask for a shorter period", k.nt, PQntuples(wq));
    if (!rc && (rc = read_rest(r->w, &k, pid, ft, tt)) == -3)
        rc = http_error(r, 413, "too_many_items", "from",
                        "more than %d fixes in the period: ask for a shorter one",
                        r->app->cfg.coverage_max_fixes);
    if (!rc) rc = load_arrays(&k, r->w->proj, atoi(es), err, sizeof err) || find_spans(&k) ? -2 : 0;
    json_t *out = rc ? NULL : walked_json(r, &k, id, wq, from, to);
    PQclear(wq);
    walk_free(&k);
    if (rc == -1) return http_db_error(r);
    if (rc == -2 || (!rc && !out))
        return http_error(r, 500, "internal", NULL, "%s", *err ? err : "out of memory");
    return rc ? rc : http_json(r, 200, out);
}

json_t *walked_window(worker *w, const char *pid, double ws, double we, char *err, size_t errlen) {
    walk k = {0};
    char es[16], ft[32], tt[32];
    json_t *out = NULL;
    int state;
    snprintf(ft, sizeof ft, "%.6f", ws), snprintf(tt, sizeof tt, "%.6f", we);
    *err = 0;
    int rc = read_targets(w, &k, pid, es, err, errlen);
    if (!rc) rc = read_rest(w, &k, pid, ft, tt);
    if (!rc && !(rc = load_arrays(&k, w->proj, atoi(es), err, errlen) || find_spans(&k) ? -2 : 0))
        out = window_json(&k, ws, we, &state);
    walk_free(&k);
    if (rc == -1) snprintf(err, errlen, "%s", w->err);
    if (rc == -3) snprintf(err, errlen, "more than %d fixes", w->app->cfg.coverage_max_fixes);
    if (!out && !*err) snprintf(err, errlen, "out of memory");
    return out;
}
