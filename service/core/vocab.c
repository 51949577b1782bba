/* vocab.c - the vocabulary tables and division-code rules (see vocab.h). */
#include "service/core/vocab.h"

#include <stdio.h>
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

VOCAB(VOCAB_REPORT_STATUS, "ReportStatus", {"new", 0, 0, 0, VOCAB_OPEN},
      {"acknowledged", 0, 0, 0, VOCAB_OPEN}, {"dispatched", 0, 0, 0, VOCAB_OPEN},
      {"on_scene", 0, 0, 0, VOCAB_OPEN}, {"resolved", 0, 0, 0, 0}, {"cancelled", 0, 0, 0, 0},
      {"duplicate", 0, 0, 0, 0});

VOCAB(VOCAB_OUTCOME, "Outcome", {"admitted_to_station", 0, 0, 0, 0}, {"escorted_home", 0, 0, 0, 0},
      {"sent_to_hospital", 0, 0, 0, 0}, {"refused_help", 0, 0, 0, 0}, {"not_found", 0, 0, 0, 0},
      {"handed_to_police", 0, 0, 0, 0});

VOCAB(VOCAB_LEVEL, "DivisionLevel", {"province", 0, 0, 0, 0}, {"city", 0, 0, 0, 0},
      {"county", 0, 0, 0, 0}, {"town", 0, 0, 0, 0}, {"community", 0, 0, 0, 0});

/* In gis_level order (GIS_CITY = 0 .. GIS_COMMUNITY = 3). */
VOCAB(VOCAB_TIER, "Tier", {"city", 0, 0, 0, 0}, {"county", 0, 0, 0, 0}, {"town", 0, 0, 0, 0},
      {"community", 0, 0, 0, 0});

VOCAB(VOCAB_UNIT_STATUS, "UnitStatus", {"available", 0, 0, 0, 0}, {"dispatched", 0, 0, 0, 0},
      {"on_scene", 0, 0, 0, 0}, {"busy", 0, 0, 0, 0}, {"off_duty", 0, 0, 0, 0});

/* dispatched and on_scene follow the unit's report (lifecycle.c): not for clients */
VOCAB(VOCAB_UNIT_SETTABLE, "UnitSettableStatus", {"available", 0, 0, 0, 0}, {"busy", 0, 0, 0, 0},
      {"off_duty", 0, 0, 0, 0});

/* One term per row of the transitions table (lifecycle). */
VOCAB(VOCAB_EVENT_TYPE, "ReportEventType", {"acknowledge", 0, 0, 0, 0}, {"dispatch", 0, 0, 0, 0},
      {"arrive", 0, 0, 0, 0}, {"resolve", 0, 0, 0, 0}, {"cancel", 0, 0, 0, 0},
      {"mark_duplicate", 0, 0, 0, 0}, {"escalate", 0, 0, 0, 0});

VOCAB(VOCAB_SEX, "Sex", {"male", 0, 0, 0, 0}, {"female", 0, 0, 0, 0}, {"unknown", 0, 0, 0, 0});

static const vocab *const all[] = {&VOCAB_CATEGORY,      &VOCAB_REPORT_STATUS, &VOCAB_OUTCOME,
                                   &VOCAB_LEVEL,         &VOCAB_TIER,          &VOCAB_UNIT_STATUS,
                                   &VOCAB_UNIT_SETTABLE, &VOCAB_EVENT_TYPE,    &VOCAB_SEX};

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

void vocab_add_schemas(json_t *schemas) {
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        json_object_set_new(schemas, all[i]->component, vocab_enum_json(all[i]));
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
