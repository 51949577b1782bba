"""run.py - the browser suite: a fresh seeded database and a real patrold (tests/integration/harness.py),
then console.test.mjs drives Debian's chromium through playwright-core against it. Prints the steps
and `RESULT <passed> <failed> <skipped>` like the integration runner."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402


def main():
    out_dir = os.path.join(ROOT, os.environ.get("BUILD", "build"), "e2e")
    os.makedirs(out_dir, exist_ok=True)
    db = harness.fresh_db()
    srv = harness.Server(db, env={"PATROLD_WEB_ROOT": os.path.join(ROOT, "web")})
    try:
        env = dict(os.environ, PATROLD_URL="http://127.0.0.1:%d" % srv.port, E2E_OUT=out_dir)
        r = subprocess.run(["node", os.path.join(HERE, "console.test.mjs")], env=env, capture_output=True,
                           text=True, timeout=int(os.environ.get("E2E_TIMEOUT", "300")))
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or "") if isinstance(e.stdout, str) else ""
        out += "\nTIMEOUT"
    finally:
        srv.stop()
        log = srv.log_text()
        db.drop()
    print(out)
    m = re.search(r"^E2E (\d+) passed, (\d+) failed$", out, re.M)
    p, f = (int(m.group(1)), int(m.group(2))) if m else (0, 1)
    if f:
        print("--- patrold log (tail)\n" + log[-3000:])
    print("RESULT %d %d 0" % (p, f))


if __name__ == "__main__":
    main()
