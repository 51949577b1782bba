"""Phone intake (issue 20): a dispatcher files a report for a caller (the 12345 hotline, a 110
hand-over, any other call) through POST /api/v1/reports with "source": "phone", its channel and the
caller's call-back details; it is routed like any other report; only staff may file one; bad input
names its field and writes nothing."""
import unittest
import uuid

import harness
from test_routes_roles import GUANNAN, HAIZHOU, report

CALLER = {"first_name": "王", "last_name": "女士", "phone": "13912345678",
          "address_string": "海州区朝阳街道 新浦公园东门"}


def phoned(channel="12345", at=HAIZHOU, **extra):
    body = report(at)
    body.update({"source": "phone", "channel": channel, "contact": dict(CALLER),
                 "description": "来电：公园东门长椅上有老人，神志不清"})
    body.update(extra)
    return body


class PhoneIntake(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = {who: cls.srv.login(who) for who in
                   ("patrol", "community", "dispatcher", "supervisor", "admin", "dispatcher_gn")}

    def post(self, body, who="dispatcher", path="/api/v1/reports"):
        return self.srv.request("POST", path, body, token=self.tok[who])

    def count(self):
        return self.db.value("SELECT count(*) FROM reports")

    def test_a_call_is_filed_routed_and_read_back(self):
        for channel, at in (("12345", HAIZHOU), ("110", GUANNAN), ("other", HAIZHOU)):
            with self.subTest(channel=channel):
                r = self.post(phoned(channel, at))
                self.assertEqual(r.status, 201, r)
                rep = r.json()
                self.assertEqual((rep["source"], rep["channel"]), ("phone", channel))
                # routed like any other report at the same place: same divisions, station and tier
                app = self.post(report(at), who="patrol")
                self.assertEqual(app.status, 201, app)
                app = app.json()
                self.assertEqual((app["source"], app["channel"]), ("app", None))
                for key in ("divisions", "responsible_station", "status"):
                    self.assertEqual(rep[key], app[key], key)
                self.assertIsNotNone(rep["responsible_station"])
                self.assertIsNotNone(rep["ack_deadline"])
                row = self.db.sql("SELECT source, channel, contact->>'phone' AS phone, created_by"
                                  " FROM reports WHERE id = %s" % rep["id"])[0]
                self.assertEqual((row["source"], row["channel"], row["phone"]),
                                 ("phone", channel, CALLER["phone"]))
        # the caller's details: on GET of the report for staff, never for a patrol or in a list
        rid = self.post(phoned()).json()["id"]
        one = self.srv.request("GET", "/api/v1/reports/%d" % rid, token=self.tok["dispatcher"]).json()
        self.assertEqual(one["contact"]["phone"], CALLER["phone"])
        self.assertEqual(one["contact"]["address_string"], CALLER["address_string"])
        self.assertIsNone(one["contact"]["email"])
        self.assertEqual((one["source"], one["channel"]), ("phone", "12345"))
        mine = self.srv.request("GET", "/api/v1/reports/%d" % rid, token=self.tok["patrol"])
        self.assertEqual(mine.status, 200, mine)
        self.assertNotIn("contact", mine.json())
        listed = self.srv.request("GET", "/api/v1/reports?id=%d" % rid, token=self.tok["dispatcher"]).json()
        self.assertEqual([(i["source"], i["channel"]) for i in listed["items"]], [("phone", "12345")])
        self.assertNotIn("contact", listed["items"][0])

    def test_only_staff_file_a_call(self):
        for who, want in (("patrol", 403), ("community", 403), ("dispatcher", 201), ("supervisor", 201),
                          ("admin", 201), ("dispatcher_gn", 201)):
            with self.subTest(who=who):
                before = self.count()
                r = self.post(phoned(), who=who)
                self.assertEqual(r.status, want, r)
                if want == 403:
                    self.assertEqual((r.error, r.json()["error"]["field"]), ("forbidden", "source"))
                    self.assertEqual(self.count(), before)
        # a batch: the officer's phone item fails alone, by its field
        r = self.post({"reports": [report(), phoned()]}, who="patrol", path="/api/v1/reports/batch")
        self.assertEqual(r.status, 200, r)
        res = r.json()["results"]
        self.assertEqual([x["status"] for x in res], ["created", "error"])
        self.assertEqual((res[1]["error"]["code"], res[1]["error"]["field"]), ("forbidden", "source"))
        r = self.post({"reports": [phoned("110")]}, path="/api/v1/reports/batch")
        self.assertEqual(r.json()["results"][0]["report"]["channel"], "110")

    def test_bad_input_names_its_field_and_writes_nothing(self):
        no_channel = phoned()
        del no_channel["channel"]
        app_with_channel = report()
        app_with_channel["channel"] = "110"
        app_with_contact = report()
        app_with_contact["contact"] = dict(CALLER)
        cases = [
            (no_channel, 400, "missing_field", "channel"),
            (phoned("119"), 400, None, "channel"),
            (phoned(source="open311"), 400, None, "source"),
            (phoned(source="fax"), 400, None, "source"),
            (app_with_channel, 400, "invalid_field", "channel"),
            (app_with_contact, 400, "invalid_field", "contact"),
            (phoned(contact={"phone": "1" * 41}), 400, None, "contact.phone"),
            (phoned(contact={"phone": 13912345678}), 400, None, "contact.phone"),
            (phoned(contact="13912345678"), 400, None, "contact"),
        ]
        for body, status, code, field in cases:
            with self.subTest(field=field, body=body):
                before = self.count()
                r = self.post(body)
                self.assertEqual(r.status, status, r)
                err = r.json()["error"]
                self.assertEqual(err["field"], field, r)
                if code:
                    self.assertEqual(err["code"], code)
                self.assertEqual(self.count(), before)
        # the schema holds the rule too: no channel without source phone, none outside the list
        with self.assertRaises(Exception):
            harness.psql(self.db.name, "UPDATE reports SET channel = '110' WHERE source = 'app'", check=True)
        with self.assertRaises(Exception):
            harness.psql(self.db.name, "UPDATE reports SET channel = '119' WHERE source = 'phone'", check=True)

    def test_vocabulary_serves_channels_and_sources_in_chinese(self):
        v = self.srv.request("GET", "/api/v1/vocabulary").json()
        self.assertEqual([t["code"] for t in v["phone_channels"]], ["12345", "110", "other"])
        self.assertEqual([t["code"] for t in v["sources"]], ["app", "open311", "phone"])
        labels = {t["code"]: t["label"] for t in v["phone_channels"] + v["sources"]}
        self.assertIn("12345", labels["12345"])
        self.assertEqual(labels["phone"], "电话受理")

    def test_a_replayed_call_returns_the_stored_report(self):
        body = phoned()
        first = self.post(body)
        self.assertEqual(first.status, 201, first)
        again = self.post(body)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json()["id"], first.json()["id"])
        self.assertEqual(again.json()["channel"], "12345")


if __name__ == "__main__":
    unittest.main()
