"""run.py - the HA suite: starts scripts/ha.sh on loopback (etcd, two Patroni PostGIS nodes, two
patrold behind nginx) in a throwaway folder, runs tests/ha/test_*.py against it, stops it and prints
one line per module and `RESULT <passed> <failed> <skipped>` (tests/run adds them up). Skipped, with
the reason, when Patroni, etcd or nginx is not installed."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HA = os.path.join(ROOT, "scripts", "ha.sh")


def main(names):
    missing = [c for c in ("patroni", "patronictl", "etcd", "etcdctl", "nginx", "psql") if not shutil.which(c)]
    if missing:
        print("ha suite skipped: %s not installed (scripts/deps.sh installs patroni etcd-server etcd-client)"
              % " ".join(missing))
        print("RESULT 0 0 1")
        return 0
    mods = names or sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    d = tempfile.mkdtemp(prefix="patrold-ha.", dir="/tmp")
    os.chmod(d, 0o755)
    env = dict(os.environ, PATROLD_HA_PORT_OFFSET=os.environ.get("PATROLD_HA_PORT_OFFSET", "500"))
    binary = os.environ.get("PATROLD_BIN") or os.path.join(ROOT, os.environ.get("BUILD", "build"), "patrold")
    passed = failed = skipped = 0
    t0 = time.time()
    try:
        r = subprocess.run([HA, "start", d, binary], env=env, capture_output=True, text=True, timeout=300)
        print("ha cluster started in %.1fs" % (time.time() - t0), flush=True)
        if r.returncode != 0:
            print("cannot start the HA cluster:\n" + r.stdout + r.stderr)
            print("RESULT 0 1 0")
            return 1
        with open(os.path.join(d, "env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = v.strip("'")
        for m in mods:
            t1 = time.time()
            r = subprocess.run([sys.executable, "-m", "unittest", "-v", m], cwd=HERE, env=env,
                               capture_output=True, text=True, timeout=600)
            out = r.stdout + r.stderr
            ran = re.search(r"^Ran (\d+) tests?", out, re.M)
            n = int(ran.group(1)) if ran else 0
            f = sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", out))
            s = sum(int(x) for x in re.findall(r"skipped=(\d+)", out))
            if r.returncode != 0 and f == 0:
                f = 1
            passed, failed, skipped = passed + max(n - f - s, 0), failed + f, skipped + s
            print("%-28s %3d ran, %d failed, %d skipped, %.1fs" % (m, n, f, s, time.time() - t1), flush=True)
            for line in re.findall(r"^measured: .*$", out, re.M):
                print("    " + line, flush=True)
            if f:
                print(out[-20000:], flush=True)
                for log in ("n1/patroni.log", "n2/patroni.log", "a1/patrold.log", "a2/patrold.log"):
                    p = os.path.join(d, log)
                    if os.path.exists(p):
                        with open(p, errors="replace") as fh:
                            print("--- tail of %s\n%s" % (log, "".join(fh.readlines()[-15:])))
    finally:
        subprocess.run([HA, "stop", d], env=env, capture_output=True, timeout=120)
        if not os.environ.get("PATROLD_HA_KEEP"):
            shutil.rmtree(d, ignore_errors=True)
    print("RESULT %d %d %d" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
