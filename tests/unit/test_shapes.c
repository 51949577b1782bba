/* test_shapes.c - every request shape accepts a valid body and rejects, field by field, a wrong
 * type, a missing required field, a string too long, a value out of its vocabulary or range, with
 * the field's own name in the error; the JSON Schema has the table's properties and required. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "service/core/vocab.h"
#include "service/door/shapes.h"

#define REPORT                                                                                          \
    "{\"client_id\":\"0b9e5c3a-1f2d-4c5e-8a7b-9c0d1e2f3a4b\",\"category\":\"vagrant\","                 \
    "\"location\":{\"lon\":119.2,\"lat\":34.6,\"crs\":\"wgs84\",\"accuracy_m\":5},"                     \
    "\"observed_at\":\"2024-01-01T08:00:00+08:00\",\"description\":\"d\",\"people_count\":2,"           \
    "\"person\":{\"sex\":\"male\",\"approx_age\":30,\"appearance\":\"a\",\"name_if_known\":\"n\"},"     \
    "\"source\":\"phone\",\"channel\":\"12345\",\"contact\":{\"first_name\":\"f\",\"last_name\":\"l\"," \
    "\"phone\":\"1\",\"email\":\"e\",\"address_string\":\"a\"}}"
#define POSITION                                                                                   \
    "{\"location\":{\"lon\":119.2,\"lat\":34.6,\"crs\":\"gcj02\",\"accuracy_m\":5},"               \
    "\"accuracy_m\":3,\"speed_mps\":1.5,\"heading\":90,\"at\":\"2024-01-01T00:00:00Z\"}"

#define SHIFT                                                                                      \
    "{\"starts_at\":\"2024-01-01T08:00:00+08:00\",\"ends_at\":\"2024-01-01T16:00:00+08:00\","      \
    "\"members\":[1],\"note\":\"n\"}"
#define STATION                                                                                    \
    "{\"code\":\"HZ-1\",\"name\":\"n\",\"tier\":\"county\",\"division_code\":\"320706\","          \
    "\"location\":{\"lon\":119.2,\"lat\":34.6,\"crs\":\"wgs84\",\"accuracy_m\":5},"                \
    "\"address\":\"a\",\"phone\":\"p\",\"beds\":3,\"coverage\":{\"type\":\"Polygon\","             \
    "\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]},\"can_dispatch\":true,\"parent_id\":1}"
#define AGENCY "{\"name\":\"n\",\"kind\":\"police\",\"division_code\":\"320706\"}"

static const struct {
    const shape *s;
    const char *valid;
} cases[] = {
    {&SHAPE_LOGIN, "{\"username\":\"patrol\",\"password\":\"demo\"}"},
    {&SHAPE_PASSWORD, "{\"current_password\":\"a\",\"new_password\":\"b\"}"},
    {&SHAPE_REPORT, REPORT},
    {&SHAPE_BATCH, "{\"reports\":[" REPORT "]}"},
    {&SHAPE_REPORT_EVENT, "{\"type\":\"resolve\",\"note\":\"n\",\"unit_id\":1,"
                          "\"outcome\":\"escorted_home\",\"duplicate_of\":2}"},
    {&SHAPE_UNIT_CREATE, "{\"name\":\"巡逻一组\",\"callsign\":\"HZ-1\",\"station_id\":3}"},
    {&SHAPE_UNIT_STATUS, "{\"status\":\"busy\"}"},
    {&SHAPE_POSITIONS, "{\"positions\":[" POSITION "],"
                       "\"queue\":{\"length\":2,\"oldest_at\":\"2024-01-01T00:00:00Z\"}}"},
    {&SHAPE_POSITION, POSITION},
    {&SHAPE_UNIT_PATCH, "{\"name\":\"a\",\"callsign\":\"c\",\"station_id\":3,\"agency_id\":2,"
                        "\"vehicle\":\"v\",\"members\":[1,2]}"},
    {&SHAPE_UNIT_MEMBERS, "{\"members\":[1]}"},
    {&SHAPE_SHIFT, SHIFT},
    {&SHAPE_SHIFT_PATCH, SHIFT},
    {&SHAPE_STATION, STATION},
    {&SHAPE_STATION_PATCH, STATION},
    {&SHAPE_AGENCY, AGENCY},
    {&SHAPE_AGENCY_PATCH, AGENCY},
    {&SHAPE_USER,
     "{\"username\":\"u\",\"password\":\"p\",\"role\":\"patrol\","
     "\"division_code\":\"320706\",\"unit_id\":1,\"station_id\":2,\"disabled\":false}"},
    {&SHAPE_USER_PATCH, "{\"role\":\"patrol\",\"division_code\":\"320706\",\"unit_id\":1,"
                        "\"station_id\":2,\"disabled\":true}"},
    {&SHAPE_RESET, "{\"username\":\"u\",\"code\":\"ABCD\",\"new_password\":\"x\"}"},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

static json_t *parse(const char *text) {
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j) fail_msg("bad test JSON: %s", err.text);
    return j;
}

/* The object holding the field at keys[0..depth) inside root. */
static json_t *parent_of(json_t *root, const char *const *keys, int depth) {
    for (int i = 0; i < depth; i++)
        root = json_object_get(root, keys[i]);
    return root;
}

