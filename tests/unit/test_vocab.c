/* test_vocab.c - the vocabulary tables (service/core/vocab.c) against the schema, read from the
 * migrations' own text (no database): every enum-like CHECK list equals its table (the last one
 * written for a column wins: later migrations replace constraints), the column default of a
 * report's status is the VOCAB_INITIAL term, and the partial indexes on report statuses list the
 * flagged terms. Also the SQL markers (VOCAB_SQL_ANY / VOCAB_SQL_TERM), the tiers' time limits
 * and gis/'s level names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/index.h"
#include "service/core/config.h"
#include "service/core/vocab.h"

#define MIGRATIONS "../../migrations"

/* ---- reading the migrations ---- */

enum { MAXLIST = 32, MAXFOUND = 64 };

typedef struct found {
    char what[96]; /* "table.column" of a CHECK, or an index name */
    char codes[MAXLIST][40];
    int n;
    char dflt[40]; /* the column's DEFAULT on the CHECK's line, "" when none */
} found;

static found lists[MAXFOUND];
static int nlists;

static found *slot(const char *what) {
    for (int i = 0; i < nlists; i++)
        if (strcmp(lists[i].what, what) == 0) return &lists[i];
    assert_true(nlists < MAXFOUND);
    found *f = &lists[nlists++];
    snprintf(f->what, sizeof f->what, "%s", what);
    return f;
}

/* The quoted strings from p up to the closing parenthesis (or the end of the statement). */
static void read_codes(const char *p, found *f) {
    f->n = 0;
    while (*p && *p != ')' && *p != ';') {
        if (*p++ != '\'') continue;
        const char *e = strchr(p, '\'');
        assert_non_null(e);
        assert_true(f->n < MAXLIST && e - p < 40);
        snprintf(f->codes[f->n++], 40, "%.*s", (int)(e - p), p);
        p = e + 1;
    }
}

/* The identifier after `word ` at p (CREATE TABLE x, ALTER TABLE x, CREATE INDEX x). */
static void ident_after(const char *p, const char *word, char *out, size_t n) {
    p += strlen(word);
    while (*p == ' ')
        p++;
    size_t k = 0;
    while (k + 1 < n &&
           (p[k] == '_' || (p[k] >= 'a' && p[k] <= 'z') || (p[k] >= '0' && p[k] <= '9')))
        k++;
    snprintf(out, n, "%.*s", (int)k, p);
}

