/* photos.h - photo metadata stripping (photos.c; the photo routes are in handlers.h). */
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

#endif