typedef struct ctx {
    const shape *root;
    const json_t *valid;
    const char *keys[4];
    int depth;
} ctx;

/* Sets field f (at the ctx's depth) of a copy of the valid body to v (NULL: removes it) and
 * checks it: expect_ok, or an error with status, code and f's path. */
static void try(const ctx *c, const shape_field *f, json_t *v, int expect_ok, int status,
                const char *code) {
    json_t *body = json_deep_copy(c->valid);
    json_t *parent = parent_of(body, c->keys, c->depth);
    if (v)
        json_object_set_new(parent, f->name, v);
    else
        json_object_del(parent, f->name);
    shape_error e;
    memset(&e, 0, sizeof e);
    int rc = shape_check(c->root, body, &e);
    if (expect_ok) {
        if (rc != 0)
            fail_msg("%s.%s: rejected a valid value: %s", c->root->name, f->path, e.message);
    } else {
        if (rc == 0) fail_msg("%s.%s: accepted a bad value", c->root->name, f->path);
        assert_non_null(e.field);
        assert_string_equal(e.field, f->path);
        assert_string_equal(e.code, code);
        assert_int_equal(e.status, status);
        assert_true(strstr(e.message, f->path) != NULL);
    }
    json_decref(body);
}

static json_t *repeat(const char *unit, size_t n) {
    char s[4096 * 2 + 1] = "";
    size_t len = 0, ul = strlen(unit);
    for (size_t i = 0; i < n && len + ul < sizeof s; i++, len += ul)
        memcpy(s + len, unit, ul);
    s[len] = 0;
    return json_string(s);
}

static void check_fields(ctx *c, const shape *s);

static void check_field(ctx *c, const shape_field *f) {
    const char *code = f->code ? f->code : "invalid_field";
    /* wrong JSON type */
    json_t *wrong = f->type == SHAPE_STRING ? json_integer(12) : json_string("x");
    try(c, f, wrong, 0, 400, code);
    /* absent */
    if (f->flags & SF_REQUIRED)
        try(c, f, NULL, 0, 400, f->flags & SF_MISSING_INVALID ? code : "missing_field");
    else
        try(c, f, NULL, 1, 0, NULL);
    if (f->flags & SF_NULLABLE) try(c, f, json_null(), 1, 0, NULL);
    if (f->type == SHAPE_STRING && f->vocab) {
        try(c, f, json_string("no_such_code"), 0, 400, code);
        for (size_t i = 0; i < f->vocab->n; i++)
            try(c, f, json_string(vocab_code(f->vocab, i)), 1, 0, NULL);
    }
    if (f->type == SHAPE_STRING && f->fmt) try(c, f, json_string("not valid!"), 0, 400, code);
    if (f->type == SHAPE_STRING && f->max > 0) {
        const char *u = f->flags & SF_BYTES ? "a" : "é"; /* characters count, not bytes */
        try(c, f, repeat(u, (size_t)f->max), 1, 0, NULL);
        try(c, f, repeat(u, (size_t)f->max + 1), 0, 400, code);
        if (f->min > 0) try(c, f, json_string(""), 0, 400, code);
    }
    if ((f->type == SHAPE_INTEGER || f->type == SHAPE_NUMBER) && (f->flags & SF_RANGE)) {
        int in = f->type == SHAPE_INTEGER;
        try(c, f, in ? json_integer((json_int_t)f->min) : json_real(f->min), 1, 0, NULL);
        try(c, f, in ? json_integer((json_int_t)f->max) : json_real(f->max), 1, 0, NULL);
        try(c, f, in ? json_integer((json_int_t)f->min - 1) : json_real(f->min - 0.5), 0, 400,
            code);
        try(c, f, in ? json_integer((json_int_t)f->max + 1) : json_real(f->max + 0.5), 0, 400,
            code);
        if (in) try(c, f, json_real(f->min + 0.5), 0, 400, code);
    }
    if (f->type == SHAPE_ID) {
        try(c, f, json_integer(0), 0, 400, code);
        try(c, f, json_integer(-3), 0, 400, code);
        try(c, f, json_integer(1), 1, 0, NULL);
    }
    if (f->type == SHAPE_IDS) { /* distinct positive integers, at most max */
        try(c, f, json_pack("[i,i]", 1, 2), 1, 0, NULL);
        try(c, f, json_array(), 1, 0, NULL);
        try(c, f, json_pack("[i,i]", 1, 0), 0, 400, code);
        try(c, f, json_pack("[i,i]", 3, 3), 0, 400, code);
        try(c, f, json_pack("[s]", "1"), 0, 400, code);
        json_t *many = json_array();
        for (int i = 1; i <= (int)f->max + 1; i++)
            json_array_append_new(many, json_integer(i));
        try(c, f, many, 0, 400, code);
    }
    if (f->type == SHAPE_BOOLEAN) {
        try(c, f, json_true(), 1, 0, NULL);
        try(c, f, json_integer(1), 0, 400, code);
    }
    if (f->type == SHAPE_ARRAY && f->max > 0) {
        json_t *item = json_array_get(
            json_object_get(parent_of((json_t *)c->valid, c->keys, c->depth), f->name), 0);
        json_t *many = json_array();
        for (size_t i = 0; i <= (size_t)f->max; i++)
            json_array_append(many, item);
        try(c, f, many, 0, f->too_many_status ? f->too_many_status : 400,
            f->too_many_code ? f->too_many_code : "invalid_field");
        if (f->min > 0) try(c, f, json_array(), 0, 400, "invalid_field");
    }
    if (f->type == SHAPE_OBJECT && f->sub) {
        c->keys[c->depth++] = f->name;
        check_fields(c, f->sub);
        c->depth--;
    }
}

