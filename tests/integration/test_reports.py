"""test_reports.py - POST /api/v1/reports (location, routing, deadline, CRS input, outside the city,
possible duplicates, idempotency incl. concurrent copies), the batch route and GET with scope and ?crs=.
Expected divisions and stations come from PostGIS (ST_Covers) on the demo data, not from the server."""
import math
import threading
import time
import unittest
import uuid

import harness
from refcoords import gcj02_to_bd09, wgs84_to_gcj02

ACK = {"community": 601, "town": 902, "county": 1203, "city": 1804}
TIER_RANK = {"community": 0, "town": 1, "county": 2, "city": 3}


def new_body(lon, lat, **over):
    b = {"client_id": str(uuid.uuid4()), "category": "vagrant",
         "location": {"lon": lon, "lat": lat, "crs": "wgs84", "accuracy_m": 12},
         "observed_at": "2024-05-01T10:00:00+08:00", "description": "老人在桥下，衣着单薄",
         "people_count": 1, "person": {"sex": "male", "approx_age": 70, "appearance": "灰色外套"}}
    b.update(over)
    return b


def interior_point(db, like, level):
    """A point well inside a division of `level` whose code starts with `like` (PostGIS picks it)."""
    row = db.sql("SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p FROM divisions"
                 " WHERE level = %s AND kind = 'admin' AND geom IS NOT NULL AND code LIKE %s ORDER BY code LIMIT 1) s",
                 level, like + "%")
    return (row[0]["lon"], row[0]["lat"]) if row else None


def point_in_haizhou(db):
    for level in ("community", "town", "county"):
        p = interior_point(db, "320706", level)
        if p:
            return p
    raise AssertionError("demo data has no 海州区 geometry")


def expected_divisions(db, lon, lat):
    return db.sql("SELECT code, level FROM divisions WHERE kind = 'admin' AND level IN ('city','county','town','community')"
                  " AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
                  " ORDER BY array_position(ARRAY['city','county','town','community'], level), code", lon, lat)


def expected_station(db, lon, lat):
    rows = db.sql("SELECT id, tier FROM stations WHERE can_dispatch AND ST_Covers(coverage, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
                  " ORDER BY array_position(ARRAY['community','town','county','city'], tier),"
                  " ST_Distance(location::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography), id LIMIT 1",
                  lon, lat, lon, lat)
    return rows[0] if rows else None


def counts(db):
    return db.sql("SELECT (SELECT count(*) FROM reports) AS reports, (SELECT count(*) FROM report_events) AS audit,"
                  " (SELECT count(*) FROM events) AS events")[0]


