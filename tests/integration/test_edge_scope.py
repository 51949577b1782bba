"""test_edge_scope.py - scope at the edge, against a running server: a replayed client_id of a report the
caller may not see (409, no data; single and batch), possible_duplicates limited to what the caller may see,
a patrol moves only reports dispatched to its own unit, another county's unit answers like a missing one,
a patrol that reports across its county line still reads its report and adds photos, photo Content-Type
must match the bytes, and the stored photo bytes hold no thumbnail, JPGn, text or EXIF."""
import json
import struct
import unittest
import uuid
import zlib

import harness
from test_photos import chunk, png_chunks, seg
from test_reports import interior_point, new_body, point_in_haizhou

SECRET = "张三, 82岁, 住海州区某路, 电话13900000000"
SECRET_NAME = "张三丰"


def point_in_guannan(db):
    for level in ("community", "town", "county"):
        p = interior_point(db, "320724", level)
        if p:
            return p
    raise AssertionError("demo data has no 灌南县 geometry")


def jpeg_markers(b):
    """[(marker, payload)] of a JPEG up to SOS (the scan data follows)."""
    assert b[:2] == b"\xFF\xD8", b[:4]
    out, i = [], 2
    while i < len(b):
        assert b[i] == 0xFF, (i, b[i:i + 4])
        m = b[i + 1]
        if m == 0xD9:
            out.append((m, b""))
            break
        n = struct.unpack(">H", b[i + 2:i + 4])[0]
        out.append((m, b[i + 4:i + 2 + n]))
        i += 2 + n
        if m == 0xDA:  # skip entropy-coded data to the next real marker
            while not (b[i] == 0xFF and b[i + 1] not in (0x00, *range(0xD0, 0xD8))):
                i += 1
    return out


def jfif(thumb_w=0, thumb_h=0, pixels=b""):
    return seg(0xE0, b"JFIF\0\x01\x02\x01\x00\x48\x00\x48" + bytes([thumb_w, thumb_h]) + pixels)


def hostile_jpeg():
    """Decodable skeleton plus every place metadata can hide: a JFIF thumbnail, a JFXX thumbnail carrying
    its own EXIF, APP1 EXIF, a JPGn (0xF0) and a JPG (0xC8) segment, COM, APP14 Adobe with a trailer."""
    thumb_exif = b"\xFF\xD8" + seg(0xE1, b"Exif\0\0GPSLatitude=34.6012 THUMBGPS") + b"\xFF\xD9"
    return (b"\xFF\xD8" + jfif(2, 1, b"THUMBPX") + seg(0xE0, b"JFXX\0\x10" + thumb_exif)
            + seg(0xE1, b"Exif\0\0MM\0*GPSLongitude=119.2231")
            + seg(0xF0, b"JPGn private GPS 34.60") + seg(0xC8, b"JPG reserved GPS")
            + seg(0xFE, b"COMMENT GPS") + seg(0xEE, b"Adobe\0\x64\0\0\0\0\x01" + b"ADOBETRAILER GPS")
            + seg(0xDB, b"\0" + bytes([1] * 64)) + seg(0xC0, bytes([8, 0, 16, 0, 16, 1, 1, 0x11, 0]))
            + seg(0xC4, bytes([0] + [1] + [0] * 15 + [5])) + seg(0xDD, b"\0\x04")
            + seg(0xDA, bytes([1, 1, 0, 0, 63, 0])) + b"\x12\x34\xFF\x00\x56\xFF\xD0\x78" + b"\xFF\xD9"
            + b"TRAILER GPS")