static void check_fields(ctx *c, const shape *s) {
    for (size_t i = 0; i < s->n; i++)
        check_field(c, &s->fields[i]);
}

static void every_field(void **state) {
    (void)state;
    for (int i = 0; i < NCASES; i++) {
        json_t *valid = parse(cases[i].valid);
        shape_error e;
        if (shape_check(cases[i].s, valid, &e) != 0)
            fail_msg("%s rejects its valid body: %s", cases[i].s->name, e.message);
        ctx c = {.root = cases[i].s, .valid = valid};
        check_fields(&c, cases[i].s);
        json_decref(valid);
    }
}

static void not_an_object(void **state) {
    (void)state;
    json_t *arr = json_array();
    for (int i = 0; i < NCASES; i++) {
        const shape *s = cases[i].s;
        shape_error e;
        assert_int_equal(shape_check(s, arr, &e), -1);
        if (s->body_code) {
            assert_string_equal(e.code, s->body_code);
            assert_null(e.field);
        } else { /* read as {}: the first required field is answered */
            assert_string_equal(e.field, s->fields[0].path);
        }
    }
    json_decref(arr);
}

/* Today's answers the integration tests rely on. */
static void known_answers(void **state) {
    (void)state;
    shape_error e;
    json_t *b = parse("{\"client_id\":\"x\"}");
    assert_int_equal(shape_check(&SHAPE_REPORT, b, &e), -1);
    assert_string_equal(e.code, "invalid_field");
    assert_string_equal(e.field, "client_id");
    json_decref(b);
    b = parse("{\"client_id\":\"0b9e5c3a-1f2d-4c5e-8a7b-9c0d1e2f3a4b\",\"category\":\"x\"}");
    assert_int_equal(shape_check(&SHAPE_REPORT, b, &e), -1);
    assert_string_equal(e.code, "invalid_category");
    assert_string_equal(e.message, "category must be one of: vagrant, beggar, lost_elderly, minor, "
                                   "mental_illness, injured_or_ill, other");
    json_decref(b);
    b = parse("{\"positions\":[]}");
    assert_int_equal(shape_check(&SHAPE_POSITIONS, b, &e), -1);
    assert_string_equal(e.message, "positions is empty");
    json_decref(b);
    b = parse("{\"username\":\"u\"}");
    assert_int_equal(shape_check(&SHAPE_LOGIN, b, &e), -1);
    assert_string_equal(e.code, "invalid_field");
    assert_string_equal(e.message, "password must be a string");
    json_decref(b);
}

