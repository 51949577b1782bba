"""test_report_contracts.py - report contracts a phone-app newcomer met (issue 8): the timeline pages
with ?limit= and its `next` keeps the limit; coordinates read back rounded (a stored bd09 point is
not 34.6040000000002); list items carry possible_duplicates as single reads do; the exports honour
?limit= (bounded, 400 otherwise) and ?crs=; `within=` (API.md's name) filters like `division=`.
Issue 23, finding 12: times before 2000-01-01 are refused in bodies and queries (1900-01-01 came back
with the offset +08:05:43, which RFC 3339 cannot write); every time answered has a whole-minute
offset."""
import csv
import datetime
import io
import json
import re
import unittest
import urllib.parse

import harness
from test_reports_list import GUANNAN, HAIZHOU, report_body


def decimals(x):
    s = repr(x)
    return len(s.split(".")[1]) if "." in s and "e" not in s else 0


class ReportContractsTest(harness.FreshDbCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = harness.Server(cls.db, env={"PATROLD_ESCALATE_INTERVAL_MS": "600000"})
        cls.tok = {u: cls.srv.login(u) for u in ("supervisor", "dispatcher", "dispatcher_gn")}
        # two close reports of one category in 海州 (possible duplicates of each other), one in 灌南
        cls.a = cls.create(report_body(HAIZHOU, "minor", "a"))
        cls.b = cls.create(report_body((HAIZHOU[0] + 0.0003, HAIZHOU[1]), "minor", "b"))
        cls.g = cls.create(report_body(GUANNAN, "beggar", "g"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    @classmethod
    def create(cls, body, user="supervisor"):
        return cls.srv.create_report(body, cls.tok[user])

    def get(self, path, user="supervisor", **params):
        q = urllib.parse.urlencode(params)
        return self.srv.request("GET", path + ("?" + q if q else ""), token=self.tok[user])

    # ---- one column list: REPORT_FIELDS ----
    def test_every_report_field_is_in_the_schema_the_reply_and_the_csv(self):
        """The published Report schema is made from REPORT_FIELDS: every property (but the single read's
        possible_duplicates and actions) is required, is in a reply, and names its CSV columns (x-csv), which are
        all in the export's header, which has no other column."""
        schema = self.srv.openapi()["components"]["schemas"]["Report"]
        props = schema["properties"]
        fields = {k: v["x-csv"] for k, v in props.items() if "x-csv" in v}
        self.assertEqual(set(props) - set(fields), {"possible_duplicates", "actions"})
        # staff-only fields (the Open311 call-back) are never exported nor always sent: no column,
        # not required; every other field is both
        staff = {k for k, columns in fields.items() if not columns}
        self.assertEqual(staff, {"contact"})
        self.assertTrue(all(props[k]["description"].startswith("Staff only") for k in staff))
        self.assertEqual(sorted(schema["required"]), sorted(set(fields) - staff))
        self.assertGreaterEqual(len(fields), 20)
        reply = self.get("/api/v1/reports/%d" % self.a["id"]).json()
        for key in fields:
            self.assertIn(key, reply)
        self.assertEqual(set(reply) - set(props), set())  # nothing sent that the schema leaves out
        r = self.get("/api/v1/reports.csv", within="320706", limit=50)
        self.assertEqual(r.status, 200)
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8-sig"))))
        header = rows[0]
        self.assertEqual(len(header), len(set(header)))
        for key, columns in fields.items():
            self.assertTrue(columns or key in staff, key)
            for c in columns:
                self.assertIn(c, header, key)
        self.assertEqual(set(header), {c for cs in fields.values() for c in cs})
        row = dict(zip(header, [x for x in rows[1:] if x[header.index("id")] == str(self.a["id"])][0]))
        self.assertEqual((row["status"], row["category"], row["client_id"]),
                         (reply["status"], reply["category"], reply["client_id"]))
        self.assertEqual(row["zones"], ";".join(z["code"] for z in reply["zones"]))
        for d in reply["divisions"]:
            self.assertEqual((row[d["level"] + "_code"], row[d["level"]]), (d["code"], d["name"]))

    # ---- timeline paging ----
    def test_timeline_limit_and_next(self):
        rid = self.create(report_body(HAIZHOU, "other", "timeline"))["id"]
        for note in ("one", "two", "three"):
            r = self.srv.request("POST", "/api/v1/reports/%d/events" % rid,
                                 json_body={"type": "escalate" if note != "three" else "acknowledge",
                                            "note": note}, token=self.tok["supervisor"])
            self.assertIn(r.status, (200, 409), r)
        everything = self.get("/api/v1/reports/%d/timeline" % rid).json()
        self.assertIsNone(everything["next"])
        self.assertGreaterEqual(len(everything["items"]), 3)
        page = self.get("/api/v1/reports/%d/timeline" % rid, limit=1).json()
        self.assertEqual(len(page["items"]), 1)
        self.assertIsNotNone(page["next"])
        walked = list(page["items"])
        while page["next"]:  # next keeps the limit even when the client does not repeat it
            page = self.get("/api/v1/reports/%d/timeline" % rid, cursor=page["next"]).json()
            self.assertLessEqual(len(page["items"]), 1)
            walked += page["items"]
        self.assertEqual([e["id"] for e in walked], [e["id"] for e in everything["items"]])
        two = self.get("/api/v1/reports/%d/timeline" % rid, limit=2).json()
        self.assertEqual(len(two["items"]), 2)
        for bad in ("0", "501", "x", "-1", "1.5"):
            r = self.get("/api/v1/reports/%d/timeline" % rid, limit=bad)
            self.assertEqual(r.status, 400, bad)
            self.assertEqual(r.json()["error"]["field"], "limit")
        r = self.get("/api/v1/reports/%d/timeline" % rid, cursor="garbage")
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "cursor"))

    # ---- coordinates out ----
    def test_bd09_point_reads_back_rounded(self):
        body = report_body((119.2213, 34.604), "vagrant", "bd09")
        body["location"]["crs"] = "bd09"
        rep = self.create(body)
        one = self.get("/api/v1/reports/%d" % rep["id"], crs="bd09").json()
        self.assertEqual((one["location"]["lon"], one["location"]["lat"]), (119.2213, 34.604))
        listed = [x for x in self.get("/api/v1/reports", crs="bd09", limit=500).json()["items"]
                  if x["id"] == rep["id"]][0]
        self.assertEqual((listed["location"]["lon"], listed["location"]["lat"]), (119.2213, 34.604))
        for crs in ("wgs84", "gcj02", "bd09", "cgcs2000"):
            for x in self.get("/api/v1/reports", crs=crs).json()["items"]:
                self.assertLessEqual(decimals(x["location"]["lon"]), 7, (crs, x["location"]))
                self.assertLessEqual(decimals(x["location"]["lat"]), 7, (crs, x["location"]))
            one = self.get("/api/v1/reports/%d" % rep["id"], crs=crs).json()
            self.assertLessEqual(decimals(one["location"]["lat"]), 7, crs)

    # ---- possible_duplicates on list items ----
    def test_list_items_carry_possible_duplicates(self):
        items = {x["id"]: x for x in self.get("/api/v1/reports", limit=500).json()["items"]}
        for rep in (self.a, self.b, self.g):
            single = self.get("/api/v1/reports/%d" % rep["id"]).json()
            self.assertIn("possible_duplicates", items[rep["id"]])
            self.assertEqual(items[rep["id"]]["possible_duplicates"], single["possible_duplicates"])
        self.assertIn(self.b["id"], [d["id"] for d in items[self.a["id"]]["possible_duplicates"]])
        self.assertEqual(items[self.g["id"]]["possible_duplicates"], [])
        # only what the caller may see: 灌南's dispatcher sees no 海州 report as a duplicate
        for x in self.get("/api/v1/reports", user="dispatcher_gn").json()["items"]:
            self.assertEqual(x["possible_duplicates"], [], x["id"])

    # ---- exports ----
    def test_exports_honour_and_bound_limit(self):
        doc = json.loads(self.get("/api/v1/reports.geojson", limit=1).body)
        self.assertEqual(len(doc["features"]), 1)
        rows = list(csv.reader(io.StringIO(self.get("/api/v1/reports.csv", limit=2).body.decode("utf-8-sig"))))
        self.assertEqual(len(rows), 3)  # header + 2
        for path in ("/api/v1/reports.geojson", "/api/v1/reports.csv"):
            for bad in ("0", "x", "-3", "100001", "99999999"):
                r = self.get(path, limit=bad)
                self.assertEqual(r.status, 400, (path, bad))
                self.assertEqual(r.json()["error"]["code"], "invalid_limit")
                self.assertEqual(r.json()["error"]["field"], "limit")

    def test_geojson_honours_crs_in_properties(self):
        listed = {x["id"]: x for x in self.get("/api/v1/reports", crs="gcj02", limit=500).json()["items"]}
        wgs = {x["id"]: x for x in self.get("/api/v1/reports", limit=500).json()["items"]}
        doc = json.loads(self.get("/api/v1/reports.geojson", crs="gcj02").body)
        self.assertTrue(doc["features"])
        for f in doc["features"]:
            loc = f["properties"]["location"]
            self.assertEqual(loc["crs"], "gcj02")
            self.assertEqual((loc["lon"], loc["lat"]),
                             (listed[f["id"]]["location"]["lon"], listed[f["id"]]["location"]["lat"]))
            # the geometry stays WGS-84 (RFC 7946 section 4)
            self.assertEqual(f["geometry"]["coordinates"],
                             [wgs[f["id"]]["location"]["lon"], wgs[f["id"]]["location"]["lat"]])
        r = self.get("/api/v1/reports.geojson", crs="mercator")
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "crs"))

    # ---- within= ----
    def test_within_is_division(self):
        for code in ("320706", "320724"):
            by_div = [x["id"] for x in self.get("/api/v1/reports", division=code).json()["items"]]
            by_within = [x["id"] for x in self.get("/api/v1/reports", within=code).json()["items"]]
            self.assertTrue(by_div, code)
            self.assertEqual(by_within, by_div)
        self.assertEqual([x["id"] for x in self.get("/api/v1/reports", within="320724").json()["items"]],
                         [self.g["id"]])
        r = self.get("/api/v1/reports", within="12345")
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "within"))
        doc = json.loads(self.get("/api/v1/reports.geojson", within="320724").body)
        self.assertEqual([f["id"] for f in doc["features"]], [self.g["id"]])

    # ---- issue 23, finding 12: a floor for times, whole-minute offsets ----
    def test_times_before_2000_refused(self):
        for at in ("1900-01-01T00:00:00+08:00", "1900-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                   "2000-01-01T07:59:59+08:00"):
            r = self.srv.request("POST", "/api/v1/reports", token=self.tok["supervisor"],
                                 json_body=report_body(HAIZHOU, "other", "old", observed_at=at))
            self.assertEqual((r.status, r.error, r.json()["error"]["field"]), (400, "invalid_field", "observed_at"),
                             (at, r))
            self.assertIn("2000-01-01", r.json()["error"]["message"])
        self.assertEqual(self.get("/api/v1/reports", since="1900-01-01T00:00:00Z").error, "invalid_since")
        rid = self.create(report_body(HAIZHOU, "other", "floor", observed_at="2000-01-01T08:00:00+08:00"))["id"]
        got = self.get("/api/v1/reports/%d" % rid).json()
        rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
        for key in ("observed_at", "received_at", "updated_at"):
            self.assertRegex(got[key], rfc3339, key)
        self.assertEqual(datetime.datetime.fromisoformat(got["observed_at"].replace("Z", "+00:00")),
                         datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))


if __name__ == "__main__":
    unittest.main()
