"""test_failover.py - the Patroni cluster of scripts/ha.sh under load: reads on the standby, a
killed primary (kill -9 of Patroni and postmaster) and a planned switchover, each with report and
position writes through nginx, every acknowledged write in the database exactly once, the write
gap measured, an event stream that resumes without loss, and the old primary back as a standby.
tests/ha/run.py starts the cluster and exports HA_* (scripts/ha.sh writes them to DIR/env)."""
import datetime
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse
import uuid

E = os.environ
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HA = os.path.join(ROOT, "scripts", "ha.sh")
NODES = {"n1": (int(E.get("HA_PG1", 0)), int(E.get("HA_REST1", 0))),
         "n2": (int(E.get("HA_PG2", 0)), int(E.get("HA_REST2", 0)))}


def hostport(url):
    u = urllib.parse.urlparse(url)
    return u.hostname, u.port


def request(url, method, path, body=None, token=None, timeout=10, headers=None):
    """(status, headers, json or None); status 0 when the connection failed."""
    h = dict(headers or {})
    if body is not None:
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if token:
        h["Authorization"] = "Bearer " + token
    c = http.client.HTTPConnection(*hostport(url), timeout=timeout)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        try:
            js = json.loads(data) if data else None
        except ValueError:
            js = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, js
    except (OSError, http.client.HTTPException):
        return 0, {}, None
    finally:
        c.close()


def psql_run(conn_args, sql, env=None, timeout=60):
    """psql (connection options conn_args) running sql read from standard input, rows tab-separated:
    a statement carrying a long list (every acknowledged client_id) does not fit in one
    command-line argument (128 KiB: E2BIG)."""
    return subprocess.run(["psql"] + conn_args + ["-XAtq", "-v", "ON_ERROR_STOP=1", "-F", "\t"], input=sql,
                          env=env, capture_output=True, text=True, timeout=timeout)