def hostile_png(extra=()):
    raw = b"\0\xff\0\0"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"tEXt", b"Comment\0GPS home of the reporter")
            + chunk(b"zTXt", b"Author\0\0" + zlib.compress(b"GPS patrol 7"))
            + chunk(b"eXIf", b"MM\0*\0\0\0\x08GPSLatitude=34.6") + chunk(b"prVt", b"private GPS")
            + chunk(b"iCCP", b"icc\0\0" + zlib.compress(b"GPS profile")) + b"".join(extra)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class EdgeScopeTest(harness.FreshDbCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = harness.Server(cls.db, env={"PATROLD_ESCALATE_INTERVAL_MS": "600000"})
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "patrol", "community", "supervisor")}
        cls.hz = point_in_haizhou(cls.db)
        cls.gn = point_in_guannan(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def post(self, user, body, path="/api/v1/reports"):
        return self.srv.request("POST", path, json_body=body, token=self.tok[user])

    def get(self, user, path):
        return self.srv.request("GET", path, token=self.tok[user])

    def create(self, user, where, **over):
        r = self.post(user, new_body(*where, **over))
        self.assertEqual(r.status, 201, r)
        return r.json()

    def event(self, rid, user, **body):
        return self.post(user, body, "/api/v1/reports/%d/events" % rid)

    def assert_no_data(self, r):
        text = r.body.decode()
        for s in (SECRET, SECRET_NAME, "description", "person", "灰色外套"):
            self.assertNotIn(s, text, r)

    # -- client_id replays --

    def test_replayed_client_id_of_another_county_is_409_without_data(self):
        body = new_body(*self.hz, description=SECRET, person={"name_if_known": SECRET_NAME, "appearance": "灰色外套"})
        r = self.post("patrol", body)
        self.assertEqual(r.status, 201, r)
        rid = r.json()["id"]
        before = self.db.value("SELECT count(*) FROM reports")
        # 灌南 replays the 海州 report's client_id, with its own body or the original one
        for replay in (new_body(*self.gn, client_id=body["client_id"]), body):
            r = self.post("dispatcher_gn", replay)
            self.assertEqual((r.status, r.error), (409, "client_id_conflict"), r)
            self.assertEqual(r.json()["error"]["field"], "client_id")
            self.assert_no_data(r)
            self.assertNotIn(str(rid), r.body.decode())
        # batch: the replay is an error item with no report; the other item is created
        fresh = new_body(*self.gn)
        r = self.post("dispatcher_gn", {"reports": [body, fresh]}, "/api/v1/reports/batch")
        self.assertEqual(r.status, 200, r)
        res = r.json()["results"]
        self.assertEqual((res[0]["status"], res[0]["report"], res[0]["error"]["code"]), ("error", None, "client_id_conflict"))
        self.assertEqual(res[1]["status"], "created")
        self.assertNotIn(SECRET, r.body.decode())
        self.assertNotIn(SECRET_NAME, r.body.decode())
        self.assertEqual(self.db.value("SELECT count(*) FROM reports"), before + 1)
        self.assertEqual(self.db.value("SELECT description FROM reports WHERE id = %s", rid), SECRET)
        # the maker and a user who may see it get the stored report, as before
        for user in ("patrol", "dispatcher", "supervisor"):
            r = self.post(user, body)
            self.assertEqual((r.status, r.json()["id"]), (200, rid), r)
            self.assertEqual(r.json()["description"], SECRET)
        r = self.post("dispatcher", {"reports": [body]}, "/api/v1/reports/batch")
        self.assertEqual((r.json()["results"][0]["status"], r.json()["results"][0]["report"]["id"]), ("existing", rid))

    # -- possible duplicates --

    def test_possible_duplicates_only_within_scope(self):
        lon, lat = self.hz[0] + 0.0003, self.hz[1] + 0.0002
        a = self.create("patrol", (lon, lat), category="minor")["id"]
        # 灌南 reports at the same spot (it may: it sees its own report) but is not shown 海州's
        b = self.create("dispatcher_gn", (lon, lat), category="minor")
        self.assertNotIn(a, [d["id"] for d in b["possible_duplicates"]])
        self.assertEqual(b["possible_duplicates"], [])
        r = self.post("dispatcher_gn", {"reports": [new_body(lon, lat, category="minor")]}, "/api/v1/reports/batch")
        self.assertEqual(r.json()["results"][0]["status"], "created", r)
        self.assertNotIn(a, [d["id"] for d in r.json()["results"][0]["report"]["possible_duplicates"]])
        g = self.get("dispatcher_gn", "/api/v1/reports/%d" % b["id"])
        self.assertEqual(g.status, 200, g)
        self.assertNotIn(a, [d["id"] for d in g.json()["possible_duplicates"]])
        # 海州's dispatcher sees both as duplicates (the feature still works)
        c = self.create("dispatcher", (lon, lat), category="minor")
        self.assertTrue({a, b["id"]} <= {d["id"] for d in c["possible_duplicates"]}, c["possible_duplicates"])
        g = self.get("dispatcher", "/api/v1/reports/%d" % b["id"])
        self.assertIn(a, [d["id"] for d in g.json()["possible_duplicates"]])

    # -- patrol units --

    def test_patrol_moves_only_reports_dispatched_to_its_unit(self):
        station = self.db.value("SELECT id FROM stations WHERE division_code LIKE '320706%%' ORDER BY id LIMIT 1")
        mine, other = [self.db.value("INSERT INTO units (name, station_id, division_code, status) VALUES (%s, %s,"
                                     " '320706000000', 'available') RETURNING id", n, station) for n in ("甲组", "乙组")]
        self.db.sql("UPDATE users SET unit_id = %s WHERE username = 'patrol'", mine)
        theirs, ours = self.create("community", self.hz)["id"], self.create("community", self.hz)["id"]
        for rid, unit in ((theirs, other), (ours, mine)):
            self.assertEqual(self.event(rid, "dispatcher", type="acknowledge").status, 200)
            self.assertEqual(self.event(rid, "dispatcher", type="dispatch", unit_id=unit).status, 200)
        snap = lambda: self.db.sql("SELECT status, outcome, (SELECT count(*) FROM report_events WHERE report_id = %s) AS n"
                                   " FROM reports WHERE id = %s", theirs, theirs)
        before = snap()
        for body in ({"type": "arrive"}, {"type": "resolve", "outcome": "escorted_home"}):
            r = self.event(theirs, "patrol", **body)
            self.assertEqual((r.status, r.error), (403, "not_your_unit"), (body, r))
        self.assertEqual(snap(), before)
        self.assertEqual(self.event(ours, "patrol", type="arrive").status, 200)
        r = self.event(ours, "patrol", type="resolve", outcome="escorted_home")
        self.assertEqual((r.status, r.json()["status"]), (200, "resolved"), r)
        # a report dispatched in another county: not even there for this patrol
        gn = self.create("dispatcher_gn", self.gn)["id"]
        gn_unit = self.db.value("SELECT id FROM units WHERE division_code LIKE '320724%%' AND status = 'available'"
                                " ORDER BY id LIMIT 1")
        self.assertEqual(self.event(gn, "dispatcher_gn", type="dispatch", unit_id=gn_unit).status, 200)
        self.assertEqual(self.event(gn, "patrol", type="arrive").status, 404)

    def test_other_county_unit_answers_like_a_missing_unit(self):
        rid = self.create("community", self.hz)["id"]
        guannan = self.db.value("SELECT id FROM units WHERE division_code LIKE '320724%%' ORDER BY id LIMIT 1")
        missing = self.db.value("SELECT max(id) + 1000 FROM units")
        answers = []
        for unit in (guannan, missing):
            r = self.event(rid, "dispatcher", type="dispatch", unit_id=unit)
            err = r.json()["error"]
            answers.append((r.status, err["code"], err["field"], err["message"].replace(str(unit), "N")))
        self.assertEqual(answers[0], answers[1])
        self.assertEqual(answers[0][:3], (404, "not_found", "unit_id"))
        self.assertEqual(self.db.value("SELECT status FROM reports WHERE id = %s", rid), "new")

    # -- reporting across the county line --

    def test_patrol_reads_its_own_report_across_the_county_line(self):
        rep = self.create("patrol", self.gn)
        rid = rep["id"]
        self.assertTrue(rep["divisions"][1]["code"].startswith("320724"), rep["divisions"])
        for path in ("/api/v1/reports/%d", "/api/v1/reports/%d/timeline", "/api/v1/reports/%d/photos"):
            r = self.get("patrol", path % rid)
            self.assertEqual(r.status, 200, (path, r))
        up = self.srv.request("POST", "/api/v1/reports/%d/photos" % rid, body=hostile_png(),
                              headers={"Content-Type": "image/png"}, token=self.tok["patrol"])
        self.assertEqual(up.status, 201, up)
        self.assertEqual(self.get("patrol", up.json()["url"]).status, 200)
        listed = [i["id"] for i in self.get("patrol", "/api/v1/reports?limit=500").json()["items"]]
        self.assertIn(rid, listed)
        # 灌南 sees it (its county); 海州's dispatcher and another 海州 user do not
        self.assertEqual(self.get("dispatcher_gn", "/api/v1/reports/%d" % rid).status, 200)
        for user in ("dispatcher", "community"):
            self.assertEqual(self.get(user, "/api/v1/reports/%d" % rid).status, 404, user)
            self.assertEqual(self.get(user, up.json()["url"]).status, 404, user)
            self.assertNotIn(rid, [i["id"] for i in self.get(user, "/api/v1/reports?limit=500").json()["items"]])

    # -- photos --

    def upload(self, rid, data, ctype):
        h = {"Content-Type": ctype} if ctype else {}
        return self.srv.request("POST", "/api/v1/reports/%d/photos" % rid, body=data, headers=h, token=self.tok["patrol"])

    def test_photo_content_type_must_match_bytes(self):
        rid = self.create("patrol", self.hz)["id"]
        count = lambda: self.db.value("SELECT count(*) FROM photos")
        before = count()
        for data, ctype in ((hostile_png(), "image/jpeg"), (hostile_jpeg(), "image/png"), (hostile_png(), None),
                            (hostile_jpeg(), "application/octet-stream"), (hostile_png(), "image/svg+xml")):
            with self.subTest(ctype=ctype, png=data[:4] == b"\x89PNG"):
                r = self.upload(rid, data, ctype)
                self.assertEqual((r.status, r.error), (415, "unsupported_media_type"), r)
        self.assertEqual(count(), before)
        self.assertEqual(self.upload(rid, hostile_jpeg(), "IMAGE/JPEG; charset=binary").status, 201)
        self.assertEqual(self.upload(rid, hostile_png(), "image/png").status, 201)

    def test_stored_jpeg_has_no_thumbnail_jpgn_or_metadata(self):
        rid = self.create("patrol", self.hz)["id"]
        src = hostile_jpeg()
        r = self.upload(rid, src, "image/jpeg")
        self.assertEqual(r.status, 201, r)
        stored = self.get("patrol", r.json()["url"]).body
        pid = r.json()["id"]
        self.assertEqual(bytes.fromhex(self.db.value("SELECT encode(data, 'hex') FROM photos WHERE id = %s", pid)), stored)
        for s in (b"GPS", b"THUMB", b"JFXX", b"Exif", b"COMMENT", b"TRAILER", b"JPGn"):
            self.assertNotIn(s, stored)
        marks = jpeg_markers(stored)
        kinds = [m for m, _ in marks]
        self.assertFalse([m for m in kinds if 0xF0 <= m <= 0xFD or m == 0xC8 or m == 0xFE or 0xE1 <= m <= 0xED or m == 0xEF],
                         [hex(m) for m in kinds])
        app0 = [p for m, p in marks if m == 0xE0]
        self.assertEqual(app0, [b"JFIF\0\x01\x02\x01\x00\x48\x00\x48\x00\x00"])  # no thumbnail
        self.assertEqual([p for m, p in marks if m == 0xEE], [b"Adobe\0\x64\0\0\0\0\x01"])
        self.assertEqual([m for m in kinds if m in (0xDB, 0xC0, 0xC4, 0xDD, 0xDA, 0xD9)], [0xDB, 0xC0, 0xC4, 0xDD, 0xDA, 0xD9])
        # what decoding needs is byte for byte what was sent: tables, frame, scan header and entropy data
        for m in (0xDB, 0xC0, 0xC4, 0xDD, 0xDA):
            self.assertEqual([p for k, p in marks if k == m], [p for k, p in jpeg_markers(src) if k == m])
        self.assertIn(b"\x12\x34\xFF\x00\x56\xFF\xD0\x78\xFF\xD9", stored)
        self.assertTrue(stored.endswith(b"\xFF\xD9"))

    def test_stored_png_has_only_rendering_chunks(self):
        rid = self.create("patrol", self.hz)["id"]
        r = self.upload(rid, hostile_png(), "image/png")
        self.assertEqual(r.status, 201, r)
        stored = self.get("patrol", r.json()["url"]).body
        self.assertEqual(png_chunks(stored), ["IHDR", "gAMA", "IDAT", "IEND"])
        self.assertNotIn(b"GPS", stored)
        # an unknown critical chunk is refused rather than passed on
        r = self.upload(rid, hostile_png([chunk(b"ABCD", b"GPS")]), "image/png")
        self.assertEqual((r.status, r.error), (415, "unsupported_media_type"), r)


if __name__ == "__main__":
    unittest.main()
