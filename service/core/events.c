/* events.c - live events: the one reader per process (gap rule in events.h), the ring it fills,
 * the text/event-stream handler fed from the ring, and short-lived stream tokens.
 *
 * Threads: events_thread owns its own PGconn and is the only writer of the ring; stream handlers
 * (CivetWeb workers) read the ring under `mu` and sleep on `cv`. A stream handler uses its worker
 * (r->w) only to authenticate; the backlog older than the ring is read a page at a time with a
 * slot borrowed for the read only (never held while writing to the client). A stream is bound to
 * its session: a session.revoked event (auth_revoke_sessions) in the ring ends it. */
#include "service/core/events.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "service/core/buf.h"
#include "service/core/db.h"
#include "service/core/server.h"
#include "service/core/tz.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/units/units.h"

enum { RING = 16384, READ_BATCH = 2000, BACKLOG_PAGE = 500 /* events a table page reads */ };

typedef struct ev {
    long long id, entity_id;
    int kind; /* position in VOCAB_EVENT_KIND, -1 for a kind this build does not know */
    int unit; /* a unit event (VOCAB_EV_UNIT) */
    long long report_creator; /* report events: the report's creator (0: none) */
    int revoked; /* session.revoked (entity_id: the session): ends that session's streams only */
    char division[13];
    char *frame; /* "id: N\nevent: kind\ndata: {...}\n\n" (owned); NULL for session.revoked */
    size_t len;
} ev;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static ev ring[RING];
static unsigned long long appended; /* events ever put in the ring */
static long long floor_id;          /* every final event with id > floor_id is in the ring */
static long long cursor = -1;       /* the last id delivered; -1 until the reader has started */
static int nstreams;                /* streams open now (under mu) */

/* An open stream, on its handler's stack, in the list `streams` (under mu): the per-user limit. */
typedef struct stream_reg {
    long long user_id;
    struct stream_reg *next;
} stream_reg;
static stream_reg *streams;

long long events_cursor(void) {
    pthread_mutex_lock(&mu);
    long long c = cursor;
    pthread_mutex_unlock(&mu);
    return c;
}

/* Formats one event (columns: id, kind, entity_id, division, payload, at, report_creator) into
 * *e. */
static int make_event(PGresult *res, int i, int c, ev *e) {
    const char *kind = PQgetvalue(res, i, c + 1);
    e->id = strtoll(PQgetvalue(res, i, c), NULL, 10);
    e->entity_id = strtoll(PQgetvalue(res, i, c + 2), NULL, 10);
    e->kind = vocab_find(&VOCAB_EVENT_KIND, kind);
    e->unit = e->kind >= 0 && (VOCAB_EVENT_KIND.terms[e->kind].flags & VOCAB_EV_UNIT);
    e->report_creator = strtoll(PQgetvalue(res, i, c + 6), NULL, 10);
    e->revoked = e->kind == EK_SESSION_REVOKED;
    snprintf(e->division, sizeof e->division, "%s", PQgetvalue(res, i, c + 3));
    e->frame = NULL, e->len = 0;
    if (e->revoked) return 0; /* never sent: no frame */
    buf b = {0};
    buf_printf(
        &b,
        "id: %lld\nevent: %s\ndata: {\"id\":%lld,\"kind\":\"%s\",\"entity_id\":%lld,\"at\":\"%s\",\"payload\":%s}\n\n",
        e->id, kind, e->id, kind, e->entity_id, PQgetvalue(res, i, c + 5),
        PQgetvalue(res, i, c + 4));
    if (b.oom) {
        buf_free(&b);
        return -1;
    }
    char *fit = realloc(b.p, b.len + 1); /* the ring keeps 16,384 frames: no spare room */
    e->frame = fit ? fit : b.p, e->len = b.len;
    return 0;
}

/* Appends e (its frame is taken over) to the ring; caller holds mu. */
static void ring_put(ev *e) {
    ev *slot = &ring[appended % RING];
    if (appended >= RING) {
        floor_id = slot->id;
        free(slot->frame);
    }
    *slot = *e;
    appended++;
    cursor = e->id;
}

/* ---- the reader ---- */

static const char poll_sql[] =
    "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint, e.id, e.kind,"
    " e.entity_id, coalesce(e.division_code, ''), e.payload::text, to_json(e.at)#>>'{}',"
    " coalesce(e.report_creator, 0) FROM pg_current_snapshot() s"
    " LEFT JOIN LATERAL (SELECT * FROM events WHERE id > $1::bigint ORDER BY id LIMIT 2000) e"
    " ON true ORDER BY e.id";

