/* fuzz_photos.c - libFuzzer driver for photo_strip and photo_orientation (service/reports/photos.c):
 * JPEG/PNG metadata stripping of client uploads and the EXIF orientation reader, on arbitrary bytes.
 *
 * Oracles on success: the output is no longer than the input, keeps the type's magic, ends with
 * EOI (JPEG) or an IEND chunk (PNG), has the content type told by the magic, and is a fixed point:
 * stripping it again succeeds and gives the same bytes (nothing left to drop, nothing misparsed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/reports/photos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *out = NULL, *again = NULL;
    size_t outn = 0, againn = 0;
    const char *ctype = NULL, *ctype2 = NULL;
    if (size > (1u << 20)) return 0;
    /* A copy of exactly `size` bytes so ASan catches any read past the end. */
    unsigned char *in = malloc(size ? size : 1);
    if (!in) return 0;
    if (size) memcpy(in, data, size);
    int o = photo_orientation(in, size); /* the EXIF reader: in bounds, 1..8 */
    if (o < 1 || o > 8) abort();
    if (photo_strip(in, size, &out, &outn, &ctype) == 0) {
        int jpeg = strcmp(ctype, "image/jpeg") == 0;
        if (!jpeg && strcmp(ctype, "image/png") != 0) abort();
        if (outn > size) abort();
        if (jpeg) {
            if (outn < 4 || out[0] != 0xFF || out[1] != 0xD8 || out[outn - 2] != 0xFF ||
                out[outn - 1] != 0xD9)
                abort();
        } else {
            if (outn < 8 + 12 + 12 || memcmp(out, in, 8) != 0 ||
                memcmp(out + outn - 8, "IEND", 4) != 0)
                abort();
        }
        if (photo_strip(out, outn, &again, &againn, &ctype2) != 0) abort();
        if (againn != outn || memcmp(again, out, outn) != 0 || strcmp(ctype, ctype2) != 0) abort();
        free(again);
        free(out);
    }
    free(in);
    return 0;
}
