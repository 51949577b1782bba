"""test_open311.py - Open311 GeoReport v2 as a third-party client uses it: form-encoded POSTs with an
api_key, JSON and XML answers, the specification's error format, and read-back without personal
data; plus `patrold apikey`."""
import json
import unittest
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import harness

HAIZHOU = (119.163509, 34.572274)
CODES = {"vagrant", "beggar", "lost_elderly", "minor", "mental_illness", "injured_or_ill", "other"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Open311Test(harness.ServerCase):
    def post(self, fields, fmt="json"):
        return self.srv.request("POST", "/open311/v2/requests.%s" % fmt, body=urllib.parse.urlencode(fields),
                                headers=FORM)

    def get(self, path, **params):
        q = urllib.parse.urlencode(params)
        return self.srv.request("GET", "/open311/v2/" + path + ("?" + q if q else ""))

    def sighting(self, **extra):
        f = {"api_key": "demo", "service_code": "vagrant", "lat": "34.5722741", "long": "119.1635093",
             "description": "桥下有人露宿 <b>& cold</b>", "email": "wang.fang@example.cn", "first_name": "芳菲",
             "last_name": "欧阳", "phone": "13800138000", "attribute[people_count]": "2",
             "attribute[sex]": "female", "attribute[approx_age]": "70"}
        f.update(extra)
        return f

    def assert_spec_error(self, r, status, fmt="json"):
        self.assertEqual(r.status, status, r)
        if fmt == "json":
            body = r.json()
            self.assertIsInstance(body, list)
            self.assertEqual(body[0]["code"], status)
            self.assertIsInstance(body[0]["description"], str)
            self.assertTrue(body[0]["description"])
        else:
            root = ET.fromstring(r.body)
            self.assertEqual(root.tag, "errors")
            self.assertEqual(root.find("error/code").text, str(status))
            self.assertTrue(root.find("error/description").text)

    # ---- discovery and services ----
    def test_discovery(self):
        d = self.get("discovery.json").json()
        ep = d["endpoints"][0]
        self.assertEqual(ep["specification"], "http://wiki.open311.org/GeoReport_v2")
        self.assertIn("text/xml", ep["formats"])
        self.assertTrue(ep["url"].endswith("/open311/v2"))
        root = ET.fromstring(self.get("discovery.xml").body)
        self.assertEqual(root.tag, "discovery")
        self.assertEqual(root.find("endpoints/endpoint/specification").text, "http://wiki.open311.org/GeoReport_v2")
        self.assertEqual({f.text for f in root.findall("endpoints/endpoint/formats/format")},
                         {"text/xml", "application/json"})

    def test_services_json_and_xml(self):
        r = self.get("services.json")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        services = r.json()
        self.assertEqual({s["service_code"] for s in services}, CODES)
        for s in services:
            self.assertIs(s["metadata"], True)
            self.assertEqual(s["type"], "realtime")
            for k in ("service_name", "description", "keywords", "group"):
                self.assertTrue(s[k], k)
        self.assertIn("走失老人", {s["service_code"]: s for s in services}["lost_elderly"]["service_name"])
        r = self.get("services.xml")
        self.assertTrue(r.headers["content-type"].startswith("text/xml"))
        self.assertTrue(r.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'))
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag, "services")
        self.assertEqual({s.find("service_code").text for s in root.findall("service")}, CODES)
        self.assertEqual({s.find("metadata").text for s in root.findall("service")}, {"true"})

    def test_service_definition(self):
        d = self.get("services/lost_elderly.json").json()
        self.assertEqual(d["service_code"], "lost_elderly")
        attrs = {a["code"]: a for a in d["attributes"]}
        self.assertEqual(attrs["people_count"]["datatype"], "number")
        self.assertEqual(attrs["sex"]["datatype"], "singlevaluelist")
        self.assertEqual({v["key"] for v in attrs["sex"]["values"]}, {"male", "female", "unknown"})
        for a in d["attributes"]:
            self.assertIs(a["variable"], True)
            self.assertIsInstance(a["order"], int)
        root = ET.fromstring(self.get("services/lost_elderly.xml").body)
        self.assertEqual(root.tag, "service_definition")
        keys = [k.text for k in root.findall("attributes/attribute/values/value/key")]
        self.assertEqual(set(keys), {"male", "female", "unknown"})

    def test_unknown_service_definition_404(self):
        self.assert_spec_error(self.get("services/pothole.json"), 404)
        self.assert_spec_error(self.get("services/pothole.xml"), 404, "xml")

    # ---- POST requests ----
    def test_post_creates_field_report_json(self):
        r = self.post(self.sighting())
        self.assertIn(r.status, (200, 201), r)
        body = r.json()
        self.assertIsInstance(body, list)
        rid = body[0]["service_request_id"]
        self.assertTrue(body[0]["service_notice"])
        row = self.db.sql("SELECT source, category, people_count, person, contact, description, "
                          "county_code, ST_X(geom) AS lon FROM reports WHERE id = %s", int(rid))[0]
        self.assertEqual(row["source"], "open311")
        self.assertEqual(row["category"], "vagrant")
        self.assertEqual(row["people_count"], 2)
        self.assertEqual(row["person"]["sex"], "female")
        self.assertEqual(row["person"]["approx_age"], 70)
        self.assertEqual(row["contact"]["email"], "wang.fang@example.cn")
        self.assertEqual(row["contact"]["phone"], "13800138000")
        self.assertEqual(row["county_code"], "320706000000")
        self.assertAlmostEqual(row["lon"], 119.1635093, places=6)   # stored exactly, rounded only on read
        actors = {e["actor"] for e in self.db.sql("SELECT actor FROM report_events WHERE report_id = %s", int(rid))}
        self.assertIn("open311:demo", actors)

    def test_post_xml(self):
        r = self.post(self.sighting(service_code="minor"), "xml")
        self.assertIn(r.status, (200, 201), r)
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag, "service_requests")
        rid = root.find("request/service_request_id").text
        self.assertTrue(rid.isdigit())
        self.assertEqual(self.db.value("SELECT category FROM reports WHERE id = %s", int(rid)), "minor")

    def test_post_api_key_required(self):
        f = self.sighting()
        del f["api_key"]
        before = self.db.value("SELECT count(*) FROM reports")
        self.assert_spec_error(self.post(f), 403)
        self.assert_spec_error(self.post(f, "xml"), 403, "xml")
        self.assert_spec_error(self.post(self.sighting(api_key="not-a-key")), 403)
        self.assertEqual(self.db.value("SELECT count(*) FROM reports"), before)

    def test_post_bad_input(self):
        self.assert_spec_error(self.post(self.sighting(service_code="pothole")), 404)
        self.assert_spec_error(self.post(self.sighting(service_code="pothole"), "xml"), 404, "xml")
        f = self.sighting()
        del f["service_code"]
        self.assert_spec_error(self.post(f), 400)
        f = self.sighting(address_string="新浦区解放中路1号")
        del f["lat"], f["long"]
        self.assert_spec_error(self.post(f), 400)
        self.assert_spec_error(self.post(self.sighting(lat="north")), 400)
        self.assert_spec_error(self.post(self.sighting(**{"attribute[people_count]": "0"})), 400)
        self.assert_spec_error(self.post(self.sighting(**{"attribute[sex]": "x"})), 400, "json")
        self.assert_spec_error(self.post(self.sighting(description="x" * 4001)), 400)

    def test_post_not_form_is_refused(self):
        r = self.srv.request("POST", "/open311/v2/requests.json", json_body=self.sighting())
        self.assertEqual(r.status, 415)

    # ---- reading back ----
    def test_read_back_hides_personal_data(self):
        rid = self.post(self.sighting()).json()[0]["service_request_id"]
        # an app report that names the person
        tok = self.srv.login("patrol")
        app = self.srv.request("POST", "/api/v1/reports", token=tok, json_body={
            "client_id": str(uuid.uuid4()), "category": "lost_elderly",
            "location": {"lon": 119.1641237, "lat": 34.5737651}, "observed_at": "2024-05-01T08:00:00+08:00",
            "description": "在公园长椅", "person": {"sex": "male", "approx_age": 81, "name_if_known": "李建国"}})
        self.assertEqual(app.status, 201, app)
        for fmt in ("json", "xml"):   # an app report is not an Open311 request at all
            self.assert_spec_error(self.get("requests/%s.%s" % (app.json()["id"], fmt)), 404, fmt)
        for fmt in ("json", "xml"):
            r = self.get("requests/%s.%s" % (rid, fmt))
            self.assertEqual(r.status, 200, r)
            text = r.body.decode()
            for secret in ("wang.fang", "13800138000", "欧阳", "芳菲", "name_if_known", "email",
                           "phone", "first_name", '"person"', "<person", "contact", "media_url", "address"):
                self.assertNotIn(secret, text, (rid, fmt))
        # a sighting posted at an exact point comes back rounded to about 100 m
        rid2 = self.post(self.sighting(lat="34.5737651", long="119.1641237",
                                       description="在公园长椅")).json()[0]["service_request_id"]
        req = self.get("requests/%s.json" % rid2).json()[0]
        self.assertEqual(req["lat"], 34.574)
        self.assertEqual(req["long"], 119.164)
        self.assertEqual(req["description"], "在公园长椅")
        self.assertEqual(req["status"], "open")
        self.assertEqual(req["service_code"], "vagrant")
        root = ET.fromstring(self.get("requests/%s.xml" % rid).body)
        self.assertEqual(root.tag, "service_requests")
        self.assertEqual(root.find("request/lat").text, "34.572")
        self.assertEqual(root.find("request/long").text, "119.164")
        self.assertEqual(root.find("request/description").text, "桥下有人露宿 <b>& cold</b>")   # escaped right
        self.assertRegex(root.find("request/requested_datetime").text,  # W3C, the deployment's offset
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")

    def test_status_mapping_open_closed(self):
        rid = int(self.post(self.sighting(service_code="beggar")).json()[0]["service_request_id"])
        self.assertEqual(self.get("requests/%d.json" % rid).json()[0]["status"], "open")
        for st in ("acknowledged", "dispatched", "on_scene"):
            self.db.sql("UPDATE reports SET status = %s WHERE id = %s", st, rid)
            self.assertEqual(self.get("requests/%d.json" % rid).json()[0]["status"], "open", st)
        for st in ("resolved", "cancelled", "duplicate"):
            self.db.sql("UPDATE reports SET status = %s WHERE id = %s", st, rid)
            self.assertEqual(self.get("requests/%d.json" % rid).json()[0]["status"], "closed", st)
        ids = {x["service_request_id"] for x in self.get("requests.json", status="closed").json()}
        self.assertIn(str(rid), ids)
        ids = {x["service_request_id"] for x in self.get("requests.json", status="open").json()}
        self.assertNotIn(str(rid), ids)

    def test_get_requests_filters(self):
        a = self.post(self.sighting(service_code="injured_or_ill")).json()[0]["service_request_id"]
        b = self.post(self.sighting(service_code="mental_illness")).json()[0]["service_request_id"]
        all_ = self.get("requests.json").json()
        self.assertLessEqual(len(all_), 1000)
        self.assertTrue({a, b} <= {x["service_request_id"] for x in all_})
        got = self.get("requests.json", service_code="injured_or_ill").json()
        self.assertTrue(got)
        self.assertEqual({x["service_code"] for x in got}, {"injured_or_ill"})
        got = self.get("requests.json", service_request_id="%s,%s" % (a, b)).json()
        self.assertEqual({x["service_request_id"] for x in got}, {a, b})
        # default window is the last 90 days
        self.db.sql("UPDATE reports SET received_at = now() - interval '100 days' WHERE id = %s", int(a))
        self.assertNotIn(a, {x["service_request_id"] for x in self.get("requests.json").json()})
        got = self.get("requests.json", start_date="2000-01-01T00:00:00Z").json()
        self.assertIn(a, {x["service_request_id"] for x in got})
        got = self.get("requests.json", end_date="2000-01-02T00:00:00+08:00").json()
        self.assertEqual(got, [])
        root = ET.fromstring(self.get("requests.xml", service_request_id=b).body)
        self.assertEqual([x.text for x in root.findall("request/service_request_id")], [b])
        self.assert_spec_error(self.get("requests.json", status="pending"), 400)
        self.assert_spec_error(self.get("requests.xml", start_date="last week"), 400, "xml")
        for bad in ("2024-02-31T00:00:00Z", "2023-02-29T00:00:00+08:00", "2024-05-01T00:00:00Zjunk"):
            self.assert_spec_error(self.get("requests.json", start_date=bad), 400)
            self.assert_spec_error(self.get("requests.json", end_date=bad), 400)
        self.assertEqual(self.get("requests.json", start_date="2024-02-29T00:00:00+08:00").status, 200)
        self.assert_spec_error(self.get("requests.json", service_request_id="1;drop"), 400)

    def test_unknown_request_and_token_404(self):
        self.assert_spec_error(self.get("requests/987654321.json"), 404)
        self.assert_spec_error(self.get("requests/987654321.xml"), 404, "xml")
        self.assert_spec_error(self.get("requests/abc.json"), 404)
        self.assert_spec_error(self.get("tokens/987654321.json"), 404)

    def test_token(self):
        rid = self.post(self.sighting()).json()[0]["service_request_id"]
        t = self.get("tokens/%s.json" % rid).json()
        self.assertEqual(t[0]["service_request_id"], rid)
        root = ET.fromstring(self.get("tokens/%s.xml" % rid).body)
        self.assertEqual(root.find("request/service_request_id").text, rid)

    # ---- patrol-app reports never appear ----
    def test_app_reports_never_shown(self):
        """A patrol note names a vulnerable person: anonymous Open311 reads must not find it by id,
        by token, in any listing, in JSON or XML (ids are sequential, so a walk would find it)."""
        note = "张三, 82岁, 住新浦区海连路, 电话13912345678"
        tok = self.srv.login("patrol")
        app = self.srv.request("POST", "/api/v1/reports", token=tok, json_body={
            "client_id": str(uuid.uuid4()), "category": "lost_elderly",
            "location": {"lon": 119.1641237, "lat": 34.5737651}, "observed_at": "2024-05-01T08:00:00+08:00",
            "description": note})
        self.assertEqual(app.status, 201, app)
        aid = str(app.json()["id"])
        self.assertEqual(self.db.value("SELECT source FROM reports WHERE id = %s", int(aid)), "app")
        own = self.post(self.sighting(service_code="lost_elderly")).json()[0]["service_request_id"]
        for fmt in ("json", "xml"):
            self.assert_spec_error(self.get("requests/%s.%s" % (aid, fmt)), 404, fmt)
            self.assert_spec_error(self.get("tokens/%s.%s" % (aid, fmt)), 404, fmt)
            for q in ({}, {"service_request_id": aid}, {"service_request_id": "%s,%s" % (aid, own)},
                      {"service_code": "lost_elderly"}, {"status": "open"},
                      {"start_date": "2000-01-01T00:00:00Z"}, {"start_date": "2000-01-01T00:00:00Z",
                                                               "end_date": "2100-01-01T00:00:00Z"}):
                r = self.get("requests." + fmt, **q)
                self.assertEqual(r.status, 200, (q, r))
                text = r.body.decode()
                self.assertNotIn("张三", text, q)
                self.assertNotIn("13912345678", text, q)
                if fmt == "json":
                    got = {x["service_request_id"] for x in r.json()}
                else:
                    got = {e.text for e in ET.fromstring(r.body).findall("request/service_request_id")}
                self.assertNotIn(aid, got, q)
                if "service_request_id" in q and own in q["service_request_id"]:
                    self.assertEqual(got, {own}, q)
        # walking every id gives only Open311 requests
        top = self.db.value("SELECT max(id) FROM reports")
        o311_ids = {r["id"] for r in self.db.sql("SELECT id FROM reports WHERE source = 'open311'")}
        self.assertIn(int(own), o311_ids)
        self.assertIn(int(aid), {r["id"] for r in self.db.sql("SELECT id FROM reports WHERE source = 'app'")})
        for i in range(1, top + 1):
            r = self.get("requests/%d.json" % i)
            self.assertEqual(r.status, 200 if i in o311_ids else 404, (i, r))

    # ---- patrold apikey ----
    def test_apikey_command(self):
        r = harness.run_patrold(["apikey", "add", "partner-app"], self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        key = r.stdout.strip()
        self.assertGreaterEqual(len(key), 24)
        stored = self.db.value("SELECT encode(key_hash, 'hex') FROM api_keys WHERE name = 'partner-app'")
        import hashlib
        self.assertEqual(stored, hashlib.sha256(key.encode()).hexdigest())   # only the hash is kept
        self.assertNotIn(key, json.dumps(self.db.sql("SELECT * FROM api_keys")))
        self.assertIn(self.post(self.sighting(api_key=key)).status, (200, 201))
        self.assertNotEqual(harness.run_patrold(["apikey", "add", "partner-app"], self.db).returncode, 0)
        self.assertEqual(harness.run_patrold(["apikey", "revoke", "partner-app"], self.db).returncode, 0)
        self.assert_spec_error(self.post(self.sighting(api_key=key)), 403)


if __name__ == "__main__":
    unittest.main()
