/* buf.c - growable reply buffers. */
#include "service/core/buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(buf *b, size_t need) {
    if (b->oom) return -1;
    if (b->len + need + 1 <= b->cap) return 0;
    size_t cap = (b->len + need + 1) * 2 + 1024;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->oom = 1;
        return -1;
    }
    b->p = np, b->cap = cap;
    return 0;
}

void buf_reserve(buf *b, size_t n) {
    if (grow(b, n) == 0) b->p[b->len] = 0;
}

void buf_grow_put(buf *b, const char *s, size_t n) {
    if (grow(b, n) != 0) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void buf_str(buf *b, const char *s) {
    buf_put(b, s, strlen(s));
}

void buf_printf(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_free(buf *b) {
    free(b->p);
    b->p = NULL, b->len = b->cap = 0, b->oom = 0;
}

/* 1 when none of the 8 bytes at p needs escaping in a JSON string (control, " or \\). */
static int plain8(const char *p) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t x, q, bs;
    memcpy(&x, p, 8);
    q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    uint64_t bad = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs);
    return !(bad & high);
}

void buf_json_str(buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    if (!s) {
        buf_put(b, "null", 4);
        return;
    }
    const char *end = s + strlen(s), *run = s;
    buf_put(b, "\"", 1);
    for (const char *p = s;; p++) {
        while (end - p >= 8 && plain8(p))
            p += 8;
        if (p == end) break;
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_put(b, run, (size_t)(p - run)); /* the plain run before c */
        char e[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t el = 2;
        if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
            e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : 'f';
        else if (c < 0x20)
            e[1] = 'u', e[2] = e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15], el = 6;
        buf_put(b, e, el);
        run = p + 1;
    }
    buf_put(b, run, (size_t)(end - run));
    buf_put(b, "\"", 1);
}

/* x as jansson writes a real (JSON_REAL_PRECISION(15)): %.15g, ".0" when that reads as an
 * integer, no '+' or leading zeros in the exponent. */
static void jansson_real(buf *b, double x) {
    char t[40];
    snprintf(t, sizeof t, "%.15g", x);
    if (!strchr(t, '.') && !strchr(t, 'e')) strcat(t, ".0");
    char *e = strchr(t, 'e');
    if (e) {
        char *start = e + 1 + (e[1] == '-'), *end = e + 2;
        while (*end == '0')
            end++;
        memmove(start, end, strlen(end) + 1);
    }
    buf_put(b, t, strlen(t));
}

void buf_json_fixed(buf *b, double v, int decimals) {
    static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    double r = round(v * pow10[decimals]), x = r / pow10[decimals];
    if (!isfinite(r)) {
        buf_put(b, "null", 4);
        return;
    }
    /* exponents, -0.0 and digits beyond an exact integer: printf's way */
    if (fabs(x) >= 1e15 || fabs(r) >= 9e15 || (r != 0 && fabs(x) < 1e-4) ||
        (r == 0 && signbit(r))) {
        jansson_real(b, x);
        return;
    }
    char out[32], *o = out + sizeof out;
    unsigned long long n = (unsigned long long)fabs(r);
    int d = 0, any = 0; /* fraction digits, trailing zeros left out */
    for (; d < decimals; d++, n /= 10)
        if (any || n % 10) *--o = (char)('0' + n % 10), any = 1;
    if (!any) *--o = '0';
    *--o = '.';
    do
        *--o = (char)('0' + n % 10);
    while (n /= 10);
    if (r < 0) *--o = '-';
    buf_put(b, o, (size_t)(out + sizeof out - o));
}

void buf_json_int(buf *b, long long v) {
    char out[24], *o = out + sizeof out;
    unsigned long long n = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do
        *--o = (char)('0' + n % 10);
    while (n /= 10);
    if (v < 0) *--o = '-';
    buf_put(b, o, (size_t)(out + sizeof out - o));
}
