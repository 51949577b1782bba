/* buf.h - a growable, always NUL-terminated byte buffer for building replies. An allocation
 * failure sets `oom` and turns later appends into no-ops; the caller checks it once at the end. */
#ifndef PATROLD_BUF_H
#define PATROLD_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct buf {
    char *p; /* owned; NULL until the first append */
    size_t len, cap;
    int oom;
} buf;

/* Makes room for n more bytes at once (a reply of known size grows without copies). */
void buf_reserve(buf *b, size_t n);

/* Appends s[0..n): inline while b has room, else buf_grow_put grows it first. */
void buf_grow_put(buf *b, const char *s, size_t n);
static inline void buf_put(buf *b, const char *s, size_t n) {
    if (!b->oom && b->len + n < b->cap) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
    } else {
        buf_grow_put(b, s, n);
    }
}
void buf_str(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* JSON text without a DOM tree, for replies of a fixed shape (the same bytes jansson's
 * json_dumps writes for them):
 * buf_json_str appends s as a JSON string: quoted, `"` `\` and control characters escaped, UTF-8
 * kept as it is (s must be valid UTF-8; NULL appends null).
 * buf_json_fixed appends v rounded to `decimals` (0..9) places, as jansson prints
 * round(v * 10^decimals) / 10^decimals: trailing zeros dropped, at least one decimal ("12.0");
 * null when v is not finite. */
void buf_json_str(buf *b, const char *s);
void buf_json_fixed(buf *b, double v, int decimals);
/* buf_json_int appends the decimal integer v. BUF_LIT appends a string literal. */
void buf_json_int(buf *b, long long v);
#define BUF_LIT(b, lit) buf_put((b), "" lit, sizeof(lit) - 1)

/* Frees the bytes and empties b. */
void buf_free(buf *b);

#endif
