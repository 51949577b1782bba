/* lifecycle.c - the life of a report after creation: the transitions table, the event handler
 * (POST /api/v1/reports/{id}/events), the unit that follows its report, the escalation rule and
 * the per-tier acknowledgement time limits (shared with creation and the escalation thread).
 *
 * Lifecycle rules (the table `transitions` below; anything else is 409 invalid_transition):
 *   acknowledge     new                                -> acknowledged  dispatcher, supervisor, admin
 *   dispatch        acknowledged (also new)            -> dispatched    dispatcher, supervisor, admin
 *                   needs unit_id of an existing unit in the user's division that is `available`
 *                   (missing or another division's: one answer, 404 not_found field unit_id); the
 *                   unit becomes `dispatched`
 *   arrive          dispatched                         -> on_scene      patrol, dispatcher, supervisor, admin
 *   resolve         on_scene, dispatched               -> resolved      patrol, dispatcher, supervisor, admin
 *                   needs outcome (API.md enum)
 *   cancel          new, acknowledged, dispatched, on_scene -> cancelled  dispatcher, supervisor, admin;
 *                   also the patrol/community user who created it while it is still `new`
 *   mark_duplicate  new, acknowledged                  -> duplicate     dispatcher, supervisor, admin
 *                   needs duplicate_of: another existing report the user may see
 *   escalate        new, acknowledged, dispatched, on_scene -> (same)    dispatcher, supervisor, admin
 *                   moves the responsible station to its parent (409 no_parent_station at the top),
 *                   new ack_deadline from the parent's tier
 * The unit follows (columns unit_to/unit_from of the table): dispatch -> dispatched, arrive ->
 * on_scene, and ending a report (resolve, cancel, mark_duplicate) sets it back to `available`, or
 * `off_duty` when its shift ended during the case (unit_shift_over; admin/shifts.h).
 * Every request may carry "note" (string, <= 1,000 characters) kept in the audit details.
 * Every user acts only on reports it may see (report_row_visible: in scope or made by the user);
 * others get 404, as for GET. A patrol user moves only reports dispatched to its own unit
 * (users.unit_id = reports.unit_id): any other is 403 not_your_unit (withdrawing its own new
 * report excepted).
 * A transition is one transaction: SELECT ... FOR UPDATE, checks, UPDATE ... WHERE status = <from>
 * with its audit row, the live event (events_append_report), the unit, COMMIT. */
#include "service/reports/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/core/db.h"
#include "service/core/events_append.h"
#include "service/core/vocab.h"
#include "service/door/handlers.h"
#include "service/door/params.h"
#include "service/door/shapes.h"
#include "service/reports/report_json.h"

enum { MAX_NOTE = 1000 };

/* ---- the transitions table ---- */

/* Bits of positions in VOCAB_REPORT_STATUS (S) and VOCAB_UNIT_STATUS (U). */
#define S(x) (1u << RS_##x)
#define U(x) (1u << US_##x)
#define FROM_OPEN (~0u) /* every open status (VOCAB_OPEN) */
#define NONE (-1)       /* status unchanged / unit unchanged */

/* One row per VOCAB_EVENT_TYPE term (its position): the type's code is that term's. */
static const transition transitions[] = {
    [RT_ACKNOWLEDGE] = {S(NEW), RS_ACKNOWLEDGED, ROLE_STAFF, NEEDS_NONE, NONE, 0},
    [RT_DISPATCH] = {S(NEW) | S(ACKNOWLEDGED), RS_DISPATCHED, ROLE_STAFF, NEEDS_UNIT, US_DISPATCHED,
                     U(AVAILABLE)},
    [RT_ARRIVE] = {S(DISPATCHED), RS_ON_SCENE, ROLE_PATROL | ROLE_STAFF, NEEDS_NONE, US_ON_SCENE,
                   U(DISPATCHED)},
    [RT_RESOLVE] = {S(DISPATCHED) | S(ON_SCENE), RS_RESOLVED, ROLE_PATROL | ROLE_STAFF,
                    NEEDS_OUTCOME, US_AVAILABLE, U(DISPATCHED) | U(ON_SCENE) | U(BUSY)},
    [RT_CANCEL] = {FROM_OPEN, RS_CANCELLED, ROLE_STAFF, NEEDS_NONE, US_AVAILABLE,
                   U(DISPATCHED) | U(ON_SCENE) | U(BUSY)},
    [RT_MARK_DUPLICATE] = {S(NEW) | S(ACKNOWLEDGED), RS_DUPLICATE, ROLE_STAFF, NEEDS_DUPLICATE_OF,
                           US_AVAILABLE, U(DISPATCHED) | U(ON_SCENE) | U(BUSY)},
    [RT_ESCALATE] = {FROM_OPEN, NONE, ROLE_STAFF, NEEDS_PARENT, NONE, 0},
};
_Static_assert(sizeof transitions / sizeof transitions[0] == RT_ESCALATE + 1,
               "one transition per VOCAB_EVENT_TYPE term");

