"""coverage_load.py URL TOKEN UNITS PID RUNS90 RUNS27 LABEL - issue 23 finding 5's load on one server:
~400,000 fixes over 90 days (20 units, a little over an hour a day each, a fix every 20 s, the same
seeded walks as tests/integration/test_coverage_scale.py) posted in batches of 1,000 by 4 clients,
then GET /api/v1/coverage for the whole city over 90 and 27 days (each request a different `since`
minute, as the finding did: no cache hit), then the server's RSS. Prints `name value` lines:
coverage_<LABEL>_ingest_fixes_per_s, _90d_p50_s, _90d_p99_s, _27d_p50_s, _27d_p99_s, _rss_mb,
_peak_rss_mb. UNITS: comma-separated ids of 20 units in 海州区; PID: the server's process id."""
import concurrent.futures
import datetime
import http.client
import json
import math
import random
import sys
import time
import urllib.parse

DAYS, PER_DAY, STEP_S = 90, 222, 20


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def request(url, method, path, token, body=None, timeout=900):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    c.request(method, path, body=data, headers={"Authorization": "Bearer " + token,
                                                "Content-Type": "application/json"})
    r = c.getresponse()
    out = r.status, r.read()
    c.close()
    return out


def batches(units, homes, now):
    rnd = random.Random(23)
    day0 = math.floor(now / 86400) * 86400
    out = []
    for u, (hlon, hlat) in zip(units, homes):
        fixes = []
        for d in range(DAYS - 1, -1, -1):
            start = day0 - d * 86400 + 3600 + rnd.uniform(0, 5 * 3600)
            if start + PER_DAY * STEP_S > now - 120:
                start = day0 - (d + 1) * 86400 + 12 * 3600
            start = max(start, now - DAYS * 86400 + 3600)
            x, y, heading = rnd.uniform(-1500, 1500), rnd.uniform(-1500, 1500), rnd.uniform(0, 2 * math.pi)
            for k in range(PER_DAY):
                heading += rnd.gauss(0, 0.35)
                x += 28 * math.cos(heading)
                y += 28 * math.sin(heading)
                fixes.append({"location": {"lon": round(hlon + x / (111320.0 * math.cos(math.radians(hlat))), 7),
                                           "lat": round(hlat + y / 110574.0, 7)}, "at": iso(start + k * STEP_S)})
        fixes.sort(key=lambda f: f["at"])
        out += [(u, fixes[i:i + 1000]) for i in range(0, len(fixes), 1000)]
    return out


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return -1


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p / 100.0 * len(xs))) - 1)]


def main():
    url, token, units, pid, runs90, runs27, label = sys.argv[1:8]
    units, pid = [int(u) for u in units.split(",")], int(pid)
    homes = [tuple(map(float, h.split(":"))) for h in sys.argv[8].split(",")]
    now = time.time()
    jobs = batches(units, homes, now)
    t0 = time.time()

    def post(job):
        st, body = request(url, "POST", "/api/v1/units/%d/positions" % job[0], token, {"positions": job[1]})
        return json.loads(body)["stored"] if st == 200 else 0
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        stored = sum(ex.map(post, jobs))
    took = time.time() - t0
    print("coverage_%s_fixes_stored %d" % (label, stored))
    print("coverage_%s_ingest_fixes_per_s %d" % (label, stored / took))
    time.sleep(3)  # the coverage thread merges the last deltas (the answers read them either way)
    minute = 0
    for days, runs in ((27, int(runs27)), (90, int(runs90))):
        took = []
        for _ in range(runs):
            minute += 1  # a new `since` minute each time, as the finding did
            since = iso(now - days * 86400 + 60 * minute + 120)
            t = time.time()
            st, body = request(url, "GET", "/api/v1/coverage?division=3207&since=" + since, token)
            took.append(time.time() - t)
            if st != 200:
                print("coverage_%s_%dd_error %d %s" % (label, days, st, body[:200]))
        print("coverage_%s_%dd_p50_s %.3f" % (label, days, pct(took, 50)))
        print("coverage_%s_%dd_p99_s %.3f" % (label, days, pct(took, 99)))
    print("coverage_%s_rss_mb %.0f" % (label, vm(pid, "VmRSS")))
    print("coverage_%s_peak_rss_mb %.0f" % (label, vm(pid, "VmHWM")))


if __name__ == "__main__":
    main()
