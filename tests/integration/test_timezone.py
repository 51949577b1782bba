"""test_timezone.py - one timestamp form: every timestamp in the replies of the main routes (login, me,
reports, timeline, photos, units, coverage, audit, exports, stream tokens, the event stream, Open311
JSON and XML) is RFC 3339 with the offset of the `timezone` setting: +08:00 by default
(Asia/Shanghai), +00:00 with timezone=UTC; an unknown zone stops patrold at start."""
import datetime
import json
import re
import time
import unittest
import urllib.parse

import harness
from test_events import Sse
from test_photos import png
from test_reports import new_body, point_in_haizhou

# a time of day in any text: JSON strings, XML, CSV
TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d(?::?\d\d)?)?")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(Z|[+-]\d\d:\d\d)$")


def strings(v):
    if isinstance(v, dict):
        for x in v.values():
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)
    elif isinstance(v, str):
        yield v


class OneTimestampForm:
    """Mixed into a TestCase per zone: ENV (server settings) and OFFSET (the suffix every time has)."""
    ENV, OFFSET = {}, None

    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        cls.srv = harness.Server(cls.db, env=dict(cls.ENV, PATROLD_ESCALATE_INTERVAL_MS="600000"))
        cls.seen = {}  # route -> timestamps found in its replies

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    def note(self, route, text):
        """Records every time in text (a reply body) under route; each must be RFC 3339 with OFFSET."""
        if isinstance(text, (dict, list)):
            found = [s for s in strings(text) if TIME.search(s)]
            self.assertTrue(all(RFC3339.match(s) for s in found), (route, found))
        else:
            found = [m.group(0) for m in TIME.finditer(text)]
        for t in found:
            self.assertRegex(t, RFC3339, route)
            self.assertTrue(t.endswith(self.OFFSET), "%s: %s does not end with %s" % (route, t, self.OFFSET))
        self.seen.setdefault(route, []).extend(found)
        return text

    def get(self, path, route, token, status=200):
        r = self.srv.request("GET", path, token=token)
        self.assertEqual(r.status, status, r)
        return self.note(route, r.json())

    def test_every_reply_time_has_the_offset(self):
        srv = self.srv
        r = srv.request("POST", "/api/v1/auth/login", {"username": "dispatcher", "password": "demo"})
        self.note("login", r.json())
        tok = r.json()["token"]
        patrol, admin = srv.login("patrol"), srv.login("admin")
        self.get("/api/v1/auth/me", "me", tok)
        lon, lat = point_in_haizhou(self.db)
        body = new_body(lon, lat, observed_at="2024-05-01T10:00:00+08:00")
        rep = self.note("reports.create", srv.create_report(body, patrol))
        rid = rep["id"]
        ph = srv.request("POST", "/api/v1/reports/%d/photos" % rid, body=png(),
                         headers={"Content-Type": "image/png"}, token=patrol)
        self.assertEqual(ph.status, 201, ph)
        self.note("photos.upload", ph.json())
        self.get("/api/v1/reports/%d/photos" % rid, "photos.list", tok)
        r = srv.request("POST", "/api/v1/reports/%d/events" % rid, {"type": "acknowledge"}, token=tok)
        self.assertEqual(r.status, 200, r)
        self.note("reports.event", r.json())
        got = self.get("/api/v1/reports/%d" % rid, "reports.get", tok)
        # the observed time the phone sent is the same instant, written in the deployment's zone
        at = datetime.datetime.fromisoformat(got["observed_at"].replace("Z", "+00:00"))
        self.assertEqual(at, datetime.datetime(2024, 5, 1, 2, 0, tzinfo=datetime.timezone.utc))
        self.get("/api/v1/reports", "reports.list", tok)
        self.get("/api/v1/reports/%d/timeline" % rid, "timeline", tok)
        for fmt in ("geojson", "csv"):
            r = srv.request("GET", "/api/v1/reports.%s" % fmt, token=tok)
            self.assertEqual(r.status, 200, r)
            self.note("export." + fmt, r.body.decode())
        unit = self.db.value("SELECT unit_id FROM users WHERE username = 'patrol'")
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        fixes = [{"location": {"lon": lon + i * 1e-4, "lat": lat}, "at": (now - datetime.timedelta(seconds=60 - i * 10))
                  .isoformat()} for i in range(3)]
        r = srv.request("POST", "/api/v1/units/%d/positions" % unit, {"positions": fixes}, token=patrol)
        self.assertIn(r.status, (200, 201), r)
        self.note("units.positions", r.json())
        self.get("/api/v1/units", "units.list", tok)
        self.get("/api/v1/units/%d" % unit, "units.get", tok)
        since = urllib.parse.quote((now - datetime.timedelta(hours=1)).isoformat())
        self.get("/api/v1/coverage?since=" + since, "coverage", tok)
        self.get("/api/v1/audit", "audit", admin)
        r = srv.request("POST", "/api/v1/events/token", token=tok)
        self.note("events.token", r.json())
        s = Sse(srv.port, "/api/v1/events?after=0", {"Authorization": "Bearer " + tok})
        try:
            deadline = time.time() + 10
            while time.time() < deadline and len(self.seen.get("events", [])) < 3:
                e = s.next(1)
                if e:
                    self.note("events", e["data"])
        finally:
            s.close()
        key = {"api_key": "demo", "service_code": "vagrant", "lat": str(lat), "long": str(lon)}
        for fmt in ("json", "xml"):
            r = srv.request("POST", "/open311/v2/requests.%s" % fmt, body=urllib.parse.urlencode(key),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(r.status, 201, r)
        got = srv.request("GET", "/open311/v2/requests.json")
        self.note("open311.json", got.json())
        sid = got.json()[0]["service_request_id"]
        self.note("open311.one.json", srv.request("GET", "/open311/v2/requests/%s.json" % sid).json())
        self.note("open311.xml", srv.request("GET", "/open311/v2/requests.xml").body.decode())
        # the console draws its "today" in the deployment's zone
        self.assertEqual(srv.request("GET", "/api/v1/console").json()["timezone"],
                         self.ENV.get("PATROLD_TIMEZONE", "Asia/Shanghai"))
        # every route above wrote at least one time (the test would pass on nothing otherwise)
        quiet = [k for k in ("login", "reports.create", "photos.upload", "photos.list", "reports.event",
                             "reports.get", "reports.list", "timeline", "export.geojson", "export.csv",
                             "units.list", "units.get", "coverage", "audit", "events.token", "events",
                             "open311.json", "open311.one.json", "open311.xml") if not self.seen.get(k)]
        self.assertEqual(quiet, [], "routes whose replies carried no time")
        found = sum(len(v) for v in self.seen.values())
        print("\nmeasured: timezone %s: %d timestamps in %d routes, every one ending %s"
              % (self.ENV.get("PATROLD_TIMEZONE", "default"), found, len(self.seen), self.OFFSET))


class Shanghai(OneTimestampForm, unittest.TestCase):
    ENV, OFFSET = {}, "+08:00"  # the default zone, Asia/Shanghai


class Utc(OneTimestampForm, unittest.TestCase):
    ENV, OFFSET = {"PATROLD_TIMEZONE": "UTC"}, "+00:00"

    def test_unknown_zone_stops_patrold(self):
        for bad in ("Mars/Olympus", "../../etc/passwd", "Asia/Shanghai "):
            r = harness.run_patrold(["migrate"], self.db, env={"PATROLD_TIMEZONE": bad})
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("timezone", r.stderr)


if __name__ == "__main__":
    unittest.main()
