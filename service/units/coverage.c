/* coverage.c - patrol coverage per community: the last time a unit was inside it and the share of
 * its area within 100 m of a patrol track since a time. Kept as fixes arrive, never recomputed
 * from every fix: each community has a grid of ~20 m cells in CGCS2000 Gauss-Kruger metres
 * (gis/areas.h); the positions request paints its steps onto the grids it touches and stores one
 * coverage_delta row per (community, UTC day) with the fixes (migration 0009); this file's thread
 * merges deltas into coverage_days. A period is the OR of its whole days (bit_or in PostgreSQL,
 * under statement_timeout) plus, for a `since` inside a day, that day's fixes after `since`
 * painted again (at most coverage_max_fixes of them, and as many as the memory budget leaves
 * room for; past that the whole day counts and `since` says so). The slot is given back before the C work; the answer's memory is bounded by
 * coverage_max_mb and the period by coverage_max_days.
 *
 * Threads: the area set is built by the coverage thread and published with a reference count;
 * readers share it (it is immutable and needs no GEOS). A painter belongs to one thread. */
#include "service/units/coverage.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gis/transform.h"
#include "service/core/db.h"
#include "service/core/server.h"
#include "service/core/tz.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"

/* REPAINT_UNITS: units read at once by the repaint; FIX_BYTES: memory of one fix painted again by
 * a request (its row in the result and its gis_fix). */
enum { REPAINT_UNITS = 64, COMPACT_BATCH = 500, FIX_BYTES = 128 };

/* ---- the published area set ---- */

/* Published sets, the current one first; an older one stays until its last holder lets go. */
typedef struct pub {
    gis_areas *s;
    int refs; /* holders (coverage_acquire) */
    struct pub *next;
} pub;

static pthread_mutex_t set_mu = PTHREAD_MUTEX_INITIALIZER;
static pub *pubs;

const gis_areas *coverage_acquire(void) {
    pthread_mutex_lock(&set_mu);
    gis_areas *s = pubs ? pubs->s : NULL;
    if (pubs) pubs->refs++;
    pthread_mutex_unlock(&set_mu);
    return s;
}

/* Unlinks and frees the sets other than the current one that nobody holds. Caller holds set_mu. */
static pub *unlink_idle(void) {
    pub *dead = NULL;
    for (pub **pp = pubs ? &pubs->next : &pubs; *pp;) {
        pub *p = *pp;
        if (p->refs == 0) {
            *pp = p->next;
            p->next = dead, dead = p;
        } else {
            pp = &p->next;
        }
    }
    return dead;
}

static void free_pubs(pub *dead) {
    while (dead) {
        pub *next = dead->next;
        gis_areas_destroy(dead->s);
        free(dead);
        dead = next;
    }
}

void coverage_release(const gis_areas *s) {
    if (!s) return;
    pthread_mutex_lock(&set_mu);
    for (pub *p = pubs; p; p = p->next)
        if (p->s == s) {
            p->refs--;
            break;
        }
    pub *dead = unlink_idle();
    pthread_mutex_unlock(&set_mu);
    free_pubs(dead);
}

/* Publishes s (taken); the previous set is freed when its last holder lets go. Returns 0 or -1
 * (out of memory: s freed). */
static int publish(gis_areas *s) {
    pub *p = calloc(1, sizeof *p);
    if (!p) {
        gis_areas_destroy(s);
        return -1;
    }
    p->s = s;
    pthread_mutex_lock(&set_mu);
    p->next = pubs, pubs = p;
    pub *dead = unlink_idle();
    pthread_mutex_unlock(&set_mu);
    free_pubs(dead);
    return 0;
}

/* ---- the painter: (area, day) bitmaps of tracks ---- */

typedef struct acc {
    size_t area;
    long day; /* days since 1970-01-01 (UTC); -1: free slot */
    unsigned char *bits;
    double last_at; /* NAN when no counted fix inside */
    int fixes;
} acc;

typedef struct painter {
    const gis_areas *s;
    const unsigned char *allowed; /* per area: 1 paint it; NULL: every area */
    long one_day;                 /* >= 0: every step and fix goes to this day */
    acc *v;                       /* open addressing on (area, day); cap a power of two */
    size_t cap, n, bytes;
    size_t max_bytes; /* 0: no bound; else past it painting stops with `full` set */
    int oom, full;
} painter;

static void painter_init(painter *p, const gis_areas *s, const unsigned char *allowed,
                         long one_day) {
    memset(p, 0, sizeof *p);
    p->s = s, p->allowed = allowed, p->one_day = one_day;
}

static void painter_clear(painter *p) {
    for (size_t i = 0; i < p->cap; i++)
        free(p->v[i].bits);
    free(p->v);
    p->v = NULL, p->cap = p->n = p->bytes = 0;
}

static size_t slot_of(const painter *p, size_t area, long day) {
    uint64_t h = (uint64_t)area * 0x9E3779B97F4A7C15ull ^ (uint64_t)day * 0xC2B2AE3D27D4EB4Full;
    size_t i = (size_t)(h >> 17) & (p->cap - 1);
    while (p->v[i].day != -1 && (p->v[i].area != area || p->v[i].day != day))
        i = (i + 1) & (p->cap - 1);
    return i;
}

