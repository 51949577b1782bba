"""Foundation: migrations, configuration precedence, the route table's errors, login and tokens,
OpenAPI against the route table, metrics, and the database going away and coming back."""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import harness


def bare_db_with_user(username="alice", password="s3cret-pass", role="dispatcher"):
    db = harness.fresh_db(seeded=False)
    db.sql("INSERT INTO divisions (code, name, level) VALUES ('320706000000', '海州区', 'county')")
    r = harness.run_patrold(["user", "add", username, "--role", role, "--division", "320706"], db,
                            input=password + "\n")
    assert r.returncode == 0, r.stderr
    return db


class Migrations(unittest.TestCase):
    def setUp(self):
        self.db = harness.empty_db()
        self.dir = tempfile.mkdtemp()
        for f in os.listdir(os.path.join(harness.ROOT, "migrations")):
            if f.endswith(".sql"):
                shutil.copy(os.path.join(harness.ROOT, "migrations", f), self.dir)

    def tearDown(self):
        self.db.drop()
        shutil.rmtree(self.dir)

    def migrate(self):
        return harness.run_patrold(["migrate"], self.db, env={"PATROLD_MIGRATIONS_DIR": self.dir})

    def test_fresh_then_rerun(self):
        n = len([f for f in os.listdir(self.dir) if re.match(r"^\d{4}_.*\.sql$", f)])
        r = self.migrate()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("applied %d migration" % n, r.stderr)
        self.assertEqual(self.db.value("SELECT count(*) FROM schema_migrations"), n)
        self.assertTrue(self.db.value("SELECT to_regclass('reports') IS NOT NULL"))
        r = self.migrate()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("applied", r.stderr)
        self.assertEqual(self.db.value("SELECT count(*) FROM schema_migrations"), n)

    def test_edited_file_refused(self):
        self.assertEqual(self.migrate().returncode, 0)
        with open(os.path.join(self.dir, "0001_schema.sql"), "a") as f:
            f.write("\n-- edited\n")
        r = self.migrate()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("0001_schema.sql was edited after it was applied", r.stderr)

    def test_failing_migration_leaves_nothing(self):
        self.assertEqual(self.migrate().returncode, 0)
        with open(os.path.join(self.dir, "9999_broken.sql"), "w") as f:
            f.write("CREATE TABLE half_done (x int);\nSELECT no_such_function();\n")
        r = self.migrate()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("9999_broken.sql", r.stderr)
        self.assertFalse(self.db.value("SELECT to_regclass('half_done') IS NOT NULL"))
        self.assertEqual(self.db.value("SELECT count(*) FROM schema_migrations WHERE version = 9999"), 0)

    def test_concurrent_start(self):
        env = harness.patrold_env(self.db, {"PATROLD_MIGRATIONS_DIR": self.dir})
        procs = [subprocess.Popen([harness.BIN, "migrate"], env=env, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        results = [(p.wait(60), p.stderr.read()) for p in procs]
        for p in procs:
            p.stderr.close()
        for code, err in results:
            self.assertEqual(code, 0, err)
        self.assertEqual(sum("applied" in err for _, err in results), 1)
        self.assertEqual(self.db.value("SELECT count(*) = count(DISTINCT version) FROM schema_migrations"), True)


class Config(unittest.TestCase):
    def effective(self, args=(), env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("PATROLD_")}
        e.update(env or {})
        r = subprocess.run([harness.BIN] + list(args) + ["config"], env=e, capture_output=True, text=True)
        return r, dict(re.findall(r"^(\w+) = (.*)$", r.stdout, re.M))

    def test_precedence(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# test\nthreads = 7\nlisten = \"127.0.0.1:9999\"\nack_town_s = 60\n")
        _, defaults = self.effective()
        self.assertEqual(defaults["threads"], "512")
        _, from_file = self.effective(["--config", f.name])
        self.assertEqual((from_file["threads"], from_file["listen"]), ("7", '"127.0.0.1:9999"'))
        _, from_env = self.effective(["--config", f.name], {"PATROLD_THREADS": "9"})
        self.assertEqual((from_env["threads"], from_env["listen"], from_env["ack_town_s"]),
                         ("9", '"127.0.0.1:9999"', "60"))

    def test_example_file_is_complete_and_valid(self):
        _, defaults = self.effective()
        _, example = self.effective(["--config", os.path.join(harness.ROOT, "config", "patrold.conf")])
        self.assertEqual(defaults, example)

    def test_bad_values_are_errors(self):
        for text, needle in [("threads = many\n", "threads"), ("colour = blue\n", "unknown setting 'colour'"),
                             ("just words\n", "expected 'key = value'")]:
            with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
                f.write(text)
            r, _ = self.effective(["--config", f.name])
            self.assertEqual(r.returncode, 2, text)
            self.assertIn(needle, r.stderr)
            self.assertIn(":1:", r.stderr)
        r, _ = self.effective([], {"PATROLD_DUP_RADIUS_M": "-5"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("PATROLD_DUP_RADIUS_M", r.stderr)

    def test_unknown_command(self):
        r = harness.run_patrold(["frobnicate"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command", r.stderr)
        self.assertIn("usage: patrold", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_help_asked_for_is_success_on_stdout(self):
        for args in (["help"], ["--help"], ["-h"]):
            r = harness.run_patrold(args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertIn("usage: patrold", r.stdout)
            self.assertIn("locate", r.stdout)
            self.assertEqual(r.stderr, "")
        r = harness.run_patrold([])  # nothing asked: usage, but as an error
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: patrold", r.stderr)


class Http(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = bare_db_with_user()
        cls.srv = harness.Server(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    def test_health(self):
        r = self.srv.request("GET", "/healthz")
        self.assertEqual((r.status, r.json()), (200, {"status": "ok"}))
        r = self.srv.request("GET", "/readyz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["database"], True)

    def test_head_is_get_without_body(self):
        get = self.srv.request("GET", "/healthz")
        head = self.srv.request("HEAD", "/healthz")
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(head.headers["content-length"], get.headers["content-length"])
        self.assertEqual(self.srv.request("HEAD", "/api/v1/auth/login").status, 405)

    def test_not_found(self):
        r = self.srv.request("GET", "/api/v1/nothing-here")
        self.assertEqual((r.status, r.error), (404, "not_found"))

    def test_method_not_allowed(self):
        r = self.srv.request("DELETE", "/api/v1/auth/login")
        self.assertEqual((r.status, r.error), (405, "method_not_allowed"))
        self.assertIn("POST", r.headers["allow"])

    def test_body_too_large(self):
        r = self.srv.request("POST", "/api/v1/auth/login", body="{" + " " * 10000 + "}",
                             headers={"Content-Type": "application/json"})
        self.assertEqual((r.status, r.error), (413, "payload_too_large"))

    def test_wrong_media_type(self):
        r = self.srv.request("POST", "/api/v1/auth/login", body="username=a&password=b",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((r.status, r.error), (415, "unsupported_media_type"))

    def test_bad_json(self):
        for body in ['{"username": ', "[1,2", '{"a":1,"a":2}', "\xff\xfe"]:
            r = self.srv.request("POST", "/api/v1/auth/login", body=body.encode("latin-1"),
                                 headers={"Content-Type": "application/json"})
            self.assertEqual((r.status, r.error), (400, "invalid_json"), body)
            self.assertIn("line", r.json()["error"]["message"])

    def test_error_shape_and_request_id(self):
        r = self.srv.request("GET", "/api/v1/nothing-here")
        self.assertEqual(set(r.json()["error"]), {"code", "message", "field"})
        self.assertRegex(r.headers["x-request-id"], r"^[0-9a-f]{16}$")

    def test_login_right_and_wrong(self):
        r = self.srv.request("POST", "/api/v1/auth/login", {"username": "alice", "password": "s3cret-pass"})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["user"]["role"], "dispatcher")
        self.assertEqual(body["user"]["division_code"], "320706000000")
        self.assertRegex(body["expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")  # timezone
        me = self.srv.request("GET", "/api/v1/auth/me", token=body["token"])
        self.assertEqual((me.status, me.json()["username"]), (200, "alice"))
        # the token is stored only as a hash
        self.assertEqual(self.db.value("SELECT count(*) FROM sessions WHERE token_hash = convert_to(%s, 'UTF8')",
                                       body["token"]), 0)
        for user, pw in [("alice", "wrong"), ("nobody", "s3cret-pass"), ("alice", "")]:
            r = self.srv.request("POST", "/api/v1/auth/login", {"username": user, "password": pw})
            self.assertEqual((r.status, r.error), (401, "invalid_credentials"))
        r = self.srv.request("POST", "/api/v1/auth/login", {"username": "alice", "password": 5})
        self.assertEqual((r.status, r.json()["error"]["field"]), (400, "password"))

    def test_token_missing_expired_revoked(self):
        self.assertEqual(self.srv.request("GET", "/api/v1/auth/me").status, 401)
        self.assertEqual(self.srv.request("GET", "/api/v1/auth/me", token="forged").status, 401)
        t1 = self.srv.login("alice", "s3cret-pass")
        self.db.sql("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL")
        r = self.srv.request("GET", "/api/v1/auth/me", token=t1)
        self.assertEqual((r.status, r.error), (401, "unauthorized"))
        t2 = self.srv.login("alice", "s3cret-pass")
        self.assertEqual(self.srv.request("GET", "/api/v1/auth/me", token=t2).status, 200)
        self.assertEqual(self.srv.request("POST", "/api/v1/auth/logout", token=t2).status, 204)
        self.assertEqual(self.srv.request("GET", "/api/v1/auth/me", token=t2).status, 401)

    def test_openapi_matches_route_table(self):
        with open(os.path.join(harness.ROOT, "service", "door", "routes.c")) as f:
            table = set(re.findall(r'^\s*\{"(GET|POST|PUT|PATCH|DELETE)", "([^"]+)"', f.read(), re.M))
        doc = self.srv.request("GET", "/api/v1/openapi.json").json()
        self.assertTrue(doc["openapi"].startswith("3."))
        ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
        self.assertEqual(ops, table)
        for method, path in table:  # every documented operation is really routed
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            r = self.srv.request(method, concrete, body=b"" if method == "POST" else None)
            self.assertNotEqual(r.error, "method_not_allowed", (method, path))
            if "{" not in path:
                self.assertNotEqual(r.error, "not_found", (method, path))

    def test_metrics(self):
        for _ in range(3):
            self.srv.request("GET", "/healthz")
        text = self.srv.request("GET", "/metrics").body.decode()
        m = re.search(r'^patrold_http_requests_total\{method="GET",route="/healthz",status="2xx"\} (\d+)$', text, re.M)
        self.assertIsNotNone(m)
        self.assertGreaterEqual(int(m.group(1)), 3)
        self.assertRegex(text, r'patrold_http_request_duration_seconds_bucket\{method="GET",route="/healthz",le="\+Inf"\} \d+')
        self.assertIn("patrold_db_errors_total", text)


class Roles(unittest.TestCase):
    """The route table's roles: exports are for staff only; the demo users hold each role."""

    def test_route_roles_enforced(self):
        db = harness.fresh_db()
        try:
            with harness.Server(db) as srv:
                for user, status in [("patrol", 403), ("community", 403), ("dispatcher", 200),
                                     ("supervisor", 200), ("admin", 200)]:
                    token = srv.login(user)
                    me = srv.request("GET", "/api/v1/auth/me", token=token).json()
                    self.assertEqual(me["role"], user)
                    for path in ("/api/v1/reports.csv", "/api/v1/reports.geojson"):
                        r = srv.request("GET", path, token=token)
                        self.assertEqual(r.status, status, (user, path, r))
                        if status == 403:
                            self.assertEqual(r.error, "forbidden")
        finally:
            db.drop()


class DatabaseGoesAway(unittest.TestCase):
    """A cluster of its own is stopped and started again under a running server."""

    def test_503_then_recovers(self):
        state = tempfile.mkdtemp(prefix="patrold-pgdown.")
        os.chmod(state, 0o755)
        pg = os.path.join(harness.ROOT, "scripts", "pg.sh")
        sock = subprocess.run([pg, "start", state], check=True, capture_output=True, text=True).stdout.strip()
        try:
            conninfo = "host=%s dbname=postgres user=postgres" % sock
            db = harness.Db("postgres")
            db.conninfo = conninfo
            self.assertEqual(harness.run_patrold(["migrate"], db).returncode, 0)
            with harness.Server(db) as srv:
                self.assertEqual(srv.request("GET", "/readyz").status, 200)
                subprocess.run([pg, "stop", state], check=True)
                r = srv.request("GET", "/readyz")
                self.assertEqual((r.status, r.json()["database"]), (503, False))
                r = srv.request("POST", "/api/v1/auth/login", {"username": "x", "password": "y"})
                self.assertEqual((r.status, r.error), (503, "db_unavailable"))
                self.assertEqual(srv.request("GET", "/healthz").status, 200)
                subprocess.run([pg, "start", state], check=True, capture_output=True)
                deadline = time.time() + 20
                while srv.request("GET", "/readyz").status != 200 and time.time() < deadline:
                    time.sleep(0.2)
                self.assertEqual(srv.request("GET", "/readyz").status, 200)
                r = srv.request("POST", "/api/v1/auth/login", {"username": "x", "password": "y"})
                self.assertEqual((r.status, r.error), (401, "invalid_credentials"))
                # every worker thread's connection recovers: none answers 503 any more
                codes = {srv.request("GET", "/api/v1/auth/me", token="unknown").status for _ in range(60)}
                self.assertEqual(codes, {401})
                self.assertIsNone(srv.proc.poll())
        finally:
            subprocess.run([pg, "stop", state])
            shutil.rmtree(state, ignore_errors=True)


class Shutdown(unittest.TestCase):
    def test_sigterm_and_sigint_stop_cleanly(self):
        db = harness.fresh_db(seeded=False)
        try:
            import signal
            for sig in (signal.SIGTERM, signal.SIGINT):
                srv = harness.Server(db)
                # a keep-alive client holding a connection must not block shutdown
                t = threading.Thread(target=lambda: srv.request("GET", "/healthz"))
                t.start()
                t.join()
                t0 = time.time()
                self.assertEqual(srv.stop(sig), 0)
                self.assertLess(time.time() - t0, 10)
                self.assertIn("stopped", srv.log_text())
        finally:
            db.drop()


if __name__ == "__main__":
    unittest.main()
