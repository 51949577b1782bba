"""test_patrol_score.py - the live patrol scorer (issue 18, service/patrols/scorer.c, migration 0019)
against a real patrold, with hand-made tracks: a plan made after its units walked is scored (its
window's visits stored, the joint visit one visit with both agencies, one patrol.visit event); a batch
of fixes arriving three hours late is scored when it arrives; an edit of the plan (a longer dwell)
makes the score follow it; a window in which no unit came near its targets raises patrol.overdue once;
two instances on one database: one scorer holds the lock, and no event is raised twice."""
import datetime
import signal
import time

import harness
import test_patrols as tp
from test_routes_roles import report as tp_report

WAIT_S = 60  # "within a minute"


class PatrolScoreTest(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.login("admin")
        cls.disp = cls.srv.login("dispatcher")
        station = cls.db.value("SELECT id FROM stations WHERE division_code = '320706000000' ORDER BY id LIMIT 1")
        cls.units = []
        for kind in ("police", "civil_affairs"):
            r = cls.srv.request("POST", "/api/v1/agencies", {"name": "评分" + kind, "kind": kind,
                                                             "division_code": "320706"}, token=cls.admin)
            assert r.status == 201, r
            agency = r.json()["id"]
            for n in range(3):   # units: police 0-2, civil affairs 3-5
                r = cls.srv.request("POST", "/api/v1/units", {"name": "评分%d队%s" % (n, kind), "station_id": station,
                                                              "agency_id": agency}, token=cls.admin)
                assert r.status == 201, r
                cls.units.append(r.json()["id"])
        cls.now = (int(time.time()) // 60) * 60

    def walk(self, units, enter, east=0.0, minutes=12):
        """units walk together: from 400 m west 5 minutes before enter, 12 minutes inside the 100 m
        circle at east metres, out 400 m east 5 minutes later (a fix every 30 s)."""
        for k, unit in enumerate(units):
            pts = [(enter - 300, *tp.at(east - 400, 3.0 * k))]
            for s in range(0, minutes * 60 + 1, 30):
                pts.append((enter + s, *tp.at(east - 30 + 60 * s / (minutes * 60.0), 3.0 * k)))
            pts.append((enter + minutes * 60 + 300, *tp.at(east + 400, 3.0 * k)))
            r = self.srv.request("POST", "/api/v1/units/%d/positions" % unit, tp.fixes(pts), token=self.admin)
            self.assertEqual(r.status, 200, r)

    def plan(self, units, ws, we, east=0.0, dwell=10):
        body = {"name": "评分夜巡", "division_code": "320706", "unit_ids": units,
                "windows": [{"starts_at": tp.iso(ws), "ends_at": tp.iso(we)}],
                "targets": [{"name": "桥下", "area": tp.circle(*tp.at(east)), "visits_per_week": 2,
                             "min_dwell_min": dwell, "agencies": ["police", "civil_affairs"]}]}
        r = self.srv.request("POST", "/api/v1/patrol-plans", body, token=self.disp)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def wait_for(self, query, *params, want=lambda rows: rows):
        deadline = time.time() + WAIT_S
        while True:
            rows = self.db.sql(query, *params)
            if want(rows) or time.time() > deadline:
                return rows
            time.sleep(0.5)

    def visits(self, plan_id, want=lambda rows: rows):
        return self.wait_for("SELECT v.n, v.counted, v.dwell_s, v.unit_ids, v.agencies,"
                             " extract(epoch FROM v.starts_at)::float8 AS t0 FROM patrol_visits v"
                             " WHERE v.plan_id = %s ORDER BY v.patrol, v.n", plan_id, want=want)

    def events(self, kind, plan_id):
        return self.db.sql("SELECT payload FROM events WHERE kind = %s AND entity_id = %s ORDER BY id",
                           kind, plan_id)

    def test_scored_from_fixes_walked_before_the_plan(self):
        ws, units = self.now - 6 * 3600, self.units[0::3]   # one unit of each agency
        self.walk(units, ws + 600)
        plan = self.plan(units, ws, ws + 3600)
        rows = self.visits(plan["id"])
        self.assertEqual(len(rows), 1, rows)   # two units together: one visit
        v = rows[0]
        self.assertTrue(v["counted"])
        self.assertEqual(sorted(v["unit_ids"]), sorted(units))
        self.assertEqual(sorted(v["agencies"]), ["civil_affairs", "police"])
        # the stored score is the engine's answer (GET .../walked)
        w = self.srv.request("GET", "/api/v1/patrol-plans/%d/walked?from=%s&to=%s"
                             % (plan["id"], tp.iso(ws - 60), tp.iso(ws + 3700)), token=self.disp).json()
        api = w["windows"][0]["targets"][0]["visits"][0]
        self.assertAlmostEqual(v["dwell_s"] / 60, api["dwell_min"], delta=0.05)
        win = self.db.sql("SELECT status, km FROM patrol_scored_windows WHERE plan_id = %s", plan["id"])
        self.assertEqual(win[0]["status"], "complete")
        self.assertAlmostEqual(win[0]["km"], w["windows"][0]["km"], delta=0.002)
        ev = self.events("patrol.visit", plan["id"])
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["payload"]["target_id"], plan["targets"][0]["id"])
        self.assertEqual(sorted(ev[0]["payload"]["unit_ids"]), sorted(units))

        # an edit: a 15-minute dwell; the stored score follows it (the visit no longer counts)
        r = self.srv.request("PATCH", "/api/v1/patrol-plans/%d" % plan["id"],
                             {"targets": [{"id": plan["targets"][0]["id"], "name": "桥下",
                                           "area": tp.circle(*tp.at(0)), "visits_per_week": 2,
                                           "min_dwell_min": 15, "agencies": ["police", "civil_affairs"]}]},
                             token=self.disp)
        self.assertEqual(r.status, 200, r)
        rows = self.visits(plan["id"], want=lambda rows: rows and not rows[0]["counted"])
        self.assertFalse(rows[0]["counted"], rows)
        rev = self.db.sql("SELECT s.revision, p.revision AS now FROM patrol_scored_windows s"
                          " JOIN patrol_plans p ON p.id = s.plan_id WHERE s.plan_id = %s", plan["id"])[0]
        self.assertEqual(rev["revision"], rev["now"])
        self.assertEqual(len(self.events("patrol.visit", plan["id"])), 1)  # raised once, never taken back twice

    def test_batch_three_hours_late_is_scored_when_it_arrives(self):
        ws, units = self.now - 4 * 3600, self.units[1::3]
        plan = self.plan(units, ws, ws + 3600, east=3000)
        win = self.wait_for("SELECT status FROM patrol_scored_windows WHERE plan_id = %s AND status <> ''",
                            plan["id"])
        self.assertEqual([w["status"] for w in win], ["missed"])
        self.assertEqual(self.db.sql("SELECT * FROM patrol_visits WHERE plan_id = %s", plan["id"]), [])
        # the phones sync now, three hours after the walk
        self.walk(units, ws + 600, east=3000)
        # one unit's batch may be scored before the other's lands (an uncounted visit): wait for
        # the score of both
        rows = self.visits(plan["id"], want=lambda rows: rows and all(r["counted"] for r in rows))
        self.assertEqual(len(rows), 1, rows)
        self.assertTrue(rows[0]["counted"])
        self.assertAlmostEqual(rows[0]["t0"], ws + 600 - 70 / 400 * 300, delta=30)
        self.assertEqual(len(self.events("patrol.visit", plan["id"])), 1)

    def test_stream_of_small_batches_scores_as_one_reread(self):
        """Two units send their walk as it happens, three fixes a request, interleaved and in time
        order (a 60 s GPS gap inside included), each batch scored as it lands: the stored visits
        are those of one re-read of the whole window (GET .../walked)."""
        ws, units, east = self.now - 11 * 3600, self.units[1::3], 24000
        plan = self.plan(units, ws, ws + 3600, east=east)
        tracks = []
        for k, unit in enumerate(units):
            pts = [(ws + 300 + s, *tp.at(east - 300 + 600 * s / 2400.0, 3.0 * k)) for s in range(0, 2401, 30)
                   if not 1200 <= s < 1260 or k]   # 13 minutes inside; unit 0 silent for 60 s there
            tracks.append([(unit, pts[i:i + 3]) for i in range(0, len(pts), 3)])
        for pair in zip(*tracks):
            for unit, batch in pair:
                r = self.srv.request("POST", "/api/v1/units/%d/positions" % unit, tp.fixes(batch), token=self.admin)
                self.assertEqual(r.status, 200, r)
        w = self.srv.request("GET", "/api/v1/patrol-plans/%d/walked?from=%s&to=%s"
                             % (plan["id"], tp.iso(ws), tp.iso(ws + 3600)), token=self.disp).json()

        def epoch(text):
            return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())

        def stored(rows):
            return [(r["counted"], sorted(r["unit_ids"]), sorted(r["agencies"]), epoch(r["starts_at"]),
                     epoch(r["ends_at"])) for r in rows]
        want = [(v["counted"], sorted(v["unit_ids"]), sorted(v["agencies"]), epoch(v["from"]), epoch(v["to"]))
                for v in w["windows"][0]["targets"][0]["visits"]]
        self.assertEqual(len(want), 1, want)   # one visit: the gap bridged, both units, both agencies
        self.assertEqual(want[0][:3], (True, sorted(units), ["civil_affairs", "police"]))
        rows = self.wait_for("SELECT v.counted, v.unit_ids, v.agencies, v.starts_at, v.ends_at FROM patrol_visits v"
                             " WHERE v.plan_id = %s ORDER BY v.n", plan["id"], want=lambda rows: stored(rows) == want)
        self.assertEqual(stored(rows), want)
        self.assertEqual(len(self.events("patrol.visit", plan["id"])), 1)

    def test_overdue_window_raises_its_event_once(self):
        ws, units = self.now - 3600, self.units[2::3]
        # a walk far from the target (6 km east of it) in the first 15 minutes: not near
        self.walk(units, ws + 120, east=9000, minutes=4)
        plan = self.plan(units, ws, ws + 7200, east=3000 + 2000)
        deadline = time.time() + WAIT_S
        while not self.events("patrol.overdue", plan["id"]) and time.time() < deadline:
            time.sleep(0.5)
        ev = self.events("patrol.overdue", plan["id"])
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(datetime.datetime.fromisoformat(ev[0]["payload"]["window_starts_at"]).timestamp(), ws)
        self.assertIsNone(ev[0]["payload"]["target_id"])
        self.assertTrue(self.db.value("SELECT overdue FROM patrol_scored_windows WHERE plan_id = %s", plan["id"]))
        # a plan whose unit came near within 15 minutes is not overdue
        ws2 = self.now - 3000
        self.walk(self.units[2:3], ws2 + 60, east=12000, minutes=4)
        ok = self.plan(self.units[2:3], ws2, ws2 + 7200, east=12000)
        near = self.wait_for("SELECT first_near_at FROM patrol_scored_windows WHERE plan_id = %s"
                             " AND first_near_at IS NOT NULL", ok["id"])
        self.assertEqual(len(near), 1, near)
        self.assertEqual(self.events("patrol.overdue", ok["id"]), [])
        time.sleep(2)
        self.assertEqual(len(self.events("patrol.overdue", plan["id"])), 1)  # never twice

    def test_two_instances_one_scorer_no_double_event(self):
        started = time.time()
        other = harness.Server(self.db)
        try:
            ws, units = self.now - 8 * 3600, [self.units[0], self.units[4]]
            plan = self.plan(units, ws, ws + 3600, east=20000)
            # the two units' fixes land on different instances
            tok = other.login("admin")
            for srv, token, unit in ((self.srv, self.admin, units[0]), (other, tok, units[1])):
                pts = [(ws + 300, *tp.at(20000 - 400))] + [
                    (ws + 600 + s, *tp.at(20000 - 30 + s / 12.0)) for s in range(0, 721, 30)] + [
                    (ws + 1620, *tp.at(20400))]
                r = srv.request("POST", "/api/v1/units/%d/positions" % unit, tp.fixes(pts), token=token)
                self.assertEqual(r.status, 200, r)
            rows = self.visits(plan["id"], want=lambda rows: rows and len(rows[0]["unit_ids"]) == 2)
            self.assertEqual(len(rows), 1, rows)
            self.assertEqual(sorted(rows[0]["unit_ids"]), sorted(units))
            self.assertTrue(rows[0]["counted"])
            holders = self.db.value("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                    " AND objid::bigint = 7240018001 % 4294967296 AND granted")
            self.assertEqual(holders, 1)
            # windows scored again (a plan edit) raise nothing new
            self.db.sql("INSERT INTO patrol_dirty (plan_id, from_at, to_at) VALUES (%s, now() - interval '9 hours',"
                        " now())", plan["id"])
            self.wait_for("SELECT 1 FROM patrol_dirty WHERE plan_id = %s", plan["id"], want=lambda r: not r)
            self.assertEqual(len(self.events("patrol.visit", plan["id"])), 1)
            # the scorer's instance killed: the other takes the lock and scores what comes next
            held_since = self.db.value("SELECT extract(epoch FROM a.backend_start)::float8 FROM pg_locks l"
                                       " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
                                       " AND l.objid::bigint = 7240018001 % 4294967296 AND l.granted")
            self.assertLess(held_since, started)   # the class's server holds it, from before `other` began
            ws2 = self.now - 9 * 3600
            late = self.plan(units, ws2, ws2 + 3600, east=25000)
            self.srv.stop(sig=signal.SIGKILL)
            try:
                pts = [(ws2 + 300, *tp.at(25000 - 400))] + [
                    (ws2 + 600 + s, *tp.at(25000 - 30 + s / 12.0)) for s in range(0, 721, 30)] + [
                    (ws2 + 1620, *tp.at(25400))]
                r = other.request("POST", "/api/v1/units/%d/positions" % units[0], tp.fixes(pts), token=tok)
                self.assertEqual(r.status, 200, r)
                rows = self.visits(late["id"])
                self.assertEqual([sorted(r["unit_ids"]) for r in rows], [[units[0]]])
            finally:
                self.srv.start()
        finally:
            other.stop()

    def test_ledger_of_the_week(self):
        ws, units = self.now - 7 * 3600, self.units[0::3]
        self.walk(units, ws + 600, east=30000)
        self.walk(units, ws + 2400, east=30000)          # a second visit, 20 minutes later
        plan = self.plan(units, ws, ws + 3600, east=30000)
        late = self.plan(units, ws, ws + 3600, east=36000)  # nobody there
        self.visits(plan["id"], want=lambda rows: len(rows) == 2)
        self.wait_for("SELECT 1 FROM patrol_scored_windows WHERE plan_id = %s AND overdue", late["id"])
        week = datetime.datetime.fromtimestamp(ws, datetime.timezone(datetime.timedelta(hours=8))).isocalendar()
        q = "/api/v1/patrol-ledger?division=320706&week=%d-W%02d" % (week[0], week[1])
        r = self.srv.request("GET", q, token=self.disp)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        plans = {p["id"]: p for p in body["plans"]}
        got = plans[plan["id"]]
        t = got["targets"][0]
        self.assertEqual((t["visits_needed"], t["verified"], t["met"], t["gap"]), (2, 2, True, 0), t)
        self.assertEqual([sorted(v["agencies"]) for v in t["visits"]], [["civil_affairs", "police"]] * 2)
        # each visit's dwell as the engine answers it (GET .../walked: the PostGIS oracle checks that one)
        w = self.srv.request("GET", "/api/v1/patrol-plans/%d/walked?from=%s&to=%s"
                             % (plan["id"], tp.iso(ws - 60), tp.iso(ws + 3700)), token=self.disp).json()
        api = [v["dwell_min"] for v in w["windows"][0]["targets"][0]["visits"] if v["counted"]]
        for a, b in zip([v["dwell_min"] for v in t["visits"]], api):
            self.assertAlmostEqual(a, b, delta=0.05)
        self.assertEqual(len(api), 2)
        # the PostGIS oracle on the same tracks: each unit's time inside the target in the window (a
        # step's time times its share inside, ST_Intersection); the two walk 3 m apart, so the stored
        # visits (counted or not) add up to about the longer of the two
        rows = self.db.sql(
            "WITH f AS (SELECT unit_id, at, geom, lag(at) OVER w AS at0, lag(geom) OVER w AS g0"
            " FROM unit_positions WHERE unit_id IN (%s, %s) AND at >= to_timestamp(%s) AND at <= to_timestamp(%s)"
            " WINDOW w AS (PARTITION BY unit_id ORDER BY at)),"
            " s AS (SELECT f.unit_id, extract(epoch FROM f.at - f.at0) AS dt,"
            " ST_Transform(ST_MakeLine(f.g0, f.geom), 4549) AS seg,"
            " (SELECT ST_Transform(geom, 4549) FROM patrol_targets WHERE id = %s) AS area FROM f"
            " WHERE f.g0 IS NOT NULL)"
            " SELECT unit_id, sum(dt * ST_Length(ST_Intersection(seg, area)) / ST_Length(seg)) / 60 AS m"
            " FROM s WHERE ST_Length(seg) > 0 GROUP BY unit_id", units[0], units[1], ws, ws + 3600,
            plan["targets"][0]["id"])
        stored = self.db.value("SELECT sum(dwell_s) / 60 FROM patrol_visits WHERE plan_id = %s", plan["id"])
        self.assertEqual(len(rows), 2)
        self.assertAlmostEqual(stored, max(r["m"] for r in rows), delta=0.3)
        self.assertEqual(got["windows"][0]["status"], "complete")
        self.assertTrue(got["windows"][0]["started_on_time"])
        self.assertFalse(got["windows"][0]["overdue"])
        miss = plans[late["id"]]
        self.assertEqual((miss["targets"][0]["verified"], miss["targets"][0]["met"], miss["targets"][0]["gap"]),
                         (0, False, 2))
        self.assertTrue(miss["windows"][0]["overdue"])
        self.assertIs(miss["windows"][0]["started_on_time"], False)
        # another county sees none of them; a week that does not exist, or no week at all, is a 400
        other = self.srv.login("dispatcher_gn")
        r = self.srv.request("GET", q.replace("division=320706&", ""), token=other)
        self.assertEqual(r.status, 200, r)
        self.assertFalse({p["id"] for p in r.json()["plans"]} & {plan["id"], late["id"]})
        for bad in ("2025-W53", "2026-W54", "2026-49", "x"):
            r = self.srv.request("GET", "/api/v1/patrol-ledger?week=" + bad, token=self.disp)
            self.assertEqual((r.status, r.json()["error"]["field"]), (400, "week"), bad)

    def test_campaign_summary_recounted_from_the_raw_tables(self):
        today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date()
        r = self.srv.request("POST", "/api/v1/campaigns", {"name": "寒冬送温暖", "division_code": "320706",
                                                           "starts_on": str(today - datetime.timedelta(days=1)),
                                                           "ends_on": str(today)}, token=self.disp)
        self.assertEqual(r.status, 201, r)
        camp = r.json()
        bad = self.srv.request("POST", "/api/v1/campaigns", {"name": "x", "division_code": "320706",
                                                             "starts_on": str(today), "ends_on": "2020-01-01"},
                               token=self.disp)
        self.assertEqual((bad.status, bad.json()["error"]["field"]), (400, "ends_on"))
        # the creation audited (campaign.create, its division, the one written), the refusal not
        audit = self.db.sql("SELECT action, entity_id, entity_division, after->>'name' AS name FROM audit"
                            " WHERE entity = 'campaign' ORDER BY id")
        self.assertEqual([(a["action"], a["entity_id"], a["entity_division"], a["name"]) for a in audit],
                         [("campaign.create", camp["id"], "320706000000", "寒冬送温暖")])
        units = self.units[1::3]
        w1, w2 = self.now - 3 * 3600, self.now - 5400
        self.walk(units, w1 + 600, east=40000)
        self.walk(units, w2 + 600, east=40000)
        body = {"name": "冬夜", "division_code": "320706", "unit_ids": units, "campaign_id": camp["id"],
                "windows": [{"starts_at": tp.iso(w1), "ends_at": tp.iso(w1 + 3600)},
                            {"starts_at": tp.iso(w2), "ends_at": tp.iso(w2 + 9000)}],
                "targets": [{"name": "广场", "area": tp.circle(*tp.at(40000)), "visits_per_week": 2,
                             "min_dwell_min": 10, "agencies": []}]}
        r = self.srv.request("POST", "/api/v1/patrol-plans", body, token=self.disp)
        self.assertEqual(r.status, 201, r)
        plan = r.json()
        # the members on shift: police (a, b), civil affairs (b, c): b once per patrol
        users = [u["id"] for u in self.db.sql("SELECT id FROM users ORDER BY id LIMIT 3")]
        for unit, members in ((units[0], users[:2]), (units[1], users[1:])):
            sid = self.db.value("INSERT INTO shifts (unit_id, starts_at, ends_at) VALUES (%s, to_timestamp(%s),"
                                " to_timestamp(%s)) RETURNING id", unit, w1 - 3600, self.now + 3600)
            for u in members:
                self.db.sql("INSERT INTO shift_members (shift_id, user_id) VALUES (%s, %s)", sid, u)
        # people found: a report filed now by the police unit (in the second window), one by nobody's unit
        pat = self.srv.login("patrol")
        found = self.srv.create_report(tp_report(), pat)["id"]
        other = self.srv.create_report(tp_report(), pat)["id"]
        self.db.sql("UPDATE reports SET reporter_unit_id = %s, outcome = 'escorted_home' WHERE id = %s", units[0], found)
        self.db.sql("UPDATE reports SET reporter_unit_id = NULL WHERE id = %s", other)
        self.wait_for("SELECT DISTINCT patrol FROM patrol_visits WHERE plan_id = %s", plan["id"],
                      want=lambda rows: len(rows) == 2)
        r = self.srv.request("GET", "/api/v1/campaigns/%d/summary" % camp["id"], token=self.disp)
        self.assertEqual(r.status, 200, r)
        s = r.json()
        total = s["total"]
        self.assertEqual([c["county_code"] for c in s["counties"]], ["320706"])
        self.assertEqual(s["counties"][0], dict(total, county_code="320706"))
        # the recount from the raw tables
        visits = self.db.sql("SELECT patrol, target_id, unit_ids FROM patrol_visits WHERE plan_id = %s", plan["id"])
        patrols = {v["patrol"] for v in visits}
        staff = places = 0
        people = set()
        for p in patrols:
            took = {u for v in visits if v["patrol"] == p for u in v["unit_ids"]}
            places += len({v["target_id"] for v in visits if v["patrol"] == p})
            ends = self.db.value("SELECT ends_at FROM patrol_scored_windows WHERE plan_id = %s AND starts_at = %s",
                                 plan["id"], p)
            staff += self.db.value("SELECT count(DISTINCT m.user_id) FROM shifts s JOIN shift_members m ON"
                                   " m.shift_id = s.id WHERE s.unit_id = ANY(%s::bigint[]) AND s.starts_at < %s"
                                   " AND s.ends_at > %s", "{%s}" % ",".join(map(str, took)), ends, p)
            people |= {x["id"] for x in self.db.sql("SELECT id FROM reports WHERE reporter_unit_id = ANY(%s::bigint[])"
                                                      " AND received_at >= %s AND received_at < %s",
                                                      "{%s}" % ",".join(map(str, took)), p, ends)}
        self.assertEqual((total["patrols"], total["staff_turns"], total["places_visited"], total["people_found"]),
                         (len(patrols), staff, places, len(people)))
        self.assertEqual((total["patrols"], total["staff_turns"], total["places_visited"], total["people_found"]),
                         (2, 6, 2, 1))
        self.assertEqual(total["outcomes"], {"escorted_home": 1})
        # hours and km: the group's, counted once (what the engine says of each window)
        w = self.srv.request("GET", "/api/v1/patrol-plans/%d/walked?from=%s&to=%s"
                             % (plan["id"], tp.iso(w1 - 60), tp.iso(w2 + 9100)), token=self.disp).json()
        self.assertAlmostEqual(total["km"], sum(x["km"] for x in w["windows"]), delta=0.01)
        self.assertAlmostEqual(total["hours"], sum(x["active_min"] for x in w["windows"]) / 60, delta=0.02)
        self.assertLess(total["km"], 2 * 0.9)   # two units side by side: one path per window, not two
        # another county's dispatcher: 404; the list shows it to its own
        r = self.srv.request("GET", "/api/v1/campaigns/%d/summary" % camp["id"], token=self.srv.login("dispatcher_gn"))
        self.assertEqual(r.status, 404)
        ids = [c["id"] for c in self.srv.request("GET", "/api/v1/campaigns", token=self.disp).json()["items"]]
        self.assertIn(camp["id"], ids)
        got = [c for c in self.srv.request("GET", "/api/v1/campaigns", token=self.disp).json()["items"]
               if c["id"] == camp["id"]][0]
        self.assertEqual(got["plan_ids"], [plan["id"]])
