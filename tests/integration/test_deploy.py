"""test_deploy.py - the deployment steps as written, on a scratch root: a mount namespace in which /etc,
/usr/local, /var and /run are overlays whose changes land in a temporary folder (nothing on this
machine changes). There, a clean PostgreSQL data folder with Debian's access rules (peer on the local
socket /run/postgresql), then the install lines at the top of config/patrold.service (all but the
systemctl one: no systemd here; `systemd-analyze verify` checks the installed unit instead), then
patrold run as its unit says (User=, WorkingDirectory=, EnvironmentFile=, ExecStart=): `migrate` and
`serve` as the unprivileged role init-db made. Then README "Deploy for a real city": the division
list and county polygons imported, the first admin, a report; and the backup drill: pg_dump, restore
into a new database, patrold serves it with the report. Skipped unless root with mount namespaces."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import ROOT

UNIT = os.path.join(ROOT, "config", "patrold.service")
PG_BIN = sorted(d for d in (os.path.join("/usr/lib/postgresql", v, "bin") for v in
                            (os.listdir("/usr/lib/postgresql") if os.path.isdir("/usr/lib/postgresql") else []))
                if os.path.exists(os.path.join(d, "initdb")))[-1:] or [None]
PG_BIN = PG_BIN[0]
OVERLAID = ("etc", "usr/local", "var", "run")


def install_lines():
    """The command lines of the unit's header comment (`#   command`)."""
    with open(UNIT) as f:
        return [ln[4:].strip() for ln in f if ln.startswith("#   ")]


def unit_settings():
    """Key -> list of values of the [Service] section."""
    out, section = {}, None
    with open(UNIT) as f:
        for ln in f:
            ln = ln.strip()
            if ln.startswith("["):
                section = ln
            elif section == "[Service]" and "=" in ln and not ln.startswith("#"):
                k, _, v = ln.partition("=")
                out.setdefault(k, []).append(v)
    return out


