"""test_patrols.py - joint patrol plans (issue 18): POST/GET/PATCH /api/v1/patrol-plans and what was
walked, GET /api/v1/patrol-plans/{id}/walked, from fixes posted through the API whose answers are
known: two units of two agencies (police, civil affairs) walking together 12 minutes inside a 100 m
circle are ONE visit with both agencies, their km counted once; a plan with a second target nobody
reached is partial; a 15-minute dwell target is not met by that walk; a window with no fixes is
missed; a walk just outside the circle counts none; two units inside only partly together (one with
a 60 s GPS gap) make one visit with the union's dwell; the time inside agrees with a PostGIS oracle. Another county's dispatcher sees none of it
(404), and bad bodies answer 400 naming their field and change nothing."""
import datetime
import math
import time
import unittest

import harness

P = (119.163509, 34.572274)        # 海州区 320706
M_LON = 1 / (111320 * math.cos(math.radians(P[1])))  # degrees of longitude per metre here
M_LAT = 1 / 110540


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def city(t):
    """HH:MM of t in the deployment's zone (Asia/Shanghai)."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone(datetime.timedelta(hours=8))).strftime("%H:%M")


def at(east_m, north_m=0.0):
    return (P[0] + east_m * M_LON, P[1] + north_m * M_LAT)


def fixes(points):
    return {"positions": [{"location": {"lon": x, "lat": y}, "at": iso(t)} for t, x, y in points]}


def circle(lon, lat, r=100):
    return {"point": {"lon": lon, "lat": lat}, "radius_m": r}


class PatrolsTest(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.srv.login("admin")
        cls.disp = cls.srv.login("dispatcher")
        cls.disp_gn = cls.srv.login("dispatcher_gn")
        station = cls.db.value("SELECT id FROM stations WHERE division_code = '320706000000' ORDER BY id LIMIT 1")
        cls.units, cls.later, cls.kinds = [], [], ("police", "civil_affairs")
        for kind in cls.kinds:
            r = cls.srv.request("POST", "/api/v1/agencies", {"name": "联合巡查" + kind, "kind": kind,
                                                             "division_code": "320706"}, token=cls.admin)
            assert r.status == 201, r
            agency = r.json()["id"]
            for group, n in ((cls.units, ""), (cls.later, "二")):
                r = cls.srv.request("POST", "/api/v1/units", {"name": "联合巡查%s队" % n + kind, "station_id": station,
                                                              "agency_id": agency}, token=cls.admin)
                assert r.status == 201, r
                group.append(r.json()["id"])
        # the window: 5 hours ago for an hour, on a whole minute
        cls.ws = (int(time.time()) // 60) * 60 - 5 * 3600
        cls.we = cls.ws + 3600
        # both units: from 400 m west (5 minutes before) into the circle, 12 minutes inside moving
        # east over 60 m and back, out 400 m east 5 minutes later; the civil affairs unit 3 m north
        cls.enter, cls.leave = cls.ws + 600, cls.ws + 600 + 12 * 60
        for k, unit in enumerate(cls.units):
            north = 3.0 * k
            pts = [(cls.enter - 300, *at(-400, north))]
            for s in range(0, 12 * 60 + 1, 30):
                e = -30 + 60 * (s / 720.0) if s <= 360 else 30 - 60 * ((s - 360) / 720.0)
                pts.append((cls.enter + s, *at(e, north)))
            pts.append((cls.leave + 300, *at(400, north)))
            r = cls.srv.request("POST", "/api/v1/units/%d/positions" % unit, fixes(pts), token=cls.admin)
            assert r.status == 200, r
        cls.path_km = (400 + 30 + 60 + 30 + 400) / 1000.0  # one unit's way
        # the later pair, 1.5 km east: the police unit inside 8 minutes from e3 (a 60 s GPS gap
        # inside), the civil affairs one from e3 + 5 min to e3 + 13 min; each comes from 400 m
        # west in 5 minutes and leaves 400 m east in 5
        cls.e3 = cls.ws + 1800
        for k, (unit, start) in enumerate(zip(cls.later, (cls.e3, cls.e3 + 300))):
            pts = [(start - 300, *at(1500 - 400, 3.0 * k))]
            for s in range(0, 8 * 60 + 1, 30):
                if k == 0 and s == 120:
                    continue
                pts.append((start + s, *at(1500 - 30 + 60 * s / 480.0, 3.0 * k)))
            pts.append((start + 480 + 300, *at(1500 + 400, 3.0 * k)))
            r = cls.srv.request("POST", "/api/v1/units/%d/positions" % unit, fixes(pts), token=cls.admin)
            assert r.status == 200, r

    def plan(self, targets, windows=None, token=None, **extra):
        body = {"name": "联合夜巡", "division_code": "320706", "unit_ids": self.units,
                "windows": windows or [{"starts_at": iso(self.ws), "ends_at": iso(self.we)}],
                "targets": targets}
        body.update(extra)
        return self.srv.request("POST", "/api/v1/patrol-plans", body, token=token or self.disp)

    def walked(self, plan_id, token=None):
        return self.srv.request("GET", "/api/v1/patrol-plans/%d/walked?from=%s&to=%s"
                                % (plan_id, iso(self.ws - 86400), iso(self.ws + 86400)), token=token or self.disp)

    def target(self, dwell=10, where=P, agencies=("police", "civil_affairs"), name="桥下"):
        return {"name": name, "area": circle(*where), "visits_per_week": 3, "min_dwell_min": dwell,
                "agencies": list(agencies)}

    def test_fully_walked_joint_visit_counted_once(self):
        r = self.plan([self.target()])
        self.assertEqual(r.status, 201, r)
        plan = r.json()
        self.assertEqual(plan["unit_ids"], sorted(self.units))
        self.assertEqual(sorted(u["agency_kind"] for u in plan["units"]), sorted(self.kinds))
        self.assertAlmostEqual(plan["targets"][0]["area_m2"], math.pi * 100 ** 2, delta=500)
        w = self.walked(plan["id"])
        self.assertEqual(w.status, 200, w)
        body = w.json()
        self.assertEqual(body["status"], "complete", body)
        self.assertEqual(len(body["windows"]), 1)
        win = body["windows"][0]
        self.assertEqual(win["status"], "complete")
        self.assertEqual(sorted(win["unit_ids"]), sorted(self.units))
        visits = win["targets"][0]["visits"]
        self.assertEqual(len(visits), 1, visits)  # two units there together: one visit
        v = visits[0]
        self.assertTrue(v["counted"])
        self.assertEqual(sorted(v["unit_ids"]), sorted(self.units))
        self.assertEqual(sorted(v["agencies"]), sorted(self.kinds))
        # inside from about 70 m of the 400 m approach (5 min) before `enter` to as long after leave
        extra = 70 / 400 * 300
        self.assertAlmostEqual(v["dwell_min"], (12 * 60 + 2 * extra) / 60, delta=0.6)
        self.assertAlmostEqual(win["targets"][0]["inside_min"], v["dwell_min"], delta=0.05)
        self.assertEqual(win["targets"][0]["verified"], 1)
        # the PostGIS oracle: each unit's time inside, from ST_Intersection of its steps with the area
        # (a step's time times its share inside); the two walk 3 m apart, so the union is about the
        # longer of the two
        rows = self.db.sql(
            "WITH f AS (SELECT unit_id, at, geom, lag(at) OVER w AS at0, lag(geom) OVER w AS g0"
            " FROM unit_positions WHERE unit_id IN (%s, %s) WINDOW w AS (PARTITION BY unit_id ORDER BY at)),"
            " s AS (SELECT f.unit_id, extract(epoch FROM f.at - f.at0) AS dt,"
            " ST_Transform(ST_MakeLine(f.g0, f.geom), 4549) AS seg,"
            " (SELECT ST_Transform(geom, 4549) FROM patrol_targets WHERE id = %s) AS area FROM f"
            " WHERE f.g0 IS NOT NULL)"
            " SELECT unit_id, sum(dt * ST_Length(ST_Intersection(seg, area)) / ST_Length(seg)) / 60 AS m"
            " FROM s WHERE ST_Length(seg) > 0 GROUP BY unit_id", self.units[0], self.units[1],
            plan["targets"][0]["id"])
        oracle = max(r["m"] for r in rows)
        self.assertEqual(len(rows), 2)
        self.assertAlmostEqual(win["targets"][0]["inside_min"], oracle, delta=0.2)
        # km and hours of the group, not of each unit: one unit's way, not two
        self.assertAlmostEqual(win["km"], self.path_km, delta=0.1)
        self.assertAlmostEqual(win["active_min"], 22, delta=0.5)

    def test_weekly_window_in_the_city_time(self):
        cty = datetime.datetime.fromtimestamp(self.ws, datetime.timezone(datetime.timedelta(hours=8)))
        weekly = {"days": [cty.isoweekday()], "from": city(self.ws), "to": city(self.we)}
        r = self.srv.request("POST", "/api/v1/patrol-plans",
                             {"name": "每周夜巡", "division_code": "320706", "unit_ids": self.units,
                              "weekly": weekly, "starts_on": cty.date().isoformat(),
                              "targets": [self.target()]}, token=self.disp)
        self.assertEqual(r.status, 201, r)
        body = self.walked(r.json()["id"]).json()
        # the day before and the day after are other weekdays: one window, the walked one
        self.assertEqual([(w["starts_at"], w["status"]) for w in body["windows"]],
                         [(datetime.datetime.fromtimestamp(self.ws, cty.tzinfo).isoformat(), "complete")], body)

    def test_units_overlapping_partly_make_one_visit(self):
        r = self.plan([self.target(where=at(1500))], unit_ids=self.later)
        self.assertEqual(r.status, 201, r)
        win = self.walked(r.json()["id"]).json()["windows"][0]
        self.assertEqual(win["status"], "complete", win)
        visits = win["targets"][0]["visits"]
        self.assertEqual(len(visits), 1, visits)  # a 60 s gap inside and a hand-over: one visit
        v = visits[0]
        self.assertTrue(v["counted"])
        self.assertEqual(sorted(v["unit_ids"]), sorted(self.later))
        self.assertEqual(sorted(v["agencies"]), sorted(self.kinds))
        edge = 70 / 370 * 300  # seconds inside on the way in (and out): 70 m of a 370 m step
        self.assertAlmostEqual(v["dwell_min"], (13 * 60 + 2 * edge) / 60, delta=0.3)
        self.assertEqual(self.db.value("SELECT count(*) FROM unit_positions WHERE unit_id = %s",
                                       self.later[0]), 18)

    def test_partial_and_dwell_and_outside(self):
        far = at(2000)
        r = self.plan([self.target(), self.target(name="车站广场", where=far)])
        self.assertEqual(r.status, 201, r)
        win = self.walked(r.json()["id"]).json()["windows"][0]
        self.assertEqual(win["status"], "partial")
        self.assertEqual([t["verified"] for t in win["targets"]], [1, 0])
        self.assertEqual(win["targets"][1]["visits"], [])
        # a 15-minute dwell is not met by the walk (a visit, not counted): partial
        r = self.plan([self.target(dwell=15)])
        body = self.walked(r.json()["id"]).json()
        self.assertEqual(body["status"], "partial")
        v = body["windows"][0]["targets"][0]["visits"]
        self.assertEqual((len(v), v[0]["counted"]), (1, False))
        # a required agency that was not there: not counted
        r = self.plan([self.target(agencies=("health",))])
        v = self.walked(r.json()["id"]).json()["windows"][0]["targets"][0]["visits"]
        self.assertEqual((len(v), v[0]["counted"]), (1, False))
        # a circle whose edge is 20 m north of the walk: nobody inside, missed
        r = self.plan([self.target(where=at(0, 123))])
        body = self.walked(r.json()["id"]).json()
        self.assertEqual(body["status"], "missed", body)
        self.assertEqual(body["windows"][0]["targets"][0]["inside_min"], 0)

    def test_missed_window(self):
        windows = [{"starts_at": iso(self.ws - 7200), "ends_at": iso(self.ws - 3600)}]
        r = self.plan([self.target()], windows=windows)
        self.assertEqual(r.status, 201, r)
        body = self.walked(r.json()["id"]).json()
        self.assertEqual(body["status"], "missed")
        self.assertEqual(body["windows"][0]["unit_ids"], [])
        self.assertEqual(body["windows"][0]["km"], 0)
        # the walk inside the target in the window, but before the target's time of day: missed
        r = self.plan([dict(self.target(), time_window={"from": city(self.ws + 1800), "to": city(self.we)})])
        self.assertEqual(r.status, 201, r)
        body = self.walked(r.json()["id"]).json()
        self.assertEqual(body["status"], "missed", body)
        self.assertEqual(len(body["windows"][0]["unit_ids"]), 2)

    def test_patch_and_list(self):
        r = self.plan([self.target(), self.target(name="车站广场", where=at(2000))])
        plan = r.json()
        keep = plan["targets"][0]["id"]
        r = self.srv.request("PATCH", "/api/v1/patrol-plans/%d" % plan["id"],
                             {"name": "联合夜巡（改）", "weekly": {"days": [1, 5, 6], "from": "20:00", "to": "02:00"},
                              "targets": [dict(self.target(dwell=5), id=keep)]}, token=self.disp)
        self.assertEqual(r.status, 200, r)
        got = r.json()
        self.assertEqual(got["name"], "联合夜巡（改）")
        self.assertEqual(got["revision"], plan["revision"] + 1)
        self.assertEqual(got["weekly"], {"days": [1, 5, 6], "from": "20:00", "to": "02:00"})
        self.assertEqual([(t["id"], t["min_dwell_min"]) for t in got["targets"]], [(keep, 5)])
        self.assertEqual(got["windows"], plan["windows"])
        r = self.srv.request("GET", "/api/v1/patrol-plans/%d" % plan["id"], token=self.disp)
        self.assertEqual(r.json(), got)
        # a target id of another plan: 404 naming it, nothing changed
        other = self.plan([self.target()]).json()["targets"][0]["id"]
        r = self.srv.request("PATCH", "/api/v1/patrol-plans/%d" % plan["id"],
                             {"name": "x", "targets": [dict(self.target(), id=other)]}, token=self.disp)
        self.assertEqual((r.status, r.json()["error"]["field"]), (404, "targets[0].id"), r)
        self.assertEqual(self.srv.request("GET", "/api/v1/patrol-plans/%d" % plan["id"], token=self.disp).json(), got)
        audit = self.db.sql("SELECT action FROM audit WHERE entity = 'patrol_plan' AND entity_id = %s ORDER BY id",
                            plan["id"])
        self.assertEqual([a["action"] for a in audit], ["patrol_plan.create", "patrol_plan.update"])
        # windows cleared: the weekly ones stay; then no weekly either: refused, nothing changed
        r = self.srv.request("PATCH", "/api/v1/patrol-plans/%d" % plan["id"], {"windows": None}, token=self.disp)
        self.assertEqual((r.status, r.json()["windows"], r.json()["weekly"]), (200, [], got["weekly"]), r)
        r = self.srv.request("PATCH", "/api/v1/patrol-plans/%d" % plan["id"], {"weekly": None}, token=self.disp)
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "windows"), r)
        self.assertEqual(self.db.value("SELECT weekly_days FROM patrol_plans WHERE id = %s", plan["id"]), [1, 5, 6])
        r = self.srv.request("GET", "/api/v1/patrol-plans?unit=%d&limit=200" % self.units[0], token=self.disp)
        self.assertIn(plan["id"], [p["id"] for p in r.json()["items"]])
        r = self.srv.request("GET", "/api/v1/patrol-plans", token=self.disp_gn)
        self.assertEqual(r.json()["items"], [])

    def test_other_county_gets_404(self):
        plan = self.plan([self.target()]).json()
        for method, path, body in (("GET", "/api/v1/patrol-plans/%d" % plan["id"], None),
                                   ("GET", "/api/v1/patrol-plans/%d/walked" % plan["id"], None),
                                   ("PATCH", "/api/v1/patrol-plans/%d" % plan["id"], {"name": "夺"})):
            r = self.srv.request(method, path, body, token=self.disp_gn)
            self.assertEqual(r.status, 404, (method, path, r))
        self.assertEqual(self.db.value("SELECT name FROM patrol_plans WHERE id = %s", plan["id"]), "联合夜巡")
        # its own county's plan naming 海州区 units: 404 on the unit
        r = self.plan([self.target(where=(119.315651, 34.087134))], token=self.disp_gn, division_code="320724")
        self.assertEqual((r.status, r.json()["error"]["field"]), (404, "unit_ids[0]"), r)
        # a 海州区 plan: 404 on the division
        r = self.plan([self.target()], token=self.disp_gn)
        self.assertEqual((r.status, r.json()["error"]["field"]), (404, "division_code"), r)

    def test_bad_bodies_name_their_field(self):
        before = self.db.value("SELECT count(*) FROM patrol_plans")
        back = [{"starts_at": iso(self.we), "ends_at": iso(self.ws)}]
        bowtie = {"type": "Polygon", "coordinates": [[list(at(0, 0)), list(at(100, 100)), list(at(100, 0)),
                                                      list(at(0, 100)), list(at(0, 0))]]}
        cases = [
            (dict(windows=back), [self.target()], "windows[0].ends_at"),
            ({}, [dict(self.target(), area={"polygon": bowtie})], "targets[0].area.polygon"),
            ({}, [dict(self.target(), min_dwell_min=0)], "targets[].min_dwell_min"),  # the door names an item field so
            ({}, [dict(self.target(), area=dict(circle(*P), division_code="320706"))], "targets[0].area"),
            ({}, [dict(self.target(), area={"point": {"lon": P[0], "lat": P[1]}})], "targets[0].area.radius_m"),
            ({}, [dict(self.target(), time_window={"from": "20:00", "to": "20:00"})], "targets[0].time_window"),
            ({}, [dict(self.target(), agencies=["police", "police"])], "targets[].agencies"),
            (dict(ends_on="2020-01-01", starts_on="2020-02-01"), [self.target()], "ends_on"),
            ({}, [], "targets"),
        ]
        for extra, targets, field in cases:
            r = self.plan(targets, **extra)
            self.assertEqual(r.status, 400, (field, r))
            self.assertEqual(r.json()["error"]["field"], field, r)
        r = self.srv.request("POST", "/api/v1/patrol-plans", {"name": "x", "division_code": "320706",
                                                              "unit_ids": self.units, "targets": [self.target()]},
                             token=self.disp)
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "windows"), r)
        r = self.srv.request("GET", "/api/v1/patrol-plans/1/walked?from=%s&to=%s"
                             % (iso(self.ws), iso(self.ws + 40 * 86400)), token=self.disp)
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "to"), r)
        self.assertEqual(self.db.value("SELECT count(*) FROM patrol_plans"), before)


if __name__ == "__main__":
    unittest.main()
