/* events.c - live events: the one reader per process (gap rule in events.h), the ring it fills,
 * the text/event-stream handler fed from the ring, and short-lived stream tokens.
 *
 * Threads: events_thread owns its own PGconn and is the only writer of the ring; stream handlers
 * (CivetWeb workers) read the ring under `mu` and sleep on `cv`. A stream handler uses its worker
 * (r->w) only while it sets up (authentication, the backlog older than the ring); after that it
 * holds no database connection, only its socket. */
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
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/units/units.h"

enum { RING = 16384, READ_BATCH = 2000, BACKLOG_PAGE = 2000 };

typedef struct ev {
    long long id, entity_id;
    int unit; /* a unit.* event */
    char division[13];
    char *frame; /* "id: N\nevent: kind\ndata: {...}\n\n" (owned) */
    size_t len;
} ev;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static ev ring[RING];
static unsigned long long appended; /* events ever put in the ring */
static long long floor_id;          /* every final event with id > floor_id is in the ring */
static long long cursor = -1;       /* the last id delivered; -1 until the reader has started */
static int nstreams;                /* streams open now (under mu) */

long long events_cursor(void) {
    pthread_mutex_lock(&mu);
    long long c = cursor;
    pthread_mutex_unlock(&mu);
    return c;
}

/* Formats one event (columns: id, kind, entity_id, division, payload, at) into *e. */
static int make_event(PGresult *res, int i, int c, ev *e) {
    const char *kind = PQgetvalue(res, i, c + 1);
    e->id = strtoll(PQgetvalue(res, i, c), NULL, 10);
    e->entity_id = strtoll(PQgetvalue(res, i, c + 2), NULL, 10);
    e->unit = strncmp(kind, "unit.", 5) == 0;
    snprintf(e->division, sizeof e->division, "%s", PQgetvalue(res, i, c + 3));
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
    e->frame = b.p, e->len = b.len;
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
    " e.entity_id, coalesce(e.division_code, ''), e.payload::text, to_json(e.at)#>>'{}'"
    " FROM pg_current_snapshot() s LEFT JOIN LATERAL (SELECT * FROM events WHERE id > $1::bigint"
    " ORDER BY id LIMIT 2000) e ON true ORDER BY e.id";

typedef struct reader {
    long long last;     /* delivered up to here */
    long long gap_at;   /* the first missing id being waited for, 0 when none */
    long long gap_xmax; /* xmax of the snapshot in which that gap was first seen */
} reader;

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
        if (id != rd->last + 1) { /* a gap: ids rd->last+1 .. id-1 are not visible (yet?) */
            if (rd->gap_at != rd->last + 1) {
                rd->gap_at = rd->last + 1, rd->gap_xmax = xmax;
                break;
            }
            if (xmin < rd->gap_xmax) break; /* a transaction that may hold it is still running */
        }
        rd->gap_at = 0;
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

/* POST /api/v1/events/token -> {"token": "<user>.<expiry>.<hmac>", "expires_at"} */
int h_events_token(http_req *r) {
    long long exp = (long long)time(NULL) +
                    (r->app->cfg.stream_token_ttl_s > 0 ? r->app->cfg.stream_token_ttl_s : 60);
    char msg[64], mac[65], token[160], at[32];
    snprintf(msg, sizeof msg, "%lld.%lld", r->user.id, exp);
    if (sign(r->w, msg, mac) != 0) return http_db_error(r);
    snprintf(token, sizeof token, "%s.%s", msg, mac);
    time_t t = (time_t)exp;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return http_json(r, 200, json_pack("{s:s,s:s}", "token", token, "expires_at", at));
}

/* Checks a stream token and loads its user. Returns 1 valid, 0 not, -1 database failure. */
static int token_user(worker *w, const char *tok, auth_user *u) {
    char uid[24], exp[24], mac[65];
    const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || d1 - tok >= 19 || d2 - d1 - 1 >= 19 || strlen(d2 + 1) != 64) return 0;
    memcpy(uid, tok, (size_t)(d1 - tok));
    uid[d1 - tok] = 0;
    memcpy(exp, d1 + 1, (size_t)(d2 - d1 - 1));
    exp[d2 - d1 - 1] = 0;
    for (const char *p = tok; p < d2; p++)
        if (!isdigit((unsigned char)*p) && *p != '.') return 0;
    if (!*uid || !*exp || strtoll(exp, NULL, 10) < (long long)time(NULL)) return 0;
    char msg[64];
    snprintf(msg, sizeof msg, "%s.%s", uid, exp);
    if (sign(w, msg, mac) != 0) return -1;
    if (sodium_memcmp(mac, d2 + 1, 64) != 0) return 0;
    return auth_user_by_id(w, uid, u);
}

