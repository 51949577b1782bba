"""test_units_track.py - GET /api/v1/units/{id}/track (issue 17): fixes posted through the API whose
answer is known (stretches split at a gap and at an impossible jump between batches, a lone fix as a
Point, a flagged fix apart with its flag), times equal to the stored ones in the deployment's zone,
coordinates rounded to 7 decimals and in ?crs=, scope (another county's unit: 404), the period and
fix limits (400s that say so), and no pool slot held while slow clients read a day's track. Also:
unit positions are rounded like report locations in every reply (list, get, status, candidates,
live events)."""
import datetime
import json
import re
import time
import unittest
import urllib.parse

import harness
import refcoords
from test_events import Sse
from test_slow_readers import SlowReader, pool_in_use

P = (119.163509123, 34.572274123)  # 海州区, 9 decimals: the replies must round them to 7
TZ8 = datetime.timezone(datetime.timedelta(hours=8))


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def fix(t, lon, lat):
    return {"location": {"lon": lon, "lat": lat}, "at": iso(t)}


def q(params):
    return urllib.parse.urlencode(params)


def decimals(body):
    """The most decimals of any number in a JSON text."""
    return max([len(m) for m in re.findall(rb"-?\d+\.(\d+)", body)] or [0])


class TrackTest(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.login("admin")
        station = cls.db.value("SELECT id FROM stations WHERE division_code = '320706000000' ORDER BY id LIMIT 1")
        r = cls.srv.request("POST", "/api/v1/units", {"name": "轨迹测试队", "station_id": station}, token=cls.admin)
        assert r.status == 201, r
        cls.unit = r.json()["id"]
        # T0: three hours ago, on a quarter second (a stored fraction comes back as it was)
        cls.t0 = int(time.time()) - 3 * 3600 + 0.25
        t0, lon, lat = cls.t0, P[0], P[1]
        # batch 1: t0 .. t0+90 s, walking east (about 0.5 m/s)
        cls.b1 = [(t0 + 10 * k, lon + 5e-5 * k, lat) for k in range(10)]
        # batch 2, older than batch 1: 22 km north. The API judges every fix with its stored
        # neighbours (c-coverage), so it would flag these; fixes stored without that judgement (an
        # older instance's, a restore) can hold such a jump unflagged, and the track must still break
        # there: they are written straight into the table after the API batches (below)
        cls.b2 = [(t0 - 100 + 10 * k, lon + 5e-5 * k, lat + 0.2) for k in range(10)]
        # batch 3: 20 minutes after batch 1 (a gap), one fix 55 km away in the middle: flagged
        cls.b3 = [(t0 + 1290 + 10 * k, lon + 5e-4 + 5e-5 * k, lat) for k in range(7)]
        cls.flagged = (cls.b3[3][0], lon + 0.5, lat)
        cls.b3[3] = cls.flagged
        # batch 4: one fix alone, half an hour later
        cls.b4 = [(t0 + 3000, lon + 1e-3, lat)]
        for batch in (cls.b1, cls.b3, cls.b4):
            r = cls.srv.request("POST", "/api/v1/units/%d/positions" % cls.unit,
                                {"positions": [fix(*f) for f in batch]}, token=cls.admin)
            assert r.status == 200, r
        assert r.json()["stored"] == 1
        cls.db.sql("INSERT INTO unit_positions (unit_id, at, geom) SELECT %s, to_timestamp(f.t),"
                   " ST_SetSRID(ST_MakePoint(f.x, f.y), 4326) FROM unnest(%s::float8[], %s::float8[],"
                   " %s::float8[]) AS f(t, x, y)", cls.unit,
                   *("{%s}" % ",".join(repr(f[k]) for f in cls.b2) for k in range(3)))
        cls.period = {"from": iso(t0 - 600), "to": iso(t0 + 3600)}

    def track(self, token=None, unit=None, **params):
        p = dict(self.period)
        p.update(params)
        return self.srv.request("GET", "/api/v1/units/%d/track?%s" % (unit or self.unit, q(p)),
                                token=token or self.admin)

    def assert_vertices(self, feature, fixes):
        """feature's vertices are fixes (t, lon, lat) in order: coordinates rounded to 7 decimals,
        times the same instants in +08:00."""
        g = feature["geometry"]
        coords = g["coordinates"] if g["type"] == "LineString" else [g["coordinates"]]
        self.assertEqual(g["type"], "LineString" if len(fixes) > 1 else "Point")
        self.assertEqual(len(coords), len(fixes))
        self.assertEqual(len(feature["properties"]["times"]), len(fixes))
        for (t, lon, lat), (x, y), s in zip(fixes, coords, feature["properties"]["times"]):
            self.assertAlmostEqual(x, round(lon, 7), places=9)
            self.assertAlmostEqual(y, round(lat, 7), places=9)
            self.assertTrue(s.endswith("+08:00"), s)
            when = datetime.datetime.fromisoformat(s)
            self.assertEqual(when, datetime.datetime.fromtimestamp(t, datetime.timezone.utc), s)

    def test_stretches_lone_fix_and_flagged(self):
        r = self.track()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("application/geo+json"))
        doc = r.json()
        self.assertEqual(doc["type"], "FeatureCollection")
        self.assertEqual((doc["unit_id"], doc["fixes"], doc["flagged"], doc["gap_s"], doc["coordinate_system"]),
                         (self.unit, 28, 1, 300, "wgs84"))
        kinds = [(f["properties"]["kind"], f["geometry"]["type"]) for f in doc["features"]]
        self.assertEqual(kinds, [("stretch", "LineString")] * 3 + [("stretch", "Point"), ("flagged", "Point")])
        f = doc["features"]
        self.assert_vertices(f[0], self.b2)  # the older batch, cut from batch 1 by the jump
        self.assert_vertices(f[1], self.b1)  # cut from batch 3 by the 20-minute gap
        self.assert_vertices(f[2], [x for x in self.b3 if x != self.flagged])
        self.assert_vertices(f[3], self.b4)
        self.assert_vertices(f[4], [self.flagged])
        self.assertEqual(f[4]["properties"]["flag"], "impossible_speed")
        self.assertNotIn("flag", f[0]["properties"])
        self.assertLessEqual(decimals(r.body), 7)
        self.assertEqual(datetime.datetime.fromisoformat(doc["from"]).timestamp(), self.t0 - 600)

    def test_times_are_the_stored_ones(self):
        doc = self.track().json()
        stored = [r["us"] for r in self.db.sql(
            "SELECT (extract(epoch FROM at) * 1000000)::bigint AS us FROM unit_positions WHERE unit_id = %s"
            " AND NOT flagged ORDER BY at", self.unit)]
        got = [round(datetime.datetime.fromisoformat(s).timestamp() * 1e6)
               for f in doc["features"] if f["properties"]["kind"] == "stretch" for s in f["properties"]["times"]]
        self.assertEqual(got, stored)
        self.assertTrue(any(".25+08:00" in s for f in doc["features"] for s in f["properties"]["times"]))

    def test_gap_parameter_and_period_bounds(self):
        doc = self.track(gap_s=3600).json()  # batch 1 and 3 join; the jump still cuts batch 2 off
        lines = [f for f in doc["features"] if f["properties"]["kind"] == "stretch"]
        self.assertEqual([len(f["properties"]["times"]) for f in lines], [10, 10 + 6 + 1])
        # [from, to): a fix at `to` is left out, one at `from` is in
        doc = self.track(**{"from": iso(self.b1[0][0]), "to": iso(self.b1[5][0])}).json()
        self.assertEqual(doc["fixes"], 5)
        self.assert_vertices(doc["features"][0], self.b1[:5])
        empty = self.track(**{"from": iso(self.t0 - 7200), "to": iso(self.t0 - 3600)})
        self.assertEqual((empty.status, empty.json()["features"], empty.json()["fixes"]), (200, [], 0))

    def test_crs(self):
        doc = self.track(crs="gcj02").json()
        self.assertEqual(doc["coordinate_system"], "gcj02")
        x, y = doc["features"][1]["geometry"]["coordinates"][0]
        ex, ey = refcoords.wgs84_to_gcj02(self.b1[0][1], self.b1[0][2])
        self.assertAlmostEqual(x, ex, delta=2e-7)
        self.assertAlmostEqual(y, ey, delta=2e-7)
        self.assertGreater(abs(x - self.b1[0][1]), 1e-3)  # really shifted

    def test_scope(self):
        self.assertEqual(self.track(token=self.srv.login("dispatcher")).status, 200)
        self.assertEqual(self.track(token=self.srv.login("patrol")).status, 200)  # 海州区, like GET unit
        for who in ("dispatcher_gn", "community"):
            r = self.track(token=self.srv.login(who))
            self.assertEqual((r.status, r.error), (404, "not_found"), who)
        self.assertEqual(self.track(unit=987654321).status, 404)
        self.assertEqual(self.srv.request("GET", "/api/v1/units/%d/track?%s" % (self.unit, q(self.period))).status, 401)

    def test_bad_periods(self):
        for params, code, field in (({"to": iso(self.t0 - 600)}, "invalid_period", "to"),
                                    ({"to": iso(self.t0 - 3600)}, "invalid_period", "to"),
                                    ({"to": iso(self.t0 - 600 + 24 * 3600 + 1)}, "invalid_period", "to"),
                                    ({"from": "yesterday"}, None, "from"),
                                    ({"from": "2024-02-30T00:00:00Z"}, None, "from"),
                                    ({"gap_s": "5"}, None, "gap_s")):
            r = self.track(**params)
            self.assertEqual(r.status, 400, (params, r))
            self.assertEqual(r.json()["error"]["field"], field, params)
            if code:
                self.assertEqual(r.error, code, params)
                self.assertIn("hours" if "24" in r.json()["error"]["message"] else "after",
                              r.json()["error"]["message"])
        r = self.srv.request("GET", "/api/v1/units/%d/track?%s" % (self.unit, q({"from": self.period["from"]})),
                             token=self.admin)
        self.assertEqual((r.status, r.error, r.json()["error"]["field"]), (400, "missing_field", "to"))
        self.assertEqual(self.track(**{"to": iso(self.t0 - 600 + 24 * 3600)}).status, 200)  # exactly a day

    def test_limits_are_settings(self):
        with harness.Server(self.db, env={"PATROLD_TRACK_MAX_FIXES": "27", "PATROLD_TRACK_MAX_HOURS": "1"}) as srv:
            tok = srv.login("admin")
            path = "/api/v1/units/%d/track?" % self.unit
            r = srv.request("GET", path + q(self.period), token=tok)
            self.assertEqual((r.status, r.error, r.json()["error"]["field"]), (400, "invalid_period", "to"))
            self.assertIn("at most 1 hours", r.json()["error"]["message"])
            hour = {"from": iso(self.t0 - 100), "to": iso(self.t0 + 3001)}  # all 28 fixes
            r = srv.request("GET", path + q(hour), token=tok)
            self.assertEqual((r.status, r.error), (400, "too_many_fixes"))
            self.assertIn("more than 27 fixes", r.json()["error"]["message"])
            hour["to"] = iso(self.t0 + 3000)  # the last one left out: 27
            self.assertEqual(srv.request("GET", path + q(hour), token=tok).json()["fixes"], 27)


