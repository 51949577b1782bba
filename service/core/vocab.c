/* vocab.c - the vocabulary tables and division-code rules (see vocab.h). */
#include "service/core/vocab.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB(name, component, ...)                                                                \
    static const vocab_term name##_terms[] = {__VA_ARGS__};                                        \
    const vocab name = {component, name##_terms, sizeof name##_terms / sizeof name##_terms[0]}

VOCAB(VOCAB_CATEGORY, "Category",
      {"vagrant", "流浪人员 / Vagrant",
       "露宿街头、无固定住所的人员 / A person sleeping rough or without a home",
       "流浪,露宿,homeless,vagrant,rough sleeper", 0},
      {"beggar", "乞讨人员 / Beggar", "街面乞讨人员 / A person begging in the street",
       "乞讨,begging,beggar", 0},
      {"lost_elderly", "走失老人 / Lost elderly person",
       "迷路或走失的老人 / An elderly person who seems lost or confused",
       "走失,老人,elderly,lost,dementia", 0},
      {"minor", "未成年人 / Unaccompanied minor",
       "无人陪伴的未成年人 / A child or teenager alone and in need",
       "未成年人,儿童,child,minor,unaccompanied", 0},
      {"mental_illness", "精神障碍患者 / Person with mental illness",
       "疑似精神障碍、需要帮助的人员 / A person who seems mentally ill and in need of help",
       "精神,mental illness,psychiatric", 0},
      {"injured_or_ill", "伤病人员 / Injured or ill person",
       "受伤或患病的街面人员 / A person in the street who is hurt or ill",
       "受伤,生病,injured,ill,sick", 0},
      {"other", "其他 / Other", "其他需要救助的街面人员 / Anyone else in the street who needs help",
       "求助,救助,other,help", 0});

VOCAB(VOCAB_REPORT_STATUS,
      "ReportStatus", [RS_NEW] = {.code = "new", .flags = VOCAB_OPEN | VOCAB_INITIAL},
      [RS_ACKNOWLEDGED] = {.code = "acknowledged", .flags = VOCAB_OPEN},
      [RS_DISPATCHED] = {.code = "dispatched", .flags = VOCAB_OPEN | VOCAB_HOLDS_UNIT},
      [RS_ON_SCENE] = {.code = "on_scene", .flags = VOCAB_OPEN | VOCAB_HOLDS_UNIT},
      [RS_RESOLVED] = {.code = "resolved"}, [RS_CANCELLED] = {.code = "cancelled"},
      [RS_DUPLICATE] = {.code = "duplicate"});

VOCAB(VOCAB_OUTCOME, "Outcome", {"admitted_to_station", 0, 0, 0, 0}, {"escorted_home", 0, 0, 0, 0},
      {"sent_to_hospital", 0, 0, 0, 0}, {"refused_help", 0, 0, 0, 0}, {"not_found", 0, 0, 0, 0},
      {"handed_to_police", 0, 0, 0, 0});

VOCAB(VOCAB_LEVEL, "DivisionLevel", [LEVEL_PROVINCE] = {.code = "province"},
      [LEVEL_CITY] = {.code = "city"}, [LEVEL_COUNTY] = {.code = "county"},
      [LEVEL_TOWN] = {.code = "town"}, [LEVEL_COMMUNITY] = {.code = "community"});
_Static_assert(LEVEL_CITY + TIER_COMMUNITY == LEVEL_COMMUNITY, "levels are the province + tiers");

/* In gis_level order (GIS_CITY = 0 .. GIS_COMMUNITY = 3); tier_ack: each tier's setting that holds
 * its acknowledgement time limit. */
VOCAB(VOCAB_TIER, "Tier", [TIER_CITY] = {.code = "city"}, [TIER_COUNTY] = {.code = "county"},
      [TIER_TOWN] = {.code = "town"}, [TIER_COMMUNITY] = {.code = "community"});
static const size_t tier_ack[] = {[TIER_CITY] = offsetof(config, ack_city_s),
                                  [TIER_COUNTY] = offsetof(config, ack_county_s),
                                  [TIER_TOWN] = offsetof(config, ack_town_s),
                                  [TIER_COMMUNITY] = offsetof(config, ack_community_s)};

VOCAB(VOCAB_UNIT_STATUS, "UnitStatus", [US_AVAILABLE] = {.code = "available"},
      [US_DISPATCHED] = {.code = "dispatched", .flags = VOCAB_HOLDS_UNIT},
      [US_ON_SCENE] = {.code = "on_scene", .flags = VOCAB_HOLDS_UNIT}, [US_BUSY] = {.code = "busy"},
      [US_OFF_DUTY] = {.code = "off_duty"});

/* dispatched and on_scene follow the unit's report (lifecycle.c): not for clients */
VOCAB(VOCAB_UNIT_SETTABLE, "UnitSettableStatus", {"available", 0, 0, 0, 0}, {"busy", 0, 0, 0, 0},
      {"off_duty", 0, 0, 0, 0});

/* One term per row of the transitions table (lifecycle.c). */
VOCAB(VOCAB_EVENT_TYPE, "ReportEventType", [RT_ACKNOWLEDGE] = {.code = "acknowledge"},
      [RT_DISPATCH] = {.code = "dispatch"}, [RT_ARRIVE] = {.code = "arrive"},
      [RT_RESOLVE] = {.code = "resolve"}, [RT_CANCEL] = {.code = "cancel"},
      [RT_MARK_DUPLICATE] = {.code = "mark_duplicate"}, [RT_ESCALATE] = {.code = "escalate"});

/* The live events: a new kind is one row here (its flag names its payload shape and who may see
 * it, events_append.h and events.c) and the code that appends it. */
VOCAB(VOCAB_EVENT_KIND, "EventKind",
      [EK_REPORT_CREATED] = {.code = "report.created",
                             .flags = VOCAB_EV_REPORT,
                             .description = "a report was filed"},
      [EK_REPORT_UPDATED] = {.code = "report.updated",
                             .flags = VOCAB_EV_REPORT,
                             .description = "a report changed (payload.event says how)"},
      [EK_UNIT_CREATED] = {.code = "unit.created",
                           .flags = VOCAB_EV_UNIT,
                           .description = "a unit was created"},
      [EK_UNIT_UPDATED] = {.code = "unit.updated",
                           .flags = VOCAB_EV_UNIT,
                           .description = "a unit's status changed"},
      [EK_UNIT_POSITION] = {
          .code = "unit.position", .flags = VOCAB_EV_UNIT, .description = "a unit moved"});

VOCAB(VOCAB_SEX, "Sex", {"male", "男 / Male", 0, 0, 0}, {"female", "女 / Female", 0, 0, 0},
      {"unknown", "不详 / Unknown", 0, 0, 0});

/* In the order of the ROLE_* bits (auth.h). */
VOCAB(VOCAB_ROLE, "Role", [RO_PATROL] = {.code = "patrol"}, [RO_COMMUNITY] = {.code = "community"},
      [RO_DISPATCHER] = {.code = "dispatcher"}, [RO_SUPERVISOR] = {.code = "supervisor"},
      [RO_ADMIN] = {.code = "admin"});

/* An administrative division, or a development zone that overlaps them (reports list its zones). */
VOCAB(VOCAB_DIVISION_KIND,
      "DivisionKind", [DK_ADMIN] = {.code = "admin"}, [DK_ZONE] = {.code = "zone"});

VOCAB(VOCAB_DIVISION_CHANGE,
      "DivisionChange", [DC_NEW] = {.code = "new"}, [DC_RENAMED] = {.code = "renamed"},
      [DC_MERGED] = {.code = "merged"}, [DC_ABOLISHED] = {.code = "abolished"});

static const vocab *const all[] = {
    &VOCAB_CATEGORY,    &VOCAB_REPORT_STATUS, &VOCAB_OUTCOME,        &VOCAB_LEVEL,      &VOCAB_TIER,
    &VOCAB_UNIT_STATUS, &VOCAB_UNIT_SETTABLE, &VOCAB_EVENT_TYPE,     &VOCAB_EVENT_KIND, &VOCAB_SEX,
    &VOCAB_ROLE,        &VOCAB_DIVISION_KIND, &VOCAB_DIVISION_CHANGE};

const vocab *const *vocab_all(size_t *n) {
    *n = sizeof all / sizeof all[0];
    return all;
}

int vocab_find(const vocab *v, const char *s) {
    for (size_t i = 0; s && i < v->n; i++)
        if (strcmp(s, v->terms[i].code) == 0) return (int)i;
    return -1;
}

const char *vocab_code(const vocab *v, size_t i) {
    return v->terms[i].code;
}

void vocab_message(const vocab *v, const char *field, int list, char *out, size_t outlen) {
    char codes[512];
    vocab_join(v, ", ", codes, sizeof codes);
    snprintf(out, outlen, "%s must be %s: %s", field, list ? "a comma-separated list of" : "one of",
             codes);
}

/* Appends s at *len of out (outlen > 0), cutting it short at the end. */
static void put(char *out, size_t outlen, size_t *len, const char *s) {
    size_t n = strlen(s);
    if (*len + n >= outlen) n = outlen - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = 0;
}

void vocab_join(const vocab *v, const char *sep, char *out, size_t outlen) {
    size_t len = 0;
    if (!outlen) return;
    out[0] = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (i) put(out, outlen, &len, sep);
        put(out, outlen, &len, v->terms[i].code);
    }
}

