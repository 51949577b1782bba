/* tests/unit/test_photos.c - photo_strip (service/reports/photos.c): JPEG APPn/COM removal, JFIF/JFXX
 * thumbnails, JPG/JPGn and Adobe trailers, PNG text/time/EXIF and unknown chunk removal with CRC
 * checks, and refusal of anything that is not a well-formed JPEG or PNG. The images are built by
 * hand here, byte by byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "../../service/reports/photos.h"

typedef struct {
    unsigned char b[4096];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n) {
    assert_true(b->n + n <= sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put_bytes(buf *b, int n, ...) {
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)va_arg(ap, int);
        put(b, &c, 1);
    }
    va_end(ap);
}

/* A JPEG marker segment: FF m, length, payload. */
static void seg(buf *b, unsigned char m, const void *payload, size_t n) {
    put_bytes(b, 4, 0xFF, m, (int)((n + 2) >> 8), (int)((n + 2) & 0xFF));
    put(b, payload, n);
}

static int contains(const unsigned char *hay, size_t n, const void *needle, size_t k) {
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return 1;
    return 0;
}

static const unsigned char scan[] = {0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF,
                                     0xD0, 0x78, 0x9A, 0xFF, 0x00};

/* SOI APP0(JFIF) APP1(Exif with GPS) COM DQT SOF0 DHT APP2(ICC) SOS scan EOI + trailer */
static void make_jpeg(buf *b, int with_eoi) {
    static const unsigned char jfif[] = "JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
    static const unsigned char exif[] =
        "Exif\0\0MM\0*GPSLatitude=34.6;GPSLongitude=119.2;Make=PhoneCo";
    static const unsigned char com[] = "secret comment";
    static const unsigned char icc[] = "ICC_PROFILE\0\x01\x01xyz";
    unsigned char dqt[65] = {0};
    static const unsigned char sof[] = {8, 0, 16, 0, 16, 1, 1, 0x11, 0};
    static const unsigned char dht[] = {0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05};
    static const unsigned char sos[] = {1, 1, 0x00, 0, 63, 0};
    for (int i = 1; i < 65; i++)
        dqt[i] = 1;
    b->n = 0;
    put_bytes(b, 2, 0xFF, 0xD8);
    seg(b, 0xE0, jfif, sizeof jfif - 1);
    seg(b, 0xE1, exif, sizeof exif - 1);
    seg(b, 0xFE, com, sizeof com - 1);
    seg(b, 0xDB, dqt, sizeof dqt);
    seg(b, 0xC0, sof, sizeof sof);
    seg(b, 0xC4, dht, sizeof dht);
    seg(b, 0xE2, icc, sizeof icc - 1);
    seg(b, 0xDA, sos, sizeof sos);
    put(b, scan, sizeof scan);
    if (with_eoi) put_bytes(b, 2, 0xFF, 0xD9);
    put(b, "TRAILER-GPS", 11);
}

static void jpeg_exif_and_comments_are_dropped(void **state) {
    (void)state;
    buf in;
    make_jpeg(&in, 1);
    unsigned char *out = NULL;
    size_t n = 0;
    const char *ct = NULL;
    assert_int_equal(photo_strip(in.b, in.n, &out, &n, &ct), 0);
    assert_string_equal(ct, "image/jpeg");
    assert_false(contains(out, n, "Exif", 4));
    assert_false(contains(out, n, "GPS", 3));
    assert_false(contains(out, n, "secret comment", 14));
    assert_false(contains(out, n, "ICC_PROFILE", 11));
    assert_false(contains(out, n, "TRAILER", 7));
    assert_true(contains(out, n, "JFIF", 4));
    assert_true(contains(out, n, scan, sizeof scan)); /* scan data intact, stuffing and RST0 kept */
    static const unsigned char sof_marker[] = {0xFF, 0xC0, 0x00, 0x0B};
    assert_true(contains(out, n, sof_marker, sizeof sof_marker));
    assert_int_equal(out[0], 0xFF);
    assert_int_equal(out[1], 0xD8);
    assert_int_equal(out[n - 2], 0xFF);
    assert_int_equal(out[n - 1], 0xD9);
    /* idempotent: stripping the output again changes nothing */
    unsigned char *again = NULL;
    size_t n2 = 0;
    assert_int_equal(photo_strip(out, n, &again, &n2, &ct), 0);
    assert_int_equal(n2, n);
    assert_memory_equal(again, out, n);
    free(again);
    free(out);
}