class TrackTimeZoneTest(unittest.TestCase):
    """Times are written in the deployment's zone with the offset of each instant: across a
    daylight-saving change (America/New_York's latest, within the positions kept) each vertex has
    the offset Python's zoneinfo gives it, to the character."""

    def test_offsets_across_a_change(self):
        import zoneinfo
        zone = zoneinfo.ZoneInfo("America/New_York")
        t = int(time.time()) // 3600 * 3600
        while datetime.datetime.fromtimestamp(t, zone).utcoffset() == \
                datetime.datetime.fromtimestamp(t - 3600, zone).utcoffset():
            t -= 3600  # the hour at which the offset last changed (at most a year back)
        db = harness.fresh_db()
        self.addCleanup(db.drop)
        unit = db.value("SELECT id FROM units WHERE callsign = 'HZ-04'")
        db.sql("UPDATE units SET position = NULL, position_at = NULL WHERE id = %s", unit)
        srv = harness.Server(db, env={"PATROLD_TIMEZONE": "America/New_York",
                                      "PATROLD_POSITION_RETENTION_DAYS": "400"})
        self.addCleanup(srv.stop)
        tok = srv.login("admin")
        fixes = [(t - 125 + 30 * k + (0.5 if k == 2 else 0), P[0] + 1e-5 * k, P[1]) for k in range(9)]
        r = srv.request("POST", "/api/v1/units/%d/positions" % unit, {"positions": [fix(*f) for f in fixes]},
                        token=tok)
        self.assertEqual((r.status, r.json()["stored"]), (200, 9), r)
        r = srv.request("GET", "/api/v1/units/%d/track?%s" % (unit, q({"from": iso(t - 300), "to": iso(t + 300)})),
                        token=tok)
        self.assertEqual(r.status, 200, r)
        times = r.json()["features"][0]["properties"]["times"]
        want = [datetime.datetime.fromtimestamp(f[0], zone).isoformat().replace(".500000", ".5") for f in fixes]
        self.assertEqual(times, want)
        self.assertEqual(len({s[-6:] for s in times}), 2, times)  # both offsets


