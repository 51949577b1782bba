"""test_routes_roles.py - every route in service/door/routes.c, asked with no token and as each demo role,
on 海州区 data (so dispatcher_gn, of 灌南县, is asking about another county's data): the answer must
be the one in CASES below. A route in the code without a case fails the test by name; so does a case
for a route the code no longer has, and a route /api/v1/openapi.json does not list (or lists extra).

Adding a route = adding ONE line to CASES:  "METHOD pattern": C(path, statuses, body=...),
  path      the pattern with its captures filled: {hz} a 海州区 report (made by `patrol`), {new} a
            fresh 海州区 report for every request, {gn} a 灌南县 report, {photo} a photo of {hz},
            {o311} an Open311 request id (also its token); anything else is literal;
  statuses  seven statuses in the order of WHO (no token first), or one status for all seven;
  body      a dict (sent as JSON), bytes, or a function of the role giving either;
  ctype     its Content-Type when it is not JSON; fresh=True signs in anew for the request (logout).
"""
import json
import os
import re
import struct
import time
import unittest
import urllib.parse
import uuid
import zlib

import harness

WHO = ("none", "patrol", "community", "dispatcher", "supervisor", "admin", "dispatcher_gn")
HAIZHOU = (119.163509, 34.572274)   # 海州区 320706
GUANNAN = (119.315651, 34.087134)   # 灌南县 320724


def png(red=0xFF):
    """A 1x1 PNG; another `red` is another photo (the same bytes twice on a report are a 200)."""
    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" + bytes([red]) + b"\0\0")) + chunk(b"IEND", b""))


def report(at=HAIZHOU):
    return {"client_id": str(uuid.uuid4()), "category": "vagrant", "description": "桥下 route x role",
            "location": {"lon": at[0], "lat": at[1]}, "observed_at": "2024-05-01T08:00:00+08:00",
            "person": {"sex": "male", "approx_age": 60}}


def C(path, statuses, body=None, ctype=None, fresh=False):
    s = statuses.split()
    if len(s) == 1:
        s = s * len(WHO)
    if len(s) != len(WHO):
        raise ValueError("%s: %d statuses for %d callers" % (path, len(s), len(WHO)))
    return {"path": path, "expect": [int(x) for x in s], "body": body, "ctype": ctype, "fresh": fresh}


FORM = "application/x-www-form-urlencoded"
O311 = lambda who: urllib.parse.urlencode({"api_key": "demo", "service_code": "vagrant", "lat": "34.5722741",
                                          "long": "119.1635093", "description": "route x role"}).encode()
