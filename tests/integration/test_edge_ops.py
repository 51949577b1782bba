"""test_edge_ops.py - the service at the edge: nginx (config/nginx.conf itself, on loopback with a
self-signed certificate) in front of a real patrold; the `make run` supervisor restarting a crashed
patrold while the database stays up; the local cluster refusing other OS users; the hardened binary
(PIE, full RELRO, stack protector, fortify); the systemd unit."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import harness

ROOT = harness.ROOT
PG_SH = os.path.join(ROOT, "scripts", "pg.sh")


def tmpdir():
    d = tempfile.mkdtemp(prefix="edge-")
    os.chmod(d, 0o755)  # the cluster's `postgres` user must reach folders made here
    return d


class Relay:
    """A TCP relay between nginx and patrold that keeps every byte sent to patrold, so the test
    sees exactly what patrold received."""

    def __init__(self, port):
        self.target = port
        self.seen = bytearray()
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            threading.Thread(target=self.pipe, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c, False), daemon=True).start()

    def pipe(self, src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    with self.lock:
                        if len(self.seen) < 4 << 20:
                            self.seen += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def received(self):
        with self.lock:
            return bytes(self.seen)

    def close(self):
        self.sock.close()


def derive_nginx_conf(text, d, upstream, https_port, http_port, cert, key):
    """config/nginx.conf made runnable on loopback by a non-installed nginx: every substitution
    must match once, so a change to the example that breaks this derivation fails the test."""
    subs = [
        (r"(?m)^user www-data;", "user root;\ndaemon off;"),
        (r"(?m)^pid /run/nginx.pid;", "pid %s/nginx.pid;" % d),
        (r"error_log /var/log/nginx/error.log warn;", "error_log %s/error.log warn;" % d),
        (r"access_log /var/log/nginx/access.log;", "access_log %s/access.log;" % d),
        (r"worker_processes auto;", "worker_processes 1;"),
        (r"server 127.0.0.1:8080;", "server 127.0.0.1:%d;" % upstream),
        (r"listen 80;", "listen 127.0.0.1:%d;" % http_port),
        (r"listen 443 ssl http2", "listen 127.0.0.1:%d ssl http2" % https_port),
        (r"ssl_certificate /etc/ssl/patrold/fullchain.pem;", "ssl_certificate %s;" % cert),
        (r"ssl_certificate_key /etc/ssl/patrold/privkey.pem;", "ssl_certificate_key %s;" % key),
        (r"http \{\n", "http {\n    client_body_temp_path %s/body;\n    proxy_temp_path %s/proxy;\n" % (d, d)),
    ]
    for pat, rep in subs:
        text, n = re.subn(pat, lambda m, rep=rep: rep, text, count=1)
        if n != 1:
            raise AssertionError("config/nginx.conf no longer has %r" % pat)
    return text


class NginxFront:
    """config/nginx.conf itself (derive_nginx_conf) on loopback in front of the upstream port, with a
    self-signed certificate (ECDSA P-256, what ACME clients issue by default): .https and .http
    ports, .ctx (an SSL context trusting the certificate)."""

    def __init__(self, upstream):
        self.dir = tmpdir()
        cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        self.https, self.http = harness.free_port(), harness.free_port()
        with open(os.path.join(ROOT, "config", "nginx.conf")) as f:
            conf = derive_nginx_conf(f.read(), self.dir, upstream, self.https, self.http, cert, key)
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        t = subprocess.run(["nginx", "-t", "-c", path, "-p", self.dir], capture_output=True, text=True)
        if t.returncode != 0:
            raise AssertionError("nginx -t refuses the derived config:\n" + t.stderr)
        self.proc = subprocess.Popen(["nginx", "-c", path, "-p", self.dir], stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.https), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)
        self.ctx = ssl.create_default_context(cafile=cert)
        self.ctx.check_hostname = False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipUnless(shutil.which("nginx") and shutil.which("openssl"), "nginx-light and openssl are needed")
class Nginx(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        cls.srv = harness.Server(cls.db)
        cls.relay = Relay(cls.srv.port)
        cls.front = NginxFront(cls.relay.port)
        cls.https, cls.http, cls.ctx = cls.front.https, cls.front.http, cls.front.ctx

    @classmethod
    def tearDownClass(cls):
        cls.front.stop()
        cls.relay.close()
        cls.srv.stop()
        cls.db.drop()

    def conn(self):
        return http.client.HTTPSConnection("127.0.0.1", self.https, context=self.ctx, timeout=30)

    def req(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return harness.Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            if conn is None:
                c.close()

    def setUp(self):
        time.sleep(2.5)  # let the per-address request bucket (burst 40 at 20/s) refill between tests

    def test_a_requests_pass_through_tls(self):
        r = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), self.srv.request("GET", "/healthz").json())
        self.assertIn("strict-transport-security", r.headers)
        r = self.req("POST", "/api/v1/auth/login", json.dumps({"username": "dispatcher", "password": "demo"}),
                     {"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        token = r.json()["token"]
        r = self.req("GET", "/api/v1/auth/me", headers={"Authorization": "Bearer " + token})
        self.assertEqual((r.status, r.json()["role"] if r.status == 200 else None), (200, "dispatcher"), r)
        # plain HTTP is sent to HTTPS
        c = http.client.HTTPConnection("127.0.0.1", self.http, timeout=10)
        c.request("GET", "/api/v1/reports?x=1", headers={"Host": "patrol.example"})
        r = c.getresponse()
        self.assertEqual((r.status, r.getheader("Location")), (301, "https://patrol.example/api/v1/reports?x=1"))
        c.close()

    def test_b_patrold_sees_forwarded_headers(self):
        before = len(self.relay.received())
        r = self.req("GET", "/open311/v2/discovery.json", headers={"Host": "patrol.example"})
        self.assertEqual(r.status, 200, r)
        # patrold acted on X-Forwarded-Proto and Host: it tells clients to use https
        self.assertIn("https://patrol.example/open311/v2", r.body.decode())
        got = self.relay.received()[before:].decode(errors="replace")
        self.assertRegex(got, r"(?m)^GET /open311/v2/discovery.json HTTP/1.1\r$")
        self.assertRegex(got, r"(?mi)^X-Forwarded-For: 127\.0\.0\.1\r$")
        self.assertRegex(got, r"(?mi)^X-Real-IP: 127\.0\.0\.1\r$")
        self.assertRegex(got, r"(?mi)^X-Forwarded-Proto: https\r$")
        # a client-sent X-Forwarded-For is kept, with the real peer appended last
        before = len(self.relay.received())
        self.req("GET", "/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
        got = self.relay.received()[before:].decode(errors="replace")
        self.assertRegex(got, r"(?mi)^X-Forwarded-For: 203\.0\.113\.9, 127\.0\.0\.1\r$")

    def test_c_oversized_body_refused_by_proxy(self):
        before = len(self.relay.received())
        r = self.req("POST", "/api/v1/reports", b"[" * (2 << 20), {"Content-Type": "application/json"})
        self.assertEqual((r.status, r.error), (413, "body_too_large"), r)
        r = self.req("POST", "/api/v1/auth/login", b"{" + b" " * 8192 + b"}", {"Content-Type": "application/json"})
        self.assertEqual(r.status, 413, r)
        self.assertNotIn(b"/api/v1/reports", self.relay.received()[before:], "the body reached patrold")
        # so is a huge header
        r = self.req("GET", "/healthz", headers={"X-Junk": "a" * 20000})
        self.assertIn(r.status, (400, 431, 494), r)
        # and /metrics is not served through the proxy
        self.assertEqual(self.req("GET", "/metrics").status, 404)

    def test_d_burst_is_limited_per_address(self):
        c = self.conn()
        statuses = []
        try:
            for _ in range(120):
                statuses.append(self.req("GET", "/healthz", conn=c).status)
        finally:
            c.close()
        ok, limited = statuses.count(200), statuses.count(429)
        print("\nmeasured: nginx burst: %d requests, %d passed, %d limited (429)" % (len(statuses), ok, limited))
        self.assertEqual(ok + limited, len(statuses), statuses)
        self.assertGreaterEqual(ok, 40)
        self.assertGreater(limited, 20)
        r = self.req("GET", "/healthz")
        if r.status == 429:
            self.assertEqual(r.headers.get("retry-after"), "1")
            self.assertEqual(r.error, "rate_limited")
        # login has its own tighter bucket (30/min, burst 10)
        time.sleep(2.5)
        body = "{}"  # answered at once by patrold (400): only the proxy's bucket can say 429
        before = len(self.relay.received())
        codes = [self.req("POST", "/api/v1/auth/login", body, {"Content-Type": "application/json"}).status
                 for _ in range(16)]
        self.assertIn(429, codes[10:], codes)
        passed = self.relay.received()[before:].count(b"POST /api/v1/auth/login ")
        self.assertLessEqual(passed, 12, "the proxy let %d of 16 logins through" % passed)


def patrold_children(ppid):
    """pids of patrold processes whose parent is ppid."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == ppid and comm.startswith("patrold"):
            out.append(int(p))
    return out