static void check_schema(const shape *s, json_t *schema) {
    json_t *props = json_object_get(schema, "properties"),
           *req = json_object_get(schema, "required");
    assert_string_equal(json_string_value(json_object_get(schema, "title")), shape_name(s));
    assert_int_equal(json_object_size(props), s->n);
    size_t nreq = 0;
    for (size_t i = 0; i < s->n; i++) {
        const shape_field *f = &s->fields[i];
        json_t *p = json_object_get(props, f->name);
        assert_non_null(p);
        if (f->flags & SF_REQUIRED) {
            int found = 0;
            for (size_t k = 0; k < json_array_size(req); k++)
                found |= strcmp(json_string_value(json_array_get(req, k)), f->name) == 0;
            assert_true(found);
            nreq++;
        }
        if (f->vocab) {
            json_t *en = json_object_get(p, "enum");
            assert_int_equal(json_array_size(en), f->vocab->n + !!(f->flags & SF_NULLABLE));
            for (size_t k = 0; k < f->vocab->n; k++)
                assert_string_equal(json_string_value(json_array_get(en, k)),
                                    vocab_code(f->vocab, k));
        }
        if (f->type == SHAPE_STRING && f->max > 0 && !f->vocab && !f->fmt)
            assert_int_equal(json_integer_value(json_object_get(p, "maxLength")), (int)f->max);
        if (f->type == SHAPE_OBJECT && f->sub) check_schema(f->sub, p);
        if (f->type == SHAPE_ARRAY && f->sub) check_schema(f->sub, json_object_get(p, "items"));
    }
    assert_int_equal(json_array_size(req), nreq);
}

static void schemas(void **state) {
    (void)state;
    for (int i = 0; i < NCASES; i++) {
        json_t *schema = shape_schema(cases[i].s);
        check_schema(cases[i].s, schema);
        json_decref(schema);
    }
    json_t *all = json_object();
    shapes_add_schemas(all);
    assert_non_null(json_object_get(all, "ReportInput"));
    assert_non_null(json_object_get(all, "LoginRequest"));
    json_decref(all);
}

static void vocabulary(void **state) {
    (void)state;
    char out[128], code[13];
    assert_int_equal(vocab_find(&VOCAB_TIER, "town"), 2);
    assert_int_equal(vocab_find(&VOCAB_TIER, NULL), -1);
    assert_int_equal(vocab_parse_list(&VOCAB_REPORT_STATUS, "new, resolved", out, sizeof out), 0);
    assert_string_equal(out, "{new,resolved}");
    assert_int_equal(vocab_parse_list(&VOCAB_REPORT_STATUS, "new,", out, sizeof out), -1);
    assert_int_equal(vocab_parse_list(&VOCAB_REPORT_STATUS, "open", out, sizeof out), -1);
    vocab_pg_array(&VOCAB_REPORT_STATUS, VOCAB_OPEN, VOCAB_OPEN, out, sizeof out);
    assert_string_equal(out, "{new,acknowledged,dispatched,on_scene}");
    vocab_pg_array(&VOCAB_REPORT_STATUS, VOCAB_OPEN, 0, out, sizeof out);
    assert_string_equal(out, "{resolved,cancelled,duplicate}");
    assert_int_equal(vocab_code12("320706", 4, code), 0);
    assert_string_equal(code, "320706000000");
    assert_int_equal(vocab_code12("32", 4, code), -1);
    assert_int_equal(vocab_code12("32", 2, code), 0);
    assert_int_equal(vocab_code12("3207a6", 2, code), -1);
    assert_int_equal(vocab_code12("32070", 2, code), -1);
    vocab_code_prefix("320706001000", out);
    assert_string_equal(out, "320706001");
    assert_true(vocab_code_within("320706001002", "320706"));
    assert_false(vocab_code_within("320724001002", "320706"));
    assert_true(vocab_code_within(NULL, "3207"));
    assert_false(vocab_code_within("", "320706"));
}

/* Form bodies as the door reads them: decoded, `a[b]` nested, numbers typed, empty values left
 * out; a repeated name, a bad escape, NUL, bytes that are not UTF-8 and too many fields refused. */