class SlowTrackReadersTest(unittest.TestCase):
    """A day of fixes (one every 3 s: 28,800, about 2 MB) read by slow clients: the slot went back
    before the first byte, so with two slots other requests all answer meanwhile."""

    def test_no_slot_while_slow_clients_read(self):
        db = harness.fresh_db()
        self.addCleanup(db.drop)
        unit = db.value("SELECT id FROM units WHERE division_code = '320706000000' ORDER BY id LIMIT 1")
        day0 = int(time.time()) - 30 * 3600
        db.sql("SELECT unit_positions_ensure(to_timestamp(%s)::date - 1, now()::date + 1)", day0)
        db.sql("INSERT INTO unit_positions (unit_id, at, geom) SELECT %s, to_timestamp(%s + 3 * g),"
               " ST_SetSRID(ST_MakePoint(119.16 + g * 1e-6, 34.57), 4326) FROM generate_series(0, 28799) g",
               unit, day0)
        srv = harness.Server(db, env={"PATROLD_DB_POOL": "2", "PATROLD_DB_POOL_WAIT_MS": "3000"}, threads=32)
        self.addCleanup(srv.stop)
        tok = srv.login("dispatcher")
        path = "/api/v1/units/%d/track?%s" % (unit, q({"from": iso(day0), "to": iso(day0 + 86400)}))
        full = srv.request("GET", path, token=tok)
        self.assertEqual((full.status, full.json()["fixes"]), (200, 28800))
        readers = [SlowReader(srv.port, path, tok, every=5.0) for _ in range(4)]
        for rd in readers:
            self.addCleanup(rd.close)
            self.assertTrue(rd.headers_seen.wait(30))
            self.assertEqual(rd.status, 200)
        self.assertTrue(all(not rd.eof and rd.got < len(full.body) for rd in readers))
        self.assertEqual(pool_in_use(srv), 0)
        answers = [srv.request("GET", "/api/v1/units/%d" % unit, token=tok).status for _ in range(20)]
        self.assertEqual(answers, [200] * 20)
        self.assertTrue(all(not rd.eof for rd in readers), "the slow clients were still reading")