const transition *lifecycle_find(const char *type) {
    int i = vocab_find(&VOCAB_EVENT_TYPE, type);
    return i < 0 || (size_t)i >= sizeof transitions / sizeof transitions[0] ? NULL
                                                                            : &transitions[i];
}

const char *lifecycle_type(const transition *tr) {
    return vocab_code(&VOCAB_EVENT_TYPE, (size_t)(tr - transitions));
}

int lifecycle_allows(const transition *tr, const char *status) {
    int i = vocab_find(&VOCAB_REPORT_STATUS, status);
    if (i < 0) return 0;
    if (tr->from == FROM_OPEN) return (VOCAB_REPORT_STATUS.terms[i].flags & VOCAB_OPEN) != 0;
    return (tr->from >> i & 1) != 0;
}

/* ---- one request ---- */

/* What an event body asks for, validated before the database is touched. */
typedef struct event_req {
    const transition *tr;
    long long unit_id, dup_of; /* 0 when not needed */
    const char *outcome;       /* NULL when not needed; points into the body */
    json_t *details;           /* audit details (note, unit_id, outcome, ...): owned */
} event_req;

/* The state a transition is applied with: the locked report row and what the checks found. */
typedef struct event_ctx {
    http_req *r;
    char id[24];
    PGresult *cur; /* the report, locked (REPORT_COLUMNS) */
    const char *from;
    char unit[24], dup[24], station[24], tier[16], ack_s[16];
} event_ctx;

/* The id field `name` a transition needs (the door checked its type): 0 with *out, or the status
 * of the 400 missing_field sent (with `missing`). */
static int needed_id(http_req *r, const char *name, const char *missing, long long *out) {
    json_t *v = json_object_get(r->json, name);
    if (!v) return http_error(r, 400, "missing_field", name, "%s", missing);
    *out = json_integer_value(v);
    return 0;
}

/* The fields a transition needs (unit_id, outcome, duplicate_of) into e. 0 or the status sent. */
static int parse_needs(http_req *r, long long id, event_req *e) {
    int rc = 0;
    if (e->tr->needs == NEEDS_UNIT) {
        if ((rc = needed_id(r, "unit_id", "dispatch needs unit_id", &e->unit_id))) return rc;
        json_object_set_new(e->details, "unit_id", json_integer(e->unit_id));
    } else if (e->tr->needs == NEEDS_OUTCOME) {
        json_t *o = json_object_get(r->json, "outcome");
        if (!o) return http_error(r, 400, "missing_field", "outcome", "resolve needs outcome");
        e->outcome = json_string_value(o);
        json_object_set_new(e->details, "outcome", json_string(e->outcome));
    } else if (e->tr->needs == NEEDS_DUPLICATE_OF) {
        if ((rc = needed_id(r, "duplicate_of", "mark_duplicate needs duplicate_of", &e->dup_of)))
            return rc;
        if (e->dup_of == id)
            return http_error(r, 400, "invalid_field", "duplicate_of",
                              "a report cannot duplicate itself");
        json_object_set_new(e->details, "duplicate_of", json_integer(e->dup_of));
    }
    return 0;
}

