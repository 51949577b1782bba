"""test_units.py - patrol units: scope, create, status, position fixes (out of order, repeats,
impossible speeds, bad input, another unit's positions), the unit of the signed-in user and the patrol
app's unsent queue carried by the unit, the unit following its report, the dispatch race, and dispatch
candidates against PostGIS geodesic distances with the stale flag."""
import datetime
import threading
import time
import unittest

import harness
from test_reports import new_body, point_in_haizhou


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def fix(lon, lat, at, **kw):
    d = {"location": {"lon": lon, "lat": lat}, "at": iso(at) if not isinstance(at, str) else at}
    d.update(kw)
    return d


def stored(db):
    return db.sql("SELECT (SELECT count(*) FROM unit_positions) AS n,"
                  " (SELECT md5(coalesce(string_agg(id || status || coalesce(position_at::text, ''), '|' ORDER BY id), ''))"
                  " FROM units) AS units, (SELECT count(*) FROM events) AS events")[0]


class UnitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        # every seeded position is old: only fixes posted by the tests are fresh
        cls.db.sql("UPDATE units SET position_at = now() - interval '2 days'")
        cls.srv = harness.Server(cls.db, env={"PATROLD_ESCALATE_INTERVAL_MS": "600000",
                                              "PATROLD_POSITION_STALE_S": "600"})
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "patrol", "community", "admin")}
        cls.own = cls.db.value("SELECT unit_id FROM users WHERE username = 'patrol'")
        cls.hz_other = cls.db.value("SELECT min(id) FROM units WHERE division_code = '320706000000' AND id <> %s", cls.own)
        cls.gn = cls.db.value("SELECT min(id) FROM units WHERE division_code = '320724000000'")
        cls.hz_station = cls.db.value("SELECT station_id FROM units WHERE id = %s", cls.own)
        cls.gn_station = cls.db.value("SELECT station_id FROM units WHERE id = %s", cls.gn)
        cls.lon, cls.lat = point_in_haizhou(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    def req(self, method, path, user, body=None):
        return self.srv.request(method, path, json_body=body, token=self.tok[user])

    def new_unit(self, name):
        r = self.req("POST", "/api/v1/units", "dispatcher", {"name": name, "station_id": self.hz_station})
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def post(self, unit, fixes, user="admin", body_extra=None):
        return self.req("POST", "/api/v1/units/%d/positions" % unit, user, dict({"positions": fixes}, **(body_extra or {})))

    # ---- units ----

    def test_list_and_get_are_scoped(self):
        r = self.req("GET", "/api/v1/units?limit=500", "dispatcher")
        self.assertEqual(r.status, 200, r)
        divs = {u["division_code"] for u in r.json()["items"]}
        self.assertEqual(divs, {"320706000000"})
        expected = self.db.value("SELECT count(*) FROM units WHERE division_code = '320706000000'")
        self.assertEqual(len(r.json()["items"]), expected)
        self.assertEqual(self.req("GET", "/api/v1/units/%d" % self.gn, "dispatcher").status, 404)
        self.assertEqual(self.req("GET", "/api/v1/units/%d" % self.gn, "dispatcher_gn").status, 200)
        u = self.req("GET", "/api/v1/units/%d" % self.own, "dispatcher").json()
        self.assertEqual([m["username"] for m in u["members"]], ["patrol"])
        self.assertIn(u["status"], ("available", "busy", "off_duty", "dispatched", "on_scene"))
        self.assertGreater(u["position_age_s"], 86400)
        # pages: limit 2 then the cursor
        p1 = self.req("GET", "/api/v1/units?limit=2", "dispatcher").json()
        p2 = self.req("GET", "/api/v1/units?limit=2&cursor=%s" % p1["next"], "dispatcher").json()
        self.assertLess(p1["items"][-1]["id"], p2["items"][0]["id"])
        self.assertEqual(self.req("GET", "/api/v1/units?limit=501", "dispatcher").error, "invalid_limit")
        self.assertEqual(self.req("GET", "/api/v1/units/abc", "dispatcher").status, 404)

    def test_create(self):
        uid = self.new_unit("新建巡查组")
        self.assertEqual(self.db.value("SELECT division_code FROM units WHERE id = %s", uid), "320706000000")
        before = stored(self.db)
        r = self.req("POST", "/api/v1/units", "dispatcher", {"name": "越界", "station_id": self.gn_station})
        self.assertEqual((r.status, r.error), (422, "unknown_station"))
        self.assertEqual(self.req("POST", "/api/v1/units", "patrol", {"name": "x", "station_id": self.hz_station}).status, 403)
        self.assertEqual(self.req("POST", "/api/v1/units", "dispatcher", {"station_id": self.hz_station}).error, "missing_field")
        self.assertEqual(stored(self.db), before)

    def test_status(self):
        r = self.req("POST", "/api/v1/units/%d/status" % self.own, "patrol", {"status": "busy"})
        self.assertEqual((r.status, r.json()["status"]), (200, "busy"), r)
        self.assertEqual(self.db.value("SELECT status FROM units WHERE id = %s", self.own), "busy")
        self.assertEqual(self.db.value("SELECT count(*) FROM events WHERE kind = 'unit.updated' AND entity_id = %s", self.own), 1)
        r = self.req("POST", "/api/v1/units/%d/status" % self.own, "patrol", {"status": "available"})
        self.assertEqual(r.status, 200)
        before = stored(self.db)
        self.assertEqual(self.req("POST", "/api/v1/units/%d/status" % self.hz_other, "patrol", {"status": "busy"}).status, 403)
        self.assertEqual(self.req("POST", "/api/v1/units/%d/status" % self.gn, "patrol", {"status": "busy"}).status, 404)
        self.assertEqual(self.req("POST", "/api/v1/units/%d/status" % self.gn, "dispatcher", {"status": "busy"}).status, 404)
        self.assertEqual(self.req("POST", "/api/v1/units/%d/status" % self.own, "patrol", {"status": "dispatched"}).error,
                         "invalid_field")
        self.assertEqual(self.req("POST", "/api/v1/units/%d/status" % self.own, "community", {"status": "busy"}).status, 404)
        self.assertEqual(stored(self.db), before)

    # ---- positions ----

    def test_out_of_order_and_repeats(self):
        uid = self.new_unit("乱序组")
        t0 = now() - datetime.timedelta(minutes=30)
        newer = [fix(119.20 + i * 0.0005, 34.60, t0 + datetime.timedelta(minutes=20 + i)) for i in range(5)]
        older = [fix(119.20 - i * 0.0005, 34.60, t0 + datetime.timedelta(minutes=i)) for i in range(5)]
        r = self.post(uid, list(reversed(newer)) + [newer[2], newer[0]])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["stored"], r.json()["flagged"], r.json()["moved"]), (5, 0, True))
        r = self.post(uid, older + newer)  # the older batch arrives later, with repeats
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["stored"], r.json()["moved"]), (5, False))
        self.assertEqual(self.db.value("SELECT count(*) FROM unit_positions WHERE unit_id = %s", uid), 10)
        u = self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()
        self.assertAlmostEqual(u["position"]["lon"], 119.202, places=6)
        self.assertLess(abs(u["position_age_s"] - 6 * 60), 30)
        # a later fix moves it again
        r = self.post(uid, [fix(119.2021, 34.6, now())])
        self.assertTrue(r.json()["moved"])
        self.assertAlmostEqual(self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()["position"]["lon"], 119.2021, places=6)

    def test_impossible_fix_is_flagged(self):
        uid = self.new_unit("跳点组")
        t0 = now() - datetime.timedelta(minutes=10)
        fixes = [fix(119.20, 34.60, t0), fix(119.201, 34.60, t0 + datetime.timedelta(seconds=60)),
                 fix(120.30, 34.60, t0 + datetime.timedelta(seconds=120)),  # 100 km in a minute
                 fix(119.202, 34.60, t0 + datetime.timedelta(seconds=180))]
        r = self.post(uid, fixes)
        self.assertEqual((r.status, r.json()["stored"], r.json()["flagged"]), (200, 4, 1), r)
        rows = self.db.sql("SELECT ST_X(geom) AS lon, flagged FROM unit_positions WHERE unit_id = %s ORDER BY at", uid)
        self.assertEqual([x["flagged"] for x in rows], [False, False, True, False])
        self.assertAlmostEqual(self.db.value("SELECT ST_X(position) FROM units WHERE id = %s", uid), 119.202, places=6)
        # a lone jump as the newest fix does not move the unit either
        r = self.post(uid, [fix(121.0, 35.0, t0 + datetime.timedelta(seconds=240))])
        self.assertEqual((r.json()["flagged"], r.json()["moved"]), (1, False))
        self.assertAlmostEqual(self.db.value("SELECT ST_X(position) FROM units WHERE id = %s", uid), 119.202, places=6)

    def test_patrol_posts_only_for_its_own_unit(self):
        before = stored(self.db)
        f = [fix(119.2, 34.6, now())]
        self.assertEqual(self.post(self.hz_other, f, "patrol").status, 403)
        self.assertEqual(self.post(self.gn, f, "patrol").status, 404)
        self.assertEqual(self.post(self.gn, f, "dispatcher").status, 404)
        self.assertEqual(self.post(self.own, f, "community").status, 404)  # a community officer: not in scope
        self.assertEqual(self.post(987654321, f, "admin").status, 404)
        self.assertEqual(stored(self.db), before)
        r = self.post(self.own, f, "patrol")
        self.assertEqual((r.status, r.json()["stored"]), (200, 1), r)

    def test_bad_input_stores_nothing(self):
        uid = self.new_unit("坏输入组")
        before = stored(self.db)
        t = now() - datetime.timedelta(seconds=5)
        many = [fix(119.2, 34.6, t - datetime.timedelta(seconds=i)) for i in range(1001)]
        cases = [
            (many, 413, "too_many_positions"),
            ([], 400, "invalid_field"),
            ([fix(119.2, 34.6, "2024-02-31T10:00:00Z")], 400, "invalid_field"),
            ([fix(119.2, 34.6, "1900-01-01T00:00:00Z")], 400, "invalid_field"),
            ([fix(119.2, 34.6, "yesterday")], 400, "invalid_field"),
            ([fix(119.2, 34.6, now() + datetime.timedelta(hours=2))], 400, "invalid_field"),
            ([fix(119.2, 34.6, now() + datetime.timedelta(seconds=290))], 400, "invalid_field"),
            ([fix(119.2, 34.6, now() - datetime.timedelta(days=400))], 400, "invalid_field"),
            ([fix(200, 34.6, t)], 400, "invalid_field"),
            ([fix("119", 34.6, t)], 400, "invalid_field"),
            ([{"at": iso(t)}], 400, "invalid_field"),
            ([{"location": {"lon": 119.2, "lat": 34.6}}], 400, "missing_field"),
            ([fix(119.2, 34.6, t, speed_mps=-1)], 400, "invalid_field"),
            ([fix(119.2, 34.6, t, heading="north")], 400, "invalid_field"),
            ([dict(fix(119.2, 34.6, t), location={"lon": 119.2, "lat": 34.6, "crs": "utm"})], 400, "invalid_field"),
        ]
        for fixes, status, code in cases:
            r = self.post(uid, fixes)
            self.assertEqual((r.status, r.error), (status, code), (fixes[:2], r))
        r = self.srv.request("POST", "/api/v1/units/%d/positions" % uid, body='{"positions": [', token=self.tok["admin"],
                             headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        self.assertEqual(stored(self.db), before)
        self.assertEqual(self.post(uid, many[:1000]).json()["stored"], 1000)

    # ---- the patrol app: the unit of the signed-in user, the phone's unsent queue ----

    def test_sign_in_and_me_carry_the_unit(self):
        r = self.srv.request("POST", "/api/v1/auth/login", {"username": "patrol", "password": "demo"})
        self.assertEqual(r.json()["user"]["unit_id"], self.own, r)
        me = self.req("GET", "/api/v1/auth/me", "patrol").json()
        self.assertEqual(me["unit_id"], self.own)
        for user in ("dispatcher", "community"):  # no unit: null, never absent
            self.assertIsNone(self.req("GET", "/api/v1/auth/me", user).json()["unit_id"])
        # the current membership (users.unit_id): a move shows at the next sign-in
        uid = self.new_unit("调入组")
        self.db.sql("UPDATE users SET unit_id = %s WHERE username = 'patrol'", uid)
        try:
            r = self.srv.request("POST", "/api/v1/auth/login", {"username": "patrol", "password": "demo"})
            self.assertEqual(r.json()["user"]["unit_id"], uid)
            self.assertEqual(self.srv.request("GET", "/api/v1/auth/me", token=r.json()["token"]).json()["unit_id"], uid)
        finally:
            self.db.sql("UPDATE users SET unit_id = %s WHERE username = 'patrol'", self.own)

    def test_positions_carry_the_app_queue(self):
        uid = self.new_unit("积压组")
        get = lambda: self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()  # noqa: E731
        self.assertIsNone(get()["app_queue"])  # no phone has said anything yet
        old = now() - datetime.timedelta(hours=13)
        r = self.post(uid, [fix(119.2, 34.6, now())], body_extra={"queue": {"length": 3, "oldest_at": iso(old)}})
        self.assertEqual(r.status, 200, r)
        q = get()["app_queue"]
        self.assertEqual(q["length"], 3)
        self.assertAlmostEqual(datetime.datetime.fromisoformat(q["oldest_at"]).timestamp(), old.timestamp(), delta=0.001)
        reported = datetime.datetime.fromisoformat(q["reported_at"])
        self.assertLess(abs(reported.timestamp() - now().timestamp()), 30)
        listed = [u for u in self.req("GET", "/api/v1/units?limit=500", "dispatcher").json()["items"] if u["id"] == uid]
        self.assertEqual(listed[0]["app_queue"], q)
        # a batch without the queue leaves it as it was; an empty queue has no oldest item
        self.assertEqual(self.post(uid, [fix(119.2, 34.6, now())]).status, 200)
        self.assertEqual(get()["app_queue"], q)
        self.post(uid, [fix(119.2, 34.6, now())], body_extra={"queue": {"length": 0, "oldest_at": iso(old)}})
        self.assertEqual((get()["app_queue"]["length"], get()["app_queue"]["oldest_at"]), (0, None))

    def test_bad_app_queue_changes_nothing(self):
        uid = self.new_unit("坏积压组")
        self.post(uid, [fix(119.2, 34.6, now() - datetime.timedelta(seconds=30))], body_extra={"queue": {"length": 2}})
        before, q = stored(self.db), self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()["app_queue"]
        for queue, field in [({"length": -1}, "queue.length"), ({"length": 1.5}, "queue.length"),
                             ({"oldest_at": iso(now())}, "queue.length"), ({"length": 10 ** 7}, "queue.length"),
                             ({"length": 1, "oldest_at": "yesterday"}, "queue.oldest_at"),
                             ({"length": 1, "oldest_at": "2025-02-30T10:00:00Z"}, "queue.oldest_at"), ([1], "queue"),
                             ("3", "queue")]:
            r = self.post(uid, [fix(119.2, 34.6, now())], body_extra={"queue": queue})
            self.assertEqual((r.status, r.json()["error"]["field"]), (400, field), (queue, r))
        self.assertEqual(stored(self.db), before)
        self.assertEqual(self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()["app_queue"], q)

    # ---- issue 23, finding 11: each fix stands alone; the future; the track outvotes a glitch ----

    def test_batch_answers_per_item(self):
        """A bad fix is refused alone with its reason and index; the rest are stored."""
        uid = self.new_unit("逐条组")
        t = now() - datetime.timedelta(minutes=5)
        fixes = [fix(119.2 + i * 0.0001, 34.6, t + datetime.timedelta(seconds=10 * i)) for i in range(6)]
        fixes[1] = fix(119.2, 34.6, "2024-02-31T10:00:00Z")
        fixes[3] = {"location": {"lon": 200, "lat": 34.6}, "at": iso(t)}
        fixes[4] = fix(119.2, 34.6, "1900-01-01T00:00:00Z")
        r = self.post(uid, fixes)
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual((b["received"], b["stored"], b["refused"], b["duplicates"], b["flagged"]), (6, 3, 3, 0, 0))
        self.assertEqual([(e["index"], e["code"], e["field"]) for e in b["errors"]],
                         [(1, "invalid_field", "positions[1].at"), (3, "invalid_field", "positions[3].location.lon"),
                          (4, "invalid_field", "positions[4].at")])
        self.assertEqual(self.db.value("SELECT count(*) FROM unit_positions WHERE unit_id = %s", uid), 3)
        # the same batch again: the stored ones are duplicates, the bad ones refused again
        b = self.post(uid, fixes).json()
        self.assertEqual((b["stored"], b["duplicates"], b["refused"]), (0, 3, 3))

    def test_fast_clock_is_refused_not_the_position(self):
        """The finding: a fix dated 290 s ahead moved the unit, position_age_s read -290 and real
        fixes were "moved": false for 5 minutes. Past the tolerance (30 s) it is refused alone; a
        fix just ahead is stored but the position's time is never later than now."""
        uid = self.new_unit("快钟组")
        t = now()
        fixes = [fix(119.2 + i * 0.0001, 34.6, t - datetime.timedelta(seconds=60 - 10 * i)) for i in range(5)]
        fixes.append(fix(119.2006, 34.6, t + datetime.timedelta(seconds=290)))
        r = self.post(uid, fixes)
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual((b["stored"], b["refused"], b["moved"]), (5, 1, True))
        self.assertEqual((b["errors"][0]["index"], b["errors"][0]["field"]), (5, "positions[5].at"))
        u = self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()
        self.assertAlmostEqual(u["position"]["lon"], 119.2004, places=6)
        self.assertGreaterEqual(u["position_age_s"], 0)
        # 20 s ahead: within the tolerance, stored; the unit is there, as of now, not of the future
        r = self.post(uid, [fix(119.2008, 34.6, now() + datetime.timedelta(seconds=20))])
        self.assertEqual((r.json()["stored"], r.json()["moved"]), (1, True))
        u = self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()
        self.assertGreaterEqual(u["position_age_s"], 0)
        self.assertLessEqual(self.db.value("SELECT position_at <= now() FROM units WHERE id = %s", uid), True)
        # so a real fix a second later still moves it
        time.sleep(1.1)
        r = self.post(uid, [fix(119.2009, 34.6, now())])
        self.assertEqual((r.json()["stored"], r.json()["moved"]), (1, True), r)

    def test_glitch_every_other_fix(self):
        """The finding: the unit's last fix long before, then a batch alternating a glitch (first)
        and the real track kept the 500 glitches and flagged the 500 real fixes. Judged against
        its neighbours in time, the real track wins: 500 glitches flagged, 500 real fixes kept."""
        uid = self.new_unit("跳点交替组")
        t0 = now() - datetime.timedelta(hours=2)
        self.assertEqual(self.post(uid, [fix(119.2, 34.6, t0)]).json()["stored"], 1)
        t1 = now() - datetime.timedelta(minutes=45)
        fixes = []
        for k in range(500):
            at = t1 + datetime.timedelta(seconds=5 * k)
            fixes.append(fix(119.25 + (k % 7) * 0.01, 34.63 + (k % 5) * 0.01, at))  # 5-9 km away, scattered
            fixes.append(fix(119.2 + k * 7.5 / 91600, 34.6, at + datetime.timedelta(seconds=2.5)))  # 1.5 m/s
        r = self.post(uid, fixes)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["stored"], r.json()["flagged"]), (1000, 500), r)
        rows = self.db.sql("SELECT ST_Y(geom) > 34.62 AS glitch, flagged FROM unit_positions WHERE unit_id = %s"
                           " AND at > %s", uid, iso(t1 - datetime.timedelta(seconds=1)))
        self.assertEqual(sum(1 for x in rows if x["glitch"] and x["flagged"]), 500)
        self.assertEqual(sum(1 for x in rows if not x["glitch"] and not x["flagged"]), 500)
        u = self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()
        self.assertAlmostEqual(u["position"]["lon"], 119.2 + 499 * 7.5 / 91600, places=6)

    def test_stored_glitch_is_outvoted(self):
        """A glitch stored alone (nothing to judge it against) does not make the real fixes after it
        impossible: judged with them it is flagged, and the unit goes where the track is."""
        uid = self.new_unit("旧跳点组")
        t = now() - datetime.timedelta(minutes=10)
        r = self.post(uid, [fix(119.35, 34.70, t)])  # a glitch ~17 km away, the unit's first fix
        self.assertEqual((r.json()["flagged"], r.json()["moved"]), (0, True))
        real = [fix(119.2 + i * 0.0001, 34.6, t + datetime.timedelta(seconds=20 + 10 * i)) for i in range(5)]
        r = self.post(uid, real)
        self.assertEqual((r.json()["stored"], r.json()["flagged"], r.json()["revised"], r.json()["moved"]),
                         (5, 0, 1, True), r)
        self.assertTrue(self.db.value("SELECT flagged FROM unit_positions WHERE unit_id = %s AND at = %s", uid, iso(t)))
        u = self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()
        self.assertAlmostEqual(u["position"]["lon"], 119.2004, places=6)
        # a late fix between two stored real ones is judged against both neighbours
        late = fix(119.5, 34.6, t + datetime.timedelta(seconds=35))
        r = self.post(uid, [late])
        self.assertEqual((r.json()["stored"], r.json()["flagged"], r.json()["moved"]), (1, 1, False), r)

    # ---- the unit follows its report; the dispatch race ----

    def report(self):
        r = self.srv.request("POST", "/api/v1/reports", json_body=new_body(self.lon, self.lat), token=self.tok["patrol"])
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def event(self, rid, user, **body):
        return self.req("POST", "/api/v1/reports/%d/events" % rid, user, body)

    def unit_status(self, uid):
        return self.db.value("SELECT status FROM units WHERE id = %s", uid)

    def test_unit_follows_report(self):
        uid = self.new_unit("跟随组")
        rid = self.report()
        self.assertEqual(self.event(rid, "dispatcher", type="dispatch", unit_id=uid).status, 200)
        self.assertEqual(self.unit_status(uid), "dispatched")
        r = self.req("POST", "/api/v1/units/%d/status" % uid, "dispatcher", {"status": "available"})
        self.assertEqual((r.status, r.error), (409, "unit_on_assignment"))
        self.assertEqual(self.req("GET", "/api/v1/units/%d" % uid, "dispatcher").json()["report_id"], rid)
        self.assertEqual(self.event(rid, "dispatcher", type="arrive").status, 200)
        self.assertEqual(self.unit_status(uid), "on_scene")
        self.assertEqual(self.event(rid, "dispatcher", type="resolve", outcome="escorted_home").status, 200)
        self.assertEqual(self.unit_status(uid), "available")
        rid = self.report()
        self.assertEqual(self.event(rid, "dispatcher", type="dispatch", unit_id=uid).status, 200)
        self.assertEqual(self.event(rid, "dispatcher", type="cancel").status, 200)
        self.assertEqual(self.unit_status(uid), "available")
        kinds = [e["p"] for e in self.db.sql("SELECT payload->>'status' AS p FROM events WHERE kind = 'unit.updated'"
                                             " AND entity_id = %s ORDER BY id", uid)]
        self.assertEqual(kinds, ["dispatched", "on_scene", "available", "dispatched", "available"])

    def test_dispatch_race(self):
        for _ in range(3):
            uid = self.new_unit("竞争组")
            rids = [self.report() for _ in range(2)]
            results, barrier = [], threading.Barrier(2)

            def go(rid, user):
                barrier.wait()
                results.append(self.event(rid, user, type="dispatch", unit_id=uid).status)

            ts = [threading.Thread(target=go, args=(rid, "dispatcher" if i == 0 else "admin")) for i, rid in enumerate(rids)]
            [t.start() for t in ts]
            [t.join() for t in ts]
            self.assertEqual(sorted(results), [200, 409])
            self.assertEqual(self.db.value("SELECT count(*) FROM reports WHERE unit_id = %s AND status = 'dispatched'", uid), 1)
            self.assertEqual(self.unit_status(uid), "dispatched")

    # ---- candidates ----

    def test_candidates(self):
        rid = self.report()
        # fresh positions for six 海州 units around the report, and one stale one nearest of all
        units = [self.new_unit("候选组%d" % i) for i in range(7)]
        offsets = [(0.010, 0.002), (-0.004, 0.007), (0.003, -0.011), (0.02, 0.02), (-0.015, -0.001), (0.0005, 0.03)]
        for uid, (dx, dy) in zip(units, offsets):
            self.assertEqual(self.post(uid, [fix(self.lon + dx, self.lat + dy, now())]).status, 200)
        stale = units[6]
        self.assertEqual(self.post(stale, [fix(self.lon + 0.0001, self.lat, now() - datetime.timedelta(minutes=20))]).status, 200)
        busy = units[0]
        self.assertEqual(self.req("POST", "/api/v1/units/%d/status" % busy, "dispatcher", {"status": "busy"}).status, 200)
        r = self.req("GET", "/api/v1/reports/%d/candidates?limit=6" % rid, "dispatcher")
        self.assertEqual(r.status, 200, r)
        items = r.json()["items"]
        oracle = self.db.sql(
            "SELECT u.id, ST_Distance(u.position::geography, r.geom::geography) AS d,"
            " extract(epoch FROM now() - u.position_at) AS age FROM units u, reports r"
            " WHERE r.id = %s AND u.status = 'available' AND u.division_code LIKE '320706%%'"
            " AND u.position IS NOT NULL ORDER BY 2, 1 LIMIT 6", rid)
        self.assertEqual([i["unit_id"] for i in items], [o["id"] for o in oracle])
        self.assertNotIn(busy, [i["unit_id"] for i in items])
        for i, o in zip(items, oracle):
            self.assertAlmostEqual(i["distance_m"], o["d"], delta=0.5)
            self.assertEqual(i["eta_s"], round(i["distance_m"] / 8.3))
            self.assertEqual(i["stale"], o["age"] > 600, (i, o))
        self.assertEqual(items[0]["unit_id"], stale)
        self.assertTrue(items[0]["stale"])
        self.assertFalse(items[1]["stale"])
        # scope: another county's dispatcher does not see the report; a county's units only
        self.assertEqual(self.req("GET", "/api/v1/reports/%d/candidates" % rid, "dispatcher_gn").status, 404)
        self.assertEqual(self.req("GET", "/api/v1/reports/%d/candidates" % rid, "patrol").status, 403)
        self.assertEqual(self.req("GET", "/api/v1/reports/%d/candidates?limit=0" % rid, "dispatcher").error, "invalid_limit")
        ids = [i["unit_id"] for i in self.req("GET", "/api/v1/reports/%d/candidates?limit=50" % rid, "admin").json()["items"]]
        self.assertIn(self.gn, ids + [self.gn] if len(ids) < 50 else ids)
        # a dispatch takes the unit out of the list (from memory, at once)
        self.assertEqual(self.event(rid, "dispatcher", type="dispatch", unit_id=items[1]["unit_id"]).status, 200)
        for _ in range(50):
            again = self.req("GET", "/api/v1/reports/%d/candidates?limit=6" % rid, "dispatcher").json()["items"]
            if items[1]["unit_id"] not in [i["unit_id"] for i in again]:
                break
        self.assertNotIn(items[1]["unit_id"], [i["unit_id"] for i in again])


if __name__ == "__main__":
    unittest.main()
