"""test_stations.py - rescue stations entered for real (issue 17): GET/POST /api/v1/stations, GET/PATCH
/api/v1/stations/{id} in any crs, scoped like everything else; a station outside the division it names or a
coverage polygon that does not close is a 400 naming the field and stores nothing; a self-crossing coverage
is repaired by the one rule; `patrold import-stations` (CSV or GeoJSON, any crs) updates by code and reports
new / changed / unchanged, and a bad row is printed with its number and stores nothing of the file; with two
instances, a station created through one routes reports on the other."""
import json
import os
import tempfile
import time
import unittest

import harness
from refcoords import wgs84_to_gcj02
from test_reports import interior_point, new_body


def community_without_station(db, like):
    """A community of `like` with a boundary and no station, and a point well inside it."""
    row = db.sql("SELECT d.code, ST_X(p) AS lon, ST_Y(p) AS lat FROM divisions d,"
                 " LATERAL (SELECT ST_PointOnSurface(d.geom) AS p) x WHERE d.level = 'community'"
                 " AND d.code LIKE %s AND d.geom IS NOT NULL AND ST_Area(d.geom::geography) > 1e6"
                 " AND NOT EXISTS (SELECT 1 FROM stations s WHERE s.division_code = d.code)"
                 " ORDER BY d.code LIMIT 1", like + "%")[0]
    return row["code"], row["lon"], row["lat"]


def square(lon, lat, d, close=True, crs=None):
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    if crs == "gcj02":
        ring = [list(wgs84_to_gcj02(*p)) for p in ring]
    if close:
        ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def count(db):
    return db.sql("SELECT count(*) AS n, coalesce(max(id), 0) AS last,"
                  " (SELECT count(*) FROM audit WHERE kind = 'write') AS audited FROM stations")[0]


class StationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        cls.db.sql("INSERT INTO users (username, password_hash, role, division_code) SELECT 'supervisor_hz',"
                   " password_hash, 'supervisor', '320706000000' FROM users WHERE username = 'dispatcher'")
        cls.a = harness.Server(cls.db)
        cls.b = harness.Server(cls.db)
        cls.tok = {u: cls.a.login(u) for u in ("admin", "supervisor_hz", "dispatcher", "dispatcher_gn", "patrol")}
        cls.town = cls.db.sql("SELECT code FROM divisions WHERE level = 'town' AND code LIKE '320706%%'"
                              " AND geom IS NOT NULL ORDER BY code LIMIT 1")[0]["code"]
        cls.town_pt = interior_point(cls.db, cls.town[:9], "town")
        cls.county_station = cls.db.value("SELECT id FROM stations WHERE tier = 'county'"
                                          " AND division_code = '320706000000'")

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()
        cls.db.drop()

    def post(self, body, who="supervisor_hz", query=""):
        return self.a.request("POST", "/api/v1/stations" + query, json_body=body, token=self.tok[who])

    def body(self, code, **over):
        b = {"code": code, "name": "测试救助点 " + code, "division_code": self.town,
             "location": {"lon": self.town_pt[0], "lat": self.town_pt[1]}}
        b.update(over)
        return b

    def test_create_read_list_change(self):
        r = self.post(self.body("HZ-T1", address="新浦路 1 号", phone="0518-8000001", beds=12))
        self.assertEqual(r.status, 201, r)
        s = r.json()
        self.assertEqual((s["code"], s["tier"], s["division_code"], s["beds"], s["coverage"], s["parent_id"]),
                         ("HZ-T1", "town", self.town, 12, None, self.county_station))
        self.assertAlmostEqual(s["location"]["lon"], self.town_pt[0], places=6)
        g = self.a.request("GET", "/api/v1/stations/%d?crs=gcj02" % s["id"], token=self.tok["dispatcher"]).json()
        glon, glat = wgs84_to_gcj02(*self.town_pt)
        self.assertEqual(g["location"]["crs"], "gcj02")
        self.assertAlmostEqual(g["location"]["lon"], glon, places=6)
        self.assertAlmostEqual(g["location"]["lat"], glat, places=6)
        listed = self.a.request("GET", "/api/v1/stations?tier=town&division=%s&limit=500" % self.town[:9],
                                token=self.tok["dispatcher"]).json()["items"]
        self.assertIn(s["id"], [i["id"] for i in listed])
        self.assertEqual({i["tier"] for i in listed}, {"town"})
        gn = self.a.request("GET", "/api/v1/stations?limit=500", token=self.tok["dispatcher_gn"]).json()["items"]
        self.assertNotIn(s["id"], [i["id"] for i in gn])
        # its own coverage, sent in GCJ-02 and read back in GCJ-02; then back to its division
        cov = square(self.town_pt[0], self.town_pt[1], 0.01, crs="gcj02")
        r = self.a.request("PATCH", "/api/v1/stations/%d?crs=gcj02" % s["id"], json_body={"coverage": cov},
                           token=self.tok["supervisor_hz"])
        self.assertEqual(r.status, 200, r)
        back = r.json()["coverage"]
        self.assertEqual(back["type"], "MultiPolygon")
        got = sorted(map(tuple, back["coordinates"][0][0]))
        want = sorted(map(tuple, cov["coordinates"][0]))
        for p, q in zip(got, want):
            self.assertAlmostEqual(p[0], q[0], places=6)
            self.assertAlmostEqual(p[1], q[1], places=6)
        self.assertTrue(self.db.value("SELECT coverage_own FROM stations WHERE id = %s", s["id"]))
        page = "/api/v1/stations?tier=town&division=%s&limit=500" % self.town[:9]
        mine = [i for i in self.a.request("GET", page, token=self.tok["dispatcher"]).json()["items"]
                if i["id"] == s["id"]][0]
        self.assertEqual((mine["coverage"], mine["coverage_own"]), (None, True))  # lists stay small...
        mine = [i for i in self.a.request("GET", page + "&geometry=geojson", token=self.tok["dispatcher"]).json()[
            "items"] if i["id"] == s["id"]][0]
        self.assertEqual(mine["coverage"]["type"], "MultiPolygon")  # ...unless asked
        r = self.a.request("PATCH", "/api/v1/stations/%d" % s["id"], json_body={"coverage": None, "name": "新名"},
                           token=self.tok["supervisor_hz"])
        self.assertEqual((r.status, r.json()["coverage"], r.json()["name"]), (200, None, "新名"), r)
        self.assertTrue(self.db.value("SELECT ST_Equals(s.coverage, d.geom) FROM stations s JOIN divisions d"
                                      " ON d.code = s.division_code WHERE s.id = %s", s["id"]))
        r = self.post(self.body("HZ-T2", tier="county"))
        self.assertEqual((r.status, r.error, r.json()["error"]["field"]), (400, "invalid_field", "tier"), r)

    def test_station_outside_its_division_is_400(self):
        before = count(self.db)
        gn = interior_point(self.db, "320724", "town")
        r = self.post(self.body("HZ-OUT", location={"lon": gn[0], "lat": gn[1]}))
        self.assertEqual((r.status, r.error, r.json()["error"]["field"]), (400, "outside_division", "location"), r)
        r = self.a.request("PATCH", "/api/v1/stations/%d" % self.county_station, token=self.tok["supervisor_hz"],
                           json_body={"location": {"lon": gn[0], "lat": gn[1]}})
        self.assertEqual((r.status, r.error), (400, "outside_division"), r)
        self.assertEqual(count(self.db), before)

    def test_coverage_that_does_not_close_is_400(self):
        before = count(self.db)
        open_ring = square(self.town_pt[0], self.town_pt[1], 0.01, close=False)
        r = self.post(self.body("HZ-OPEN", coverage=open_ring))
        self.assertEqual((r.status, r.error, r.json()["error"]["field"]), (400, "invalid_geometry", "coverage"), r)
        self.assertIn("does not close", r.json()["error"]["message"])
        short = {"type": "Polygon", "coordinates": [[[119.1, 34.5], [119.2, 34.5], [119.1, 34.5]]]}
        for bad in (short, {"type": "Point", "coordinates": [119.1, 34.5]}, {"type": "Polygon", "coordinates": []},
                    {"type": "Polygon", "coordinates": [[["a", "b"]]]}, "POLYGON((0 0,1 0,1 1,0 0))"):
            r = self.post(self.body("HZ-BAD", coverage=bad))
            self.assertEqual(r.status, 400, (bad, r))
            self.assertTrue(r.json()["error"]["field"].startswith("coverage"), (bad, r))
        r = self.a.request("PATCH", "/api/v1/stations/%d" % self.county_station, token=self.tok["supervisor_hz"],
                           json_body={"coverage": open_ring})
        self.assertEqual((r.status, r.error), (400, "invalid_geometry"), r)
        self.assertEqual(count(self.db), before)

    def test_self_crossing_coverage_is_repaired(self):
        lon, lat = self.town_pt
        bowtie = {"type": "Polygon", "coordinates": [[[lon - .01, lat - .01], [lon + .01, lat + .01],
                                                      [lon + .01, lat - .01], [lon - .01, lat + .01],
                                                      [lon - .01, lat - .01]]]}
        r = self.post(self.body("HZ-BOW", coverage=bowtie))
        self.assertEqual(r.status, 201, r)
        row = self.db.sql("SELECT ST_IsValid(coverage) AS ok, ST_NumGeometries(coverage) AS n,"
                          " ST_Area(coverage::geography) AS m2 FROM stations WHERE code = 'HZ-BOW'")[0]
        self.assertEqual((row["ok"], row["n"]), (True, 2))
        self.assertGreater(row["m2"], 1e6)

    def test_codes_roles_and_scope(self):
        self.assertEqual(self.post(self.body("HZ-DUP")).status, 201)
        before = count(self.db)
        r = self.post(self.body("HZ-DUP"))
        self.assertEqual((r.status, r.error, r.json()["error"]["field"]), (409, "station_code_taken", "code"), r)
        for bad in ("", "a b", "-x", "x" * 41, "站点"):
            self.assertEqual(self.post(self.body(bad)).status, 400, bad)
        gn = self.db.value("SELECT id FROM stations WHERE tier = 'county' AND division_code = '320724000000'")
        gn_town = self.db.value("SELECT code FROM divisions WHERE level = 'town' AND code LIKE '320724%%'"
                                " ORDER BY code LIMIT 1")
        pt = interior_point(self.db, gn_town[:9], "town")
        r = self.post(self.body("GN-X", division_code=gn_town, location={"lon": pt[0], "lat": pt[1]}))
        self.assertEqual((r.status, r.json()["error"]["field"]), (404, "division_code"), r)
        r = self.post(self.body("HZ-P", parent_id=gn))
        self.assertEqual((r.status, r.json()["error"]["field"]), (404, "parent_id"), r)
        r = self.a.request("PATCH", "/api/v1/stations/%d" % gn, json_body={"phone": "1"},
                           token=self.tok["supervisor_hz"])
        self.assertEqual(r.status, 404)
        self.assertEqual(self.a.request("GET", "/api/v1/stations/%d" % gn, token=self.tok["dispatcher"]).status, 404)
        self.assertEqual(self.post(self.body("HZ-Q"), who="dispatcher").status, 403)
        self.assertEqual(self.post(self.body("HZ-Q"), who="patrol").status, 403)
        self.assertEqual(count(self.db), before)
        # an admin may name any parent of a higher tier, not a lower one
        r = self.post(self.body("HZ-Q", parent_id=gn), who="admin")
        self.assertEqual((r.status, r.json()["parent_id"]), (201, gn), r)
        town_station = self.db.value("SELECT id FROM stations WHERE tier = 'town' ORDER BY id LIMIT 1")
        r = self.a.request("PATCH", "/api/v1/stations/%d" % self.county_station, token=self.tok["admin"],
                           json_body={"parent_id": town_station})
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "parent_id"), r)

    def test_hostile_bodies(self):
        """A coverage of 20,000 vertices is read and stored; a body over the route's 1 MiB is a 413 and one
        nested deeper than json_max_depth a 400, both before anything is parsed; nothing of them stored."""
        import math
        lon, lat = self.town_pt
        n = 20000
        ring = [[round(lon + 0.01 * math.cos(2 * math.pi * k / n), 7), round(lat + 0.01 * math.sin(2 * math.pi * k / n), 7)]
                for k in range(n)]
        ring.append(ring[0])
        t0 = time.time()
        r = self.post(self.body("HZ-BIG", coverage={"type": "Polygon", "coordinates": [ring]}))
        self.assertEqual(r.status, 201, r)
        print("\nmeasured: a coverage of %d vertices stored in %.2f s" % (n, time.time() - t0))
        self.assertEqual(self.db.value("SELECT ST_NPoints(coverage) FROM stations WHERE code = 'HZ-BIG'"), n + 1)
        before = count(self.db)
        huge = self.body("HZ-HUGE", coverage={"type": "Polygon", "coordinates": [ring * 3]})
        r = self.post(huge)
        self.assertEqual(r.status, 413, r)
        deep = '{"code": "HZ-DEEP", "coverage": ' + "[" * 5000 + "]" * 5000 + "}"
        r = self.a.request("POST", "/api/v1/stations", body=deep, headers={"Content-Type": "application/json"},
                           token=self.tok["supervisor_hz"])
        self.assertEqual(r.status, 400, r)
        self.assertEqual(count(self.db), before)

    def test_station_created_on_one_instance_routes_reports_on_the_other(self):
        code, lon, lat = community_without_station(self.db, "320706")
        first = self.b.create_report(new_body(lon, lat), self.tok["dispatcher"])
        self.assertNotEqual(first["responsible_station"]["name"], "社区救助点")
        r = self.post({"code": "HZ-C1", "name": "社区救助点", "division_code": code,
                       "location": {"lon": lon, "lat": lat}})
        self.assertEqual(r.status, 201, r)
        sid, deadline, got = r.json()["id"], time.time() + 20, None
        while time.time() < deadline:
            got = self.b.create_report(new_body(lon, lat), self.tok["dispatcher"])["responsible_station"]
            if got and got["id"] == sid:
                break
            time.sleep(0.2)
        self.assertEqual((got["id"], got["tier"]), (sid, "community"), got)
        # and a change moves routing too: it may no longer dispatch
        r = self.a.request("PATCH", "/api/v1/stations/%d" % sid, json_body={"can_dispatch": False},
                           token=self.tok["supervisor_hz"])
        self.assertEqual(r.status, 200, r)
        deadline = time.time() + 20
        while time.time() < deadline:
            got = self.b.create_report(new_body(lon, lat), self.tok["dispatcher"])["responsible_station"]
            if got["id"] != sid:
                break
            time.sleep(0.2)
        self.assertNotEqual(got["id"], sid)