/* What an event body {"type", "unit_id"?, "outcome"?, "duplicate_of"?, "note"?} asks for, into *e
 * (e->details owned by the caller, also on failure). The door checked the body against
 * SHAPE_REPORT_EVENT; what each type needs is the transition's rule. Returns 0, or the status of
 * the 400 sent. */
static int parse_event_body(http_req *r, long long id, event_req *e) {
    memset(e, 0, sizeof *e);
    const char *type = json_string_value(json_object_get(r->json, "type"));
    if (!(e->tr = lifecycle_find(
              type))) /* the door checked it: VOCAB_EVENT_TYPE and the table disagree */
        return http_error(r, 500, "internal", "type", "no transition for %s", type ? type : "");
    if (!(e->details = json_object())) return http_error(r, 500, "internal", NULL, "out of memory");
    json_t *note = json_object_get(r->json, "note");
    if (note && !json_is_null(note)) json_object_set(e->details, "note", note);
    return parse_needs(r, id, e);
}

/* Roles and ownership: may user u send tr for a report in `status`, made by `created_by`, held by
 * unit `rep_unit` (column texts, NULL when empty)? 0, ACTOR_ROLE (the role may not) or ACTOR_UNIT
 * (a patrol, not the report's unit). A creator may withdraw its own report while it is new. */
enum { ACTOR_ROLE = 1, ACTOR_UNIT };
static int actor_refusal(const auth_user *u, const transition *tr, const char *status,
                         const char *created_by, const char *rep_unit) {
    int own_new_report = (u->role & ROLE_FIELD) && tr == &transitions[RT_CANCEL] &&
                         vocab_find(&VOCAB_REPORT_STATUS, status) == RS_NEW && created_by &&
                         strtoll(created_by, NULL, 10) == u->id;
    if (!(u->role & tr->roles) && !own_new_report) return ACTOR_ROLE;
    /* A patrol moves only the reports dispatched to its own unit (dispatch is a dispatcher's act);
     * the report is visible to it, so this is a 403, not a 404. */
    if ((u->role & ROLE_PATROL) && !own_new_report &&
        (!u->unit_id || !rep_unit || strtoll(rep_unit, NULL, 10) != u->unit_id))
        return ACTOR_UNIT;
    return 0;
}

/* Roles and ownership: may r's user send this event for the locked report? 0 or the 403 sent. */
static int check_actor(event_ctx *c, const transition *tr) {
    http_req *r = c->r;
    int why = actor_refusal(&r->user, tr, c->from, rj_val(c->cur, 0, REPORT_COL_CREATED_BY),
                            rj_val(c->cur, 0, REPORT_COL_UNIT_ID));
    if (why == ACTOR_ROLE)
        return http_error(r, 403, "forbidden", "type", "the %s role may not %s a report",
                          auth_role_name(r->user.role), lifecycle_type(tr));
    if (why == ACTOR_UNIT)
        return http_error(r, 403, "not_your_unit", "type",
                          "only the unit the report is dispatched to may %s it",
                          lifecycle_type(tr));
    return 0;
}

json_t *lifecycle_actions(const auth_user *u, PGresult *res, int row) {
    json_t *out = json_array();
    const char *status = rj_val(res, row, REPORT_COL_STATUS);
    for (size_t i = 0; out && status && i < sizeof transitions / sizeof transitions[0]; i++)
        if (lifecycle_allows(&transitions[i], status) &&
            !actor_refusal(u, &transitions[i], status, rj_val(res, row, REPORT_COL_CREATED_BY),
                           rj_val(res, row, REPORT_COL_UNIT_ID)))
            json_array_append_new(out, json_string(lifecycle_type(&transitions[i])));
    return out;
}

/* dispatch: the unit exists in the user's division and is available (locked). 0, -1 database
 * failure, or the status sent. */