void vocab_pg_array(const vocab *v, unsigned mask, unsigned want, char *out, size_t outlen) {
    size_t len = 0;
    int first = 1;
    if (!outlen) return;
    out[0] = 0;
    put(out, outlen, &len, "{");
    for (size_t i = 0; i < v->n; i++) {
        if ((v->terms[i].flags & mask) != want) continue;
        if (!first) put(out, outlen, &len, ",");
        put(out, outlen, &len, v->terms[i].code);
        first = 0;
    }
    put(out, outlen, &len, "}");
}

int vocab_parse_list(const vocab *v, const char *in, char *out, size_t outlen) {
    size_t len = 0;
    out[len++] = '{';
    const char *p = in;
    int count = 0;
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e) e = p + strlen(p);
        while (p < e && *p == ' ')
            p++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        int ok = 0;
        for (size_t i = 0; i < v->n && !ok; i++)
            ok = strlen(v->terms[i].code) == (size_t)(t - p) &&
                 memcmp(v->terms[i].code, p, (size_t)(t - p)) == 0;
        if (!ok || len + (size_t)(t - p) + 3 > outlen) return -1;
        if (count++) out[len++] = ',';
        memcpy(out + len, p, (size_t)(t - p));
        len += (size_t)(t - p);
        p = *e ? e + 1 : e;
        if (*e && !*p) return -1; /* trailing comma */
    }
    if (!count) return -1;
    out[len++] = '}';
    out[len] = 0;
    return 0;
}

