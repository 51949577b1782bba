"""run.py - runs every tests/integration/test_*.py module in its own process with a time limit and
prints one line per module, the output of failing ones, and `RESULT <passed> <failed> <skipped>`."""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = int(os.environ.get("PATROLD_TEST_MODULE_TIMEOUT", "600"))


def main(names):
    mods = names or sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    passed = failed = skipped = 0
    for m in mods:
        t0 = time.time()
        try:
            r = subprocess.run([sys.executable, "-m", "unittest", "-v", m], cwd=HERE, capture_output=True,
                               text=True, timeout=LIMIT)
            out, code = r.stdout + r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out, code = "%s\nTIMEOUT after %ds" % ((e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), LIMIT), -1
        ran = re.search(r"^Ran (\d+) tests?", out, re.M)
        n = int(ran.group(1)) if ran else 0
        f = sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", out))
        s = sum(int(x) for x in re.findall(r"skipped=(\d+)", out))
        if code != 0 and f == 0:
            f = 1  # crashed or timed out without a unittest summary
        passed += max(n - f - s, 0)
        failed += f
        skipped += s
        print("%-28s %3d ran, %d failed, %d skipped, %.1fs" % (m, n, f, s, time.time() - t0), flush=True)
        for line in re.findall(r"^measured: .*$", out, re.M):  # numbers a test reports, pass or fail
            print("    " + line, flush=True)
        if f:
            print(out[-20000:], flush=True)
    print("RESULT %d %d %d" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