class PositionsRoundedTest(unittest.TestCase):
    """Unit positions go out rounded like report locations (7 decimals) in every reply."""

    def test_rounded_everywhere(self):
        db = harness.fresh_db()
        self.addCleanup(db.drop)
        unit = db.value("SELECT id FROM units WHERE callsign = 'HZ-02'")
        # no position yet: the first fix is accepted wherever it is (no impossible speed to flag)
        db.sql("UPDATE units SET position = NULL, position_at = NULL WHERE id = %s", unit)
        srv = harness.Server(db)
        self.addCleanup(srv.stop)
        tok = srv.login("dispatcher")
        after = db.value("SELECT coalesce(max(id), 0) FROM events")
        sse = Sse(srv.port, "/api/v1/events?after=%d" % after, {"Authorization": "Bearer " + tok})
        self.addCleanup(sse.sock.close)
        r = srv.request("POST", "/api/v1/units/%d/positions" % unit,
                        {"positions": [fix(time.time() + 2, *P)]}, token=tok)
        self.assertEqual((r.status, r.json()["moved"]), (200, True))
        want = (round(P[0], 7), round(P[1], 7))
        rep = srv.create_report({"client_id": "00000000-0000-4000-8000-00000000b001", "category": "vagrant",
                                 "location": {"lon": P[0] + 0.001, "lat": P[1]},
                                 "observed_at": iso(time.time() - 60)}, tok)
        replies = {
            "get": srv.request("GET", "/api/v1/units/%d" % unit, token=tok),
            "list": srv.request("GET", "/api/v1/units?limit=500", token=tok),
            "status": srv.request("POST", "/api/v1/units/%d/status" % unit, {"status": "available"}, token=tok),
            "candidates": srv.request("GET", "/api/v1/reports/%d/candidates?limit=50" % rep["id"], token=tok),
        }
        for name, r in replies.items():
            self.assertEqual(r.status, 200, (name, r))
            self.assertLessEqual(decimals(r.body), 7, name)
        pos = replies["get"].json()["position"]
        self.assertEqual((pos["lon"], pos["lat"]), want)
        mine = [u for u in replies["list"].json()["items"] if u["id"] == unit][0]["position"]
        self.assertEqual((mine["lon"], mine["lat"]), want)
        cand = [c for c in replies["candidates"].json()["items"] if c["unit_id"] == unit][0]["position"]
        self.assertEqual((cand["lon"], cand["lat"]), want)
        gcj = srv.request("GET", "/api/v1/units/%d?crs=gcj02" % unit, token=tok)
        self.assertLessEqual(decimals(gcj.body), 7)
        # the live event of the move, as the stream sends it
        while True:
            ev = sse.next(timeout=10)
            self.assertIsNotNone(ev, "no unit.position event")
            if ev["event"] == "unit.position":
                break
        payload = ev["data"]["payload"]
        self.assertEqual((payload["id"], payload["lon"], payload["lat"]), (unit, want[0], want[1]))
        self.assertLessEqual(decimals(json.dumps([payload["lon"], payload["lat"]]).encode()), 7)


if __name__ == "__main__":
    unittest.main()
