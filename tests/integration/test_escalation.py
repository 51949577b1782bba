"""test_escalation.py - the escalation worker: with 1 s acknowledgement limits an unacknowledged report
climbs its station chain (e.g. town -> county -> city) with 'escalated' audit rows; acknowledged reports
stay; two patrold processes on one database escalate each report exactly once per tier; restarts resume."""
import json
import time
import unittest

import harness
from test_reports import new_body, point_in_haizhou

FAST = {"PATROLD_ACK_COMMUNITY_S": "1", "PATROLD_ACK_TOWN_S": "1", "PATROLD_ACK_COUNTY_S": "1",
        "PATROLD_ACK_CITY_S": "1", "PATROLD_ESCALATE_INTERVAL_MS": "100"}


def low_tier_point(db):
    """A point whose responsible station is as low as the demo data allows (town if there is one)."""
    rows = db.sql("SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(coverage) AS p, id FROM stations"
                  " WHERE tier = 'town' AND can_dispatch AND parent_id IS NOT NULL AND division_code LIKE '320706%%') s WHERE NOT EXISTS (SELECT 1 FROM stations c"
                  " WHERE c.tier = 'community' AND c.can_dispatch AND ST_Covers(c.coverage, s.p)) ORDER BY s.id LIMIT 1")
    return (rows[0]["lon"], rows[0]["lat"]) if rows else point_in_haizhou(db)


def chain_of(db, station_id):
    return db.sql("WITH RECURSIVE c(id, parent_id, tier, n) AS (SELECT id, parent_id, tier, 0 FROM stations WHERE id = %s"
                  " UNION ALL SELECT s.id, s.parent_id, s.tier, c.n + 1 FROM stations s JOIN c ON s.id = c.parent_id)"
                  " SELECT id, tier FROM c ORDER BY n", station_id)


def escalations(db, rid):
    return db.sql("SELECT actor, details->>'from_tier' AS f_tier, details->>'to_tier' AS t_tier, (details->>'to_station')::bigint AS to_id,"
                  " from_status, to_status FROM report_events WHERE report_id = %s AND type = 'escalated' ORDER BY id", rid)


