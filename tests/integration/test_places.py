"""Place-name search (GET /api/v1/places), reverse from memory against PostGIS KNN as the oracle,
and the division endpoints, on a real PostGIS and a real patrold."""
import csv
import os
import random
import time
import unittest
import urllib.parse

import harness

SEED_CSV = os.path.join(harness.ROOT, "migrations", "seed", "lianyungang-divisions.csv")
N_ORACLE = 1000


def q(srv, text, **params):
    params["q"] = text
    return srv.request("GET", "/api/v1/places?" + urllib.parse.urlencode(params))


def query_raw(srv, raw):
    return srv.request("GET", "/api/v1/places?" + raw)


class Search(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(SEED_CSV, encoding="utf-8") as f:
            cls.rows = list(csv.DictReader(f))

    def items(self, text, **params):
        r = q(self.srv, text, **params)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertIsNone(body["next"])
        return body["items"]

    def test_every_name_finds_itself_first(self):
        """All 1,899 Lianyungang names: the division is the first hit, or tied at the top only with
        namesakes (same name), which the parent chain tells apart."""
        self.assertEqual(len(self.rows), 1899)
        for row in self.rows:
            hits = self.items(row["name"], limit=50)
            self.assertTrue(hits, row)
            top = [h for h in hits if h["name"] == row["name"] and h["match"] == "exact"]
            self.assertEqual(hits[0]["name"], row["name"], row)
            self.assertEqual(hits[:len(top)], top, row)  # namesakes lead, nothing in between
            mine = [h for h in top if h.get("code") == row["code"]]
            self.assertEqual(len(mine), 1, (row, hits[:5]))
            chain = mine[0]["parent_chain"]
            if row["level"] != "city":
                self.assertEqual(chain[-1]["code"], row["parent_code"], row)
            chains = [tuple(p["code"] for p in h["parent_chain"]) + (h.get("code"),) for h in top]
            self.assertEqual(len(set(chains)), len(chains))  # namesakes differ by chain/code

    def test_one_character(self):
        hits = self.items("浦", limit=500)
        self.assertGreater(len(hits), 5)
        for h in hits:
            self.assertIn("浦", h["name"] + "".join(a for a in h.get("aliases", [])), h)
        tiers = [h["match"] for h in hits]
        self.assertEqual(tiers, sorted(tiers, key=["exact", "prefix", "substring", "pinyin"].index))
        names = {h["name"] for h in hits}
        want = {r["name"] for r in self.rows if "浦" in r["name"]}
        self.assertTrue(want <= names, want - names)  # every division holding the character

    def test_two_characters_substring_and_order(self):
        hits = self.items("南路", limit=500)
        want = sorted((len(r["name"]), r["code"]) for r in self.rows if "南路" in r["name"])
        got = [h for h in hits if h.get("code")]
        self.assertEqual(len(got), len(want))
        for h in hits:
            self.assertIn("南路", h["name"])
        lens = [len(h["name"]) for h in hits if h["match"] == "substring"]
        self.assertEqual(lens, sorted(lens))  # shorter names first inside a tier

    def test_code_and_code_prefix(self):
        hits = self.items("320706")
        self.assertEqual(hits[0]["code"], "320706000000")
        self.assertEqual(hits[0]["match"], "exact")
        self.assertTrue(all(h["code"].startswith("320706") for h in hits))
        self.assertEqual(self.items("320706001")[0]["code"], "320706001000")
        full = self.rows[500]
        self.assertEqual(self.items(full["code"])[0]["code"], full["code"])

    def test_alias_suffix_and_short_form(self):
        hits = self.items("新浦")
        self.assertEqual((hits[0]["name"], hits[0]["match"]), ("新浦街道", "exact"))
        names = [h["name"] for h in self.items("开发区", limit=20) if h["match"] == "exact"]
        self.assertIn("连云港经济技术开发区", names)

    def test_pinyin_full_and_initials(self):
        for text in ("haizhou", "hzq", "HaiZhouQu", "ｈａｉ ｚｈｏｕ"):
            hits = self.items(text, limit=5)
            self.assertEqual(hits[0]["name"], "海州区", text)
            self.assertEqual(hits[0]["match"], "pinyin")
        hits = self.items("xinpujiedao", limit=5)
        self.assertEqual(hits[0]["name"], "新浦街道")
        # 朝 reads chao and zhao: 朝阳街道 is found under both readings
        code = next(r["code"] for r in self.rows if r["name"] == "朝阳街道")
        for text in ("chaoyang", "zhaoyang", "cyjd", "zyjd"):
            self.assertIn(code, [h.get("code") for h in self.items(text, limit=500)], text)

    def test_traditional_characters(self):
        hits = self.items("海州區")
        self.assertEqual((hits[0]["name"], hits[0]["match"]), ("海州区", "exact"))
        self.assertEqual(self.items("連雲港市")[0]["code"], "320700000000")

    def test_within_narrows(self):
        all_hits = self.items("社区", limit=500)
        inside = self.items("社区", limit=500, within="320706")
        self.assertTrue(inside)
        self.assertLess(len(inside), len(all_hits))
        for h in inside:
            self.assertTrue((h.get("code") or h["parent_chain"][-1]["code"]).startswith("320706"), h)
        self.assertEqual(inside, self.items("社区", limit=500, within="320706000000"))

    def test_near_ranks_by_distance(self):
        hits = self.items("社区", limit=20, near="119.2,34.6")
        d = [h["distance_m"] for h in hits]
        self.assertEqual(d, sorted(d))
        self.assertLess(d[0], 3000)
        far = self.items("社区", limit=20)
        self.assertNotEqual([h["code"] for h in far], [h["code"] for h in hits])
        gcj = self.items("社区", limit=20, near="119.2,34.6", crs="gcj02")
        self.assertEqual(gcj[0]["location"]["crs"], "gcj02")
        self.assertNotEqual([h["distance_m"] for h in gcj], d)  # near was read as GCJ-02

    def test_limits(self):
        self.assertEqual(len(self.items("社区")), 50)  # default
        self.assertEqual(len(self.items("委会", limit=500)), 500)
        self.assertEqual(len(self.items("社区", limit=1)), 1)
        for bad in ("0", "501", "-1", "abc", "", "1.5", "99999999999999999999"):
            r = q(self.srv, "社区", limit=bad)
            self.assertEqual(r.status, 400, bad)
            self.assertEqual(r.error, "invalid_limit")

    def test_bad_input(self):
        cases = [
            ("", "missing_field"),  # no q at all
            ("q=", "invalid_query"),
            ("q=%20%E3%80%80", "invalid_query"),  # only spaces
            ("q=" + "%E6%B5%B7" * 200, "invalid_query"),  # 600 bytes
            ("q=" + "a" * 1024, "invalid_query"),  # 1 KB
            ("q=%FF%FE", "invalid_query"),  # not UTF-8
            ("q=%C0%80", "invalid_query"),  # overlong NUL
            ("q=%ED%A0%80", "invalid_query"),  # surrogate
            ("q=a%00b", "invalid_query"),
            ("q=x&within=32", "invalid_within"),
            ("q=x&within=3207abcd", "invalid_within"),
            ("q=x&near=119.2", "invalid_location"),
            ("q=x&near=999,34", "invalid_location"),
            ("q=x&near=nan,1", "invalid_location"),
            ("q=x&crs=mars", "invalid_crs"),
        ]
        for raw, code in cases:
            r = query_raw(self.srv, raw)
            self.assertEqual(r.status, 400, (raw, r))
            self.assertEqual(r.error, code, raw)
            self.assertTrue(r.json()["error"]["message"])
        self.assertEqual(query_raw(self.srv, "q=" + "a" * 100).status, 200)
        self.assertEqual(self.items("zzzzzzzzzz"), [])

    def test_places_reload_and_are_found(self):
        """A named place added to the table is found by name, alias and pinyin after the reload."""
        self.db.sql("INSERT INTO places (name, aliases, kind, division_code, geom) VALUES"
                    " ('花果山风景区', ARRAY['花果山'], 'scenic', '320706000000',"
                    " ST_SetSRID(ST_MakePoint(119.29, 34.64), 4326))")
        deadline = time.time() + 20
        while time.time() < deadline:
            hits = self.items("花果山")
            if any(h["kind"] == "place" for h in hits):
                break
            time.sleep(0.2)
        # the alias is an exact hit, beside the town 花果山街道 (whose short form is 花果山 too)
        place = [h for h in hits if h["kind"] == "place"]
        self.assertEqual(place[0]["name"], "花果山风景区")
        self.assertEqual(place[0]["match"], "exact")
        self.assertEqual(place[0]["parent_chain"][-1]["code"], "320706000000")
        self.assertEqual(self.items("花果山风景区")[0]["kind"], "place")
        self.assertIn("花果山风景区", [h["name"] for h in self.items("hgs")])


class ReverseOracle(harness.FreshDbCase):
    """The nearest named points from memory equal PostGIS's KNN on the same rows."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rnd = random.Random(10)
        vals = ",".join("('地名%d', 'poi', ST_SetSRID(ST_MakePoint(%.7f, %.7f), 4326))"
                        % (i, rnd.uniform(118.6, 119.8), rnd.uniform(34.0, 35.0)) for i in range(300))
        cls.db.sql("INSERT INTO places (name, kind, geom) VALUES " + vals)
        cls.srv = harness.Server(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def test_nearest_equals_postgis_knn(self):
        db = self.db
        db.sql("CREATE TABLE named AS"
               " SELECT code::text AS k, ST_PointOnSurface(geom) AS g FROM divisions"
               "  WHERE geom IS NOT NULL AND level NOT IN ('province', 'city', 'county')"
               " UNION ALL SELECT 's' || id, location FROM stations"
               " UNION ALL SELECT 'p' || id, geom FROM places")
        db.sql("CREATE INDEX ON named USING gist (g)")
        rnd = random.Random(7)
        pts = [(rnd.uniform(118.3, 120.0), rnd.uniform(33.8, 35.2)) for _ in range(N_ORACLE)]
        vals = ",".join("(%d, ST_SetSRID(ST_MakePoint(%.9f, %.9f), 4326))" % (i, x, y)
                        for i, (x, y) in enumerate(pts))
        db.sql("CREATE TABLE pts (i int, g geometry(Point, 4326))")
        db.sql("INSERT INTO pts VALUES " + vals)
        rows = db.sql("SELECT p.i, n.k, n.d FROM pts p CROSS JOIN LATERAL ("
                      " SELECT k, d FROM (SELECT k, ST_Distance(g::geography, p.g::geography) d"
                      "  FROM named ORDER BY g <-> p.g LIMIT 40) c ORDER BY d, k LIMIT 12) n"
                      " ORDER BY p.i, n.d")
        want = {}
        for r in rows:
            want.setdefault(r["i"], []).append((r["k"], r["d"]))
        mismatches = 0
        for i, (x, y) in enumerate(pts):
            r = self.srv.request("GET", "/api/v1/places/reverse?lon=%.9f&lat=%.9f" % (x, y))
            self.assertEqual(r.status, 200, r)
            got = [(n.get("code") or ("s%d" % n["id"] if n["kind"] == "station" else "p%d" % n["id"]),
                    n["distance_m"]) for n in r.json()["nearby"]]
            exp = want[i]
            self.assertEqual(len(got), 5)
            self.assertEqual(len({k for k, _ in got}), 5)
            for (gk, gd), (ek, ed) in zip(got, exp):
                self.assertAlmostEqual(gd, ed, delta=0.11, msg=(i, got, exp))
                if gk != ek:
                    mismatches += 1  # allowed only for a tie at the 0.1 m the API rounds to
                    self.assertIn(gk, [k for k, d in exp if abs(d - gd) < 0.11], (i, got, exp))
        self.assertLess(mismatches, 10)

    def test_reverse_makes_no_query(self):
        """Reverse is answered from memory: it works while the database is unreachable."""
        r = self.srv.request("GET", "/api/v1/places/reverse?lon=119.2&lat=34.6")
        self.assertEqual(r.status, 200)
        harness.psql("postgres", "ALTER DATABASE %s ALLOW_CONNECTIONS false" % self.db.name)
        harness.psql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                     " datname = %s" % harness.lit(self.db.name))
        try:
            r = self.srv.request("GET", "/api/v1/places/reverse?lon=119.2&lat=34.6")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(len(r.json()["nearby"]), 5)
            r = self.srv.request("GET", "/api/v1/places?q=%E6%B5%B7")
            self.assertEqual(r.status, 200, r)
        finally:
            harness.psql("postgres", "ALTER DATABASE %s ALLOW_CONNECTIONS true" % self.db.name)


class Divisions(harness.ServerCase):
    def get(self, path):
        return self.srv.request("GET", path)

    def test_one_division(self):
        for code in ("320706", "320706000000"):
            r = self.get("/api/v1/divisions/" + code)
            self.assertEqual(r.status, 200, r)
            b = r.json()
            self.assertEqual((b["code"], b["name"], b["level"]), ("320706000000", "海州区", "county"))
            self.assertEqual(b["parent_chain"], [{"code": "320700000000", "name": "连云港市", "level": "city"}])
            self.assertIsNone(b["valid_to"])
            self.assertFalse(b["synthetic"])
            self.assertNotIn("geometry", b)
        town = self.db.value("SELECT code FROM divisions WHERE level = 'town' AND synthetic LIMIT 1")
        self.assertTrue(self.get("/api/v1/divisions/" + town).json()["synthetic"])

    def test_children(self):
        r = self.get("/api/v1/divisions/320706/children")
        self.assertEqual(r.status, 200)
        items = r.json()["items"]
        want = self.db.sql("SELECT code, name FROM divisions WHERE parent_code = '320706000000' ORDER BY code")
        self.assertEqual([(i["code"], i["name"]) for i in items], [(w["code"], w["name"]) for w in want])
        self.assertTrue(all(i["level"] == "town" for i in items))

    def test_geometry_simplify_crs(self):
        full = self.get("/api/v1/divisions/320706?geometry=geojson").json()["geometry"]
        self.assertIn(full["type"], ("Polygon", "MultiPolygon"))

        def count(g):
            c = g["coordinates"]
            return sum(len(ring) for poly in (c if g["type"] == "MultiPolygon" else [c]) for ring in poly)
        simple = self.get("/api/v1/divisions/320706?geometry=geojson&simplify=500").json()["geometry"]
        self.assertLess(count(simple), count(full))
        gcj = self.get("/api/v1/divisions/320706?geometry=geojson&crs=gcj02").json()["geometry"]
        p0 = (full["coordinates"][0][0][0] if full["type"] == "MultiPolygon" else full["coordinates"][0][0])
        g0 = (gcj["coordinates"][0][0][0] if gcj["type"] == "MultiPolygon" else gcj["coordinates"][0][0])
        self.assertGreater(abs(p0[0] - g0[0]) + abs(p0[1] - g0[1]), 0.001)  # GCJ-02 shift, hundreds of m
        kids = self.get("/api/v1/divisions/320706/children?geometry=geojson&simplify=50").json()["items"]
        self.assertTrue(all(k["geometry"]["type"] in ("Polygon", "MultiPolygon") for k in kids))

    def test_errors(self):
        for path, status in (("/api/v1/divisions/999999", 404), ("/api/v1/divisions/12", 404),
                             ("/api/v1/divisions/320706999999", 404),
                             ("/api/v1/divisions/abc/children", 404),
                             ("/api/v1/divisions/320706?geometry=wkt", 400),
                             ("/api/v1/divisions/320706?geometry=geojson&simplify=-1", 400),
                             ("/api/v1/divisions/320706?simplify=nan", 400),
                             ("/api/v1/divisions/320706?crs=mars", 400)):
            r = self.get(path)
            self.assertEqual(r.status, status, (path, r))
            self.assertIn("error", r.json())


if __name__ == "__main__":
    unittest.main()
