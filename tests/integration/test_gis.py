"""The in-memory index against PostGIS as the oracle, the reverse endpoint, and index reloads."""
import random
import subprocess
import time
import unittest

import harness

N_RANDOM = 100_000


def locate(db, lines, crs=None):
    args = [harness.BIN, "locate"] + (["--crs", crs] if crs else [])
    r = subprocess.run(args, input="".join(lines), env=harness.patrold_env(db), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return parse_locate(r.stdout)


LOCATE_HEADER = "line city county town community snapped_m outside zones station"


def parse_locate(stdout):
    """The answers of `patrold locate`, after its header line, in input order."""
    lines = stdout.splitlines()
    assert lines and lines[0] == LOCATE_HEADER, lines[:1]
    out = []
    for line in lines[1:]:
        f = line.split()
        out.append({"line": int(f[0]), "tiers": f[1:5], "snapped": float(f[5]), "outside": f[6] == "1",
                    "zones": [] if f[7] == "-" else f[7].split(","), "station": int(f[8])})
    return out


def load_points(db, pts):
    """Creates table pts(i, g) holding the WGS-84 points."""
    db.sql("DROP TABLE IF EXISTS pts")
    db.sql("CREATE TABLE pts (i int PRIMARY KEY, g geometry(Point, 4326))")
    data = "".join("%d\tSRID=4326;POINT(%.9f %.9f)\n" % (i, x, y) for i, (x, y) in enumerate(pts))
    r = subprocess.run(["psql", "-h", harness._pghost(), "-U", "postgres", "-d", db.name, "-X", "-q",
                        "-c", "COPY pts FROM STDIN"], input=data, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    db.sql("CREATE INDEX ON pts USING gist (g)")
    db.sql("ANALYZE pts")


def oracle_tiers(db):
    """{point index: {level: sorted codes covering it}} from PostGIS ST_Covers."""
    rows = db.sql("SELECT p.i, d.level, array_agg(d.code::text ORDER BY d.code) AS codes FROM pts p"
                  " JOIN divisions d ON d.kind = 'admin' AND d.level IN ('city','county','town','community')"
                  " AND ST_Covers(d.geom, p.g) GROUP BY p.i, d.level")
    out = {}
    for r in rows:
        out.setdefault(r["i"], {})[r["level"]] = r["codes"]
    return out


LEVELS = ["city", "county", "town", "community"]


class LocateCommand(harness.FreshDbCase):
    """`patrold locate` as an operator runs it: labelled columns, bad lines on stderr, exit 1."""

    def run_locate(self, text):
        return subprocess.run([harness.BIN, "locate"], input=text, env=harness.patrold_env(self.db),
                              capture_output=True, text=True, timeout=300)

    def test_header_and_good_lines_exit_0(self):
        r = self.run_locate("119.22 34.60\n119.17 34.58\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = parse_locate(r.stdout)
        self.assertEqual([x["line"] for x in rows], [1, 2])
        self.assertTrue(all(x["tiers"][0] == "320700000000" for x in rows), rows)

    def test_bad_lines_go_to_stderr_with_number_and_exit_1(self):
        r = self.run_locate("119.22 34.60\nnot a point\n999 34\n119.22 34.60 junk\nnan 1\n119.17 34.58\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        rows = parse_locate(r.stdout)  # the good ones are still answered, in order
        self.assertEqual([x["line"] for x in rows], [1, 6])
        for n in (2, 3, 4, 5):
            self.assertIn("line %d:" % n, r.stderr)
        self.assertNotIn("line 1:", r.stderr)
        self.assertNotIn("error", r.stdout)


class Oracle(harness.FreshDbCase):
    def compare(self, pts):
        ours = locate(self.db, ["%.9f %.9f\n" % p for p in pts])
        self.assertEqual(len(ours), len(pts))
        load_points(self.db, pts)
        oracle = oracle_tiers(self.db)
        boundary = mismatches = snapped = 0
        for i, got in enumerate(ours):
            want = oracle.get(i, {})
            for t, level in enumerate(LEVELS):
                codes = want.get(level, [])
                if len(codes) > 1:
                    boundary += 1
                if codes:
                    # exactly one owner; on a shared boundary the smallest code wins
                    if got["tiers"][t] != codes[0]:
                        mismatches += 1
                elif got["tiers"][t] != "-":
                    self.assertGreaterEqual(got["snapped"], 0, (i, level, got))
                    snapped += 1
        return ours, oracle, boundary, mismatches, snapped

    def test_random_points_match_postgis(self):
        ext = self.db.sql("SELECT ST_XMin(e) x0, ST_YMin(e) y0, ST_XMax(e) x1, ST_YMax(e) y1"
                          " FROM (SELECT ST_Extent(geom) e FROM divisions WHERE code = '320700000000') s")[0]
        rnd = random.Random(20261128)
        pts = [(rnd.uniform(ext["x0"], ext["x1"]), rnd.uniform(ext["y0"], ext["y1"])) for _ in range(N_RANDOM)]
        ours, oracle, boundary, mismatches, snapped = self.compare(pts)
        inside = sum(1 for i in range(len(pts)) if "city" in oracle.get(i, {}))
        print("\n  oracle: %d random points, %d inside the city, %d on shared boundaries, %d snapped, "
              "%d mismatches" % (len(pts), inside, boundary, snapped, mismatches))
        self.assertGreater(inside, N_RANDOM // 4)
        self.assertEqual(mismatches, 0)

    def test_shared_vertices_have_one_owner(self):
        rows = self.db.sql("SELECT ST_X(dp.geom) x, ST_Y(dp.geom) y FROM (SELECT geom FROM divisions"
                           " WHERE level = 'town' AND kind = 'admin' ORDER BY code LIMIT 20) t,"
                           " ST_DumpPoints(t.geom) dp LIMIT 2000")
        pts = [(r["x"], r["y"]) for r in rows]
        ours, oracle, boundary, mismatches, _ = self.compare(pts)
        print("\n  vertices: %d town vertices, %d tier answers on shared boundaries" % (len(pts), boundary))
        self.assertGreater(boundary, 20)
        self.assertEqual(mismatches, 0)

    def test_station_routing_matches_sql(self):
        rnd = random.Random(7)
        ext = (119.0, 34.2, 119.7, 34.9)
        pts = [(rnd.uniform(ext[0], ext[2]), rnd.uniform(ext[1], ext[3])) for _ in range(3000)]
        ours = locate(self.db, ["%.9f %.9f\n" % p for p in pts])
        load_points(self.db, pts)
        rows = self.db.sql(
            "SELECT p.i, coalesce((SELECT s.id FROM stations s WHERE s.can_dispatch AND ST_Covers(s.coverage, p.g)"
            " ORDER BY array_position(ARRAY['community','town','county','city'], s.tier),"
            " ST_Distance(s.location::geography, p.g::geography), s.id LIMIT 1),"
            " (SELECT id FROM stations WHERE tier = 'city' ORDER BY id LIMIT 1)) AS sid,"
            " (SELECT count(*) FROM stations s WHERE ST_Covers(s.coverage, p.g) AND ST_Touches(s.coverage, p.g)) AS edge"
            " FROM pts p ORDER BY p.i")
        wrong = [(r["i"], r["sid"], ours[r["i"]]["station"]) for r in rows
                 if r["edge"] == 0 and r["sid"] != ours[r["i"]]["station"]]
        self.assertEqual(wrong, [])
        # town stations that cannot dispatch are passed over
        blocked = self.db.value("SELECT count(*) FROM stations WHERE tier = 'town' AND NOT can_dispatch")
        self.assertGreater(blocked, 0)
        blocked_ids = {r["id"] for r in self.db.sql("SELECT id FROM stations WHERE NOT can_dispatch")}
        self.assertFalse(blocked_ids & {o["station"] for o in ours})

    def test_zone_reported_in_addition(self):
        p = self.db.sql("SELECT ST_X(g) x, ST_Y(g) y FROM (SELECT ST_PointOnSurface(geom) g FROM divisions"
                        " WHERE code = '320771000000') s")[0]
        got = locate(self.db, ["%.9f %.9f\n" % (p["x"], p["y"])])[0]
        self.assertEqual(got["zones"], ["320771000000"])
        county = self.db.value("SELECT code::text FROM divisions WHERE level = 'county' AND kind = 'admin'"
                               " AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))", p["x"], p["y"])
        self.assertEqual(got["tiers"][1], county)  # the real county, not the zone


class Reverse(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a point well inside 海州区: the point on surface of its first town
        cls.p = cls.db.sql("SELECT ST_X(g) x, ST_Y(g) y FROM (SELECT ST_PointOnSurface(geom) g FROM divisions"
                           " WHERE level = 'community' AND code LIKE '320706%%' ORDER BY code LIMIT 1) s")[0]

    def get(self, **q):
        return self.srv.request("GET", "/api/v1/places/reverse?" + "&".join("%s=%s" % kv for kv in q.items()))

    def test_four_tiers_and_station(self):
        r = self.get(lon=self.p["x"], lat=self.p["y"])
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual([d["level"] for d in body["divisions"]], LEVELS)
        self.assertEqual(body["divisions"][0]["code"], "320700000000")
        self.assertEqual(body["divisions"][1]["code"], "320706000000")
        self.assertTrue(body["divisions"][3]["code"].startswith("320706"))
        self.assertFalse(body["outside"])
        self.assertIsNone(body["snapped_m"])
        st = body["responsible_station"]
        self.assertIn(st["tier"], ("town", "county"))
        self.assertEqual(st["chain"][-1]["tier"], "city")
        self.assertTrue(body["nearby"])
        self.assertLessEqual(body["nearby"][0]["distance_m"], body["nearby"][-1]["distance_m"])

    def test_crs_in_and_out(self):
        """Input in GCJ-02 is converted to WGS-84 and the answer's coordinates come back in GCJ-02."""
        r = self.get(lon=self.p["x"], lat=self.p["y"], crs="gcj02").json()
        self.assertEqual(r["location"]["crs"], "gcj02")
        self.assertAlmostEqual(r["location"]["lon"], self.p["x"], places=6)  # round trip, iterative inverse
        self.assertAlmostEqual(r["location"]["lat"], self.p["y"], places=6)
        w = self.get(lon=self.p["x"], lat=self.p["y"]).json()
        self.assertNotEqual(r["nearby"][0]["distance_m"], w["nearby"][0]["distance_m"])  # ~500 m apart

    def test_outside_is_an_answer(self):
        r = self.get(lon=116.4, lat=39.9)  # Beijing
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertTrue(body["outside"])
        self.assertEqual(body["divisions"], [])
        self.assertEqual(body["responsible_station"]["tier"], "city")

    def test_bad_input(self):
        for q, field, code in [({"lon": "x", "lat": 34}, "lon", "invalid_location"),
                               ({"lon": "nan", "lat": 34}, "lon", "invalid_location"),
                               ({"lon": 119, "lat": 91}, "lat", "invalid_location"),
                               ({"lon": 181, "lat": 34}, "lon", "invalid_location"),
                               ({"lat": 34}, "lon", "missing_field"),
                               ({"lon": 119, "lat": 34, "crs": "epsg3857"}, "crs", "invalid_crs")]:
            r = self.get(**q)
            self.assertEqual((r.status, r.error, r.json()["error"]["field"]), (400, code, field), q)

    def test_reload_on_change(self):
        """Changing stations in the database reaches the running server's index through NOTIFY."""
        before = self.get(lon=self.p["x"], lat=self.p["y"]).json()["responsible_station"]
        self.db.sql("INSERT INTO stations (name, tier, division_code, location, coverage, can_dispatch, parent_id)"
                    " SELECT '测试社区站', 'community', code, ST_PointOnSurface(geom), geom, true, %s FROM divisions"
                    " WHERE level = 'community' AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
                    before["id"], self.p["x"], self.p["y"])
        deadline = time.time() + 10
        while time.time() < deadline:
            now = self.get(lon=self.p["x"], lat=self.p["y"]).json()["responsible_station"]
            if now["name"] == "测试社区站":
                break
            time.sleep(0.1)
        self.assertEqual(now["name"], "测试社区站")
        self.assertEqual(now["tier"], "community")
        self.assertEqual(now["chain"][0]["id"], before["id"])
        self.db.sql("DELETE FROM stations WHERE name = '测试社区站'")


if __name__ == "__main__":
    unittest.main()