json_t *vocab_enum_json(const vocab *v) {
    json_t *e = json_array();
    for (size_t i = 0; i < v->n; i++)
        json_array_append_new(e, json_string(v->terms[i].code));
    return json_pack("{s:s,s:o}", "type", "string", "enum", e);
}

/* The flags by name, as the published schemas list them ("x-flags"). */
static const struct {
    unsigned flag;
    const char *name;
} flag_names[] = {{VOCAB_OPEN, "open"},
                  {VOCAB_INITIAL, "initial"},
                  {VOCAB_HOLDS_UNIT, "holds_unit"},
                  {VOCAB_EV_REPORT, "report"},
                  {VOCAB_EV_UNIT, "unit"}};

void vocab_add_schemas(json_t *schemas) {
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        json_t *s = vocab_enum_json(all[i]), *flags = json_object();
        for (size_t f = 0; f < sizeof flag_names / sizeof flag_names[0]; f++) {
            json_t *codes = json_array();
            for (size_t k = 0; k < all[i]->n; k++)
                if (all[i]->terms[k].flags & flag_names[f].flag)
                    json_array_append_new(codes, json_string(all[i]->terms[k].code));
            if (json_array_size(codes))
                json_object_set_new(flags, flag_names[f].name, codes);
            else
                json_decref(codes);
        }
        if (json_object_size(flags))
            json_object_set_new(s, "x-flags", flags);
        else
            json_decref(flags);
        json_object_set_new(schemas, all[i]->component, s);
    }
}

void vocab_pg_array_bits(const vocab *v, unsigned bits, char *out, size_t outlen) {
    size_t len = 0;
    if (!outlen) return;
    out[0] = 0;
    put(out, outlen, &len, "{");
    for (size_t i = 0, first = 1; i < v->n; i++) {
        if (!(bits >> i & 1)) continue;
        if (!first) put(out, outlen, &len, ",");
        put(out, outlen, &len, v->terms[i].code);
        first = 0;
    }
    put(out, outlen, &len, "}");
}

