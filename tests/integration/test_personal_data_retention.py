"""test_personal_data_retention.py - personal data has a life (issue 17, retention): the background
step of service/reports/retention.c deletes the person fields, photos and Open311 call-back details
of reports closed (resolved, cancelled, duplicate) more than personal_data_retention_days ago, and
writes a 'report.mask' audit row by "system" naming the reports it masked; an open report and a
report closed recently keep theirs; a photo that arrives after the masking goes at the next run; and
two instances running the step at once mask each report exactly once."""
import time
import unittest
import urllib.parse

import harness
from test_photos import png
from test_reports import new_body, point_in_haizhou

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OFF = {"PATROLD_PERSONAL_DATA_RETENTION_DAYS": "0", "PATROLD_ESCALATE_INTERVAL_MS": "600000"}


def wait_for(check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


class RetentionTest(unittest.TestCase):
    """Reports made and closed through the API (the step off), their closing moved into the past,
    then a server with the default retention (180 days) starts and runs the step."""

    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        with harness.Server(cls.db, env=OFF) as srv:
            cls.tok = {u: srv.login(u) for u in ("patrol", "dispatcher", "supervisor", "admin")}
            hz = point_in_haizhou(cls.db)
            cls.ids = {}
            for name in ("cancelled_old", "resolved_old", "open_old", "cancelled_recent", "bare_old"):
                body = new_body(*hz)
                if name == "bare_old":
                    del body["person"]
                cls.ids[name] = srv.create_report(body, cls.tok["patrol"])["id"]
                if name != "bare_old":
                    cls.photo(srv, cls.ids[name])
            form = {"api_key": "demo", "service_code": "vagrant", "lat": str(hz[1]), "long": str(hz[0]),
                    "first_name": "芳", "last_name": "王", "phone": "13800138000", "address_string": "通灌北路"}
            r = srv.request("POST", "/open311/v2/requests.json", body=urllib.parse.urlencode(form), headers=FORM)
            assert r.status == 201, r
            cls.ids["duplicate_old"] = int(r.json()[0]["service_request_id"])
            cls.photo(srv, cls.ids["duplicate_old"])
            unit = cls.db.value("SELECT id FROM units WHERE callsign = 'HZ-03'")
            cls.event(srv, "cancelled_old", {"type": "cancel"})
            cls.event(srv, "cancelled_recent", {"type": "cancel"})
            cls.event(srv, "bare_old", {"type": "cancel"})
            cls.event(srv, "duplicate_old", {"type": "mark_duplicate", "duplicate_of": cls.ids["cancelled_old"]})
            for ev in ({"type": "acknowledge"}, {"type": "dispatch", "unit_id": unit}, {"type": "arrive"},
                       {"type": "resolve", "outcome": "escorted_home"}):
                cls.event(srv, "resolved_old", ev)
        old = [cls.ids[k] for k in ("cancelled_old", "resolved_old", "bare_old", "duplicate_old", "open_old")]
        old = "{%s}" % ",".join(map(str, old))
        cls.db.sql("UPDATE report_events SET at = at - interval '200 days' WHERE report_id = ANY (%s::bigint[])", old)
        cls.db.sql("UPDATE reports SET received_at = received_at - interval '200 days',"
                   " updated_at = updated_at - interval '200 days' WHERE id = ANY (%s::bigint[])", old)
        cls.srv = harness.Server(cls.db, env={"PATROLD_ESCALATE_INTERVAL_MS": "600000"})
        assert wait_for(lambda: cls.db.value("SELECT count(*) FROM reports WHERE personal_masked_at IS NOT NULL") == 4), \
            cls.srv.log_text()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    @classmethod
    def photo(cls, srv, rid):
        r = srv.request("POST", "/api/v1/reports/%d/photos" % rid, body=png(), headers={"Content-Type": "image/png"},
                        token=cls.tok["dispatcher"])
        assert r.status in (200, 201), r

    @classmethod
    def event(cls, srv, name, body):
        r = srv.request("POST", "/api/v1/reports/%d/events" % cls.ids[name], json_body=body, token=cls.tok["dispatcher"])
        assert r.status == 200, (name, body, r)

    def report(self, name, who="dispatcher"):
        r = self.srv.request("GET", "/api/v1/reports/%d" % self.ids[name], token=self.tok[who])
        self.assertEqual(r.status, 200, r)
        return r.json()

    def photos(self, name):
        r = self.srv.request("GET", "/api/v1/reports/%d/photos" % self.ids[name], token=self.tok["dispatcher"])
        self.assertEqual(r.status, 200, r)
        return r.json()["items"]

    def mask_rows(self):
        return self.db.sql("SELECT kind, user_id, username, role, division_code, report_ids FROM audit"
                           " WHERE action = 'report.mask' ORDER BY id")

    def test_closed_long_ago_loses_person_photos_and_call_back(self):
        for name in ("cancelled_old", "resolved_old", "duplicate_old"):
            rep = self.report(name)
            self.assertEqual(rep["status"], name.split("_")[0], name)
            self.assertIsNone(rep["person"], name)
            self.assertIsNotNone(rep["personal_data_deleted_at"], name)
            self.assertEqual(self.photos(name), [], name)
            if name != "duplicate_old":  # the rest of the report stays: only personal data goes
                self.assertEqual((rep["description"], rep["category"]), ("老人在桥下，衣着单薄", "vagrant"))
        self.assertIsNone(self.report("duplicate_old")["contact"])
        self.assertEqual(self.db.value("SELECT count(*) FROM reports WHERE contact IS NOT NULL"), 0)

    def test_open_and_recently_closed_keep_theirs(self):
        for name in ("open_old", "cancelled_recent"):
            rep = self.report(name)
            self.assertEqual(rep["person"], {"sex": "male", "approx_age": 70, "appearance": "灰色外套"}, name)
            self.assertIsNone(rep["personal_data_deleted_at"], name)
            self.assertEqual(len(self.photos(name)), 1, name)
        self.assertEqual(self.report("open_old")["status"], "new")

    def test_audited_by_system(self):
        rows = self.mask_rows()
        self.assertEqual(len(rows), 1, rows)  # one run, one division (海州区)
        row = rows[0]
        # a write by the service itself: no user, no role (as a command's rows in the trail)
        self.assertEqual((row["kind"], row["user_id"], row["username"], row["role"], row["division_code"]),
                         ("write", None, "system", "", "320706000000"))
        # the reports that held something; bare_old had nothing to delete (stamped, not listed)
        want = sorted(self.ids[k] for k in ("cancelled_old", "resolved_old", "duplicate_old"))
        self.assertEqual(row["report_ids"], want)
        self.assertIsNotNone(self.db.value("SELECT personal_masked_at FROM reports WHERE id = %s",
                                           self.ids["bare_old"]))
        # the trail as supervisors read it
        for who in ("supervisor", "admin"):
            r = self.srv.request("GET", "/api/v1/audit?user=system", token=self.tok[who])
            self.assertEqual(r.status, 200, r)
            items = [i for i in r.json()["items"] if i["action"] == "report.mask"]
            self.assertEqual([i["report_ids"] for i in items], [want], who)
        r = self.srv.request("GET", "/api/v1/audit?report=%d" % want[0], token=self.tok["supervisor"])
        self.assertIn("report.mask", [i["action"] for i in r.json()["items"]])

    def test_zz_a_photo_after_masking_goes_at_the_next_run(self):
        rid = self.ids["cancelled_old"]
        self.photo(self.srv, rid)
        self.assertEqual(len(self.photos("cancelled_old")), 1)
        self.srv.restart()  # the step runs at start (then hourly)
        self.assertTrue(wait_for(lambda: self.db.value("SELECT count(*) FROM photos WHERE report_id = %s", rid) == 0))
        self.assertTrue(wait_for(lambda: len(self.mask_rows()) == 2))
        self.assertEqual(self.mask_rows()[-1]["report_ids"], [rid])
        self.assertEqual(len(self.photos("open_old")), 1)


class TwoInstancesTest(unittest.TestCase):
    def test_each_report_masked_once(self):
        """1,200 reports closed 200 days ago (three batches), two instances starting at once."""
        db = harness.fresh_db()
        self.addCleanup(db.drop)
        db.sql("INSERT INTO reports (client_id, category, geom, observed_at, status, person, city_code, county_code,"
               " contact) SELECT gen_random_uuid(), 'vagrant', ST_SetSRID(ST_MakePoint(119.16, 34.57), 4326),"
               " now() - interval '201 days', 'cancelled', '{\"sex\": \"male\"}', '320700000000',"
               " CASE WHEN mod(g, 2) = 0 THEN '320706000000' ELSE '320724000000' END,"
               " CASE WHEN mod(g, 3) = 0 THEN '{\"phone\": \"1\"}'::jsonb END FROM generate_series(1, 1200) g")
        db.sql("INSERT INTO report_events (report_id, type, actor, at, from_status, to_status)"
               " SELECT id, 'cancel', 'test', now() - interval '200 days', 'new', 'cancelled' FROM reports"
               " WHERE status = 'cancelled' AND person IS NOT NULL")
        want = set(r["id"] for r in db.sql("SELECT id FROM reports WHERE status = 'cancelled' AND person IS NOT NULL"))
        self.assertEqual(len(want), 1200)
        a = harness.Server(db, wait_ready=False)
        b = harness.Server(db, wait_ready=False)
        self.addCleanup(a.stop)
        self.addCleanup(b.stop)
        self.assertTrue(wait_for(lambda: db.value("SELECT count(*) FROM reports WHERE person IS NOT NULL"
                                                  " AND status = 'cancelled'") == 0, 60))
        self.assertTrue(wait_for(lambda: sum(len(r["report_ids"]) for r in db.sql(
            "SELECT report_ids FROM audit WHERE action = 'report.mask'")) >= 1200, 30))
        rows = db.sql("SELECT division_code, report_ids FROM audit WHERE action = 'report.mask'")
        ids = [i for r in rows for i in r["report_ids"]]
        self.assertEqual(len(ids), len(set(ids)), "a report masked twice")
        self.assertEqual(set(ids), want)
        for r in rows:  # one row per batch and county, each naming only its county's reports
            county = db.sql("SELECT DISTINCT county_code FROM reports WHERE id = ANY (%s::bigint[])",
                            "{%s}" % ",".join(map(str, r["report_ids"])))
            self.assertEqual([c["county_code"] for c in county], [r["division_code"]])
        self.assertEqual(db.value("SELECT count(*) FROM reports WHERE contact IS NOT NULL"), 0)


if __name__ == "__main__":
    unittest.main()