/* One migration's CHECK (col IN (...)) lists, by table, and its partial indexes on status. */
static void scan(const char *sql) {
    char table[64] = "", what[96];
    for (const char *p = sql; *p; p++) {
        if (strncmp(p, "CREATE TABLE ", 13) == 0)
            ident_after(p, "CREATE TABLE", table, sizeof table);
        if (strncmp(p, "ALTER TABLE ", 12) == 0) ident_after(p, "ALTER TABLE", table, sizeof table);
        if (strncmp(p, "CREATE INDEX ", 13) == 0) {
            char name[64];
            ident_after(p, "CREATE INDEX", name, sizeof name);
            const char *end = strchr(p, ';'), *where = strstr(p, "WHERE status");
            if (where && end && where < end) read_codes(where, slot(name));
        }
        if (strncmp(p, "CHECK (", 7) != 0) continue;
        const char *c = p + 7;
        while (*c == '(')
            c++;
        char col[64];
        ident_after(c, "", col, sizeof col);
        if (!*col || strncmp(c + strlen(col), " IN (", 5) != 0) continue;
        snprintf(what, sizeof what, "%s.%s", table, col);
        found *f = slot(what);
        read_codes(c + strlen(col) + 5, f);
        f->dflt[0] = 0;
        const char *line = p;
        while (line > sql && line[-1] != '\n')
            line--;
        const char *d = strstr(line, "DEFAULT '");
        if (d && d < p) snprintf(f->dflt, sizeof f->dflt, "%.*s", (int)strcspn(d + 9, "'"), d + 9);
    }
}

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int setup(void **state) {
    (void)state;
    struct dirent **names;
    int n = scandir(MIGRATIONS, &names, NULL, by_name);
    assert_true(n > 2);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        if (len > 4 && strcmp(names[i]->d_name + len - 4, ".sql") == 0) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", MIGRATIONS, names[i]->d_name);
            FILE *f = fopen(path, "rb");
            assert_non_null(f);
            static char buf[1 << 20];
            size_t got = fread(buf, 1, sizeof buf - 1, f);
            buf[got] = 0;
            fclose(f);
            scan(buf);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

static const found *get(const char *what) {
    for (int i = 0; i < nlists; i++)
        if (strcmp(lists[i].what, what) == 0) return &lists[i];
    fail_msg("no CHECK list or index %s in the migrations", what);
    return NULL;
}

/* The codes of v whose flags include `flag` (0: all) equal the list, in any order. */
static void assert_same(const vocab *v, unsigned flag, const found *f) {
    int want = 0;
    for (size_t i = 0; i < v->n; i++) {
        if ((v->terms[i].flags & flag) != flag) continue;
        want++;
        int seen = 0;
        for (int k = 0; k < f->n; k++)
            seen |= strcmp(f->codes[k], v->terms[i].code) == 0;
        if (!seen) fail_msg("%s: %s is in vocab.c, not in the schema", f->what, v->terms[i].code);
    }
    if (want != f->n) fail_msg("%s: the schema lists %d codes, vocab.c %d", f->what, f->n, want);
}

/* ---- tests ---- */

static void checks_equal_the_tables(void **state) {
    (void)state;
    static const struct {
        const char *what;
        const vocab *v;
    } checked[] = {
        {"reports.category", &VOCAB_CATEGORY}, {"reports.status", &VOCAB_REPORT_STATUS},
        {"reports.outcome", &VOCAB_OUTCOME},   {"reports.tier", &VOCAB_TIER},
        {"stations.tier", &VOCAB_TIER},        {"units.status", &VOCAB_UNIT_STATUS},
        {"divisions.level", &VOCAB_LEVEL},     {"divisions.kind", &VOCAB_DIVISION_KIND},
        {"users.role", &VOCAB_ROLE},           {"division_changes.change", &VOCAB_DIVISION_CHANGE},
    };
    for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++)
        assert_same(checked[i].v, 0, get(checked[i].what));
    /* the migrations replaced units.status's first list (0006): the last one counts */
    assert_int_equal(get("units.status")->n, (int)VOCAB_UNIT_STATUS.n);
}

static void defaults_and_partial_indexes_are_the_flagged_terms(void **state) {
    (void)state;
    const found *status = get("reports.status");
    int initial = vocab_find(&VOCAB_REPORT_STATUS, status->dflt);
    assert_true(initial >= 0);
    assert_int_equal(VOCAB_REPORT_STATUS.terms[initial].flags & VOCAB_INITIAL, VOCAB_INITIAL);
    for (size_t i = 0; i < VOCAB_REPORT_STATUS.n; i++)
        if (VOCAB_REPORT_STATUS.terms[i].flags & VOCAB_INITIAL) assert_int_equal(i, initial);
    assert_same(&VOCAB_REPORT_STATUS, VOCAB_OPEN, get("reports_open_geom_idx"));
    assert_same(&VOCAB_REPORT_STATUS, VOCAB_INITIAL, get("reports_due_idx"));
    assert_string_equal(get("divisions.kind")->dflt, vocab_code(&VOCAB_DIVISION_KIND, DK_ADMIN));
    assert_string_equal(get("units.status")->dflt, "");
}

