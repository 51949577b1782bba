"""test_seed.py - `patrold seed`: the Lianyungang demo data (counts, tiling of the synthetic
boundaries, stations, units, agencies, users, API key), loaded once, deterministic, all or nothing."""
import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import tempfile
import time
import unittest

import harness

SEED_DIR = os.path.join(harness.ROOT, "migrations", "seed")
CITY, ZONE = "320700000000", "320771000000"
REL = 1e-6  # relative area tolerance for "covers exactly"


class SeededTest(unittest.TestCase):
    """Read-only checks on one database cloned from the seeded template."""

    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db(seeded=True)

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()

    def test_division_counts(self):
        rows = self.db.sql("SELECT level, kind, synthetic, count(*) AS n, count(geom) AS with_geom"
                           " FROM divisions GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        self.assertEqual(rows, [
            {"level": "city", "kind": "admin", "synthetic": False, "n": 1, "with_geom": 1},
            {"level": "community", "kind": "admin", "synthetic": True, "n": 1782, "with_geom": 1782},
            {"level": "county", "kind": "admin", "synthetic": False, "n": 6, "with_geom": 6},
            {"level": "county", "kind": "zone", "synthetic": True, "n": 1, "with_geom": 1},
            {"level": "town", "kind": "admin", "synthetic": True, "n": 109, "with_geom": 109},
        ])
        self.assertEqual(self.db.value("SELECT name FROM divisions WHERE code = %s", ZONE), "连云港经济技术开发区")

    def test_every_geometry_valid_multipolygon(self):
        bad = self.db.sql("SELECT code FROM divisions WHERE geom IS NULL OR NOT ST_IsValid(geom) OR ST_IsEmpty(geom)"
                          " OR GeometryType(geom) <> 'MULTIPOLYGON' OR ST_SRID(geom) <> 4326 OR ST_Area(geom) <= 0")
        self.assertEqual(bad, [])

    def test_city_is_union_of_counties_and_zone_inside(self):
        row = self.db.sql(
            "SELECT abs(ST_Area(c.geom) - ST_Area(u.g)) / ST_Area(c.geom) AS rel,"
            " ST_CoveredBy(z.geom, ST_Buffer(c.geom, 1e-7)) AS zone_inside,"
            " ST_XMin(z.geom) AS x0, ST_XMax(z.geom) AS x1, ST_YMin(z.geom) AS y0, ST_YMax(z.geom) AS y1,"
            " (SELECT array_agg(code ORDER BY code) FROM divisions k WHERE k.level = 'county' AND k.kind = 'admin'"
            "   AND ST_Area(ST_Intersection(k.geom, z.geom)) > 1e-4) AS across"
            " FROM divisions c, divisions z,"
            " (SELECT ST_Union(geom) AS g FROM divisions WHERE level = 'county' AND kind = 'admin') u"
            " WHERE c.code = %s AND z.code = %s", CITY, ZONE)[0]
        self.assertLess(row["rel"], REL)
        self.assertTrue(row["zone_inside"])
        self.assertGreaterEqual(row["x0"], 119.25 - 1e-9)
        self.assertLessEqual(row["x1"], 119.40 + 1e-9)
        self.assertGreaterEqual(row["y0"], 34.62 - 1e-9)
        self.assertLessEqual(row["y1"], 34.72 + 1e-9)
        self.assertEqual(row["across"], ["320703000000", "320706000000"])  # 连云区 and 海州区

    def test_counties_are_real_gcj02_converted(self):
        # The file is GCJ-02; each stored WGS-84 outline lies a few hundred metres from the file's.
        with open(os.path.join(SEED_DIR, "lianyungang-counties.geojson"), encoding="utf-8") as f:
            feats = json.load(f)["features"]
        self.assertEqual(len(feats), 6)
        for feat in feats:
            d = self.db.value(
                "SELECT ST_Distance(ST_Centroid(geom)::geography,"
                " ST_Centroid(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326))::geography)"
                " FROM divisions WHERE code = %s", json.dumps(feat["geometry"]), feat["properties"]["code"])
            self.assertTrue(300 < d < 800, "%s moved %s m" % (feat["properties"]["name"], d))

    def assert_tiles(self, parent_sql, child_level, what):
        """Children of each parent (parent_sql yields code, geom) never overlap and cover it."""
        rows = self.db.sql(
            "WITH p AS (%s)"
            " SELECT p.code, count(c.code) AS n,"
            "  abs(ST_Area(ST_Union(c.geom)) - ST_Area(p.geom)) / ST_Area(p.geom) AS rel_union,"
            "  abs(ST_Area(ST_SymDifference(ST_Union(c.geom), p.geom))) / ST_Area(p.geom) AS rel_symdiff,"
            "  abs(sum(ST_Area(c.geom)) - ST_Area(p.geom)) / ST_Area(p.geom) AS rel_sum"
            " FROM p JOIN divisions c ON c.parent_code = p.code AND c.level = '%s'"
            " GROUP BY p.code, p.geom" % (parent_sql, child_level))
        self.assertTrue(rows)
        for r in rows:
            for k in ("rel_union", "rel_symdiff", "rel_sum"):
                self.assertLess(r[k], REL, "%s %s: %s" % (what, r["code"], r))
        overlaps = self.db.sql(
            "SELECT a.code AS a, b.code AS b FROM divisions a JOIN divisions b"
            " ON a.parent_code = b.parent_code AND a.code < b.code AND a.geom && b.geom"
            " WHERE a.level = '%s' AND b.level = '%s'"
            " AND (ST_Overlaps(a.geom, b.geom) OR ST_Area(ST_Intersection(a.geom, b.geom)) > 1e-12)"
            % (child_level, child_level))
        self.assertEqual(overlaps, [], what)
        return rows

    def test_towns_tile_each_county(self):
        # A real county's own towns cover the county minus the zone; the zone's towns cover the zone.
        rows = self.assert_tiles(
            "SELECT c.code, CASE WHEN c.kind = 'zone' THEN c.geom ELSE ST_Difference(c.geom, z.geom) END AS geom"
            " FROM divisions c, divisions z WHERE c.level = 'county' AND z.code = '%s'" % ZONE, "town", "towns")
        self.assertEqual(sorted((r["code"], r["n"]) for r in rows), [
            ("320703000000", 13), ("320706000000", 25), ("320707000000", 18), ("320722000000", 21),
            ("320723000000", 17), ("320724000000", 11), ("320771000000", 4)])
        # All 109 towns tile the city, and never overlap across counties either.
        row = self.db.sql("SELECT abs(ST_Area(ST_Union(t.geom)) - ST_Area(c.geom)) / ST_Area(c.geom) AS rel,"
                          " abs(sum(ST_Area(t.geom)) - ST_Area(c.geom)) / ST_Area(c.geom) AS rel_sum"
                          " FROM divisions t, divisions c WHERE t.level = 'town' AND c.code = %s"
                          " GROUP BY c.geom", CITY)[0]
        self.assertLess(row["rel"], REL)
        self.assertLess(row["rel_sum"], REL)

    def test_communities_tile_each_town(self):
        rows = self.assert_tiles("SELECT code, geom FROM divisions WHERE level = 'town'", "community", "communities")
        self.assertEqual(len(rows), 109)
        self.assertEqual(sum(r["n"] for r in rows), 1782)

    def test_stations(self):
        tiers = self.db.sql("SELECT tier, count(*) AS n, count(*) FILTER (WHERE NOT can_dispatch) AS off,"
                            " count(parent_id) AS with_parent FROM stations GROUP BY tier ORDER BY tier")
        self.assertEqual(tiers, [
            {"tier": "city", "n": 1, "off": 0, "with_parent": 0},
            {"tier": "county", "n": 7, "off": 0, "with_parent": 7},
            {"tier": "town", "n": 109, "off": 15, "with_parent": 109},
        ])
        self.assertEqual(self.db.value("SELECT name FROM stations WHERE tier = 'city'"), "连云港市救助管理站")
        # Coverage is the division's polygon, the location lies in it, parents follow the divisions.
        bad = self.db.sql(
            "SELECT s.name FROM stations s JOIN divisions d ON d.code = s.division_code"
            " LEFT JOIN stations p ON p.id = s.parent_id"
            " WHERE NOT ST_Equals(s.coverage, d.geom) OR NOT ST_Intersects(s.location, s.coverage)"
            " OR (s.tier = 'town' AND (p.tier <> 'county' OR p.division_code <> d.parent_code))"
            " OR (s.tier = 'county' AND p.tier <> 'city')")
        self.assertEqual(bad, [])
        # Every 7th town station by code cannot dispatch.
        off = self.db.sql("SELECT n FROM (SELECT row_number() OVER (ORDER BY division_code) AS n, can_dispatch"
                          " FROM stations WHERE tier = 'town') t WHERE NOT can_dispatch")
        self.assertEqual([r["n"] for r in off], list(range(7, 110, 7)))
        zone_towns = self.db.value("SELECT count(*) FROM stations s JOIN stations p ON p.id = s.parent_id"
                                   " WHERE p.division_code = %s", ZONE)
        self.assertEqual(zone_towns, 4)

    def test_units(self):
        rows = self.db.sql(
            "SELECT u.name, u.callsign, u.status, s.tier, s.division_code,"
            " ST_Intersects(u.position, s.coverage) AS inside, u.position_at IS NOT NULL AS at,"
            " (SELECT count(*) FROM unit_positions p WHERE p.unit_id = u.id AND ST_Equals(p.geom, u.position)) AS track"
            " FROM units u JOIN stations s ON s.id = u.station_id ORDER BY u.id")
        self.assertEqual(len(rows), 24)
        for r in rows:
            self.assertEqual((r["status"], r["tier"], r["inside"], r["at"], r["track"]),
                             ("available", "county", True, True, 1), r)
        self.assertIn("海州巡查1队", [r["name"] for r in rows])
        self.assertEqual(len({r["division_code"] for r in rows}), 7)  # every county station has units

    def test_agencies(self):
        """The joint patrol's agencies: civil affairs, police and urban management in every county and the
        zone, three more in 海州区; every unit walks with one of its county's, in a car."""
        kinds = self.db.sql("SELECT kind, count(*) AS n FROM agencies GROUP BY kind ORDER BY kind")
        self.assertEqual({k["kind"]: k["n"] for k in kinds},
                         {"civil_affairs": 7, "police": 7, "urban_management": 7, "health": 1,
                          "street_office": 1, "volunteer": 1})
        units = self.db.sql("SELECT u.callsign, a.kind, a.division_code = u.division_code AS same, u.vehicle"
                            " FROM units u JOIN agencies a ON a.id = u.agency_id ORDER BY u.id")
        self.assertEqual(len(units), 24)
        self.assertTrue(all(u["same"] and u["vehicle"].startswith("苏G·J") for u in units), units)
        by = {u["callsign"]: u["kind"] for u in units}
        self.assertEqual((by["HZ-01"], by["HZ-02"], by["HZ-03"]), ("civil_affairs", "police", "urban_management"))

    def test_users(self):
        rows = {r["username"]: r for r in self.db.sql(
            "SELECT u.username, u.role, u.division_code, u.password_hash, s.tier AS station_tier,"
            " s.division_code AS station_division, n.name AS unit, d.level AS division_level"
            " FROM users u JOIN divisions d ON d.code = u.division_code"
            " LEFT JOIN stations s ON s.id = u.station_id LEFT JOIN units n ON n.id = u.unit_id")}
        self.assertEqual(sorted(rows), ["admin", "community", "dispatcher", "dispatcher_gn", "patrol", "supervisor"])
        self.assertEqual((rows["admin"]["role"], rows["admin"]["division_code"]), ("admin", CITY))
        self.assertEqual((rows["supervisor"]["role"], rows["supervisor"]["division_code"]), ("supervisor", CITY))
        self.assertEqual((rows["dispatcher"]["role"], rows["dispatcher"]["station_tier"],
                          rows["dispatcher"]["station_division"]), ("dispatcher", "county", "320706000000"))
        self.assertEqual((rows["dispatcher_gn"]["station_tier"], rows["dispatcher_gn"]["station_division"]),
                         ("county", "320724000000"))
        self.assertEqual((rows["patrol"]["role"], rows["patrol"]["unit"]), ("patrol", "海州巡查1队"))
        self.assertEqual(rows["community"]["division_level"], "community")
        self.assertTrue(rows["community"]["division_code"].startswith("320706"))
        lib = ctypes.util.find_library("sodium")
        sodium = ctypes.CDLL(lib) if lib else None
        if sodium:
            sodium.crypto_pwhash_str_verify.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]
        for name, r in rows.items():
            self.assertTrue(r["password_hash"].startswith("$argon2id$"), name)
            if sodium:
                self.assertEqual(sodium.sodium_init() >= 0, True)
                ok = sodium.crypto_pwhash_str_verify(r["password_hash"].encode(), b"demo", 4)
                self.assertEqual(ok, 0, "password of %s is not demo" % name)
                bad = sodium.crypto_pwhash_str_verify(r["password_hash"].encode(), b"demx", 4)
                self.assertNotEqual(bad, 0)

    def test_api_key(self):
        rows = self.db.sql("SELECT name, encode(key_hash, 'hex') AS h, revoked_at FROM api_keys")
        self.assertEqual(rows, [{"name": "demo", "h": hashlib.sha256(b"demo").hexdigest(), "revoked_at": None}])