int vocab_tier_ack_s(const config *c, size_t t) {
    if (t >= sizeof tier_ack / sizeof tier_ack[0]) t = TIER_CITY; /* unknown: the city's */
    return *(const int *)((const char *)c + tier_ack[t]);
}

void vocab_tier_ack_json(const config *c, char *out, size_t outlen) {
    size_t len = 0;
    char item[64];
    if (!outlen) return;
    out[0] = 0;
    put(out, outlen, &len, "{");
    for (size_t t = 0; t < VOCAB_TIER.n; t++) {
        snprintf(item, sizeof item, "%s\"%s\":%d", t ? "," : "", VOCAB_TIER.terms[t].code,
                 vocab_tier_ack_s(c, t));
        put(out, outlen, &len, item);
    }
    put(out, outlen, &len, "}");
}

/* ---- vocabulary values in SQL ---- */

int vocab_sql_has_marker(const char *sql) {
    return strstr(sql, "${") != NULL;
}

/* Appends n bytes of s to out at *len, counting what does not fit. */
static void sql_put(char *out, size_t outlen, size_t *len, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++, (*len)++)
        if (*len + 1 < outlen) out[*len] = s[i];
}

/* The codes one marker "${V&F}" or "${V#I}" (m points after "${", up to end) stands for, quoted
 * and comma-separated, appended to out. Returns 0, or -1 when it names nothing. */
static int sql_marker(const char *m, const char *end, char *out, size_t outlen, size_t *len) {
    const char *op = m;
    while (op < end && *op != '&' && *op != '#')
        op++;
    const vocab *v = NULL;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && op < end; i++)
        if (strlen(all[i]->component) == (size_t)(op - m) &&
            memcmp(all[i]->component, m, (size_t)(op - m)) == 0)
            v = all[i];
    char *num_end;
    unsigned long x = v ? strtoul(op + 1, &num_end, 10) : 0;
    if (!v || num_end != end || num_end == op + 1) return -1;
    int count = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (*op == '#' ? i != x : (v->terms[i].flags & x) != x) continue;
        if (count++) sql_put(out, outlen, len, ", ", 2);
        sql_put(out, outlen, len, "'", 1);
        sql_put(out, outlen, len, v->terms[i].code, strlen(v->terms[i].code));
        sql_put(out, outlen, len, "'", 1);
    }
    return count ? 0 : -1;
}

long vocab_sql_expand(const char *sql, char *out, size_t outlen) {
    size_t len = 0;
    for (const char *p = sql; *p;) {
        const char *m = strstr(p, "${");
        if (!m) m = p + strlen(p);
        sql_put(out, outlen, &len, p, (size_t)(m - p));
        if (!*m) break;
        const char *end = strchr(m, '}');
        if (!end || sql_marker(m + 2, end, out, outlen, &len) != 0) return -1;
        p = end + 1;
    }
    if (outlen) out[len < outlen ? len : outlen - 1] = 0;
    return (long)len;
}

int vocab_code12(const char *in, int min_digits, char out[13]) {
    size_t n = in ? strlen(in) : 0;
    if (!(n == 2 && min_digits <= 2) && n != 4 && n != 6 && n != 9 && n != 12) return -1;
    for (size_t i = 0; i < n; i++)
        if (in[i] < '0' || in[i] > '9') return -1;
    memcpy(out, in, n);
    memset(out + n, '0', 12 - n);
    out[12] = 0;
    return 0;
}

void vocab_code_prefix(const char *code12, char out[13]) {
    static const int cut[] = {2, 4, 6, 9};
    int n = 12;
    for (int i = 0; i < 4; i++) {
        int zeros = 1;
        for (int k = cut[i]; k < 12 && code12[k]; k++)
            zeros &= code12[k] == '0';
        if (zeros) {
            n = cut[i];
            break;
        }
    }
    memcpy(out, code12, (size_t)n);
    out[n] = 0;
}

int vocab_code_within(const char *code12, const char *prefix) {
    if (!code12 || !*code12) return strlen(prefix) <= 4;
    return strncmp(code12, prefix, strlen(prefix)) == 0;
}