typedef struct reader {
    long long last;     /* delivered up to here */
    long long gap_at;   /* the first missing id being waited for, 0 when none */
    long long gap_xmax; /* xmax of the snapshot in which that gap was first seen */
} reader;

/* The gap rule (events.h) for the next id a poll sees, in a snapshot with xmin and xmax: 1 to
 * deliver it now, 0 to stop and poll again later. */
static int gap_admit(reader *rd, long long id, long long xmin, long long xmax) {
    if (id != rd->last + 1) { /* a gap: ids rd->last+1 .. id-1 are not visible (yet?) */
        if (rd->gap_at != rd->last + 1) {
            rd->gap_at = rd->last + 1, rd->gap_xmax = xmax;
            return 0;
        }
        if (xmin < rd->gap_xmax) return 0; /* a transaction that may hold it is still running */
    }
    rd->gap_at = 0;
    return 1;
}

/* One poll. Returns the number of events delivered, or -1 with err. */
static int reader_poll(worker *w, reader *rd, char *err, size_t errlen) {
    char last[24];
    snprintf(last, sizeof last, "%lld", rd->last);
    const char *p[] = {last};
    PGresult *res = db_exec(w, poll_sql, 1, p);
    if (!res) {
        snprintf(err, errlen, "%s", w->err);
        return -1;
    }
    long long xmin = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    long long xmax = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    int n = 0;
    for (int i = 0; i < PQntuples(res) && !PQgetisnull(res, i, 2); i++) {
        long long id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        if (!gap_admit(rd, id, xmin, xmax)) break;
        ev e;
        if (make_event(res, i, 2, &e) != 0) break;
        if (e.unit) units_mem_apply(e.id, PQgetvalue(res, i, 6));
        pthread_mutex_lock(&mu);
        ring_put(&e);
        pthread_mutex_unlock(&mu);
        rd->last = id;
        n++;
    }
    PQclear(res);
    if (n) pthread_cond_broadcast(&cv);
    return n;
}

/* Start: the highest id so far, once every transaction that might hold a lower one has ended. */
static int reader_start(app *a, worker *w, reader *rd, char *err, size_t errlen) {
    PGresult *res = db_exec(w,
                            "SELECT coalesce(max(id), 0), pg_snapshot_xmax(pg_current_snapshot())"
                            "::text::bigint FROM events",
                            0, NULL);
    if (!res) goto fail;
    long long max0 = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    long long xmax0 = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    for (;;) {
        res = db_exec(w, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint", 0, NULL);
        if (!res) goto fail;
        long long xmin = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        if (xmin >= xmax0) break;
        if (server_sleep(a, 20)) return -1;
    }
    if (units_mem_load(w, max0, err, errlen) != 0) return -1;
    rd->last = max0;
    pthread_mutex_lock(&mu);
    floor_id = max0;
    cursor = max0;
    pthread_mutex_unlock(&mu);
    pthread_cond_broadcast(&cv);
    return 0;
fail:
    snprintf(err, errlen, "%s", w->err);
    return -1;
}

void *events_thread(void *arg) {
    app *a = arg;
    char err[512];
    worker w = {.app = a, .no_timeout = 1};
    reader rd = {0};
    int started = 0;
    int interval = a->cfg.events_poll_ms > 0 ? a->cfg.events_poll_ms : 50;
    for (;;) {
        if (db_ensure(&w) != 0) {
            if (server_sleep(a, 500)) break;
            continue;
        }
        if (!started) {
            if (reader_start(a, &w, &rd, err, sizeof err) != 0) {
                if (a->stopping) break;
                fprintf(stderr, "events: %s\n", err);
                if (server_sleep(a, 500)) break;
                continue;
            }
            started = 1;
        }
        int n = reader_poll(&w, &rd, err, sizeof err);
        if (n < 0) fprintf(stderr, "events: %s\n", err);
        if (n == READ_BATCH) continue; /* more waiting: no sleep */
        if (server_sleep(a, interval)) break;
    }
    db_disconnect(&w);
    pthread_cond_broadcast(&cv); /* wake streams: stopping */
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < RING; i++)
        free(ring[i].frame), ring[i].frame = NULL;
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* ---- stream tokens ---- */

static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;
static char stream_key[128];

/* HMAC-SHA256 of msg under the database's stream key, hex into out (65 bytes). Returns 0/-1. */
static int sign(worker *w, const char *msg, char out[65]) {
    pthread_mutex_lock(&key_mu);
    if (!*stream_key) {
        PGresult *q = db_exec(w, "SELECT key FROM stream_keys WHERE id = 1", 0, NULL);
        if (q && PQntuples(q) == 1)
            snprintf(stream_key, sizeof stream_key, "%s", PQgetvalue(q, 0, 0));
        PQclear(q);
    }
    int ok = *stream_key != 0;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    if (ok) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)stream_key, strlen(stream_key));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_bin2hex(out, 65, mac, sizeof mac);
    }
    pthread_mutex_unlock(&key_mu);
    return ok ? 0 : -1;
}

