"""test_units_coverage.py - GET /api/v1/coverage, kept per community and day as fixes arrive:
hand-made square communities crossed by hand-made tracks, against PostGIS computing the same share
(ST_Buffer of the track, ST_Intersection with the community, in EPSG:4549) within the grid's error;
last patrolled time; an untouched community; a union over days, not a sum; a batch arriving hours
late; a second instance reading the same table; fixes stored before the server started (or while
a community's grid changes) painted by the repaint; the partial first day and its work budget; the
period and memory limits; scope."""
import datetime
import time
import unittest

import harness

CELL = 20.0  # coverage_cell_m


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


class CoverageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        # six 1 km squares (in CGCS2000 Gauss-Kruger metres) inside 海州区, 5 km apart
        o = cls.db.sql("SELECT ST_X(p) AS e, ST_Y(p) AS n FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4549) AS p"
                       " FROM divisions WHERE code = '320706000000') s")[0]
        cls.e0, cls.n0 = round(o["e"]), round(o["n"])
        cls.sq = {}
        for k in range(1, 7):
            code, dx = "32070699990%d" % k, 5000 * (k - 1)
            cls.sq[k] = (code, cls.e0 + dx, cls.n0)
            cls.db.sql("INSERT INTO divisions (code, name, level, parent_code, geom) VALUES (%s, %s, 'community',"
                       " '320706000000', ST_Multi(ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4549), 4326)))",
                       code, "测试社区%d" % k, cls.e0 + dx, cls.n0, cls.e0 + dx + 1000, cls.n0 + 1000)
        cls.station = cls.db.value("SELECT station_id FROM units WHERE division_code = '320706000000' LIMIT 1")
        # a track stored before the server ever ran (an older release's fixes): the first start
        # repaints every kept day, so it counts without being posted again
        cls.early_unit = cls.db.value("INSERT INTO units (name, station_id, division_code) VALUES ('早前', %s,"
                                      " '320706000000') RETURNING id", cls.station)
        cls.early = [(x, 300) for x in range(-150, 1200, 50)]
        t = now() - datetime.timedelta(days=2)
        rows = ",".join("(%d, '%s', ST_Transform(ST_SetSRID(ST_MakePoint(%d, %d), 4549), 4326))"
                        % (cls.early_unit, iso(t + datetime.timedelta(seconds=10 * i)), cls.e0 + 20000 + x,
                           cls.n0 + y) for i, (x, y) in enumerate(cls.early))
        d = (t.date() - datetime.timedelta(days=1), t.date() + datetime.timedelta(days=1))
        cls.db.sql("SELECT unit_positions_ensure(%s::date, %s::date)", str(d[0]), str(d[1]))
        cls.db.sql("INSERT INTO unit_positions (unit_id, at, geom) VALUES " + rows)
        cls.srv = harness.Server(cls.db, env={"PATROLD_ACCESS_LOG": "0"})
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "admin", "patrol")}

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    def new_unit(self, name="覆盖测试"):
        """A unit with no position yet: nothing earlier to judge the first fix against."""
        r = self.srv.request("POST", "/api/v1/units", json_body={"name": name, "station_id": self.station},
                             token=self.tok["dispatcher"])
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def lonlat(self, k, pts):
        """Square k's local metres (x, y) -> WGS-84 lon/lat, by PostGIS."""
        _, e, n = self.sq[k]
        values = ",".join("(%d, %f, %f)" % (i, e + x, n + y) for i, (x, y) in enumerate(pts))
        return [(r["lon"], r["lat"]) for r in self.db.sql(
            "SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT i, ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4549),"
            " 4326) AS p FROM (VALUES " + values + ") v(i, x, y)) s ORDER BY i")]

    def post_track(self, unit, k, pts, t0, step_s=10, server=None):
        fixes = [{"location": {"lon": lon, "lat": lat}, "at": iso(t0 + datetime.timedelta(seconds=step_s * i))}
                 for i, (lon, lat) in enumerate(self.lonlat(k, pts))]
        r = (server or self.srv).request("POST", "/api/v1/units/%d/positions" % unit, json_body={"positions": fixes},
                                         token=self.tok["admin"])
        self.assertEqual((r.status, r.json()["stored"]), (200, len(fixes)), r)
        return r

    def oracle(self, k, tracks, width=1000):
        """PostGIS: the share of square k (width m wide) within 100 m of the tracks (lists of local
        (x, y); one point: a lone fix), and the grid's error: half a cell along the covered part's
        boundary and along the community's."""
        code, e, n = self.sq[k]
        geoms = ",".join(("ST_MakeLine(ARRAY[%s])" if len(t) > 1 else "%s")
                         % ",".join("ST_MakePoint(%f, %f)" % (e + x, n + y) for x, y in t) for t in tracks)
        r = self.db.sql("SELECT ST_Area(x) AS a, ST_Perimeter(x) AS per FROM (SELECT ST_Intersection("
                        "ST_MakeEnvelope(%s, %s, %s, %s, 4549), ST_Union(ARRAY(SELECT ST_Buffer(ST_SetSRID(l, 4549), 100)"
                        " FROM unnest(ARRAY[" + geoms + "]) l))) AS x) s", e, n, e + width, n + 1000)[0]
        area = width * 1000.0
        share = r["a"] / area
        return share, (r["per"] * CELL / 2 + 2 * (width + 1000) * CELL / 2 * share) / area

    def coverage(self, user="dispatcher", q="?division=320706&since=", server=None):
        return (server or self.srv).request("GET", "/api/v1/coverage" + q, token=self.tok[user])

    def items(self, since, division="320706", server=None):
        r = self.coverage(q="?division=%s&since=%s" % (division, iso(since)), server=server)
        self.assertEqual(r.status, 200, r)
        return {i["code"]: i for i in r.json()["items"]}, r.json()

    def wait_share(self, code, since, minimum, timeout=30):
        deadline = time.time() + timeout
        while True:
            item = self.items(since, code)[0][code]
            if item["covered_share"] >= minimum or time.time() > deadline:
                return item
            time.sleep(0.3)

    def test_share_and_last_time(self):
        since = now() - datetime.timedelta(hours=1)
        t0 = now() - datetime.timedelta(minutes=30)
        # along the middle of square 1, from 175 m before it to 225 m past it (no fix on an edge)
        straight = [(x, 500) for x in range(-175, 1250, 50)]
        self.post_track(self.new_unit(), 1, straight, t0)
        last_inside = max(i for i, (x, _) in enumerate(straight) if 0 <= x <= 1000)
        expected, tol = self.oracle(1, [straight])
        self.assertAlmostEqual(expected, 0.2, delta=0.01)  # the oracle itself: a 200 m band across 1 km
        # a zig-zag across square 2 (its edges cross the cells at every angle)
        zig = [(-100, 100), (400, 900), (600, 150), (1100, 800), (750, 1200), (200, 500)]
        zz = [(x0 + (x1 - x0) * s / 20, y0 + (y1 - y0) * s / 20) for (x0, y0), (x1, y1) in zip(zig, zig[1:])
              for s in range(20)] + [zig[-1]]
        self.post_track(self.new_unit(), 2, zz, t0, step_s=5)
        zexp, ztol = self.oracle(2, [zz])
        items, body = self.items(since)
        a, b, c = items["320706999901"], items["320706999902"], items["320706999903"]
        self.assertLessEqual(abs(a["covered_share"] - expected), tol, (a, expected, tol))
        self.assertLessEqual(abs(b["covered_share"] - zexp), ztol, (b, zexp, ztol))
        self.assertLess(abs(b["covered_share"] - zexp), 0.02)  # far inside the bound in practice
        self.assertGreater(zexp, 0.4)
        self.assertAlmostEqual(a["area_m2"], 1e6, delta=1000)
        self.assertEqual(iso(datetime.datetime.fromisoformat(a["last_patrolled_at"])),  # any offset
                         iso(t0 + datetime.timedelta(seconds=10 * last_inside)))
        self.assertEqual((c["covered_share"], c["last_patrolled_at"]), (0, None))
        self.assertTrue(all(i["code"].startswith("320706") for i in items.values()))
        self.assertEqual(body["cell_m"], CELL)
        self.assertEqual(iso(datetime.datetime.fromisoformat(body["since"])), iso(since))
        # fixes inside square 1 (20 of the straight track) and square 2 (all of the zig-zag inside)
        inside = sum(1 for x, y in straight if 0 <= x <= 1000) + sum(1 for x, y in zz if 0 < x < 1000 and 0 < y < 1000)
        self.assertGreaterEqual(body["fixes"], inside)
        # a period that starts after the tracks: nothing covered (the first day painted again)
        later = now() - datetime.timedelta(seconds=20)
        items, _ = self.items(later, "320706999901")
        self.assertEqual([(i["code"], i["covered_share"], i["last_patrolled_at"]) for i in items.values()],
                         [("320706999901", 0, None)])

    def test_union_over_days_not_sum(self):
        """The same walk on two days and a parallel one on a third: the share over the period is the
        union (the OR of the days' bitmaps), not the sum of the days' shares."""
        unit = self.new_unit("三天")
        walk = [(x, 300) for x in range(-150, 1200, 50)]
        other = [(x, 650) for x in range(-150, 1200, 50)]
        today = now()
        for days, track in ((3, walk), (2, walk), (1, other)):
            self.post_track(unit, 3, track, today - datetime.timedelta(days=days, hours=1))
        one, _ = self.oracle(3, [walk])
        both, tol = self.oracle(3, [walk, other])
        got = self.items(today - datetime.timedelta(days=3, hours=2), "320706999903")[0]["320706999903"]
        self.assertLessEqual(abs(got["covered_share"] - both), tol, (got, both))
        self.assertLess(got["covered_share"], 3 * one - 0.1)  # a sum of the days would be ~3 x
        last = self.items(today - datetime.timedelta(days=1, hours=2), "320706999903")[0]["320706999903"]
        self.assertLessEqual(abs(last["covered_share"] - one), tol)  # only the third day's walk

    def test_late_batch_and_another_instance(self):
        """A phone offline for hours: its batch of 3-hour-old fixes counts as soon as it is stored,
        on every instance (the second server reads the same table)."""
        unit = self.new_unit("迟到")
        self.post_track(unit, 4, [(500, 500)], now())  # the unit's newest fix first
        late = [(x, 200) for x in range(-150, 1200, 50)]
        self.post_track(unit, 4, late, now() - datetime.timedelta(hours=3))
        exp, tol = self.oracle(4, [late, [(500, 500)]])
        other = harness.Server(self.db, env={"PATROLD_ACCESS_LOG": "0"})
        try:
            since = now() - datetime.timedelta(hours=4)
            a = self.items(since, "320706999904")[0]["320706999904"]
            b = self.items(since, "320706999904", server=other)[0]["320706999904"]
        finally:
            other.stop()
        self.assertLessEqual(abs(a["covered_share"] - exp), tol, (a, exp))
        self.assertEqual(a, b)

    def test_stored_before_start_and_grid_change(self):
        """Fixes stored without the API (before the first start, or while a community's polygon
        changes) are painted by the repaint from the stored fixes."""
        since = now() - datetime.timedelta(days=2, hours=1)
        code = "320706999905"
        exp, tol = self.oracle(5, [self.early])
        got = self.wait_share(code, since, exp - tol)
        self.assertLessEqual(abs(got["covered_share"] - exp), tol, (got, exp))
        # the polygon grows 500 m east: a new grid; the old bits go, the stored fixes are repainted
        _, e, n = self.sq[5]
        self.db.sql("UPDATE divisions SET geom = ST_Multi(ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4549), 4326))"
                    " WHERE code = %s", e, n, e + 1500, n + 1000, code)
        deadline = time.time() + 30
        while time.time() < deadline:
            item = self.items(since, code)[0][code]
            if abs(item["area_m2"] - 1.5e6) < 1000 and item["covered_share"] > 0:
                break
            time.sleep(0.3)
        wexp, wtol = self.oracle(5, [self.early], width=1500)
        self.assertLessEqual(abs(item["covered_share"] - wexp), wtol, (item, wexp))
        self.assertAlmostEqual(item["area_m2"], 1.5e6, delta=1000)

    def test_partial_day_budget(self):
        """A `since` inside a day paints that day's fixes after it again, up to coverage_max_fixes;
        past the budget the whole day counts, and `since` says so."""
        unit = self.new_unit("预算")
        t0 = now() - datetime.timedelta(minutes=20)
        track = [(x, 800) for x in range(-150, 1200, 50)]
        self.post_track(unit, 6, track, t0)
        since = t0 - datetime.timedelta(minutes=5)
        tight = harness.Server(self.db, env={"PATROLD_ACCESS_LOG": "0", "PATROLD_COVERAGE_MAX_FIXES": "5"})
        try:
            r = self.coverage(q="?division=320706999906&since=" + iso(since), server=tight)
        finally:
            tight.stop()
        self.assertEqual(r.status, 200, r)
        if since.date() == now().date():  # the partial day is today: whole-day answer from midnight
            self.assertEqual(iso(datetime.datetime.fromisoformat(r.json()["since"])), since.strftime("%Y-%m-%dT00:00:00Z"))
        self.assertEqual(iso(datetime.datetime.fromisoformat(
            self.coverage(q="?division=320706999906&since=" + iso(since)).json()["since"])), iso(since))

    def test_period_and_memory_limits(self):
        ok = self.coverage("admin", "?division=3207&since=" + iso(now() - datetime.timedelta(days=91, hours=12)))
        self.assertEqual(ok.status, 200, ok)
        self.assertEqual(len(ok.json()["items"]), self.db.value(
            "SELECT count(*) FROM divisions WHERE level = 'community' AND kind = 'admin' AND geom IS NOT NULL"
            " AND valid_to IS NULL"))
        too_long = self.coverage("admin", "?division=3207&since=" + iso(now() - datetime.timedelta(days=93)))
        self.assertEqual((too_long.status, too_long.error), (400, "invalid_field"))
        # a batch of 300 lone fixes in 300 communities: more community-days than a third of
        # coverage_max_mb (1 MiB here) holds is refused whole (a phone's walk never comes near)
        spots = self.db.sql("SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) p FROM divisions"
                            " WHERE level = 'community' AND geom IS NOT NULL ORDER BY code LIMIT 300) s")
        t0 = now() - datetime.timedelta(days=13)  # an hour apart: possible at 70 m/s, every one a lone fix
        spread = [{"location": {"lon": p["lon"], "lat": p["lat"]}, "at": iso(t0 + datetime.timedelta(hours=i))}
                  for i, p in enumerate(spots)]
        unit = self.new_unit("散点")
        small = harness.Server(self.db, env={"PATROLD_ACCESS_LOG": "0", "PATROLD_COVERAGE_MAX_MB": "1"})
        try:
            big = self.coverage("admin", "?division=3207", server=small)
            one = self.coverage("admin", "?division=320706999906", server=small)
            wide = small.request("POST", "/api/v1/units/%d/positions" % unit, json_body={"positions": spread},
                                 token=self.tok["admin"])
            ok = small.request("POST", "/api/v1/units/%d/positions" % unit, json_body={"positions": spread[:20]},
                               token=self.tok["admin"])
        finally:
            small.stop()
        self.assertEqual((big.status, big.error), (400, "invalid_field"))
        self.assertEqual(one.status, 200, one)
        self.assertEqual((wide.status, wide.error), (413, "too_spread"))
        self.assertEqual((ok.status, ok.json()["stored"]), (200, 20), ok)
        self.assertEqual(self.db.value("SELECT count(*) FROM unit_positions WHERE unit_id = %s", unit), 20)

    def test_scope_and_bad_input(self):
        self.assertEqual(self.coverage("dispatcher_gn", "?division=320706").status, 404)
        self.assertEqual(self.coverage("patrol", "?division=320706").status, 403)
        self.assertEqual(self.coverage("dispatcher", "?division=32070x").error, "invalid_division")
        self.assertEqual(self.coverage("dispatcher", "?since=yesterday").error, "invalid_since")
        self.assertEqual(self.coverage("dispatcher", "?since=1900-01-01T00:00:00Z").error, "invalid_since")
        self.assertEqual(self.coverage("dispatcher", "?since=2001-01-01T00:00:00Z").error, "invalid_field")
        future = iso(now() + datetime.timedelta(hours=1))
        self.assertEqual(self.coverage("dispatcher", "?since=" + future).error, "invalid_field")
        r = self.coverage("dispatcher_gn", "")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.json()["items"])
        self.assertTrue(all(i["code"].startswith("320724") for i in r.json()["items"]))


if __name__ == "__main__":
    unittest.main()
