/* test_events.c - the event reader's gap rule (events.h) and the stream's visibility (visible():
 * the report rule of auth.h with the creator clause, the unit rule by role), on the static
 * functions of service/core/events.c (included here; the Makefile links without events.o). No
 * database: each case is the sequence of (id, xmin, xmax) polls a reader would see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "service/core/events.c"

/* Ids visible in one poll, in id order, and the poll's snapshot. */
typedef struct poll_case {
    long long ids[8];
    int n;
    long long xmin, xmax;
} poll_case;

/* Runs one poll through gap_admit as reader_poll does; returns how many ids it delivered. */
static int poll_once(reader *rd, const poll_case *p) {
    int delivered = 0;
    for (int i = 0; i < p->n; i++) {
        if (!gap_admit(rd, p->ids[i], p->xmin, p->xmax)) break;
        rd->last = p->ids[i];
        delivered++;
    }
    return delivered;
}

/* No gap: everything in order goes out at once. */
static void no_gap_delivers_everything(void **state) {
    (void)state;
    reader rd = {.last = 10};
    poll_case p = {{11, 12, 13}, 3, 100, 105};
    assert_int_equal(poll_once(&rd, &p), 3);
    assert_int_equal(rd.last, 13);
    assert_int_equal(rd.gap_at, 0);
}

/* Id 12 is missing while 13 is visible: the reader stops before 13 and remembers the snapshot's
 * xmax; it waits while a transaction that began before that snapshot still runs. */
static void a_gap_waits_for_the_transactions_that_may_hold_it(void **state) {
    (void)state;
    reader rd = {.last = 10};
    poll_case first = {{11, 13, 14}, 3, 100, 110};
    assert_int_equal(poll_once(&rd, &first), 1); /* 11, then the gap before 13 */
    assert_int_equal(rd.last, 11);
    assert_int_equal(rd.gap_at, 12);
    assert_int_equal(rd.gap_xmax, 110);
    poll_case still = {{13, 14}, 2, 109, 120}; /* xmin 109 < 110: 12's transaction may run */
    assert_int_equal(poll_once(&rd, &still), 0);
    assert_int_equal(rd.gap_xmax, 110);           /* the first sighting's xmax, not a later one */
    poll_case late = {{12, 13, 14}, 3, 109, 121}; /* 12 committed meanwhile: in order again */
    assert_int_equal(poll_once(&rd, &late), 3);
    assert_int_equal(rd.last, 14);
    assert_int_equal(rd.gap_at, 0);
}

/* 12 never commits (rolled back): once every transaction that was running at the first sighting
 * has ended (xmin >= that xmax), the reader passes the hole, and never goes back for it. */
static void a_rolled_back_id_is_passed_once_its_transactions_ended(void **state) {
    (void)state;
    reader rd = {.last = 11};
    poll_case first = {{13}, 1, 100, 110};
    assert_int_equal(poll_once(&rd, &first), 0);
    poll_case ended = {{13, 14}, 2, 110, 130};
    assert_int_equal(poll_once(&rd, &ended), 2);
    assert_int_equal(rd.last, 14);
    /* a later hole is a new gap: its own snapshot is waited for */
    poll_case next = {{16}, 1, 131, 140};
    assert_int_equal(poll_once(&rd, &next), 0);
    assert_int_equal(rd.gap_at, 15);
    assert_int_equal(rd.gap_xmax, 140);
    poll_case too_soon = {{16}, 1, 139, 141};
    assert_int_equal(poll_once(&rd, &too_soon), 0);
}

/* A gap seen for the first time is never passed in the same poll, whatever the snapshot says:
 * the xmax to wait for is only known from this snapshot. */
static void a_new_gap_is_never_passed_at_first_sight(void **state) {
    (void)state;
    reader rd = {.last = 0};
    poll_case p = {{5}, 1, 1000, 1000}; /* nothing running at all */
    assert_int_equal(poll_once(&rd, &p), 0);
    assert_int_equal(poll_once(&rd, &p), 1);
    assert_int_equal(rd.last, 5);
}

/* ---- visibility of a streamed event ---- */

static ev event_of(int kind, long long entity, const char *division, long long creator) {
    ev e = {.id = 1, .entity_id = entity, .kind = kind, .report_creator = creator};
    e.unit = kind >= 0 && (VOCAB_EVENT_KIND.terms[kind].flags & VOCAB_EV_UNIT);
    snprintf(e.division, sizeof e.division, "%s", division);
    return e;
}

static void report_events_follow_the_visibility_rule(void **state) {
    (void)state;
    auth_user patrol = {.id = 7, .role = ROLE_PATROL, .division_code = "320706000000"};
    auth_user city = {.id = 8, .role = ROLE_DISPATCHER, .division_code = "320700000000"};
    ev own_elsewhere = event_of(EK_REPORT_CREATED, 1, "320724001001", 7);
    ev other_elsewhere = event_of(EK_REPORT_UPDATED, 2, "320724001001", 9);
    ev home = event_of(EK_REPORT_UPDATED, 3, "320706002003", 9);
    ev outside = event_of(EK_REPORT_CREATED, 4, "", 9);
    assert_true(visible(&patrol, &own_elsewhere)); /* its own report across the county line */
    assert_false(visible(&patrol, &other_elsewhere));
    assert_true(visible(&patrol, &home));
    assert_false(visible(&patrol, &outside));
    assert_true(visible(&city, &other_elsewhere));
    assert_true(visible(&city, &outside)); /* outside every division: city-wide users */
    /* and the same answers as the rule itself, for every case */
    const ev *all[] = {&own_elsewhere, &other_elsewhere, &home, &outside};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(visible(&patrol, all[i]),
                         auth_report_visible(&patrol, all[i]->report_creator, all[i]->division));
}

static void unit_events_by_role_and_unknown_kinds_never(void **state) {
    (void)state;
    auth_user patrol = {
        .id = 7, .role = ROLE_PATROL, .division_code = "320706000000", .unit_id = 3};
    auth_user community = {.id = 9, .role = ROLE_COMMUNITY, .division_code = "320706001001"};
    auth_user county = {.id = 8, .role = ROLE_DISPATCHER, .division_code = "320706000000"};
    ev mine = event_of(EK_UNIT_POSITION, 3, "320706000000", 0);
    ev other = event_of(EK_UNIT_UPDATED, 4, "320706000000", 0);
    ev far = event_of(EK_UNIT_CREATED, 5, "320724000000", 0);
    ev unknown = event_of(-1, 6, "320706000000", 7);
    assert_true(visible(&patrol, &mine));
    assert_false(visible(&patrol, &other));
    assert_false(visible(&community, &mine));
    assert_true(visible(&county, &other));
    assert_false(visible(&county, &far));
    assert_false(visible(&county, &unknown));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_gap_delivers_everything),
        cmocka_unit_test(a_gap_waits_for_the_transactions_that_may_hold_it),
        cmocka_unit_test(a_rolled_back_id_is_passed_once_its_transactions_ended),
        cmocka_unit_test(a_new_gap_is_never_passed_at_first_sight),
        cmocka_unit_test(report_events_follow_the_visibility_rule),
        cmocka_unit_test(unit_events_by_role_and_unknown_kinds_never),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
