/* buf.h - a growable, always NUL-terminated byte buffer for building replies. An allocation
 * failure sets `oom` and turns later appends into no-ops; the caller checks it once at the end. */
#ifndef PATROLD_BUF_H
#define PATROLD_BUF_H

#include <stddef.h>

typedef struct buf {
    char *p; /* owned; NULL until the first append */
    size_t len, cap;
    int oom;
} buf;

void buf_put(buf *b, const char *s, size_t n);
void buf_str(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees the bytes and empties b. */
void buf_free(buf *b);

#endif
