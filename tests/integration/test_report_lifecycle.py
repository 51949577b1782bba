"""test_report_lifecycle.py - POST /api/v1/reports/{id}/events: the state machine, roles, required fields,
units, 409s that change nothing, manual escalation, and the timeline."""
import threading
import unittest

import harness
from test_reports import new_body, point_in_haizhou


def snapshot(db, report_id):
    return db.sql("SELECT (SELECT row_to_json(r)::text FROM reports r WHERE id = %s) AS rep,"
                  " (SELECT count(*) FROM report_events) AS audit, (SELECT count(*) FROM events) AS events,"
                  " (SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM units) AS units", report_id)[0]


class LifecycleTest(harness.FreshDbCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = harness.Server(cls.db, env={"PATROLD_ESCALATE_INTERVAL_MS": "600000"})
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "supervisor", "patrol", "community", "admin")}
        cls.lon, cls.lat = point_in_haizhou(cls.db)
        station = cls.db.value("SELECT id FROM stations WHERE division_code LIKE '320706%%' ORDER BY id LIMIT 1")
        cls.units = [cls.db.sql("INSERT INTO units (name, station_id, division_code, status) VALUES (%s, %s, '320706000000',"
                                " 'available') RETURNING id", "测试组%d" % i, station)[0]["id"] for i in range(4)]

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def create(self, user="patrol"):
        r = self.srv.request("POST", "/api/v1/reports", json_body=new_body(self.lon, self.lat), token=self.tok[user])
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def ride(self, unit):
        """The patrol user joins unit (a patrol moves only reports dispatched to its own unit)."""
        self.db.sql("UPDATE users SET unit_id = %s WHERE username = 'patrol'", unit)

    def event(self, rid, user, **body):
        return self.srv.request("POST", "/api/v1/reports/%d/events" % rid, json_body=body, token=self.tok[user])

    def assert_refused(self, rid, user, status, code, **body):
        before = snapshot(self.db, rid)
        r = self.event(rid, user, **body)
        self.assertEqual((r.status, r.error), (status, code), r)
        self.assertEqual(snapshot(self.db, rid), before)

    def test_full_path_and_timeline(self):
        rid = self.create()
        unit = self.units[0]
        self.ride(unit)
        steps = [("dispatcher", {"type": "acknowledge", "note": "收到"}, "acknowledged"),
                 ("dispatcher", {"type": "dispatch", "unit_id": unit}, "dispatched"),
                 ("patrol", {"type": "arrive"}, "on_scene"),
                 ("patrol", {"type": "resolve", "outcome": "admitted_to_station"}, "resolved")]
        for user, body, status in steps:
            r = self.event(rid, user, **body)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["status"], status)
            if body["type"] == "dispatch":
                self.assertEqual(r.json()["unit_id"], unit)
                self.assertEqual(self.db.value("SELECT status FROM units WHERE id = %s", unit), "dispatched")
        self.assertEqual(self.db.value("SELECT status FROM units WHERE id = %s", unit), "available")
        self.assertEqual(self.db.value("SELECT outcome FROM reports WHERE id = %s", rid), "admitted_to_station")
        tl = self.srv.request("GET", "/api/v1/reports/%d/timeline" % rid, token=self.tok["dispatcher"])
        self.assertEqual(tl.status, 200, tl)
        items = tl.json()["items"]
        self.assertEqual([i["type"] for i in items], ["created", "acknowledge", "dispatch", "arrive", "resolve"])
        self.assertEqual([i["actor"] for i in items], ["patrol", "dispatcher", "dispatcher", "patrol", "patrol"])
        self.assertEqual([i["to_status"] for i in items], ["new", "acknowledged", "dispatched", "on_scene", "resolved"])
        self.assertEqual([i["from_status"] for i in items], [None, "new", "acknowledged", "dispatched", "on_scene"])
        self.assertEqual(items[1]["details"]["note"], "收到")
        self.assertEqual(items[2]["details"]["unit_id"], unit)
        self.assertTrue(all(i["at"] for i in items))
        self.assertEqual(items, sorted(items, key=lambda i: (i["at"], i["id"])))
        self.assertEqual(self.db.value("SELECT count(*) FROM events WHERE entity_id = %s AND kind LIKE 'report.%%'", rid), 5)
        # finished: every further change is 409 and changes nothing
        for t in ("acknowledge", "arrive", "cancel", "escalate"):
            with self.subTest(type=t):
                self.assert_refused(rid, "dispatcher", 409, "invalid_transition", type=t)
        self.assert_refused(rid, "dispatcher", 409, "invalid_transition", type="dispatch", unit_id=self.units[1])
        self.assert_refused(rid, "dispatcher", 409, "invalid_transition", type="resolve", outcome="not_found")

    def test_wrong_order_is_409(self):
        rid = self.create()
        self.assert_refused(rid, "dispatcher", 409, "invalid_transition", type="arrive")
        self.assert_refused(rid, "dispatcher", 409, "invalid_transition", type="resolve", outcome="not_found")
        self.assertEqual(self.event(rid, "dispatcher", type="acknowledge").status, 200)
        self.assert_refused(rid, "dispatcher", 409, "invalid_transition", type="acknowledge")

    def test_roles(self):
        rid = self.create()
        self.assert_refused(rid, "patrol", 403, "forbidden", type="acknowledge")
        self.assert_refused(rid, "patrol", 403, "forbidden", type="dispatch", unit_id=self.units[1])
        self.assert_refused(rid, "community", 403, "forbidden", type="dispatch", unit_id=self.units[1])
        self.assert_refused(rid, "community", 403, "forbidden", type="cancel")  # not its own report
        self.assert_refused(rid, "dispatcher_gn", 404, "not_found", type="acknowledge")  # out of scope
        # the creator may withdraw its own new report
        own = self.create("community")
        r = self.event(own, "community", type="cancel", note="看错了")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "cancelled")

    def actions(self, rid, user):
        r = self.srv.request("GET", "/api/v1/reports/%d" % rid, token=self.tok[user])
        self.assertEqual(r.status, 200, r)
        return set(r.json()["actions"])

    def test_actions_are_what_the_table_allows(self):
        """GET of one report lists the events this user may send now: each listed one is taken, an
        unlisted one is refused (the console offers only these)."""
        rid = self.create()
        staff_open = {"cancel", "escalate"}
        self.assertEqual(self.actions(rid, "dispatcher"), {"acknowledge", "dispatch", "mark_duplicate"} | staff_open)
        self.assertEqual(self.actions(rid, "patrol"), {"cancel"})  # its own new report
        self.assertEqual(self.actions(rid, "community"), set())
        self.assert_refused(rid, "community", 403, "forbidden", type="cancel")
        self.assertEqual(self.event(rid, "dispatcher", type="acknowledge").status, 200)
        self.assertEqual(self.actions(rid, "dispatcher"), {"dispatch", "mark_duplicate"} | staff_open)
        self.assertEqual(self.actions(rid, "patrol"), set())  # no longer new, not its unit
        self.assert_refused(rid, "patrol", 403, "forbidden", type="cancel")
        unit = self.units[3]
        self.ride(unit)
        self.assertEqual(self.event(rid, "dispatcher", type="dispatch", unit_id=unit).status, 200)
        self.assertEqual(self.actions(rid, "patrol"), {"arrive", "resolve"})
        self.assertEqual(self.actions(rid, "dispatcher"), {"arrive", "resolve"} | staff_open)
        self.assertEqual(self.event(rid, "patrol", type="resolve", outcome="escorted_home").status, 200)
        self.assertEqual(self.actions(rid, "dispatcher"), set())
        self.assert_refused(rid, "dispatcher", 409, "invalid_transition", type="acknowledge")

    def test_required_fields_and_units(self):
        rid = self.create()
        self.assertEqual(self.event(rid, "dispatcher", type="acknowledge").status, 200)
        self.assert_refused(rid, "dispatcher", 400, "missing_field", type="dispatch")
        self.assert_refused(rid, "dispatcher", 400, "invalid_field", type="dispatch", unit_id="one")
        self.assert_refused(rid, "dispatcher", 404, "not_found", type="dispatch", unit_id=987654)
        busy = self.units[2]
        self.db.sql("UPDATE units SET status = 'busy' WHERE id = %s", busy)
        self.assert_refused(rid, "dispatcher", 409, "unit_unavailable", type="dispatch", unit_id=busy)
        self.db.sql("UPDATE units SET status = 'available' WHERE id = %s", busy)
        guannan = self.db.value("SELECT id FROM units WHERE division_code = '320724000000' AND status = 'available'"
                                " ORDER BY id LIMIT 1")
        self.assert_refused(rid, "dispatcher", 404, "not_found", type="dispatch", unit_id=guannan)
        self.assert_refused(rid, "dispatcher", 400, "invalid_field", type="teleport")
        self.assert_refused(rid, "dispatcher", 400, "missing_field")
        self.assertEqual(self.event(rid, "dispatcher", type="dispatch", unit_id=busy).status, 200)
        self.ride(busy)
        self.assertEqual(self.event(rid, "patrol", type="arrive").status, 200)
        self.assert_refused(rid, "patrol", 400, "missing_field", type="resolve")
        self.assert_refused(rid, "patrol", 400, "invalid_field", type="resolve", outcome="vanished")
        r = self.event(rid, "dispatcher", type="cancel")
        self.assertEqual(r.status, 200)
        self.assertEqual(self.db.value("SELECT status FROM units WHERE id = %s", busy), "available")

    def test_mark_duplicate(self):
        a, b = self.create(), self.create()
        self.assert_refused(b, "dispatcher", 400, "missing_field", type="mark_duplicate")
        self.assert_refused(b, "dispatcher", 400, "invalid_field", type="mark_duplicate", duplicate_of=b)
        self.assert_refused(b, "dispatcher", 422, "unknown_report", type="mark_duplicate", duplicate_of=99999999)
        r = self.event(b, "dispatcher", type="mark_duplicate", duplicate_of=a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["status"], r.json()["duplicate_of"]), ("duplicate", a))
        self.assert_refused(b, "dispatcher", 409, "invalid_transition", type="acknowledge")

    def test_manual_escalate_keeps_status(self):
        rid = self.create()
        chain = self.db.sql("WITH RECURSIVE c(id, parent_id, tier, n) AS (SELECT s.id, s.parent_id, s.tier, 0 FROM stations s"
                            " JOIN reports r ON r.station_id = s.id WHERE r.id = %s UNION ALL SELECT s.id, s.parent_id, s.tier,"
                            " c.n + 1 FROM stations s JOIN c ON s.id = c.parent_id) SELECT id, tier FROM c ORDER BY n", rid)
        self.assertEqual(self.event(rid, "dispatcher", type="acknowledge").status, 200)
        for up in chain[1:]:
            r = self.event(rid, "supervisor", type="escalate")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["status"], "acknowledged")
            self.assertEqual(r.json()["responsible_station"]["id"], up["id"])
            self.assertEqual(r.json()["responsible_station"]["tier"], up["tier"])
        self.assert_refused(rid, "supervisor", 409, "no_parent_station", type="escalate")
        tl = self.srv.request("GET", "/api/v1/reports/%d/timeline" % rid, token=self.tok["supervisor"]).json()["items"]
        esc = [i for i in tl if i["type"] == "escalated"]
        self.assertEqual([e["details"]["to_station"] for e in esc], [c["id"] for c in chain[1:]])
        self.assertEqual(esc[0]["actor"], "supervisor")

    def test_concurrent_acknowledge_only_one_wins(self):
        rid = self.create()
        results, barrier = [], threading.Barrier(8)

        def ack():
            barrier.wait()
            results.append(self.event(rid, "dispatcher", type="acknowledge"))
        ts = [threading.Thread(target=ack) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(sorted(r.status for r in results), [200] + [409] * 7)
        self.assertEqual(self.db.value("SELECT count(*) FROM report_events WHERE report_id = %s AND type = 'acknowledge'", rid), 1)

    def test_timeline_scope(self):
        rid = self.create()
        self.assertEqual(self.srv.request("GET", "/api/v1/reports/%d/timeline" % rid, token=self.tok["dispatcher_gn"]).status, 404)
        self.assertEqual(self.srv.request("GET", "/api/v1/reports/%d/timeline" % rid, token=self.tok["admin"]).status, 200)


if __name__ == "__main__":
    unittest.main()
