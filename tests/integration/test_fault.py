"""test_fault.py - PostgreSQL stopped for 10 s under load. A private cluster (scripts/pg.sh in a
temporary folder, so no other module is disturbed) serves one patrold; threads post reports with
unique client_ids and poll /readyz while the cluster is stopped and started again. Meanwhile every
answer is 503 (never 500, never a hang) and /readyz says 503; afterwards the service recovers by
itself, and every report that got a 2xx is in the database exactly once (none lost, none doubled).
Every refused client_id sent again afterwards is stored once too. Then PostgreSQL killed with
SIGKILL while many writers' reports are being group-committed: every acknowledged report is there
once after its crash recovery."""
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import harness

PG_SH = os.path.join(harness.ROOT, "scripts", "pg.sh")
HAIZHOU = (119.163509, 34.572274)
DOWN_S = 10
HANG_S = 8  # an answer slower than this during the outage counts as a hang


class PrivateDb:
    """A database in the private cluster; quacks like harness.Db for harness.Server."""

    def __init__(self, sock, name):
        self.sock, self.name = sock, name
        self.conninfo = "host=%s dbname=%s user=postgres connect_timeout=3" % (sock, name)

    def psql(self, sql, db=None):
        r = subprocess.run(["psql", "-h", self.sock, "-U", "postgres", "-d", db or self.name, "-XAtq",
                            "-v", "ON_ERROR_STOP=1"], input=sql, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql: %s\n%s" % (sql[:200], r.stderr))
        return r.stdout


class Load:
    """Report writers and /readyz pollers; every answer is kept with when it came and how long it took."""

    def __init__(self, port, token, writers=6, pause=0.1):
        self.port, self.token, self.pause = port, token, pause
        self.lock = threading.Lock()
        self.results = []  # (kind, t_sent, seconds, status or None, client_id)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.write, args=(i,), daemon=True) for i in range(writers)]
        self.threads += [threading.Thread(target=self.ready, daemon=True) for _ in range(2)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def one(self, conn, kind, method, path, body=None, cid=None):
        headers = {"Authorization": "Bearer " + self.token}
        if body is not None:
            headers["Content-Type"] = "application/json"
        t0 = time.time()
        status = None
        try:
            if conn[0] is None:
                conn[0] = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn[0].request(method, path, body=body, headers=headers)
            r = conn[0].getresponse()
            r.read()
            status = r.status
            if r.getheader("Connection", "").lower() == "close":
                conn[0].close()
                conn[0] = None
        except (OSError, http.client.HTTPException):
            if conn[0] is not None:
                conn[0].close()
            conn[0] = None
        with self.lock:
            self.results.append((kind, t0, time.time() - t0, status, cid))
        return status

    def write(self, seed):
        rnd, conn = random.Random(seed), [None]
        while not self.stop.is_set():
            cid = str(uuid.uuid4())
            body = json.dumps({"client_id": cid, "category": "vagrant", "observed_at": "2024-05-01T08:00:00+08:00",
                               "location": {"lon": HAIZHOU[0] + rnd.uniform(-0.01, 0.01),
                                            "lat": HAIZHOU[1] + rnd.uniform(-0.01, 0.01)}})
            self.one(conn, "post", "POST", "/api/v1/reports", body, cid)
            time.sleep(self.pause)
        if conn[0] is not None:
            conn[0].close()

    def ready(self):
        conn = [None]
        while not self.stop.is_set():
            self.one(conn, "ready", "GET", "/readyz")
            time.sleep(0.1)
        if conn[0] is not None:
            conn[0].close()


class Fault(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t0 = time.time()
        cls.dir = tempfile.mkdtemp(prefix="fault-")
        os.chmod(cls.dir, 0o755)
        cls.state = os.path.join(cls.dir, "pg")
        cls.sock = subprocess.run([PG_SH, "start", cls.state], check=True, capture_output=True,
                                  text=True).stdout.strip()
        cls.db = PrivateDb(cls.sock, "fault")
        cls.db.psql("CREATE DATABASE fault", "postgres")
        harness.run_patrold(["migrate"], cls.db, check=True)
        harness.run_patrold(["seed"], cls.db, check=True, timeout=600)
        cls.srv = harness.Server(cls.db, threads=32)
        print("\nfault: private cluster, migrations and demo data ready in %.1fs" % (time.time() - t0))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        subprocess.run([PG_SH, "stop", cls.state], capture_output=True)
        link = os.path.join(cls.state, "pg")
        if os.path.islink(link):
            shutil.rmtree(os.path.realpath(link), ignore_errors=True)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def stored_counts(self, cids):
        """{client_id: rows} and the number of distinct inserting transactions of those rows."""
        out = self.db.psql("SELECT client_id, count(*), string_agg(xmin::text, ',') FROM reports"
                           " WHERE client_id::text IN (%s) GROUP BY 1" % ",".join("'%s'" % c for c in cids))
        counts, xacts = {}, set()
        for line in out.split():
            cid, n, xs = line.split("|")
            counts[cid] = int(n)
            xacts.update(xs.split(","))
        return counts, len(xacts)

    def test_database_killed_9_during_group_commits(self):
        token = self.srv.login("patrol")
        load = Load(self.srv.port, token, writers=24, pause=0)
        load.start()
        time.sleep(3)
        state = os.path.join(self.state, "pg") if os.path.islink(os.path.join(self.state, "pg")) else self.state
        with open(os.path.join(state, "data", "postmaster.pid")) as f:
            os.kill(int(f.readline()), signal.SIGKILL)
        killed = time.time()
        time.sleep(1)
        # its backends notice that the postmaster is gone and exit; then it starts with crash recovery
        deadline = time.time() + 60
        while subprocess.run([PG_SH, "start", self.state], capture_output=True).returncode != 0:
            self.assertLess(time.time(), deadline, "PostgreSQL did not start again after SIGKILL")
            time.sleep(0.5)
        up = time.time()
        while time.time() < up + 60 and not any(r[0] == "post" and r[1] > up and r[3] in (200, 201)
                                                 for r in list(load.results)):
            time.sleep(0.2)
        time.sleep(1)
        load.join()
        self.assertIsNone(self.srv.proc.poll(), "patrold died:\n" + self.srv.log_text())
        posts = [r for r in load.results if r[0] == "post"]
        self.assertEqual({r[3] for r in posts} - {200, 201, 503}, set(), "answers other than 2xx/503")
        acked = {r[4] for r in posts if r[3] in (200, 201)}
        before = {r[4] for r in posts if r[3] in (200, 201) and r[1] + r[2] < killed}
        self.assertGreater(len(before), 50)
        self.assertTrue(any(r[3] == 503 for r in posts), "the kill interrupted nothing")
        self.assertTrue(any(r[3] in (200, 201) and r[1] > up for r in posts), "no write after the restart")
        counts, xacts = self.stored_counts(acked)
        print("\nmeasured: fault: PostgreSQL killed -9 under %d writers: %d acknowledged (%d before the kill)"
              " in %d transactions, %d refused, lost %d, doubled %d"
              % (24, len(acked), len(before), xacts, sum(1 for r in posts if r[3] == 503),
                 len(acked - set(counts)), sum(1 for n in counts.values() if n != 1)))
        self.assertEqual(sorted(acked - set(counts)), [], "acknowledged reports lost by the crash")
        self.assertEqual(sorted(c for c, n in counts.items() if n != 1), [], "reports stored more than once")
        self.assertLess(xacts, len(acked) * 0.8, "the writers' reports were not group-committed")

    def test_database_stopped_for_ten_seconds(self):
        token = self.srv.login("patrol")
        load = Load(self.srv.port, token)
        load.start()
        time.sleep(3)
        subprocess.run([PG_SH, "stop", self.state], check=True, capture_output=True)
        down = time.time()
        time.sleep(DOWN_S)
        up = time.time()
        subprocess.run([PG_SH, "start", self.state], check=True, capture_output=True)
        started = time.time() - up
        # recovery by itself: /readyz and a write answer 2xx again, nobody touched patrold
        recovered = None
        while time.time() < up + 60:
            ok = [r for r in load.results if r[1] > up and r[3] is not None and 200 <= r[3] < 300]
            if any(r[0] == "ready" for r in ok) and any(r[0] == "post" for r in ok):
                recovered = min(r[1] + r[2] for r in ok) - up
                break
            time.sleep(0.2)
        time.sleep(3)
        load.join()
        self.assertIsNone(self.srv.proc.poll(), "patrold died:\n" + self.srv.log_text())
        self.assertIsNotNone(recovered, "no 2xx within 60 s of the database's return:\n" + self.srv.log_text())

        res = load.results
        posts = [r for r in res if r[0] == "post"]
        acked = {r[4] for r in posts if r[3] in (200, 201)}
        refused = [r for r in posts if r[3] == 503]
        other = [r for r in res if r[3] not in (200, 201, 503)]
        during = [r for r in res if down + 0.5 < r[1] < up]
        self.assertEqual(other, [], "answers other than 2xx/503 (None = no answer): %s"
                         % sorted({r[3] for r in other}, key=str))
        self.assertTrue(during, "no request was sent while the database was down")
        self.assertEqual({r[3] for r in during}, {503}, "while the database was down")
        self.assertTrue(any(r[0] == "ready" for r in during) and any(r[0] == "post" for r in during))
        slow = [r for r in during if r[2] > HANG_S]
        self.assertEqual(slow, [], "answers slower than %ds while the database was down" % HANG_S)
        self.assertGreater(len(acked), 20)
        self.assertGreater(len(refused), 5)

        # exactly once: every acknowledged client_id, and after re-sending, every refused one
        resend = sorted({r[4] for r in refused})
        for i in range(0, len(resend), 500):
            batch = [{"client_id": cid, "category": "vagrant", "observed_at": "2024-05-01T08:00:00+08:00",
                      "location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]}} for cid in resend[i:i + 500]]
            r = self.srv.request("POST", "/api/v1/reports/batch", {"reports": batch}, token=token, timeout=120)
            self.assertEqual(r.status, 200, r)
            self.assertEqual({x["status"] for x in r.json()["results"]} - {"created", "existing"}, set(), r)
        resend = set(resend)
        ids = acked | resend
        counts = {}
        out = self.db.psql("SELECT client_id, count(*) FROM reports WHERE client_id::text IN (%s) GROUP BY 1"
                           % ",".join("'%s'" % c for c in ids))
        for line in out.split():
            cid, n = line.split("|")
            counts[cid] = int(n)
        lost = sorted(acked - set(counts))
        doubled = sorted(c for c, n in counts.items() if n != 1)
        print("\nmeasured: fault: database down %ds; %d requests sent (%d report posts, %d /readyz), %d answered 2xx, "
              "%d refused (503), %d other, lost %d, doubled %d; %d refused posts re-sent and stored once; "
              "database back %.1fs after the restart began, service answering 2xx %.1fs after it"
              % (DOWN_S, len(res), len(posts), len(res) - len(posts),
                 sum(1 for r in res if r[3] is not None and 200 <= r[3] < 300),
                 sum(1 for r in res if r[3] == 503), len(other), len(lost), len(doubled), len(resend), started, recovered))
        self.assertEqual(lost, [], "acknowledged reports missing from the database")
        self.assertEqual(doubled, [], "reports stored more than once")
        self.assertEqual(set(counts), ids)


if __name__ == "__main__":
    unittest.main()