static int check_unit(event_ctx *c, long long unit_id) {
    snprintf(c->unit, sizeof c->unit, "%lld", unit_id);
    const char *pu[] = {c->unit};
    PGresult *q = db_exec(c->r->w,
                          "SELECT status, coalesce(division_code, '') FROM units"
                          " WHERE id = $1::bigint FOR UPDATE",
                          1, pu);
    if (!q) return -1;
    int rc = 0;
    /* A county sends its own units; another county's unit is answered like a missing one, so the
     * answer does not tell that it exists. */
    if (PQntuples(q) != 1 || !auth_in_scope(&c->r->user, PQgetvalue(q, 0, 1)))
        rc = http_error(c->r, 404, "not_found", "unit_id", "no such unit: %lld", unit_id);
    else if (vocab_find(&VOCAB_UNIT_STATUS, PQgetvalue(q, 0, 0)) != US_AVAILABLE)
        rc = http_error(c->r, 409, "unit_unavailable", "unit_id", "unit %lld is %s", unit_id,
                        PQgetvalue(q, 0, 0));
    PQclear(q);
    return rc;
}

/* mark_duplicate: the other report exists and the user may see it. 0, -1, or the status sent. */
static int check_duplicate_of(event_ctx *c, long long dup_of) {
    snprintf(c->dup, sizeof c->dup, "%lld", dup_of);
    const char *pd[] = {c->dup};
    PGresult *q = db_exec(c->r->w, REPORT_GET_SQL, 1, pd);
    if (!q) return -1;
    int rc = 0;
    if (PQntuples(q) != 1 || !report_row_visible(&c->r->user, q, 0))
        rc =
            http_error(c->r, 422, "unknown_report", "duplicate_of", "no such report: %lld", dup_of);
    PQclear(q);
    return rc;
}

static const char parent_sql[] =
    "SELECT p.id, p.tier FROM reports r" LIFECYCLE_PARENT_JOIN("r") " WHERE r.id = $1::bigint";

/* escalate: the escalation rule (the parent station, its tier's limit). 0, -1, or status sent. */
static int climb(event_ctx *c, json_t *details) {
    const char *p1[] = {c->id};
    PGresult *q = db_exec(c->r->w, parent_sql, 1, p1);
    if (!q) return -1;
    if (PQntuples(q) != 1) {
        PQclear(q);
        return http_error(c->r, 409, "no_parent_station", "type",
                          "the responsible station has no station above it");
    }
    snprintf(c->station, sizeof c->station, "%s", PQgetvalue(q, 0, 0));
    snprintf(c->tier, sizeof c->tier, "%s", PQgetvalue(q, 0, 1));
    PQclear(q);
    int t = vocab_find(&VOCAB_TIER, c->tier);
    snprintf(c->ack_s, sizeof c->ack_s, "%d",
             vocab_tier_ack_s(&c->r->app->cfg, t >= 0 ? (size_t)t : TIER_CITY));
    json_object_set_new(details, "from_station", rj_int(rj_val(c->cur, 0, REPORT_COL_STATION_ID)));
    json_object_set_new(details, "from_tier", rj_str(rj_val(c->cur, 0, REPORT_COL_STATION_TIER)));
    json_object_set_new(details, "to_station", json_integer(strtoll(c->station, NULL, 10)));
    json_object_set_new(details, "to_tier", json_string(c->tier));
    return 0;
}

/* The report row moves (only if still in status `from`) with its audit row, in one statement. */
static const char update_sql[] =
    "WITH up AS (UPDATE reports SET status = $3::text, unit_id = coalesce($4::bigint, unit_id),"
    " outcome = coalesce($5::text, outcome), duplicate_of = coalesce($6::bigint, duplicate_of),"
    " station_id = coalesce($7::bigint, station_id), tier = coalesce($8::text, tier),"
    " ack_deadline = CASE WHEN $9::int IS NULL THEN ack_deadline ELSE now() + make_interval(secs => $9::int) END,"
    " updated_at = now() WHERE id = $1::bigint AND status = $2::text RETURNING id),"
    " a AS (INSERT INTO report_events (report_id, type, actor_id, actor, from_status, to_status, details)"
    " SELECT id, $10::text, $11::bigint, $12::text, $2::text, $3::text, $13::jsonb FROM up)"
    " SELECT id FROM up";

/* The unit follows its report (transition columns unit_to/unit_from), with its unit.updated
 * event, inside the open transaction; a unit whose shift ended during the case goes off duty
 * rather than available (unit_shift_over, migration 0015). Returns 0 or -1. */
