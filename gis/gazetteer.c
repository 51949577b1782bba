/* gazetteer.c - the in-memory gazetteer (see gazetteer.h). A gaz is one or two layers (the
 * divisions at the bottom; stations and places on top, so that a reload of places keeps the
 * divisions); a layer holds its entries, a text arena (names, interned levels and dates, aliases,
 * and the normalised key texts that are not part of a name), the keys sorted by text for exact and
 * prefix matches, per-character and per-bigram posting lists (delta-coded varints of slots in the
 * keys-by-name-length order) for substrings, pinyin keys as (key, variant) spelled on demand,
 * sorted division codes, and a KD-tree of unit vectors for nearest. Every array is an anonymous
 * mapping of its own. */
#define _GNU_SOURCE /* mremap */
#include "gis/gazetteer.h"

#include <math.h>
#include <opencc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gis/err.h"
#include "gis/pinyin.h"
#include "gis/transform.h"

enum { MAX_KEY_BYTES = 255, MAX_PY_VARIANTS = 4, MAX_PY_BYTES = 250, MAX_PY_CHARS = 64 };

/* ---- arrays in mappings of their own ---- */

/* An array of T in an anonymous mapping: n used, cap allocated (elements). */
#define VEC(T)                                                                                     \
    struct {                                                                                       \
        T *p;                                                                                      \
        size_t n, cap;                                                                             \
    }

static size_t pages(size_t bytes) {
    return (bytes + 4095) & ~(size_t)4095;
}

/* Gives *p room for ncap elements of elem bytes (0: unmaps it). Returns 0, or -1 (left as was). */
static int vresize(void **p, size_t *cap, size_t ncap, size_t elem) {
    size_t ob = *p ? pages(*cap * elem) : 0, nb = pages(ncap * elem);
    void *q = *p;
    if (nb != ob) {
        if (!nb)
            munmap(*p, ob), q = NULL;
        else if (!*p)
            q = mmap(NULL, nb, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        else
            q = mremap(*p, ob, nb, MREMAP_MAYMOVE);
        if (q == MAP_FAILED) return -1;
    }
    *p = q, *cap = ncap;
    return 0;
}

static int vgrow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    return vresize(p, cap, c, elem);
}

#define VGROW(v, need) vgrow((void **)&(v).p, &(v).cap, (need), sizeof *(v).p)
#define VFIT(v) (void)vresize((void **)&(v).p, &(v).cap, (v).n, sizeof *(v).p)
#define VFREE(v) ((void)vresize((void **)&(v).p, &(v).cap, 0, sizeof *(v).p), (v).n = 0)
#define VBYTES(v) ((v).p ? pages((v).cap * sizeof *(v).p) : 0)

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
    uint32_t entry; /* in its layer */
    uint32_t str;   /* offset of the normalised text in the layer's txt (no NUL of its own) */
    uint8_t len;    /* bytes */
    uint8_t rank;   /* characters of the entry's normalised name: the order inside a tier */
    uint8_t alias;  /* 0: the entry's name */
    uint8_t spell;  /* 1: has pinyin keys (the name, or an alias that is not a prefix of it) */
} gkey;

typedef struct {
    float v[3]; /* unit vector; candidates are ranked again by geodesic distance */
    uint32_t entry;
} kdpt;

/* A slot of a layer's sorted keys: rank << 56 | entry << 24 | key id. */
static inline uint64_t sk_make(unsigned rank, uint32_t entry, uint32_t kid) {
    return (uint64_t)rank << 56 | (uint64_t)entry << 24 | kid;
}
static inline uint32_t sk_key(uint64_t x) {
    return (uint32_t)(x & 0xFFFFFF);
}
static inline uint32_t sk_entry(uint64_t x) {
    return (uint32_t)(x >> 24);
}
static inline unsigned sk_rank(uint64_t x) {
    return (unsigned)(x >> 56);
}

/* Texts of the top layer carry this bit: gaz_text tells the layers apart by it. */
#define TEXT_TOP (1u << 31)

typedef struct layer {
    _Atomic int refs; /* the gazes holding it */
    uint32_t first;   /* gaz index of its entry 0 */
    uint32_t textbit; /* TEXT_TOP on a top layer, else 0 */
    uint64_t tag;
    VEC(char) txt; /* byte 0 unused: offset 0 is "no text" */
    VEC(gaz_entry) ent;
    VEC(gkey) keys;      /* by rank, then in the order added (grouped by entry) */
    uint32_t rank0[257]; /* first key of each rank (256: nkeys) */
    VEC(uint64_t)
    sorted;               /* rank, entry and key id of each key (sk_*), by text: exact and prefix
                             matches, and a range walked without touching a key */
    VEC(uint32_t) codes;  /* division entries by depth of code (2, 4, 6, 9, 12 digits), then code */
    uint32_t depth0[6];   /* first of codes of each depth (5: the end) */
    VEC(uint64_t) gk;     /* the grams in order: a code point, or 1<<63 | cp1 << 21 | cp2 */
    VEC(uint32_t) gstart; /* byte offset of each gram's list in post */
    VEC(uint32_t) gcount; /* slots in each gram's list */
    VEC(uint8_t) post;    /* ascending key ids, each as the varint of its gap to the last */
    VEC(uint32_t) pyfull; /* key id << 8 | variant, by full spelling */
    VEC(uint32_t) pyinit; /* the same, by initials */
    VEC(uint8_t) pyfrank, pyirank;        /* the rank of each (a range is skipped without a key) */
    VEC(uint8_t) srank;                   /* the rank of each of sorted, a byte each likewise */
    VEC(uint64_t) kfence, ffence, ifence; /* heads of every FENCE-th of sorted, pyfull, pyinit */
    VEC(uint8_t)
    kmin, fmin, imin; /* the least rank of each FENCE slots of them: a block of
                                      ranks that cannot enter is skipped whole */
    VEC(kdpt) kd;
    VEC(double) kdll; /* lon, lat of each k-d point: a candidate's distance, no look at its entry */
    VEC(uint32_t) c6v; /* the distinct first 6 digits of the entries' codes, ascending */
    VEC(uint16_t)
    c6; /* per entry: 1 + its code's place in c6v, 0 without a code; empty when
                        * c6v has more than 65,535 (a `within` is then read from the entries) */
} layer;

typedef struct gaz_slot gaz_slot;

struct gaz {
    layer *lay[2];    /* bottom, top (NULL when none) */
    size_t n;         /* entries of both */
    _Atomic int refs; /* the slot's, and readers' that could not use a hazard cell */
    gaz_slot *slot;   /* where it is published */
    gaz *next_retired;
};

typedef struct {
    char parent[13], replaced[13]; /* 12 digits or "" */
    uint32_t aliases;              /* given aliases in txt, each followed by '\n'; 0 for none */
} bextra;

struct gaz_builder {
    layer *L; /* its txt and entries are filled here */
    VEC(bextra) ex;
    VEC(uint32_t) intern; /* hash set of short texts (levels, dates) by offset */
    size_t ninterned;
};

static layer *layer_new(void) {
    layer *L = calloc(1, sizeof *L);
    if (!L) return NULL;
    atomic_init(&L->refs, 1);
    if (VGROW(L->txt, 1) != 0) return free(L), NULL;
    L->txt.p[0] = 0, L->txt.n = 1;
    return L;
}

static void layer_free(layer *L) {
    if (!L) return;
    VFREE(L->txt), VFREE(L->ent), VFREE(L->keys), VFREE(L->sorted), VFREE(L->codes);
    VFREE(L->gk), VFREE(L->gstart), VFREE(L->gcount), VFREE(L->post);
    VFREE(L->pyfull), VFREE(L->pyinit), VFREE(L->kd);
    VFREE(L->kfence), VFREE(L->ffence), VFREE(L->ifence), VFREE(L->pyfrank), VFREE(L->pyirank);
    VFREE(L->kmin), VFREE(L->fmin), VFREE(L->imin), VFREE(L->kdll), VFREE(L->srank);
    VFREE(L->c6v), VFREE(L->c6);
    free(L);
}

static void layer_unref(layer *L) {
    if (L && atomic_fetch_sub(&L->refs, 1) == 1) layer_free(L);
}

static size_t layer_bytes(const layer *L) {
    return sizeof *L + VBYTES(L->txt) + VBYTES(L->ent) + VBYTES(L->keys) + VBYTES(L->sorted) +
           VBYTES(L->codes) + VBYTES(L->gk) + VBYTES(L->gstart) + VBYTES(L->gcount) +
           VBYTES(L->post) + VBYTES(L->pyfull) + VBYTES(L->pyinit) + VBYTES(L->kd) +
           VBYTES(L->kfence) + VBYTES(L->ffence) + VBYTES(L->ifence) + VBYTES(L->pyfrank) +
           VBYTES(L->pyirank) + VBYTES(L->kmin) + VBYTES(L->fmin) + VBYTES(L->imin) +
           VBYTES(L->kdll) + VBYTES(L->srank) + VBYTES(L->c6v) + VBYTES(L->c6);
}

/* Entry i of g (a gaz index). */
static inline const gaz_entry *ent_at(const gaz *g, uint32_t i) {
    const layer *b = g->lay[0];
    return i < b->ent.n ? &b->ent.p[i] : &g->lay[1]->ent.p[i - b->ent.n];
}

static inline int nlayers(const gaz *g) {
    return g->lay[1] ? 2 : 1;
}

const char *gaz_text(const gaz *g, uint32_t text) {
    if (!text) return NULL;
    const layer *L = g->lay[(text & TEXT_TOP) ? 1 : 0];
    return L ? L->txt.p + (text & ~TEXT_TOP) : NULL;
}

/* Appends s[0..len) and a NUL to L's texts; returns the offset, or 0 on out of memory. */
static uint32_t put_text(layer *L, const char *s, size_t len) {
    if (L->txt.n + len + 1 >= TEXT_TOP || VGROW(L->txt, L->txt.n + len + 1) != 0) return 0;
    uint32_t off = (uint32_t)L->txt.n;
    memcpy(L->txt.p + off, s, len);
    L->txt.p[off + len] = 0;
    L->txt.n += len + 1;
    return off;
}

/* ---- builder ---- */

gaz_builder *gaz_builder_create(void) {
    gaz_builder *b = calloc(1, sizeof *b);
    if (b && !(b->L = layer_new())) free(b), b = NULL;
    return b;
}

