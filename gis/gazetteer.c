/* gazetteer.c - the in-memory gazetteer (see gazetteer.h): names and aliases normalised into one
 * text arena; a sorted key array for exact and prefix matches; per-character and per-bigram
 * posting lists (each ordered by name length) for substrings; sorted pinyin strings (full and
 * initials) for pinyin prefixes; a sorted code array; a KD-tree of unit vectors for nearest. */
#include "gis/gazetteer.h"

#include <math.h>
#include <opencc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gis/pinyin.h"
#include "gis/transform.h"

enum { MAX_KEY_BYTES = 255, MAX_PY_VARIANTS = 4, MAX_PY_BYTES = 250 };

/* ---- growable byte arena and arrays ---- */

typedef struct {
    char *p;
    size_t n, cap;
} arena;

/* Appends s[0..len) and a NUL; returns the offset or (size_t)-1 on out of memory. */
/* qsort, also of nothing: qsort(NULL, 0, ...) is undefined (UBSan says so). */
static void sort_n(void *p, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    if (n > 1) qsort(p, n, size, cmp);
}

static size_t arena_put(arena *a, const char *s, size_t len) {
    if (a->n + len + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 1 << 16;
        while (cap < a->n + len + 1)
            cap *= 2;
        char *p = realloc(a->p, cap);
        if (!p) return (size_t)-1;
        a->p = p, a->cap = cap;
    }
    size_t off = a->n;
    memcpy(a->p + off, s, len);
    a->p[off + len] = 0;
    a->n += len + 1;
    return off;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q, *cap = c;
    return 0;
}

/* Gives back unused capacity; 0 when done (p may move), -1 when left as it was. */
static int shrink(void **p, size_t bytes) {
    if (!*p || !bytes) return -1;
    void *q = realloc(*p, bytes);
    if (!q) return -1;
    *p = q;
    return 0;
}

/* ---- UTF-8 and normalisation ---- */

/* Decodes one strict UTF-8 sequence at s (n bytes left). Returns its length and *cp, or -1. */
static int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return -1;
    unsigned c = s[0];
    if (c < 0x80) return *cp = c, 1;
    int len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (!len || (size_t)len > n || c > 0xF4) return -1;
    uint32_t v = c & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    return *cp = v, len;
}

static int utf8_encode(uint32_t cp, char *o) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Counts the characters of valid UTF-8. */
static int utf8_count(const char *s, size_t n) {
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static pthread_once_t cc_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t cc_mu = PTHREAD_MUTEX_INITIALIZER;
static opencc_t cc = (opencc_t)-1;

/* Characters OpenCC t2s changes when alone (bit set): text without any of them skips OpenCC. A
 * character OpenCC maps only inside a phrase still gets the phrase rule, since a string holding a
 * marked character is converted whole. */
static uint8_t cc_marked[0x10000 / 8];

static void cc_open(void) {
    cc = opencc_open("t2s.json");
    if (cc == (opencc_t)-1) return;
    enum { LO = 0x3400, HI = 0xFFEF };
    char *all = malloc((size_t)(HI - LO + 1) * 4), *o = all;
    char *conv = NULL;
    if (all) {
        for (uint32_t cp = LO; cp <= HI; cp++)
            if (cp < 0xD800 || cp > 0xDFFF) o += utf8_encode(cp, o), *o++ = '\n';
        conv = opencc_convert_utf8(cc, all, (size_t)(o - all));
    }
    const char *c = conv;
    for (uint32_t cp = LO; c && cp <= HI; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        char enc[4];
        int n = utf8_encode(cp, enc);
        const char *nl = strchr(c, '\n');
        if (!nl) {
            c = NULL;
            break;
        }
        if (nl - c != n || memcmp(c, enc, (size_t)n) != 0) cc_marked[cp >> 3] |= 1u << (cp & 7);
        c = nl + 1;
    }
    if (!c) memset(cc_marked, 0xFF, sizeof cc_marked); /* lines lost: always convert */
    if (conv) opencc_convert_utf8_free(conv);
    free(all);
}

int gaz_normalize(const char *in, size_t len, char *out, size_t outlen) {
    char tmp[4 * GAZ_MAX_QUERY_BYTES + 8];
    char *buf = len < GAZ_MAX_QUERY_BYTES ? tmp : malloc(len + 1);
    if (!buf) return -2;
    size_t o = 0;
    int ascii = 1, rc = -1; /* ascii: nothing OpenCC would change */
    pthread_once(&cc_once, cc_open);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int n = utf8_decode((const unsigned char *)in + i, len - i, &cp);
        if (n < 0 || cp == 0) goto done;
        i += (size_t)n;
        if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0; /* full-width ASCII */
        if (cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n' || cp == 0x3000 || cp == 0xA0 ||
            cp == 0x200B || cp == 0xFEFF)
            continue;
        if (cp >= 'A' && cp <= 'Z') cp += 32;
        if (cp > 0xFFFF || (cc_marked[cp >> 3] >> (cp & 7) & 1)) ascii = 0;
        o += (size_t)utf8_encode(cp, buf + o);
    }
    buf[o] = 0;
    const char *src = buf;
    char *conv = NULL;
    if (!ascii) {
        if (cc != (opencc_t)-1) {
            pthread_mutex_lock(&cc_mu);
            conv = opencc_convert_utf8(cc, buf, o);
            pthread_mutex_unlock(&cc_mu);
            if (conv) src = conv;
        }
    }
    size_t sl = strlen(src);
    if (sl + 1 > outlen) {
        rc = -2;
    } else {
        memcpy(out, src, sl + 1);
        rc = utf8_count(out, sl);
    }
    if (conv) opencc_convert_utf8_free(conv);
done:
    if (buf != tmp) free(buf);
    return rc;
}

/* ---- structures ---- */

typedef struct {
    uint32_t entry;
    uint32_t str; /* offset of the normalised text in g->norm */
    uint16_t len; /* bytes */
    uint8_t alias;
    uint8_t nchars;
} gkey;

typedef struct {
    uint32_t str; /* offset in g->py */
    uint32_t entry;
    uint32_t nchars; /* of the entry's name */
} pykey;

typedef struct {
    double v[3];
    uint32_t entry;
} kdpt;

typedef struct {
    uint32_t name, level, vf, vt; /* offsets in b->txt; vf/vt (uint32_t)-1 for NULL */
    char parent[13], replaced[13];
} bextra;

struct gaz_builder {
    arena txt;
    gaz_entry *ent;
    bextra *ex;
    size_t n, cap, excap;
    char **alias_txt; /* per entry: given aliases joined by '\n' (owned), or NULL */
    size_t acap;
};

struct gaz {
    _Atomic int refs;
    arena txt, norm, py;
    gaz_entry *ent;
    size_t n;
    gkey *keys;
    size_t nkeys;
    uint32_t *sorted; /* key ids by normalised text */
    uint64_t *srank;  /* per sorted[] slot: entry nchars << 32 | entry, for range scans */
    uint32_t *codes;  /* division entries by code */
    size_t ncodes;
    /* gram hash: unigrams and bigrams -> posting ranges into post[] */
    uint64_t *gk;
    uint32_t *gstart, *gcount;
    size_t gcap, ngrams; /* while building: a hash table of gcap slots; then ngrams sorted */
    uint32_t *post;
    size_t npost;
    pykey *pyfull, *pyinit;
    size_t npyfull, npyinit;
    kdpt *kd;
    size_t nkd;
};

