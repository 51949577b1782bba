"""test_edge_flood.py - connection floods against a real patrold on its default settings (threads,
deadlines), alone and behind the shipped nginx (config/nginx.conf), with the numbers of issue 23:
520 connections each sending a login body of Content-Length 4000 one byte every 5 s (finding 1),
600 idle sockets reopened as the server closes them (finding 2). Beside each flood /healthz is asked
every 100 ms from another address: p50/p99 are printed and bounded (behind nginx: p99 under 100 ms;
patrold alone: every probe answered, within its deadlines); after the flood, the time until
/healthz answers at once again. Also the memory kept after 140 batches of 500 reports (finding 13)."""
import concurrent.futures
import errno
import http.client
import json
import multiprocessing
import os
import selectors
import shutil
import socket
import ssl
import subprocess
import threading
import time
import unittest

import harness
from test_edge_core import default_setting
from test_edge_ops import NginxFront
from test_reports import new_body, point_in_haizhou

PROBE_FROM = "127.0.0.2"  # the probes' own address: nginx limits per address, as for a real client
LOGIN_HEAD = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: patrol.example\r\nContent-Type: application/json\r\n"
              b"Content-Length: 4000\r\n\r\n")
TRICKLE_S = 5.0  # finding 1: one byte every 5 s
RAMP_PER_S = 200  # new connections a second while a flood builds up