_written = []


def write(text, suffix):
    f = tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8")
    f.write(text)
    f.close()
    _written.append(f.name)
    return f.name


class ImportStationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        towns = cls.db.sql("SELECT code FROM divisions WHERE level = 'town' AND code LIKE '320722%%'"
                           " AND geom IS NOT NULL ORDER BY code LIMIT 2")
        cls.towns = [(t["code"], interior_point(cls.db, t["code"][:9], "town")) for t in towns]

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()
        for path in _written:
            os.unlink(path)

    def run_import(self, path, crs="gcj02"):
        return harness.run_patrold(["import-stations", path, "--crs", crs], self.db)

    def csv(self, phone="0518-1", third=""):
        lines = ["code,name,division_code,lon,lat,address,phone,beds,can_dispatch,parent_code"]
        for k, (code, (lon, lat)) in enumerate(self.towns):
            glon, glat = wgs84_to_gcj02(lon, lat)
            lines.append('DH-%d,"东海, 第%d 救助点",%s,%.9f,%.9f,"路 ""%d"" 号",%s,%d,true,S%d'
                         % (k, k, code, glon, glat, k, phone if k == 0 else "0518-2", 10 + k,
                            self.db.value("SELECT id FROM stations WHERE tier = 'county'"
                                          " AND division_code = '320722000000'")))
        return "\n".join(lines + ([third] if third else [])) + "\n"

    def test_import_stations_new_changed_unchanged(self):
        path = write(self.csv(), ".csv")
        r = self.run_import(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 new, 0 changed, 0 unchanged", r.stdout)
        rows = self.db.sql("SELECT code, name, address, beds, tier, division_code, ST_X(location) AS lon,"
                           " ST_Y(location) AS lat, parent_id FROM stations WHERE code LIKE 'DH-%%' ORDER BY code")
        self.assertEqual([(x["code"], x["name"], x["address"], x["beds"], x["tier"]) for x in rows],
                         [("DH-0", "东海, 第0 救助点", '路 "0" 号', 10, "town"),
                          ("DH-1", "东海, 第1 救助点", '路 "1" 号', 11, "town")])
        for x, (code, (lon, lat)) in zip(rows, self.towns):
            self.assertEqual(x["division_code"], code)
            self.assertAlmostEqual(x["lon"], lon, places=7)  # GCJ-02 in, WGS-84 stored
            self.assertAlmostEqual(x["lat"], lat, places=7)
        audited = "SELECT count(*) FROM audit WHERE username = 'import-stations' AND after->>'code' LIKE 'DH-%%'"
        self.assertEqual(self.db.value(audited), 2)
        r = self.run_import(path)
        self.assertIn("0 new, 0 changed, 2 unchanged", r.stdout, r.stderr)
        self.assertEqual(self.db.value(audited), 2)
        r = self.run_import(write(self.csv(phone="0518-9"), ".csv"))
        self.assertIn("0 new, 1 changed, 1 unchanged", r.stdout, r.stderr)
        w = self.db.sql("SELECT action, before->>'phone' AS b, after->>'phone' AS a FROM audit"
                        " WHERE username = 'import-stations' ORDER BY id DESC LIMIT 1")[0]
        self.assertEqual((w["action"], w["b"], w["a"]), ("station.update", "0518-1", "0518-9"))

    def test_import_bad_row_stores_nothing(self):
        before = count(self.db)
        gn = interior_point(self.db, "320724", "town")
        bad = "DH-9,越界,%s,%.9f,%.9f,,,,true," % (self.towns[0][0], *wgs84_to_gcj02(*gn))
        text = self.csv().replace("DH-", "DX-") + bad + "\n,无编号,%s,119.0,34.0,,,,,\n" % self.towns[0][0]
        r = self.run_import(write(text, ".csv"))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("row 3 (line 4): location: the location lies outside", r.stderr)
        self.assertIn("row 4 (line 5): code: code is required", r.stderr)
        self.assertIn("nothing imported", r.stderr)
        self.assertEqual(count(self.db), before)
        self.assertEqual(self.db.value("SELECT count(*) FROM stations WHERE code LIKE 'DX-%%'"), 0)
        for text, why in (("code,name\nA,\"x\n", "a quote is not closed"),
                          ("code,name,division_code,lon,lat\nA,x,320722,1\n", "not as many fields"),
                          ("code,name,division_code,lon,lat\nA,x,3207220,119,34\n", "division_code")):
            r = self.run_import(write(text, ".csv"))
            self.assertEqual(r.returncode, 1)
            self.assertIn(why, r.stderr)
        self.assertEqual(count(self.db), before)

    def test_import_geojson_with_coverage(self):
        (code, (lon, lat)) = self.towns[1]
        fc = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
             "properties": {"code": "GJ-1", "name": "自带范围", "division_code": code, "beds": 3,
                            "coverage": square(lon, lat, 0.02)}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
             "properties": {"code": "GJ-2", "name": "行政区范围", "division_code": code, "can_dispatch": False}}]}
        r = self.run_import(write(json.dumps(fc), ".geojson"), crs="wgs84")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 new", r.stdout)
        rows = {x["code"]: x for x in self.db.sql(
            "SELECT code, coverage_own, can_dispatch, round(ST_Area(coverage::geography)) AS m2 FROM stations"
            " WHERE code LIKE 'GJ-%%'")}
        self.assertEqual((rows["GJ-1"]["coverage_own"], rows["GJ-2"]["coverage_own"], rows["GJ-2"]["can_dispatch"]),
                         (True, False, False))
        fc["features"][0]["properties"]["coverage"] = square(lon, lat, 0.02, close=False)
        r = self.run_import(write(json.dumps(fc), ".geojson"), crs="wgs84")
        self.assertEqual(r.returncode, 1)
        self.assertIn("row 1: coverage: coverage: a ring does not close", r.stderr)


if __name__ == "__main__":
    unittest.main()
