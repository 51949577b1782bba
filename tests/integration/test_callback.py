"""test_callback.py - staff see what an Open311 reporter gave to be called back (issue 17): the
report's `contact` (first_name, last_name, phone, email, address_string) on GET /api/v1/reports/{id}
for dispatchers, supervisors and admins, audited as a personal-data read (call-back audit); never
for patrol or community users, in lists, exports, live events, map tiles or Open311 reads."""
import math
import unittest
import urllib.parse

import harness
from test_reports import new_body, point_in_haizhou

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LON, LAT = 119.1635093, 34.5722741  # 海州区
PHONE, EMAIL, STREET = "13800138000", "wang.fang@example.cn", "新浦区通灌北路88号3单元"
GIVEN = {"first_name": "芳菲", "last_name": "欧阳", "phone": PHONE, "email": EMAIL, "address_string": STREET}


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


class CallbackTest(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = {u: cls.srv.login(u) for u in ("patrol", "community", "dispatcher", "supervisor", "admin",
                                                 "dispatcher_gn")}
        form = {"api_key": "demo", "service_code": "lost_elderly", "lat": str(LAT), "long": str(LON),
                "description": "老人在路口徘徊", "device_id": "phone-7731", "account_id": "acct-9"}
        form.update(GIVEN)
        r = cls.srv.request("POST", "/open311/v2/requests.json", body=urllib.parse.urlencode(form), headers=FORM)
        assert r.status == 201, r
        cls.rid = int(r.json()[0]["service_request_id"])
        r = cls.srv.request("POST", "/open311/v2/requests.json", headers=FORM, body=urllib.parse.urlencode(
            {"api_key": "demo", "service_code": "vagrant", "lat": str(LAT), "long": str(LON), "phone": PHONE}))
        assert r.status == 201, r
        cls.phone_only = int(r.json()[0]["service_request_id"])

    def get(self, who, path):
        return self.srv.request("GET", path, token=self.tok[who])

    def test_staff_see_the_call_back_audited(self):
        for who in ("dispatcher", "supervisor", "admin"):
            r = self.get(who, "/api/v1/reports/%d" % self.rid)
            self.assertEqual(r.status, 200, (who, r))
            self.assertEqual(r.json()["contact"], GIVEN, who)  # what was given, no device or account id
            # one row per reader, action and minute (audit.c): this request's is the row naming it
            rows = self.db.sql("SELECT username, action, report_ids FROM audit WHERE %s = ANY (request_ids)",
                               r.headers["x-request-id"])
            self.assertEqual([(x["username"], x["action"]) for x in rows], [(who, "report.get")])
            self.assertIn(self.rid, rows[0]["report_ids"])
        c = self.get("dispatcher", "/api/v1/reports/%d" % self.phone_only).json()["contact"]
        self.assertEqual(c, {"first_name": None, "last_name": None, "phone": PHONE, "email": None,
                             "address_string": None})

    def test_no_contact_is_null(self):
        rep = self.srv.create_report(new_body(*point_in_haizhou(self.db)), self.tok["patrol"])
        self.assertNotIn("contact", rep)  # the creation reply: not a staff read of one report
        r = self.get("dispatcher", "/api/v1/reports/%d" % rep["id"])
        self.assertIsNone(r.json()["contact"])

    def test_not_for_field_users_nor_other_counties(self):
        r = self.get("patrol", "/api/v1/reports/%d" % self.rid)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("contact", r.json())
        self.assertNotIn(PHONE.encode(), r.body)
        self.assertEqual(self.get("dispatcher_gn", "/api/v1/reports/%d" % self.rid).status, 404)

    def test_never_in_lists_exports_tiles_events_or_open311(self):
        q = "?id=%d,%d" % (self.rid, self.phone_only)
        for path in ("/api/v1/reports" + q, "/api/v1/reports.csv" + q, "/api/v1/reports.geojson" + q):
            r = self.get("admin", path)
            self.assertEqual(r.status, 200, (path, r))
            self.assertIn(b"\xe8\x80\x81\xe4\xba\xba", r.body, path)  # 老人: the report is there
            for secret in (PHONE, EMAIL, STREET, "欧阳"):
                self.assertNotIn(secret.encode(), r.body, (path, secret))
        self.assertNotIn("contact", self.get("admin", "/api/v1/reports" + q).json()["items"][0])
        for z in (12, 16):
            x, y = tile_of(LON, LAT, z)
            r = self.get("admin", "/tiles/reports/%d/%d/%d.mvt" % (z, x, y))
            self.assertEqual(r.status, 200, r)
            self.assertNotIn(PHONE.encode(), r.body)
        for path in ("requests/%d.json" % self.rid, "requests/%d.xml" % self.rid, "requests.json", "requests.xml"):
            r = self.srv.request("GET", "/open311/v2/" + path)
            self.assertEqual(r.status, 200, (path, r))
            for secret in (PHONE, EMAIL, STREET, "欧阳"):
                self.assertNotIn(secret.encode(), r.body, (path, secret))
        self.assertEqual(self.db.value("SELECT count(*) FROM events WHERE payload::text LIKE %s", "%" + PHONE + "%"),
                         0)


if __name__ == "__main__":
    unittest.main()