static void sql_markers_expand_from_the_tables(void **state) {
    (void)state;
    char out[512];
    long n = vocab_sql_expand("WHERE s IN (" VOCAB_SQL_ANY("ReportStatus", VOCAB_OPEN) ")", out,
                              sizeof out);
    assert_string_equal(out, "WHERE s IN ('new', 'acknowledged', 'dispatched', 'on_scene')");
    assert_int_equal(n, (long)strlen(out));
    vocab_sql_expand("k = " VOCAB_SQL_TERM("EventKind", EK_UNIT_CREATED), out, sizeof out);
    assert_string_equal(out, "k = 'unit.created'");
    vocab_sql_expand(VOCAB_SQL_ANY("Tier", 0) ";" VOCAB_SQL_ANY("ReportStatus", VOCAB_INITIAL), out,
                     sizeof out);
    assert_string_equal(out, "'city', 'county', 'town', 'community';'new'");
    /* like snprintf: the length needed, the text cut to fit */
    char small[9];
    n = vocab_sql_expand("x " VOCAB_SQL_ANY("Tier", 0), small, sizeof small);
    assert_int_equal(n, (long)strlen("x 'city', 'county', 'town', 'community'"));
    assert_string_equal(small, "x 'city'");
    assert_int_equal(vocab_sql_expand("plain $1", NULL, 0), 8);
    assert_false(vocab_sql_has_marker("plain $1"));
    /* a marker that names nothing fails the statement instead of matching nothing */
    assert_int_equal(vocab_sql_expand("${Nope&0}", out, sizeof out), -1);
    assert_int_equal(vocab_sql_expand("${ReportStatus#99}", out, sizeof out), -1);
    assert_int_equal(vocab_sql_expand("${Category&1}", out, sizeof out), -1); /* none flagged */
    assert_int_equal(vocab_sql_expand("${ReportStatus&x}", out, sizeof out), -1);
    assert_int_equal(vocab_sql_expand("${ReportStatus&1", out, sizeof out), -1);
}

static void tier_limits_are_the_tier_table_data(void **state) {
    (void)state;
    config c;
    config_defaults(&c);
    c.ack_city_s = 11, c.ack_county_s = 22, c.ack_town_s = 33, c.ack_community_s = 44;
    assert_int_equal(vocab_tier_ack_s(&c, TIER_CITY), 11);
    assert_int_equal(vocab_tier_ack_s(&c, TIER_COUNTY), 22);
    assert_int_equal(vocab_tier_ack_s(&c, TIER_TOWN), 33);
    assert_int_equal(vocab_tier_ack_s(&c, TIER_COMMUNITY), 44);
    assert_int_equal(vocab_tier_ack_s(&c, 99), 11);
    char json[128];
    vocab_tier_ack_json(&c, json, sizeof json);
    assert_string_equal(json, "{\"city\":11,\"county\":22,\"town\":33,\"community\":44}");
}

static void positions_and_gis_levels_agree(void **state) {
    (void)state;
    for (int t = GIS_CITY; t <= GIS_COMMUNITY; t++) {
        assert_string_equal(gis_level_name((gis_level)t), vocab_code(&VOCAB_TIER, (size_t)t));
        assert_string_equal(vocab_code(&VOCAB_TIER, (size_t)t),
                            vocab_code(&VOCAB_LEVEL, (size_t)(LEVEL_CITY + t)));
    }
    /* every vocabulary is published once, and its codes are distinct */
    size_t n;
    const vocab *const *all = vocab_all(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(all[i]->component, all[k]->component);
        for (size_t a = 0; a < all[i]->n; a++) {
            assert_non_null(all[i]->terms[a].code);
            assert_int_equal(vocab_find(all[i], all[i]->terms[a].code), (int)a);
        }
    }
    /* what a client may set a unit to: the unit statuses that do not follow a report */
    size_t k = 0;
    for (size_t i = 0; i < VOCAB_UNIT_STATUS.n; i++)
        if (!(VOCAB_UNIT_STATUS.terms[i].flags & VOCAB_HOLDS_UNIT)) {
            assert_true(k < VOCAB_UNIT_SETTABLE.n);
            assert_string_equal(vocab_code(&VOCAB_UNIT_SETTABLE, k++),
                                VOCAB_UNIT_STATUS.terms[i].code);
        }
    assert_int_equal(k, VOCAB_UNIT_SETTABLE.n);
    char arr[64];
    vocab_pg_array_bits(&VOCAB_UNIT_STATUS, 1u << US_DISPATCHED | 1u << US_BUSY, arr, sizeof arr);
    assert_string_equal(arr, "{dispatched,busy}");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checks_equal_the_tables),
        cmocka_unit_test(defaults_and_partial_indexes_are_the_flagged_terms),
        cmocka_unit_test(sql_markers_expand_from_the_tables),
        cmocka_unit_test(tier_limits_are_the_tier_table_data),
        cmocka_unit_test(positions_and_gis_levels_agree),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
