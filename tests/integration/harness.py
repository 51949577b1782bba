"""harness.py - real PostGIS databases and real patrold servers on loopback for integration tests.

One cluster serves a whole test run (tests/run starts it and exports PATROLD_TEST_PGHOST); run
standalone, the harness starts or reuses one in /tmp/patrold-test-cluster. Template databases
(migrations only, and migrations + demo seed) are built once per content hash of migrations/ and
the seed code; every test clones its own database from one of them.
"""
import atexit
import fcntl
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import itertools
import re
import urllib.parse

import jsonschema  # Debian: python3-jsonschema

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("PATROLD_BIN") or os.path.join(ROOT, os.environ.get("BUILD", "build"), "patrold")
SHARED_DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
_counter = itertools.count()
VALIDATE = os.environ.get("PATROLD_TEST_VALIDATE", "1") != "0"  # 0: no openapi.json checks (timing)
_VSTATS = [0, 0.0, 0.0]  # replies checked, seconds of wall and of CPU spent checking


def _report_validation_cost():
    if os.environ.get("PATROLD_TEST_VALIDATE_STATS") and _VSTATS[0]:
        print("measured: openapi.json validation: %d replies, %.3f s (%.3f s CPU), %.2f ms each"
              % (_VSTATS[0], _VSTATS[1], _VSTATS[2], 1000 * _VSTATS[1] / _VSTATS[0]), file=sys.stderr)


atexit.register(_report_validation_cost)


def _pghost():
    host = os.environ.get("PATROLD_TEST_PGHOST")
    if host:
        return host
    d = "/tmp/patrold-test-cluster"
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    host = subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "start", d], check=True,
                          capture_output=True, text=True).stdout.strip()
    os.environ["PATROLD_TEST_PGHOST"] = host
    return host