static int painter_grow(painter *p) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    acc *v = malloc(cap * sizeof *v), *old = p->v;
    if (!v) return -1;
    for (size_t i = 0; i < cap; i++)
        v[i].day = -1, v[i].bits = NULL;
    size_t ocap = p->cap;
    p->v = v, p->cap = cap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].day != -1) p->v[slot_of(p, old[i].area, old[i].day)] = old[i];
    free(old);
    return 0;
}

/* The accumulator of (area, day), made when missing; NULL on out of memory (p->oom set). */
static acc *painter_acc(painter *p, size_t area, long day) {
    if (p->one_day >= 0) day = p->one_day;
    if ((p->n + 1) * 2 > p->cap && painter_grow(p) != 0) goto oom;
    acc *a = &p->v[slot_of(p, area, day)];
    if (a->day != -1) return a;
    size_t nb = gis_areas_get(p->s, area)->nbytes;
    if (p->max_bytes && p->bytes + nb > p->max_bytes) {
        p->full = 1;
        return NULL;
    }
    if (!(a->bits = calloc(nb ? nb : 1, 1))) goto oom;
    a->area = area, a->day = day, a->last_at = NAN, a->fixes = 0;
    p->n++, p->bytes += nb;
    return a;
oom:
    p->oom = 1;
    return NULL;
}

typedef struct walk {
    painter *p;
    const gis_fix *v;
    const unsigned char *mark;
    size_t i, j;
    long day;
} walk;

static long day_of(double t) {
    return (long)floor(t / 86400.0);
}

static int paint_area(void *ud, size_t area) {
    walk *w = ud;
    if (w->p->allowed && !w->p->allowed[area]) return 0;
    acc *a = painter_acc(w->p, area, w->day);
    if (!a) return 1;
    const gis_fix *f = &w->v[w->i], *g = &w->v[w->j];
    gis_areas_paint(w->p->s, area, f->x, f->y, g->x, g->y, COVERAGE_BUFFER_M, a->bits);
    return 0;
}

static int paint_step(void *ud, size_t i, size_t j) {
    walk *w = ud;
    if (!((w->mark[i] | w->mark[j]) & COVERAGE_PAINT)) return 0;
    const gis_fix *f = &w->v[i], *g = &w->v[j];
    const double r = COVERAGE_BUFFER_M;
    w->i = i, w->j = j, w->day = day_of(g->t);
    double x0 = f->x < g->x ? f->x : g->x, x1 = f->x < g->x ? g->x : f->x;
    double y0 = f->y < g->y ? f->y : g->y, y1 = f->y < g->y ? g->y : f->y;
    return gis_areas_near(w->p->s, x0 - r, y0 - r, x1 + r, y1 + r, paint_area, w);
}

static int count_fix(void *ud, size_t area) {
    walk *w = ud;
    const gis_fix *f = &w->v[w->i];
    if ((w->p->allowed && !w->p->allowed[area]) || !gis_areas_contains(w->p->s, area, f->x, f->y))
        return 0;
    acc *a = painter_acc(w->p, area, day_of(f->t));
    if (!a) return 1;
    a->fixes++;
    if (isnan(a->last_at) || f->t > a->last_at) a->last_at = f->t;
    return 0;
}

/* Paints track v[0..n) (kept fixes, time order) by mark[]. Returns 0, or -1 out of memory (or
 * past p->max_bytes: p->full). */
static int painter_track(painter *p, const gis_fix *v, const unsigned char *mark, size_t n) {
    walk w = {p, v, mark, 0, 0, 0};
    gis_track_walk(v, n, COVERAGE_GAP_S, COVERAGE_GAP_M, paint_step, &w);
    for (size_t k = 0; k < n && !p->oom && !p->full; k++)
        if (mark[k] & COVERAGE_COUNT) {
            w.i = k;
            gis_areas_near(p->s, v[k].x, v[k].y, v[k].x, v[k].y, count_fix, &w);
        }
    return p->oom || p->full ? -1 : 0;
}

static int flush(worker *w, painter *p);

/* Paints the fixes of q (unit_id, epoch, x, y[, counted]: by unit and time) into p, one track per
 * unit: steps ending at or after `from` painted, those fixes counted when column counted_col (-1:
 * none, every one) says 1. With flush_to, p's rows are stored whenever it holds over 32 MiB.
 * Returns 0, or -1 (out of memory, or the store failed: flush_to->err). */
static int paint_rows(painter *p, PGresult *q, double from, int counted_col, worker *flush_to) {
    int nf = q ? PQntuples(q) : 0, rc = 0;
    gis_fix *v = malloc(sizeof *v * (size_t)(nf ? nf : 1));
    unsigned char *mark = malloc((size_t)(nf ? nf : 1));
    if (!v || !mark) rc = -1;
    for (int i = 0, start = 0; rc == 0 && i <= nf; i++) {
        if (i < nf) {
            v[i].t = atof(PQgetvalue(q, i, 1));
            v[i].x = atof(PQgetvalue(q, i, 2)), v[i].y = atof(PQgetvalue(q, i, 3));
            int counted = counted_col < 0 || atoi(PQgetvalue(q, i, counted_col));
            mark[i] = v[i].t >= from ? COVERAGE_PAINT | (counted ? COVERAGE_COUNT : 0) : 0;
            if (i == start || !strcmp(PQgetvalue(q, i, 0), PQgetvalue(q, i - 1, 0))) continue;
        }
        rc = painter_track(p, v + start, mark + start, (size_t)(i - start));
        if (rc == 0 && flush_to && p->bytes > (32u << 20)) rc = flush(flush_to, p);
        start = i;
    }
    free(v);
    free(mark);
    return rc;
}