static void jpeg_malformed_is_refused(void **state) {
    (void)state;
    buf in;
    unsigned char *out = NULL;
    size_t n = 0;
    const char *ct = NULL;
    make_jpeg(&in, 0); /* no EOI */
    in.n -= 11;        /* and no trailer */
    assert_int_equal(photo_strip(in.b, in.n, &out, &n, &ct), -1);
    make_jpeg(&in, 1);
    in.b[2 + 4 + 14 + 2] = 0xFF; /* APP1 length high byte: runs past the end */
    assert_int_equal(photo_strip(in.b, in.n, &out, &n, &ct), -1);
    static const unsigned char soi_only[] = {0xFF, 0xD8, 0xFF, 0xD9};
    assert_int_equal(photo_strip(soi_only, sizeof soi_only, &out, &n, &ct),
                     -1); /* no frame, no scan */
    assert_null(out);
}

/* ---- PNG ---- */

static void chunk(buf *b, const char *type, const void *data, uint32_t len) {
    unsigned char hdr[8] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                            (unsigned char)(len >> 8), (unsigned char)len};
    memcpy(hdr + 4, type, 4);
    put(b, hdr, 8);
    put(b, data, len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)type, 4);
    crc = crc32(crc, data, len);
    put_bytes(b, 4, (int)((crc >> 24) & 0xFF), (int)((crc >> 16) & 0xFF), (int)((crc >> 8) & 0xFF),
              (int)(crc & 0xFF));
}

static void make_png(buf *b) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    static const unsigned char ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0};
    static const unsigned char idat[] = {0x78, 0x9C, 0x63, 0x60, 0x00,
                                         0x00, 0x00, 0x02, 0x00, 0x01};
    static const unsigned char time_[7] = {0x07, 0xE8, 1, 2, 3, 4, 5};
    static const unsigned char phys[9] = {0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1};
    b->n = 0;
    put(b, sig, 8);
    chunk(b, "IHDR", ihdr, 13);
    chunk(b, "tEXt", "Comment\0GPS 34.6N 119.2E", 24);
    chunk(b, "zTXt", "Author\0\0xx", 10);
    chunk(b, "iTXt", "Title\0\0\0\0\0Secret", 16);
    chunk(b, "eXIf", "MM\0*GPSdata", 11);
    chunk(b, "tIME", time_, 7);
    chunk(b, "iCCP", "Phone ICC\0\0xx", 13);
    chunk(b, "prVt", "maker notes: serial 1234", 24); /* private ancillary chunk */
    chunk(b, "pHYs", phys, 9);                        /* rendering only: kept */
    chunk(b, "IDAT", idat, sizeof idat);
    chunk(b, "IEND", "", 0);
    put(b, "appended", 8);
}

static void png_text_chunks_are_dropped(void **state) {
    (void)state;
    buf in;
    make_png(&in);
    unsigned char *out = NULL;
    size_t n = 0;
    const char *ct = NULL;
    assert_int_equal(photo_strip(in.b, in.n, &out, &n, &ct), 0);
    assert_string_equal(ct, "image/png");
    assert_false(contains(out, n, "tEXt", 4));
    assert_false(contains(out, n, "zTXt", 4));
    assert_false(contains(out, n, "iTXt", 4));
    assert_false(contains(out, n, "eXIf", 4));
    assert_false(contains(out, n, "tIME", 4));
    assert_false(contains(out, n, "GPS", 3));
    assert_false(contains(out, n, "iCCP", 4));
    assert_false(contains(out, n, "serial", 6));
    assert_false(contains(out, n, "appended", 8));
    assert_true(contains(out, n, "IHDR", 4));
    assert_true(contains(out, n, "pHYs", 4));
    assert_true(contains(out, n, "IDAT", 4));
    /* 8 signature + IHDR 25 + pHYs 21 + IDAT 22 + IEND 12 */
    assert_int_equal(n, 8 + 25 + 21 + 22 + 12);
    free(out);
}

static void png_bad_crc_or_order_is_refused(void **state) {
    (void)state;
    buf in;
    unsigned char *out = NULL;
    size_t n = 0;
    const char *ct = NULL;
    make_png(&in);
    in.b[8 + 8 + 3] ^= 0x01; /* a bit of IHDR data: CRC no longer matches */
    assert_int_equal(photo_strip(in.b, in.n, &out, &n, &ct), -1);
    make_png(&in);
    in.n = 8 + 25 + 10; /* truncated in the middle of a chunk */
    assert_int_equal(photo_strip(in.b, in.n, &out, &n, &ct), -1);
    buf b = {.n = 0};
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    put(&b, sig, 8);
    chunk(&b, "IDAT", "x", 1); /* first chunk must be IHDR */
    chunk(&b, "IEND", "", 0);
    assert_int_equal(photo_strip(b.b, b.n, &out, &n, &ct), -1);
    assert_null(out);
}

