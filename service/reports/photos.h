/* photos.h - photo metadata stripping and turning upright (photos.c; the photo routes are in handlers.h). */
#ifndef PATROLD_PHOTOS_H
#define PATROLD_PHOTOS_H

#include <stddef.h>

/* Removes metadata from an image whose type is told by its magic bytes (not by any header).
 * JPEG: keeps SOI, APP0 (JFIF), DQT, SOF*, DHT, DRI, DAC, SOS + scan data, EOI; drops APP1..APP15
 * (EXIF incl. GPS, XMP, ICC, ...) and COM. PNG: checks the signature and every chunk's CRC, drops
 * tEXt, zTXt, iTXt, eXIf and tIME. Returns 0 with *out (malloc'd, caller frees), *outn and *ctype
 * ("image/jpeg" or "image/png", static); -1 when the bytes are neither a well-formed JPEG nor PNG
 * (*out untouched). Pure: no I/O, thread-safe. */
int photo_strip(const unsigned char *in, size_t n, unsigned char **out, size_t *outn,
                const char **ctype);

/* The EXIF orientation (1 to 8: how the stored rows must be turned to be upright) of the JPEG in
 * `in`, from the Orientation tag (0x0112) of IFD0 of its first APP1 Exif segment before the scan; 1
 * when it has none, for a PNG or for anything unreadable. Pure: no I/O, thread-safe. */
int photo_orientation(const unsigned char *in, size_t n);

/* The largest JPEG turned upright: the transform holds the whole image's coefficients and an
 * output buffer (measured: 600 MB peak for a 49-megapixel 4:4:4 frame). 32 megapixels is more than
 * a phone's photo that fits the 10 MiB upload (12 MP usually; 6000 x 4000 at most). */
#define PHOTO_MAX_PIXELS 32000000LL

/* The JPEG in `in` turned upright for EXIF `orientation` (2 to 8) by a lossless TurboJPEG transform
 * (partial edge blocks that cannot be moved losslessly are trimmed: at most 15 pixel rows or
 * columns). Returns 0 with *out (malloc'd, caller frees) and *outn; -1 when TurboJPEG cannot read
 * it or its frame is larger than its bytes can code (under one bit per 8x8 block: a bomb); -2 when
 * it has more than PHOTO_MAX_PIXELS pixels. One runs at a time (memory); others wait.
 * Thread-safe. */
int photo_upright(const unsigned char *in, size_t n, int orientation, unsigned char **out,
                  size_t *outn);

#endif