def lit(v):
    """SQL literal of a Python value (tests only; the service itself only uses parameters)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def psql(dbname, sql, check=True):
    """Runs sql (read from standard input: a statement of any length; one command-line argument
    stops at 128 KiB, E2BIG) in dbname."""
    r = subprocess.run(["psql", "-h", _pghost(), "-U", "postgres", "-d", dbname, "-X", "-q", "-At",
                        "-v", "ON_ERROR_STOP=1"], input=sql, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("psql failed: %s\n%s" % (sql[:300], r.stderr))
    return r


class Db:
    def __init__(self, name):
        self.name = name
        self.conninfo = "host=%s dbname=%s user=postgres" % (_pghost(), name)

    def sql(self, query, *params):
        """Runs query with %s placeholders filled by literals; returns rows as dicts."""
        parts = query.split("%s")
        if len(parts) - 1 != len(params):
            raise ValueError("%d placeholders, %d params" % (len(parts) - 1, len(params)))
        q = parts[0] + "".join(lit(p) + s for p, s in zip(params, parts[1:]))
        head = q.lstrip().lower()
        if head.startswith(("select", "with", "values")) or " returning " in head:
            out = psql(self.name, "WITH t AS (%s) SELECT coalesce(json_agg(t), '[]') FROM t" % q).stdout
            return json.loads(out)
        psql(self.name, q)
        return []

    def value(self, query, *params):
        rows = self.sql(query, *params)
        return next(iter(rows[0].values())) if rows else None

    def drop(self):
        psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name, check=False)


def _content_hash(seeded):
    h = hashlib.sha256()
    paths = [os.path.join(ROOT, "migrations", f) for f in sorted(os.listdir(os.path.join(ROOT, "migrations")))]
    if seeded:
        seed = os.path.join(ROOT, "migrations", "seed")
        paths += [os.path.join(seed, f) for f in sorted(os.listdir(seed))]
        paths += [os.path.join(ROOT, "service", f) for f in ("cmd/seed.c", "cmd/importer.c", "core/auth.c")]
    for p in paths:
        if os.path.isfile(p):
            h.update(p.encode())
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()[:12]


def template(seeded=True):
    """Name of the template database (built on first use, under a file lock)."""
    name = "tpl_%s_%s" % ("seed" if seeded else "bare", _content_hash(seeded))
    with open("/tmp/patrold-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if psql("postgres", "SELECT 1 FROM pg_database WHERE datname = %s" % lit(name)).stdout.strip():
            return name
        tmp = name + "_building"
        psql("postgres", "DROP DATABASE IF EXISTS %s" % tmp)
        psql("postgres", "CREATE DATABASE %s" % tmp)
        db = Db(tmp)
        run_patrold(["migrate"], db, check=True)
        if seeded:
            run_patrold(["seed"], db, check=True, timeout=600)
        psql("postgres", "ALTER DATABASE %s RENAME TO %s" % (tmp, name))
        psql("postgres", "UPDATE pg_database SET datistemplate = true WHERE datname = %s" % lit(name))
        return name


def fresh_db(seeded=True):
    """A new database cloned from the template: migrations applied, demo data when seeded."""
    name = "t_%d_%d" % (os.getpid(), next(_counter))
    psql("postgres", "DROP DATABASE IF EXISTS %s" % name)
    psql("postgres", "CREATE DATABASE %s TEMPLATE %s" % (name, template(seeded)))
    return Db(name)


class FreshDbCase(unittest.TestCase):
    """Tests that share a fresh seeded database of their own (cls.db), dropped after them."""

    @classmethod
    def setUpClass(cls):
        cls.db = fresh_db()

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()


class ServerCase(FreshDbCase):
    """FreshDbCase with a real patrold on its database (cls.srv), stopped after the tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = Server(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()


def empty_db():
    """A new database with nothing in it (not even the migrations)."""
    name = "e_%d_%d" % (os.getpid(), next(_counter))
    psql("postgres", "DROP DATABASE IF EXISTS %s" % name)
    psql("postgres", "CREATE DATABASE %s" % name)
    return Db(name)


def patrold_env(db=None, env=None):
    e = dict(os.environ)
    e.setdefault("PATROLD_MIGRATIONS_DIR", os.path.join(ROOT, "migrations"))
    e.setdefault("PATROLD_SEED_DIR", os.path.join(ROOT, "migrations", "seed"))
    e.setdefault("PATROLD_WEB_ROOT", os.path.join(ROOT, "web"))
    if db is not None:
        e["PATROLD_DATABASE"] = db.conninfo
    e.update(env or {})
    return e


def run_patrold(args, db=None, env=None, timeout=300, check=False, input=None):
    """Runs a patrold command; `input` (text), if given, is its standard input."""
    r = subprocess.run([BIN] + list(args), env=patrold_env(db, env), capture_output=True, text=True,
                       timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise RuntimeError("patrold %s failed (%d):\n%s" % (" ".join(args), r.returncode, r.stderr))
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def error(self):
        """The error code of an error body, or None."""
        try:
            return self.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Contract:
    """The published /api/v1/openapi.json of a server: every JSON reply a test receives is checked
    against it (2xx against the route's reply schema, errors against Error, Open311 against its own;
    the status itself must be one the document declares for the route)."""

    _compiled = {}  # document bytes -> Contract (one per build, whatever the number of servers)

    @classmethod
    def of(cls, doc_bytes):
        c = cls._compiled.get(doc_bytes)
        if c is None:
            c = cls._compiled[doc_bytes] = cls(json.loads(doc_bytes))
        return c

    def __init__(self, doc):
        self.doc, self.ops, self.validators = doc, [], {}
        for path, item in doc["paths"].items():  # in route-table order, as the server matches
            rx = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$")
            for method, op in item.items():
                self.ops.append((method.upper(), rx, path, op))

    def validator(self, ref):
        v = self.validators.get(ref)
        if v is None:  # a root that holds the components, so every "#/components/..." resolves
            v = self.validators[ref] = jsonschema.Draft202012Validator(
                {"$ref": ref, "components": self.doc["components"]})
        return v

    def check(self, method, target, status, ctype, body):
        """None when the reply matches the document, else what is wrong (route, status, pointer)."""
        if not body or not re.match(r"application/([a-z.+-]*\+)?json", ctype or ""):
            return None
        if ctype.startswith("application/manifest+json"):
            return None  # a web app manifest (/app/): a static file, not a reply of the API
        path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
        want = "GET" if method == "HEAD" else method
        hits = [(p, op) for m, rx, p, op in self.ops if m == want and rx.match(path)]
        where = "%s %s -> %d" % (method, target[:200], status)
        if hits:
            route, op = hits[0]
            where += " (%s %s, %s)" % (want, route, op.get("operationId"))
            resp = op["responses"].get(str(status))
            if resp is None:
                return "%s: status %d is not declared for this route in openapi.json" % (where, status)
            content = resp.get("content") or {}
            media = content.get(ctype.split(";")[0].strip())
            if media is None:
                return "%s: content type %r is not declared (declared: %s)" % (where, ctype, sorted(content))
            schema = media.get("schema", {})
        elif status >= 400:  # no route: the HTTP core's 404/405, in the error format of the path
            schema = {"$ref": "#/components/schemas/" + ("O311Errors" if path.startswith("/open311/")
                                                         else "Error")}
        else:
            return "%s: a %d JSON reply on a path openapi.json does not have" % (where, status)
        ref = schema.get("$ref")
        if ref is None:
            return None  # not a JSON schema of ours (e.g. a generic object)
        try:
            data = json.loads(body)
        except ValueError as e:
            return "%s: the reply is not JSON: %s" % (where, e)
        err = jsonschema.exceptions.best_match(self.validator(ref).iter_errors(data))
        if err is None:
            return None
        pointer = "/" + "/".join(str(x) for x in err.absolute_path)
        return "%s: reply does not match %s at %s: %s (schema path %s)" % (
            where, ref, pointer, err.message[:300], "/".join(str(x) for x in err.absolute_schema_path))


class Server:
    """A real patrold serving db on a free loopback port. Use as a context manager or call stop().
    Every JSON reply request() receives is validated against the server's own openapi.json
    (Contract): a mismatch fails the request's test (from another thread: at stop())."""

    contract, contract_errors = None, ()  # also for instances made with Server.__new__

    def __init__(self, db, env=None, threads=16, wait_ready=True):
        self.db, self.env, self.threads = db, dict(env or {}), threads
        self.log = tempfile.NamedTemporaryFile(prefix="patrold-", suffix=".log", delete=False)
        self.port = free_port()
        self.start(wait_ready)

    def start(self, wait_ready=True):
        env = {"PATROLD_LISTEN": "127.0.0.1:%d" % self.port, "PATROLD_THREADS": str(self.threads)}
        env.update(self.env)
        self.proc = subprocess.Popen([BIN, "serve"], env=patrold_env(self.db, env),
                                     stdout=self.log, stderr=self.log)
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("patrold exited %d:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                if self.request("GET", "/readyz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("patrold not ready in %ds:\n%s" % (timeout, self.log_text()))

    def log_text(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()[-5000:]

    def request(self, method, path, json_body=None, body=None, headers=None, token=None, timeout=30):
        r = self._request(method, path, json_body, body, headers, token, timeout)
        if VALIDATE and not path.startswith("/api/v1/openapi.json"):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                self._check_contract(method, path, r)
            finally:
                _VSTATS[0] += 1
                _VSTATS[1] += time.perf_counter() - t0
                _VSTATS[2] += time.process_time() - c0
        return r

    def _check_contract(self, method, path, r):
        if self.contract is None:
            try:
                doc = self._request("GET", "/api/v1/openapi.json")
            except OSError:
                return  # the server went away meanwhile: the test sees that itself
            if doc.status != 200:  # still starting (CivetWeb listens before the routes exist)
                return
            self.contract = Contract.of(doc.body)
        problem = self.contract.check(method, path, r.status, r.headers.get("content-type"), r.body)
        if problem is None:
            return
        problem += "\n  body: %s" % r.body[:500]
        if threading.current_thread() is threading.main_thread():
            raise AssertionError(problem)
        self.contract_errors = list(self.contract_errors) + [problem]  # raised at stop()

    def _request(self, method, path, json_body=None, body=None, headers=None, token=None, timeout=30):
        h = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            h.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        if token:
            h["Authorization"] = "Bearer " + token
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def login(self, username, password="demo"):
        r = self.request("POST", "/api/v1/auth/login", {"username": username, "password": password})
        if r.status != 200:
            raise AssertionError("login %s: %r" % (username, r))
        return r.json()["token"]

    def openapi(self):
        """The OpenAPI document this server publishes (parsed)."""
        r = self.request("GET", "/api/v1/openapi.json")
        if r.status != 200:
            raise AssertionError("openapi.json: %r" % r)
        return r.json()

    def create_report(self, body, token):
        """POST /api/v1/reports that must create (201); the report."""
        r = self.request("POST", "/api/v1/reports", json_body=body, token=token)
        if r.status != 201:
            raise AssertionError("create report: %r" % r)
        return r.json()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.contract_errors:
            errors, self.contract_errors = self.contract_errors, ()
            raise AssertionError("replies that do not match openapi.json:\n" + "\n".join(errors[:5]))
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        self.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
