"""test_importer.py - `patrold import-divisions` against a real PostGIS: the nationwide county file
(dirty real data), file-level failures that must import nothing, CRS conversion, upsert."""
import gzip
import json
import math
import os
import re
import shutil
import tempfile
import unittest

import harness
from refcoords import wgs84_to_gcj02

NATIONWIDE = os.path.join(harness.SHARED_DATA, "china-counties.geojson.gz")
LYG = os.path.join(harness.ROOT, "migrations", "seed", "lianyungang-counties.geojson")
SUMMARY = re.compile(r"^imported (\d+) features \((\d+) repaired\), rejected (\d+), in [0-9.]+ s$", re.M)
REJECT = re.compile(r"^feature (\d+)(?: \(code (\d{12})\))?: (.+)$")


def summary(r):
    m = SUMMARY.search(r.stdout + r.stderr)
    if not m:
        raise AssertionError("no summary line in:\n%s\n%s" % (r.stdout[-2000:], r.stderr[-2000:]))
    return tuple(int(x) for x in m.groups())


def rejects(r):
    return [REJECT.match(line) for line in r.stderr.splitlines() if line.startswith("feature ")]


def metres(lon1, lat1, lon2, lat2):
    k = math.pi / 180
    x = (lon2 - lon1) * k * math.cos((lat1 + lat2) / 2 * k)
    return 6371008.8 * math.hypot(x, (lat2 - lat1) * k)


def feature(code, coords, gtype="Polygon", **props):
    p = {"code": code, "name": props.pop("name", "测试" + str(code))}
    p.update(props)
    return {"type": "Feature", "properties": p, "geometry": {"type": gtype, "coordinates": coords}}


SQUARE = [[[119.0, 34.0], [119.1, 34.0], [119.1, 34.1], [119.0, 34.1], [119.0, 34.0]]]
BOWTIE = [[[119.0, 34.0], [119.1, 34.1], [119.1, 34.0], [119.0, 34.1], [119.0, 34.0]]]