void gaz_builder_destroy(gaz_builder *b) {
    if (!b) return;
    layer_free(b->L);
    VFREE(b->ex), VFREE(b->intern);
    free(b);
}

void gaz_builder_tag(gaz_builder *b, uint64_t tag) {
    b->L->tag = tag;
}

static uint64_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The offset of s in b's texts, stored once however often it is given (levels and dates repeat
 * on every row); 0 on out of memory. */
static uint32_t intern(gaz_builder *b, const char *s) {
    if (2 * (b->ninterned + 1) > b->intern.cap) { /* grow the set and put everything back */
        VEC(uint32_t) old = {b->intern.p, 0, b->intern.cap};
        size_t cap = old.cap ? old.cap * 2 : 64;
        b->intern.p = NULL, b->intern.cap = 0;
        if (VGROW(b->intern, cap) != 0) {
            b->intern.p = old.p, b->intern.cap = old.cap;
            return 0;
        }
        memset(b->intern.p, 0, b->intern.cap * sizeof *b->intern.p);
        for (size_t i = 0; i < old.cap; i++)
            if (old.p[i]) {
                size_t j = str_hash(b->L->txt.p + old.p[i]) & (b->intern.cap - 1);
                while (b->intern.p[j])
                    j = (j + 1) & (b->intern.cap - 1);
                b->intern.p[j] = old.p[i];
            }
        VFREE(old);
    }
    size_t m = b->intern.cap - 1, j = str_hash(s) & m;
    for (; b->intern.p[j]; j = (j + 1) & m)
        if (strcmp(b->L->txt.p + b->intern.p[j], s) == 0) return b->intern.p[j];
    uint32_t off = put_text(b->L, s, strlen(s));
    if (off) b->intern.p[j] = off, b->ninterned++;
    return off;
}

static int is_code12(const char *c) {
    if (!c || strlen(c) != 12) return 0;
    for (int i = 0; i < 12; i++)
        if (c[i] < '0' || c[i] > '9') return 0;
    return 1;
}

/* The given aliases joined, each followed by '\n', in b's texts; 0 for none or out of memory. */
static uint32_t put_aliases(gaz_builder *b, const char *const *aliases, int *oom) {
    size_t total = 0;
    for (int i = 0; aliases && aliases[i]; i++)
        total += strlen(aliases[i]) + 1;
    if (!total) return 0;
    layer *L = b->L;
    if (L->txt.n + total + 1 >= TEXT_TOP || VGROW(L->txt, L->txt.n + total + 1) != 0)
        return *oom = 1, 0;
    uint32_t off = (uint32_t)L->txt.n;
    for (int i = 0; aliases[i]; i++) {
        size_t l = strlen(aliases[i]);
        memcpy(L->txt.p + L->txt.n, aliases[i], l);
        L->txt.n += l;
        L->txt.p[L->txt.n++] = '\n';
    }
    L->txt.p[L->txt.n++] = 0;
    return off;
}

int gaz_builder_add(gaz_builder *b, gaz_kind kind, const char *code, long long id, const char *name,
                    const char *level, const char *parent_code, const char *const *aliases,
                    double lon, double lat, const char *valid_from, const char *valid_to,
                    const char *replaced_by, char *err, size_t errlen) {
    char norm[MAX_KEY_BYTES + 1];
    layer *L = b->L;
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
    if (VGROW(L->ent, L->ent.n + 1) || VGROW(b->ex, b->ex.n + 1))
        return snprintf(err, errlen, "out of memory"), -1;
    gaz_entry *e = &L->ent.p[L->ent.n];
    bextra *x = &b->ex.p[b->ex.n];
    memset(e, 0, sizeof *e);
    memset(x, 0, sizeof *x);
    int oom = 0;
    e->kind = (uint8_t)kind;
    snprintf(e->code, sizeof e->code, "%s", code && is_code12(code) ? code : "");
    e->id = id;
    e->lon = lon, e->lat = lat;
    e->parent = e->replaced_by = -1;
    e->nchars = (uint8_t)nc; /* a name fits MAX_KEY_BYTES, so at most 255 characters */
    e->former = valid_to != NULL;
    oom |= !(e->name = put_text(L, name, strlen(name)));
    oom |= !(e->level = intern(b, level ? level : ""));
    oom |= valid_from && !(e->valid_from = intern(b, valid_from));
    oom |= valid_to && !(e->valid_to = intern(b, valid_to));
    snprintf(x->parent, sizeof x->parent, "%s", is_code12(parent_code) ? parent_code : "");
    snprintf(x->replaced, sizeof x->replaced, "%s", is_code12(replaced_by) ? replaced_by : "");
    x->aliases = put_aliases(b, aliases, &oom);
    if (oom) return snprintf(err, errlen, "out of memory"), -1;
    L->ent.n++, b->ex.n++;
    return 0;
}

/* ---- fences: a binary search over a few cache lines first ---- */

/* Every FENCE-th slot of a sorted array keeps the first 8 bytes of its text (big-endian, zeros
 * after the end): a search narrows to FENCE slots on the fences before it touches a key. */
enum { FENCE = 64 };

static uint64_t head8(const char *s, size_t n) {
    uint64_t h = 0;
    for (size_t j = 0; j < 8; j++)
        h = h << 8 | (j < n ? (unsigned char)s[j] : 0);
    return h;
}

/* How many of the nf fences f are below x (or at most x, with le). */
static size_t fence_count(const uint64_t *f, size_t nf, uint64_t x, int le) {
    size_t lo = 0, hi = nf;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f[mid] < x || (le && f[mid] == x))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* [*l, *r]: where, among n sorted slots, the first slot that is not before q (upper: not before
 * every text that starts with q) lies, from the fences alone. A slot whose head is below q's is
 * before q; one above q's head with 0xFF after q's bytes is after q and every text starting with
 * it; for q shorter than 8 bytes, a head between the two starts with q. */
static void fence_window(const uint64_t *f, size_t nf, size_t n, const char *q, size_t qlen,
                         int upper, size_t *l, size_t *r) {
    uint64_t hq = head8(q, qlen), hmax = hq;
    for (size_t j = qlen; j < 8; j++)
        hmax |= (uint64_t)0xFF << (8 * (7 - j));
    size_t jt = upper && qlen < 8 ? fence_count(f, nf, hmax, 1) : fence_count(f, nf, hq, 0);
    size_t jf = fence_count(f, nf, upper ? hmax : hq, 1);
    *l = jt ? (jt - 1) * FENCE + 1 : 0;
    *r = jf < nf ? jf * FENCE : n;
}

/* ---- finishing: codes ---- */

static const unsigned depths[5] = {2, 4, 6, 9, 12};

/* Significant prefix of a division code: 320706000000 -> 320706. */
static size_t code_prefix_len(const char *code) {
    for (int i = 0; i < 4; i++) {
        int zero = 1;
        for (size_t j = depths[i]; j < 12 && zero; j++)
            zero = code[j] == '0';
        if (zero) return depths[i];
    }
    return 12;
}

static int depth_class(const char *code) {
    size_t d = code_prefix_len(code);
    return d == 2 ? 0 : d == 4 ? 1 : d == 6 ? 2 : d == 9 ? 3 : 4;
}

static _Thread_local const layer *sort_L;

static int cmp_code(const void *a, const void *b) {
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    const char *x = sort_L->ent.p[i].code, *y = sort_L->ent.p[j].code;
    int dx = depth_class(x), dy = depth_class(y), c = strcmp(x, y);
    if (dx != dy) return dx < dy ? -1 : 1;
    return c ? c : (i > j) - (i < j);
}