def alive(pid):
    """pid runs (a zombie does not: nothing here reaps orphans, and kill -0 succeeds on those)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pg_running(state):
    return subprocess.run([PG_SH, "status", state], capture_output=True).returncode == 0


class Supervisor(unittest.TestCase):
    """scripts/run.sh (make run) with its own local cluster in a temporary state folder."""

    def test_crash_restarts_patrold_and_keeps_database(self):
        d = tmpdir()
        state = os.path.join(d, "state")
        port = harness.free_port()
        env = dict(harness.patrold_env(), PATROLD_STATE_DIR=state, PATROLD_LISTEN="127.0.0.1:%d" % port,
                   PATROLD_THREADS="8")
        env.pop("PATROLD_DATABASE", None)
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):  # under the sanitizers: the signal kills, no report
            env[k] = (env.get(k, "") + ":handle_segv=0").lstrip(":")
        proc, srv, log = start_run_sh(env, os.path.join(d, "patrold-run.log"), port)
        logf = log.file

        def ready(timeout):
            deadline = time.time() + timeout
            while time.time() < deadline:
                self.assertIsNone(proc.poll(), "run.sh exited:\n" + log())
                try:
                    if srv.request("GET", "/readyz", timeout=2).status == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.1)
            self.fail("patrold not ready under run.sh in %ds:\n%s" % (timeout, log()))

        try:
            ready(300)  # first start: initdb, migrations, demo data
            first = patrold_children(proc.pid)
            self.assertEqual(len(first), 1, log())
            self.assertTrue(pg_running(state))
            token = srv.login("dispatcher")
            for n, sig in enumerate((signal.SIGSEGV, signal.SIGKILL)):
                pid = patrold_children(proc.pid)[0]
                os.kill(pid, sig)
                t0 = time.time()
                while os.path.exists("/proc/%d" % pid) and time.time() < t0 + 30:
                    time.sleep(0.05)
                ready(60)
                back = time.time() - t0
                now = patrold_children(proc.pid)
                self.assertEqual(len(now), 1, log())
                self.assertNotEqual(now[0], pid)
                self.assertTrue(pg_running(state), "the database was stopped:\n" + log())
                self.assertIn("killed by signal %s" % sig.name, log())
                print("\nmeasured: supervisor: patrold %s -> serving again in %.1fs" % (sig.name, back))
            # sessions live in the database: the token from before the crashes still works
            self.assertEqual(srv.request("GET", "/api/v1/auth/me", token=token).status, 200)
            # Ctrl-C (SIGINT to the whole foreground process group) stops both
            os.killpg(proc.pid, signal.SIGINT)
            try:
                self.assertEqual(proc.wait(120), 0, log())
            except subprocess.TimeoutExpired:
                self.fail("run.sh did not stop within 120 s of Ctrl-C:\n" + log())
            self.assertEqual(patrold_children(proc.pid), [])
            self.assertFalse(pg_running(state), log())
            self.assertIn("local database stopped", log())
            with self.assertRaises(OSError):
                srv.request("GET", "/healthz", timeout=2)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            subprocess.run([PG_SH, "stop", state], capture_output=True)
            logf.close()
            shutil.rmtree(d, ignore_errors=True)

    def run_sh_on_fresh_db(self, d, ignore):
        """run.sh against a fresh seeded database (no local cluster), started with `ignore` signals
        ignored; returns (process, server handle, log) once patrold answers."""
        db = harness.fresh_db()
        self.addCleanup(db.drop)
        port = harness.free_port()
        env = dict(harness.patrold_env(db), PATROLD_LISTEN="127.0.0.1:%d" % port, PATROLD_THREADS="8")
        proc, srv, log = start_run_sh(env, os.path.join(d, "run.log"), port, ignore)
        self.addCleanup(log.file.close)

        def kill():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.addCleanup(kill)
        wait_run_sh_ready(self, proc, srv, log)
        return proc, srv, log

    def test_background_start_still_stops_on_sigint_and_sigterm(self):
        """Finding 14: started in the background (SIGINT and SIGTERM ignored on entry), run.sh stops
        patrold and itself on SIGINT, or SIGTERM, sent to it alone."""
        d = tmpdir()
        self.addCleanup(shutil.rmtree, d, True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            proc, srv, log = self.run_sh_on_fresh_db(d, (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT))
            children = patrold_children(proc.pid)
            self.assertEqual(len(children), 1, log())
            os.kill(proc.pid, sig)
            try:
                self.assertEqual(proc.wait(60), 0, log())
            except subprocess.TimeoutExpired:
                self.fail("run.sh ignored %s:\n%s" % (sig.name, log()))
            self.assertFalse(alive(children[0]), "patrold still running after %s" % sig.name)
            with self.assertRaises(OSError):
                srv.request("GET", "/healthz", timeout=2)

    def test_clean_exit_is_not_restarted(self):
        """Finding 14: patrold stopped by its own SIGTERM exits 0; run.sh ends too instead of
        starting it again (a crash is still restarted: test_crash_restarts_patrold_and_keeps_database)."""
        d = tmpdir()
        self.addCleanup(shutil.rmtree, d, True)
        proc, srv, log = self.run_sh_on_fresh_db(d, (signal.SIGINT,))
        pid = patrold_children(proc.pid)[0]
        os.kill(pid, signal.SIGTERM)
        try:
            self.assertEqual(proc.wait(60), 0, log())
        except subprocess.TimeoutExpired:
            self.fail("run.sh kept running after patrold exited cleanly:\n" + log())
        self.assertIn("patrold exited with status 0; not restarting", log())
        self.assertEqual(log().count("patrold started"), 1, log())
        self.assertFalse(alive(pid))

    def test_make_run_reads_the_settings_file(self):
        """run.sh passes --config: config/patrold.conf by default, or the file PATROLD_CONFIG names."""
        d, db = tmpdir(), harness.fresh_db()
        port = harness.free_port()
        conf = os.path.join(d, "patrold.conf")
        with open(os.path.join(ROOT, "config", "patrold.conf")) as f:
            text = f.read()
        self.assertIn('listen = "127.0.0.1:8080"', text)
        with open(conf, "w") as f:
            f.write(text.replace('listen = "127.0.0.1:8080"', 'listen = "127.0.0.1:%d"' % port))
        env = dict(harness.patrold_env(db), PATROLD_CONFIG=conf, PATROLD_THREADS="8")
        env.pop("PATROLD_LISTEN", None)
        proc, srv, log = start_run_sh(env, os.path.join(d, "run.log"), port)
        logf = log.file

        try:
            wait_run_sh_ready(self, proc, srv, log)  # on the port from the file
            self.assertIn("settings from %s" % conf, log())
            self.assertIn("http://127.0.0.1:%d/" % port, log())
            os.killpg(proc.pid, signal.SIGINT)
            self.assertEqual(proc.wait(60), 0)
            # without PATROLD_CONFIG it is the repository's file; a missing file is a clear error
            env["PATROLD_CONFIG"] = os.path.join(d, "missing.conf")
            r = subprocess.run([os.path.join(ROOT, "scripts", "run.sh"), harness.BIN], env=env,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2)
            self.assertIn("missing.conf", r.stderr)
            with open(os.path.join(ROOT, "scripts", "run.sh")) as f:
                self.assertIn("conf=${PATROLD_CONFIG:-config/patrold.conf}", f.read())
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            logf.close()
            db.drop()
            shutil.rmtree(d, ignore_errors=True)


def wait_run_sh_ready(test, proc, srv, log, timeout=120):
    """Waits until patrold under run.sh answers /readyz 200; fails the test if run.sh exits first."""
    deadline, status = time.time() + timeout, None
    while time.time() < deadline and status != 200:
        test.assertIsNone(proc.poll(), log())
        try:
            status = srv.request("GET", "/readyz", timeout=2).status
        except OSError:
            time.sleep(0.2)
    test.assertEqual(status, 200, log())


def start_run_sh(env, logpath, port, ignore=()):
    """scripts/run.sh (the supervisor of `make run`) in its own session, output to logpath; the
    signals in `ignore` are ignored when it starts (as a shell does for a job it puts in the
    background). Returns (process, a Server handle on port, a function reading the log so far)."""
    logf = open(logpath, "w+")

    def ignored():
        for sig in ignore:
            signal.signal(sig, signal.SIG_IGN)
    proc = subprocess.Popen([os.path.join(ROOT, "scripts", "run.sh"), harness.BIN], env=env, stdout=logf,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=ignored)
    srv = harness.Server.__new__(harness.Server)
    srv.port = port

    def log():
        logf.flush()
        with open(logf.name, errors="replace") as f:
            return f.read()
    log.file = logf
    return proc, srv, log


def psql_as(user, host):
    cmd = ["psql", "-h", host, "-U", "postgres", "-d", "postgres", "-XAtc", "SELECT current_user"]
    if user != "root":
        cmd = ["runuser", "-u", user, "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, cwd="/")


@unittest.skipUnless(os.getuid() == 0, "switching OS users needs root")
class LocalCluster(unittest.TestCase):
    def test_other_os_users_cannot_connect(self):
        host = harness._pghost()
        self.assertEqual(psql_as("root", host).stdout.strip(), "postgres")
        r = psql_as("nobody", host)
        self.assertNotEqual(r.returncode, 0, "nobody reached the test cluster: %s" % r.stdout)
        self.assertEqual(os.stat(host).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(host, ".s.PGSQL.5432")).st_mode & 0o777, 0o700)

    def test_non_root_owner_runs_and_reaches_its_cluster(self):
        d = tmpdir()
        shutil.chown(d, "nobody")
        c = os.path.join(d, "c")
        # nobody runs its own copy: the clone may sit under a folder it cannot enter (/root is 0700)
        pg_sh = shutil.copy(PG_SH, os.path.join(d, "pg.sh"))
        try:
            start = subprocess.run(["runuser", "-u", "nobody", "--", pg_sh, "start", c], capture_output=True,
                                   text=True, cwd="/")
            self.assertEqual(start.returncode, 0, start.stderr)
            host = start.stdout.strip()
            self.assertEqual(psql_as("nobody", host).stdout.strip(), "postgres")
            self.assertEqual(psql_as("root", host).stdout.strip(), "postgres")
            r = psql_as("daemon", host)
            self.assertNotEqual(r.returncode, 0, "another OS user reached nobody's cluster")
            with open(os.path.join(c, "data", "pg_hba.conf")) as f:
                hba = [ln.split() for ln in f if ln.strip() and not ln.startswith("#")]
            self.assertEqual(hba, [["local", "all", "all", "peer", "map=owner"]])
        finally:
            subprocess.run(["runuser", "-u", "nobody", "--", pg_sh, "stop", c], capture_output=True, cwd="/")
            shutil.rmtree(d, ignore_errors=True)


class LongStatements(unittest.TestCase):
    def test_psql_helpers_take_statements_longer_than_an_argument(self):
        """Finding 15: the exactly-once checks put every acknowledged client_id in one statement;
        over 128 KiB, an argument of psql fails (E2BIG). The helpers send SQL on standard input."""
        import sys
        sys.path.insert(0, os.path.join(ROOT, "tests", "ha"))
        import test_failover
        cids = [str(uuid.uuid4()) for _ in range(5000)]
        sql = "SELECT count(*) FROM unnest('{%s}'::uuid[])" % ",".join(cids)
        self.assertGreater(len(sql.encode()), 128 << 10)
        self.assertEqual(harness.psql("postgres", sql).stdout.strip(), "5000")
        self.assertEqual(harness.Db("postgres").value("SELECT cardinality(%s::uuid[])", "{%s}" % ",".join(cids)),
                         5000)
        r = test_failover.psql_run(["-h", harness._pghost(), "-U", "postgres", "-d", "postgres"], sql)
        self.assertEqual((r.returncode, r.stdout.strip(), r.stderr), (0, "5000", ""))
        # and a failing statement is still an error, not an empty answer
        r = test_failover.psql_run(["-h", harness._pghost(), "-U", "postgres", "-d", "postgres"],
                                   "SELECT no_such_column FROM pg_class;\nSELECT 1")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout.strip(), "")


class Hardening(unittest.TestCase):
    def readelf(self, *args):
        return subprocess.run(["readelf", "-W"] + list(args) + [harness.BIN], capture_output=True, text=True,
                              check=True).stdout

    def test_binary_is_pie_with_full_relro_and_canaries(self):
        self.assertIn("DYN (Position-Independent Executable file)", self.readelf("-h"))
        dyn = self.readelf("-d")
        self.assertRegex(dyn, r"\(FLAGS\)\s+BIND_NOW")
        self.assertRegex(dyn, r"\(FLAGS_1\)\s+Flags: NOW PIE")
        self.assertIn("GNU_RELRO", self.readelf("-l"))
        syms = self.readelf("--dyn-syms")
        self.assertIn("__stack_chk_fail", syms)
        if "__asan_init" not in syms:  # FORTIFY is off under AddressSanitizer (Makefile)
            fortified = set(re.findall(r"__\w+_chk\b", syms)) - {"__stack_chk_fail"}
            self.assertGreaterEqual(len(fortified), 3, fortified)

    def test_systemd_unit(self):
        path = os.path.join(ROOT, "config", "patrold.service")
        with open(path) as f:
            unit = f.read()
        for line in ("Restart=always", "NoNewPrivileges=yes", "ProtectSystem=strict", "User=patrold",
                     "EnvironmentFile=/etc/patrold/env", "CapabilityBoundingSet="):
            self.assertRegex(unit, r"(?m)^%s$" % re.escape(line))
        if shutil.which("systemd-analyze"):
            d = tmpdir()
            try:
                with open(os.path.join(d, "patrold.service"), "w") as f:
                    f.write(unit.replace("/usr/local/bin/patrold", harness.BIN))
                r = subprocess.run(["systemd-analyze", "verify", os.path.join(d, "patrold.service")],
                                   capture_output=True, text=True)
                self.assertEqual((r.returncode, r.stderr.strip()), (0, ""))
            finally:
                shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