static int unit_follows(worker *w, const char *unit_id, const transition *tr) {
    if (tr->unit_to == NONE || !unit_id) return 0;
    char from[128];
    vocab_pg_array_bits(&VOCAB_UNIT_STATUS, tr->unit_from, from, sizeof from);
    const char *p[] = {unit_id, vocab_code(&VOCAB_UNIT_STATUS, (size_t)tr->unit_to), from,
                       lifecycle_type(tr)};
    return db_command(
        w,
        "WITH u AS (UPDATE units SET status = CASE WHEN $2::text = " VOCAB_SQL_TERM("UnitStatus", US_AVAILABLE) " AND unit_shift_over(id) THEN " VOCAB_SQL_TERM(
            "UnitStatus",
            US_OFF_DUTY) " ELSE $2::text END, updated_at = now() WHERE id = $1::bigint AND status = ANY"
                         " ($3::text[]) RETURNING *) " EVENTS_UNIT_INSERT(EK_UNIT_UPDATED, "u",
                                                                          "$4::text") " FROM u",
        4, p);
}

/* Writes the transition: report, audit row, live event, unit. 0, -1 database, or status sent. */
static int apply(event_ctx *c, const event_req *e) {
    worker *w = c->r->w;
    const char *event_name = e->tr->needs == NEEDS_PARENT
                                 ? vocab_code(&VOCAB_TIMELINE, TL_ESCALATED)
                                 : lifecycle_type(e->tr);
    char actor_id[24];
    snprintf(actor_id, sizeof actor_id, "%lld", c->r->user.id);
    char *details = json_dumps(e->details, JSON_COMPACT);
    if (!details) return http_error(c->r, 500, "internal", NULL, "out of memory");
    const char *pu[] = {c->id,
                        c->from,
                        e->tr->to == NONE ? c->from
                                          : vocab_code(&VOCAB_REPORT_STATUS, (size_t)e->tr->to),
                        *c->unit ? c->unit : NULL,
                        e->outcome,
                        *c->dup ? c->dup : NULL,
                        *c->station ? c->station : NULL,
                        *c->tier ? c->tier : NULL,
                        *c->ack_s ? c->ack_s : NULL,
                        event_name,
                        actor_id,
                        c->r->user.username,
                        details};
    PGresult *up = db_exec(w, update_sql, 13, pu);
    free(details);
    if (!up) return -1;
    int moved = PQntuples(up) == 1;
    PQclear(up);
    if (!moved) /* cannot happen under FOR UPDATE; keep the guarantee anyway */
        return http_error(c->r, 409, "invalid_transition", "type", "the report changed meanwhile");
    /* who did it (a console does not alert its user of its own acts); an escalation tells where
     * it came from, as the thread's does */
    char extra[96];
    const char *from_station = rj_val(c->cur, 0, REPORT_COL_STATION_ID);
    if (e->tr->needs == NEEDS_PARENT)
        snprintf(extra, sizeof extra, "{\"actor_id\":%s,\"from_station\":%s}", actor_id,
                 from_station ? from_station : "null");
    else
        snprintf(extra, sizeof extra, "{\"actor_id\":%s}", actor_id);
    if (events_append_report(w, EK_REPORT_UPDATED, c->id, event_name, extra) != 0) return -1;
    return unit_follows(w, *c->unit ? c->unit : rj_val(c->cur, 0, REPORT_COL_UNIT_ID), e->tr);
}

/* Under the lock: visibility, actor, status, what the transition needs, then the write. */
static int transition_locked(event_ctx *c, const event_req *e) {
    const transition *tr = e->tr;
    if (PQntuples(c->cur) != 1 || !report_row_visible(&c->r->user, c->cur, 0))
        return http_error(c->r, 404, "not_found", NULL, "no such report: %s", c->id);
    c->from = PQgetvalue(c->cur, 0, REPORT_COL_STATUS);
    int rc = check_actor(c, tr);
    if (rc) return rc;
    if (!lifecycle_allows(tr, c->from))
        return http_error(c->r, 409, "invalid_transition", "type", "cannot %s a report that is %s",
                          lifecycle_type(tr), c->from);
    rc = tr->needs == NEEDS_UNIT           ? check_unit(c, e->unit_id)
         : tr->needs == NEEDS_DUPLICATE_OF ? check_duplicate_of(c, e->dup_of)
         : tr->needs == NEEDS_PARENT       ? climb(c, e->details)
                                           : 0;
    return rc ? rc : apply(c, e);
}

