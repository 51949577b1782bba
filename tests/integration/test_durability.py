"""test_durability.py - an acknowledged report survives `kill -9` of the server: while threads post
reports with unique client_ids, the server is killed and restarted; afterwards every client_id that
got 201/200 is in the database exactly once, and sending it again returns 200 with the same id."""
import http.client
import json
import random
import sys
import threading
import time
import unittest
import uuid

import harness

HAIZHOU = (119.163509, 34.572274)


class Load:
    """Threads posting reports until stopped; records every acknowledged client_id -> report id."""

    def __init__(self, srv, token, threads=8):
        self.srv, self.token = srv, token
        self.acked, self.sent, self.failed = {}, 0, 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def run(self, seed):
        rnd = random.Random(seed)
        conn = None
        while not self.stop.is_set():
            cid = str(uuid.uuid4())
            body = json.dumps({"client_id": cid, "category": "vagrant",
                               "location": {"lon": HAIZHOU[0] + rnd.uniform(-0.01, 0.01),
                                            "lat": HAIZHOU[1] + rnd.uniform(-0.01, 0.01)},
                               "observed_at": "2024-05-01T08:00:00+08:00"})
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
                conn.request("POST", "/api/v1/reports", body=body,
                             headers={"Content-Type": "application/json", "Authorization": "Bearer " + self.token})
                r = conn.getresponse()
                data = r.read()
                with self.lock:
                    self.sent += 1
                    if r.status in (200, 201):
                        self.acked[cid] = json.loads(data)["id"]
            except (OSError, http.client.HTTPException, ValueError):
                with self.lock:
                    self.failed += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
        if conn is not None:
            conn.close()


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.db = harness.fresh_db()
        self.srv = harness.Server(self.db, threads=16)

    def tearDown(self):
        self.srv.stop()
        self.db.drop()

    def test_acknowledged_reports_survive_kill_9(self):
        token = self.srv.login("patrol")
        load = Load(self.srv, token)
        load.start()
        time.sleep(2.0)
        with load.lock:
            acked_before_kill = len(load.acked)
        self.srv.kill()                       # SIGKILL mid-traffic
        time.sleep(0.5)
        self.srv.start()                      # same port; the load keeps going through the restart
        time.sleep(1.5)
        load.join()
        self.assertGreater(acked_before_kill, 20, "the load generator did not get going")
        self.assertGreater(load.failed, 0, "the kill did not interrupt any request")
        with load.lock:
            acked = dict(load.acked)
        self.assertGreater(len(acked), acked_before_kill, "no report was acknowledged after the restart")
        print("durability: %d acknowledged (%d before the kill), %d failed requests"
              % (len(acked), acked_before_kill, load.failed), file=sys.stderr)

        rows = self.db.sql("SELECT client_id::text AS cid, count(*) AS n, min(id) AS id FROM reports"
                           " WHERE client_id = ANY (%s::uuid[]) GROUP BY client_id", "{%s}" % ",".join(acked))
        found = {r["cid"]: r for r in rows}
        missing = [c for c in acked if c not in found]
        self.assertEqual(missing, [], "acknowledged but lost")
        self.assertEqual([c for c, r in found.items() if r["n"] != 1], [])
        self.assertEqual({c: r["id"] for c, r in found.items()}, acked)
        # nothing stored twice overall either
        self.assertEqual(self.db.value("SELECT count(*) - count(DISTINCT client_id) FROM reports"), 0)

        # re-sending every acknowledged report is a no-op that returns the same report
        token = self.srv.login("patrol")
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
        for cid, rid in acked.items():
            conn.request("POST", "/api/v1/reports", headers={"Content-Type": "application/json",
                                                              "Authorization": "Bearer " + token},
                         body=json.dumps({"client_id": cid, "category": "vagrant",
                                          "location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]},
                                          "observed_at": "2024-05-01T08:00:00+08:00"}))
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, body[:300])
            self.assertEqual(json.loads(body)["id"], rid)
        conn.close()
        self.assertEqual(self.db.value("SELECT count(*) - count(DISTINCT client_id) FROM reports"), 0)


if __name__ == "__main__":
    unittest.main()