def env_file(text):
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments, quotes)."""
    env = {}
    for ln in text.splitlines():
        ln = ln.strip()
        if ln and not ln.startswith(("#", ";")) and "=" in ln:
            k, _, v = ln.partition("=")
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            env[k.strip()] = v
    return env


def can_overlay():
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                        "d=$(mktemp -d) && mkdir $d/u $d/w && mount -t overlay overlay "
                        "-o lowerdir=/etc,upperdir=$d/u,workdir=$d/w /etc; rc=$?; rm -rf $d; exit $rc"],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stderr.strip()


@unittest.skipUnless(os.getuid() == 0 and shutil.which("unshare") and shutil.which("nsenter") and PG_BIN,
                     "needs root, util-linux unshare/nsenter and the PostgreSQL server")
class Deploy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ok, why = can_overlay()
        if not ok:
            raise unittest.SkipTest("no mount namespace with overlayfs here: " + why)
        cls.scratch = tempfile.mkdtemp(prefix="deploy.", dir="/tmp")
        os.chmod(cls.scratch, 0o755)
        cls.holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--fork", "--kill-child",
                                       "--", "sleep", "3600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        cls.servers = []
        for d in OVERLAID:
            up, work = (os.path.join(cls.scratch, k, d) for k in ("upper", "work"))
            os.makedirs(up), os.makedirs(work)
            cls.ns("mount -t overlay overlay -o lowerdir=/%s,upperdir=%s,workdir=%s /%s" % (d, up, work, d))
        pg = os.path.join(cls.scratch, "pg")
        os.makedirs(pg)
        shutil.chown(pg, "postgres", "postgres")
        # a clean data folder as Debian makes it: peer on the local socket, no TCP
        cls.ns("cd / && runuser -u postgres -- %s/initdb -D %s/data --auth-local=peer --auth-host=scram-sha-256"
               " --locale=C.UTF-8 -E UTF8 >/dev/null" % (PG_BIN, pg))
        cls.ns("install -d -m 2775 -o postgres -g postgres /run/postgresql && cd / && runuser -u postgres -- "
               "%s/pg_ctl -D %s/data -l %s/log -w -o \"-c listen_addresses='' -c unix_socket_directories="
               "/run/postgresql\" start >/dev/null" % (PG_BIN, pg, pg))

    @classmethod
    def tearDownClass(cls):
        for p in cls.servers:
            if p.poll() is None:
                p.terminate()
                p.wait(15)
        cls.ns("cd / && runuser -u postgres -- %s/pg_ctl -D %s/pg/data -m fast -w stop" % (PG_BIN, cls.scratch),
               check=False)
        cls.holder.kill()
        cls.holder.wait()
        shutil.rmtree(cls.scratch, ignore_errors=True)

    @classmethod
    def ns(cls, cmd, check=True, input=None, cwd=ROOT):
        """Runs a shell command line as root inside the scratch root."""
        r = subprocess.run(["nsenter", "-t", str(cls.holder.pid), "-m", "--wd=" + cwd, "--", "bash", "-ec", cmd],
                           capture_output=True, text=True, input=input, timeout=600)
        if check and r.returncode != 0:
            raise AssertionError("%s\n-> %d\n%s%s" % (cmd, r.returncode, r.stdout, r.stderr))
        return r

    def as_service(self, args, extra_env=None, background=False, input=None):
        """patrold as the unit runs it: its User, WorkingDirectory, EnvironmentFile and ExecStart's
        options, with `args` in place of its command."""
        u = unit_settings()
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        for ef in u.get("EnvironmentFile", []):
            env.update(env_file(self.ns("cat " + ef.lstrip("-"), check=not ef.startswith("-")).stdout))
        env.update(extra_env or {})
        exec_start = u["ExecStart"][0].split()
        self.assertEqual(exec_start[-1], "serve")
        argv = ["nsenter", "-t", str(self.holder.pid), "-m", "--", "setpriv", "--reuid", u["User"][0], "--regid",
                u["Group"][0], "--init-groups", "--", "env", "-C", u["WorkingDirectory"][0], "-i"]
        argv += ["%s=%s" % kv for kv in env.items()] + exec_start[:-1] + list(args)
        if background:
            log = open(os.path.join(self.scratch, "serve-%d.log" % len(self.servers)), "w+")
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            self.servers.append(p)
            self.addCleanup(log.close)
            return p, log
        return subprocess.run(argv, capture_output=True, text=True, timeout=600, input=input)

    def serve(self, extra_env=None):
        port = harness.free_port()
        proc, log = self.as_service(["serve"], dict(extra_env or {}, PATROLD_LISTEN="127.0.0.1:%d" % port),
                                    background=True)
        srv = harness.Server.__new__(harness.Server)
        srv.port, srv.proc, srv.log = port, proc, log
        srv.wait_ready(60)
        return srv

    def test_deploy_for_a_real_city(self):
        lines = install_lines()
        self.assertTrue(any(ln.startswith("install -d") and "/etc/patrold" in ln for ln in lines), lines)
        for ln in lines:
            if ln.startswith("systemctl "):
                continue  # no systemd in the scratch root: verified below, then run by hand
            self.ns(ln.replace("build/patrold", harness.BIN))
        again = [self.ns(ln.replace("build/patrold", harness.BIN)) for ln in lines if "init-db" in ln][0]
        self.assertIn("role patrold exists", again.stderr)  # a second run changes nothing
        if shutil.which("systemd-analyze"):
            r = self.ns("systemd-analyze verify /etc/systemd/system/patrold.service", check=False)
            self.assertEqual((r.returncode, r.stderr.strip()), (0, ""))
        # what StateDirectory= makes before ExecStart
        self.ns("install -d -m 0700 -o patrold -g patrold /var/lib/patrold")
        self.assertEqual(self.ns("stat -c '%U %a' /etc/patrold /etc/patrold/env").stdout.split(),
                         ["root", "750", "root", "640"])
        super_ = self.ns("cd / && runuser -u postgres -- psql -XAtc \"SELECT rolsuper, rolcreatedb, rolcreaterole"
                         " FROM pg_roles WHERE rolname = 'patrold'\"").stdout.strip()
        self.assertEqual(super_, "f|f|f")
        r = self.as_service(["migrate"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"applied \d+ migration")
        # README: boundaries (a division list, then a county's polygons), the first admin
        seed = "/usr/local/share/patrold/migrations/seed/"
        for args in (["import-divisions", seed + "lianyungang-divisions.csv"],
                     ["import-divisions", seed + "lianyungang-counties.geojson", "--level", "county",
                      "--crs", "gcj02"]):
            r = self.as_service(args)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.as_service(["user", "add", "admin", "--role", "admin", "--division", "3207"],
                            input="first-admin-pass-9\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        srv = self.serve()
        try:
            tok = srv.login("admin", "first-admin-pass-9")
            rep = srv.create_report({"client_id": "6f1c1c4e-8d0e-4a47-9d53-1a2b3c4d5e6f", "category": "vagrant",
                                     "location": {"lon": 119.18, "lat": 34.60}, "observed_at": "2026-12-01T21:00:00+08:00"},
                                    tok)
            self.assertIn("320706000000", [d["code"] for d in rep["divisions"]])  # 海州区, from its polygon
        finally:
            srv.stop()
        # backups: a dump, restored into a new database (init-db first: role, extensions), served
        self.ns("cd / && runuser -u postgres -- pg_dump -Fc patrol > /var/backups/patrol.dump")
        self.ns("cd / && runuser -u postgres -- env PATROLD_MIGRATIONS_DIR=/usr/local/share/patrold/migrations"
                " /usr/local/bin/patrold init-db --database patrol_restore")
        r = self.ns("cd / && runuser -u postgres -- pg_restore -d patrol_restore < /var/backups/patrol.dump",
                    check=False)
        self.assertEqual((r.returncode, r.stderr.strip()), (0, ""))
        srv = self.serve({"PATROLD_DATABASE": "host=/run/postgresql dbname=patrol_restore user=patrold"})
        try:
            tok = srv.login("admin", "first-admin-pass-9")
            r = srv.request("GET", "/api/v1/reports/%d" % rep["id"], token=tok)
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json()["client_id"], r.json()["observed_at"]), (rep["client_id"], rep["observed_at"]))
            again = srv.request("POST", "/api/v1/reports", json_body={"client_id": rep["client_id"],
                                "category": "vagrant", "location": {"lon": 119.18, "lat": 34.60},
                                "observed_at": "2026-12-01T21:00:00+08:00"}, token=tok)
            self.assertEqual(again.status, 200)  # the restored report, not a new one
            print("\nmeasured: restored database: %s" % json.dumps(
                {k: r.json()[k] for k in ("id", "status", "received_at")}, ensure_ascii=False))
        finally:
            srv.stop()
        # every table, sequence and view of the restored database is the role's (extension members
        # are the superuser's)
        foreign = self.ns("cd / && runuser -u postgres -- psql -XAt -d patrol_restore -c \"SELECT relname || ' '"
                          " || pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace"
                          " WHERE nspname = 'public' AND relkind IN ('r', 'p', 'S', 'v', 'm')"
                          " AND relowner <> 'patrold'::regrole AND NOT EXISTS (SELECT 1"
                          " FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')\"").stdout.split("\n")
        self.assertEqual([x for x in foreign if x], [])

    def test_migrate_without_init_db_says_what_to_do(self):
        self.ns("cd / && runuser -u postgres -- psql -Xqc 'CREATE ROLE plain LOGIN' -c 'CREATE DATABASE plain"
                " OWNER plain'")
        self.ns("id -u plain >/dev/null 2>&1 || useradd --system --no-create-home plain")
        # its own copy of the binary and migrations (the clone may be where `plain` cannot enter)
        self.ns("install -D -m 0755 %s /usr/local/lib/plain/patrold && cp -r migrations /usr/local/lib/plain/"
                % harness.BIN)
        r = self.ns("cd / && runuser -u plain -- env PATROLD_DATABASE='host=/run/postgresql dbname=plain user=plain'"
                    " PATROLD_MIGRATIONS_DIR=/usr/local/lib/plain/migrations /usr/local/lib/plain/patrold migrate",
                    check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("init-db", r.stderr)
        self.assertRegex(r.stderr, re.compile("permission denied to create extension", re.I))


if __name__ == "__main__":
    unittest.main()