/* ---- the stream ---- */

/* What a user may see: report events in the division; unit events in the division for staff, a
 * patrol's own unit only, none for community officers. */
static int visible(const auth_user *u, const ev *e) {
    if (e->unit) {
        if (u->role == ROLE_COMMUNITY) return 0;
        if (u->role == ROLE_PATROL) return e->entity_id == u->unit_id;
    }
    return auth_in_scope(u, e->division);
}

/* Sends the events in (after, upto] from the table (older than the ring). Returns 0, -1 when the
 * client went away, -2 on a database failure. */
static int send_backlog(http_req *r, long long after, long long upto) {
    for (;;) {
        char a[24], b[24];
        snprintf(a, sizeof a, "%lld", after);
        snprintf(b, sizeof b, "%lld", upto);
        const char *p[] = {a, b};
        PGresult *q =
            db_exec(r->w,
                    "SELECT id, kind, entity_id, coalesce(division_code, ''), payload::text,"
                    " to_json(at)#>>'{}' FROM events WHERE id > $1::bigint AND id <= $2::bigint"
                    " ORDER BY id LIMIT 2000",
                    2, p);
        if (!q) return -2;
        buf out = {0};
        int n = PQntuples(q);
        for (int i = 0; i < n; i++) {
            ev e;
            if (make_event(q, i, 0, &e) != 0) continue;
            if (visible(&r->user, &e)) buf_put(&out, e.frame, e.len);
            free(e.frame);
            after = e.id;
        }
        PQclear(q);
        int rc = out.len && mg_write(r->conn, out.p, out.len) <= 0 ? -1 : 0;
        buf_free(&out);
        if (rc || n < BACKLOG_PAGE) return rc;
    }
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

static int stream(http_req *r, long long after, long long fl);

/* GET /api/v1/events (Bearer or ?access_token=; Last-Event-ID or ?after=) */
int h_events_stream(http_req *r) {
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

    /* the resume point: Last-Event-ID (an EventSource reconnecting), else ?after= */
    const http_qval *lei = http_q(r, "Last-Event-ID"), *aq = http_q(r, "after");
    long long after = lei->given ? lei->i : aq->given ? aq->i : -1;

    /* wait (briefly) for the reader to know where the table stands */
    pthread_mutex_lock(&mu);
    for (int i = 0; cursor < 0 && i < 100 && !r->app->stopping; i++) {
        struct timespec ts;
        deadline_in(&ts, 50);
        pthread_cond_timedwait(&cv, &mu, &ts);
    }
    long long cur = cursor, fl = floor_id;
    pthread_mutex_unlock(&mu);
    if (cur < 0)
        return http_error(r, 503, "events_starting", NULL, "the event reader is starting; retry");
    if (after < 0) after = cur; /* no resume point: from now on */

    pthread_mutex_lock(&mu);
    int full = nstreams >= r->app->cfg.stream_max_clients;
    if (!full) nstreams++;
    pthread_mutex_unlock(&mu);
    if (full) {
        static const char body[] = "{\"error\":{\"code\":\"too_many_streams\",\"message\":\"this "
                                   "instance holds all the event streams it may; retry later\","
                                   "\"field\":null}}";
        snprintf(r->error_code, sizeof r->error_code, "too_many_streams");
        return http_send(r, 503, "application/json; charset=utf-8", body, sizeof body - 1,
                         "Retry-After: 5\r\n");
    }
    int rc = stream(r, after, fl);
    pthread_mutex_lock(&mu);
    nstreams--;
    pthread_mutex_unlock(&mu);
    return rc;
}

/* The stream itself, from `after` (fl: the ring's floor when the request came). */
static int stream(http_req *r, long long after, long long fl) {
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                      "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n"
                      "X-Request-Id: %s\r\n\r\nretry: 2000\n: stream from %lld\n\n",
                      r->request_id, after);
    r->status = 200;
    if (mg_write(r->conn, head, (size_t)hn) <= 0) return 200;
    if (after < fl) { /* older than the ring: from the table, up to what the ring holds */
        int rc = send_backlog(r, after, fl);
        if (rc == -2) return 200; /* the client retries with its Last-Event-ID */
        if (rc < 0) return 200;
        after = fl;
    }

    /* From here on: no database, only the ring and the socket: the pooled slot goes back. */
    http_release_worker(r);
    const int keepalive_ms =
        (r->app->cfg.stream_keepalive_s > 0 ? r->app->cfg.stream_keepalive_s : 15) * 1000;
    struct timespec next_ka;
    deadline_in(&next_ka, keepalive_ms);
    buf out = {0};
    for (;;) {
        int behind = 0, ka = 0;
        out.len = 0;
        pthread_mutex_lock(&mu);
        while (cursor <= after && !r->app->stopping) {
            struct timespec now, until;
            clock_gettime(CLOCK_REALTIME, &now);
            if (now.tv_sec > next_ka.tv_sec ||
                (now.tv_sec == next_ka.tv_sec && now.tv_nsec >= next_ka.tv_nsec)) {
                ka = 1;
                break;
            }
            deadline_in(&until, 1000);
            if (until.tv_sec > next_ka.tv_sec ||
                (until.tv_sec == next_ka.tv_sec && until.tv_nsec > next_ka.tv_nsec))
                until = next_ka;
            pthread_cond_timedwait(&cv, &mu, &until);
        }
        int stopping = r->app->stopping;
        if (stopping) {
            /* the reader frees the ring when it stops */
        } else if (after < floor_id) {
            behind = 1; /* the ring moved past this client: it resumes with Last-Event-ID */
        } else if (cursor > after) {
            unsigned long long n = appended < RING ? appended : RING;
            unsigned long long lo = appended - n, hi = appended; /* first entry with id > after */
            while (lo < hi) {
                unsigned long long mid = lo + (hi - lo) / 2;
                if (ring[mid % RING].id <= after)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (unsigned long long i = lo; i < appended; i++) {
                const ev *e = &ring[i % RING];
                if (visible(&r->user, e)) buf_put(&out, e->frame, e->len);
                after = e->id;
            }
        }
        pthread_mutex_unlock(&mu);
        if (behind || stopping || out.oom) break;
        if (out.len) {
            if (mg_write(r->conn, out.p, out.len) <= 0) break;
            deadline_in(&next_ka, keepalive_ms);
        } else if (ka) {
            if (mg_write(r->conn, ": keep-alive\n\n", 14) <= 0) break;
            deadline_in(&next_ka, keepalive_ms);
        }
    }
    buf_free(&out);
    return 200;
}

/* ---- writing events (below the reader: the shapes are in events.h) ---- */

static const char append_report_sql[] = EVENTS_REPORT_INSERT(
    "$1::text", "r", "$3::text",
    "coalesce($4::jsonb, '{}'::jsonb)") " FROM reports r WHERE r.id = $2::bigint";

int events_append_report(worker *w, const char *kind, const char *report_id, const char *event,
                         const char *extra) {
    const char *p[] = {kind, report_id, event, extra};
    return db_command(w, append_report_sql, 4, p);
}
