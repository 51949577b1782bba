"""Divisions change over time: a newer list in which a town is merged into its neighbour and a
community renamed is imported; the change is recorded, former names and codes are still found
(answering with today's division), reverse and routing follow the new divisions, and an old
report keeps the codes it was routed with."""
import csv
import io
import os
import tempfile
import time
import unittest
import urllib.parse
import uuid

import harness

SEED_CSV = os.path.join(harness.ROOT, "migrations", "seed", "lianyungang-divisions.csv")
EFFECTIVE = "2025-01-01"


class Changes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = db = harness.fresh_db()
        # town A (海州区, with a boundary) and a neighbour B sharing an edge with it
        pair = db.sql("SELECT a.code AS a, b.code AS b, a.name AS an, b.name AS bn FROM divisions a"
                      " JOIN divisions b ON b.level = 'town' AND b.kind = 'admin' AND b.code LIKE '320706%%'"
                      "  AND b.code <> a.code AND ST_Intersects(a.geom, b.geom)"
                      "  AND ST_Dimension(ST_Intersection(a.geom, b.geom)) = 1"
                      " WHERE a.level = 'town' AND a.kind = 'admin' AND a.code LIKE '320706%%'"
                      "  AND a.geom IS NOT NULL AND EXISTS (SELECT 1 FROM divisions c WHERE c.parent_code = a.code)"
                      " ORDER BY a.code, b.code LIMIT 1")[0]
        cls.a, cls.b, cls.a_name, cls.b_name = pair["a"], pair["b"], pair["an"], pair["bn"]
        # a community of A and a point inside it
        c = db.sql("SELECT code, name, ST_X(p) x, ST_Y(p) y FROM (SELECT code, name, ST_PointOnSurface(geom) p"
                   " FROM divisions WHERE parent_code = %s AND geom IS NOT NULL ORDER BY code LIMIT 1) s", cls.a)[0]
        cls.ac, cls.ac_name, cls.x, cls.y = c["code"], c["name"], c["x"], c["y"]
        # the community to rename: the first of another county's first town
        r = db.sql("SELECT code, name FROM divisions WHERE level = 'community' AND code LIKE '320722%%'"
                   " ORDER BY code LIMIT 1")[0]
        cls.rc, cls.old_name = r["code"], r["name"]
        cls.new_name = "幸福新村社区"
        # the newer list
        with open(SEED_CSV, encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        out, moved, n = [], {}, 0
        for row in rows:
            if row["code"] == cls.a:
                continue
            if row["parent_code"] == cls.a:
                n += 1
                new = cls.b[:9] + "%03d" % (900 + n)
                moved[row["code"]] = new
                row = dict(row, code=new, parent_code=cls.b)
            if row["code"] == cls.rc:
                row = dict(row, name=cls.new_name)
            out.append(row)
        cls.moved = moved
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["code", "name", "level", "parent_code"], lineterminator="\n")
        w.writeheader()
        w.writerows(out)
        cls.tmp = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8")
        cls.tmp.write(buf.getvalue())
        cls.tmp.close()
        cls.srv = harness.Server(db)
        cls.token = cls.srv.login("patrol")
        cls.old_report = cls.report()
        r = harness.run_patrold(["import-divisions", cls.tmp.name, "--effective", EFFECTIVE], db, timeout=600)
        assert r.returncode == 0, r.stderr
        cls.import_out = r.stdout
        deadline = time.time() + 30  # the NOTIFY makes the server reload both indexes
        while time.time() < deadline:
            hits = cls.search(cls.new_name)
            if hits and hits[0]["name"] == cls.new_name:
                break
            time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()
        os.unlink(cls.tmp.name)

    @classmethod
    def report(cls):
        body = {"client_id": str(uuid.uuid4()), "category": "vagrant",
                "location": {"lon": cls.x, "lat": cls.y}, "observed_at": "2024-05-01T10:00:00+08:00"}
        r = cls.srv.request("POST", "/api/v1/reports", body, token=cls.token)
        assert r.status == 201, r
        return r.json()

    @classmethod
    def search(cls, text, **params):
        params["q"] = text
        r = cls.srv.request("GET", "/api/v1/places?" + urllib.parse.urlencode(params))
        assert r.status == 200, r
        return r.json()["items"]

    def test_changes_recorded(self):
        self.assertIn("1 renamed", self.import_out)
        rows = self.db.sql("SELECT change, code, old_name, new_name, into_code, effective::text"
                           " FROM division_changes ORDER BY id")
        by = {(r["change"], r["code"]): r for r in rows}
        self.assertEqual(by[("merged", self.a)]["into_code"], self.b)
        self.assertEqual(by[("renamed", self.rc)]["old_name"], self.old_name)
        self.assertEqual(by[("renamed", self.rc)]["new_name"], self.new_name)
        for old, new in self.moved.items():
            self.assertEqual(by[("merged", old)]["into_code"], new)
            self.assertEqual(by[("new", new)]["effective"], EFFECTIVE)
        self.assertEqual({r["change"] for r in rows}, {"merged", "renamed", "new"})
        # nothing overwritten: the ended rows are still there, with valid_to
        self.assertEqual(self.db.value("SELECT valid_to::text FROM divisions WHERE code = %s", self.a), EFFECTIVE)

    def test_former_name_and_code_found(self):
        hits = self.search(self.a_name)
        former = [h for h in hits if h["code"] == self.a]
        self.assertEqual(len(former), 1)
        self.assertEqual(former[0]["valid_to"], EFFECTIVE)
        self.assertEqual(former[0]["replaced_by"]["code"], self.b)
        self.assertEqual(former[0]["replaced_by"]["name"], self.b_name)
        by_code = self.search(self.a)
        self.assertEqual(by_code[0]["code"], self.a)
        self.assertEqual(by_code[0]["replaced_by"]["code"], self.b)
        # renamed community: the old name answers with today's division (same code, new name)
        old = [h for h in self.search(self.old_name, limit=100) if h["code"] == self.rc]
        self.assertTrue(old)
        self.assertTrue(any(h.get("replaced_by") and h["replaced_by"]["name"] == self.new_name for h in old))
        new = self.search(self.new_name)
        self.assertEqual((new[0]["code"], new[0]["name"]), (self.rc, self.new_name))
        self.assertNotIn("replaced_by", new[0])
        self.assertIsNone(new[0]["valid_to"])

    def test_divisions_endpoint(self):
        d = self.srv.request("GET", "/api/v1/divisions/" + self.a).json()
        self.assertEqual(d["valid_to"], EFFECTIVE)
        self.assertEqual(d["replaced_by"]["code"], self.b)
        kids = self.srv.request("GET", "/api/v1/divisions/%s/children" % self.b).json()["items"]
        codes = {k["code"] for k in kids}
        self.assertTrue(set(self.moved.values()) <= codes)
        self.assertEqual(self.srv.request("GET", "/api/v1/divisions/%s/children" % self.a).json()["items"], [])

    def test_reverse_and_routing_follow_today(self):
        r = self.srv.request("GET", "/api/v1/places/reverse?lon=%.9f&lat=%.9f" % (self.x, self.y)).json()
        tiers = {d["level"]: d["code"] for d in r["divisions"]}
        self.assertEqual(tiers["town"], self.b)
        self.assertEqual(tiers["community"], self.moved[self.ac])
        rep = self.report()
        tiers = {d["level"]: d["code"] for d in rep["divisions"]}
        self.assertEqual(tiers["town"], self.b)
        # the report made before the change keeps the codes it was routed with
        old = self.srv.request("GET", "/api/v1/reports/%s" % self.old_report["id"], token=self.token).json()
        tiers = {d["level"]: d["code"] for d in old["divisions"]}
        self.assertEqual(tiers["town"], self.a)
        self.assertEqual(tiers["community"], self.ac)

    def test_reports_asked_by_todays_division(self):
        """A report keeps its old codes, and asking by today's division (the town or community
        that the old one was merged into) still finds it, in lists and exports alike."""
        new = self.report()["id"]
        for code in (self.b, self.moved[self.ac], self.b[:9]):
            r = self.srv.request("GET", "/api/v1/reports?division=%s" % code, token=self.token)
            self.assertEqual(r.status, 200, r)
            ids = {x["id"] for x in r.json()["items"]}
            self.assertIn(self.old_report["id"], ids, code)
            self.assertIn(new, ids, code)
        # a division that took nothing over does not get the old report
        other = self.db.value("SELECT min(code) FROM divisions WHERE level = 'town' AND code LIKE '320706%%'"
                              " AND code NOT IN (%s, %s) AND valid_to IS NULL", self.a, self.b)
        r = self.srv.request("GET", "/api/v1/reports?division=%s" % other, token=self.token)
        self.assertNotIn(self.old_report["id"], {x["id"] for x in r.json()["items"]})
        csv_text = self.srv.request("GET", "/api/v1/reports.csv?division=%s" % self.b,
                                    token=self.srv.login("dispatcher")).body.decode("utf-8-sig")
        self.assertIn("\n%d," % self.old_report["id"], "\n" + csv_text.split("\n", 1)[1])


if __name__ == "__main__":
    unittest.main()
