/* test_lifecycle.c - the transitions table (service/reports/lifecycle.c) as the rules API.md and
 * lifecycle.c's header state them: one row per transition type of the vocabulary, from which
 * statuses each applies, where it leads, who may send it, what it needs, and what the report's
 * unit does. No database: the table is data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "service/core/auth.h"
#include "service/core/vocab.h"
#include "service/reports/lifecycle.h"

/* The rules, written out: type, the statuses it applies to, the status it leads to (NULL: the
 * status stays), roles, needs, the unit's new status (NULL: the unit stays). */
static const struct rule {
    const char *type;
    const char *from[8];
    const char *to;
    unsigned roles;
    needs needs;
    const char *unit_to;
} rules[] = {
    {"acknowledge", {"new"}, "acknowledged", ROLE_STAFF, NEEDS_NONE, NULL},
    {"dispatch", {"new", "acknowledged"}, "dispatched", ROLE_STAFF, NEEDS_UNIT, "dispatched"},
    {"arrive", {"dispatched"}, "on_scene", ROLE_PATROL | ROLE_STAFF, NEEDS_NONE, "on_scene"},
    {"resolve",
     {"dispatched", "on_scene"},
     "resolved",
     ROLE_PATROL | ROLE_STAFF,
     NEEDS_OUTCOME,
     "available"},
    {"cancel",
     {"new", "acknowledged", "dispatched", "on_scene"},
     "cancelled",
     ROLE_STAFF,
     NEEDS_NONE,
     "available"},
    {"mark_duplicate",
     {"new", "acknowledged"},
     "duplicate",
     ROLE_STAFF,
     NEEDS_DUPLICATE_OF,
     "available"},
    {"escalate",
     {"new", "acknowledged", "dispatched", "on_scene"},
     NULL,
     ROLE_STAFF,
     NEEDS_PARENT,
     NULL},
};

static int listed(const char *const *list, const char *s) {
    for (int i = 0; i < 8 && list[i]; i++)
        if (strcmp(list[i], s) == 0) return 1;
    return 0;
}

/* Every type of the vocabulary has a row, every row a type; no other name finds one. */
static void one_row_per_vocabulary_type(void **state) {
    (void)state;
    assert_int_equal(VOCAB_EVENT_TYPE.n, sizeof rules / sizeof rules[0]);
    for (size_t i = 0; i < VOCAB_EVENT_TYPE.n; i++) {
        const transition *tr = lifecycle_find(vocab_code(&VOCAB_EVENT_TYPE, i));
        assert_non_null(tr);
        assert_string_equal(lifecycle_type(tr), vocab_code(&VOCAB_EVENT_TYPE, i));
    }
    assert_null(lifecycle_find("reopen"));
    assert_null(lifecycle_find(""));
    assert_null(lifecycle_find(NULL));
}

/* The table says what the rules say, for every type and every status. */
static void the_table_is_the_rules(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++) {
        const struct rule *r = &rules[k];
        const transition *tr = lifecycle_find(r->type);
        assert_non_null(tr);
        for (size_t s = 0; s < VOCAB_REPORT_STATUS.n; s++) {
            const char *st = vocab_code(&VOCAB_REPORT_STATUS, s);
            if (lifecycle_allows(tr, st) != listed(r->from, st))
                fail_msg("%s from %s: the table says %d", r->type, st, lifecycle_allows(tr, st));
        }
        assert_false(lifecycle_allows(tr, "alien"));
        if (r->to)
            assert_string_equal(vocab_code(&VOCAB_REPORT_STATUS, (size_t)tr->to), r->to);
        else
            assert_int_equal(tr->to, -1);
        assert_int_equal(tr->roles, r->roles);
        assert_int_equal(tr->needs, r->needs);
        if (r->unit_to)
            assert_string_equal(vocab_code(&VOCAB_UNIT_STATUS, (size_t)tr->unit_to), r->unit_to);
        else
            assert_int_equal(tr->unit_to, -1);
    }
}

/* What must hold whatever the rows say: a closed report never moves; a transition ends where
 * it may be; a unit follows its report exactly when the report holds or releases it. */
static void invariants(void **state) {
    (void)state;
    for (size_t i = 0; i < VOCAB_EVENT_TYPE.n; i++) {
        const transition *tr = lifecycle_find(vocab_code(&VOCAB_EVENT_TYPE, i));
        for (size_t s = 0; s < VOCAB_REPORT_STATUS.n; s++)
            if (!(VOCAB_REPORT_STATUS.terms[s].flags & VOCAB_OPEN))
                assert_false(lifecycle_allows(tr, vocab_code(&VOCAB_REPORT_STATUS, s)));
        assert_true(tr->to == -1 || (size_t)tr->to < VOCAB_REPORT_STATUS.n);
        assert_true(tr->unit_to == -1 || (size_t)tr->unit_to < VOCAB_UNIT_STATUS.n);
        assert_int_equal(tr->unit_from >> VOCAB_UNIT_STATUS.n, 0);
        assert_int_equal(tr->roles & ~(unsigned)ROLE_ANY, 0);
        assert_int_equal(tr->roles & ROLE_COMMUNITY, 0); /* community officers only withdraw */
        if (tr->to < 0) continue;
        int holds = (VOCAB_REPORT_STATUS.terms[tr->to].flags & VOCAB_HOLDS_UNIT) != 0;
        if (holds) { /* the unit takes the report's status */
            assert_true(tr->unit_to >= 0);
            assert_string_equal(vocab_code(&VOCAB_UNIT_STATUS, (size_t)tr->unit_to),
                                vocab_code(&VOCAB_REPORT_STATUS, (size_t)tr->to));
            assert_true(VOCAB_UNIT_STATUS.terms[tr->unit_to].flags & VOCAB_HOLDS_UNIT);
        } else if (tr->unit_to >= 0) { /* released: available again, from wherever it was */
            assert_int_equal(tr->unit_to, US_AVAILABLE);
            assert_true(tr->unit_from & 1u << US_DISPATCHED);
            assert_true(tr->unit_from & 1u << US_ON_SCENE);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_row_per_vocabulary_type),
        cmocka_unit_test(the_table_is_the_rules),
        cmocka_unit_test(invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
