"""test_photos.py - POST/GET /api/v1/reports/{id}/photos: EXIF GPS and PNG text stripped before storage,
type by magic bytes (not the header), 415 for anything else, 413 past 10 MiB, scope on upload and download;
a phone's portrait JPEG (EXIF orientation 6, and every other orientation) stored upright with no EXIF
(pixels compared; edge blocks that a lossless turn cannot keep are trimmed), and the same photo uploaded
twice on a report stored once (200, "duplicate": true). JPEGs are made and decoded here with TurboJPEG
through ctypes (libturbojpeg0, which patrold links too); the turns are computed in Python."""
import ctypes
import ctypes.util
import struct
import time
import unittest
import zlib

import harness
from test_reports import new_body, point_in_haizhou

MIB = 1024 * 1024


def seg(marker, payload):
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(pad=0):
    exif = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitudeRef=N;GPSLatitude=34.6012;GPSLongitude=119.2231;Make=PhoneCo"
    return (b"\xFF\xD8" + seg(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0") + seg(0xE1, exif)
            + seg(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>GPS</x:xmpmeta>") + seg(0xFE, b"shot by patrol 7")
            + seg(0xDB, b"\0" + bytes([1] * 64)) + seg(0xC0, bytes([8, 0, 16, 0, 16, 1, 1, 0x11, 0]))
            + seg(0xC4, bytes([0] + [1] + [0] * 15 + [5])) + seg(0xDA, bytes([1, 1, 0, 0, 63, 0]))
            + b"\x12\x34\xFF\x00\x56" + b"\x55" * pad + b"\xFF\xD9")


def chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)


def png():
    raw = b"\0\xff\0\0"  # one RGB pixel, filter 0
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\0GPS 34.60N 119.22E home of the reporter")
            + chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<gps/>") + chunk(b"tIME", b"\x07\xe8\x05\x01\x0a\0\0")
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_chunks(b):
    out, i = [], 8
    while i < len(b):
        n = struct.unpack(">I", b[i:i + 4])[0]
        t, data, crc = b[i + 4:i + 8], b[i + 8:i + 8 + n], struct.unpack(">I", b[i + 8 + n:i + 12 + n])[0]
        assert zlib.crc32(t + data) & 0xFFFFFFFF == crc
        out.append(t.decode())
        i += 12 + n
    return out


class TurboJpeg:
    """Just enough of libturbojpeg to make a JPEG from RGB pixels and to decode one."""

    def __init__(self):
        self.lib = ctypes.CDLL(ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0")
        for f in ("tjInitCompress", "tjInitDecompress"):
            getattr(self.lib, f).restype = ctypes.c_void_p
        self.lib.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                         ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                         ctypes.POINTER(ctypes.c_ulong), ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.tjDecompressHeader3.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong] + \
            [ctypes.POINTER(ctypes.c_int)] * 4
        self.lib.tjDecompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p,
                                           ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.tjFree.argtypes = [ctypes.c_void_p]
        self.lib.tjDestroy.argtypes = [ctypes.c_void_p]

    def encode(self, img, subsamp, quality=95):
        """img: rows of (r, g, b); subsamp 0 = 4:4:4, 2 = 4:2:0."""
        h, w = len(img), len(img[0])
        raw = bytes(c for row in img for px in row for c in px)
        tj, buf, size = self.lib.tjInitCompress(), ctypes.c_void_p(), ctypes.c_ulong()
        try:
            rc = self.lib.tjCompress2(tj, raw, w, 0, h, 0, ctypes.byref(buf), ctypes.byref(size), subsamp, quality, 0)
            assert rc == 0, "tjCompress2 failed"
            return ctypes.string_at(buf, size.value)
        finally:
            self.lib.tjFree(buf)
            self.lib.tjDestroy(tj)

    def decode(self, data):
        tj = self.lib.tjInitDecompress()
        w, h, s, c = (ctypes.c_int() for _ in range(4))
        try:
            assert self.lib.tjDecompressHeader3(tj, data, len(data), ctypes.byref(w), ctypes.byref(h),
                                                ctypes.byref(s), ctypes.byref(c)) == 0, "not a JPEG"
            out = ctypes.create_string_buffer(w.value * h.value * 3)
            assert self.lib.tjDecompress2(tj, data, len(data), out, w.value, 0, h.value, 0, 0) == 0
            raw = out.raw
            return [[tuple(raw[(y * w.value + x) * 3:(y * w.value + x) * 3 + 3]) for x in range(w.value)]
                    for y in range(h.value)]
        finally:
            self.lib.tjDestroy(tj)


def turn(img, orientation):
    """The upright image a viewer shows for stored rows `img` with that EXIF orientation."""
    h, w = len(img), len(img[0])
    f = {1: lambda x, y: img[y][x], 2: lambda x, y: img[y][w - 1 - x], 3: lambda x, y: img[h - 1 - y][w - 1 - x],
         4: lambda x, y: img[h - 1 - y][x], 5: lambda x, y: img[x][y], 6: lambda x, y: img[h - 1 - x][y],
         7: lambda x, y: img[h - 1 - x][w - 1 - y], 8: lambda x, y: img[x][w - 1 - y]}[orientation]
    ow, oh = (w, h) if orientation <= 4 else (h, w)
    return [[f(x, y) for x in range(ow)] for y in range(oh)]


def pattern(w, h):
    """Cells of 8x8 pixels in distinct colours: any wrong turn or mirror moves them."""
    return [[((x // 8) * 37 % 256, (y // 8) * 53 % 256, ((x // 8) * 11 + (y // 8) * 29) * 3 % 256)
             for x in range(w)] for y in range(h)]


def with_orientation(data, orientation, big_endian=True):
    """A JPEG as a phone writes it: APP1 Exif (camera model, orientation, GPS pointer) after SOI."""
    o = ">" if big_endian else "<"
    ifd = struct.pack(o + "H", 3) + struct.pack(o + "HHI4s", 0x0110, 2, 4, b"P7\0\0") \
        + struct.pack(o + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(o + "HHII", 0x8825, 4, 1, 0) \
        + struct.pack(o + "I", 0)
    tiff = (b"MM" if big_endian else b"II") + struct.pack(o + "HI", 42, 8) + ifd
    return data[:2] + seg(0xE1, b"Exif\0\0" + tiff) + data[2:]


def markers(data):
    """The marker bytes of a JPEG's segments up to the scan."""
    out, i = [], 2
    while i < len(data) and data[i] == 0xFF:
        m = data[i + 1]
        out.append(m)
        if m == 0xDA:
            break
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return out


def diff(a, b, margin=0):
    """Mean and largest channel difference of two same-sized images, margin pixels off every edge."""
    total, worst, n = 0, 0, 0
    for y in range(margin, len(a) - margin):
        for x in range(margin, len(a[0]) - margin):
            for c in range(3):
                d = abs(a[y][x][c] - b[y][x][c])
                total, worst, n = total + d, max(worst, d), n + 1
    return total / max(n, 1), worst


class PhotosTest(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "supervisor", "patrol")}
        lon, lat = point_in_haizhou(cls.db)
        r = cls.srv.request("POST", "/api/v1/reports", json_body=new_body(lon, lat), token=cls.tok["patrol"])
        cls.rid = r.json()["id"]

    def upload(self, data, ctype, user="patrol", rid=None):
        return self.srv.request("POST", "/api/v1/reports/%d/photos" % (rid or self.rid), body=data,
                                headers={"Content-Type": ctype}, token=self.tok[user])

    def photo_count(self):
        return self.db.value("SELECT count(*) FROM photos")

    def test_jpeg_exif_gps_stripped(self):
        src = jpeg()
        self.assertIn(b"GPSLatitude", src)
        r = self.upload(src, "image/jpeg")
        self.assertEqual(r.status, 201, r)
        p = r.json()
        self.assertEqual(p["content_type"], "image/jpeg")
        g = self.srv.request("GET", p["url"], token=self.tok["dispatcher"])
        self.assertEqual(g.status, 200)
        self.assertEqual(g.headers["content-type"], "image/jpeg")
        for needle in (b"GPS", b"Exif", b"xmpmeta", b"shot by patrol"):
            self.assertNotIn(needle, g.body)
        self.assertTrue(g.body.startswith(b"\xFF\xD8\xFF\xE0") and g.body.endswith(b"\xFF\xD9"))
        self.assertIn(b"\x12\x34\xFF\x00\x56", g.body)  # scan data untouched
        stored = self.db.value("SELECT encode(data, 'hex') FROM photos WHERE id = %s", p["id"])
        self.assertEqual(bytes.fromhex(stored), g.body)
        self.assertEqual(p["bytes"], len(g.body))
        tl = self.srv.request("GET", "/api/v1/reports/%d/timeline" % self.rid, token=self.tok["dispatcher"]).json()
        self.assertIn(p["id"], [i["details"].get("photo_id") for i in tl["items"] if i["type"] == "photo_added"])

    def test_png_text_stripped_and_magic_wins(self):
        self.assertEqual(self.upload(png(), "image/jpeg").status, 415)  # the header lies
        r = self.upload(png(), "image/png")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["content_type"], "image/png")
        g = self.srv.request("GET", r.json()["url"], token=self.tok["patrol"])
        self.assertEqual(g.headers["content-type"], "image/png")
        self.assertEqual(png_chunks(g.body), ["IHDR", "IDAT", "IEND"])
        self.assertNotIn(b"GPS", g.body)

    def test_not_images_are_415(self):
        before = self.photo_count()
        for data, ctype in ((b"#!/bin/sh\ncurl evil | sh\n", "image/png"), (b"<svg onload=alert(1)/>", "image/png"),
                            (b"\x89PNG\r\n\x1a\n#!/bin/sh", "image/png"), (jpeg()[:-40], "image/jpeg"), (b"", "image/jpeg"),
                            (b"GIF89a\x01\0\x01\0", "image/gif")):
            with self.subTest(data=data[:12]):
                r = self.upload(data, ctype)
                self.assertEqual((r.status, r.error), (415, "unsupported_media_type"), r)
        bad_crc = bytearray(png())
        bad_crc[20] ^= 1
        self.assertEqual(self.upload(bytes(bad_crc), "image/png").status, 415)
        self.assertEqual(self.photo_count(), before)

    def test_size_limit(self):
        before = self.photo_count()
        base = len(jpeg())
        exact = jpeg(10 * MIB - base)
        self.assertEqual(len(exact), 10 * MIB)
        r = self.upload(exact, "image/jpeg")
        self.assertEqual(r.status, 201, r)
        r = self.upload(jpeg(10 * MIB - base + 1), "image/jpeg")
        self.assertEqual((r.status, r.error), (413, "payload_too_large"), r)
        self.assertEqual(self.photo_count(), before + 1)

    def download(self, reply):
        g = self.srv.request("GET", reply["url"], token=self.tok["dispatcher"])
        self.assertEqual(g.status, 200)
        return g.body

    def test_portrait_jpeg_is_stored_upright(self):
        """A phone held upright writes landscape rows and orientation 6; the stored photo is the portrait."""
        tj = TurboJpeg()
        upright = pattern(48, 64)  # what the officer saw: 48 wide, 64 tall
        rows = turn(turn(turn(upright, 6), 6), 6)  # the sensor's rows: the portrait turned back a quarter
        for size, sub in (((64, 48), 2), ((70, 50), 2)):  # 4:2:0 (16x16 blocks); 70x50 is not a multiple
            with self.subTest(size=size):
                img = rows if size == (64, 48) else pattern(*size)
                sent = tj.encode(img, sub)
                src = tj.decode(sent)
                r = self.upload(with_orientation(sent, 6), "image/jpeg")
                self.assertEqual(r.status, 201, r)
                body = self.download(r.json())
                self.assertNotIn(b"Exif", body)
                self.assertNotIn(0xE1, markers(body))
                got, want = tj.decode(body), turn(src, 6)
                # the lossless turn moves whole 16-pixel blocks: the source's partial block row
                # (50 = 3 x 16 + 2 rows) cannot be moved and is trimmed (an edge column once turned)
                trim = len(want[0]) - len(got[0])
                self.assertEqual(len(got), len(want))
                self.assertEqual(trim, size[1] % 16)
                mean, worst = min(diff(got, [row[k:k + len(got[0])] for row in want], margin=8) for k in {0, trim})
                self.assertLess(mean, 1.0, "stored pixels differ from the turned source")
                self.assertLessEqual(worst, 8)
                if size == (64, 48):  # and it is the portrait the officer saw
                    self.assertEqual((len(got[0]), len(got)), (48, 64))
                    near, upside_down = diff(got, upright, 8)[0], diff(turn(got, 3), upright, 8)[0]
                    self.assertLess(near, upside_down / 4, "not the portrait the officer saw")

    def test_every_orientation(self):
        tj = TurboJpeg()
        sent = tj.encode(pattern(40, 24), 0)  # 4:4:4, 8x8 blocks: nothing to trim
        src = tj.decode(sent)
        for o in range(1, 9):
            with self.subTest(orientation=o):
                r = self.upload(with_orientation(sent, o, big_endian=o % 2 == 0), "image/jpeg", rid=self.new_report())
                self.assertEqual(r.status, 201, r)
                got, want = tj.decode(self.download(r.json())), turn(src, o)
                self.assertEqual((len(got[0]), len(got)), (len(want[0]), len(want)))
                mean, worst = diff(got, want)
                self.assertLess(mean, 0.5)
                self.assertLessEqual(worst, 4)

    def test_huge_frame_is_not_turned(self):
        """Small files that declare huge frames (decompression bombs) with orientation 6 are refused
        before any transform holds them (over 32 megapixels: 413; fewer bytes than one bit per block:
        415), nothing stored; without an orientation such a file is only stripped, as before."""
        small = TurboJpeg().encode(pattern(16, 16), 2)
        sof = small.index(b"\xFF\xC0")
        big = lambda w, h: small[:sof + 5] + struct.pack(">HH", h, w) + small[sof + 9:]
        before = self.photo_count()
        for (w, h), status in (((60000, 60000), 413), ((5600, 5600), 415)):
            t0 = time.time()
            r = self.upload(with_orientation(big(w, h), 6), "image/jpeg", rid=self.new_report())
            self.assertEqual(r.status, status, r)
            self.assertLess(time.time() - t0, 2.0, "the bomb was decoded")
        self.assertEqual(self.photo_count(), before)
        self.assertEqual(self.upload(big(60000, 60000), "image/jpeg", rid=self.new_report()).status, 201)

    def new_report(self):
        return self.srv.create_report(new_body(*point_in_haizhou(self.db)), self.tok["patrol"])["id"]

    def test_same_photo_twice_is_stored_once(self):
        rid = self.new_report()
        sent = with_orientation(TurboJpeg().encode(pattern(32, 16), 2), 6)
        first = self.upload(sent, "image/jpeg", rid=rid)
        self.assertEqual(first.status, 201, first)
        self.assertIs(first.json()["duplicate"], False)
        again = self.upload(sent, "image/jpeg", rid=rid)
        self.assertEqual(again.status, 200, again)
        self.assertIs(again.json()["duplicate"], True)
        self.assertEqual((again.json()["id"], again.json()["created_at"], again.json()["bytes"]),
                         (first.json()["id"], first.json()["created_at"], first.json()["bytes"]))
        # the same picture with other metadata (another GPS pointer, no JFIF trailer) is the same photo
        other_meta = sent[:2] + seg(0xFE, b"re-sent from the offline queue") + sent[2:]
        self.assertEqual(self.upload(other_meta, "image/jpeg", rid=rid).status, 200)
        self.assertEqual(self.db.value("SELECT count(*) FROM photos WHERE report_id = %s", rid), 1)
        self.assertEqual(self.db.value("SELECT count(*) FROM report_events WHERE report_id = %s"
                                       " AND type = 'photo_added'", rid), 1)
        lst = self.srv.request("GET", "/api/v1/reports/%d/photos" % rid, token=self.tok["dispatcher"]).json()
        self.assertEqual([p["id"] for p in lst["items"]], [first.json()["id"]])
        # on another report it is a photo of its own
        self.assertEqual(self.upload(sent, "image/jpeg", rid=self.new_report()).status, 201)

    def test_migration_keeps_photos_stored_twice_before(self):
        """0011 on a database that has identical photos already: all kept, the first one hashed."""
        db = harness.fresh_db()
        try:
            db.sql("DROP INDEX photos_report_sha256_key; ALTER TABLE photos DROP COLUMN sha256;"
                   " DELETE FROM schema_migrations WHERE version = 11")
            rid = db.sql("INSERT INTO reports (client_id, category, geom, observed_at)"
                         " VALUES (gen_random_uuid(), 'vagrant', ST_SetSRID(ST_MakePoint(119.2, 34.6), 4326), now())"
                         " RETURNING id")[0]["id"]
            db.sql("INSERT INTO photos (report_id, content_type, data) VALUES (%s, 'image/png', '\\x01'),"
                   " (%s, 'image/png', '\\x01'), (%s, 'image/png', '\\x02')", rid, rid, rid)
            harness.run_patrold(["migrate"], db, check=True)
            rows = db.sql("SELECT sha256 IS NOT NULL AS hashed FROM photos WHERE report_id = %s ORDER BY id", rid)
            self.assertEqual([r["hashed"] for r in rows], [True, False, True])
            self.assertEqual(db.value("SELECT count(*) FROM pg_indexes WHERE indexname = 'photos_report_sha256_key'"), 1)
        finally:
            db.drop()

    def test_scope(self):
        r = self.upload(jpeg(), "image/jpeg")
        url = r.json()["url"]
        before = self.photo_count()
        self.assertEqual(self.upload(jpeg(), "image/jpeg", user="dispatcher_gn").status, 404)
        self.assertEqual(self.photo_count(), before)
        self.assertEqual(self.srv.request("GET", url, token=self.tok["dispatcher_gn"]).status, 404)
        self.assertEqual(self.srv.request("GET", url, token=self.tok["supervisor"]).status, 200)
        self.assertEqual(self.srv.request("GET", url).status, 401)
        lst = self.srv.request("GET", "/api/v1/reports/%d/photos" % self.rid, token=self.tok["dispatcher"])
        self.assertIn(r.json()["id"], [p["id"] for p in lst.json()["items"]])
        self.assertEqual(self.srv.request("GET", "/api/v1/reports/%d/photos/999999" % self.rid,
                                          token=self.tok["dispatcher"]).status, 404)
        other = self.srv.request("POST", "/api/v1/reports", json_body=new_body(*point_in_haizhou(self.db)),
                                 token=self.tok["patrol"]).json()["id"]
        # a photo is only reachable under its own report
        self.assertEqual(self.srv.request("GET", "/api/v1/reports/%d/photos/%d" % (other, r.json()["id"]),
                                          token=self.tok["dispatcher"]).status, 404)
        self.assertEqual(self.upload(jpeg(), "image/jpeg", rid=987654321).status, 404)


if __name__ == "__main__":
    unittest.main()
