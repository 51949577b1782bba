"""test_audit.py - reads of personal data (GET report, lists, photo list and bytes, CSV and GeoJSON exports)
are audited before the data goes out (who, action, report ids, when, from which address, request ids), one
row per reader, route and minute (the console's refreshes do not flood the trail, and the row still carries
every report id read); sign-ins, sign-outs, password changes and administrative writes (with the entity before
and after) are audited too; GET /api/v1/audit serves them to supervisors (own division) and admins with
filters (list parameters repeated mean any of); 403 for everyone else."""
import time
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
        return self.db.sql("SELECT id, user_id, username, role, division_code, action, report_ids, request_ids,"
                           " kind, address, reads, extract(epoch FROM now() - at) AS age FROM audit"
                           " WHERE %s = ANY (request_ids)", request_id)

    def assert_audited(self, r, user, action, ids):
        """Exactly one row holds the request r, naming user and action, with every report id it read (the
        row may carry more: the reads of the same reader and action in the same minute)."""
        rows = self.rows(r.headers["x-request-id"])
        self.assertEqual(len(rows), 1, (action, rows))
        row = rows[0]
        uid = self.db.value("SELECT id FROM users WHERE username = %s", user)
        self.assertEqual((row["user_id"], row["username"], row["action"], row["kind"], row["address"]),
                         (uid, user, action, "read", "127.0.0.1"))
        self.assertLessEqual(set(ids), set(row["report_ids"]))
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

    def test_refreshes_are_one_row_per_reader_route_and_minute(self):
        """A console refreshing its list: one row a minute for the reader and route, holding every request
        and every report id read (a report new between two refreshes included); another reader or route
        has rows of its own."""
        second = self.db.value("SELECT extract(second FROM now())::float8")
        if second > 50:  # both refreshes in one minute
            time.sleep(61 - second)
        first = self.get("dispatcher", "/api/v1/reports?limit=500")
        self.assertEqual(first.status, 200, first)
        listed = [i["id"] for i in first.json()["items"]]
        self.assertTrue(set(self.ids) <= set(listed))
        row = self.assert_audited(first, "dispatcher", "report.list", listed)
        extra = self.srv.request("POST", "/api/v1/reports", json_body=new_body(*self.hz), token=self.tok["patrol"])
        self.assertEqual(extra.status, 201, extra)
        again = self.get("dispatcher", "/api/v1/reports?limit=500")
        merged = self.assert_audited(again, "dispatcher", "report.list", listed + [extra.json()["id"]])
        self.assertEqual(merged["id"], row["id"])
        self.assertEqual(merged["reads"], row["reads"] + 1)
        self.assertIn(first.headers["x-request-id"], merged["request_ids"])
        other = self.assert_audited(self.get("supervisor", "/api/v1/reports?limit=5"), "supervisor",
                                    "report.list", [])
        self.assertNotEqual(other["id"], row["id"])
        self.assertEqual(self.db.value("SELECT count(*) FROM audit WHERE user_id = %s AND action = 'report.list'"
                                       " AND minute = date_trunc('minute', now())",
                                       self.db.value("SELECT id FROM users WHERE username = 'dispatcher'")), 1)

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
        hit = [i for i in body["items"] if g.headers["x-request-id"] in i["request_ids"]]
        self.assertEqual(len(hit), 1, body)
        self.assertEqual((hit[0]["username"], hit[0]["role"], hit[0]["action"], hit[0]["kind"]),
                         ("dispatcher", "dispatcher", "report.get", "read"))
        self.assertIn(rid, hit[0]["report_ids"])
        self.assertTrue(hit[0]["at"])
        self.assertTrue(all(rid in i["report_ids"] and i["username"] == "dispatcher" for i in body["items"]))
        # since: only rows from then on
        since = self.get("supervisor", "/api/v1/audit?limit=500&since=%s" % t0.replace("+", "%2B")).json()["items"]
        self.assertIn(g.headers["x-request-id"], [x for i in since for x in i["request_ids"]])
        self.assertEqual([i["id"] for i in since], [x["id"] for x in self.db.sql(
            "SELECT id FROM audit WHERE at >= %s::timestamptz AND (division_code LIKE '3207%%'"
            " OR entity_division LIKE '3207%%') ORDER BY id DESC", t0)])
        # paging: limit + cursor walk every row once, newest first
        total = self.db.value("SELECT count(*) FROM audit WHERE division_code LIKE '3207%%'")
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
        rids = [x for i in items for x in i["request_ids"]]
        self.assertIn(g.headers["x-request-id"], rids)
        self.assertNotIn(h.headers["x-request-id"], rids)
        self.assertEqual({i["username"] for i in items} - {"dispatcher_gn", "supervisor_gn"}, set())
        self.assertIn(h.headers["x-request-id"],
                      [x for i in self.get("supervisor", "/api/v1/audit?limit=500").json()["items"]
                       for x in i["request_ids"]])

    def test_sign_ins_are_audited(self):
        """Who signed in (or tried), when, from which address (behind a trusted proxy: the client's)."""
        ok = self.srv.request("POST", "/api/v1/auth/login", json_body={"username": "community", "password": "demo"})
        self.assertEqual(ok.status, 200, ok)
        row = self.rows(ok.headers["x-request-id"])
        self.assertEqual([(x["kind"], x["action"], x["username"], x["role"], x["address"]) for x in row],
                         [("sign_in", "auth.login", "community", "community", "127.0.0.1")])
        bad = self.srv.request("POST", "/api/v1/auth/login", json_body={"username": "nobody-here", "password": "x"})
        self.assertEqual(bad.status, 401)
        row = self.rows(bad.headers["x-request-id"])
        self.assertEqual([(x["action"], x["username"], x["user_id"]) for x in row],
                         [("auth.login_failed", "nobody-here", None)])
        out = self.srv.request("POST", "/api/v1/auth/logout", token=ok.json()["token"])
        self.assertEqual(out.status, 204)
        self.assertEqual([x["action"] for x in self.rows(out.headers["x-request-id"])], ["auth.logout"])
        seen = self.get("admin", "/api/v1/audit?kind=sign_in&user=nobody-here").json()["items"]
        self.assertEqual([(i["action"], i["address"]) for i in seen], [("auth.login_failed", "127.0.0.1")])

    def test_writes_are_audited_with_before_and_after(self):
        station = self.db.value("SELECT id FROM stations WHERE tier = 'county' AND division_code = '320706000000'")
        before = self.get("admin", "/api/v1/stations/%d" % station).json()
        r = self.srv.request("PATCH", "/api/v1/stations/%d" % station, json_body={"phone": "0518-12345678", "beds": 40},
                             token=self.tok["supervisor"])
        self.assertEqual(r.status, 200, r)
        rows = self.get("supervisor", "/api/v1/audit?entity=station&entity_id=%d&action=station.update" % station)
        items = rows.json()["items"]
        self.assertEqual(len(items), 1, items)
        w = items[0]
        self.assertEqual((w["kind"], w["username"], w["role"], w["address"], w["request_id"]),
                         ("write", "supervisor", "supervisor", "127.0.0.1", r.headers["x-request-id"]))
        self.assertEqual((w["before"]["phone"], w["before"]["beds"]), (before["phone"], before["beds"]))
        self.assertEqual((w["after"]["phone"], w["after"]["beds"]), ("0518-12345678", 40))
        # the county's supervisor sees writes on its division's entities, even an admin's
        r = self.srv.request("PATCH", "/api/v1/stations/%d" % station, json_body={"beds": 41}, token=self.tok["admin"])
        self.assertEqual(r.status, 200, r)
        self.db.sql("INSERT INTO users (username, password_hash, role, division_code) SELECT 'supervisor_hz',"
                    " password_hash, 'supervisor', '320706000000' FROM users WHERE username = 'dispatcher'"
                    " ON CONFLICT DO NOTHING")
        hz = self.get_as(self.srv.login("supervisor_hz"), "/api/v1/audit?kind=write&user=admin")
        self.assertIn(r.headers["x-request-id"], [i["request_id"] for i in hz.json()["items"]])
        gn = self.get("supervisor_gn", "/api/v1/audit?kind=write").json()["items"]
        self.assertNotIn(r.headers["x-request-id"], [i["request_id"] for i in gn])
        # nothing changed: nothing written, nothing audited
        n = self.db.value("SELECT count(*) FROM audit WHERE kind = 'write'")
        r = self.srv.request("PATCH", "/api/v1/stations/%d" % station, json_body={"beds": 41}, token=self.tok["admin"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.db.value("SELECT count(*) FROM audit WHERE kind = 'write'"), n)

    def get_as(self, token, path):
        return self.srv.request("GET", path, token=token)

    def test_repeated_parameters(self):
        """kind and action are lists: repeated means any of; entity is not: given twice is a 400, never
        silently the first."""
        both = self.get("admin", "/api/v1/audit?limit=500&kind=read&kind=sign_in").json()["items"]
        self.assertEqual(both, self.get("admin", "/api/v1/audit?limit=500&kind=read,sign_in").json()["items"])
        self.assertTrue({"read", "sign_in"} <= {i["kind"] for i in both}, both)
        self.assertNotIn("write", {i["kind"] for i in both})
        acts = self.get("admin", "/api/v1/audit?limit=500&action=report.get&action=auth.login").json()["items"]
        self.assertEqual({i["action"] for i in acts}, {"report.get", "auth.login"})
        for bad in ("entity=unit&entity=user", "user=a&user=b", "kind=read&kind=nope", "action=report.gets"):
            r = self.get("admin", "/api/v1/audit?" + bad)
            self.assertEqual(r.status, 400, (bad, r))

    def test_others_are_refused(self):
        for user in ("patrol", "community", "dispatcher", "dispatcher_gn"):
            r = self.get(user, "/api/v1/audit")
            self.assertEqual((r.status, r.error), (403, "forbidden"), user)
        self.assertEqual(self.srv.request("GET", "/api/v1/audit").status, 401)


if __name__ == "__main__":
    unittest.main()