class NationwideTest(unittest.TestCase):
    """The real 166 MB nationwide file: one import shared by the assertions below."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(NATIONWIDE):
            raise unittest.SkipTest("%s is absent (a clone outside the shared workspace): skipping the "
                                    "nationwide import" % NATIONWIDE)
        cls.db = harness.fresh_db(seeded=False)
        cls.r = harness.run_patrold(["import-divisions", NATIONWIDE], cls.db, timeout=600)
        # Independent look at the file: the features are written compactly, one
        # {"type":"Feature",...} each; the malformed ones have a string (an undecoded encoding)
        # where a ring belongs, or no coordinates at all.
        with gzip.open(NATIONWIDE, "rt", encoding="utf-8") as f:
            parts = f.read().split('{"type":"Feature",')[1:]
        cls.file_codes = [re.search(r'"code":"(\d+)"', p).group(1) for p in parts]
        cls.malformed = {i: cls.file_codes[i] for i, p in enumerate(parts)
                         if re.search(r'"coordinates":\[*"', p) or '"coordinates":[]' in p}

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()

    def test_exit_and_counts(self):
        self.assertEqual(self.r.returncode, 0, self.r.stderr[-3000:])
        loaded, repaired, rejected = summary(self.r)
        self.assertEqual(len(self.file_codes), 2868)
        # 2,868 features: 53 carry a string where a ring belongs, 1 (蓟州区 120119) has
        # "coordinates": [] -> 54 rejected, 2,814 loaded.
        self.assertEqual(len(self.malformed), 54)
        self.assertEqual((loaded, rejected), (2814, 54))
        # Repaired: most county outlines are invalid once quantised to 1/1024 degree (rings that
        # touch or cross themselves), and four Hong Kong districts have 3-point parts; measured with
        # GEOS 3.11 (Debian bookworm): 2,011 features needed MakeValid or dropped degenerate rings.
        self.assertEqual(repaired, 2011)
        db_rows = self.db.value("SELECT count(*) FROM divisions")
        self.assertEqual(db_rows, loaded)

    def test_every_geometry_valid(self):
        row = self.db.sql("SELECT count(*) AS n, count(*) FILTER (WHERE ST_IsValid(geom)) AS valid,"
                          " count(*) FILTER (WHERE GeometryType(geom) = 'MULTIPOLYGON' AND ST_SRID(geom) = 4326"
                          "   AND NOT ST_IsEmpty(geom)) AS multi,"
                          " count(*) FILTER (WHERE level = 'county' AND NOT synthetic"
                          "   AND parent_code = substr(code, 1, 4) || '00000000') AS parents"
                          " FROM divisions")[0]
        self.assertEqual(row, {"n": 2814, "valid": 2814, "multi": 2814, "parents": 2814})
        # Coordinates stay inside China's box (wgs84 import: unchanged).
        box = self.db.sql("SELECT ST_XMin(e) AS x0, ST_XMax(e) AS x1, ST_YMin(e) AS y0, ST_YMax(e) AS y1"
                          " FROM (SELECT ST_Extent(geom)::geometry AS e FROM divisions) t")[0]
        self.assertGreater(box["x0"], 73)
        self.assertLess(box["x1"], 136)
        self.assertGreater(box["y0"], 3)
        self.assertLess(box["y1"], 54)

    def test_one_line_per_rejected_feature(self):
        lines = rejects(self.r)
        self.assertEqual(len(lines), 54, self.r.stderr[-3000:])
        self.assertTrue(all(lines), "unparsable rejection line in:\n" + self.r.stderr[-3000:])
        got = {int(m.group(1)): m.group(2) for m in lines}
        self.assertEqual(got, self.malformed)
        reasons = [m.group(3) for m in lines]
        self.assertEqual(sum(r.startswith("coordinates are a string, not an array") for r in reasons), 53)
        self.assertEqual(sum(r.startswith("geometry is empty") for r in reasons), 1)
        in_db = self.db.value("SELECT count(*) FROM divisions WHERE code = ANY(%s::char(12)[])",
                              "{%s}" % ",".join(got.values()))
        self.assertEqual(in_db, 0)
        self.assertEqual(set(self.file_codes) - set(got.values()),
                         {r["code"] for r in self.db.sql("SELECT code FROM divisions")})


class ImporterTest(unittest.TestCase):
    def setUp(self):
        self.db = harness.fresh_db(seeded=False)
        self.tmp = tempfile.mkdtemp(prefix="patrold-import-")

    def tearDown(self):
        self.db.drop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, data, gz=False):
        path = os.path.join(self.tmp, name)
        if not isinstance(data, (bytes, str)):
            data = json.dumps(data, ensure_ascii=False)
        if isinstance(data, str):
            data = data.encode()
        with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
            f.write(data)
        return path

    def count(self):
        return self.db.value("SELECT count(*) FROM divisions")

    def assert_nothing_imported(self, path, *args):
        r = harness.run_patrold(["import-divisions", path] + list(args), self.db)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("nothing imported", r.stderr)
        self.assertEqual(self.count(), 0)
        return r

    def test_plain_and_gzip(self):
        with open(LYG, "rb") as f:
            raw = f.read()
        for name, gz in (("plain.geojson", False), ("packed.geojson.gz", True)):
            r = harness.run_patrold(["import-divisions", self.write(name, raw, gz), "--crs", "gcj02"], self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(summary(r), (6, 6, 0))  # all six have self-touching quantised rings
        rows = self.db.sql("SELECT code, name, level, parent_code, synthetic, ST_IsValid(geom) AS ok"
                           " FROM divisions ORDER BY code")
        self.assertEqual([r["code"] for r in rows], ["320703000000", "320706000000", "320707000000",
                                                     "320722000000", "320723000000", "320724000000"])
        for row in rows:
            self.assertEqual((row["level"], row["parent_code"], row["synthetic"], row["ok"]),
                             ("county", "320700000000", False, True))

    def test_truncated_gzip_imports_nothing(self):
        with open(LYG, "rb") as f:
            packed = gzip.compress(f.read())
        path = self.write("cut.geojson.gz", packed[: len(packed) * 3 // 4])
        r = self.assert_nothing_imported(path, "--crs", "gcj02")
        self.assertIn("gzip", r.stderr)
        if os.path.exists(NATIONWIDE):  # hundreds of features are inserted before the end is missed
            with open(NATIONWIDE, "rb") as f:
                head = f.read(3 << 20)
            self.assert_nothing_imported(self.write("cut-china.geojson.gz", head))

    def test_not_json_imports_nothing(self):
        self.assert_nothing_imported(self.write("notes.txt", "this is not JSON\n"))
        self.assert_nothing_imported(self.write("empty.json", ""))
        self.assert_nothing_imported(self.write("array.json", [feature("320706", SQUARE)]))
        self.assert_nothing_imported(self.write("bin.gz", bytes(range(256)) * 16, gz=True))
        # Good features first, then a syntax error: the features already upserted are rolled back.
        good = json.dumps({"type": "FeatureCollection", "features": [feature("320706", SQUARE)] * 3})
        self.assert_nothing_imported(self.write("bad-tail.json", good[:-2] + ', {"type": oops}]}'))
        self.assert_nothing_imported(self.write("cut.json", good[: len(good) - 40]))

    def test_not_a_feature_collection_imports_nothing(self):
        r = self.assert_nothing_imported(self.write("feature.json", dict(feature("320706", SQUARE),
                                                                         features=[feature("320706", SQUARE)])))
        self.assertIn("FeatureCollection", r.stderr)
        # "type" after the features: known only at the end, still nothing kept.
        doc = '{"features": [%s], "type": "Topology"}' % json.dumps(feature("320706", SQUARE))
        self.assert_nothing_imported(self.write("late-type.json", doc))

    def test_malformed_features_rejected_one_line_each(self):
        feats = [
            feature("320706", SQUARE),                                   # 0 ok
            feature("32070", SQUARE),                                    # 1 bad code
            {"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Polygon",
                                                                          "coordinates": SQUARE}},  # 2
            feature("320707", [[119.0, 34.0]], gtype="Point"),           # 3 not polygonal
            feature("320722", "@@DEJGNQFC@C@CB@NHBBDAFE"),                # 4 string
            feature("320723", [], gtype="MultiPolygon"),                 # 5 empty
            feature("320724", [[[119.0, 34.0], [190.0, 34.0], [119.1, 34.1], [119.0, 34.0]]]),  # 6 range
            feature("320703", BOWTIE),                                   # 7 repaired
            feature("320706001001", [["@@AB", "@@CD"]], gtype="MultiPolygon"),  # 8 string ring
            feature("320706001002", SQUARE, level="village"),            # 9 bad level
            42,                                                          # 10 not an object
            feature("3207", [SQUARE[0], [[119.02, 34.02], [119.03, 34.02], [119.02, 34.02]]],
                    level="city"),                                       # 11 degenerate hole dropped
        ]
        r = harness.run_patrold(["import-divisions", self.write("mixed.json", {"type": "FeatureCollection",
                                                                               "features": feats})], self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r), (3, 2, 9))
        lines = rejects(r)
        self.assertEqual(len(lines), 9, r.stderr)
        by_index = {int(m.group(1)): (m.group(2), m.group(3)) for m in lines}
        self.assertEqual(sorted(by_index), [1, 2, 3, 4, 5, 6, 8, 9, 10])
        self.assertEqual(by_index[4], ("320722000000", "coordinates are a string, not an array"))
        self.assertEqual(by_index[8][0], "320706001001")
        self.assertTrue(by_index[8][1].startswith("coordinates are a string, not an array"))
        self.assertIn("out of range", by_index[6][1])
        self.assertIn("empty", by_index[5][1])
        self.assertIn("Point", by_index[3][1])
        self.assertIsNone(by_index[1][0])
        rows = {x["code"]: x for x in self.db.sql(
            "SELECT code, level, parent_code, ST_IsValid(geom) AS ok, ST_NumGeometries(geom) AS parts,"
            " ST_NumInteriorRings(ST_GeometryN(geom, 1)) AS holes, round(ST_Area(geom)::numeric, 6) AS area"
            " FROM divisions")}
        self.assertEqual(sorted(rows), ["320700000000", "320703000000", "320706000000"])
        self.assertEqual(rows["320703000000"]["parts"], 2)           # the bow-tie became two triangles
        self.assertEqual(float(rows["320703000000"]["area"]), 0.005)
        self.assertEqual(rows["320700000000"]["holes"], 0)           # the 3-point hole was dropped
        self.assertEqual((rows["320700000000"]["level"], rows["320700000000"]["parent_code"]),
                         ("city", "320000000000"))
        self.assertTrue(all(x["ok"] for x in rows.values()))

    def test_level_override_and_parent_codes(self):
        feats = [feature("320706001001", SQUARE), feature("320706001", SQUARE), feature("32", SQUARE)]
        feats[2]["properties"]["code"] = "320000000000"
        path = self.write("levels.json", {"type": "FeatureCollection", "features": feats})
        r = harness.run_patrold(["import-divisions", path, "--level", "community"], self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = {x["code"]: (x["level"], x["parent_code"]) for x in self.db.sql(
            "SELECT code, level, parent_code FROM divisions")}
        self.assertEqual(got["320706001001"], ("community", "320706001000"))
        r = harness.run_patrold(["import-divisions", path, "--level", "bogus"], self.db)
        self.assertEqual(r.returncode, 2)
        r = harness.run_patrold(["import-divisions", path, "--crs", "mars"], self.db)
        self.assertEqual(r.returncode, 2)

    def test_effective_must_be_a_real_day(self):
        """--effective is read by params.c's date parser: 31 February is no date (sscanf took it)."""
        path = self.write("list.csv", "code,name,level,parent_code\n320706001001,新村,community,320706001000\n")
        for bad in ("2024-02-31", "2023-02-29", "2024-13-01", "2024-2-03", "2024-02-03x", "1899-12-31"):
            with self.subTest(effective=bad):
                r = harness.run_patrold(["import-divisions", path, "--effective", bad], self.db)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--effective must be a date YYYY-MM-DD", r.stderr)
                self.assertEqual(self.count(), 0)
        r = harness.run_patrold(["import-divisions", path, "--effective", "2024-02-29"], self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.count(), 1)

    def test_crs_gcj02_shifts_by_hundreds_of_metres(self):
        def centroids():
            return {x["code"]: (x["x"], x["y"]) for x in self.db.sql(
                "SELECT code, ST_X(c) AS x, ST_Y(c) AS y FROM"
                " (SELECT code, ST_Centroid(geom) AS c FROM divisions) t")}
        r = harness.run_patrold(["import-divisions", LYG, "--crs", "wgs84"], self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        as_is = centroids()
        self.db.sql("CREATE TABLE as_is AS SELECT code, geom FROM divisions")
        r = harness.run_patrold(["import-divisions", LYG, "--crs", "gcj02"], self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        shifted = centroids()
        self.assertEqual(len(shifted), 6)
        for code, (lon, lat) in shifted.items():
            d = metres(lon, lat, *as_is[code])
            self.assertTrue(300 < d < 800, "%s moved %.0f m" % (code, d))
        # Independent check: shifting converted vertices forward again (the public GCJ-02 formula,
        # in Python) lands them on the file's outline (imported as is).
        pts = self.db.sql("SELECT code, ST_X(p) AS x, ST_Y(p) AS y FROM (SELECT code, (ST_DumpPoints(geom)).geom AS p,"
                          " (ST_DumpPoints(geom)).path[3] AS i FROM divisions) t WHERE mod(i, 25) = 1")
        self.assertGreater(len(pts), 100)
        forward = ",".join("('%s', ST_SetSRID(ST_MakePoint(%r, %r), 4326))" % ((p["code"],) + wgs84_to_gcj02(p["x"], p["y"]))
                           for p in pts)
        worst = self.db.value("SELECT max(ST_Distance(ST_Boundary(a.geom)::geography, f.p::geography))"
                              " FROM (VALUES %s) f (code, p) JOIN as_is a ON a.code = f.code" % forward)
        self.assertLess(worst, 1.0)
        # Repair happens in the file's CRS, so the conversion keeps the outline's topology: same parts,
        # same vertices (repairing after the non-linear shift used to leave micro-sliver polygons).
        self.assertEqual(self.db.sql("SELECT code, ST_NumGeometries(geom) AS parts, ST_NPoints(geom) AS n"
                                     " FROM as_is ORDER BY code"),
                         self.db.sql("SELECT code, ST_NumGeometries(geom) AS parts, ST_NPoints(geom) AS n"
                                     " FROM divisions ORDER BY code"))
        # bd09 goes further still (GCJ-02 plus Baidu's own offset).
        r = harness.run_patrold(["import-divisions", LYG, "--crs", "bd09"], self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        for code, (lon, lat) in centroids().items():
            self.assertGreater(metres(lon, lat, *as_is[code]), 800, code)

    def test_reimport_is_an_idempotent_upsert(self):
        def snapshot():
            return self.db.sql("SELECT code, name, level, parent_code, md5(ST_AsBinary(geom)) AS h"
                               " FROM divisions ORDER BY code")
        self.db.sql("INSERT INTO divisions (code, name, level, parent_code) VALUES"
                    " ('320706000000', '海州区(已有)', 'county', '320700000000')")
        for _ in range(2):
            r = harness.run_patrold(["import-divisions", LYG, "--crs", "gcj02"], self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(summary(r)[0], 6)
        first = snapshot()
        r = harness.run_patrold(["import-divisions", LYG, "--crs", "gcj02"], self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(snapshot(), first)
        self.assertEqual(len(first), 6)
        names = {x["code"]: x["name"] for x in first}
        self.assertEqual(names["320706000000"], "海州区(已有)")  # an existing row keeps its name
        self.assertEqual(names["320703000000"], "连云区")


if __name__ == "__main__":
    unittest.main()
