"""test_units_coverage.py - GET /api/v1/coverage: a hand-made square community crossed by a
hand-made track, against PostGIS computing the same share in EPSG:4549; last patrolled time;
an untouched community; scope; the cache (hit, new positions, TTL)."""
import datetime
import time
import unittest

import harness


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class CoverageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        # three 1 km squares (in CGCS2000 Gauss-Kruger metres) inside 海州区, 5 km apart
        o = cls.db.sql("SELECT ST_X(p) AS e, ST_Y(p) AS n FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4549) AS p"
                       " FROM divisions WHERE code = '320706000000') s")[0]
        cls.e0, cls.n0 = round(o["e"]), round(o["n"])
        for code, dx in (("320706999901", 0), ("320706999902", 5000), ("320706999903", 10000)):
            cls.db.sql("INSERT INTO divisions (code, name, level, parent_code, geom) VALUES (%s, %s, 'community',"
                       " '320706000000', ST_Multi(ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4549), 4326)))",
                       code, "测试社区" + code[-1], cls.e0 + dx, cls.n0, cls.e0 + dx + 1000, cls.n0 + 1000)
        cls.srv = harness.Server(cls.db, env={"PATROLD_COVERAGE_CACHE_S": "12", "PATROLD_ACCESS_LOG": "0"})
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "admin", "patrol")}
        cls.station = cls.db.value("SELECT station_id FROM units WHERE division_code = '320706000000' LIMIT 1")

    def new_unit(self):
        """A unit with no position yet: nothing earlier (the seed's fix) to judge the first fix against."""
        r = self.srv.request("POST", "/api/v1/units", json_body={"name": "覆盖测试", "station_id": self.station},
                             token=self.tok["dispatcher"])
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    def coverage(self, user="dispatcher", q="?division=320706&since="):
        return self.srv.request("GET", "/api/v1/coverage" + q, token=self.tok[user])

    def test_share_and_last_time(self):
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        t0 = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30)
        # a track along the middle of the first square, from 200 m before it to 200 m past it
        pts = self.db.sql("SELECT ST_X(p) AS lon, ST_Y(p) AS lat, x FROM (SELECT x, ST_Transform(ST_SetSRID("
                          "ST_MakePoint(%s + x, %s + 500), 4549), 4326) AS p FROM generate_series(-200, 1200, 50) x) s"
                          " ORDER BY x", self.e0, self.n0)
        fixes = [{"location": {"lon": p["lon"], "lat": p["lat"]}, "at": iso(t0 + datetime.timedelta(seconds=10 * i))}
                 for i, p in enumerate(pts)]
        r = self.srv.request("POST", "/api/v1/units/%d/positions" % self.new_unit(), json_body={"positions": fixes},
                             token=self.tok["admin"])
        self.assertEqual((r.status, r.json()["stored"]), (200, len(fixes)), r)
        last_inside = max(i for i, p in enumerate(pts) if 0 <= p["x"] <= 1000)
        expected = self.db.value(
            "SELECT ST_Area(ST_Intersection(ST_MakeEnvelope(%s, %s, %s, %s, 4549), ST_Buffer(ST_Transform("
            "ST_SetSRID(ST_MakeLine(ARRAY(SELECT ST_MakePoint(%s + x, %s + 500) FROM generate_series(-200, 1200, 50) x)),"
            " 4549), 4549), 100))) / 1e6", self.e0, self.n0, self.e0 + 1000, self.n0 + 1000, self.e0, self.n0)
        self.assertAlmostEqual(expected, 0.2, delta=0.01)  # the oracle itself: a 200 m band across 1 km
        r = self.coverage(q="?division=320706&since=" + iso(since))
        self.assertEqual(r.status, 200, r)
        items = {i["code"]: i for i in r.json()["items"]}
        a, b = items["320706999901"], items["320706999902"]
        self.assertAlmostEqual(a["covered_share"], expected, delta=0.002)
        self.assertAlmostEqual(a["area_m2"], 1e6, delta=1000)
        self.assertEqual(iso(datetime.datetime.fromisoformat(a["last_patrolled_at"])),  # any offset
                         iso(t0 + datetime.timedelta(seconds=10 * last_inside)))
        self.assertEqual((b["covered_share"], b["last_patrolled_at"]), (0, None))
        self.assertTrue(all(i["code"].startswith("320706") for i in r.json()["items"]))
        # a period that starts after the track: nothing covered
        later = iso(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1))
        r2 = self.coverage(q="?division=320706999901&since=" + later)
        self.assertEqual([(i["code"], i["covered_share"]) for i in r2.json()["items"]], [("320706999901", 0)])

    def test_cache(self):
        since = iso(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2))
        q = "?division=320706999903&since=" + since
        self.assertEqual(self.coverage(q=q).headers["x-cache"], "miss")
        self.assertEqual(self.coverage(q=q).headers["x-cache"], "hit")
        time.sleep(2.3)
        self.assertEqual(self.coverage(q=q).headers["x-cache"], "hit")  # nothing new: still good
        at = iso(datetime.datetime.now(datetime.timezone.utc))
        lonlat = self.db.sql("SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_Transform(ST_SetSRID("
                             "ST_MakePoint(%s, %s), 4549), 4326) p) s", self.e0 + 10500, self.n0 + 500)[0]
        r = self.srv.request("POST", "/api/v1/units/%d/positions" % self.new_unit(), token=self.tok["admin"],
                             json_body={"positions": [{"location": {"lon": lonlat["lon"], "lat": lonlat["lat"]}, "at": at}]})
        self.assertEqual(r.status, 200, r)
        r = self.coverage(q=q)  # new positions: recomputed (the entry is older than ttl/6 = 2 s)
        self.assertEqual(r.headers["x-cache"], "miss")
        self.assertEqual(iso(datetime.datetime.fromisoformat(r.json()["items"][0]["last_patrolled_at"])), at)
        self.assertGreater(r.json()["items"][0]["covered_share"], 0.02)
        self.assertEqual(self.coverage(q=q).headers["x-cache"], "hit")
        time.sleep(12.2)
        self.assertEqual(self.coverage(q=q).headers["x-cache"], "miss")  # TTL

    def test_scope_and_bad_input(self):
        self.assertEqual(self.coverage("dispatcher_gn", "?division=320706").status, 404)
        self.assertEqual(self.coverage("patrol", "?division=320706").status, 403)
        self.assertEqual(self.coverage("dispatcher", "?division=32070x").error, "invalid_division")
        self.assertEqual(self.coverage("dispatcher", "?since=yesterday").error, "invalid_since")
        self.assertEqual(self.coverage("dispatcher", "?since=2001-01-01T00:00:00Z").error, "invalid_field")
        r = self.coverage("dispatcher_gn", "")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.json()["items"])
        self.assertTrue(all(i["code"].startswith("320724") for i in r.json()["items"]))


if __name__ == "__main__":
    unittest.main()