class SeedCommandTest(unittest.TestCase):
    """Runs `patrold seed` itself on databases that have only the migrations."""

    def setUp(self):
        self.dbs = []

    def tearDown(self):
        for db in self.dbs:
            db.drop()

    def bare(self):
        db = harness.fresh_db(seeded=False)
        self.dbs.append(db)
        return db

    def seed(self, db, env=None):
        t0 = time.time()
        r = harness.run_patrold(["seed"], db, env=env, timeout=300)
        return r, time.time() - t0

    def town_hashes(self, db):
        return db.sql("SELECT code, md5(ST_AsBinary(geom)) AS h FROM divisions WHERE level IN ('town', 'community')"
                      " OR kind = 'zone' ORDER BY code")

    def test_seed_fast_deterministic_and_once(self):
        db = self.bare()
        r, secs = self.seed(db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1899 divisions", r.stderr)
        self.assertLess(secs, 20.0, "seed took %.1f s" % secs)
        # Identical geometry to the template's seed, made by another process in another database.
        other = harness.fresh_db(seeded=True)
        self.dbs.append(other)
        mine = self.town_hashes(db)
        self.assertEqual(len(mine), 1892)
        self.assertEqual(mine, self.town_hashes(other))
        # A second seed is a no-op.
        before = db.sql("SELECT (SELECT count(*) FROM divisions) AS d, (SELECT count(*) FROM stations) AS s,"
                        " (SELECT count(*) FROM units) AS u, (SELECT count(*) FROM users) AS us,"
                        " (SELECT string_agg(password_hash, ',' ORDER BY id) FROM users) AS pw")
        r, _ = self.seed(db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("seed: demo data already loaded", r.stderr)
        self.assertEqual(before, db.sql("SELECT (SELECT count(*) FROM divisions) AS d,"
                                        " (SELECT count(*) FROM stations) AS s, (SELECT count(*) FROM units) AS u,"
                                        " (SELECT count(*) FROM users) AS us,"
                                        " (SELECT string_agg(password_hash, ',' ORDER BY id) FROM users) AS pw"))

    def test_failed_seed_leaves_nothing_and_can_rerun(self):
        db = self.bare()
        tmp = tempfile.mkdtemp(prefix="patrold-seed-")
        try:
            broken = os.path.join(tmp, "seed")
            shutil.copytree(SEED_DIR, broken)
            with open(os.path.join(broken, "30_api_keys.sql"), "a") as f:
                f.write("\nSELECT no_such_function();\n")
            r, _ = self.seed(db, env={"PATROLD_SEED_DIR": broken})
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("no_such_function", r.stderr)
            counts = db.sql("SELECT (SELECT count(*) FROM divisions) AS d, (SELECT count(*) FROM stations) AS s,"
                            " (SELECT count(*) FROM units) AS u, (SELECT count(*) FROM users) AS us,"
                            " (SELECT count(*) FROM api_keys) AS k")
            self.assertEqual(counts, [{"d": 0, "s": 0, "u": 0, "us": 0, "k": 0}])
            os.remove(os.path.join(broken, "lianyungang-counties.geojson"))
            r, _ = self.seed(db, env={"PATROLD_SEED_DIR": broken})
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(db.value("SELECT count(*) FROM divisions"), 0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        r, _ = self.seed(db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(db.value("SELECT count(*) FROM divisions"), 1899)


if __name__ == "__main__":
    unittest.main()