class ReportsTest(harness.FreshDbCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = {"PATROLD_ACK_%s_S" % k.upper(): str(v) for k, v in ACK.items()}
        env["PATROLD_ESCALATE_INTERVAL_MS"] = "600000"
        cls.srv = harness.Server(cls.db, env=env)
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "supervisor", "patrol", "community")}
        cls.lon, cls.lat = point_in_haizhou(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def post(self, body, user="patrol", path="/api/v1/reports"):
        return self.srv.request("POST", path, json_body=body, token=self.tok[user])

    def test_create_in_haizhou(self):
        body = new_body(self.lon, self.lat)
        before = counts(self.db)
        r = self.post(body)
        self.assertEqual(r.status, 201, r)
        rep = r.json()
        self.assertEqual(rep["status"], "new")
        self.assertEqual(rep["client_id"], body["client_id"])
        self.assertFalse(rep["outside"])
        want = expected_divisions(self.db, self.lon, self.lat)
        self.assertEqual([(d["code"], d["level"]) for d in rep["divisions"]], [(w["code"], w["level"]) for w in want])
        self.assertEqual(rep["divisions"][1]["code"], "320706000000")
        self.assertEqual(rep["divisions"][1]["name"], "海州区")
        self.assertEqual(rep["divisions"][0]["level"], "city")
        st = expected_station(self.db, self.lon, self.lat)
        self.assertEqual(rep["responsible_station"]["id"], st["id"])
        self.assertEqual(rep["responsible_station"]["tier"], st["tier"])
        row = self.db.sql("SELECT extract(epoch FROM ack_deadline - received_at)::int AS lim, ST_X(geom) AS lon,"
                          " ST_Y(geom) AS lat, created_by, source, person->>'sex' AS sex FROM reports WHERE id = %s", rep["id"])[0]
        self.assertEqual(row["lim"], ACK[st["tier"]])
        self.assertAlmostEqual(row["lon"], self.lon, places=9)
        self.assertEqual(row["source"], "app")
        self.assertEqual(row["sex"], "male")
        self.assertIsNotNone(rep["ack_deadline"])
        self.assertEqual(rep["person"]["approx_age"], 70)
        self.assertNotIn(rep["id"], [d["id"] for d in rep["possible_duplicates"]])  # never itself
        after = counts(self.db)
        self.assertEqual((after["reports"], after["audit"], after["events"]),
                         (before["reports"] + 1, before["audit"] + 1, before["events"] + 1))
        ev = self.db.sql("SELECT kind, division_code, payload->>'id' AS id FROM events WHERE entity_id = %s", rep["id"])
        self.assertEqual(ev[0]["kind"], "report.created")
        self.assertEqual(ev[0]["division_code"], want[-1]["code"])
        audit = self.db.sql("SELECT type, actor, to_status FROM report_events WHERE report_id = %s", rep["id"])
        self.assertEqual(audit, [{"type": "created", "actor": "patrol", "to_status": "new"}])

    def test_gcj02_and_bd09_input_convert_to_wgs84(self):
        glon, glat = wgs84_to_gcj02(self.lon, self.lat)
        blon, blat = gcj02_to_bd09(glon, glat)
        for crs, (x, y) in (("gcj02", (glon, glat)), ("bd09", (blon, blat)), ("cgcs2000", (self.lon, self.lat))):
            with self.subTest(crs=crs):
                body = new_body(x, y)
                body["location"]["crs"] = crs
                r = self.post(body)
                self.assertEqual(r.status, 201, r)
                row = self.db.sql("SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, crs_in FROM reports WHERE id = %s",
                                  r.json()["id"])[0]
                self.assertLess(abs(row["lon"] - self.lon), 2e-6)
                self.assertLess(abs(row["lat"] - self.lat), 2e-6)
                self.assertEqual(row["crs_in"], crs)
                # the shift is real: the raw input would be hundreds of metres off
                if crs != "cgcs2000":
                    self.assertGreater(abs(x - self.lon) + abs(y - self.lat), 1e-3)
                # and ?crs= gives it back in that system
                g = self.srv.request("GET", "/api/v1/reports/%d?crs=%s" % (r.json()["id"], crs), token=self.tok["dispatcher"])
                self.assertEqual(g.status, 200, g)
                loc = g.json()["location"]
                self.assertEqual(loc["crs"], crs)
                self.assertLess(abs(loc["lon"] - x), 1e-6)
                self.assertLess(abs(loc["lat"] - y), 1e-6)

    def test_outside_city_goes_to_city_station(self):
        r = self.post(new_body(116.397, 39.909))  # Beijing
        self.assertEqual(r.status, 201, r)
        rep = r.json()
        self.assertTrue(rep["outside"])
        self.assertEqual(rep["divisions"], [])
        self.assertEqual(rep["responsible_station"]["tier"], "city")
        city = self.db.sql("SELECT id FROM stations WHERE tier = 'city' ORDER BY NOT can_dispatch, id")
        self.assertIn(rep["responsible_station"]["id"], [c["id"] for c in city])
        # only city-wide users see it
        self.assertEqual(self.srv.request("GET", "/api/v1/reports/%d" % rep["id"], token=self.tok["dispatcher"]).status, 404)
        self.assertEqual(self.srv.request("GET", "/api/v1/reports/%d" % rep["id"], token=self.tok["supervisor"]).status, 200)
        ev = self.db.sql("SELECT division_code FROM events WHERE entity_id = %s AND kind = 'report.created'", rep["id"])
        self.assertIsNone(ev[0]["division_code"])

    def test_possible_duplicates(self):
        # a spot of its own so other tests' reports do not interfere
        lon, lat = self.lon + 0.0013, self.lat + 0.0011
        a = self.post(new_body(lon, lat, category="lost_elderly")).json()
        cancelled = self.post(new_body(lon, lat, category="lost_elderly")).json()
        r = self.srv.request("POST", "/api/v1/reports/%d/events" % cancelled["id"], json_body={"type": "cancel"},
                             token=self.tok["dispatcher"])
        self.assertEqual(r.status, 200, r)
        other_cat = self.post(new_body(lon, lat, category="minor")).json()
        near = self.post(new_body(lon + 0.0005, lat, category="lost_elderly"))  # about 46 m east
        self.assertEqual(near.status, 201)
        dups = near.json()["possible_duplicates"]
        ids = [d["id"] for d in dups]
        self.assertIn(a["id"], ids)
        self.assertNotIn(cancelled["id"], ids)
        self.assertNotIn(other_cat["id"], ids)
        d = [d for d in dups if d["id"] == a["id"]][0]
        want = self.db.value("SELECT ST_Distance(a.geom::geography, b.geom::geography) FROM reports a, reports b"
                             " WHERE a.id = %s AND b.id = %s", a["id"], near.json()["id"])
        self.assertAlmostEqual(d["distance_m"], want, delta=0.2)
        self.assertEqual(d["status"], "new")
        far = self.post(new_body(lon + 0.01, lat, category="lost_elderly"))  # about 900 m: not a duplicate
        self.assertNotIn(a["id"], [x["id"] for x in far.json()["possible_duplicates"]])
        # GET lists them too
        g = self.srv.request("GET", "/api/v1/reports/%d" % near.json()["id"], token=self.tok["dispatcher"]).json()
        self.assertIn(a["id"], [x["id"] for x in g["possible_duplicates"]])

    def test_idempotent_repeat(self):
        body = new_body(self.lon, self.lat)
        first = self.post(body)
        self.assertEqual(first.status, 201)
        before = counts(self.db)
        again = self.post(body)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json()["id"], first.json()["id"])
        # a different body with the same client_id still returns the stored report
        changed = dict(body, category="beggar", description="changed")
        third = self.post(changed, user="dispatcher")
        self.assertEqual(third.status, 200)
        self.assertEqual(third.json()["category"], "vagrant")
        # even an otherwise invalid body with a known client_id
        bad = {"client_id": body["client_id"].upper(), "category": "nonsense"}
        fourth = self.post(bad)
        self.assertEqual(fourth.status, 200, fourth)
        self.assertEqual(fourth.json()["id"], first.json()["id"])
        self.assertEqual(counts(self.db), before)

    def test_concurrent_same_client_id(self):
        for attempt in range(3):
            body = new_body(self.lon, self.lat)
            before = counts(self.db)
            results, barrier = [], threading.Barrier(12)

            def send():
                barrier.wait()
                results.append(self.post(body))
            threads = [threading.Thread(target=send) for _ in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            statuses = sorted(r.status for r in results)
            self.assertEqual(statuses.count(201), 1, statuses)
            self.assertEqual(statuses.count(200), 11, statuses)
            self.assertEqual(len({r.json()["id"] for r in results}), 1)
            self.assertEqual(self.db.value("SELECT count(*) FROM reports WHERE client_id = %s", body["client_id"]), 1)
            after = counts(self.db)
            self.assertEqual((after["reports"], after["audit"], after["events"]),
                             (before["reports"] + 1, before["audit"] + 1, before["events"] + 1))

    def test_batch_mixed(self):
        existing = self.post(new_body(self.lon, self.lat)).json()
        g1, g2 = new_body(self.lon, self.lat), new_body(116.397, 39.909)
        bad = new_body(self.lon, 91)
        twin = dict(g1)
        items = [g1, bad, {"client_id": existing["client_id"], "category": "vagrant",
                           "location": {"lon": self.lon, "lat": self.lat}, "observed_at": "2024-05-01T10:00:00Z"},
                 "not an object", g2, twin, new_body(self.lon, self.lat, category="alien")]
        before = counts(self.db)
        r = self.post({"reports": items}, path="/api/v1/reports/batch")
        self.assertEqual(r.status, 200, r)
        res = r.json()["results"]
        self.assertEqual([x["index"] for x in res], list(range(len(items))))
        self.assertEqual([x["status"] for x in res], ["created", "error", "existing", "error", "created", "existing", "error"])
        self.assertEqual(res[0]["report"]["client_id"], g1["client_id"])
        self.assertIsNone(res[0]["error"])
        self.assertEqual(res[1]["error"]["code"], "invalid_location")
        self.assertEqual(res[1]["error"]["field"], "location.lat")
        self.assertIsNone(res[1]["report"])
        self.assertEqual(res[2]["report"]["id"], existing["id"])
        self.assertEqual(res[3]["error"]["code"], "invalid_body")
        self.assertTrue(res[4]["report"]["outside"])
        self.assertEqual(res[5]["report"]["id"], res[0]["report"]["id"])
        self.assertEqual(res[6]["error"]["code"], "invalid_category")
        after = counts(self.db)
        self.assertEqual((after["reports"], after["audit"], after["events"]),
                         (before["reports"] + 2, before["audit"] + 2, before["events"] + 2))

    def test_batch_limits_and_throughput(self):
        big = [new_body(self.lon + (i % 50) * 1e-4, self.lat, category="other") for i in range(501)]
        before = counts(self.db)
        r = self.post({"reports": big}, path="/api/v1/reports/batch")
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.error, "too_many_items")
        self.assertEqual(counts(self.db), before)
        t0 = time.time()
        r = self.post({"reports": big[:500]}, path="/api/v1/reports/batch")
        dt = time.time() - t0
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["status"] for x in r.json()["results"]], ["created"] * 500)
        self.assertEqual(counts(self.db)["reports"], before["reports"] + 500)
        print("\n  batch of 500: %.3f s (%.0f reports/s on one connection)" % (dt, 500 / dt))
        # the same batch again: all existing, nothing written
        mid = counts(self.db)
        r = self.post({"reports": big[:500]}, path="/api/v1/reports/batch")
        self.assertEqual({x["status"] for x in r.json()["results"]}, {"existing"})
        self.assertEqual(counts(self.db), mid)

    def test_get_scope_and_crs(self):
        rep = self.post(new_body(self.lon, self.lat)).json()
        path = "/api/v1/reports/%d" % rep["id"]
        for user, want in (("dispatcher", 200), ("supervisor", 200), ("patrol", 200), ("dispatcher_gn", 404)):
            with self.subTest(user=user):
                self.assertEqual(self.srv.request("GET", path, token=self.tok[user]).status, want)
        g = self.srv.request("GET", path + "?crs=gcj02", token=self.tok["dispatcher"]).json()
        x, y = wgs84_to_gcj02(self.lon, self.lat)
        self.assertLess(abs(g["location"]["lon"] - x), 1e-6)
        self.assertEqual(self.srv.request("GET", path + "?crs=mars", token=self.tok["dispatcher"]).error, "invalid_crs")
        self.assertEqual(self.srv.request("GET", "/api/v1/reports/999999999", token=self.tok["supervisor"]).status, 404)
        self.assertEqual(self.srv.request("GET", path).status, 401)


if __name__ == "__main__":
    unittest.main()