def psql(port, sql, db="patrol"):
    env = dict(E, PGPASSFILE=os.path.join(E["HA_DIR"], "pgpass"))
    r = psql_run(["-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db], sql, env)
    if r.returncode != 0:
        raise AssertionError("psql :%d: %s" % (port, r.stderr))
    return [line.split("\t") for line in r.stdout.splitlines()]


def role(node):
    """'primary', 'replica' (streaming) or None, from Patroni's REST API."""
    for what in ("primary", "replica"):
        try:
            c = http.client.HTTPConnection("127.0.0.1", NODES[node][1], timeout=2)
            c.request("GET", "/" + what)
            ok = c.getresponse().status == 200
            c.close()
            if ok:
                return what
        except OSError:
            pass
    return None


def primary():
    for _ in range(300):
        for n in NODES:
            if role(n) == "primary":
                return n
        time.sleep(0.1)
    raise AssertionError("no primary")


def wait_sync_standby(node, timeout=90):
    """Seconds until `node` is the synchronous standby again (Patroni /sync answers 200)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            c = http.client.HTTPConnection("127.0.0.1", NODES[node][1], timeout=2)
            c.request("GET", "/sync")
            if c.getresponse().status == 200:
                return time.time() - t0
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("%s did not come back as the synchronous standby in %ds" % (node, timeout))


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def log_times(node, text):
    """UTC times (epoch seconds) of the PostgreSQL log lines of `node` that contain text."""
    out = []
    with open(os.path.join(E["HA_DIR"], node, "patroni.log"), errors="replace") as f:
        for line in f:
            if text in line and line[:4].isdigit():
                t = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
                out.append(t.replace(tzinfo=datetime.timezone.utc).timestamp())
    return out


def db_down_s():
    """Seconds from the last fast shutdown of a node to the next 'ready to accept connections' of
    the other: how long PostgreSQL took no writes in the last switchover."""
    best = None
    for a, b in (("n1", "n2"), ("n2", "n1")):
        down = log_times(a, "received fast shutdown request")
        if down:
            up = [t for t in log_times(b, "database system is ready to accept connections") if t > down[-1]]
            if up and (best is None or down[-1] > best[0]):
                best = (down[-1], up[0] - down[-1])
    return best[1] if best else 0.0


def index_builds():
    """How many times each instance built its spatial index (lines in its log)."""
    out = {}
    for a in ("a1", "a2"):
        with open(os.path.join(E["HA_DIR"], a, "patrold.log"), errors="replace") as f:
            out[a] = sum(1 for line in f if line.startswith("gis: index of"))
    return out


def iso_ms(ms):
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc) + datetime.timedelta(milliseconds=ms % 1000)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Sse(threading.Thread):
    """An event-stream client that reconnects with Last-Event-ID whenever its stream ends."""

    def __init__(self, url, token):
        super().__init__(daemon=True)
        self.url, self.token, self.ids, self.reconnects, self.stop = url, token, [], 0, False
        self.last = None

    def run(self):
        while not self.stop:
            try:
                self.once()
            except OSError:
                pass
            if not self.stop:
                self.reconnects += 1
                time.sleep(0.3)

    def once(self):
        s = socket.create_connection(hostport(self.url), timeout=2)
        try:
            h = ["GET /api/v1/events HTTP/1.1", "Host: x", "Accept: text/event-stream",
                 "Authorization: Bearer " + self.token]
            if self.last is not None:
                h.append("Last-Event-ID: %d" % self.last)
            s.sendall(("\r\n".join(h) + "\r\n\r\n").encode())
            buf = b""
            while not self.stop:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    return
                buf += chunk
                while b"\n\n" in buf:
                    frame, _, buf = buf.partition(b"\n\n")
                    for line in frame.split(b"\n"):
                        if line.startswith(b"id: "):
                            self.last = int(line[4:])
                            self.ids.append(self.last)
        finally:
            s.close()


class Load:
    """Writers through nginx: report posts and position batches, retried with the same client_id /
    the same fixes after a failure, as a phone does. Records every acknowledgement."""

    def __init__(self, url, token, units, lon, lat, writers=3):
        self.url, self.token, self.units, self.lon, self.lat = url, token, units, lon, lat
        self.stop, self.lock = False, threading.Lock()
        self.acked_reports, self.acked_fixes, self.ack_times = {}, [], []
        self.failures = {}  # status -> count (0: connection error)
        self.threads = [threading.Thread(target=self.reports, daemon=True) for _ in range(writers)]
        self.threads += [threading.Thread(target=self.positions, args=(u,), daemon=True) for u in units]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop = True
        for t in self.threads:
            t.join(60)

    def until_acked(self, path, body):
        """Sends body until a 2xx; returns that status (None if stopped first)."""
        while True:
            st, hd, js = request(self.url, "POST", path, body, self.token)
            if 200 <= st < 300:
                with self.lock:
                    self.ack_times.append(time.time())
                return st, js
            with self.lock:
                self.failures[st] = self.failures.get(st, 0) + 1
            if st == 503 and "retry-after" not in hd:
                self.failures["503 without Retry-After"] = self.failures.get("503 without Retry-After", 0) + 1
            if self.stop:
                return None, None
            time.sleep(0.1 if st in (0, 502, 503, 504) else 0.5)

    def reports(self):
        while not self.stop:
            cid = str(uuid.uuid4())
            body = {"client_id": cid, "category": "vagrant", "description": "ha load",
                    "location": {"lon": self.lon, "lat": self.lat, "crs": "wgs84", "accuracy_m": 10},
                    "observed_at": iso(time.time()), "people_count": 1}
            st, js = self.until_acked("/api/v1/reports", body)
            if st:
                with self.lock:
                    self.acked_reports.setdefault(cid, []).append((st, js.get("id") if js else None))

    def positions(self, unit):
        while not self.stop:
            t = time.time()
            fixes = [{"location": {"lon": self.lon + 0.0001 * i, "lat": self.lat}, "at": iso_ms(round(t * 1000 - 500) + 100 * i)}
                     for i in range(5)]
            st, _ = self.until_acked("/api/v1/units/%d/positions" % unit, {"positions": fixes})
            if st:
                with self.lock:
                    self.acked_fixes += [(unit, round(t * 1000 - 500) + 100 * i) for i in range(5)]
            time.sleep(0.05)

    def gap_around(self, t):
        """The longest time without any acknowledgement after t (from the last one before t)."""
        times = sorted(self.ack_times)
        before = [x for x in times if x <= t]
        after = [x for x in times if t < x]
        seq = before[-1:] + after
        return max((b - a for a, b in zip(seq, seq[1:])), default=99.0)


class FailoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        st, _, js = request(E["HA_NGINX"], "POST", "/api/v1/auth/login", {"username": "admin", "password": "demo"})
        assert st == 200, st
        cls.token = js["token"]
        pg = NODES[primary()][0]
        cls.units = [int(r[0]) for r in psql(pg, "SELECT id FROM units ORDER BY id LIMIT 3")]
        lon, lat = psql(pg, "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM divisions"
                            " WHERE code LIKE '320706%' AND level = 'community' AND geom IS NOT NULL"
                            " ORDER BY code LIMIT 1) s")[0]
        cls.lon, cls.lat = float(lon), float(lat)

    def check_exactly_once(self, load, pg):
        cids = list(load.acked_reports)
        self.assertGreater(len(cids), 20, "too little load to say anything")
        rows = psql(pg, "SELECT client_id::text, count(*) FROM reports WHERE client_id::text = ANY('{%s}')"
                        " GROUP BY 1" % ",".join(cids))
        found = {c.lower(): int(n) for c, n in rows}
        lost = [c for c in cids if found.get(c.lower(), 0) == 0]
        doubled = [c for c in cids if found.get(c.lower(), 0) > 1]
        self.assertEqual(lost, [], "acknowledged reports missing")
        self.assertEqual(doubled, [], "reports stored twice")
        self.assertFalse([c for c, acks in load.acked_reports.items() if len(acks) > 1])
        fixes = load.acked_fixes
        self.assertGreater(len(fixes), 20)
        rows = psql(pg, "SELECT count(*), count(DISTINCT (unit_id, at)) FROM unit_positions p JOIN"
                        " unnest('{%s}'::bigint[], '{%s}'::bigint[]) a(u, ms) ON p.unit_id = a.u"
                        " AND p.at = to_timestamp(a.ms / 1000.0)"
                        % (",".join(str(u) for u, _ in set(fixes)), ",".join(str(ms) for _, ms in set(fixes))))
        n, distinct = map(int, rows[0])
        self.assertEqual((n, distinct), (len(set(fixes)), len(set(fixes))), "acknowledged fixes lost or doubled")
        return len(lost), len(doubled)

    def run_disruption(self, name, disrupt, max_gap):
        sse = Sse(E["HA_API2"], self.token)
        sse.start()
        old = primary()
        pg_other = NODES["n2" if old == "n1" else "n1"][0]
        first_id = int(psql(NODES[old][0], "SELECT coalesce(max(id), 0) FROM events")[0][0])
        load = Load(E["HA_NGINX"], self.token, self.units, self.lon, self.lat)
        load.start()
        time.sleep(3)
        t_cut = time.time()
        other = "n2" if old == "n1" else "n1"
        promoted = []  # when Patroni reports the other node primary: PostgreSQL's share of the gap

        def watch():
            while time.time() - t_cut < 60 and role(other) != "primary":
                time.sleep(0.05)
            promoted.append(time.time())
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        disrupt(old)
        t_done = time.time()
        watcher.join(60)
        new = primary()
        self.assertNotEqual(new, old)
        time.sleep(4)
        load.finish()
        gap = load.gap_around(t_cut)
        lost, doubled = self.check_exactly_once(load, pg_other)
        # the stream: every event after the start, once, in order, through the other instance
        deadline = time.time() + 15
        want = [int(r[0]) for r in psql(pg_other, "SELECT id FROM events WHERE id > %d ORDER BY id" % first_id)]
        while time.time() < deadline and [i for i in sse.ids if i > first_id] != want:
            time.sleep(0.2)
        sse.stop = True
        got = [i for i in sse.ids if i > first_id]
        window = promoted[0] - t_cut
        in_doubt = sum(1 for acks in load.acked_reports.values() if acks[0][0] == 200)
        db_down = ", PostgreSQL down %.2f s" % db_down_s() if name == "switchover" else ""
        print("measured: %s: command took %.2f s, new primary after %.2f s%s, write gap %.2f s, %d reports"
              " and %d fixes acknowledged, %d lost, %d doubled, %d retries answered 200 (already stored:"
              " in-doubt commits), failures %s, stream %d events (%d reconnects, %d missing, %d repeated)"
              % (name, t_done - t_cut, window, db_down, gap, len(load.acked_reports), len(load.acked_fixes),
                 lost, doubled, in_doubt, load.failures, len(got), sse.reconnects, len(set(want) - set(got)),
                 len(got) - len(set(got))), flush=True)
        self.assertNotIn("503 without Retry-After", load.failures)
        self.assertEqual(sorted(set(want) - set(got)), [], "events the stream missed")
        self.assertEqual(len(got), len(set(got)), "events the stream repeated")
        self.assertEqual(got, want)
        self.assertLess(gap, max_gap(window))
        return old

    def test_1_reads_on_standby(self):
        """Tiles and report lists are answered by the standby, even while the primary is busy."""
        p = primary()
        sb = "n2" if p == "n1" else "n1"
        busy = [subprocess.Popen(["psql", "-h", "127.0.0.1", "-p", str(NODES[p][0]), "-U", "postgres", "-d",
                                  "patrol", "-Xqc", "SELECT count(*) FROM generate_series(1, 30000000)"],
                                 env=dict(E, PGPASSFILE=os.path.join(E["HA_DIR"], "pgpass")),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(3)]
        try:
            n, slowest = 0, 0.0
            for base in (E["HA_API1"], E["HA_API2"]):
                for i in range(10):
                    t0 = time.time()
                    st, _, js = request(base, "GET", "/api/v1/reports?limit=20", token=self.token)
                    self.assertEqual(st, 200, js)
                    st, _, _ = request(base, "GET", "/tiles/reports/%d/%d/%d.mvt" % (12, 3420 + i, 1630), token=self.token)
                    self.assertIn(st, (200, 204))
                    st, _, js = request(base, "GET", urllib.parse.quote("/api/v1/places?q=海州", safe="/?="),
                                        token=self.token)  # from memory (the gazetteer)
                    self.assertEqual(st, 200, js)
                    self.assertTrue(js["items"], js)
                    slowest = max(slowest, time.time() - t0)
                    n += 1
        finally:
            for b in busy:
                b.kill()
                b.wait()
        q = "SELECT count(*), count(*) FILTER (WHERE query LIKE '%%FROM reports%%') FROM pg_stat_activity" \
            " WHERE application_name = 'patrold-read'"
        readers, on_primary = psql(NODES[sb][0], q)[0], psql(NODES[p][0], q)[0]
        print("measured: %d list+tile pairs with the primary busy, slowest pair %.3f s; read connections:"
              " standby %s (%s last ran a reports query), primary %s" % (n, slowest, readers[0], readers[1],
                                                                          on_primary[0]), flush=True)
        self.assertGreater(int(readers[1]), 0)
        self.assertEqual(int(on_primary[0]), 0)
        self.assertEqual(psql(NODES[sb][0], "SELECT pg_is_in_recovery()")[0][0], "t")

    def test_2_kill_primary(self):
        def kill(node):
            subprocess.run([HA, "kill", E["HA_DIR"], node], check=True)

        reloads = index_builds()
        old = self.run_disruption("kill -9 primary", kill, lambda window: 10.0)
        # the index/gazetteer reload (LISTEN gis_changed) reconnected to the new primary: it
        # rebuilds after every reconnect, and place search still answers
        after = index_builds()
        self.assertTrue(all(after[a] > reloads[a] for a in after), (reloads, after))
        st, _, js = request(E["HA_NGINX"], "GET", urllib.parse.quote("/api/v1/places?q=海州", safe="/?="),
                            token=self.token)
        self.assertEqual(st, 200, js)
        t0 = time.time()
        subprocess.run([HA, "revive", E["HA_DIR"], old], check=True)
        took = wait_sync_standby(old)
        print("measured: old primary %s back as the synchronous standby in %.1f s" % (old, took), flush=True)
        self.assertEqual(role(old), "replica")
        self.assertLess(time.time() - t0, 90)

    def test_3_switchover(self):
        def switch(node):
            r = subprocess.run(["patronictl", "-c", os.path.join(E["HA_DIR"], node, "patroni.yml"), "switchover",
                                "--force"], capture_output=True, text=True, timeout=60,
                               **({"user": "postgres"} if os.getuid() == 0 else {}))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # 2 s, or when PostgreSQL itself was down longer (old primary's fast shutdown to the new
        # one accepting connections, from their logs: a shutdown checkpoint on a loaded machine),
        # that plus at most 1 s of patrold finding the new primary
        old = self.run_disruption("switchover", switch, lambda window: max(2.0, db_down_s() + 1.0))
        took = wait_sync_standby(old)
        print("measured: switchover: old primary %s synchronous standby again after %.1f s" % (old, took), flush=True)


if __name__ == "__main__":
    unittest.main()