static void non_images_are_refused(void **state) {
    (void)state;
    static const char script[] = "#!/bin/sh\nrm -rf /\n";
    static const char html[] = "<svg onload=alert(1)>";
    unsigned char *out = NULL;
    size_t n = 0;
    const char *ct = NULL;
    assert_int_equal(photo_strip((const unsigned char *)script, sizeof script - 1, &out, &n, &ct),
                     -1);
    assert_int_equal(photo_strip((const unsigned char *)html, sizeof html - 1, &out, &n, &ct), -1);
    assert_int_equal(photo_strip((const unsigned char *)"", 0, &out, &n, &ct), -1);
    static const unsigned char png_sig_then_script[] = {0x89, 'P',  'N',  'G', 0x0D,
                                                        0x0A, 0x1A, 0x0A, '#', '!'};
    assert_int_equal(photo_strip(png_sig_then_script, sizeof png_sig_then_script, &out, &n, &ct),
                     -1);
    static const unsigned char gif[] = "GIF89a\x01\0\x01\0";
    assert_int_equal(photo_strip(gif, sizeof gif - 1, &out, &n, &ct), -1);
    assert_null(out);
}

/* The markers of a JPEG in order (SOI first, EOI last), skipping segment payloads and scan data.
 * Returns their number. */
static size_t jpeg_markers(const unsigned char *p, size_t n, unsigned char *m, size_t max) {
    size_t i = 2, k = 0;
    m[k++] = 0xD8;
    while (i + 1 < n && k < max) {
        assert_int_equal(p[i], 0xFF);
        unsigned char c = p[i + 1];
        m[k++] = c;
        if (c == 0xD9) break;
        size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
        i += 2 + len;
        if (c == 0xDA)
            while (i + 1 < n &&
                   !(p[i] == 0xFF && p[i + 1] != 0 && (p[i + 1] < 0xD0 || p[i + 1] > 0xD7)))
                i++;
    }
    return k;
}

/* SOI, JFIF with a 2x1 thumbnail, JFXX thumbnail holding its own EXIF, JPG (C8), JPGn (F0, FD),
 * DHP-free hierarchical junk (EXP DF), Adobe with a trailer, DAC, DQT, SOF2, DHT, DRI, two scans
 * with a DHT between them (progressive), EOI. */
static void make_hostile_jpeg(buf *b) {
    static const unsigned char jfif[] = "JFIF\0\x01\x02\x01\x00\x48\x00\x48\x02\x01THUMBX";
    static const unsigned char jfxx[] = "JFXX\0\x10\xFF\xD8\xFF\xE1\x00\x10"
                                        "Exif\0\0GPS=1\xFF\xD9";
    static const unsigned char adobe[] = "Adobe\0\x64\x80\0\0\0\x02"
                                         "ADOBETRAIL";
    static const unsigned char jpgn[] = "JPGn GPS 34.6";
    static const unsigned char dac[] = {0x00, 0x10};
    unsigned char dqt[65] = {0};
    static const unsigned char sof[] = {8, 0, 16, 0, 16, 1, 1, 0x11, 0};
    static const unsigned char dht[] = {0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05};
    static const unsigned char dri[] = {0x00, 0x04};
    static const unsigned char sos1[] = {1, 1, 0x00, 0, 0, 0};
    static const unsigned char sos2[] = {1, 1, 0x00, 1, 63, 0};
    for (int i = 1; i < 65; i++)
        dqt[i] = 1;
    b->n = 0;
    put_bytes(b, 2, 0xFF, 0xD8);
    seg(b, 0xE0, jfif, sizeof jfif - 1);
    seg(b, 0xE0, jfxx, sizeof jfxx - 1);
    seg(b, 0xC8, jpgn, sizeof jpgn - 1);
    seg(b, 0xF0, jpgn, sizeof jpgn - 1);
    seg(b, 0xFD, jpgn, sizeof jpgn - 1);
    seg(b, 0xDF, jpgn, sizeof jpgn - 1);
    seg(b, 0xEE, adobe, sizeof adobe - 1);
    seg(b, 0xCC, dac, sizeof dac);
    seg(b, 0xDB, dqt, sizeof dqt);
    seg(b, 0xC2, sof, sizeof sof);
    seg(b, 0xC4, dht, sizeof dht);
    seg(b, 0xDD, dri, sizeof dri);
    seg(b, 0xDA, sos1, sizeof sos1);
    put(b, scan, sizeof scan);
    seg(b, 0xF5, jpgn, sizeof jpgn - 1); /* between scans too */
    seg(b, 0xC4, dht, sizeof dht);
    seg(b, 0xDA, sos2, sizeof sos2);
    put(b, scan, sizeof scan);
    put_bytes(b, 2, 0xFF, 0xD9);
}

