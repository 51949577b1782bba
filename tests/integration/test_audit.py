"""test_audit.py - reads of personal data (GET report, lists, photo list and bytes, CSV and GeoJSON exports)
write one audit row per request (who, action, report ids, when, request id) before the data goes out, and
GET /api/v1/audit serves them to supervisors (own division) and admins; 403 for everyone else."""
import unittest

import harness
from test_edge_scope import point_in_guannan
from test_photos import png
from test_reports import new_body, point_in_haizhou


class AuditTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        # a county supervisor of 灌南 (same password as the demo users)
        cls.db.sql("INSERT INTO users (username, password_hash, role, division_code) SELECT 'supervisor_gn',"
                   " password_hash, 'supervisor', '320724000000' FROM users WHERE username = 'dispatcher_gn'")
        cls.srv = harness.Server(cls.db, env={"PATROLD_ESCALATE_INTERVAL_MS": "600000"})
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "patrol", "community", "supervisor",
                                                 "supervisor_gn", "admin")}
        cls.hz = point_in_haizhou(cls.db)
        cls.ids = []
        for _ in range(3):
            r = cls.srv.request("POST", "/api/v1/reports", json_body=new_body(*cls.hz), token=cls.tok["patrol"])
            assert r.status == 201, r
            cls.ids.append(r.json()["id"])
        r = cls.srv.request("POST", "/api/v1/reports", json_body=new_body(*point_in_guannan(cls.db)),
                            token=cls.tok["dispatcher_gn"])
        assert r.status == 201, r
        cls.gn_id = r.json()["id"]

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    def get(self, user, path):
        return self.srv.request("GET", path, token=self.tok[user])

    def rows(self, request_id):
        return self.db.sql("SELECT user_id, username, role, division_code, action, report_ids, request_id,"
                           " extract(epoch FROM now() - at) AS age FROM audit_reads WHERE request_id = %s", request_id)

    def assert_audited(self, r, user, action, ids):
        """Exactly one row for the request r, naming user, action and the report ids."""
        rows = self.rows(r.headers["x-request-id"])
        self.assertEqual(len(rows), 1, (action, rows))
        row = rows[0]
        uid = self.db.value("SELECT id FROM users WHERE username = %s", user)
        self.assertEqual((row["user_id"], row["username"], row["action"]), (uid, user, action))
        self.assertEqual(sorted(row["report_ids"]), sorted(ids))
        self.assertLess(row["age"], 60)
        return row

    def test_report_get_is_audited(self):
        rid = self.ids[0]
        r = self.get("dispatcher", "/api/v1/reports/%d" % rid)
        self.assertEqual(r.status, 200, r)
        row = self.assert_audited(r, "dispatcher", "report.get", [rid])
        self.assertEqual((row["role"], row["division_code"]), ("dispatcher", "320706000000"))
        # nothing read, nothing written: another county's 404
        r = self.get("dispatcher_gn", "/api/v1/reports/%d" % rid)
        self.assertEqual(r.status, 404)
        self.assertEqual(self.rows(r.headers["x-request-id"]), [])

    def test_replays_that_return_a_report_are_audited(self):
        body = new_body(*self.hz)
        first = self.srv.request("POST", "/api/v1/reports", json_body=body, token=self.tok["patrol"])
        self.assertEqual(first.status, 201, first)
        self.assertEqual(self.rows(first.headers["x-request-id"]), [])  # a new report is not a read
        r = self.srv.request("POST", "/api/v1/reports", json_body=body, token=self.tok["dispatcher"])
        self.assertEqual(r.status, 200, r)
        self.assert_audited(r, "dispatcher", "report.get", [first.json()["id"]])
        r = self.srv.request("POST", "/api/v1/reports/batch", json_body={"reports": [body, new_body(*self.hz), body]},
                             token=self.tok["patrol"])
        self.assertEqual([i["status"] for i in r.json()["results"]], ["existing", "created", "existing"], r)
        self.assert_audited(r, "patrol", "report.get", [first.json()["id"]] * 2)

    def test_list_is_one_row_per_request(self):
        r = self.get("dispatcher", "/api/v1/reports?limit=500")
        self.assertEqual(r.status, 200, r)
        listed = [i["id"] for i in r.json()["items"]]
        self.assertTrue(set(self.ids) <= set(listed))
        self.assert_audited(r, "dispatcher", "report.list", listed)

    def test_photos_are_audited(self):
        rid = self.ids[1]
        up = self.srv.request("POST", "/api/v1/reports/%d/photos" % rid, body=png(), headers={"Content-Type": "image/png"},
                              token=self.tok["patrol"])
        self.assertEqual(up.status, 201, up)
        r = self.get("dispatcher", "/api/v1/reports/%d/photos" % rid)
        self.assertEqual(r.status, 200, r)
        self.assert_audited(r, "dispatcher", "photo.list", [rid])
        r = self.get("supervisor", up.json()["url"])
        self.assertEqual(r.status, 200, r)
        self.assert_audited(r, "supervisor", "photo.get", [rid])

    def test_exports_are_audited(self):
        for fmt, action in (("csv", "export.csv"), ("geojson", "export.geojson")):
            r = self.get("dispatcher", "/api/v1/reports.%s" % fmt)
            self.assertEqual(r.status, 200, r)
            row = self.assert_audited(r, "dispatcher", action, self.db.sql(
                "SELECT coalesce(array_agg(id), '{}') AS a FROM reports WHERE county_code = '320706000000'")[0]["a"])
            self.assertNotIn(self.gn_id, row["report_ids"])

    def test_supervisor_reads_the_trail(self):
        rid = self.ids[2]
        t0 = self.db.value("SELECT to_json(now())#>>'{}'")
        g = self.get("dispatcher", "/api/v1/reports/%d" % rid)
        self.assertEqual(g.status, 200)
        r = self.get("supervisor", "/api/v1/audit?report=%d&user=dispatcher" % rid)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertIn("next", body)
        hit = [i for i in body["items"] if i["request_id"] == g.headers["x-request-id"]]
        self.assertEqual(len(hit), 1, body)
        self.assertEqual((hit[0]["username"], hit[0]["role"], hit[0]["action"], hit[0]["report_ids"]),
                         ("dispatcher", "dispatcher", "report.get", [rid]))
        self.assertTrue(hit[0]["at"])
        self.assertTrue(all(rid in i["report_ids"] and i["username"] == "dispatcher" for i in body["items"]))
        # since: only rows from then on
        since = self.get("supervisor", "/api/v1/audit?limit=500&since=%s" % t0.replace("+", "%2B")).json()["items"]
        self.assertIn(g.headers["x-request-id"], [i["request_id"] for i in since])
        self.assertEqual([i["id"] for i in since], [x["id"] for x in self.db.sql(
            "SELECT id FROM audit_reads WHERE at >= %s::timestamptz ORDER BY id DESC", t0)])
        # paging: limit + cursor walk every row once, newest first
        total = self.db.value("SELECT count(*) FROM audit_reads WHERE division_code LIKE '3207%%'")
        seen, cursor = [], None
        while True:
            page = self.get("admin", "/api/v1/audit?limit=2" + ("&cursor=" + cursor if cursor else "")).json()
            self.assertLessEqual(len(page["items"]), 2)
            seen += [i["id"] for i in page["items"]]
            cursor = page["next"]
            if not cursor:
                break
        self.assertGreaterEqual(len(seen), total)
        self.assertEqual(seen, sorted(set(seen), reverse=True))
        for bad in ("limit=0", "limit=501", "cursor=xyz", "since=yesterday", "since=2024-02-30T00:00:00Z", "report=abc",
                    "report=99999999999999999999", "user=" + "a" * 100):
            r = self.get("supervisor", "/api/v1/audit?" + bad)
            self.assertEqual(r.status, 400, (bad, r))

    def test_county_supervisor_sees_its_own_division(self):
        g = self.get("dispatcher_gn", "/api/v1/reports/%d" % self.gn_id)
        self.assertEqual(g.status, 200)
        h = self.get("dispatcher", "/api/v1/reports/%d" % self.ids[0])
        items = self.get("supervisor_gn", "/api/v1/audit?limit=500").json()["items"]
        rids = [i["request_id"] for i in items]
        self.assertIn(g.headers["x-request-id"], rids)
        self.assertNotIn(h.headers["x-request-id"], rids)
        self.assertEqual({i["username"] for i in items} - {"dispatcher_gn", "supervisor_gn"}, set())
        self.assertIn(h.headers["x-request-id"],
                      [i["request_id"] for i in self.get("supervisor", "/api/v1/audit?limit=500").json()["items"]])

    def test_others_are_refused(self):
        for user in ("patrol", "community", "dispatcher", "dispatcher_gn"):
            r = self.get(user, "/api/v1/audit")
            self.assertEqual((r.status, r.error), (403, "forbidden"), user)
        self.assertEqual(self.srv.request("GET", "/api/v1/audit").status, 401)


if __name__ == "__main__":
    unittest.main()