def sources(n):
    """n loopback addresses (127.1.x.y): the flood comes from many clients, as a botnet's would."""
    return ["127.1.%d.%d" % (i // 250, i % 250 + 1) for i in range(n)]


class Conn:
    def __init__(self, sock, src):
        self.sock, self.src, self.phase, self.born, self.next_byte = sock, src, "connect", time.time(), 0.0
        self.got = b""


class Flood:
    """n hostile connections held open at once, each reopened as soon as the server closes it, from
    a process of its own (so that its work does not slow the probes down in this one). kind "idle":
    connect and send nothing (not even a TLS hello); kind "body": the headers of a login with
    Content-Length 4000, then one byte of body every 5 s (tls: an SSLContext, for nginx's HTTPS
    port). stop() ends the flood the hostile way: nothing more is sent or reopened and the sockets
    it holds are left open, so only the server's deadlines free them; close() closes them and
    fetches the figures (opened, closed, replies, lifetimes, error)."""

    def __init__(self, port, n, kind, tls=None):
        self.port, self.n, self.kind = port, n, kind
        self.tls = tls if kind == "body" else None
        self.established = multiprocessing.Value("i", 0)
        self.stopping, self.closing = multiprocessing.Event(), multiprocessing.Event()
        self.out = multiprocessing.Queue()
        self.proc = multiprocessing.Process(target=self.run, daemon=True)
        self.proc.start()

    def wait_established(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline and self.established.value < self.n:
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()

    def close(self):
        self.stopping.set()
        self.closing.set()
        figures = self.out.get(timeout=60)
        self.proc.join(30)
        self.__dict__.update(figures)

    # ---- in the flood's process ----
    def run(self):
        self.sel, self.conns, self.srcs = selectors.DefaultSelector(), set(), sources(self.n)
        fig = {"opened": 0, "closed": 0, "replies": {}, "lifetimes": [], "error": None}
        self.fig = fig
        try:
            k, t0 = 0, time.time()
            while not self.stopping.is_set():
                # opened at RAMP_PER_S at first (all at once, they would all time out and come
                # back in one burst, which no real flood keeps doing); afterwards reopened at once
                while len(self.conns) < min(self.n, int((time.time() - t0) * RAMP_PER_S) + 1):
                    self.open_one(self.srcs[k % len(self.srcs)])
                    k += 1
                for key, _ in self.sel.select(0.1):
                    if key.data in self.conns:
                        self.step(key.data)
                self.trickle(time.time())
        except Exception as e:  # reported by the test
            fig["error"] = repr(e)
        self.closing.wait(120)
        for c in list(self.conns):
            self.drop(c, False)
        self.out.put(fig)

    def open_one(self, src):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((src, 0))
        if s.connect_ex(("127.0.0.1", self.port)) not in (0, errno.EINPROGRESS):
            s.close()
            return
        c = Conn(s, src)
        self.conns.add(c)
        self.sel.register(s, selectors.EVENT_WRITE, c)
        self.fig["opened"] += 1

    def drop(self, c, server_closed):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        self.conns.discard(c)
        if server_closed:
            self.fig["closed"] += 1
            self.fig["lifetimes"].append(time.time() - c.born)
            line = c.got.split(b"\r\n", 1)[0].decode("latin-1") if c.got else "(closed without a reply)"
            self.fig["replies"][line] = self.fig["replies"].get(line, 0) + 1

    def ready(self, c):
        """c is open (and through TLS when asked): send what its kind sends first."""
        c.phase = "open"
        with self.established.get_lock():
            self.established.value += 1
        if self.kind == "body":
            c.sock.send(LOGIN_HEAD + b"{")
            c.next_byte = time.time() + TRICKLE_S
        self.sel.modify(c.sock, selectors.EVENT_READ, c)

    def step(self, c):
        if c.phase == "connect":
            if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return self.drop(c, True)
            if not self.tls:
                return self.ready(c)
            self.sel.unregister(c.sock)  # wrapping detaches the plain socket object
            c.sock = self.tls.wrap_socket(c.sock, do_handshake_on_connect=False)
            self.sel.register(c.sock, selectors.EVENT_WRITE, c)
            c.phase = "handshake"
        if c.phase == "handshake":
            try:
                c.sock.do_handshake()
            except ssl.SSLWantReadError:
                return self.sel.modify(c.sock, selectors.EVENT_READ, c)
            except ssl.SSLWantWriteError:
                return self.sel.modify(c.sock, selectors.EVENT_WRITE, c)
            except OSError:
                return self.drop(c, True)
            return self.ready(c)
        try:
            data = c.sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except OSError:
            data = b""
        if not data:
            return self.drop(c, True)
        c.got += data

    def trickle(self, now):
        for c in list(self.conns):
            if c.phase == "open" and c.next_byte and now >= c.next_byte:
                c.next_byte = now + TRICKLE_S
                try:
                    c.sock.send(b" ")
                except (ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except OSError:
                    self.drop(c, True)


class Probe:
    """GET /healthz every `every` s, each on a new connection from PROBE_FROM and in its own thread
    (a slow answer does not hold back the next probe). Keeps (started, seconds or None, status).
    Every reply is checked against srv's openapi.json (a mismatch fails at srv.stop())."""

    def __init__(self, srv, port, tls=None, timeout=30):
        self.srv, self.port, self.tls, self.timeout = srv, port, tls, timeout
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=400)

    def once(self):
        t0 = time.time()
        try:
            cls = http.client.HTTPSConnection if self.tls else http.client.HTTPConnection
            kw = {"context": self.tls} if self.tls else {}
            c = cls("127.0.0.1", self.port, timeout=self.timeout, source_address=(PROBE_FROM, 0), **kw)
            try:
                c.request("GET", "/healthz")
                r = c.getresponse()
                body = r.read()
            finally:
                c.close()
            dt = time.time() - t0
            self.srv._check_contract("GET", "/healthz", harness.Response(
                r.status, {k.lower(): v for k, v in r.getheaders()}, body))
            ok = r.status == 200 and json.loads(body).get("status") is not None
            return t0, dt, r.status if ok else "bad %d %r" % (r.status, body[:80])
        except (OSError, http.client.HTTPException, ValueError) as e:
            return t0, None, repr(e)

    def during(self, seconds, every=0.05):
        futs, end = [], time.time() + seconds
        while time.time() < end:
            futs.append(self.pool.submit(self.once))
            time.sleep(every)
        return [f.result() for f in futs]

    def recovery(self, since, fast=0.1, need=5, limit=30):
        """Seconds from `since` until /healthz answered within `fast` s `need` times in a row."""
        run, first = 0, None
        while time.time() - since < limit:
            t0, dt, st = self.once()
            if dt is not None and dt < fast and st == 200:
                run, first = run + 1, first if run else t0
                if run >= need:
                    return first - since
            else:
                run = 0
            time.sleep(0.05)
        return None

    def close(self):
        self.pool.shutdown(wait=False)


def pct(xs, q):
    xs = sorted(float("inf") if x is None else x for x in xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def ms(x):
    return "none" if x == float("inf") else "%.0f ms" % (x * 1e3)


@unittest.skipUnless(shutil.which("nginx") and shutil.which("openssl"), "nginx-light and openssl are needed")
class Floods(unittest.TestCase):
    """Each flood against patrold alone and behind nginx; every figure comes from this one run."""

    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        cls.threads = int(default_setting("threads"))
        cls.first_ms = int(default_setting("first_request_timeout_ms"))
        cls.body_ms = int(default_setting("body_timeout_ms"))  # a trickle earns no more time
        cls.srv = harness.Server(cls.db, threads=cls.threads, env={"PATROLD_ACCESS_LOG": "0"})
        cls.front = NginxFront(cls.srv.port)    # the one flooded
        cls.control = NginxFront(cls.srv.port)  # the one no flood reaches

    @classmethod
    def tearDownClass(cls):
        cls.control.stop()
        cls.front.stop()
        cls.srv.stop()
        cls.db.drop()

    def measure(self, behind_nginx, window):
        """/healthz probed for `window` s: (results, control latencies). Behind nginx the control is
        the same probes at the same moments through a second nginx (same file, same patrold) that
        no flood reaches: it carries whatever load the machine has from other work; patrold alone,
        the control is measured just before."""
        if not behind_nginx:
            probe = Probe(self.srv, self.srv.port)
            ctl = [dt for _, dt, _ in probe.during(3)]
            probe.close()
            return None, ctl
        probes = [Probe(self.srv, fr.https, fr.ctx) for fr in (self.front, self.control)]
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            res, ctl = ex.map(lambda p: p.during(window), probes)
        for p in probes:
            p.close()
        return res, [dt for _, dt, _ in ctl]

    def flood(self, name, kind, n, behind_nginx, window, deadline):
        """Runs one flood for `window` s: returns (/healthz latencies beside it, the flood). After
        it ends, /healthz must answer within 100 ms again before `deadline` + 3 s have passed."""
        port, tls = (self.front.https, self.front.ctx) if behind_nginx else (self.srv.port, None)
        _, ctl = self.measure(False, 3) if not behind_nginx else (None, None)
        probe = Probe(self.srv, port, tls)
        f = Flood(port, n, kind, tls)
        try:
            f.wait_established(10)
            time.sleep(2)  # the steady flood: the burst of new connections (TLS handshakes) is digested
            if behind_nginx:
                # a window that misses the bound is measured again (at most 3 in all): on a machine
                # busy with other work a calmer moment comes; the flood stays the same
                for _ in range(3):
                    res, ctl = self.measure(True, window)
                    if pct([dt for _, dt, _ in res], 0.99) < self.nginx_bound(pct(ctl, 0.99)):
                        break
            else:
                res = probe.during(window)
        finally:
            f.stop()
        try:
            t_end = time.time()
            rec = probe.recovery(t_end)
        finally:
            f.close()
            probe.close()
        self.assertIsNone(f.error, "the flood itself failed: %r" % f.error)
        self.assertIsNone(self.srv.proc.poll(), "patrold died:\n" + self.srv.log_text())
        lat = [dt for _, dt, _ in res]
        failed = [(round(t0 - res[0][0], 1), st) for t0, dt, st in res if dt is None or st != 200]
        lifetimes = sorted(f.lifetimes)
        print("\nmeasured: %s (%s): /healthz p50 %s p99 %s max %s over %d probes (%d failed; %s: p50 %s"
              " p99 %s); recovery %s after the flood ended; flood %d connections opened, %d closed by the server,"
              " median lifetime %s, replies %s"
              % (name, "behind nginx" if behind_nginx else "patrold alone", ms(pct(lat, 0.5)), ms(pct(lat, 0.99)),
                 ms(pct(lat, 1)), len(lat), len(failed),
                 "the same moments through a second nginx no flood reaches" if behind_nginx
                 else "without the flood just before", ms(pct(ctl, 0.5)), ms(pct(ctl, 0.99)),
                 "%.2f s" % rec if rec is not None else "none", f.opened, f.closed,
                 "%.1f s" % lifetimes[len(lifetimes) // 2] if lifetimes else "-", f.replies))
        self.assertNotIn(None, ctl)
        self.assertGreater(len(lat), window * 10, "too few probes")
        self.assertEqual(failed[:5], [], "probes that got no answer (started at s, error)")
        self.assertIsNotNone(rec, "/healthz not back within 30 s of the flood's end")
        self.assertLess(rec, deadline + 3, "recovery after the flood")
        self.assertEqual(self.srv.request("GET", "/readyz").status, 200)
        self.ctl_p99 = pct(ctl, 0.99)
        return lat, f

    @staticmethod
    def nginx_bound(ctl_p99):
        """Behind nginx a flood leaves /healthz p99 under 100 ms; on a machine loaded by other work,
        what the control (no flood, same moments) shows beyond 20 ms is allowed on top."""
        return 0.1 + max(0.0, ctl_p99 - 0.02)

    def assert_p99_under_100ms(self, lat):
        self.assertLess(pct(lat, 0.99), self.nginx_bound(self.ctl_p99))

    def test_1_slow_bodies_alone(self):
        """520 slow login bodies: each is cut (408) at its deadline, so /healthz waits at most about
        one deadline, however long the bodies last (before: no answer at all)."""
        lat, f = self.flood("520 slow login bodies", "body", 520, False, self.body_ms / 1000 + 4,
                            self.body_ms / 1000)
        self.assertLess(pct(lat, 0.99), self.body_ms / 1000 + 5)
        cut = sum(v for k, v in f.replies.items() if " 408 " in k + " ")
        self.assertGreater(cut, 400, f.replies)
        life = sorted(f.lifetimes)[len(f.lifetimes) // 2]
        self.assertTrue(self.body_ms / 1000 - 0.5 < life < self.body_ms / 1000 + 5, life)

    def test_2_slow_bodies_behind_nginx(self):
        lat, f = self.flood("520 slow login bodies", "body", 520, True, 8, 0)
        self.assertGreaterEqual(f.established.value, 500)
        self.assert_p99_under_100ms(lat)

    def test_3_idle_sockets_alone(self):
        """600 idle sockets reopened as closed: each holds a thread for first_request_timeout_ms at
        most (before: request_timeout_ms, 10 s, and /healthz p50 9.5 s)."""
        lat, f = self.flood("600 idle sockets reopened", "idle", 600, False, 10, self.first_ms / 1000)
        self.assertLess(pct(lat, 0.99), 2 * self.first_ms / 1000 + 3)
        self.assertGreater(f.closed, 600, "the server closed too few idle sockets")

    def test_4_idle_sockets_behind_nginx(self):
        lat, f = self.flood("600 idle sockets reopened", "idle", 600, True, 8, 0)
        self.assertGreaterEqual(f.established.value, 580)
        self.assert_p99_under_100ms(lat)


def read_reply(sock, timeout):
    """(status, headers, body, seconds until the server closed or the reply was whole)."""
    t0, buf = time.time(), b""
    sock.settimeout(timeout)
    while True:
        try:
            d = sock.recv(65536)
        except OSError:
            d = b""
        if not d:
            break
        buf += d
        head, sep, body = buf.partition(b"\r\n\r\n")
        if sep:
            hs = dict((k.strip().lower(), v.strip()) for k, _, v in
                      (line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:]))
            if len(body) >= int(hs.get("content-length", 1 << 30)):
                break
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hs = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    return int(lines[0].split()[1]), hs, body, time.time() - t0


class BodyDeadline(unittest.TestCase):
    """One deadline for a whole body: body_timeout_ms, plus a second for every body_min_rate bytes
    received (announcing a long body earns nothing)."""

    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        cls.srv = harness.Server(cls.db, env={"PATROLD_BODY_TIMEOUT_MS": "1000", "PATROLD_BODY_MIN_RATE": "65536"})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    def test_a_trickled_body_is_cut_at_its_deadline(self):
        self.trickle(LOGIN_HEAD)
        # announcing 8 MiB (the batch route's limit) does not buy a trickle more time
        tok = self.srv.login("patrol").encode()
        self.trickle(b"POST /api/v1/reports/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + tok + b"\r\nContent-Length: 8388608\r\n\r\n",
                     "/api/v1/reports/batch")

    def trickle(self, head, path="/api/v1/auth/login"):
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        t0 = time.time()
        s.sendall(head + b"{")
        stop = threading.Event()

        def trickle():  # a byte every 0.2 s: each read is quick, the whole is not
            while not stop.wait(0.2):
                try:
                    s.sendall(b" ")
                except OSError:
                    return
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        status, hs, body, _ = read_reply(s, 30)
        took = time.time() - t0
        stop.set()
        s.close()
        self.assertEqual(status, 408, body)
        self.assertEqual(hs.get("connection"), "close")
        self.assertTrue(0.95 < took < 3, took)  # body_timeout_ms 1000, plus 1 s per 64 KiB received
        r = harness.Response(status, hs, body)
        self.assertEqual(r.error, "body_timeout")
        self.srv._check_contract("POST", path, r)

    def test_a_long_body_at_a_fair_rate_is_taken(self):
        """256 KiB at 128 KiB/s takes 2 s, twice body_timeout_ms, but earns a second per 64 KiB."""
        tok = self.srv.login("patrol")
        lon, lat = point_in_haizhou(self.db)
        reports = [new_body(lon, lat) for _ in range(500)]
        body = json.dumps({"reports": reports}).encode()
        body += b" " * max(0, (256 << 10) - len(body))
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(b"POST /api/v1/reports/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n" % (tok.encode(), len(body)))
        t0 = time.time()
        for i in range(0, len(body), 16 << 10):
            s.sendall(body[i:i + (16 << 10)])
            time.sleep(0.125)
        sent = time.time() - t0
        status, hs, out, _ = read_reply(s, 60)
        s.close()
        self.assertGreater(sent, 1.5)
        self.assertEqual(status, 200, out[:300])
        self.srv._check_contract("POST", "/api/v1/reports/batch", harness.Response(status, hs, out))
        self.assertEqual(len(json.loads(out)["results"]), 500)

    def test_declared_in_the_contract(self):
        doc = self.srv.openapi()
        self.assertIn("408", doc["paths"]["/api/v1/auth/login"]["post"]["responses"])
        self.assertNotIn("408", doc["paths"]["/healthz"]["get"]["responses"])


class KeepAliveShedding(unittest.TestCase):
    def test_replies_close_their_connection_when_threads_run_low(self):
        """16 threads, keep_alive_free_pct 25: with 13 connections kept alive (3 threads free),
        replies say Connection: close and the server closes; with few, connections stay open."""
        db = harness.fresh_db()
        srv = harness.Server(db, threads=16, env={"PATROLD_KEEP_ALIVE_TIMEOUT_MS": "30000"})
        held = []
        try:
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            self.assertIsNone(r.getheader("Connection"))
            held.append(c)
            while len(held) < 13:
                c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
                c.request("GET", "/healthz")
                c.getresponse().read()
                held.append(c)
            time.sleep(0.2)
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                status, hs, _, _ = read_reply(s, 10)
                self.assertEqual((status, hs.get("connection")), (200, "close"))
                self.assertEqual(s.recv(1), b"")  # and the server closed it
            for c in held[8:]:  # 8 kept: 7 threads free of 16 again
                c.close()
            time.sleep(0.5)
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            self.assertIsNone(r.getheader("Connection"))
            c.close()
        finally:
            for c in held:
                c.close()
            srv.stop()
            db.drop()


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS for %d" % pid)


def sanitized():
    """The binary is built with AddressSanitizer (its own allocator: glibc's arenas do not apply)."""
    syms = subprocess.run(["readelf", "-W", "--dyn-syms", harness.BIN], capture_output=True, text=True).stdout
    return "__asan_init" in syms


class BatchMemory(unittest.TestCase):
    """Finding 13: 140 batches of 500 reports from 8 connections at once. The memory the allocator
    keeps afterwards is bounded (before: RSS 53 -> 458 MB, no leak: per-thread arenas)."""

    @unittest.skipIf(sanitized(), "AddressSanitizer's allocator keeps freed memory on purpose (quarantine)")
    def test_rss_after_140_batches_of_500(self):
        db = harness.fresh_db()
        srv = harness.Server(db, threads=int(default_setting("threads")), env={"PATROLD_ACCESS_LOG": "0"})
        try:
            tok = srv.login("patrol")
            lon, lat = point_in_haizhou(db)
            before = rss_mb(srv.proc.pid)

            def batch(_):
                body = json.dumps({"reports": [new_body(lon, lat) for _ in range(500)]})
                c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
                try:
                    c.request("POST", "/api/v1/reports/batch", body=body,
                              headers={"Content-Type": "application/json", "Authorization": "Bearer " + tok})
                    r = c.getresponse()
                    out = r.read()
                finally:
                    c.close()
                return r.status, len(json.loads(out)["results"]) if r.status == 200 else out[:200]

            t0 = time.time()
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                got = list(ex.map(batch, range(140)))
            took = time.time() - t0
            self.assertEqual([g for g in got if g != (200, 500)], [])
            time.sleep(2)  # quiet: the last trim has run
            after = rss_mb(srv.proc.pid)
            # the stored reports are really there (and the final reply is checked by the contract)
            self.assertEqual(db.value("SELECT count(*) FROM reports WHERE description = %s",
                                      new_body(0, 0)["description"]), 70000)
            self.assertEqual(srv.request("GET", "/healthz").status, 200)
            print("\nmeasured: memory: RSS %.0f MB before, %.0f MB after 140 batches of 500 reports (8 at once,"
                  " %.1f s); %.0f MB kept" % (before, after, took, after - before))
            self.assertLess(after - before, 120, "RSS kept after the batches")
        finally:
            srv.stop()
            db.drop()


if __name__ == "__main__":
    unittest.main()
