"""harness.py - real PostGIS databases and real patrold servers on loopback for integration tests.

One cluster serves a whole test run (tests/run starts it and exports PATROLD_TEST_PGHOST); run
standalone, the harness starts or reuses one in /tmp/patrold-test-cluster. Template databases
(migrations only, and migrations + demo seed) are built once per content hash of migrations/ and
the seed code; every test clones its own database from one of them.
"""
import fcntl
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import itertools

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("PATROLD_BIN") or os.path.join(ROOT, os.environ.get("BUILD", "build"), "patrold")
SHARED_DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
_counter = itertools.count()


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
    r = subprocess.run(["psql", "-h", _pghost(), "-U", "postgres", "-d", dbname, "-X", "-q", "-At",
                        "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True)
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
        paths += [os.path.join(ROOT, "service", f) for f in ("seed.c", "importer.c", "auth.c")]
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


class Server:
    """A real patrold serving db on a free loopback port. Use as a context manager or call stop()."""

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

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
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