static void jpeg_thumbnails_jpgn_and_trailers_are_dropped(void **state) {
    (void)state;
    buf in;
    make_hostile_jpeg(&in);
    unsigned char *out = NULL, m[32];
    size_t n = 0;
    const char *ct = NULL;
    assert_int_equal(photo_strip(in.b, in.n, &out, &n, &ct), 0);
    static const unsigned char want[] = {0xD8, 0xE0, 0xEE, 0xCC, 0xDB, 0xC2,
                                         0xC4, 0xDD, 0xDA, 0xC4, 0xDA, 0xD9};
    size_t k = jpeg_markers(out, n, m, sizeof m);
    assert_int_equal(k, sizeof want);
    assert_memory_equal(m, want, sizeof want);
    /* JFIF kept with its densities, thumbnail 0x0 and no pixels; Adobe cut to its 12 bytes */
    static const unsigned char jfif_out[] = {0xFF, 0xE0, 0x00, 0x10, 'J',  'F',  'I',  'F', 0,
                                             0x01, 0x02, 0x01, 0x00, 0x48, 0x00, 0x48, 0,   0};
    assert_memory_equal(out + 2, jfif_out, sizeof jfif_out);
    static const unsigned char adobe_out[] = {0xFF, 0xEE, 0x00, 0x0E, 'A', 'd', 'o', 'b',
                                              'e',  0,    0x64, 0x80, 0,   0,   0,   0x02};
    assert_true(contains(out, n, adobe_out, sizeof adobe_out));
    assert_false(contains(out, n, "THUMB", 5));
    assert_false(contains(out, n, "JFXX", 4));
    assert_false(contains(out, n, "Exif", 4));
    assert_false(contains(out, n, "GPS", 3));
    assert_false(contains(out, n, "JPGn", 4));
    assert_false(contains(out, n, "ADOBETRAIL", 10));
    /* both scans' entropy-coded data intact */
    size_t first = 0;
    for (size_t i = 0; i + sizeof scan <= n; i++)
        first += memcmp(out + i, scan, sizeof scan) == 0;
    assert_int_equal(first, 2);
    /* idempotent */
    unsigned char *again = NULL;
    size_t n2 = 0;
    assert_int_equal(photo_strip(out, n, &again, &n2, &ct), 0);
    assert_int_equal(n2, n);
    assert_memory_equal(again, out, n);
    free(again);
    free(out);
}

static void jpeg_short_jfif_or_adobe_is_dropped(void **state) {
    (void)state;
    buf in;
    make_jpeg(&in, 1);
    /* an APP0 "JFIF" too short to hold its fields, an APP14 "Adobe" likewise: both go */
    buf b = {.n = 0};
    put_bytes(&b, 2, 0xFF, 0xD8);
    seg(&b, 0xE0, "JFIF\0\x01", 6);
    seg(&b, 0xEE, "Adobe\0", 6);
    put(&b, in.b + 2, in.n - 2);
    unsigned char *out = NULL, m[32];
    size_t n = 0;
    const char *ct = NULL;
    assert_int_equal(photo_strip(b.b, b.n, &out, &n, &ct), 0);
    size_t k = jpeg_markers(out, n, m, sizeof m);
    static const unsigned char want[] = {0xD8, 0xE0, 0xDB, 0xC0, 0xC4, 0xDA, 0xD9};
    assert_int_equal(k, sizeof want);
    assert_memory_equal(m, want, sizeof want);
    assert_int_equal(out[5], 0x10); /* the kept APP0 is the full JFIF of make_jpeg, rewritten */
    free(out);
}

