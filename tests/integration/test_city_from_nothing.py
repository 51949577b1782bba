"""test_city_from_nothing.py - issue 17's "done": a city put into service from nothing, through the public
surface only (the command line and the HTTP API), on a database with the migrations and no demo data: the
division list and county boundaries imported from files, the first admin from `patrold user add`, stations
from a file, two agencies, users, two units with members and a roster; a patrol user of the new unit signs
in, sees its unit_id, posts positions and a report that routes to the imported station; a dispatcher (and a
supervisor) of another county can neither see nor change any of it (404); every administrative write is in
the audit trail with before and after."""
import datetime
import os
import tempfile
import unittest

import harness

SEED = os.path.join(harness.ROOT, "migrations", "seed")
HAIZHOU = (119.163509, 34.572274)   # inside 海州区 320706 (real boundary)
GUANNAN = (119.315651, 34.087134)   # inside 灌南县 320724
PASSWORD = "a long enough password"


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


class CityFromNothing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db(seeded=False)
        cls.srv = None

    @classmethod
    def tearDownClass(cls):
        if cls.srv:
            cls.srv.stop()
        cls.db.drop()

    def cmd(self, *args, input=None):
        r = harness.run_patrold(list(args), self.db, input=input)
        self.assertEqual(r.returncode, 0, "patrold %s:\n%s" % (" ".join(args), r.stderr))
        return r

    def api(self, method, path, token, body=None, want=None):
        r = self.srv.request(method, path, json_body=body, token=token)
        if want is not None:
            self.assertEqual(r.status, want, "%s %s: %r" % (method, path, r))
        return r

    def test_city_from_nothing(self):
        # ---- the command line: boundaries, the first admin, stations ----
        self.assertEqual(self.db.value("SELECT count(*) FROM divisions"), 0)
        self.cmd("import-divisions", os.path.join(SEED, "lianyungang-divisions.csv"))
        self.cmd("import-divisions", os.path.join(SEED, "lianyungang-counties.geojson"), "--crs", "gcj02",
                 "--level", "county")
        self.cmd("user", "add", "chief", "--role", "admin", "--division", "3207", input=PASSWORD + "\n")
        stations = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8")
        self.addCleanup(os.unlink, stations.name)
        stations.write("code,name,division_code,lon,lat,phone,beds\n"
                       "HZ-JZZ,海州区救助站,320706,%f,%f,0518-85811111,60\n"
                       "GN-JZZ,灌南县救助站,320724,%f,%f,0518-83222222,30\n" % (HAIZHOU + GUANNAN))
        stations.close()
        out = self.cmd("import-stations", stations.name).stdout
        self.assertIn("2 new, 0 changed, 0 unchanged", out)

        # ---- the API: agencies, users, units with members, a roster ----
        self.srv = harness.Server(self.db)
        chief = self.srv.login("chief", PASSWORD)
        st = {s["code"]: s for s in self.api("GET", "/api/v1/stations", chief, want=200).json()["items"]}
        self.assertEqual(sorted(st), ["GN-JZZ", "HZ-JZZ"])
        hz = st["HZ-JZZ"]
        self.assertEqual((hz["tier"], hz["division_code"], hz["coverage"]), ("county", "320706000000", None))
        agencies = [self.api("POST", "/api/v1/agencies", chief, {"name": n, "kind": k, "division_code": "320706"},
                             want=201).json()["id"]
                    for n, k in (("海州区民政局", "civil_affairs"), ("海州区公安分局", "police"))]

        def user(name, role, division, token=chief):
            return self.api("POST", "/api/v1/users", token, {"username": name, "password": PASSWORD, "role": role,
                                                               "division_code": division}, want=201).json()["id"]
        user("sup_hz", "supervisor", "320706")
        sup = self.srv.login("sup_hz", PASSWORD)
        user("disp_hz", "dispatcher", "320706", sup)
        user("disp_gn", "dispatcher", "320724")
        user("sup_gn", "supervisor", "320724")
        p1, p2, p3 = (user(n, "patrol", "320706", sup) for n in ("zhang", "li", "wang"))
        units = [self.api("POST", "/api/v1/units", sup,
                          {"name": name, "callsign": cs, "station_id": hz["id"], "agency_id": ag, "vehicle": car,
                           "members": members}, want=201).json()
                 for name, cs, ag, car, members in (("海州联合巡查一组", "HZJ-1", agencies[0], "苏G·J1001", [p1, p2]),
                                                    ("海州联合巡查二组", "HZJ-2", agencies[1], "苏G·J1002", [p3]))]
        self.assertEqual(sorted(m["id"] for m in units[0]["members"]), [p1, p2])
        now = datetime.datetime.now(datetime.timezone.utc)
        shifts = [self.api("POST", "/api/v1/units/%d/shifts" % u["id"], sup,
                           {"starts_at": iso(now - datetime.timedelta(minutes=5)),
                            "ends_at": iso(now + datetime.timedelta(hours=8))}, want=201).json() for u in units]
        disp = self.srv.login("disp_hz", PASSWORD)
        on = self.api("GET", "/api/v1/shifts", disp, want=200).json()["items"]
        self.assertEqual(sorted(i["unit_id"] for i in on), sorted(u["id"] for u in units))
        self.assertEqual(sorted(m["id"] for i in on for m in i["members"]), sorted([p1, p2, p3]))

        # ---- a patrol of the new unit: its unit, positions, a report routed to the imported station ----
        r = self.srv.request("POST", "/api/v1/auth/login", json_body={"username": "zhang", "password": PASSWORD})
        self.assertEqual(r.json()["user"]["unit_id"], units[0]["id"])
        zhang = r.json()["token"]
        self.assertEqual(self.api("GET", "/api/v1/auth/me", zhang, want=200).json()["unit_id"], units[0]["id"])
        fixes = [{"location": {"lon": HAIZHOU[0] + k * 1e-4, "lat": HAIZHOU[1]},
                  "at": iso(now - datetime.timedelta(seconds=60 - k * 10))} for k in range(3)]
        r = self.api("POST", "/api/v1/units/%d/positions" % units[0]["id"], zhang, {"positions": fixes}, want=200)
        self.assertEqual((r.json()["stored"], r.json()["moved"]), (3, True))
        report = self.srv.create_report({"client_id": "9b3c1f3e-0d6c-4b8e-9a55-3d2f1c0b7a11", "category": "lost_elderly",
                                         "location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]},
                                         "observed_at": iso(now), "description": "桥下老人"}, zhang)
        self.assertEqual((report["responsible_station"]["id"], report["responsible_station"]["tier"]),
                         (hz["id"], "county"))
        self.assertEqual(self.db.value("SELECT reporter_unit_id FROM reports WHERE id = %s", report["id"]),
                         units[0]["id"])

        # ---- another county sees none of it and changes none of it ----
        gn = self.srv.login("disp_gn", PASSWORD)
        sgn = self.srv.login("sup_gn", PASSWORD)
        refused = [
            ("GET", "/api/v1/reports/%d" % report["id"], gn, None),
            ("POST", "/api/v1/reports/%d/events" % report["id"], gn, {"type": "acknowledge"}),
            ("GET", "/api/v1/units/%d" % units[0]["id"], gn, None),
            ("PATCH", "/api/v1/units/%d" % units[0]["id"], gn, {"name": "改名"}),
            ("PUT", "/api/v1/units/%d/members" % units[0]["id"], gn, {"members": []}),
            ("POST", "/api/v1/units/%d/status" % units[0]["id"], gn, {"status": "busy"}),
            ("POST", "/api/v1/units/%d/shifts" % units[0]["id"], gn,
             {"starts_at": iso(now + datetime.timedelta(days=1)), "ends_at": iso(now + datetime.timedelta(days=1, hours=1))}),
            ("GET", "/api/v1/units/%d/shifts" % units[0]["id"], gn, None),
            ("PATCH", "/api/v1/shifts/%d" % shifts[0]["id"], gn, {"note": "x"}),
            ("GET", "/api/v1/stations/%d" % hz["id"], gn, None),
            ("PATCH", "/api/v1/stations/%d" % hz["id"], sgn, {"phone": "1"}),
            ("PATCH", "/api/v1/agencies/%d" % agencies[0], sgn, {"name": "改名"}),
            ("PATCH", "/api/v1/users/%d" % p1, sgn, {"disabled": True}),
            ("POST", "/api/v1/users/%d/reset-code" % p1, sgn, None),
        ]
        for method, path, token, body in refused:
            r = self.srv.request(method, path, json_body=body, token=token)
            self.assertEqual((r.status, r.error), (404, "not_found"), "%s %s: %r" % (method, path, r))
        for path, ours in (("/api/v1/units", {u["id"] for u in units}), ("/api/v1/stations", {hz["id"]}),
                           ("/api/v1/agencies", set(agencies)), ("/api/v1/shifts", {s["id"] for s in shifts}),
                           ("/api/v1/reports", {report["id"]})):
            seen = {i["id"] for i in self.api("GET", path + "?limit=500", gn, want=200).json()["items"]}
            self.assertEqual(seen & ours, set(), path)
        self.assertEqual([i["code"] for i in self.api("GET", "/api/v1/stations", gn, want=200).json()["items"]],
                         ["GN-JZZ"])
        seen = {i["id"] for i in self.api("GET", "/api/v1/users?limit=500", sgn, want=200).json()["items"]}
        self.assertEqual(seen & {p1, p2, p3}, set())
        self.assertEqual(self.db.value("SELECT name FROM units WHERE id = %s", units[0]["id"]), "海州联合巡查一组")

        # ---- every administrative write is in the audit with before and after ----
        self.api("PATCH", "/api/v1/units/%d" % units[1]["id"], sup, {"vehicle": "苏G·J2002"}, want=200)
        trail = self.api("GET", "/api/v1/audit?kind=write&limit=500", chief, want=200).json()["items"]
        by = {}
        for i in trail:
            by.setdefault((i["entity"], i["action"]), []).append(i)
        self.assertEqual({k: len(v) for k, v in by.items()},
                         {("station", "station.create"): 2, ("agency", "agency.create"): 2,
                          ("user", "user.create"): 7, ("unit", "unit.create"): 2, ("shift", "shift.create"): 2,
                          ("unit", "unit.update"): 1})
        for i in trail:
            self.assertIsNotNone(i["after"], i)
            self.assertEqual(i["after"]["id"], i["entity_id"], i)
            self.assertEqual(i["before"] is None, i["action"].endswith(".create"), i)
        upd = by[("unit", "unit.update")][0]
        self.assertEqual((upd["before"]["vehicle"], upd["after"]["vehicle"], upd["username"]),
                         ("苏G·J1002", "苏G·J2002", "sup_hz"))
        self.assertEqual({i["username"] for i in by[("station", "station.create")]}, {"import-stations"})
        sign_ins = self.api("GET", "/api/v1/audit?kind=sign_in&user=zhang", chief, want=200).json()["items"]
        self.assertEqual([i["action"] for i in sign_ins], ["auth.login"])


if __name__ == "__main__":
    unittest.main()