static void forms(void **state) {
    (void)state;
    const char *good = "api_key=demo&service_code=vagrant&lat=34.57&long=119.16&description=a+b%2Bc"
                       "&attribute%5Bpeople_count%5D=2&attribute[sex]=female&email=";
    json_t *f = NULL;
    shape_error e;
    assert_int_equal(shape_form(&SHAPE_O311_REQUEST, good, strlen(good), &f, &e), 0);
    assert_true(json_is_real(json_object_get(f, "lat")));
    assert_string_equal(json_string_value(json_object_get(f, "description")), "a b+c");
    json_t *attrs = json_object_get(f, "attribute");
    assert_true(json_is_integer(json_object_get(attrs, "people_count")));
    assert_string_equal(json_string_value(json_object_get(attrs, "sex")), "female");
    assert_null(json_object_get(f, "email")); /* empty: absent */
    assert_int_equal(shape_check(&SHAPE_O311_REQUEST, f, &e), 0);
    json_decref(f);
    static const struct {
        const char *body, *why;
    } bad[] = {{"lat=1&lat=2", "twice"},        {"lat=%zz", "%"},
               {"description=%ff%fe", "UTF-8"}, {"description=a%00b", "NUL"},
               {"a[b]=1&a[b]=2", "twice"},      {"x=1&x", "twice"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = NULL;
        assert_int_equal(shape_form(&SHAPE_O311_REQUEST, bad[i].body, strlen(bad[i].body), &f, &e),
                         -1);
        assert_null(f);
        assert_int_equal(e.status, 400);
        if (!strstr(e.message, bad[i].why)) fail_msg("%s: %s", bad[i].body, e.message);
    }
    char many[1024] = "";
    for (int i = 0; i < 65; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "f%d=1&", i);
    assert_int_equal(shape_form(&SHAPE_O311_REQUEST, many, strlen(many), &f, &e), -1);
    assert_non_null(strstr(e.message, "too many fields"));
    /* a form's numbers that are not numbers stay text, and the shape refuses them */
    const char *north = "service_code=vagrant&lat=north&long=119&attribute[people_count]=1.5";
    assert_int_equal(shape_form(&SHAPE_O311_REQUEST, north, strlen(north), &f, &e), 0);
    assert_int_equal(shape_check(&SHAPE_O311_REQUEST, f, &e), -1);
    assert_string_equal(e.field, "lat");
    json_decref(f);
}

/* A keyed shape: an error after the key passed may still meet a stored copy; one on the key (or
 * on the body's type) may not. */
static void keys(void **state) {
    (void)state;
    shape_error e;
    json_t *b = json_loads("{\"client_id\":\"0b9e5c3a-1f2d-4c5e-8a7b-9c0d1e2f3a4b\","
                           "\"category\":\"alien\"}",
                           0, NULL);
    assert_int_equal(shape_check(&SHAPE_REPORT, b, &e), -1);
    assert_true(shape_key_passed(&SHAPE_REPORT, &e));
    json_object_set_new(b, "client_id", json_string("nope"));
    assert_int_equal(shape_check(&SHAPE_REPORT, b, &e), -1);
    assert_false(shape_key_passed(&SHAPE_REPORT, &e));
    json_decref(b);
    b = json_array();
    assert_int_equal(shape_check(&SHAPE_REPORT, b, &e), -1);
    assert_false(shape_key_passed(&SHAPE_REPORT, &e));
    assert_false(shape_key_passed(&SHAPE_UNIT_STATUS, &e)); /* no key */
    json_decref(b);
}

/* The day, week, month and time-of-day formats of new bodies agree with the query kinds. */
static void calendar_formats(void **state) {
    (void)state;
    static const shape_field fields[] = {
        {.name = "on", .path = "on", .type = SHAPE_STRING, .fmt = &FMT_DATE},
        {.name = "week", .path = "week", .type = SHAPE_STRING, .fmt = &FMT_WEEK},
        {.name = "month", .path = "month", .type = SHAPE_STRING, .fmt = &FMT_MONTH},
        {.name = "from", .path = "from", .type = SHAPE_STRING, .fmt = &FMT_TIMEOFDAY},
    };
    static const shape plan = {"Plan", "invalid_body", "send an object", fields, 4, NULL};
    shape_error e;
    json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "on", "2026-11-30", "week", "2026-W53", "month",
                          "2026-11", "from", "20:00");
    assert_int_equal(shape_check(&plan, b, &e), 0);
    static const char *const bad[][2] = {
        {"on", "2026-02-30"}, {"week", "2025-W53"}, {"month", "2026-13"}, {"from", "24:00"}};
    for (size_t i = 0; i < 4; i++) {
        json_t *c = json_deep_copy(b);
        json_object_set_new(c, bad[i][0], json_string(bad[i][1]));
        assert_int_equal(shape_check(&plan, c, &e), -1);
        assert_string_equal(e.field, bad[i][0]);
        json_decref(c);
    }
    json_decref(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_field),   cmocka_unit_test(not_an_object),
        cmocka_unit_test(known_answers), cmocka_unit_test(schemas),
        cmocka_unit_test(vocabulary),    cmocka_unit_test(forms),
        cmocka_unit_test(keys),          cmocka_unit_test(calendar_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