static void day_text(long day, char out[16]) {
    time_t t = (time_t)day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static void array_item(buf *b, const char *s, int quote) {
    buf_str(b, b->len > 1 ? (quote ? ",\"" : ",") : (quote ? "\"" : ""));
    buf_str(b, s);
    if (quote) buf_str(b, "\"");
}

/* Appends bytes[0..n) to b as upper-case hex (bit varying's X'...' form). */
static void put_hex(buf *b, const unsigned char *bytes, size_t n) {
    static const char digits[] = "0123456789ABCDEF";
    char chunk[512];
    for (size_t k = 0; k < n;) {
        size_t m = 0;
        for (; k < n && m < sizeof chunk; k++, m += 2)
            chunk[m] = digits[bytes[k] >> 4], chunk[m + 1] = digits[bytes[k] & 15];
        buf_put(b, chunk, m);
    }
}

/* Appends p's accumulators (those with a cell or a fix) to out's arrays. */
static void painter_rows(const painter *p, coverage_rows *out) {
    buf *arr[6] = {&out->code, &out->day, &out->grid, &out->bits, &out->last_at, &out->fixes};
    for (int k = 0; k < 6; k++)
        if (!arr[k]->len) buf_str(arr[k], "{");
    for (size_t i = 0; i < p->cap; i++) {
        const acc *a = &p->v[i];
        if (a->day == -1) continue;
        const gis_area *g = gis_areas_get(p->s, a->area);
        if (!a->fixes && !gis_bits_count(a->bits, g->nbytes)) continue;
        char d[16], num[32];
        day_text(a->day, d);
        array_item(&out->code, g->key, 1), array_item(&out->day, d, 0);
        array_item(&out->grid, g->grid, 1);
        buf_str(&out->bits, out->bits.len > 1 ? ",X" : "X");
        put_hex(&out->bits, a->bits, g->nbytes);
        if (isnan(a->last_at))
            snprintf(num, sizeof num, "NULL");
        else
            snprintf(num, sizeof num, "%.6f", a->last_at);
        array_item(&out->last_at, num, 0);
        snprintf(num, sizeof num, "%d", a->fixes);
        array_item(&out->fixes, num, 0);
        out->n++;
    }
    for (int k = 0; k < 6; k++)
        out->oom |= arr[k]->oom;
}

/* The closing braces of out's arrays (call once, before using them). */
static void rows_close(coverage_rows *out) {
    buf *arr[6] = {&out->code, &out->day, &out->grid, &out->bits, &out->last_at, &out->fixes};
    for (int k = 0; k < 6; k++) {
        if (!arr[k]->len) buf_str(arr[k], "{");
        buf_str(arr[k], "}");
        out->oom |= arr[k]->oom;
    }
}

int coverage_track_rows(const gis_areas *s, const gis_fix *v, const unsigned char *mark, size_t n,
                        size_t max_bytes, coverage_rows *out) {
    painter p;
    painter_init(&p, s, NULL, -1);
    p.max_bytes = max_bytes;
    int rc = painter_track(&p, v, mark, n), full = p.full;
    if (rc == 0) painter_rows(&p, out), rows_close(out);
    painter_clear(&p);
    return full ? -2 : rc == 0 && !out->oom ? 0 : -1;
}

void coverage_rows_free(coverage_rows *r) {
    buf *arr[6] = {&r->code, &r->day, &r->grid, &r->bits, &r->last_at, &r->fixes};
    for (int k = 0; k < 6; k++)
        buf_free(arr[k]);
    r->n = 0;
}

/* Stores out as coverage_delta rows. Returns 0 or -1 (w->err). */
static int rows_store(worker *w, coverage_rows *out) {
    const char *p[] = {out->code.p, out->day.p,     out->grid.p,
                       out->bits.p, out->last_at.p, out->fixes.p};
    if (!out->n) return 0;
    return db_command(w, COVERAGE_DELTA_INSERT("$1", "$2", "$3", "$4", "$5", "$6"), 6, p);
}

/* ---- GET /api/v1/coverage ---- */

/* What one coverage request needs, freed by req_free. */
typedef struct cov_req {
    const gis_areas *s;
    char prefix[13], like[16];
    size_t *sel, nsel;       /* the communities answered: area indices, in code order */
    unsigned char *allowed;  /* per area */
    double since, full_from; /* whole days from full_from; [since, full_from) painted again */
    long max_fixes;          /* the partial day's fixes painted again at most */
    PGresult *names, *fixes, *days;
} cov_req;

static void req_free(cov_req *q) {
    free(q->sel);
    free(q->allowed);
    PQclear(q->names);
    PQclear(q->fixes);
    PQclear(q->days);
    coverage_release(q->s);
}

/* Picks the communities under q->prefix; 0, or the status of the error sent. */
static int req_select(http_req *r, cov_req *q) {
    size_t n = gis_areas_count(q->s), plen = strlen(q->prefix), bytes = 0;
    if (!(q->sel = malloc((n ? n : 1) * sizeof *q->sel)) || !(q->allowed = calloc(n ? n : 1, 1)))
        return http_error(r, 500, "internal", NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const gis_area *a = gis_areas_get(q->s, i);
        if (strncmp(a->key, q->prefix, plen) != 0) continue;
        q->sel[q->nsel++] = i, q->allowed[i] = 1;
        bytes += a->nbytes;
    }
    /* each grid held three times at most: the day rows' bytes (hex), decoded, painted again; what
     * the memory budget leaves pays for the partial day's fixes (about FIX_BYTES each) */
    size_t budget = (size_t)r->app->cfg.coverage_max_mb << 20;
    q->max_fixes = bytes * 3 < budget ? (long)((budget - bytes * 3) / FIX_BYTES) : 0;
    if (q->max_fixes > r->app->cfg.coverage_max_fixes)
        q->max_fixes = r->app->cfg.coverage_max_fixes;
    if (bytes * 3 > budget)
        return http_error(r, 400, "invalid_field", "division",
                          "%zu communities need %zu MiB, more than coverage_max_mb (%d): ask for a"
                          " smaller division",
                          q->nsel, bytes * 3 >> 20, r->app->cfg.coverage_max_mb);
    return 0;
}

/* Reads the names, the fixes of the partial first day (if any, within the work budget) and the
 * merged days. Returns 0, or the status of the error sent. */
static int req_read(http_req *r, cov_req *q) {
    char t0[32], t1[32], lim[24], epsg[16], d0[32], df[32];
    const char *pn[] = {q->like};
    if (!(q->names = db_exec_read(
              r->w,
              "SELECT code::text, name FROM divisions WHERE level = " VOCAB_SQL_TERM(
                  "DivisionLevel",
                  LEVEL_COMMUNITY) ""
                                   " AND kind = " VOCAB_SQL_TERM(
                                       "DivisionKind",
                                       DK_ADMIN) " AND code LIKE $1 AND geom IS NOT NULL"
                                                 " AND valid_to IS NULL ORDER BY code::text COLLATE \"C\"",
              1, pn)))
        return http_db_error(r);
    long budget = q->max_fixes;
    if (q->since < q->full_from) {
        snprintf(t0, sizeof t0, "%.6f", q->since), snprintf(t1, sizeof t1, "%.6f", q->full_from);
        snprintf(lim, sizeof lim, "%ld", budget + 1);
        snprintf(epsg, sizeof epsg, "%d", gis_areas_epsg(q->s));
        const char *pf[] = {t0, t1, q->like, epsg, lim};
        if (!(q->fixes = db_exec_read(
                  r->w,
                  "SELECT unit_id::text, extract(epoch FROM at)::float8, ST_X(p), ST_Y(p) FROM"
                  " (SELECT unit_id, at, ST_Transform(geom, $4::int) p FROM unit_positions"
                  " WHERE at >= to_timestamp($1::float8) AND at < to_timestamp($2::float8)"
                  " AND NOT flagged AND geom && (SELECT ST_Expand(ST_Extent(geom), 0.025)"
                  " FROM divisions WHERE level = " VOCAB_SQL_TERM(
                      "DivisionLevel",
                      LEVEL_COMMUNITY) " AND kind = " VOCAB_SQL_TERM("DivisionKind",
                                                                     DK_ADMIN) " AND code LIKE $3)"
                                                                               " ORDER BY unit_id, at LIMIT $5::int) s",
                  5, pf)))
            return http_db_error(r);
        if (PQntuples(q->fixes) > budget) { /* over the work budget: the whole first day counts */
            PQclear(q->fixes);
            q->fixes = NULL;
            q->since = q->full_from = floor(q->since / 86400) * 86400;
        }
    }
    snprintf(t0, sizeof t0, "%.6f", q->since);
    day_text(day_of(q->since), d0), day_text(day_of(q->full_from), df);
    const char *pd[] = {d0, t0, df, q->like};
    if (!(q->days = db_exec_read(
              r->w,
              "SELECT code, grid, varbit_send(bit_or(bits) FILTER (WHERE day >= $3::date)),"
              " extract(epoch FROM max(last_at) FILTER (WHERE last_at >= to_timestamp($2::float8))),"
              " coalesce(sum(fixes) FILTER (WHERE day >= $3::date), 0)"
              " FROM (SELECT day, code, grid, bits, last_at, fixes FROM coverage_days"
              " WHERE day >= $1::date AND code LIKE $4 UNION ALL SELECT day, code, grid, bits,"
              " last_at, fixes FROM coverage_delta WHERE day >= $1::date AND code LIKE $4) s"
              " GROUP BY code, grid ORDER BY code, grid",
              4, pd)))
        return http_db_error(r);
    return 0;
}

/* ORs into ac the merged days of area a from q->days rows *row.. (ordered by code); adds their
 * fixes to *fixes and their last fix inside to *last (NAN: none). */
static void merge_days(cov_req *q, const gis_area *a, acc *ac, int *row, long *fixes,
                       double *last) {
    int nd = PQntuples(q->days);
    while (*row < nd && strcmp(PQgetvalue(q->days, *row, 0), a->key) < 0)
        (*row)++;
    for (; *row < nd && !strcmp(PQgetvalue(q->days, *row, 0), a->key); (*row)++) {
        int i = *row;
        if (strcmp(PQgetvalue(q->days, i, 1), a->grid) != 0) continue; /* an old grid */
        size_t n = 0;
        unsigned char *raw =
            PQgetisnull(q->days, i, 2) ? NULL : db_unescape_bytea(PQgetvalue(q->days, i, 2), &n);
        if (raw && n == 4 + a->nbytes) /* varbit_send: the bit count, then the bytes */
            for (size_t b = 0; b < a->nbytes; b++)
                ac->bits[b] |= raw[4 + b];
        db_free(raw);
        if (!PQgetisnull(q->days, i, 3)) {
            double t = atof(PQgetvalue(q->days, i, 3));
            if (isnan(*last) || t > *last) *last = t;
        }
        *fixes += atol(PQgetvalue(q->days, i, 4));
    }
}

static json_t *time_json(double t) {
    char buf[TZ_RFC3339_LEN];
    if (isnan(t)) return json_null();
    tz_rfc3339((time_t)t, buf);
    return json_string(buf);
}

/* One item per selected community: the merged days ORed with the partial day's painting. NULL on
 * out of memory. */
static json_t *req_items(cov_req *q, painter *p, long *fixes) {
    json_t *items = json_array();
    int nn = PQntuples(q->names), in = 0, row = 0;
    for (size_t k = 0; items && k < q->nsel; k++) {
        const gis_area *a = gis_areas_get(q->s, q->sel[k]);
        acc *ac = painter_acc(p, q->sel[k], 0);
        double last = NAN;
        if (!ac) {
            json_decref(items);
            return NULL;
        }
        *fixes += ac->fixes;
        merge_days(q, a, ac, &row, fixes, &last);
        while (in < nn && strcmp(PQgetvalue(q->names, in, 0), a->key) < 0)
            in++;
        const char *name = in < nn && !strcmp(PQgetvalue(q->names, in, 0), a->key)
                               ? PQgetvalue(q->names, in, 1)
                               : a->key;
        size_t covered = gis_bits_count_and(ac->bits, a->inside, a->nbytes);
        double share = a->inside_cells ? (double)covered / (double)a->inside_cells : 0;
        json_array_append_new(items, json_pack("{s:s,s:s,s:o,s:f,s:f}", "code", a->key, "name",
                                               name, "last_patrolled_at", time_json(last),
                                               "covered_share", round(share * 10000) / 10000,
                                               "area_m2", round(a->area_m2)));
    }
    return items;
}

/* Reads the door's since and division into q (since, full_from, prefix, like). Returns 0, or the
 * status of the error sent. */
static int req_params(http_req *r, cov_req *q) {
    char code[13];
    int max_days = r->app->cfg.coverage_max_days;
    const http_qval *sq = http_q(r, "since"), *dq = http_q(r, "division");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec;
    q->since = sq->given ? sq->d : now - 86400;
    if (q->since > now || q->since < now - 86400.0 * max_days)
        return http_error(r, 400, "invalid_field", "since",
                          "since must be in the past and within the last %d days", max_days);
    snprintf(code, sizeof code, "%s", dq->given ? dq->s : r->user.division_code);
    if (!auth_in_scope(&r->user, code))
        return http_error(r, 404, "not_found", "division", "no such division: %s", code);
    vocab_code_prefix(code, q->prefix);
    snprintf(q->like, sizeof q->like, "%s%%", q->prefix);
    q->full_from = ceil(q->since / 86400) * 86400;
    return 0;
}

static atomic_int answering; /* coverage requests between their slot and their reply */

/* GET /api/v1/coverage?since=&division= (staff) */
int h_coverage(http_req *r) {
    cov_req q = {0};
    painter p;
    long fixes = 0;
    int rc;
    if ((rc = req_params(r, &q))) return rc;
    if (!(q.s = coverage_acquire()))
        return http_error_retry(r, 503, 2, "starting", NULL, "coverage areas are being loaded");
    /* the slot bounds the reading; this bounds the answers being painted once slots are given
     * back, so coverage never holds more than db_pool times coverage_max_mb */
    if (atomic_fetch_add(&answering, 1) >= r->app->cfg.db_pool) {
        rc = http_error_retry(r, 503, 1, "busy", NULL, "too many coverage answers at once");
        goto done;
    }
    if ((rc = req_select(r, &q)) || (rc = req_read(r, &q))) goto done;
    http_release_worker(r); /* the rest is C: no database slot held for it */
    painter_init(&p, q.s, q.allowed, 0);
    json_t *items =
        paint_rows(&p, q.fixes, -INFINITY, -1, NULL) == 0 ? req_items(&q, &p, &fixes) : NULL;
    painter_clear(&p);
    if (!items) {
        rc = http_error(r, 500, "internal", NULL, "out of memory");
        goto done;
    }
    json_t *o = json_pack("{s:o,s:f,s:f,s:I,s:o}", "since", time_json(q.since), "buffer_m",
                          COVERAGE_BUFFER_M, "cell_m", r->app->cfg.coverage_cell_m, "fixes",
                          (json_int_t)fixes, "items", items);
    rc = http_json(r, 200, o);
done:
    atomic_fetch_sub(&answering, 1);
    req_free(&q);
    return rc;
}

/* ---- the coverage thread: areas, deltas merged, days repainted ---- */

/* Builds the set of communities (GK zone of their middle) from w's database. NULL with err. */
static gis_areas *load_areas(app *a, worker *w, char *err, size_t errlen) {
    PGresult *q = db_exec(
        w,
        "SELECT ST_X(ST_Centroid(ST_Extent(geom))) FROM divisions WHERE level = " VOCAB_SQL_TERM(
            "DivisionLevel",
            LEVEL_COMMUNITY) " AND kind = " VOCAB_SQL_TERM("DivisionKind",
                                                           DK_ADMIN) " AND geom IS NOT NULL AND valid_to IS NULL",
        0, NULL);
    if (!q) {
        snprintf(err, errlen, "%s", w->err);
        return NULL;
    }
    int epsg = PQgetisnull(q, 0, 0) ? -1 : gis_gk_epsg_for_lon(atof(PQgetvalue(q, 0, 0)));
    PQclear(q);
    char es[16];
    snprintf(es, sizeof es, "%d", epsg < 0 ? 4549 : epsg);
    const char *p[] = {es};
    if (!(q = db_exec_params(
              w,
              "SELECT code::text, ST_AsBinary(ST_Transform(geom, $1::int)) FROM divisions"
              " WHERE level = " VOCAB_SQL_TERM(
                  "DivisionLevel",
                  LEVEL_COMMUNITY) " AND kind = " VOCAB_SQL_TERM("DivisionKind",
                                                                 DK_ADMIN) " AND geom IS NOT NULL"
                                                                           " AND valid_to IS NULL",
              1, p, NULL, NULL, 1))) {
        snprintf(err, errlen, "%s", w->err);
        return NULL;
    }
    gis_areas_builder *b = gis_areas_builder_create(
        atoi(es), fmax(a->cfg.coverage_cell_m, 1.0),
        (size_t)(a->cfg.coverage_max_cells > 64 ? a->cfg.coverage_max_cells : 64), err, errlen);
    for (int i = 0; b && i < PQntuples(q); i++) {
        char msg[256];
        if (gis_areas_add_wkb(b, PQgetvalue(q, i, 0), (const unsigned char *)PQgetvalue(q, i, 1),
                              (size_t)PQgetlength(q, i, 1), msg, sizeof msg) != 0)
            fprintf(stderr, "coverage: skipping community %s: %s\n", PQgetvalue(q, i, 0), msg);
    }
    PQclear(q);
    return b ? gis_areas_finish(b, err, errlen) : NULL;
}

/* Records s's grids in coverage_grids; for the communities whose grid is new or changed, drops
 * their bits on other grids and queues every kept day for a repaint (all communities: codes NULL).
 * Two instances loading at once: the row locks let one of them see the change. Returns 0 or -1. */
static int sync_grids(worker *w, const gis_areas *s, int keep) {
    buf codes = {0}, grids = {0};
    buf_str(&codes, "{"), buf_str(&grids, "{");
    for (size_t i = 0; i < gis_areas_count(s); i++) {
        const gis_area *a = gis_areas_get(s, i);
        buf_printf(&codes, "%s\"%s\"", i ? "," : "", a->key);
        buf_printf(&grids, "%s\"%s\"", i ? "," : "", a->grid);
    }
    buf_str(&codes, "}"), buf_str(&grids, "}");
    char ks[16];
    snprintf(ks, sizeof ks, "%d", keep);
    const char *p[] = {codes.p, grids.p, ks};
    int rc = codes.oom || grids.oom ? -1 : 0;
    PGresult *q =
        rc ? NULL
           : db_exec(
                 w,
                 "WITH g AS (SELECT * FROM unnest($1::text[], $2::text[]) AS g(code, grid)),"
                 " up AS (INSERT INTO coverage_grids SELECT code, grid FROM g ON CONFLICT (code) DO UPDATE"
                 " SET grid = EXCLUDED.grid WHERE coverage_grids.grid <> EXCLUDED.grid RETURNING code, grid),"
                 " gone AS (DELETE FROM coverage_days d USING up WHERE d.code = up.code AND d.grid <> up.grid),"
                 " gone2 AS (DELETE FROM coverage_delta d USING up WHERE d.code = up.code AND d.grid <> up.grid),"
                 " todo AS (SELECT CASE WHEN count(*) = (SELECT count(*) FROM g) THEN NULL"
                 " ELSE array_agg(code) END AS codes, count(*) AS n FROM up)"
                 " INSERT INTO coverage_repaint (day, codes, before)"
                 " SELECT to_date(substr(c.relname, 16), 'YYYYMMDD'), todo.codes, now()"
                 " FROM todo, pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                 " WHERE todo.n > 0 AND i.inhparent = 'unit_positions'::regclass"
                 " AND c.relname ~ '^unit_positions_[0-9]{8}$'"
                 " AND to_date(substr(c.relname, 16), 'YYYYMMDD') BETWEEN"
                 " (now() AT TIME ZONE 'UTC')::date - $3::int AND (now() AT TIME ZONE 'UTC')::date",
                 3, p);
    if (!q)
        rc = -1;
    else if (atoi(PQcmdTuples(q)) > 0)
        fprintf(stderr, "coverage: %s day(s) queued for a repaint (new or changed grids)\n",
                PQcmdTuples(q));
    PQclear(q);
    buf_free(&codes), buf_free(&grids);
    return rc;
}

/* Merges coverage_delta into coverage_days, COMPACT_BATCH rows at a time (in (day, code) order:
 * two instances merging at once lock rows in the same order). Returns 0 or -1. */
static int compact(worker *w) {
    for (int round = 0; round < 100; round++) {
        PGresult *q = db_exec(
            w,
            "WITH d AS (DELETE FROM coverage_delta WHERE id IN (SELECT id FROM coverage_delta"
            " ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED) RETURNING day, code, grid, bits, last_at,"
            " fixes), m AS (INSERT INTO coverage_days (day, code, grid, bits, last_at, fixes)"
            " SELECT day, code, grid, bit_or(bits), max(last_at), sum(fixes) FROM d"
            " GROUP BY day, code, grid ORDER BY day, code, grid ON CONFLICT (day, code, grid) DO UPDATE"
            " SET bits = coverage_days.bits | EXCLUDED.bits,"
            " last_at = greatest(coverage_days.last_at, EXCLUDED.last_at),"
            " fixes = coverage_days.fixes + EXCLUDED.fixes RETURNING 1)"
            " SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM m)",
            0, NULL);
        if (!q) return -1;
        int n = atoi(PQgetvalue(q, 0, 0));
        PQclear(q);
        if (n < COMPACT_BATCH) break;
    }
    return 0;
}

/* Writes p's rows as deltas and empties it. Returns 0 or -1. */
static int flush(worker *w, painter *p) {
    coverage_rows out = {0};
    painter_rows(p, &out);
    rows_close(&out);
    int rc = out.oom ? -1 : rows_store(w, &out);
    if (out.oom) snprintf(w->err, sizeof w->err, "out of memory");
    coverage_rows_free(&out);
    painter_clear(p);
    return rc;
}

/* Paints the fixes of the units in `units` (a bigint[] literal) for the day starting at d0: steps
 * ending in the day, fixes of the day received before `before` counted. Returns 0 or -1. */
static int repaint_units(worker *w, painter *p, const char *units, double d0, double before) {
    char t0[32], t1[32], tb[32], es[16];
    snprintf(t0, sizeof t0, "%.0f", d0 - COVERAGE_GAP_S),
        snprintf(t1, sizeof t1, "%.0f", d0 + 86400);
    snprintf(tb, sizeof tb, "%.6f", before), snprintf(es, sizeof es, "%d", gis_areas_epsg(p->s));
    const char *pp[] = {units, t0, t1, tb, es};
    PGresult *q = db_exec(
        w,
        "SELECT unit_id, extract(epoch FROM at)::float8, ST_X(p), ST_Y(p),"
        " (received_at < to_timestamp($4::float8))::int FROM (SELECT unit_id, at, received_at,"
        " ST_Transform(geom, $5::int) p FROM unit_positions WHERE unit_id = ANY($1::bigint[])"
        " AND at >= to_timestamp($2::float8) AND at < to_timestamp($3::float8) AND NOT flagged) s"
        " ORDER BY unit_id, at",
        5, pp);
    if (!q) return -1;
    int rc = paint_rows(p, q, d0, 4, w);
    if (rc != 0 && p->oom) snprintf(w->err, sizeof w->err, "out of memory");
    PQclear(q);
    return rc;
}

/* Marks in allowed (per area) the communities of a comma-separated list. */
static void allow_codes(const gis_areas *s, const char *list, unsigned char *allowed) {
    char code[64];
    for (const char *c = list; *c;) {
        size_t n = strcspn(c, ",");
        snprintf(code, sizeof code, "%.*s", (int)(n < sizeof code ? n : sizeof code - 1), c);
        long i = gis_areas_find(s, code);
        if (i >= 0) allowed[i] = 1;
        c += n + (c[n] == ',');
    }
}

/* Repaints the latest queued day (one transaction: the job row stays queued until it commits).
 * Returns 1 when a day was done, 0 when none is queued, -1 on failure (w->err). */
static int repaint_one(worker *w, const gis_areas *s) {
    PGresult *job = NULL, *units = NULL;
    unsigned char *allowed = NULL;
    painter p;
    int rc = -1;
    painter_init(&p, s, NULL, -1);
    if (db_begin(w) != 0 ||
        !(job = db_exec(
              w,
              "SELECT id::text, extract(epoch FROM day::timestamp AT TIME ZONE 'UTC')::float8,"
              " array_to_string(codes, ','), extract(epoch FROM before)::float8"
              " FROM coverage_repaint ORDER BY day DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED",
              0, NULL)))
        goto done;
    if (PQntuples(job) == 0) {
        rc = 0;
        goto done;
    }
    double d0 = atof(PQgetvalue(job, 0, 1)), before = atof(PQgetvalue(job, 0, 3));
    if (!PQgetisnull(job, 0, 2)) {
        if (!(allowed = calloc(gis_areas_count(s) + 1, 1))) goto done;
        allow_codes(s, PQgetvalue(job, 0, 2), allowed);
        p.allowed = allowed;
    }
    char t0[32], t1[32];
    snprintf(t0, sizeof t0, "%.0f", d0), snprintf(t1, sizeof t1, "%.0f", d0 + 86400);
    const char *pu[] = {t0, t1};
    if (!(units = db_exec(
              w,
              "SELECT DISTINCT unit_id FROM unit_positions WHERE at >= to_timestamp($1::float8)"
              " AND at < to_timestamp($2::float8) AND NOT flagged ORDER BY 1",
              2, pu)))
        goto done;
    for (int i = 0; i < PQntuples(units); i += REPAINT_UNITS) {
        buf ids = {0};
        for (int k = i; k < PQntuples(units) && k < i + REPAINT_UNITS; k++)
            buf_printf(&ids, "%s%s", k == i ? "{" : ",", PQgetvalue(units, k, 0));
        buf_str(&ids, "}");
        int bad = ids.oom || repaint_units(w, &p, ids.p, d0, before) != 0;
        buf_free(&ids);
        if (bad) goto done;
    }
    const char *pj[] = {PQgetvalue(job, 0, 0)};
    if (flush(w, &p) != 0 ||
        db_command(w, "DELETE FROM coverage_repaint WHERE id = $1::bigint", 1, pj) != 0 ||
        db_commit(w) != 0)
        goto done;
    rc = 1;
done:
    if (rc != 1) db_rollback(w);
    painter_clear(&p);
    free(allowed);
    PQclear(job);
    PQclear(units);
    return rc;
}

/* Drops coverage days older than the positions kept. */
static void purge(worker *w, int keep) {
    char ks[16];
    snprintf(ks, sizeof ks, "%d", keep);
    const char *p[] = {ks};
    if (db_command(
            w, "DELETE FROM coverage_days WHERE day < (now() AT TIME ZONE 'UTC')::date - $1::int",
            1, p) != 0 ||
        db_command(
            w,
            "DELETE FROM coverage_repaint WHERE day < (now() AT TIME ZONE 'UTC')::date - $1::int",
            1, p) != 0)
        fprintf(stderr, "coverage: purge: %s\n", w->err);
}

/* Loads the areas, records their grids and publishes them. Returns 0 or -1. */
static int reload(app *a, worker *w) {
    char err[512];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    gis_areas *s = load_areas(a, w, err, sizeof err);
    if (!s) {
        fprintf(stderr, "coverage: areas: %s\n", err);
        return -1;
    }
    if (sync_grids(w, s, a->cfg.position_retention_days) != 0) {
        fprintf(stderr, "coverage: grids: %s\n", w->err);
        gis_areas_destroy(s);
        return -1;
    }
    size_t n = gis_areas_count(s), bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += gis_areas_get(s, i)->nbytes;
    if (publish(s) != 0) return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "coverage: %zu community grids (%.1f MiB of cells) loaded in %.0f ms\n", n,
            (double)bytes / 1048576.0,
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return 0;
}

/* One round: merge deltas, repaint queued days for up to about two seconds. Returns 1 when days
 * may still be queued. */
static int work(app *a, worker *w) {
    if (compact(w) != 0) fprintf(stderr, "coverage: merge: %s\n", w->err);
    const gis_areas *s = coverage_acquire();
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 1;
    while (s && rc == 1 && !a->stopping) {
        if ((rc = repaint_one(w, s)) < 0) fprintf(stderr, "coverage: repaint: %s\n", w->err);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= 2) break;
    }
    coverage_release(s);
    return s && rc == 1;
}

void *coverage_thread(void *arg) {
    app *a = arg;
    worker w = {.app = a, .no_timeout = 1};
    int dirty = 1, heard = 0; /* heard: the backend that LISTENs (a call may have reconnected) */
    time_t next_purge = 0;
    while (!a->stopping) {
        if (!w.pg || PQbackendPID(w.pg) != heard) {
            if (db_ensure(&w) != 0 || db_listen(&w, "gis_changed") != 0) {
                db_disconnect(&w);
                server_sleep(a, 1000);
                continue;
            }
            dirty |= heard != 0; /* a new connection: changes may have been missed */
            heard = PQbackendPID(w.pg);
        }
        if (dirty) {
            server_sleep(a, 50); /* let a burst of changes settle */
            if (db_wait_notify(&w, 0) >= 0) dirty = reload(a, &w) != 0;
        }
        int more = work(a, &w);
        if (time(NULL) >= next_purge) {
            purge(&w, a->cfg.position_retention_days);
            next_purge = time(NULL) + 3600;
        }
        int n = db_wait_notify(&w, more ? 0 : 1000);
        if (n < 0) db_disconnect(&w), dirty = 1;
        if (n > 0) dirty = 1;
    }
    db_disconnect(&w);
    return NULL;
}