/* ---- builder ---- */

gaz_builder *gaz_builder_create(void) {
    return calloc(1, sizeof(gaz_builder));
}

void gaz_builder_destroy(gaz_builder *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++)
        free(b->alias_txt[i]);
    free(b->alias_txt);
    free(b->txt.p);
    free(b->ent);
    free(b->ex);
    free(b);
}

static int is_code12(const char *c) {
    if (!c || strlen(c) != 12) return 0;
    for (int i = 0; i < 12; i++)
        if (c[i] < '0' || c[i] > '9') return 0;
    return 1;
}

static uint32_t put_opt(arena *a, const char *s, int *oom) {
    if (!s) return (uint32_t)-1;
    size_t off = arena_put(a, s, strlen(s));
    if (off == (size_t)-1) *oom = 1;
    return (uint32_t)off;
}

int gaz_builder_add(gaz_builder *b, gaz_kind kind, const char *code, long long id, const char *name,
                    const char *level, const char *parent_code, const char *const *aliases,
                    double lon, double lat, const char *valid_from, const char *valid_to,
                    const char *replaced_by, char *err, size_t errlen) {
    char norm[MAX_KEY_BYTES + 1];
    if (kind == GAZ_DIVISION && !is_code12(code)) {
        snprintf(err, errlen, "division code %.20s is not 12 digits", code ? code : "(null)");
        return -1;
    }
    int nc = name ? gaz_normalize(name, strlen(name), norm, sizeof norm) : -1;
    if (nc <= 0) {
        snprintf(err, errlen, "%s %s%lld: name missing, not UTF-8 or too long",
                 kind == GAZ_DIVISION ? "division" : "entry", kind == GAZ_DIVISION ? code : "",
                 kind == GAZ_DIVISION ? 0LL : id);
        return -1;
    }
    if (grow((void **)&b->ent, &b->cap, b->n + 1, sizeof *b->ent) ||
        grow((void **)&b->ex, &b->excap, b->n + 1, sizeof *b->ex) ||
        grow((void **)&b->alias_txt, &b->acap, b->n + 1, sizeof *b->alias_txt)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    gaz_entry *e = &b->ent[b->n];
    bextra *x = &b->ex[b->n];
    memset(e, 0, sizeof *e);
    memset(x, 0, sizeof *x);
    int oom = 0;
    e->kind = (uint8_t)kind;
    snprintf(e->code, sizeof e->code, "%s", code && is_code12(code) ? code : "");
    e->id = id;
    e->lon = lon, e->lat = lat;
    e->parent = e->replaced_by = -1;
    e->nchars = (uint16_t)nc;
    e->former = valid_to != NULL;
    x->name = put_opt(&b->txt, name, &oom);
    x->level = put_opt(&b->txt, level ? level : "", &oom);
    x->vf = put_opt(&b->txt, valid_from, &oom);
    x->vt = put_opt(&b->txt, valid_to, &oom);
    snprintf(x->parent, sizeof x->parent, "%s", is_code12(parent_code) ? parent_code : "");
    snprintf(x->replaced, sizeof x->replaced, "%s", is_code12(replaced_by) ? replaced_by : "");
    char *al = NULL;
    size_t alen = 0;
    for (int i = 0; aliases && aliases[i]; i++) {
        size_t l = strlen(aliases[i]);
        char *q = realloc(al, alen + l + 2);
        if (!q) {
            oom = 1;
            break;
        }
        al = q;
        memcpy(al + alen, aliases[i], l);
        alen += l;
        al[alen++] = '\n';
        al[alen] = 0;
    }
    b->alias_txt[b->n] = al;
    if (oom) {
        free(al);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->n++;
    return 0;
}

/* ---- finishing ---- */

static _Thread_local const gaz *sort_g;

static int cmp_code(const void *a, const void *b) {
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    int c = strcmp(sort_g->ent[i].code, sort_g->ent[j].code);
    return c ? c : (i > j) - (i < j);
}

static int cmp_key_text(const void *a, const void *b) {
    const gkey *x = &sort_g->keys[*(const uint32_t *)a], *y = &sort_g->keys[*(const uint32_t *)b];
    int c = strcmp(sort_g->norm.p + x->str, sort_g->norm.p + y->str);
    return c ? c : (x->entry > y->entry) - (x->entry < y->entry);
}

static int cmp_key_len(const void *a, const void *b) {
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    uint16_t x = sort_g->ent[sort_g->keys[i].entry].nchars,
             y = sort_g->ent[sort_g->keys[j].entry].nchars;
    return x != y ? (x > y) - (x < y) : (i > j) - (i < j);
}

static int cmp_py(const void *a, const void *b) {
    const pykey *x = a, *y = b;
    int c = strcmp(sort_g->py.p + x->str, sort_g->py.p + y->str);
    return c ? c : (x->entry > y->entry) - (x->entry < y->entry);
}

int32_t gaz_find_code(const gaz *g, const char *code) {
    char c[13];
    size_t n = code ? strlen(code) : 0;
    if (n != 4 && n != 6 && n != 9 && n != 12) return -1;
    for (size_t i = 0; i < n; i++)
        if (code[i] < '0' || code[i] > '9') return -1;
    memset(c, '0', 12);
    memcpy(c, code, n);
    c[12] = 0;
    size_t lo = 0, hi = g->ncodes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(g->ent[g->codes[mid]].code, c);
        if (r == 0) {
            /* a former division may share its code with today's: prefer the one in force */
            size_t k = mid;
            while (k > 0 && strcmp(g->ent[g->codes[k - 1]].code, c) == 0)
                k--;
            int32_t best = (int32_t)g->codes[k];
            for (; k < g->ncodes && strcmp(g->ent[g->codes[k]].code, c) == 0; k++)
                if (!g->ent[g->codes[k]].former) return (int32_t)g->codes[k];
            return best;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int add_key(gaz *g, size_t *kcap, uint32_t entry, const char *s, size_t len, int alias) {
    if (len == 0 || len > MAX_KEY_BYTES) return 0;
    /* the same text twice for one entry is one key */
    for (size_t k = g->nkeys; k > 0 && g->keys[k - 1].entry == entry; k--)
        if (g->keys[k - 1].len == len && memcmp(g->norm.p + g->keys[k - 1].str, s, len) == 0)
            return 0;
    if (grow((void **)&g->keys, kcap, g->nkeys + 1, sizeof *g->keys)) return -1;
    size_t off = arena_put(&g->norm, s, len);
    if (off == (size_t)-1) return -1;
    g->keys[g->nkeys++] = (gkey){entry, (uint32_t)off, (uint16_t)len, (uint8_t)alias,
                                 (uint8_t)(utf8_count(s, len) > 255 ? 255 : utf8_count(s, len))};
    return 0;
}

static const char *const suffixes[] = {"社区居民委员会",
                                       "街道办事处",
                                       "村民委员会",
                                       "居民委员会",
                                       "社区居委会",
                                       "管理委员会",
                                       "居委会",
                                       "村委会",
                                       "管委会",
                                       "自治县",
                                       "自治州",
                                       "自治区",
                                       "街道",
                                       "社区",
                                       "新区",
                                       "地区",
                                       "镇",
                                       "乡",
                                       "村",
                                       "区",
                                       "县",
                                       "市",
                                       "省",
                                       NULL};

/* Length of s[0..len) without its longest administrative suffix, leaving >= 2 characters; len
 * when no suffix applies. */
static size_t strip_suffix(const char *s, size_t len) {
    for (int i = 0; suffixes[i]; i++) {
        size_t l = strlen(suffixes[i]);
        if (len > l && memcmp(s + len - l, suffixes[i], l) == 0 && utf8_count(s, len - l) >= 2)
            return len - l;
    }
    return len;
}

/* 1 when s[0..len) is nothing but administrative suffixes (村委会, 社区居委会): no name left. */
static int is_suffix_word(const char *s, size_t len) {
    for (int round = 0; round < 4 && len; round++) {
        int hit = 0;
        for (int i = 0; suffixes[i] && !hit; i++) {
            size_t l = strlen(suffixes[i]);
            if (len >= l && memcmp(s + len - l, suffixes[i], l) == 0) len -= l, hit = 1;
        }
        if (!hit) return 0;
    }
    return len == 0;
}

/* Adds s and its suffix-stripped forms as aliases of entry. */
static int add_forms(gaz *g, size_t *kcap, uint32_t entry, const char *s, size_t len, int alias) {
    if (add_key(g, kcap, entry, s, len, alias)) return -1;
    for (int round = 0; round < 3; round++) {
        size_t l = strip_suffix(s, len);
        if (l == len) break;
        len = l;
        if (add_key(g, kcap, entry, s, len, 1)) return -1;
    }
    return 0;
}

/* Replaces the first `from` in s by `to` into out; 0 when from is absent. */
static size_t replace(const char *s, size_t len, const char *from, const char *to, char *out,
                      size_t outlen) {
    size_t fl = strlen(from), tl = strlen(to);
    for (size_t i = 0; i + fl <= len; i++)
        if (memcmp(s + i, from, fl) == 0) {
            if (len - fl + tl >= outlen) return 0;
            memcpy(out, s, i);
            memcpy(out + i, to, tl);
            memcpy(out + i + tl, s + i + fl, len - i - fl);
            out[len - fl + tl] = 0;
            return len - fl + tl;
        }
    return 0;
}

/* Every key of entry i: its name and derived forms, then the given aliases. */
static int entry_keys(gaz *g, size_t *kcap, uint32_t i, const char *given) {
    const gaz_entry *e = &g->ent[i];
    char nm[MAX_KEY_BYTES + 1], pn[MAX_KEY_BYTES + 1], tmp[2][MAX_KEY_BYTES + 8];
    int nc = gaz_normalize(e->name, strlen(e->name), nm, sizeof nm);
    if (nc <= 0) return 0;
    size_t len = strlen(nm);
    if (add_forms(g, kcap, i, nm, len, 0)) return -1;
    /* forms to derive from: the name, and the name without its parent's name */
    const char *forms[2] = {nm, NULL};
    size_t flen[2] = {len, 0};
    if (e->parent >= 0) {
        int pc =
            gaz_normalize(g->ent[e->parent].name, strlen(g->ent[e->parent].name), pn, sizeof pn);
        size_t pl = pc > 0 ? strip_suffix(pn, strlen(pn)) : 0;
        if (pl && len > pl && memcmp(nm, pn, pl) == 0 && utf8_count(nm + pl, len - pl) >= 2 &&
            !is_suffix_word(nm + pl, len - pl)) {
            forms[1] = nm + pl, flen[1] = len - pl;
            if (add_forms(g, kcap, i, forms[1], flen[1], 1)) return -1;
        }
    }
    static const char *const shorts[][2] = {{"经济技术开发区", "开发区"},
                                            {"经济技术开发区", "经开区"},
                                            {"高新技术产业开发区", "高新区"},
                                            {"高新技术产业开发区", "开发区"}};
    for (int f = 0; f < 2 && forms[f]; f++)
        for (size_t s = 0; s < sizeof shorts / sizeof shorts[0]; s++) {
            size_t l =
                replace(forms[f], flen[f], shorts[s][0], shorts[s][1], tmp[s & 1], sizeof tmp[0]);
            if (l && add_key(g, kcap, i, tmp[s & 1], l, 1)) return -1;
        }
    for (const char *p = given; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char an[MAX_KEY_BYTES + 1];
        if (l && gaz_normalize(p, l, an, sizeof an) > 0 && add_forms(g, kcap, i, an, strlen(an), 1))
            return -1;
        p += l + (nl != NULL);
    }
    return 0;
}

static inline uint64_t gram_hash(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 29);
}

/* Slot of gram k in the table (its own or the empty one where it would go). */
static size_t gram_slot(const gaz *g, uint64_t k) {
    size_t m = g->gcap - 1, i = (size_t)gram_hash(k) & m;
    while (g->gcount[i] && g->gk[i] != k)
        i = (i + 1) & m;
    return i;
}

static int gram_rehash(gaz *g, size_t cap) {
    uint64_t *ok = g->gk;
    uint32_t *oc = g->gcount;
    size_t ocap = g->gcap;
    g->gk = malloc(cap * sizeof *g->gk);
    g->gcount = calloc(cap, sizeof *g->gcount);
    if (!g->gk || !g->gcount) {
        free(g->gk), free(g->gcount);
        g->gk = ok, g->gcount = oc;
        return -1;
    }
    g->gcap = cap;
    for (size_t i = 0; i < ocap; i++)
        if (oc[i]) {
            size_t s = gram_slot(g, ok[i]);
            g->gk[s] = ok[i], g->gcount[s] = oc[i];
        }
    free(ok), free(oc);
    return 0;
}

/* The distinct unigrams and bigrams of a key into grams; returns how many. */
static int key_grams(const gaz *g, const gkey *k, uint64_t *grams, int max) {
    uint32_t cps[MAX_KEY_BYTES];
    int n = 0, ng = 0;
    const unsigned char *s = (const unsigned char *)g->norm.p + k->str;
    for (size_t i = 0; i < k->len;) {
        int l = utf8_decode(s + i, k->len - i, &cps[n]);
        if (l < 0) break;
        i += (size_t)l, n++;
    }
    for (int i = 0; i < n && ng < max; i++) {
        uint64_t c[2] = {cps[i],
                         i + 1 < n ? (1ull << 63) | ((uint64_t)cps[i] << 21) | cps[i + 1] : 0};
        for (int j = 0; j < 2 && ng < max; j++) {
            if (!c[j]) continue;
            int dup = 0;
            for (int d = 0; d < ng && !dup; d++)
                dup = grams[d] == c[j];
            if (!dup) grams[ng++] = c[j];
        }
    }
    return ng;
}

static int cmp_gram(const void *a, const void *b) {
    uint64_t x = sort_g->gk[*(const uint32_t *)a], y = sort_g->gk[*(const uint32_t *)b];
    return (x > y) - (x < y);
}

static int build_grams(gaz *g, const uint32_t *bylen) {
    uint64_t grams[2 * MAX_KEY_BYTES];
    size_t used = 0;
    if (gram_rehash(g, 1 << 16)) return -1;
    for (size_t t = 0; t < g->nkeys; t++) {
        int ng = key_grams(g, &g->keys[bylen[t]], grams, 2 * MAX_KEY_BYTES);
        for (int j = 0; j < ng; j++) {
            size_t s = gram_slot(g, grams[j]);
            if (!g->gcount[s]) {
                if (2 * (used + 1) > g->gcap) {
                    if (gram_rehash(g, g->gcap * 2)) return -1;
                    s = gram_slot(g, grams[j]);
                }
                g->gk[s] = grams[j], used++;
            }
            g->gcount[s]++;
            g->npost++;
        }
    }
    g->gstart = malloc(g->gcap * sizeof *g->gstart);
    g->post = malloc((g->npost ? g->npost : 1) * sizeof *g->post);
    uint32_t *fill = calloc(g->gcap, sizeof *fill);
    if (!g->gstart || !g->post || !fill) return free(fill), -1;
    uint32_t at = 0;
    for (size_t i = 0; i < g->gcap; i++)
        g->gstart[i] = at, at += g->gcount[i];
    for (size_t t = 0; t < g->nkeys; t++) {
        int ng = key_grams(g, &g->keys[bylen[t]], grams, 2 * MAX_KEY_BYTES);
        for (int j = 0; j < ng; j++) {
            size_t s = gram_slot(g, grams[j]);
            g->post[g->gstart[s] + fill[s]++] = bylen[t];
        }
    }
    free(fill);
    /* compact: the grams in order with their ranges, found by binary search (a third of the
     * hash table's memory) */
    size_t k = 0;
    for (size_t i = 0; i < g->gcap; i++)
        if (g->gcount[i]) {
            g->gk[k] = g->gk[i], g->gstart[k] = g->gstart[i], g->gcount[k] = g->gcount[i];
            k++;
        }
    g->ngrams = k;
    uint32_t *ord = malloc((k ? k : 1) * sizeof *ord);
    uint64_t *nk = malloc((k ? k : 1) * sizeof *nk);
    uint32_t *ns = malloc((k ? k : 1) * sizeof *ns), *nc = malloc((k ? k : 1) * sizeof *nc);
    if (!ord || !nk || !ns || !nc) return free(ord), free(nk), free(ns), free(nc), -1;
    for (size_t i = 0; i < k; i++)
        ord[i] = (uint32_t)i;
    sort_g = g;
    sort_n(ord, k, sizeof *ord, cmp_gram);
    for (size_t i = 0; i < k; i++)
        nk[i] = g->gk[ord[i]], ns[i] = g->gstart[ord[i]], nc[i] = g->gcount[ord[i]];
    free(ord), free(g->gk), free(g->gstart), free(g->gcount);
    g->gk = nk, g->gstart = ns, g->gcount = nc;
    return 0;
}

/* Index of gram k in the compacted gram arrays, or -1. */
static long gram_find(const gaz *g, uint64_t k) {
    size_t lo = 0, hi = g->ngrams;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->gk[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->ngrams && g->gk[lo] == k ? (long)lo : -1;
}

/* Pinyin strings of a key: up to MAX_PY_VARIANTS full spellings (first readings, then one
 * character at a time read otherwise) and as many distinct initials strings. */
static int key_pinyin(gaz *g, const gkey *k, size_t *fcap, size_t *icap) {
    const unsigned char *s = (const unsigned char *)g->norm.p + k->str;
    const char *rd[64][4];
    int nr[64], n = 0;
    char lit[64][2];
    for (size_t i = 0; i < k->len && n < 64;) {
        uint32_t cp;
        int l = utf8_decode(s + i, k->len - i, &cp);
        if (l < 0) break;
        i += (size_t)l;
        nr[n] = gis_pinyin_readings(cp, rd[n], 4);
        if (!nr[n] && ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))) {
            lit[n][0] = (char)cp, lit[n][1] = 0;
            rd[n][0] = lit[n], nr[n] = 1;
        }
        if (nr[n]) n++;
    }
    if (!n) return 0;
    int choice[64];
    char full[MAX_PY_VARIANTS][MAX_PY_BYTES + 8], init[MAX_PY_VARIANTS][72];
    int nfull = 0, ninit = 0;
    for (int v = -1; v < n && nfull < MAX_PY_VARIANTS; v++) {
        for (int alt = 1; alt < (v < 0 ? 2 : nr[v]) && nfull < MAX_PY_VARIANTS; alt++) {
            for (int c = 0; c < n; c++)
                choice[c] = 0;
            if (v >= 0) choice[v] = alt;
            size_t fl = 0, il = 0;
            for (int c = 0; c < n; c++) {
                const char *r = rd[c][choice[c]];
                size_t rl = strlen(r);
                if (fl + rl > MAX_PY_BYTES) break;
                memcpy(full[nfull] + fl, r, rl), fl += rl;
                init[ninit][il++] = r[0];
            }
            full[nfull][fl] = 0, init[ninit][il] = 0;
            nfull++;
            int dup = 0;
            for (int d = 0; d < ninit && !dup; d++)
                dup = strcmp(init[d], init[ninit]) == 0;
            if (!dup) ninit++;
        }
    }
    for (int i = 0; i < nfull; i++) {
        size_t off = arena_put(&g->py, full[i], strlen(full[i]));
        if (off == (size_t)-1 || grow((void **)&g->pyfull, fcap, g->npyfull + 1, sizeof *g->pyfull))
            return -1;
        g->pyfull[g->npyfull++] = (pykey){(uint32_t)off, k->entry, g->ent[k->entry].nchars};
    }
    for (int i = 0; i < ninit; i++) {
        size_t off = arena_put(&g->py, init[i], strlen(init[i]));
        if (off == (size_t)-1 || grow((void **)&g->pyinit, icap, g->npyinit + 1, sizeof *g->pyinit))
            return -1;
        g->pyinit[g->npyinit++] = (pykey){(uint32_t)off, k->entry, g->ent[k->entry].nchars};
    }
    return 0;
}

static int level_has_point(const gaz_entry *e) {
    return e->kind != GAZ_DIVISION ||
           (strcmp(e->level, "province") != 0 && strcmp(e->level, "city") != 0 &&
            strcmp(e->level, "county") != 0);
}

static _Thread_local int kd_axis;
static int cmp_kd(const void *a, const void *b) {
    double x = ((const kdpt *)a)->v[kd_axis], y = ((const kdpt *)b)->v[kd_axis];
    return (x > y) - (x < y);
}

/* Implicit KD-tree: the median of [lo, hi) at its middle, split on depth % 3. Build-time only
 * (depth about log2 n). */
static void kd_build(kdpt *p, size_t lo, size_t hi, int depth) {
    if (hi - lo < 2) return;
    kd_axis = depth % 3;
    sort_n(p + lo, hi - lo, sizeof *p, cmp_kd);
    size_t mid = lo + (hi - lo) / 2;
    kd_build(p, lo, mid, depth + 1);
    kd_build(p, mid + 1, hi, depth + 1);
}

static void unit_vec(double lon, double lat, double v[3]) {
    double la = lat * M_PI / 180, lo = lon * M_PI / 180;
    v[0] = cos(la) * cos(lo), v[1] = cos(la) * sin(lo), v[2] = sin(la);
}

/* Points each entry's strings into g->txt (again after shrinking may have moved it). */
static void point_strings(gaz *g, const gaz_builder *b) {
    for (size_t i = 0; i < g->n; i++) {
        gaz_entry *e = &g->ent[i];
        const bextra *x = &b->ex[i];
        e->name = g->txt.p + x->name;
        e->level = g->txt.p + x->level;
        e->valid_from = x->vf == (uint32_t)-1 ? NULL : g->txt.p + x->vf;
        e->valid_to = x->vt == (uint32_t)-1 ? NULL : g->txt.p + x->vt;
    }
}

/* The code table (sorted; a code twice in force keeps its first entry, the others get skip[e]),
 * parents, replacements. Returns 0 or -1 (out of memory). */
static int finish_codes(gaz *g, const gaz_builder *b, char *skip) {
    /* codes, parents, replacements */
    g->codes = malloc((g->n ? g->n : 1) * sizeof *g->codes);
    if (!g->codes) return -1;
    for (size_t i = 0; i < g->n; i++)
        if (g->ent[i].kind == GAZ_DIVISION) g->codes[g->ncodes++] = (uint32_t)i;
    sort_g = g;
    sort_n(g->codes, g->ncodes, sizeof *g->codes, cmp_code);
    /* a code twice in force (dirty lists repeat a division at the level below): the first added
     * stays, the others are not indexed */
    size_t kept = 0;
    for (size_t i = 0; i < g->ncodes; i++) {
        uint32_t e = g->codes[i];
        int dup = 0;
        for (size_t j = kept; j > 0 && !dup; j--) {
            const gaz_entry *o = &g->ent[g->codes[j - 1]];
            if (strcmp(o->code, g->ent[e].code) != 0) break;
            dup = !o->former && !g->ent[e].former;
        }
        if (dup)
            skip[e] = 1;
        else
            g->codes[kept++] = e;
    }
    g->ncodes = kept;
    for (size_t i = 0; i < g->n; i++) {
        gaz_entry *e = &g->ent[i];
        const char *pc = e->kind == GAZ_DIVISION ? b->ex[i].parent : e->code;
        e->parent = pc[0] ? gaz_find_code(g, pc) : -1;
        if (e->parent == (int32_t)i) e->parent = -1;
        if (b->ex[i].replaced[0]) e->replaced_by = gaz_find_code(g, b->ex[i].replaced);
    }
    /* a parent chain must end: cut cycles (bad data) */
    for (size_t i = 0; i < g->n; i++) {
        int32_t p = g->ent[i].parent;
        for (int d = 0; p >= 0; d++, p = g->ent[p].parent)
            if (d > 8) {
                g->ent[i].parent = -1;
                break;
            }
    }
    return 0;
}

/* The search keys of every indexed entry: sorted, by length (grams), pinyin. Returns 0 or -1. */
static int finish_keys(gaz *g, const gaz_builder *b, const char *skip) {
    size_t kcap = 0, fcap = 0, icap = 0;
    uint32_t *bylen = NULL;
    int rc = -1;
    /* keys */
    for (size_t i = 0; i < g->n; i++)
        if (!skip[i] && entry_keys(g, &kcap, (uint32_t)i, b->alias_txt[i])) goto done;
    g->sorted = malloc((g->nkeys ? g->nkeys : 1) * sizeof *g->sorted);
    bylen = malloc((g->nkeys ? g->nkeys : 1) * sizeof *bylen);
    if (!g->sorted || !bylen) goto done;
    for (size_t k = 0; k < g->nkeys; k++)
        g->sorted[k] = bylen[k] = (uint32_t)k;
    sort_n(g->sorted, g->nkeys, sizeof *g->sorted, cmp_key_text);
    if (!(g->srank = malloc((g->nkeys ? g->nkeys : 1) * sizeof *g->srank))) goto done;
    for (size_t k = 0; k < g->nkeys; k++) {
        uint32_t e = g->keys[g->sorted[k]].entry;
        g->srank[k] = (uint64_t)g->ent[e].nchars << 32 | e;
    }
    sort_n(bylen, g->nkeys, sizeof *bylen, cmp_key_len);
    if (build_grams(g, bylen)) goto done;
    /* pinyin: names, and aliases that are not a prefix of the name (the name covers those) */
    for (size_t k = 0; k < g->nkeys; k++) {
        const gkey *key = &g->keys[k];
        if (key->alias) {
            size_t p = k;
            while (p > 0 && g->keys[p].alias)
                p--;
            const gkey *nk = &g->keys[p];
            if (nk->entry == key->entry && nk->len >= key->len &&
                memcmp(g->norm.p + nk->str, g->norm.p + key->str, key->len) == 0)
                continue;
        }
        if (key_pinyin(g, key, &fcap, &icap)) goto done;
    }
    sort_n(g->pyfull, g->npyfull, sizeof *g->pyfull, cmp_py);
    sort_n(g->pyinit, g->npyinit, sizeof *g->pyinit, cmp_py);
    rc = 0;
done:
    free(bylen);
    return rc;
}

/* The k-d tree of the entries that have a point. Returns 0 or -1. */
static int finish_points(gaz *g, const char *skip) {
    /* points */
    g->kd = malloc((g->n ? g->n : 1) * sizeof *g->kd);
    if (!g->kd) return -1;
    for (size_t i = 0; i < g->n; i++) {
        const gaz_entry *e = &g->ent[i];
        if (isfinite(e->lon) && isfinite(e->lat) && !e->former && !skip[i] && level_has_point(e)) {
            unit_vec(e->lon, e->lat, g->kd[g->nkd].v);
            g->kd[g->nkd++].entry = (uint32_t)i;
        }
    }
    kd_build(g->kd, 0, g->nkd, 0);
    return 0;
}

gaz *gaz_builder_finish(gaz_builder *b, char *err, size_t errlen) {
    gaz *g = calloc(1, sizeof *g);
    char *skip = NULL;
    if (!g) goto oom;
    atomic_init(&g->refs, 1);
    g->txt = b->txt, b->txt = (arena){0};
    g->ent = b->ent, b->ent = NULL;
    g->n = b->n;
    point_strings(g, b);
    for (size_t i = 0; i < g->n; i++)
        if (g->ent[i].former) g->ent[i].lon = g->ent[i].lat = NAN;
    if (!(skip = calloc(g->n ? g->n : 1, 1)) || finish_codes(g, b, skip) != 0 ||
        finish_keys(g, b, skip) != 0 || finish_points(g, skip) != 0)
        goto oom;
    shrink((void **)&g->keys, g->nkeys * sizeof *g->keys);
    shrink((void **)&g->pyfull, g->npyfull * sizeof *g->pyfull);
    shrink((void **)&g->pyinit, g->npyinit * sizeof *g->pyinit);
    shrink((void **)&g->kd, g->nkd * sizeof *g->kd);
    arena *ar[] = {&g->txt, &g->norm, &g->py};
    for (int i = 0; i < 3; i++)
        if (shrink((void **)&ar[i]->p, ar[i]->n) == 0) ar[i]->cap = ar[i]->n;
    point_strings(g, b); /* shrinking may have moved txt */
    free(skip);
    gaz_builder_destroy(b);
    return g;
oom:
    snprintf(err, errlen, "out of memory building the gazetteer");
    free(skip);
    gaz_builder_destroy(b);
    gaz_destroy(g);
    return NULL;
}

void gaz_destroy(gaz *g) {
    if (!g) return;
    free(g->txt.p), free(g->norm.p), free(g->py.p);
    free(g->ent), free(g->keys), free(g->sorted), free(g->srank), free(g->codes);
    free(g->gk), free(g->gstart), free(g->gcount), free(g->post);
    free(g->pyfull), free(g->pyinit), free(g->kd);
    free(g);
}

void gaz_stats(const gaz *g, size_t *nentries, size_t *nkeys, size_t *bytes) {
    if (nentries) *nentries = g->n;
    if (nkeys) *nkeys = g->nkeys;
    if (bytes)
        *bytes = g->txt.cap + g->norm.cap + g->py.cap + g->n * sizeof *g->ent +
                 g->nkeys * (sizeof *g->keys + sizeof *g->sorted + sizeof *g->srank) +
                 g->n * sizeof *g->codes + g->ngrams * (sizeof *g->gk + 2 * sizeof *g->gstart) +
                 g->npost * sizeof *g->post + (g->npyfull + g->npyinit) * sizeof(pykey) +
                 g->n * sizeof *g->kd;
}

const gaz_entry *gaz_entry_at(const gaz *g, uint32_t i) {
    return i < g->n ? &g->ent[i] : NULL;
}

/* First index in codes[] whose code is >= prefix (compared on the prefix's length). */
static size_t code_lower(const gaz *g, const char *prefix, size_t n) {
    size_t lo = 0, hi = g->ncodes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strncmp(g->ent[g->codes[mid]].code, prefix, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Significant prefix of a division code: 320706000000 -> 320706. */
static size_t code_prefix_len(const char *code) {
    static const size_t cut[] = {2, 4, 6, 9};
    for (int i = 0; i < 4; i++) {
        int zero = 1;
        for (size_t j = cut[i]; j < 12 && zero; j++)
            zero = code[j] == '0';
        if (zero) return cut[i];
    }
    return 12;
}

size_t gaz_children(const gaz *g, uint32_t i, uint32_t *out, size_t max) {
    if (i >= g->n || g->ent[i].kind != GAZ_DIVISION) return 0;
    size_t pl = code_prefix_len(g->ent[i].code), total = 0;
    for (size_t k = code_lower(g, g->ent[i].code, pl);
         k < g->ncodes && strncmp(g->ent[g->codes[k]].code, g->ent[i].code, pl) == 0; k++) {
        const gaz_entry *c = &g->ent[g->codes[k]];
        if (c->parent == (int32_t)i && !c->former) {
            if (total < max) out[total] = g->codes[k];
            total++;
        }
    }
    return total;
}

/* ---- search ---- */

typedef struct {
    const gaz *g;
    const gaz_query *opt;
    size_t wlen;
    gaz_hit *top;
    uint16_t *rank; /* per top slot: the length used for ordering */
    int ntop;
    uint32_t *seen; /* open addressing set of entry+1 */
    size_t seencap, nseen;
    int oom;
} search;

static int seen_add(search *s, uint32_t entry) {
    if (2 * (s->nseen + 1) > s->seencap) {
        size_t cap = s->seencap ? s->seencap * 2 : 256;
        uint32_t *n = calloc(cap, sizeof *n);
        if (!n) return s->oom = 1, 0;
        for (size_t i = 0; i < s->seencap; i++)
            if (s->seen[i]) {
                size_t j = (size_t)gram_hash(s->seen[i]) & (cap - 1);
                while (n[j])
                    j = (j + 1) & (cap - 1);
                n[j] = s->seen[i];
            }
        free(s->seen);
        s->seen = n, s->seencap = cap;
    }
    size_t j = (size_t)gram_hash(entry + 1) & (s->seencap - 1);
    while (s->seen[j]) {
        if (s->seen[j] == entry + 1) return 0;
        j = (j + 1) & (s->seencap - 1);
    }
    s->seen[j] = entry + 1, s->nseen++;
    return 1;
}

/* -1 when hit a (rank ra) orders before hit b (rank rb). */
static int hit_cmp(const gaz_hit *a, unsigned ra, const gaz_hit *b, unsigned rb) {
    if (a->tier != b->tier) return a->tier < b->tier ? -1 : 1;
    if (a->distance_m != b->distance_m) {
        if (a->distance_m < 0) return 1;
        if (b->distance_m < 0) return -1;
        return a->distance_m < b->distance_m ? -1 : 1;
    }
    if (ra != rb) return ra < rb ? -1 : 1;
    return a->entry < b->entry ? -1 : a->entry > b->entry;
}

/* 1 when a candidate with this tier and rank cannot enter a full top list (without near). */
static int cannot_enter(const search *s, int tier, unsigned rank) {
    if (s->ntop < s->opt->limit || s->opt->near) return 0;
    const gaz_hit *w = &s->top[s->ntop - 1];
    return tier > w->tier || (tier == w->tier && rank > s->rank[s->ntop - 1]);
}

static void offer(search *s, uint32_t entry, int tier, unsigned rank) {
    const gaz_entry *e = &s->g->ent[entry];
    if (s->wlen && strncmp(e->code, s->opt->within, s->wlen) != 0) return;
    gaz_hit h = {entry, (uint8_t)tier, -1};
    if (s->opt->near && isfinite(e->lon)) { /* equirectangular to rank; exact at the end */
        double dlon = fabs(e->lon - s->opt->lon);
        if (dlon > 180) dlon = 360 - dlon;
        double x = dlon * cos((e->lat + s->opt->lat) * (M_PI / 360)), y = e->lat - s->opt->lat;
        h.distance_m = sqrt(x * x + y * y) * (M_PI / 180 * 6371008.8);
    }
    if (s->ntop == s->opt->limit &&
        hit_cmp(&h, rank, &s->top[s->ntop - 1], s->rank[s->ntop - 1]) >= 0)
        return;
    if (!seen_add(s, entry)) return; /* already listed at a tier at least as good */
    int i = s->ntop < s->opt->limit ? s->ntop++ : s->ntop - 1;
    while (i > 0 && hit_cmp(&h, rank, &s->top[i - 1], s->rank[i - 1]) < 0) {
        s->top[i] = s->top[i - 1], s->rank[i] = s->rank[i - 1];
        i--;
    }
    s->top[i] = h, s->rank[i] = (uint16_t)rank;
}

static size_t key_lower(const gaz *g, const char *q, size_t qlen) {
    size_t lo = 0, hi = g->nkeys;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const gkey *k = &g->keys[g->sorted[mid]];
        size_t n = k->len < qlen ? k->len : qlen;
        int c = memcmp(g->norm.p + k->str, q, n);
        if (c < 0 || (c == 0 && k->len < qlen))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First slot of sorted[] after every key that starts with q. */
static size_t key_upper(const gaz *g, const char *q, size_t qlen, size_t lo) {
    size_t hi = g->nkeys;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const gkey *k = &g->keys[g->sorted[mid]];
        size_t n = k->len < qlen ? k->len : qlen;
        int c = memcmp(g->norm.p + k->str, q, n);
        if (c < 0 || (c == 0 && k->len <= qlen) || (c == 0 && n == qlen))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* [lo, hi) of the pinyin strings starting with q. */
static void py_range(const gaz *g, const pykey *a, size_t n, const char *q, size_t qlen, size_t *lo,
                     size_t *hi) {
    size_t l = 0, h = n;
    while (l < h) {
        size_t mid = (l + h) / 2;
        if (strncmp(g->py.p + a[mid].str, q, qlen) < 0)
            l = mid + 1;
        else
            h = mid;
    }
    *lo = l, h = n;
    while (l < h) {
        size_t mid = (l + h) / 2;
        if (strncmp(g->py.p + a[mid].str, q, qlen) <= 0)
            l = mid + 1;
        else
            h = mid;
    }
    *hi = l;
}

static void search_pinyin(search *s, const pykey *a, size_t n, const char *q, size_t qlen,
                          int tier) {
    size_t lo, hi;
    py_range(s->g, a, n, q, qlen, &lo, &hi);
    for (size_t k = lo; k < hi; k++)
        if (!cannot_enter(s, tier, a[k].nchars)) offer(s, a[k].entry, tier, a[k].nchars);
}

/* 1 when n[0..nl) occurs in h[0..hl). */
static int contains(const char *h, size_t hl, const char *n, size_t nl) {
    for (size_t i = 0; i + nl <= hl; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nl) == 0) return 1;
    return 0;
}

static int code_depth(const char *code) {
    return (int)code_prefix_len(code);
}

/* Division codes that start with the digits qn (12 digits, or a 2/4/6/9-digit prefix padded
 * with zeros, is an exact hit). */
static void search_codes(search *s, const char *qn, size_t qlen) {
    const gaz *g = s->g;
    char exact[13] = "";
    if (qlen == 2 || qlen == 4 || qlen == 6 || qlen == 9 || qlen == 12) {
        memset(exact, '0', 12);
        memcpy(exact, qn, qlen);
        exact[12] = 0;
    }
    for (size_t k = code_lower(g, qn, qlen);
         k < g->ncodes && strncmp(g->ent[g->codes[k]].code, qn, qlen) == 0; k++) {
        const gaz_entry *e = &g->ent[g->codes[k]];
        int t = strcmp(e->code, exact) == 0 ? GAZ_EXACT : GAZ_PREFIX;
        unsigned r = (unsigned)code_depth(e->code);
        if (!cannot_enter(s, t, r)) offer(s, g->codes[k], t, r);
    }
}

/* Substring hits: the rarest unigram/bigram's posting, walked shortest names first. */
static void search_substring(search *s, const char *qn, size_t qlen) {
    const gaz *g = s->g;
    uint32_t cps[GAZ_MAX_QUERY_CHARS + 1];
    int n = 0;
    for (size_t i = 0; i < qlen && n <= GAZ_MAX_QUERY_CHARS;) {
        int l = utf8_decode((const unsigned char *)qn + i, qlen - i, &cps[n]);
        if (l < 0) break;
        i += (size_t)l, n++;
    }
    size_t best = (size_t)-1;
    uint32_t bestcount = UINT32_MAX;
    for (int i = 0; i < n; i++) {
        uint64_t gram = n == 1 ? cps[0] : (1ull << 63) | ((uint64_t)cps[i] << 21) | cps[i + 1];
        if (n > 1 && i + 1 >= n) break;
        long slot = gram_find(g, gram);
        uint32_t c = slot < 0 ? 0 : g->gcount[slot];
        if (c < bestcount) bestcount = c, best = (size_t)slot;
        if (c == 0) break; /* a gram nobody has: no substring hit */
    }
    if (best != (size_t)-1 && bestcount > 0) {
        const uint32_t *p = g->post + g->gstart[best];
        for (uint32_t j = 0; j < bestcount; j++) {
            const gkey *key = &g->keys[p[j]];
            unsigned r = g->ent[key->entry].nchars;
            if (cannot_enter(s, GAZ_SUBSTRING, r)) break; /* postings go by name length */
            const char *ks = g->norm.p + key->str;
            if (key->len <= qlen || memcmp(ks, qn, qlen) == 0) continue; /* exact/prefix above */
            if (n > 2 && !contains(ks, key->len, qn, qlen)) continue;
            offer(s, key->entry, GAZ_SUBSTRING, r);
        }
    }
}

int gaz_search(const gaz *g, const char *q, const gaz_query *opt, gaz_hit *out, char *err,
               size_t errlen) {
    char qn[4 * GAZ_MAX_QUERY_BYTES + 8];
    size_t raw = strlen(q);
    if (raw > GAZ_MAX_QUERY_BYTES) {
        snprintf(err, errlen, "q is longer than %d bytes", GAZ_MAX_QUERY_BYTES);
        return -1;
    }
    int nc = gaz_normalize(q, raw, qn, sizeof qn);
    if (nc == -1) return snprintf(err, errlen, "q is not valid UTF-8"), -1;
    if (nc < 0 || nc > GAZ_MAX_QUERY_CHARS) {
        snprintf(err, errlen, "q is longer than %d characters", GAZ_MAX_QUERY_CHARS);
        return -1;
    }
    if (nc == 0) return snprintf(err, errlen, "q is empty"), -1;
    size_t qlen = strlen(qn);
    uint16_t rank[GAZ_MAX_LIMIT];
    search s = {g, opt, opt->within ? strlen(opt->within) : 0, out, rank, 0, NULL, 0, 0, 0};
    int digits = 1, letters = 1;
    for (size_t i = 0; i < qlen; i++) {
        digits &= qn[i] >= '0' && qn[i] <= '9';
        letters &= qn[i] >= 'a' && qn[i] <= 'z';
    }
    if (digits && qlen <= 12) search_codes(&s, qn, qlen);
    /* exact and prefix: a range of the sorted keys (exact ones sort first) */
    size_t lo = key_lower(g, qn, qlen), hi = key_upper(g, qn, qlen, lo);
    for (; lo < hi && g->keys[g->sorted[lo]].len == qlen; lo++)
        offer(&s, (uint32_t)g->srank[lo], GAZ_EXACT, (unsigned)(g->srank[lo] >> 32));
    for (; lo < hi; lo++) /* packed ranks: no key text touched */
        if (!cannot_enter(&s, GAZ_PREFIX, (unsigned)(g->srank[lo] >> 32)))
            offer(&s, (uint32_t)g->srank[lo], GAZ_PREFIX, (unsigned)(g->srank[lo] >> 32));
    search_substring(&s, qn, qlen);
    if (letters && !cannot_enter(&s, GAZ_PINYIN, 0)) {
        search_pinyin(&s, g->pyfull, g->npyfull, qn, qlen, GAZ_PINYIN);
        search_pinyin(&s, g->pyinit, g->npyinit, qn, qlen, GAZ_PINYIN + 1);
    }
    free(s.seen);
    if (s.oom) return snprintf(err, errlen, "out of memory"), -1;
    if (opt->near) /* exact geodesic distances, then the same order on them */
        for (int i = 0; i < s.ntop; i++) {
            const gaz_entry *e = &g->ent[out[i].entry];
            if (out[i].distance_m >= 0)
                out[i].distance_m = gis_geodesic_m(opt->lon, opt->lat, e->lon, e->lat);
            gaz_hit h = out[i];
            uint16_t r = rank[i];
            int j = i;
            for (; j > 0 && hit_cmp(&h, r, &out[j - 1], rank[j - 1]) < 0; j--)
                out[j] = out[j - 1], rank[j] = rank[j - 1];
            out[j] = h, rank[j] = r;
        }
    for (int i = 0; i < s.ntop; i++)
        if (out[i].tier > GAZ_PINYIN) out[i].tier = GAZ_PINYIN;
    return s.ntop;
}

/* ---- nearest ---- */

typedef struct {
    double d2;
    uint32_t entry;
} cand;

static int cmp_cand_geo(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->d2 != y->d2) return x->d2 < y->d2 ? -1 : 1;
    return (x->entry > y->entry) - (x->entry < y->entry);
}

typedef struct {
    size_t lo, hi;
    int depth;
} kdframe;

/* The m nearest points by chord into c[] (a max-heap by d2 while filling); returns how many. */
static int kd_knn(const gaz *g, const double q[3], int m, cand *c) {
    kdframe stack[128];
    int sp = 0, nc = 0;
    stack[sp++] = (kdframe){0, g->nkd, 0};
    while (sp) {
        size_t lo = stack[sp - 1].lo, hi = stack[sp - 1].hi;
        int depth = stack[--sp].depth;
        if (lo >= hi) continue;
        size_t mid = lo + (hi - lo) / 2;
        const kdpt *p = &g->kd[mid];
        double dx = p->v[0] - q[0], dy = p->v[1] - q[1], dz = p->v[2] - q[2];
        double d2 = dx * dx + dy * dy + dz * dz;
        if (nc < m || d2 < c[0].d2 || (d2 == c[0].d2 && p->entry < c[0].entry)) {
            /* heap insert / replace top (max-heap on (d2, entry)) */
            int i;
            if (nc < m) {
                i = nc++;
                while (i > 0 && cmp_cand_geo(&c[(i - 1) / 2], &(cand){d2, p->entry}) < 0) {
                    c[i] = c[(i - 1) / 2];
                    i = (i - 1) / 2;
                }
            } else {
                i = 0;
                for (;;) {
                    int l = 2 * i + 1, r = l + 1, big = i;
                    cand cur = {d2, p->entry};
                    const cand *bv = &cur;
                    if (l < nc && cmp_cand_geo(&c[l], bv) > 0) big = l, bv = &c[l];
                    if (r < nc && cmp_cand_geo(&c[r], bv) > 0) big = r;
                    if (big == i) break;
                    c[i] = c[big];
                    i = big;
                }
            }
            c[i] = (cand){d2, p->entry};
        }
        if (hi - lo == 1) continue;
        double diff = q[depth % 3] - p->v[depth % 3];
        size_t nlo = diff < 0 ? lo : mid + 1, nhi = diff < 0 ? mid : hi;
        size_t flo = diff < 0 ? mid + 1 : lo, fhi = diff < 0 ? hi : mid;
        /* far side only if the splitting plane is within the current worst distance */
        if (sp + 2 <= 128) {
            if (nc < m || diff * diff <= c[0].d2) stack[sp++] = (kdframe){flo, fhi, depth + 1};
            stack[sp++] = (kdframe){nlo, nhi, depth + 1};
        }
    }
    return nc;
}

int gaz_nearest(const gaz *g, double lon, double lat, int k, gaz_hit *out) {
    if (k <= 0 || !g->nkd || !isfinite(lon) || !isfinite(lat)) return 0;
    if (k > 64) k = 64;
    double q[3];
    unit_vec(lon, lat, q);
    cand c[1024];
    for (int m = k + 8;; m *= 2) {
        if (m > 1024) m = 1024;
        if ((size_t)m > g->nkd) m = (int)g->nkd;
        int nc = kd_knn(g, q, m, c);
        /* the farthest chord found bounds from below every point not found */
        double worst = 0;
        for (int i = 0; i < nc; i++)
            worst = c[i].d2 > worst ? c[i].d2 : worst;
        for (int i = 0; i < nc; i++) {
            const gaz_entry *e = &g->ent[c[i].entry];
            c[i].d2 = gis_geodesic_m(lon, lat, e->lon, e->lat);
        }
        sort_n(c, (size_t)nc, sizeof *c, cmp_cand_geo);
        int got = nc < k ? nc : k;
        double bound = 2 * asin(fmin(1.0, sqrt(worst) / 2)) * 6300000.0;
        if ((size_t)nc == g->nkd || m == 1024 || (got > 0 && c[got - 1].d2 < bound)) {
            for (int i = 0; i < got; i++)
                out[i] = (gaz_hit){c[i].entry, 0, c[i].d2};
            return got;
        }
    }
}

/* ---- slot ---- */

struct gaz_slot {
    pthread_mutex_t mu;
    gaz *cur;
};

gaz_slot *gaz_slot_create(void) {
    gaz_slot *s = calloc(1, sizeof *s);
    if (s) pthread_mutex_init(&s->mu, NULL);
    return s;
}

void gaz_release(gaz *g) {
    if (g && atomic_fetch_sub(&g->refs, 1) == 1) gaz_destroy(g);
}

void gaz_slot_destroy(gaz_slot *s) {
    if (!s) return;
    gaz_release(s->cur);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void gaz_slot_publish(gaz_slot *s, gaz *g) {
    if (!g) return;
    pthread_mutex_lock(&s->mu);
    gaz *old = s->cur;
    s->cur = g;
    pthread_mutex_unlock(&s->mu);
    gaz_release(old);
}

gaz *gaz_slot_acquire(gaz_slot *s) {
    pthread_mutex_lock(&s->mu);
    gaz *g = s->cur;
    if (g) atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&s->mu);
    return g;
}