static void png_palette_kept_unknown_critical_refused(void **state) {
    (void)state;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    static const unsigned char ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 3, 0, 0, 0};
    static const unsigned char idat[] = {0x78, 0x9C, 0x63, 0x60, 0x00,
                                         0x00, 0x00, 0x02, 0x00, 0x01};
    buf b = {.n = 0};
    put(&b, sig, 8);
    chunk(&b, "IHDR", ihdr, 13);
    chunk(&b, "sRGB", "\0", 1);
    chunk(&b, "PLTE", "\xff\0\0", 3);
    chunk(&b, "tRNS", "\x80", 1);
    chunk(&b, "vpAg", "GPSGPSGPS", 9); /* unknown ancillary: dropped */
    chunk(&b, "caNv", "GPS", 3);
    chunk(&b, "IDAT", idat, sizeof idat);
    chunk(&b, "IEND", "", 0);
    unsigned char *out = NULL;
    size_t n = 0;
    const char *ct = NULL;
    assert_int_equal(photo_strip(b.b, b.n, &out, &n, &ct), 0);
    /* 8 + IHDR 25 + sRGB 13 + PLTE 15 + tRNS 13 + IDAT 22 + IEND 12 */
    assert_int_equal(n, 8 + 25 + 13 + 15 + 13 + 22 + 12);
    assert_false(contains(out, n, "GPS", 3));
    assert_true(contains(out, n, "PLTE", 4));
    assert_true(contains(out, n, "tRNS", 4));
    free(out);
    out = NULL;
    b.n = 0;
    put(&b, sig, 8);
    chunk(&b, "IHDR", ihdr, 13);
    chunk(&b, "GPSX", "34.6N", 5); /* unknown critical chunk: refused, never passed on */
    chunk(&b, "IDAT", idat, sizeof idat);
    chunk(&b, "IEND", "", 0);
    assert_int_equal(photo_strip(b.b, b.n, &out, &n, &ct), -1);
    assert_null(out);
}

/* SOI, APP1 Exif whose IFD0 holds `n` entries of which the last is Orientation = v (big- or
 * little-endian TIFF), then a minimal frame. `cut` bytes are taken off the TIFF's end. */
static void make_oriented(buf *b, int big, unsigned v, int n, size_t cut) {
    unsigned char t[128];
    size_t k = 0;
#define W16(x)                                                                                     \
    (big ? (t[k++] = (unsigned char)((x) >> 8), t[k++] = (unsigned char)(x))                       \
         : (t[k++] = (unsigned char)(x), t[k++] = (unsigned char)((x) >> 8)))
#define W32(x) (big ? (W16((x) >> 16), W16((x)&0xFFFF)) : (W16((x)&0xFFFF), W16((x) >> 16)))
    memcpy(t, "Exif\0\0", 6), k = 6;
    t[k++] = big ? 'M' : 'I', t[k++] = big ? 'M' : 'I';
    W16(42u), W32(8u), W16((unsigned)n);
    for (int i = 0; i < n - 1; i++)
        W16(0x010Fu), W16(2u), W32(4u), W32(0x50373700u); /* Make */
    W16(0x0112u), W16(3u), W32(1u), W16(v), W16(0u);
    W32(0u);
#undef W16
#undef W32
    b->n = 0;
    put_bytes(b, 2, 0xFF, 0xD8);
    seg(b, 0xE1, t, k - cut);
    put_bytes(b, 2, 0xFF, 0xD9);
}

static void jpeg_orientation_is_read(void **state) {
    (void)state;
    buf b = {0};
    for (unsigned v = 1; v <= 8; v++) {
        make_oriented(&b, 1, v, 3, 0);
        assert_int_equal(photo_orientation(b.b, b.n), (int)v);
        make_oriented(&b, 0, v, 1, 0);
        assert_int_equal(photo_orientation(b.b, b.n), (int)v);
    }
    make_oriented(&b, 1, 9, 1, 0); /* out of range */
    assert_int_equal(photo_orientation(b.b, b.n), 1);
    make_oriented(&b, 1, 6, 2, 6); /* the entry cut off: never read past the segment */
    assert_int_equal(photo_orientation(b.b, b.n), 1);
    make_jpeg(&b, 1); /* Exif without an orientation, scan data after it */
    assert_int_equal(photo_orientation(b.b, b.n), 1);
    for (size_t n = 0; n < b.n; n++) /* every truncation */
        assert_int_equal(photo_orientation(b.b, n), 1);
    make_oriented(&b, 1, 6, 1, 0);
    b.b[6] = 'X'; /* "Xxif": not Exif */
    assert_int_equal(photo_orientation(b.b, b.n), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jpeg_orientation_is_read),
        cmocka_unit_test(jpeg_exif_and_comments_are_dropped),
        cmocka_unit_test(jpeg_malformed_is_refused),
        cmocka_unit_test(png_text_chunks_are_dropped),
        cmocka_unit_test(png_bad_crc_or_order_is_refused),
        cmocka_unit_test(non_images_are_refused),
        cmocka_unit_test(jpeg_thumbnails_jpgn_and_trailers_are_dropped),
        cmocka_unit_test(jpeg_short_jfif_or_adobe_is_dropped),
        cmocka_unit_test(png_palette_kept_unknown_critical_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