/* First index in L's codes of depth class d whose code is >= prefix (on the prefix's length). */
static size_t code_lower(const layer *L, int d, const char *prefix, size_t n) {
    size_t lo = L->depth0[d], hi = L->depth0[d + 1];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strncmp(L->ent.p[L->codes.p[mid]].code, prefix, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* 1 when codes slot k of L (of depth class d) starts with prefix[0..n). */
static int code_at(const layer *L, int d, size_t k, const char *prefix, size_t n) {
    return k < L->depth0[d + 1] && strncmp(L->ent.p[L->codes.p[k]].code, prefix, n) == 0;
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
    /* a former division may share its code with today's: prefer the one in force */
    int32_t best = -1;
    int d = depth_class(c);
    for (int l = 0; l < nlayers(g); l++) {
        const layer *L = g->lay[l];
        for (size_t k = code_lower(L, d, c, 12); code_at(L, d, k, c, 12); k++) {
            int32_t i = (int32_t)(L->first + L->codes.p[k]);
            if (!L->ent.p[L->codes.p[k]].former) return i;
            if (best < 0) best = i;
        }
    }
    return best;
}

/* L's code table (by depth and code; a code twice in force keeps its first entry, the others get
 * skip[e]). Returns 0 or -1 (out of memory). */
static int finish_codes(layer *L, char *skip) {
    if (VGROW(L->codes, L->ent.n ? L->ent.n : 1) != 0) return -1;
    for (size_t i = 0; i < L->ent.n; i++)
        if (L->ent.p[i].kind == GAZ_DIVISION) L->codes.p[L->codes.n++] = (uint32_t)i;
    sort_L = L;
    gis_sort(L->codes.p, L->codes.n, sizeof *L->codes.p, cmp_code);
    /* a code twice in force (dirty lists repeat a division at the level below): the first added
     * stays, the others are not indexed */
    size_t kept = 0;
    for (size_t i = 0; i < L->codes.n; i++) {
        uint32_t e = L->codes.p[i];
        int dup = 0;
        for (size_t j = kept; j > 0 && !dup; j--) {
            const gaz_entry *o = &L->ent.p[L->codes.p[j - 1]];
            if (strcmp(o->code, L->ent.p[e].code) != 0) break;
            dup = !o->former && !L->ent.p[e].former;
        }
        if (dup)
            skip[e] = 1;
        else
            L->codes.p[kept++] = e;
    }
    L->codes.n = kept;
    int d = 0;
    for (size_t k = 0; k <= kept; k++)
        while (d < 6 && (k == kept || depth_class(L->ent.p[L->codes.p[k]].code) >= d))
            L->depth0[d++] = (uint32_t)k;
    return 0;
}

/* The first 6 digits of a 12-digit code as a number; -1 for any other text. */
static long code6(const char *code) {
    long v = 0;
    for (int i = 0; i < 12; i++) {
        if (code[i] < '0' || code[i] > '9') return -1;
        if (i < 6) v = v * 10 + (code[i] - '0');
    }
    return code[12] ? -1 : v;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The first slot of L's c6v not below v. */
static size_t c6_lower(const layer *L, uint32_t v) {
    size_t lo = 0, hi = L->c6v.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (L->c6v.p[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* L's county places (c6v, c6): a `within` is then a range of small numbers beside the keys, no
 * look at an entry. Returns 0 or -1 (out of memory). */
static int finish_c6(layer *L) {
    if (VGROW(L->c6v, L->ent.n ? L->ent.n : 1) != 0) return -1;
    for (size_t i = 0; i < L->ent.n; i++) {
        long v = code6(L->ent.p[i].code);
        if (v >= 0) L->c6v.p[L->c6v.n++] = (uint32_t)v;
    }
    gis_sort(L->c6v.p, L->c6v.n, sizeof *L->c6v.p, cmp_u32);
    size_t m = 0;
    for (size_t i = 0; i < L->c6v.n; i++)
        if (!m || L->c6v.p[m - 1] != L->c6v.p[i]) L->c6v.p[m++] = L->c6v.p[i];
    L->c6v.n = m;
    if (m > 65535) return VFREE(L->c6v), 0;
    if (VGROW(L->c6, L->ent.n ? L->ent.n : 1) != 0) return -1;
    for (size_t i = 0; i < L->ent.n; i++) {
        long v = code6(L->ent.p[i].code);
        L->c6.p[i] = (uint16_t)(v < 0 ? 0 : 1 + c6_lower(L, (uint32_t)v));
    }
    L->c6.n = L->ent.n;
    return 0;
}

/* Parents and replacements of L's entries (the top layer of g), found in all of g; cycles cut. */
static void finish_links(const gaz *g, layer *L, const bextra *ex) {
    for (size_t i = 0; i < L->ent.n; i++) {
        gaz_entry *e = &L->ent.p[i];
        const char *pc = e->kind == GAZ_DIVISION ? ex[i].parent : e->code;
        e->parent = pc[0] ? gaz_find_code(g, pc) : -1;
        if (e->parent == (int32_t)(L->first + i)) e->parent = -1;
        if (ex[i].replaced[0]) e->replaced_by = gaz_find_code(g, ex[i].replaced);
        if (e->former) e->lon = e->lat = NAN;
    }
    /* a parent chain must end: cut cycles (bad data) */
    for (size_t i = 0; i < L->ent.n; i++) {
        int32_t p = L->ent.p[i].parent;
        for (int d = 0; p >= 0; d++, p = ent_at(g, (uint32_t)p)->parent)
            if (d > 8) {
                L->ent.p[i].parent = -1;
                break;
            }
    }
}

/* ---- finishing: keys ---- */

/* Adds the key L->txt[off..off+len) of entry; the same text twice for one entry is one key.
 * Returns 0 or -1 (out of memory). */
static int add_key(layer *L, uint32_t entry, uint32_t off, size_t len, int alias) {
    if (len == 0 || len > MAX_KEY_BYTES) return 0;
    const char *s = L->txt.p + off;
    const gkey *name = NULL;
    for (size_t k = L->keys.n; k > 0 && L->keys.p[k - 1].entry == entry; k--) {
        const gkey *o = &L->keys.p[k - 1];
        if (o->len == len && memcmp(L->txt.p + o->str, s, len) == 0) return 0;
        name = o;
    }
    /* pinyin for names, and for aliases that are not a prefix of the name (the name covers those) */
    int spell = !alias || !name || name->alias || name->len < len ||
                memcmp(L->txt.p + name->str, s, len) != 0;
    if (VGROW(L->keys, L->keys.n + 1)) return -1;
    L->keys.p[L->keys.n++] =
        (gkey){entry, off, (uint8_t)len, L->ent.p[entry].nchars, (uint8_t)alias, (uint8_t)spell};
    return 0;
}

/* Adds s[0..len) (not in L's texts) as a key of entry, copying it there when it is new. */
static int add_text_key(layer *L, uint32_t entry, const char *s, size_t len, int alias) {
    for (size_t k = L->keys.n; k > 0 && L->keys.p[k - 1].entry == entry; k--)
        if (L->keys.p[k - 1].len == len && memcmp(L->txt.p + L->keys.p[k - 1].str, s, len) == 0)
            return 0;
    if (len == 0 || len > MAX_KEY_BYTES) return 0;
    uint32_t off = put_text(L, s, len);
    return off ? add_key(L, entry, off, len, alias) : -1;
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

/* Adds the text at off and its suffix-stripped forms (prefixes of it) as keys of entry. */
static int add_forms(layer *L, uint32_t entry, uint32_t off, size_t len, int alias) {
    if (add_key(L, entry, off, len, alias)) return -1;
    for (int round = 0; round < 3; round++) {
        size_t l = strip_suffix(L->txt.p + off, len);
        if (l == len) break;
        len = l;
        if (add_key(L, entry, off, len, 1)) return -1;
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

/* The offset of the normalised s[0..len) in L's texts: s itself when normalising changes nothing,
 * else a new text; *nlen its length. 0 when it does not normalise (or out of memory: *oom). */
static uint32_t norm_text(layer *L, uint32_t off, size_t len, size_t *nlen, int *oom) {
    char nm[MAX_KEY_BYTES + 1];
    if (gaz_normalize(L->txt.p + off, len, nm, sizeof nm) <= 0) return 0;
    *nlen = strlen(nm);
    if (*nlen == len && memcmp(nm, L->txt.p + off, len) == 0) return off;
    uint32_t at = put_text(L, nm, *nlen);
    *oom |= !at;
    return at;
}

/* The given aliases of entry i (and their suffix-stripped forms) as keys. */
static int alias_keys(layer *L, uint32_t i, uint32_t aliases) {
    int oom = 0;
    for (uint32_t p = aliases; p && L->txt.p[p];) {
        size_t l = strcspn(L->txt.p + p, "\n"), nl = 0;
        uint32_t at = l ? norm_text(L, p, l, &nl, &oom) : 0;
        if (oom || (at && add_forms(L, i, at, nl, 1))) return -1;
        p += (uint32_t)l + 1;
    }
    return 0;
}

/* Every key of entry i of L (the top layer of g): its name and derived forms, then the given
 * aliases. */
static int entry_keys(const gaz *g, layer *L, uint32_t i, uint32_t aliases) {
    const gaz_entry *e = &L->ent.p[i];
    char pn[MAX_KEY_BYTES + 1], tmp[2][MAX_KEY_BYTES + 8];
    uint32_t name = e->name & ~TEXT_TOP;
    size_t len = 0;
    int oom = 0;
    uint32_t at = norm_text(L, name, strlen(L->txt.p + name), &len, &oom);
    if (oom) return -1;
    if (!at) return 0;
    if (add_forms(L, i, at, len, 0)) return -1;
    /* forms to derive from: the name, and the name without its parent's name */
    uint32_t forms[2] = {at, 0};
    size_t flen[2] = {len, 0};
    if (e->parent >= 0) {
        const char *parent = gaz_text(g, ent_at(g, (uint32_t)e->parent)->name);
        int pc = gaz_normalize(parent, strlen(parent), pn, sizeof pn);
        size_t pl = pc > 0 ? strip_suffix(pn, strlen(pn)) : 0;
        const char *nm = L->txt.p + at;
        if (pl && len > pl && memcmp(nm, pn, pl) == 0 && utf8_count(nm + pl, len - pl) >= 2 &&
            !is_suffix_word(nm + pl, len - pl)) {
            forms[1] = at + (uint32_t)pl, flen[1] = len - pl;
            if (add_forms(L, i, forms[1], flen[1], 1)) return -1;
        }
    }
    static const char *const shorts[][2] = {{"经济技术开发区", "开发区"},
                                            {"经济技术开发区", "经开区"},
                                            {"高新技术产业开发区", "高新区"},
                                            {"高新技术产业开发区", "开发区"}};
    for (int f = 0; f < 2 && forms[f]; f++)
        for (size_t s = 0; s < sizeof shorts / sizeof shorts[0]; s++) {
            size_t l = replace(L->txt.p + forms[f], flen[f], shorts[s][0], shorts[s][1], tmp[s & 1],
                               sizeof tmp[0]);
            if (l && add_text_key(L, i, tmp[s & 1], l, 1)) return -1;
        }
    return alias_keys(L, i, aliases);
}

static int cmp_key_text(const void *a, const void *b) {
    const gkey *x = &sort_L->keys.p[sk_key(*(const uint64_t *)a)],
               *y = &sort_L->keys.p[sk_key(*(const uint64_t *)b)];
    int c =
        memcmp(sort_L->txt.p + x->str, sort_L->txt.p + y->str, x->len < y->len ? x->len : y->len);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->entry > y->entry) - (x->entry < y->entry);
}

/* Puts the keys in rank order (a posting list walks them shortest names first, and in the order
 * of the entries inside a rank), rank0[r] the first of rank r; then sorted: the keys by text. */
static int finish_order(layer *L) {
    uint32_t at[257] = {0};
    VEC(gkey) by = {0};
    if (VGROW(by, L->keys.n ? L->keys.n : 1) || VGROW(L->sorted, L->keys.n ? L->keys.n : 1)) {
        VFREE(by);
        return -1;
    }
    for (size_t k = 0; k < L->keys.n; k++)
        at[L->keys.p[k].rank + 1]++;
    for (int r = 1; r <= 256; r++)
        at[r] += at[r - 1];
    memcpy(L->rank0, at, sizeof L->rank0);
    for (size_t k = 0; k < L->keys.n; k++)
        by.p[at[L->keys.p[k].rank]++] = L->keys.p[k];
    by.n = L->keys.n;
    VFREE(L->keys);
    L->keys.p = by.p, L->keys.n = by.n, L->keys.cap = by.cap;
    for (size_t k = 0; k < L->keys.n; k++)
        L->sorted.p[k] = sk_make(L->keys.p[k].rank, L->keys.p[k].entry, (uint32_t)k);
    L->sorted.n = L->keys.n;
    sort_L = L;
    gis_sort(L->sorted.p, L->sorted.n, sizeof *L->sorted.p, cmp_key_text);
    return 0;
}

/* ---- finishing: grams and their posting lists ---- */

static inline uint64_t gram_hash(uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 29);
}

/* The distinct unigrams and bigrams of a key into grams; returns how many. */
static int key_grams(const layer *L, const gkey *k, uint64_t *grams, int max) {
    uint32_t cps[MAX_KEY_BYTES];
    int n = 0, ng = 0;
    const unsigned char *s = (const unsigned char *)L->txt.p + k->str;
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

static size_t varint_len(uint32_t v) {
    size_t n = 1;
    while (v >= 0x80)
        v >>= 7, n++;
    return n;
}

static size_t varint_put(uint8_t *p, uint32_t v) {
    size_t n = 0;
    for (; v >= 0x80; v >>= 7)
        p[n++] = (uint8_t)(v | 0x80);
    p[n++] = (uint8_t)v;
    return n;
}

static inline uint32_t varint_get(const uint8_t **p) {
    uint32_t v = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint32_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return v;
    }
}

/* The build-time gram table: open addressing, one row per gram. */
typedef struct {
    uint64_t gram;
    uint32_t count; /* slots in its list; 0: empty row */
    uint32_t bytes; /* pass 0: of its list; pass 1: where the next varint goes */
    uint32_t last;  /* the last key put in its list */
    uint32_t done;  /* pass 1: slots written */
} grow_t;

typedef VEC(grow_t) gtable;

static size_t gtable_slot(const gtable *t, uint64_t gram) {
    size_t m = t->cap - 1, i = (size_t)gram_hash(gram) & m;
    while (t->p[i].count && t->p[i].gram != gram)
        i = (i + 1) & m;
    return i;
}

static int gtable_grow(gtable *t) {
    gtable n = {NULL, t->n, 0};
    if (VGROW(n, t->cap ? t->cap * 2 : 1 << 16) != 0) return -1;
    memset(n.p, 0, n.cap * sizeof *n.p);
    for (size_t i = 0; i < t->cap; i++)
        if (t->p[i].count) n.p[gtable_slot(&n, t->p[i].gram)] = t->p[i];
    VFREE(*t);
    *t = n;
    return 0;
}

/* Walks the keys in order: pass 0 counts every gram's keys and list bytes, pass 1 writes the lists
 * (each key id as its gap to the one before, the first as itself). */
static int gram_pass(layer *L, gtable *t, int pass) {
    uint64_t grams[2 * MAX_KEY_BYTES];
    for (size_t r = 0; r < L->keys.n; r++) {
        int ng = key_grams(L, &L->keys.p[r], grams, 2 * MAX_KEY_BYTES);
        for (int j = 0; j < ng; j++) {
            if (pass == 0 && 2 * (t->n + 1) > t->cap && gtable_grow(t)) return -1;
            grow_t *row = &t->p[gtable_slot(t, grams[j])];
            if (pass == 0) {
                if (!row->count) row->gram = grams[j], t->n++;
                row->bytes +=
                    (uint32_t)varint_len(row->count ? (uint32_t)r - row->last - 1 : (uint32_t)r);
                row->count++;
            } else {
                uint32_t gap = row->done++ ? (uint32_t)r - row->last - 1 : (uint32_t)r;
                row->bytes += (uint32_t)varint_put(L->post.p + row->bytes, gap);
            }
            row->last = (uint32_t)r;
        }
    }
    return 0;
}

static _Thread_local const gtable *sort_t;

static int cmp_row(const void *a, const void *b) {
    uint64_t x = sort_t->p[*(const uint32_t *)a].gram, y = sort_t->p[*(const uint32_t *)b].gram;
    return (x > y) - (x < y);
}

/* The grams of L's keys in order (gk, gstart, gcount) and their lists (post). Returns 0 or -1. */
static int finish_grams(layer *L) {
    gtable t = {0};
    VEC(uint32_t) ord = {0};
    int rc = -1;
    if (gtable_grow(&t) || gram_pass(L, &t, 0) || VGROW(ord, t.n ? t.n : 1)) goto done;
    for (size_t i = 0; i < t.cap; i++)
        if (t.p[i].count) ord.p[ord.n++] = (uint32_t)i;
    sort_t = &t;
    gis_sort(ord.p, ord.n, sizeof *ord.p, cmp_row);
    size_t total = 0;
    for (size_t k = 0; k < ord.n; k++)
        total += t.p[ord.p[k]].bytes;
    if (total >= UINT32_MAX || VGROW(L->gk, ord.n ? ord.n : 1) ||
        VGROW(L->gstart, ord.n ? ord.n : 1) || VGROW(L->gcount, ord.n ? ord.n : 1) ||
        VGROW(L->post, total ? total : 1))
        goto done;
    uint32_t at = 0;
    for (size_t k = 0; k < ord.n; k++) {
        grow_t *row = &t.p[ord.p[k]];
        L->gk.p[k] = row->gram, L->gstart.p[k] = at, L->gcount.p[k] = row->count;
        at += row->bytes;
        row->bytes = L->gstart.p[k];
    }
    L->gk.n = L->gstart.n = L->gcount.n = ord.n;
    L->post.n = total;
    rc = gram_pass(L, &t, 1);
done:
    VFREE(t), VFREE(ord);
    return rc;
}

/* Index of gram k in L's grams, or -1. */
static long gram_find(const layer *L, uint64_t k) {
    size_t lo = 0, hi = L->gk.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (L->gk.p[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < L->gk.n && L->gk.p[lo] == k ? (long)lo : -1;
}

/* ---- finishing: pinyin keys, (key id << 8 | variant) spelled on demand ---- */

/* The readings of the characters of key k that have one (a-z and 0-9 read as themselves), at
 * most MAX_PY_CHARS: up to 4 readings each into rd (lit holds the letters). Returns how many. */
static int key_readings(const layer *L, const gkey *k, const char *rd[][4], int *nr,
                        char lit[][2]) {
    const unsigned char *s = (const unsigned char *)L->txt.p + k->str;
    int n = 0;
    for (size_t i = 0; i < k->len && n < MAX_PY_CHARS;) {
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
    return n;
}

/* Variant 0 reads every character its first way; 1 + 3 * c + (a - 1) reads character c its
 * a-th other way (a = 1..3). Spells pinyin key `it` of L into out (at most max - 1 bytes and a
 * NUL): the full spelling (cut before MAX_PY_BYTES), or with initials the first letters of the
 * same readings; reads no more of the key than it needs. Returns the length. */
static size_t py_spell(const layer *L, uint32_t it, int initials, char *out, size_t max) {
    const gkey *k = &L->keys.p[it >> 8];
    const unsigned char *s = (const unsigned char *)L->txt.p + k->str;
    int code = (int)(it & 255), v = code ? (code - 1) / 3 : -1, alt = code ? (code - 1) % 3 + 1 : 0;
    size_t o = 0, fl = 0;
    int c = 0; /* characters read so far */
    for (size_t i = 0; i < k->len && c < MAX_PY_CHARS && o + 1 < max;) {
        uint32_t cp;
        const char *rd[4];
        char lit[2];
        int l = utf8_decode(s + i, k->len - i, &cp), nr;
        if (l < 0) break;
        i += (size_t)l;
        nr = gis_pinyin_readings(cp, rd, 4);
        if (!nr && ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')))
            lit[0] = (char)cp, lit[1] = 0, rd[0] = lit, nr = 1;
        if (!nr) continue;
        const char *r = rd[c == v && alt < nr ? alt : 0];
        c++;
        size_t rl = strlen(r);
        if (fl + rl > MAX_PY_BYTES) break;
        fl += rl;
        size_t put = initials ? 1 : rl;
        if (put > max - 1 - o) put = max - 1 - o;
        memcpy(out + o, r, put), o += put;
    }
    out[o] = 0;
    return o;
}

typedef struct {
    uint32_t it;
    uint32_t str; /* offset of its whole spelling in a scratch arena */
} pyrun;

static _Thread_local const char *sort_spelt;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_py_whole(const void *a, const void *b) {
    const pyrun *x = a, *y = b;
    int c = strcmp(sort_spelt + x->str, sort_spelt + y->str);
    return c ? c : (x->it > y->it) - (x->it < y->it);
}

/* Puts the run t[0..m) (one head) into items[0..m) by whole spelling (ties by key). */
static int py_sort_run(const layer *L, const uint64_t *t, size_t m, int initials, uint32_t *items) {
    VEC(pyrun) run = {0};
    VEC(char) sp = {0};
    int rc = -1;
    if (VGROW(run, m)) goto done;
    for (size_t k = 0; k < m; k++) {
        if (VGROW(sp, sp.n + MAX_PY_BYTES + 8)) goto done;
        run.p[k] = (pyrun){(uint32_t)t[k], (uint32_t)sp.n};
        sp.n += py_spell(L, (uint32_t)t[k], initials, sp.p + sp.n, MAX_PY_BYTES + 8) + 1;
    }
    sort_spelt = sp.p;
    gis_sort(run.p, m, sizeof *run.p, cmp_py_whole);
    for (size_t k = 0; k < m; k++)
        items[k] = run.p[k].it;
    rc = 0;
done:
    VFREE(run), VFREE(sp);
    return rc;
}

/* Sorts the pinyin keys items[0..n) by their spelling (ties by key): as 64-bit words, the first
 * 4 letters above the key, then each run of the same 4 letters spelt out in full once. */
static int py_sort(const layer *L, uint32_t *items, size_t n, int initials) {
    VEC(uint64_t) t = {0};
    int rc = 0;
    if (VGROW(t, n ? n : 1)) return -1;
    for (size_t i = 0; i < n; i++) {
        char sp[5];
        size_t l = py_spell(L, items[i], initials, sp, sizeof sp);
        uint64_t h = 0;
        for (size_t j = 0; j < 4; j++)
            h = h << 8 | (j < l ? (unsigned char)sp[j] : 0);
        t.p[i] = h << 32 | items[i];
    }
    gis_sort(t.p, n, sizeof *t.p, cmp_u64);
    for (size_t i = 0, j; i < n && rc == 0; i = j) {
        for (j = i + 1; j < n && t.p[j] >> 32 == t.p[i] >> 32;)
            j++;
        if (j - i == 1)
            items[i] = (uint32_t)t.p[i];
        else
            rc = py_sort_run(L, t.p + i, j - i, initials, items + i);
    }
    VFREE(t);
    return rc;
}

/* The pinyin keys of key kid: up to MAX_PY_VARIANTS full spellings (first readings, then one
 * character at a time read otherwise) and as many distinct initials. Returns 0 or -1. */
static int key_pinyin(layer *L, uint32_t kid) {
    const char *rd[MAX_PY_CHARS][4];
    int nr[MAX_PY_CHARS];
    char lit[MAX_PY_CHARS][2], init[MAX_PY_VARIANTS][MAX_PY_CHARS + 8];
    int n = key_readings(L, &L->keys.p[kid], rd, nr, lit), nfull = 0, ninit = 0;
    if (!n) return 0;
    uint32_t full[MAX_PY_VARIANTS];
    for (int v = -1; v < n && nfull < MAX_PY_VARIANTS; v++)
        for (int alt = 1; alt < (v < 0 ? 2 : nr[v]) && nfull < MAX_PY_VARIANTS; alt++)
            full[nfull++] = kid << 8 | (uint32_t)(v < 0 ? 0 : 1 + 3 * v + (alt - 1));
    if (VGROW(L->pyfull, L->pyfull.n + (size_t)nfull) ||
        VGROW(L->pyinit, L->pyinit.n + (size_t)nfull))
        return -1;
    for (int i = 0; i < nfull; i++) {
        L->pyfull.p[L->pyfull.n++] = full[i];
        py_spell(L, full[i], 1, init[ninit], sizeof init[0]);
        int dup = 0;
        for (int d = 0; d < ninit && !dup; d++)
            dup = strcmp(init[d], init[ninit]) == 0;
        if (!dup) L->pyinit.p[L->pyinit.n++] = full[i], ninit++;
    }
    return 0;
}

/* The fences of sorted, pyfull and pyinit. Returns 0 or -1. */
static int finish_fences(layer *L) {
    size_t nk = (L->sorted.n + FENCE - 1) / FENCE, nf = (L->pyfull.n + FENCE - 1) / FENCE,
           ni = (L->pyinit.n + FENCE - 1) / FENCE;
    if (VGROW(L->kfence, nk ? nk : 1) || VGROW(L->ffence, nf ? nf : 1) ||
        VGROW(L->ifence, ni ? ni : 1))
        return -1;
    if (VGROW(L->kmin, nk ? nk : 1) || VGROW(L->fmin, nf ? nf : 1) || VGROW(L->imin, ni ? ni : 1))
        return -1;
    char sp[9];
    for (size_t j = 0; j < nk; j++) {
        const gkey *k = &L->keys.p[sk_key(L->sorted.p[j * FENCE])];
        L->kfence.p[L->kfence.n++] = head8(L->txt.p + k->str, k->len);
    }
    for (size_t j = 0; j < nf; j++)
        L->ffence.p[L->ffence.n++] = head8(sp, py_spell(L, L->pyfull.p[j * FENCE], 0, sp, 9));
    for (size_t j = 0; j < ni; j++)
        L->ifence.p[L->ifence.n++] = head8(sp, py_spell(L, L->pyinit.p[j * FENCE], 1, sp, 9));
    if (VGROW(L->srank, L->sorted.n ? L->sorted.n : 1)) return -1;
    memset(L->kmin.p, 255, nk), memset(L->fmin.p, 255, nf), memset(L->imin.p, 255, ni);
    L->kmin.n = nk, L->fmin.n = nf, L->imin.n = ni;
    for (size_t k = 0; k < L->sorted.n; k++) {
        L->srank.p[L->srank.n++] = (uint8_t)sk_rank(L->sorted.p[k]);
        if (sk_rank(L->sorted.p[k]) < L->kmin.p[k / FENCE])
            L->kmin.p[k / FENCE] = (uint8_t)sk_rank(L->sorted.p[k]);
    }
    for (size_t k = 0; k < L->pyfrank.n; k++)
        if (L->pyfrank.p[k] < L->fmin.p[k / FENCE]) L->fmin.p[k / FENCE] = L->pyfrank.p[k];
    for (size_t k = 0; k < L->pyirank.n; k++)
        if (L->pyirank.p[k] < L->imin.p[k / FENCE]) L->imin.p[k / FENCE] = L->pyirank.p[k];
    return 0;
}

/* L's keys in order, by text, their grams and pinyin. */
static int index_keys(layer *L, char *err, size_t errlen) {
    if (L->keys.n >= GAZ_MAX_KEYS) {
        snprintf(err, errlen, "more than %u names and aliases in one layer", GAZ_MAX_KEYS);
        return -1;
    }
    if (finish_order(L) || finish_grams(L)) return -1;
    for (size_t k = 0; k < L->keys.n; k++)
        if (L->keys.p[k].spell && key_pinyin(L, (uint32_t)k)) return -1;
    if (py_sort(L, L->pyfull.p, L->pyfull.n, 0) || py_sort(L, L->pyinit.p, L->pyinit.n, 1) ||
        VGROW(L->pyfrank, L->pyfull.n ? L->pyfull.n : 1) ||
        VGROW(L->pyirank, L->pyinit.n ? L->pyinit.n : 1))
        return -1;
    for (size_t i = 0; i < L->pyfull.n; i++)
        L->pyfrank.p[L->pyfrank.n++] = L->keys.p[L->pyfull.p[i] >> 8].rank;
    for (size_t i = 0; i < L->pyinit.n; i++)
        L->pyirank.p[L->pyirank.n++] = L->keys.p[L->pyinit.p[i] >> 8].rank;
    return finish_fences(L);
}

/* ---- finishing: points ---- */

static int level_has_point(const layer *L, const gaz_entry *e) {
    const char *lv = L->txt.p + (e->level & ~TEXT_TOP);
    return e->kind != GAZ_DIVISION ||
           (strcmp(lv, "province") != 0 && strcmp(lv, "city") != 0 && strcmp(lv, "county") != 0);
}

static _Thread_local int kd_axis;
static int cmp_kd(const void *a, const void *b) {
    float x = ((const kdpt *)a)->v[kd_axis], y = ((const kdpt *)b)->v[kd_axis];
    return (x > y) - (x < y);
}

/* Implicit KD-tree: the median of [lo, hi) at its middle, split on depth % 3. Build-time only
 * (depth about log2 n). */
static void kd_build(kdpt *p, size_t lo, size_t hi, int depth) {
    if (hi - lo < 2) return;
    kd_axis = depth % 3;
    gis_sort(p + lo, hi - lo, sizeof *p, cmp_kd);
    size_t mid = lo + (hi - lo) / 2;
    kd_build(p, lo, mid, depth + 1);
    kd_build(p, mid + 1, hi, depth + 1);
}

static void unit_vec(double lon, double lat, double v[3]) {
    double la = lat * M_PI / 180, lo = lon * M_PI / 180;
    v[0] = cos(la) * cos(lo), v[1] = cos(la) * sin(lo), v[2] = sin(la);
}

/* The k-d tree of the entries of L that have a point. Returns 0 or -1. */
static int finish_points(layer *L, const char *skip) {
    size_t n = 0;
    for (size_t i = 0; i < L->ent.n; i++) {
        const gaz_entry *e = &L->ent.p[i];
        n +=
            isfinite(e->lon) && isfinite(e->lat) && !e->former && !skip[i] && level_has_point(L, e);
    }
    if (!n) return 0;
    if (VGROW(L->kd, n)) return -1;
    for (size_t i = 0; i < L->ent.n; i++) {
        const gaz_entry *e = &L->ent.p[i];
        if (isfinite(e->lon) && isfinite(e->lat) && !e->former && !skip[i] &&
            level_has_point(L, e)) {
            double v[3];
            unit_vec(e->lon, e->lat, v);
            L->kd.p[L->kd.n++] = (kdpt){{(float)v[0], (float)v[1], (float)v[2]}, (uint32_t)i};
        }
    }
    kd_build(L->kd.p, 0, L->kd.n, 0);
    if (VGROW(L->kdll, 2 * L->kd.n)) return -1;
    for (size_t k = 0; k < L->kd.n; k++) {
        L->kdll.p[L->kdll.n++] = L->ent.p[L->kd.p[k].entry].lon;
        L->kdll.p[L->kdll.n++] = L->ent.p[L->kd.p[k].entry].lat;
    }
    return 0;
}

/* ---- finishing ---- */

/* Builds the search structures of b's layer (g's top layer: lay[1], or lay[0] alone) and gives
 * every array its exact size. Returns 0 or -1 with a message. */
static int finish_layer(gaz *g, gaz_builder *b, char *err, size_t errlen) {
    layer *L = b->L;
    char *skip = calloc(L->ent.n ? L->ent.n : 1, 1);
    int rc = -1;
    if (!skip || finish_codes(L, skip) || finish_c6(L)) goto done;
    finish_links(g, L, b->ex.p);
    for (size_t i = 0; i < L->ent.n; i++) /* the keys of every indexed entry */
        if (!skip[i] && entry_keys(g, L, (uint32_t)i, b->ex.p[i].aliases)) goto done;
    VFREE(b->ex), VFREE(b->intern); /* gone before the indexes take their room */
    if (index_keys(L, err, errlen) || finish_points(L, skip)) goto done;
    VFIT(L->txt), VFIT(L->ent), VFIT(L->keys), VFIT(L->sorted), VFIT(L->codes), VFIT(L->gk);
    VFIT(L->gstart), VFIT(L->gcount), VFIT(L->post), VFIT(L->pyfull), VFIT(L->pyinit);
    VFIT(L->kd), VFIT(L->kfence), VFIT(L->ffence), VFIT(L->ifence), VFIT(L->pyfrank);
    VFIT(L->pyirank), VFIT(L->kmin), VFIT(L->fmin), VFIT(L->imin), VFIT(L->kdll);
    VFIT(L->srank), VFIT(L->c6v), VFIT(L->c6);
    rc = 0;
done:
    free(skip);
    return rc;
}

/* Finishes b alone, or over the bottom layer of `under`; always consumes b. */
static gaz *finish(gaz_builder *b, const gaz *under, char *err, size_t errlen) {
    layer *L = b->L;
    gaz *g = calloc(1, sizeof *g);
    int top = under != NULL;
    if (errlen) err[0] = 0;
    if (g) {
        atomic_init(&g->refs, 1);
        if (under) {
            g->lay[0] = under->lay[0];
            atomic_fetch_add(&g->lay[0]->refs, 1);
            L->first = (uint32_t)g->lay[0]->ent.n;
            L->textbit = TEXT_TOP;
            for (size_t i = 0; i < L->ent.n; i++) {
                gaz_entry *e = &L->ent.p[i];
                e->name |= TEXT_TOP, e->level |= TEXT_TOP;
                if (e->valid_from) e->valid_from |= TEXT_TOP;
                if (e->valid_to) e->valid_to |= TEXT_TOP;
            }
        }
        g->lay[top] = L;
        g->n = L->first + L->ent.n;
    }
    if (!g || finish_layer(g, b, err, errlen) != 0) {
        if (errlen && !err[0]) snprintf(err, errlen, "out of memory building the gazetteer");
        if (g) g->lay[top] = NULL; /* L goes with the builder */
        gaz_destroy(g);
        gaz_builder_destroy(b);
        return NULL;
    }
    b->L = NULL;
    gaz_builder_destroy(b);
    return g;
}

gaz *gaz_builder_finish(gaz_builder *b, char *err, size_t errlen) {
    return finish(b, NULL, err, errlen);
}

gaz *gaz_builder_finish_over(gaz_builder *b, const gaz *under, char *err, size_t errlen) {
    for (size_t i = 0; i < b->L->ent.n; i++)
        if (b->L->ent.p[i].kind == GAZ_DIVISION) {
            snprintf(err, errlen, "division %s in a layer over divisions", b->L->ent.p[i].code);
            gaz_builder_destroy(b);
            return NULL;
        }
    return finish(b, under, err, errlen);
}

uint64_t gaz_base_tag(const gaz *g) {
    return g->lay[0]->tag;
}

void gaz_destroy(gaz *g) {
    if (!g) return;
    layer_unref(g->lay[0]);
    layer_unref(g->lay[1]);
    free(g);
}

void gaz_stats(const gaz *g, size_t *nentries, size_t *nkeys, size_t *bytes) {
    if (nentries) *nentries = g->n;
    if (nkeys) *nkeys = g->lay[0]->keys.n + (g->lay[1] ? g->lay[1]->keys.n : 0);
    if (bytes)
        *bytes = sizeof *g + layer_bytes(g->lay[0]) + (g->lay[1] ? layer_bytes(g->lay[1]) : 0);
}

const gaz_entry *gaz_entry_at(const gaz *g, uint32_t i) {
    return i < g->n ? ent_at(g, i) : NULL;
}

size_t gaz_children(const gaz *g, uint32_t i, uint32_t *out, size_t max) {
    if (i >= g->n || ent_at(g, i)->kind != GAZ_DIVISION) return 0;
    const char *code = ent_at(g, i)->code;
    size_t pl = code_prefix_len(code), total = 0;
    for (int l = 0; l < nlayers(g); l++) {
        const layer *L = g->lay[l];
        for (int d = 0; d < 5; d++) /* children in code order: their depths are one */
            for (size_t k = code_lower(L, d, code, pl); code_at(L, d, k, code, pl); k++) {
                const gaz_entry *c = &L->ent.p[L->codes.p[k]];
                if (c->parent == (int32_t)i && !c->former) {
                    if (total < max) out[total] = L->first + L->codes.p[k];
                    total++;
                }
            }
    }
    return total;
}

/* ---- search ---- */

enum { SEEN0 = 1024 }; /* the seen set's first table, on the stack: no allocation for most */

/* A code prefix a search keeps (within) or leaves out (exclude): its digits and, per layer, the
 * c6 places it covers, [lo, hi). */
typedef struct {
    const char *p; /* NULL: none */
    size_t n;
    int fast; /* all digits: the places tell (and, past 6 digits, the code then) */
    uint32_t lo[2], hi[2];
} pfx;

typedef struct {
    const gaz *g;
    const gaz_query *opt;
    pfx within, exclude; /* exclude: entries whose code starts with it are not hits */
    gaz_hit *top;
    uint16_t *rank; /* per top slot: the length used for ordering */
    int ntop;
    uint32_t *seen; /* open addressing set of entry+1 */
    size_t seencap, nseen;
    int oom;
} search;

static void pfx_make(pfx *f, const gaz *g, const char *p) {
    memset(f, 0, sizeof *f);
    if (!(f->p = p)) return;
    f->n = strlen(p);
    f->fast = f->n > 0 && f->n <= 12;
    for (size_t i = 0; i < f->n; i++)
        f->fast &= p[i] >= '0' && p[i] <= '9';
    if (!f->fast) return;
    uint32_t a = 0, span = 1;
    for (size_t i = 0; i < 6; i++)
        a = a * 10 + (uint32_t)(i < f->n ? p[i] - '0' : 0), span *= i < f->n ? 1 : 10;
    for (int l = 0; l < nlayers(g); l++) {
        f->lo[l] = 1 + (uint32_t)c6_lower(g->lay[l], a);
        f->hi[l] = 1 + (uint32_t)c6_lower(g->lay[l], a + span);
    }
}

/* 1 when the code of entry i of layer l (an index in the layer) starts with f's digits. */
static inline int pfx_has(const search *s, const pfx *f, int l, uint32_t i) {
    const layer *L = s->g->lay[l];
    if (f->fast && L->c6.n) {
        uint32_t c = L->c6.p[i];
        if (c < f->lo[l] || c >= f->hi[l]) return 0;
        if (f->n <= 6) return 1;
    }
    return strncmp(L->ent.p[i].code, f->p, f->n) == 0;
}

/* 1 when entry i of layer l may be a hit: inside within, outside exclude. */
static inline int wanted(const search *s, int l, uint32_t i) {
    return (!s->within.p || pfx_has(s, &s->within, l, i)) &&
           (!s->exclude.p || !pfx_has(s, &s->exclude, l, i));
}

static int seen_add(search *s, uint32_t entry) {
    if (2 * (s->nseen + 1) > s->seencap) {
        size_t cap = s->seencap * 2;
        uint32_t *n = calloc(cap, sizeof *n);
        if (!n) return s->oom = 1, 0;
        for (size_t i = 0; i < s->seencap; i++)
            if (s->seen[i]) {
                size_t j = (size_t)gram_hash(s->seen[i]) & (cap - 1);
                while (n[j])
                    j = (j + 1) & (cap - 1);
                n[j] = s->seen[i];
            }
        if (s->seencap > SEEN0) free(s->seen); /* the first table lives on the caller's stack */
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

/* 1 when a candidate with this tier and rank cannot enter a full top list. With near, distance
 * orders a tier before rank does: only a worse tier is known not to enter. */
static inline int cannot_enter(const search *s, int tier, unsigned rank) {
    if (s->ntop < s->opt->limit) return 0;
    const gaz_hit *w = &s->top[s->ntop - 1];
    if (s->opt->near) return tier > w->tier;
    return tier > w->tier || (tier == w->tier && rank > s->rank[s->ntop - 1]);
}

/* The greatest rank a candidate of this tier may have and still enter: 255 for any, -1 for none. */
static int rank_limit(const search *s, int tier) {
    if (s->ntop < s->opt->limit) return 255;
    const gaz_hit *w = &s->top[s->ntop - 1];
    return tier > w->tier ? -1 : tier < w->tier || s->opt->near ? 255 : s->rank[s->ntop - 1];
}

/* 1 when one of the 8 bytes at p is at most lim (< 127). */
static int any_le8(const uint8_t *p, int lim) {
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t x;
    memcpy(&x, p, 8);
    return (((x - ones * (uint64_t)(lim + 1)) & ~x) & (ones * 0x80)) != 0;
}

/* The first slot in [k, hi) of a range whose rank (ranks, and least of every FENCE slots) may
 * still enter at tier; hi when none: blocks of 64 and words of 8 ranks skipped at once. */
static size_t next_candidate(const search *s, int tier, const uint8_t *ranks, const uint8_t *least,
                             size_t k, size_t hi) {
    int lim = rank_limit(s, tier);
    if (lim < 0) return hi;
    if (lim >= 255) return k < hi ? k : hi;
    while (k < hi) {
        if (k % FENCE == 0 && k + FENCE <= hi && least[k / FENCE] > lim)
            k += FENCE;
        else if (k % 8 == 0 && k + 8 <= hi && lim < 127 && !any_le8(ranks + k, lim))
            k += 8;
        else if (ranks[k] <= lim)
            return k;
        else
            k++;
    }
    return hi;
}

static void offer(search *s, uint32_t entry, int tier, unsigned rank) {
    gaz_hit h = {entry, (uint8_t)tier, -1};
    if (cannot_enter(s, tier, rank)) return; /* without a look at the entry */
    int l = entry >= s->g->lay[0]->ent.n;
    if (!wanted(s, l, entry - (l ? s->g->lay[1]->first : 0))) return;
    const gaz_entry *e = ent_at(s->g, entry);
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

/* -1, 0, 1: key k against q[0..qlen) compared on their first min(len, qlen) bytes, then length;
 * with prefix set a key that starts with q compares equal. */
static int key_cmp(const layer *L, const gkey *k, const char *q, size_t qlen, int prefix) {
    size_t n = k->len < qlen ? k->len : qlen;
    int c = memcmp(L->txt.p + k->str, q, n);
    if (c) return c;
    if (k->len == qlen || (prefix && k->len > qlen)) return 0;
    return k->len < qlen ? -1 : 1;
}

/* [*lo, *hi): the slots of L's sorted keys that start with q, the one equal to it first. */
static void key_range(const layer *L, const char *q, size_t qlen, size_t *lo, size_t *hi) {
    size_t l, h;
    fence_window(L->kfence.p, L->kfence.n, L->sorted.n, q, qlen, 0, &l, &h);
    while (l < h) {
        size_t mid = (l + h) / 2;
        if (key_cmp(L, &L->keys.p[sk_key(L->sorted.p[mid])], q, qlen, 0) < 0)
            l = mid + 1;
        else
            h = mid;
    }
    *lo = l;
    fence_window(L->kfence.p, L->kfence.n, L->sorted.n, q, qlen, 1, &l, &h);
    if (l < *lo) l = *lo;
    while (l < h) {
        size_t mid = (l + h) / 2;
        if (key_cmp(L, &L->keys.p[sk_key(L->sorted.p[mid])], q, qlen, 1) <= 0)
            l = mid + 1;
        else
            h = mid;
    }
    *hi = l;
}

/* [lo, hi) of the pinyin keys a (n of them, fences f) whose spelling starts with q. */
static void py_range(const layer *L, const uint32_t *a, size_t n, const uint64_t *f, size_t nf,
                     int initials, const char *q, size_t qlen, size_t *lo, size_t *hi) {
    char sp[GAZ_MAX_QUERY_CHARS + 2];
    size_t l, h;
    fence_window(f, nf, n, q, qlen, 0, &l, &h);
    while (l < h) {
        size_t mid = (l + h) / 2;
        py_spell(L, a[mid], initials, sp, qlen + 1);
        if (strncmp(sp, q, qlen) < 0)
            l = mid + 1;
        else
            h = mid;
    }
    *lo = l;
    fence_window(f, nf, n, q, qlen, 1, &l, &h);
    if (l < *lo) l = *lo;
    while (l < h) {
        size_t mid = (l + h) / 2;
        py_spell(L, a[mid], initials, sp, qlen + 1);
        if (strncmp(sp, q, qlen) <= 0)
            l = mid + 1;
        else
            h = mid;
    }
    *hi = l;
}

static void search_pinyin(search *s, int initials, const char *q, size_t qlen, int tier) {
    for (int l = 0; l < nlayers(s->g); l++) {
        const layer *L = s->g->lay[l];
        const uint32_t *a = initials ? L->pyinit.p : L->pyfull.p;
        size_t lo, hi;
        if (initials)
            py_range(L, a, L->pyinit.n, L->ifence.p, L->ifence.n, 1, q, qlen, &lo, &hi);
        else
            py_range(L, a, L->pyfull.n, L->ffence.p, L->ffence.n, 0, q, qlen, &lo, &hi);
        const uint8_t *rank = initials ? L->pyirank.p : L->pyfrank.p,
                      *least = initials ? L->imin.p : L->fmin.p;
        for (size_t k = next_candidate(s, tier, rank, least, lo, hi); k < hi;
             k = next_candidate(s, tier, rank, least, k + 1, hi))
            offer(s, L->first + L->keys.p[a[k] >> 8].entry, tier, rank[k]);
    }
}

/* 1 when n[0..nl) occurs in h[0..hl). */
static int contains(const char *h, size_t hl, const char *n, size_t nl) {
    for (size_t i = 0; i + nl <= hl; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nl) == 0) return 1;
    return 0;
}

/* Division codes that start with the digits qn (12 digits, or a 2/4/6/9-digit prefix padded
 * with zeros, is an exact hit): the exact one, then by depth (the shallow ones rank first). */
static void search_codes(search *s, const char *qn, size_t qlen) {
    char exact[13] = "";
    if (qlen == 2 || qlen == 4 || qlen == 6 || qlen == 9 || qlen == 12) {
        memset(exact, '0', 12);
        memcpy(exact, qn, qlen);
        exact[12] = 0;
    }
    for (int l = 0; l < nlayers(s->g); l++) {
        const layer *L = s->g->lay[l];
        int x = exact[0] ? depth_class(exact) : 0;
        for (size_t k = exact[0] ? code_lower(L, x, exact, 12) : 0;
             exact[0] && code_at(L, x, k, exact, 12); k++)
            offer(s, L->first + L->codes.p[k], GAZ_EXACT, depths[x]);
        for (int d = 0; d < 5 && !cannot_enter(s, GAZ_PREFIX, depths[d]); d++)
            for (size_t k = code_lower(L, d, qn, qlen); code_at(L, d, k, qn, qlen); k++) {
                if (cannot_enter(s, GAZ_PREFIX, depths[d])) break;
                if (d != x || strcmp(L->ent.p[L->codes.p[k]].code, exact) != 0)
                    offer(s, L->first + L->codes.p[k], GAZ_PREFIX, depths[d]);
            }
    }
}

/* The rarest unigram (one character) or bigram of the n code points of the query in L; -1 when
 * one of them is in no key of L (then no key holds the query). */
static long rarest_gram(const layer *L, const uint32_t *cps, int n) {
    long best = -1;
    uint32_t bestcount = UINT32_MAX;
    for (int i = 0; i < n && (n == 1 || i + 1 < n); i++) {
        uint64_t gram = n == 1 ? cps[0] : (1ull << 63) | ((uint64_t)cps[i] << 21) | cps[i + 1];
        long slot = gram_find(L, gram);
        if (slot < 0) return -1;
        if (L->gcount.p[slot] < bestcount) bestcount = L->gcount.p[slot], best = slot;
    }
    return best;
}

/* Substring hits: the rarest gram's posting list, walked shortest names first. */
static void search_substring(search *s, const char *qn, size_t qlen) {
    uint32_t cps[GAZ_MAX_QUERY_CHARS + 1];
    int n = 0;
    for (size_t i = 0; i < qlen && n <= GAZ_MAX_QUERY_CHARS;) {
        int l = utf8_decode((const unsigned char *)qn + i, qlen - i, &cps[n]);
        if (l < 0) break;
        i += (size_t)l, n++;
    }
    for (int l = 0; l < nlayers(s->g) && n; l++) {
        const layer *L = s->g->lay[l];
        long best = rarest_gram(L, cps, n);
        if (best < 0) continue;
        const uint8_t *p = L->post.p + L->gstart.p[best];
        uint32_t kid = UINT32_MAX, rank = 0;
        for (uint32_t j = 0; j < L->gcount.p[best]; j++) {
            kid += 1 + varint_get(&p); /* the first is the key id itself */
            while (rank < 255 && L->rank0[rank + 1] <= kid)
                rank++;
            if (cannot_enter(s, GAZ_SUBSTRING, rank)) break; /* lists go by name length */
            const gkey *key = &L->keys.p[kid];
            if (!wanted(s, l, key->entry)) continue; /* before its text is read */
            const char *ks = L->txt.p + key->str;
            if (key->len <= qlen || memcmp(ks, qn, qlen) == 0) continue; /* exact/prefix above */
            if (n > 2 && !contains(ks, key->len, qn, qlen)) continue;
            offer(s, L->first + key->entry, GAZ_SUBSTRING, rank);
        }
    }
}

/* One ranked pass for the normalised query qn (qlen bytes): at most opt->limit hits of opt (within,
 * near) whose code does not start with `exclude` (NULL: none) into out, best first. Returns their
 * number, or -1 on out of memory. */
static int search_pass(const gaz *g, const char *qn, size_t qlen, const gaz_query *opt,
                       const char *exclude, gaz_hit *out) {
    uint16_t rank[GAZ_MAX_LIMIT];
    uint32_t seen0[SEEN0] = {0};
    search s = {.g = g, .opt = opt, .top = out, .rank = rank, .seen = seen0, .seencap = SEEN0};
    pfx_make(&s.within, g, opt->within);
    pfx_make(&s.exclude, g, exclude);
    int digits = 1, letters = 1;
    for (size_t i = 0; i < qlen; i++) {
        digits &= qn[i] >= '0' && qn[i] <= '9';
        letters &= qn[i] >= 'a' && qn[i] <= 'z';
    }
    if (digits && qlen <= 12) search_codes(&s, qn, qlen);
    /* exact and prefix: a range of the sorted keys (the exact ones first) */
    size_t lo[2], hi[2];
    for (int l = 0; l < nlayers(g); l++) {
        const layer *L = g->lay[l];
        key_range(L, qn, qlen, &lo[l], &hi[l]);
        size_t a = lo[l], b = hi[l]; /* the exact ones end where the first longer key is */
        while (a < b) {
            size_t mid = (a + b) / 2;
            if (L->keys.p[sk_key(L->sorted.p[mid])].len == qlen)
                a = mid + 1;
            else
                b = mid;
        }
        for (; lo[l] < a; lo[l]++)
            if (!cannot_enter(&s, GAZ_EXACT, sk_rank(L->sorted.p[lo[l]])))
                offer(&s, L->first + sk_entry(L->sorted.p[lo[l]]), GAZ_EXACT,
                      sk_rank(L->sorted.p[lo[l]]));
    }
    for (int l = 0; l < nlayers(g); l++) { /* ranks beside the keys: none touched to skip one */
        const layer *L = g->lay[l];
        for (size_t k = next_candidate(&s, GAZ_PREFIX, L->srank.p, L->kmin.p, lo[l], hi[l]);
             k < hi[l]; k = next_candidate(&s, GAZ_PREFIX, L->srank.p, L->kmin.p, k + 1, hi[l]))
            offer(&s, L->first + sk_entry(L->sorted.p[k]), GAZ_PREFIX, sk_rank(L->sorted.p[k]));
    }
    search_substring(&s, qn, qlen);
    if (letters && !cannot_enter(&s, GAZ_PINYIN, 0)) {
        search_pinyin(&s, 0, qn, qlen, GAZ_PINYIN);
        search_pinyin(&s, 1, qn, qlen, GAZ_PINYIN + 1);
    }
    if (s.seencap > SEEN0) free(s.seen);
    if (s.oom) return -1;
    if (opt->near) /* exact geodesic distances, then the same order on them */
        for (int i = 0; i < s.ntop; i++) {
            const gaz_entry *e = ent_at(g, out[i].entry);
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

/* 1 when digits a start with digits b (b no longer than a). */
static int starts_with(const char *a, size_t al, const char *b, size_t bl) {
    return bl <= al && strncmp(a, b, bl) == 0;
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
    size_t qlen = strlen(qn), hl = opt->home ? strlen(opt->home) : 0,
           wl = opt->within ? strlen(opt->within) : 0;
    int n, m = 0;
    /* home first when it is a part of what within lets through; when within lies inside home
     * every hit is home, when the two are apart none is: one plain pass then. */
    if (!hl || !starts_with(opt->home, hl, opt->within ? opt->within : "", wl) || wl >= hl) {
        n = search_pass(g, qn, qlen, opt, NULL, out);
    } else {
        gaz_query mine = *opt;
        mine.within = opt->home;
        n = search_pass(g, qn, qlen, &mine, NULL, out);
        if (n >= 0 && n < opt->limit) {
            mine = *opt;
            mine.limit = opt->limit - n;
            m = search_pass(g, qn, qlen, &mine, opt->home, out + n);
        }
    }
    if (n < 0 || m < 0) return snprintf(err, errlen, "out of memory"), -1;
    return n + m;
}

/* ---- nearest ---- */

typedef struct {
    double d2;
    uint32_t entry; /* gaz index */
    uint32_t at;    /* its slot in the k-d tree of its layer, the top layer's with bit 31 */
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

/* Puts (d2, entry) of k-d slot at into the max-heap c of nc (at most m) candidates. */
static void heap_offer(cand *c, int *nc, int m, double d2, uint32_t entry, uint32_t at) {
    cand cur = {d2, entry, at};
    int i;
    if (*nc < m) {
        i = (*nc)++;
        while (i > 0 && cmp_cand_geo(&c[(i - 1) / 2], &cur) < 0) {
            c[i] = c[(i - 1) / 2];
            i = (i - 1) / 2;
        }
    } else {
        if (cmp_cand_geo(&cur, &c[0]) >= 0) return;
        i = 0;
        for (;;) {
            int l = 2 * i + 1, r = l + 1, big = i;
            const cand *bv = &cur;
            if (l < *nc && cmp_cand_geo(&c[l], bv) > 0) big = l, bv = &c[l];
            if (r < *nc && cmp_cand_geo(&c[r], bv) > 0) big = r;
            if (big == i) break;
            c[i] = c[big];
            i = big;
        }
    }
    c[i] = cur;
}

/* The m nearest points of layer l of g by chord into c[] (a max-heap by d2 while filling);
 * returns how many. */
static int kd_knn(const gaz *g, int l, const double q[3], int m, cand *c) {
    const layer *L = g->lay[l];
    kdframe stack[128];
    int sp = 0, nc = 0;
    stack[sp++] = (kdframe){0, L->kd.n, 0};
    while (sp) {
        size_t lo = stack[sp - 1].lo, hi = stack[sp - 1].hi;
        int depth = stack[--sp].depth;
        if (lo >= hi) continue;
        size_t mid = lo + (hi - lo) / 2;
        const kdpt *p = &L->kd.p[mid];
        double dx = p->v[0] - q[0], dy = p->v[1] - q[1], dz = p->v[2] - q[2];
        heap_offer(c, &nc, m, dx * dx + dy * dy + dz * dz, L->first + p->entry,
                   (uint32_t)mid | (uint32_t)l << 31);
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

/* Geodesic metres are at least this many times the angle between the unit vectors. */
#define MIN_RADIUS_M 6300000.0

/* Lower bound in metres of the geodesic distance of a point at squared chord d2 (single-precision
 * unit vectors: their error taken off). */
static double chord_floor_m(double d2) {
    double chord = fmax(0, sqrt(d2) - 1e-6);
    return 2 * asin(fmin(1.0, chord / 2)) * MIN_RADIUS_M;
}

/* The k nearest of the nc candidates c (of both layers) by geodesic distance, ties by entry,
 * into top (sorted); returns how many. Candidates go by chord, and a geodesic distance is
 * computed only while one could still enter. */
static int nearest_of(const gaz *g, double lon, double lat, cand *c, int nc, int k, cand *top) {
    int nt = 0;
    gis_sort(c, (size_t)nc, sizeof *c, cmp_cand_geo);
    for (int i = 0; i < nc; i++) {
        if (nt == k && chord_floor_m(c[i].d2) > top[k - 1].d2) break; /* and every later one */
        const double *ll = g->lay[c[i].at >> 31]->kdll.p + 2 * (c[i].at & 0x7FFFFFFF);
        cand x = {gis_geodesic_m(lon, lat, ll[0], ll[1]), c[i].entry, c[i].at};
        int j = nt < k ? nt++ : k;
        for (; j > 0 && cmp_cand_geo(&x, &top[j - 1]) < 0; j--)
            if (j < k) top[j] = top[j - 1];
        if (j < k) top[j] = x;
    }
    return nt;
}

enum { MAX_CANDIDATES = 1024 }; /* of all layers: the most a search looks at */

int gaz_nearest(const gaz *g, double lon, double lat, int k, gaz_hit *out) {
    if (k <= 0 || !isfinite(lon) || !isfinite(lat)) return 0;
    if (k > 64) k = 64;
    double q[3];
    unit_vec(lon, lat, q);
    cand c[MAX_CANDIDATES], top[64];
    for (int m = k + 3;; m *= 2) { /* candidates per layer */
        int nc = 0, cap = m * nlayers(g) >= MAX_CANDIDATES;
        if (cap) m = MAX_CANDIDATES / nlayers(g);
        double unseen = INFINITY; /* geodesic metres every point not found is at least */
        for (int l = 0; l < nlayers(g); l++) {
            const layer *L = g->lay[l];
            int n = kd_knn(g, l, q, (size_t)m < L->kd.n ? m : (int)L->kd.n, c + nc);
            double worst = 0; /* the farthest chord found bounds every point not found */
            for (int i = nc; i < nc + n; i++)
                worst = c[i].d2 > worst ? c[i].d2 : worst;
            if ((size_t)n < L->kd.n) unseen = fmin(unseen, chord_floor_m(worst));
            nc += n;
        }
        int got = nearest_of(g, lon, lat, c, nc, k, top);
        if (cap || unseen == INFINITY || (got > 0 && top[got - 1].d2 < unseen)) {
            for (int i = 0; i < got; i++)
                out[i] = (gaz_hit){top[i].entry, 0, top[i].d2};
            return got;
        }
    }
}

/* ---- slot: hazard cells ----
 * Each thread that reads a slot owns a record of HAZ_CELLS cells on a cache line of its own (a
 * registry of records, never freed, reused after a thread ends). A reader writes the gaz it is
 * about to use into a free cell of its record and checks that the slot still holds it; the writer
 * swaps the slot's pointer, puts the old gaz on the retired list and frees it once no cell holds
 * it: at once, or at the release of the last reader that did. Readers never write a cache line
 * another thread writes; the mutex is the writer's (and of a thread holding HAZ_CELLS already). */

enum { HAZ_CELLS = 4 };

typedef struct hazrec {
    _Alignas(64) _Atomic(gaz *) cell[HAZ_CELLS];
    _Atomic int busy; /* owned by a live thread */
    struct hazrec *next;
} hazrec;

struct gaz_slot {
    _Atomic(gaz *) cur;
    _Atomic int nretired;
    pthread_mutex_t mu; /* publish, reclaim, the locked way in */
    gaz *retired;
};

static _Atomic(hazrec *) haz_all;
static _Thread_local hazrec *haz_mine;
static pthread_once_t haz_once = PTHREAD_ONCE_INIT;
static pthread_key_t haz_key;
static int haz_key_ok;

static void haz_thread_end(void *p) {
    hazrec *h = p;
    for (int k = 0; k < HAZ_CELLS; k++)
        atomic_store(&h->cell[k], NULL);
    atomic_store(&h->busy, 0);
}

static void haz_init(void) {
    haz_key_ok = pthread_key_create(&haz_key, haz_thread_end) == 0;
}

/* The calling thread's record (taken from the registry or added to it); NULL on out of memory. */
static hazrec *haz_record(void) {
    if (haz_mine) return haz_mine;
    pthread_once(&haz_once, haz_init);
    hazrec *h;
    for (h = atomic_load(&haz_all); h; h = h->next) {
        int free_rec = 0;
        if (atomic_compare_exchange_strong(&h->busy, &free_rec, 1)) break;
    }
    if (!h) {
        if (!(h = aligned_alloc(64, sizeof *h))) return NULL;
        memset(h, 0, sizeof *h);
        atomic_init(&h->busy, 1);
        hazrec *head = atomic_load(&haz_all);
        do
            h->next = head;
        while (!atomic_compare_exchange_weak(&haz_all, &head, h));
    }
    if (haz_key_ok) pthread_setspecific(haz_key, h);
    return haz_mine = h;
}

static int haz_holds(const gaz *g) {
    for (hazrec *h = atomic_load(&haz_all); h; h = h->next)
        for (int k = 0; k < HAZ_CELLS; k++)
            if (atomic_load(&h->cell[k]) == g) return 1;
    return 0;
}

static void gaz_unref(gaz *g) {
    if (atomic_fetch_sub(&g->refs, 1) == 1) gaz_destroy(g);
}

/* Frees the retired gazes no cell holds. Called with s->mu held. */
static void reclaim(gaz_slot *s) {
    for (gaz **pp = &s->retired; *pp;) {
        gaz *g = *pp;
        if (haz_holds(g)) {
            pp = &g->next_retired;
            continue;
        }
        *pp = g->next_retired;
        atomic_fetch_sub(&s->nretired, 1);
        gaz_unref(g);
    }
}

gaz_slot *gaz_slot_create(void) {
    gaz_slot *s = calloc(1, sizeof *s);
    if (s) pthread_mutex_init(&s->mu, NULL);
    return s;
}

void gaz_slot_destroy(gaz_slot *s) {
    if (!s) return;
    gaz *g = atomic_load(&s->cur);
    if (g) gaz_unref(g);
    while (s->retired) {
        gaz *r = s->retired;
        s->retired = r->next_retired;
        gaz_unref(r);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void gaz_slot_publish(gaz_slot *s, gaz *g) {
    if (!g) return;
    g->slot = s;
    pthread_mutex_lock(&s->mu);
    gaz *old = atomic_exchange(&s->cur, g);
    if (old) {
        old->next_retired = s->retired, s->retired = old;
        atomic_fetch_add(&s->nretired, 1); /* before the look at the cells in reclaim */
    }
    reclaim(s);
    pthread_mutex_unlock(&s->mu);
}

gaz *gaz_slot_acquire(gaz_slot *s) {
    hazrec *h = haz_record();
    int k = 0;
    while (h && k < HAZ_CELLS && atomic_load_explicit(&h->cell[k], memory_order_relaxed))
        k++;
    if (!h || k == HAZ_CELLS) { /* the locked way: a counted reference */
        pthread_mutex_lock(&s->mu);
        gaz *g = atomic_load(&s->cur);
        if (g) atomic_fetch_add(&g->refs, 1);
        pthread_mutex_unlock(&s->mu);
        return g;
    }
    gaz *g = atomic_load(&s->cur), *again;
    for (;; g = again) {
        atomic_store(&h->cell[k], g); /* sequentially consistent: before the check */
        if ((again = atomic_load(&s->cur)) == g) break;
    }
    if (!g) atomic_store(&h->cell[k], NULL);
    return g;
}

void gaz_release(gaz *g) {
    if (!g) return;
    hazrec *h = haz_mine;
    for (int k = 0; h && k < HAZ_CELLS; k++)
        if (atomic_load_explicit(&h->cell[k], memory_order_relaxed) == g) {
            gaz_slot *s = g->slot;           /* read while the cell still protects g */
            atomic_store(&h->cell[k], NULL); /* before the look at nretired */
            if (s && atomic_load(&s->nretired)) {
                pthread_mutex_lock(&s->mu);
                reclaim(s);
                pthread_mutex_unlock(&s->mu);
            }
            return;
        }
    gaz_unref(g);
}