PHONED = lambda: dict(report(), source="phone", channel="12345", contact={"phone": "13912345678"})
LOGIN = lambda who: {"username": who if who != "none" else "no-such-user", "password": "demo"}
ACK = {"type": "acknowledge"}
FIX = {}  # the fixtures of setUpClass, for bodies that name one
NEW_UNIT = lambda who: {"name": "route x role", "station_id": FIX["station"]}
FIXES = lambda who: {"positions": [{"location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]},
                                    "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))}]}
NEW_STATION = lambda who: {"name": "route x role " + who, "division_code": "320706",
                           "location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]}}
NEW_AGENCY = lambda who: {"name": "route x role " + who, "kind": "police", "division_code": "320706"}
NEW_USER = lambda who: {"username": "rxr_" + who, "password": "a long enough password", "role": "patrol",
                        "division_code": "320706"}
RESET = lambda who: {"username": "reset-" + who, "code": "WRONGCODE", "new_password": "a long enough password"}
PLAN = lambda who: {"name": "route x role", "division_code": "320706", "unit_ids": [FIX["unit"]],
                    "windows": [{"starts_at": "2031-03-01T20:00:00+08:00", "ends_at": "2031-03-01T23:00:00+08:00"}],
                    "targets": [{"area": {"point": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]}, "radius_m": 100},
                                 "visits_per_week": 2, "min_dwell_min": 10}]}
CAMPAIGN = lambda who: {"name": "寒冬送温暖", "division_code": "320706", "starts_on": "2026-12-01",
                        "ends_on": "2027-02-28"}
MEMBERS = lambda who: {"members": [FIX["patrol"]]}
SHIFT = lambda who: {"starts_at": "2031-01-%02dT08:00:00+08:00" % (WHO.index(who) + 1),
                     "ends_at": "2031-01-%02dT16:00:00+08:00" % (WHO.index(who) + 1)}

#        who:                                                       none pat com dis sup adm gn
CASES = {
    "GET /healthz":                           C("/healthz", "200"),
    "GET /readyz":                            C("/readyz", "200"),
    "GET /metrics":                           C("/metrics", "200"),
    "GET /api/v1/openapi.json":               C("/api/v1/openapi.json", "200"),
    "GET /api/v1/console":                    C("/api/v1/console", "200"),
    "GET /api/v1/vocabulary":                 C("/api/v1/vocabulary", "200"),
    "POST /api/v1/auth/login":                C("/api/v1/auth/login", "401 200 200 200 200 200 200", LOGIN),
    "POST /api/v1/auth/logout":               C("/api/v1/auth/logout", "401 204 204 204 204 204 204", fresh=True),
    "GET /api/v1/auth/me":                    C("/api/v1/auth/me", "401 200 200 200 200 200 200"),
    "GET /api/v1/places/reverse":             C("/api/v1/places/reverse?lon=119.1635&lat=34.5723", "200"),
    # a call taken by phone (staff only; an app report from every role is the batch line below)
    "POST /api/v1/reports":                   C("/api/v1/reports", "401 403 403 201 201 201 201", lambda w: PHONED()),
    "POST /api/v1/reports/batch":             C("/api/v1/reports/batch", "401 200 200 200 200 200 200",
                                                lambda w: {"reports": [report()]}),
    "GET /api/v1/reports/{id}":               C("/api/v1/reports/{hz}", "401 200 404 200 200 200 404"),
    "POST /api/v1/reports/{id}/events":       C("/api/v1/reports/{new}/events", "401 403 404 200 200 200 404", ACK),
    "GET /api/v1/reports/{id}/timeline":      C("/api/v1/reports/{hz}/timeline", "401 200 404 200 200 200 404"),
    "POST /api/v1/reports/{id}/photos":       C("/api/v1/reports/{hz}/photos", "401 201 404 201 201 201 404",
                                                lambda who: png(WHO.index(who)), "image/png"),
    "GET /api/v1/reports/{id}/photos":        C("/api/v1/reports/{hz}/photos", "401 200 404 200 200 200 404"),
    "GET /api/v1/reports/{id}/photos/{photo_id}": C("/api/v1/reports/{hz}/photos/{photo}",
                                                    "401 200 404 200 200 200 404"),
    "GET /api/v1/reports":                    C("/api/v1/reports", "401 200 200 200 200 200 200"),
    "GET /api/v1/reports.geojson":            C("/api/v1/reports.geojson", "401 403 403 200 200 200 200"),
    "GET /api/v1/reports.csv":                C("/api/v1/reports.csv", "401 403 403 200 200 200 200"),
    "POST /api/v1/auth/password":             C("/api/v1/auth/password", "401 400 400 400 400 400 400",
                                                {"current_password": "demo", "new_password": "short"}),
    "GET /api/v1/places":                     C("/api/v1/places?q=%E6%96%B0%E6%B5%A6", "200"),
    "GET /api/v1/divisions/{code}":           C("/api/v1/divisions/320706", "200"),
    "GET /api/v1/divisions/{code}/children":  C("/api/v1/divisions/320706/children", "200"),
    "GET /api/v1/audit":                      C("/api/v1/audit", "401 403 403 403 200 200 403"),
    "POST /api/v1/auth/reset":                C("/api/v1/auth/reset", "400", RESET),
    "GET /api/v1/stations":                   C("/api/v1/stations", "401 200 200 200 200 200 200"),
    "POST /api/v1/stations":                  C("/api/v1/stations", "401 403 403 403 201 201 403", NEW_STATION),
    "GET /api/v1/stations/{id}":              C("/api/v1/stations/{station}", "401 200 404 200 200 200 404"),
    "PATCH /api/v1/stations/{id}":            C("/api/v1/stations/{station}", "401 403 403 403 200 200 403",
                                                {"phone": "0518-85800002"}),
    "GET /api/v1/agencies":                   C("/api/v1/agencies", "401 200 200 200 200 200 200"),
    "POST /api/v1/agencies":                  C("/api/v1/agencies", "401 403 403 403 201 201 403", NEW_AGENCY),
    "PATCH /api/v1/agencies/{id}":            C("/api/v1/agencies/{agency}", "401 403 403 403 200 200 403",
                                                {"kind": "civil_affairs"}),
    "GET /api/v1/users":                      C("/api/v1/users", "401 403 403 403 200 200 403"),
    "POST /api/v1/users":                     C("/api/v1/users", "401 403 403 403 201 201 403", NEW_USER),
    "PATCH /api/v1/users/{id}":               C("/api/v1/users/{patrol}", "401 403 403 403 200 200 403",
                                                {"disabled": False}),
    "POST /api/v1/users/{id}/reset-code":     C("/api/v1/users/{patrol}/reset-code", "401 403 403 403 201 201 403"),
    "PATCH /api/v1/units/{id}":               C("/api/v1/units/{unit}", "401 403 403 200 200 200 404",
                                                {"vehicle": "苏G·J0001"}),
    "PUT /api/v1/units/{id}/members":         C("/api/v1/units/{unit}/members", "401 403 403 200 200 200 404", MEMBERS),
    "POST /api/v1/units/{id}/shifts":         C("/api/v1/units/{unit}/shifts", "401 403 403 201 201 201 404", SHIFT),
    "GET /api/v1/units/{id}/shifts":          C("/api/v1/units/{unit}/shifts", "401 403 403 200 200 200 404"),
    "PATCH /api/v1/shifts/{id}":              C("/api/v1/shifts/{shift}", "401 403 403 200 200 200 404", {"note": "早班"}),
    "GET /api/v1/shifts":                     C("/api/v1/shifts", "401 403 403 200 200 200 200"),
    "POST /api/v1/patrol-plans":              C("/api/v1/patrol-plans", "401 403 403 201 201 201 404", PLAN),
    "GET /api/v1/patrol-plans":               C("/api/v1/patrol-plans", "401 403 403 200 200 200 200"),
    "GET /api/v1/patrol-plans/{id}":          C("/api/v1/patrol-plans/{plan}", "401 403 403 200 200 200 404"),
    "PATCH /api/v1/patrol-plans/{id}":        C("/api/v1/patrol-plans/{plan}", "401 403 403 200 200 200 404",
                                                {"name": "改名"}),
    "GET /api/v1/patrol-plans/{id}/walked":   C("/api/v1/patrol-plans/{plan}/walked", "401 403 403 200 200 200 404"),
    "POST /api/v1/campaigns":                 C("/api/v1/campaigns", "401 403 403 201 201 201 404", CAMPAIGN),
    "GET /api/v1/campaigns":                  C("/api/v1/campaigns", "401 403 403 200 200 200 200"),
    "GET /api/v1/campaigns/{id}/summary":     C("/api/v1/campaigns/{campaign}/summary", "401 403 403 200 200 200 404"),
    "GET /api/v1/patrol-ledger":              C("/api/v1/patrol-ledger?week=2026-W49", "401 403 403 200 200 200 200"),
    "GET /api/v1/units":                      C("/api/v1/units", "401 200 200 200 200 200 200"),
    "POST /api/v1/units":                     C("/api/v1/units", "401 403 403 201 201 201 422", NEW_UNIT),
    "GET /api/v1/units/{id}":                 C("/api/v1/units/{unit}", "401 200 404 200 200 200 404"),
    "POST /api/v1/units/{id}/status":         C("/api/v1/units/{unit}/status", "401 200 404 200 200 200 404",
                                                {"status": "available"}),
    "POST /api/v1/units/{id}/positions":      C("/api/v1/units/{unit}/positions", "401 200 404 200 200 200 404",
                                                FIXES),
    "GET /api/v1/units/{id}/track":           C("/api/v1/units/{unit}/track?from=2024-05-01T00:00:00Z"
                                                "&to=2024-05-01T12:00:00Z", "401 200 404 200 200 200 404"),
    "GET /api/v1/reports/{id}/candidates":    C("/api/v1/reports/{hz}/candidates", "401 403 403 200 200 200 404"),
    "GET /api/v1/coverage":                   C("/api/v1/coverage", "401 403 403 200 200 200 200"),
    "GET /api/v1/stats":                      C("/api/v1/stats?by=county", "401 403 403 403 200 200 403"),
    "GET /api/v1/stats/monthly.xlsx":         C("/api/v1/stats/monthly.xlsx?month=2026-11", "401 403 403 403 200 200 403"),
    "GET /api/v1/stats/coverage.geojson":     C("/api/v1/stats/coverage.geojson", "401 403 403 403 200 200 403"),
    "GET /api/v1/analysis/siting":            C("/api/v1/analysis/siting?k=2", "401 403 403 403 200 200 403"),
    "POST /api/v1/events/token":              C("/api/v1/events/token", "401 200 200 200 200 200 200"),
    "GET /api/v1/events":                     C("/api/v1/events?after=x", "400"),   # the door: before the token
    # every role filed a report there (POST /api/v1/reports above): its own is on its map too
    "GET /tiles/{layer}/{z}/{x}/{y}.mvt":     C("/tiles/reports/12/3403/1628.mvt", "401 200 200 200 200 200 200"),
    "GET /open311/v2/discovery.json":         C("/open311/v2/discovery.json", "200"),
    "GET /open311/v2/discovery.xml":          C("/open311/v2/discovery.xml", "200"),
    "GET /open311/v2/services.json":          C("/open311/v2/services.json", "200"),
    "GET /open311/v2/services.xml":           C("/open311/v2/services.xml", "200"),
    "GET /open311/v2/services/{code}.json":   C("/open311/v2/services/vagrant.json", "200"),
    "GET /open311/v2/services/{code}.xml":    C("/open311/v2/services/vagrant.xml", "200"),
    "POST /open311/v2/requests.json":         C("/open311/v2/requests.json", "201", O311, FORM),
    "POST /open311/v2/requests.xml":          C("/open311/v2/requests.xml", "201", O311, FORM),
    "GET /open311/v2/requests.json":          C("/open311/v2/requests.json", "200"),
    "GET /open311/v2/requests.xml":           C("/open311/v2/requests.xml", "200"),
    "GET /open311/v2/requests/{id}.json":     C("/open311/v2/requests/{o311}.json", "200"),
    "GET /open311/v2/requests/{id}.xml":      C("/open311/v2/requests/{o311}.xml", "200"),
    "GET /open311/v2/tokens/{token}.json":    C("/open311/v2/tokens/{o311}.json", "200"),
    "GET /open311/v2/tokens/{token}.xml":     C("/open311/v2/tokens/{o311}.xml", "200"),
}


def code_routes():
    """("METHOD", "pattern") of every row of the route table in service/door/routes.c, in order."""
    with open(os.path.join(harness.ROOT, "service", "door", "routes.c")) as f:
        src = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    table = src[src.index("routes[] = {"):]
    return re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"', table)


class RoutesRoles(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokens = {w: cls.srv.login(w) for w in WHO if w != "none"}
        cls.fix = {"hz": cls.create("patrol"), "gn": cls.create("dispatcher_gn", GUANNAN)}
        r = cls.srv.request("POST", "/api/v1/reports/%s/photos" % cls.fix["hz"], body=png(),
                            headers={"Content-Type": "image/png"}, token=cls.tokens["patrol"])
        if r.status != 201:
            raise AssertionError("photo fixture: %r" % r)
        cls.fix["photo"] = r.json()["id"]
        r = cls.srv.request("POST", "/open311/v2/requests.json", body=O311(None), headers={"Content-Type": FORM})
        if r.status not in (200, 201):
            raise AssertionError("Open311 fixture: %r" % r)
        cls.fix["o311"] = r.json()[0]["service_request_id"]
        cls.fix["unit"] = cls.db.value("SELECT unit_id FROM users WHERE username = 'patrol'")
        cls.fix["station"] = cls.db.value("SELECT station_id FROM units WHERE id = %s", cls.fix["unit"])
        cls.fix["patrol"] = cls.db.value("SELECT id FROM users WHERE username = 'patrol'")
        cls.fix["agency"] = cls.db.value("SELECT min(id) FROM agencies WHERE division_code = '320706000000'")
        r = cls.srv.request("POST", "/api/v1/units/%s/shifts" % cls.fix["unit"], token=cls.tokens["admin"],
                            json_body={"starts_at": "2031-02-01T08:00:00+08:00", "ends_at": "2031-02-01T16:00:00+08:00"})
        if r.status != 201:
            raise AssertionError("shift fixture: %r" % r)
        cls.fix["shift"] = r.json()["id"]
        FIX.update(cls.fix)
        r = cls.srv.request("POST", "/api/v1/patrol-plans", PLAN("admin"), token=cls.tokens["admin"])
        if r.status != 201:
            raise AssertionError("patrol plan fixture: %r" % r)
        cls.fix["plan"] = r.json()["id"]
        r = cls.srv.request("POST", "/api/v1/campaigns", CAMPAIGN("admin"), token=cls.tokens["admin"])
        if r.status != 201:
            raise AssertionError("campaign fixture: %r" % r)
        cls.fix["campaign"] = r.json()["id"]

    @classmethod
    def create(cls, who, at=HAIZHOU):
        r = cls.srv.request("POST", "/api/v1/reports", report(at), token=cls.tokens[who])
        if r.status != 201:
            raise AssertionError("report fixture: %r" % r)
        return r.json()["id"]

    def fill(self, path):
        def one(m):
            name = m.group(1)
            if name == "new":
                return str(self.create("patrol"))
            return str(self.fix[name]) if name in self.fix else m.group(0)
        return re.sub(r"\{(\w+)\}", one, path)

    def test_every_route_has_its_cases(self):
        routes = ["%s %s" % r for r in code_routes()]
        self.assertGreater(len(routes), 20)
        self.assertEqual(len(routes), len(set(routes)), "a route appears twice in routes.c")
        missing = [r for r in routes if r not in CASES]
        stale = [k for k in CASES if k not in routes]
        self.assertEqual(missing, [], "routes in service/door/routes.c without a case in test_routes_roles.py "
                         "CASES (add one line each): %s" % ", ".join(missing))
        self.assertEqual(stale, [], "cases for routes service/door/routes.c does not have: %s" % ", ".join(stale))

    def test_openapi_lists_exactly_the_route_table(self):
        doc = self.srv.request("GET", "/api/v1/openapi.json").json()
        listed = sorted("%s %s" % (m.upper(), p) for p, ops in doc["paths"].items() for m in ops
                        if m in ("get", "post", "put", "patch", "delete"))
        self.assertEqual(listed, sorted("%s %s" % r for r in code_routes()))

    def test_every_route_as_every_role(self):
        bad, checked = [], 0
        for key, case in CASES.items():
            method = key.split(" ", 1)[0]
            got = []
            for who, want in zip(WHO, case["expect"]):
                token = None
                if who != "none":
                    token = self.srv.login(who) if case["fresh"] else self.tokens[who]
                body = case["body"](who) if callable(case["body"]) else case["body"]
                headers = {"Content-Type": case["ctype"]} if case["ctype"] else {}
                if isinstance(body, dict):
                    body, headers = json.dumps(body), {"Content-Type": "application/json"}
                r = self.srv.request(method, self.fill(case["path"]), body=body, headers=headers, token=token)
                checked += 1
                got.append(r.status)
                if r.status != want:
                    bad.append("%s as %s: %d, expected %d: %s" % (key, who, r.status, want, r.body[:160]))
                elif r.status >= 400 and case["path"].startswith("/api/") and r.error is None:
                    bad.append("%s as %s: %d without the error body" % (key, who, r.status))
            if got != case["expect"]:
                bad.append("%s: got %s" % (key, " ".join(map(str, got))))
        print("\nmeasured: routes x roles checked: %d routes x %d callers = %d requests, %d wrong"
              % (len(CASES), len(WHO), checked, len(bad)))
        self.assertEqual(bad, [], "\n".join(bad))
        self.assertEqual(checked, len(CASES) * len(WHO))

    def test_another_countys_ids_look_missing(self):
        """The other way round: 海州区 staff asking for a 灌南县 report, and any caller asking for an
        id that does not exist, get the same 404."""
        for key, case in CASES.items():
            if "{hz}" not in case["path"] or not key.startswith("GET "):
                continue
            for who in ("dispatcher", "patrol"):
                if case["expect"][WHO.index(who)] != 200:
                    continue  # refused by role whatever the id: nothing to tell
                for fixture in ("gn", "missing"):
                    path = case["path"].replace("{hz}", "999999999" if fixture == "missing" else "{gn}")
                    r = self.srv.request("GET", self.fill(path), token=self.tokens[who])
                    self.assertEqual((r.status, r.error), (404, "not_found"), "%s as %s on %s" % (key, who, fixture))


if __name__ == "__main__":
    unittest.main()
