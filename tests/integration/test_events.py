"""test_events.py - GET /api/v1/events (text/event-stream): stream tokens, delivery across two
instances on one database, resume with Last-Event-ID / ?after= with nothing lost or repeated,
two transactions committing in reverse id order, county isolation, unit events."""
import json
import os
import socket
import subprocess
import time
import unittest

import harness
from test_photos import png
from test_reports import interior_point, new_body, point_in_haizhou


class Sse:
    """A minimal text/event-stream client on a raw socket."""

    def __init__(self, port, path, headers=None, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1", "Accept: text/event-stream"]
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf, self.partial = b"", {}
        self.status = int(self.readline().split()[1])
        self.headers = {}
        while True:
            line = self.readline().decode().strip()
            if not line:
                break
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()

    def readline(self, deadline=None):
        """One line (with its newline), b"" at end of stream; socket.timeout past deadline."""
        while b"\n" not in self.buf:
            if deadline is not None:
                left = deadline - time.time()
                if left <= 0:
                    raise socket.timeout()
                self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def next(self, timeout=5):
        """The next event as {id, event, data} or None when nothing came within timeout."""
        deadline = time.time() + timeout
        ev = self.partial  # lines of an event cut by a timeout are kept for the next call
        try:
            while True:
                line = self.readline(deadline)
                if not line:
                    return None
                line = line.decode().rstrip("\n")
                if line == "":
                    if "data" in ev:
                        ev["data"] = json.loads(ev["data"])
                        ev["id"] = int(ev["id"])
                        self.partial = {}
                        return ev
                    ev.clear()
                    continue
                if line.startswith(":") or line.startswith("retry"):
                    continue
                k, _, v = line.partition(": ")
                ev[k] = v
        except (socket.timeout, TimeoutError):
            return None

    def collect(self, pred, timeout=10):
        """Events until pred(list) is true or timeout; returns the list."""
        got, deadline = [], time.time() + timeout
        while not pred(got) and time.time() < deadline:
            e = self.next(max(0.05, deadline - time.time()))
            if e:
                got.append(e)
        return got

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def of_report(e, rid):
    """e is an event of report rid (unit events carry unit ids in entity_id: another id space)."""
    return e["event"].startswith("report") and e["data"]["entity_id"] == rid


class EventsTest(harness.FreshDbCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = {"PATROLD_ESCALATE_INTERVAL_MS": "600000", "PATROLD_ACCESS_LOG": "0",
               "PATROLD_STREAM_MAX_CLIENTS": "8", "PATROLD_STREAM_KEEPALIVE_S": "1"}
        cls.a = harness.Server(cls.db, env=env)
        cls.b = harness.Server(cls.db, env=env)
        cls.tok = {u: cls.a.login(u) for u in ("dispatcher", "dispatcher_gn", "patrol", "admin", "community")}
        cls.hz = point_in_haizhou(cls.db)
        cls.gn = interior_point(cls.db, "320724", "community") or interior_point(cls.db, "320724", "county")

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()
        super().tearDownClass()

    def stream(self, srv, user=None, query="", headers=None):
        h = dict(headers or {})
        if user:
            h["Authorization"] = "Bearer " + self.tok[user]
        s = Sse(srv.port, "/api/v1/events" + query, h)
        self.addCleanup(s.close)
        return s

    def report(self, srv, where, user="admin"):
        r = srv.request("POST", "/api/v1/reports", json_body=new_body(*where), token=self.tok[user])
        self.assertEqual(r.status, 201, r)
        return r.json()["id"]

    def wait_ready(self, s):
        """The stream is set up once its first comment arrived; make sure the headers came."""
        self.assertEqual(s.status, 200)
        self.assertTrue(s.headers["content-type"].startswith("text/event-stream"))

    def test_auth_and_stream_token(self):
        s = Sse(self.a.port, "/api/v1/events")
        self.assertEqual(s.status, 401)
        s.close()
        r = self.a.request("POST", "/api/v1/events/token", token=self.tok["dispatcher"])
        self.assertEqual(r.status, 200, r)
        tok = r.json()["token"]
        self.assertIn("expires_at", r.json())
        s = self.stream(self.b, query="?access_token=" + tok)  # accepted by the other instance too
        self.wait_ready(s)
        rid = self.report(self.a, self.hz)
        got = s.collect(lambda g: any(of_report(e, rid) for e in g))
        self.assertTrue(any(e["event"] == "report.created" and e["data"]["entity_id"] == rid for e in got), got)
        sid, mac = tok.split(".")
        other = "%064x" % (int(mac, 16) ^ 1)
        forged = [".".join([str(int(sid) + 1), mac]),  # another session
                  ".".join(["0" + sid, mac]),  # the same number written otherwise
                  ".".join([sid, other]),  # a wrong signature
                  ".".join([sid, mac, "1"]),
                  "garbage", self.tok["dispatcher"]]  # a bearer token is not a stream token
        for t in forged:
            s2 = Sse(self.a.port, "/api/v1/events?access_token=" + t)
            self.assertEqual(s2.status, 401, t)
            s2.close()
        auth = {"Authorization": "Bearer " + self.tok["dispatcher"]}
        for bad in ("x1", "-1", "1e3", "99999999999999999999", "%2B5", "5%20"):
            s3 = Sse(self.a.port, "/api/v1/events?after=" + bad, auth)
            self.assertEqual(s3.status, 400, bad)
            s3.close()
        s3 = Sse(self.a.port, "/api/v1/events", dict(auth, **{"Last-Event-ID": "12abc"}))
        self.assertEqual(s3.status, 400)
        s3.close()

    def test_instance_b_delivers_change_made_through_a(self):
        s = self.stream(self.b, "dispatcher")
        self.wait_ready(s)
        t0 = time.time()
        rid = self.report(self.a, self.hz)
        got = s.collect(lambda g: any(of_report(e, rid) for e in g))
        self.assertTrue(any(e["data"]["entity_id"] == rid and e["event"] == "report.created" for e in got), got)
        self.assertLess(time.time() - t0, 3)
        ids = [e["id"] for e in got]
        self.assertEqual(ids, sorted(set(ids)))

    def test_resume_nothing_lost_or_repeated(self):
        s = self.stream(self.a, "dispatcher")
        self.wait_ready(s)
        first = [self.report(self.a, self.hz) for _ in range(3)]
        got = s.collect(lambda g: {e["data"]["entity_id"] for e in g if e["event"].startswith("report")} >= set(first))
        last = max(e["id"] for e in got if of_report(e, first[-1]))
        s.close()  # dropped connection
        missed = [self.report(self.b, self.hz) for _ in range(4)]
        expected = [r["id"] for r in self.db.sql(
            "SELECT id FROM events WHERE id > %s AND division_code LIKE '320706%%' ORDER BY id", last)]
        self.assertGreaterEqual(len(expected), 4)
        for srv, how in ((self.b, {"headers": {"Last-Event-ID": str(last)}}), (self.a, {"query": "?after=%d" % last})):
            s2 = self.stream(srv, "dispatcher", **how)
            got2 = s2.collect(lambda g: len(g) >= len(expected), timeout=10)
            extra = s2.next(timeout=0.5)
            self.assertIsNone(extra)
            self.assertEqual([e["id"] for e in got2], expected)
            self.assertTrue(set(missed) <= {e["data"]["entity_id"] for e in got2 if e["event"].startswith("report")})
            s2.close()
        # from the very beginning: the table, older than the ring, in order
        s3 = self.stream(self.b, "dispatcher", query="?after=0")
        all_hz = [r["id"] for r in self.db.sql("SELECT id FROM events WHERE division_code LIKE '320706%%' ORDER BY id")]
        got3 = s3.collect(lambda g: len(g) >= len(all_hz), timeout=10)
        self.assertEqual([e["id"] for e in got3], all_hz)

    def test_reverse_commit_order(self):
        s = self.stream(self.a, "dispatcher")
        self.wait_ready(s)
        code = self.db.value("SELECT min(code) FROM divisions WHERE code LIKE '320706%%' AND level = 'community'")

        def session():
            p = subprocess.Popen(["psql", "-h", os.environ["PATROLD_TEST_PGHOST"], "-U", "postgres", "-d", self.db.name,
                                  "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True, bufsize=1)
            self.addCleanup(p.kill)
            return p

        def run(p, sql):
            p.stdin.write(sql + "\n")
            p.stdin.flush()

        ins = ("INSERT INTO events (kind, entity_id, division_code, payload) VALUES"
               " ('report.updated', %d, '" + code + "', '{\"test\": \"%s\"}') RETURNING id;")
        s1, s2 = session(), session()
        run(s1, "BEGIN;")
        run(s1, ins % (1, "first"))
        id1 = int(s1.stdout.readline())
        run(s2, "BEGIN;")
        run(s2, ins % (2, "second"))
        id2 = int(s2.stdout.readline())
        self.assertLess(id1, id2)
        run(s2, "COMMIT;")
        run(s2, "SELECT 'committed';")
        self.assertEqual(s2.stdout.readline().strip(), "committed")
        # the reader now sees id2 but not id1: it must hold id2 back
        early = s.collect(lambda g: any(e["id"] in (id1, id2) for e in g), timeout=1.0)
        self.assertFalse([e for e in early if e["id"] in (id1, id2)], early)
        run(s1, "COMMIT;")
        run(s1, "SELECT 'committed';")
        self.assertEqual(s1.stdout.readline().strip(), "committed")
        got = s.collect(lambda g: sum(e["id"] in (id1, id2) for e in g) >= 2, timeout=5)
        mine = [e["id"] for e in got if e["id"] in (id1, id2)]
        self.assertEqual(mine, [id1, id2])
        self.assertIsNone(next((e for e in [s.next(0.5)] if e and e["id"] in (id1, id2)), None))
        # a rolled-back id leaves a gap that is passed once its transaction ended
        run(s1, "BEGIN;")
        run(s1, ins % (3, "rolled back"))
        id3 = int(s1.stdout.readline())
        run(s1, "ROLLBACK;")
        rid = self.report(self.a, self.hz)
        got = s.collect(lambda g: any(of_report(e, rid) for e in g), timeout=5)
        self.assertTrue(any(of_report(e, rid) for e in got))
        self.assertFalse(any(e["id"] == id3 for e in got))

    def test_report_event_shape(self):
        """Every report event (created, a photo, an escalation) carries what a map needs, in one
        shape: id, status, category, position, the four division codes, the station."""
        s = self.stream(self.a, "dispatcher")
        self.wait_ready(s)
        rid = self.report(self.a, self.hz, user="dispatcher")
        up = self.a.request("POST", "/api/v1/reports/%d/photos" % rid, body=png(),
                            headers={"Content-Type": "image/png"}, token=self.tok["dispatcher"])
        self.assertEqual(up.status, 201, up)
        esc = self.a.request("POST", "/api/v1/reports/%d/events" % rid, json_body={"type": "escalate"},
                             token=self.tok["dispatcher"])
        self.assertEqual(esc.status, 200, esc)
        got = s.collect(lambda g: len([e for e in g if of_report(e, rid)]) >= 3)
        evs = {e["data"]["payload"]["event"]: e for e in got if of_report(e, rid)}
        self.assertEqual(set(evs), {"created", "photo_added", "escalated"}, got)
        self.assertEqual(evs["created"]["event"], "report.created")
        self.assertEqual(evs["photo_added"]["event"], "report.updated")
        self.assertEqual(evs["escalated"]["event"], "report.updated")
        row = self.a.request("GET", "/api/v1/reports/%d" % rid, token=self.tok["dispatcher"]).json()
        codes = {d["level"] + "_code": d["code"] for d in row["divisions"]}
        keys = {"id", "status", "category", "lon", "lat", "division_code", "city_code", "county_code",
                "town_code", "community_code", "station_id", "tier", "ack_deadline", "unit_id",
                "outcome", "event"}
        for name, e in evs.items():
            p = e["data"]["payload"]
            self.assertLessEqual(keys, set(p), name)
            self.assertEqual(p["id"], rid)
            self.assertEqual(p["status"], "new")
            self.assertEqual(p["category"], "vagrant")
            self.assertAlmostEqual(p["lon"], self.hz[0], places=6)
            self.assertAlmostEqual(p["lat"], self.hz[1], places=6)
            for level in ("city", "county", "town", "community"):
                self.assertEqual(p[level + "_code"], codes.get(level + "_code"), (name, level))
            self.assertEqual(p["division_code"], row["divisions"][-1]["code"])
        self.assertEqual(evs["photo_added"]["data"]["payload"]["photo_id"], up.json()["id"])
        self.assertEqual(evs["created"]["data"]["payload"]["station_id"],
                         evs["escalated"]["data"]["payload"]["from_station"])
        self.assertEqual(evs["escalated"]["data"]["payload"]["station_id"], row["responsible_station"]["id"])
        self.assertEqual(evs["escalated"]["data"]["payload"]["tier"], row["responsible_station"]["tier"])
        # whose act it was (a console does not alert its user of its own acts)
        me = self.a.request("GET", "/api/v1/auth/me", token=self.tok["dispatcher"]).json()
        me = me.get("user", me)["id"]
        self.assertEqual(evs["created"]["data"]["payload"]["actor_id"], me)
        self.assertEqual(evs["escalated"]["data"]["payload"]["actor_id"], me)

    def test_county_isolation_and_roles(self):
        hz = self.stream(self.a, "dispatcher")
        gn = self.stream(self.b, "dispatcher_gn")
        community = self.stream(self.a, "community")
        patrol = self.stream(self.b, "patrol")
        for s in (hz, gn, community, patrol):
            self.wait_ready(s)
        r_hz = self.report(self.a, self.hz)
        r_gn = self.report(self.b, self.gn)
        own = self.db.value("SELECT unit_id FROM users WHERE username = 'patrol'")
        other = self.db.value("SELECT min(id) FROM units WHERE division_code = '320706000000' AND id <> %s", own)
        for u in (own, other):
            r = self.a.request("POST", "/api/v1/units/%d/status" % u, json_body={"status": "busy"}, token=self.tok["admin"])
            self.assertEqual(r.status, 200, r)
        marker = self.report(self.a, self.gn)  # the last event: when gn sees it, gn has seen all before
        g_gn = gn.collect(lambda g: any(e["data"]["entity_id"] == marker and e["event"].startswith("report") for e in g))
        self.assertTrue(any(e["data"]["entity_id"] == r_gn for e in g_gn))
        self.assertTrue(all(e["data"]["payload"].get("division_code", "").startswith("320724") for e in g_gn), g_gn)
        g_hz = hz.collect(lambda g: sum(e["event"] == "unit.updated" for e in g) >= 2)
        self.assertTrue(any(e["data"]["entity_id"] == r_hz for e in g_hz))
        self.assertFalse(any(e["data"]["entity_id"] == r_gn and e["event"].startswith("report") for e in g_hz))
        g_p = patrol.collect(lambda g: any(e["event"] == "unit.updated" for e in g), timeout=3)
        units_seen = {e["data"]["entity_id"] for e in g_p if e["event"].startswith("unit")}
        self.assertEqual(units_seen, {own})
        g_c = community.collect(lambda g: False, timeout=1)
        self.assertFalse([e for e in g_c if e["event"].startswith("unit")])
        for u in (own, other):
            self.a.request("POST", "/api/v1/units/%d/status" % u, json_body={"status": "available"}, token=self.tok["admin"])

    def test_own_report_across_the_county_line(self):
        """A patrol of 海州 that files a report in 灌南 follows it live: its report's events reach its
        stream (the visibility rule's creator clause, events.report_creator), on both instances and
        from the backlog older than the ring; a 灌南 report of someone else does not."""
        live_a, live_b = self.stream(self.a, "patrol"), self.stream(self.b, "patrol")
        for s in (live_a, live_b):
            self.wait_ready(s)
        own = self.report(self.a, self.gn, user="patrol")
        other = self.report(self.b, self.gn, user="dispatcher_gn")
        r = self.b.request("POST", "/api/v1/reports/%d/events" % own, json_body={"type": "acknowledge"},
                           token=self.tok["dispatcher_gn"])
        self.assertEqual(r.status, 200, r)
        marker = self.report(self.a, self.hz, user="patrol")  # in its own county: the last event
        for s in (live_a, live_b):
            got = s.collect(lambda g: any(of_report(e, marker) for e in g))
            kinds = [e["event"] for e in got if of_report(e, own)]
            self.assertEqual(kinds, ["report.created", "report.updated"], got)
            self.assertFalse([e for e in got if of_report(e, other)])
        self.assertEqual(self.db.value("SELECT DISTINCT report_creator FROM events WHERE entity_id = %d"
                                       " AND kind LIKE 'report.%%'" % own),
                         self.db.value("SELECT id FROM users WHERE username = 'patrol'"))
        # resumed from before both: the table's backlog answers the same
        first = min(int(self.db.value("SELECT min(id) FROM events WHERE entity_id = %d AND kind LIKE 'report.%%'"
                                      % x)) for x in (own, other))
        again = self.stream(self.b, "patrol", headers={"Last-Event-ID": str(first - 1)})
        got = again.collect(lambda g: any(of_report(e, marker) for e in g))
        self.assertEqual([e["event"] for e in got if of_report(e, own)], ["report.created", "report.updated"])
        self.assertFalse([e for e in got if of_report(e, other)])

    def test_stream_limit_keepalive_and_closed_clients(self):
        """An instance holds at most stream_max_clients streams (503 beyond, Retry-After); a client that
        went away is noticed at the next keep-alive and its place is free again."""
        held = [Sse(self.b.port, "/api/v1/events", {"Authorization": "Bearer " + self.tok["admin"]}) for _ in range(8)]
        try:
            self.assertEqual([s.status for s in held], [200] * 8)
            extra = Sse(self.b.port, "/api/v1/events", {"Authorization": "Bearer " + self.tok["admin"]})
            self.assertEqual(extra.status, 503)
            self.assertEqual(extra.headers.get("retry-after"), "5")
            extra.close()
            # keep-alive comments flow on an idle stream (events of earlier tests may come first)
            deadline, line = time.time() + 4, b""
            while line != b": keep-alive\n" and time.time() < deadline:
                try:
                    line = held[0].readline(deadline)
                except (socket.timeout, TimeoutError):
                    break
            self.assertEqual(line, b": keep-alive\n")
            held.pop().close()
            deadline, status = time.time() + 5, 503
            while status == 503 and time.time() < deadline:
                time.sleep(0.3)
                s = Sse(self.b.port, "/api/v1/events", {"Authorization": "Bearer " + self.tok["admin"]})
                status = s.status
                s.close()
            self.assertEqual(status, 200)
        finally:
            for s in held:
                s.close()
        time.sleep(2.5)  # the closed ones leave at their next keep-alive

    def test_positions_reach_other_instance_memory(self):
        """A unit moved through A is a candidate at its new place on B (B's reader applied the event)."""
        rid = self.report(self.a, self.hz)
        r = self.a.request("POST", "/api/v1/units", json_body={"name": "跨实例组", "station_id": self.db.value(
            "SELECT station_id FROM units WHERE division_code = '320706000000' LIMIT 1")}, token=self.tok["dispatcher"])
        uid = r.json()["id"]
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        r = self.a.request("POST", "/api/v1/units/%d/positions" % uid, token=self.tok["admin"],
                           json_body={"positions": [{"location": {"lon": self.hz[0], "lat": self.hz[1] + 0.00001}, "at": at}]})
        self.assertEqual(r.status, 200, r)
        for _ in range(40):
            items = self.b.request("GET", "/api/v1/reports/%d/candidates?limit=1" % rid, token=self.tok["dispatcher"]).json()["items"]
            if items and items[0]["unit_id"] == uid:
                break
            time.sleep(0.05)
        self.assertEqual(items[0]["unit_id"], uid)
        self.assertLess(items[0]["distance_m"], 5)


if __name__ == "__main__":
    unittest.main()