static const char lock_sql[] =
    "SELECT " REPORT_COLUMNS " FROM reports r WHERE r.id = $1::bigint FOR UPDATE";

/* POST /api/v1/reports/{id}/events {"type", "unit_id"?, "outcome"?, "duplicate_of"?, "note"?} */
int h_reports_event(http_req *r) {
    worker *w = r->w;
    long long id;
    event_req e = {0};
    event_ctx c = {.r = r};
    PGresult *q = NULL;
    int rc;
    if (params_id(r->params[0], &id) != 0)
        return http_error(r, 404, "not_found", NULL, "no such report: %.40s", r->params[0]);
    if ((rc = parse_event_body(r, id, &e))) goto done;
    snprintf(c.id, sizeof c.id, "%lld", id);
    const char *p1[] = {c.id};
    if (db_begin(w) != 0 || !(c.cur = db_exec(w, lock_sql, 1, p1))) goto dberr;
    if ((rc = transition_locked(&c, &e)) > 0) goto rollback;
    if (rc < 0 || !(q = db_exec(w, REPORT_GET_SQL, 1, p1)) || db_commit(w) != 0) goto dberr;
    rc = http_json(r, 200, report_row_json(q, 0, GIS_CRS_WGS84));
    goto done;
dberr:
    db_rollback(w); /* before replying: the reply gives the slot back */
    rc = http_db_error(r);
    goto done;
rollback:
    db_rollback(w);
done:
    PQclear(c.cur);
    PQclear(q);
    json_decref(e.details);
    return rc;
}

/* ---- the escalation thread's pass ---- */

/* clang-format off */
static const char escalate_sql[] =
    "WITH due AS (SELECT r.id, r.station_id AS from_id, r.tier AS from_tier, p.id AS to_id,"
    " p.tier AS to_tier FROM reports r" LIFECYCLE_PARENT_JOIN("r")
    " WHERE r.status IN (" VOCAB_SQL_ANY("ReportStatus", VOCAB_INITIAL) ") AND r.ack_deadline < now()"
    " ORDER BY r.ack_deadline LIMIT 1000 FOR UPDATE OF r SKIP LOCKED),"
    " upd AS (UPDATE reports r SET station_id = d.to_id, tier = d.to_tier, updated_at = now(),"
    " ack_deadline = " LIFECYCLE_ACK_DEADLINE("d.to_tier", "$1") " FROM due d WHERE r.id = d.id"
    " AND r.status IN (" VOCAB_SQL_ANY("ReportStatus", VOCAB_INITIAL) ")"
    " RETURNING r.*, d.from_id, d.from_tier),"
    " ev AS (INSERT INTO report_events (report_id, type, actor, from_status, to_status, details)"
    " SELECT u.id, " VOCAB_SQL_TERM("TimelineType", TL_ESCALATED) ", 'system', u.status, u.status, json_build_object('from_station',"
    " u.from_id, 'from_tier', u.from_tier, 'to_station', u.station_id, 'to_tier', u.tier,"
    " 'reason', 'ack_deadline_passed', 'ack_deadline', u.ack_deadline) FROM upd u),"
    " le AS (" EVENTS_REPORT_INSERT(EK_REPORT_UPDATED, "u", VOCAB_SQL_TERM("TimelineType", TL_ESCALATED),
                                    "jsonb_build_object('from_station', u.from_id)")
    " FROM upd u ORDER BY u.id)"
    " SELECT count(*) FROM upd";
/* clang-format on */

int lifecycle_escalate_overdue(worker *w) {
    char limits[128];
    vocab_tier_ack_json(&w->app->cfg, limits, sizeof limits);
    const char *params[] = {limits};
    PGresult *res = db_exec(w, escalate_sql, 1, params);
    if (!res) return -1;
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}
