"""test_ha_start.py - scripts/ha.sh on a second loopback cluster of its own (ports offset by 100 from the
suite's): a start that fails at its last step (nginx) stops everything it started; `stop` with etcd gone still stops everything (Patroni ignores SIGTERM then: SIGKILL after a
grace period), a `start` that fails ("no primary") stops again everything it started, and the next
start then succeeds (it failed on "Address already in use" when a Patroni was left running). A process
counts as gone when it is absent or a zombie (PID 1 here does not reap orphans)."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

E = os.environ
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HA = os.path.join(ROOT, "scripts", "ha.sh")
BIN = E.get("PATROLD_BIN") or os.path.join(ROOT, E.get("BUILD", "build"), "patrold")
OFF = int(E.get("PATROLD_HA_PORT_OFFSET", "500")) + 100
PORTS = [p + OFF for p in (8090, 8081, 8082, 5441, 5442, 8011, 8012, 2389, 2390)]


def leftovers(d):
    """Live (not zombie) processes whose command line or environment names folder d."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if state != "Z" and (d.encode() in cmd or d.encode() in env):
            out.append("%s %s" % (pid, cmd.replace(b"\0", b" ").decode(errors="replace")[:120]))
    return out


def busy_ports():
    busy = []
    for p in PORTS:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            busy.append(p)
        finally:
            s.close()
    return busy


class HaScript(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="ha2.", dir="/tmp")
        os.chmod(self.d, 0o755)
        self.env = dict(E, PATROLD_HA_PORT_OFFSET=str(OFF))
        self.assertEqual(busy_ports(), [], "ports of the second cluster are taken before the test")

    def tearDown(self):
        subprocess.run([HA, "stop", self.d], env=self.env, capture_output=True, timeout=180)
        shutil.rmtree(self.d, ignore_errors=True)

    def ha(self, *args, env=None, timeout=300):
        t0 = time.time()
        r = subprocess.run([HA] + list(args), env=dict(self.env, **(env or {})), capture_output=True,
                           text=True, timeout=timeout)
        return r, time.time() - t0

    def assert_all_gone(self, what):
        deadline = time.time() + 10  # children of a killed postmaster exit on their own
        while time.time() < deadline and (leftovers(self.d) or busy_ports()):
            time.sleep(0.2)
        self.assertEqual(leftovers(self.d), [], what)
        self.assertEqual(busy_ports(), [], what)

    def test_failed_start_and_stop_without_etcd_leave_nothing(self):
        # a start that fails at its last step (nginx's port is taken) after starting all the rest
        squat = socket.socket()
        squat.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squat.bind(("127.0.0.1", 8090 + OFF))
        squat.listen(1)
        try:
            r, t = self.ha("start", self.d, BIN)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("stopping what it started: etcd n1 n2 a1 a2 nginx", r.stderr)
            print("\nmeasured: ha.sh start failing at nginx %.1fs" % t)
            time.sleep(1)
            self.assertEqual(leftovers(self.d), [], "after a start that failed at nginx")
        finally:
            squat.close()
        self.assert_all_gone("after a start that failed at nginx")
        r, t = self.ha("start", self.d, BIN)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        print("measured: ha.sh start (second cluster) %.1fs" % t)
        # etcd gone: Patroni no longer answers SIGTERM; stop must still end it (and its postgres)
        with open(os.path.join(self.d, "etcd.pid")) as f:
            os.kill(int(f.read()), 9)
        time.sleep(8)  # past Patroni's ttl (6 s): it keeps retrying etcd
        r, t = self.ha("stop", self.d, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr)
        print("measured: ha.sh stop with etcd killed %.1fs (%d process(es) needed SIGKILL)"
              % (t, r.stderr.count("SIGKILL")))
        self.assert_all_gone("after stop with etcd gone")
        # a start that fails: Patroni gets no time to elect a primary
        r, t = self.ha("start", self.d, BIN, env={"PATROLD_HA_PRIMARY_WAIT": "0"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no primary", r.stderr)
        self.assertIn("stopping what it started", r.stderr)
        self.assert_all_gone("after a failed start")
        # and the next start works
        r, t = self.ha("start", self.d, BIN)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        print("measured: ha.sh start after a failed one %.1fs" % t)
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % (8090 + OFF), timeout=10) as resp:
            self.assertEqual(resp.status, 200)


if __name__ == "__main__":
    unittest.main()