/* POST /api/v1/events/token -> {"token": "<session>.<hmac>", "expires_at"}: a token for
 * ?access_token= bound to the caller's session, valid exactly while that session is (EventSource
 * reconnects with the same URL): a sign-out, password change or revocation ends it. */
int h_events_token(http_req *r) {
    char msg[48], mac[65], token[96], at[TZ_RFC3339_LEN];
    snprintf(msg, sizeof msg, "session.%lld", r->user.session_id);
    if (sign(r->w, msg, mac) != 0) return http_db_error(r);
    snprintf(token, sizeof token, "%lld.%s", r->user.session_id, mac);
    tz_rfc3339((time_t)r->user.session_expires, at);
    return http_json(r, 200, json_pack("{s:s,s:s}", "token", token, "expires_at", at));
}

/* Checks a stream token and loads its session and user. Returns 1 valid, 0 not, -1 database
 * failure. */
static int token_user(worker *w, const char *tok, auth_user *u) {
    const char *dot = strchr(tok, '.');
    if (!dot || dot == tok || dot - tok > 18 || strlen(dot + 1) != 64) return 0;
    for (const char *p = tok; p < dot; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    char sid[24], msg[48], mac[65];
    memcpy(sid, tok, (size_t)(dot - tok));
    sid[dot - tok] = 0;
    snprintf(msg, sizeof msg, "session.%s", sid);
    if (sign(w, msg, mac) != 0) return -1;
    if (sodium_memcmp(mac, dot + 1, 64) != 0) return 0;
    return auth_check_session(w, sid, u);
}

/* ---- the stream ---- */

/* What a user may see, by the kind's flag (vocab.c): a report event when the report is visible to
 * it (auth_report_visible: its own reports, and the division's); a unit event of the division for
 * staff, of its own unit for a patrol, none for community officers; a patrol event of the plan's
 * division for staff; nothing of a kind without a
 * rule here, or that this build does not know. */
static int visible(const auth_user *u, const ev *e) {
    unsigned flags = e->kind < 0 ? 0 : VOCAB_EVENT_KIND.terms[e->kind].flags;
    if (flags & VOCAB_EV_UNIT) {
        if (u->role == ROLE_COMMUNITY) return 0;
        if (u->role == ROLE_PATROL) return e->entity_id == u->unit_id;
        return auth_in_scope(u, e->division);
    }
    if (flags & VOCAB_EV_REPORT) return auth_report_visible(u, e->report_creator, e->division);
    if (flags & VOCAB_EV_PATROL) return (u->role & ROLE_STAFF) && auth_in_scope(u, e->division);
    return 0;
}

enum { OUT_MAX = 256 * 1024 }; /* a stream renders about this much at most before writing it */

/* One stream: every event up to `pos` has been looked at (session.revoked included); of those
 * above `resume` (the client's Last-Event-ID, or where the reader stood) the visible ones were
 * sent. `out` holds what goes out next. */
typedef struct stream_ctx {
    http_req *r;
    long long pos, resume;
    buf out;
} stream_ctx;

/* What stream c does with event e: 1 send it, 0 skip it, -1 end (its own session was revoked).
 * A session.revoked event is never sent to anyone. */
static int route_event(const stream_ctx *c, const ev *e) {
    if (e->revoked) return e->entity_id == c->r->user.session_id ? -1 : 0;
    return e->id > c->resume && visible(&c->r->user, e);
}

/* Reads one page of the events in (c->pos, upto] (older than the ring: all final) from the table
 * into c->out, with a pool slot borrowed for the read only: it goes back before anything is
 * written to the client. Returns 0, 1 when the stream's session was revoked, -1 when no slot came
 * free or the database failed (the stream ends; the client resumes with its Last-Event-ID). */
static int table_page(stream_ctx *c, long long upto) {
    char a[24], b[24], n[16];
    snprintf(a, sizeof a, "%lld", c->pos);
    snprintf(b, sizeof b, "%lld", upto);
    snprintf(n, sizeof n, "%d", BACKLOG_PAGE);
    const char *p[] = {a, b, n};
    if (http_borrow_page_worker(c->r) != 0) return -1;
    PGresult *q =
        db_exec(c->r->w,
                "SELECT id, kind, entity_id, coalesce(division_code, ''), payload::text,"
                " to_json(at)#>>'{}', coalesce(report_creator, 0) FROM events WHERE id > $1::bigint"
                " AND id <= $2::bigint ORDER BY id LIMIT $3::int",
                3, p);
    if (!q) {
        http_count_db_error();
        fprintf(stderr, "events [%s] stream cut: %s\n", c->r->request_id, c->r->w->err);
    }
    http_release_worker(c->r);
    if (!q) return -1;
    int rows = PQntuples(q), rc = 0;
    for (int i = 0; i < rows && !rc; i++) {
        ev e;
        if (make_event(q, i, 0, &e) != 0) {
            rc = -1;
            break;
        }
        int k = route_event(c, &e);
        if (k < 0) rc = 1;
        if (k > 0) buf_put(&c->out, e.frame, e.len);
        free(e.frame);
        c->pos = e.id;
    }
    if (!rc && rows < BACKLOG_PAGE) c->pos = upto;
    PQclear(q);
    return rc;
}

/* Renders the ring's events after c->pos into c->out, about OUT_MAX bytes at most (a client that
 * fell behind catches up in steps). Caller holds mu; c->pos >= floor_id. Returns 0, or 1 when
 * the stream's session was revoked. */
static int ring_scan(stream_ctx *c) {
    unsigned long long n = appended < RING ? appended : RING;
    unsigned long long lo = appended - n, hi = appended; /* the first entry with id > pos */
    while (lo < hi) {
        unsigned long long mid = lo + (hi - lo) / 2;
        if (ring[mid % RING].id <= c->pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (unsigned long long i = lo; i < appended && c->out.len < OUT_MAX; i++) {
        const ev *e = &ring[i % RING];
        int k = route_event(c, e);
        if (k < 0) return 1;
        if (k > 0) buf_put(&c->out, e->frame, e->len);
        c->pos = e->id;
    }
    return 0;
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

static int passed(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static int keepalive_s(const config *cfg) {
    return cfg->stream_keepalive_s > 0 ? cfg->stream_keepalive_s : 3;
}

/* 1 once the stream's session has expired (a revocation comes as an event). */
static int session_over(const stream_ctx *c) {
    long long exp = c->r->user.session_expires;
    return exp > 0 && (long long)time(NULL) >= exp;
}

/* The stream's loop: pages of the table while they are older than the ring, then the ring; a
 * keep-alive comment every stream_keepalive_s when idle (a client that went away is noticed at the
 * write). Ends when the client goes away, the session is revoked or expires, or the server stops. */
static void stream_loop(stream_ctx *c) {
    app *a = c->r->app;
    const int keepalive_ms = keepalive_s(&a->cfg) * 1000;
    struct timespec next_ka;
    deadline_in(&next_ka, keepalive_ms);
    for (;;) {
        int ka = 0, end = 0;
        long long upto = -1; /* >= 0: the next page comes from the table, up to this id */
        c->out.len = 0;
        pthread_mutex_lock(&mu);
        while (cursor <= c->pos && !a->stopping && !session_over(c) && !(ka = passed(&next_ka))) {
            struct timespec until;
            deadline_in(&until, 1000);
            if (until.tv_sec > next_ka.tv_sec ||
                (until.tv_sec == next_ka.tv_sec && until.tv_nsec > next_ka.tv_nsec))
                until = next_ka;
            pthread_cond_timedwait(&cv, &mu, &until);
        }
        if (a->stopping || session_over(c)) /* the reader frees the ring when it stops */
            end = 1;
        else if (c->pos < floor_id)
            upto = floor_id;
        else
            end = ring_scan(c);
        pthread_mutex_unlock(&mu);
        if (!end && upto >= 0) end = table_page(c, upto) != 0;
        if (end || c->out.oom) break;
        if (c->out.len || ka) {
            int sent = c->out.len ? mg_write(c->r->conn, c->out.p, c->out.len)
                                  : mg_write(c->r->conn, ": keep-alive\n\n", 14);
            if (sent <= 0) break;
            deadline_in(&next_ka, keepalive_ms);
        }
    }
}

/* Admits a stream of r's user: at most stream_max_clients in this instance (503) and
 * stream_max_per_user of one user (429), both too_many_streams with Retry-After. Returns 0 with
 * `me` in `streams` (leave() takes it out), or the status sent. */
static int admit(http_req *r, stream_reg *me) {
    const config *cfg = &r->app->cfg;
    int mine = 0;
    pthread_mutex_lock(&mu);
    for (const stream_reg *s = streams; s; s = s->next)
        mine += s->user_id == r->user.id;
    int full = nstreams >= cfg->stream_max_clients;
    int over = !full && cfg->stream_max_per_user > 0 && mine >= cfg->stream_max_per_user;
    if (!full && !over) {
        me->user_id = r->user.id, me->next = streams, streams = me;
        nstreams++;
    }
    pthread_mutex_unlock(&mu);
    if (full)
        return http_error_retry(r, 503, 5, "too_many_streams", NULL,
                                "this instance holds all the event streams it may; retry later");
    if (over) /* a stream its client closed is noticed at its next keep-alive or the one after */
        return http_error_retry(r, 429, 2 * keepalive_s(cfg) + 1, "too_many_streams", NULL,
                                "%s has %d event streams open here, the most one user may"
                                " (stream_max_per_user); close one or retry later",
                                r->user.username, mine);
    return 0;
}

static void leave(stream_reg *me) {
    pthread_mutex_lock(&mu);
    for (stream_reg **p = &streams; *p; p = &(*p)->next)
        if (*p == me) {
            *p = me->next;
            break;
        }
    nstreams--;
    pthread_mutex_unlock(&mu);
}

/* The reader's cursor, waiting briefly while it starts; -1 when it has not. */
static long long reader_cursor(app *a) {
    pthread_mutex_lock(&mu);
    for (int i = 0; cursor < 0 && i < 100 && !a->stopping; i++) {
        struct timespec ts;
        deadline_in(&ts, 50);
        pthread_cond_timedwait(&cv, &mu, &ts);
    }
    long long c = cursor;
    pthread_mutex_unlock(&mu);
    return c;
}

/* Fills r->user (and its session) from a Bearer token or ?access_token= stream token, then gives
 * the slot back. Returns 0, or the status sent. */
static int stream_auth(http_req *r) {
    int ok = 0;
    const char *h = http_header(r, "Authorization"), *tok = http_q(r, "access_token")->s;
    if (h && strncasecmp(h, "Bearer ", 7) == 0)
        ok = auth_check_token(r->w, h + 7, &r->user);
    else if (tok)
        ok = token_user(r->w, tok, &r->user);
    if (ok < 0) return http_db_error(r);
    if (!ok)
        return http_error(
            r, 401, "unauthorized", NULL,
            "sign in first: Authorization: Bearer <token> or ?access_token=<stream token>");
    http_release_worker(r); /* from here on a slot only for a page of the table */
    return 0;
}

#define SSE_TYPE "text/event-stream; charset=utf-8"
#define SSE_HEADERS "X-Accel-Buffering: no\r\n"

/* GET /api/v1/events (Bearer or ?access_token=; Last-Event-ID or ?after=). HEAD: the headers
 * only, no stream. */
int h_events_stream(http_req *r) {
    char pre[96];
    /* Where the reader stands before the session is checked: a revocation that check did not see
     * has a later id, and the stream looks at every event after this one. */
    long long cur = reader_cursor(r->app), after = -1;
    if (cur < 0)
        return http_error_retry(r, 503, 1, "events_starting", NULL,
                                "the event reader is starting; retry");
    int rc = stream_auth(r);
    if (rc) return rc;
    /* the resume point: Last-Event-ID (an EventSource reconnecting), else ?after= */
    const http_qval *lei = http_q(r, "Last-Event-ID"), *aq = http_q(r, "after");
    after = lei->given ? lei->i : aq->given ? aq->i : -1;
    if (strcmp(r->method, "HEAD") == 0) { /* no stream, no stream place taken */
        http_begin_stream(r, 200, SSE_TYPE, SSE_HEADERS);
        return 200;
    }
    stream_reg me;
    if ((rc = admit(r, &me))) return rc;
    stream_ctx c = {.r = r, .resume = after < 0 ? cur : after}; /* no resume point: from now on */
    c.pos = c.resume < cur ? c.resume : cur;
    int n = snprintf(pre, sizeof pre, "retry: 2000\n: stream from %lld\n\n", c.resume);
    if (http_begin_stream(r, 200, SSE_TYPE, SSE_HEADERS) == 0 &&
        mg_write(r->conn, pre, (size_t)n) > 0)
        stream_loop(&c);
    buf_free(&c.out);
    leave(&me);
    return 200;
}