def wait_for(pred, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


class EscalationTest(unittest.TestCase):
    def setUp(self):
        self.db = harness.fresh_db()
        self.lon, self.lat = low_tier_point(self.db)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        self.db.drop()

    def server(self, env=FAST):
        s = harness.Server(self.db, env=env)
        self.servers.append(s)
        return s

    def create(self, srv, tok, n=1):
        bodies = [new_body(self.lon, self.lat) for _ in range(n)]
        r = srv.request("POST", "/api/v1/reports/batch", json_body={"reports": bodies}, token=tok)
        self.assertEqual(r.status, 200, r)
        return [x["report"] for x in r.json()["results"]]

    def test_climbs_to_city(self):
        srv = self.server()
        tok = srv.login("patrol")
        d = srv.login("supervisor")  # before the reports: a sign-in (Argon2) can outlast a 1 s deadline
        rep, acked = self.create(srv, tok, 2)
        self.assertEqual(srv.request("POST", "/api/v1/reports/%d/events" % acked["id"], json_body={"type": "acknowledge"},
                                     token=d).status, 200)
        chain = chain_of(self.db, rep["responsible_station"]["id"])
        self.assertGreaterEqual(len(chain), 2, "the demo data needs a station below the city")
        self.assertEqual(chain[-1]["tier"], "city")
        top = chain[-1]["id"]
        self.assertTrue(wait_for(lambda: self.db.value("SELECT station_id FROM reports WHERE id = %s", rep["id"]) == top),
                        srv.log_text())
        time.sleep(1.5)  # past the city deadline too: nothing further happens
        esc = escalations(self.db, rep["id"])
        self.assertEqual([e["to_id"] for e in esc], [c["id"] for c in chain[1:]])
        self.assertEqual([(e["f_tier"], e["t_tier"]) for e in esc], [(a["tier"], b["tier"]) for a, b in zip(chain, chain[1:])])
        self.assertTrue(all(e["actor"] == "system" and e["from_status"] == e["to_status"] == "new" for e in esc))
        row = self.db.sql("SELECT status, tier, ack_deadline IS NOT NULL AS has_deadline FROM reports WHERE id = %s", rep["id"])[0]
        self.assertEqual(row, {"status": "new", "tier": "city", "has_deadline": True})
        self.assertEqual(self.db.value("SELECT count(*) FROM events WHERE entity_id = %s AND payload->>'event' = 'escalated'",
                                       rep["id"]), len(chain) - 1)
        # the API shows the new station
        g = srv.request("GET", "/api/v1/reports/%d" % rep["id"], token=srv.login("supervisor")).json()
        self.assertEqual(g["responsible_station"]["tier"], "city")
        # the thread's live events have the one report-event shape (what a map needs)
        pays = [r["p"] for r in self.db.sql("SELECT payload AS p FROM events WHERE entity_id = %s AND"
                                             " payload->>'event' = 'escalated' ORDER BY id", rep["id"])]
        codes = {d["level"] + "_code": d["code"] for d in g["divisions"]}
        for p, hop in zip(pays, zip(chain, chain[1:])):
            p = p if isinstance(p, dict) else json.loads(p)
            self.assertEqual((p["id"], p["status"], p["category"]), (rep["id"], "new", rep["category"]))
            self.assertAlmostEqual(p["lon"], rep["location"]["lon"], places=6)
            self.assertAlmostEqual(p["lat"], rep["location"]["lat"], places=6)
            for level in ("city", "county", "town", "community"):
                self.assertEqual(p[level + "_code"], codes.get(level + "_code"))
            self.assertEqual((p["from_station"], p["station_id"], p["tier"]), (hop[0]["id"], hop[1]["id"], hop[1]["tier"]))
        # the acknowledged one never moved
        self.assertEqual(escalations(self.db, acked["id"]), [])
        self.assertEqual(self.db.value("SELECT station_id FROM reports WHERE id = %s", acked["id"]),
                         acked["responsible_station"]["id"])

    def test_two_instances_escalate_once_per_tier(self):
        a, b = self.server(), self.server()
        reps = self.create(a, a.login("patrol"), 60)
        chain = chain_of(self.db, reps[0]["responsible_station"]["id"])
        top = chain[-1]["id"]
        ids = [r["id"] for r in reps]
        self.assertTrue(wait_for(lambda: self.db.value(
            "SELECT count(*) FROM reports WHERE id = ANY(%s::bigint[]) AND station_id = %s",
            "{%s}" % ",".join(map(str, ids)), top) == len(ids), 30), a.log_text() + b.log_text())
        time.sleep(1.5)
        for rid in ids:
            esc = escalations(self.db, rid)
            self.assertEqual([e["to_id"] for e in esc], [c["id"] for c in chain[1:]], "report %d" % rid)
        # both instances really worked
        logs = a.log_text() + "\n----\n" + b.log_text()
        self.assertIn("escalation:", a.log_text() + b.log_text(), logs)

    def test_survives_restart(self):
        slow = dict(FAST, PATROLD_ACK_TOWN_S="3", PATROLD_ACK_COMMUNITY_S="3", PATROLD_ACK_COUNTY_S="3")
        srv = self.server(slow)
        rep = self.create(srv, srv.login("patrol"))[0]
        srv.kill()  # gone before the deadline
        time.sleep(3.5)
        self.assertEqual(escalations(self.db, rep["id"]), [])
        srv.start()
        self.assertTrue(wait_for(lambda: len(escalations(self.db, rep["id"])) >= 1, 10), srv.log_text())
        self.assertEqual(escalations(self.db, rep["id"])[0]["f_tier"], rep["responsible_station"]["tier"])


if __name__ == "__main__":
    unittest.main()
